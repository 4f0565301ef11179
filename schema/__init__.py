"""The GraphQL schema: every area's root fields merged into Query and Mutation."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, cast

import strawberry
from graphql import GraphQLError, lexicographic_sort_schema, print_schema
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from sessiongraph.infrastructure.ratelimit import MutationRateLimiter
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tracing import Tracing
from sessiongraph.schema.accounts import AccountsMutation, AccountsQuery
from sessiongraph.schema.audit import AuditQuery
from sessiongraph.schema.booking import BookingMutation
from sessiongraph.schema.calendar_feed import CalendarFeedMutation
from sessiongraph.schema.compiled import CompiledOperations
from sessiongraph.schema.courses import CoursesMutation, CoursesQuery
from sessiongraph.schema.credits import CreditsMutation
from sessiongraph.schema.execution import OneReadSession, PlannedExecution
from sessiongraph.schema.exports import ExportsMutation
from sessiongraph.schema.extensions import ErrorCodes
from sessiongraph.schema.hooks import ExtensionsRunner
from sessiongraph.schema.imports import ImportsMutation
from sessiongraph.schema.limits import QueryLimits, limit_extensions
from sessiongraph.schema.metrics import OperationMetrics
from sessiongraph.schema.relay import Node, resolve_node
from sessiongraph.schema.reports import ReportsMutation
from sessiongraph.schema.scalars import SCALARS
from sessiongraph.schema.schedule import ScheduleMutation
from sessiongraph.schema.sessions import SessionsMutation, SessionsQuery
from sessiongraph.schema.signin import SignInMutation
from sessiongraph.schema.subscriptions import Subscription
from sessiongraph.schema.text import StorableStringLiterals, StorableVariables
from sessiongraph.schema.viewer import ViewerQuery
from sessiongraph.schema.waitlist import WaitlistMutation
from sessiongraph.schema.webhooks import WebhooksMutation, WebhooksQuery

if TYPE_CHECKING:
    from strawberry.types.scalar import ScalarDefinition


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null when the caller may not see it.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)


@strawberry.type
class Query(NodeQuery, ViewerQuery, SessionsQuery, CoursesQuery, AccountsQuery, AuditQuery, WebhooksQuery):
    pass


@strawberry.type
class Mutation(SignInMutation, AccountsMutation, CoursesMutation, SessionsMutation, ImportsMutation, ScheduleMutation,
               ReportsMutation, BookingMutation, WaitlistMutation, CreditsMutation, ExportsMutation,
               CalendarFeedMutation, WebhooksMutation):
    pass


class SessiongraphSchema(strawberry.Schema):
    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Logging happens in ErrorCodes, with the error ID the client sees."""

    @staticmethod
    def remove_field_suggestion(error: GraphQLError) -> None:
        """Drop every "Did you mean …?" (fields, arguments, types, enum values), not only the fields' ones."""
        if " Did you mean" in error.message:
            error.message = error.message.split(" Did you mean")[0].rstrip()


def build_schema(settings: Settings | None = None, *,
                 rate_limiter: MutationRateLimiter | None = None, tracing: Tracing | None = None,
                 trusted_documents: Collection[str] = ()) -> strawberry.Schema:
    """The schema as the settings configure it; without settings, development defaults (for the SDL). With
    `tracing` on, each operation is a span, and each slow field (`trusted_documents`: the SHA-256 of the
    documents whose ID an operation's span names)."""
    production = settings is not None and settings.is_production
    limits = QueryLimits.from_settings(settings) if settings is not None else QueryLimits()
    spans: list[Any] = []
    if tracing is not None and tracing.enabled:
        from sessiongraph.schema.tracing import OperationSpans  # OpenTelemetry only when tracing is on

        tracer = tracing.tracer("sessiongraph.graphql")
        spans.append(lambda: OperationSpans(tracer=tracer, trusted_documents=trusted_documents))
    built = SessiongraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *spans,  # first: the operation's span holds the other extensions' work too
            ErrorCodes,
            OperationMetrics,
            *limit_extensions(limits, introspection=not production, rate_limiter=rate_limiter),
            lambda: AddValidationRules([StorableStringLiterals]),
            StorableVariables,
            OneReadSession,
            # Last, so that they answer only what the limits let through; a compiled document first.
            *([CompiledOperations] if settings is not None and settings.compiled_operations else []),
            *([PlannedExecution] if settings is not None and settings.planned_execution else []),
        ],
        config=StrawberryConfig(
            # StrawberryConfig's Mapping is keyed by object, and Mapping is invariant in its keys.
            scalar_map=cast("Mapping[object, ScalarDefinition]", SCALARS),
            disable_field_suggestions=production,
            batching_config={"max_operations": settings.max_batch_operations}
            if settings is not None and settings.batching_enabled else None,
        ),
    )
    if spans and settings is not None:
        from sessiongraph.schema.tracing import time_slow_fields

        time_slow_fields(built._schema, tracer, settings.trace_slow_field_ms)
    return built


schema = build_schema()


def export_sdl(target: strawberry.Schema = schema) -> str:
    """The SDL as committed in clients/schema.graphql: types, fields, arguments and enum values sorted by
    name, so that moving a field in the code changes nothing; the served schema keeps the code's order."""
    return print_schema(lexicographic_sort_schema(target._schema)) + "\n"
