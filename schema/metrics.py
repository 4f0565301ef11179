"""Operations counted and timed by name, for /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from sessiongraph.infrastructure.observability import LATENCY, REQUESTS


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
