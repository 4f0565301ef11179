"""Reminders (DESIGN.md, "Webhooks, reminders and email"), planned from the database.

Each course sets the minutes before its live sessions at which everyone on one (its booked
learners, the learners of its administrative session and its instructor: events.py
`people_on_each`) is reminded. Nothing is kept in memory: every instance runs a
`ReminderPlanner`, which at each round records, as one `reminder.due` event each, the reminders
whose moment fell in the last five minutes and that no row of `reminder_sent` records yet.

- Exactly once: the `reminder_sent` row and its event are written in one transaction, the row
  keyed on (user, live session, offset, the start planned for) and inserted ON CONFLICT DO
  NOTHING, with an event only for the rows that went in. One planner works at a time (the
  `reminders` counter row's lock, `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock),
  so the others do not wait on its rows.
- Late: a reminder whose moment is five minutes or more past (the service was down, say) is
  not sent; it has left the window.
- Re-planned: a live session moved to another start is a new key, so it is reminded again for
  the new start; one cancelled, or a learner's cancelled booking, is no longer in the query.
- Woken at the next moment the database holds, and every REMINDER_POLL_SECONDS for what
  other instances planned meanwhile. A round that finds nothing due only reads (no write lock
  on SQLite); each round records at most `PLAN_BATCH` reminders in a fixed number of
  statements, and another round follows at once while there are more.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Integer, Select, Table, delete, exists, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.infrastructure.background import Round, Worker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import global_id
from sessiongraph.models import Course, LiveSession, ReminderSent
from sessiongraph.models.events import EventType, OutboxCounterName
from sessiongraph.resolvers.events import live_session_data, people_on_each
from sessiongraph.resolvers.outbox import BACKGROUND, NewEvent, dialect_insert, record_events, take_turn

log = logging.getLogger("sessiongraph.reminders")

reminders_sent: Table = ReminderSent.__table__  # type: ignore[attr-defined]
live_sessions: Table = LiveSession.__table__  # type: ignore[attr-defined]
courses: Table = Course.__table__  # type: ignore[attr-defined]

# A reminder this late or later is skipped rather than sent (DESIGN.md).
LATE = timedelta(minutes=5)
# Reminders recorded per round: one multi-row INSERT each for the rows and their events.
PLAN_BATCH = 1000
# Rows of reminders for live sessions that started this long ago can never be due again.
KEEP_AFTER_START = timedelta(hours=1)
PURGE_INTERVAL = timedelta(hours=1)

# offset -> the spellings of the courses' offset sets that hold it (models/courses.py `offsets_text`)
Offsets = dict[int, list[str]]


async def offsets_in_use(db: AsyncSession) -> Offsets:
    spellings = (await db.scalars(select(courses.c.reminder_offsets).distinct())).all()
    offsets: Offsets = defaultdict(list)
    for spelling in spellings:
        for offset in json.loads(spelling):
            offsets[offset].append(spelling)
    return dict(sorted(offsets.items()))


def _reminded_at(offset: int, spellings: list[str], *columns: Any) -> Select[Any]:
    """`columns` of the live sessions not cancelled of the courses reminding `offset` minutes before."""
    return (select(*columns).select_from(live_sessions).join(courses, courses.c.id == live_sessions.c.course_id)
            .where(courses.c.reminder_offsets.in_(spellings), live_sessions.c.cancelled_at.is_(None)))


def due_query(offsets: Offsets, after: datetime, through: datetime) -> Select[Any]:
    """(LiveSession, user_id, offset_minutes) of each reminder whose moment is in (after, through] and
    that is not recorded yet."""
    due = union_all(*(
        _reminded_at(offset, spellings, live_sessions.c.id, live_sessions.c.session_id,
                     live_sessions.c.instructor_id, live_sessions.c.starts_at,
                     literal(offset, Integer).label("offset_minutes"))
        .where(live_sessions.c.starts_at > after + timedelta(minutes=offset),
               live_sessions.c.starts_at <= through + timedelta(minutes=offset))
        for offset, spellings in offsets.items())).subquery("due")
    people = people_on_each(due).subquery("people")
    recorded = exists().where(reminders_sent.c.user_id == people.c.user_id,
                              reminders_sent.c.live_session_id == due.c.id,
                              reminders_sent.c.offset_minutes == due.c.offset_minutes,
                              reminders_sent.c.starts_at == due.c.starts_at)
    return (select(LiveSession, people.c.user_id, due.c.offset_minutes)
            .join(due, due.c.id == LiveSession.id)
            .join(people, people.c.live_session_id == due.c.id)
            .where(~recorded)
            .order_by(due.c.starts_at, due.c.offset_minutes.desc(), due.c.id, people.c.user_id))


async def next_moment(db: AsyncSession, offsets: Offsets, after: datetime) -> datetime | None:
    """The first reminder moment after `after`, in one statement."""
    firsts = [_reminded_at(offset, spellings, live_sessions.c.starts_at)
              .where(live_sessions.c.starts_at > after + timedelta(minutes=offset))
              .order_by(live_sessions.c.starts_at).limit(1).scalar_subquery()
              for offset, spellings in offsets.items()]
    if not firsts:
        return None
    starts = (await db.execute(select(*firsts))).one()
    return min((start - timedelta(minutes=offset) for start, offset in zip(starts, offsets, strict=True)
                if start is not None), default=None)


def reminder_data(live_session: LiveSession, user_id: int, offset_minutes: int) -> dict[str, Any]:
    """The `reminder.due` webhook `data`: the live session's, and whom it reminds how long before."""
    return {**live_session_data(live_session), "userId": global_id("User", user_id), "offsetMinutes": offset_minutes,
            "remindAt": (live_session.starts_at - timedelta(minutes=offset_minutes)).isoformat()}


async def record_due(database: Database, now: datetime) -> Round:
    """Records the reminders due now (up to a batch): MORE when there may be more, DONE when none
    are left, BUSY when another instance's planner holds the turn."""
    window = (now - LATE, now)
    async with database.read() as db:
        await db.connection(execution_options=BACKGROUND)
        offsets = await offsets_in_use(db)
        if not offsets or (await db.execute(due_query(offsets, *window).limit(1))).first() is None:
            return Round.DONE
    async with database.write() as db:
        await db.connection(execution_options=BACKGROUND)
        if not await take_turn(db, whose=OutboxCounterName.REMINDERS):
            return Round.BUSY
        due = (await db.execute(due_query(offsets, *window).limit(PLAN_BATCH))).all()
        if not due:
            return Round.DONE
        recorded = await _insert(db, due, now)
        await record_events(db, [
            NewEvent(EventType.REMINDER_DUE, reminder_data(live_session, user_id, offset),
                     live_session_id=live_session.id, user_ids=(user_id,))
            for live_session, user_id, offset in due if (user_id, live_session.id, offset) in recorded], now=now)
    for live_session, user_id, offset in due:
        if (user_id, live_session.id, offset) in recorded:
            log.info("reminder due: user %s, live session %s starting %s (%s minutes ahead)",
                     user_id, live_session.code, live_session.starts_at.isoformat(), offset)
    return Round.MORE if len(due) == PLAN_BATCH else Round.DONE


async def _insert(db: AsyncSession, due: Sequence[Any], now: datetime) -> set[tuple[int, int, int]]:
    """Inserts the rows of the reminders; returns those that went in (any other was recorded meanwhile)."""
    inserted = await db.execute(
        dialect_insert(db)(reminders_sent).on_conflict_do_nothing()
        .returning(reminders_sent.c.user_id, reminders_sent.c.live_session_id, reminders_sent.c.offset_minutes),
        [{"user_id": user_id, "live_session_id": live_session.id, "offset_minutes": offset,
          "starts_at": live_session.starts_at, "sent_at": now} for live_session, user_id, offset in due])
    return {(user_id, live_session_id, offset) for user_id, live_session_id, offset in inserted.all()}


async def purge(database: Database, now: datetime) -> int:
    """Forgets the reminders of starts more than KEEP_AFTER_START ago; returns how many went."""
    old = reminders_sent.c.starts_at < now - KEEP_AFTER_START
    async with database.read() as db:
        await db.connection(execution_options=BACKGROUND)
        if await db.scalar(select(reminders_sent.c.starts_at).where(old).limit(1)) is None:
            return 0  # nothing old enough: no write (on SQLite, no write lock), as the outbox's purge
    async with database.write() as db:
        await db.connection(execution_options=BACKGROUND)
        return cast(CursorResult, await db.execute(delete(reminders_sent).where(old))).rowcount


class ReminderPlanner(Worker):
    """Records this database's due reminders (one per process and app); see the module's comment."""

    name = "reminder planner"

    def __init__(self, database: Database, clock: Clock, settings: Settings) -> None:
        super().__init__(settings.reminder_poll_seconds)
        self.database = database
        self.clock = clock
        self.alarm: asyncio.Task[None] | None = None  # the sleep until the next moment (tests await it)
        self._last_purge: datetime | None = None

    async def work(self) -> Round:
        outcome = await record_due(self.database, self.clock.now())
        if outcome is Round.DONE:
            await self._set_alarm()
        return outcome

    async def on_poll(self) -> None:
        now = self.clock.now()
        if self._last_purge is None or now - self._last_purge >= PURGE_INTERVAL:
            self._last_purge = now
            await purge(self.database, now)

    async def close(self) -> None:
        await super().close()
        if self.alarm is not None:
            self.alarm.cancel()
            self.alarm = None

    async def _set_alarm(self) -> None:
        """Wakes the planner at the next reminder moment the database holds (the clock's sleep, so a
        test's frozen clock moved past it wakes it too)."""
        async with self.database.read() as db:
            await db.connection(execution_options=BACKGROUND)
            at = await next_moment(db, await offsets_in_use(db), self.clock.now())
        if self.alarm is not None:
            self.alarm.cancel()
            self.alarm = None
        if at is not None:
            self.alarm = asyncio.get_running_loop().create_task(self._wake_at(at), name=f"{self.name} alarm",
                                                                 context=contextvars.Context())

    async def _wake_at(self, at: datetime) -> None:
        await self.clock.sleep_until(at)
        self.wake()
