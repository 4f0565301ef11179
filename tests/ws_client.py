"""A small GraphQL-over-WebSocket client for tests, speaking either protocol."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import websockets

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class GraphQLSocket:
    def __init__(self, socket, protocol: str) -> None:
        self.socket = socket
        self.protocol = protocol
        self._ids = itertools.count(1)

    @classmethod
    async def connect(cls, base: str, protocol: str, token: str) -> GraphQLSocket:
        socket = await websockets.connect(f"ws://{base}/graphql", subprotocols=[protocol])
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        client = cls(socket, protocol)
        ack = await client._receive()
        assert ack["type"] == "connection_ack", ack
        return client

    async def subscribe(self, query: str, **variables: Any) -> str:
        operation_id = str(next(self._ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.socket.send(json.dumps({"id": operation_id, "type": kind,
                                           "payload": {"query": query, "variables": variables}}))
        return operation_id

    async def next_message(self, timeout: float = 5) -> dict[str, Any]:
        """The next message about an operation: ("next"|"data", payload) or ("error", payload) or complete."""
        while True:
            message = await self._receive(timeout)
            if message["type"] in ("ka", "ping", "pong"):
                continue
            return message

    async def next_data(self, timeout: float = 5) -> dict[str, Any]:
        message = await self.next_message(timeout)
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await self.next_message(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected silence, got {message}")

    async def _receive(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def close(self) -> None:
        await self.socket.close()
