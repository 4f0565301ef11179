"""`sessiongraph serve` stopped with SIGTERM while a subscriber listens and a request is in flight
(sessiongraph/server/drain.py): the subscriber is told to reconnect (1012), /readyz turns 503 with
its code, a socket opened during the drain is told the same, the listener closes only after the
drain, the in-flight request is still answered, and the process is gone before the bound. The real
command, as a Kubernetes pod runs it, in a process of its own.

And the web page, in Chromium, closed by a drain: it reconnects by itself and subscribes again
after the last event it saw, so that the change made while it was away reaches it.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.demo import load_demo
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.resolvers import outbox
from sessiongraph.schema.relay import to_global_id
from sessiongraph.server.drain import SERVICE_RESTART_CLOSE_CODE, SERVICE_RESTART_REASON
from tests.conftest import free_port
from tests.schedule_data import data  # noqa: F401
from tests.test_web_client import DEMO_AHEAD, browser  # noqa: F401
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

ROOT = Path(__file__).resolve().parent.parent
DRAIN_SECONDS = 4.0
TIMEOUT_SECONDS = 8
CHANGES = "subscription { scheduleChanged { kind } }"


@contextlib.asynccontextmanager
async def serve_process(database_url: str, settings, environment: dict[str, str], wrapper: Sequence[str] = ()):
    """`sessiongraph serve` in a process of its own on a free port, started through `wrapper` (a command
    that runs the rest of its arguments) with these settings besides the test's: yields (process, port)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": settings.jwt_secret,
           "RATE_LIMIT_ENABLED": "false", **environment,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([*wrapper, sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(400):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the service did not become ready")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=15)
        process.stderr.close()


@pytest.fixture
async def served(request, database_url, settings, database):
    """The service with a drain of DRAIN_SECONDS (or the test's parameter): (process, port)."""
    drain_seconds = getattr(request, "param", DRAIN_SECONDS)
    async with serve_process(database_url, settings, {"SHUTDOWN_DRAIN_SECONDS": str(drain_seconds),
                                                      "SHUTDOWN_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}) as served:
        yield served


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def test_sigterm_drains_sockets_and_readiness_then_finishes_the_request_in_flight(served, data, settings):
    process, port = served
    learner = await data.user("Lena")
    token = issue_token(learner.id, settings, datetime.now(UTC))
    subscriber = await GraphQLSocket.connect(f"127.0.0.1:{port}", TRANSPORT_WS, token)
    await subscriber.subscribe(CHANGES)

    # A request in flight: its headers and the start of its body sent, the rest held back.
    body = json.dumps({"query": "{ viewer { user { name } } }"}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /graphql HTTP/1.1\r\nHost: sessiongraph\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + token.encode() + b"\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
    await writer.drain()

    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await subscriber.next_message(timeout=DRAIN_SECONDS)
    assert closed.value.rcvd.code == SERVICE_RESTART_CLOSE_CODE
    assert closed.value.rcvd.reason == SERVICE_RESTART_REASON

    async with httpx.AsyncClient() as client:
        readiness = await client.get(f"http://127.0.0.1:{port}/readyz")
    assert readiness.status_code == 503
    assert readiness.json()["code"] == "SHUTTING_DOWN"
    assert readiness.headers["connection"] == "close"

    # A socket opened during the drain is accepted and told the same at once.
    with pytest.raises(websockets.ConnectionClosed) as closed:
        late = await GraphQLSocket.connect(f"127.0.0.1:{port}", TRANSPORT_WS, token)
        await late.next_message(timeout=DRAIN_SECONDS)
    assert closed.value.rcvd.code == SERVICE_RESTART_CLOSE_CODE

    while await _listening(port):
        await asyncio.sleep(0.05)
    assert time.monotonic() - signalled >= DRAIN_SECONDS * 0.9, "the listener closed before the drain was over"

    # The listener is closed, and the request in flight is still answered in full.
    writer.write(body[10:])
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), TIMEOUT_SECONDS)
    writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), payload
    assert json.loads(payload) == {"data": {"viewer": {"user": {"name": "Lena"}}}}

    returncode = await asyncio.to_thread(process.wait, DRAIN_SECONDS + TIMEOUT_SECONDS)
    assert time.monotonic() - signalled < DRAIN_SECONDS + TIMEOUT_SECONDS
    # uvicorn ends the process with the signal it stopped for, once the shutdown is done.
    assert returncode == -signal.SIGTERM, process.stderr.read().decode()
    log = process.stderr.read().decode()
    assert "Traceback" not in log, log


@pytest.mark.parametrize("served", [60.0], indirect=True)
async def test_a_second_sigterm_cuts_the_drain_short(served):
    process, port = served
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    async with httpx.AsyncClient() as client:
        while (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code != 503:
            await asyncio.sleep(0.05)

    process.send_signal(signal.SIGTERM)

    returncode = await asyncio.to_thread(process.wait, TIMEOUT_SECONDS)
    assert time.monotonic() - signalled < TIMEOUT_SECONDS  # not the 60 s drain
    assert returncode == -signal.SIGTERM


RESCHEDULE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code } } }"""


async def _until(condition, seconds: float = 20):
    """Waits for what the page does by itself (its reconnect is on its own, randomised timer)."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + seconds
    while not (found := condition()):
        assert loop.time() < ends, "the page did not get there in time"
        await asyncio.sleep(0.05)
    return found


async def test_the_web_page_reconnects_after_a_drain_and_resumes_after_its_last_event(
        browser, app, live_server, database, clock, settings, admin, monkeypatch):
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.read() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
        upcoming = await db.scalar(
            select(models.LiveSession.id).join(models.Booking, models.Booking.live_session_id == models.LiveSession.id)
            .where(models.Booking.learner_id == learner.id, models.Booking.status == "BOOKED",
                   models.LiveSession.starts_at > clock.now()).limit(1))
    live_session_id = to_global_id("LiveSession", upcoming)
    sent: list[dict] = []
    received: list[dict] = []

    def watch(socket) -> None:
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: received.append(json.loads(payload)))

    # A subscription with no cursor starts at the outbox's position as it reads it: a change committed
    # before that read is behind it. The page is live (acknowledged) before its subscribe is set up.
    starts_read: list[object] = []
    read_positions = outbox.positions

    async def positions(db):
        position = await read_positions(db)
        starts_read.append(position)
        return position

    monkeypatch.setattr(outbox, "positions", positions)
    page = await browser.new_page()
    await page.clock.set_fixed_time(clock.now())
    page.on("websocket", watch)
    await page.goto(f"http://{live_server}/app/?token={issue_token(learner.id, settings, clock.now())}")
    await page.locator("#live.on").wait_for()

    def changes() -> list[dict]:
        return [m["payload"]["data"]["scheduleChanged"] for m in received
                if m.get("type") == "next" and "scheduleChanged" in (m["payload"].get("data") or {})]

    async def reschedule(days: int) -> None:
        starts = (clock.now() + timedelta(days=days)).replace(microsecond=0)
        data = await admin(RESCHEDULE, id=live_session_id, s=starts.isoformat(),
                           e=(starts + timedelta(hours=1)).isoformat())
        assert data["updateLiveSession"]["errors"] == []

    await _until(lambda: starts_read)
    await reschedule(days=3)
    (seen,) = await _until(changes)

    # The drain closes the page's socket, and one it opens again while the drain lasts.
    drain = app.state.drain
    await drain.run()
    await page.locator("#live:not(.on)").wait_for()
    await reschedule(days=4)  # while the page is away
    # The instance that takes the page back: here the same one, its drain over.
    drain.started = False

    missed = (await _until(lambda: changes()[1:]))[0]
    assert missed["kind"] == "RESCHEDULED" and missed["cursor"] != seen["cursor"]
    await page.locator("#live.on").wait_for()
    subscriptions = [m["payload"]["variables"] for m in sent
                     if m.get("type") == "subscribe" and m["payload"]["operationName"] == "ScheduleChanged"]
    assert subscriptions[0] == {"after": None}
    assert subscriptions[-1] == {"after": seen["cursor"]}
    await page.close()
