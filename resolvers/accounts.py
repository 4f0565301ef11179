"""Users and classes: creating them, and the admin's user list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from sessiongraph.infrastructure.passwords import hash_password, password_problem
from sessiongraph.infrastructure.zones import shown
from sessiongraph.models import ClassMember, GuardianLink, Instructor, User, UserClass, Weekday
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.email import queue_invitation
from sessiongraph.resolvers.errors import ErrorCode, NotAllowed, Problems, UserErrors
from sessiongraph.resolvers.events import USER_RIGHTS_CHANNEL
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import require_admin, require_signed_in
from sessiongraph.resolvers.signin import invite, revoke_refresh_tokens
from sessiongraph.resolvers.validation import clean_email, is_time_zone, required_text


def like_pattern(search: str) -> str:
    """A LIKE pattern matching `search` anywhere, with LIKE's wildcards taken literally."""
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class InstructorProfile:
    display_name: str
    bio: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedUser:
    user: User
    # The one-time link to set a first password, when one was asked for (never stored: only its digest).
    invitation_url: str | None = None


@audited("createUser", subject=User)
async def create_user(ctx: Context, *, email: str, name: str, time_zone: str | None = None,
                      week_start: Weekday | None = None, is_admin: bool | None = None,
                      instructor_profile: InstructorProfile | None = None, password: str | None = None,
                      send_invitation: bool = False) -> CreatedUser:
    require_admin(ctx)
    problems = Problems()
    email = clean_email(email, problems, "email")
    name = required_text(name, problems, 200, "name")
    if time_zone is not None and not is_time_zone(time_zone):
        problems.add(ErrorCode.VALIDATION, f"{shown(time_zone)} is not an IANA time zone.", "timeZone")
    if instructor_profile is not None:
        instructor_profile = InstructorProfile(
            display_name=required_text(instructor_profile.display_name, problems, 200,
                                       "instructorProfile", "displayName"),
            bio=(instructor_profile.bio or "").strip() or None)
    if password is not None and (weakness := password_problem(password)) is not None:
        problems.add(ErrorCode.WEAK_PASSWORD, weakness, "password")
    problems.raise_if_any()
    password_hash = await hash_password(password) if password is not None else None
    invitation_url = None
    async with ctx.database.write() as db:
        if await db.scalar(select(User.id).where(User.email == email)) is not None:
            raise UserErrors.one(ErrorCode.DUPLICATE, f"A user with the email {email} exists.", "email")
        user = User(email=email, name=name, time_zone=time_zone or "UTC",
                    week_start=(week_start or Weekday.MONDAY).value, is_admin=bool(is_admin),
                    password_hash=password_hash)
        db.add(user)
        await db.flush()
        if instructor_profile is not None:
            db.add(Instructor(user_id=user.id, display_name=instructor_profile.display_name,
                              bio=instructor_profile.bio))
        if send_invitation:
            invited = await invite(db, ctx, user)
            invitation_url = invited.url
            await queue_invitation(db, ctx.settings, user.id, invited.invitation_id, ctx.now)
    return CreatedUser(user, invitation_url)


# What a user may change of themselves; admins change these and the rest (UpdateUserInput).
OWN_SETTINGS = frozenset({"name", "time_zone", "week_start", "email_notifications"})
ADMIN_SETTINGS = frozenset({"is_admin", "active"})


@audited("updateUser", subject=User, by="user_id")
async def update_user(ctx: Context, user_id: int, change: dict[str, Any]) -> User:
    """`change` holds the fields given (None for a boolean or text left out is no change)."""
    viewer = require_signed_in(ctx)
    change = {name: value for name, value in change.items() if value is not None}
    if viewer.id != user_id and not viewer.is_admin:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such user.", "id")  # others' accounts are not there
    if not viewer.is_admin and change.keys() & ADMIN_SETTINGS:
        raise NotAllowed("Only administrators change isAdmin and active.")
    problems = Problems()
    if "name" in change:
        change["name"] = required_text(change["name"], problems, 200, "name")
    if "time_zone" in change and not is_time_zone(change["time_zone"]):
        problems.add(ErrorCode.VALIDATION, f"{shown(change['time_zone'])} is not an IANA time zone.", "timeZone")
    if "week_start" in change:
        change["week_start"] = Weekday(change["week_start"]).value
    if viewer.id == user_id and (change.get("active") is False or change.get("is_admin") is False):
        # Someone must be left who can undo it.
        problems.add(ErrorCode.VALIDATION, "Administrators cannot deactivate or demote themselves.",
                     "active" if change.get("active") is False else "isAdmin")
    problems.raise_if_any()
    async with ctx.database.write() as db:
        user = await db.get(User, user_id)
        if user is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "No such user.", "id")
        for name, value in change.items():
            setattr(user, name, value)
        if change.get("active") is False:
            await revoke_refresh_tokens(db, user_id, ctx.now)
    if change.get("active") is False or change.get("is_admin") is False:
        await ctx.broker.publish(USER_RIGHTS_CHANNEL, {"userId": user_id})
    return user


@audited("createClass", subject=UserClass)
async def create_class(ctx: Context, *, name: str, member_ids: list[int]) -> UserClass:
    require_admin(ctx)
    problems = Problems()
    name = required_text(name, problems, 200, "name")
    problems.raise_if_any()
    member_ids = list(dict.fromkeys(member_ids))
    async with ctx.database.write() as db:
        if await db.scalar(select(UserClass.id).where(UserClass.name == name)) is not None:
            raise UserErrors.one(ErrorCode.DUPLICATE, f"A class named {name!r} exists.", "name")
        await require_users_exist(db, member_ids, "memberIds")
        user_class = UserClass(name=name)
        db.add(user_class)
        await db.flush()
        if member_ids:
            await db.execute(insert(ClassMember), [{"class_id": user_class.id, "user_id": u} for u in member_ids])
    return user_class


async def require_users_exist(db, user_ids: list[int], *field: str) -> None:
    if not user_ids:
        return
    found = set((await db.scalars(select(User.id).where(User.id.in_(user_ids)))).all())
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise UserErrors.one(ErrorCode.NOT_FOUND, f"{len(missing)} of the users given do not exist.", *field)


async def list_users(ctx: Context, *, search: str | None, first: int | None, after: str | None) -> Page[User]:
    require_admin(ctx)
    query = select(User)
    if search:
        pattern = like_pattern(search)
        # ILIKE, not lower() LIKE: PostgreSQL serves it from the column's trigram index.
        query = query.where(User.name.ilike(pattern, escape="\\") | User.email.like(pattern, escape="\\"))
    return await paginate(ctx, query, [User.name, User.id], lambda u: (u.name, u.id), first, after)


# --- guardians -----------------------------------------------------------------------------

@audited("linkGuardian", subject=User, by="learner_id")
async def link_guardian(ctx: Context, *, guardian_id: int, learner_id: int) -> tuple[User, User]:
    """Lets the guardian read the learner's schedule and reports; linking twice is a no-op."""
    require_admin(ctx)
    if guardian_id == learner_id:
        raise UserErrors.one(ErrorCode.VALIDATION, "A user cannot be their own guardian.", "learnerId")
    try:
        async with ctx.database.write() as db:
            guardian, learner = await _guardian_and_learner(db, guardian_id, learner_id)
            if await db.get(GuardianLink, (guardian_id, learner_id)) is None:
                db.add(GuardianLink(guardian_id=guardian_id, learner_id=learner_id, linked_at=ctx.now))
    except IntegrityError:
        # Linked by a concurrent request in the meantime: the link is there, as asked.
        async with ctx.read() as db:
            guardian, learner = await _guardian_and_learner(db, guardian_id, learner_id)
    return guardian, learner


async def _guardian_and_learner(db, guardian_id: int, learner_id: int) -> tuple[User, User]:
    guardian = await db.get(User, guardian_id)
    learner = await db.get(User, learner_id)
    problems = Problems()
    if guardian is None:
        problems.add(ErrorCode.NOT_FOUND, "No such user for the guardian.", "guardianId")
    if learner is None:
        problems.add(ErrorCode.NOT_FOUND, "No such user for the learner.", "learnerId")
    problems.raise_if_any()
    return guardian, learner


async def children(ctx: Context) -> list[User]:
    """The learners the viewer is a guardian of, by name."""
    user = require_signed_in(ctx)
    query = (select(User).join(GuardianLink, GuardianLink.learner_id == User.id)
             .where(GuardianLink.guardian_id == user.id).order_by(User.name, User.id))
    async with ctx.read() as db:
        return list((await db.scalars(query)).all())


async def list_classes(ctx: Context, *, search: str | None, first: int | None, after: str | None) -> Page[UserClass]:
    """Classes by name, for the admin's "enroll a class" picker."""
    require_admin(ctx)
    query = select(UserClass)
    if search:
        query = query.where(func.lower(UserClass.name).like(like_pattern(search), escape="\\"))
    return await paginate(ctx, query, [UserClass.name, UserClass.id], lambda c: (c.name, c.id), first, after)
