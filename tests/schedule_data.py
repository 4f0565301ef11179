"""Schedule test data written straight to the database, so each test states only what it needs.

Test modules import the `data` fixture: `from tests.schedule_data import data  # noqa: F401`.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from sessiongraph import models
from sessiongraph.infrastructure.db import Database
from sessiongraph.schema.relay import to_global_id

_codes = itertools.count(1)


def gid(type_name: str, db_id: int) -> str:
    return to_global_id(type_name, db_id)


class ScheduleData:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, *rows: Any) -> None:
        async with self.database.write() as db:
            for row in rows:
                db.add(row)
                await db.flush()

    async def user(self, name: str = "Learner", **fields: Any) -> models.User:
        user = models.User(name=name, email=fields.pop("email", f"{uuid.uuid4().hex[:10]}@example.test"), **fields)
        await self.add(user)
        return user

    async def user_of(self, instructor: models.Instructor) -> models.User:
        async with self.database.read() as db:
            return await db.get(models.User, instructor.user_id)

    async def course(self, code: str | None = None, **fields: Any) -> models.Course:
        code = code or f"C{next(_codes)}"
        course = models.Course(code=code, title=fields.pop("title", f"Course {code}"), **fields)
        await self.add(course)
        return course

    async def instructor(self, name: str = "Ines Instructor", **user_fields: Any) -> models.Instructor:
        user = await self.user(name, **user_fields)
        profile = models.Instructor(user_id=user.id, display_name=name, bio=f"{name} teaches.")
        await self.add(profile)
        return profile

    async def session(self, name: str | None = None, courses: list[models.Course] = (),
                      **fields: Any) -> models.Session:
        session = models.Session(name=name or f"Session {uuid.uuid4().hex[:6]}", **fields)
        await self.add(session)
        await self.add(*(models.SessionCourse(session_id=session.id, course_id=c.id, position=n)
                         for n, c in enumerate(courses)))
        return session

    async def enroll(self, session: models.Session, *learners: models.User) -> None:
        await self.add(*(models.Enrollment(session_id=session.id, user_id=u.id) for u in learners))

    async def live_session(self, course: models.Course, instructor: models.Instructor, starts_at: datetime,
                           minutes: int = 60, **fields: Any) -> models.LiveSession:
        live_session = models.LiveSession(
            code=fields.pop("code", f"LS{next(_codes):04d}"), course_id=course.id, instructor_id=instructor.id,
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields)
        await self.add(live_session)
        return live_session

    async def book(self, learner: models.User, live_session: models.LiveSession,
                   status: models.BookingStatus = models.BookingStatus.BOOKED) -> models.Booking:
        booking = models.Booking(learner_id=learner.id, live_session_id=live_session.id, status=status.value)
        await self.add(booking)
        return booking

    async def report(self, live_session: models.LiveSession, learner: models.User,
                     status: models.AttendanceStatus, feedback: str | None = None) -> models.AttendanceReport:
        report = models.AttendanceReport(live_session_id=live_session.id, learner_id=learner.id,
                                         status=status.value, feedback=feedback)
        await self.add(report)
        return report

    async def guardian_of(self, guardian: models.User, *children: models.User) -> None:
        await self.add(*(models.GuardianLink(guardian_id=guardian.id, learner_id=c.id) for c in children))


@pytest.fixture
def data(database) -> ScheduleData:
    return ScheduleData(database)
