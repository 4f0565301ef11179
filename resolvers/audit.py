"""The audit log: what every admin mutation changed, by whom and when, written in the mutation's own
transaction (so an entry exists exactly when the change does).

One mechanism for every mutation: `@audited("updateSession", subject=Session)` on its resolver
function. While that function runs, every flush of its database transaction is watched (SQLAlchemy's
session events) and the rows it inserted, updated or deleted become the entry's `changes`, before and
after taken from the rows themselves:

- the subject's own columns, as `{"field": [before, after]}` (field names as clients spell them);
- other rows, per table, as `{"table": [[rows before], [rows after]]}` (an instructor profile made
  with its user, enrollments added with Core INSERTs);
- what the ORM cannot see (a Core DELETE of the subject) the resolver names with `audit_removed`.

Columns marked `info={"secret": True}` (password hashes, token digests) never reach the log.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from inspect import signature as inspect_signature
from typing import Any, TypeVar

from sqlalchemy import Insert, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel import SQLModel, col

from sessiongraph.infrastructure.storable import global_id
from sessiongraph.models import AuditEntry
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.pagination import Page, paginate
from sessiongraph.resolvers.permissions import require_admin

R = TypeVar("R")

# Rows of another table listed in one entry; more are counted, not listed.
LISTED_ROWS = 50


@dataclass
class _Scope:
    """One audited mutation: what it is, and (per database transaction) what it changed."""

    action: str
    actor_id: int | None
    at: datetime
    subject_type: type[SQLModel] | None
    # (type name, ID) when an argument names the subject, which the mutation may not change itself.
    subject: tuple[str, int] | None = None


_current: ContextVar[_Scope | None] = ContextVar("sessiongraph_audit_scope", default=None)

# Every action an @audited function records, so a test can hold the list of admin mutations to it.
AUDITED_ACTIONS: set[str] = set()


def audited(action: str, subject: type[SQLModel] | None = None, by: str | None = None
            ) -> Callable[[Callable[..., Awaitable[R]]], Callable[..., Awaitable[R]]]:
    """Records the decorated mutation's changes as one audit entry named `action`. The subject is the
    `subject` whose ID is the argument named `by`; without `by`, the first row of type `subject` (or of
    any type) the mutation changes. The function's first argument is the request's Context."""

    AUDITED_ACTIONS.add(action)

    def decorate(work: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        signature = inspect_signature(work)

        @functools.wraps(work)
        async def run(ctx: Context, *args: Any, **kwargs: Any) -> R:
            named = None
            if by is not None and subject is not None:
                named = (subject.__name__, signature.bind(ctx, *args, **kwargs).arguments[by])
            # The command line's operator is no stored user: no actor, as for a deleted one.
            token = _current.set(_Scope(action, ctx.actor.user_id, ctx.now, subject, named))
            try:
                return await work(ctx, *args, **kwargs)
            finally:
                _current.reset(token)

        return run

    return decorate


@dataclass
class _Changes:
    """What one transaction of an audited mutation changed so far, and its entry once written."""

    subject: tuple[str, int] | None = None
    fields: dict[str, list[Any]] = field(default_factory=dict)
    others: dict[str, tuple[_Rows, _Rows]] = field(default_factory=dict)
    entry: AuditEntry | None = None  # once written

    def as_json(self) -> str:
        changes: dict[str, Any] = {name: [before, after] for name, (before, after) in self.fields.items()
                                   if before != after}
        for table, (before, after) in self.others.items():
            changes[table] = [before.listed(), after.listed()]
        return json.dumps(changes, sort_keys=True, default=_json_value)

    def __bool__(self) -> bool:
        return self.subject is not None or bool(self.fields) or bool(self.others)


class _Rows:
    """Rows of another table: the first LISTED_ROWS kept, the rest counted (an import adds 100,000)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.more = 0

    def add(self, row: dict[str, Any]) -> None:
        if len(self.rows) < LISTED_ROWS:
            self.rows.append(row)
        else:
            self.more += 1

    def listed(self) -> list[Any]:
        return [*self.rows, f"… and {self.more} more"] if self.more else list(self.rows)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _type_name(row: SQLModel) -> str:
    return type(row).__name__


def _columns(mapper) -> list:
    return [column for column in mapper.columns if not column.info.get("secret")]


def _snapshot(row: SQLModel) -> dict[str, Any]:
    state = inspect(row)
    return {_camel(attr.key): state.dict.get(attr.key) for attr in _attributes(row)}


def _attributes(row: SQLModel):
    mapper = inspect(type(row))
    return [mapper.get_property_by_column(column) for column in _columns(mapper)]


def _changes_of(session: Session) -> _Changes:
    changes = session.info.get("audit")
    if changes is None:
        scope = _current.get()
        changes = session.info["audit"] = _Changes(subject=scope.subject if scope is not None else None)
    return changes


def _key(row: SQLModel) -> tuple[str, int] | None:
    """(type name, ID) of a row with a one-column integer key; a just-inserted row has its ID already."""
    values = inspect(type(row)).primary_key_from_instance(row)
    return (_type_name(row), values[0]) if len(values) == 1 and isinstance(values[0], int) else None


def _is_subject(scope: _Scope, changes: _Changes, row: SQLModel) -> bool:
    key = _key(row)
    wanted = scope.subject_type is None or isinstance(row, scope.subject_type)
    if key is not None and changes.subject is None and wanted:
        changes.subject = key
    return key is not None and key == changes.subject


def _record(scope: _Scope, changes: _Changes, row: SQLModel, kind: str) -> None:
    if isinstance(row, AuditEntry):
        return
    if _is_subject(scope, changes, row):
        for attr in _attributes(row):
            history = inspect(row).attrs[attr.key].history
            before = None if kind == "new" else (history.deleted[0] if history.deleted else
                                                 (history.unchanged[0] if history.unchanged else None))
            after = None if kind == "deleted" else inspect(row).dict.get(attr.key)
            if kind == "dirty" and not history.has_changes():
                continue
            name = _camel(attr.key)
            first_before = changes.fields[name][0] if name in changes.fields else before
            changes.fields[name] = [first_before, after]
        return
    before_rows, after_rows = changes.others.setdefault(inspect(row).mapper.local_table.name, (_Rows(), _Rows()))
    if kind != "new":
        before_rows.add({_camel(attr.key): (inspect(row).attrs[attr.key].history.deleted or
                                               [inspect(row).dict.get(attr.key)])[0] for attr in _attributes(row)})
    if kind != "deleted":
        after_rows.add(_snapshot(row))


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context: Any) -> None:
    scope = _current.get()
    if scope is None:
        return
    changes = _changes_of(session)
    for row in session.new:
        _record(scope, changes, row, "new")
    for row in session.dirty:
        if session.is_modified(row, include_collections=False):
            _record(scope, changes, row, "dirty")
    for row in session.deleted:
        _record(scope, changes, row, "deleted")


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    """The entry, written once per transaction: what is left to flush first (so that every change is
    collected), then the entry, which the commit flushes (one INSERT)."""
    scope = _current.get()
    if scope is None:
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    changes = session.info.get("audit")
    if not changes or changes.entry is not None:
        return
    changes.entry = AuditEntry(at=scope.at, actor_id=scope.actor_id, action=scope.action,
                               subject_id=global_id(*changes.subject) if changes.subject is not None else None,
                               changes=changes.as_json())
    session.add(changes.entry)


@event.listens_for(Session, "do_orm_execute")
def _core_inserts(state: ORMExecuteState) -> None:
    """Rows a Core INSERT is given (the ORM's flush never sees them; with ON CONFLICT DO NOTHING some may
    have been there already). An upsert's values are not what the row holds after it (a balance adds
    up), so it is left out: the rows beside it tell the change."""
    scope = _current.get()
    statement = state.statement
    if scope is None or not isinstance(statement, Insert) or statement.table.name == AuditEntry.__tablename__:
        return
    if type(getattr(statement, "_post_values_clause", None)).__name__ == "OnConflictDoUpdate":
        return
    if statement.select is not None:  # INSERT … SELECT: its writer names the rows (audit_inserted)
        return
    parameters: Any = state.parameters
    if not parameters:  # insert(...).values(...): the values are in the statement
        parameters = statement.compile(dialect=state.session.get_bind().dialect).params
    rows: list[Mapping[str, Any]] = list(parameters) if isinstance(parameters, list | tuple) else [parameters]
    _list_inserted(state.session, statement.table, rows[:LISTED_ROWS], len(rows))


def audit_inserted(db, table, rows: Sequence[Mapping[str, Any]]) -> None:
    """The rows an INSERT … SELECT was given, which its parameters (arrays, or JSON) no longer show."""
    if _current.get() is not None:
        _list_inserted(db.sync_session, table, rows[:LISTED_ROWS], len(rows))


def _list_inserted(session: Session, table, first_rows: Sequence[Mapping[str, Any]], count: int) -> None:
    shown = {column.name for column in table.columns if not column.info.get("secret")}
    _, after_rows = _changes_of(session).others.setdefault(table.name, (_Rows(), _Rows()))
    room = max(0, LISTED_ROWS - len(after_rows.rows))
    for row in first_rows[:room]:
        after_rows.add({_camel(k): v for k, v in row.items() if k in shown})
    after_rows.more += max(0, count - room)


def audit_removed(db, row: SQLModel) -> None:
    """Names the subject a Core DELETE is about to remove, with its columns as they were."""
    scope = _current.get()
    if scope is None:
        return
    changes = _changes_of(db.sync_session)
    changes.subject = _key(row)
    for name, value in _snapshot(row).items():
        changes.fields[name] = [value, None]


def audit_subject(db, type_name: str, db_id: int) -> None:
    """Names the subject where the rows changed are not it (a guardian link is about its learner)."""
    if _current.get() is not None:
        _changes_of(db.sync_session).subject = (type_name, db_id)


def audit_note(db, name: str, before: Any, after: Any) -> None:
    """A change the rows do not show (the learners a Core DELETE unenrolled, say)."""
    if _current.get() is not None:
        _changes_of(db.sync_session).fields[name] = [before, after]


# --- reading the log -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: int | None = None
    subject_id: str | None = None
    starts_from: datetime | None = None
    until: datetime | None = None


async def audit_log(ctx: Context, audit_filter: AuditFilter, *, first: int | None,
                    after: str | None) -> Page[AuditEntry]:
    """Entries newest first; admins only."""
    require_admin(ctx)
    query = select(AuditEntry)
    if audit_filter.actor_id is not None:
        query = query.where(col(AuditEntry.actor_id) == audit_filter.actor_id)
    if audit_filter.subject_id is not None:
        query = query.where(col(AuditEntry.subject_id) == audit_filter.subject_id)
    if audit_filter.starts_from is not None:
        query = query.where(col(AuditEntry.at) >= audit_filter.starts_from)
    if audit_filter.until is not None:
        query = query.where(col(AuditEntry.at) <= audit_filter.until)
    return await paginate(ctx, query, [col(AuditEntry.at), col(AuditEntry.id)], lambda entry: (entry.at, entry.id),
                          first, after, descending=True)


async def audit_entry(ctx: Context, entry_id: int) -> AuditEntry | None:
    """One entry, for `node(id:)`: admins only, None for anyone else."""
    if not ctx.actor.is_admin:
        return None
    async with ctx.database.read() as db:
        return await db.get(AuditEntry, entry_id)
