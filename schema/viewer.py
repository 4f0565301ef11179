"""`viewer`: the signed-in user's own corner of the graph."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import models
from resolvers import sessions
from schema.accounts import User
from schema.sessions import Session


@strawberry.type
class MySessions:
    current: list[Session]
    upcoming: list[Session]
    past: list[Session]


@strawberry.type
class Viewer:
    model: strawberry.Private[models.User]

    @strawberry.field
    def user(self) -> User:
        return User.from_model(self.model)

    @strawberry.field(description="Sessions the viewer learns in (by display window, access window and "
                                  "visibility) or coaches (by coach access window).")
    async def my_sessions(self, info: Info) -> MySessions:
        mine = await sessions.my_sessions(info.context)
        return MySessions(current=[Session.from_model(s) for s in mine.current],
                          upcoming=[Session.from_model(s) for s in mine.upcoming],
                          past=[Session.from_model(s) for s in mine.past])


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    def viewer(self, info: Info) -> Viewer | None:
        user = info.context.actor.user
        return Viewer(model=user) if user is not None else None
