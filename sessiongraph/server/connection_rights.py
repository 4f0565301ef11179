"""A WebSocket keeps no more rights than its token and its user still give it.

A client signs a socket in once, in `connection_init`, and may then keep it open for
hours; graphql-transport-ws carries queries and mutations as well as subscriptions.
So every operation over WebSocket checks the sign-in again, as HTTP does on every
request: the token must not have expired, and the user is read again (one statement)
and must still hold the rights the socket signed in with (`rights_lapse`). A socket
whose sign-in no longer holds gets no further data: the operation is refused, its open
subscriptions end with an error, and it is closed with 4403. A socket that sends
nothing is closed the same way when its token expires, by an alarm on the service's
scheduler (so on its clock, which tests freeze and advance), and has its sign-in checked
again every WEBSOCKET_RIGHTS_RECHECK_SECONDS.

`UserSockets` caps what one user holds open in this process: sockets
(MAX_WEBSOCKETS_PER_USER; one more is closed with 1008, its reason starting with
TOO_MANY_CONNECTIONS) and operations across them (MAX_SUBSCRIPTIONS_PER_USER; one more
is refused with an error coded TOO_MANY_SUBSCRIPTIONS, and the socket stays open).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from graphql import GraphQLError

from sessiongraph.infrastructure.db import database_unavailable
from sessiongraph.infrastructure.scheduler import Alarm, Scheduler
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.models import User
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.events import USER_RIGHTS_CHANNEL
from sessiongraph.server.admission import Admission, SetupTurn
from sessiongraph.server.shared_results import TRY_AGAIN_LATER_CLOSE_CODE, SharedTransportWSHandler

log = logging.getLogger("sessiongraph.connection_rights")

# The close code of a socket refused at `connection_init`, kept for one whose sign-in lapses later.
FORBIDDEN_CLOSE_CODE = 4403
# WebSocket's own "policy violation": a socket over its user's cap.
POLICY_VIOLATION_CLOSE_CODE = 1008


@dataclass(frozen=True)
class Lapse:
    """Why a sign-in no longer holds, with the code of the error the client receives."""

    code: str
    message: str

    def error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


TOKEN_EXPIRED = Lapse("UNAUTHENTICATED", "the token has expired")
# Not a lapse: the sign-in could not be checked, so this operation is refused and the socket stays.
UNCHECKED = Lapse("SERVICE_UNAVAILABLE", "The service is unavailable for a moment: try again shortly.")


def rights_lapse(signed_in: User | None, current: User | None) -> Lapse | None:
    """Why the user as read now may no longer act with the rights it signed in with; None while it may.

    The one place that decides whether a stored user may still act, over HTTP (`signed_in` None:
    the request signs in now) and over WebSocket (`signed_in`: the user at `connection_init`).
    """
    if current is None:
        return Lapse("UNAUTHENTICATED", "the token's user does not exist")
    if not current.active:
        return Lapse("UNAUTHENTICATED", "the user is deactivated")
    if signed_in is not None and signed_in.is_admin and not current.is_admin:
        # The socket's context holds the user it signed in as, and resolvers read rights from it.
        return Lapse("FORBIDDEN", "the user is no longer an administrator: sign in again")
    return None


class UserSockets:
    """The signed-in sockets of this process by user, to cap what one user holds open."""

    def __init__(self, *, max_sockets: int, max_operations: int) -> None:
        self.max_sockets = max_sockets
        self.max_operations = max_operations
        self._by_user: dict[int, set[ConnectionRights]] = {}

    def admit(self, user_id: int, socket: ConnectionRights) -> bool:
        sockets = self._by_user.setdefault(user_id, set())
        if len(sockets) >= self.max_sockets:
            return False
        sockets.add(socket)
        return True

    def leave(self, user_id: int, socket: ConnectionRights) -> None:
        sockets = self._by_user.get(user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_user[user_id]

    def of(self, user_id: int) -> list[ConnectionRights]:
        return list(self._by_user.get(user_id, ()))

    def may_open_operation(self, user_id: int) -> bool:
        sockets = self._by_user.get(user_id, ())
        return sum(len(socket.open_operation_ids()) for socket in sockets) < self.max_operations


class RightsChanges:
    """Hears USER_RIGHTS_CHANNEL on the broker (so from every instance): the sockets of a user who was
    deactivated or demoted check their sign-in again at once, and end with 4403 if it lapsed."""

    channels: tuple[str, ...] = (USER_RIGHTS_CHANNEL,)
    # The service's own listener, no client's subscription: the broker's count leaves it out.
    subscriber_count = 0

    def __init__(self, user_sockets: UserSockets) -> None:
        self.user_sockets = user_sockets

    def offer(self, message: dict[str, Any]) -> None:
        user_id = message.get("userId")
        if isinstance(user_id, int):
            for socket in self.user_sockets.of(user_id):
                socket.check_again_now()


class RightsView(Protocol):
    """What the handlers need of the view (sessiongraph/server/app.py)."""

    scheduler: Scheduler
    settings: Settings
    user_sockets: UserSockets
    admission: Admission

    async def connection_lapse(self, context: Context) -> Lapse | None: ...

    def connection_expiry(self, context: Context) -> datetime | None: ...


class ConnectionRights:
    """Mixin for both WebSocket protocols' handlers (before Strawberry's handler in the bases)."""

    _expiry_alarm: Alarm | None = None
    _recheck_alarm: Alarm | None = None
    _rechecking: asyncio.Task[None] | None = None
    _lapsed = False
    _ending: asyncio.Task[None] | None = None
    # Operations ended with the lapse's error: nothing more is sent about them (a cancelled
    # graphql-ws operation would otherwise report `complete` after its error).
    _ended: frozenset[str] = frozenset()
    _admitted_as: int | None = None  # the user whose sockets this one counts among

    async def sign_in(self, attempt: Awaitable[None]) -> bool:
        """Runs `connection_init`'s sign-in; False when the database could not check it, the socket
        then closed with 1013 so that the client reconnects later rather than signing in again."""
        try:
            await attempt
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("cannot check a socket's sign-in at connection_init: %s", error)
            with suppress(Exception):
                await self._handler.websocket.close(code=TRY_AGAIN_LATER_CLOSE_CODE,
                                                    reason="The service is unavailable for a moment.")
            return False
        return True

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

    async def signed_in(self) -> None:
        """After `connection_init` was acknowledged: counted among its user's sockets (or closed, over
        the cap), and ended when its token expires."""
        user_id = self._handler.context.actor.user_id
        if user_id is None or self._admitted_as is not None:
            return
        if not self._view.user_sockets.admit(user_id, self):
            with suppress(Exception):
                await self._handler.websocket.close(
                    code=POLICY_VIOLATION_CLOSE_CODE,
                    reason=f"TOO_MANY_CONNECTIONS: at most {self._view.user_sockets.max_sockets} per user")
            return
        self._admitted_as = user_id
        expires = self._view.connection_expiry(self._handler.context)
        if expires is not None:
            self._expiry_alarm = self._view.scheduler.call_at(expires, self._token_expired)
        self._schedule_recheck()

    def _schedule_recheck(self) -> None:
        seconds = self._view.settings.websocket_rights_recheck_seconds
        if seconds <= 0 or self._lapsed:
            return
        # On a whole second, so that the sockets due then share the scheduler's one timer for it.
        due = math.ceil((self._view.scheduler.clock.now() + timedelta(seconds=seconds)).timestamp())
        self._recheck_alarm = self._view.scheduler.call_at(datetime.fromtimestamp(due, UTC), self._recheck_due)

    def check_again_now(self) -> None:
        if self._recheck_alarm is not None:
            self._recheck_alarm.cancel()
        self._recheck_due()

    def _recheck_due(self) -> None:
        self._recheck_alarm = None
        if not self._lapsed:
            # Kept on the handler: the loop holds only a weak reference to a task.
            self._rechecking = asyncio.get_running_loop().create_task(self._recheck())

    async def _recheck(self) -> None:
        try:
            lapse = await self._view.connection_lapse(self._handler.context)
        except Exception as error:  # the database is out of reach: the next operation or recheck decides
            log.warning("could not check an open socket's sign-in again: %s", error)
            lapse = None
        if lapse is None:
            self._schedule_recheck()
        elif not self._lapsed:
            self._lapsed = True
            await self.end_connection(lapse)

    def stop_watching(self) -> None:
        """When the socket ends."""
        for alarm in (self._expiry_alarm, self._recheck_alarm):
            if alarm is not None:
                alarm.cancel()
        self._expiry_alarm = self._recheck_alarm = None
        if self._admitted_as is not None:
            self._view.user_sockets.leave(self._admitted_as, self)
            self._admitted_as = None

    def _token_expired(self) -> None:
        self._expiry_alarm = None
        if not self._lapsed:
            self._lapsed = True
            # Kept on the handler: the loop holds only a weak reference to a task.
            self._ending = asyncio.get_running_loop().create_task(self.end_connection(TOKEN_EXPIRED))

    async def may_run(self, operation_id: str) -> bool:
        """Whether the operation may run: the sign-in holds (if not, the socket is ended) and its user is
        under the cap of open operations (if not, the operation alone is refused)."""
        if not await self.rights_hold(operation_id):
            return False
        if self._admitted_as is None or self._view.user_sockets.may_open_operation(self._admitted_as):
            return True
        limit = self._view.user_sockets.max_operations
        refusal = Lapse("TOO_MANY_SUBSCRIPTIONS",
                        f"At most {limit} operations may be open at once per user (MAX_SUBSCRIPTIONS_PER_USER).")
        await self._handler.send_message(self.operation_error(operation_id, refusal))
        return False

    async def rights_hold(self, operation_id: str) -> bool:
        """Whether the sign-in still holds; if not the operation is refused and the socket ended."""
        try:
            lapse = TOKEN_EXPIRED if self._lapsed else await self._view.connection_lapse(self._handler.context)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("cannot check a socket's sign-in: %s", error)
            with suppress(Exception):
                await self._handler.send_message(self.operation_error(operation_id, UNCHECKED))
            return False
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

    _setup_turn: SetupTurn | None = None

    async def handle_connection_init(self, message: Any) -> None:
        if self._setup_turn is None and not self.connection_acknowledged:
            # A few sockets are set up at a time (sessiongraph/server/admission.py). The client has sent its
            # init: the wait for a turn is the server's, not the initialisation timeout's (4408).
            if self.connection_init_timeout_task is not None:
                self.connection_init_timeout_task.cancel()
            self._setup_turn = await self._view.admission.setup_turn()
        if not await self.sign_in(super().handle_connection_init(message)):
            self._set_up()
            return
        if self.connection_acknowledged:
            await self.signed_in()

    async def send_message(self, message: Any) -> None:
        await super().send_message(message)
        if message.get("type") in ("next", "error", "complete"):
            self._set_up()

    def operation_settled(self) -> None:
        self._set_up()

    def _set_up(self) -> None:
        if self._setup_turn is not None:
            self._setup_turn.leave()

    async def handle_subscribe(self, message: Any) -> None:
        operation_id = message.get("id")
        if (self.connection_acknowledged and isinstance(operation_id, str)
                and operation_id not in self.operations and not await self.may_run(operation_id)):
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        self._set_up()
        self.stop_watching()
        await super().shutdown()


__all__ = ["ConnectionRights", "Lapse", "RightsTransportWSHandler", "UserSockets", "rights_lapse"]
