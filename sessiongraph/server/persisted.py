"""Persisted documents: the client operations' trusted documents, and Apollo's automatic persisted queries.

A client may name its document by SHA-256 (hex) instead of sending its text, as
Apollo's `extensions.persistedQuery.sha256Hash` (version 1) or as the GraphQL-over-
HTTP persisted documents proposal's `documentId` (`sha256:<hex>`, or the bare hex).
The hash is looked up in the trusted-documents manifest (clients/trusted-documents.json,
every operation the clients in this repository send), then among the documents
registered through automatic persisted queries (APQ).

APQ, as Apollo's clients speak it: the client sends the hash alone; an unknown hash
answers PERSISTED_QUERY_NOT_FOUND (HTTP 200, so that the client retries rather than
giving up on persisted queries); the client sends the query with its hash; the
server checks that the hash is the query's SHA-256, runs it and registers it, and
from then on the hash alone is enough. Registered documents live in Redis when
REDIS_URL is set (every instance sees them, for PERSISTED_QUERY_TTL_SECONDS), in this
process otherwise.

With TRUSTED_DOCUMENTS_ONLY the service runs the manifest's documents and nothing
else: a request must name one by hash (it may also carry the text, which must then
be that document); query text alone answers PERSISTED_QUERY_ID_REQUIRED and a hash
outside the manifest PERSISTED_QUERY_NOT_IN_LIST. Nothing is registered.

Registration is bounded, since a registered document stays in the shared Redis for days
(`RegistrationPolicy`): documents larger than PERSISTED_QUERY_MAX_BYTES, registrations past
the client IP's bucket, and (PERSISTED_QUERY_REGISTRATION) anonymous callers in production
are not registered. Such a document still runs, and the response says why it was not kept
in `extensions.persistedQuery` (`{"registered": false, "code": ...}`): the client sends the
text again next time.

Error codes (`extensions.code`): PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_NOT_SUPPORTED
(APQ turned off and the hash is not a trusted document), PERSISTED_QUERY_HASH_MISMATCH,
PERSISTED_QUERY_ID_REQUIRED, PERSISTED_QUERY_NOT_IN_LIST, and BAD_REQUEST for a
malformed hash or an unknown persisted-query version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types import ExecutionResult

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.ratelimit import Bucket, BucketStore, InProcessBuckets, RedisBuckets
from sessiongraph.infrastructure.redis_faults import REDIS_FAILURES, RedisOutage, RedisTimeouts
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.server.graphql_http import GraphQLOverHTTP, Refusal, is_request_error

if TYPE_CHECKING:
    # What the mixin comes before in the view's bases (sessiongraph/server/app.py), for its super() calls.
    _View = GraphQLOverHTTP[Any, Any]
else:
    _View = object

log = logging.getLogger("sessiongraph.persisted")

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueryRefusal(Exception):
    """A persisted-document request the service will not run, with the code the client switches on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})

    def result(self) -> ExecutionResult:
        return ExecutionResult(data=None, errors=[self.error])


NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


def _not_found() -> PersistedQueryRefusal:
    # Apollo's clients look for this message (older ones) or code (newer ones) and resend with the query.
    return PersistedQueryRefusal(NOT_FOUND, "PersistedQueryNotFound")


@dataclass(frozen=True)
class Lookup:
    """The document to run, and the hash to register it under once it has run (APQ registration)."""

    query: str | None
    register: str | None = None


class DocumentStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...

    async def close(self) -> None: ...


class InProcessDocuments:
    """Registered documents in this process, the least recently used forgotten past `max_documents`."""

    def __init__(self, max_documents: int = 10_000) -> None:
        self.max_documents = max_documents
        self.documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        document = self.documents.get(sha256)
        if document is not None:
            self.documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        self.documents[sha256] = document
        self.documents.move_to_end(sha256)
        while len(self.documents) > self.max_documents:
            self.documents.popitem(last=False)

    async def close(self) -> None:
        pass


class RedisDocuments:
    """Registered documents in Redis, shared by every instance; each expires `ttl_seconds` after it was
    last registered (a client whose hash has expired registers it again). While Redis cannot be
    reached every hash is unknown and nothing is registered: clients fall back to sending the text."""

    def __init__(self, url: str, *, key_prefix: str, ttl_seconds: int, timeouts: RedisTimeouts | None = None) -> None:
        timeouts = timeouts or RedisTimeouts()
        self.client = timeouts.client(url)
        self.key_prefix = key_prefix
        self.ttl_seconds = ttl_seconds
        self.outage = RedisOutage("persisted queries", "every hash is unknown", timeouts.retry_interval, log)

    async def get(self, sha256: str) -> str | None:
        if self.outage.skip():
            return None
        try:
            document = await self.client.get(self.key_prefix + sha256)
        except REDIS_FAILURES as error:
            self.outage.failed(error)
            return None
        self.outage.answered()
        return document.decode() if isinstance(document, bytes) else document

    async def put(self, sha256: str, document: str) -> None:
        if self.outage.skip():
            return
        try:
            await self.client.set(self.key_prefix + sha256, document, ex=self.ttl_seconds or None)
        except REDIS_FAILURES as error:
            self.outage.failed(error)
            return
        self.outage.answered()

    async def close(self) -> None:
        await self.client.aclose()


def load_manifest(path: str | Path) -> dict[str, str]:
    """The trusted documents, SHA-256 (hex) -> document; refuses a manifest whose hashes do not match."""
    try:
        documents = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read the trusted-documents manifest {path}: {error}") from error
    if not isinstance(documents, dict):
        raise SystemExit(f"the trusted-documents manifest {path} is not a JSON object of hash -> document")
    wrong = [sha256 for sha256, document in documents.items()
             if not isinstance(document, str) or document_hash(document) != sha256]
    if wrong:
        raise SystemExit(f"the trusted-documents manifest {path} has {len(wrong)} hash(es) that are not "
                         f"their document's SHA-256, such as {wrong[0]}: regenerate it")
    return documents


def default_manifest_path() -> Path:
    from sessiongraph.clients.documents import MANIFEST_PATH

    return MANIFEST_PATH


class RegistrationPolicy:
    """Whether a caller's document may be registered: its size, who the caller is, and a token
    bucket per client IP (the rate limits' buckets, in Redis when REDIS_URL is set)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.max_bytes = settings.persisted_query_max_bytes
        self.registrants = settings.persisted_query_registrants
        self.clock = clock
        self.burst = settings.persisted_query_registration_burst
        self.per_second = settings.persisted_query_registrations_per_minute / 60
        self.key_prefix = settings.rate_limit_key_prefix + "apq-registrations:"
        self.buckets: BucketStore | None = None
        if self.registrants != "off":
            self.buckets = (RedisBuckets.from_url(settings.redis_url, RedisTimeouts.from_settings(settings))
                            if settings.redis_url else InProcessBuckets())

    async def refusal(self, document: str, *, signed_in: bool, ip: str | None) -> str | None:
        """The code saying why the document is not registered; None when it may be."""
        if self.registrants == "off" or self.buckets is None:
            return "PERSISTED_QUERY_REGISTRATION_OFF"
        if self.registrants == "signed-in" and not signed_in:
            return "PERSISTED_QUERY_SIGN_IN_REQUIRED"
        if len(document.encode()) > self.max_bytes:
            return "PERSISTED_QUERY_TOO_LARGE"
        bucket = Bucket(f"{self.key_prefix}{ip or 'unknown'}", self.burst, self.per_second)
        decision = await self.buckets.take([bucket], 1, self.clock.now().timestamp())
        return None if decision.allowed else "PERSISTED_QUERY_REGISTRATION_LIMITED"

    async def close(self) -> None:
        if self.buckets is not None:
            await self.buckets.close()


class PersistedDocuments:
    """Turns a request's query, persisted-query extension and documentId into the document to run."""

    def __init__(self, trusted: Mapping[str, str], store: DocumentStore | None, *, trusted_only: bool,
                 registration: RegistrationPolicy | None = None) -> None:
        self.trusted = dict(trusted)
        self.store = None if trusted_only else store
        self.trusted_only = trusted_only
        self.registration = registration

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> PersistedDocuments:
        trusted = load_manifest(settings.trusted_documents_path or default_manifest_path())
        if settings.trusted_documents_only and not trusted:
            raise SystemExit("TRUSTED_DOCUMENTS_ONLY is set but the trusted-documents manifest is empty")
        store: DocumentStore | None = None
        if settings.automatic_persisted_queries and not settings.trusted_documents_only:
            store = (RedisDocuments(settings.redis_url, key_prefix=settings.persisted_query_key_prefix,
                                    ttl_seconds=settings.persisted_query_ttl_seconds,
                                    timeouts=RedisTimeouts.from_settings(settings))
                     if settings.redis_url else InProcessDocuments())
        registration = RegistrationPolicy(settings, clock or Clock()) if store is not None else None
        return cls(trusted, store, trusted_only=settings.trusted_documents_only, registration=registration)

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None,
                      document_id: Any = None, *, may_register: bool = True) -> Lookup:
        sha256 = _requested_hash(extensions, document_id)
        if sha256 is None:
            if query is not None and self.trusted_only:
                raise PersistedQueryRefusal(
                    "PERSISTED_QUERY_ID_REQUIRED",
                    "This service runs trusted documents only: send the document's SHA-256 as "
                    "extensions.persistedQuery.sha256Hash or documentId instead of its text.")
            return Lookup(query)
        if query is not None:
            if document_hash(query) != sha256:
                raise PersistedQueryRefusal("PERSISTED_QUERY_HASH_MISMATCH",
                                            "The persisted-query hash is not the SHA-256 of the query sent with it.")
            if sha256 in self.trusted:
                return Lookup(query)
            if self.trusted_only:
                raise _not_in_list()
            return Lookup(query, register=sha256 if may_register and self.store is not None else None)
        if sha256 in self.trusted:
            return Lookup(self.trusted[sha256])
        if self.trusted_only:
            raise _not_in_list()
        if self.store is None:
            raise PersistedQueryRefusal("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        document = await self.store.get(sha256)
        if document is None:
            raise _not_found()
        return Lookup(document)

    async def register(self, sha256: str, document: str, *, signed_in: bool = False,
                       ip: str | None = None) -> str | None:
        """Registers the document unless the policy refuses; the refusal's code, if it does."""
        if self.store is None:
            return None
        if self.registration is not None:
            refusal = await self.registration.refusal(document, signed_in=signed_in, ip=ip)
            if refusal is not None:
                return refusal
        await self.store.put(sha256, document)
        return None

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()
        if self.registration is not None:
            await self.registration.close()


def _not_in_list() -> PersistedQueryRefusal:
    return PersistedQueryRefusal("PERSISTED_QUERY_NOT_IN_LIST",
                                 "No trusted document has this hash: this service runs the documents of its "
                                 "trusted-documents manifest only.")


def _requested_hash(extensions: Mapping[str, Any] | None, document_id: Any) -> str | None:
    """The SHA-256 a request names, from documentId or Apollo's persistedQuery extension; None when neither."""
    persisted = (extensions or {}).get("persistedQuery") if isinstance(extensions, Mapping) else None
    if document_id is not None:
        if not isinstance(document_id, str):
            raise PersistedQueryRefusal("BAD_REQUEST", "documentId must be a string such as \"sha256:<hex>\".")
        sha256 = document_id.removeprefix("sha256:")
    elif persisted is not None:
        if not isinstance(persisted, Mapping):
            raise PersistedQueryRefusal("BAD_REQUEST", "extensions.persistedQuery must be an object.")
        if persisted.get("version", 1) != 1:
            raise PersistedQueryRefusal("BAD_REQUEST", "Only version 1 of persisted queries is supported.")
        named = persisted.get("sha256Hash")
        if not isinstance(named, str):
            raise PersistedQueryRefusal("BAD_REQUEST", "extensions.persistedQuery.sha256Hash must be a string.")
        sha256 = named
    else:
        return None
    if not SHA256_HEX.fullmatch(sha256):
        raise PersistedQueryRefusal("BAD_REQUEST", "A persisted document is named by its SHA-256 in lowercase hex.")
    return sha256


# --- Where requests come in: the HTTP view and the two WebSocket protocols. ---

@dataclass
class PersistedRequestData(GraphQLRequestData):
    """A request as Strawberry parses it, plus the `documentId` Strawberry does not read."""

    document_id: Any = None


class PersistedDocumentsView(_View):
    """Mixin for the HTTP view (before GraphQLOverHTTP in the bases): every operation of a request, batched,
    streamed or plain, has its document looked up before it runs and is registered after it ran."""

    persisted: PersistedDocuments

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        document_ids = await self._document_ids(request)
        if document_ids is None:
            return data
        items = data if isinstance(data, list) else [data]
        with_ids: list[GraphQLRequestData] = [
            PersistedRequestData(**vars(item), document_id=document_id)
            for item, document_id in zip(items, document_ids + [None] * len(items), strict=False)]
        return with_ids if isinstance(data, list) else with_ids[0]

    async def _document_ids(self, request: Any) -> list[Any] | None:
        if request.method == "GET":
            document_id = request.query_params.get("documentId")
            return None if document_id is None else [document_id]
        if "json" not in (request.content_type or ""):
            return None  # uploads (multipart) name their documents in the extensions of `operations`
        body = await request.get_body()
        if b"documentId" not in body:  # only then is the body parsed a second time
            return None
        try:
            parsed = self.decode_json(body)
        except ValueError:
            return None
        items = parsed if isinstance(parsed, list) else [parsed]
        return [item.get("documentId") if isinstance(item, dict) else None for item in items]

    async def execute_operation(self, request, request_adapter, request_data, context, root_value, sub_response):
        if not isinstance(request_data, list) and request_data.protocol != "http":
            # Streamed operations (multipart subscriptions, SSE: parse_http_body sets the protocol of the
            # transport the client asked for, "http" otherwise) do not go through execute_single: look them
            # up here (no registration).
            try:
                lookup = await self.persisted.resolve(request_data.query, request_data.extensions,
                                                      getattr(request_data, "document_id", None), may_register=False)
            except PersistedQueryRefusal as refusal:
                raise Refusal(400, refusal.code, refusal.message) from refusal
            request_data = replace(request_data, query=lookup.query)
        return await super().execute_operation(request=request, request_adapter=request_adapter,
                                               request_data=request_data, context=context, root_value=root_value,
                                               sub_response=sub_response)

    async def execute_single(self, request, request_adapter, sub_response, context, root_value,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        try:
            lookup = await self.persisted.resolve(request_data.query, request_data.extensions,
                                                  getattr(request_data, "document_id", None))
        except PersistedQueryRefusal as refusal:
            return refusal.result()
        result = await super().execute_single(request=request, request_adapter=request_adapter,
                                              sub_response=sub_response, context=context, root_value=root_value,
                                              request_data=replace(request_data, query=lookup.query))
        if lookup.register is not None and lookup.query is not None and not is_request_error(result):
            declined = await self.persisted.register(
                lookup.register, lookup.query, signed_in=request.scope.get("state", {}).get("user") is not None,
                ip=request.client.host if request.client else None)
            if declined is not None:
                result.extensions = {**(result.extensions or {}),
                                     "persistedQuery": {"registered": False, "code": declined}}
        return result


class HasPersistedDocuments(Protocol):
    persisted: PersistedDocuments


def persisted_documents(view: object) -> PersistedDocuments:
    """The view's persisted documents (the WebSocket handlers type their view as Strawberry's base view)."""
    return cast(HasPersistedDocuments, view).persisted


class PersistedTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws: a `subscribe` may name its document by hash, as over HTTP (no registration)."""

    async def handle_subscribe(self, message: Any) -> None:
        payload = message.get("payload")
        if self.connection_acknowledged and isinstance(payload, dict):
            try:
                lookup = await persisted_documents(self.view).resolve(
                    payload.get("query"), payload.get("extensions"), payload.get("documentId"), may_register=False)
            except PersistedQueryRefusal as refusal:
                await self.send_message({"id": message["id"], "type": "error", "payload": [refusal.error.formatted]})
                return
            message = {**message, "payload": {**payload, "query": lookup.query}}
        await super().handle_subscribe(message)


async def resolve_legacy_start(handler: Any, message: Any) -> Any | None:
    """The legacy graphql-ws `start` message with its document looked up; None when refused (and answered)."""
    payload = message.get("payload")
    if not handler.connection_acknowledged or not isinstance(payload, dict):
        return message
    try:
        lookup = await persisted_documents(handler.view).resolve(
            payload.get("query"), payload.get("extensions"), payload.get("documentId"), may_register=False)
    except PersistedQueryRefusal as refusal:
        await handler.send_message({"type": "error", "id": message["id"], "payload": refusal.error.formatted})
        return None
    return {**message, "payload": {**payload, "query": lookup.query}}
