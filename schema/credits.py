"""Credits on the wire: a learner's account and ledger, and the admin's deposits."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import credits, permissions
from sessiongraph.resolvers.loaders.credits import CreditTransactionById
from sessiongraph.resolvers.loaders.schedule import LiveSessionById
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Connection, Node, decode_id, node_fetcher, to_global_id
from sessiongraph.schema.schedule import LiveSession, connection

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
CreditTransactionKind: TypeAlias = models.CreditTransactionKind
strawberry.enum(CreditTransactionKind, name="CreditTransactionKind")


@strawberry.type(description="One change to a credit balance. `amount` is signed: BOOKING < 0, DEPOSIT and "
                             "REFUND > 0, ADJUSTMENT either way; `balanceAfter` is the balance it left.")
class CreditTransaction(Node):
    created_at: datetime
    kind: CreditTransactionKind
    amount: int
    balance_after: int
    description: str
    model: strawberry.Private[models.CreditTransaction]

    @classmethod
    def from_model(cls, transaction: models.CreditTransaction) -> CreditTransaction:
        assert transaction.id is not None  # a stored row
        return cls(id=to_global_id("CreditTransaction", transaction.id), created_at=transaction.created_at,
                   kind=models.CreditTransactionKind(transaction.kind), amount=transaction.amount,
                   balance_after=transaction.balance_after, description=transaction.description, model=transaction)

    @strawberry.field(description="The live session a BOOKING or REFUND concerns, seen from the account's owner.")
    async def live_session(self, info: Info) -> LiveSession | None:
        if self.model.live_session_id is None:
            return None
        found = await LiveSessionById(info.context).load(self.model.live_session_id)
        return LiveSession.from_model(found, learner_id=self.model.user_id) if found is not None else None


@node_fetcher("CreditTransaction")
async def fetch_credit_transaction(info: Info, transaction_id: int) -> CreditTransaction | None:
    transaction = await CreditTransactionById(info.context).load(transaction_id)
    if transaction is None or not await permissions.can_read_credits(info.context, transaction.user_id):
        return None
    return CreditTransaction.from_model(transaction)


def transaction_or_none(transaction: models.CreditTransaction | None) -> CreditTransaction | None:
    return CreditTransaction.from_model(transaction) if transaction is not None else None


@strawberry.type(description="A learner's credits: the balance, and the transactions that explain it.")
class CreditAccount:
    user_id: strawberry.Private[int]

    @strawberry.field(description="0 before the first credit.")
    async def balance(self, info: Info) -> int:
        return await credits.balance(info.context, self.user_id) or 0

    @strawberry.field(description="Newest first, in the order the balance changed.")
    async def transactions(self, info: Info, first: int | None = None,
                           after: str | None = None) -> Connection[CreditTransaction]:
        page = await credits.transactions(info.context, self.user_id, first, after)
        return connection(page, CreditTransaction.from_model)


@strawberry.input(description="kind: DEPOSIT (the default; a positive amount) or ADJUSTMENT (either sign, "
                              "never taking the balance below 0).")
class DepositCreditsInput:
    user_id: strawberry.ID
    amount: int
    kind: CreditTransactionKind | None = None
    description: str | None = None


@strawberry.type
class DepositCreditsPayload:
    credit_transaction: CreditTransaction | None
    errors: list[UserError]


@strawberry.type
class CreditsMutation:
    @strawberry.mutation(description="Admins: adds credits to a user's account, or adjusts it.")
    async def deposit_credits(self, info: Info, input: DepositCreditsInput) -> DepositCreditsPayload:
        transaction, errors = await attempt(info, lambda: credits.deposit_credits(
            info.context, user_id=decode_id(input.user_id, "User", "userId"), amount=input.amount,
            kind=models.CreditTransactionKind(input.kind) if input.kind is not None else None,
            description=input.description))
        return DepositCreditsPayload(credit_transaction=transaction_or_none(transaction), errors=errors)
