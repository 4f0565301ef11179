"""Benchmark: a calendar feed of 1,000 events (the budget: rendered in under 100 ms).

    .venv/bin/python bench/calendar_feed.py                  # SQLite, in a temporary folder
    .venv/bin/python bench/calendar_feed.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Two measurements, each the median of --runs (after one run that warms the VTIMEZONE cache,
which is also printed):

- render: the RFC 5545 text of --events feed entries (resolvers/icalendar_writer.py), no database;
- read: the two statements alone (resolvers/calendar_feed.py read_feed), for a learner with
  --events booked live sessions in Europe/Paris, across the DST changes;
- request: GET /calendar/<secret>.ics for that learner through the whole app (the two
  statements, the text, the ETag).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.support import make_database  # noqa: E402
from sessiongraph import migrations  # noqa: E402
from sessiongraph.infrastructure.clock import FrozenClock  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.models import Booking, Course, Instructor, LiveSession, User  # noqa: E402
from sessiongraph.resolvers.calendar_feed import FeedEntry, feed_span, read_feed  # noqa: E402
from sessiongraph.resolvers.calendar_feed import calendar_feed as issue_feed  # noqa: E402
from sessiongraph.resolvers.context import Actor, Context  # noqa: E402
from sessiongraph.resolvers.icalendar_writer import feed_calendar  # noqa: E402
from sessiongraph.server.app import create_app  # noqa: E402

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Paris")


def starts(count: int) -> list[datetime]:
    """Three a day from 80 days back, so the feed spans both DST changes of 2026."""
    return [NOW - timedelta(days=80) + timedelta(days=n // 3, hours=8 + 3 * (n % 3)) for n in range(count)]


def entries(count: int) -> list[FeedEntry]:
    return [FeedEntry(live_session=SimpleNamespace(
        id=n, code=f"LS{n:05d}", starts_at=at, ends_at=at + timedelta(hours=1), lesson_name=f"Lesson {n}",
        lesson_goal="Order a meal, ask for directions, and talk about the weekend", cancelled_at=None,
        cancellation_reason=None, sequence=n % 3, location_name="Hall B" if n % 2 else None, location_room=None,
        location_address=None, is_virtual=n % 2 == 0,
        created_at=NOW, updated_at=NOW), course_title="Spanish B1", instructor_name="Irene Instructor",
        children=("Anna",) if n % 5 == 0 else ()) for n, at in enumerate(starts(count))]


def timed(work, runs: int) -> tuple[float, float, float]:
    """(the first run, the median of the others, their median CPU time) in milliseconds. The CPU
    time leaves out the waits of a machine shared with other work, which the wall time counts."""
    times, cpu = [], []
    for _ in range(runs + 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        work()
        times.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return times[0], statistics.median(times[1:]), statistics.median(cpu[1:])


def bench_render(count: int, runs: int) -> None:
    feed = entries(count)
    body = b""

    def render() -> None:
        nonlocal body
        body = feed_calendar(feed, zone=ZONE, span=feed_span(NOW), name="Bench", uid_domain="bench.test",
                             page_url=lambda n: f"https://bench.test/app/#session={n}")

    first, median, cpu = timed(render, runs)
    print(f"render   {count} events: first {first:6.1f} ms, median {median:6.1f} ms "
          f"(CPU {cpu:5.1f} ms; {len(body):,} bytes)")


async def seed(database: Database, count: int) -> User:
    async with database.write() as db:
        learner = User(email=f"{uuid.uuid4().hex[:8]}@bench.test", name="Lea", time_zone=ZONE.key)
        teacher = User(email=f"{uuid.uuid4().hex[:8]}@bench.test", name="Irene")
        course = Course(code="SPA-B1", title="Spanish B1")
        db.add_all([learner, teacher, course])
        await db.flush()
        profile = Instructor(user_id=teacher.id, display_name="Irene Instructor")
        db.add(profile)
        await db.flush()
        ids = (await db.execute(insert(LiveSession).returning(LiveSession.id), [
            {"code": f"LS{n:05d}", "course_id": course.id, "instructor_id": profile.id, "starts_at": at,
             "ends_at": at + timedelta(hours=1), "lesson_name": f"Lesson {n}", "lesson_goal": "Order a meal",
             "created_at": NOW, "updated_at": NOW, "extra_links": []}
            for n, at in enumerate(starts(count))])).scalars().all()
        await db.execute(insert(Booking), [{"learner_id": learner.id, "live_session_id": i, "booked_at": NOW}
                                           for i in ids])
    return learner


async def bench_request(database_url: str | None, count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url, drop = await make_database(database_url, Path(folder), "feed")
        settings = Settings(database_url=url, environment="bench", rate_limit_enabled=False, _env_file=None)
        database = Database.of(settings)
        try:
            await migrations.upgrade(database.engine)
            learner = await seed(database, count)
            if "postgresql" in url:  # statistics, as autovacuum keeps them on a real server
                async with database.engine.connect() as connection:
                    await connection.execute(text("ANALYZE"))
            clock = FrozenClock(NOW)
            link = await issue_feed(Context(database=database, clock=clock, settings=settings,
                                            actor=Actor(learner)))
            engine = "PostgreSQL" if "postgresql" in url else "SQLite"
            secret = link.url.rsplit("/", 1)[1].removesuffix(".ics")
            reads = []
            for _ in range(runs + 1):
                began = time.perf_counter()
                found = await read_feed(database, secret, NOW)
                reads.append((time.perf_counter() - began) * 1000)
                assert found is not None and len(found[1]) == count
            print(f"read     {count} events ({engine}): first {reads[0]:6.1f} ms, "
                  f"median {statistics.median(reads[1:]):6.1f} ms")
            app = create_app(settings, clock=clock, database=database, check_migrations=False)
            path = link.url.removeprefix(settings.public_url)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
                times = []
                for _ in range(runs + 1):
                    began = time.perf_counter()
                    response = await http.get(path)
                    times.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200 and response.text.count("BEGIN:VEVENT") == count
            await app.state.broker.close()
            await app.state.persisted.close()
            print(f"request  {count} events ({engine}): first {times[0]:6.1f} ms, "
                  f"median {statistics.median(times[1:]):6.1f} ms")
        finally:
            await database.dispose()
            await drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bench_render(args.events, args.runs)
    asyncio.run(bench_request(args.database_url, args.events, args.runs))


if __name__ == "__main__":
    main()
