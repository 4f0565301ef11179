"""bench/generate.py at a tiny scale: the rows it promises, and a ledger that adds up."""

from sqlalchemy import func, select, text

from bench.generate import ADMINS, counts, load
from sessiongraph.models import BookableSlot, Booking, CreditAccount, CreditTransaction, Enrollment, LiveSession, User
from tests.conftest import NOW

SCALE = 0.001


async def test_generates_the_platform_with_consistent_balances(database, settings):
    expected = counts(SCALE)
    writer = await load(settings.database_url, SCALE, seed=7, now=NOW)

    async with database.read() as db:
        async def count(table) -> int:
            return await db.scalar(select(func.count()).select_from(table))

        assert await count(User) == expected["learners"] + expected["instructors"] + ADMINS
        assert await count(LiveSession) == expected["live_sessions"]
        assert await count(Booking) == expected["bookings"]
        assert abs(await count(Enrollment) - expected["enrollments"]) <= expected["enrollments"] * 0.1
        assert await count(CreditAccount) == expected["learners"]
        assert await count(CreditTransaction) == writer.rows["credit_transaction"] > expected["bookings"]

        ledger = dict((await db.execute(select(CreditTransaction.user_id, func.sum(CreditTransaction.amount))
                                        .group_by(CreditTransaction.user_id))).all())
        balances = dict((await db.execute(select(CreditAccount.user_id, CreditAccount.balance))).all())
        assert balances == ledger
        assert min(balances.values()) >= 0
        # Each transaction's balance_after replays the user's ledger in ID order.
        running: dict[int, int] = {}
        for user_id, amount, after in (await db.execute(
                select(CreditTransaction.user_id, CreditTransaction.amount, CreditTransaction.balance_after)
                .order_by(CreditTransaction.id))).all():
            running[user_id] = running.get(user_id, 0) + amount
            assert running[user_id] == after
        # Seats taken on the slots are the live bookings on their live sessions.
        mismatched = await db.scalar(text(
            "SELECT COUNT(*) FROM bookable_slot s WHERE s.live_session_id IS NOT NULL AND s.booked <> "
            "(SELECT COUNT(*) FROM booking b WHERE b.live_session_id = s.live_session_id AND b.status = 'BOOKED')"))
        assert mismatched == 0
        assert await db.scalar(select(func.count()).select_from(BookableSlot)
                               .where(BookableSlot.booked > BookableSlot.seats)) == 0
