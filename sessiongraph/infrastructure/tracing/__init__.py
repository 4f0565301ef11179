"""OpenTelemetry traces, exported by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Unset, `create_tracing` hands out `Tracing`, which traces nothing and imports nothing of
OpenTelemetry: the HTTP middleware, the GraphQL operation extension and the SQL listeners
are then not installed at all, so a request pays nothing for tracing being possible, and
the background workers' `span()` is a shared `nullcontext`. Set, `OtlpTracing`
(sessiongraph/infrastructure/tracing/otlp.py, imported only then) builds a tracer provider
of this app's own -- not the process-wide global one, so that two apps in one process (the
tests) keep their spans apart -- and everything else asks it for tracers.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from sessiongraph.infrastructure.settings import Settings


class _Unrecorded:
    """What `Tracing.span` yields when off: attributes set on it go nowhere."""

    def set_attribute(self, key: str, value: Any) -> None:
        pass


_NO_SPAN: AbstractContextManager[Any] = nullcontext(_Unrecorded())


class Tracing:
    """Tracing off: every method does nothing."""

    enabled = False

    def span(self, name: str, attributes: Mapping[str, Any] | None = None, *,
             client: bool = False) -> AbstractContextManager[Any]:
        """A span around a block of background work (the outbox relay, a webhook delivery, an email), the
        current span while the block runs (`client`: a call to another service); it yields the span, whose
        `set_attribute` the block may call. Off, a context manager that does nothing."""
        return _NO_SPAN

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Adds the current span's W3C `traceparent` (and `tracestate`) to outgoing request headers."""

    def current_trace_id(self) -> str | None:
        """The current span's trace ID (32 hex digits), None when there is none."""
        return None

    def tracer(self, name: str) -> Any:
        """The OpenTelemetry tracer called `name` (only ever asked for when `enabled`)."""
        raise RuntimeError("tracing is off")

    @property
    def provider(self) -> Any:
        raise RuntimeError("tracing is off")

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Records a span for each SQL statement the engine runs."""

    def start(self) -> None:
        """Records a span for each Redis command (at the app's start-up)."""

    def shutdown(self) -> None:
        """Exports the spans still waiting, and stops (at the app's shutdown)."""


NO_TRACING = Tracing()


def create_tracing(settings: Settings) -> Tracing:
    if not settings.otel_exporter_otlp_endpoint:
        return NO_TRACING
    from sessiongraph.infrastructure.tracing.otlp import OtlpTracing  # the SDK only when tracing is on

    return OtlpTracing(settings)
