"""One timer per distinct instant, however many subscribers wait for it.

Ten thousand learners waiting for the same live session's join window to open
share one timer, and in fact one alarm: their live session's join watch registers
the callback (resolvers/subscriptions.py). Nothing waits in a task of its own, and
the timer calls every callback due at its instant in one pass.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from datetime import datetime

from sessiongraph.infrastructure.clock import Clock

log = logging.getLogger("sessiongraph.scheduler")


class Alarm:
    """A registered callback; `cancel()` before its instant and it is never called."""

    __slots__ = ("_scheduler", "callback", "instant")

    def __init__(self, scheduler: Scheduler, instant: datetime, callback: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self.instant = instant
        self.callback = callback

    def cancel(self) -> None:
        self._scheduler._cancel(self)


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._alarms: dict[datetime, set[Alarm]] = {}
        self._timers: dict[datetime, asyncio.Task[None]] = {}

    @property
    def timer_count(self) -> int:
        return len(self._timers)

    def call_at(self, instant: datetime, callback: Callable[[], None]) -> Alarm:
        """Calls `callback` once the clock reaches `instant` (soon, if it already has)."""
        alarm = Alarm(self, instant, callback)
        self._alarms.setdefault(instant, set()).add(alarm)
        if instant not in self._timers:
            # A timer serves everyone due at its instant, so it runs in a context of its own rather than a
            # copy of whichever request happened to set it (and whatever that request's context holds).
            self._timers[instant] = asyncio.get_running_loop().create_task(self._fire(instant),
                                                                           context=contextvars.Context())
        return alarm

    async def wait_until(self, instant: datetime) -> None:
        if instant <= self.clock.now():
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        alarm = self.call_at(instant, wake)
        try:
            await done
        finally:
            alarm.cancel()

    def _cancel(self, alarm: Alarm) -> None:
        alarms = self._alarms.get(alarm.instant)
        if alarms is None:
            return
        alarms.discard(alarm)
        if not alarms:
            del self._alarms[alarm.instant]
            timer = self._timers.pop(alarm.instant, None)
            if timer is not None:
                timer.cancel()

    async def _fire(self, instant: datetime) -> None:
        await self.clock.sleep_until(instant)
        self._timers.pop(instant, None)
        for alarm in self._alarms.pop(instant, ()):
            try:
                alarm.callback()
            except Exception:  # one failing callback must not keep the others due now from running
                log.exception("an alarm's callback failed at %s", instant.isoformat())

    async def close(self) -> None:
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        self._timers.clear()
        self._alarms.clear()
