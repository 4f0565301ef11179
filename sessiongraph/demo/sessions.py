"""Demo users, classes, courses, categories and administrative sessions."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.models import (
    ClassMember,
    Course,
    Enrollment,
    Session,
    SessionCategory,
    SessionCourse,
    SessionCourseCoach,
    SessionVisibility,
    User,
    UserClass,
)

FIRST_NAMES = ["Amara", "Bruno", "Chen", "Dalia", "Emeka", "Freya", "Goran", "Hana", "Idris", "Jonas", "Kiri",
               "Lucia", "Mateo", "Noor", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Viktor",
               "Wen", "Ximena", "Yusuf", "Zoe"]
LAST_NAMES = ["Okafor", "Silva", "Wang", "Haddad", "Nwosu", "Larsen", "Petrovic", "Sato", "Rahman", "Becker",
              "Ngata", "Romero", "Garcia", "Aziz", "Ivanova", "Sharma", "Murphy", "Costa", "Nieminen", "Novak"]
TIME_ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/London", "America/Sao_Paulo", "UTC"]
COURSES = [("ENG-B1", "English B1 conversation"), ("ENG-C1", "English C1 business writing"),
           ("FR-A2", "French A2 essentials"), ("ES-B2", "Spanish B2 debate"), ("PY-101", "Python basics"),
           ("DATA-201", "Data analysis with SQL"), ("LEAD-1", "First-time managers"),
           ("LEAD-2", "Feedback that lands"), ("SAFE-1", "Workplace safety"), ("ONB-1", "Welcome to the company")]


# The sessions learner@example.com is in: one past VISIBLE (listed), one past INVISIBLE
# (hidden), two current, one upcoming, and the duration session.
LEARNER_SESSIONS = {1, 2, 3, 4, 6, 9}


@dataclass
class DemoPeople:
    admin: User
    coaches: list[User]
    learners: list[User]
    courses: list[Course]
    sessions: list[Session] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    @property
    def session_count(self) -> int:
        return len(self.sessions)


async def load(db: AsyncSession, rng: random.Random, now: datetime) -> DemoPeople:
    admin = User(email="admin@example.com", name="Ada Admin", is_admin=True, time_zone="Europe/Paris")
    coaches = [User(email="coach@example.com", name="Carla Coach", time_zone="Europe/Paris")]
    coaches += [User(email=f"coach{i}@example.com", name=_name(rng), time_zone=rng.choice(TIME_ZONES))
                for i in range(2, 7)]
    learners = [User(email="learner@example.com", name="Lena Learner", time_zone="Europe/Paris")]
    learners += [User(email=f"learner{i}@example.com", name=_name(rng), time_zone=rng.choice(TIME_ZONES),
                      week_start="SUNDAY" if i % 7 == 0 else "MONDAY") for i in range(2, 301)]
    db.add_all([admin, *coaches, *learners])

    courses = [Course(code=code, title=title, bookable=i % 2 == 0, credit_cost=1 + i % 3,
                      absence_requests_enabled=i % 3 == 0) for i, (code, title) in enumerate(COURSES)]
    db.add_all(courses)
    categories = [SessionCategory(name=name) for name in ("Onboarding", "Languages", "Leadership")]
    db.add_all(categories)
    await db.flush()

    classes = [UserClass(name=name) for name in ("Sales team 2026", "Engineering cohort A", "Night shift")]
    db.add_all(classes)
    await db.flush()
    class_members = {c.id: rng.sample(learners[1:], 40) for c in classes}
    await db.execute(insert(ClassMember), [{"class_id": class_id, "user_id": u.id}
                                           for class_id, members in class_members.items() for u in members])

    day = timedelta(days=1)
    # (name, category, visibility, access start offset in days, length in days)
    plans = [
        ("Autumn onboarding", 0, SessionVisibility.READ_ONLY, -120, 60),
        ("Language lab, winter term", 1, SessionVisibility.VISIBLE, -90, 45),
        ("Leadership pilot", 2, SessionVisibility.INVISIBLE, -75, 30),
        ("Spring onboarding", 0, SessionVisibility.READ_ONLY, -20, 60),
        ("Business English, spring", 1, SessionVisibility.VISIBLE, -10, 90),
        ("New managers cohort 3", 2, SessionVisibility.READ_ONLY, -5, 40),
        ("Summer onboarding", 0, SessionVisibility.READ_ONLY, 30, 60),
        ("Spanish immersion", 1, SessionVisibility.VISIBLE, 45, 30),
        ("Leadership cohort 4", 2, SessionVisibility.READ_ONLY, 60, 45),
    ]
    people = DemoPeople(admin, coaches, learners, courses, logins=[
        "admin@example.com", "coach@example.com", "learner@example.com"])
    for index, (name, category, visibility, offset, length) in enumerate(plans):
        access_start = (now + offset * day).replace(hour=8, minute=0, second=0, microsecond=0)
        access_end = access_start + length * day
        session = Session(
            name=name, description=f"{name}: live classes and self-paced work.",
            category_id=categories[category].id, coach_id=coaches[index % len(coaches)].id,
            visibility=visibility.value,
            display_start=access_start - 45 * day, display_end=access_end + 60 * day,
            access_start=access_start, access_end=access_end,
            coach_start=access_start - 7 * day, coach_end=access_end + 14 * day,
        )
        people.sessions.append(session)
    people.sessions.append(Session(name="Self-paced security refresher", category_id=categories[0].id,
                                   coach_id=coaches[1].id, duration_days=30,
                                   visibility=SessionVisibility.READ_ONLY.value))
    db.add_all(people.sessions)
    await db.flush()

    session_courses, course_coaches, enrollments = [], [], []
    for index, session in enumerate(people.sessions):
        chosen = rng.sample(courses, rng.randint(2, 4))
        for position, course in enumerate(chosen):
            session_courses.append({"session_id": session.id, "course_id": course.id, "position": position})
            coach = coaches[(index + position) % len(coaches)]
            course_coaches.append({"session_id": session.id, "course_id": course.id, "user_id": coach.id})
        enrolled = {learners[0].id} if index in LEARNER_SESSIONS else set()
        by_class = classes[index % len(classes)] if index % 3 == 0 else None
        if by_class is not None:
            for member in class_members[by_class.id]:
                enrollments.append({"session_id": session.id, "user_id": member.id, "class_id": by_class.id,
                                    "enrolled_at": now})
                enrolled.add(member.id)
        for learner in rng.sample(learners, rng.randint(30, 90)):
            enrolled.add(learner.id)
        listed = {e["user_id"] for e in enrollments if e["session_id"] == session.id}
        enrollments += [{"session_id": session.id, "user_id": u, "class_id": None, "enrolled_at": now}
                        for u in sorted(cast("set[int]", enrolled - listed))]  # flushed users have IDs
    await db.execute(insert(SessionCourse), session_courses)
    await db.execute(insert(SessionCourseCoach), course_coaches)
    await db.execute(insert(Enrollment), enrollments)
    return people


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
