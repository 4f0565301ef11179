"""OpenTelemetry traces, received by a real OTLP/HTTP collector the test runs.

The collector is an http.server in a thread of its own (the service's exporter sends from its
batch thread, and flushes at shutdown from the event loop's side) that decodes each POST
/v1/traces with opentelemetry-proto's ExportTraceServiceRequest. The service runs its real
lifespan behind a real uvicorn; leaving the lifespan shuts the tracer provider down, which
exports every span still batched, so the tests read the spans after it without waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from pythonjsonlogger.json import JsonFormatter

from sessiongraph.infrastructure.db import Database, create_engine
from sessiongraph.infrastructure.observability import RequestIdFilter
from sessiongraph.infrastructure.passwords import hash_password
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app
from tests.conftest import on_postgresql, serving
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_email import CREATE_INVITED, FROM, Inbox
from tests.test_webhooks import CREATE, RESCHEDULE, Receiver
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

REDIS_URL = "redis://127.0.0.1:6379/0"
# httpx's 5 s is short for a request on a shared CI machine that also runs a collector and an SMTP server.
PATIENCE = 30
SERVER, CLIENT = 2, 3  # the OTLP SpanKind values
# A client's trace: the service's spans for its request continue it.
CLIENT_TRACE = uuid.uuid4().hex
CLIENT_SPAN = uuid.uuid4().hex[:16]
VIEWER = "query Dashboard { viewer { user { name } mySessions { current { name } } } }"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    start: int
    end: int
    attributes: dict[str, Any]
    service: str

    @property
    def milliseconds(self) -> float:
        return (self.end - self.start) / 1_000_000


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


class Collector:
    """An OTLP/HTTP trace collector on a loopback port, in a thread."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.headers: list[dict[str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
                collector.receive(self.path, dict(self.headers), request)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def receive(self, path: str, headers: dict[str, str], request: ExportTraceServiceRequest) -> None:
        assert path == "/v1/traces", path
        self.headers.append({name.lower(): value for name, value in headers.items()})
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(ReceivedSpan(
                        span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.kind,
                        span.start_time_unix_nano, span.end_time_unix_nano,
                        {a.key: _value(a.value) for a in span.attributes}, resource.get("service.name", "")))

    def named(self, name: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> ReceivedSpan:
        found = self.named(name)
        assert len(found) == 1, (name, sorted({span.name for span in self.spans}))
        return found[0]

    def children(self, parent: ReceivedSpan) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.parent_id == parent.span_id and span.trace_id == parent.trace_id]


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    collector.thread.start()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()


@asynccontextmanager
async def traced(settings, clock, collector: Collector, **overrides: Any) -> AsyncIterator[tuple[Any, str]]:
    """The service with tracing to the collector (and Redis), through its whole lifespan, behind uvicorn;
    its spans are all at the collector once this ends."""
    changed = settings.model_copy(update={
        "otel_exporter_otlp_endpoint": collector.url, "redis_url": REDIS_URL,
        "redis_prefix": f"sessiongraph-test-{uuid.uuid4().hex[:8]}:", "webhook_allow_private": True, **overrides})
    # A database of its own: the app's engine is instrumented, and disposed at the lifespan's end.
    app = create_app(changed, clock=clock, database=Database(create_engine(changed)), check_migrations=False)
    async with app.router.lifespan_context(app), serving(app) as address:
        yield app, address


NAME = "query Name { viewer { user { name } } }"


async def answered(socket: GraphQLSocket, operation_id: str) -> None:
    """Until the socket's operation has completed (with the viewer's name)."""
    while (message := await socket.next_message())["type"] != "complete" or message["id"] != operation_id:
        if message["id"] == operation_id:
            assert message["payload"] == {"data": {"viewer": {"user": {"name": "Ada"}}}}, message


def sql(span: ReceivedSpan) -> bool:
    """A span of this run's engine's statements."""
    engine = "postgresql" if on_postgresql() else "sqlite"
    return span.kind == CLIENT and span.attributes.get("db.system", span.attributes.get("db.system.name")) == engine


async def test_a_request_is_one_trace_from_its_http_span_through_the_operation_to_sql_and_redis(
        settings, clock, collector, make_user, data, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "sessiongraph-under-test")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer collector-token")
    admin = await make_user("Ada", is_admin=True)
    headers = {"authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}",
               "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}
    async with traced(settings, clock, collector) as (_, address), httpx.AsyncClient(timeout=PATIENCE) as http:
        answer = (await http.post(f"http://{address}/graphql", json={"query": VIEWER}, headers=headers)).json()
        assert answer == {"data": {"viewer": {"user": {"name": "Ada"}, "mySessions": {"current": []}}}}
        socket = await GraphQLSocket.connect(address, TRANSPORT_WS, headers["authorization"].removeprefix("Bearer "))
        changes = await socket.subscribe("subscription Changes { scheduleChanged { kind } }")
        # A query on the same socket answered: the subscription before it has started. Then it is ended.
        await answered(socket, await socket.subscribe(NAME))
        await socket.socket.send(json.dumps({"id": changes, "type": "complete"}))
        await answered(socket, await socket.subscribe(NAME))
        await socket.close()

    http_span = next(span for span in collector.spans if span.kind == SERVER and span.trace_id == CLIENT_TRACE)
    assert http_span.parent_id == CLIENT_SPAN  # the client's traceparent was taken
    assert http_span.attributes.get("http.request.method", http_span.attributes.get("http.method")) == "POST"
    operation = collector.one("query Dashboard")
    assert (operation.trace_id, operation.parent_id) == (CLIENT_TRACE, http_span.span_id)
    assert operation.attributes["graphql.operation.name"] == "Dashboard"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert operation.attributes["graphql.errors.count"] == 0
    assert "graphql.document.id" not in operation.attributes  # not a trusted document
    assert [span for span in collector.children(operation) if sql(span)], "no SQL span under the operation"
    # One trace for the request: every span of it hangs from the HTTP span.
    in_trace = [span for span in collector.spans if span.trace_id == CLIENT_TRACE]
    ids = {span.span_id for span in in_trace} | {CLIENT_SPAN}
    assert all(span.parent_id in ids for span in in_trace)
    # The WebSocket connection is a server span of its own.
    sockets = [span for span in collector.spans if span.kind == SERVER and span.trace_id != CLIENT_TRACE]
    [socket_span] = [span for span in sockets if span.attributes.get("url.scheme",
                                                                     span.attributes.get("http.scheme")) == "ws"]
    # The socket's operations are children of its span.
    for operation in [collector.one("subscription Changes"), *collector.named("query Name")]:
        assert (operation.trace_id, operation.parent_id) == (socket_span.trace_id, socket_span.span_id)
    assert {span.service for span in collector.spans} == {"sessiongraph-under-test"}
    assert {headers.get("authorization") for headers in collector.headers} == {"Bearer collector-token"}


async def test_the_outbox_relay_a_webhook_delivery_whose_traceparent_reaches_the_receiver_and_email_are_spans(
        settings, clock, collector, make_user, data):
    admin = await make_user("Ada", is_admin=True)
    learner = await data.user("Lena")
    live_session = await data.live_session(await data.course(), await data.instructor(),
                                           clock.now() + timedelta(days=400))
    await data.book(learner, live_session)
    headers = {"authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}
    inbox = Inbox()
    await inbox.start()
    async with Receiver("200") as receiver, traced(
            settings, clock, collector, smtp_url=f"smtp://127.0.0.1:{inbox.port}", email_from=FROM) as (app, address), \
            httpx.AsyncClient(base_url=f"http://{address}", headers=headers, timeout=PATIENCE) as http:
        created = (await http.post("/graphql", json={"query": CREATE, "variables": {"input": {
            "url": receiver.url, "eventTypes": ["live_session.updated"]}}})).json()
        assert created["data"]["createWebhookEndpoint"]["errors"] == []
        starts = live_session.starts_at.replace(hour=9, minute=0, second=0, microsecond=0)
        moved = (await http.post("/graphql", json={"query": RESCHEDULE, "variables": {
            "id": gid("LiveSession", live_session.id), "s": starts.isoformat(),
            "e": (starts + timedelta(hours=1)).isoformat()}})).json()
        assert moved["data"]["updateLiveSession"]["errors"] == []
        invited = (await http.post("/graphql", json={"query": CREATE_INVITED, "variables": {
            "email": "nia@example.test"}})).json()
        assert invited["data"]["createUser"]["errors"] == []
        await asyncio.wait_for(receiver.arrived.wait(), 10)
        await asyncio.wait_for(inbox.arrived.wait(), 10)
        await app.state.relay.idle()
        await app.state.dispatcher.idle()
        await app.state.email_sender.idle()
    await inbox.stop()

    relays = collector.named("outbox relay")
    assert relays and sum(span.attributes["sessiongraph.outbox.published"] for span in relays) >= 1
    assert any(sql(span) for relay in relays for span in collector.children(relay))
    delivery = collector.one("webhook delivery")
    assert delivery.kind == CLIENT
    assert delivery.attributes["sessiongraph.webhook.delivered"] is True
    assert delivery.attributes["http.response.status_code"] == 200
    [(received, _)] = receiver.requests
    version, trace_id, parent_id, flags = received["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", delivery.trace_id, delivery.span_id)
    assert int(flags, 16) & 1  # sampled
    # The Standard Webhooks headers are as they were; traceparent rides beside them.
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(received)
    [mail] = collector.named("email send")
    assert (mail.kind, mail.attributes["sessiongraph.email.status"]) == (CLIENT, "SENT")
    assert [message["To"].addresses[0].addr_spec for message in inbox.received] == ["nia@example.test"]
    # The reschedule's Redis: the rate limiter's bucket, under the mutation's operation span.
    mutation = next(span for span in collector.spans if span.name.startswith("mutation"))
    assert any(span.attributes.get("db.system") == "redis" for span in collector.children(mutation))


async def test_a_slow_field_has_a_span_and_a_fast_one_none_and_log_lines_name_their_trace(
        settings, clock, collector, make_user, caplog):
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.WARNING, logger="sessiongraph")
    password = "correct horse battery staple"
    user = await make_user("Lena", "lena@example.test", password_hash=await hash_password(password))
    sign_in = """mutation SignIn($email: String!, $password: String!) { signIn(input: {email: $email,
      password: $password}) { tokens { accessToken refreshToken } errors { code } } }"""
    refresh = """mutation Refresh($token: String!) { refreshToken(input: {refreshToken: $token}) { errors { code } } }"""
    token = issue_token(user.id, settings, clock.now())
    # argon2id (64 MiB, three passes) takes tens of milliseconds on any machine: signIn is slow past 5 ms.
    # node() with an ID that names nothing answers without awaiting anything: fast.
    async with traced(settings, clock, collector, trace_slow_field_ms=5) as (_, address), \
            httpx.AsyncClient(base_url=f"http://{address}", timeout=PATIENCE) as http:
        signed = (await http.post("/graphql", json={"query": sign_in, "variables": {
            "email": "lena@example.test", "password": password}})).json()
        assert signed["data"]["signIn"]["errors"] == []
        found = (await http.post("/graphql", headers={"authorization": f"Bearer {token}"},
                                 json={"query": 'query Find { node(id: "bm90aGluZw==") { id } }'})).json()
        assert found == {"data": {"node": None}}
        for _ in range(2):  # a refresh token used twice: the second use is logged (resolvers/signin.py)
            await http.post("/graphql", json={"query": refresh, "variables": {
                "token": signed["data"]["signIn"]["tokens"]["refreshToken"]}})

    slow = collector.one("Mutation.signIn")
    assert slow.milliseconds >= 5
    assert slow.attributes["graphql.field.path"] == "signIn"
    assert slow.parent_id == collector.one("mutation SignIn").span_id
    assert collector.one("query Find")  # the fast field's operation was traced ...
    assert not collector.named("Query.node")  # ... but not the field
    # Fields without a resolver of their own are never timed at all.
    assert not [span for span in collector.spans if span.name.startswith(("SignInPayload.", "AuthTokens."))]
    assert {span.service for span in collector.spans} == {"sessiongraph"}  # the default service name
    [logged] = [record for record in caplog.records if "spent refresh token" in record.getMessage()]
    second = max(collector.named("mutation Refresh"), key=lambda span: span.start)
    assert logged.trace_id == second.trace_id
    line = json.loads(JsonFormatter("%(message)s %(request_id)s").format(logged))  # as configure_logging writes
    assert (line["trace_id"], len(line["request_id"])) == (second.trace_id, 32)


def test_nothing_is_traced_and_opentelemetry_is_not_imported_when_the_endpoint_is_unset(settings, collector):
    """In a process of its own, so that what it imports is its own: the collector is where an exporter would
    send (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), yet OTEL_EXPORTER_OTLP_ENDPOINT is unset, so none is made."""
    program = """
import asyncio, json, sys
import httpx
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.server.app import create_app

async def main():
    app = create_app(Settings(database_url=sys.argv[1], database_pooler=sys.argv[2], _env_file=None),
                     check_migrations=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        answer = (await http.post("/graphql", json={"query": "{ viewer { user { name } } }"},
                                  headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})).json()
    print(json.dumps({"answer": answer, "tracing": app.state.tracing.enabled, "imported": sorted(
        name for name in sys.modules if name.startswith(TRACING_MODULES))}))

TRACING_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation",
                   "opentelemetry.propagate", "sessiongraph.infrastructure.tracing.otlp", "sessiongraph.schema.tracing")
asyncio.run(main())
"""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{collector.url}/v1/traces"
    done = subprocess.run([sys.executable, "-c", program, settings.database_url, settings.database_pooler],
                          env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    # (redis-py 8 imports the OpenTelemetry API and metrics SDK itself when they are installed, for metrics of its
    # own that stay off: not ours to avoid. The trace SDK, exporter, instrumentations and our spans are not loaded.)
    assert outcome == {"answer": {"data": {"viewer": None}}, "tracing": False, "imported": []}
    assert collector.spans == [] and collector.headers == []


async def test_the_sampler_is_the_environment_s(settings, clock, collector, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    async with traced(settings, clock, collector) as (_, address), httpx.AsyncClient(timeout=PATIENCE) as http:
        assert (await http.post(f"http://{address}/graphql", json={"query": VIEWER})).status_code == 200
    assert collector.spans == []

