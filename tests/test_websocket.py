"""WebSocket sign-in through connection_init, on both subscription protocols."""

import asyncio
import json

import pytest
import websockets

from sessiongraph.infrastructure.tokens import issue_token

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


async def connect(live_server, protocol, payload):
    socket = await websockets.connect(f"ws://{live_server}/graphql", subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def closed_code(socket):
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 5)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_valid_token_is_acknowledged(live_server, make_user, settings, clock, protocol):
    user = await make_user()
    token = issue_token(user.id, settings, clock.now())

    socket = await connect(live_server, protocol, {"authorization": f"Bearer {token}"})
    reply = json.loads(await asyncio.wait_for(socket.recv(), 5))
    await socket.close()

    assert reply["type"] == "connection_ack"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("payload", [{}, {"authorization": "Bearer forged.token.here"}, {"authorization": "nope"}])
async def test_a_missing_or_bad_token_closes_the_socket_with_4403(live_server, protocol, payload):
    socket = await connect(live_server, protocol, payload)

    assert await closed_code(socket) == 4403
