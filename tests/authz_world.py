"""One shared world for the authorization proof, written straight to the database.

Two learners in two administrative sessions, each with a live session, a booking, an
absence request and a credit transaction; a guardian of the first learner; the
instructor of the first learner's live session; a classmate in the same session and booked
on the same live session (whose booking the learner and the guardian must not see); a
session coach and a course coach of the first learner's session; an admin. The second learner's things are what the first
learner's circle must never see, and the other way round.

The first learner's course is bookable: an open slot of it (where the learner's booking may be
rescheduled to) and a full one, whose one seat the classmate holds and on whose waitlist both
learners wait (the second one since joining while enrolled in a session holding the course; a
waitlist entry outlives the access it was joined with, and is then skipped at promotion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sessiongraph import models
from sessiongraph.infrastructure.db import Database
from sessiongraph.schema.relay import to_global_id
from tests.schedule_data import ScheduleData

ROLES = ("anonymous", "learner", "other_learner", "guardian", "instructor", "course_coach", "session_coach", "admin")


@dataclass
class World:
    users: dict[str, models.User | None]
    ids: dict[str, str] = field(default_factory=dict)  # name -> global ID


async def build_world(database: Database, now) -> World:
    data = ScheduleData(database)
    learner = await data.user("Lea Learner")
    other = await data.user("Otto Other")
    classmate = await data.user("Cleo Classmate")
    guardian = await data.user("Gus Guardian")
    session_coach = await data.user("Sam SessionCoach")
    course_coach = await data.user("Cora CourseCoach")
    admin = await data.user("Ada Admin", is_admin=True)
    instructor = await data.instructor("Ines Instructor")
    other_instructor = await data.instructor("Igor OtherInstructor")
    instructor_user = await data.user_of(instructor)
    other_instructor_user = await data.user_of(other_instructor)

    course = await data.course("AUTH1", absence_requests_enabled=True, bookable=True)
    other_course = await data.course("AUTH2", absence_requests_enabled=True)
    window = dict(access_start=now - timedelta(days=30), access_end=now + timedelta(days=30),
                  coach_start=now - timedelta(days=30), coach_end=now + timedelta(days=30))
    category = models.SessionCategory(name="Auth category")
    await data.add(category)
    session = await data.session("Auth session", courses=[course], coach_id=session_coach.id,
                                 category_id=category.id, **window)
    other_session = await data.session("Other session", courses=[other_course], **window)
    await data.add(models.SessionCourseCoach(session_id=session.id, course_id=course.id, user_id=course_coach.id))
    await data.enroll(session, learner, classmate)
    await data.enroll(other_session, other)
    await data.guardian_of(guardian, learner)

    live = await data.live_session(course, instructor, now + timedelta(days=2), session_id=session.id,
                                   virtual_classroom_url="https://class.example.test/auth1")
    other_live = await data.live_session(other_course, other_instructor, now + timedelta(days=2),
                                         session_id=other_session.id)
    booking = await data.book(learner, live)
    other_booking = await data.book(other, other_live)
    classmate_booking = await data.book(classmate, live)
    absence = models.AbsenceRequest(booking_id=booking.id, reason="Ill", requested_at=now)
    other_absence = models.AbsenceRequest(booking_id=other_booking.id, reason="Away", requested_at=now)
    await data.add(absence, other_absence)
    # Each learner: a deposit, then the debit of their booking (the transaction the world names).
    transactions = []
    for user, paid in ((learner, booking), (other, other_booking)):
        await data.add(models.CreditAccount(user_id=user.id, balance=4))
        await data.add(models.CreditTransaction(user_id=user.id, kind="DEPOSIT", amount=5, balance_after=5,
                                                description="Deposit", created_at=now))
        debit = models.CreditTransaction(user_id=user.id, kind="BOOKING", amount=-1, balance_after=4,
                                         description="Booking", booking_id=paid.id,
                                         live_session_id=paid.live_session_id, created_at=now)
        await data.add(debit)
        transactions.append(debit)
    user_class = models.UserClass(name="Auth class")
    await data.add(user_class)
    slot = models.BookableSlot(course_id=course.id, instructor_id=instructor.id, starts_at=now + timedelta(days=5),
                               ends_at=now + timedelta(days=5, hours=1), seats=3)
    await data.add(slot)
    full_slot, entries = await _full_slot_with_waitlist(data, course, instructor, now, classmate, (learner, other))
    endpoint = models.WebhookEndpoint(url="https://93.184.216.34/hooks", event_types='["booking.created"]',
                                      secret="whsec_c2VjcmV0", created_at=now)
    await data.add(endpoint)
    delivery = models.WebhookDelivery(endpoint_id=endpoint.id, event_id=1, event_type="booking.created",
                                      webhook_id="msg_1", body="{}", created_at=now)
    await data.add(delivery)

    entry = models.AuditEntry(at=now, actor_id=admin.id, action="updateSession",
                              subject_id=to_global_id("Session", session.id), changes='{"name": ["A", "B"]}')
    await data.add(entry)

    world = World(users={
        "anonymous": None, "learner": learner, "other_learner": other, "guardian": guardian,
        "instructor": instructor_user, "course_coach": course_coach, "session_coach": session_coach, "admin": admin,
    })
    named = {
        "User:learner": ("User", learner.id), "User:other_learner": ("User", other.id),
        "User:guardian": ("User", guardian.id), "User:instructor": ("User", instructor_user.id),
        "User:other_instructor": ("User", other_instructor_user.id),
        "User:session_coach": ("User", session_coach.id), "User:course_coach": ("User", course_coach.id),
        "User:admin": ("User", admin.id), "User:classmate": ("User", classmate.id),
        "UserClass": ("UserClass", user_class.id),
        "Course": ("Course", course.id), "Course:other": ("Course", other_course.id),
        "Session": ("Session", session.id), "Session:other": ("Session", other_session.id),
        "SessionCategory": ("SessionCategory", category.id),
        "LiveSession": ("LiveSession", live.id), "LiveSession:other": ("LiveSession", other_live.id),
        "Booking": ("Booking", booking.id), "Booking:other": ("Booking", other_booking.id),
        "Booking:classmate": ("Booking", classmate_booking.id),
        "Instructor": ("Instructor", instructor.id), "Instructor:other": ("Instructor", other_instructor.id),
        "BookableSlot": ("BookableSlot", slot.id), "BookableSlot:full": ("BookableSlot", full_slot.id),
        "WaitlistEntry": ("WaitlistEntry", entries[0].id), "WaitlistEntry:other": ("WaitlistEntry", entries[1].id),
        "CreditTransaction": ("CreditTransaction", transactions[0].id),
        "CreditTransaction:other": ("CreditTransaction", transactions[1].id),
        "AbsenceRequest": ("AbsenceRequest", absence.id), "AbsenceRequest:other": ("AbsenceRequest", other_absence.id),
        "AuditEntry": ("AuditEntry", entry.id),
        "WebhookEndpoint": ("WebhookEndpoint", endpoint.id), "WebhookDelivery": ("WebhookDelivery", delivery.id),
    }
    world.ids = {name: to_global_id(type_name, db_id) for name, (type_name, db_id) in named.items()}
    # IDs that name nothing, one per type: null for everyone.
    for type_name in {t for t, _ in named.values()}:
        world.ids[f"{type_name}:missing"] = to_global_id(type_name, 987654)
    return world


async def _full_slot_with_waitlist(data: ScheduleData, course: models.Course, instructor: models.Instructor, now,
                                   holder: models.User, waiting: tuple[models.User, ...],
                                   ) -> tuple[models.BookableSlot, list[models.WaitlistEntry]]:
    """A one-seat slot as its first booking leaves it (resolvers/seats.py: the live session it
    became, its seat taken), with the waiting learners queued in order."""
    starts_at = now + timedelta(days=6)
    live = await data.live_session(course, instructor, starts_at, capacity=1)
    await data.book(holder, live)
    slot = models.BookableSlot(course_id=course.id, instructor_id=instructor.id, starts_at=starts_at,
                               ends_at=live.ends_at, seats=1, booked=1, live_session_id=live.id,
                               waitlist_joined=len(waiting))
    await data.add(slot)
    entries = [models.WaitlistEntry(slot_id=slot.id, learner_id=learner.id, position=position, joined_at=now,
                                    expires_at=starts_at)  # the course gives no cancellation notice
               for position, learner in enumerate(waiting, start=1)]
    await data.add(*entries)
    return slot, entries
