"""Logs with request IDs, and Prometheus metrics.

Each HTTP request gets an ID (the client's `X-Request-ID` when it sends a sane
one): it is echoed in the response and stamped on every log line written while
the request is served, so one failing request can be followed through the log.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUESTS = Counter("sessiongraph_graphql_operations_total", "GraphQL operations served",
                   ["operation", "outcome"])
LATENCY = Histogram("sessiongraph_graphql_operation_seconds", "GraphQL operation latency", ["operation"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
# How often a compiled operation (schema/compiled) answered its document, and how often it
# left it to be executed field by field.
COMPILED_ANSWERS = Counter("sessiongraph_compiled_operations_total", "Compiled operations by outcome",
                           ["operation", "outcome"])
ACTIVE_SUBSCRIPTIONS = Gauge("sessiongraph_active_subscriptions", "Subscriptions open in this process")
POOL_CHECKED_OUT = Gauge("sessiongraph_db_connections_in_use", "Database connections checked out")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(as_json: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if as_json:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestIds:
    """ASGI middleware: gives each request an ID and returns it as `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        current = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", current.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its name (`anonymous` when it has none)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = context.operation_name or "anonymous"
        if len(name) > 64:
            name = name[:64]
        result = context.result
        outcome = "error" if result is not None and getattr(result, "errors", None) else "ok"
        LATENCY.labels(name).observe(time.perf_counter() - started)
        REQUESTS.labels(name, outcome).inc()


def metrics_endpoint(app_state):
    async def metrics(_: Request) -> Response:
        ACTIVE_SUBSCRIPTIONS.set(app_state.broker.subscriber_count)
        pool = app_state.database.engine.pool
        POOL_CHECKED_OUT.set(pool.checkedout() if hasattr(pool, "checkedout") else 0)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics
