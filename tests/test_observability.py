"""Request IDs in responses and logs, and the Prometheus endpoint."""

import io
import json
import logging

from pythonjsonlogger.json import JsonFormatter

from sessiongraph.infrastructure.observability import RequestIdFilter, request_id


async def test_each_response_carries_a_request_id_and_keeps_a_sane_one_from_the_client(http):
    generated = await http.get("/healthz")
    kept = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    replaced = await http.get("/healthz", headers={"X-Request-ID": "no spaces allowed"})

    assert len(generated.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "no spaces allowed"


def test_json_log_lines_carry_the_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s %(request_id)s"))
    logger = logging.getLogger("sessiongraph.test-json")
    logger.addHandler(handler)
    token = request_id.set("req-42")
    try:
        logger.warning("booked")
    finally:
        request_id.reset(token)
        logger.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert line == {"levelname": "WARNING", "message": "booked", "request_id": "req-42"}


async def test_metrics_count_operations_by_name(admin, client_with):
    scraper = await client_with(metrics_token="scrape-secret")
    await admin.execute("query DashboardProbe { viewer { user { name } } }")
    await admin.execute("query DashboardProbe { viewer { user { name } } }")

    text = (await scraper.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})).text

    assert 'sessiongraph_graphql_operations_total{operation="DashboardProbe",outcome="ok"}' in text
    assert 'sessiongraph_graphql_operation_seconds_count{operation="DashboardProbe"}' in text
    assert "sessiongraph_active_subscriptions" in text
    assert "sessiongraph_db_connections_in_use" in text
