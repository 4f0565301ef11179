"""Email over SMTP: booking confirmations, cancellations, reschedules, waitlist promotions,
absence decisions, reminders and invitations.

- The outbox relay hands every event to email (`queue_messages`, a consumer of the outbox with
  its own position), which writes one `email_message` per (event, recipient) in the relay's
  transaction: the user the event's `userId` names, if they are active, have an address and
  have email on (`User.emailNotifications`). Without SMTP_URL nothing is queued (the relay
  logs what it passed over). An invitation is queued by createUser itself (`queue_invitation`).
- Every instance's `EmailSender` sends due messages, each under a lease (`lease_until`, taken
  with `FOR UPDATE SKIP LOCKED` on PostgreSQL, under SQLite's write lock there), so two
  instances never send one at the same time; the lease outlives an attempt's timeout, so a
  message whose instance died is taken again later (at least once).
- A message is composed when it is sent, from the rows as they are then: the user's name and
  zone (times are written in it), the live session, its course and instructor. A confirmation
  (booked, rescheduled, promoted from a waitlist) carries the live session as an `.ics`
  (METHOD:PUBLISH, the calendar feed's UID and SEQUENCE). Text and HTML say the same lines; the
  HTML escapes every value.
- An attempt (connect, send, quit) gives up after EMAIL_TIMEOUT_SECONDS. A 5xx reply is final
  (FAILED); anything else is retried with exponential backoff and jitter
  (models/webhooks.py `retry_wait`) until EMAIL_RETRY_HOURS after the message was queued, then
  FAILED. A message that no longer makes sense when its turn comes (email turned off, the
  invitation used or expired, the reminder's live session begun or cancelled) is SKIPPED.
  Nothing here runs inside a mutation: an SMTP server that is down or hangs delays mail only.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage as Mail
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.infrastructure.background import Round, Worker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database, notify_on_commit
from sessiongraph.infrastructure.passwords import secret_digest
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import id_of
from sessiongraph.infrastructure.tracing import NO_TRACING, Tracing
from sessiongraph.infrastructure.zones import zone_named
from sessiongraph.models import EmailMessage, EmailStatus, Invitation, User
from sessiongraph.models.email import INVITATION_KIND
from sessiongraph.models.events import EventType, OutboxCounterName
from sessiongraph.models.webhooks import retry_wait
from sessiongraph.resolvers.calendar_feed import FeedEntry, entries_by_id, session_page, uid_domain
from sessiongraph.resolvers.icalendar_writer import event_calendar
from sessiongraph.resolvers.outbox import BACKGROUND, Consumer, OutboxEvent, dialect_insert, lease_due
from sessiongraph.resolvers.signin import invitation_token, invitation_url

log = logging.getLogger("sessiongraph.email")

messages: Table = EmailMessage.__table__  # type: ignore[attr-defined]
users: Table = User.__table__  # type: ignore[attr-defined]
invitations: Table = Invitation.__table__  # type: ignore[attr-defined]

SEND_BATCH = 20
# Longer than an attempt may take, so a lease ends only when its instance has died.
LEASE = timedelta(minutes=2)
ERROR_MAX_LENGTH = 500
# The events whose email confirms a booking, with the live session attached as an .ics.
CONFIRMATIONS = frozenset({EventType.BOOKING_CREATED.value, EventType.BOOKING_RESCHEDULED.value,
                           EventType.WAITLIST_PROMOTED.value})
EMAILED = CONFIRMATIONS | {EventType.BOOKING_CANCELLED.value, EventType.ABSENCE_REQUEST_REVIEWED.value,
                           EventType.REMINDER_DUE.value}


# --- queueing: by the relay, and by createUser ---------------------------------------------------


def consumer(settings: Settings, then: Callable[[], None] | None = None) -> Consumer:
    """Email as a consumer of the outbox: its position is the EMAIL counter row. Without SMTP_URL it still
    moves its position, so setting SMTP_URL later does not mail what happened before."""

    async def take(db: AsyncSession, batch: Sequence[OutboxEvent], now: datetime) -> None:
        await queue_messages(db, batch, now, enabled=settings.smtp_url is not None)

    return Consumer(OutboxCounterName.EMAIL, take, then)


async def queue_messages(db: AsyncSession, batch: Sequence[OutboxEvent], now: datetime, *, enabled: bool) -> None:
    """One message per emailed event and the user it names, if they get email; in the relay's transaction."""
    wanted = [(event, json.loads(event.data)) for event in batch if event.type in EMAILED]
    recipients = {event.id: user_id for event, data in wanted
                  if (user_id := id_of("User", data.get("userId"))) is not None}
    if not recipients:
        return
    if not enabled:
        log.info("%d events not emailed: SMTP_URL is unset", len(recipients))
        return
    reachable = set((await db.scalars(select(users.c.id).where(
        users.c.id.in_(set(recipients.values())), users.c.active.is_(True),
        users.c.email_notifications.is_(True)))).all())
    new = [{"user_id": recipients[event.id], "event_id": event.id, "kind": event.type, "data": event.data,
            "status": EmailStatus.PENDING.value, "attempts": 0, "created_at": now, "next_attempt_at": now}
           for event, _ in wanted if recipients.get(event.id) in reachable]
    if new:
        await db.execute(dialect_insert(db)(messages).on_conflict_do_nothing(), new)


async def queue_invitation(db: AsyncSession, settings: Settings, user_id: int, invitation_id: int,
                           now: datetime) -> bool:
    """Queues the invitation's email in the transaction that made it (when SMTP_URL is set); the sender is
    woken after the commit. The link is written again at send time from the invitation's nonce."""
    if settings.smtp_url is None:
        log.info("invitation %s not emailed: SMTP_URL is unset", invitation_id)
        return False
    await db.execute(messages.insert().values(
        user_id=user_id, invitation_id=invitation_id, kind=INVITATION_KIND, data="{}",
        status=EmailStatus.PENDING.value, attempts=0, created_at=now, next_attempt_at=now))
    notify_on_commit(db)
    return True


# --- the SMTP server ---------------------------------------------------------------------------


def smtp_options(settings: Settings) -> dict[str, Any]:
    """aiosmtplib's connection options from SMTP_URL: smtp:// (port 25, STARTTLS when offered) or smtps://
    (port 465, TLS from the start), with the user and password it carries."""
    assert settings.smtp_url is not None
    url = urlsplit(settings.smtp_url)
    implicit_tls = url.scheme == "smtps"
    return {"hostname": url.hostname or "localhost", "port": url.port or (465 if implicit_tls else 25),
            "username": unquote(url.username) if url.username else None,
            "password": unquote(url.password) if url.password else None,
            "use_tls": implicit_tls, "timeout": settings.email_timeout_seconds}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: EmailStatus | None  # SENT, FAILED (final), SKIPPED; None: try again later
    error: str | None = None
    attempted: bool = True  # whether the SMTP server was tried (a skip is no attempt)


def not_sent(status: EmailStatus, why: str) -> Outcome:
    return Outcome(status, why, attempted=False)


async def send(mail: Mail, settings: Settings) -> Outcome:
    try:
        # aiosmtplib's own timeout bounds each read; this bounds the whole attempt.
        async with asyncio.timeout(settings.email_timeout_seconds):
            await aiosmtplib.send(mail, **smtp_options(settings))
    except aiosmtplib.SMTPRecipientsRefused as refused:
        codes = [recipient.code for recipient in refused.recipients]
        final = all(code >= 500 for code in codes)
        return Outcome(EmailStatus.FAILED if final else None, f"recipient refused: {codes}")
    except aiosmtplib.SMTPResponseException as error:
        return Outcome(EmailStatus.FAILED if error.code >= 500 else None, f"{error.code} {error.message}")
    except (TimeoutError, OSError, aiosmtplib.SMTPException) as error:
        return Outcome(None, repr(error))
    return Outcome(EmailStatus.SENT)


# --- composing, at send time ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    user_id: int
    kind: str
    data: dict[str, Any]
    invitation_id: int | None
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    email: str
    name: str
    zone: ZoneInfo
    active: bool
    wants_email: bool


@dataclass(frozen=True, slots=True)
class Content:
    subject: str
    # Paragraphs, the same in the text part and the HTML part (each line of one a line break in the other).
    paragraphs: list[str]
    link: tuple[str, str] | None = None  # (label, URL)
    calendar: bytes | None = None


def when(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """Like "Tuesday 3 March 2026, 09:00-10:00 (Pacific/Auckland)" (an en dash between the times): in the
    reader's zone, in English whatever the host's locale."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day = f"{start:%A} {start.day} {start:%B %Y}"
    return f"{day}, {start:%H:%M}–{end:%H:%M} ({zone.key})"


_HEADLINES = {
    EventType.BOOKING_CREATED.value: ("Booked: {course}", "You are booked on this live session."),
    EventType.BOOKING_RESCHEDULED.value: ("Moved: {course}", "Your booking was moved to this live session."),
    EventType.WAITLIST_PROMOTED.value: ("A seat for you: {course}",
                                        "A seat came free and you are now booked on this live session."),
    EventType.BOOKING_CANCELLED.value: ("Cancelled: {course}", "Your booking on this live session was cancelled."),
    EventType.REMINDER_DUE.value: ("Reminder: {course}", "Your live session is coming up."),
}


def event_content(due: Due, entry: FeedEntry, recipient: Recipient, settings: Settings, now: datetime) -> Content:
    ls = entry.live_session
    subject, headline = _HEADLINES.get(due.kind, ("{course}", ""))
    if due.kind == EventType.ABSENCE_REQUEST_REVIEWED.value:
        decision = str(due.data.get("absenceStatus") or "reviewed").lower()
        subject, headline = f"Absence {decision}: {{course}}", f"Your absence request was {decision}."
        if due.data.get("reviewComment"):
            headline += f"\nComment: {due.data['reviewComment']}"
    details = [entry.course_title, when(ls.starts_at, ls.ends_at, recipient.zone),
               f"Instructor: {entry.instructor_name}"]
    if ls.lesson_name:
        details.append(f"Lesson: {ls.lesson_name}")
    calendar = None
    if due.kind in CONFIRMATIONS:
        calendar = event_calendar(entry, zone=recipient.zone, uid_domain=uid_domain(settings),
                                  page_url=session_page(settings, ls.id), stamp=now)
    return Content(subject.replace("{course}", entry.course_title),
                   [f"Hello {recipient.name},", headline, "\n".join(details)],
                   ("Open the session", session_page(settings, ls.id)), calendar)


def invitation_content(recipient: Recipient, url: str, expires_at: datetime) -> Content:
    expiry = expires_at.astimezone(recipient.zone)
    return Content("You are invited to sessiongraph", [
        f"Hello {recipient.name},",
        "An account was made for you. Choose your password with the link below; it works once, until "
        f"{expiry:%A} {expiry.day} {expiry:%B %Y}, {expiry:%H:%M} ({recipient.zone.key})."],
        ("Choose a password", url))


FOOTER = "You get these emails because email notifications are on in your sessiongraph settings."


def compose(content: Content, recipient: Recipient, settings: Settings, message_id: int) -> Mail:
    """The mail: text, the same in HTML as an alternative, the .ics (if any) as an attachment."""
    assert settings.email_from is not None  # Settings.check: required with SMTP_URL
    mail = Mail()
    mail["Subject"] = content.subject
    mail["From"] = settings.email_from
    mail["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
    mail["Message-ID"] = make_msgid(f"email-{message_id}", domain=uid_domain(settings))
    text = list(content.paragraphs)
    if content.link is not None:
        text.append(f"{content.link[0]}: {content.link[1]}")
    mail.set_content("\n\n".join([*text, FOOTER]) + "\n")
    body = "".join(f"<p>{html.escape(paragraph).replace(chr(10), '<br>')}</p>" for paragraph in content.paragraphs)
    if content.link is not None:
        body += f'<p><a href="{html.escape(content.link[1])}">{html.escape(content.link[0])}</a></p>'
    body += f'<p style="color:#666;font-size:small">{html.escape(FOOTER)}</p>'
    mail.add_alternative(f"<!DOCTYPE html><html><body>{body}</body></html>\n", subtype="html")
    if content.calendar is not None:
        mail.add_attachment(content.calendar, maintype="text", subtype="calendar", filename="session.ics",
                            params={"method": "PUBLISH"})
    return mail


# --- sending, by every instance ------------------------------------------------------------------


class EmailSender(Worker):
    """Sends this database's due messages (one per process and app); see the module's comment."""

    name = "email sender"

    def __init__(self, database: Database, clock: Clock, settings: Settings,
                 jitter: Callable[[], float] = random.random, tracing: Tracing = NO_TRACING) -> None:
        # Also woken after each commit that queued a message (an invitation) or recorded an event.
        super().__init__(settings.email_poll_seconds, woken_by=database.on_commit)
        self.database = database
        self.clock = clock
        self.settings = settings
        self.jitter = jitter
        self.tracing = tracing

    async def work(self) -> Round:
        if self.settings.smtp_url is None or not await self._due_waiting():
            return Round.DONE
        return Round.MORE if await self.send_due() == SEND_BATCH else Round.DONE

    async def _due_waiting(self) -> bool:
        """Read first, so a sender with nothing due writes nothing (on SQLite, takes no write lock)."""
        now = self.clock.now()
        async with self.database.read() as db:
            await db.connection(execution_options=BACKGROUND)
            return await db.scalar(select(messages.c.id).where(
                messages.c.status == EmailStatus.PENDING.value, messages.c.next_attempt_at <= now,
                messages.c.lease_until.is_(None) | (messages.c.lease_until <= now)).limit(1)) is not None

    async def send_due(self) -> int:
        """Sends the messages due now (up to a batch), each under a lease; returns how many it took."""
        now = self.clock.now()
        due = await self._lease(now)
        if due:
            mails = await self._compose(due, now)
            outcomes = await asyncio.gather(*(self._send(mail) for mail in mails))
            await self._record(due, list(outcomes))
        return len(due)

    async def _send(self, mail: Mail | Outcome) -> Outcome:
        if not isinstance(mail, Mail):
            return mail
        with self.tracing.span("email send", client=True) as span:
            outcome = await send(mail, self.settings)
            span.set_attribute("sessiongraph.email.status", outcome.status.value if outcome.status else "RETRY")
            return outcome

    async def _lease(self, now: datetime) -> list[Due]:
        async with self.database.write() as db:
            await db.connection(execution_options=BACKGROUND)
            leased = await lease_due(db, messages, now, limit=SEND_BATCH, lease=LEASE)
            if not leased:
                return []
            rows = (await db.execute(
                select(messages.c.id, messages.c.user_id, messages.c.kind, messages.c.data,
                       messages.c.invitation_id, messages.c.attempts, messages.c.created_at)
                .where(messages.c.id.in_(leased)).order_by(messages.c.id))).all()
        return [Due(row.id, row.user_id, row.kind, json.loads(row.data), row.invitation_id, row.attempts,
                    row.created_at) for row in rows]

    async def _compose(self, due: list[Due], now: datetime) -> list[Mail | Outcome]:
        """Each message as a mail, or the Outcome that it is skipped; three reads whatever their number."""
        live_session_ids = [i for d in due if (i := id_of("LiveSession", d.data.get("liveSessionId"))) is not None]
        async with self.database.read() as db:
            await db.connection(execution_options=BACKGROUND)
            recipients = {row.id: Recipient(row.id, row.email, row.name, zone_named(row.time_zone) or ZoneInfo("UTC"),
                                            row.active, row.email_notifications)
                          for row in (await db.execute(
                              select(users.c.id, users.c.email, users.c.name, users.c.time_zone, users.c.active,
                                     users.c.email_notifications)
                              .where(users.c.id.in_({d.user_id for d in due})))).all()}
            invited = {row.id: row for row in (await db.execute(
                select(invitations).where(invitations.c.id.in_({d.invitation_id for d in due if d.invitation_id}))
            )).all()}
            entries = await entries_by_id(await db.connection(), live_session_ids)
        return [self._mail(d, recipients.get(d.user_id), invited, entries, now) for d in due]

    def _mail(self, due: Due, recipient: Recipient | None, invited: dict[int, Any], entries: dict[int, FeedEntry],
              now: datetime) -> Mail | Outcome:
        if recipient is None or not recipient.active:
            return not_sent(EmailStatus.SKIPPED, "the user is gone or deactivated")
        if due.kind == INVITATION_KIND:
            invitation = invited.get(due.invitation_id or 0)
            if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
                return not_sent(EmailStatus.SKIPPED, "the invitation was used or has expired")
            token = invitation_token(self.settings, recipient.id, invitation.nonce or "")
            if invitation.nonce is None or secret_digest(token) != invitation.token_hash:
                return not_sent(EmailStatus.FAILED, "the invitation's link cannot be made again (JWT_SECRET changed?)")
            content = invitation_content(recipient, invitation_url(self.settings, token), invitation.expires_at)
        else:
            if not recipient.wants_email:
                return not_sent(EmailStatus.SKIPPED, "email is off for this user")
            entry = entries.get(id_of("LiveSession", due.data.get("liveSessionId")) or 0)
            if entry is None:
                return not_sent(EmailStatus.SKIPPED, "the live session is gone")
            if due.kind == EventType.REMINDER_DUE.value and (entry.live_session.starts_at <= now
                                                             or entry.live_session.cancelled_at is not None):
                return not_sent(EmailStatus.SKIPPED, "the live session began or was cancelled before the reminder")
            content = event_content(due, entry, recipient, self.settings, now)
        return compose(content, recipient, self.settings, due.id)

    async def _record(self, due: list[Due], outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        give_up_after = timedelta(hours=self.settings.email_retry_hours)
        async with self.database.write() as db:
            await db.connection(execution_options=BACKGROUND)
            for message, outcome in zip(due, outcomes, strict=True):
                status, next_attempt = outcome.status, None
                if status is None:
                    if now - message.created_at >= give_up_after:
                        status = EmailStatus.FAILED
                    else:
                        status, next_attempt = EmailStatus.PENDING, now + retry_wait(message.attempts + 1,
                                                                                      self.jitter())
                if outcome.error is not None:
                    log.info("email %s (%s): %s", message.id, status.value, outcome.error)
                await db.execute(update(messages).where(messages.c.id == message.id).values(
                    status=status.value, attempts=message.attempts + outcome.attempted,
                    last_attempt_at=now, next_attempt_at=next_attempt, lease_until=None,
                    last_error=None if outcome.error is None else outcome.error[:ERROR_MAX_LENGTH]))
