"""Refuses a request body over its limit before it is read, let alone parsed or spooled.

A file upload (multipart/form-data) may be as large as MAX_UPLOAD_BYTES plus its
envelope; any other request (a JSON operation) MAX_REQUEST_BYTES. The multipart
parser would otherwise write any upload, however large and from whoever sends it,
to a temporary file before a resolver could say no, and a JSON body would be
parsed whole. A body whose Content-Length is over the limit gets HTTP 413 at
once; one sent without a length is counted as it arrives and cut off at the limit.
The refusal is a GraphQL error with the code REQUEST_TOO_LARGE.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessiongraph.infrastructure.settings import human_size
from sessiongraph.server.graphql_http import Refusal, content_media_type, refusal_response

# The operations and map parts that travel with a file, and the part headers.
MULTIPART_ENVELOPE_BYTES = 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Request(scope).headers
        content_type = content_media_type(headers.get("content-type") or "")
        if content_type == "multipart/form-data":
            limit = self.max_upload_bytes + MULTIPART_ENVELOPE_BYTES
            message = f"The request is larger than the {human_size(self.max_upload_bytes)} upload limit " \
                      "(MAX_UPLOAD_BYTES)."
        else:
            limit = self.max_bytes
            message = f"The request is larger than the {human_size(limit)} limit (MAX_REQUEST_BYTES)."
        refusal = refusal_response(Refusal(413, "REQUEST_TOO_LARGE", message, headers={"Connection": "close"}),
                                   headers.get("accept"))

        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await refusal(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if started:
                raise
            await refusal(scope, receive, send)
