"""Demo schedule: instructors, live sessions over the past and next two months (some
today, some cancelled, some recorded and reported), bookings, and a guardian with
two children."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.demo.sessions import DemoPeople
from sessiongraph.models import (
    AttendanceReport,
    AttendanceStatus,
    Booking,
    Course,
    Enrollment,
    GuardianLink,
    Instructor,
    LiveSession,
    Session,
    User,
)
from sessiongraph.models.sessions import SessionCourse
from sessiongraph.resolvers.seats import CODE_ALPHABET, CODE_LENGTH

PARIS = ZoneInfo("Europe/Paris")
WINDOW = timedelta(days=60)
INSTRUCTORS = [
    ("instructor@example.com", "Ines Instructor", "Ms. Ines", "Conversation classes and exam preparation."),
    ("instructor2@example.com", "Marco Bellini", "Marco B.", "Ten years of business English."),
    ("instructor3@example.com", "Aiko Tanaka", "Aiko T.", "Data and Python, from zero to reports."),
    ("instructor4@example.com", "Samuel Osei", "Sam O.", "Leadership coach and former engineering manager."),
    ("instructor5@example.com", "Claire Dubois", "Claire D.", None),
]
LESSONS = ["Warm-up and goals", "Vocabulary in context", "Role play", "Reading together", "Common mistakes",
           "Presentations", "Review and quiz", "Case study", "Group project check-in", "Feedback round"]
# Local (Paris) start times of live classes.
CLASS_TIMES = [time(9, 0), time(11, 0), time(14, 30), time(18, 0)]
ATTENDANCE_MIX = ([AttendanceStatus.PRESENT] * 14 + [AttendanceStatus.LATE] * 3 + [AttendanceStatus.ABSENT] * 2
                  + [AttendanceStatus.EXCUSED])
FEEDBACK = ["Great participation.", "Prepare the reading before next time.", "Clear progress on fluency.",
            "Good questions; keep going.", None, None]


@dataclass
class DemoSchedule:
    instructors: list[Instructor] = field(default_factory=list)
    live_sessions: list[LiveSession] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


async def load(db: AsyncSession, rng: random.Random, now: datetime, people: DemoPeople) -> DemoSchedule:
    demo = DemoSchedule()
    codes: set[str] = set()

    users = [User(email=email, name=name, time_zone="Europe/Paris") for email, name, _, _ in INSTRUCTORS]
    db.add_all(users)
    await db.flush()
    demo.instructors = [Instructor(user_id=u.id, display_name=display, bio=bio)
                        for u, (_, _, display, bio) in zip(users, INSTRUCTORS, strict=True)]
    db.add_all(demo.instructors)

    guardian = User(email="guardian@example.com", name="Gabriel Guardian", time_zone="Europe/Paris")
    children = [User(email="child1@example.com", name="Mila Guardian", time_zone="Europe/Paris"),
                User(email="child2@example.com", name="Noah Guardian", time_zone="Europe/Paris", week_start="SUNDAY")]
    db.add_all([guardian, *children])
    await db.flush()
    db.add_all([GuardianLink(guardian_id=guardian.id, learner_id=c.id, linked_at=now) for c in children])

    # The children learn in the current sessions Lena (learner@example.com) is in.
    lena = people.learners[0]
    current = [s for s in people.sessions if s.access_start is not None and s.access_start <= now < s.access_end]
    lena_sessions = set((await db.scalars(select(Enrollment.session_id).where(Enrollment.user_id == lena.id))).all())
    for child, session in zip(children, [s for s in current if s.id in lena_sessions] * 2, strict=False):
        db.add(Enrollment(session_id=session.id, user_id=child.id, enrolled_at=now))
    await db.flush()

    # Weekly classes for each course of each session, inside its access window and the demo's window.
    rows = await db.execute(select(SessionCourse, Session).join(Session, Session.id == SessionCourse.session_id)
                            .where(Session.access_start.is_not(None)).order_by(Session.id, SessionCourse.position))
    courses = {c.id: c for c in people.courses}
    for n, (session_course, session) in enumerate(rows.all()):
        teacher = demo.instructors[n % len(demo.instructors)]
        slot = CLASS_TIMES[n % len(CLASS_TIMES)]
        weekday = n % 5
        first_day = max(session.access_start, now - WINDOW).astimezone(PARIS).date()
        last_day = min(session.access_end, now + WINDOW).astimezone(PARIS).date()
        day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
        while day <= last_day:
            starts_at = datetime.combine(day, slot, tzinfo=PARIS)
            if session.access_start <= starts_at < session.access_end:
                demo.live_sessions.append(_live_session(rng, codes, now, courses[session_course.course_id],
                                                        teacher, starts_at, session_id=session.id))
            day += timedelta(days=7)

    # Lena's day: one class this morning (ended), one starting within minutes (the Join
    # button is on), one tonight; and bookable one-to-few classes outside any session.
    bookable = [c for c in people.courses if c.bookable]
    today_paris = now.astimezone(PARIS)
    todays = [now - timedelta(hours=3), now + timedelta(minutes=10), today_paris.replace(hour=20, minute=0)]
    lena_booked = []
    for n, starts_at in enumerate(todays):
        live_session = _live_session(rng, codes, now, bookable[n % len(bookable)], demo.instructors[0],
                                     starts_at.replace(second=0, microsecond=0), capacity=6, plain=True)
        demo.live_sessions.append(live_session)
        lena_booked.append(live_session)
    for n in range(24):
        starts_at = datetime.combine((now + timedelta(days=n * 5 - 58)).astimezone(PARIS).date(),
                                     CLASS_TIMES[n % len(CLASS_TIMES)], tzinfo=PARIS)
        live_session = _live_session(rng, codes, now, bookable[n % len(bookable)],
                                     demo.instructors[(n + 1) % len(demo.instructors)], starts_at, capacity=6)
        demo.live_sessions.append(live_session)
        lena_booked.append(live_session)
    db.add_all(demo.live_sessions)
    await db.flush()

    # Bookings: Lena on her bookable classes, each child on a few, some learners beside them.
    bookings = [{"learner_id": lena.id, "live_session_id": ls.id, "status": "BOOKED", "booked_at": now}
                for ls in lena_booked]
    for n, child in enumerate(children):
        for live_session in lena_booked[n::4]:
            bookings.append({"learner_id": child.id, "live_session_id": live_session.id, "status": "BOOKED",
                             "booked_at": now})
    for live_session in lena_booked:
        for learner in rng.sample(people.learners[1:], rng.randint(0, 3)):
            bookings.append({"learner_id": learner.id, "live_session_id": live_session.id, "status": "BOOKED",
                             "booked_at": now})
    await db.execute(insert(Booking), bookings)

    # Reports for every past class that took place: each learner on it, by the instructor.
    enrolled: dict[int, list[int]] = {}
    for session_id, user_id in (await db.execute(select(Enrollment.session_id, Enrollment.user_id))).all():
        enrolled.setdefault(session_id, []).append(user_id)
    booked: dict[int, list[int]] = {}
    for booking in bookings:
        booked.setdefault(booking["live_session_id"], []).append(booking["learner_id"])
    instructor_users = {i.id: i.user_id for i in demo.instructors}
    reports = []
    for live_session in demo.live_sessions:
        if live_session.cancelled_at is not None or live_session.ends_at > now:
            continue
        for learner_id in booked.get(live_session.id, []) + enrolled.get(live_session.session_id, []):
            reports.append({"live_session_id": live_session.id, "learner_id": learner_id,
                            "status": rng.choice(ATTENDANCE_MIX).value, "feedback": rng.choice(FEEDBACK),
                            "recorded_at": live_session.ends_at,
                            "recorded_by_id": instructor_users[live_session.instructor_id]})
    if reports:
        await db.execute(insert(AttendanceReport), reports)

    demo.logins = ["instructor@example.com", "guardian@example.com"]
    return demo


def _live_session(rng: random.Random, codes: set[str], now: datetime, course: Course, teacher: Instructor,
                  starts_at: datetime, *, session_id: int | None = None, capacity: int = 25,
                  plain: bool = False) -> LiveSession:
    """A one-hour class; some in person, some cancelled, past ones often recorded. A plain one
    is online and not cancelled (today's classes, so the Join button shows)."""
    code = _code(rng, codes)
    ended = starts_at + timedelta(hours=1) <= now
    in_person = not plain and rng.random() < 0.2
    cancelled = not plain and rng.random() < 0.06
    return LiveSession(
        code=code, course_id=course.id, session_id=session_id, instructor_id=teacher.id,
        lesson_name=rng.choice(LESSONS), lesson_goal=f"{course.title}: practise and get feedback.",
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
        virtual_classroom_url=None if in_person else f"https://classroom.example.com/{code.lower()}",
        location_name="Paris office" if in_person else None,
        location_address="12 rue de la Paix, 75002 Paris" if in_person else None,
        location_room=rng.choice(["2.14", "3.01", "Auditorium"]) if in_person else None,
        recording_url=f"https://videos.example.com/{code.lower()}" if ended and rng.random() < 0.6 else None,
        extra_links=[{"title": "Slides", "url": f"https://docs.example.com/{course.code.lower()}/slides"}]
        if rng.random() < 0.5 else [],
        capacity=capacity,
        cancelled_at=min(now, starts_at - timedelta(days=2)) if cancelled else None,
        cancellation_reason="The instructor is unwell." if cancelled else None,
        created_at=min(now, starts_at) - timedelta(days=14), updated_at=min(now, starts_at) - timedelta(days=14),
    )


def _code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            return code
