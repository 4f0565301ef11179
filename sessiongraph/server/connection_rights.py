"""A WebSocket keeps no more rights than its token and its user still give it.

A client signs a socket in once, in `connection_init`, and may then keep it open for
hours; graphql-transport-ws carries queries and mutations as well as subscriptions.
So every operation over WebSocket checks the sign-in again, as HTTP does on every
request: the token must not have expired, and the user is read again (one statement)
and must still hold the rights the socket signed in with (`rights_lapse`). A socket
whose sign-in no longer holds gets no further data: the operation is refused, its open
subscriptions end with an error, and it is closed with 4403. A socket that sends
nothing is closed the same way when its token expires, by an alarm on the service's
scheduler (so on its clock, which tests freeze and advance).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from graphql import GraphQLError

from sessiongraph.infrastructure.scheduler import Alarm, Scheduler
from sessiongraph.models import User
from sessiongraph.resolvers.context import Context
from sessiongraph.server.shared_results import SharedTransportWSHandler

log = logging.getLogger("sessiongraph.connection_rights")

# The close code of a socket refused at `connection_init`, kept for one whose sign-in lapses later.
FORBIDDEN_CLOSE_CODE = 4403


@dataclass(frozen=True)
class Lapse:
    """Why a sign-in no longer holds, with the code of the error the client receives."""

    code: str
    message: str

    def error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


TOKEN_EXPIRED = Lapse("UNAUTHENTICATED", "the token has expired")


def rights_lapse(signed_in: User | None, current: User | None) -> Lapse | None:
    """Why the user as read now may no longer act with the rights it signed in with; None while it may.

    The one place that decides whether a stored user may still act, over HTTP (`signed_in` None:
    the request signs in now) and over WebSocket (`signed_in`: the user at `connection_init`).
    Deactivation (issue #19) belongs here.
    """
    if current is None:
        return Lapse("UNAUTHENTICATED", "the token's user does not exist")
    if signed_in is not None and signed_in.is_admin and not current.is_admin:
        # The socket's context holds the user it signed in as, and resolvers read rights from it.
        return Lapse("FORBIDDEN", "the user is no longer an administrator: sign in again")
    return None


class RightsView(Protocol):
    """What the handlers need of the view (sessiongraph/server/app.py)."""

    scheduler: Scheduler

    async def connection_lapse(self, context: Context) -> Lapse | None: ...

    def connection_expiry(self, context: Context) -> datetime | None: ...


class ConnectionRights:
    """Mixin for both WebSocket protocols' handlers (before Strawberry's handler in the bases)."""

    _expiry_alarm: Alarm | None = None
    _lapsed = False
    _ending: asyncio.Task[None] | None = None
    # Operations ended with the lapse's error: nothing more is sent about them (a cancelled
    # graphql-ws operation would otherwise report `complete` after its error).
    _ended: frozenset[str] = frozenset()

    @property
    def _handler(self) -> Any:
        # The protocol handler this is mixed into: its send_message, cleanup_operation and websocket.
        return self

    @property
    def _view(self) -> RightsView:
        return cast(RightsView, self._handler.view)

    def open_operation_ids(self) -> list[str]:
        raise NotImplementedError

    def operation_error(self, operation_id: str, lapse: Lapse) -> dict[str, Any]:
        raise NotImplementedError

    def watch_token_expiry(self) -> None:
        """After `connection_init` was acknowledged: end the socket when its token expires."""
        expires = self._view.connection_expiry(self._handler.context)
        if expires is not None:
            self._expiry_alarm = self._view.scheduler.call_at(expires, self._token_expired)

    def stop_watching(self) -> None:
        if self._expiry_alarm is not None:
            self._expiry_alarm.cancel()
            self._expiry_alarm = None

    def _token_expired(self) -> None:
        self._expiry_alarm = None
        if not self._lapsed:
            self._lapsed = True
            # Kept on the handler: the loop holds only a weak reference to a task.
            self._ending = asyncio.get_running_loop().create_task(self.end_connection(TOKEN_EXPIRED))

    async def rights_hold(self, operation_id: str) -> bool:
        """Whether the operation may run; if not it is refused and the socket ended."""
        lapse = TOKEN_EXPIRED if self._lapsed else await self._view.connection_lapse(self._handler.context)
        if lapse is None:
            return True
        with suppress(Exception):  # the socket may be closing already
            await self._handler.send_message(self.operation_error(operation_id, lapse))
        if not self._lapsed:
            self._lapsed = True
            await self.end_connection(lapse)
        return False

    def completes_an_ended_operation(self, message: Any) -> bool:
        return isinstance(message, dict) and message.get("type") == "complete" and message.get("id") in self._ended

    async def end_connection(self, lapse: Lapse) -> None:
        """Ends every open operation with the lapse's error, then closes the socket with 4403."""
        self.stop_watching()
        handler = self._handler
        operation_ids = self.open_operation_ids()
        self._ended = frozenset(operation_ids)
        for operation_id in operation_ids:
            # Stopped before the error is sent, so that nothing of the operation follows it.
            await handler.cleanup_operation(operation_id)
            with suppress(Exception):
                await handler.send_message(self.operation_error(operation_id, lapse))
        try:
            await handler.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=lapse.message[:120])
        except Exception as error:  # already closed by the client
            log.debug("could not close a socket whose sign-in lapsed: %s", error)


class RightsTransportWSHandler(ConnectionRights, SharedTransportWSHandler):
    """graphql-transport-ws, checking the sign-in on every `subscribe` (queries and mutations included)."""

    def open_operation_ids(self) -> list[str]:
        return list(self.operations)

    def operation_error(self, operation_id: str, lapse: Lapse) -> dict[str, Any]:
        return {"id": operation_id, "type": "error", "payload": [lapse.error().formatted]}

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._expiry_alarm is None:
            self.watch_token_expiry()

    async def handle_subscribe(self, message: Any) -> None:
        operation_id = message.get("id")
        if (self.connection_acknowledged and isinstance(operation_id, str)
                and operation_id not in self.operations and not await self.rights_hold(operation_id)):
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        self.stop_watching()
        await super().shutdown()


__all__ = ["ConnectionRights", "Lapse", "RightsTransportWSHandler", "rights_lapse"]
