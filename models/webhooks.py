"""Webhooks: endpoints admins register, and one delivery per (endpoint, event).

A delivery keeps the exact body it sends (the same bytes and `webhook-id` on every
attempt, so receivers de-duplicate) and its own schedule: the relay
fans events out to deliveries, and any instance's dispatcher takes a due delivery under
a lease (`lease_until`), so two instances never send one at the same time.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    # JSON list of event types (models/events.py EventType values).
    event_types: str
    description: str | None = Field(default=None, max_length=500)
    # `whsec_` and base64 of 32 random bytes, shown once at creation; never written to the audit log.
    secret: str = Field(max_length=100, sa_column_kwargs={"info": {"secret": True}})
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_endpoint_event"),
        # The dispatcher's queue: pending deliveries by when they are due.
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        # An endpoint's delivery log, newest first.
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", ondelete="CASCADE")
    # The event's ID; no foreign key, as the log outlives the event's purge.
    event_id: int
    event_type: str = Field(max_length=64)
    webhook_id: str = Field(max_length=64)
    # The JSON body, the same bytes on every attempt (each attempt is signed for its own time).
    body: str
    status: str = Field(default=WebhookDeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_status: int | None = Field(default=None)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


# The first retry comes within 30 s (15 to 30 s after the failure); each wait doubles up to six
# hours, jittered by up to half; after a day of failures, the delivery is FAILED.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)


def retry_wait(attempts: int, jitter: float) -> timedelta:
    """How long after failed attempt number `attempts` (1, 2, ...) the next one comes; `jitter` in [0, 1)."""
    full = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LONGEST_WAIT)
    return full * (1 - jitter / 2)
