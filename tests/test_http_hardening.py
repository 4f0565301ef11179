"""HTTP edges a client or a proxy can abuse: several Authorization headers, forwarded client
addresses, the metrics endpoint."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from sessiongraph.infrastructure.tokens import issue_token
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

VIEWER = "{ viewer { user { name } } }"
CREATE = 'mutation { createSessionCategory(input: {name: "Evening"}) { errors { code } } }'


def error_codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or ()]


def bearer(user, settings, clock) -> str:
    return f"Bearer {issue_token(user.id, settings, clock.now())}"


@pytest.mark.parametrize("second", ["other user", "same user", "malformed"])
async def test_several_authorization_headers_are_refused(http, make_user, settings, clock, second):
    admin = await make_user("Ada", is_admin=True)
    learner = await make_user("Lena")
    other = {"other user": bearer(admin, settings, clock), "same user": bearer(learner, settings, clock),
             "malformed": "Basic abc"}[second]

    response = await http.post("/graphql", json={"query": VIEWER},
                               headers=[("Authorization", bearer(learner, settings, clock)), ("Authorization", other)])

    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Send one Authorization header, not several.",
                                           "extensions": {"code": "BAD_REQUEST"}}]}


async def test_one_authorization_header_signs_in(http, make_user, settings, clock):
    learner = await make_user("Lena")

    response = await http.post("/graphql", json={"query": VIEWER},
                               headers=[("Authorization", bearer(learner, settings, clock))])

    assert response.json() == {"data": {"viewer": {"user": {"name": "Lena"}}}}


async def test_metrics_are_off_unless_a_token_is_set(http):
    response = await http.get("/metrics")

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "scrape-secret", "Bearer scrape-secret "])
async def test_metrics_need_the_token(client_with, authorization):
    http = await client_with(metrics_token="scrape-secret")

    response = await http.get("/metrics", headers={"Authorization": authorization} if authorization else {})

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "sessiongraph_" not in response.text


async def test_metrics_are_served_with_the_token(client_with):
    http = await client_with(metrics_token="scrape-secret")

    response = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert response.status_code == 200
    assert "sessiongraph_active_subscriptions" in response.text


@pytest.mark.parametrize(("forwarded_allow_ips", "second_allowed"), [("", False), ("127.0.0.1", True)])
async def test_forwarded_for_is_believed_only_from_the_proxies_named(live_server_with, forwarded_allow_ips,
                                                                     second_allowed):
    address = await live_server_with(rate_limit_ip_burst=1, forwarded_allow_ips=forwarded_allow_ips)
    async with httpx.AsyncClient(base_url=f"http://{address}") as client:
        # Two clients, as a proxy on this host would tell them apart; or one rotating the header.
        codes = [error_codes((await client.post("/graphql", json={"query": CREATE},
                                                headers={"X-Forwarded-For": forwarded_for})).json())
                 for forwarded_for in ("203.0.113.7", "203.0.113.8")]

    assert codes[0] == ["UNAUTHENTICATED"]  # anonymous, but the mutation took its IP's token
    assert codes[1] == (["UNAUTHENTICATED"] if second_allowed else ["RATE_LIMITED"])


# --- Slow and oversized requests, against a real uvicorn serving as `sessiongraph serve` does ---

@pytest.fixture
def served(live_server_with):
    """`await served(**settings)`: host and port of the app with those settings, behind uvicorn as it is run."""
    async def serve(**overrides):
        host, port = (await live_server_with(**overrides)).split(":")
        return host, int(port)

    return serve


async def answer_to(address, request: bytes, *, dribble: bytes = b"") -> tuple[bytes, float]:
    """What the server answers to `request`, sent at once, then `dribble` a byte every 50 ms until it
    answers; and how long the answer took."""
    started = time.monotonic()  # before connecting: the server's deadline starts when it accepts
    reader, writer = await asyncio.open_connection(*address)
    writer.write(request)

    async def trickle():
        for byte in dribble:
            await asyncio.sleep(0.05)
            writer.write(bytes([byte]))

    trickling = asyncio.create_task(trickle())
    try:
        answer = await asyncio.wait_for(reader.read(), 10)  # to the end: the server closes
    finally:
        trickling.cancel()
        writer.close()
    return answer, time.monotonic() - started


def parsed(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_client_trickling_its_headers_is_cut_off_within_the_header_timeout(served):
    address = await served(http_header_timeout_seconds=0.5)

    answer, took = await answer_to(address, b"POST /graphql HTTP/1.1\r\nHost: test\r\n", dribble=b"X-Slow: 1" * 100)

    status, body = parsed(answer)
    assert status == 408
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert 0.5 <= took < 2


async def test_a_client_trickling_its_body_is_cut_off_within_the_body_timeout(served):
    address = await served(http_body_timeout_seconds=0.5)
    head = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

    answer, took = await answer_to(address, head + b'{"query": "', dribble=b"x" * 200)

    status, body = parsed(answer)
    assert status == 408
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert 0.5 <= took < 2


@pytest.mark.parametrize("headers", [
    b"".join(b"X-Many-%d: 1\r\n" % n for n in range(101)),  # one over MAX_REQUEST_HEADERS
    b"X-Large: " + b"a" * (17 * 1024) + b"\r\n",  # over MAX_REQUEST_HEADER_BYTES
])
async def test_too_many_or_too_large_headers_are_refused(served, headers):
    address = await served()

    answer, _ = await answer_to(address, b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + headers + b"\r\n")

    status, body = parsed(answer)
    assert status == 431
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_HEADERS_TOO_LARGE"


async def test_requests_within_the_limits_are_served_one_after_another_on_a_connection(served):
    host, port = await served(http_header_timeout_seconds=0.5)

    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        answers = [await client.post("/graphql", json={"query": "{ __typename }"},
                                     headers={f"X-Header-{n}": "1" for n in range(90)}) for _ in range(3)]

    assert [answer.json() for answer in answers] == [{"data": {"__typename": "Query"}}] * 3


async def test_a_websocket_outlives_the_header_timeout(served, make_user, settings, clock):
    host, port = await served(http_header_timeout_seconds=0.2)
    socket = await GraphQLSocket.connect(f"{host}:{port}", TRANSPORT_WS,
                                         issue_token((await make_user()).id, settings, clock.now()))
    try:
        await asyncio.sleep(0.4)  # past the header timeout: the upgraded connection must not be cut
        await socket.socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(socket.socket.recv(), 5)) == {"type": "pong"}
    finally:
        await socket.close()


@pytest.mark.parametrize("compression", [False, True])
async def test_websocket_compression_is_negotiated_only_when_turned_on(served, compression):
    import websockets

    host, port = await served(websocket_compression=compression)

    # websockets offers permessage-deflate, as browsers do.
    async with websockets.connect(f"ws://{host}:{port}/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        extensions = socket.response.headers.get("Sec-WebSocket-Extensions") or ""

    assert extensions.startswith("permessage-deflate") == compression


async def test_a_websocket_outlives_the_request_timeouts(served, make_user, settings, clock):
    # The upgrade request is an HTTP request with its header and body deadlines; the socket it becomes is not.
    # (They were left armed once: every socket was cut, with an HTTP 408 in its stream, after the body timeout.)
    host, port = await served(http_header_timeout_seconds=0.2, http_body_timeout_seconds=0.2)
    token = issue_token((await make_user("Lena")).id, settings, clock.now())
    socket = await GraphQLSocket.connect(f"{host}:{port}", TRANSPORT_WS, token)

    await asyncio.sleep(0.6)  # past both deadlines, which run on the event loop's own clock

    await socket.socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(socket.socket.recv(), 5))["type"] == "pong"
