"""Benchmark: download a 50,000-learner session's tracking as CSV and as XLSX, through the service.

    python bench/export_tracking.py                       # SQLite, in a temporary folder
    python bench/export_tracking.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL the benchmark creates a database of its own on that server and
drops it at the end. It seeds one session with --learners enrolled learners and
--live-sessions live sessions with a report for every learner on each, asks for the
export through the GraphQL mutation as an admin, and times the GET of the download URL
through the ASGI app (the whole streamed body read): its wall time, and the CPU time of
this process, which serves it (what a machine shared with other work blurs least). The aim
is 5 s for 50,000 rows.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.import_enrollments import ADMIN_EMAIL, email, seed_people  # noqa: E402
from bench.support import analyze, make_database  # noqa: E402
from sessiongraph.infrastructure.clock import Clock  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.models import (  # noqa: E402
    AttendanceReport,
    Course,
    Enrollment,
    Instructor,
    LiveSession,
    Session,
    User,
)
from sessiongraph.schema.relay import to_global_id  # noqa: E402
from sessiongraph.server.app import create_app  # noqa: E402

EXPORT = (ROOT / "clients" / "admin" / "export_tracking.graphql").read_text()
STATUSES = ("PRESENT", "LATE", "ABSENT", "EXCUSED", "PRESENT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped), or a SQLite URL; "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--live-sessions", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        url, drop = asyncio.run(make_database(args.database_url, Path(folder), "export"))
        try:
            started = time.perf_counter()
            asyncio.run(seed(url, args.learners, args.live_sessions))
            print(f"sessiongraph tracking export benchmark on {make_url(url).get_backend_name()}: "
                  f"{args.learners:,} learners, {args.live_sessions} live sessions with a report each "
                  f"(seeded in {time.perf_counter() - started:.1f} s)")
            asyncio.run(measure(url))
        finally:
            asyncio.run(drop())
    return 0


async def seed(url: str, learners: int, live_sessions: int) -> None:
    database = await seed_people(url, learners, email, "Learner")
    now = datetime.now(UTC)
    async with database.write() as db:
        users = list((await db.execute(select(User.id).where(User.email != ADMIN_EMAIL).order_by(User.id))).scalars())
        course_id = (await db.execute(insert(Course).returning(Course.id), [{"code": "BENCH", "title": "Bench"}])
                     ).scalar_one()
        instructor_id = (await db.execute(insert(Instructor).returning(Instructor.id), [
            {"user_id": users[0], "display_name": "Bench Instructor"}])).scalar_one()
        session_id = (await db.execute(insert(Session).returning(Session.id), [
            {"name": "Bench session", "visibility": "READ_ONLY", "created_at": now}])).scalar_one()
        for start in range(0, len(users), 10_000):
            await db.execute(insert(Enrollment), [{"session_id": session_id, "user_id": user_id, "enrolled_at": now}
                                                  for user_id in users[start:start + 10_000]])
        live_ids = (await db.execute(insert(LiveSession).returning(LiveSession.id), [
            {"code": f"BENCH{k}", "course_id": course_id, "session_id": session_id, "instructor_id": instructor_id,
             "starts_at": now - timedelta(days=k + 1), "ends_at": now - timedelta(days=k + 1, hours=-1),
             "extra_links": [], "created_at": now} for k in range(live_sessions)])).scalars().all()
        for k, live_id in enumerate(live_ids):
            for start in range(0, len(users), 10_000):
                await db.execute(insert(AttendanceReport), [
                    {"live_session_id": live_id, "learner_id": user_id, "status": STATUSES[(k + n) % 5],
                     "recorded_at": now} for n, user_id in enumerate(users[start:start + 10_000], start)])
    await analyze(database)
    await database.dispose()


async def measure(url: str) -> None:
    settings = Settings(database_url=url, _env_file=None)
    database = Database.of(settings)
    clock = Clock()
    async with database.read() as db:
        admin_id = (await db.execute(select(User.id).where(User.email == ADMIN_EMAIL))).scalar_one()
        session_id = (await db.execute(select(Session.id))).scalar_one()
    headers = {"Authorization": f"Bearer {issue_token(admin_id, settings, clock.now())}"}
    app = create_app(settings, clock=clock, database=database, check_migrations=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for file_format in ("CSV", "XLSX"):
            answer = await client.post("/graphql", headers=headers, json={"query": EXPORT, "variables": {
                "input": {"sessionId": to_global_id("Session", session_id), "format": file_format}}})
            download = answer.json()["data"]["exportTracking"]["url"].removeprefix("http://bench")
            started, cpu_started = time.perf_counter(), time.process_time()
            response = await client.get(download)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            response.raise_for_status()
            size = len(response.content) / 1_048_576
            print(f"{file_format:5} {seconds:6.2f} s wall {cpu_seconds:6.2f} s CPU  {size:5.1f} MB  "
                  f"HTTP {response.status_code}")
    await database.dispose()


if __name__ == "__main__":
    sys.exit(main())
