"""Benchmark: 10,000 joinAvailability subscriptions on one service process, all due at one instant.

    python bench/join_subscriptions.py [--subscriptions 10000] [--per-connection 100]

Starts `sessiongraph serve` (one worker, SQLite in a temporary folder or a database
of its own on `--database-url`'s PostgreSQL server, the real clock), books learners
on one live session whose join window opens a little later, opens WebSocket
connections (graphql-transport-ws) as those learners with `--per-connection`
subscriptions each, and waits for the window to open. It reports the time from
opensAt until the last subscriber heard "isOpen: true" (percentiles too), the
server's memory per subscription (resident memory after subscribing, less before,
over the count), and the CPU time the server spent from just before opensAt until
the last event: unlike the latencies, that hardly moves when other work shares the
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.support import free_port, make_database, wait_ready  # noqa: E402
from sessiongraph import migrations  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.models import Booking, Course, Instructor, LiveSession, User  # noqa: E402
from sessiongraph.schema.relay import to_global_id  # noqa: E402

JOIN = "subscription($id: ID!) { joinAvailability(liveSessionId: $id) { opensAt isOpen url } }"
SECRET = "bench-secret-" + "x" * 32


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def seed(url: str, learners: int, opens_at: datetime) -> tuple[str, list[str]]:
    settings = Settings(database_url=url, jwt_secret=SECRET, _env_file=None)
    database = Database.of(settings)
    await migrations.upgrade(database.engine)
    async with database.write() as db:
        teacher = User(name="Ines", email="ines@example.org")
        course = Course(code="BENCH", title="Benchmark class")
        users = [User(name=f"Learner {n}", email=f"learner{n}@example.org") for n in range(learners)]
        db.add_all([teacher, course, *users])
        await db.flush()
        instructor = Instructor(user_id=teacher.id, display_name="Ines")
        db.add(instructor)
        await db.flush()
        starts_at = opens_at + timedelta(minutes=course.join_lead_minutes)
        live_session = LiveSession(code="BENCH1", course_id=course.id, instructor_id=instructor.id,
                                   starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), capacity=learners,
                                   virtual_classroom_url="https://classroom.example.org/bench")
        db.add(live_session)
        await db.flush()
        db.add_all([Booking(learner_id=u.id, live_session_id=live_session.id) for u in users])
    now = datetime.now(UTC)
    tokens = [issue_token(u.id, settings, now) for u in users]
    await database.dispose()
    return to_global_id("LiveSession", live_session.id), tokens


async def connection(port: int, token: str, subscriptions: int, live_session_id: str,
                     opened: list[float]) -> websockets.ClientConnection:
    """One learner's connection with `subscriptions` subscriptions, returned once each has its first state."""
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"],
                                  max_queue=None)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    for n in range(subscriptions):
        await ws.send(json.dumps({"id": str(n), "type": "subscribe",
                                  "payload": {"query": JOIN, "variables": {"id": live_session_id}}}))
    first_states = 0
    while first_states < subscriptions:
        message = json.loads(await ws.recv())
        if message["type"] in ("error", "complete"):
            raise SystemExit(f"a subscription failed: {message}")
        if message["type"] == "next":
            first_states += 1

    async def read():
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "next" and message["payload"]["data"]["joinAvailability"]["isOpen"]:
                opened.append(time.time())

    asyncio.get_running_loop().create_task(read())
    return ws


async def run(args) -> None:
    folder = tempfile.mkdtemp(prefix="bench-subscriptions-")
    url, drop = await make_database(args.database_url, Path(folder), "subscriptions")
    engine_name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    connections = args.subscriptions // args.per_connection
    opens_at = (datetime.now(UTC) + timedelta(seconds=args.lead_seconds)).replace(microsecond=0)
    live_session_id, tokens = await seed(url, connections, opens_at)

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": SECRET, "RATE_LIMIT_ENABLED": "false",
           "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port)],
                              env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", server)
        rss_before = rss_kb(server.pid)
        opened: list[float] = []
        count = connections * args.per_connection
        started = time.time()
        sockets = []
        # Connection after connection, as learners arrive, rather than all in one instant.
        for token in tokens:
            sockets.append(await connection(port, token, args.per_connection, live_session_id, opened))
            if datetime.now(UTC) >= opens_at:
                raise SystemExit(f"only {len(sockets) * args.per_connection:,} of {count:,} subscribed "
                                 "before opensAt: raise --lead-seconds")
        subscribe_seconds = time.time() - started
        rss_after = rss_kb(server.pid)
        await asyncio.sleep(max(0.0, opens_at.timestamp() - 0.2 - time.time()))
        cpu_before = cpu_seconds(server.pid)
        deadline = opens_at.timestamp() + 30
        while len(opened) < count and time.time() < deadline:
            await asyncio.sleep(0.01)
        burst_cpu = cpu_seconds(server.pid) - cpu_before
        for ws in sockets:
            await ws.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        await drop()

    delays = sorted(t - opens_at.timestamp() for t in opened)
    print(f"joinAvailability benchmark: {count:,} subscriptions on {connections} connections, one uvicorn worker "
          f"({engine_name}), {os.cpu_count()} CPUs")
    print(f"  subscribed all in {subscribe_seconds:.1f} s; "
          f"server memory {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after: "
          f"{(rss_after - rss_before) * 1024 / count / 1024:.1f} KB per subscription")
    if len(delays) < count:
        print(f"  only {len(delays):,} of {count:,} heard the window open within 30 s")
    if delays:
        print(f"  from opensAt to the event: first {delays[0] * 1000:.0f} ms, "
              f"p50 {statistics.median(delays) * 1000:.0f} ms, "
              f"p99 {delays[int(len(delays) * 0.99) - 1] * 1000:.0f} ms, last {delays[-1] * 1000:.0f} ms")
    print(f"  server CPU from 0.2 s before opensAt to the last event: {burst_cpu * 1000:.0f} ms "
          f"({burst_cpu * 1e6 / count:.0f} µs per subscription)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--per-connection", type=int, default=100)
    parser.add_argument("--lead-seconds", type=int, default=150,
                        help="how far ahead the window opens (subscribing must be done by then)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped); default SQLite")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
