"""A live progress line for long explorations: when to show it, and what it says.

Only a person watching a terminal wants it: in CI logs, in a pipe, or in a
pytest-xdist worker (whose output nobody sees live) a line rewritten in place
is noise, so there it is off and the session's summary says how the
explorations went. ``PYTEST_CONCURRENCY_PROGRESS`` overrides the guess:
``live``, ``off`` or ``auto`` (the default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_concurrency.world.session_log import Exploration

#: the environment variable that forces the progress mode
ENV_VAR = "PYTEST_CONCURRENCY_PROGRESS"
MODES = ("auto", "live", "off")
#: an exploration shorter than this (real seconds) shows no progress at all
SHOW_AFTER = 2.0


def progress_mode(*, isatty: bool, env: Mapping[str, str], xdist_worker: bool) -> str:
    """ "live" (rewrite one line in place) or "off"; ValueError for a bad ``ENV_VAR``."""
    forced = env.get(ENV_VAR, "").strip().lower() or "auto"
    if forced not in MODES:
        allowed = ", ".join(MODES)
        raise ValueError(f"{ENV_VAR} must be one of {allowed}, got {env[ENV_VAR]!r}")
    if forced != "auto":
        return forced
    in_ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    dumb = env.get("TERM", "") == "dumb"
    if xdist_worker or not isatty or in_ci or dumb:
        return "off"
    return "live"


def describe(exploration: Exploration) -> str:
    """``dfs: 1234 schedules, 617/s, ~42% of the space``."""
    text = f"{exploration.strategy}: {exploration.schedules} schedules"
    if exploration.runs is not None:
        text += f" of {exploration.runs}"
    text += f", {exploration.rate:.0f}/s"
    if exploration.covered is not None:
        text += f", ~{exploration.covered:.0%} of the space"
    return text


@dataclass
class ProgressLine:
    """The text that shows, updates and erases a progress note at the end of a terminal line.

    It writes after whatever the line holds (pytest's ``test_file.py ..``)
    and steps back over its own text only with backspaces, so the line's
    start stays as it was and pytest's own idea of it stays true. ``room``
    is the columns left on the line; a longer note is cut.
    """

    room: int
    _shown: int = 0

    def update(self, text: str) -> str:
        """What to write to replace the note shown (if any) with ``text``."""
        note = f" [{text}]"
        if self.room < 8:
            return ""
        if len(note) > self.room:
            note = note[: self.room - 4] + "...]"
        out = self.clear() + note
        self._shown = len(note)
        return out

    def clear(self) -> str:
        """What to write to erase the note shown, leaving the cursor where it was before it."""
        width, self._shown = self._shown, 0
        if not width:
            return ""
        return "\b" * width + " " * width + "\b" * width
