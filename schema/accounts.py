"""Users and classes on the wire."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import models
from resolvers import accounts, permissions
from resolvers.loaders.accounts import MemberCountByClass, UserById, UserClassById
from schema.errors import UserError, attempt
from schema.relay import Connection, Node, decode_ids, node_fetcher, to_global_id

Weekday = strawberry.enum(models.Weekday, name="Weekday")


@strawberry.type
class User(Node):
    name: str
    time_zone: str
    week_start: Weekday
    is_admin: bool
    db_id: strawberry.Private[int]
    _email: strawberry.Private[str]

    @strawberry.field(description="Only for the user themselves and admins.")
    def email(self, info: Info) -> str | None:
        return self._email if permissions.can_see_email(info.context, self.db_id) else None

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(id=to_global_id("User", user.id), name=user.name, time_zone=user.time_zone,
                   week_start=models.Weekday(user.week_start), is_admin=user.is_admin,
                   db_id=user.id, _email=user.email)


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


@strawberry.type
class UserClass(Node):
    name: str
    db_id: strawberry.Private[int]

    @strawberry.field
    async def member_count(self, info: Info) -> int:
        return await MemberCountByClass(info.context).load(self.db_id)

    @classmethod
    def from_model(cls, user_class: models.UserClass) -> UserClass:
        return cls(id=to_global_id("UserClass", user_class.id), name=user_class.name, db_id=user_class.id)


@node_fetcher("UserClass")
async def fetch_user_class(info: Info, class_id: int) -> UserClass | None:
    if not info.context.actor.is_admin:
        return None
    user_class = await UserClassById(info.context).load(class_id)
    return UserClass.from_model(user_class) if user_class is not None else None


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    time_zone: str | None = None
    week_start: Weekday | None = None
    is_admin: bool | None = None


@strawberry.type
class CreateUserPayload:
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


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="Every user, by name; admins only.")
    async def users(self, info: Info, search: str | None = None, first: int | None = None,
                    after: str | None = None) -> Connection[User]:
        page = await accounts.list_users(info.context, search=search, first=first, after=after)
        return Connection.from_page(page, User.from_model)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        user, errors = await attempt(info, lambda: accounts.create_user(
            info.context, email=input.email, name=input.name, time_zone=input.time_zone,
            week_start=input.week_start, is_admin=input.is_admin))
        return CreateUserPayload(user=User.from_model(user) if user else None, errors=errors)

    @strawberry.mutation
    async def create_class(self, info: Info, input: CreateClassInput) -> CreateClassPayload:
        user_class, errors = await attempt(info, lambda: accounts.create_class(
            info.context, name=input.name, member_ids=decode_ids(input.member_ids or [], "User", "memberIds")))
        return CreateClassPayload(user_class=UserClass.from_model(user_class) if user_class else None,
                                  errors=errors)
