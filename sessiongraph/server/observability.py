"""Request IDs and the metrics endpoint.

Each HTTP request gets an ID (the client's `X-Request-ID` when it sends a sane
one): it is echoed in the response and stamped on every log line written while
the request is served, so one failing request can be followed through the log.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessiongraph.infrastructure.observability import ACTIVE_SUBSCRIPTIONS, POOL_CHECKED_OUT, request_id, trace_id
from sessiongraph.infrastructure.tracing import Tracing
from sessiongraph.server.graphql_http import refusal_body

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIds:
    """ASGI middleware: gives each request an ID and returns it as `X-Request-ID`; with `trace_ids` (tracing
    on, this middleware inside the tracing one) the log lines get the request's trace ID too."""

    def __init__(self, app: ASGIApp, trace_ids: Callable[[], str | None] | None = None) -> None:
        self.app = app
        self.trace_ids = trace_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        current = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(current)
        traced = trace_id.set(self.trace_ids() or "-") if self.trace_ids is not None else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", current.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            if traced is not None:
                trace_id.reset(traced)


def request_middleware(tracing: Tracing) -> list[Middleware]:
    """Request IDs; with tracing on, inside a server span for each HTTP request and WebSocket connection that
    continues the trace of the client's W3C `traceparent`. Off, OpenTelemetry is not imported."""
    if not tracing.enabled:
        return [Middleware(RequestIds)]
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # No span per ASGI message sent or received: a WebSocket's every message would be one.
    return [Middleware(OpenTelemetryMiddleware, tracer_provider=tracing.provider, exclude_spans=["receive", "send"]),
            Middleware(RequestIds, trace_ids=tracing.current_trace_id)]


def metrics_endpoint(app_state):
    async def metrics(request: Request) -> Response:
        expected = app_state.settings.metrics_token
        if not expected:
            return _refusal(404, "NOT_FOUND", "Metrics are off: set METRICS_TOKEN to serve them.")
        sent = request.headers.get("authorization", "").encode()
        # In constant time, so that the answer's timing tells nothing of the token.
        if not hmac.compare_digest(sent, f"Bearer {expected}".encode()):
            return _refusal(401, "UNAUTHENTICATED", "Metrics need `Authorization: Bearer <METRICS_TOKEN>`.")
        ACTIVE_SUBSCRIPTIONS.set(app_state.broker.subscriber_count)
        pools = [engine.pool for engine in app_state.database.engines]
        POOL_CHECKED_OUT.set(sum(pool.checkedout() for pool in pools if hasattr(pool, "checkedout")))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _refusal(status: int, code: str, message: str) -> Response:
    return Response(refusal_body(message, code), status_code=status, media_type="application/json")
