"""Booking test data: bookable courses, learners with access and credits, slots, and the
GraphQL every booking test sends.

Test modules import the fixtures: `from tests.booking_data import data, given  # noqa: F401`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.conftest import NOW
from tests.schedule_data import ScheduleData, data  # noqa: F401

BOOK = """
mutation($input: BookSlotInput!) { bookSlot(input: $input) {
  booking { id status liveSession { id code startsAt endsAt capacity seatsLeft status course { code }
                                    instructor { displayName } myBooking { id } }
            creditTransaction { kind amount balanceAfter description liveSession { code } } }
  errors { field code message }
} }
"""

CANCEL = """
mutation($input: CancelBookingInput!) { cancelBooking(input: $input) {
  booking { id status cancelledAt creditTransaction { amount }
            refundTransaction { kind amount balanceAfter description } }
  errors { field code message }
} }
"""

PUBLISH = """
mutation($input: PublishAvailabilityInput!) { publishAvailability(input: $input) {
  slots { id startsAt endsAt seats seatsLeft instructor { displayName } course { code } }
  errors { field code message }
} }
"""

SLOTS = """
query($id: ID!, $from: DateTime!, $to: DateTime!, $instructorId: ID) { node(id: $id) { ... on Course {
  availableSlots(from: $from, to: $to, instructorId: $instructorId) {
    id startsAt endsAt seats seatsLeft instructor { displayName } myBooking { status }
  }
} } }
"""

DEPOSIT = """
mutation($input: DepositCreditsInput!) { depositCredits(input: $input) {
  creditTransaction { id kind amount balanceAfter description createdAt liveSession { code } }
  errors { field code message }
} }
"""

CREDITS = """
query($first: Int, $after: String) { viewer { credits {
  balance
  transactions(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind amount balanceAfter description createdAt liveSession { code } } }
  }
} } }
"""


def iso(moment: datetime) -> str:
    return moment.isoformat()


def codes(errors: list[dict[str, Any]]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in errors]


class BookingData:
    """On top of the schedule data: what a booking needs, written straight to the database."""

    def __init__(self, data: ScheduleData) -> None:
        self.data = data
        self.database = data.database

    async def course(self, **fields: Any) -> models.Course:
        fields.setdefault("bookable", True)
        fields.setdefault("credit_cost", 1)
        return await self.data.course(**fields)

    async def learner(self, *courses: models.Course, name: str = "Lea", credits: int = 0,
                      **session_fields: Any) -> models.User:
        """A learner enrolled in a session holding the courses, open from a month ago to a month
        ahead unless told otherwise, with `credits` deposited."""
        learner = await self.data.user(name)
        await self.access(learner, *courses, **session_fields)
        if credits:
            await self.deposit(learner, credits)
        return learner

    async def access(self, learner: models.User, *courses: models.Course, **session_fields: Any) -> models.Session:
        session_fields.setdefault("access_start", NOW - timedelta(days=30))
        session_fields.setdefault("access_end", NOW + timedelta(days=30))
        session = await self.data.session(courses=list(courses), **session_fields)
        await self.data.enroll(session, learner)
        return session

    async def deposit(self, user: models.User, amount: int) -> None:
        """A DEPOSIT as the admin's mutation would write it."""
        async with self.database.write() as db:
            account = await db.get(models.CreditAccount, user.id)
            if account is None:
                account = models.CreditAccount(user_id=user.id, balance=0)
                db.add(account)
            account.balance += amount
            db.add(models.CreditTransaction(user_id=user.id, kind="DEPOSIT", amount=amount,
                                            balance_after=account.balance, description="Deposit", created_at=NOW))

    async def slot(self, course: models.Course, instructor: models.Instructor, starts_at: datetime,
                   minutes: int = 60, seats: int = 5, **fields: Any) -> models.BookableSlot:
        slot = models.BookableSlot(course_id=course.id, instructor_id=instructor.id, starts_at=starts_at,
                                   ends_at=starts_at + timedelta(minutes=minutes), seats=seats, **fields)
        await self.data.add(slot)
        return slot

    async def balance(self, user: models.User) -> int:
        async with self.database.read() as db:
            return await db.scalar(select(models.CreditAccount.balance)
                                   .where(models.CreditAccount.user_id == user.id)) or 0

    async def fresh(self, row: Any) -> Any:
        async with self.database.read() as db:
            return await db.get(type(row), row.id)

    async def ledger(self, user: models.User) -> list[models.CreditTransaction]:
        async with self.database.read() as db:
            return list((await db.scalars(select(models.CreditTransaction)
                                          .where(models.CreditTransaction.user_id == user.id)
                                          .order_by(models.CreditTransaction.id))).all())

    async def check_ledgers(self) -> None:
        """Every account's transactions, replayed in order, give each balanceAfter and end at its
        balance; no balance is ever below zero; every booking's debit matches a live booking or
        has its refund."""
        async with self.database.read() as db:
            accounts = {a.user_id: a.balance for a in (await db.scalars(select(models.CreditAccount))).all()}
            rows = (await db.scalars(select(models.CreditTransaction).order_by(models.CreditTransaction.id))).all()
        running: dict[int, int] = {}
        for transaction in rows:
            running[transaction.user_id] = running.get(transaction.user_id, 0) + transaction.amount
            assert transaction.balance_after == running[transaction.user_id], transaction
            assert transaction.balance_after >= 0, transaction
        assert running == {user_id: balance for user_id, balance in accounts.items() if user_id in running}
        assert all(balance >= 0 for balance in accounts.values())
        assert all(accounts[user_id] == 0 for user_id in accounts if user_id not in running)


@pytest.fixture
def given(data) -> BookingData:
    return BookingData(data)
