"""Variables for any client document, derived from its own variable definitions and a world.

Nothing here knows a document by name: each variable gets candidate values from its type
(and, for IDs, from where the document uses it), and the cases of a document are the
candidates taken side by side (the i-th value of every variable, cycling the shorter lists),
times every value of a non-null enum (a calendar's view against every date). A case's
second and later pages are derived at run time, from the endCursor of the page before.

    Candidates       where they come from
    ID               the world's objects of the type the document reads the ID as (the type
                     conditions under `node(id:)`, or `courseId` -> Course), then an ID of
                     that type naming nothing, an ID of another type, and one that is no ID
    Date             days of the DST changes in the world's zones, the 31st, today
    DateTime         windows in UTC and across a DST change ("from"/"to" by name)
    enums            every value (from clients/schema.graphql)
    Int              a page size smaller than the world's lists, negative, the default, null
    String           search strings and codes the world names; cursors not from a page
    input objects    omitted, then one field set at a time
    nullable         omitted is a candidate too, the first but for Int (the first case is the
                     broadest, a first page)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    VariableNode,
    build_schema,
    parse,
    type_from_ast,
)

from sessiongraph.clients.documents import SCHEMA_PATH, Operation
from sessiongraph.schema.relay import to_global_id

OMIT: Any = object()  # the variable is left out of the request (its default applies)
PAGE_SIZE = 2  # smaller than every list the world has more than one page of
NOT_AN_ID = "not-a-global-id"
MISSING_DB_ID = 987654


@cache
def client_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


@dataclass
class WorldValues:
    """What a world offers a document's variables."""

    ids: dict[str, list[str]]  # GraphQL type name -> global IDs of the world's objects, most telling first
    strings: dict[str, list[str]]  # variable or input field name (search, code) -> strings the world names
    dates: list[str]
    windows: list[tuple[str, str]]  # (from, to) DateTime pairs
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    variables: dict[str, Any]

    def label(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.variables.items()) or "(no variables)"


def _uses(document: DocumentNode) -> dict[str, list[tuple[FieldNode | None, str]]]:
    """Variable name -> (the field it is an argument of, the argument or input field name) for each use."""
    uses: dict[str, list[tuple[FieldNode | None, str]]] = {}

    def value(node: Any, owner: FieldNode | None, name: str) -> None:
        if isinstance(node, VariableNode):
            uses.setdefault(node.name.value, []).append((owner, name))
        for child in getattr(node, "fields", None) or ():  # an input object's fields
            if isinstance(child, ObjectFieldNode):
                value(child.value, None, child.name.value)
        for child in getattr(node, "values", None) or ():  # a list's items
            value(child, owner, name)

    def selections(node: Any) -> None:
        for selection in getattr(getattr(node, "selection_set", None), "selections", None) or ():
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    assert isinstance(argument, ArgumentNode)
                    value(argument.value, selection, argument.name.value)
            selections(selection)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            selections(definition)
    return uses


def _type_conditions(owner: FieldNode, document: DocumentNode) -> list[str]:
    """The object types a field's selection narrows to (`... on T`, `...F` with F on T)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names = []
    for selection in owner.selection_set.selections if owner.selection_set else ():
        if isinstance(selection, InlineFragmentNode) and selection.type_condition:
            names.append(selection.type_condition.name.value)
        elif isinstance(selection, FragmentSpreadNode):
            names.append(fragments[selection.name.value].type_condition.name.value)
    return names


def id_types(name: str, uses: Sequence[tuple[FieldNode | None, str]], document: DocumentNode) -> list[str]:
    """The types whose objects an ID variable (or input field) names, read from where it is used."""
    schema = client_schema()
    found: list[str] = []
    for owner, argument in uses or [(None, name)]:
        if owner is not None and argument == "id" and owner.name.value == "node":
            found += _type_conditions(owner, document)
        elif argument.endswith("Id"):  # courseId -> Course; categoryId -> SessionCategory
            stem = argument[0].upper() + argument[1:-2]
            found += [stem] if stem in schema.type_map else [t for t in schema.type_map if t.endswith(stem)]
    return [t for t in dict.fromkeys(found) if t in schema.type_map]


def _id_candidates(types: list[str], world: WorldValues, required: bool) -> list[Any]:
    known = [gid for t in types for gid in world.ids.get(t, [])]
    other_type = next(t for t in ("Instructor", "Course") if t not in types)
    odd = [to_global_id(types[0], MISSING_DB_ID) if types else NOT_AN_ID,
           to_global_id(other_type, MISSING_DB_ID + 1) if not known else world.ids[other_type][0], NOT_AN_ID]
    return ([] if required else [OMIT]) + known + odd


def _named(type_: GraphQLInputType) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def candidates(name: str, type_: GraphQLInputType, has_default: bool, world: WorldValues,
               uses: Sequence[tuple[FieldNode | None, str]], document: DocumentNode) -> list[Any]:
    required = isinstance(type_, GraphQLNonNull) and not has_default
    named = _named(type_)
    optional = [] if required else [OMIT]
    type_name = getattr(named, "name", "")
    lower = name.lower()
    if isinstance(named, GraphQLEnumType):
        return optional + list(named.values)
    if isinstance(named, GraphQLInputObjectType):
        values: list[Any] = []
        for field_name, input_field in named.fields.items():
            inner = candidates(field_name, input_field.type, False, world, [(None, field_name)], document)
            values.append({field_name: next(v for v in inner if v is not OMIT)})
        return optional + values
    if type_name == "ID":
        return _id_candidates(id_types(name, uses, document), world, required)
    if type_name == "Int":
        return [PAGE_SIZE, -1, *optional, None] if not required else [PAGE_SIZE, -1]
    if type_name == "Boolean":
        return [*optional, True, False]
    if type_name == "Date":
        return list(world.dates)
    if type_name == "DateTime":
        index = 1 if lower.endswith("to") or lower.endswith("end") else 0
        return optional + [pair[index] for pair in world.windows]
    if type_name == "String":
        if lower.endswith("after"):  # a cursor: pages give the real ones
            return [*optional, "not-a-cursor"]
        return [*optional, *world.strings.get(name, world.strings["search"])]
    raise AssertionError(f"no candidates for ${name}: {type_name} (teach tests/differential.py the type)")


def document_cases(operation: Operation, world: WorldValues) -> list[Case]:
    """Every case of one document: its variables' candidates side by side, times every value of a
    non-null enum variable."""
    document = parse(operation.document, no_location=True)
    (definition,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    schema = client_schema()
    uses = _uses(document)
    columns: dict[str, list[Any]] = {}
    crossed: dict[str, list[Any]] = {}
    for variable in definition.variable_definitions or ():
        name = variable.variable.name.value
        type_ = type_from_ast(schema, variable.type)
        assert type_ is not None, f"${name}: {variable.type}"
        values = candidates(name, type_, variable.default_value is not None, world, uses.get(name, []), document)
        if isinstance(variable.type, NonNullTypeNode) and isinstance(_named(type_), GraphQLEnumType):
            crossed[name] = values
        else:
            columns[name] = values
    rows = max((len(v) for v in columns.values()), default=1)
    cases = []
    for crossing in itertools.product(*crossed.values()):
        for row in range(rows):
            variables = {name: values[row % len(values)] for name, values in columns.items()}
            variables |= dict(zip(crossed, crossing, strict=True))
            cases.append(Case({k: v for k, v in variables.items() if v is not OMIT}))
    return list({repr(sorted(c.variables.items(), key=str)): c for c in cases}.values())


def cursor_variables(operation: Operation) -> list[str]:
    """The document's cursor variables (`after`, `learnersAfter`)."""
    definition = next(d for d in parse(operation.document, no_location=True).definitions
                      if isinstance(d, OperationDefinitionNode))
    return [v.variable.name.value for v in definition.variable_definitions or ()
            if v.variable.name.value.lower().endswith("after") and _is_named(v.type, "String")]


def _is_named(type_node: Any, name: str) -> bool:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    return isinstance(type_node, NamedTypeNode) and type_node.name.value == name


def next_cursors(body: Mapping[str, Any]) -> list[str]:
    """The endCursor of every page in a response that says there is a next one."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("hasNextPage") is True and isinstance(node.get("endCursor"), str):
                found.append(node["endCursor"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(body.get("data"))
    return list(dict.fromkeys(found))


def pages_after(case: Case, cursor_names: list[str], body: Mapping[str, Any]) -> Iterator[Case]:
    """The next page of every list the response says has one, through each cursor variable."""
    for name in cursor_names:
        for cursor in next_cursors(body):
            yield Case(case.variables | {name: cursor})
