"""joinAvailability over WebSocket: one execution per (document, variables, state), sent to
every subscriber in that state.

Strawberry runs each subscription as a task of its own that executes the selection
set again for every event of every subscriber. Ten thousand learners waiting for
one class would cost ten thousand executions (and ten thousand sets of generator
frames, an executor and extension instances kept for hours) when its window opens,
though there are only two results: the one for those who may join, and the one for
those who may not.

So Strawberry runs a `joinAvailability` subscription up to its first result: parsing,
validation, the limits and the resolver's permission check, the error for a caller
who may not see the live session, and the first result itself. Once that result
has been sent, the handler takes the subscription over (`Handover` in
resolvers/subscriptions.py): Strawberry's task ends, and what remains is a
`SharedSubscriber` (a few slots) in the live session's watch and in the
connection's operations. When the watch offers a state, the subscriber's
`ResultGroup` (every subscriber in the process that sent the same document with the
same variables) executes the selection set for that state once, as nobody (a
context with no viewer, so that no field could read the rights of whoever happened
to be first), and serializes the payload once; each subscriber adds only its
operation ID. The state alone decides the result: the URL is in a state only for
those who may join, so a shared result never carries more than its subscriber may
see.

Each connection sends through an `Outbox`, one writer task while it has something to
send (none while idle). A subscriber holds at most one unsent state, the latest, so
a client that stops reading costs one pending state per subscription, not a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import GraphQLError, parse
from graphql.execution import execute_subscription_event
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import PreExecutionError

from sessiongraph.infrastructure.db import database_unavailable
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.schedule import JoinState
from sessiongraph.resolvers.subscriptions import HANDOVER, Handover, JoinStream, JoinWatch, Viewer, nobody_context
from sessiongraph.schema.extensions import SERVICE_UNAVAILABLE, ErrorCodes
from sessiongraph.server.persisted import PersistedTransportWSHandler

log = logging.getLogger("sessiongraph.shared_results")

# How many payloads a group keeps by state: a live session's group sees two or three states at a time.
PAYLOADS_KEPT = 8


@dataclass(slots=True)
class OperationHandover(Handover):
    """A handover, with what the handler needs to know of its operation."""

    operation_id: str = ""
    query: str = ""
    operation_name: str | None = None
    variables: Mapping[str, Any] | None = None
    source: Any = None  # Strawberry's result stream, for the legacy handler to close
    decided: bool = False  # whether the first result has been sent (and the handover tried)


# WebSocket's own "try again later": the sign-in could not be checked (4403 would call it bad), or an event
# could not be read.
TRY_AGAIN_LATER_CLOSE_CODE = 1013
UNREADABLE_EVENT_REASON = "An event could not be read: reconnect and resume after your last cursor."


class ClosedToResume(BaseException):
    """Ends Strawberry's task for an operation whose socket was closed for its client to reconnect and resume
    (a BaseException, as HandedOver)."""


def unreadable_event(result: Any) -> bool:
    """A subscription event that could not be read (its database away or hung): sent, it would carry neither
    data nor a cursor, and Strawberry would then complete the operation, so that the event and every later
    one were lost to a client. (A subscribe refused from the start is a PreExecutionError: an `error`
    message, after which the client knows to try again.)"""
    return not isinstance(result, PreExecutionError) and any(
        database_unavailable(error.original_error) or (error.extensions or {}).get("code") == SERVICE_UNAVAILABLE
        for error in getattr(result, "errors", None) or ())


class HandedOver(BaseException):
    """Ends Strawberry's task for an operation the handler has taken over; a BaseException, so that
    Strawberry's handlers (which report any Exception as the operation's failure) let it through."""


class ResultGroup:
    """The subscribers that sent the same document with the same variables."""

    def __init__(self, results: SharedResults, key: tuple[str, str | None, str], executor: Any,
                 to_value: Callable[[JoinState], Any]) -> None:
        self.results = results
        self.key = key
        self.executor = executor
        self.to_value = to_value
        self.members = 0
        self._payloads: dict[JoinState, str] = {}

    def payload(self, state: JoinState) -> str:
        """The `next` payload for the state, as JSON: executed and serialized once per state."""
        payload = self._payloads.get(state)
        if payload is None:
            result = execute_subscription_event(self.executor.build_per_event_executor(self.to_value(state)))
            if isawaitable(result):  # a field that awaits: not shareable, and none of JoinAvailability's does
                getattr(result, "close", lambda: None)()
                raise TypeError("a shared subscription result must execute without awaiting")
            body: dict[str, Any] = {"data": result.data}
            if result.errors:
                body["errors"] = [error.formatted for error in ErrorCodes().coded(result.errors)]
            encoded = self.results.encode_json(body)
            payload = encoded.decode() if isinstance(encoded, bytes) else encoded
            if len(self._payloads) >= PAYLOADS_KEPT:
                self._payloads.clear()
            self._payloads[state] = payload
        return payload

    def leave(self) -> None:
        self.members -= 1
        if not self.members:
            self.results.forget(self)


class SharedResults:
    """The view's result groups, by (document, operation name, variables)."""

    def __init__(self, schema: Any, nobody: Context, encode_json: Callable[[object], str | bytes]) -> None:
        self.schema = schema
        self.nobody = nobody
        self.encode_json = encode_json
        self._groups: dict[tuple[str, str | None, str], ResultGroup] = {}

    def group(self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None,
              to_value: Callable[[JoinState], Any]) -> ResultGroup | None:
        """The group for the document (already run by Strawberry, so valid); None when it cannot be shared."""
        try:
            key = (query, operation_name, json.dumps(variables or {}, sort_keys=True))
        except (TypeError, ValueError):
            return None
        group = self._groups.get(key)
        if group is None:
            try:
                executor = self.schema.execution_context_class.build(
                    self.schema._schema, parse(query), None, self.nobody, variables, operation_name)
            except GraphQLError:
                return None
            if isinstance(executor, list):  # variables that do not coerce: Strawberry answered already
                return None
            group = self._groups[key] = ResultGroup(self, key, executor, to_value)
        group.members += 1
        return group

    def forget(self, group: ResultGroup) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]

    def __len__(self) -> int:
        return len(self._groups)


class Outbox:
    """What one connection has to send for its shared subscribers, in order, by one writer task
    that exists only while there is something to send."""

    __slots__ = ("_queue", "_writer", "handler", "legacy", "websocket")

    def __init__(self, handler: Any, legacy: bool) -> None:
        self.handler = handler
        self.websocket = handler.websocket.ws  # Starlette's WebSocket
        self.legacy = legacy  # graphql-ws rather than graphql-transport-ws
        self._queue: deque[SharedSubscriber] = deque()
        self._writer: asyncio.Task[None] | None = None

    def put(self, subscriber: SharedSubscriber) -> None:
        self._queue.append(subscriber)
        if self._writer is None:
            # For every operation of the connection, so in a context of its own.
            self._writer = asyncio.get_running_loop().create_task(self._write(), context=contextvars.Context())

    async def _write(self) -> None:
        try:
            while self._queue:
                text = self._queue.popleft().take()
                if text is not None:
                    await self.websocket.send_text(text)
        except Exception as error:  # the connection is going; its handler cleans up
            log.debug("could not send to a subscriber's connection: %s", error)
            self._queue.clear()
        finally:
            self._writer = None

    def close(self) -> None:
        self._queue.clear()
        if self._writer is not None:
            self._writer.cancel()


class SharedSubscriber:
    """A subscription taken over from Strawberry: where to send, its operation ID, its group,
    and the state it was last offered."""

    __slots__ = (
        "_closed",
        "_ending",
        "_next",
        "_queued",
        "group",
        "last",
        "operation_id",
        "outbox",
        "viewer",
        "watch",
    )

    task = None  # Strawberry's graphql-transport-ws handler looks for each operation's task

    def __init__(self, outbox: Outbox, operation_id: str, group: ResultGroup, stream: JoinStream) -> None:
        self.outbox = outbox
        self.operation_id = operation_id
        self.group = group
        self.watch: JoinWatch = stream.watch
        self.viewer: Viewer | None = stream.viewer  # set by join_availability before the stream is handed over
        self.last: JoinState | None = None
        self._next: JoinState | None = None
        self._queued = False
        self._ending = False
        self._closed = False

    # --- what the watch calls

    def offer(self, state: JoinState) -> None:
        self._next = state
        if not self._queued:
            self._queued = True
            self.outbox.put(self)

    def end(self) -> None:
        """The viewer may no longer see the live session: no more states, and the operation completes."""
        self._ending = True
        self._next = None
        if not self._queued:
            self._queued = True
            self.outbox.put(self)

    # --- what the outbox and the handler call

    def take(self) -> str | None:
        """The message to send now, if any."""
        self._queued = False
        if self._closed:
            return None
        id_json = json.dumps(self.operation_id)
        if self._ending:
            self._closed = True
            self.group.leave()
            self.outbox.handler._shared_ended(self)
            if self.outbox.legacy:
                return f'{{"type":"complete","id":{id_json}}}'
            return f'{{"id":{id_json},"type":"complete"}}'
        state, self._next = self._next, None
        if state is None:
            return None
        try:
            payload = self.group.payload(state)
        except Exception:
            log.exception("could not execute a shared joinAvailability result")
            return None
        if self.outbox.legacy:
            return f'{{"type":"data","id":{id_json},"payload":{payload}}}'
        return f'{{"id":{id_json},"type":"next","payload":{payload}}}'

    def close(self) -> None:
        """The client completed the operation, or the connection ended."""
        if self._closed:
            return
        self._closed = True
        self.group.leave()
        if not self._ending and self.viewer is not None:
            self.watch.leave(self.viewer, self)


def _take_over(handler: Any, handover: OperationHandover, legacy: bool) -> tuple[SharedSubscriber, JoinStream] | None:
    """After the operation's first result has been sent: a shared subscriber to put in the place of
    its stream at the watch (with that stream), or None when there is nothing to take over (another
    subscription, an error, a document that cannot be shared)."""
    if handover.decided:
        return None
    handover.decided = True
    stream = handover.stream
    if stream is None or handover.to_value is None:
        return None
    group = handler.view.shared_results.group(handover.query, handover.operation_name, handover.variables,
                                              handover.to_value)
    if group is None:
        return None
    outbox = getattr(handler, "_outbox", None)
    if outbox is None:
        outbox = handler._outbox = Outbox(handler, legacy)
    return SharedSubscriber(outbox, handover.operation_id, group, stream), stream


class SharedTransportWSHandler(PersistedTransportWSHandler):
    """graphql-transport-ws, taking joinAvailability subscriptions over after their first result."""

    async def run_operation(self, operation: Any) -> None:
        # In this operation's own task: the resolver leaves its stream here.
        HANDOVER.set(OperationHandover(operation_id=operation.id, query=operation.query,
                                       operation_name=operation.operation_name, variables=operation.variables,
                                       settled=self.operation_settled))
        # HandedOver: Strawberry has closed the operation's result stream; the shared subscriber goes on.
        # ClosedToResume: the socket is closed, its client reconnects.
        with contextlib.suppress(HandedOver, ClosedToResume):
            await super().run_operation(operation)

    def operation_settled(self) -> None:
        """A subscription has been set up and waits for its next event (see `Handover.settled`)."""

    async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
        async with aclosing(self._until_taken_over(operation, result_source)) as results:
            await super()._send_result_stream(operation, results)

    async def _until_taken_over(self, operation: Any, result_source: Any) -> AsyncGenerator[Any, None]:
        """The results, until the first has been sent and the operation can be taken over."""
        handover = HANDOVER.get()
        assert isinstance(handover, OperationHandover)  # set by run_operation, in this same task
        async for result in result_source:
            if unreadable_event(result):
                # Closed "try again later": the client reconnects and resubscribes after the last cursor it
                # has (`scheduleChanged(after:)`), this event first; a join state is read afresh.
                await self.websocket.close(code=TRY_AGAIN_LATER_CLOSE_CODE, reason=UNREADABLE_EVENT_REASON)
                raise ClosedToResume
            yield result
            # Strawberry asks for the next result once it has sent this one.
            if getattr(result, "errors", None) or self.operations.get(operation.id) is not operation:
                handover.decided = True
            taken = _take_over(self, handover, legacy=False)
            if taken is not None:
                subscriber, stream = taken
                # Strawberry's operations hold the subscriber in the Operation's place: shutdown() reads
                # only its `task`, cleanup_operation is ours (tests/test_strawberry_internals.py).
                self.operations[operation.id] = subscriber  # type: ignore[assignment]  # not an Operation
                stream.hand_over(subscriber)
                raise HandedOver

    def _shared_ended(self, subscriber: SharedSubscriber) -> None:
        if self.operations.get(subscriber.operation_id) is subscriber:
            del self.operations[subscriber.operation_id]

    async def cleanup_operation(self, operation_id: str) -> None:
        operation = self.operations.get(operation_id)
        if isinstance(operation, SharedSubscriber):
            del self.operations[operation_id]
            operation.close()
            return
        await super().cleanup_operation(operation_id)

    async def shutdown(self) -> None:
        await super().shutdown()
        outbox = self.__dict__.get("_outbox")
        if outbox is not None:
            outbox.close()


class SharedLegacyDelivery(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, taking joinAvailability subscriptions over after their first result."""

    _shared: dict[str, SharedSubscriber]  # made on first use, by `shared`

    @property
    def shared(self) -> dict[str, SharedSubscriber]:
        shared: dict[str, SharedSubscriber] | None = self.__dict__.get("_shared")
        if shared is None:
            shared = self._shared = {}
        return shared

    async def handle_start(self, message: Any) -> None:
        operation_id = message["id"]
        if operation_id in self.shared:
            await self.cleanup_operation(operation_id)
        limit = self.max_subscriptions_per_connection
        if self.shared and limit is not None and len(self.tasks) + len(self.shared) >= limit:
            await self.send_message({"type": "error", "id": operation_id,
                                     "payload": {"message": "Subscription limit reached"}})
            return
        await super().handle_start(message)

    async def handle_async_results(self, operation_id: str, query: str, operation_name: str | None,
                                   variables: dict[str, object] | None) -> None:
        # In this operation's own task: the resolver leaves its stream here.
        handover = OperationHandover(operation_id=operation_id, query=query, operation_name=operation_name,
                                     variables=variables)
        HANDOVER.set(handover)
        try:
            await super().handle_async_results(operation_id, query, operation_name, variables)
        except HandedOver:
            # Strawberry has let go of the operation; its result stream is still open.
            with suppress(Exception):
                await handover.source.aclose()

    async def send_data_message(self, execution_result: Any, operation_id: str) -> None:
        await super().send_data_message(execution_result, operation_id)
        handover = HANDOVER.get()
        if not isinstance(handover, OperationHandover) or handover.operation_id != operation_id:
            return
        if execution_result.errors or self.tasks.get(operation_id) is not asyncio.current_task():
            handover.decided = True
        taken = _take_over(self, handover, legacy=True)
        if taken is None:
            return
        subscriber, stream = taken
        handover.source = self.subscriptions.get(operation_id)
        self.shared[operation_id] = subscriber
        stream.hand_over(subscriber)
        raise HandedOver

    def _shared_ended(self, subscriber: SharedSubscriber) -> None:
        if self.shared.get(subscriber.operation_id) is subscriber:
            del self.shared[subscriber.operation_id]

    async def cleanup_operation(self, operation_id: str) -> None:
        subscriber = self.shared.pop(operation_id, None)
        if subscriber is not None:
            subscriber.close()
        await super().cleanup_operation(operation_id)

    async def cleanup(self) -> None:
        for operation_id in list(self.shared):
            await self.cleanup_operation(operation_id)
        await super().cleanup()
        outbox = self.__dict__.get("_outbox")
        if outbox is not None:
            outbox.close()


__all__ = ["HandedOver", "SharedLegacyDelivery", "SharedResults", "SharedSubscriber",
           "SharedTransportWSHandler", "nobody_context"]
