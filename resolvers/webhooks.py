"""Webhooks per the Standard Webhooks specification: endpoints, fan-out and delivery.

- Admins register endpoints (`create_endpoint`): an http(s) URL whose host resolves to
  public addresses only (every address it resolves to is checked, not just the literal;
  private, loopback, link-local and reserved ones are refused unless
  WEBHOOK_ALLOW_PRIVATE=true), the event types it wants, and a secret shown once.
- The outbox relay fans each event out to one delivery per matching active endpoint
  (`make_deliveries`, a consumer of the outbox with its own position in the event
  sequence), so a delivery is created once whichever instance relays.
- Every instance's `WebhookDispatcher` sends due deliveries. It leases each one first
  (`lease_until`, taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL, under SQLite's write
  lock there), so two instances never send one delivery at the same time; a lease outlives
  the request timeout, so one whose instance died is taken again later (at least once).
  A POST carries the body the delivery was created with and `webhook-id`,
  `webhook-timestamp` (the attempt's time, so receivers' 5-minute tolerance holds on a
  retry) and `webhook-signature`, signed with the `standardwebhooks` reference library.
  A 2xx within WEBHOOK_TIMEOUT_SECONDS is DELIVERED; anything else is retried with
  exponential backoff and jitter (models/webhooks.py `retry_wait`) until
  WEBHOOK_RETRY_HOURS have passed since the event, then FAILED. Nothing here runs inside
  a mutation: a slow or unreachable receiver only delays its own deliveries.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import random
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from sessiongraph.infrastructure.background import Round, Worker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tracing import NO_TRACING, Tracing
from sessiongraph.models.events import EventType, OutboxCounterName
from sessiongraph.models.webhooks import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, retry_wait
from sessiongraph.resolvers.audit import audit_removed, audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, Problems, UserErrors
from sessiongraph.resolvers.outbox import BACKGROUND, Consumer, OutboxEvent, dialect_insert, lease_due
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import require_admin
from sessiongraph.resolvers.validation import optional_text

log = logging.getLogger("sessiongraph.webhooks")

endpoints: Table = WebhookEndpoint.__table__  # type: ignore[attr-defined]
deliveries: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 500
DELIVERY_BATCH = 20
# Longer than a request may take, so a lease ends only when its instance has died.
LEASE = timedelta(minutes=2)
EVENT_TYPES = frozenset(event_type.value for event_type in EventType)


# --- endpoints -------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def url_problem(url: str, allow_private: bool) -> str | None:
    """Why `url` may not receive webhooks, or None. Checks every address its host resolves to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "url is not a URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an http or https URL with a host."
    if parts.username or parts.password:
        return "url must not hold a user name or password."
    if allow_private:
        return None
    addresses = await resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        return f"url's host {parts.hostname!r} does not resolve."
    refused = sorted(str(address) for address in addresses if not address.is_global)
    if refused:
        return f"url's host resolves to a private or reserved address ({refused[0]}); webhooks go to public hosts."
    return None


async def resolve(host: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return {ipaddress.ip_address(host)}
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found}


def _event_types(given: list[str], problems: Problems) -> list[str]:
    chosen = sorted(set(given))
    unknown = [event_type for event_type in chosen if event_type not in EVENT_TYPES]
    if unknown:
        problems.add(ErrorCode.VALIDATION, f"Unknown event type {unknown[0]!r}; the types are "
                                           f"{', '.join(sorted(EVENT_TYPES))}.", "eventTypes")
    elif not chosen:
        problems.add(ErrorCode.VALIDATION, "eventTypes must name at least one event type.", "eventTypes")
    return chosen


async def _check_url(ctx: Context, url: str, problems: Problems) -> str:
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        problems.add(ErrorCode.VALIDATION, f"url must be at most {URL_MAX_LENGTH} characters.", "url")
        return url
    problem = await url_problem(url, ctx.settings.webhook_allow_private)
    if problem is not None:
        problems.add(ErrorCode.WEBHOOK_URL_REFUSED, problem, "url")
    return url


def event_types_of(endpoint: WebhookEndpoint) -> list[str]:
    return json.loads(endpoint.event_types)


@audited("createWebhookEndpoint", subject=WebhookEndpoint)
async def create_endpoint(ctx: Context, url: str, event_types: list[str],
                          description: str | None) -> WebhookEndpoint:
    """The new endpoint; its `secret` is shown to the caller this once."""
    require_admin(ctx)
    problems = Problems()
    url = await _check_url(ctx, url, problems)
    chosen = _event_types(event_types, problems)
    description = optional_text(description, problems, DESCRIPTION_MAX_LENGTH, "description")
    problems.raise_if_any()
    endpoint = WebhookEndpoint(url=url, event_types=json.dumps(chosen), description=description,
                               secret=new_secret(), active=True, created_at=ctx.now)
    async with ctx.database.write() as db:
        db.add(endpoint)
    return endpoint


@audited("updateWebhookEndpoint", subject=WebhookEndpoint, by="endpoint_id")
async def update_endpoint(ctx: Context, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
    """Changes what `changes` names (url, eventTypes, description, active); the secret stays."""
    require_admin(ctx)
    problems = Problems()
    values: dict[str, Any] = {}
    if changes.get("url") is not None:
        values["url"] = await _check_url(ctx, changes["url"], problems)
    if changes.get("event_types") is not None:
        values["event_types"] = json.dumps(_event_types(changes["event_types"], problems))
    if "description" in changes:
        values["description"] = optional_text(changes["description"], problems, DESCRIPTION_MAX_LENGTH,
                                              "description")
    if changes.get("active") is not None:
        values["active"] = changes["active"]
    problems.raise_if_any()
    async with ctx.database.write() as db:
        endpoint = await db.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "No such webhook endpoint.", "id")
        for name, value in values.items():
            setattr(endpoint, name, value)
    return endpoint


@audited("deleteWebhookEndpoint", subject=WebhookEndpoint, by="endpoint_id")
async def delete_endpoint(ctx: Context, endpoint_id: int) -> int:
    """Deletes the endpoint and its delivery log; pending deliveries are not sent."""
    require_admin(ctx)
    async with ctx.database.write() as db:
        endpoint = await db.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "No such webhook endpoint.", "id")
        audit_removed(db, endpoint)
        await db.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))
    return endpoint_id


async def endpoint_by_id(ctx: Context, endpoint_id: int) -> WebhookEndpoint | None:
    if not ctx.actor.is_admin:
        return None
    async with ctx.database.read() as db:
        return await db.get(WebhookEndpoint, endpoint_id)


async def list_endpoints(ctx: Context, first: int | None, after: str | None) -> Page[WebhookEndpoint]:
    require_admin(ctx)
    return await paginate(ctx, select(WebhookEndpoint), [WebhookEndpoint.id],  # type: ignore[list-item]
                          lambda endpoint: [endpoint.id], first, after)


async def list_deliveries(ctx: Context, endpoint_id: int, first: int | None,
                          after: str | None) -> Page[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    require_admin(ctx)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)  # type: ignore[arg-type]
    return await paginate(ctx, query, [WebhookDelivery.id], lambda delivery: [delivery.id],  # type: ignore[list-item]
                          first, after, descending=True)


async def delivery_by_id(ctx: Context, delivery_id: int) -> WebhookDelivery | None:
    if not ctx.actor.is_admin:
        return None
    async with ctx.database.read() as db:
        return await db.get(WebhookDelivery, delivery_id)


# --- fan-out, by the relay ---------------------------------------------------------------------


def webhook_body(event_type: str, occurred_at: datetime, data: str) -> str:
    return json.dumps({"type": event_type, "timestamp": occurred_at.isoformat(), "data": json.loads(data)},
                      separators=(",", ":"))


def consumer(then: Callable[[], None] | None = None) -> Consumer:
    """The webhooks as a consumer of the outbox: their position is the WEBHOOKS counter row."""
    return Consumer(OutboxCounterName.WEBHOOKS, make_deliveries, then)


async def make_deliveries(db: AsyncSession, batch: Sequence[OutboxEvent], now: datetime) -> None:
    """One delivery per event and active endpoint that wants its type, in the relay's transaction."""
    wanted: dict[str, list[int]] = {}
    for endpoint_id, types in (await db.execute(
            select(endpoints.c.id, endpoints.c.event_types).where(endpoints.c.active.is_(True)))).all():
        for event_type in json.loads(types):
            wanted.setdefault(event_type, []).append(endpoint_id)
    new = [{"endpoint_id": endpoint_id, "event_id": event.id, "event_type": event.type,
            "webhook_id": f"msg_{event.id}", "body": webhook_body(event.type, event.occurred_at, event.data),
            "status": WebhookDeliveryStatus.PENDING.value, "attempts": 0, "created_at": event.occurred_at,
            "next_attempt_at": now}
           for event in batch for endpoint_id in wanted.get(event.type, ())]
    if new:
        await db.execute(dialect_insert(db)(deliveries).on_conflict_do_nothing(), new)


# --- delivery, by every instance ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    webhook_id: str
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    response_status: int | None


class WebhookDispatcher(Worker):
    """Sends this database's due deliveries (one per process and app); see the module's comment."""

    name = "webhook dispatcher"

    def __init__(self, database: Database, clock: Clock, settings: Settings,
                 jitter: Callable[[], float] = random.random, tracing: Tracing = NO_TRACING) -> None:
        super().__init__(settings.webhook_poll_seconds)
        self.database = database
        self.clock = clock
        self.settings = settings
        self.jitter = jitter
        self.tracing = tracing

    async def work(self) -> Round:
        return Round.MORE if await self.deliver_due() == DELIVERY_BATCH else Round.DONE

    async def deliver_due(self) -> int:
        """Sends the deliveries due now (up to a batch), each under a lease; returns how many."""
        now = self.clock.now()
        due = await self._lease(now)
        if due:
            outcomes = await asyncio.gather(*(self._send(delivery) for delivery in due))
            await self._record(due, outcomes)
        return len(due)

    async def _lease(self, now: datetime) -> list[Due]:
        async with self.database.write() as db:
            await db.connection(execution_options=BACKGROUND)
            active = select(endpoints.c.id).where(endpoints.c.active.is_(True))
            leased = await lease_due(db, deliveries, now, limit=DELIVERY_BATCH, lease=LEASE,
                                     where=[deliveries.c.endpoint_id.in_(active)])
            if not leased:
                return []
            rows = (await db.execute(
                select(deliveries.c.id, deliveries.c.webhook_id, deliveries.c.body, deliveries.c.attempts,
                       deliveries.c.created_at, endpoints.c.url, endpoints.c.secret)
                .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
                .where(deliveries.c.id.in_(leased)).order_by(deliveries.c.id))).all()
        return [Due(*row) for row in rows]

    async def _send(self, delivery: Due) -> Outcome:
        with self.tracing.span("webhook delivery", {"sessiongraph.webhook.id": delivery.webhook_id,
                                                    "sessiongraph.webhook.attempt": delivery.attempts + 1},
                               client=True) as span:
            outcome = await self._attempt(delivery)
            span.set_attribute("sessiongraph.webhook.delivered", outcome.delivered)
            if outcome.response_status is not None:
                span.set_attribute("http.response.status_code", outcome.response_status)
            return outcome

    async def _attempt(self, delivery: Due) -> Outcome:
        problem = await url_problem(delivery.url, self.settings.webhook_allow_private)
        if problem is not None:  # the host's addresses changed since the endpoint was registered
            log.warning("webhook %s not sent to %s: %s", delivery.webhook_id, delivery.url, problem)
            return Outcome(False, None)
        attempted_at = self.clock.now()
        body = delivery.body.encode()
        headers = {"content-type": "application/json", "webhook-id": delivery.webhook_id,
                   "webhook-timestamp": str(int(attempted_at.timestamp())),
                   "webhook-signature": Webhook(delivery.secret).sign(delivery.webhook_id, attempted_at, body)}
        self.tracing.inject(headers)  # traceparent: the receiver's trace goes on from this delivery's span
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds), \
                    httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
                response = await client.post(delivery.url, content=body, headers=headers)
        except (TimeoutError, httpx.HTTPError) as error:
            log.info("webhook %s to %s failed: %r", delivery.webhook_id, delivery.url, error)
            return Outcome(False, None)
        return Outcome(200 <= response.status_code < 300, response.status_code)

    async def _record(self, due: list[Due], outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        give_up_after = timedelta(hours=self.settings.webhook_retry_hours)
        async with self.database.write() as db:
            await db.connection(execution_options=BACKGROUND)
            for delivery, outcome in zip(due, outcomes, strict=True):
                attempts = delivery.attempts + 1
                if outcome.delivered:
                    status, next_attempt = WebhookDeliveryStatus.DELIVERED, None
                elif now - delivery.created_at >= give_up_after:
                    status, next_attempt = WebhookDeliveryStatus.FAILED, None
                else:
                    status, next_attempt = WebhookDeliveryStatus.PENDING, now + retry_wait(attempts, self.jitter())
                await db.execute(update(deliveries).where(deliveries.c.id == delivery.id).values(
                    status=status.value, attempts=attempts, last_attempt_at=now,
                    response_status=outcome.response_status, next_attempt_at=next_attempt, lease_until=None))

