"""Demo events: the demo logins' password, and a webhook endpoint that the demo service
receives itself, so every booking, cancellation or reminder of the demo shows up in its log
as a signed Standard Webhooks delivery (sessiongraph/server/demo_webhooks.py)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.infrastructure.passwords import hash_password
from sessiongraph.models import User
from sessiongraph.models.events import EventType
from sessiongraph.models.webhooks import WebhookEndpoint
from sessiongraph.resolvers.webhooks import new_secret

# Public knowledge, printed by the demo: the demo is for trying the service on one's own machine.
DEMO_PASSWORD = "sessiongraph-demo"
RECEIVER_PATH = "/demo/webhooks"


def receiver_url(public_url: str) -> str:
    return public_url.rstrip("/") + RECEIVER_PATH


async def load(db: AsyncSession, now: datetime, logins: list[str], public_url: str) -> WebhookEndpoint:
    # One hash for all: argon2 costs tens of milliseconds each, and the logins share the password.
    password_hash = await hash_password(DEMO_PASSWORD)
    await db.execute(update(User).where(col(User.email).in_(logins)).values(password_hash=password_hash))
    endpoint = WebhookEndpoint(url=receiver_url(public_url), event_types=json.dumps(sorted(EventType)),
                               description="The demo service's own receiver: it logs what it gets.",
                               secret=new_secret(), active=True, created_at=now)
    db.add(endpoint)
    await db.flush()
    return endpoint
