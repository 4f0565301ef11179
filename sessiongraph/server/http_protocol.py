"""uvicorn's h11 protocol with the limits it lacks: time to send the request headers and the body,
and the number of headers.

uvicorn (with httptools, its default when installed) reads headers of any size for as long
as a client takes to send them, so a few hundred connections trickling a byte now and then
(slowloris) hold the server, and one request may carry a megabyte of headers. This protocol
is h11 with its header-block limit (MAX_REQUEST_HEADER_BYTES), a cap on the number of
headers (MAX_REQUEST_HEADERS), the request line and headers due within
HTTP_HEADER_TIMEOUT_SECONDS of the connection (or of the first byte of a kept-alive
connection's next request), and the body within HTTP_BODY_TIMEOUT_SECONDS of its headers.
A client too slow gets HTTP 408 (`REQUEST_TIMEOUT`) and the connection is closed; too many
or too large headers are HTTP 431 (`REQUEST_HEADERS_TOO_LARGE`); every refusal is
GraphQL-shaped JSON, as the service's others are.

`sessiongraph serve` names it to uvicorn (cli.uvicorn_options); it reads the limits from
the settings of the app it serves.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sessiongraph.infrastructure.settings import Settings, get_settings


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_headers: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(header_timeout=settings.http_header_timeout_seconds,
                   body_timeout=settings.http_body_timeout_seconds,
                   max_header_bytes=settings.max_request_header_bytes,
                   max_headers=settings.max_request_headers)


def _settings_of(app: Any) -> Settings:
    """The settings of the served app (create_app keeps them in its state), under uvicorn's wrappers."""
    for _ in range(16):
        settings = getattr(getattr(app, "state", None), "settings", None)
        if isinstance(settings, Settings):
            return settings
        app = getattr(app, "app", None)
        if app is None:
            break
    return get_settings()


class _LimitedConnection(h11.Connection):
    """h11's server side, refusing a request with more than `max_headers` headers and remembering
    why it refused a request (uvicorn keeps only that it did)."""

    def __init__(self, *, max_header_bytes: int, max_headers: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.refused: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.refused = error
            raise
        # h11 bounds only a header block still arriving; one that came in a single read is whole already.
        if isinstance(event, h11.Request) and (
                len(event.headers) > self.max_headers
                or len(event.target) + sum(len(name) + len(value) for name, value in event.headers)
                > self.max_header_bytes):
            self.refused = h11.RemoteProtocolError("The request headers are over the limit.", error_status_hint=431)
            raise self.refused
        return event


def _raw_refusal(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n")
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = getattr(config, "sessiongraph_http_limits", None)
        if limits is None:  # once per server: every connection's protocol shares the config
            limits = config.sessiongraph_http_limits = HttpLimits.from_settings(_settings_of(self.app))
        self.limits: HttpLimits = limits
        self.limited_conn = _LimitedConnection(max_header_bytes=limits.max_header_bytes,
                                               max_headers=limits.max_headers)
        self.conn = self.limited_conn
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers" or "body"
        self._upgraded = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect("headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._upgraded:
            return  # the WebSocket protocol has the transport now: no request's deadline applies to it
        if self.transport.is_closing():
            self._expect(None)
        elif self.conn.their_state is h11.IDLE:
            # Bytes of a kept-alive connection's next request: its headers are due from now.
            if self._waiting_for is None and self.conn.trailing_data[0]:
                self._expect("headers")
        elif self.conn.their_state is h11.SEND_BODY:
            if self._waiting_for != "body":
                self._expect("body")
        else:
            self._expect(None)

    def on_response_complete(self) -> None:
        self._expect(None)  # while idle, uvicorn's keep-alive timeout applies
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._expect(None)
        self._upgraded = True
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._expect(None)
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        refused = self.limited_conn.refused
        if refused is not None and refused.error_status_hint == 431:
            message = (f"The request headers are over the limit ({self.limits.max_headers} headers, "
                       f"{self.limits.max_header_bytes} bytes).")
            self._refuse(_raw_refusal(431, "Request Header Fields Too Large", "REQUEST_HEADERS_TOO_LARGE", message))
        else:
            self._refuse(_raw_refusal(400, "Bad Request", "BAD_REQUEST", msg))

    def _expect(self, part: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting_for = part
        if part is not None:
            seconds = self.limits.header_timeout if part == "headers" else self.limits.body_timeout
            self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        part, self._waiting_for = self._waiting_for, None
        if self.transport.is_closing():
            return
        if part == "body" and self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # too late for a refusal of its own
            return
        self._refuse(_raw_refusal(408, "Request Timeout", "REQUEST_TIMEOUT",
                                  f"The request {part} took too long to arrive."))

    def _refuse(self, response: bytes) -> None:
        self._expect(None)
        self.transport.write(response)
        self.transport.close()
