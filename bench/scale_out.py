"""Scale-out test: two service instances behind a load balancer, one killed mid-run.

    python bench/scale_out.py                                  # 10,000 subscribers, PgBouncer, Redis
    python bench/scale_out.py --subscribers 2000 --scale 0.02 --before 20 --after 20
    python bench/scale_out.py --replica-url postgresql://postgres@127.0.0.1:5433/postgres

What runs, all on this machine:
- PostgreSQL, seeded by bench/generate.py (--scale) into a database of its own, and reached by
  the instances through PgBouncer in transaction mode (`.ci/pgbouncer start`, DATABASE_POOLER=
  pgbouncer; --no-pooler for the server directly), with --replica-url (or DATABASE_REPLICA_URLS)
  passed on to the instances as DATABASE_REPLICA_URLS, the bench database's name put in;
- Redis (--redis-url), each run under a prefix of its own;
- two `sessiongraph serve` processes, one worker each, behind Debian's haproxy (round robin, a
  health check on /readyz every half second, a refused connect retried on the other instance);
- --clients HTTP clients sending the load benchmark's query operations (bench/load.py's, not the
  booking) by hash, as trusted documents, as different learners;
- --subscribers learners each holding `scheduleChanged(after: cursor)` on a WebSocket of their own,
  round robin across the two instances;
- an admin rescheduling the administrative sessions' live sessions (--mutations-per-second), each
  change an event for every learner enrolled in the session.

After --before seconds one instance gets SIGKILL; the run goes on for --after seconds. The
subscribers of the killed instance reconnect through the balancer (so to the other instance) and
resume from the cursor of the last event they had. At the end every subscriber's events (deduplicated
by cursor) are compared with what the outbox holds for that learner since the run's first event:
all of them, in order, once. Reported: the requests that failed, and whether each was in flight at the
kill; the time until every moved subscriber had resubscribed; p50/p95 and requests per second before
and after the kill; each instance's memory per subscriber (resident memory after subscribing less
before, over its subscribers). It prints the report and writes it as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.generate import load  # noqa: E402
from bench.load import OPERATIONS, failed, process_tree_rss_kb, requests_for, sample  # noqa: E402
from bench.support import free_port, make_database, wait_ready  # noqa: E402
from sessiongraph.clients.documents import load_operations  # noqa: E402
from sessiongraph.infrastructure.db import Database, create_engine  # noqa: E402
from sessiongraph.infrastructure.settings import Settings, async_database_url  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.resolvers.outbox import decode_cursor, encode_cursor  # noqa: E402
from sessiongraph.schema.relay import to_global_id  # noqa: E402

JWT_SECRET = "scale-out-secret-of-at-least-thirty-two-bytes"
RESULTS = ROOT / "bench" / "results"
PGBOUNCER = ROOT / ".ci" / "pgbouncer"
QUERY_LABELS = tuple(label for label, _client, name in OPERATIONS if name != "BookSlot")
RESCHEDULE = """mutation Reschedule($id: ID!, $startsAt: DateTime!, $endsAt: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $startsAt, endsAt: $endsAt}) { errors { code message } } }"""
SERVED_BY = "X-Served-By"
SUBSCRIBING_AT_ONCE = 8


# --- the stack: instances and the balancer -------------------------------------------------------


def raise_open_files_limit() -> int:
    """Each subscriber is a socket here and in the balancer (two there) and an instance."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def haproxy_config(port: int, instances: dict[str, int], connections: int) -> str:
    servers = "\n".join(f"  server {name} 127.0.0.1:{instance_port} check"
                        for name, instance_port in instances.items())
    # A SIGKILLed instance refuses connections at once: `retries` with `redispatch` sends such a
    # request to the other instance, and the health check takes the dead one out (three refused
    # checks, a quarter second apart). Only requests already sent to it fail (a POST is not
    # replayed: it may have been done). No idle connection to an instance is reused: one the dead
    # instance left would fail the request sent on it, where a new connection's refusal is retried; nor is a
    # client's own connection to an instance kept for its next request (`http-server-close`): haproxy answers
    # a request whose kept connection the dead instance reset by closing the client's connection unanswered.
    # /readyz reads the database and its migration: on a busy instance it may take a while, which
    # must not count as down (`timeout check`).
    return f"""global
  maxconn {connections}

defaults
  mode http
  timeout connect 2s
  timeout check 5s
  timeout client 120s
  timeout server 120s
  timeout tunnel 1h
  retries 3
  option redispatch 1
  http-reuse never
  option http-server-close

frontend entry
  bind 127.0.0.1:{port}
  default_backend instances

backend instances
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fastinter 250ms fall 3 rise 1
  http-response set-header {SERVED_BY} %[srv_name]
{servers}
"""


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen

    def rss_kb(self) -> int:
        return process_tree_rss_kb(self.process.pid)


@dataclass
class Stack:
    urls: list[str]  # the balancers'
    instances: dict[str, Instance]


def haproxy_command() -> str | None:
    return shutil.which("haproxy", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


def instance_environment(database_url: str, pooler: bool, replica_urls: list[str], redis_url: str,
                         redis_prefix: str, pool_size: int | None = None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_ENABLED": "false",
           "ENVIRONMENT": "benchmark", "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix,
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("DATABASE_POOLER", None)
    env.pop("DATABASE_REPLICA_URLS", None)
    if pooler:
        env["DATABASE_POOLER"] = "pgbouncer"
    if replica_urls:
        env["DATABASE_REPLICA_URLS"] = ",".join(replica_urls)
    if pool_size is not None:
        env["DATABASE_POOL_SIZE"] = str(pool_size)
    return env


def balancers_needed(connections: int) -> int:
    """haproxy holds two descriptors per connection (the client's, the instance's) and cannot raise its
    limit past the hard one (20,000 in our containers): beyond that the connections are spread over
    several balancers, as a cloud load balancer spreads them over its nodes."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 1
    return max(1, -(-2 * connections // (hard - 1000)))


@contextlib.asynccontextmanager
async def running_stack(env: dict[str, str], folder: Path, connections: int) -> AsyncIterator[Stack]:
    """Two `sessiongraph serve` processes (one worker each) and haproxy in front of them."""
    haproxy = haproxy_command()
    if haproxy is None:
        raise SystemExit("haproxy is missing: apt-get install haproxy (.ci/run does)")
    ports = {"a": free_port(), "b": free_port()}
    instances: dict[str, Instance] = {}
    processes: list[subprocess.Popen] = []
    try:
        for name, port in ports.items():
            log = (folder / f"instance-{name}.log").open("wb")
            instances[name] = Instance(name, port, subprocess.Popen(
                [sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port), "--workers", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            processes.append(instances[name].process)
        for instance in instances.values():
            await wait_ready(f"http://127.0.0.1:{instance.port}", instance.process)
        urls = []
        count = balancers_needed(connections)
        for n in range(count):
            port = free_port()
            config = folder / f"haproxy-{n}.cfg"
            config.write_text(haproxy_config(port, ports, connections // count + 500))
            balancer = subprocess.Popen([haproxy, "-db", "-f", str(config)],
                                        stdout=(folder / f"haproxy-{n}.log").open("wb"), stderr=subprocess.STDOUT)
            processes.append(balancer)
            urls.append(f"http://127.0.0.1:{port}")
            await wait_ready(urls[-1], balancer)
        yield Stack(urls, instances)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the subscribers -----------------------------------------------------------------------------


@dataclass
class Subscriber:
    """One learner's `scheduleChanged`, resumed from its last cursor whenever its socket drops."""

    user_id: int
    token: str
    cursor: str
    events: list[int] = field(default_factory=list)  # event IDs, first receipt only
    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    # (instance, monotonic time the subscription was sent) per connection
    connections: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    socket: Any = None

    async def run(self, ws_url: str, document: str, stop: asyncio.Event, first: asyncio.Event) -> None:
        rng = random.Random(self.user_id)
        failures = 0
        while not stop.is_set():
            opened = None
            try:
                async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], max_queue=None,
                                              open_timeout=60, ping_interval=None, close_timeout=1) as socket:
                    self.socket = socket
                    await self._subscribe(socket, document)
                    opened = time.monotonic()
                    await self._receive(socket, first)
            except websockets.exceptions.ConnectionClosed as closed:
                if not stop.is_set():
                    received = closed.rcvd
                    self.problems.append(f"closed: {received.code} {received.reason[:60]}" if received is not None
                                         else "closed: without a close frame")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
                if not stop.is_set():
                    self.problems.append(f"connect: {type(error).__name__}: {error}"[:200])
            finally:
                self.socket = None
            if opened is not None and time.monotonic() - opened > 5:
                failures = 0  # it held: whatever ended it is news, not the same trouble again
            if not stop.is_set():
                # Jittered exponential backoff, so that thousands of sockets dropped at once neither come
                # back at once nor keep an overloaded instance busy refusing them.
                await asyncio.sleep(rng.uniform(0, min(5.0, 0.25 * 2 ** failures)))
                failures += 1

    async def _subscribe(self, socket, document: str) -> None:
        await socket.send(json.dumps({"type": "connection_init",
                                      "payload": {"authorization": f"Bearer {self.token}"}}))
        ack = json.loads(await socket.recv())
        if ack.get("type") != "connection_ack":
            raise websockets.exceptions.InvalidMessage(f"no connection_ack: {ack}")
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": document, "operationName": "ScheduleChanged", "variables": {"after": self.cursor}}}))
        self.connections.append((socket.response.headers.get(SERVED_BY, "?"), time.monotonic()))

    async def _receive(self, socket, first: asyncio.Event) -> None:
        async for raw in socket:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif kind == "next" and not message["payload"].get("errors"):
                cursor = message["payload"]["data"]["scheduleChanged"]["cursor"]
                event_id = decode_cursor(cursor)
                if event_id in self.seen:
                    self.duplicates += 1
                    continue
                self.seen.add(event_id)
                self.events.append(event_id)
                self.cursor = cursor
                first.set()
            elif kind in ("next", "error", "complete"):
                self.problems.append(f"{kind}: {json.dumps(message.get('payload'))[:200]}")
                return  # resubscribe from the cursor on a new connection


# --- the HTTP load and the admin's changes -------------------------------------------------------


@dataclass
class Request:
    started: float
    ended: float
    problem: str | None
    served_by: str | None


async def send_queries(url: str, work: list[tuple[Any, int, dict[str, Any]]], tokens: dict[int, str],
                       stop: asyncio.Event, log: list[Request], offset: int) -> None:
    """One client: the query operations in turn, each by its hash (a trusted document)."""
    position = offset
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while not stop.is_set():
            operation, user_id, variables = work[position % len(work)]
            position += 1
            body = {"documentId": f"sha256:{operation.sha256}", "operationName": operation.name,
                    "variables": variables}
            started = time.monotonic()
            served_by, problem = None, None
            try:
                response = await http.post("/graphql", json=body,
                                           headers={"Authorization": f"Bearer {tokens[user_id]}"})
                served_by = response.headers.get(SERVED_BY)
                problem = failed(response.json()) if response.status_code == 200 else f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as error:
                problem = f"{type(error).__name__}: {error}"[:120]
            log.append(Request(started, time.monotonic(), problem, served_by))


class Changes:
    """The admin moving live sessions a minute later and back, one after another."""

    def __init__(self, url: str, token: str, targets: list[tuple[int, datetime]]) -> None:
        self.url, self.token, self.targets = url, token, targets
        self.moved: set[int] = set()
        self.turn = 0
        self.log: list[Request] = []

    async def one(self, http: httpx.AsyncClient) -> Request:
        live_session_id, starts_at = self.targets[self.turn % len(self.targets)]
        self.turn += 1
        if live_session_id in self.moved:
            self.moved.discard(live_session_id)
        else:
            self.moved.add(live_session_id)
            starts_at += timedelta(minutes=1)
        started = time.monotonic()
        served_by, problem = None, None
        try:
            response = await http.post("/graphql", headers={"Authorization": f"Bearer {self.token}"}, json={
                "query": RESCHEDULE, "variables": {"id": to_global_id("LiveSession", live_session_id),
                                                   "startsAt": starts_at.isoformat(),
                                                   "endsAt": (starts_at + timedelta(hours=1)).isoformat()}})
            served_by = response.headers.get(SERVED_BY)
            if response.status_code != 200:
                problem = f"HTTP {response.status_code}"
            else:
                payload = response.json()
                errors = payload.get("errors") or payload["data"]["updateLiveSession"]["errors"]
                problem = json.dumps(errors)[:120] if errors else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            problem = f"{type(error).__name__}: {error}"[:120]
        request = Request(started, time.monotonic(), problem, served_by)
        self.log.append(request)
        return request

    async def run(self, per_second: float, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            while not stop.is_set():
                started = time.monotonic()
                await self.one(http)
                await asyncio.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))


# --- what the outbox says each subscriber should have --------------------------------------------


async def last_event(database: Database) -> int:
    async with database.read() as db:
        return int(await db.scalar(text("SELECT COALESCE(MAX(id), 0) FROM event")))


async def unpublished(database: Database) -> int:
    async with database.read() as db:
        return int(await db.scalar(text("SELECT COUNT(*) FROM event WHERE published_at IS NULL")))


async def expected_events(database: Database, after: int, user_ids: list[int]) -> dict[int, list[int]]:
    """Per learner, the schedule events concerning them after `after`, in order (what
    `scheduleChanged(after:)` promises), read from the outbox's tables."""
    expected: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    async with database.read() as db:
        rows = await db.execute(text(
            "SELECT eu.user_id, e.id FROM event e JOIN event_user eu ON eu.event_id = e.id "
            "WHERE e.id > :after AND e.schedule_kind IS NOT NULL AND e.live_session_id IS NOT NULL "
            "ORDER BY e.id"), {"after": after})
        for user_id, event_id in rows:
            if user_id in expected:
                expected[user_id].append(event_id)
    return expected


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Plan:
    subscribers: int = 10_000
    clients: int = 8
    before: float = 30  # seconds of load before the kill, once everyone has subscribed
    after: float = 30
    mutations_per_second: float = 0.5
    drain_seconds: float = 60  # how long the subscribers may take to receive the last events


def quantiles(requests: list[Request]) -> dict[str, float]:
    latencies = [r.ended - r.started for r in requests if r.problem is None]
    if len(latencies) < 2:
        return {"requests": len(requests)}
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(requests), "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000}


def window(requests: list[Request], start: float, end: float) -> dict[str, float]:
    inside = [r for r in requests if start <= r.started < end]
    return {**quantiles(inside), "per_second": sum(r.problem is None for r in inside) / max(end - start, 1e-9)}


async def scale_out(database_url: str, seed_url: str, settings: Settings, env: dict[str, str], plan: Plan,
                    folder: Path, say=print) -> dict[str, Any]:
    """The run on a seeded database (`database_url` as the instances reach it, `seed_url` the server's)."""
    database = Database(create_engine(Settings(database_url=seed_url, jwt_secret=JWT_SECRET, _env_file=None)))
    try:
        return await _scale_out(database, settings, env, plan, folder, say)
    finally:
        await database.dispose()


async def subscriber_learners(database: Database, count: int, now: datetime
                              ) -> tuple[list[int], list[tuple[int, datetime]]]:
    """Learners enrolled in administrative sessions open now with live sessions ahead, and one such
    live session per administrative session (a change to it concerns every learner of the session)."""
    async with database.read() as db:
        rows = (await db.execute(text(
            "SELECT l.session_id, l.id, l.starts_at FROM live_session l JOIN session s ON s.id = l.session_id "
            "WHERE l.cancelled_at IS NULL AND l.starts_at > :soon AND s.access_start < :now "
            "AND s.access_end > :later ORDER BY l.session_id, l.starts_at, l.id"),
            {"now": now, "soon": now + timedelta(hours=2), "later": now + timedelta(days=60)})).all()
        targets: dict[int, tuple[int, datetime]] = {}
        for session_id, live_session_id, starts_at in rows:
            starts_at = starts_at if isinstance(starts_at, datetime) else datetime.fromisoformat(starts_at)
            targets.setdefault(session_id, (live_session_id, starts_at.replace(tzinfo=starts_at.tzinfo or UTC)))
        sessions = ", ".join(str(int(session_id)) for session_id in targets) or "NULL"
        learners = list((await db.scalars(text(
            f"SELECT DISTINCT e.user_id FROM enrollment e WHERE e.session_id IN ({sessions}) "
            "ORDER BY e.user_id LIMIT :count"), {"count": count})).all())
    return learners, list(targets.values())


async def _scale_out(database: Database, settings: Settings, env: dict[str, str], plan: Plan, folder: Path,
                     say) -> dict[str, Any]:
    now = datetime.now(UTC)
    learners, targets = await subscriber_learners(database, plan.subscribers, now)
    if len(learners) < plan.subscribers or not targets:
        raise SystemExit(f"the data holds {len(learners)} learners to subscribe and {len(targets)} live "
                         f"sessions to change: raise --scale")
    sampled, admins, _bookings = await sample(database, 2000, seed=1)
    today = now.date().isoformat()
    by_name = {(op.client, op.name): op for client in ("web", "admin") for op in load_operations(client)}
    operations = {label: by_name[(client, name)] for label, client, name in OPERATIONS if label in QUERY_LABELS}
    work = [(operations[label], user_id, variables)
            for label in QUERY_LABELS for user_id, variables in requests_for(label, sampled, admins, [], today)]
    random.Random(1).shuffle(work)
    tokens = {user_id: issue_token(user_id, settings, now) for _op, user_id, _v in work}
    admin_token = issue_token(admins[0], settings, now)
    document = by_name.get(("web", "ScheduleChanged")) or next(
        op for op in load_operations("web") if op.name == "ScheduleChanged")

    async with running_stack(env, folder, connections=plan.subscribers + plan.clients + 100) as stack:
        say(f"stack up: haproxy at {', '.join(stack.urls)}, instances "
            + ", ".join(f"{i.name} (pid {i.process.pid})" for i in stack.instances.values()))
        # One change first, so that the run's first cursor is one the service handed out; then one to each
        # session's live session, so that every subscriber's first event (replayed from that cursor) tells
        # it that its subscription is live: graphql-transport-ws acknowledges no subscribe.
        changes = Changes(stack.urls[0], admin_token, targets)
        async with httpx.AsyncClient(base_url=stack.urls[0], timeout=60) as http:
            if (first_change := await changes.one(http)).problem:
                raise SystemExit(f"the admin's change failed: {first_change.problem}")
            baseline = await last_event(database)
            for _target in targets:
                await changes.one(http)
        rss_before = {name: i.rss_kb() for name, i in stack.instances.items()}

        subscribers = [Subscriber(u, issue_token(u, settings, now), encode_cursor(baseline)) for u in learners]
        ws_urls = [url.replace("http://", "ws://") + "/graphql" for url in stack.urls]
        stop_subscribers = asyncio.Event()
        started = time.monotonic()
        tasks = []
        arriving = asyncio.Semaphore(SUBSCRIBING_AT_ONCE)  # learners arrive a few at a time, not all at once

        async def arrive(subscriber: Subscriber, ws_url: str) -> None:
            """Until its first event: a subscription the service is still setting up is not yet arrived."""
            async with arriving:
                first = asyncio.Event()
                tasks.append(asyncio.create_task(subscriber.run(ws_url, document.document, stop_subscribers, first)))
                await asyncio.wait_for(first.wait(), 900)

        async def progress() -> None:
            while True:
                await asyncio.sleep(30)
                arrived = sum(bool(s.events) for s in subscribers)
                drops = Counter(p for s in subscribers for p in s.problems)
                say(f"{time.monotonic() - started:.0f} s: {arrived:,} subscribed; sockets ended: {dict(drops)}")

        reporting = asyncio.create_task(progress())
        # Each balancer alternates between the instances: the subscribers alternate between balancers in pairs.
        await asyncio.gather(*(arrive(s, ws_urls[n // 2 % len(ws_urls)]) for n, s in enumerate(subscribers)))
        reporting.cancel()
        subscribed_in = time.monotonic() - started
        rss_after = {name: i.rss_kb() for name, i in stack.instances.items()}
        on = {name: [s for s in subscribers if s.connections[0][0] == name] for name in stack.instances}
        say(f"{len(subscribers):,} subscribed in {subscribed_in:.1f} s: "
            + ", ".join(f"{len(s):,} on {n}" for n, s in on.items()))

        stop_load = asyncio.Event()
        stop_changes = asyncio.Event()
        requests: list[Request] = []
        load_started = time.monotonic()
        loaders = [asyncio.create_task(send_queries(stack.urls[n % len(stack.urls)], work, tokens, stop_load, requests,
                                                    n * len(work) // plan.clients)) for n in range(plan.clients)]
        changer = asyncio.create_task(changes.run(plan.mutations_per_second, stop_changes))
        await asyncio.sleep(plan.before)
        victim = stack.instances["a"]
        survivor = stack.instances["b"]
        # In flight at the kill: open at any moment between the signal and the process's end (a request sent in
        # that moment reaches a process about to die; SIGKILL takes effect asynchronously).
        signalled_at = time.monotonic()
        victim.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.process.wait)
        killed_at = time.monotonic()
        last_before_kill = await last_event(database)
        say(f"killed instance {victim.name} (pid {victim.process.pid}) after {killed_at - load_started:.1f} s of load")
        moved = on[victim.name]
        reconnected_at = None
        while time.monotonic() < killed_at + plan.after + plan.drain_seconds:
            if all(len(s.connections) > 1 for s in moved):
                reconnected_at = max(s.connections[-1][1] for s in moved)
                break
            await asyncio.sleep(0.05)
        say("every moved subscriber resubscribed" if reconnected_at else "NOT every moved subscriber resubscribed")
        await asyncio.sleep(max(0.0, killed_at + plan.after - time.monotonic()))
        stop_load.set()
        stop_changes.set()
        await asyncio.gather(*loaders, changer)
        load_ended = time.monotonic()
        rss_survivor = survivor.rss_kb()

        # Wait until the outbox has gone out and every subscriber has what it should.
        drain_deadline = time.monotonic() + plan.drain_seconds
        while await unpublished(database) and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.2)
        expected = await expected_events(database, baseline, learners)
        while time.monotonic() < drain_deadline and any(
                len(s.events) < len(expected[s.user_id]) for s in subscribers):
            await asyncio.sleep(0.2)
        # Missing events with this set may still have been on their way (the machine too slow for the drain).
        drained_in_time = time.monotonic() < drain_deadline
        stop_subscribers.set()
        for subscriber in subscribers:
            if subscriber.socket is not None:
                await subscriber.socket.close()
        await asyncio.gather(*tasks, return_exceptions=True)

    missing = {s.user_id: sorted(set(expected[s.user_id]) - set(s.events)) for s in subscribers}
    unexpected = {s.user_id: sorted(set(s.events) - set(expected[s.user_id])) for s in subscribers}
    out_of_order = [s.user_id for s in subscribers if s.events != sorted(s.events)]
    failed_requests = [r for r in [*requests, *changes.log] if r.problem]
    in_flight = [r for r in failed_requests if r.started <= killed_at and r.ended >= signalled_at]
    report = {
        "subscribers": len(subscribers),
        "subscribed_seconds": subscribed_in,
        "subscribers_per_instance": {n: len(s) for n, s in on.items()},
        "memory_kb_per_subscriber": {n: (rss_after[n] - rss_before[n]) / max(len(on[n]), 1) for n in on},
        "rss_mb": {"before_subscribing": {n: v / 1024 for n, v in rss_before.items()},
                   "after_subscribing": {n: v / 1024 for n, v in rss_after.items()},
                   "survivor_at_end": rss_survivor / 1024},
        "survivor_memory_kb_per_moved_subscriber": (rss_survivor - rss_after[survivor.name]) / max(len(moved), 1),
        "moved": len(moved),
        "moved_to_survivor": sum(s.connections[-1][0] == survivor.name for s in moved),
        "reconnected_seconds": (reconnected_at - killed_at) if reconnected_at else None,
        # The survivor's subscribers reconnect only after an error (an event the overloaded service could not read).
        "reconnections_of_survivors_subscribers": sum(len(s.connections) - 1 for s in on[survivor.name]),
        "events_expected": sum(len(v) for v in expected.values()),
        "events_since_kill": sum(event_id > last_before_kill for v in expected.values() for event_id in v),
        "events_received": sum(len(s.events) for s in subscribers),
        "duplicates_dropped": sum(s.duplicates for s in subscribers),
        "subscribers_missing_events": sum(bool(v) for v in missing.values()),
        "events_missing": sum(len(v) for v in missing.values()),
        "drained_in_time": drained_in_time,
        "events_unexpected": sum(len(v) for v in unexpected.values()),
        "subscribers_out_of_order": len(out_of_order),
        # How often each thing ended a subscriber's socket or subscription (the kill's drops among them).
        "subscriber_problems": dict(Counter(p for s in subscribers for p in s.problems).most_common(10)),
        "changes": len(changes.log), "changes_failed": sum(r.problem is not None for r in changes.log),
        "queries": len(requests),
        "failed_requests": len(failed_requests),
        "failed_in_flight_at_kill": len(in_flight),
        "failed_not_in_flight": [r.problem for r in failed_requests if r not in in_flight][:10],
        "failed_not_in_flight_seconds_from_kill": [(round(r.started - killed_at, 3), round(r.ended - killed_at, 3))
                                                   for r in failed_requests if r not in in_flight][:10],
        "in_flight_at_kill": sum(r.started <= killed_at and r.ended >= signalled_at for r in [*requests, *changes.log]),
        "before_kill": window(requests, load_started, killed_at),
        "after_kill": window(requests, killed_at, load_ended),
        "example_missing": next(([u, v[:5]] for u, v in missing.items() if v), None),
    }
    return report


def print_report(report: dict[str, Any], say=print) -> None:
    say(json.dumps(report, indent=2, default=str))


async def run(args) -> int:
    raise_open_files_limit()
    folder = Path(tempfile.mkdtemp(prefix="scale-out-"))
    server_url, drop = await make_database(args.database_url, folder, "scale")
    name = make_url(server_url).database
    try:
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        seeded = time.perf_counter()
        writer = await load(server_url, args.scale, args.seed, now)
        print(f"seeded at scale {args.scale}: {sum(writer.rows.values()):,} rows in "
              f"{time.perf_counter() - seeded:.1f} s")
        if args.pooler:
            await asyncio.to_thread(subprocess.run, [str(PGBOUNCER), "start"], check=True)
            instance_url = make_url(async_database_url(args.pooler_url)).set(database=name).render_as_string(
                hide_password=False)
        else:
            instance_url = server_url
        replicas = [make_url(async_database_url(u.strip())).set(database=name).render_as_string(hide_password=False)
                    for u in (args.replica_url or os.environ.get("DATABASE_REPLICA_URLS", "")).split(",")
                    if u.strip()]
        env = instance_environment(instance_url, args.pooler, replicas, args.redis_url,
                                   f"sessiongraph-scale-{uuid.uuid4().hex[:8]}:", args.pool_size)
        settings = Settings(database_url=server_url, jwt_secret=JWT_SECRET, _env_file=None)
        plan = Plan(subscribers=args.subscribers, clients=args.clients, before=args.before, after=args.after,
                    mutations_per_second=args.mutations_per_second, drain_seconds=args.drain)
        print(f"instances on {'PgBouncer' if args.pooler else 'PostgreSQL directly'}"
              f"{', replicas ' + ', '.join(replicas) if replicas else ', no replica'}; logs in {folder}")
        report = await scale_out(instance_url, server_url, settings, env, plan, folder)
        report.update(scale=args.scale, pooler=args.pooler, replicas=len(replicas), cpus=os.cpu_count(),
                      at=datetime.now(UTC).isoformat())
        print_report(report)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"scale-out-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"written: {out.relative_to(ROOT)}")
        clean = (report["events_missing"] == 0 and report["subscribers_out_of_order"] == 0
                 and report["events_unexpected"] == 0 and report["moved_to_survivor"] == report["moved"]
                 and len(report["failed_not_in_flight"]) == 0)
        return 0 if clean else 1
    finally:
        await drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server (a database is created, seeded and dropped)")
    parser.add_argument("--no-pooler", dest="pooler", action="store_false",
                        help="the instances reach PostgreSQL directly rather than through PgBouncer")
    parser.add_argument("--pooler-url", default="postgresql://postgres@127.0.0.1:6432/postgres")
    parser.add_argument("--replica-url", default=None,
                        help="read replica server URL(s), comma-separated (default: $DATABASE_REPLICA_URLS)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="each instance's DATABASE_POOL_SIZE (behind PgBouncer its client connections are cheap: "
                             "PgBouncer queues them for its own server connections instead of our pool timing out)")
    parser.add_argument("--scale", type=float, default=0.06, help="bench/generate.py's (0.06: 12,000 learners)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients sending queries")
    parser.add_argument("--before", type=float, default=30, help="seconds of load before the kill")
    parser.add_argument("--after", type=float, default=30, help="seconds of load after it")
    parser.add_argument("--mutations-per-second", type=float, default=0.5,
                        help="the admin's changes, each an event for the learners of one session")
    parser.add_argument("--drain", type=float, default=120, help="seconds the last events may take")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
