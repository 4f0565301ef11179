"""The ASGI application: GraphQL at /graphql, health checks, calendar feeds, the web client at /app,
and who is asking."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from datetime import datetime
from typing import cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError

from sessiongraph import migrations
from sessiongraph.clients.documents import WEB_APP_DIR, operations_by_name
from sessiongraph.infrastructure.broker import Broker, create_broker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database, create_engine, database_unavailable
from sessiongraph.infrastructure.observability import configure_logging
from sessiongraph.infrastructure.oidc import create_oidc_verifier
from sessiongraph.infrastructure.ratelimit import MutationRateLimiter, create_rate_limiter
from sessiongraph.infrastructure.redis_faults import RedisTimeouts
from sessiongraph.infrastructure.replicas import Replicas
from sessiongraph.infrastructure.scheduler import Scheduler
from sessiongraph.infrastructure.settings import Settings, get_settings
from sessiongraph.infrastructure.tokens import InvalidToken, bearer_token
from sessiongraph.infrastructure.tracing import create_tracing
from sessiongraph.models import User
from sessiongraph.resolvers import email, webhooks
from sessiongraph.resolvers.context import REQUEST_READS, Actor, Context, SharedReads
from sessiongraph.resolvers.email import EmailSender
from sessiongraph.resolvers.outbox import Relay
from sessiongraph.resolvers.reminders import ReminderPlanner
from sessiongraph.resolvers.webhooks import WebhookDispatcher
from sessiongraph.schema import build_schema
from sessiongraph.schema.exports import DOWNLOAD_PATH
from sessiongraph.server import calendar_feed
from sessiongraph.server.admission import Admission
from sessiongraph.server.bearer import BearerTokens, stored_user
from sessiongraph.server.connection_rights import (
    ConnectionRights,
    Lapse,
    RightsChanges,
    UserSockets,
    rights_lapse,
)
from sessiongraph.server.demo_webhooks import demo_webhook_route
from sessiongraph.server.drain import Drain
from sessiongraph.server.exports import export_downloads
from sessiongraph.server.graphql_http import GraphQLOverHTTP, Refusal, refusal_response, unavailable_response
from sessiongraph.server.ide import graphiql_assets, graphiql_page
from sessiongraph.server.limits import BodyLimit
from sessiongraph.server.observability import metrics_endpoint, request_middleware
from sessiongraph.server.persisted import (
    PersistedDocuments,
    PersistedDocumentsView,
    resolve_legacy_start,
)
from sessiongraph.server.shared_results import (
    SharedLegacyDelivery,
    SharedResults,
    nobody_context,
)
from sessiongraph.server.ws_messages import WellFormedLegacyMessages, WellFormedTransportWSHandler

log = logging.getLogger("sessiongraph")


class LegacyWebSocketHandler(WellFormedLegacyMessages, ConnectionRights, SharedLegacyDelivery):
    """The legacy graphql-ws protocol, refusing a bad token with 4403 as graphql-transport-ws does,
    and checking the sign-in again on every `start` (sessiongraph/server/connection_rights.py)."""

    def open_operation_ids(self) -> list[str]:
        return [*self.tasks, *self.shared]

    def operation_error(self, operation_id: str, lapse: Lapse) -> dict:
        return {"type": "error", "id": operation_id, "payload": lapse.error().formatted}

    async def handle_connection_init(self, message) -> None:
        view = cast(SessiongraphGraphQL, self.view)
        try:
            if not await self.sign_in(view.authenticate_connection(self.context, message.get("payload"))):
                return
        except ConnectionRejectionError:
            await self.send_message({"type": "connection_error", "payload": {"message": "Forbidden"}})
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            await self.signed_in()

    async def handle_start(self, message) -> None:
        if self.connection_acknowledged and not await self.may_run(message["id"]):
            return
        message = await resolve_legacy_start(self, message)
        if message is None:
            return
        if not _is_subscription(message["payload"]):
            # Strawberry runs only subscriptions over this protocol; without this check
            # a query or mutation fails deep inside it as an internal error.
            await self.send_message({"type": "error", "id": message["id"], "payload": {
                "message": "graphql-ws carries subscriptions only; send queries and mutations over HTTP "
                           "or graphql-transport-ws.", "extensions": {"code": "BAD_REQUEST"}}})
            return
        await super().handle_start(message)

    async def send_message(self, message) -> None:
        if not self.completes_an_ended_operation(message):
            await super().send_message(message)

    async def cleanup(self) -> None:
        self.stop_watching()
        await super().cleanup()


def _is_subscription(payload: dict) -> bool:
    """True unless the document parses to an operation that is not a subscription (a document
    that does not parse goes on, to be refused with its syntax error)."""
    try:
        operation = get_operation_ast(parse(payload.get("query") or ""), payload.get("operationName"))
    except GraphQLError:
        return True
    return operation is None or operation.operation == OperationType.SUBSCRIPTION


class SessiongraphGraphQL(PersistedDocumentsView, GraphQLOverHTTP):
    graphql_ws_handler_class = LegacyWebSocketHandler
    graphql_transport_ws_handler_class = WellFormedTransportWSHandler

    def __init__(self, schema, *, database: Database, clock: Clock, settings: Settings, broker: Broker,
                 persisted: PersistedDocuments, bearer: BearerTokens,
                 rate_limiter: MutationRateLimiter | None = None, replicas: Replicas | None = None,
                 **options) -> None:
        super().__init__(schema, **options)
        self.database = database
        # WebSocket work waits for its share of the pool (WEBSOCKET_DATABASE_CONNECTIONS), so that sockets
        # reconnecting by the thousand leave connections for HTTP requests.
        self.socket_database = database.sharing(settings.socket_database_connections)
        self.replicas = replicas
        self.clock = clock
        self.settings = settings
        self.broker = broker
        self.persisted = persisted
        self.rate_limiter = rate_limiter
        self.bearer = bearer
        self.unavailable_retry_after = settings.service_unavailable_retry_after_seconds
        self.scheduler = Scheduler(clock)
        self.admission = Admission(settings.websocket_setups_at_once)
        self.user_sockets = UserSockets(max_sockets=settings.max_websockets_per_user,
                                        max_operations=settings.max_subscriptions_per_user)
        # joinAvailability results shared by the subscribers in the same state (sessiongraph/server/shared_results.py).
        self.shared_results = SharedResults(self.schema, nobody_context(self), self.encode_json)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()  # from the files this package holds, never a CDN (sessiongraph/server/ide.py)

    async def get_context(self, request, response) -> Context:
        user = request.scope.get("state", {}).get("user")
        database = self.socket_database if request.scope.get("type") == "websocket" else self.database
        return Context(database=database, clock=self.clock, settings=self.settings, actor=Actor(user),
                       broker=self.broker, scheduler=self.scheduler, rate_limiter=self.rate_limiter,
                       request=request, response=response, replicas=self.replicas)

    async def execute_single(self, request: Request, request_adapter, sub_response: Response, context: Context,
                             root_value, request_data):
        arguments = {"request": request, "request_adapter": request_adapter, "sub_response": sub_response,
                     "context": context, "root_value": root_value, "request_data": request_data}
        result = await super().execute_single(**arguments)
        if context.read_failover:
            # The replica this query read from did not answer: it is left out now, and the query is
            # answered again (a query writes nothing), by another replica or the primary.
            context.read_failover = False
            context.forget_loaded()
            result = await super().execute_single(**arguments)
        return result

    async def on_ws_connect(self, context: Context):
        if context.actor.is_anonymous:  # the legacy handler has signed the connection in already
            await self.authenticate_connection(context, context.connection_params)
        return await super().on_ws_connect(context)

    async def authenticate_connection(self, context: Context, params: dict | None) -> None:
        """A WebSocket client signs in through `connection_init`; without a valid token it is refused."""
        try:
            user = await self.bearer.user(_connection_token(params))
        except InvalidToken as refusal:
            raise ConnectionRejectionError({"message": str(refusal)}) from refusal
        lapse = rights_lapse(None, user)
        if lapse is not None:
            raise ConnectionRejectionError({"message": lapse.message})
        context.actor = Actor(user)

    async def connection_lapse(self, context: Context) -> Lapse | None:
        """Why the socket's sign-in no longer holds for a new operation (None while it does):
        the token read again against the clock, the user read again (one statement)."""
        try:
            user = await self.bearer.user(_connection_token(context.connection_params))
        except InvalidToken as refusal:
            return Lapse("UNAUTHENTICATED", str(refusal))
        return rights_lapse(context.actor.user, user)

    def connection_expiry(self, context: Context) -> datetime | None:
        try:
            return self.bearer.expiry(_connection_token(context.connection_params))
        except InvalidToken:
            return None


NOT_MIGRATED = "database not migrated"


class Readiness:
    """Whether this instance may be sent traffic: the database answers, at this release's migration or past it.

    It asks through a connection of its own, not the app's pool: under a surge (thousands of sockets
    resubscribing to the one instance left) the pool is busy, and a readiness check waiting in its queue
    timed out, so that the balancer took the last instance out and answered every request with its own 503.
    A busy pool is not an unready instance; a database that does not answer is. Probes that arrive while a
    check runs (every balancer probes each instance) share it."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._settings = settings
        url = database.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            self._engine, self._own_engine = database.engine, False  # another engine would open another database
        else:
            # Unpooled: a probe every second or so, and nothing left open by an app that is never shut down.
            self._engine = create_engine(settings, url=url.render_as_string(hide_password=False), pooled=False)
            self._own_engine = True
        self._check: asyncio.Future[str | None] | None = None

    async def reason_not_ready(self) -> str | None:
        if self._check is None or self._check.done():
            self._check = asyncio.ensure_future(self._ask())
        return await asyncio.shield(self._check)

    async def _ask(self) -> str | None:
        try:
            # Its own bound (READINESS_TIMEOUT_SECONDS), shorter than a prober's: a hung database is not ready.
            async with asyncio.timeout(self._settings.readiness_timeout_seconds):
                migrated = await migrations.is_up_to_date(self._engine)
        except Exception as error:  # any failure to reach the database means not ready
            log.warning("readiness check failed: %r", error)
            return "database did not answer in time" if isinstance(error, TimeoutError) else "database unreachable"
        return None if migrated else NOT_MIGRATED

    async def dispose(self) -> None:
        if self._own_engine:
            await self._engine.dispose()


def _connection_token(params: dict | None) -> str:
    authorization = (params or {}).get("authorization") or (params or {}).get("Authorization")
    token = bearer_token(authorization if isinstance(authorization, str) else None)
    if token is None:
        raise InvalidToken("no token in connection_init")
    return token


class Authentication:
    """Reads the bearer token before GraphQL sees the request.

    No token is an anonymous request; a token that is expired, forged or names no
    user is refused outright with HTTP 401, so a client never mistakes a broken
    login for being signed out.
    """

    def __init__(self, app, *, settings: Settings, bearer: BearerTokens) -> None:
        self.app = app
        self.settings = settings
        self.bearer = bearer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if len(_authorization_headers(scope)) > 1:
                # Which one counts would depend on the proxy or framework in between: none does.
                refusal = Refusal(400, "BAD_REQUEST", "Send one Authorization header, not several.")
                await refusal_response(refusal, Request(scope).headers.get("accept"))(scope, receive, send)
                return
            state = scope.setdefault("state", {})
            # The user is read on the connection the request's query goes on to read on (schema/execution.py
            # `OneReadSession` takes it), or with users asked for at the same moment on the first such
            # request's (server/bearer.py): a request checks out one connection, not one for each.
            reads = state[REQUEST_READS] = SharedReads(self.bearer.database)
            try:
                await self._signed_in(scope, receive, send, state, reads)
            finally:
                if state.pop(REQUEST_READS, None) is not None:
                    await reads.close()
            return
        await self.app(scope, receive, send)

    async def _signed_in(self, scope: Scope, receive: Receive, send: Send, state: dict, reads: SharedReads) -> None:
        """The request, with its signed-in user in its state; refused when the token is."""
        try:
            state["user"] = await self.user_of(scope, reads)
        except InvalidToken as refusal:
            response = JSONResponse(
                {"data": None, "errors": [{"message": str(refusal), "extensions": {"code": "UNAUTHENTICATED"}}]},
                status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            await response(scope, receive, send)
            return
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("cannot read the signed-in user: %s", error)
            accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1") or None
            await unavailable_response(accept, self.settings.service_unavailable_retry_after_seconds)(
                scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def user_of(self, scope: Scope, reads: SharedReads) -> User | None:
        token = bearer_token(next(iter(_authorization_headers(scope)), ""))
        if token is None:
            return None
        user = await self.bearer.user(token, reads)
        lapse = rights_lapse(None, user)
        if lapse is not None:
            raise InvalidToken(lapse.message)
        return user


def _authorization_headers(scope: Scope) -> list[str]:
    return [value.decode("latin-1") for name, value in scope.get("headers") or () if name == b"authorization"]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               database: Database | None = None, check_migrations: bool = True) -> Starlette:
    settings = settings or get_settings()
    settings.check()
    database = database or Database.of(settings)
    replicas = Replicas.from_settings(database, settings)
    tracing = create_tracing(settings)  # off (and free) unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    for engine in database.engines:
        tracing.instrument_engine(engine)
    for replica in replicas.replicas if replicas is not None else ():
        tracing.instrument_engine(replica.database.engine)
    clock = clock or Clock()
    broker = create_broker(settings.redis_url, settings.redis_prefix, RedisTimeouts.from_settings(settings))
    rate_limiter = create_rate_limiter(settings, clock)
    bearer = BearerTokens(database, settings, clock, create_oidc_verifier(settings, clock))
    dispatcher = WebhookDispatcher(database, clock, settings, tracing=tracing)
    email_sender = EmailSender(database, clock, settings, tracing=tracing)
    relay = Relay(database, broker, clock, settings, consumers=[webhooks.consumer(then=dispatcher.wake),
                                                                email.consumer(settings, then=email_sender.wake)],
                  tracing=tracing)
    planner = ReminderPlanner(database, clock, settings)
    persisted = PersistedDocuments.from_settings(settings, clock)
    graphql = SessiongraphGraphQL(
        build_schema(settings, rate_limiter=rate_limiter, tracing=tracing, trusted_documents=persisted.trusted),
        database=database, clock=clock, settings=settings, broker=broker, persisted=persisted,
        rate_limiter=rate_limiter, bearer=bearer, replicas=replicas,
        graphql_ide=None if settings.is_production else "graphiql",
        multipart_uploads_enabled=True,
        allowed_origins=settings.allowed_origins,
    )
    broker.attach(RightsChanges(graphql.user_sockets))
    graphql_app = BodyLimit(Authentication(graphql, settings=settings, bearer=bearer),
                            max_bytes=settings.max_request_bytes, max_upload_bytes=settings.max_upload_bytes)

    # The page's admin screens are the admin client's screens: they send its documents, not copies of them
    # (operation names are unique across clients).
    web_operations = {"operations": {**operations_by_name("admin"), **operations_by_name("web")}}

    async def web_client_operations(_: Request) -> JSONResponse:
        """The web page's operations (clients/web, and clients/admin for its admin screens), so that it sends
        exactly the committed documents."""
        return JSONResponse(web_operations)

    async def healthz(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    drain = Drain(settings.shutdown_drain_seconds)

    readiness = Readiness(database, settings)

    async def readyz(_: Request) -> JSONResponse:
        if drain.started:
            return JSONResponse({"ready": False, "code": "SHUTTING_DOWN", "reason": "this instance is shutting down"},
                                status_code=503)
        reason = await readiness.reason_not_ready()
        if reason is None:
            return JSONResponse({"ready": True})
        headers = {"Retry-After": str(settings.service_unavailable_retry_after_seconds)}
        return JSONResponse({"ready": False, "reason": reason}, status_code=503,
                            headers=headers if reason != NOT_MIGRATED else None)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if check_migrations and not await migrations.is_up_to_date(database.engine):
            raise RuntimeError("The database is behind this version of sessiongraph; run `sessiongraph migrate`.")
        tracing.start()
        await broker.start()
        await relay.start()
        await dispatcher.start()
        await email_sender.start()
        await planner.start()
        drain.listen_for_signals()
        yield
        drain.stop_listening()
        await planner.close()
        await relay.close()
        await dispatcher.close()
        await email_sender.close()
        await graphql.scheduler.close()
        if rate_limiter is not None:
            await rate_limiter.close()
        await persisted.close()
        await bearer.close()
        await broker.close()
        if replicas is not None:
            await replicas.dispose()
        await readiness.dispose()
        await database.dispose()
        await asyncio.to_thread(tracing.shutdown)  # exports the last spans without holding the event loop

    app = Starlette(
        routes=[
            # Every method reaches the view, which refuses all but GET and POST with a GraphQL error.
            Route("/graphql", graphql_app),
            WebSocketRoute("/graphql", graphql_app),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # exportTracking's and exportEnrollments' files (sessiongraph/server/exports.py).
            Route(DOWNLOAD_PATH + "{ticket}", export_downloads(database=database, settings=settings, clock=clock,
                                                              load_user=stored_user)),
            # No bearer token: the secret in the path is the credential (sessiongraph/server/calendar_feed.py).
            Route(calendar_feed.PATH, calendar_feed.calendar_feed_endpoint(database, clock, settings)),
            # The web client: plain HTML and JavaScript from clients/web/app, no build step.
            Route("/app/operations.json", web_client_operations),
            Mount("/app", StaticFiles(directory=WEB_APP_DIR, html=True), name="app"),
            *([demo_webhook_route(database, settings)] if settings.demo_webhook_receiver else []),
            *([graphiql_assets()] if graphql.graphql_ide else []),
        ],
        middleware=[*request_middleware(tracing), Middleware(drain.middleware)],
        lifespan=lifespan,
    )
    app.add_route("/metrics", metrics_endpoint(app.state))
    app.state.database = database
    app.state.replicas = replicas
    app.state.clock = clock
    app.state.settings = settings
    app.state.broker = broker
    app.state.relay = relay
    app.state.dispatcher = dispatcher
    app.state.email_sender = email_sender
    app.state.planner = planner
    app.state.rate_limiter = rate_limiter
    app.state.persisted = persisted
    app.state.tracing = tracing
    app.state.drain = drain
    return app


# Ten thousand open subscriptions are millions of long-lived objects; with CPython's
# default thresholds (700, 10, 10) a full collection over them lands in the middle of
# the burst of events at a join window's opening. Collect young objects less often.
GC_THRESHOLDS = (50_000, 20, 100)


def serve_app() -> Starlette:
    """The factory uvicorn workers call: logging set up as the settings say, then the app."""
    settings = get_settings()
    configure_logging(as_json=settings.logs_as_json)
    app = create_app(settings)
    # A server's process: its SIGTERM drains first (sessiongraph/server/drain.py).
    app.state.drain.on_signals = True
    # What start-up built lives as long as the process: keep it out of every future
    # garbage collection, which then only walks what requests and subscriptions made.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app
