"""Every setting of the service, read once from the environment and an optional .env."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./sessiongraph.db"
DEVELOPMENT_JWT_SECRET = "sessiongraph-development-secret-change-me"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def async_database_url(url: str) -> str:
    """Map the plain URLs people type to the async drivers the service runs on."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    for plain in ("postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain):]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    # Every Redis channel and key of this deployment starts with this; deployments sharing
    # one Redis server keep apart by it.
    redis_prefix: str = "sessiongraph:"
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_lifetime_hours: int = 24 * 30
    # Password sign-in (signIn): the access token's life, the refresh token's, and the lock-out after
    # SIGN_IN_MAX_FAILURES failures in a row for one address.
    access_token_minutes: int = Field(15, gt=0)
    refresh_token_days: int = Field(30, gt=0)
    sign_in_max_failures: int = Field(10, gt=0)
    sign_in_lock_minutes: int = Field(15, gt=0)
    # signIn attempts per client IP and per address: token buckets as the mutation rate limits, much
    # smaller, since each attempt costs an argon2 hash (refused with 429 and Retry-After).
    sign_in_ip_burst: int = Field(30, gt=0)
    sign_in_ip_per_minute: float = Field(10, gt=0)
    sign_in_email_burst: int = Field(15, gt=0)
    sign_in_email_per_minute: float = Field(5, gt=0)
    # An invitation link (createUser with sendInvitation) lasts this long; it is written on PUBLIC_URL.
    invitation_days: int = Field(7, gt=0)
    # OpenID Connect: bearer tokens signed by this provider (its discovery document at
    # OIDC_ISSUER/.well-known/openid-configuration) are accepted beside JWT_SECRET's; OIDC_AUDIENCE is
    # the `aud` they must carry. OIDC_CREATE_USERS makes a user of an unknown `email` claim.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_create_users: bool = False
    # Seconds of clock difference with the provider allowed on exp, nbf and iat; and the shortest
    # time between two JWKS fetches caused by a token with an unknown `kid`.
    oidc_leeway_seconds: int = Field(30, ge=0, le=300)
    oidc_jwks_refresh_seconds: float = Field(30, ge=0)
    oidc_http_timeout_seconds: float = Field(5, gt=0)
    environment: str = "development"
    # Where users reach this service, for the absolute URLs it hands out (the calendar feed's,
    # invitation links); behind a proxy, its public origin (and path prefix, if any).
    public_url: str = DEFAULT_PUBLIC_URL
    # Pool size per process; PostgreSQL only (SQLite serialises writers anyway).
    database_pool_size: int = 10
    # How many of the pool's connections (DATABASE_POOL_SIZE and as many more at a peak) WebSocket work may hold
    # at once: subscribes and their catch-up, subscription events, operations over a socket. The rest stay for
    # HTTP requests when thousands of sockets reconnect at once. Unset: DATABASE_POOL_SIZE.
    websocket_database_connections: int | None = Field(None, gt=0)
    # How many sockets a process sets up at once, each from `connection_init` to its first operation's first
    # result (sessiongraph/server/admission.py); more wait their turn.
    websocket_setups_at_once: int = Field(16, gt=0)
    # What stands between the service and PostgreSQL: "pgbouncer" for a pooler in transaction mode, which
    # hands each transaction whichever server connection is free (sessiongraph/infrastructure/db.py).
    database_pooler: Literal["none", "pgbouncer"] = "none"
    # Read replicas (sessiongraph/infrastructure/replicas.py), comma-separated URLs (a pooler's too: DATABASE_POOLER
    # applies to them); empty: every read from DATABASE_URL. A replica lagging more than the bound is left out;
    # its state is asked at most every CHECK seconds; a writer's last WAL position is kept OWN_WRITES seconds.
    database_replica_urls: Annotated[tuple[str, ...], NoDecode] = ()
    database_replica_max_lag_seconds: float = Field(5.0, ge=0)
    database_replica_check_seconds: float = Field(1.0, gt=0)
    database_replica_own_writes_seconds: float = Field(60.0, gt=0)
    # Largest page a connection field hands out, whatever `first` asks for.
    max_page_size: int = 100
    default_page_size: int = 20
    # Largest file `importCsv` accepts (MAX_UPLOAD_BYTES); larger ones are refused unread.
    max_upload_bytes: int = 20 * 1024 * 1024
    # What one import reads at most: lines (more refuses the file, FILE_TOO_LARGE), bytes of one
    # row (a quote left open makes the rest of the file one row; csv's own field limit is
    # 128 KiB), and errors counted before reading stops (the count is then "at least").
    import_max_lines: int = 200_000
    import_max_row_bytes: int = Field(64 * 1024, gt=0, le=128 * 1024)
    import_max_errors: int = Field(1_000, ge=100)
    # "json" for one JSON object per log line (the default in production), "text" for people.
    log_format: str | None = None

    # Abuse limits on one GraphQL operation (see schema/limits.py for how each is counted).
    max_query_depth: int = 12
    max_query_tokens: int = 5_000
    max_query_aliases: int = 30
    max_query_directives: int = 50
    max_query_cost: int = 50_000
    # The largest body of a request that is not a file upload (uploads: MAX_UPLOAD_BYTES above).
    max_request_bytes: int = 1024 * 1024
    # Several operations in one JSON array; off unless enabled, and then only a few.
    batching_enabled: bool = False
    # Answer the hot calendar documents from one statement instead of field by field
    # (schema/compiled); off, every document executes field by field.
    compiled_operations: bool = True
    planned_execution: bool = True
    max_batch_operations: int = 5
    # Browser pages on these origins may open a WebSocket (comma-separated; "*" for any).
    # Same-origin pages and clients that send no Origin (mobile apps) are always let in.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Mutations per user and per client IP: a token bucket holding `burst` mutations,
    # refilled at `per_minute`. Shared through Redis when REDIS_URL is set.
    rate_limit_enabled: bool = True
    rate_limit_user_burst: int = 100
    rate_limit_user_per_minute: float = 100
    rate_limit_ip_burst: int = 1_000
    rate_limit_ip_per_minute: float = 1_000
    rate_limit_key_prefix: str = "sessiongraph:ratelimit:"
    # Persisted documents (sessiongraph/server/persisted.py). TRUSTED_DOCUMENTS_ONLY runs the documents of the
    # trusted-documents manifest (TRUSTED_DOCUMENTS_PATH, by default the clients' own) and nothing else.
    trusted_documents_only: bool = False
    trusted_documents_path: str | None = None
    # Apollo's automatic persisted queries: documents registered by hash, in Redis when REDIS_URL is set.
    automatic_persisted_queries: bool = True
    persisted_query_ttl_seconds: int = 7 * 24 * 3600
    persisted_query_key_prefix: str = "sessiongraph:apq:"
    # APQ registration, which keeps a caller's document in the shared Redis for days: the largest
    # document registered, registrations per client IP (a token bucket, as the rate limits), and who
    # may register ("anyone", "signed-in" or "off"; unset: signed-in callers in production, anyone
    # elsewhere). A document refused registration still runs; it is only not kept.
    persisted_query_max_bytes: int = 16 * 1024
    persisted_query_registration_burst: int = 30
    persisted_query_registrations_per_minute: float = 10
    persisted_query_registration: Literal["anyone", "signed-in", "off"] | None = None

    # Per user and per process, over WebSocket: open sockets, and operations open at once
    # (subscriptions, and queries or mutations in flight) across those sockets.
    max_websockets_per_user: int = 10
    max_subscriptions_per_user: int = 100
    # How often an open WebSocket that sends nothing has its user read again, so that a deleted or
    # demoted user's subscriptions end without waiting for the socket's next operation (0: never).
    websocket_rights_recheck_seconds: int = 300
    # permessage-deflate doubles what an idle socket costs (70 KB against 36 KB, measured with uvicorn's
    # settings) and compresses messages of a few hundred bytes: off unless asked for.
    websocket_compression: bool = False
    # HTTP connections (sessiongraph/server/http_protocol.py): seconds for the request line and headers
    # to arrive, and for the body after them; the largest header block and the most headers.
    http_header_timeout_seconds: float = 10
    http_body_timeout_seconds: float = 60
    max_request_header_bytes: int = 16 * 1024
    max_request_headers: int = 100
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes (comma-separated IPs or
    # networks, "*" for any). Empty: none, so the client IP the rate limits count is the peer's.
    forwarded_allow_ips: str = ""
    # /metrics: served only to a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; off (404) when unset.
    metrics_token: str | None = None

    # Database faults (sessiongraph/infrastructure/db.py): how long a request waits for PostgreSQL before it
    # answers SERVICE_UNAVAILABLE (HTTP 503 with Retry-After) instead of hanging with it.
    database_connect_timeout_seconds: float = 5
    database_statement_timeout_seconds: float = 15
    database_pool_timeout_seconds: float = 5
    # SQLite: how long a writer waits for another writer's lock before SERVICE_UNAVAILABLE.
    database_busy_timeout_seconds: float = 10
    readiness_timeout_seconds: float = 3
    # Shutdown (sessiongraph/server/drain.py): after SIGTERM the process serves this long more with /readyz
    # answering 503 and its WebSockets closed with 1012 across it; then uvicorn stops listening and gives
    # in-flight requests SHUTDOWN_TIMEOUT_SECONDS before it cancels them.
    shutdown_drain_seconds: float = Field(0, ge=0)
    shutdown_timeout_seconds: int = Field(10, gt=0)
    service_unavailable_retry_after_seconds: int = 5
    # Redis faults (sessiongraph/infrastructure/redis_faults.py): every Redis call gives up after these, and after
    # a failure the service leaves Redis alone for REDIS_RETRY_INTERVAL_SECONDS (rate limits in-process meanwhile).
    redis_connect_timeout_seconds: float = 1
    redis_socket_timeout_seconds: float = 1
    redis_retry_interval_seconds: float = 5
    # The broker's listener pings Redis after this long without a message, to notice a Redis that hangs.
    redis_health_check_seconds: float = 5

    # The outbox (resolvers/outbox.py): events are kept this many days, so `scheduleChanged(after:)` can
    # resume from a cursor that old (older: CURSOR_EXPIRED); the relay publishes at once after each
    # commit of this instance, and looks for other instances' leftovers (or for Redis back) this often.
    event_retention_days: int = Field(7, ge=1)
    outbox_poll_seconds: float = Field(1.0, gt=0)
    # Webhooks (resolvers/webhooks.py): endpoints on private, loopback or reserved addresses are refused unless
    # this is true (tests, or a receiver inside the deployment's own network); a delivery is answered with a
    # 2xx within the timeout or retried, with backoff, until this many hours after its event, then FAILED;
    # each instance looks for due deliveries this often.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_retry_hours: float = Field(24.0, ge=24)
    webhook_poll_seconds: float = Field(1.0, gt=0)
    # `serve --demo` sets it: the service then receives the demo's webhook endpoint itself at /demo/webhooks,
    # checks each delivery's signature and logs it (sessiongraph/server/demo_webhooks.py). Refused in production.
    demo_webhook_receiver: bool = False
    # Email (resolvers/email.py): smtp://user:password@host:port (STARTTLS when the server offers it) or
    # smtps:// (TLS from the start); unset, nothing is queued. EMAIL_FROM is the From of every message. An
    # attempt (connect, send, quit) gives up after the timeout; a failed message is retried, with backoff,
    # until this many hours after it was queued, then FAILED; each instance looks for due messages this often.
    smtp_url: str | None = None
    email_from: str | None = None
    email_timeout_seconds: float = Field(10.0, gt=0)
    email_retry_hours: float = Field(24.0, gt=0)
    email_poll_seconds: float = Field(1.0, gt=0)
    # Reminders (resolvers/reminders.py): each instance's planner wakes at the next reminder it knows of, and
    # looks again this often for live sessions and bookings other instances made meanwhile.
    reminder_poll_seconds: float = Field(30.0, gt=0)
    # Tracing (sessiongraph/infrastructure/tracing/): spans exported by OTLP/HTTP to this collector (its base
    # URL, /v1/traces appended); unset, nothing is traced. A resolver's span is recorded only when the field took
    # at least TRACE_SLOW_FIELD_MS. The SDK reads the other OTEL_* variables from the environment itself.
    otel_exporter_otlp_endpoint: str | None = None
    trace_slow_field_ms: float = Field(50.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _replica_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = [url.strip() for url in value.split(",") if url.strip()]
        return tuple(async_database_url(url) for url in value) if isinstance(value, list | tuple) else value

    @field_validator("public_url")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == "production"

    @property
    def persisted_query_registrants(self) -> str:
        return self.persisted_query_registration or ("signed-in" if self.is_production else "anyone")

    @property
    def logs_as_json(self) -> bool:
        return (self.log_format or ("json" if self.is_production else "text")).lower() == "json"

    @property
    def socket_database_connections(self) -> int:
        return self.websocket_database_connections or self.database_pool_size

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check(self) -> None:
        """Refuse settings that would be unsafe to serve with."""
        if self.is_production and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            raise SystemExit("JWT_SECRET must be set when ENVIRONMENT=production")
        if self.is_production and self.demo_webhook_receiver:
            raise SystemExit("DEMO_WEBHOOK_RECEIVER is for the demo, not ENVIRONMENT=production")
        if self.oidc_issuer and not self.oidc_audience:
            raise SystemExit("OIDC_AUDIENCE must be set with OIDC_ISSUER (the `aud` tokens are checked for)")
        if self.database_replica_urls and (self.is_sqlite or any(
                not url.startswith("postgresql") for url in self.database_replica_urls)):
            raise SystemExit("DATABASE_REPLICA_URLS are PostgreSQL replicas of a PostgreSQL DATABASE_URL")
        if self.smtp_url and not self.email_from:
            raise SystemExit("EMAIL_FROM must be set with SMTP_URL (the address every email comes from)")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SystemExit("SMTP_URL must start with smtp:// or smtps://")
        if self.rate_limit_enabled and min(self.rate_limit_user_burst, self.rate_limit_ip_burst,
                                           self.rate_limit_user_per_minute, self.rate_limit_ip_per_minute) <= 0:
            raise SystemExit("Rate limit bursts and per-minute rates must be positive "
                             "(or set RATE_LIMIT_ENABLED=false)")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def human_size(size: int) -> str:
    """A byte count, as the messages that name a size limit write it."""
    if size >= 1024 * 1024:
        return f"{size / 1_048_576:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size:,} bytes"
