"""One timer per distinct instant, however many subscribers wait for it.

Ten thousand learners waiting for the same live session's join window to open
share one timer; each of them only awaits an asyncio.Event.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sessiongraph.clock import Clock


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._due: dict[datetime, asyncio.Event] = {}
        self._timers: set[asyncio.Task[None]] = set()

    @property
    def timer_count(self) -> int:
        return len(self._due)

    async def wait_until(self, instant: datetime) -> None:
        if instant <= self.clock.now():
            return
        event = self._due.get(instant)
        if event is None:
            event = self._due[instant] = asyncio.Event()
            timer = asyncio.create_task(self._fire(instant, event))
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)
        await event.wait()

    async def _fire(self, instant: datetime, event: asyncio.Event) -> None:
        try:
            await self.clock.sleep_until(instant)
        finally:
            self._due.pop(instant, None)
            event.set()

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
