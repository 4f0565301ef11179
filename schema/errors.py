"""Payload errors (UserError) and the one way every mutation runs its work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from sessiongraph.resolvers.errors import Problem, UserErrors

T = TypeVar("T")


@strawberry.type(description="Something about the input the user can fix.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field, inside `input`.")
    code: str
    message: str

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        return cls(field=list(problem.field) if problem.field else None, code=problem.code.value,
                   message=problem.message)


async def attempt(info: Info, work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a mutation's work (a callable, so input decoding inside it is covered too);
    its UserErrors become payload errors.

    After a change, the request's loaders are dropped so the payload shows the
    new state rather than what was cached before the mutation.
    """
    try:
        result = await work()
    except UserErrors as refusal:
        return None, [UserError.from_problem(p) for p in refusal.problems]
    info.context.forget_loaded()
    return result, []
