"""Which client operations a schema change breaks.

graphql-core's `find_breaking_changes(old, new)` names what changed by schema
coordinate (`Field LiveSession.code was removed.`, `Argument
LearnerSchedule.upcoming(first:) has changed type …`, `Enum value Weekday.MONDAY
was removed.`). `coordinates_used` lists the coordinates an operation touches in
the old schema; a change breaks an operation when it is about one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphql import (
    BreakingChange,
    BreakingChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    visit,
)

from sessiongraph.clients.documents import Operation

# A schema coordinate with a dot (Type.field, Type.field(arg:), Enum.VALUE) or a directive (@name).
DOTTED = re.compile(r"@[_A-Za-z]\w*|[_A-Za-z]\w*\.[_A-Za-z]\w*(?:\([_A-Za-z]\w*:\))?")
# Changes to a whole type, whose messages name types only.
TYPE_LEVEL = {
    BreakingChangeType.TYPE_REMOVED: re.compile(r"(?:Standard scalar )?(\w+) was removed"),
    BreakingChangeType.TYPE_CHANGED_KIND: re.compile(r"(\w+) changed from"),
    BreakingChangeType.TYPE_REMOVED_FROM_UNION: re.compile(r"(\w+) was removed from union type (\w+)"),
    BreakingChangeType.IMPLEMENTED_INTERFACE_REMOVED: re.compile(r"(\w+) no longer implements interface (\w+)"),
}


class _Usage(Visitor):
    def __init__(self, schema: GraphQLSchema, type_info: TypeInfo) -> None:
        super().__init__()
        self.schema = schema
        self.type_info = type_info
        self.used: set[str] = set()

    def _type(self, type_) -> None:
        named = get_named_type(type_)
        if named is not None:
            self.used.add(named.name)

    def _input(self, type_, seen: set[str]) -> None:
        """Everything a variable of this type may hold: the client may send any of it."""
        named = get_named_type(type_)
        if named is None or named.name in seen:
            return
        seen.add(named.name)
        self.used.add(named.name)
        if isinstance(named, GraphQLEnumType):
            self.used.update(f"{named.name}.{value}" for value in named.values)
        elif isinstance(named, GraphQLInputObjectType):
            for name, field in named.fields.items():
                self.used.add(f"{named.name}.{name}")
                self._input(field.type, seen)

    def enter_field(self, node, *_args) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None:
            self.used.update({parent.name, f"{parent.name}.{node.name.value}"})
        self._type(self.type_info.get_type())

    def enter_argument(self, node, *_args) -> None:
        parent, field = self.type_info.get_parent_type(), self.type_info.get_field_def()
        if parent is not None and field is not None:
            field_name = next(name for name, f in parent.fields.items() if f is field)
            self.used.add(f"{parent.name}.{field_name}({node.name.value}:)")
        argument = self.type_info.get_argument()
        if argument is not None:
            self._input(argument.type, set())

    def enter_variable_definition(self, node, *_args) -> None:
        self._input(self.type_info.get_input_type(), set())

    def enter_inline_fragment(self, *_args) -> None:
        self._type(self.type_info.get_type())

    def enter_fragment_definition(self, *_args) -> None:
        self._type(self.type_info.get_type())

    def enter_directive(self, node, *_args) -> None:
        self.used.add(f"@{node.name.value}")


def coordinates_used(document: str, schema: GraphQLSchema) -> set[str]:
    """The schema coordinates (types, Type.field, Type.field(arg:), Enum.VALUE, @directive) a document uses."""
    type_info = TypeInfo(schema)
    usage = _Usage(schema, type_info)
    visit(parse(document), TypeInfoVisitor(type_info, usage))
    return usage.used


def coordinates_changed(change: BreakingChange) -> set[str]:
    """The coordinates a breaking change is about."""
    description = change.description
    type_level = TYPE_LEVEL.get(change.type)
    if type_level is not None:
        match = type_level.match(description)
        return set(match.groups()) if match else set()
    dotted = DOTTED.findall(description)
    if not dotted:
        return set()
    first = dotted[0]
    if change.type == BreakingChangeType.REQUIRED_INPUT_FIELD_ADDED:
        return {first.split(".")[0]}  # every operation that may send the input type
    if change.type == BreakingChangeType.REQUIRED_ARG_ADDED:
        return {first.split("(")[0]}  # every operation that selects the field
    return {first}


@dataclass
class BrokenOperation:
    operation: Operation
    changes: list[str]

    def __str__(self) -> str:
        return (f"{self.operation.client} operation {self.operation.name} ({self.operation.source}): "
                + "; ".join(self.changes))


def broken_operations(changes: Iterable[BreakingChange], operations: Iterable[Operation],
                      old_schema: GraphQLSchema) -> list[BrokenOperation]:
    changes = list(changes)
    broken = []
    for operation in operations:
        used = coordinates_used(operation.document, old_schema)
        hits = [change.description for change in changes if coordinates_changed(change) & used]
        if hits:
            broken.append(BrokenOperation(operation, hits))
    return broken
