"""The per-request loader registry.

`SessionById(ctx).load(7)` returns the one `SessionById` of this request, so every
resolver that asks for session 7 lands in the same batch. Each batch opens its own
short-lived database session: Strawberry resolves sibling fields concurrently, and
one shared session would fail with "concurrent operations are not permitted".

A batch waits a few event-loop turns before it queries, and takes in the batches
that arrive meanwhile: graphql-core starts the fields of nested objects a turn per
level later, so without the wait the rows of a connection's nodes (three levels
below a plain list's items) would load in batches of their own, more or fewer as
the timing of the database falls. With it, a response costs the same statements
every time.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from strawberry.dataloader import AbstractCache, DataLoader

from sessiongraph.models.rows import plain_rows

if TYPE_CHECKING:
    from sessiongraph.resolvers.context import Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# How many event-loop turns a batch waits for more keys; more than the levels between a
# list's items and a connection's nodes (edges, node), with room to spare.
SETTLE_TURNS = 4

# What `Loader.peek` returns for a key no finished batch has answered.
NOT_LOADED: Any = object()


class _Futures(dict, AbstractCache):
    """A loader's futures by key, looked up and stored by the dict's own methods. Strawberry's DefaultCache
    calls a key function (the identity, as a lambda) in a method of its own for every load and peek."""

    get = dict.get  # type: ignore[assignment]
    set = dict.__setitem__  # type: ignore[assignment]
    delete = dict.__delitem__  # type: ignore[assignment]
    clear = dict.clear


class Loader(DataLoader[K, V], Generic[K, V]):
    context: Context
    _waiting: list[tuple[list[K], asyncio.Future[Sequence[V]]]]

    # Whether several viewers may share it (`SharedLoaders`): not a loader that runs functions as its caller.
    shareable: ClassVar[bool] = True

    def __new__(cls, context: Context) -> Loader[K, V]:
        loaders = context.loaders
        if type(loaders) is dict and (found := loaders.get(cls)) is not None:
            return found  # a request's own loader, made before: most of the calls, at a row's every field
        shared = isinstance(loaders, SharedLoaders)
        kept = cls.shareable or not shared
        loader = loaders.get(cls) if kept else None
        if loader is None:
            loader = super().__new__(cls)
            DataLoader.__init__(loader, load_fn=loader._load_batch, cache_map=_Futures())
            # Shared by several viewers, a loader reads in the share's context, not its first caller's.
            loader.context = loaders.context if isinstance(loaders, SharedLoaders) and cls.shareable else context
            loader._waiting = []
            if kept:
                loaders[cls] = loader
        return loader

    def __init__(self, context: Context) -> None:
        """Set up once, in __new__; constructing again only looks the loader up."""

    def peek(self, key: K) -> V:
        """The value an earlier batch of this request loaded for `key`, else NOT_LOADED.

        A field whose value a list has loaded ahead (schema/lookahead.py) answers at
        once instead of awaiting: graphql-core completes a row whose fields are all ready
        without a task or a gather, which is most of what a row of a long list costs.
        """
        loaded = self.cache_map.get(key)
        if loaded is None or not loaded.done():
            return NOT_LOADED
        try:
            return loaded.result()
        except BaseException:  # failed or cancelled: what a load would raise again
            return NOT_LOADED

    async def _load_batch(self, keys: list[K]) -> Sequence[V]:
        """The first batch to arrive waits SETTLE_TURNS turns, then answers every batch that
        came meanwhile with one query."""
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, answer))
        if len(self._waiting) == 1:
            await self._answer_waiting()
        return await answer

    async def _answer_waiting(self) -> None:
        waiting: list[tuple[list[K], asyncio.Future[Sequence[V]]]] = []
        try:
            for _ in range(SETTLE_TURNS):
                await asyncio.sleep(0)
            async with self.context.read_turn() as db:
                # Batches arriving from here on wait for the next query.
                waiting, self._waiting = self._waiting, []
                values = list(await self.batch_load(db, [key for batch, _ in waiting for key in batch]))
        except BaseException as error:
            if isinstance(self.context.loaders, SharedLoaders):
                self.context.loaders.failed = True
            if not waiting:
                waiting, self._waiting = self._waiting, []
            for _, waiter in waiting:  # each batch fails as its own query would have
                if waiter.done():
                    continue
                if isinstance(error, Exception):
                    waiter.set_exception(error)
                else:
                    waiter.cancel()
            if not isinstance(error, Exception):
                raise
            return
        start = 0
        for batch, waiter in waiting:
            waiter.set_result(values[start:start + len(batch)])
            start += len(batch)

    async def batch_load(self, db: AsyncSession, keys: list[K]) -> Sequence[V]:
        raise NotImplementedError


class SharedLoaders(dict):
    """Loaders shared by several viewers' contexts (the subscribers of one live session, or of one
    event), so that reading for all of them costs one batch per loader. Their batches run in the
    context the share was made for (a context of nobody's: loaders are keyed by data, never by who
    asks). `Together` is the exception (it calls functions as the context that asked), so it is not
    shared: each caller gets one of its own. `failed` tells that a batch failed: its error stays in
    the cache, so the share should not serve anyone else."""

    context: Context
    failed: bool

    @classmethod
    def of(cls, context: Context) -> SharedLoaders:
        shared = cls()
        shared.context = replace(context, loaders=shared)
        shared.failed = False
        return shared


class Together(Loader[tuple[Any, ...], Any]):
    """Runs the lists a request asks for at the same time together, and answers them at once.

    Sibling lists (a dashboard's upNext, today and upcoming, say) each finish their
    query at a different moment, so their rows' fields would load in one batch per
    list, or not, as the timing falls; answered together, the rows of every list load
    in one batch per loader, and the request costs the same statements whatever the
    lists hold. Key: (function, positional arguments, sorted keyword arguments).
    """

    shareable = False

    async def _load_batch(self, keys):
        return await asyncio.gather(*(function(self.context, *args, **dict(kwargs)) for function, args, kwargs in keys),
                                    return_exceptions=True)


def answered_together(function: Callable[..., Awaitable[V]]) -> Callable[..., Awaitable[V]]:
    """Makes `function(ctx, ...)` (hashable arguments only) answer together with the
    request's other calls of such functions; see `Together`. The planned execution already
    gathers a level's awaitables at once, so under it (`Context.answered_by_levels`) the function
    is called as it is: Together's batch (a loader's dispatch and a task per call) cost some
    0.25-0.3 M instructions a request (CalendarTab, Dashboard), and the statements are the same
    without it."""

    @functools.wraps(function)
    async def together(context: Context, *args: Hashable, **kwargs: Hashable) -> V:
        if context.answered_by_levels:
            return await function(context, *args, **kwargs)
        return await Together(context).load((function, args, tuple(sorted(kwargs.items()))))

    return together


async def first_rows_per_key(db: AsyncSession, entity: type, key_column: Any, keys: Sequence[Hashable],
                             order_by: Sequence[Any], limit: int) -> list[list[Any]]:
    """For each key, its first `limit` rows of `entity` in `order_by` order: the first page of
    a connection under every parent of a list, in one statement (a window function)."""
    rank = func.row_number().over(partition_by=key_column, order_by=list(order_by)).label("row_rank")
    ranked = select(entity, rank).where(key_column.in_(keys)).subquery()
    row: Any = aliased(entity, ranked)
    query = select(row).where(ranked.c.row_rank <= limit).order_by(ranked.c[key_column.key], ranked.c.row_rank)
    return many_per_key(keys, (await db.scalars(query)), lambda r: getattr(r, key_column.key))


def pairs_in(first: Any, second: Any, keys: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    """`(first, second) IN keys`, with `first IN (the keys' firsts)` beside it: SQLite answers
    a row-value IN list by reading the whole table (147 ms for a page's bookings among
    2,000,000), and the plain IN lets it search an index on `first` (0.3 ms). It changes
    nothing in the answer, nor PostgreSQL's plan."""
    return and_(first.in_(list(dict.fromkeys(k[0] for k in keys))), tuple_(first, second).in_(keys))


class NotByIndex(FunctionElement[Any]):
    """A column that SQLite's planner does not look up by an index: rendered `+column` there (SQLite's
    documented way to keep a term from driving the plan), the column itself elsewhere.

    For a condition that looks selective to SQLite but is not, such as `live_session.session_id
    IS NULL`, true of nine live sessions in ten: SQLite started a session's tracking from it and
    read 450,000 live sessions (11 s at full scale), where starting from the session's
    enrollments reads a few hundred rows (24 ms). PostgreSQL's plan is the latter either way."""

    name = "not_by_index"
    inherit_cache = True

    def __init__(self, column: Any) -> None:  # a column, or the ORM attribute standing for one
        super().__init__(column)
        self.type = column.type


@compiles(NotByIndex)
def _column_itself(element: NotByIndex, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(NotByIndex, "sqlite")
def _unary_plus(element: NotByIndex, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def one_per_key(keys: Iterable[K], rows: Iterable[Any], key: Callable[[Any], K]) -> list[Any]:
    """Rows in key order, None where a key has no row."""
    found = {key(row): row for row in rows}
    return [found.get(k) for k in keys]


def many_per_key(keys: Iterable[K], rows: Iterable[Any], key: Callable[[Any], K]) -> list[list[Any]]:
    """For each key, the list of its rows in the order the query returned them."""
    grouped: dict[K, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return [grouped.get(k, []) for k in keys]


# Loaders by column. Most loaders fetch the rows whose column equals the key, and differ
# only in the column: declared (`class UserById(OneBy[int, User | None], key=User.id):
# pass`), they keep their own class, so the per-request registry and every call site stay
# as they are, and a loader that holds a rule of its own stands out by having a body. A
# key is one column, or a pair of columns (a tuple key, matched through `pairs_in`).
# Declared columns are kept in tuples: a column set as a class attribute would be a
# descriptor, and reading it through the loader would ask the loader for its value.


def _as_tuple(columns: Any) -> tuple[Any, ...]:
    return columns if isinstance(columns, tuple) else (columns,)


def _key_of(columns: tuple[Any, ...]) -> Callable[[Any], Any]:
    return attrgetter(*(column.key for column in columns))


def _key_in(columns: tuple[Any, ...], keys: Sequence[Any]) -> ColumnElement[bool]:
    if len(columns) == 2:
        return pairs_in(columns[0], columns[1], keys)
    (column,) = columns
    return column.in_(keys)


async def _plain(db: AsyncSession, model: Any, where: ColumnElement[bool], order_by: Sequence[Any] = ()) -> list[Any]:
    """The model's rows that `where` keeps, read plain (models/rows.py): what a loader gives is read,
    never written, and an ORM instance costs several times what the row's values do."""
    rows = plain_rows(model)
    query = select(*rows.columns).where(where).order_by(*order_by)
    return [rows.of(row) for row in (await db.execute(query)).all()]


class OneBy(Loader[K, V]):
    """The row whose key columns hold the key, None where none does (a unique key)."""

    key_columns: ClassVar[tuple[Any, ...]]

    def __init_subclass__(cls, *, key: Any, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.key_columns = _as_tuple(key)

    async def batch_load(self, db: AsyncSession, keys: list[K]) -> Sequence[V]:
        columns = self.key_columns
        return one_per_key(keys, await _plain(db, columns[0].class_, _key_in(columns, keys)), _key_of(columns))


class ManyBy(Loader[K, V]):
    """The rows whose key columns hold the key, in `order_by` order; `shape` makes a key's
    answer of them where the rows themselves are not it."""

    key_columns: ClassVar[tuple[Any, ...]]
    order_by: ClassVar[tuple[Any, ...]]

    def __init_subclass__(cls, *, key: Any, order_by: Any = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.key_columns = _as_tuple(key)
        cls.order_by = _as_tuple(order_by)

    async def batch_load(self, db: AsyncSession, keys: list[K]) -> Sequence[V]:
        columns = self.key_columns
        rows = await _plain(db, columns[0].class_, _key_in(columns, keys), self.order_by)
        return [self.shape(rows) for rows in many_per_key(keys, rows, _key_of(columns))]

    def shape(self, rows: list[Any]) -> V:
        return cast(V, rows)


class CountBy(Loader[K, int]):
    """How many rows have the key in `key` (and meet `where`), 0 where none does."""

    key_columns: ClassVar[tuple[Any]]
    where: ClassVar[tuple[Any, ...]]

    def __init_subclass__(cls, *, key: Any, where: Any = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.key_columns, cls.where = (key,), _as_tuple(where)

    async def batch_load(self, db: AsyncSession, keys: list[K]) -> Sequence[int]:
        (column,) = self.key_columns
        query = select(column, func.count()).where(column.in_(keys), *self.where).group_by(column)
        counts: dict[Any, int] = dict((await db.execute(query)).all())
        return [counts.get(k, 0) for k in keys]


class ValueBy(Loader[K, V]):
    """The `value` column of the row that has the key in `key` (a unique key), `default`
    where no row does: for a row whose absence means a value (no credit account, no credit)."""

    key_and_value: ClassVar[tuple[Any, Any]]
    default: ClassVar[Any]

    def __init_subclass__(cls, *, key: Any, value: Any, default: Any, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.key_and_value, cls.default = (key, value), default

    async def batch_load(self, db: AsyncSession, keys: list[K]) -> Sequence[V]:
        key, value = self.key_and_value
        values: dict[Any, Any] = dict((await db.execute(select(key, value).where(key.in_(keys)))).all())
        return [values.get(k, self.default) for k in keys]
