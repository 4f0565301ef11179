"""Planned execution: a query answered level by level, each field once per level.

graphql-core executes a document object by object: for every field of every object it
builds a resolve info, calls Strawberry's wrapper (which builds an Info and converts the
arguments again), and completes the value through several layers of calls, with a task
per list once anything awaits. A month calendar holds about 260 such fields and a page
of upcoming sessions about 400; that per-field work was most of a request's CPU (issue
#15's profile). The planned path does it once per field and level instead:

- a plan per document and operation, kept across requests: for each object type a
  selection reaches, its fields merged from the fragments (by graphql-core's own
  collect_fields), each with how it is answered: a plain attribute (a Strawberry field
  without resolver) read with getattr, `__typename`, or the field's resolver;
- per request: the variables coerced as graphql-core coerces them (its Executor.build);
  then level by level, each field's arguments converted once (Strawberry's own
  get_arguments), one Info for all the objects of the level, the resolver called for each
  object, and whatever awaits gathered once per level, so that the loaders take every
  row of a level into one batch, as they do under graphql-core;
- values completed as graphql-core completes them: leaves by their type's
  coerce_output_value, objects checked by is_type_of, abstract types through their
  resolve_type, a null where the schema promises a value refused.

What it does not handle it declines, and graphql-core executes the request as before:
mutations and subscriptions, introspection, directives in the document, and at run time
any exception from a resolver or a null in a non-null position. The request's loaders are
emptied first, so errors, their paths and the partial data are graphql-core's own.
`sessiongraph_execution_total{operation, path}` counts which path answered.

The rules stay where they are: a planned request calls the schema's own resolvers, so
permissions, statuses and join windows are decided by the same functions on both paths.
tests/test_differential.py holds every query document in clients/, as every role, equal
on both paths.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import EnumMeta
from inspect import isawaitable
from types import GeneratorType
from typing import Any, cast

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    is_abstract_type,
    is_leaf_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.executor import Executor
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, Undefined
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType as StrawberryOperationType

from sessiongraph.infrastructure.db import database_unavailable
from sessiongraph.infrastructure.observability import EXECUTIONS, READS_BY_NODE, REPLICA_FAILOVERS
from sessiongraph.infrastructure.replicas import replica_failure
from sessiongraph.resolvers.context import SharedReads

log = logging.getLogger("sessiongraph.execution")

MAX_PLANS = 1024  # documents planned and kept; a client sends a few dozen


class Declined(Exception):
    """This request is graphql-core's to answer."""


class Unplannable(Declined):
    """The document is graphql-core's to answer, whatever the request."""


# How a field is answered.
ATTRIBUTE, TYPENAME, RESOLVER = "attribute", "typename", "resolver"

# A field's GraphQLField.extensions may hold, under this key, a function of (awaitable, info) wrapping each
# awaitable its resolver returns (schema/tracing.py times them, when tracing is on): the planned path applies
# it as graphql-core's path does through the field's wrapped `resolve`.
AWAITED_WRAPPER = "sessiongraph-awaited"

# Stands for each object of a level in the arguments converted once for all of them.
_SOURCE: Any = object()

Completer = Callable[[Any, "Level"], Any]


@dataclass(eq=False, slots=True)
class FieldStep:
    key: str
    details: list[FieldDetails]
    nodes: list[FieldNode]
    definition: GraphQLField | None  # None for __typename
    kind: str
    strawberry: StrawberryField | None
    takes_arguments: bool
    # The field's AWAITED_WRAPPER, looked up once with the plan.
    awaited: Callable[[Any, GraphQLResolveInfo], Any] | None = None
    # For a resolver whose field has no arguments, what Strawberry's get_arguments would pass it, known
    # with the plan: the object (as `self`) or not, and the name of its Info parameter, if any.
    takes_self: bool = False
    info_name: str | None = None
    complete: Completer = field(init=False)
    # The type of the values that `complete` returns as they are (str for a String or an ID, bool for a
    # Boolean), which the loops take without calling it; None for other types.
    passes: type | None = None


@dataclass(eq=False, slots=True)
class ObjectStep:
    type: GraphQLObjectType
    fields: list[FieldStep]


class Level:
    """The objects of one level, grouped by the step that answers their fields."""

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: dict[ObjectStep, tuple[list[Any], list[dict[str, Any]]]] = {}

    def add(self, step: ObjectStep, source: Any) -> dict[str, Any]:
        group = self.groups.get(step)
        if group is None:
            group = self.groups[step] = ([], [])
        out: dict[str, Any] = {}
        group[0].append(source)
        group[1].append(out)
        return out


class Plan:
    """One operation of one document, planned as the requests reach its object types."""

    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> None:
        self.schema = schema
        self.operation = operation
        self._steps: dict[tuple[str, int], ObjectStep] = {}
        self._root: ObjectStep | None = None
        # What graphql-core's field collection reads besides the document: the fragments, and
        # the variables only for directives, which a planned document has none of.
        self._fragments: dict[str, FragmentDetails] = {}
        self._variables: VariableValues | None = None

    def root(self, executor: Executor) -> ObjectStep:
        if self._root is None:
            root_type = self.schema.query_type
            assert root_type is not None
            self._fragments, self._variables = executor.fragments, executor.variable_values
            collected = collect_fields(self.schema, self._fragments, self._variables, root_type, self.operation)
            self._root = self._object_step(root_type, collected.grouped_field_set)
        return self._root

    def child(self, type_: GraphQLObjectType, step: FieldStep) -> ObjectStep:
        key = (type_.name, id(step))
        found = self._steps.get(key)
        if found is None:
            assert self._variables is not None
            collected = collect_subfields(self.schema, self._fragments, self._variables, self.operation, type_,
                                          step.details)
            found = self._steps[key] = self._object_step(type_, collected.grouped_field_set)
        return found

    def _object_step(self, type_: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> ObjectStep:
        return ObjectStep(type_, [self._field_step(type_, key, details) for key, details in grouped.items()])

    def _field_step(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> FieldStep:
        nodes = [d.node for d in details]
        name = nodes[0].name.value
        if name == "__typename":
            step = FieldStep(key, details, nodes, None, TYPENAME, None, False, passes=str)
            step.complete = _leaf_completer(self.schema.type_map["String"], nullable=False)
            return step
        definition = parent.fields.get(name)
        if definition is None:  # introspection (__schema, __type)
            raise Unplannable(name)
        strawberry_field = definition.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        kind = _kind_of(strawberry_field)
        step = FieldStep(key, details, nodes, definition, kind, strawberry_field,
                         bool(definition.args or nodes[0].arguments), definition.extensions.get(AWAITED_WRAPPER))
        if kind is RESOLVER and not step.takes_arguments:
            resolver = strawberry_field.base_resolver
            assert resolver is not None
            info_parameter = resolver.info_parameter
            step.takes_self = resolver.self_parameter is not None
            step.info_name = info_parameter.name if info_parameter is not None else None
        step.complete = self._completer(definition.type, step, parent)
        leaf = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        step.passes = _PASSED_AS_THEY_ARE.get(leaf.name) if is_leaf_type(leaf) else None
        return step

    def _completer(self, type_: GraphQLOutputType, step: FieldStep, parent: GraphQLObjectType) -> Completer:
        """How a value of the type is completed, as graphql-core's complete_value does."""
        if isinstance(type_, GraphQLNonNull) and is_leaf_type(type_.of_type):
            return _leaf_completer(type_.of_type, nullable=False)  # one call a leaf, not two
        if isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLObjectType):
            return self._object_completer(type_.of_type, step, nullable=False)  # nor an object
        if isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLList):
            return self._list_completer(type_.of_type, step, parent, nullable=False)  # nor a list
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type, step, parent)

            def non_null(value: Any, level: Level) -> Any:
                if value is None:
                    raise Declined("null where the schema promises a value")
                return inner(value, level)
            return non_null
        if isinstance(type_, GraphQLList):
            return self._list_completer(type_, step, parent)
        if is_leaf_type(type_):
            return _leaf_completer(type_)
        if is_abstract_type(type_):
            return self._abstract_completer(type_, step, parent)
        assert isinstance(type_, GraphQLObjectType)
        return self._object_completer(type_, step)

    def _list_completer(self, type_: GraphQLList, step: FieldStep, parent: GraphQLObjectType, *,
                        nullable: bool = True) -> Completer:
        item = self._completer(type_.of_type, step, parent)

        def list_of(value: Any, level: Level) -> Any:
            if type(value) is not list:  # a list, the usual value, needs no more checking
                if value is None:
                    if nullable:
                        return None
                    raise Declined("null where the schema promises a value")
                if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
                    raise Declined("a list's value is not iterable")
            return [item(v, level) for v in value]
        return list_of

    def _object_completer(self, type_: GraphQLObjectType, step: FieldStep, *, nullable: bool = True) -> Completer:
        child: list[ObjectStep] = []  # planned when the first value reaches it
        is_type_of = type_.is_type_of
        plan = self

        def object_value(value: Any, level: Level) -> Any:
            if value is None:
                if nullable:
                    return None
                raise Declined("null where the schema promises a value")
            if not child:
                child.append(plan.child(type_, step))
            if is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]
                raise Declined(f"not a {type_.name}")
            # Level.add, without its call.
            group = level.groups.get(child[0])
            if group is None:
                group = level.groups[child[0]] = ([], [])
            out: dict[str, Any] = {}
            group[0].append(value)
            group[1].append(out)
            return out
        return object_value

    def _abstract_completer(self, type_: GraphQLAbstractType, step: FieldStep,
                            parent: GraphQLObjectType) -> Completer:
        plan = self
        resolve_type = type_.resolve_type
        if resolve_type is None:
            raise Unplannable(f"{type_.name} has no resolve_type")
        # Strawberry's resolve_type reads the schema and the field's name from the info; nothing of a request.
        info = GraphQLResolveInfo(step.nodes[0].name.value, step.nodes, step.definition.type, parent,  # type: ignore[union-attr]
                                  Path(None, step.key, parent.name), self.schema, {}, None, self.operation,
                                  self._variables, None, isawaitable, None, None)  # type: ignore[arg-type]

        def abstract_value(value: Any, level: Level) -> Any:
            if value is None:
                return None
            name = resolve_type(value, info, type_)
            runtime = plan.schema.type_map.get(name) if isinstance(name, str) else None
            if not isinstance(runtime, GraphQLObjectType) or not plan.schema.is_sub_type(type_, runtime):
                raise Declined(f"no runtime type for {type_.name}")
            return level.add(plan.child(runtime, step), value)
        return abstract_value


# The built-in scalars whose values of these types graphql-core's coerce_output_value returns unchanged.
_PASSED_AS_THEY_ARE: dict[str, type] = {"String": str, "ID": str, "Boolean": bool}


def _enum_names(type_: Any) -> dict[int, str]:
    """A Strawberry enum's GraphQL names, by the id of each member of its Python enum (members live as
    long as their class, so no other object has their id). Strawberry's coerce_output_value compares the
    value with each of the enum's values in turn, reading the Python enum's `.value` property each time."""
    wrapped = getattr(type_, "wrapped_cls", None)
    if not isinstance(type_, GraphQLEnumType) or not isinstance(wrapped, EnumMeta):
        return {}
    names: dict[int, str] = {}
    member: Any
    for member in wrapped:
        try:
            names[id(member)] = type_.coerce_output_value(member)
        except Exception:  # left to the call, which raises it, to decline the request
            continue
    return names


def _leaf_completer(type_: Any, *, nullable: bool = True) -> Completer:
    coerce = type_.coerce_output_value
    # The values graphql-core's built-in scalars pass through unchanged, taken without the call.
    same: type | None = _PASSED_AS_THEY_ARE.get(getattr(type_, "name", ""))
    enum_names = _enum_names(type_)
    if enum_names:
        def enum_leaf(value: Any, level: Level) -> Any:
            name = enum_names.get(id(value))
            return name if name is not None else leaf(value, level)
    elif type_.name == "Int":
        def int_leaf(value: Any, level: Level) -> Any:
            if type(value) is int and -2147483648 <= value <= 2147483647:
                return value
            return leaf(value, level)
    elif same is not None:
        def same_leaf(value: Any, level: Level) -> Any:
            if type(value) is same:
                return value
            return leaf(value, level)

    def leaf(value: Any, level: Level) -> Any:
        if value is None:
            if nullable:
                return None
            raise Declined("null where the schema promises a value")
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Declined(f"{type_} cannot represent {value!r}")
        return coerced
    if enum_names:
        return enum_leaf
    if type_.name == "Int":
        return int_leaf
    return same_leaf if same is not None else leaf


# Whether a value of a type is awaitable, by type: inspect.isawaitable on every value of a
# response was a tenth of the planned path's time.
_AWAITABLE: dict[type, bool] = {}


def _awaitable(value: Any) -> bool:
    kind = type(value)
    found = _AWAITABLE.get(kind)
    if found is None:
        found = isawaitable(value)
        if kind is not GeneratorType:  # a generator is awaitable only when marked a coroutine
            _AWAITABLE[kind] = found
    return found


def _kind_of(strawberry_field: StrawberryField | None) -> str:
    if strawberry_field is None or strawberry_field.extensions:
        raise Unplannable("a field Strawberry's wrapper answers")
    resolver = strawberry_field.base_resolver
    if resolver is None:
        if strawberry_field.default_resolver is not getattr:
            raise Unplannable("a default resolver other than getattr")
        return ATTRIBUTE
    if resolver.parent_parameter is not None or resolver.root_parameter is not None:
        raise Unplannable("a resolver that takes its parent as a parameter")
    return RESOLVER


class _HasDirectives(Visitor):
    found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        self.found = True
        return self.BREAK


def plannable(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    """A query without directives (@skip and @include depend on the variables, which a plan does not)."""
    if operation.operation is not OperationType.QUERY:
        return False
    visitor = _HasDirectives()
    visit(document, visitor)
    return not visitor.found


class Planner:
    """The plans of the documents this schema has answered, by document and operation."""

    def __init__(self) -> None:
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def plan(self, schema: GraphQLSchema, query: str, document: DocumentNode, operation: OperationDefinitionNode,
             operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = Plan(schema, operation) if plannable(document, operation) else None
        self._plans[key] = plan
        if len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)
        return plan

    def forget(self, key: tuple[str, str | None]) -> None:
        """A plan that declined while being built is not tried again."""
        self._plans[key] = None


async def answer(plan: Plan, executor: Executor, info_class: Any, convert: Callable[..., Any]) -> dict[str, Any]:
    """The operation's `data`; raises Declined (or a resolver's exception) to leave it to graphql-core.

    Levels whose values are at hand are answered one after another without waiting; the
    values that await (loaders, queries) are gathered only when no level is left to answer,
    all together. The rows of one type that sit at different depths (a dashboard's today
    list and its upcoming page's nodes) then load in one batch, as they would if the
    awaits of each depth were gathered on their own only by luck of timing."""
    data: dict[str, Any] = {}
    level = Level()
    level.groups[plan.root(executor)] = ([executor.root_value], [data])
    waiting: list[tuple[FieldStep, dict[str, Any], Any]] = []
    while level.groups or waiting:
        next_level = Level()
        if not level.groups:
            results = await asyncio.gather(*(value for _, _, value in waiting), return_exceptions=True)
            for (field_step, out, _), result in zip(waiting, results, strict=True):
                if isinstance(result, BaseException):
                    raise result
                out[field_step.key] = field_step.complete(result, next_level)
            waiting = []
        # The loops below are a response's every value: each call left out of them counts (a value
        # that `passes` is taken as it is, an awaitable is told by its type's entry in _AWAITABLE).
        for step, (sources, outs) in level.groups.items():
            for field_step in step.fields:
                key, complete, passes = field_step.key, field_step.complete, field_step.passes
                if field_step.kind is ATTRIBUTE:
                    # No type here holds an awaitable, and one that did would fail its completion,
                    # which declines the request to graphql-core.
                    assert field_step.strawberry is not None
                    name = field_step.strawberry.python_name
                    for source, out in zip(sources, outs, strict=True):
                        value = getattr(source, name)
                        out[key] = value if type(value) is passes else complete(value, next_level)
                    continue
                values = _resolve(field_step, step.type, sources, executor, info_class, convert)
                for out, value in zip(outs, values, strict=True):
                    kind = type(value)
                    if kind is passes:
                        out[key] = value
                        continue
                    awaitable = _AWAITABLE.get(kind)
                    if awaitable is None:
                        awaitable = _awaitable(value)
                    if awaitable:
                        out[key] = None  # its place in the response's field order, filled when it comes
                        waiting.append((field_step, out, value))
                    else:
                        out[key] = complete(value, next_level)
        level = next_level
    return data


def _resolve(step: FieldStep, parent: GraphQLObjectType, sources: list[Any], executor: Executor, info_class: Any,
             convert: Callable[..., Any]) -> list[Any]:
    if step.kind is TYPENAME:
        return [parent.name] * len(sources)
    assert step.strawberry is not None and step.definition is not None
    strawberry_field = step.strawberry
    resolver = strawberry_field.base_resolver
    assert resolver is not None
    # What StrawberryResolver.__call__ calls, without its frame.
    function = cast("Callable[..., Any]", resolver.wrapped_func)
    wrap = step.awaited
    raw_info: GraphQLResolveInfo | None = None
    if step.takes_arguments or step.info_name is not None or wrap is not None:
        raw_info = executor.build_resolve_info(step.definition, step.nodes, parent, Path(None, step.key, parent.name))
    if not step.takes_arguments:
        # No arguments to convert: the call get_arguments would make, without it.
        kwargs: dict[str, Any] = {}
        if step.info_name is not None:
            kwargs[step.info_name] = info_class(_raw_info=raw_info, _field=strawberry_field)
        if step.takes_self:
            values = [function(source, **kwargs) for source in sources]
        else:
            values = [function(**kwargs) for _ in sources]
    else:
        info = info_class(_raw_info=raw_info, _field=strawberry_field)
        raw_arguments = get_argument_values(step.definition, step.nodes[0], executor.variable_values,
                                            step.details[0].fragment_variable_values)
        args, kwargs = convert(field=strawberry_field, source=_SOURCE, info=info, kwargs=raw_arguments)
        if args and args[0] is _SOURCE:
            rest = args[1:]
            values = [function(source, *rest, **kwargs) for source in sources]
        else:
            values = [function(*args, **kwargs) for _ in sources]
    if wrap is None:
        return values
    assert raw_info is not None
    return [wrap(value, raw_info) if _awaitable(value) else value for value in values]


class PlannedExecution(SchemaExtension):
    """Answers a query through its plan instead of graphql-core's execution (see the module's docstring)."""

    async def on_execute(self) -> Any:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None and context.query is not None:
            data = await self._answer()
            name = context.operation_name or "anonymous"
            if data is not None:
                context.result = ExecutionResult(data=data, errors=None)
                path = "planned"
            else:
                path = "executed" if context.result is None else "unavailable"
            EXECUTIONS.labels(name[:64], path).inc()
        yield

    async def _answer(self) -> dict[str, Any] | None:
        context = self.execution_context
        strawberry_schema = context.schema
        schema = strawberry_schema._schema
        document = context.graphql_document
        assert document is not None and context.query is not None
        executor = Executor.build(schema, document, context.root_value, context.context, context.variables,
                                  context.operation_name)
        if isinstance(executor, list):  # variables graphql-core refuses: it reports them
            return None
        planner = _planner(strawberry_schema)
        plan = planner.plan(schema, context.query, document, executor.operation, context.operation_name)
        if plan is None:
            return None
        converter = strawberry_schema.schema_converter

        def convert(**arguments: Any) -> Any:
            return get_arguments(config=strawberry_schema.config, scalar_registry=converter.scalar_registry,
                                 **arguments)

        ctx = context.context
        try:
            ctx.answered_by_levels = True
            return await answer(plan, executor, strawberry_schema.config.info_class, convert)
        except Unplannable as why:
            log.info("%s is executed by graphql-core from now on: %s", context.operation_name, why)
            planner.forget((context.query, context.operation_name))
        except Declined as why:
            log.debug("%s executed by graphql-core: %s", context.operation_name, why)
        except Exception as error:
            if database_unavailable(error):
                # Executed again it would wait for the database as long once more, to the same end.
                context.result = ExecutionResult(data=None, errors=[GraphQLError(str(error), original_error=error)])
                return None
            # graphql-core reports it the schema's way, with its path and partial data.
            log.debug("%s executed by graphql-core after a resolver's error", context.operation_name, exc_info=True)
        finally:
            ctx.answered_by_levels = False
        ctx.forget_loaded()
        return None


def _planner(schema: Any) -> Planner:
    planner = getattr(schema, "_sessiongraph_planner", None)
    if planner is None:
        planner = schema._sessiongraph_planner = Planner()
    return planner


class OneReadSession(SchemaExtension):
    """A query's reads share one database session (resolvers/context.py `SharedReads`), closed when it
    has been answered, on the node `Context.reads_for_query` chose for it: a read replica or the primary.
    Mutations keep a session per read, on the primary: their writes commit in transactions of their own;
    and a subscription's context outlives any one operation."""

    async def on_execute(self) -> Any:
        context = self.execution_context
        ctx = context.context
        shared = None
        primary = getattr(ctx, "database", None)
        primary_node = getattr(primary, "node", None)
        # The connection the request's sign-in read its user on: a query on the primary reads on it
        # too, so that a request checks out one connection; anything else gives it back first.
        held = ctx.take_request_reads() if hasattr(ctx, "take_request_reads") else None
        if context.operation_type is StrawberryOperationType.QUERY and getattr(ctx, "shared_reads", False) is None:
            ctx.database = await ctx.reads_for_query()
            READS_BY_NODE.labels(ctx.database.node).inc()
            if held is not None and held.database is ctx.database:
                shared, held = held, None
            else:
                shared = SharedReads(ctx.database)
            ctx.shared_reads = shared
        if held is not None:
            await held.close()
        try:
            yield
        finally:
            if shared is not None:
                ctx.shared_reads = None
                node, ctx.database = ctx.database.node, primary
                try:
                    await shared.close()
                except Exception:  # the answer stands; the pool discards a connection it cannot reset
                    log.warning("closing an operation's read session failed", exc_info=True)
                if node != primary_node and _unavailable(context.result) and ctx.replicas is not None:
                    ctx.replicas.failed(node)
                    REPLICA_FAILOVERS.labels(node).inc()
                    ctx.read_failover = True
        if context.operation_type is StrawberryOperationType.MUTATION and hasattr(ctx, "mutation_done"):
            await ctx.mutation_done()


def _unavailable(result: Any) -> bool:
    return any(replica_failure(error.original_error) for error in getattr(result, "errors", None) or ())
