"""Email over SMTP, against a real SMTP server (aiosmtpd) the test runs in its own event loop.

The server keeps what it received; the test parses it with the email package and the
.ics with icalendar. It can be stopped and started again on its port, refuse recipients
with a code, or hold a message before answering. The clock is frozen: a test moves it to a
message's `next_attempt_at`, wakes the sender and waits until it is idle.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage as Mail

import icalendar
import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.models.events import EventType, OutboxCounter, OutboxCounterName
from sessiongraph.resolvers.email import EmailSender
from sessiongraph.resolvers.outbox import record_event
from sessiongraph.schema.relay import from_global_id
from tests.booking_data import BOOK, CANCEL, data, given  # noqa: F401
from tests.conftest import NOW, Caller
from tests.schedule_data import gid

SET_PASSWORD = """mutation($input: SetPasswordInput!) { setPassword(input: $input) { user { id } errors { code } } }"""
CREATE_INVITED = """mutation($email: String!) { createUser(input: {email: $email, name: "Nia <Newcomer>",
  timeZone: "Pacific/Auckland", sendInvitation: true}) { user { id } invitationUrl errors { code } } }"""
FROM = "sessiongraph <noreply@example.test>"


class Inbox:
    """An SMTP server on 127.0.0.1: keeps every message it accepts; `refuse` answers RCPT with that reply
    instead; while `hold` is clear, DATA waits before answering."""

    def __init__(self) -> None:
        self.received: list[Mail] = []
        self.refuse: str | None = None
        self.hold = asyncio.Event()
        self.hold.set()
        self.arrived = asyncio.Event()
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(self, hostname="inbox.test"), "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse is not None:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        await self.hold.wait()
        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
async def inbox():
    inbox = Inbox()
    await inbox.start()
    yield inbox
    inbox.hold.set()
    await inbox.stop()


@pytest.fixture
async def mailing(client_with, inbox):
    """An app that sends email to the inbox; its sender started (woken by commits, polling only hourly)."""
    http = await client_with(smtp_url=f"smtp://127.0.0.1:{inbox.port}", email_from=FROM, email_timeout_seconds=2,
                             email_poll_seconds=3600)
    await http.app.state.email_sender.start()
    return http


async def settle(http) -> None:
    """Until the relay has handed the events on and the sender has sent what is due."""
    await http.app.state.relay.idle()
    await http.app.state.email_sender.idle()


async def stored(database) -> list[models.EmailMessage]:
    async with database.read() as db:
        return list((await db.scalars(select(models.EmailMessage).order_by(models.EmailMessage.id))).all())


async def booked(http, settings, clock, data, given, **learner_fields):
    """A learner (in Auckland unless told) booked on a slot a day ahead of a course whose title needs escaping."""
    course = await given.course(title="Talk <b>&</b> listen", credit_cost=1)
    slot = await given.slot(course, await data.instructor("Ines"), clock.now() + timedelta(days=1))
    learner = await given.learner(course, credits=5)
    async with data.database.write() as db:
        row = await db.get(models.User, learner.id)
        row.time_zone = learner_fields.get("time_zone", "Pacific/Auckland")
        row.email_notifications = learner_fields.get("email_notifications", True)
    caller = Caller(http, settings, clock, learner)
    started = time.monotonic()
    answer = (await caller(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]
    took = time.monotonic() - started
    assert answer["errors"] == []
    return caller, learner, answer["booking"], took


def parts(mail: Mail) -> tuple[str, str, list[Mail]]:
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    return text, html, list(mail.iter_attachments())


async def test_a_booking_is_confirmed_in_the_learner_s_zone_with_the_live_session_as_ics(
        mailing, inbox, settings, clock, data, given, database):
    # given/when: a learner in Auckland books a live session at 12:00 UTC tomorrow (01:00 the day after there)
    caller, learner, booking, _ = await booked(mailing, settings, clock, data, given)
    await settle(mailing)

    # then: one mail, in text and HTML, in the learner's zone
    (mail,) = inbox.received
    assert mail["To"].addresses[0].addr_spec == learner.email and mail["From"] == FROM
    assert mail["Subject"] == "Booked: Talk <b>&</b> listen"
    text, html, attachments = parts(mail)
    moment = "Thursday 12 March 2026, 01:00–02:00 (Pacific/Auckland)"
    assert moment in text and moment in html
    assert "Talk <b>&</b> listen" in text and "Talk &lt;b&gt;&amp;&lt;/b&gt; listen" in html and "<b>&" not in html
    assert "Instructor: Ines" in text and f"Hello {learner.name}," in text

    # ... with the live session as an .ics that icalendar reads: the feed's UID, the user's zone
    (attachment,) = attachments
    assert attachment.get_content_type() == "text/calendar" and attachment.get_filename() == "session.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert calendar["METHOD"] == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    _, live_session_id = from_global_id(booking["liveSession"]["id"])
    assert event["UID"] == f"live-session-{live_session_id}@127.0.0.1"
    assert event["DTSTART"].params["TZID"] == "Pacific/Auckland"
    assert event.decoded("DTSTART").isoformat() == "2026-03-12T01:00:00+13:00"
    assert event.decoded("DTSTART") == NOW + timedelta(days=1)
    (row,) = await stored(database)
    assert (row.status, row.attempts, row.kind) == ("SENT", 1, "booking.created")

    # when: the learner cancels
    cancelled = (await caller(CANCEL, input={"bookingId": booking["id"]}))["cancelBooking"]
    assert cancelled["errors"] == []
    await settle(mailing)

    # then: a cancellation, without .ics
    assert len(inbox.received) == 2
    text, _, attachments = parts(inbox.received[1])
    assert inbox.received[1]["Subject"] == "Cancelled: Talk <b>&</b> listen" and attachments == []
    assert moment in text


async def test_the_attachment_s_uid_is_the_calendar_feed_s(mailing, inbox, settings, clock, data, given):
    caller, _, _, _ = await booked(mailing, settings, clock, data, given)
    await settle(mailing)
    feed_url = (await caller("{ viewer { calendarFeed { url } } }"))["viewer"]["calendarFeed"]["url"]
    feed = icalendar.Calendar.from_ical((await mailing.get(feed_url.removeprefix(settings.public_url))).content)
    (attachment,) = parts(inbox.received[0])[2]
    (mailed,) = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    (listed,) = feed.walk("VEVENT")
    assert (mailed["UID"], mailed["SEQUENCE"], mailed["DTSTART"].to_ical()) == (
        listed["UID"], listed["SEQUENCE"], listed["DTSTART"].to_ical())


async def test_a_user_with_email_off_gets_none_and_nothing_is_queued(mailing, inbox, settings, clock, data, given,
                                                                   database):
    await booked(mailing, settings, clock, data, given, email_notifications=False)
    await settle(mailing)
    assert inbox.received == [] and await stored(database) == []


async def test_without_smtp_url_nothing_is_queued_and_the_position_still_moves(http, settings, clock, data, given,
                                                                              database, app):
    await booked(http, settings, clock, data, given)
    await app.state.relay.idle()
    assert await stored(database) == []
    async with database.read() as db:
        position = await db.get(OutboxCounter, OutboxCounterName.EMAIL.value)
        last = await db.get(OutboxCounter, OutboxCounterName.LAST_EVENT.value)
    assert position is not None and position.value == last.value


async def test_smtp_down_never_slows_the_mutation_and_the_mail_goes_out_once_when_it_is_back(
        mailing, inbox, settings, clock, data, given, database):
    # given: the SMTP server is down
    await inbox.stop()

    # when: a learner books
    _, _, _, took = await booked(mailing, settings, clock, data, given)
    await settle(mailing)

    # then: the booking answered at once; the mail waits for a retry within 30 s
    assert took < 1.0
    (row,) = await stored(database)
    assert (row.status, row.attempts) == ("PENDING", 1) and row.last_error
    assert timedelta(seconds=15) <= row.next_attempt_at - clock.now() <= timedelta(seconds=30)

    # when: the server is back and the retry is due
    await inbox.start()
    clock.set(row.next_attempt_at)
    mailing.app.state.email_sender.wake()
    await settle(mailing)
    mailing.app.state.email_sender.wake()  # another look finds nothing more to send
    await settle(mailing)

    # then: sent, once
    assert len(inbox.received) == 1
    (row,) = await stored(database)
    assert (row.status, row.attempts, row.last_error) == ("SENT", 2, None)


async def test_a_temporary_refusal_is_retried_with_backoff_for_a_day_then_failed_and_a_permanent_one_at_once(
        mailing, inbox, settings, clock, data, given, database):
    inbox.refuse = "451 4.3.0 Try again later"
    await booked(mailing, settings, clock, data, given)
    await settle(mailing)
    queued_at = clock.now()
    waits = []
    while True:
        (row,) = await stored(database)
        if row.status != "PENDING":
            break
        assert row.attempts < 40, row
        waits.append(row.next_attempt_at - row.last_attempt_at)
        clock.set(row.next_attempt_at)
        mailing.app.state.email_sender.wake()
        await settle(mailing)
    assert row.status == "FAILED" and "451" in row.last_error and inbox.received == []
    assert row.last_attempt_at - queued_at >= timedelta(hours=24)
    assert waits[0] <= timedelta(seconds=30) and waits[1] > waits[0] and max(waits) <= timedelta(hours=6)

    # A 5xx is final: FAILED after one attempt.
    inbox.refuse = "550 5.1.1 No such mailbox"
    await booked(mailing, settings, clock, data, given)
    await settle(mailing)
    row = (await stored(database))[-1]
    assert (row.status, row.attempts) == ("FAILED", 1) and "550" in row.last_error


async def test_two_senders_never_send_one_message_twice_and_a_hung_server_never_slows_a_mutation(
        mailing, inbox, settings, clock, data, given, database):
    # given: the server holds the first message before answering
    inbox.hold.clear()
    _, _, _, took = await booked(mailing, settings, clock, data, given)
    await mailing.app.state.relay.idle()
    await asyncio.wait_for(inbox.arrived.wait(), 5)

    # when: another instance's sender looks meanwhile, and another booking is made
    other = EmailSender(database, clock, mailing.app.state.settings)
    assert await other.send_due() == 0  # leased by the first
    _, _, _, took_again = await booked(mailing, settings, clock, data, given)

    # then
    inbox.hold.set()
    await settle(mailing)
    other.wake()
    await other.idle()
    assert took < 1.0 and took_again < 1.0
    assert len(inbox.received) == 2
    assert len({mail["To"].addresses[0].addr_spec for mail in inbox.received}) == 2
    assert [row.status for row in await stored(database)] == ["SENT", "SENT"]


async def test_the_planner_s_reminder_is_mailed_without_ics_and_a_late_one_is_skipped(mailing, inbox, data, database,
                                                                                       clock):
    learner = await data.user("Rita", time_zone="Europe/Paris")
    live_session = await data.live_session(await data.course(title="Piano"), await data.instructor(),
                                           NOW + timedelta(minutes=15))
    await data.book(learner, live_session)

    # when: the 15-minute moment is now, and the planner of the mailing app runs
    planner = mailing.app.state.planner
    planner.wake()
    await planner.idle()
    await settle(mailing)

    # then: the learner's reminder (the instructor gets their own)
    (mail,) = [mail for mail in inbox.received if learner.email in mail["To"]]
    text, _, attachments = parts(mail)
    assert mail["Subject"] == "Reminder: Piano" and attachments == []
    assert "Tuesday 10 March 2026, 13:15–14:15 (Europe/Paris)" in text
    sent = len(inbox.received)

    # A reminder whose live session has begun by the time it could go is not sent.
    clock.set(NOW + timedelta(minutes=20))
    async with database.write() as db:
        await record_event(db, EventType.REMINDER_DUE, {
            "userId": gid("User", learner.id), "liveSessionId": gid("LiveSession", live_session.id),
            "offsetMinutes": 15, "startsAt": live_session.starts_at.isoformat()}, now=clock.now())
    await settle(mailing)
    assert len(inbox.received) == sent
    assert [row.status for row in await stored(database)][-1] == "SKIPPED"


async def test_an_invitation_is_mailed_with_a_link_that_sets_the_first_password(
        mailing, inbox, settings, clock, make_user, database):
    admin = Caller(mailing, settings, clock, await make_user("Ada", is_admin=True))
    created = (await admin(CREATE_INVITED, email="nia@example.test"))["createUser"]
    assert created["errors"] == []
    await mailing.app.state.email_sender.idle()  # woken by createUser's commit

    (mail,) = inbox.received
    text, html, _ = parts(mail)
    assert mail["To"].addresses[0].addr_spec == "nia@example.test" and "Nia &lt;Newcomer&gt;" in html
    assert created["invitationUrl"] in text and "(Pacific/Auckland)" in text
    token = text.split("#invitation=")[1].split()[0]

    # The token is stored nowhere in clear: not in the message row, not in the invitation.
    (row,) = await stored(database)
    async with database.read() as db:
        invitation = (await db.scalars(select(models.Invitation))).one()
    assert row.status == "SENT" and token not in row.data and token not in (invitation.nonce, invitation.token_hash)

    anonymous = Caller(mailing, settings, clock, None)
    accepted = (await anonymous(SET_PASSWORD, input={"invitationToken": token, "newPassword": "my first password"})
                )["setPassword"]
    assert accepted["errors"] == [] and accepted["user"]["id"] == created["user"]["id"]
