"""Demo booking: open slots of the bookable courses over the next two weeks, and credit
ledgers that explain the demo's bookings (a deposit, then each booking's debit and, for
cancelled classes, its refund), with credits left to book with."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.demo.schedule import PARIS, DemoSchedule
from sessiongraph.demo.sessions import DemoPeople
from sessiongraph.models import (
    BookableSlot,
    Booking,
    BookingStatus,
    CreditAccount,
    CreditTransaction,
    CreditTransactionKind,
    GuardianLink,
    LiveSession,
)
from sessiongraph.models.booking import overlapping
from sessiongraph.resolvers.credits import describe

SLOT_DAYS = 14
# Local (Paris) start times of the slots instructors offer.
SLOT_TIMES = [time(8, 0), time(12, 30), time(16, 0), time(19, 30)]
# What Lena and the children have left to book with.
CREDITS_TO_SPEND = 12


@dataclass
class DemoBooking:
    slots: list[BookableSlot] = field(default_factory=list)
    ledgers: int = 0


async def load(db: AsyncSession, rng: random.Random, now: datetime, people: DemoPeople,
               schedule: DemoSchedule) -> DemoBooking:
    demo = DemoBooking()
    await _ledgers(db, rng, now, people, demo)
    _slots(rng, now, people, schedule, demo)
    db.add_all(demo.slots)
    await db.flush()
    return demo


async def _ledgers(db: AsyncSession, rng: random.Random, now: datetime, people: DemoPeople,
                   demo: DemoBooking) -> None:
    courses = {c.id: c for c in people.courses}
    booked: dict[int, list[tuple[Booking, LiveSession]]] = defaultdict(list)
    rows = await db.execute(select(Booking, LiveSession).join(LiveSession, LiveSession.id == Booking.live_session_id)
                            .where(Booking.status == BookingStatus.BOOKED.value)
                            .order_by(Booking.learner_id, LiveSession.starts_at, Booking.id))
    for booking, live_session in rows.all():
        if courses[live_session.course_id].bookable:
            booked[booking.learner_id].append((booking, live_session))
    children = set((await db.scalars(select(GuardianLink.learner_id))).all())
    spenders = {people.learners[0].id} | children

    accounts, transactions = [], []
    for learner_id in sorted(set(booked) | spenders):
        bookings = booked.get(learner_id, [])
        left = CREDITS_TO_SPEND if learner_id in spenders else rng.randint(0, 4)
        balance = sum(courses[ls.course_id].credit_cost for _, ls in bookings) + left
        transactions.append(_line(learner_id, CreditTransactionKind.DEPOSIT, balance, balance, "Welcome pack",
                                  now - timedelta(days=75)))
        for booking, live_session in bookings:
            course = courses[live_session.course_id]
            booked_at = min(now, live_session.starts_at - timedelta(days=3))
            balance -= course.credit_cost
            transactions.append(_line(learner_id, CreditTransactionKind.BOOKING, -course.credit_cost, balance,
                                      f"Booking: {describe(live_session, course)}", booked_at, booking, live_session))
            if live_session.cancelled_at is not None:
                balance += course.credit_cost
                transactions.append(_line(learner_id, CreditTransactionKind.REFUND, course.credit_cost, balance,
                                          f"Refund, the live session was cancelled: {describe(live_session, course)}",
                                          live_session.cancelled_at, booking, live_session))
        accounts.append({"user_id": learner_id, "balance": balance, "updated_at": now})
    if accounts:
        await db.execute(insert(CreditAccount), accounts)
        await db.execute(insert(CreditTransaction), transactions)
    demo.ledgers = len(accounts)


def _line(user_id: int, kind: CreditTransactionKind, amount: int, balance_after: int, description: str,
          at: datetime, booking: Booking | None = None, live_session: LiveSession | None = None) -> dict:
    return {"user_id": user_id, "kind": kind.value, "amount": amount, "balance_after": balance_after,
            "description": description, "created_at": at, "booking_id": booking.id if booking else None,
            "live_session_id": live_session.id if live_session else None}


def _slots(rng: random.Random, now: datetime, people: DemoPeople, schedule: DemoSchedule,
           demo: DemoBooking) -> None:
    """Each bookable course gets a slot on most days, from instructors free at the time."""
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for live_session in schedule.live_sessions:
        if live_session.cancelled_at is None:
            busy[live_session.instructor_id].append((live_session.starts_at, live_session.ends_at))
    bookable = [c for c in people.courses if c.bookable]
    today = now.astimezone(PARIS).date()
    for day in range(1, SLOT_DAYS + 1):
        for n, course in enumerate(bookable):
            if rng.random() < 0.3:
                continue
            starts_at = datetime.combine(today + timedelta(days=day), SLOT_TIMES[(day + n) % len(SLOT_TIMES)],
                                         tzinfo=PARIS)
            ends_at = starts_at + timedelta(hours=1)
            free = [i for i in schedule.instructors
                    if not any(overlapping(starts_at, ends_at, s, e) for s, e in busy[i.id])]
            if not free:
                continue
            teacher = rng.choice(free)
            busy[teacher.id].append((starts_at, ends_at))
            demo.slots.append(BookableSlot(
                course_id=course.id, instructor_id=teacher.id, starts_at=starts_at, ends_at=ends_at,
                seats=rng.choice([1, 3, 4, 6, 8]),
                virtual_classroom_url=f"https://classroom.example.com/{course.code.lower()}-{day}-{n}",
                created_at=now - timedelta(days=2)))
