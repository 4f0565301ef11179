"""Sockets are set up a few at a time per process.

When an instance goes away, its sockets reconnect to the others within a second or two:
thousands of handshakes, sign-ins, subscribes and catch-ups at once. Their reads already
wait for their share of the pool (WEBSOCKET_DATABASE_CONNECTIONS), but their work on the
event loop did not: in the 10,000-subscriber scale run the instance left answered no
readiness probe and almost no query for 23 seconds while it set up 5,000 sockets, and its
balancer took it out. So a socket's setup, from `connection_init` until the first result
or error of its first operation, takes one of WEBSOCKET_SETUPS_AT_ONCE turns; the others
wait for theirs before any work, while probes and requests keep their place on the loop.
A turn is given back at the first result, when a subscription has caught up and waits for
what comes next (`Handover.settled`, resolvers/subscriptions.py), when the socket ends, or
after SETUP_TURN_SECONDS at the latest.
"""

from __future__ import annotations

import asyncio

# The longest a socket keeps its turn (one that subscribes to nothing, say).
SETUP_TURN_SECONDS = 1.0


class SetupTurn:
    """One socket's turn to be set up; `leave` is idempotent."""

    __slots__ = ("_left", "_timer", "_turns")

    def __init__(self, turns: asyncio.Semaphore, seconds: float) -> None:
        self._turns = turns
        self._left = False
        self._timer = asyncio.get_running_loop().call_later(seconds, self.leave)

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self._timer.cancel()
            self._turns.release()


class Admission:
    def __init__(self, at_once: int, seconds: float = SETUP_TURN_SECONDS) -> None:
        self._turns = asyncio.Semaphore(at_once)  # bound to a loop only once a socket waits on it
        self._seconds = seconds

    async def setup_turn(self) -> SetupTurn:
        await self._turns.acquire()
        return SetupTurn(self._turns, self._seconds)
