"""Relay's conventions: global IDs, `node(id:)`, and connections with totalCount."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from sessiongraph.infrastructure.storable import database_id, global_id
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.pagination import Page

T = TypeVar("T")


def to_global_id(type_name: str, db_id: int) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, db_id))


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, database ID), or None when the value is not one of our IDs.

    Only the form to_global_id writes: one object has one ID, so `User: 1`, `User:01` or
    non-canonical base64 name nothing, and an ID past PostgreSQL's integer is as unknown as
    a missing object instead of an error in SQL."""
    try:
        decoded = base64.b64decode(global_id.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError):
        return None
    type_name, colon, raw = decoded.partition(":")
    db_id = database_id(raw)
    if not colon or db_id is None or to_global_id(type_name, db_id) != global_id:
        return None
    return type_name, db_id


def id_of(global_id: str, type_name: str) -> int | None:
    """The database ID behind a global ID of `type_name`; None for anything else."""
    decoded = from_global_id(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


def decode_id(global_id: str, type_name: str, *field: str) -> int:
    """The database ID behind an input's global ID; a UserError NOT_FOUND if it is not a `type_name`."""
    db_id = id_of(global_id, type_name)
    if db_id is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, f"No {type_name} has the ID {global_id!r}.", *field)
    return db_id


def decode_ids(global_ids: Sequence[str], type_name: str, *field: str) -> list[int]:
    return [decode_id(g, type_name, *field) for g in global_ids]


@strawberry.interface(description="An object with a global ID, fetchable through `node(id:)`.")
class Node:
    id: strawberry.ID


NodeFetcher = Callable[[Info, int], Awaitable[Any]]
_fetchers: dict[str, NodeFetcher] = {}


def node_fetcher(type_name: str) -> Callable[[NodeFetcher], NodeFetcher]:
    """Registers how `node(id:)` fetches a type; the fetcher returns None for what the caller may not see."""

    def register(fetch: NodeFetcher) -> NodeFetcher:
        _fetchers[type_name] = fetch
        return fetch

    return register


async def resolve_node(info: Info, global_id: str) -> Node | None:
    if info.context.actor.is_anonymous:
        return None
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] not in _fetchers:
        return None
    type_name, db_id = decoded
    return await _fetchers[type_name](info, db_id)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds, across every page.")
    async def total_count(self) -> int:
        return await self._count()

    @classmethod
    def from_page(cls, page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
        edges = [Edge(cursor=cursor, node=convert(item)) for item, cursor in zip(page.items, page.cursors, strict=True)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            _count=page.total_count,
        )

    @classmethod
    def empty(cls) -> Connection[T]:
        async def zero() -> int:
            return 0

        return cls(edges=[], page_info=PageInfo(has_next_page=False, has_previous_page=False,
                                                start_cursor=None, end_cursor=None), _count=zero)
