"""The transactional outbox: events written with the change, published by a relay.

A mutation calls `record_event(db, ...)` inside its own transaction, as its last write:
the event row commits with the change or not at all. The event's ID comes from one
counter row raised in that transaction, so IDs have no gaps and follow the order of
commits (a second transaction recording an event waits for the first to commit);
calling it last keeps that wait to the commit itself, and keeps the lock order of
every mutation (its own rows, then the counter) the same.

The `Relay` of every instance publishes unpublished events to the broker in ID order
and marks them published, one relay at a time: it holds the `relay` counter row's lock
for the batch (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so another instance's relay moves
on; SQLite has one writer anyway). It is woken after each commit that recorded an event
(`Database.on_commit`) and polls every `OUTBOX_POLL_SECONDS` for what another instance
left, or what Redis did not take while it was down. A batch Redis refuses is rolled
back: its events stay unpublished and go out, in order, when Redis answers again.
Publishing and marking are not one atomic step, so an event may go out twice (a crash
between them); subscribers drop an event ID they have seen.

Then the relay hands the events to its consumers (`Consumer`: the webhooks, email), each
from its own position in the sequence (an outbox_counter row) raised in the transaction
that writes what the consumer made of them, so each consumer takes each event once.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.infrastructure.background import Round, Worker
from sessiongraph.infrastructure.broker import Broker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database, notify_on_commit
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import database_id
from sessiongraph.infrastructure.tracing import NO_TRACING, Tracing
from sessiongraph.models.events import Event, EventType, EventUser, OutboxCounter, OutboxCounterName
from sessiongraph.resolvers.errors import BadInput

log = logging.getLogger("sessiongraph.outbox")

# SQLModel's classes do not declare __table__ to mypy.
counters: Table = OutboxCounter.__table__  # type: ignore[attr-defined]
events: Table = Event.__table__  # type: ignore[attr-defined]
event_users: Table = EventUser.__table__  # type: ignore[attr-defined]

# Events published per relay transaction; a longer queue takes several.
RELAY_BATCH = 500
# Events handed to a consumer per relay transaction.
FAN_OUT_BATCH = 500
PURGE_INTERVAL = timedelta(hours=1)
# On the relay's connections: work of no request's (the statement-count tests leave it out).
BACKGROUND = {"background_work": "outbox"}


def user_channel(user_id: int) -> str:
    return f"schedule:user:{user_id}"


def live_session_channel(live_session_id: int) -> str:
    return f"live-session:{live_session_id}"


# --- recording, inside the change's transaction --------------------------------------------


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to record. `data` is the webhook payload's `data`; `schedule_kind` (with
    `live_session_id` and the `user_ids` whose schedules it concerns) is what `scheduleChanged`
    reports, None when it reports nothing."""

    type: EventType
    data: dict[str, Any]
    live_session_id: int | None = None
    schedule_kind: str | None = None
    user_ids: Iterable[int] = ()


async def record_event(db: AsyncSession, type: EventType, data: dict[str, Any], *, now: datetime,
                       live_session_id: int | None = None, schedule_kind: str | None = None,
                       user_ids: Iterable[int] = ()) -> int:
    """Writes one event in the caller's transaction, as its last write (see the module's comment),
    and returns its ID."""
    return (await record_events(db, [NewEvent(type, data, live_session_id, schedule_kind, user_ids)], now=now))[0]


async def record_events(db: AsyncSession, new: Sequence[NewEvent], *, now: datetime) -> list[int]:
    """Writes events in the caller's transaction, in three statements however many there are."""
    if not new:
        return []
    last = await raise_counter(db, OutboxCounterName.LAST_EVENT, len(new))
    ids = list(range(last - len(new) + 1, last + 1))
    await db.execute(insert(events), [
        {"id": event_id, "type": event.type.value, "schedule_kind": event.schedule_kind,
         "live_session_id": event.live_session_id, "data": json.dumps(event.data, sort_keys=True),
         "occurred_at": now, "published_at": None}
        for event_id, event in zip(ids, new, strict=True)])
    users = [{"event_id": event_id, "user_id": user} for event_id, event in zip(ids, new, strict=True)
             for user in sorted(set(event.user_ids))]
    if users:
        await db.execute(insert(event_users), users)
    notify_on_commit(db)
    return ids


async def raise_counter(db: AsyncSession, name: OutboxCounterName, by: int) -> int:
    """Adds `by` to a counter (creating it at `by`) and returns its new value; the row stays locked
    until the transaction ends."""
    statement = dialect_insert(db)(counters).values(name=name.value, value=by)
    statement = statement.on_conflict_do_update(index_elements=[counters.c.name],
                                                set_={"value": counters.c.value + statement.excluded.value})
    return (await db.execute(statement.returning(counters.c.value))).scalar_one()


def dialect_insert(db: AsyncSession) -> Any:
    """The engine's INSERT, which has ON CONFLICT (both engines spell it alike)."""
    return postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert


async def counter_value(db: AsyncSession, name: OutboxCounterName) -> int:
    return await db.scalar(select(counters.c.value).where(counters.c.name == name.value)) or 0


# --- positions in the sequence: cursors --------------------------------------------------------

_CURSOR_PREFIX = "event:"


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The event ID a `ScheduleEvent.cursor` stands for; BadInput for anything the service did not hand out."""
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        decoded = ""
    event_id = database_id(decoded[len(_CURSOR_PREFIX):]) if decoded.startswith(_CURSOR_PREFIX) else None
    if event_id is None or encode_cursor(event_id) != cursor:
        raise BadInput("`after` is not a cursor this service handed out")
    return event_id


class CursorExpired(Exception):
    """The events after the cursor have been purged: the client reloads instead of resuming."""


@dataclass(frozen=True, slots=True)
class Positions:
    last_event: int
    purged_through: int


async def positions(database: Database) -> Positions:
    async with database.read() as db:
        rows: dict[str, int] = dict((await db.execute(select(counters.c.name, counters.c.value).where(
            col(OutboxCounter.name).in_([OutboxCounterName.LAST_EVENT.value,
                                         OutboxCounterName.PURGED_THROUGH.value])))).all())
    return Positions(rows.get(OutboxCounterName.LAST_EVENT.value, 0),
                     rows.get(OutboxCounterName.PURGED_THROUGH.value, 0))


def check_resumable(after: int, at: Positions) -> None:
    if after < at.purged_through:
        raise CursorExpired("The events after this cursor are no longer kept; reload instead of resuming.")
    if after > at.last_event:
        raise BadInput("`after` is not a cursor this service handed out")


@dataclass(frozen=True, slots=True)
class ScheduleEventRow:
    id: int
    kind: str
    live_session_id: int
    occurred_at: datetime


async def schedule_events_after(database: Database, after: int, user_ids: Sequence[int],
                                limit: int) -> list[ScheduleEventRow]:
    """The schedule events concerning any of `user_ids` after the position `after`, oldest first,
    each once (a guardian's children may share one)."""
    concerning = select(event_users.c.event_id).where(event_users.c.user_id.in_(list(user_ids)),
                                                      event_users.c.event_id > after)
    query = (select(events.c.id, events.c.schedule_kind, events.c.live_session_id, events.c.occurred_at)
             .where(events.c.id.in_(concerning), events.c.schedule_kind.is_not(None),
                    events.c.live_session_id.is_not(None))
             .order_by(events.c.id).limit(limit))
    async with database.read() as db:
        return [ScheduleEventRow(*row) for row in (await db.execute(query)).all()]


# --- consumers: what else reads every event, in order ---------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    type: str
    occurred_at: datetime
    data: str  # JSON


@dataclass(frozen=True, slots=True)
class Consumer:
    """Something that takes every event once, in ID order, after the relay has published it: the webhooks
    (their deliveries) and email (its messages). `take` writes what it makes of a batch inside the relay's
    transaction, which also moves the consumer's `position` (an outbox_counter row) past the batch, so each
    event is taken once whichever instance relays. `then` is told after a batch was taken (it wakes the
    worker that sends what `take` wrote)."""

    position: OutboxCounterName
    take: Callable[[AsyncSession, Sequence[OutboxEvent], datetime], Awaitable[None]]
    then: Callable[[], None] | None = None


async def fan_out(database: Database, consumer: Consumer, now: datetime) -> int | None:
    """Hands the consumer the events after its position (up to a batch) and moves its position past them;
    returns how many it took (None when another instance's relay holds the turn)."""
    async with database.write() as db:
        await db.connection(execution_options=BACKGROUND)
        if not await take_turn(db):
            return None
        position = await counter_value(db, consumer.position)
        rows = [OutboxEvent(*row) for row in (await db.execute(
            select(events.c.id, events.c.type, events.c.occurred_at, events.c.data)
            .where(events.c.id > position).order_by(events.c.id).limit(FAN_OUT_BATCH))).all()]
        if not rows:
            return 0
        await consumer.take(db, rows, now)
        await raise_counter(db, consumer.position, rows[-1].id - position)
    return len(rows)


# --- queues of work due: webhook deliveries, email messages --------------------------------------


async def lease_due(db: AsyncSession, table: Table, now: datetime, *, limit: int, lease: timedelta,
                    where: Sequence[Any] = ()) -> list[int]:
    """Leases up to `limit` PENDING rows of `table` (a queue: `status`, `next_attempt_at`, `lease_until`) due
    by `now`, oldest due first, and returns their IDs: rows another instance is leasing just now are passed
    over (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock serialises the instances), and a
    leased row is not taken again before its lease ends (then only if its instance died with it)."""
    candidates = (select(table.c.id)
                  .where(table.c.status == "PENDING", table.c.next_attempt_at <= now,
                         table.c.lease_until.is_(None) | (table.c.lease_until <= now), *where)
                  .order_by(table.c.next_attempt_at, table.c.id).limit(limit).with_for_update(skip_locked=True))
    leased = await db.execute(update(table).where(table.c.id.in_(candidates)).values(lease_until=now + lease)
                              .returning(table.c.id))
    return sorted(row.id for row in leased.all())


# --- the relay ---------------------------------------------------------------------------------


def schedule_message(event_id: int, kind: str, live_session_id: int, occurred_at: datetime) -> dict[str, Any]:
    return {"eventId": event_id, "kind": kind, "liveSessionId": live_session_id,
            "occurredAt": occurred_at.isoformat()}


class Relay(Worker):
    """Publishes this database's unpublished events to the broker (one per process and app)."""

    name = "outbox relay"

    def __init__(self, database: Database, broker: Broker, clock: Clock, settings: Settings, *,
                 consumers: Sequence[Consumer] = (), tracing: Tracing = NO_TRACING) -> None:
        # Also publishes right after every commit of this instance that recorded events.
        super().__init__(settings.outbox_poll_seconds, woken_by=database.on_commit)
        self.database = database
        # After publishing, the events go on to each consumer (webhooks, email), from its own position.
        self.consumers = tuple(consumers)
        self.broker = broker
        self.clock = clock
        self.settings = settings
        self.tracing = tracing
        self.published = 0  # events this relay has published, for tests and the log
        self._last_purge: datetime | None = None

    async def on_poll(self) -> None:
        now = self.clock.now()
        if self._last_purge is None or now - self._last_purge >= PURGE_INTERVAL:
            self._last_purge = now
            await purge(self.database, now - timedelta(days=self.settings.event_retention_days),
                        [consumer.position for consumer in self.consumers])

    async def work(self) -> Round:
        if not await self._work_waiting():
            return Round.DONE  # no span for a round that found nothing: a poll a second would drown the rest
        with self.tracing.span("outbox relay") as span:
            published = self.published
            outcomes = (await self.publish_batch(), await self._fan_out_batch())
            span.set_attribute("sessiongraph.outbox.published", self.published - published)
        if Round.BUSY in outcomes:
            return Round.BUSY
        return Round.MORE if Round.MORE in outcomes else Round.DONE

    async def _work_waiting(self) -> bool:
        """Whether an event waits to be published or handed to a consumer. Read before the relay takes its
        turn, so an idle relay writes nothing (on SQLite the turn is the database's one write lock)."""
        unpublished = select(events.c.id).where(events.c.published_at.is_(None)).limit(1).scalar_subquery()
        newest = select(func.max(events.c.id)).scalar_subquery()
        async with self.database.read() as db:
            await db.connection(execution_options=BACKGROUND)
            waiting, newest_id = (await db.execute(select(unpublished, newest))).one()
            if waiting is not None:
                return True
            if newest_id is None or not self.consumers:
                return False
            names = [consumer.position.value for consumer in self.consumers]
            positions = dict((await db.execute(select(counters.c.name, counters.c.value)
                                               .where(counters.c.name.in_(names)))).all())
        return any(newest_id > positions.get(name, 0) for name in names)

    async def _fan_out_batch(self) -> Round:
        """Hands the events to each consumer, in turn; BUSY when another instance's relay holds the turn."""
        outcome = Round.DONE
        for consumer in self.consumers:
            passed = await fan_out(self.database, consumer, self.clock.now())
            if passed is None:
                return Round.BUSY
            if passed and consumer.then is not None:
                consumer.then()
            if passed == FAN_OUT_BATCH:
                outcome = Round.MORE
        return outcome

    async def publish_batch(self) -> Round:
        """Publishes the oldest unpublished events: MORE when there may be more, DONE when none are
        left (or the broker refused them: the next poll tries again), BUSY when another instance's
        relay holds the turn."""
        async with self.database.write() as db:
            await db.connection(execution_options=BACKGROUND)
            if not await take_turn(db):
                return Round.BUSY
            rows = (await db.execute(
                select(events.c.id, events.c.schedule_kind, events.c.live_session_id, events.c.occurred_at)
                .where(events.c.published_at.is_(None)).order_by(events.c.id).limit(RELAY_BATCH))).all()
            if not rows:
                return Round.DONE
            users = await _users_of(db, [row[0] for row in rows if row[1] is not None])
            messages = [(channel, schedule_message(event_id, kind, live_session_id, occurred_at))
                        for event_id, kind, live_session_id, occurred_at in rows if kind is not None
                        for channel in _channels(live_session_id, users[event_id])]
            if messages and not await self.broker.publish_many(messages):
                await db.rollback()
                return Round.DONE
            await db.execute(update(events).where(events.c.id.in_([row[0] for row in rows]))
                             .values(published_at=self.clock.now()))
        self.published += len(rows)
        return Round.MORE if len(rows) == RELAY_BATCH else Round.DONE


async def take_turn(db: AsyncSession, *, wait: bool = False,
                    whose: OutboxCounterName = OutboxCounterName.RELAY) -> bool:
    """Locks the relay's row (or `whose`) for this transaction; False when another instance holds it
    (PostgreSQL), unless `wait`. On SQLite the write lock taken here is the turn, waited for as any
    writer waits."""
    await db.execute(dialect_insert(db)(counters).values(name=whose.value, value=0).on_conflict_do_nothing())
    locked = await db.scalar(select(counters.c.value).where(counters.c.name == whose.value)
                             .with_for_update(skip_locked=not wait))
    return locked is not None


async def _users_of(db: AsyncSession, event_ids: list[int]) -> dict[int, list[int]]:
    users: dict[int, list[int]] = defaultdict(list)
    if event_ids:
        for event_id, user_id in (await db.execute(
                select(event_users.c.event_id, event_users.c.user_id)
                .where(event_users.c.event_id.in_(event_ids)).order_by(event_users.c.user_id))):
            users[event_id].append(user_id)
    return users


def _channels(live_session_id: int | None, user_ids: list[int]) -> list[str]:
    first = [live_session_channel(live_session_id)] if live_session_id is not None else []
    return first + [user_channel(user_id) for user_id in user_ids]


async def purge(database: Database, before: datetime, positions: Sequence[OutboxCounterName] = ()) -> int:
    """Deletes the events that occurred before `before` and have been published (and taken by the consumers
    whose `positions` are given); cursors up to the last of them expire. Returns how many went."""
    async with database.read() as db:
        await db.connection(execution_options=BACKGROUND)
        if await db.scalar(select(events.c.id).where(events.c.occurred_at < before).limit(1)) is None:
            return 0  # nothing to purge: no write (on SQLite, no write lock)
    async with database.write() as db:
        await db.connection(execution_options=BACKGROUND)
        # The relay's turn first: on SQLite its write lock, before any read (a read first could not
        # become a write once another writer has committed).
        await take_turn(db, wait=True)  # rare, and short: waiting beats coming back in an hour
        through = await db.scalar(select(events.c.id).where(events.c.occurred_at < before,
                                                             events.c.published_at.is_not(None))
                                  .order_by(events.c.id.desc()).limit(1))
        if through is None:
            return 0
        # Never past an event still waiting to be published (the relay needs it).
        waiting = await db.scalar(select(events.c.id).where(events.c.published_at.is_(None))
                                  .order_by(events.c.id).limit(1))
        if waiting is not None:
            through = min(through, waiting - 1)
        for position in positions:  # nor past an event a consumer has yet to take
            through = min(through, await counter_value(db, position))
        await db.execute(delete(event_users).where(event_users.c.event_id <= through))
        result = await db.execute(delete(events).where(events.c.id <= through))
        deleted = cast(CursorResult, result).rowcount
        current = await counter_value(db, OutboxCounterName.PURGED_THROUGH)
        if through > current:
            await raise_counter(db, OutboxCounterName.PURGED_THROUGH, through - current)
    return deleted
