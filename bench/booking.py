"""Benchmark: bookings per second through the whole service, with concurrent clients.

    python bench/booking.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/booking.py                      # SQLite, in a temporary folder

With a PostgreSQL URL the benchmark creates a database of its own on that server and
drops it at the end. It seeds learners (enrolled, with credits), a bookable course and
its slots, starts the service with uvicorn in a separate process (rate limits off), and
has --clients concurrent HTTP clients send bookSlot mutations, each request as a
different learner with its own token, in two rounds:

- spread: every booking for its own learner, over many slots (five seats each), so
  bookings meet on a slot now and then, as in real use;
- one hot slot: every client on the same slot, so every booking waits for the one
  before it to commit (the worst case for the row lock).

It prints bookings per second and latency percentiles for each round, then checks
the database: seats taken match the bookings, and every balance replays from its
transactions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.support import free_port, make_database, wait_ready  # noqa: E402
from sessiongraph import migrations  # noqa: E402
from sessiongraph.infrastructure.db import Database, create_engine  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.models import (  # noqa: E402
    BookableSlot,
    Booking,
    Course,
    CreditAccount,
    CreditTransaction,
    Enrollment,
    Instructor,
    Session,
    SessionCourse,
    User,
)
from sessiongraph.schema.relay import to_global_id  # noqa: E402

JWT_SECRET = "bench-secret-of-at-least-thirty-two-bytes"
SEATS = 5
BOOK = """mutation($input: BookSlotInput!) { bookSlot(input: $input) { booking { id } errors { code } } }"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped), or a SQLite URL; "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--bookings", type=int, default=2000, help="bookings in the spread round")
    parser.add_argument("--hot-bookings", type=int, default=500, help="bookings in the hot-slot round")
    args = parser.parse_args()
    return asyncio.run(run(args))


async def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-booking-") as folder:
        url, drop = await make_database(args.database_url, Path(folder), "booking")
        server = None
        try:
            started = time.perf_counter()
            learners, slots, hot_slot = await seed(url, learners=args.bookings, hot_seats=args.hot_bookings)
            seeded = time.perf_counter() - started
            engine = make_url(url).get_backend_name()
            print(f"sessiongraph booking benchmark on {engine}: {args.clients} concurrent clients over HTTP, "
                  f"one uvicorn worker; {len(learners):,} learners, {len(slots):,} slots of {SEATS} seats "
                  f"(seeded in {seeded:.1f} s); {os.cpu_count()} CPUs")
            port = free_port()
            server = start_server(url, port)
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base, server)
            settings = Settings(database_url=url, jwt_secret=JWT_SECRET, _env_file=None)
            now = datetime.now(UTC)
            tokens = {user_id: issue_token(user_id, settings, now) for user_id in learners}

            print(f"{'round':<14}{'bookings':>9}{'seconds':>9}{'per second':>12}{'p50 ms':>9}{'p95 ms':>9}"
                  f"{'p99 ms':>9}{'server CPU ms':>15}  outcomes")
            spread = [(learner, slots[n // SEATS]) for n, learner in enumerate(learners)]
            await measure("spread", base, tokens, spread, args.clients, server.pid)
            hot = [(learner, hot_slot) for learner in learners[:args.hot_bookings]]
            await measure("one hot slot", base, tokens, hot, args.clients, server.pid)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
        problems = await check(url)
        print("check: " + ("seats and balances agree with the bookings and the ledger" if not problems
                           else "; ".join(problems)))
        await drop()
        return 1 if problems else 0


async def measure(label: str, base: str, tokens: dict[int, str], work: list[tuple[int, int]],
                  clients: int, server_pid: int) -> None:
    """Runs the round and prints one line; "server CPU ms" is the server process's CPU time
    per booking (the clients share the machine, so this is the figure that scales)."""
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not queue.empty():
                learner_id, slot_id = queue.get_nowait()
                sent = time.perf_counter()
                response = await http.post("/graphql", headers={"Authorization": f"Bearer {tokens[learner_id]}"},
                                           json={"query": BOOK, "variables": {"input": {
                                               "slotId": to_global_id("BookableSlot", slot_id),
                                               "idempotencyKey": f"bench-{learner_id}-{slot_id}"}}})
                latencies.append(time.perf_counter() - sent)
                body = response.json()
                if body.get("errors"):
                    outcomes[body["errors"][0].get("extensions", {}).get("code", "ERROR")] += 1
                elif body["data"]["bookSlot"]["booking"] is not None:
                    outcomes["BOOKED"] += 1
                else:
                    outcomes[body["data"]["bookSlot"]["errors"][0]["code"]] += 1

    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    cpu_per_booking = (cpu_seconds(server_pid) - cpu_before) / len(work) * 1000
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{label:<14}{len(work):>9,}{seconds:>9.2f}{outcomes['BOOKED'] / seconds:>12.0f}"
          f"{cuts[49] * 1000:>9.0f}{cuts[94] * 1000:>9.0f}{cuts[98] * 1000:>9.0f}{cpu_per_booking:>15.1f}  "
          + ", ".join(f"{code} {count:,}" for code, count in outcomes.most_common()))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the database ---------------------------------------------------------------------------------


async def seed(url: str, *, learners: int, hot_seats: int) -> tuple[list[int], list[int], int]:
    """Learners enrolled in a session holding a bookable course, each with 3 credits; slots
    enough for every learner (hourly, across instructors), and one large hot slot."""
    database = Database(create_engine(Settings(database_url=url, _env_file=None)))
    await migrations.upgrade(database.engine)
    now = datetime.now(UTC)
    async with database.write() as db:
        course = Course(code="BENCH", title="Benchmark conversation", bookable=True, credit_cost=1)
        session = Session(name="Bench session", access_start=now - timedelta(days=1),
                          access_end=now + timedelta(days=365), created_at=now)
        db.add_all([course, session])
        await db.flush()
        db.add(SessionCourse(session_id=session.id, course_id=course.id))
        person = {"time_zone": "UTC", "week_start": "MONDAY", "is_admin": False, "created_at": now}
        await db.execute(insert(User), [{"email": f"learner{n:06d}@example.org", "name": f"Learner {n}", **person}
                                        for n in range(learners)])
        await db.execute(insert(User), [{"email": f"teacher{n:03d}@example.org", "name": f"Teacher {n}", **person}
                                        for n in range(20)])
        learner_ids = list((await db.scalars(select(User.id).where(User.email.like("learner%"))
                                             .order_by(User.id))).all())
        teacher_users = list((await db.scalars(select(User.id).where(User.email.like("teacher%"))
                                               .order_by(User.id))).all())
        await db.execute(insert(Instructor), [{"user_id": u, "display_name": f"Teacher {n}"}
                                              for n, u in enumerate(teacher_users)])
        instructor_ids = list((await db.scalars(select(Instructor.id).order_by(Instructor.id))).all())
        await db.execute(insert(Enrollment), [{"session_id": session.id, "user_id": u, "enrolled_at": now}
                                              for u in learner_ids])
        await db.execute(insert(CreditAccount), [{"user_id": u, "balance": 3, "updated_at": now}
                                                 for u in learner_ids])
        await db.execute(insert(CreditTransaction), [
            {"user_id": u, "kind": "DEPOSIT", "amount": 3, "balance_after": 3, "description": "Deposit",
             "created_at": now} for u in learner_ids])
        slot_count = -(-learners // SEATS)
        first = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        await db.execute(insert(BookableSlot), [
            {"course_id": course.id, "instructor_id": instructor_ids[n % 20],
             "starts_at": first + timedelta(hours=n // 20), "ends_at": first + timedelta(hours=n // 20, minutes=50),
             "seats": SEATS, "booked": 0, "created_at": now} for n in range(slot_count)])
        slot_ids = list((await db.scalars(select(BookableSlot.id).order_by(BookableSlot.id))).all())
        hot = BookableSlot(course_id=course.id, instructor_id=instructor_ids[0], starts_at=first - timedelta(hours=2),
                           ends_at=first - timedelta(hours=1), seats=hot_seats, created_at=now)
        db.add(hot)
        await db.flush()
        hot_id = hot.id
    await database.dispose()
    return learner_ids, slot_ids, hot_id


async def check(url: str) -> list[str]:
    database = Database(create_engine(Settings(database_url=url, _env_file=None)))
    problems = []
    async with database.read() as db:
        seats = await db.scalar(select(func.sum(BookableSlot.booked)))
        booked = await db.scalar(select(func.count()).select_from(Booking).where(Booking.status == "BOOKED"))
        if seats != booked:
            problems.append(f"{seats} seats taken for {booked} bookings")
        over = await db.scalar(select(func.count()).select_from(BookableSlot)
                               .where(BookableSlot.booked > BookableSlot.seats))
        if over:
            problems.append(f"{over} slots overbooked")
        ledger = dict((await db.execute(select(CreditTransaction.user_id, func.sum(CreditTransaction.amount))
                                        .group_by(CreditTransaction.user_id))).all())
        balances = dict((await db.execute(select(CreditAccount.user_id, CreditAccount.balance))).all())
        wrong = [u for u, balance in balances.items() if balance != ledger.get(u, 0) or balance < 0]
        if wrong:
            problems.append(f"{len(wrong)} balances differ from their ledger")
    await database.dispose()
    return problems


# --- the server ---------------------------------------------------------------------------------


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_ENABLED": "false",
           "ENVIRONMENT": "benchmark", "LOG_FORMAT": "text"}
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "sessiongraph.server.app:serve_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
