"""Sockets are set up a few at a time per process (sessiongraph/server/admission.py): a socket's
`connection_init` waits for a turn, which the socket holding it gives back with its first result,
when it ends, or after a bounded time."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.admission import Admission
from tests.ws_client import TRANSPORT_WS, GraphQLSocket


async def opened(address: str, token: str):
    """A socket whose `connection_init` is sent, its answer not yet read."""
    socket = await websockets.connect(f"ws://{address}/graphql", subprotocols=[TRANSPORT_WS])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    return socket


async def test_a_socket_waits_for_its_turn_until_the_one_set_up_before_it_has_its_first_result(
        live_server_with, make_user, settings, clock):
    address = await live_server_with(websocket_setups_at_once=1)
    tokens = [issue_token((await make_user(name)).id, settings, clock.now()) for name in ("Lena", "Otto")]
    first = await GraphQLSocket.connect(address, TRANSPORT_WS, tokens[0])  # set up, holding the one turn
    second = await opened(address, tokens[1])

    with pytest.raises(TimeoutError):  # waiting for the turn: not even acknowledged
        await asyncio.wait_for(second.recv(), 0.3)
    await first.subscribe("{ __typename }")
    assert (await first.next_data()) == {"__typename": "Query"}  # the first result gives the turn back

    assert json.loads(await asyncio.wait_for(second.recv(), 5))["type"] == "connection_ack"
    await second.close()
    await first.close()


async def test_a_turn_is_given_back_when_its_socket_ends_or_its_time_is_up():
    admission = Admission(1, seconds=0.05)
    held = await admission.setup_turn()
    waiting = asyncio.ensure_future(admission.setup_turn())
    await asyncio.sleep(0)
    assert not waiting.done()

    held.leave()  # its socket ended
    await asyncio.wait_for(waiting, 5)
    third = await asyncio.wait_for(admission.setup_turn(), 5)  # the second's time ran out meanwhile

    held.leave()  # leaving again gives nothing back: the third still holds the only turn
    fourth = asyncio.ensure_future(admission.setup_turn())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not fourth.done()
    third.leave()
    (await asyncio.wait_for(fourth, 5)).leave()


async def test_a_subscription_with_nothing_to_catch_up_gives_the_turn_back_once_it_listens(
        live_server_with, make_user, settings, clock):
    address = await live_server_with(websocket_setups_at_once=1)
    tokens = [issue_token((await make_user(name)).id, settings, clock.now()) for name in ("Lena", "Otto")]
    first = await GraphQLSocket.connect(address, TRANSPORT_WS, tokens[0])
    await first.subscribe("subscription { scheduleChanged { cursor } }")  # no event for it: no first result

    second = await opened(address, tokens[1])  # acknowledged once the first listens, within the turn's bound

    assert json.loads(await asyncio.wait_for(second.recv(), 0.8))["type"] == "connection_ack"
    await second.close()
    await first.close()
