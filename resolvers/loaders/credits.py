from sessiongraph.models import CreditAccount, CreditTransaction, CreditTransactionKind
from sessiongraph.resolvers.loaders.base import ManyBy, OneBy, ValueBy


class BalanceByUser(ValueBy[int, int], key=CreditAccount.user_id, value=CreditAccount.balance, default=0):
    """Key: user ID; their credit balance, 0 before their first credit."""


class CreditTransactionById(OneBy[int, CreditTransaction | None], key=CreditTransaction.id):
    pass


class TransactionsByBooking(ManyBy[int, dict[CreditTransactionKind, CreditTransaction]],
                            key=CreditTransaction.booking_id):
    """Key: booking ID; its BOOKING debit and its REFUND, by kind, where they exist."""

    def shape(self, rows: list[CreditTransaction]) -> dict[CreditTransactionKind, CreditTransaction]:
        return {CreditTransactionKind(t.kind): t for t in rows}
