"""`sessiongraph serve` stopped with SIGTERM while a subscriber listens and a request is in flight
(sessiongraph/server/drain.py): the subscriber is told to reconnect (1012), /readyz turns 503 with
its code, a socket opened during the drain is told the same, the listener closes only after the
drain, the in-flight request is still answered, and the process is gone before the bound.

The real command, as a Kubernetes pod runs it, in a process of its own.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import websockets

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.drain import SERVICE_RESTART_CLOSE_CODE, SERVICE_RESTART_REASON
from tests.conftest import free_port
from tests.schedule_data import data  # noqa: F401
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

ROOT = Path(__file__).resolve().parent.parent
DRAIN_SECONDS = 2.0
TIMEOUT_SECONDS = 8
CHANGES = "subscription { scheduleChanged { kind } }"


@pytest.fixture
async def served(database_url, settings, database):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": settings.jwt_secret,
           "RATE_LIMIT_ENABLED": "false", "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
           "SHUTDOWN_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port)],
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
