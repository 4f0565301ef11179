"""Profiles one client operation in-process: where a request's time goes, without HTTP or a load client.

    python bench/profile_operation.py --database-url <URL from generate.py> --operation CalendarTab
    python bench/profile_operation.py ... --operation Dashboard --pyinstrument   # a call tree

Runs the operation (as clients/web or clients/admin sends it) --requests times as different
learners through the ASGI app with httpx's ASGI transport, one at a time, and prints the
mean and p50 wall time per request, the process's CPU time per request (steadier than wall
time on a busy machine) and the SQL statements of one request. With --pyinstrument
it prints pyinstrument's call tree of the whole run (pip install pyinstrument); with
--statements, one request's SQL statements with their parameters and time.

With --callgrind it runs itself again under valgrind's callgrind, counting the instructions
this process executes for the measured requests only (not the imports or the warm-up), and
prints them per request. Slow (some 50 times), but steady: two runs back to back agree within
about 0.2%, runs an hour apart within about 7% (the event loop polls more or less often as the
database answers), where CPU time moved 20-40% between runs here. The way to compare two
versions of the code: run them one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
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
from sessiongraph.infrastructure.db import Database  # noqa: E402
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
    database = Database.of(settings)
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

    for engine in database.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", before)
        event.listen(engine.sync_engine, "after_cursor_execute", after)
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
        if args.instrument:
            _callgrind_instrumentation("on")
        cpu_started = time.process_time()
        timings = [await send(user, variables) for user, variables in work]
        cpu_per_request = (time.process_time() - cpu_started) / len(work)
        if args.instrument:
            _callgrind_instrumentation("off")
        if profiler:
            profiler.stop()
    await database.dispose()
    print(f"{args.operation}: {len(timings)} requests, mean {statistics.mean(timings) * 1000:.2f} ms, "
          f"p50 {statistics.median(timings) * 1000:.2f} ms, {cpu_per_request * 1000:.2f} ms of this process's CPU "
          f"(client and server), {statement_count} SQL statements per request")
    if profiler:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


def _callgrind_instrumentation(state: str) -> None:
    subprocess.run(["callgrind_control", "--instr=" + state, str(os.getpid())], check=True, capture_output=True)


def _under_callgrind(args: argparse.Namespace) -> int:
    """This script again, under callgrind, instrumented only while it sends the measured requests."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, __file__, *(a for a in sys.argv[1:] if a != "--callgrind"), "--instrument"]
        finished = subprocess.run(command, capture_output=True, text=True)
        print(finished.stdout, end="")
        if finished.returncode != 0:
            print(finished.stderr, file=sys.stderr)
            return finished.returncode
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        assert totals is not None, "callgrind wrote no totals"
        print(f"{args.operation}: {int(totals.group(1)) / args.requests / 1e6:.2f} M instructions per request "
              f"(callgrind, this process, client included)")
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
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions per request under valgrind's callgrind")
    parser.add_argument("--instrument", action="store_true", help=argparse.SUPPRESS)  # set under callgrind
    args = parser.parse_args()
    if args.callgrind:
        return _under_callgrind(args)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
