"""Plain rows: a table's row read as a plain object rather than an ORM instance.

Read through an ORM session, each row becomes an instance with its identity-map entry,
its instance state and SQLModel's private attributes: measured on a month calendar's
statement (16 live sessions with their courses and instructors), 1.1 ms of CPU against
0.35 ms for the same statement's plain rows (issue #15). A read-only list needs none of
that, so the hot lists read their tables' columns and build these instead.

`PlainRows(Model)` makes, once per model, a slotted class whose attributes are the
model's columns, by the same names, and which carries the model's own methods and
properties (`LiveSession.status`, `.location`, `.links`...): the rules in models/ read
columns only, so they answer alike for both. It is typed as the model, because it reads
as the model reads; it is never added to a session (SQLAlchemy refuses it: it is not
mapped), so nothing written starts from one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, cached_property
from types import FunctionType
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Column
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


class PlainRow:
    """The base of every plain row class: its instances are not mapped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={getattr(self, 'id', None)!r})"


def _behaviour(model: type[SQLModel]) -> dict[str, Any]:
    """The methods and properties the model's own classes define (not SQLModel's or pydantic's)."""
    kept: dict[str, Any] = {}
    own = model.__mro__[: model.__mro__.index(SQLModel)]
    for klass in reversed(own):
        for name, value in vars(klass).items():
            if name.startswith("__"):
                continue
            if isinstance(value, property | FunctionType | staticmethod | classmethod | cached_property):
                kept[name] = value
    return kept


class PlainRows(Generic[M]):
    """How one model's rows are read plain: `columns` to select, in order, and `of(values)` to
    make the row from their values (`values` a result row, or a slice of one)."""

    __slots__ = ("columns", "make", "model", "names")

    def __init__(self, model: type[M]) -> None:
        mapper = model.__mapper__  # type: ignore[attr-defined]  # SQLModel's table classes are mapped
        self.model = model
        self.names: tuple[str, ...] = tuple(prop.key for prop in mapper.column_attrs)
        self.columns: tuple[Column[Any], ...] = tuple(prop.columns[0] for prop in mapper.column_attrs)
        behaviour = _behaviour(model)
        clashing = set(behaviour) & set(self.names)
        if clashing:
            raise TypeError(f"{model.__name__}: {sorted(clashing)} are both columns and methods")
        # An __init__ taking the columns by position, as a namedtuple's does: the cheapest way
        # Python has to fill a slotted object.
        arguments = ", ".join(self.names)
        body = "".join(f"\n    self.{name} = {name}" for name in self.names) or "\n    pass"
        namespace: dict[str, Any] = {}
        exec(f"def __init__(self, {arguments}):{body}", {}, namespace)  # names are the mapper's keys
        self.make: type[M] = cast("type[M]", type(f"Plain{model.__name__}", (PlainRow,), {
            "__slots__": self.names, "__module__": model.__module__, "__init__": namespace["__init__"],
            "__doc__": f"A row of {model.__name__}, read plain (models/rows.py).", **behaviour}))

    def of(self, values: Sequence[Any]) -> M:
        return self.make(*values)

    def __len__(self) -> int:
        return len(self.names)


@cache
def plain_rows(model: type[M]) -> PlainRows[M]:
    """The one PlainRows of a model."""
    return PlainRows(model)
