"""Tracing on: the OpenTelemetry SDK, spans batched and exported by OTLP over HTTP (protobuf).

Imported only when OTEL_EXPORTER_OTLP_ENDPOINT is set (sessiongraph/infrastructure/tracing/__init__.py).
The SDK reads the standard variables itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
(the resource), OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the sampler),
OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the
exporter), OTEL_BSP_* (the batches), OTEL_PROPAGATORS (what `traceparent` is read and written as).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Tracer, format_trace_id, get_current_span
from sqlalchemy.ext.asyncio import AsyncEngine

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tracing import Tracing

DEFAULT_SERVICE_NAME = "sessiongraph"
TRACES_PATH = "v1/traces"


def traces_endpoint(base: str) -> str:
    """Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else the base endpoint's /v1/traces,
    as the OTLP exporter specification says."""
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{base.removesuffix('/')}/{TRACES_PATH}"


class OtlpTracing(Tracing):
    enabled = True

    def __init__(self, settings: Settings) -> None:
        assert settings.otel_exporter_otlp_endpoint
        # OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) wins over this default.
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
        # sampler=None: the SDK takes OTEL_TRACES_SAMPLER (parentbased_always_on when unset). The app's lifespan
        # shuts it down, not an atexit hook (which would also keep every provider a process ever made).
        self._provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=traces_endpoint(settings.otel_exporter_otlp_endpoint))))
        self._tracer = self._provider.get_tracer("sessiongraph")
        self._redis = RedisInstrumentor()

    @property
    def provider(self) -> TracerProvider:
        return self._provider

    def tracer(self, name: str) -> Tracer:
        return self._provider.get_tracer(name)

    @contextmanager
    def _span(self, name: str, attributes: Mapping[str, Any] | None, kind: SpanKind) -> Iterator[Any]:
        with self._tracer.start_as_current_span(name, attributes=attributes, kind=kind) as span:
            yield span

    def span(self, name: str, attributes: Mapping[str, Any] | None = None, *, client: bool = False) -> Any:
        return self._span(name, attributes, SpanKind.CLIENT if client else SpanKind.INTERNAL)

    def current_trace_id(self) -> str | None:
        context = get_current_span().get_span_context()
        return format_trace_id(context.trace_id) if context.is_valid else None

    def inject(self, headers: MutableMapping[str, str]) -> None:
        propagate.inject(headers)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        # The engine's own listeners (what SQLAlchemyInstrumentor(engine=...) installs), without its
        # process-wide patching of create_engine and Engine.connect, which would trace every engine.
        # Its connection-usage metric goes nowhere: metrics are /metrics' (Prometheus).
        usage = NoOpMeterProvider().get_meter("sessiongraph").create_up_down_counter("db.client.connections.usage")
        EngineTracer(self._provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine.sync_engine,
                     usage)

    def start(self) -> None:
        # redis-py's clients are made in several places (sessiongraph/infrastructure/redis_faults.py): the
        # instrumentation patches the client classes for as long as this app runs.
        if not self._redis.is_instrumented_by_opentelemetry:
            self._redis.instrument(tracer_provider=self._provider)

    def shutdown(self) -> None:
        if self._redis.is_instrumented_by_opentelemetry:
            self._redis.uninstrument()
        self._provider.shutdown()  # exports what the batch still holds
