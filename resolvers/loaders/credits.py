from sqlalchemy import select

from sessiongraph.models import CreditAccount, CreditTransaction, CreditTransactionKind
from sessiongraph.resolvers.loaders.base import Loader, many_per_key, one_per_key


class BalanceByUser(Loader[int, int]):
    """Key: user ID; their credit balance, 0 before their first credit."""

    async def batch_load(self, db, keys):
        rows = (await db.execute(select(CreditAccount.user_id, CreditAccount.balance)
                                 .where(CreditAccount.user_id.in_(keys)))).all()
        balances = dict(rows)
        return [balances.get(k, 0) for k in keys]


class CreditTransactionById(Loader[int, CreditTransaction | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(CreditTransaction).where(CreditTransaction.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda t: t.id)


class TransactionsByBooking(Loader[int, dict[CreditTransactionKind, CreditTransaction]]):
    """Key: booking ID; its BOOKING debit and its REFUND, by kind, where they exist."""

    async def batch_load(self, db, keys):
        query = select(CreditTransaction).where(CreditTransaction.booking_id.in_(keys))
        grouped = many_per_key(keys, (await db.scalars(query)), lambda t: t.booking_id)
        return [{CreditTransactionKind(t.kind): t for t in group} for group in grouped]
