"""Users and classes on the wire."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import accounts, permissions
from sessiongraph.resolvers.loaders.accounts import (
    InstructorById,
    InstructorByUser,
    MemberCountByClass,
    UserById,
    UserClassById,
)
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Connection, Node, decode_id, decode_ids, node_fetcher, to_global_id

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
Weekday: TypeAlias = models.Weekday
strawberry.enum(Weekday, name="Weekday")


@strawberry.type
class User(Node):
    name: str
    time_zone: str
    week_start: Weekday
    is_admin: bool
    active: bool = strawberry.field(description="False once deactivated: no sign-in, no token accepted.")
    email_notifications: bool
    db_id: strawberry.Private[int]
    _email: strawberry.Private[str]

    @strawberry.field(description="Only for the user themselves and admins.")
    def email(self, info: Info) -> str | None:
        return self._email if permissions.can_see_email(info.context, self.db_id) else None

    @strawberry.field(description="Their instructor profile; null when they do not teach.")
    async def instructor(self, info: Info) -> Instructor | None:
        profile = await InstructorByUser(info.context).load(self.db_id)
        return Instructor.from_model(profile) if profile is not None else None

    @classmethod
    def from_model(cls, user: models.User) -> User:
        assert user.id is not None  # a stored row
        return cls(id=to_global_id("User", user.id), name=user.name, time_zone=user.time_zone,
                   week_start=models.Weekday(user.week_start), is_admin=user.is_admin, active=user.active,
                   email_notifications=user.email_notifications, db_id=user.id, _email=user.email)


async def load_user(info: Info, user_id: int | None) -> User | None:
    """A user reached through an object the viewer may see (a coach, say)."""
    if user_id is None:
        return None
    user = await UserById(info.context).load(user_id)
    return User.from_model(user) if user is not None else None


@node_fetcher("User")
async def fetch_user(info: Info, user_id: int) -> User | None:
    if not await permissions.can_see_user(info.context, user_id):
        return None
    return await load_user(info, user_id)


@strawberry.type(description="A user who teaches live sessions, as learners see them.")
class Instructor(Node):
    display_name: str
    bio: str | None
    user_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        user = await load_user(info, self.user_id)
        assert user is not None  # user_id is a foreign key to the user
        return user

    @classmethod
    def from_model(cls, profile: models.Instructor) -> Instructor:
        assert profile.id is not None  # a stored row
        return cls(id=to_global_id("Instructor", profile.id), display_name=profile.display_name, bio=profile.bio,
                   user_id=profile.user_id)


async def load_instructor(info: Info, instructor_id: int) -> Instructor | None:
    profile = await InstructorById(info.context).load(instructor_id)
    return Instructor.from_model(profile) if profile is not None else None


@node_fetcher("Instructor")
async def fetch_instructor(info: Info, instructor_id: int) -> Instructor | None:
    """Instructors are public to signed-in users, as learners choose them."""
    return await load_instructor(info, instructor_id)


@strawberry.type
class UserClass(Node):
    name: str
    db_id: strawberry.Private[int]

    @strawberry.field
    async def member_count(self, info: Info) -> int:
        return await MemberCountByClass(info.context).load(self.db_id)

    @classmethod
    def from_model(cls, user_class: models.UserClass) -> UserClass:
        assert user_class.id is not None  # a stored row
        return cls(id=to_global_id("UserClass", user_class.id), name=user_class.name, db_id=user_class.id)


@node_fetcher("UserClass")
async def fetch_user_class(info: Info, class_id: int) -> UserClass | None:
    if not info.context.actor.is_admin:
        return None
    user_class = await UserClassById(info.context).load(class_id)
    return UserClass.from_model(user_class) if user_class is not None else None


@strawberry.input(description="Makes the new user an instructor.")
class InstructorProfileInput:
    display_name: str
    bio: str | None = None


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    time_zone: str | None = None
    week_start: Weekday | None = None
    is_admin: bool | None = None
    instructor_profile: InstructorProfileInput | None = None
    password: str | None = strawberry.field(default=None, description="The first password (argon2id-hashed).")
    send_invitation: bool | None = strawberry.field(
        default=None, description="Makes a one-time link to set a first password (invitationUrl).")


@strawberry.type
class CreateUserPayload:
    user: User | None
    invitation_url: str | None = strawberry.field(
        default=None, description="The invitation link, for the admin to pass on (e-mailed too when email is on).")
    errors: list[UserError]


@strawberry.input(description="Null or left out: unchanged. A user changes their own name, timeZone, "
                              "weekStart and emailNotifications; admins anything.")
class UpdateUserInput:
    id: strawberry.ID
    name: str | None = None
    time_zone: str | None = None
    week_start: Weekday | None = None
    email_notifications: bool | None = None
    is_admin: bool | None = None
    active: bool | None = None


@strawberry.type
class UpdateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.input
class CreateClassInput:
    name: str
    member_ids: list[strawberry.ID] | None = None


@strawberry.type
class CreateClassPayload:
    user_class: UserClass | None
    errors: list[UserError]


@strawberry.input
class LinkGuardianInput:
    guardian_id: strawberry.ID
    learner_id: strawberry.ID


@strawberry.type
class LinkGuardianPayload:
    guardian: User | None
    learner: User | None
    errors: list[UserError]


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="Every user, by name; admins only.")
    async def users(self, info: Info, search: str | None = None, first: int | None = None,
                    after: str | None = None) -> Connection[User]:
        page = await accounts.list_users(info.context, search=search, first=first, after=after)
        return Connection.from_page(page, User.from_model)

    @strawberry.field(description="Every class, by name; admins only.")
    async def user_classes(self, info: Info, search: str | None = None, first: int | None = None,
                           after: str | None = None) -> Connection[UserClass]:
        page = await accounts.list_classes(info.context, search=search, first=first, after=after)
        return Connection.from_page(page, UserClass.from_model)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        created, errors = await attempt(info, lambda: accounts.create_user(
            info.context, email=input.email, name=input.name, time_zone=input.time_zone,
            week_start=input.week_start, is_admin=input.is_admin,
            instructor_profile=accounts.InstructorProfile(input.instructor_profile.display_name,
                                                          input.instructor_profile.bio)
            if input.instructor_profile is not None else None,
            password=input.password, send_invitation=bool(input.send_invitation)))
        return CreateUserPayload(user=User.from_model(created.user) if created else None,
                                 invitation_url=created.invitation_url if created else None, errors=errors)

    @strawberry.mutation(description="A user's settings: their own, or anyone's for an admin.")
    async def update_user(self, info: Info, input: UpdateUserInput) -> UpdateUserPayload:
        user, errors = await attempt(info, lambda: accounts.update_user(
            info.context, decode_id(input.id, "User", "id"),
            {"name": input.name, "time_zone": input.time_zone, "week_start": input.week_start,
             "email_notifications": input.email_notifications, "is_admin": input.is_admin, "active": input.active}))
        return UpdateUserPayload(user=User.from_model(user) if user else None, errors=errors)

    @strawberry.mutation
    async def create_class(self, info: Info, input: CreateClassInput) -> CreateClassPayload:
        user_class, errors = await attempt(info, lambda: accounts.create_class(
            info.context, name=input.name, member_ids=decode_ids(input.member_ids or [], "User", "memberIds")))
        return CreateClassPayload(user_class=UserClass.from_model(user_class) if user_class else None,
                                  errors=errors)

    @strawberry.mutation(description="Lets a guardian read a learner's schedule and reports; "
                                     "linking twice changes nothing.")
    async def link_guardian(self, info: Info, input: LinkGuardianInput) -> LinkGuardianPayload:
        linked, errors = await attempt(info, lambda: accounts.link_guardian(
            info.context, guardian_id=decode_id(input.guardian_id, "User", "guardianId"),
            learner_id=decode_id(input.learner_id, "User", "learnerId")))
        guardian, learner = linked or (None, None)
        return LinkGuardianPayload(guardian=User.from_model(guardian) if guardian else None,
                                   learner=User.from_model(learner) if learner else None, errors=errors)
