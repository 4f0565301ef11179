"""Logs with request IDs, and the Prometheus metrics every layer counts into.

Each HTTP request gets an ID (sessiongraph.server.observability.RequestIds): it is
stamped on every log line written while the request is served, so one failing request
can be followed through the log.
"""

from __future__ import annotations

import contextvars
import logging

from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The request's trace ID when tracing is on (sessiongraph/infrastructure/tracing/): a log line leads to its trace.
trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="-")

REQUESTS = Counter("sessiongraph_graphql_operations_total", "GraphQL operations served",
                   ["operation", "outcome"])
LATENCY = Histogram("sessiongraph_graphql_operation_seconds", "GraphQL operation latency", ["operation"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
# How often a compiled operation (schema/compiled) answered its document, and how often it
# left it to be executed field by field.
COMPILED_ANSWERS = Counter("sessiongraph_compiled_operations_total", "Compiled operations by outcome",
                           ["operation", "outcome"])
# Which path answered each query: its plan (schema/planned.py), or graphql-core's execution.
EXECUTIONS = Counter("sessiongraph_execution_total", "Queries by the path that answered them", ["operation", "path"])
ACTIVE_SUBSCRIPTIONS = Gauge("sessiongraph_active_subscriptions", "Subscriptions open in this process")
# Read replicas (sessiongraph/infrastructure/replicas.py): which node answered each query's reads, queries a
# replica failed and the primary answered again, and each replica's state as its last probe saw it.
READS_BY_NODE = Counter("sessiongraph_query_reads_total", "Queries by the database node that answered their reads",
                        ["node"])
REPLICA_FAILOVERS = Counter("sessiongraph_replica_failovers_total",
                            "Queries a replica could not answer, answered again by the primary", ["node"])
REPLICA_UP = Gauge("sessiongraph_replica_up", "1 while a read replica takes queries, 0 while it is left out", ["node"])
REPLICA_LAG = Gauge("sessiongraph_replica_lag_seconds", "A read replica's lag at its last probe", ["node"])
POOL_CHECKED_OUT = Gauge("sessiongraph_db_connections_in_use", "Database connections checked out")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        traced = trace_id.get()
        if traced != "-":  # JSON lines then carry it (the formatter writes a record's extra attributes)
            record.trace_id = traced
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
