"""GraphQL over HTTP as the spec (graphql/graphql-over-http) asks, where Strawberry's view does not.

What Strawberry's ASGI view already does, and is kept: GET and POST only (405
otherwise), queries over GET, 400 for a body that is not JSON, for a `query`,
`variables` or `extensions` of the wrong type and for a missing query; the
GraphiQL page only when enabled (404 otherwise); batching off unless configured.

What `GraphQLOverHTTP` adds:
- Content negotiation: the response is `application/graphql-response+json` when
  the client's Accept prefers it (or sends no Accept: the spec's default since
  2025), `application/json` when it prefers that or accepts anything (`*/*`), and
  406 when it accepts neither.
- Status codes in `application/graphql-response+json`: a request error (the
  document does not parse or validate, the variables do not coerce, a limit in
  schema/limits.py refuses it) has no `data` entry and answers 400; a response
  with `data` (even null, from a field error) answers 200. In `application/json`
  every well-formed request answers 200, as the spec asks for legacy clients.
- A mutation over GET answers 405 with `Allow: POST`.
- A body that is JSON but not an object answers 400 (it was a 500), and so does a
  non-string `operationName`; a POST that is neither JSON nor multipart answers
  415 (it was 400); an operation that cannot be chosen (an unknown
  `operationName`) is a GraphQL request error, OPERATION_RESOLUTION_FAILURE,
  instead of a plain-text 400.
- Refusals are GraphQL-shaped JSON, `{"errors": [{"message", "extensions": {"code"}}]}`,
  with codes: BAD_REQUEST (400), NOT_FOUND (404), METHOD_NOT_ALLOWED (405),
  NOT_ACCEPTABLE (406), REQUEST_TOO_LARGE (413), UNSUPPORTED_MEDIA_TYPE (415),
  BATCHING_DISABLED and BATCH_TOO_LARGE (400).
- A request whose every operation was refused by the rate limit answers 429 with
  Retry-After.
- A response with a SERVICE_UNAVAILABLE error (the database did not answer in time)
  answers 503 with Retry-After, and so does such a failure outside execution (in
  `unavailable_response`, which the authentication middleware uses too).
- PERSISTED_QUERY_NOT_FOUND (sessiongraph/server/persisted.py) answers 200 in either media
  type: Apollo's clients give up on persisted queries for good after a 400 or 500,
  instead of resending the query.
(sessiongraph/server/limits.py refuses a body over its size limit with 413 before any of this.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from email.message import Message
from functools import lru_cache
from typing import Any, Generic, TypeVar

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult

from sessiongraph.infrastructure.db import database_unavailable
from sessiongraph.schema.extensions import SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE

ContextT = TypeVar("ContextT")
RootValueT = TypeVar("RootValueT")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class Refusal(HTTPException):
    """An HTTP-level refusal with the `extensions.code` and headers it should carry."""

    def __init__(self, status_code: int, code: str, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.code = code
        self.headers = dict(headers or {})


# A client sends the same few Accept and Content-Type values, and a request asks for its Accept's
# media type four times (cProfile, a dashboard request): both are parsed once per value.
@lru_cache(maxsize=256)
def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in, by the client's Accept header; None when it accepts neither kind."""
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE_JSON
    explicit: dict[str, tuple[float, int]] = {}
    wildcard: tuple[float, int] | None = None
    for position, item in enumerate(accept.split(",")):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        if media_type in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
            explicit[media_type] = max(explicit.get(media_type, (0.0, position)), (quality, position),
                                       key=lambda q_position: q_position[0])
        elif media_type in ("*/*", "application/*") and (wildcard is None or quality > wildcard[0]):
            wildcard = (quality, position)
    ranked = []
    for media_type in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
        if media_type in explicit:
            quality, position = explicit[media_type]
            ranked.append((quality, 1, -position, media_type == APPLICATION_JSON, media_type))
        elif wildcard is not None:
            # A client that accepts anything is a legacy one: it gets application/json.
            quality, position = wildcard
            ranked.append((quality, 0, -position, media_type == APPLICATION_JSON, media_type))
    ranked = [choice for choice in ranked if choice[0] > 0]
    return max(ranked)[-1] if ranked else None


@lru_cache(maxsize=256)
def content_media_type(content_type: str) -> str:
    """The media type of a Content-Type header, parameters dropped, as Strawberry's view reads it
    (the standard library's header parser, which Strawberry's parse_content_type uses too)."""
    header = Message()
    header["content-type"] = content_type
    params = header.get_params()
    return params[0][0] if params else ""


def refusal_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]},
                      separators=(",", ":")).encode()


def refusal_response(error: HTTPException, accept: str | None) -> Response:
    code = getattr(error, "code", None) or CODES_BY_STATUS.get(error.status_code, "BAD_REQUEST")
    headers = dict(getattr(error, "headers", None) or {})
    if error.status_code == 405:
        headers.setdefault("Allow", "GET, POST")
    media_type = response_media_type(accept) or APPLICATION_JSON
    return Response(refusal_body(error.reason, code), status_code=error.status_code, headers=headers,
                    media_type=f"{media_type}; charset=utf-8")


def unavailable_response(accept: str | None, retry_after: int) -> Response:
    """The database could not be reached before execution began: a coded 503, never a plain-text 500."""
    media_type = response_media_type(accept) or APPLICATION_JSON
    return Response(refusal_body(SERVICE_UNAVAILABLE_MESSAGE, SERVICE_UNAVAILABLE), status_code=503,
                    headers={"Retry-After": str(retry_after)}, media_type=f"{media_type}; charset=utf-8")


def _codes(entry: Mapping[str, Any]) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in entry.get("errors") or ()]


def is_request_error(result: ExecutionResult) -> bool:
    """No execution began: the errors are about the request itself, none about a field."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())


def rate_limited(entry: Mapping[str, Any]) -> bool:
    codes = _codes(entry)
    return entry.get("data") is None and bool(codes) and all(code == "RATE_LIMITED" for code in codes)


def retry_after(entries: Sequence[Mapping[str, Any]]) -> int:
    waits = [(error.get("extensions") or {}).get("retryAfter") or 1
             for entry in entries for error in entry.get("errors") or ()]
    return max(1, math.ceil(max(waits, default=1)))


class GraphQLOverHTTP(GraphQL[ContextT, RootValueT], Generic[ContextT, RootValueT]):
    """Strawberry's ASGI view, with the parts of the GraphQL-over-HTTP spec it leaves out."""

    # Retry-After of a SERVICE_UNAVAILABLE answer, in seconds (SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS).
    unavailable_retry_after = 5

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        accept = request.headers.get("accept")
        try:
            if response_media_type(accept) is None and not self.should_render_graphql_ide(
                    self.request_adapter_class(request)):
                raise HTTPException(406, "Accept application/graphql-response+json or application/json.")
            response = await self.run(request)
        except HTTPException as refusal:
            response = refusal_response(refusal, accept)
        except Exception as error:
            # The context, a persisted document or the rate limit may reach the database before execution.
            if not database_unavailable(error):
                raise
            response = unavailable_response(accept, self.unavailable_retry_after)
        await response(scope, receive, send)

    @staticmethod
    def media_type_of(request: HTTPConnection) -> str:
        return response_media_type(request.headers.get("accept")) or APPLICATION_JSON

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = self.media_type_of(request)
        return sub_response

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = super().parse_json(data)
        except ValueError as error:
            # Strawberry turns only JSONDecodeError into a 400; bytes that are not UTF-8 and a
            # number past Python's 4300-digit limit raise other ValueErrors, and were a 500.
            raise HTTPException(400, "The body is not JSON in UTF-8.") from error
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "Expected a JSON object such as {\"query\": \"{ viewer { user { name } } }\"}.")
        return parsed

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            content_type = content_media_type(request.content_type or "")
            if content_type != APPLICATION_JSON and not (
                    self.multipart_uploads_enabled and content_type == "multipart/form-data"):
                raise HTTPException(415, "Send the request as application/json (file uploads as multipart/form-data).")
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        return data

    def _validate_batch_request(self, request_data: list[Any], protocol: Any) -> None:
        batching = self.schema.config.batching_config
        if batching is None:
            raise Refusal(400, "BATCHING_DISABLED", "This server does not take several operations in one request.")
        if len(request_data) > batching["max_operations"]:
            raise Refusal(400, "BATCH_TOO_LARGE",
                          f"At most {batching['max_operations']} operations in one request (MAX_BATCH_OPERATIONS).")
        if not all(isinstance(item, dict) for item in request_data):
            raise HTTPException(400, "Each operation of a batch must be a JSON object.")
        super()._validate_batch_request(request_data, protocol)

    async def execute_single(self, request: Request, request_adapter: Any, sub_response: Response, context: Any,
                             root_value: Any, request_data: GraphQLRequestData) -> ExecutionResult:
        try:
            return await super().execute_single(request=request, request_adapter=request_adapter,
                                                sub_response=sub_response, context=context,
                                                root_value=root_value, request_data=request_data)
        except HTTPException as refusal:
            cause = refusal.__cause__
            if isinstance(cause, InvalidOperationTypeError) and request_adapter.method == "GET":
                raise Refusal(405, "METHOD_NOT_ALLOWED", "Send mutations with POST; GET only reads.",
                              headers={"Allow": "POST"}) from cause
            if isinstance(cause, CannotGetOperationTypeError):
                return ExecutionResult(data=None, errors=[GraphQLError(
                    refusal.reason, extensions={"code": "OPERATION_RESOLUTION_FAILURE"})])
            if isinstance(cause, MissingQueryError):
                raise HTTPException(400, "The request has no `query`.") from cause
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if self.media_type_of(request) == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            del response["data"]  # the spec's sign, with status 400, that nothing was executed
        return response

    def create_response(self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
                        sub_response: Response) -> Response:
        media_type = sub_response.media_type or APPLICATION_JSON
        entries = response_data if isinstance(response_data, list) else [response_data]
        status = 200
        headers: dict[str, str] = {}
        if any(SERVICE_UNAVAILABLE in _codes(entry) for entry in entries):
            status = 503
            headers["Retry-After"] = str(self.unavailable_retry_after)
        elif entries and all(rate_limited(entry) for entry in entries):
            status = 429
            headers["Retry-After"] = str(retry_after(entries))
        elif media_type == GRAPHQL_RESPONSE_JSON and not isinstance(response_data, list) \
                and "data" not in response_data and _codes(response_data) != ["PERSISTED_QUERY_NOT_FOUND"]:
            status = 500 if "INTERNAL" in _codes(response_data) else 400
        response = Response(self.encode_json(response_data), status_code=sub_response.status_code or status,
                            headers=headers, media_type=f"{media_type}; charset=utf-8")
        response.headers.raw.extend(
            (name, value) for name, value in sub_response.headers.raw if name != b"content-type")
        if sub_response.background:
            response.background = sub_response.background
        return response
