"""A WebSocket keeps no more rights than its token and its user still give it, on both protocols:
a demoted admin, a deleted user and an expired token get no further data; their open
subscriptions end with an error and the socket is closed with 4403."""

import asyncio
import contextlib
import json

import pytest
import websockets
from sqlalchemy import delete, func, select, update

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.models import CreditTransaction, User
from sessiongraph.schema.relay import to_global_id
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, GraphQLSocket

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
    """Returns, once the server has handled every message sent before (it handles them in order), what
    it sent meanwhile."""
    if socket.protocol == TRANSPORT_WS:
        await socket.socket.send(json.dumps({"type": "ping"}))
        is_marker = lambda message: message["type"] == "pong"  # noqa: E731
    else:  # graphql-ws answers a query at once with an error: it carries subscriptions only
        await socket.socket.send(json.dumps({"id": "step", "type": "start", "payload": {"query": "{ __typename }"}}))
        is_marker = lambda message: message.get("id") == "step"  # noqa: E731
    meanwhile = []
    for _ in range(50):
        message = await receive(socket)
        if is_marker(message):
            return meanwhile
        meanwhile.append(message)
    raise AssertionError(f"no answer to the step marker, after {meanwhile}")


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


async def test_a_deactivated_user_gets_no_further_data_and_the_socket_closes(ws_connect, make_user, database,
                                                                              protocol):
    learner = await make_user("Lena")
    socket = await ws_connect(learner, protocol)
    changes = await socket.subscribe(CHANGES)
    await in_step(socket)
    async with database.write() as db:
        await db.execute(update(User).where(User.id == learner.id).values(active=False))

    viewer = await operation(socket, protocol, VIEWER)
    messages, code = await until_closed(socket)

    assert sorted(error_codes(messages)) == sorted([(viewer, "UNAUTHENTICATED"), (changes, "UNAUTHENTICATED")])
    assert code == 4403


async def test_deactivating_a_user_closes_their_quiet_socket_at_once(ws_connect, live_server, make_user, settings,
                                                                      clock, protocol):
    import httpx

    admin = await make_user("Ada", is_admin=True)
    learner = await make_user("Lena")
    socket = await ws_connect(learner, protocol)
    changes = await socket.subscribe(CHANGES)
    await in_step(socket)

    # The learner's socket sends nothing more; the admin deactivates them over HTTP.
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as http:
        response = await http.post("/graphql", headers={
            "Authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}, json={
            "query": "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { errors { code } } }",
            "variables": {"id": to_global_id("User", learner.id)}})
    messages, code = await until_closed(socket)

    assert response.json()["data"]["updateUser"]["errors"] == []
    assert error_codes(messages) == [(changes, "UNAUTHENTICATED")]
    assert code == 4403


async def test_a_deactivated_user_cannot_open_a_socket(live_server, make_user, settings, clock, protocol):
    learner = await make_user("Lena", active=False)
    socket = await websockets.connect(f"ws://{live_server}/graphql", subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": {
        "authorization": f"Bearer {issue_token(learner.id, settings, clock.now())}"}}))

    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(5):
            await asyncio.wait_for(socket.recv(), 5)

    assert closed.value.rcvd.code == 4403


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


@pytest.fixture
async def capped(live_server_with, settings, clock):
    """`await capped(**settings)`: a function opening sockets, as a user, to a live app with those settings."""
    async with contextlib.AsyncExitStack() as stack:

        async def serve(**overrides):
            address = await live_server_with(**overrides)

            async def open_as(user, protocol):
                socket = await GraphQLSocket.connect(address, protocol, issue_token(user.id, settings, clock.now()))
                stack.push_async_callback(socket.close)
                return socket

            return open_as

        yield serve


async def test_a_user_holds_at_most_max_websockets_per_user(capped, make_user, protocol):
    connect = await capped(max_websockets_per_user=2)
    lena, other = await make_user("Lena"), await make_user("Otto")
    first, _second = await connect(lena, protocol), await connect(lena, protocol)

    third = await connect(lena, protocol)
    refused = await until_closed(third)
    others = await connect(other, protocol)
    await in_step(others)

    assert refused == ([], 1008)
    assert third.socket.close_reason.startswith("TOO_MANY_CONNECTIONS")
    # Closing one lets another in, once the server has seen it go (a bounded wait for that signal).
    await first.close()
    for _ in range(100):
        fourth = await connect(lena, protocol)
        try:
            await in_step(fourth)
            break
        except websockets.ConnectionClosed:
            await asyncio.sleep(0.01)
    else:
        raise AssertionError("the closed socket still counts against its user")


async def test_a_user_holds_at_most_max_subscriptions_per_user_across_sockets(capped, make_user, protocol):
    connect = await capped(max_subscriptions_per_user=2)
    lena = await make_user("Lena")
    first, second = await connect(lena, protocol), await connect(lena, protocol)
    kept = await first.subscribe(CHANGES)
    await second.subscribe(CHANGES)
    await in_step(first)
    await in_step(second)

    refused = await first.subscribe(CHANGES)
    refusal = await first.next_message()
    # Completing one makes room for another, on the same socket that was refused.
    await first.socket.send(json.dumps({"id": kept, "type": "complete" if protocol == TRANSPORT_WS else "stop"}))
    again = await first.subscribe(CHANGES)
    meanwhile = await in_step(first)

    assert error_codes([refusal]) == [(refused, "TOO_MANY_SUBSCRIPTIONS")]
    assert [message for message in meanwhile if message.get("id") == again] == []
    assert [message["type"] for message in meanwhile] in ([], ["complete"])  # graphql-ws confirms the stop


async def test_a_socket_that_sends_nothing_has_its_sign_in_checked_again(ws_connect, make_user, database, settings,
                                                                         clock, protocol):
    lena, otto = await make_user("Lena"), await make_user("Otto")
    deleted, kept = await ws_connect(lena, protocol), await ws_connect(otto, protocol)
    changes = await deleted.subscribe(CHANGES)
    await kept.subscribe(CHANGES)
    await in_step(deleted)
    await in_step(kept)
    async with database.write() as db:
        await db.execute(delete(User).where(User.id == lena.id))

    clock.advance(seconds=settings.websocket_rights_recheck_seconds + 1)
    messages, code = await until_closed(deleted)

    assert error_codes(messages) == [(changes, "UNAUTHENTICATED")]
    assert code == 4403
    assert await in_step(kept) == []  # Otto's socket, checked as well, goes on


async def test_sockets_due_for_their_check_in_the_same_second_share_one_read_of_their_users(
        ws_connect, make_user, database, settings, clock, count_statements, protocol):
    users = [await make_user(f"Learner {n}") for n in range(6)]
    sockets = [await ws_connect(user, protocol) for user in users]
    for socket in sockets:
        await socket.subscribe(CHANGES)
        await in_step(socket)
    async with database.write() as db:
        await db.execute(delete(User).where(User.id == users[0].id))

    with count_statements() as log:
        clock.advance(seconds=settings.websocket_rights_recheck_seconds + 1)
        _messages, code = await until_closed(sockets[0])  # its user's read has been answered

    assert code == 4403
    for socket in sockets[1:]:  # (graphql-ws's step is an operation, which checks the sign-in again)
        assert await in_step(socket) == []
    assert len([s for s in log.statements if "FROM app_user" in s]) == 1
