"""The GraphQL spans: one per operation, and one per field whose resolver was slow.

Imported only when tracing is on (sessiongraph/infrastructure/tracing/); `build_schema` then adds
`OperationSpans` first among the extensions and calls `time_slow_fields`.

Strawberry's own OpenTelemetryExtension spans every resolver through a `resolve` hook, which makes
graphql-core call a middleware for every field of every object, attributes and `__typename`
included: the cost of a span (and of the hook) times hundreds of fields per response. Here only the
fields whose resolver is a coroutine function -- the ones that can wait on I/O -- are timed, by a
wrapper of that field alone, and a span is recorded, after the fact and with the measured start, only
when the field took at least TRACE_SLOW_FIELD_MS; the other fields run as they do without tracing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from inspect import isawaitable, iscoroutinefunction
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, get_operation_ast
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter

from sessiongraph.schema.execution import AWAITED_WRAPPER


class OperationSpans(SchemaExtension):
    """One span per GraphQL operation, the current span while it runs (so that its SQL and Redis spans are
    its children): named `<type> <name>` as OpenTelemetry's GraphQL conventions say, with the operation's
    name and type, the trusted document's ID, and how many errors the response holds."""

    def __init__(self, *, tracer: Tracer, trusted_documents: Collection[str]) -> None:
        self.tracer = tracer
        self.trusted_documents = trusted_documents

    def on_operation(self) -> Iterator[None]:
        # A subscription's operation ends when the client completes it (the generator is closed at its yield):
        # no error for that; errors are the response's.
        with self.tracer.start_as_current_span("GraphQL Operation", record_exception=False,
                                               set_status_on_exception=False) as span:
            try:
                yield
            finally:
                self._describe(span)

    def _describe(self, span: Span) -> None:
        context = self.execution_context
        operation = None
        if context.graphql_document is not None:
            operation = get_operation_ast(context.graphql_document, context.operation_name)
        if operation is not None:
            kind = operation.operation.value
            name = operation.name.value if operation.name else None
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
        if context.query:
            digest = hashlib.sha256(context.query.encode()).hexdigest()
            if digest in self.trusted_documents:  # an arbitrary document's hash would name nothing
                span.set_attribute("graphql.document.id", f"sha256:{digest}")
        errors: list[GraphQLError] = list(context.pre_execution_errors or ())
        if context.result is not None and not errors:
            errors = list(getattr(context.result, "errors", None) or ())
        span.set_attribute("graphql.errors.count", len(errors))
        if errors:
            span.set_status(Status(StatusCode.ERROR, errors[0].message[:200]))


def slow_field_timer(tracer: Tracer, threshold_ms: float) -> Callable[[Awaitable[Any], GraphQLResolveInfo], Any]:
    threshold_ns = int(threshold_ms * 1_000_000)

    async def timed(awaitable: Awaitable[Any], info: GraphQLResolveInfo) -> Any:
        started = time.time_ns()
        failure: BaseException | None = None
        try:
            return await awaitable
        except BaseException as error:
            failure = error
            raise
        finally:
            ended = time.time_ns()
            if ended - started >= threshold_ns:
                path = ".".join(str(key) for key in info.path.as_list())
                span = tracer.start_span(f"{info.parent_type.name}.{info.field_name}", start_time=started,
                                         attributes={"graphql.field.name": info.field_name,
                                                     "graphql.field.parent_type": info.parent_type.name,
                                                     "graphql.field.path": path})
                if failure is not None:
                    span.record_exception(failure)
                    span.set_status(Status(StatusCode.ERROR, type(failure).__name__))
                span.end(end_time=ended)

    return timed


def time_slow_fields(schema: GraphQLSchema, tracer: Tracer, threshold_ms: float) -> None:
    """Wraps the fields of this schema (graphql-core's, one per Strawberry schema) whose resolver is a
    coroutine function, for graphql-core's execution and the planned one (schema/execution.py reads
    AWAITED_WRAPPER); subscriptions' async generators are left alone."""
    timed = slow_field_timer(tracer, threshold_ms)
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            resolver = getattr(definition, "base_resolver", None)
            if resolver is None or field.resolve is None or not iscoroutinefunction(resolver.wrapped_func):
                continue
            field.resolve = _timing(field.resolve, timed)
            field.extensions = {**field.extensions, AWAITED_WRAPPER: timed}


def _timing(resolve: Callable[..., Any], timed: Callable[[Awaitable[Any], GraphQLResolveInfo], Any]) -> Any:
    def timed_resolve(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        value = resolve(source, info, **arguments)
        return timed(value, info) if isawaitable(value) else value

    return timed_resolve
