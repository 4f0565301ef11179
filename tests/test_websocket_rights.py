"""A WebSocket keeps no more rights than its token and its user still give it, on both protocols:
a demoted admin, a deleted user and an expired token get no further data; their open
subscriptions end with an error and the socket is closed with 4403."""

import asyncio
import contextlib
import json

import pytest
import websockets
from sqlalchemy import delete, func, select, update

from sessiongraph.models import CreditTransaction, User
from sessiongraph.schema.relay import to_global_id
from tests.ws_client import LEGACY_WS, TRANSPORT_WS

CHANGES = "subscription { scheduleChanged { kind } }"
DEPOSIT = """mutation($input: DepositCreditsInput!) { depositCredits(input: $input) {
  creditTransaction { id } errors { code } } }"""
CREATE_ADMIN = """mutation { createUser(input: {email: "new.admin@example.test", name: "New", isAdmin: true}) {
  user { id } errors { code } } }"""
USERS = "{ users { edges { node { email } } } }"
VIEWER = "{ viewer { user { email } } }"

pytestmark = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])


async def receive(socket, timeout=5):
    return json.loads(await asyncio.wait_for(socket.socket.recv(), timeout))


async def in_step(socket):
    """Returns once the server has handled every message sent before (it handles them in order)."""
    if socket.protocol == TRANSPORT_WS:
        await socket.socket.send(json.dumps({"type": "ping"}))
        while (await receive(socket))["type"] != "pong":
            pass
    else:  # graphql-ws answers a query at once with an error: it carries subscriptions only
        await socket.socket.send(json.dumps({"id": "step", "type": "start", "payload": {"query": "{ __typename }"}}))
        while (await receive(socket)).get("id") != "step":
            pass


async def until_closed(socket):
    """Every message the server sends until it closes the socket, and the close code."""
    messages = []
    try:
        for _ in range(50):
            message = await receive(socket)
            if message["type"] not in ("ka", "ping", "pong"):
                messages.append(message)
    except websockets.ConnectionClosed as closed:
        return messages, closed.rcvd.code
    raise AssertionError(f"the socket stayed open, after {messages}")


def error_codes(messages):
    """(operation ID, code) of each message; each must be an error (no data got through)."""
    codes = []
    for message in messages:
        assert message["type"] == "error", message
        payload = message["payload"]
        for error in payload if isinstance(payload, list) else [payload]:
            codes.append((message["id"], error["extensions"]["code"]))
    return codes


async def operation(socket, protocol, query, **variables):
    """A query or mutation where the protocol carries them (graphql-transport-ws), else a subscription."""
    return await socket.subscribe(query if protocol == TRANSPORT_WS else CHANGES, **variables)


async def count(database, statement):
    async with database.read() as db:
        return (await db.execute(statement)).scalar_one()


async def test_a_demoted_admin_runs_no_admin_mutation_over_an_open_socket(ws_connect, make_user, database, protocol):
    admin = await make_user("Ada", is_admin=True)
    learner = await make_user("Lena")
    socket = await ws_connect(admin, protocol)
    changes = await socket.subscribe(CHANGES)
    await in_step(socket)

    async with database.write() as db:
        await db.execute(update(User).where(User.id == admin.id).values(is_admin=False))
    deposit = await operation(socket, protocol, DEPOSIT,
                              input={"userId": to_global_id("User", learner.id), "amount": 100})
    messages, code = await until_closed(socket)

    assert sorted(error_codes(messages)) == sorted([(deposit, "FORBIDDEN"), (changes, "FORBIDDEN")])
    assert code == 4403
    assert await count(database, select(func.count()).select_from(CreditTransaction)) == 0


async def test_a_demoted_admin_creates_no_admin(ws_connect, make_user, database, protocol):
    admin = await make_user("Ada", is_admin=True)
    socket = await ws_connect(admin, protocol)
    async with database.write() as db:
        await db.execute(update(User).where(User.id == admin.id).values(is_admin=False))

    created = await operation(socket, protocol, CREATE_ADMIN)
    messages, code = await until_closed(socket)

    assert error_codes(messages) == [(created, "FORBIDDEN")]
    assert code == 4403
    assert await count(database, select(func.count()).select_from(User).where(User.is_admin)) == 0


async def test_a_deleted_user_reads_nothing_more(ws_connect, make_user, database, protocol):
    admin = await make_user("Ada", is_admin=True)
    socket = await ws_connect(admin, protocol)
    changes = await socket.subscribe(CHANGES)
    await in_step(socket)
    async with database.write() as db:
        await db.execute(delete(User).where(User.id == admin.id))

    users = await operation(socket, protocol, USERS)
    messages, code = await until_closed(socket)

    assert sorted(error_codes(messages)) == sorted([(users, "UNAUTHENTICATED"), (changes, "UNAUTHENTICATED")])
    assert code == 4403


async def test_an_expired_token_ends_the_subscriptions_and_closes_the_socket(ws_connect, make_user, settings, clock,
                                                                               protocol):
    learner = await make_user("Lena")
    socket = await ws_connect(learner, protocol)
    first = await socket.subscribe(CHANGES)
    second = await socket.subscribe(CHANGES)
    await in_step(socket)

    # Nothing from the client: the alarm at the token's expiry ends the socket.
    clock.advance(hours=settings.jwt_lifetime_hours, seconds=1)
    messages, code = await until_closed(socket)

    assert sorted(error_codes(messages)) == sorted([(first, "UNAUTHENTICATED"), (second, "UNAUTHENTICATED")])
    assert code == 4403


async def test_an_expired_token_runs_no_new_operation(ws_connect, make_user, settings, clock, protocol):
    learner = await make_user("Lena")
    socket = await ws_connect(learner, protocol)
    await in_step(socket)

    clock.advance(hours=settings.jwt_lifetime_hours, seconds=1)
    with contextlib.suppress(websockets.ConnectionClosed):  # the alarm may be first: closed already
        await operation(socket, protocol, VIEWER)
    messages, code = await until_closed(socket)

    assert {code for _, code in error_codes(messages)} <= {"UNAUTHENTICATED"}
    assert code == 4403


async def test_a_socket_whose_rights_hold_runs_operation_after_operation(ws_connect, make_user, protocol):
    learner = await make_user("Lena", email="lena@example.test")
    socket = await ws_connect(learner, protocol)

    for _ in range(3):
        if protocol == TRANSPORT_WS:
            await socket.subscribe(VIEWER)
            assert await socket.next_data() == {"viewer": {"user": {"email": "lena@example.test"}}}
            assert (await socket.next_message())["type"] == "complete"
        else:
            await socket.subscribe(CHANGES)
            await in_step(socket)
    assert await socket.nothing_within(0.05)
