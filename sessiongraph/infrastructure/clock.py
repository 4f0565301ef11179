"""The service's notion of "now", injectable so tests can freeze and advance it.

Anything that waits for an instant (the join window opening, say) waits through
the clock, so a test that advances a frozen clock wakes it at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

# A long wait re-checks the clock now and then, so a changed system clock is noticed.
LONGEST_SINGLE_SLEEP = 30.0


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, instant: datetime) -> None:
        # In bounded steps, so that a change of the wall clock is noticed within one step.
        while (remaining := (instant - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(remaining, LONGEST_SINGLE_SLEEP))


class FrozenClock(Clock):
    """A clock that stands still until told to move; moving it wakes whoever is due."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)
        self._wake_due()

    def advance(self, **delta: float) -> None:
        self.set(self._now + timedelta(**delta))

    async def sleep_until(self, instant: datetime) -> None:
        if instant <= self._now:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._sleepers.append((instant, waiter))
        try:
            await waiter
        finally:
            self._sleepers = [(at, w) for at, w in self._sleepers if w is not waiter]

    def _wake_due(self) -> None:
        for instant, waiter in self._sleepers:
            if instant <= self._now and not waiter.done():
                waiter.set_result(None)
