"""WebSocket messages of the wrong shape, refused as the protocol says instead of failing.

Strawberry reads a message as the protocol's types promise: a JSON number as a message raised
TypeError and dropped the socket without a close frame; a `subscribe` without a query, with
`variables` that are not an object or an `operationName` that is not a string reached the
schema and came back INTERNAL. A message that is no object with a `type` closes the socket with
4400 (the protocol's "invalid message"); a subscribe whose payload cannot be run, looked up
(persisted documents) or not, gets an `error` message coded BAD_REQUEST, as HTTP answers 400.
The legacy graphql-ws protocol had the same faults and gets the same answers (its `start` is
the `subscribe`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLError

from sessiongraph.server.connection_rights import RightsTransportWSHandler

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message


def payload_problem(query: Any, variables: Any, operation_name: Any) -> str | None:
    if not isinstance(query, str):
        return "The subscribe payload has no `query` (nor a persisted document's hash)."
    if variables is not None and not isinstance(variables, dict):
        return "The subscribe payload's `variables` must be an object or null."
    if operation_name is not None and not isinstance(operation_name, str):
        return "The subscribe payload's `operationName` must be a string or null."
    return None


class WellFormedTransportWSHandler(RightsTransportWSHandler):
    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("A message must be a JSON object with a string `type`.")
            return
        if message["type"] == "subscribe" and not isinstance(message.get("payload"), dict):
            await self.handle_invalid_message("A subscribe message needs a `payload` object.")
            return
        await super().handle_message(cast("Message", message))

    async def run_operation(self, operation: Any) -> None:
        # Here, not in handle_message: the query is known only once the persisted lookup has run.
        problem = payload_problem(operation.query, operation.variables, operation.operation_name)
        if problem is None:
            await super().run_operation(operation)
            return
        error = GraphQLError(problem, extensions={"code": "BAD_REQUEST"})
        await operation.send_operation_message({"id": operation.id, "type": "error", "payload": [error.formatted]})
        self.operations.pop(operation.id, None)


class WellFormedLegacyMessages:
    """For the legacy graphql-ws handler, placed before Strawberry's handler in its bases: its
    `handle_start` runs after the persisted lookup of the handler that names it first."""

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.websocket.close(code=4400, reason="A message must be a JSON object with a string `type`.")  # type: ignore[attr-defined]
            return
        if message["type"] == "connection_init" and not isinstance(message.get("payload") or {}, dict):
            # As graphql-transport-ws does (Strawberry checks it there, not here).
            await self.websocket.close(code=4400, reason="Invalid connection init payload")  # type: ignore[attr-defined]
            return
        if message["type"] == "start" and not isinstance(message.get("payload"), dict):
            await self._refuse_start(message, "The start payload must be an object.")
            return
        await super().handle_message(message)  # type: ignore[misc]

    async def _refuse_start(self, message: dict[str, Any], problem: str) -> None:
        await self.send_message({"type": "error", "id": message.get("id"),  # type: ignore[attr-defined]
                                 "payload": {"message": problem, "extensions": {"code": "BAD_REQUEST"}}})

    async def handle_start(self, message: Any) -> None:
        payload = message["payload"]
        problem = payload_problem(payload.get("query"), payload.get("variables"), payload.get("operationName"))
        if problem is not None:
            await self._refuse_start(message, problem)
            return
        await super().handle_start(message)  # type: ignore[misc]
