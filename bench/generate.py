"""Loads a large platform, reproducibly from a seed, for the load benchmark (bench/load.py).

    python bench/generate.py --scale 0.01                        # SQLite, in a temporary folder, dropped
    python bench/generate.py --scale 0.02 --keep                 # keep it; prints its URL
    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/postgres --keep

At --scale 1.0: 200,000 learners, 2,000 instructors, 5,000 sessions, 2,000 courses,
1,000,000 enrollments, 500,000 live sessions, 2,000,000 bookings with their credit
transactions and accounts (each balance replays from its ledger). A learner has about
5 enrollments (sessions of 2 courses each) and about 10 bookings on live sessions of
those courses, spread over the past and the next two months, at 07:00-19:30 UTC; each
administrative session also has 10 live sessions of its own, which every learner
enrolled in it sees. Every slot-made live session has its bookable slot (seats,
booked); open future slots are left for bookSlot.

Rows are tuples from `random.Random(seed)`, never ORM objects; PostgreSQL loads them
with COPY (asyncpg's copy_records_to_table, foreign-key triggers off while loading when
the role may), SQLite with executemany in chunks. IDs are given explicitly (and the
PostgreSQL sequences moved past them), so the same seed and --now give the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.support import make_database  # noqa: E402
from sessiongraph import migrations  # noqa: E402
from sessiongraph.infrastructure.settings import async_database_url  # noqa: E402

FULL = {"learners": 200_000, "instructors": 2_000, "sessions": 5_000, "courses": 2_000,
        "enrollments": 1_000_000, "live_sessions": 500_000, "bookings": 2_000_000}
ZONES = ("Europe/Paris", "Europe/London", "Europe/Madrid", "UTC", "America/New_York")
SESSION_LIVE_SESSIONS = 10  # per administrative session
SEATS = 8
CHUNK = 20_000
ADMINS = 5

COLUMNS: dict[str, tuple[str, ...]] = {
    "app_user": ("id", "email", "name", "time_zone", "week_start", "is_admin", "created_at"),
    "instructor": ("id", "user_id", "display_name", "bio"),
    "session_category": ("id", "name", "start", "end"),
    "course": ("id", "code", "title", "bookable", "credit_cost", "absence_requests_enabled", "join_lead_minutes",
               "cancellation_notice_minutes"),
    "session": ("id", "name", "description", "category_id", "coach_id", "visibility", "display_start",
                "display_end", "access_start", "access_end", "coach_start", "coach_end", "duration_days",
                "created_at"),
    "session_course": ("session_id", "course_id", "position"),
    "session_course_coach": ("session_id", "course_id", "user_id"),
    "enrollment": ("session_id", "user_id", "class_id", "enrolled_at", "first_access_at"),
    "live_session": ("id", "code", "course_id", "session_id", "instructor_id", "lesson_name", "lesson_goal",
                     "starts_at", "ends_at", "virtual_classroom_url", "location_name", "location_address",
                     "location_room", "recording_url", "extra_links", "capacity", "cancelled_at",
                     "cancellation_reason", "created_at", "updated_at"),
    "bookable_slot": ("id", "course_id", "instructor_id", "starts_at", "ends_at", "seats", "booked",
                      "virtual_classroom_url", "location_name", "location_address", "location_room",
                      "live_session_id", "published_by_id", "created_at"),
    "booking": ("id", "learner_id", "live_session_id", "status", "booked_at", "cancelled_at", "idempotency_key"),
    "credit_account": ("user_id", "balance", "updated_at"),
    "credit_transaction": ("id", "user_id", "kind", "amount", "balance_after", "description", "live_session_id",
                           "booking_id", "created_by_id", "created_at"),
}
SEQUENCED = ("app_user", "instructor", "session_category", "course", "session", "live_session", "bookable_slot",
             "booking", "credit_transaction")
TOPICS = ("English", "Spanish", "German", "French", "Leadership", "Python", "Statistics", "Design", "Sales",
          "Writing", "Negotiation", "Finance")


def counts(scale: float) -> dict[str, int]:
    at = {name: max(1, round(full * scale)) for name, full in FULL.items()}
    at["instructors"] = max(at["instructors"], 2)
    at["sessions"] = max(at["sessions"], 10)
    at["courses"] = max(at["courses"], 5)
    at["live_sessions"] = max(at["live_sessions"], at["sessions"] * SESSION_LIVE_SESSIONS + 20)
    return at


# --- writers ------------------------------------------------------------------------------------


class Writer:
    """Writes row tuples to a table and keeps the seconds each table took."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)

    async def write(self, table: str, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        await self._write(table, COLUMNS[table], rows)
        self.seconds[table] += time.perf_counter() - started
        self.rows[table] += len(rows)


class PostgresWriter(Writer):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def open(self) -> None:
        import asyncpg

        self.connection = await asyncpg.connect(make_url(self.url).set(drivername="postgresql")
                                                .render_as_string(hide_password=False))
        with contextlib.suppress(Exception):  # foreign keys are right by construction; skip their triggers
            await self.connection.execute("SET session_replication_role = replica")

    async def _write(self, table, columns, rows) -> None:
        await self.connection.copy_records_to_table(table, records=rows, columns=list(columns))

    async def close(self) -> None:
        for table in SEQUENCED:
            await self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)")
        await self.connection.execute("RESET session_replication_role")
        started = time.perf_counter()
        # VACUUM as well: it sets the visibility map that index-only scans need (counting a
        # page of sessions' enrolments drops from 10 ms to 1.6 ms), as autovacuum would
        # in a long-running database. asyncpg runs it outside a transaction.
        await self.connection.execute("VACUUM ANALYZE")
        self.seconds["(analyze)"] = time.perf_counter() - started
        await self.connection.close()


def _sqlite_value(value):
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite DATETIME format, naive UTC (models/columns.py UTCDateTime).
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


class SQLiteWriter(Writer):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.path = make_url(url).database

    async def open(self) -> None:
        self.connection = sqlite3.connect(self.path, timeout=30)
        self.connection.execute("PRAGMA synchronous = OFF")
        self.connection.execute("PRAGMA foreign_keys = OFF")

    async def _write(self, table, columns, rows) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        self.connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                                    [tuple(_sqlite_value(v) for v in row) for row in rows])
        self.connection.commit()

    async def close(self) -> None:
        started = time.perf_counter()
        self.connection.execute("ANALYZE")
        self.connection.commit()
        self.seconds["(analyze)"] = time.perf_counter() - started
        self.connection.close()


# --- the platform -------------------------------------------------------------------------------


def _chunks(rows: Iterable[tuple], size: int = CHUNK) -> Iterable[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _at_hour(rng: random.Random, day: datetime) -> datetime:
    return day.replace(hour=rng.randint(7, 19), minute=rng.choice((0, 30)))


async def generate(writer: Writer, scale: float, seed: int, now: datetime) -> dict[str, int]:
    """Writes the platform; `now` is the instant the schedules are built around."""
    rng = random.Random(seed)
    n = counts(scale)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    created = today - timedelta(days=400)

    learners = range(1, n["learners"] + 1)
    instructor_users = range(n["learners"] + 1, n["learners"] + n["instructors"] + 1)
    admins = range(instructor_users.stop, instructor_users.stop + ADMINS)

    def users():
        for u in learners:
            yield (u, f"learner{u:07d}@bench.example", f"Learner {u}", rng.choice(ZONES), "MONDAY", False, created)
        for k, u in enumerate(instructor_users, 1):
            yield (u, f"instructor{k:05d}@bench.example", f"Instructor {k}", "UTC", "MONDAY", False, created)
        for k, u in enumerate(admins, 1):
            yield (u, f"admin{k}@bench.example", f"Admin {k}", "UTC", "MONDAY", True, created)

    for chunk in _chunks(users()):
        await writer.write("app_user", chunk)
    instructors = list(range(1, n["instructors"] + 1))
    await writer.write("instructor", [(i, instructor_users[i - 1], f"Instructor {i}", "Teaches small groups.")
                                      for i in instructors])
    categories = list(range(1, 21))
    await writer.write("session_category", [(c, f"Category {c}", None, None) for c in categories])

    # Courses: 80% bookable, at 1 or 2 credits.
    courses = list(range(1, n["courses"] + 1))
    course_cost = {c: rng.choice((1, 1, 2)) for c in courses}
    course_bookable = {c: rng.random() < 0.8 for c in courses}
    await writer.write("course", [
        (c, f"C{c:05d}", f"{TOPICS[c % len(TOPICS)]} {c}", course_bookable[c], course_cost[c], c % 3 == 0, 15,
         rng.choice((0, 0, 60, 1440))) for c in courses])

    # Sessions: most open now, some ended, some still to come; 2 courses each.
    sessions = list(range(1, n["sessions"] + 1))
    session_rows, session_courses, coaches = [], [], []
    courses_of_session: dict[int, list[int]] = {}
    for s in sessions:
        kind = rng.random()
        if kind < 0.8:
            start, end = today - timedelta(days=rng.randint(60, 200)), today + timedelta(days=rng.randint(60, 200))
        elif kind < 0.9:
            start, end = today - timedelta(days=rng.randint(300, 400)), today - timedelta(days=rng.randint(1, 100))
        else:
            start, end = today + timedelta(days=rng.randint(1, 60)), today + timedelta(days=rng.randint(100, 300))
        coach = instructor_users[rng.randrange(n["instructors"])]
        session_rows.append((s, f"Session {s:05d}", f"Training period {s}", rng.choice(categories), coach,
                             rng.choice(("READ_ONLY", "VISIBLE", "INVISIBLE")), None, None, start, end, start, end,
                             None, created))
        picked = rng.sample(courses, min(2, len(courses)))
        courses_of_session[s] = picked
        for position, c in enumerate(picked):
            session_courses.append((s, c, position))
            coaches.append((s, c, instructor_users[rng.randrange(n["instructors"])]))
    await writer.write("session", session_rows)
    await writer.write("session_course", session_courses)
    await writer.write("session_course_coach", coaches)

    # Enrollments: ~5 sessions per learner (3-7), to n["enrollments"] in all.
    per_learner = n["enrollments"] / n["learners"]
    sessions_of: list[list[int]] = [[]]
    enrollment_rows = []
    for u in learners:
        k = min(len(sessions), max(1, round(per_learner + rng.uniform(-2, 2))))
        mine = rng.sample(sessions, k)
        sessions_of.append(mine)
        enrollment_rows.extend((s, u, None, created, None) for s in mine)
        if len(enrollment_rows) >= CHUNK:
            await writer.write("enrollment", enrollment_rows)
            enrollment_rows = []
    await writer.write("enrollment", enrollment_rows)

    # Live sessions: 10 per administrative session (over the past four months and the next
    # two), the rest made by slots of bookable courses (over the past and next two months).
    bookable = [c for c in courses if course_bookable[c]] or courses
    live_rows: list[tuple] = []
    slot_rows: list[tuple] = []
    course_of: list[int] = [0]
    starts_of: list[datetime] = [created]
    slot_live_of_course: dict[int, list[int]] = defaultdict(list)
    slot_of_live: dict[int, int] = {}
    live_id = 0

    def live_row(live_id: int, course: int, session: int | None, instructor: int, starts: datetime,
                 cancelled: bool) -> tuple:
        ends = starts + timedelta(minutes=rng.choice((45, 60, 90)))
        virtual = rng.random() < 0.7
        return (live_id, f"LS{live_id:07d}", course, session, instructor, f"Lesson {live_id % 40 + 1}",
                "Practise what the lesson covers.", starts, ends,
                f"https://meet.bench.example/{live_id}" if virtual else None,
                None if virtual else "Main campus", None if virtual else "1 High Street",
                None if virtual else f"Room {live_id % 30 + 1}", None, "[]", SEATS,
                starts - timedelta(days=1) if cancelled else None, "Instructor ill" if cancelled else None,
                created, created)

    for s in sessions:
        for _ in range(SESSION_LIVE_SESSIONS):
            live_id += 1
            starts = _at_hour(rng, today + timedelta(days=rng.randint(-120, 60)))
            course = rng.choice(courses_of_session[s])
            live_rows.append(live_row(live_id, course, s, rng.choice(instructors), starts, rng.random() < 0.02))
            course_of.append(course)
            starts_of.append(starts)
            if len(live_rows) >= CHUNK:
                await writer.write("live_session", live_rows)
                live_rows = []
    for _ in range(n["live_sessions"] - live_id):
        live_id += 1
        course = rng.choice(bookable)
        starts = _at_hour(rng, today + timedelta(days=rng.randint(-60, 60)))
        row = live_row(live_id, course, None, rng.choice(instructors), starts, False)
        live_rows.append(row)
        course_of.append(course)
        starts_of.append(starts)
        slot_live_of_course[course].append(live_id)
        slot_of_live[live_id] = len(slot_rows) + 1
        slot_rows.append([len(slot_rows) + 1, course, row[4], starts, row[8], SEATS, 0, row[9], row[10], row[11],
                          row[12], live_id, None, created])
        if len(live_rows) >= CHUNK:
            await writer.write("live_session", live_rows)
            live_rows = []
    await writer.write("live_session", live_rows)
    del live_rows

    # Bookings (~10 per learner, on their courses' slot-made live sessions, 5% cancelled)
    # with their credit transactions; one account per learner.
    per_learner = n["bookings"] / n["learners"]
    taken = [0] * (live_id + 1)
    all_slot_live = [ls for course in bookable for ls in slot_live_of_course[course]]
    booking_id = transaction_id = 0
    bookings, transactions, accounts = [], [], []
    remaining = n["bookings"]
    for u in learners:
        left = n["learners"] - u + 1
        k = min(remaining, max(0, round(remaining / left + rng.uniform(-4, 4)))) if left > 1 else remaining
        remaining -= k
        mine = [slot_live_of_course[c] for s in sessions_of[u] for c in courses_of_session[s]
                if slot_live_of_course.get(c)]
        chosen: set[int] = set()
        for attempt in range(k * 6):
            if len(chosen) >= k:
                break
            # A live session of one of their courses; failing that (all full), any.
            source = mine[rng.randrange(len(mine))] if mine and attempt < k * 3 else all_slot_live
            ls = source[rng.randrange(len(source))]
            if ls not in chosen and taken[ls] < SEATS:
                chosen.add(ls)
                taken[ls] += 1
        remaining += k - len(chosen)
        events = []  # (when, order, kind, amount, live session, booking)
        for ls in sorted(chosen, key=lambda ls: (starts_of[ls], ls)):
            booking_id += 1
            starts = starts_of[ls]
            booked_at = min(starts, now) - timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
            cancelled_at = None
            if rng.random() < 0.05:
                cancelled_at = booked_at + (min(starts, now) - booked_at) / 2
                taken[ls] -= 1
            bookings.append((booking_id, u, ls, "CANCELLED" if cancelled_at else "BOOKED", booked_at, cancelled_at,
                             None))
            cost = course_cost[course_of[ls]]
            events.append((booked_at, 1, "BOOKING", -cost, ls, booking_id))
            if cancelled_at:
                events.append((cancelled_at, 2, "REFUND", cost, ls, booking_id))
        events.sort()
        spent = -sum(e[3] for e in events if e[3] < 0)
        first = events[0][0] if events else now - timedelta(days=30)
        balance = 0
        for when, _order, kind, amount, ls, booking in [(first - timedelta(days=1), 0, "DEPOSIT",
                                                         spent + rng.randint(2, 12), None, None), *events]:
            balance += amount
            transaction_id += 1
            description = {"DEPOSIT": "Credits bought", "BOOKING": f"Booked LS{ls or 0:07d}",
                           "REFUND": f"Refund for LS{ls or 0:07d}"}[kind]
            transactions.append((transaction_id, u, kind, amount, balance, description, ls, booking,
                                 admins[0] if kind == "DEPOSIT" else u, when))
        accounts.append((u, balance, now))
        if len(bookings) >= CHUNK:
            await writer.write("booking", bookings)
            await writer.write("credit_transaction", transactions)
            bookings, transactions = [], []
    await writer.write("booking", bookings)
    await writer.write("credit_transaction", transactions)
    for chunk in _chunks(accounts):
        await writer.write("credit_account", chunk)

    # Slots: every slot-made live session's (booked = its live bookings), then open ones in
    # the next month (5 seats, no live session yet) for bookSlot to take.
    for row in slot_rows:
        row[6] = taken[row[11]]
    open_count = max(20, len(slot_rows) // 10)
    slot_id = len(slot_rows)
    for _ in range(open_count):
        slot_id += 1
        starts = _at_hour(rng, today + timedelta(days=rng.randint(2, 30)))
        slot_rows.append([slot_id, rng.choice(bookable), rng.choice(instructors), starts,
                          starts + timedelta(minutes=60), 5, 0, f"https://meet.bench.example/slot{slot_id}", None,
                          None, None, None, admins[0], created])
    for chunk in _chunks(tuple(row) for row in slot_rows):
        await writer.write("bookable_slot", chunk)
    return dict(writer.rows)


# --- the command --------------------------------------------------------------------------------


async def load(url: str, scale: float, seed: int, now: datetime) -> Writer:
    """Migrates the database at `url` and loads the platform into it; returns the writer (timings)."""
    engine = create_async_engine(async_database_url(url))
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    writer: Writer = PostgresWriter(url) if make_url(url).get_backend_name() == "postgresql" else SQLiteWriter(url)
    await writer.open()
    try:
        await generate(writer, scale, seed, now)
    finally:
        await writer.close()
    return writer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created on it), or a SQLite URL; "
                             "default: SQLite in a temporary folder (or bench/results/ with --keep)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", default=None,
                        help="ISO instant the schedules are built around; default: today 00:00 UTC")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    args = parser.parse_args()
    now = (datetime.fromisoformat(args.now) if args.now
           else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    return asyncio.run(run(args, now))


async def run(args, now: datetime) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as temporary:
        folder = Path(temporary)
        if args.keep and not args.database_url:
            folder = ROOT / "bench" / "results"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "bench.db").unlink(missing_ok=True)
        url, drop = await make_database(args.database_url, folder, "generate")
        engine_name = make_url(async_database_url(url)).get_backend_name()
        started = time.perf_counter()
        writer = await load(url, args.scale, args.seed, now)
        total = time.perf_counter() - started
        print(f"generated at scale {args.scale} (seed {args.seed}, now {now.isoformat()}) on {engine_name}")
        print(f"{'table':<22}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
        for table, seconds in writer.seconds.items():
            rows = writer.rows.get(table, 0)
            print(f"{table:<22}{rows:>12,}{seconds:>10.2f}{(rows / seconds if seconds and rows else 0):>12,.0f}")
        print(f"{'total (with generating)':<22}{sum(writer.rows.values()):>12,}{total:>10.2f}")
        print(json.dumps({"engine": engine_name, "scale": args.scale, "seed": args.seed, "total_seconds": total,
                          "tables": {t: {"rows": writer.rows.get(t, 0), "seconds": s}
                                     for t, s in writer.seconds.items()}}))
        if args.keep:
            print(f"DATABASE_URL={url}")
        else:
            await drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
