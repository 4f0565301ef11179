"""Load benchmark: the client operations as many users, over HTTP, against a running service.

    python bench/generate.py --scale 0.02 --keep        # prints DATABASE_URL=...
    python bench/load.py --database-url <that URL> --workers 1 --seconds 5
    python bench/load.py --database-url <that URL> --workers 2

It starts `sessiongraph serve --workers N` on a free port against the generated database
(RATE_LIMIT_ENABLED=false), and for each operation has --clients concurrent connections
send it for --seconds, each request as a different user with its own token, with the
document as the client in clients/ sends it (clients/documents.py). The load comes from
wrk (bench/wrk_requests.lua) when it is installed (`apt-get install wrk`), else from httpx
clients in this process (--driver). Per operation: p50/p95/p99 latency, requests per
second, errors, the server's CPU time per request, and SQL statements per request. The
statement count comes from running each operation once in-process (the app on the same
database, httpx's ASGI transport) with SQLAlchemy's before_cursor_execute event: the
pattern of tests/conftest.py `count_statements`. Server memory is the RSS of the server
process and its workers, after the run. It prints a table and writes
bench/results/load-<engine>-w<N>-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.support import free_port, wait_ready  # noqa: E402
from sessiongraph.clients.documents import load_operations  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.schema.relay import to_global_id  # noqa: E402

JWT_SECRET = "bench-secret-of-at-least-thirty-two-bytes"
RESULTS = ROOT / "bench" / "results"
# (label, client, operation name): what the screens send.
OPERATIONS = (
    ("dashboard", "web", "Dashboard"),
    ("today/upcoming", "web", "UpcomingTab"),
    ("month calendar", "web", "CalendarTab"),
    ("course history", "web", "CourseSessionHistory"),
    ("admin session list (50)", "admin", "SessionList"),
    ("session details", "web", "SessionDetails"),
    ("booking", "web", "BookSlot"),
)


@dataclass
class Learner:
    user_id: int
    live_session_id: int
    course_id: int


async def sample(database: Database, count: int, seed: int) -> tuple[list[Learner], list[int], list[tuple[int, int]]]:
    """Learners with a live booking (and its course), the admins, and (learner, open slot) pairs
    a booking may succeed on: enrolled in a session holding the slot's course, open now, with credits."""
    async with database.read() as db:
        rows = (await db.execute(text(
            "SELECT b.learner_id, MIN(b.live_session_id), MIN(l.course_id) FROM booking b "
            "JOIN live_session l ON l.id = b.live_session_id WHERE b.status = 'BOOKED' "
            "AND b.learner_id % :spread = :pick GROUP BY b.learner_id"),
            {"spread": 7, "pick": seed % 7})).all()
        admins = list((await db.scalars(text("SELECT id FROM app_user WHERE is_admin"))).all())
        pairs = (await db.execute(text(
            "SELECT user_id, slot_id FROM (SELECT e.user_id, s.id AS slot_id, "
            "ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY e.user_id) AS n FROM "
            "(SELECT id, course_id FROM bookable_slot WHERE live_session_id IS NULL AND starts_at > :now "
            "ORDER BY id LIMIT 4000) s "
            "JOIN session_course sc ON sc.course_id = s.course_id "
            "JOIN session ss ON ss.id = sc.session_id AND ss.access_start < :now AND ss.access_end > :now "
            "JOIN enrollment e ON e.session_id = sc.session_id "
            "JOIN credit_account a ON a.user_id = e.user_id AND a.balance >= 2) candidates "
            "WHERE n <= 40 ORDER BY slot_id, user_id"),
            {"now": datetime.now(UTC)})).all()
    rng = random.Random(seed)
    learners = [Learner(*row) for row in rows]
    rng.shuffle(learners)
    # At most one booking per learner and per slot (five seats), so each request can succeed.
    seen_learners, per_slot, bookings = set(), {}, []
    for user_id, slot_id in pairs:
        if user_id in seen_learners or per_slot.get(slot_id, 0) >= 5:
            continue
        seen_learners.add(user_id)
        per_slot[slot_id] = per_slot.get(slot_id, 0) + 1
        bookings.append((user_id, slot_id))
    rng.shuffle(bookings)
    return learners[:count], admins, bookings


def requests_for(label: str, learners: list[Learner], admins: list[int], bookings: list[tuple[int, int]],
                 today: str) -> list[tuple[int, dict[str, Any]]]:
    """(user ID, variables) for each request of the operation, in the order they are sent."""
    if label == "admin session list (50)":
        return [(admin, {"first": 50}) for admin in admins]
    if label == "booking":
        return [(u, {"input": {"slotId": to_global_id("BookableSlot", slot), "idempotencyKey": f"load-{u}-{slot}"}})
                for u, slot in bookings]
    variables = {
        "dashboard": lambda learner: {},
        "today/upcoming": lambda learner: {"first": 10},
        "month calendar": lambda learner: {"view": "MONTH", "date": today},
        "course history": lambda learner: {"courseId": to_global_id("Course", learner.course_id)},
        "session details": lambda learner: {"id": to_global_id("LiveSession", learner.live_session_id)},
    }[label]
    return [(learner.user_id, variables(learner)) for learner in learners]


def body(operation, variables: dict[str, Any]) -> dict[str, Any]:
    return {"query": operation.document, "operationName": operation.name, "variables": variables}


def failed(payload: dict[str, Any]) -> str | None:
    if payload.get("errors"):
        return payload["errors"][0].get("message", "error")
    data = payload.get("data") or {}
    book = data.get("bookSlot")
    if book and book.get("errors"):
        return book["errors"][0].get("code", "error")
    return None


async def count_statements(settings: Settings, operations, work) -> dict[str, int]:
    """Each operation once, in-process on the same database, counting the SQL it sends."""
    from sessiongraph.server.app import create_app

    database = Database.of(settings)
    app = create_app(settings, database=database, check_migrations=False)
    statements: list[str] = []
    for engine in database.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    counted = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
        for label, operation in operations.items():
            if not work[label]:
                continue
            user_id, variables = work[label].pop()  # not sent again by the load run (bookings)
            token = issue_token(user_id, settings, datetime.now(UTC))
            del statements[:]
            response = await http.post("/graphql", json=body(operation, variables),
                                       headers={"Authorization": f"Bearer {token}"})
            problem = failed(response.json())
            counted[label] = len(statements) if problem is None else -1
            if problem:
                print(f"  {label}: in-process run failed: {problem}")
    await database.dispose()
    return counted


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants so far (Linux /proc)."""
    ticks, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree_rss_kb(pid: int) -> int:
    """RSS of a process and its descendants (Linux /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def run_operation(base: str, operation, work: list[tuple[int, dict[str, Any]]], tokens: dict[int, str],
                        clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    problems: dict[str, int] = {}
    position = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal position
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while time.perf_counter() < deadline and position < len(work):
                user_id, variables = work[position]
                position += 1
                sent = time.perf_counter()
                response = await http.post("/graphql", json=body(operation, variables),
                                           headers={"Authorization": f"Bearer {tokens[user_id]}"})
                latencies.append(time.perf_counter() - sent)
                problem = failed(response.json()) if response.status_code == 200 else f"HTTP {response.status_code}"
                if problem:
                    problems[problem] = problems.get(problem, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if len(latencies) < 2:
        return {"requests": len(latencies), "errors": problems}
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "seconds": elapsed, "per_second": len(latencies) / elapsed,
            "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000, "p99_ms": cuts[98] * 1000, "errors": problems}


WRK_SCRIPT = Path(__file__).with_name("wrk_requests.lua")


def run_operation_wrk(base: str, operation, work: list[tuple[int, dict[str, Any]]], tokens: dict[int, str],
                      clients: int, seconds: float) -> dict[str, Any]:
    """The same requests sent by wrk (one thread, `clients` connections): a load generator in C
    takes little of the CPU the server shares with it on a small machine, where 8 httpx clients
    in Python took about as much as the server."""
    with tempfile.NamedTemporaryFile("w", suffix=".requests", delete=False) as listing:
        for user_id, variables in work:
            listing.write(f"{tokens[user_id]}\t{json.dumps(body(operation, variables))}\n")
    try:
        completed = subprocess.run(
            ["wrk", "--threads", "1", "--connections", str(clients), "--duration", f"{max(seconds, 1):g}s",
             "--timeout", "30s", "--script", str(WRK_SCRIPT), base],
            env={**os.environ, "SESSIONGRAPH_WRK_REQUESTS": listing.name}, capture_output=True, text=True,
            check=True)
    finally:
        os.unlink(listing.name)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK-JSON "))
    summary = json.loads(line.removeprefix("WRK-JSON "))
    elapsed = summary["duration_us"] / 1e6
    problems: dict[str, int] = {}
    if summary["graphql_errors"]:
        problems[summary["first_error"][:120]] = summary["graphql_errors"]
    for kind in ("non_2xx", "socket_errors"):
        if summary[kind]:
            problems[kind] = summary[kind]
    return {"requests": summary["requests"], "seconds": elapsed, "per_second": summary["requests"] / elapsed,
            "p50_ms": summary["p50_us"] / 1000, "p95_ms": summary["p95_us"] / 1000,
            "p99_ms": summary["p99_us"] / 1000, "errors": problems,
            # wrk goes round the list; for bookings a repeat is an idempotent replay, not a booking.
            "repeated": max(0, summary["requests"] - len(work))}


def start_server(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_ENABLED": "false",
           "ENVIRONMENT": "benchmark", "LOG_FORMAT": "text"}
    env.pop("REDIS_URL", None)
    # `-m` from ROOT: this checkout's code. The console script in the environment's bin/ imports the
    # package its editable install points at, whichever checkout runs the benchmark.
    command = [sys.executable, "-m", "sessiongraph.server.cli", "serve", "--port", str(port),
               "--workers", str(workers)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run(args) -> int:
    settings = Settings(database_url=args.database_url, jwt_secret=JWT_SECRET, environment="benchmark",
                        rate_limit_enabled=False, _env_file=None)
    engine_name = make_url(settings.database_url).get_backend_name()
    by_name = {(op.client, op.name): op for client in ("web", "admin") for op in load_operations(client)}
    operations = {label: by_name[(client, name)] for label, client, name in OPERATIONS
                  if not args.only or label in args.only}
    database = Database.of(settings)
    learners, admins, bookings = await sample(database, args.users, args.seed)
    await database.dispose()
    today = datetime.now(UTC).date().isoformat()
    work = {label: requests_for(label, learners, admins, bookings, today) for label in operations}
    counted = await count_statements(settings, operations, work)

    now = datetime.now(UTC)
    tokens = {u: issue_token(u, settings, now) for items in work.values() for u, _ in items}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.database_url, port, args.workers)
    results: dict[str, Any] = {}
    try:
        await wait_ready(base, server)
        print(f"sessiongraph load benchmark on {engine_name}: {args.workers} worker(s), {args.clients} clients "
              f"({args.driver}), "
              f"{args.seconds:g} s per operation, {len(learners):,} learners; {os.cpu_count()} CPUs")
        print(f"{'operation':<26}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'SQL':>5}"
              f"{'CPU ms':>8}{'RSS MB':>8}  errors")
        for label, operation in operations.items():
            if not work[label]:
                print(f"{label:<26} no data to send it with")
                continue
            # Read-only operations cycle through their users; bookings are sent once each.
            items = work[label] if label == "booking" else work[label] * 1000
            cpu_before = process_tree_cpu_seconds(server.pid)
            if args.driver == "wrk":
                result = run_operation_wrk(base, operation, work[label], tokens, args.clients, args.seconds)
            else:
                result = await run_operation(base, operation, items, tokens, args.clients, args.seconds)
            # The server's own CPU per request: steadier than latency on a machine shared with the client.
            result["server_cpu_ms"] = (process_tree_cpu_seconds(server.pid) - cpu_before) * 1000 / max(
                result["requests"], 1)
            result["sql_statements"] = counted.get(label)
            result["server_rss_mb"] = process_tree_rss_kb(server.pid) / 1024
            results[label] = result
            print(f"{label:<26}{result['requests']:>9,}{result.get('per_second', 0):>8.0f}"
                  f"{result.get('p50_ms', 0):>9.1f}{result.get('p95_ms', 0):>9.1f}{result.get('p99_ms', 0):>9.1f}"
                  f"{result['sql_statements'] if result['sql_statements'] is not None else '-':>5}"
                  f"{result['server_cpu_ms']:>8.2f}{result['server_rss_mb']:>8.0f}  "
                  + (", ".join(f"{k} x{v}" for k, v in result["errors"].items()) or "-"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{engine_name}-w{args.workers}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({
        "engine": engine_name, "workers": args.workers, "clients": args.clients, "driver": args.driver,
        "seconds": args.seconds,
        "users": len(learners), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                            "python": platform.python_version()},
        "statements_counted_by": "one in-process run per operation (before_cursor_execute)",
        "at": datetime.now(UTC).isoformat(), "operations": results}, indent=2))
    print("SQL: statements per request, from one in-process run of each operation on the same database; "
          "CPU: the server's (and its workers') CPU time per request; RSS: theirs, after the operation")
    print(f"written: {out.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="the database bench/generate.py --keep printed")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10, help="per operation")
    parser.add_argument("--users", type=int, default=5000, help="learners to send as")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", action="append", help="run only this operation (label; repeatable)")
    parser.add_argument("--driver", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx",
                        help="what sends the load: wrk (apt-get install wrk; the default when installed) "
                             "or httpx clients in this process")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
