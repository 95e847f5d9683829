"""The in-memory backend the asyncio exhibits store to: every call is one trip through the loop.

Real backends (a database, an HTTP service) take time; in the explorer a call
that awaits once lets any other ready task run in between, which covers every
relative speed of the calls. It also counts how many writes of one key
overlap, so that a split lock shows up as ``max_writers > 1``.
"""

from __future__ import annotations

import asyncio


class Backend:
    """Durable storage for the stores of the asyncio exhibits."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self.data: dict[str, str] = dict(initial or {})
        self._writers = 0
        #: the most writes that were ever in flight at once
        self.max_writers = 0

    async def load(self, key: str) -> str:
        value = self.data[key]  # read when the request is served...
        await asyncio.sleep(0)  # ...and delivered after any amount of concurrent work
        return value

    async def store(self, key: str, value: str) -> None:
        self._writers += 1
        self.max_writers = max(self.max_writers, self._writers)
        try:
            await asyncio.sleep(0)
            self.data[key] = value
        finally:
            self._writers -= 1
