"""Attendance reports and session tracking on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.models.reports import AttendanceFigures
from sessiongraph.resolvers import reports
from sessiongraph.resolvers.loaders.accounts import UserById
from sessiongraph.resolvers.loaders.reports import FiguresByEnrollment, FiguresBySession
from sessiongraph.resolvers.loaders.sessions import LearnerCountBySession
from sessiongraph.schema.accounts import User, load_user
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Connection, decode_id

if TYPE_CHECKING:
    from sessiongraph.schema.schedule import LiveSession

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
AttendanceStatus: TypeAlias = models.AttendanceStatus
strawberry.enum(AttendanceStatus, name="AttendanceStatus")


@strawberry.type(description="What the instructor recorded for one learner at one live session.")
class SessionReport:
    attendance: AttendanceStatus
    feedback: str | None
    recorded_at: datetime
    learner_id: strawberry.Private[int]

    @strawberry.field
    async def learner(self, info: Info) -> User:
        user = await load_user(info, self.learner_id)
        assert user is not None  # learner_id is a foreign key to the user
        return user

    @classmethod
    def from_model(cls, report: models.AttendanceReport) -> SessionReport:
        return cls(attendance=models.AttendanceStatus(report.status), feedback=report.feedback,
                   recorded_at=report.recorded_at, learner_id=report.learner_id)


@strawberry.type(description="Attendance figures: `booked` counts the live sessions expected of the "
                             "learner (cancelled ones left out); `attended` (PRESENT), `late`, `absent` and "
                             "`excused` count reports by status; `attendanceRate` is (attended + late) / "
                             "(attended + late + absent), null while that is 0/0; `lastAttendedAt` is the "
                             "start of the last live session attended (present or late).")
class AttendanceTotals:
    booked: int
    attended: int
    late: int
    absent: int
    excused: int
    attendance_rate: float | None
    last_attended_at: datetime | None

    @staticmethod
    def figures(figures: AttendanceFigures) -> dict:
        return dict(booked=figures.booked, attended=figures.attended, late=figures.late, absent=figures.absent,
                    excused=figures.excused, attendance_rate=figures.attendance_rate,
                    last_attended_at=figures.last_attended_at)


@strawberry.type(description="One enrolled learner's attendance in the session.")
class LearnerTracking(AttendanceTotals):
    learner_id: strawberry.Private[int]

    @strawberry.field
    async def learner(self, info: Info) -> User:
        user = await load_user(info, self.learner_id)
        assert user is not None  # learner_id is a foreign key to the user
        return user


@strawberry.type(description="Chamilo's tracking for a session: per enrolled learner by name, and its "
                             "totals. Admins and the session's coaches (inside the coach access window) "
                             "only; empty for others.")
class SessionTracking:
    learners: Connection[LearnerTracking]
    session_id: strawberry.Private[int | None]

    async def _totals(self, info: Info) -> AttendanceFigures:
        if self.session_id is None:
            return AttendanceFigures()
        return await FiguresBySession(info.context).load(self.session_id)

    @strawberry.field
    async def learner_count(self, info: Info) -> int:
        if self.session_id is None:
            return 0
        return await LearnerCountBySession(info.context).load(self.session_id)

    @strawberry.field(description="Over every learner's reports together.")
    async def attendance_rate(self, info: Info) -> float | None:
        return (await self._totals(info)).attendance_rate

    @strawberry.field(description="Every learner's figures added up.")
    async def totals(self, info: Info) -> AttendanceTotals:
        return AttendanceTotals(**AttendanceTotals.figures(await self._totals(info)))

    @classmethod
    async def of(cls, info: Info, session: models.Session, first: int | None, after: str | None) -> SessionTracking:
        ctx = info.context
        page = await reports.tracking_learners(ctx, session, first, after)
        if page is None:
            return cls(learners=Connection.empty(), session_id=None)
        UserById(ctx).prime_many({user.id: user for user in page.items})
        figures = await FiguresByEnrollment(ctx).load_many([(session.id, user.id) for user in page.items])
        by_learner = {user.id: f for user, f in zip(page.items, figures, strict=True)}
        return cls(learners=Connection.from_page(page, lambda user: LearnerTracking(
            learner_id=user.id, **AttendanceTotals.figures(by_learner[user.id]))), session_id=session.id)


@strawberry.input
class AttendanceEntryInput:
    learner_id: strawberry.ID
    status: AttendanceStatus
    feedback: str | None = None


@strawberry.input
class RecordAttendanceInput:
    live_session_id: strawberry.ID
    entries: list[AttendanceEntryInput]


@strawberry.type
class RecordAttendancePayload:
    live_session: Annotated[LiveSession, strawberry.lazy("sessiongraph.schema.schedule")] | None
    errors: list[UserError]


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(description="The instructor (or an admin, or a coach of its session) records each "
                                     "learner's attendance and feedback, from the live session's start on; "
                                     "recording again for a learner corrects their report.")
    async def record_attendance(self, info: Info, input: RecordAttendanceInput) -> RecordAttendancePayload:
        from sessiongraph.schema.schedule import LiveSession

        def entries() -> list[reports.AttendanceEntry]:
            return [reports.AttendanceEntry(learner_id=decode_id(e.learner_id, "User", "entries", str(n), "learnerId"),
                                            status=models.AttendanceStatus(e.status), feedback=e.feedback)
                    for n, e in enumerate(input.entries)]

        live_session, errors = await attempt(info, lambda: reports.record_attendance(
            info.context, decode_id(input.live_session_id, "LiveSession", "liveSessionId"), entries()))
        return RecordAttendancePayload(
            live_session=LiveSession.from_model(live_session) if live_session else None, errors=errors)
