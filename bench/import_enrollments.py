"""Benchmark: import 100,000 enrollment rows into sessions that exist, through the resolver.

    python bench/import_enrollments.py                       # SQLite, in a temporary folder
    python bench/import_enrollments.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL the benchmark creates a database of its own on that server and
drops it at the end. It seeds the users and sessions, writes the CSV file, then runs
the import twice (the first creates every enrollment, the second finds them all
there), each in a fresh process so its peak memory is its own, and prints the wall
time and memory of each. --tracemalloc adds the Python heap's peak (and slows the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.support import analyze, make_database  # noqa: E402
from sessiongraph import migrations  # noqa: E402
from sessiongraph.infrastructure.db import Database, create_engine  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.models import Session, User  # noqa: E402

ADMIN_EMAIL = "bench-admin@example.org"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped), or a SQLite URL; "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rows-per-user", type=int, default=2, help="sessions each user is enrolled in")
    parser.add_argument("--tracemalloc", action="store_true", help="also report the Python heap's peak")
    parser.add_argument("--run-import", metavar="FILE", help=argparse.SUPPRESS)  # the measured child
    args = parser.parse_args()
    if args.run_import:
        print(json.dumps(asyncio.run(run_import(args.database_url, Path(args.run_import), args.tracemalloc))))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        url, drop = asyncio.run(make_database(args.database_url, Path(folder), "import"))
        try:
            users = -(-args.rows // args.rows_per_user)
            started = time.perf_counter()
            asyncio.run(seed(url, users=users, sessions=args.sessions))
            csv_path = Path(folder) / "enrollments.csv"
            write_csv(csv_path, rows=args.rows, users=users, sessions=args.sessions, per_user=args.rows_per_user)
            engine = make_url(url).get_backend_name()
            print(f"sessiongraph CSV import benchmark on {engine}: {args.rows:,} enrollment rows "
                  f"({csv_path.stat().st_size / 1_048_576:.1f} MB) into {args.sessions} sessions for {users:,} users "
                  f"(seeded in {time.perf_counter() - started:.1f} s); {os.cpu_count()} CPUs")
            heap_title = f"{'heap peak':>11}" if args.tracemalloc else ""
            print(f"{'':14}{'wall time':>10}{'CPU time':>10}{'peak RSS':>11}{'RSS before':>12}{heap_title}  result")
            for label in ("first import", "re-import"):
                child = subprocess.run(
                    [sys.executable, __file__, "--run-import", str(csv_path), "--database-url", url,
                     *(["--tracemalloc"] if args.tracemalloc else [])],
                    capture_output=True, text=True, check=False)
                if child.returncode != 0:
                    print(child.stderr, file=sys.stderr)
                    return 1
                measured = json.loads(child.stdout)
                heap = f"{measured['heap_peak_mb']:>8.0f} MB" if args.tracemalloc else ""
                print(f"{label:14}{measured['seconds']:>8.2f} s{measured['cpu_seconds']:>8.2f} s"
                      f"{measured['peak_rss_mb']:>8.0f} MB"
                      f"{measured['rss_before_mb']:>9.0f} MB{heap}  {measured['result']}")
        finally:
            asyncio.run(drop())
    return 0


async def seed(url: str, *, users: int, sessions: int) -> None:
    database = await seed_people(url, users, email, "Learner")
    now = datetime.now(UTC)
    async with database.write() as db:
        if sessions:
            await db.execute(insert(Session), [{"name": session_name(n), "visibility": "READ_ONLY",
                                                "created_at": now} for n in range(sessions)])
    await analyze(database)
    await database.dispose()


async def seed_people(url: str, count: int, email_of: Callable[[int], str], name: str) -> Database:
    """A migrated database holding the benchmark's admin and `count` users named `name n`."""
    database = Database(create_engine(Settings(database_url=url, _env_file=None)))
    await migrations.upgrade(database.engine)
    person = {"time_zone": "UTC", "week_start": "MONDAY", "created_at": datetime.now(UTC)}
    async with database.write() as db:
        await db.execute(insert(User), [{"email": ADMIN_EMAIL, "name": "Bench Admin", "is_admin": True, **person}])
        for start in range(0, count, 10_000):
            await db.execute(insert(User), [{"email": email_of(n), "name": f"{name} {n}", "is_admin": False, **person}
                                            for n in range(start, min(start + 10_000, count))])
    return database


def email(n: int) -> str:
    return f"learner{n:06d}@example.org"


def session_name(n: int) -> str:
    return f"Bench session {n:03d}"


def write_csv(path: Path, *, rows: int, users: int, sessions: int, per_user: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("session,email,role\r\n")
        for row in range(rows):
            user, nth = divmod(row, per_user)
            out.write(f"{session_name((user + nth * 7) % sessions)},{email(user % users)},learner\r\n")


async def run_import(url: str, path: Path, trace: bool) -> dict:
    """One import, measured: runs in a fresh process."""
    import tracemalloc

    from sessiongraph.infrastructure.clock import Clock
    from sessiongraph.resolvers import imports
    from sessiongraph.resolvers.context import Actor, Context

    settings = Settings(database_url=url, _env_file=None)
    database = Database.of(settings)
    async with database.read() as db:
        admin = (await db.scalars(select(User).where(User.email == ADMIN_EMAIL))).one()
    ctx = Context(database=database, clock=Clock(), settings=settings, actor=Actor(admin))
    rss_before = _rss_mb()
    if trace:
        tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    with path.open("rb") as file:
        report = await imports.import_csv(ctx, file)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    heap_peak = tracemalloc.get_traced_memory()[1] / 1_048_576 if trace else None
    await database.dispose()
    if report.refusal:
        result = f"refused: {report.refusal[0].message} {[e.message for e in report.row_errors[:3]]}"
    else:
        counts = report.counts
        result = (f"created {counts.created:,}, updated {counts.updated:,}, "
                  f"already enrolled {counts.already_enrolled:,}")
    return {"seconds": seconds, "cpu_seconds": cpu_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss_before, "heap_peak_mb": heap_peak, "result": result}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    sys.exit(main())
