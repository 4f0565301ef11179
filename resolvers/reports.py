"""Attendance reports: recording them, and the session tracking built from them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from sessiongraph.models import AttendanceReport, AttendanceStatus, Enrollment, LiveSession, Session, User
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, NotAllowed, Problems, UserErrors
from sessiongraph.resolvers.loaders.reports import ReportCountByLiveSession, ReportsByLiveSession
from sessiongraph.resolvers.loaders.schedule import LiveSessionById, OnLearnerSchedule
from sessiongraph.resolvers.pagination import Page, first_page, page_size, paginate
from sessiongraph.resolvers.permissions import (
    can_follow_session,
    can_manage_live_session,
    can_see_live_session,
    require_signed_in,
)
from sessiongraph.resolvers.validation import optional_text

FEEDBACK_MAX_LENGTH = 5000


@dataclass(frozen=True, slots=True)
class AttendanceEntry:
    learner_id: int
    status: AttendanceStatus
    feedback: str | None = None


@audited("recordAttendance", subject=LiveSession, by="live_session_id")
async def record_attendance(ctx: Context, live_session_id: int, entries: list[AttendanceEntry]) -> LiveSession:
    """Records (or corrects) each learner's attendance and feedback, from the start of the
    live session on. Its instructor, admins and its session's coaches may; a learner
    who is not on it cannot be reported on."""
    user = require_signed_in(ctx)
    live_session = await LiveSessionById(ctx).load(live_session_id)
    if live_session is None or not await can_see_live_session(ctx, live_session):
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such live session.", "liveSessionId")
    if not await can_manage_live_session(ctx, live_session):
        raise NotAllowed("Only the live session's instructor, its coaches and administrators record attendance.")
    if live_session.is_cancelled:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_CANCELLED, "This live session was cancelled.", "liveSessionId")
    if ctx.now < live_session.starts_at:
        raise UserErrors.one(ErrorCode.LIVE_SESSION_NOT_STARTED,
                             "Attendance is recorded once the live session has started.", "liveSessionId")
    assert live_session.id is not None and user.id is not None  # stored rows

    problems = Problems()
    feedback: dict[int, str | None] = {}
    seen: set[int] = set()
    for position, entry in enumerate(entries):
        if entry.learner_id in seen:
            problems.add(ErrorCode.VALIDATION, "This learner is listed twice.", "entries", str(position), "learnerId")
        seen.add(entry.learner_id)
        feedback[entry.learner_id] = optional_text(entry.feedback, problems, FEEDBACK_MAX_LENGTH,
                                                   "entries", str(position), "feedback")
    on_it = await OnLearnerSchedule(ctx).load_many([(entry.learner_id, live_session.id) for entry in entries])
    for position, present in enumerate(on_it):
        if not present:
            problems.add(ErrorCode.NOT_FOUND, "This learner is not on the live session.",
                         "entries", str(position), "learnerId")
    problems.raise_if_any()

    try:
        await _save_reports(ctx, live_session, entries, feedback, user.id)
    except IntegrityError:
        # A concurrent recording inserted one of these reports first: this one corrects it.
        await _save_reports(ctx, live_session, entries, feedback, user.id)
    return live_session


async def _save_reports(ctx: Context, live_session: LiveSession, entries: list[AttendanceEntry],
                        feedback: dict[int, str | None], recorded_by_id: int) -> None:
    assert live_session.id is not None  # a stored row
    async with ctx.database.write() as db:
        learner_ids = [entry.learner_id for entry in entries]
        existing = {report.learner_id: report for report in (await db.scalars(select(AttendanceReport).where(
            col(AttendanceReport.live_session_id) == live_session.id,
            col(AttendanceReport.learner_id).in_(learner_ids)))).all()}
        for entry in entries:
            report = existing.get(entry.learner_id) or AttendanceReport(
                live_session_id=live_session.id, learner_id=entry.learner_id, status=entry.status.value)
            report.status = AttendanceStatus(entry.status).value
            report.feedback = feedback[entry.learner_id]
            report.recorded_at = ctx.now
            report.recorded_by_id = recorded_by_id
            db.add(report)


async def tracking_learners(ctx: Context, session: Session, first: int | None,
                            after: str | None) -> Page[User] | None:
    """The session's learners by name, for its tracking table; None for those who may not follow it."""
    if not await can_follow_session(ctx, session):
        return None
    query = (select(User).join(Enrollment, col(Enrollment.user_id) == col(User.id))
             .where(col(Enrollment.session_id) == session.id))
    return await paginate(ctx, query, [col(User.name), col(User.id)], lambda u: (u.name, u.id), first, after)


async def live_session_reports(ctx: Context, live_session: LiveSession, first: int | None,
                               after: str | None) -> Page[AttendanceReport] | None:
    """Every learner's report on a live session, by learner, for those who manage it; the
    first page from a loader, as for its bookings."""
    if not await can_manage_live_session(ctx, live_session):
        return None
    live_session_id = live_session.id
    assert live_session_id is not None  # a stored row
    if after is None:
        limit = page_size(ctx, first)
        rows = await ReportsByLiveSession(ctx).load((live_session_id, limit + 1))
        return first_page(rows, limit, _by_learner, lambda: ReportCountByLiveSession(ctx).load(live_session_id))
    query = select(AttendanceReport).where(col(AttendanceReport.live_session_id) == live_session.id)
    return await paginate(ctx, query, [col(AttendanceReport.learner_id)], _by_learner, first, after)


def _by_learner(report: AttendanceReport) -> tuple[int]:
    return (report.learner_id,)
