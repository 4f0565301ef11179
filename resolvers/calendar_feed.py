"""The calendar feed: each user's secret URL (`Viewer.calendarFeed`, `resetCalendarFeed`),
who a presented secret belongs to, and the live sessions their feed shows.

The secret is an HMAC of the user's ID and a random nonce under a key derived from
JWT_SECRET; only its SHA-256 is stored. So the URL can be shown again on every read, a
copy of the database opens no feed, and a request finds its feed by one indexed
equality on the hash: nothing compares the secret itself, byte by byte, in Python.
Rotating JWT_SECRET therefore changes every feed's URL (the old ones answer 404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Integer, bindparam, inspect, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import global_id
from sessiongraph.models import (
    Booking,
    BookingStatus,
    CalendarFeed,
    Course,
    Enrollment,
    GuardianLink,
    Instructor,
    LiveSession,
    User,
)
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.permissions import require_signed_in

DAYS_BACK = 90
DAYS_AHEAD = 365

# --- the secret -----------------------------------------------------------------------------


def feed_secret(settings: Settings, user_id: int, nonce: str) -> str:
    """43 URL-safe characters (256 bits) that only this server's key can derive."""
    key = hashlib.sha256(b"sessiongraph calendar feed\0" + settings.jwt_secret.encode()).digest()
    digest = hmac.new(key, f"{user_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_url(settings: Settings, secret: str) -> str:
    return f"{settings.public_url}/calendar/{secret}.ics"


def uid_domain(settings: Settings) -> str:
    """The right-hand side of every VEVENT's UID (`live-session-<ID>@<domain>`), the feed's and the emails'."""
    return urlsplit(settings.public_url).hostname or "sessiongraph"


def session_page(settings: Settings, live_session_id: int) -> str:
    """The live session's details in the web client (clients/web/app opens `#session=<ID>`)."""
    return f"{settings.public_url}/app/#session={global_id('LiveSession', live_session_id)}"


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    created_at: datetime


_FEEDS = inspect(CalendarFeed).local_table
_FEED_OF_USER = select(_FEEDS.c.nonce, _FEEDS.c.secret_hash, _FEEDS.c.created_at).where(
    _FEEDS.c.user_id == bindparam("user_id"))


async def calendar_feed(ctx: Context) -> FeedLink:
    """The viewer's feed, issued on first read. One whose stored hash no longer matches (the
    key changed) is issued anew: its old URL could not open it anyway."""
    user = require_signed_in(ctx)
    assert user.id is not None  # a stored user
    async with ctx.read() as db:
        row = (await db.execute(_FEED_OF_USER, {"user_id": user.id})).first()
    if row is None:
        return await _issue(ctx, user.id, replacing=None)
    return _link_of(ctx.settings, user.id, row) or await _issue(ctx, user.id, replacing=row.secret_hash)


async def reset_calendar_feed(ctx: Context) -> FeedLink:
    """A new secret for the viewer's feed; the old URL answers 404 from now on."""
    user = require_signed_in(ctx)
    assert user.id is not None  # a stored user
    return await _issue(ctx, user.id, replacing=None, always=True)


def _link_of(settings: Settings, user_id: int, row: Any) -> FeedLink | None:
    secret = feed_secret(settings, user_id, row.nonce)
    if secret_hash(secret) != row.secret_hash:
        return None
    return FeedLink(url=feed_url(settings, secret), created_at=row.created_at)


async def _issue(ctx: Context, user_id: int, *, replacing: str | None, always: bool = False) -> FeedLink:
    """Writes a new nonce and hash: always (a reset), over the row holding `replacing` (a stale
    hash), or only where the user has none. Two first reads at once both end with the one
    row that won: the conflict leaves it, and the loser reads it."""
    nonce = secrets.token_hex(16)
    values = {"user_id": user_id, "nonce": nonce, "secret_hash": secret_hash(feed_secret(ctx.settings, user_id, nonce)),
              "created_at": ctx.now}
    async with ctx.database.write() as db:
        insert = (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(CalendarFeed)
        statement = insert.values(values)
        if always or replacing is not None:
            statement = statement.on_conflict_do_update(
                index_elements=[_FEEDS.c.user_id],
                set_={name: statement.excluded[name] for name in ("nonce", "secret_hash", "created_at")},
                where=None if always else _FEEDS.c.secret_hash == replacing)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[_FEEDS.c.user_id])
        row = (await db.execute(statement.returning(_FEEDS.c.nonce, _FEEDS.c.secret_hash,
                                                    _FEEDS.c.created_at))).first()
        if row is None:  # the conflict left another request's row
            row = (await db.execute(_FEED_OF_USER, {"user_id": user_id})).one()
    link = _link_of(ctx.settings, user_id, row)
    assert link is not None  # written with this key, just now
    return link


# --- reading a feed -------------------------------------------------------------------------

_USERS = inspect(User).local_table
# A deactivated user's feed answers 404, as an unknown secret does.
_OWNER_IS_ACTIVE: ColumnElement[bool] = _USERS.c.active.is_(True)
_FEED_OWNER = (select(*_USERS.columns).join(_FEEDS, _FEEDS.c.user_id == _USERS.c.id)
               .where(_FEEDS.c.secret_hash == bindparam("secret_hash"), _OWNER_IS_ACTIVE))


async def feed_owner(connection: AsyncConnection, secret: str) -> User | None:
    """Whose feed the secret opens, if anyone's (and they are active): one statement, the
    same whatever the secret, its length or how much of it is right."""
    row = (await connection.execute(_FEED_OWNER, {"secret_hash": secret_hash(secret)})).first()
    return User(**row._mapping) if row is not None else None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One live session on a feed: its columns (`live_session`: _FEED_COLUMNS and `is_virtual`),
    its course's title, its instructor's name, and the names of the feed owner's children it is
    on (a guardian's)."""

    live_session: Any
    course_title: str
    instructor_name: str
    children: tuple[str, ...]


_PERSON = bindparam("user_id", type_=Integer)
_LIVE_SESSIONS = inspect(LiveSession).local_table


def _audience() -> Any:
    """(live session, person) for every live session on the feed: booked or enrolled by the
    owner or one of their children, or taught by the owner."""
    people = union(select(_PERSON.label("id")),
                   select(col(GuardianLink.learner_id)).where(col(GuardianLink.guardian_id) == _PERSON))
    bookings = inspect(Booking).local_table
    booked = (select(bookings.c.live_session_id, bookings.c.learner_id.label("person_id"))
              .where(bookings.c.status == BookingStatus.BOOKED.value, bookings.c.learner_id.in_(people)))
    enrolled = (select(col(LiveSession.id), col(Enrollment.user_id))
                .join(Enrollment, col(Enrollment.session_id) == col(LiveSession.session_id))
                .where(col(Enrollment.user_id).in_(people)))
    taught = (select(col(LiveSession.id), col(Instructor.user_id))
              .join(Instructor, col(Instructor.id) == col(LiveSession.instructor_id))
              .where(col(Instructor.user_id) == _PERSON))
    return union(booked, enrolled, taught).subquery("audience")


_AUDIENCE = _audience()
_FEED_COLUMNS = ("id", "code", "lesson_name", "lesson_goal", "starts_at", "ends_at", "location_name",
                 "location_address", "location_room", "cancelled_at", "cancellation_reason", "sequence",
                 "created_at", "updated_at")
# A live session's columns as a feed or an email shows it: _FEED_COLUMNS, whether it is online (never the
# classroom URL: that only the Join rule hands out), its course's title and its instructor's name.
_ENTRY_COLUMNS = (*(_LIVE_SESSIONS.c[name] for name in _FEED_COLUMNS),
                  _LIVE_SESSIONS.c.virtual_classroom_url.is_not(None).label("is_virtual"),
                  col(Course.title).label("course_title"), col(Instructor.display_name).label("instructor_name"))
_FEED_ROWS = (
    select(*_ENTRY_COLUMNS, _AUDIENCE.c.person_id, col(User.name).label("person_name"))
    .select_from(_LIVE_SESSIONS)
    .join(_AUDIENCE, _AUDIENCE.c.live_session_id == _LIVE_SESSIONS.c.id)
    .join(Course, col(Course.id) == _LIVE_SESSIONS.c.course_id)
    .join(Instructor, col(Instructor.id) == _LIVE_SESSIONS.c.instructor_id)
    .join(User, col(User.id) == _AUDIENCE.c.person_id)
    .where(_LIVE_SESSIONS.c.starts_at >= bindparam("from_"), _LIVE_SESSIONS.c.starts_at < bindparam("to"))
    .order_by(_LIVE_SESSIONS.c.starts_at, _LIVE_SESSIONS.c.id, col(User.name)))
_ENTRIES_BY_ID = (
    select(*_ENTRY_COLUMNS).select_from(_LIVE_SESSIONS)
    .join(Course, col(Course.id) == _LIVE_SESSIONS.c.course_id)
    .join(Instructor, col(Instructor.id) == _LIVE_SESSIONS.c.instructor_id)
    .where(_LIVE_SESSIONS.c.id.in_(bindparam("ids", expanding=True))))


async def entries_by_id(connection: AsyncConnection, live_session_ids: Sequence[int]) -> dict[int, FeedEntry]:
    """The live sessions as a feed would show them to their learner (no children's names), by ID."""
    if not live_session_ids:
        return {}
    rows = (await connection.execute(_ENTRIES_BY_ID, {"ids": sorted(set(live_session_ids))})).all()
    return {row.id: FeedEntry(live_session=row, course_title=row.course_title, instructor_name=row.instructor_name,
                              children=()) for row in rows}


def feed_span(now: datetime) -> tuple[datetime, datetime]:
    """The live sessions a feed shows start in [now - 90 days, now + 365 days)."""
    return now - timedelta(days=DAYS_BACK), now + timedelta(days=DAYS_AHEAD)


async def feed_entries(connection: AsyncConnection, owner: User, now: datetime) -> list[FeedEntry]:
    """The live sessions of the owner's feed, by start: one statement whatever their number."""
    from_, to = feed_span(now)
    rows = (await connection.execute(_FEED_ROWS, {"user_id": owner.id, "from_": from_, "to": to})).all()
    return _entries(rows, owner.id)


def _entries(rows: Sequence[Any], owner_id: int | None) -> list[FeedEntry]:
    """One entry per live session: its rows (one per person it is on the feed for) merged."""
    entries: list[FeedEntry] = []
    children: list[str] = []
    for n, row in enumerate(rows):
        if row.person_id != owner_id:
            children.append(row.person_name)
        if n + 1 == len(rows) or rows[n + 1].id != row.id:
            entries.append(FeedEntry(live_session=row, course_title=row.course_title,
                                     instructor_name=row.instructor_name, children=tuple(children)))
            children = []
    return entries


async def read_feed(database: Database, secret: str, now: datetime) -> tuple[User, list[FeedEntry]] | None:
    """The owner of the feed and its entries (two statements); None for a secret that opens none."""
    async with database.read_rows() as connection:
        owner = await feed_owner(connection, secret)
        if owner is None:
            return None
        return owner, await feed_entries(connection, owner, now)
