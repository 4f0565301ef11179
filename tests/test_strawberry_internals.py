"""The Strawberry (and graphql-core) internals the service still relies on, one test each.

Each was kept because no public hook does the same job without changing behaviour or cost
(see the reason by each). When a Strawberry upgrade changes one, its test fails and says
which module relies on it and what to re-check there. No database: these are fast.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse, validate
from strawberry.types import ExecutionContext, ExecutionResult, Info

STRAWBERRY = version("strawberry-graphql")


def changed(owner: str, name: str, user: str, recheck: str) -> str:
    return f"Strawberry {STRAWBERRY} changed {owner}.{name}, which {user} relies on: {recheck}"


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@strawberry.type
class Query:
    @strawberry.field
    def raw(self, info: Info) -> str:
        raw = getattr(info, "_raw_info", None)
        if not (hasattr(raw, "field_nodes") and hasattr(raw, "fragments")):
            return "no field_nodes or fragments"
        return f"{[node.name.value for node in raw.field_nodes]} {sorted(raw.fragments)}"

    @strawberry.field
    def hello(self) -> str:
        return "hi"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> int:
        return 1


TINY = strawberry.Schema(query=Query, mutation=Mutation)


def test_schema_private_graphql_schema() -> None:
    """`Schema._schema`: no public accessor gives graphql-core's schema (as_str() prints Strawberry's SDL)."""
    message = changed("Schema", "_schema", "schema/limits.py (validation cache, cost), schema/__init__.py "
                      "(export_sdl) and sessiongraph/server/shared_results.py (the shared executor)",
                      "find where the graphql-core GraphQLSchema is kept now")
    assert isinstance(getattr(TINY, "_schema", None), GraphQLSchema), message
    assert TINY._schema.query_type is not None and "hello" in TINY._schema.query_type.fields, message


def test_info_raw_info() -> None:
    """`Info._raw_info`: lookahead needs field_nodes and fragments, which Info does not expose;
    `selected_fields` converts the whole subtree on every field (lookahead caches per node)."""
    message = changed("Info", "_raw_info", "schema/lookahead.py (selected_names)",
                      "read field_nodes and fragments from wherever Info keeps graphql-core's resolve info")
    result = TINY.execute_sync("{ ...F } fragment F on Query { raw }")
    assert result.errors is None and result.data == {"raw": "['raw'] ['F']"}, message


def test_validate_document() -> None:
    """`strawberry.schema.schema.validate_document`: Strawberry's validation (its own rules added to
    the document's), which the validation cache must reproduce exactly."""
    from strawberry.schema import schema as schema_module

    message = changed("strawberry.schema.schema", "validate_document",
                      "schema/limits.py (SmallDocumentValidationCache)",
                      "call what Strawberry's _run_validation calls, with the same rules")
    validate_document = getattr(schema_module, "validate_document", None)
    assert validate_document is not None, message
    assert parameters(validate_document) == ["schema", "document", "validation_rules"], message
    assert validate_document(TINY._schema, parse("{ hello }"), ()) == [], message
    assert validate_document(TINY._schema, parse("{ nope }"), ()) == [], message  # no rule given, none run
    source = inspect.getsource(schema_module._run_validation)
    assert "validate_document(" in source and "pre_execution_errors is None" in source, message


def test_execution_context_pre_execution_errors_skip_validation() -> None:
    """An extension that sets `pre_execution_errors` in on_validate replaces Strawberry's validation."""
    message = changed("ExecutionContext", "pre_execution_errors", "schema/limits.py (SmallDocumentValidationCache)",
                      "that errors set before validation still stand in for Strawberry's own")
    seen: list[Any] = []

    class Preset(strawberry.extensions.SchemaExtension):
        def on_validate(self):  # type: ignore[no-untyped-def]
            self.execution_context.pre_execution_errors = [GraphQLError("preset", extensions={"code": "X"})]
            yield
            seen.append(self.execution_context.pre_execution_errors)

    schema = strawberry.Schema(query=Query, extensions=[Preset])
    result = schema.execute_sync("{ hello }")
    assert result.errors is not None and [e.message for e in result.errors] == ["preset"], message
    assert [e.message for e in seen[0]] == ["preset"], message


def test_execution_context_fields() -> None:
    """The ExecutionContext fields the extensions read and set (schema/limits.py, metrics.py, compiled),
    and `operation_name`: the operation Strawberry executes (the request's, else the first)."""
    message = changed("ExecutionContext", "fields", "schema/limits.py, schema/metrics.py and schema/compiled",
                      "the extensions' reads and writes of the execution context")
    fields = {field.name for field in ExecutionContext.__dataclass_fields__.values()}
    assert {"query", "schema", "context", "variables", "parse_options", "validation_rules", "graphql_document",
            "pre_execution_errors", "result"} <= fields, message
    document = parse("query A { hello } query B { hello hello }")
    named = ExecutionContext(query="", schema=TINY, allowed_operations=(), provided_operation_name="B")
    named.graphql_document = document
    unnamed = ExecutionContext(query="", schema=TINY, allowed_operations=(), provided_operation_name=None)
    unnamed.graphql_document = document
    assert named.operation_name == "B" and unnamed.operation_name == "A", message
    # Strawberry executes context.operation_name: the first operation when the request names none.
    assert TINY.execute_sync("query A { hello } query B { raw }").data == {"hello": "hi"}, changed(
        "Schema", "execute", "schema/limits.py (cost and mutation rate limits measure context.operation_name)",
        "which operation Strawberry executes when the request names none")


def test_cost_limit_measures_the_named_operation() -> None:
    """ExecutionContext.provided_operation_name is an InitVar (it reads None); the limits must not use it."""
    from sessiongraph.schema import schema
    from sessiongraph.schema.limits import QueryCostLimit, QueryLimits

    costs = []
    for query, name in (("{ viewer { user { id name } } }", None),
                        ("query A { __typename } query B { viewer { user { id name } } }", "B")):
        context = ExecutionContext(query=query, schema=schema, allowed_operations=(), provided_operation_name=name)
        context.graphql_document = parse(query)
        costs.append(QueryCostLimit(QueryLimits()).cost(context))
    assert costs[0] == costs[1] > 1


def test_parser_cache_cached_parse_document() -> None:
    """`ParserCache.cached_parse_document`: the shared LRU parse, which SmallDocumentParserCache calls."""
    from strawberry.extensions import ParserCache

    message = changed("ParserCache", "cached_parse_document", "schema/limits.py (SmallDocumentParserCache)",
                      "how ParserCache parses and caches (the same document object for the same text)")
    cache = ParserCache(maxsize=4)
    parse_document = getattr(cache, "cached_parse_document", None)
    assert callable(parse_document), message
    assert parse_document("{ hello }") is ParserCache(maxsize=4).cached_parse_document("{ hello }"), message


def test_max_tokens_limiter() -> None:
    """MaxTokensLimiter's `max_token_count`, its parse option, and graphql-core's wording past the limit."""
    from strawberry.extensions import MaxTokensLimiter

    from sessiongraph.schema.limits import TOKEN_LIMIT_MESSAGE

    message = changed("MaxTokensLimiter", "max_token_count", "schema/limits.py (TokenLimit)",
                      "the limit's attribute, that it sets parse_options['max_tokens'], and the parser's message")
    assert MaxTokensLimiter(max_token_count=3).max_token_count == 3, message
    assert "max_tokens" in inspect.getsource(MaxTokensLimiter.on_operation), message
    with pytest.raises(GraphQLSyntaxError) as refused:
        parse("{ a b c d e }", max_tokens=3)
    assert refused.value.message.startswith(TOKEN_LIMIT_MESSAGE), message


def test_limit_validator_factories() -> None:
    """`create_validator` of max_aliases and query_depth_limiter (private modules of strawberry.extensions):
    the rules the cached validation uses; their errors are reported from the constructor."""
    from strawberry.extensions.max_aliases import create_validator as aliases
    from strawberry.extensions.query_depth_limiter import create_validator as depth

    from sessiongraph.schema.limits import coded

    message = changed("strawberry.extensions.max_aliases/query_depth_limiter", "create_validator",
                      "schema/limits.py (validation_rules, coded)", "the factories' arguments and error reporting")
    assert parameters(aliases)[:1] == ["max_alias_count"], message
    assert parameters(depth)[:2] == ["max_depth", "should_ignore"], message
    errors = validate(TINY._schema, parse("{ a: hello b: hello }"), [coded(aliases(1), "TOO_MANY_ALIASES")])
    assert [e.extensions.get("code") for e in errors] == ["TOO_MANY_ALIASES"], message
    errors = validate(TINY._schema, parse("{ hello }"), [coded(depth(0, should_ignore=None), "QUERY_TOO_DEEP")])
    assert all(e.extensions.get("code") == "QUERY_TOO_DEEP" for e in errors), message


def test_view_validate_batch_request() -> None:
    """`BaseView._validate_batch_request`: the only place a batch is checked before its items are read;
    overriding it gives the refusals their codes (parse_http_body's HTTPException carries none)."""
    from strawberry.http.async_base_view import AsyncBaseHTTPView
    from strawberry.http.base import BaseView

    message = changed("BaseView", "_validate_batch_request", "sessiongraph/server/graphql_http.py (overrides it)",
                      "where a JSON list body is checked, and with which arguments")
    assert parameters(BaseView._validate_batch_request) == ["self", "request_data", "protocol"], message
    source = inspect.getsource(AsyncBaseHTTPView.parse_http_body)
    assert "self._validate_batch_request(data, protocol=protocol)" in source, message


async def test_view_execute_single_and_operation() -> None:
    """`execute_single` and `execute_operation` (undocumented view methods) are overridden and called by
    keyword; execute_single turns the operation-type errors into HTTPException `from` them."""
    from cross_web import HTTPException
    from strawberry.asgi import GraphQL
    from strawberry.http import GraphQLRequestData
    from strawberry.http.async_base_view import AsyncBaseHTTPView
    from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

    message = changed("AsyncBaseHTTPView", "execute_single/execute_operation",
                      "sessiongraph/server/graphql_http.py and persisted.py (override them)",
                      "their keyword arguments, and the HTTPException causes the 405 and OPERATION_RESOLUTION_FAILURE "
                      "answers look for")
    expected = ["self", "request", "request_adapter", "sub_response", "context", "root_value", "request_data"]
    assert parameters(AsyncBaseHTTPView.execute_single) == expected, message
    assert set(parameters(AsyncBaseHTTPView.execute_operation)) == set(expected), message
    view = GraphQL(TINY)

    async def cause(method: str, query: str, operation_name: str | None) -> BaseException | None:
        with pytest.raises(HTTPException) as refused:
            await view.execute_single(request=None, request_adapter=SimpleNamespace(method=method),
                                      sub_response=None, context=None, root_value=None,
                                      request_data=GraphQLRequestData(query=query, variables=None,
                                                                      operation_name=operation_name,
                                                                      extensions=None))
        return refused.value.__cause__

    assert isinstance(await cause("GET", "mutation { touch }", None), InvalidOperationTypeError), message
    assert isinstance(await cause("POST", "{ hello }", "Nope"), CannotGetOperationTypeError), message


def test_request_data_fields() -> None:
    """GraphQLRequestData is a dataclass whose instance vars are its constructor's (PersistedRequestData(**vars))."""
    from strawberry.http import GraphQLRequestData

    message = changed("GraphQLRequestData", "fields", "sessiongraph/server/persisted.py (PersistedRequestData)",
                      "that vars(item) still rebuilds the request, and that `protocol` is \"http\" unless streamed")
    item = GraphQLRequestData(query="{ hello }", variables=None, operation_name=None, extensions=None)
    assert GraphQLRequestData(**vars(item)) == item and item.protocol == "http", message


def test_asgi_websocket_adapter_ws() -> None:
    """The ASGI WebSocket adapter keeps Starlette's WebSocket as `.ws` (the Outbox sends text on it)."""
    from strawberry.asgi import ASGIWebSocketAdapter

    message = changed("ASGIWebSocketAdapter", "ws", "sessiongraph/server/shared_results.py (Outbox)",
                      "where the handler's websocket keeps Starlette's WebSocket")
    socket = object()
    assert ASGIWebSocketAdapter(SimpleNamespace(), object(), socket).ws is socket, message  # type: ignore[arg-type]


# --- graphql-transport-ws: the subscription handover (sessiongraph/server/shared_results.py) ---


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.sent.append({"closed": code})


class Streaming:
    """A schema whose `stream` yields two results, noting when each is asked for."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        async def results() -> Any:
            for n in (1, 2):
                self.log.append(f"asked {n}")
                yield ExecutionResult(data={"n": n}, errors=None)
        return results()


def transport_handler(handler_class: type, log: list[str]) -> Any:
    from datetime import timedelta

    return handler_class(view=SimpleNamespace(), websocket=Socket(), context=None, root_value=None,
                         schema=Streaming(log), connection_init_wait_timeout=timedelta(seconds=1))


async def test_transport_ws_send_result_stream() -> None:
    """`BaseGraphQLTransportWSHandler._send_result_stream(operation, result_source)`: run_operation hands it
    the stream; it sends a result before asking for the next, and a BaseException from the stream ends
    run_operation without a `complete` (HandedOver)."""
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
        BaseGraphQLTransportWSHandler,
        Operation,
    )

    message = changed("BaseGraphQLTransportWSHandler", "_send_result_stream",
                      "sessiongraph/server/shared_results.py (SharedTransportWSHandler overrides it and run_operation)",
                      "that run_operation passes the stream to it, sends each result before asking for the next, "
                      "and lets a BaseException through")
    assert parameters(BaseGraphQLTransportWSHandler._send_result_stream) == ["self", "operation", "result_source"], \
        message
    assert parameters(BaseGraphQLTransportWSHandler.run_operation) == ["self", "operation"], message

    class Stop(BaseException):
        pass

    log: list[str] = []

    class Handler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
        async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
            async def watched() -> Any:
                async for result in result_source:
                    yield result
                    log.append(f"sent {len(self.websocket.sent)}")
                    raise Stop
            await super()._send_result_stream(operation, watched())

    handler = transport_handler(Handler, log)
    operation = Operation(handler, "1", "subscription { n }", None, None)
    handler.operations["1"] = operation
    with pytest.raises(Stop):
        await handler.run_operation(operation)
    assert log == ["asked 1", "sent 1"], message
    assert [m.get("type") for m in handler.websocket.sent] == ["next"], message


async def test_transport_ws_operations() -> None:
    """The handler's `operations` (by ID): handle_subscribe counts them against the limit, shutdown reads only
    each one's `task` before cleanup_operation; a SharedSubscriber stands in an Operation's place there."""
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

    message = changed("BaseGraphQLTransportWSHandler", "operations",
                      "sessiongraph/server/shared_results.py (SharedSubscriber in operations; cleanup_operation, "
                      "shutdown overridden)", "what shutdown and handle_subscribe read of each operation")
    assert parameters(BaseGraphQLTransportWSHandler.cleanup_operation) == ["self", "operation_id"], message
    assert parameters(BaseGraphQLTransportWSHandler.shutdown) == ["self"], message
    assert parameters(BaseGraphQLTransportWSHandler.handle_subscribe) == ["self", "message"], message
    closed: list[str] = []

    class Handler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
        async def cleanup_operation(self, operation_id: str) -> None:
            closed.append(operation_id)
            self.operations.pop(operation_id)

    handler = transport_handler(Handler, [])
    assert handler.operations == {}, message
    handler.operations["1"] = SimpleNamespace(task=None)
    await handler.shutdown()
    assert closed == ["1"], message
    assert "len(self.operations)" in inspect.getsource(BaseGraphQLTransportWSHandler.handle_subscribe), message


async def test_legacy_ws_handler() -> None:
    """graphql-ws: handle_start, handle_async_results (one task per operation, `subscriptions` and `tasks` by ID,
    only CancelledError caught), send_data_message after each result, cleanup_operation and cleanup."""
    from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

    message = changed("BaseGraphQLWSHandler", "handle_async_results/send_data_message",
                      "sessiongraph/server/shared_results.py (SharedLegacyDelivery) and sessiongraph/server/app.py",
                      "the overridden methods' arguments, and that a BaseException from send_data_message ends "
                      "handle_async_results with the stream still registered until its finally")
    assert parameters(BaseGraphQLWSHandler.handle_async_results) == [
        "self", "operation_id", "query", "operation_name", "variables"], message
    assert parameters(BaseGraphQLWSHandler.send_data_message) == ["self", "execution_result", "operation_id"], message
    for name in ("handle_start", "handle_connection_init"):
        assert parameters(getattr(BaseGraphQLWSHandler, name)) == ["self", "message"], message
    assert parameters(BaseGraphQLWSHandler.cleanup_operation) == ["self", "operation_id"], message
    assert parameters(BaseGraphQLWSHandler.cleanup) == ["self"], message

    class Stop(BaseException):
        pass

    log: list[str] = []
    registered: list[bool] = []

    class Handler(BaseGraphQLWSHandler):  # type: ignore[type-arg]
        async def send_data_message(self, execution_result: Any, operation_id: str) -> None:
            await super().send_data_message(execution_result, operation_id)
            registered.append(operation_id in self.subscriptions)
            raise Stop

    handler = Handler(view=SimpleNamespace(), websocket=Socket(), context=None, root_value=None,
                      schema=SimpleNamespace(subscribe=Streaming(log).stream), keep_alive=False,
                      keep_alive_interval=None)
    assert handler.tasks == {} and handler.subscriptions == {}, message
    with pytest.raises(Stop):
        await handler.handle_async_results("1", "subscription { n }", None, None)
    assert registered == [True] and log == ["asked 1"], message
    assert [m.get("type") for m in handler.websocket.sent] == ["data"], message


def test_shared_executor() -> None:
    """graphql-core's ExecutionContext.build / build_per_event_executor / execute_subscription_event (public,
    but driven by hand): the shared results execute a subscription's selection set for a given value."""
    from graphql.execution import execute_subscription_event

    message = changed("graphql-core ExecutionContext", "build/build_per_event_executor",
                      "sessiongraph/server/shared_results.py (ResultGroup.payload)",
                      "how a subscription event is executed for a value")

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def n(self) -> AsyncGenerator[int, None]:  # pragma: no cover - never subscribed here
            yield 1

    schema = strawberry.Schema(query=Query, subscription=Subscription)
    executor = schema.execution_context_class.build(schema._schema, parse("subscription { n }"), None, None,
                                                    None, None)
    assert not isinstance(executor, list), message
    result = execute_subscription_event(executor.build_per_event_executor(7))
    assert not inspect.isawaitable(result) and result.data == {"n": 7}, message


async def test_dataloader_cache_map() -> None:
    """DataLoader's `cache_map` holds each key's future (Loader.peek reads finished ones), and
    DataLoader.__init__ takes load_fn by keyword (Loader.__new__)."""
    from strawberry.dataloader import DataLoader

    message = changed("DataLoader", "cache_map", "resolvers/loaders/base.py (Loader.peek, Loader.__new__)",
                      "where loaded values are kept, as futures")
    assert "load_fn" in parameters(DataLoader.__init__), message

    async def load() -> Any:
        async def batch(keys: list[int]) -> list[int]:
            return [key * 2 for key in keys]
        loader = DataLoader(load_fn=batch)
        await loader.load(3)
        return loader.cache_map.get(3)

    future = await load()
    assert isinstance(future, asyncio.Future) and future.done() and future.result() == 6, message
