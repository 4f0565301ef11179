"""Credits: balances, the ledger, admins' deposits and adjustments, and the debits and
refunds that bookings make.

A balance changes by one statement on the account row that cannot take it below zero
(`... WHERE balance + :amount >= 0`, or an upsert for additions), which returns the
new balance; the transaction recording the change (signed amount, balance after)
is written next, in the same database transaction. On PostgreSQL the statement
row-locks the account until commit and on SQLite the first write locks the database,
so concurrent changes to one account queue and each sees the balance the previous
left: the ledger in ID order replays to the balance, whatever ran at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import case, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sessiongraph.models import (
    Booking,
    BookingStatus,
    Course,
    CreditAccount,
    CreditTransaction,
    CreditTransactionKind,
    LiveSession,
    User,
)
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, Problems, UserErrors
from sessiongraph.resolvers.loaders.credits import BalanceByUser
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import can_read_credits, require_admin
from sessiongraph.resolvers.validation import optional_text

DESCRIPTION_MAX_LENGTH = 500
# Far beyond any real deposit; a typo of a few extra zeros is refused.
MAX_AMOUNT = 1_000_000
# Far inside PostgreSQL's integer (2147483647), so that refunds landing on a full balance fit too.
MAX_BALANCE = 1_000_000_000
GIVEN_BY_HAND = (CreditTransactionKind.DEPOSIT, CreditTransactionKind.ADJUSTMENT)

accounts = CreditAccount.__table__


# --- reading ----------------------------------------------------------------------------------


async def balance(ctx: Context, user_id: int) -> int | None:
    """The user's balance; None when the viewer may not read it."""
    if not await can_read_credits(ctx, user_id):
        return None
    return await BalanceByUser(ctx).load(user_id)


async def transactions(ctx: Context, user_id: int, first: int | None,
                       after: str | None) -> Page[CreditTransaction] | None:
    """The user's ledger, newest first (in the order the balance changed), for those who may read it."""
    if not await can_read_credits(ctx, user_id):
        return None
    query = select(CreditTransaction).where(CreditTransaction.user_id == user_id)
    return await paginate(ctx, query, [CreditTransaction.id], lambda t: (t.id,), first, after, descending=True)


# --- the admin's deposits and adjustments ------------------------------------------------------


@audited("depositCredits", subject=User, by="user_id")
async def deposit_credits(ctx: Context, *, user_id: int, amount: int, kind: CreditTransactionKind | None,
                          description: str | None) -> CreditTransaction:
    """DEPOSIT adds credits (a positive amount); ADJUSTMENT corrects a balance either way,
    never below zero."""
    admin = require_admin(ctx)
    kind = CreditTransactionKind(kind or CreditTransactionKind.DEPOSIT)
    problems = Problems()
    if kind not in GIVEN_BY_HAND:
        problems.add(ErrorCode.VALIDATION, "Only DEPOSIT and ADJUSTMENT are given by hand; bookings and "
                                           "refunds record the other kinds.", "kind")
    elif kind is CreditTransactionKind.DEPOSIT and amount <= 0:
        problems.add(ErrorCode.VALIDATION, "A deposit must be positive; an ADJUSTMENT takes credits away.",
                     "amount")
    elif amount == 0:
        problems.add(ErrorCode.VALIDATION, "An adjustment of 0 changes nothing.", "amount")
    if abs(amount) > MAX_AMOUNT:
        problems.add(ErrorCode.VALIDATION, f"amount must be at most {MAX_AMOUNT:,} either way.", "amount")
    text = optional_text(description, problems, DESCRIPTION_MAX_LENGTH, "description")
    problems.raise_if_any()
    async with ctx.database.write() as db:
        if await db.get(User, user_id) is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "No such user.", "userId")
        after = await change_balance(db, user_id, amount, ctx.now, ceiling=MAX_BALANCE)
        if after is None:
            have = await db.scalar(select(CreditAccount.balance).where(CreditAccount.user_id == user_id)) or 0
            if amount > 0:
                raise UserErrors.one(ErrorCode.VALIDATION, f"The balance is {have}; {amount} more would take it "
                                                           f"past {MAX_BALANCE}.", "amount")
            raise UserErrors.one(ErrorCode.INSUFFICIENT_CREDITS,
                                 f"The balance is {have}; an adjustment of {amount} would take it below 0.",
                                 "amount")
        return await record(db, user_id=user_id, kind=kind, amount=amount, balance_after=after,
                            description=text or kind.value.title(), now=ctx.now, created_by_id=admin.id)


# --- inside another change's database transaction ------------------------------------------


async def change_balance(db: AsyncSession, user_id: int, amount: int, now: datetime, *,
                         ceiling: int | None = None) -> int | None:
    """Adds the signed `amount` to the user's balance and returns the new balance; None, with
    nothing changed, when it would go below zero or past `ceiling` (checked in the same statement,
    so that a refusal costs nothing when there is none)."""
    if amount >= 0:
        insert = dialect_insert(db)(accounts).values(user_id=user_id, balance=amount, updated_at=now)
        upsert = insert.on_conflict_do_update(
            index_elements=[accounts.c.user_id],
            set_={"balance": accounts.c.balance + insert.excluded.balance, "updated_at": insert.excluded.updated_at},
            where=accounts.c.balance + insert.excluded.balance <= ceiling if ceiling is not None else None)
        return (await db.execute(upsert.returning(accounts.c.balance))).scalar_one_or_none()
    debit = (update(accounts).where(accounts.c.user_id == user_id, accounts.c.balance + amount >= 0)
             .values(balance=accounts.c.balance + amount, updated_at=now).returning(accounts.c.balance))
    return (await db.execute(debit)).scalar_one_or_none()


def dialect_insert(db: AsyncSession):
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


async def record(db: AsyncSession, *, user_id: int, kind: CreditTransactionKind, amount: int, balance_after: int,
                 description: str, now: datetime, live_session_id: int | None = None,
                 booking_id: int | None = None, created_by_id: int | None = None) -> CreditTransaction:
    """Writes the ledger line for a balance change just made."""
    transaction = CreditTransaction(
        user_id=user_id, kind=kind.value, amount=amount, balance_after=balance_after,
        description=description[:DESCRIPTION_MAX_LENGTH], live_session_id=live_session_id, booking_id=booking_id,
        created_by_id=created_by_id, created_at=now)
    db.add(transaction)
    await db.flush()
    return transaction


def describe(live_session: LiveSession, course: Course) -> str:
    """How a booking's transactions name what they are for: the course and the Session ID."""
    # A live session made in this request still holds the zone it was given in (the demo's are
    # Paris times); only one loaded from the database is UTC already.
    starts_at = live_session.starts_at.astimezone(UTC)
    return f"{course.title}, session {live_session.code} on {starts_at:%Y-%m-%d %H:%M} UTC"


async def refund_booking(db: AsyncSession, booking: Booking, description: str,
                         now: datetime) -> CreditTransaction | None:
    """Gives back what the booking was debited, if it was (a free course debits nothing)."""
    debit = await db.scalar(select(CreditTransaction).where(
        CreditTransaction.booking_id == booking.id, CreditTransaction.kind == CreditTransactionKind.BOOKING.value))
    if debit is None:
        return None
    return await _refund(db, debit, description, now)


async def refund_live_session(db: AsyncSession, live_session: LiveSession, course: Course,
                              now: datetime) -> list[CreditTransaction]:
    """Refunds every live booking on a live session being cancelled that was debited and not
    yet refunded, account by account in user order (so two of these never deadlock)."""
    refund = aliased(CreditTransaction)
    debits = (await db.scalars(
        select(CreditTransaction)
        .join(Booking, Booking.id == CreditTransaction.booking_id)
        .where(Booking.live_session_id == live_session.id, Booking.status == BookingStatus.BOOKED.value,
               CreditTransaction.kind == CreditTransactionKind.BOOKING.value,
               ~exists().where(refund.booking_id == CreditTransaction.booking_id,
                               refund.kind == CreditTransactionKind.REFUND.value))
        .order_by(CreditTransaction.user_id, CreditTransaction.id))).all()
    description = f"Refund, the live session was cancelled: {describe(live_session, course)}"
    return await _refund_all(db, list(debits), description, now)


async def _refund_all(db: AsyncSession, debits: list[CreditTransaction], description: str,
                      now: datetime) -> list[CreditTransaction]:
    """Gives back every debit in two statements, however many there are: one UPDATE of all the
    accounts (a CASE per user, rows taken in the index's user order), one INSERT of the ledger
    lines, each with the balance it leaves, in the debits' order."""
    if not debits:
        return []
    totals: dict[int, int] = {}
    for debit in debits:
        totals[debit.user_id] = totals.get(debit.user_id, 0) - debit.amount
    refunded = await db.execute(
        update(accounts).where(accounts.c.user_id.in_(sorted(totals)))
        .values(balance=accounts.c.balance + case(totals, value=accounts.c.user_id), updated_at=now)
        .returning(accounts.c.user_id, accounts.c.balance))
    running = {user_id: balance - totals[user_id] for user_id, balance in refunded.all()}
    lines = []
    for debit in debits:
        running[debit.user_id] -= debit.amount
        lines.append({"user_id": debit.user_id, "kind": CreditTransactionKind.REFUND.value, "amount": -debit.amount,
                      "balance_after": running[debit.user_id], "description": description[:DESCRIPTION_MAX_LENGTH],
                      "live_session_id": debit.live_session_id, "booking_id": debit.booking_id, "created_at": now})
    written = (await db.scalars(insert(CreditTransaction).returning(CreditTransaction), lines)).all()
    return sorted(written, key=lambda line: line.id)


async def _refund(db: AsyncSession, debit: CreditTransaction, description: str, now: datetime) -> CreditTransaction:
    amount = -debit.amount
    after = await change_balance(db, debit.user_id, amount, now)
    return await record(db, user_id=debit.user_id, kind=CreditTransactionKind.REFUND, amount=amount,
                        balance_after=after, description=description, now=now,
                        live_session_id=debit.live_session_id, booking_id=debit.booking_id)
