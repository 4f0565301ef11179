"""Data sets of a chosen size, written straight to the database, for the tests that check a
client operation costs the same statements (and uses indexes) however much data there is.

Each builder takes `n`, the length of the lists the operation returns, and makes every
related row distinct per item (each live session its own instructor and course, each
session its own coach and category...), so a loader that fails to batch shows up as
more statements, not as one cached key. Builders can run several times in one test:
names, codes and emails carry a tag of their own.

Test modules import the fixture: `from tests.sized_data import sized  # noqa: F401`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from sessiongraph import models
from sessiongraph.infrastructure.db import Database
from sessiongraph.schema.relay import to_global_id
from tests.conftest import NOW

_tags = itertools.count(1)

MIDNIGHT = NOW.replace(hour=0, minute=0)
MONTH_AHEAD = timedelta(days=30)
# A booked live session of every schedule is under way, its Join window open: whether the
# viewer may join is only asked then, and both sizes must ask it.
UNDER_WAY = NOW - timedelta(minutes=20)


def clear_of_now(starts_at: datetime) -> datetime:
    """A start today whose hour ends before NOW or starts after it: the one under way is alone."""
    return starts_at + timedelta(hours=2) if starts_at >= NOW - timedelta(hours=1) else starts_at


def gid(row: Any) -> str:
    """The global ID of a row: each model has its GraphQL type's name."""
    return to_global_id(type(row).__name__, row.id)


@dataclass
class Schedule:
    """A learner's schedule of `n` past, `n` today's and `n` upcoming live sessions."""

    tag: str  # in every name and title the data set gives
    learner: models.User
    history_course: models.Course  # the course about half of the schedule is of
    bookable_course: models.Course  # with `n` open slots over the next two weeks
    detail: models.LiveSession  # booked ahead, with a debit, an absence request and others booked
    absence_from: models.LiveSession  # booked ahead, absence requests taken, none asked yet
    booking: models.Booking  # the learner's booking on `absence_from`, cancellable
    slot: models.BookableSlot  # free, of the bookable course


@dataclass
class SessionWithPeople:
    """An administrative session with `n` courses (two coaches each), `n` learners and
    `n` live sessions with reports."""

    session: models.Session
    courses: list[models.Course]
    learners: list[models.User]
    coaches: list[models.User]
    outsiders: list[models.User]  # `n` users not enrolled
    absence_request: models.AbsenceRequest


@dataclass
class Lifecycle:
    """A learner's booking lifecycle at size `n`: a booking to move, slots to wait for, waitlists
    `n` long."""

    learner: models.User
    booking: models.Booking  # on a full slot of one seat that `n` others wait for
    free_slot: models.BookableSlot  # of the same course, to move the booking to
    full_slot: models.BookableSlot  # booked by someone else, `n` others waiting: to join, or to withdraw
    entry: models.WaitlistEntry  # the learner's, WAITING, one of `n` on slots they wait for


class SizedData:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def _insert(self, db, rows: list[Any]) -> list[Any]:
        db.add_all(rows)
        await db.flush()
        return rows

    async def _users(self, db, tag: str, role: str, n: int, **fields: Any) -> list[models.User]:
        return await self._insert(db, [models.User(name=f"{role.title()} {tag}-{k:03d}",
                                                   email=f"{role}-{tag}-{k}@example.test", **fields)
                                       for k in range(n)])

    async def _instructors(self, db, tag: str, n: int) -> list[models.Instructor]:
        users = await self._users(db, tag, "teacher", n)
        return await self._insert(db, [models.Instructor(user_id=u.id, display_name=u.name, bio=f"{u.name} teaches.")
                                       for u in users])

    async def _courses(self, db, tag: str, n: int, **fields: Any) -> list[models.Course]:
        fields.setdefault("title", "Conversation")
        title = fields.pop("title")
        return await self._insert(db, [models.Course(code=f"{tag}-{k}", title=f"{title} {tag}-{k:03d}", **fields)
                                       for k in range(n)])

    async def _deposit(self, db, user: models.User, amount: int) -> models.CreditAccount:
        account = models.CreditAccount(user_id=user.id, balance=amount, updated_at=NOW)
        db.add_all([account, models.CreditTransaction(
            user_id=user.id, kind="DEPOSIT", amount=amount, balance_after=amount, description="Deposit",
            created_at=NOW - MONTH_AHEAD)])
        await db.flush()
        return account

    async def schedule(self, n: int) -> Schedule:
        """A learner (UTC) with `n` past, `n` today's and `n` upcoming live sessions, all in
        March 2026 (the month of NOW): a third booked with a debit, a third through the
        administrative session they are enrolled in, a third booked with a report (past), an
        absence request (ahead) or a cancellation refunded (every other one); each with its
        own instructor and, half of them, the history course; the first of today's is under way
        (booked, with a classroom URL). Plus `n` administrative sessions
        for My sessions, `n` bookable courses, and `n` open slots of one of them."""
        tag = f"s{next(_tags)}"
        async with self.database.write() as db:
            (learner,) = await self._users(db, tag, "learner", 1)
            others = await self._users(db, tag, "classmate", n)
            coaches = await self._users(db, tag, "coach", n)
            instructors = await self._instructors(db, tag, n)
            (history,) = await self._courses(db, f"{tag}H", 1, title="History", bookable=True,
                                             absence_requests_enabled=True)
            courses = await self._courses(db, tag, n, bookable=True, absence_requests_enabled=True)
            categories = await self._insert(db, [models.SessionCategory(name=f"Category {tag}-{k}")
                                                 for k in range(n)])
            # My sessions: a third current, a third upcoming, a third past; the first holds every course.
            starts = [NOW - timedelta(days=10), NOW + timedelta(days=5), NOW - timedelta(days=60)]
            sessions = await self._insert(db, [models.Session(
                name=f"Term {tag}-{k:03d}", description="A term", category_id=categories[k].id,
                coach_id=coaches[k].id, access_start=starts[k % 3], access_end=starts[k % 3] + MONTH_AHEAD,
                visibility="VISIBLE") for k in range(n)])
            term = sessions[0]
            await self._insert(db, [models.SessionCourse(session_id=term.id, course_id=c.id, position=p)
                                    for p, c in enumerate([history, *courses])])
            await self._insert(db, [models.SessionCourse(session_id=s.id, course_id=courses[k].id, position=0)
                                    for k, s in enumerate(sessions[1:], 1)])
            await self._insert(db, [models.Enrollment(session_id=s.id, user_id=learner.id, enrolled_at=NOW)
                                    for s in sessions])
            account = await self._deposit(db, learner, 10 * n)

            times = ([MIDNIGHT - timedelta(hours=2 + 6 * i) for i in range(n)]
                     + [UNDER_WAY] + [clear_of_now(MIDNIGHT + timedelta(minutes=30 + i * 21 * 60 // n))
                                      for i in range(1, n)]
                     + [MIDNIGHT + timedelta(days=1, hours=9 + 12 * i) for i in range(n)])
            live_sessions = await self._insert(db, [models.LiveSession(
                code=f"{tag}-L{k}", course_id=(history if k % 2 == 0 else courses[k % n]).id,
                instructor_id=instructors[k % n].id, session_id=term.id if k % 3 == 1 else None,
                starts_at=at, ends_at=at + timedelta(hours=1), lesson_name=f"Lesson {k}", lesson_goal="Practice",
                virtual_classroom_url="https://room.test/x" if k % 2 == 0 or at == UNDER_WAY else None,
                location_name="Hall" if k % 4 else None, location_room="2" if k % 4 else None,
                recording_url="https://rec.test/x" if at < NOW else None,
                extra_links=[{"title": "Slides", "url": "https://slides.test/x"}],
                cancelled_at=NOW - timedelta(days=1) if k % 6 == 5 else None,
                created_at=NOW - MONTH_AHEAD, updated_at=NOW - MONTH_AHEAD) for k, at in enumerate(times)])
            booked = [ls for k, ls in enumerate(live_sessions) if k % 3 != 1]
            bookings = await self._insert(db, [models.Booking(
                learner_id=learner.id, live_session_id=ls.id, booked_at=NOW - MONTH_AHEAD) for ls in booked])
            balance = account.balance
            for booking, live_session in zip(bookings, booked, strict=True):
                balance -= 1
                db.add(models.CreditTransaction(
                    user_id=learner.id, kind="BOOKING", amount=-1, balance_after=balance, description="Booking",
                    live_session_id=live_session.id, booking_id=booking.id, created_at=NOW - MONTH_AHEAD))
                if live_session.cancelled_at is not None:
                    balance += 1
                    db.add(models.CreditTransaction(
                        user_id=learner.id, kind="REFUND", amount=1, balance_after=balance, description="Refund",
                        live_session_id=live_session.id, booking_id=booking.id, created_at=live_session.cancelled_at))
            account.balance = balance
            statuses = list(models.AttendanceStatus)
            await self._insert(db, [models.AttendanceReport(
                live_session_id=ls.id, learner_id=learner.id, status=statuses[k % 4].value, feedback="Well done",
                recorded_at=ls.ends_at) for k, ls in enumerate(live_sessions) if ls.ends_at <= NOW])
            ahead = [(b, ls) for b, ls in zip(bookings, booked, strict=True)
                     if ls.starts_at > NOW and ls.cancelled_at is None]
            (_detail_booking, detail), (booking, absence_from) = ahead[0], ahead[1]
            await self._insert(db, [models.AbsenceRequest(booking_id=b.id, reason="Away", requested_at=NOW)
                                    for b, _ in ahead[:1] + ahead[2:]])
            await self._insert(db, [models.Booking(learner_id=u.id, live_session_id=detail.id, booked_at=NOW)
                                    for u in others])
            slots = await self._insert(db, [models.BookableSlot(
                course_id=courses[0].id, instructor_id=instructors[k].id, seats=5,
                starts_at=NOW + timedelta(days=1, hours=7 * k), ends_at=NOW + timedelta(days=1, hours=7 * k + 1))
                for k in range(n)])
            await self._insert(db, [models.BookableSlot(
                course_id=c.id, instructor_id=instructors[k].id, seats=3,
                starts_at=NOW + timedelta(days=2, hours=k), ends_at=NOW + timedelta(days=2, hours=k + 1))
                for k, c in enumerate(courses[1:], 1)])
        return Schedule(tag=tag, learner=learner, history_course=history, bookable_course=courses[0], detail=detail,
                        absence_from=absence_from, booking=booking, slot=slots[0])

    async def guardian(self, n: int, children: int = 2) -> models.User:
        """A guardian of `children` learners, each with a schedule of size `n`."""
        kids = [await self.schedule(n) for _ in range(children)]
        async with self.database.write() as db:
            (guardian,) = await self._users(db, f"g{next(_tags)}", "guardian", 1)
            await self._insert(db, [models.GuardianLink(guardian_id=guardian.id, learner_id=kid.learner.id)
                                    for kid in kids])
        return guardian

    async def instructor(self, n: int) -> models.User:
        """The user of an instructor with `n` live sessions ahead, each of its own course, with three
        bookings (one cancelled) and, from another learner, a report."""
        tag = f"t{next(_tags)}"
        async with self.database.write() as db:
            (instructor,) = await self._instructors(db, tag, 1)
            courses = await self._courses(db, tag, n)
            learners = await self._users(db, tag, "learner", 3)
            live_sessions = await self._insert(db, [models.LiveSession(
                code=f"{tag}-L{k}", course_id=c.id, instructor_id=instructor.id,
                starts_at=NOW + timedelta(hours=1 + 3 * k), ends_at=NOW + timedelta(hours=2 + 3 * k),
                lesson_name=f"Lesson {k}", virtual_classroom_url="https://room.test/x",
                location_name="Hall" if k % 2 else None) for k, c in enumerate(courses)])
            await self._insert(db, [models.Booking(
                learner_id=u.id, live_session_id=ls.id, booked_at=NOW,
                status="CANCELLED" if u is learners[2] else "BOOKED") for ls in live_sessions for u in learners])
            return await db.get(models.User, instructor.user_id)

    async def admin_sessions(self, n: int) -> str:
        """`n` sessions named "Cohort <tag> …", each with its own category and coach, three
        courses with a coach each, and four learners; returns the tag to search them by."""
        tag = f"a{next(_tags)}"
        async with self.database.write() as db:
            coaches = await self._users(db, tag, "coach", n)
            learners = await self._users(db, tag, "learner", 4)
            courses = await self._courses(db, tag, 3)
            categories = await self._insert(db, [models.SessionCategory(name=f"Category {tag}-{k}")
                                                 for k in range(n)])
            sessions = await self._insert(db, [models.Session(
                name=f"Cohort {tag} {k:03d}", category_id=categories[k].id, coach_id=coaches[k].id,
                access_start=NOW - timedelta(days=k % 30), access_end=NOW + MONTH_AHEAD,
                coach_start=NOW - timedelta(days=40), coach_end=NOW + 2 * MONTH_AHEAD) for k in range(n)])
            await self._insert(db, [models.SessionCourse(session_id=s.id, course_id=c.id, position=p)
                                    for s in sessions for p, c in enumerate(courses)])
            await self._insert(db, [models.SessionCourseCoach(session_id=s.id, course_id=c.id, user_id=coaches[k].id)
                                    for k, s in enumerate(sessions) for c in courses])
            await self._insert(db, [models.Enrollment(session_id=s.id, user_id=u.id, enrolled_at=NOW)
                                    for s in sessions for u in learners])
        return tag

    async def session_with_people(self, n: int) -> SessionWithPeople:
        tag = f"p{next(_tags)}"
        async with self.database.write() as db:
            (category,) = await self._insert(db, [models.SessionCategory(name=f"Category {tag}")])
            learners = await self._users(db, tag, "learner", n)
            outsiders = await self._users(db, tag, "outsider", n)
            coaches = await self._users(db, tag, "coach", 2 * n)
            (instructor,) = await self._instructors(db, tag, 1)
            courses = await self._courses(db, tag, n, absence_requests_enabled=True)
            session = models.Session(
                name=f"Cohort {tag}", description="A cohort", category_id=category.id, coach_id=coaches[0].id,
                access_start=NOW - MONTH_AHEAD, access_end=NOW + MONTH_AHEAD,
                coach_start=NOW - 2 * MONTH_AHEAD, coach_end=NOW + 2 * MONTH_AHEAD)
            await self._insert(db, [session])
            await self._insert(db, [models.SessionCourse(session_id=session.id, course_id=c.id, position=p)
                                    for p, c in enumerate(courses)])
            await self._insert(db, [models.SessionCourseCoach(session_id=session.id, course_id=c.id,
                                                              user_id=coaches[2 * k + j].id)
                                    for k, c in enumerate(courses) for j in range(2)])
            await self._insert(db, [models.Enrollment(session_id=session.id, user_id=u.id, enrolled_at=NOW)
                                    for u in learners])
            live_sessions = await self._insert(db, [models.LiveSession(
                code=f"{tag}-L{k}", course_id=c.id, instructor_id=instructor.id, session_id=session.id,
                starts_at=NOW - timedelta(days=k + 1) if k else NOW + timedelta(days=2),
                ends_at=NOW - timedelta(days=k + 1, hours=-1) if k else NOW + timedelta(days=2, hours=1))
                for k, c in enumerate(courses)])
            statuses = list(models.AttendanceStatus)
            await self._insert(db, [models.AttendanceReport(
                live_session_id=ls.id, learner_id=u.id, status=statuses[(k + j) % 4].value, recorded_at=NOW)
                for k, ls in enumerate(live_sessions[1:]) for j, u in enumerate(learners)])
            # Everyone booked on the one ahead, each with an absence request.
            bookings = await self._insert(db, [models.Booking(learner_id=u.id, live_session_id=live_sessions[0].id,
                                                              booked_at=NOW) for u in learners])
            requests = await self._insert(db, [models.AbsenceRequest(booking_id=b.id, reason="Away",
                                                                     requested_at=NOW) for b in bookings])
        return SessionWithPeople(session=session, courses=courses, learners=learners, coaches=coaches,
                                 outsiders=outsiders, absence_request=requests[0])

    async def admin(self) -> models.User:
        async with self.database.write() as db:
            (admin,) = await self._users(db, f"z{next(_tags)}", "admin", 1, is_admin=True)
        return admin

    async def courses(self, n: int) -> str:
        """`n` courses titled "English <tag> …", every other one bookable; returns the tag."""
        tag = f"c{next(_tags)}"
        async with self.database.write() as db:
            await self._insert(db, [models.Course(code=f"{tag}-{k}", title=f"English {tag} {k:03d}",
                                                  bookable=k % 2 == 0) for k in range(n)])
        return tag

    async def users(self, n: int) -> str:
        tag = f"u{next(_tags)}"
        async with self.database.write() as db:
            await self._users(db, tag, "coach", n)
        return tag

    async def categories(self, n: int) -> str:
        tag = f"k{next(_tags)}"
        async with self.database.write() as db:
            await self._insert(db, [models.SessionCategory(name=f"Category {tag} {k:03d}") for k in range(n)])
        return tag

    async def classes(self, n: int) -> str:
        """`n` classes named "Team <tag> …" of two to four members each; returns the tag."""
        tag = f"m{next(_tags)}"
        async with self.database.write() as db:
            members = await self._users(db, tag, "member", 4)
            classes = await self._insert(db, [models.UserClass(name=f"Team {tag} {k:03d}") for k in range(n)])
            await self._insert(db, [models.ClassMember(class_id=c.id, user_id=u.id)
                                    for k, c in enumerate(classes) for u in members[:2 + k % 3]])
        return tag

    async def ledger(self, n: int) -> models.User:
        """A learner with `n` deposits on their ledger."""
        tag = f"d{next(_tags)}"
        async with self.database.write() as db:
            (learner,) = await self._users(db, tag, "learner", 1)
            await self._insert(db, [models.CreditAccount(user_id=learner.id, balance=n, updated_at=NOW)])
            await self._insert(db, [models.CreditTransaction(
                user_id=learner.id, kind="DEPOSIT", amount=1, balance_after=k + 1, description="Deposit",
                created_at=NOW - timedelta(days=n - k)) for k in range(n)])
        return learner

    async def lifecycle(self, n: int) -> Lifecycle:
        """A learner with access to a bookable course (cost 1) and credits: booked on a full slot
        of one seat that `n` others (with access and credits) wait for; waiting on `n` full slots
        themselves; and a free slot and another full slot with `n` waiting, of the same course."""
        tag = f"w{next(_tags)}"
        async with self.database.write() as db:
            (learner,) = await self._users(db, tag, "learner", 1)
            others = await self._users(db, tag, "waiter", n)
            instructors = await self._instructors(db, tag, n + 3)
            (course,) = await self._courses(db, tag, 1, bookable=True)
            (term,) = await self._insert(db, [models.Session(name=f"Term {tag}", access_start=NOW - MONTH_AHEAD,
                                                             access_end=NOW + MONTH_AHEAD)])
            await self._insert(db, [models.SessionCourse(session_id=term.id, course_id=course.id)])
            await self._insert(db, [models.Enrollment(session_id=term.id, user_id=u.id) for u in [learner, *others]])
            for user in [learner, *others]:
                await self._deposit(db, user, 10)
            starts = [NOW + timedelta(days=1, hours=2 * k) for k in range(n + 3)]
            slots = await self._insert(db, [models.BookableSlot(
                course_id=course.id, instructor_id=instructors[k].id, seats=5 if k == 1 else 1,
                starts_at=at, ends_at=at + timedelta(hours=1)) for k, at in enumerate(starts)])
            booked_slot, free_slot, full_slot, *waited = slots
            full = [booked_slot, full_slot, *waited]
            live_sessions = await self._insert(db, [models.LiveSession(
                code=f"{tag}-{k}", course_id=course.id, instructor_id=slot.instructor_id, starts_at=slot.starts_at,
                ends_at=slot.ends_at, capacity=1, created_at=NOW, updated_at=NOW) for k, slot in enumerate(full)])
            holders = [learner, others[0], *[others[0]] * n]
            bookings = await self._insert(db, [models.Booking(learner_id=holder.id, live_session_id=ls.id, booked_at=NOW)
                                               for holder, ls in zip(holders, live_sessions, strict=True)])
            for slot, live_session in zip(full, live_sessions, strict=True):
                slot.booked, slot.live_session_id = 1, live_session.id
            account = await db.get(models.CreditAccount, learner.id)
            account.balance -= 1
            db.add(models.CreditTransaction(user_id=learner.id, kind="BOOKING", amount=-1, balance_after=9,
                                            description="Booking", live_session_id=live_sessions[0].id,
                                            booking_id=bookings[0].id, created_at=NOW))
            deadline = NOW + timedelta(days=1)
            waiting = [(slot, user) for slot in (booked_slot, full_slot) for user in others[1:] + others[:1]
                       if not (slot is full_slot and user is others[0])]
            entries = await self._insert(db, [
                *(models.WaitlistEntry(slot_id=slot.id, learner_id=user.id, position=k + 1, joined_at=NOW,
                                       expires_at=deadline) for slot in (booked_slot, full_slot)
                  for k, user in enumerate(u for s, u in waiting if s is slot)),
                *(models.WaitlistEntry(slot_id=slot.id, learner_id=learner.id, position=1, joined_at=NOW,
                                       expires_at=deadline) for slot in waited)])
            for slot in full:
                slot.waitlist_joined = sum(1 for e in entries if e.slot_id == slot.id)
        return Lifecycle(learner=learner, booking=bookings[0], free_slot=free_slot, full_slot=full_slot,
                         entry=entries[-1])

    async def instructor_with_slots(self, n: int) -> tuple[models.Instructor, models.Course]:
        """An instructor with `n` slots of a bookable course over the coming days (mornings
        are free from 05:00 to 09:00 UTC)."""
        tag = f"i{next(_tags)}"
        async with self.database.write() as db:
            (instructor,) = await self._instructors(db, tag, 1)
            (course,) = await self._courses(db, tag, 1, bookable=True)
            await self._insert(db, [models.BookableSlot(
                course_id=course.id, instructor_id=instructor.id, seats=4,
                starts_at=MIDNIGHT + timedelta(days=1 + k, hours=10), ends_at=MIDNIGHT + timedelta(days=1 + k, hours=11))
                for k in range(n)])
        return instructor, course

    async def webhook_endpoints(self, n: int) -> models.WebhookEndpoint:
        """`n` webhook endpoints, the first with `n` deliveries; returns the first."""
        async with self.database.write() as db:
            endpoints = await self._insert(db, [models.WebhookEndpoint(
                url=f"https://93.184.216.34/hooks/{k}", event_types='["booking.created"]', secret="whsec_c2VjcmV0",
                created_at=NOW) for k in range(n)])
            await self._insert(db, [models.WebhookDelivery(
                endpoint_id=endpoints[0].id, event_id=k + 1, event_type="booking.created", webhook_id=f"msg_{k + 1}",
                body="{}", created_at=NOW, attempts=1, status="DELIVERED", response_status=200, last_attempt_at=NOW)
                for k in range(n)])
        return endpoints[0]


def at(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def sized(database) -> SizedData:
    return SizedData(database)
