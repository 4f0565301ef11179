"""Refuses a request body over the upload limit before it is read, let alone spooled.

The multipart parser would otherwise write any upload, however large and from
whoever sends it, to a temporary file before a resolver could say no. A body whose
Content-Length is over the limit gets HTTP 413 at once; one sent without a length is
counted as it arrives and cut off at the limit.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The operations and map parts that travel with a file, and the part headers.
MULTIPART_ENVELOPE_BYTES = 1024 * 1024


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1_048_576:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size:,} bytes"


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
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
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = human_size(max(self.max_bytes - MULTIPART_ENVELOPE_BYTES, 0))
        response = JSONResponse(
            {"data": None, "errors": [{"message": f"The request is larger than the {limit} upload limit.",
                                       "extensions": {"code": "BAD_USER_INPUT"}}]},
            status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
