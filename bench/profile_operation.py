"""Profiles one client operation in-process: where a request's time goes, without HTTP or a load client.

    python bench/profile_operation.py --database-url <URL from generate.py> --operation CalendarTab
    python bench/profile_operation.py ... --operation Dashboard --pyinstrument   # a call tree

Runs the operation (as clients/web or clients/admin sends it) --requests times as different
learners through the ASGI app with httpx's ASGI transport, one at a time, and prints the
mean and p50 wall time per request, the process's CPU time per request (steadier than wall
time on a busy machine) and the SQL statements of one request. With --pyinstrument
it prints pyinstrument's call tree of the whole run (pip install pyinstrument); with
--statements, one request's SQL statements with their parameters and time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.load import JWT_SECRET, body, failed, requests_for, sample  # noqa: E402
from bench.paths import PATHS  # noqa: E402
from sessiongraph.clients.documents import load_operations  # noqa: E402
from sessiongraph.infrastructure.db import Database, create_engine  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.server.app import create_app  # noqa: E402

LABELS = {"Dashboard": "dashboard", "UpcomingTab": "today/upcoming", "CalendarTab": "month calendar",
          "CourseSessionHistory": "course history", "SessionList": "admin session list (50)",
          "SessionDetails": "session details"}


async def run(args) -> int:
    settings = Settings(database_url=args.database_url, jwt_secret=JWT_SECRET, environment="benchmark",
                        rate_limit_enabled=False, _env_file=None, **PATHS[args.path])
    operation = {op.name: op for client in ("web", "admin") for op in load_operations(client)}[args.operation]
    database = Database(create_engine(settings))
    learners, admins, bookings = await sample(database, args.requests, seed=1)
    work = requests_for(LABELS[args.operation], learners, admins, bookings, datetime.now(UTC).date().isoformat())
    work = (work * (args.requests // max(len(work), 1) + 1))[: args.requests]
    app = create_app(settings, database=database, check_migrations=False)
    statements: list[list] = []  # [SQL, parameters, started, seconds]

    def before(conn, cursor, statement, parameters, context, executemany):
        context.profiled = [statement, parameters, time.perf_counter(), 0.0]
        statements.append(context.profiled)

    def after(conn, cursor, statement, parameters, context, executemany):
        context.profiled[3] = time.perf_counter() - context.profiled[2]

    event.listen(database.engine.sync_engine, "before_cursor_execute", before)
    event.listen(database.engine.sync_engine, "after_cursor_execute", after)
    now = datetime.now(UTC)
    tokens = {user: issue_token(user, settings, now) for user, _ in work}
    profiler = None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile") as http:
        async def send(user: int, variables: dict) -> float:
            started = time.perf_counter()
            response = await http.post("/graphql", json=body(operation, variables),
                                       headers={"Authorization": f"Bearer {tokens[user]}"})
            elapsed = time.perf_counter() - started
            if problem := failed(response.json()):
                raise SystemExit(f"{args.operation} failed: {problem}")
            return elapsed

        for user, variables in work[: args.warmup]:
            await send(user, variables)
        del statements[:]
        await send(*work[0])
        statement_count = len(statements)
        if args.statements:
            for sql, parameters, _, seconds in statements:
                print(f"--- {seconds * 1000:.2f} ms  {parameters}\n{sql}")
        if args.pyinstrument:
            from pyinstrument import Profiler
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            profiler.start()
        cpu_started = time.process_time()
        timings = [await send(user, variables) for user, variables in work]
        cpu_per_request = (time.process_time() - cpu_started) / len(work)
        if profiler:
            profiler.stop()
    await database.dispose()
    print(f"{args.operation}: {len(timings)} requests, mean {statistics.mean(timings) * 1000:.2f} ms, "
          f"p50 {statistics.median(timings) * 1000:.2f} ms, {cpu_per_request * 1000:.2f} ms of this process's CPU "
          f"(client and server), {statement_count} SQL statements per request")
    if profiler:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--operation", default="CalendarTab", choices=sorted(LABELS))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--path", default="planned", choices=sorted(PATHS),
                        help="which execution answers (bench/paths.py); planned is the service's default")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--statements", action="store_true", help="print one request's SQL with its time")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
