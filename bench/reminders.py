"""Benchmark: 10,000 reminders due at one instant, recorded by one reminder planner.

    python bench/reminders.py                       # SQLite, in a temporary folder
    python bench/reminders.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL the benchmark creates a database of its own on that server and
drops it at the end. It seeds --live-sessions live sessions starting at one instant, each
with its own instructor and --learners booked learners (100 x (99 + 1) = 10,000 people by
default), stands a frozen clock at their 15-minute reminder moment, and times one
ReminderPlanner (resolvers/reminders.py) from its wake until it is idle with every
`reminder.due` event recorded. The aim is 10 s.
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

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.import_enrollments import ADMIN_EMAIL, email, seed_people  # noqa: E402
from bench.support import make_database  # noqa: E402
from sessiongraph.infrastructure.background import Round  # noqa: E402
from sessiongraph.infrastructure.clock import FrozenClock  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.models import Booking, Course, Event, Instructor, LiveSession, User  # noqa: E402
from sessiongraph.resolvers import reminders  # noqa: E402
from sessiongraph.resolvers.reminders import ReminderPlanner  # noqa: E402

STARTS = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped), or a SQLite URL; "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--live-sessions", type=int, default=100)
    parser.add_argument("--learners", type=int, default=99, help="booked learners per live session")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as folder:
        url, drop = asyncio.run(make_database(args.database_url, Path(folder), "reminders"))
        try:
            started = time.perf_counter()
            asyncio.run(seed(url, args.live_sessions, args.learners))
            people = args.live_sessions * (args.learners + 1)
            print(f"sessiongraph reminder benchmark on {make_url(url).get_backend_name()}: {people:,} reminders due "
                  f"at one instant ({args.live_sessions} live sessions, {args.learners} learners and an instructor "
                  f"each; seeded in {time.perf_counter() - started:.1f} s)")
            asyncio.run(measure(url, people))
        finally:
            asyncio.run(drop())
    return 0


async def seed(url: str, live_sessions: int, learners: int) -> None:
    database = await seed_people(url, live_sessions * (learners + 1), email, "Person")
    now = datetime.now(UTC)
    async with database.write() as db:
        users = list((await db.execute(select(User.id).where(User.email != ADMIN_EMAIL).order_by(User.id))).scalars())
        course_id = (await db.execute(insert(Course).returning(Course.id), [{"code": "BENCH", "title": "Bench"}])
                     ).scalar_one()
        instructor_ids = (await db.execute(insert(Instructor).returning(Instructor.id, sort_by_parameter_order=True), [
            {"user_id": user_id, "display_name": f"Instructor {n}"} for n, user_id in enumerate(users[:live_sessions])
        ])).scalars().all()
        live_ids = (await db.execute(insert(LiveSession).returning(LiveSession.id, sort_by_parameter_order=True), [
            {"code": f"BENCH{k}", "course_id": course_id, "instructor_id": instructor_id, "starts_at": STARTS,
             "ends_at": STARTS + timedelta(hours=1), "extra_links": [], "created_at": now}
            for k, instructor_id in enumerate(instructor_ids)])).scalars().all()
        booked = users[live_sessions:]
        await db.execute(insert(Booking), [
            {"learner_id": learner, "live_session_id": live_ids[n // learners], "status": "BOOKED", "booked_at": now}
            for n, learner in enumerate(booked)])
    await database.dispose()


class CountingPlanner(ReminderPlanner):
    rounds = 0

    async def work(self) -> Round:
        self.rounds += 1
        return await super().work()


async def measure(url: str, people: int) -> None:
    settings = Settings(database_url=url, _env_file=None)
    database = Database.of(settings)
    planner = CountingPlanner(database, FrozenClock(STARTS - timedelta(minutes=15)), settings)
    started = time.perf_counter()
    planner.wake()
    await planner.idle()
    seconds = time.perf_counter() - started
    await planner.close()
    async with database.read() as db:
        recorded = await db.scalar(select(func.count()).select_from(Event).where(Event.type == "reminder.due"))
    print(f"recorded {recorded:,} reminder.due events of {people:,} in {seconds:.2f} s, {planner.rounds} rounds "
          f"of up to {reminders.PLAN_BATCH:,} ({recorded / seconds:,.0f} a second)")
    await database.dispose()


if __name__ == "__main__":
    sys.exit(main())
