"""Background work of an instance that is both woken and polled: the outbox relay and the
webhook dispatcher.

`wake()` runs the work soon, in one task per worker: wakes that come while it runs are
folded into one more round, so a burst of commits costs a few rounds, not one each. A
poll (`start()`) wakes it every `poll_seconds` as the safety net for work another
instance left. `close()` lets a round under way finish rather than cancelling it (a
cancelled round could leave its connection in the middle of a transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable
from enum import Enum

log = logging.getLogger("sessiongraph.background")


class Round(Enum):
    MORE = "more"  # there may be more to do at once
    DONE = "done"  # nothing left (or nothing possible before the next wake)
    BUSY = "busy"  # another instance holds the work just now: look again shortly


# How long a worker that found another instance at work waits before it looks again.
BUSY_PAUSE_SECONDS = 0.02


class Worker:
    name = "background work"

    def __init__(self, poll_seconds: float, *,
                 woken_by: Callable[[Callable[[], None]], Callable[[], None]] | None = None) -> None:
        """`woken_by` (a `Database.on_commit`) wakes the work after each commit it tells of, from `start()`."""
        self.poll_seconds = poll_seconds
        self._woken_by = woken_by
        self._stop_listening: Callable[[], None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._again = False
        self._polling: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def work(self) -> Round:
        """One round of the work."""
        raise NotImplementedError

    async def on_poll(self) -> None:
        """What else runs at each poll."""

    def wake(self) -> None:
        if self._running is None:
            # In a context of its own: a request that wakes the work must not lend it its context
            # variables (the audit log's scope would count the relay's writes as the request's).
            self._running = asyncio.get_running_loop().create_task(self._run(), name=self.name,
                                                                   context=contextvars.Context())
        else:
            self._again = True

    async def start(self) -> None:
        """Works at once (what a stopped instance left, say), then polls until `close()`."""
        if self._woken_by is not None and self._stop_listening is None:
            self._stop_listening = self._woken_by(self.wake)
        if self._polling is None:
            self._stopping = asyncio.Event()
            self.wake()
            self._polling = asyncio.create_task(self._poll(), name=f"{self.name} poll", context=contextvars.Context())

    async def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        if self._polling is not None:
            self._stopping.set()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        await self.idle()

    async def idle(self) -> None:
        """Returns once no round is running (tests wait on it rather than on time)."""
        while self._running is not None:
            await asyncio.gather(asyncio.shield(self._running), return_exceptions=True)

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            self.wake()
            try:
                await self.on_poll()
            except Exception:
                log.exception("%s failed at its poll", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    outcome = await self.work()
                except Exception:
                    # The database is away, say: the work waits for the next wake or poll.
                    log.exception("%s failed", self.name)
                    return
                if outcome is Round.BUSY:
                    await asyncio.sleep(BUSY_PAUSE_SECONDS)
                elif outcome is Round.DONE and not self._again:
                    return
        finally:
            self._running = None
