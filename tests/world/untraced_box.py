"""A class whose code the explorer does not trace by default (it is not the scenario's file)."""

from __future__ import annotations


class Box:
    def __init__(self) -> None:
        self._value = 0

    def set(self, value: int) -> None:
        self._value = value

    def get(self) -> int:
        return self._value
