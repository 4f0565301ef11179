"""Credits: each learner's balance, and the ledger of transactions that explains it.

The balance lives on the account row so a booking can debit it with one conditional
UPDATE (`... WHERE balance >= cost`); every change also writes a transaction holding
the signed amount and the balance after it. Replaying a user's transactions in ID
order therefore gives each `balance_after` and ends at the account's balance.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow


class CreditTransactionKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    BOOKING = "BOOKING"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"


class CreditAccount(SQLModel, table=True):
    """Created by the first credit a user gets; no account reads as a balance of 0."""

    __tablename__ = "credit_account"
    __table_args__ = (CheckConstraint("balance >= 0", name="ck_credit_account_balance"),)

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    balance: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CreditTransaction(SQLModel, table=True):
    __tablename__ = "credit_transaction"
    __table_args__ = (
        # A user's ledger, newest first.
        Index("ix_credit_transaction_user_id", "user_id", "id"),
        # A booking is debited once and refunded at most once, whatever races.
        Index("ux_credit_transaction_booking_kind", "booking_id", "kind", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    # Signed: BOOKING < 0; DEPOSIT and REFUND > 0; ADJUSTMENT either way.
    amount: int
    balance_after: int
    description: str = Field(max_length=500)
    live_session_id: int | None = Field(default=None, foreign_key="live_session.id", ondelete="SET NULL",
                                        index=True)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", ondelete="SET NULL")
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
