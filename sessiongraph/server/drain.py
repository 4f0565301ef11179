"""Shutting down without dropping anyone: the drain that SIGTERM starts before uvicorn stops.

uvicorn, told to stop, closes its listening socket at once and then waits for the open
connections. Behind a load balancer (a Kubernetes Service, an ingress) that is too early:
the balancer learns only a moment later that this instance is going, and meanwhile sends
it new connections, which are refused. And the subscribers, who would be cut off at the end
anyway, are better told to reconnect while another instance can take them.

So the first SIGTERM (or SIGINT) starts a drain of SHUTDOWN_DRAIN_SECONDS during which the
process still serves, but

- `/readyz` answers 503 `{"ready": false, "code": "SHUTTING_DOWN"}`, so a balancer that
  probes it takes the instance out, and every HTTP response says `Connection: close`, so that
  kept-alive clients (an ingress's upstream pool) open their next connection elsewhere;
- every open WebSocket is closed with 1012 "Service Restart", which graphql-ws's client (and
  ours, clients/web/app/graphql.js) treat as "reconnect": the closes are spread across the
  drain, so ten thousand subscribers do not all reconnect to the other instances in the same
  millisecond; a socket accepted during the drain is closed the same way at once.

Then uvicorn's own shutdown runs (the handler it had installed is called with the signal):
it stops listening, lets in-flight requests finish within SHUTDOWN_TIMEOUT_SECONDS, and the
app's lifespan closes the rest. A second signal during the drain skips what is left of it.

The handlers are installed by the served app's lifespan (`serve_app`), so the drain works under
any number of uvicorn workers: each worker is sent SIGTERM by uvicorn's supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("sessiongraph.drain")

# WebSocket's own "Service Restart": the server goes away and comes back; the client reconnects.
SERVICE_RESTART_CLOSE_CODE = 1012
SERVICE_RESTART_REASON = "SERVICE_RESTART: this instance is shutting down; reconnect"
DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Socket:
    """One WebSocket's `send`, through which the drain can close it (and after which the app's own
    messages go nowhere: the app learns of the close from the client's answer, as from any close)."""

    def __init__(self, send: Send, drain: Drain) -> None:
        self._send = send
        self._drain = drain
        self.accepted = False
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)
        if message["type"] == "websocket.accept":
            self.accepted = True
            if self._drain.started:
                await self.restart()

    async def restart(self) -> None:
        if self.closed or not self.accepted:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # the client went first
            await self._send({"type": "websocket.close", "code": SERVICE_RESTART_CLOSE_CODE,
                              "reason": SERVICE_RESTART_REASON})


class Drain:
    """This process's drain: whether it has started, and the open WebSockets it closes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # Set by the factory a server calls (serve_app): an app built in a test leaves the test's signals alone.
        self.on_signals = False
        self.started = False
        self._sockets: set[_Socket] = set()
        self._task: asyncio.Task[None] | None = None
        self._previous: dict[int, Any] = {}
        self._signalled = False
        self._handed_over = False

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def draining(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                socket = _Socket(send, self)
                self._sockets.add(socket)
                try:
                    await app(scope, receive, socket.send)
                finally:
                    self._sockets.discard(socket)
            elif scope["type"] == "http":
                await app(scope, receive, self._closing_connections(send))
            else:
                await app(scope, receive, send)

        return draining

    def _closing_connections(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if self.started and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        return send_closing

    async def run(self) -> None:
        """Starts the drain and returns when it is over: the sockets closed, spread over `seconds`."""
        self.started = True
        sockets = [socket for socket in self._sockets if socket.accepted]
        log.info("draining for %.1f s: closing %d WebSocket(s) with %d", self.seconds, len(sockets),
                 SERVICE_RESTART_CLOSE_CODE)
        loop = asyncio.get_running_loop()
        begins = loop.time()
        # The last close due at three quarters of the drain: its client has the rest to reconnect elsewhere.
        # Each close is due at its own moment, not a gap after the one before: one that falls behind (each
        # close has its operations' cleanup to run) catches up rather than pushing the drain past its end.
        spread = self.seconds * 0.75
        for index, socket in enumerate(sockets):
            due = begins + spread * index / len(sockets)
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            await socket.restart()
        await asyncio.sleep(max(0.0, begins + self.seconds - loop.time()))

    def listen_for_signals(self) -> None:
        """From now on the first SIGTERM or SIGINT drains before it reaches the handler installed
        before (uvicorn's). Only from the main thread, where signal handlers live."""
        if not self.on_signals or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in DRAIN_SIGNALS:
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue  # no server behind us to hand the signal to
            self._previous[signum] = previous
            signal.signal(signum, self._signal_handler(loop, previous))

    def stop_listening(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if self._task is not None:
            self._task.cancel()

    def _signal_handler(self, loop: asyncio.AbstractEventLoop, previous: Callable) -> Callable:
        def handle(signum: int, frame: Any) -> None:
            if self._signalled:  # a second signal: uvicorn's, which stops now (or, a third, at once)
                self._handed_over = True
                previous(signum, frame)
                return
            self._signalled = True
            loop.call_soon_threadsafe(self._start, previous, signum)

        return handle

    def _start(self, previous: Callable, signum: int) -> None:
        async def drain_then_stop() -> None:
            try:
                await self.run()
            finally:
                self._hand_over(previous, signum)

        self._task = asyncio.get_running_loop().create_task(drain_then_stop())

    def _hand_over(self, previous: Callable, signum: int) -> None:
        if not self._handed_over:
            self._handed_over = True
            previous(signum, None)
