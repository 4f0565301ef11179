"""Generated garbage at every entry point: the HTTP body, the variables of the clients' own
operations, the Authorization header and WebSocket messages (graphql-transport-ws, and the
legacy graphql-ws now and then). Whatever
arrives, the answer is JSON, never a 5xx, and every error carries a code other than INTERNAL.

CI runs GARBAGE_EXAMPLES examples per entry point (40 by default, 160 in all);
`GARBAGE_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_garbage.py` runs more.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import graphql
import jwt
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessiongraph.clients.documents import all_operations
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema import schema
from tests.demo_roles import demo_users
from tests.ws_client import LEGACY_WS, TRANSPORT_WS

EXAMPLES = int(os.environ.get("GARBAGE_EXAMPLES", "40"))
GRAPHQL = graphql.build_schema(schema.as_str())
# The operations that take variables: the others have nothing to fill with garbage.
OPERATIONS = [op for op in all_operations() if op.kind != "subscription" and "($" in op.document]
SUBSCRIPTIONS = [op for op in all_operations() if op.kind == "subscription"]
NODE_TYPES = ("User", "Course", "Session", "LiveSession", "Booking", "BookableSlot", "Instructor", "UserClass")

fuzz_settings = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.data_too_large, HealthCheck.filter_too_much])

# --- what garbage is made of ---

awkward_text = st.sampled_from(["\ud800", "a\x00b", "\udfff", "١٢٣", "\u202e", "'; DROP TABLE users; --", "%_\\",
                                "x" * 3000, "", " ", "null", "0", "-1", "1e999", "2026-03-08T24:00:00Z",
                                "right/Europe/London", "../../etc/passwd"])
texts = st.one_of(st.text(max_size=20), awkward_text,
                  st.text(st.characters(categories=["Cs", "Cc"]), max_size=5))
numbers = st.one_of(st.integers(), st.integers(min_value=-(2**64), max_value=2**64),
                    st.sampled_from([0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 10**30, 1440, 1441]),
                    st.floats(), st.just(int("9" * 4000)))
global_ids = st.one_of(
    # surrogatepass: a lone surrogate becomes bytes that are no UTF-8, which the IDs must survive too.
    st.builds(lambda kind, raw: base64.b64encode(f"{kind}:{raw}".encode(errors="surrogatepass")).decode(),
              st.sampled_from(NODE_TYPES), st.one_of(st.integers(min_value=-5, max_value=2**40).map(str), texts)),
    texts)
moments = st.one_of(
    st.builds(lambda moment, offset: moment.isoformat() + offset, st.datetimes(),
              st.sampled_from(["Z", "z", "+01:00", "-00:00", "+14:00", ""])),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-03-08t10:00:00z",
                     "2026-03-08T10:00:60Z", "20260308T100000Z"]),
    texts)
days = st.one_of(st.dates().map(lambda day: day.isoformat()),
                 st.sampled_from(["0001-01-01", "9999-12-31", "20260308", "2026-W10-7"]), texts)
primitives = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(primitives, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)


SCALAR_VALUES = {"Int": numbers, "Float": numbers, "String": texts, "Boolean": st.booleans(), "ID": global_ids,
                 "DateTime": moments, "Date": days, "Upload": st.none()}


def values_of(kind: graphql.GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly the shape `kind` asks for, with garbage leaves; now and then anything at all."""
    anything = json_values if depth < 3 else primitives
    nullable = graphql.get_nullable_type(kind)
    if isinstance(nullable, graphql.GraphQLList):
        shaped = st.lists(values_of(nullable.of_type, depth + 1), max_size=3)
    elif isinstance(nullable, graphql.GraphQLInputObjectType):
        fields = {name: values_of(field.type, depth + 1) for name, field in nullable.fields.items()}
        shaped = st.fixed_dictionaries({}, optional=fields)
    elif isinstance(nullable, graphql.GraphQLEnumType):
        shaped = st.one_of(st.sampled_from(list(nullable.values)), texts)
    else:
        shaped = SCALAR_VALUES.get(nullable.name, primitives)
    return st.one_of(shaped, shaped, shaped, st.none(), anything)


def variables_of(document: str) -> st.SearchStrategy[dict[str, Any]]:
    operation = next(d for d in graphql.parse(document).definitions if isinstance(d, graphql.OperationDefinitionNode))
    fields = {}
    for definition in operation.variable_definitions or ():
        kind = graphql.type_from_ast(GRAPHQL, definition.type)
        assert kind is not None
        fields[definition.variable.name.value] = values_of(kind)  # type: ignore[arg-type]
    return st.fixed_dictionaries({}, optional=fields)


# --- what every answer must be ---

def assert_clean(status: int, content_type: str, text: str, what: Any) -> None:
    assert status < 500, (status, text[:500], what)
    assert content_type.startswith(("application/json", "application/graphql-response+json")), (content_type, what)
    body = json.loads(text)
    assert isinstance(body, dict | list), (body, what)
    for entry in body if isinstance(body, list) else [body]:
        assert_coded(entry, what)


def assert_coded(payload: dict[str, Any], what: Any) -> None:
    for error in payload.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code is not None, (error, what)
        assert code != "INTERNAL", (error, what)


@pytest.fixture
async def world(database, clock, client_with, settings):
    """The demo data behind an app with rate limits off (garbage comes in volume); tokens by role."""
    users = await demo_users(database, clock.now())
    http = await client_with(rate_limit_enabled=False)
    tokens = {role: issue_token(user.id, settings, clock.now()) if user else None for role, user in users.items()}
    return http, tokens


def authorization(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def post(http, content: bytes, headers: dict[str, Any], what: Any) -> None:
    response = await http.post("/graphql", content=content, headers={"content-type": "application/json", **headers})
    assert_clean(response.status_code, response.headers.get("content-type", ""), response.text, what)


roles = st.sampled_from(["anonymous", "learner", "admin"])


@fuzz_settings
@given(body=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                      st.fixed_dictionaries({}, optional={"query": st.one_of(texts, json_values),
                                                          "variables": json_values, "operationName": json_values,
                                                          "extensions": json_values}
                                            ).map(lambda v: json.dumps(v).encode())),
       role=roles)
async def test_any_http_body_is_answered_cleanly(world, body, role):
    http, tokens = world
    await post(http, body, authorization(tokens[role]), body[:300])


@fuzz_settings
@given(operation=st.sampled_from(OPERATIONS), data=st.data(), role=roles)
async def test_garbage_variables_of_client_operations_are_answered_cleanly(world, operation, data, role):
    http, tokens = world
    variables = data.draw(variables_of(operation.document))
    body = json.dumps({"query": operation.document, "variables": variables}).encode()
    await post(http, body, authorization(tokens[role]), (operation.source, variables))


header_texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


def signed(claims: dict[str, Any]) -> str:
    # The key of tests/conftest.py's settings: junk claims inside a signature that holds.
    return jwt.encode(claims, "test-secret-of-at-least-thirty-two-bytes", algorithm="HS256")


claims = st.fixed_dictionaries({}, optional={"sub": json_values, "exp": st.one_of(numbers, texts, st.none()),
                                             "iat": json_values})


@fuzz_settings
@given(value=st.one_of(header_texts, header_texts.map(lambda t: f"Bearer {t}"),
                       claims.map(lambda c: f"Bearer {signed(c)}"),
                       st.builds(lambda sub: f"Bearer {signed({'sub': sub, 'exp': 4102444800})}",
                                 st.one_of(texts, numbers.map(str)))))
async def test_any_authorization_header_is_answered_cleanly(world, value):
    http, _ = world
    body = json.dumps({"query": "{ viewer { user { name } } }"}).encode()
    await post(http, body, {"Authorization": value.encode("latin-1")}, value)  # type: ignore[dict-item]


# --- WebSocket ---

def ws_payloads(token: str) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "authorization": st.one_of(texts, json_values, st.just(f"Bearer {token}"), texts.map(lambda t: f"Bearer {t}"))}))


async def ws_exchange(address: str, messages: list[str], protocol: str = TRANSPORT_WS) -> list[Any]:
    """Sends `messages` on a fresh socket; what came back until it closed or went quiet, then the close code."""
    answers: list[Any] = []
    async with websockets.connect(f"ws://{address}/graphql", subprotocols=[protocol]) as socket:
        try:
            for message in messages:
                await socket.send(message)
            while True:
                answers.append(json.loads(await asyncio.wait_for(socket.recv(), 0.3)))
        except TimeoutError:
            pass
        except websockets.ConnectionClosed as closed:
            answers.append(closed.rcvd.code if closed.rcvd else None)
    return answers


def assert_clean_ws(answers: list[Any], what: Any) -> None:
    for answer in answers:
        if isinstance(answer, dict):
            payload = answer.get("payload")
            if answer.get("type") == "error":  # a list of GraphQL errors (graphql-ws: one error)
                assert_coded({"errors": payload if isinstance(payload, list) else [payload]}, what)
            elif isinstance(payload, dict):
                assert_coded(payload, what)
        else:
            # 1011 is the server's own failure, None a connection dropped without a close frame;
            # the protocol's refusals are 44xx, a clean end 1000.
            assert answer is not None and (answer == 1000 or 4400 <= answer < 4500), (answer, what)


@fuzz_settings
@given(data=st.data())
async def test_websocket_garbage_is_answered_cleanly(live_server, world, data):
    _, tokens = world
    token = tokens["learner"]
    signed_in = json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    init = data.draw(st.one_of(
        st.just(signed_in), st.just(signed_in),  # half the time, so that the subscribe message is read
        ws_payloads(token).map(lambda p: json.dumps({"type": "connection_init", "payload": p})),
        json_values.map(json.dumps), st.text(max_size=50)))
    operation = data.draw(st.sampled_from(SUBSCRIPTIONS))
    protocol = data.draw(st.sampled_from([TRANSPORT_WS, TRANSPORT_WS, LEGACY_WS]))
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    subscribe = data.draw(st.one_of(
        variables_of(operation.document).map(lambda v: {"query": operation.document, "variables": v}),
        json_values).map(lambda p: json.dumps({"id": "1", "type": kind, "payload": p})))
    messages = [init, subscribe]
    answers = await ws_exchange(live_server, messages, protocol)
    assert_clean_ws(answers, messages)
