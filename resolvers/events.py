"""Schedule events: what changed on whose schedule, published after the change commits.

Two kinds of channel: one per user (`schedule:user:<id>`, read by `scheduleChanged`
for the user and their guardians) and one per live session (`live-session:<id>`,
read by `joinAvailability`). A change is published to the live session's channel
and to the channel of everyone whose schedule holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.models import Booking, Enrollment, Instructor, LiveSession
from sessiongraph.models.schedule import BookingStatus
from sessiongraph.resolvers.context import Context


class ScheduleEventKind(StrEnum):
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"
    UPDATED = "UPDATED"
    ABSENCE_REVIEWED = "ABSENCE_REVIEWED"
    # A waiting learner was booked on a freed seat.
    PROMOTED = "PROMOTED"


# A user was deactivated or demoted: this process's sockets of theirs check their sign-in again at once
# (sessiongraph/server/connection_rights.py), rather than at their next operation.
USER_RIGHTS_CHANNEL = "user-rights"


def user_channel(user_id: int) -> str:
    return f"schedule:user:{user_id}"


def live_session_channel(live_session_id: int) -> str:
    return f"live-session:{live_session_id}"


async def people_on(db: AsyncSession, live_session: LiveSession) -> set[int]:
    """Everyone whose schedule holds the live session: its booked learners, the learners of
    its administrative session, and its instructor."""
    queries = [
        select(col(Booking.learner_id)).where(col(Booking.live_session_id) == live_session.id,
                                              col(Booking.status) == BookingStatus.BOOKED.value),
        select(col(Instructor.user_id)).where(col(Instructor.id) == live_session.instructor_id),
    ]
    if live_session.session_id is not None:
        queries.append(select(col(Enrollment.user_id)).where(col(Enrollment.session_id) == live_session.session_id))
    return set((await db.scalars(union(*queries))).all())


async def publish_schedule_change(ctx: Context, kind: ScheduleEventKind, live_session_id: int,
                                  user_ids: Iterable[int]) -> None:
    """Call after the change has committed: subscribers read the new state as soon as they hear."""
    message: dict[str, Any] = {"kind": kind.value, "liveSessionId": live_session_id,
                               "occurredAt": ctx.now.isoformat()}
    await ctx.broker.publish_many([(live_session_channel(live_session_id), message)] +
                                  [(user_channel(user_id), message) for user_id in sorted(set(user_ids))])
