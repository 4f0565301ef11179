"""Who may see and do what: the one place these rules live.

Roles come from the data, not the token: the admin flag on the user, and per
object whether the viewer coaches, teaches, guards or is enrolled. Resolvers ask
here; a "no" for reading another user's data looks like the data is not there.
"""

from __future__ import annotations

from models import Session, User
from resolvers.context import Context
from resolvers.errors import NotAllowed, NotAuthenticated
from resolvers.loaders.sessions import CoachedSessionIds, CoachesLearner, EnrollmentByLearnerSession


def require_signed_in(ctx: Context) -> User:
    if ctx.actor.user is None:
        raise NotAuthenticated()
    return ctx.actor.user


def require_admin(ctx: Context) -> User:
    user = require_signed_in(ctx)
    if not user.is_admin:
        raise NotAllowed("Only administrators can do this.")
    return user


async def coaches_session(ctx: Context, session: Session) -> bool:
    user_id = ctx.actor.user_id
    if user_id is None:
        return False
    if session.coach_id == user_id:
        return True
    return session.id in await CoachedSessionIds(ctx).load(user_id)


async def can_see_session(ctx: Context, session: Session) -> bool:
    """Admins, the session's coaches, and its learners while it is listed for them."""
    if ctx.actor.is_anonymous:
        return False
    if ctx.actor.is_admin or await coaches_session(ctx, session):
        return True
    enrollment = await EnrollmentByLearnerSession(ctx).load((ctx.actor.user_id, session.id))
    return enrollment is not None and session.listed_for_learner(ctx.now, enrollment.first_access_at)


async def can_follow_session(ctx: Context, session: Session) -> bool:
    """Learner lists and tracking: admins, and the session's coaches inside the coach window."""
    if ctx.actor.is_admin:
        return True
    return await coaches_session(ctx, session) and session.coach_access_window.contains(ctx.now)


async def can_see_user(ctx: Context, user_id: int) -> bool:
    """Themselves, admins, and the people who coach them."""
    viewer_id = ctx.actor.user_id
    if viewer_id is None:
        return False
    if viewer_id == user_id or ctx.actor.is_admin:
        return True
    return await CoachesLearner(ctx).load((viewer_id, user_id))


def can_see_email(ctx: Context, user_id: int) -> bool:
    """Other people see a name only."""
    return ctx.actor.is_admin or ctx.actor.user_id == user_id
