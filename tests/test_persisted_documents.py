"""Persisted documents: trusted documents only, and Apollo's automatic persisted queries (APQ)
in this process or in Redis, over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
import redis.asyncio as redis
import websockets

from sessiongraph.clients.documents import document_hash, load_operations
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app
from sessiongraph.server.persisted import InProcessDocuments, RedisDocuments, load_manifest
from tests.conftest import serving
from tests.schedule_data import data, gid  # noqa: F401

REDIS_URL = "redis://127.0.0.1:6379/0"
AD_HOC = "query Me { viewer { user { name } } }"
AD_HOC_HASH = document_hash(AD_HOC)
DASHBOARD = next(op for op in load_operations("web") if op.name == "Dashboard")
JOIN = next(op for op in load_operations("web") if op.name == "JoinAvailability")
GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}


def persisted(sha256: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


@pytest.fixture
async def learner(make_user, settings, clock):
    user = await make_user("Lena Learner")
    return {**GRAPHQL_RESPONSE, "Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"}


@pytest.fixture
def redis_prefix():
    return f"sessiongraph-test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_keys(redis_prefix):
    """The Redis keys under the test's prefix (deleted at the end)."""
    client = redis.from_url(REDIS_URL)

    async def keys() -> list[bytes]:
        return [key async for key in client.scan_iter(match=f"{redis_prefix}*")]

    yield keys
    found = await keys()
    if found:
        await client.delete(*found)
    await client.aclose()


# --- Trusted documents only ---

async def test_trusted_documents_only_refuses_query_text(client_with, learner):
    http = await client_with(trusted_documents_only=True)

    response = await http.post("/graphql", json={"query": AD_HOC}, headers=learner)

    assert response.status_code == 400
    assert code(response.json()) == "PERSISTED_QUERY_ID_REQUIRED"
    assert "data" not in response.json()


async def test_trusted_documents_only_serves_a_manifest_hash(client_with, learner):
    http = await client_with(trusted_documents_only=True)

    by_extension = await http.post("/graphql", json={"extensions": persisted(DASHBOARD.sha256)}, headers=learner)
    by_document_id = await http.post("/graphql", json={"documentId": f"sha256:{DASHBOARD.sha256}"}, headers=learner)
    by_get = await http.get("/graphql", params={"extensions": json.dumps(persisted(DASHBOARD.sha256))},
                            headers=learner)
    by_get_document_id = await http.get("/graphql", params={"documentId": DASHBOARD.sha256}, headers=learner)

    for response in (by_extension, by_document_id, by_get, by_get_document_id):
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"


async def test_trusted_documents_only_takes_the_text_with_its_manifest_hash(client_with, learner):
    # What an APQ client sends after a miss, and what the admin command-line client always sends.
    http = await client_with(trusted_documents_only=True)

    response = await http.post("/graphql", json={"query": DASHBOARD.document,
                                                 "extensions": persisted(DASHBOARD.sha256)}, headers=learner)

    assert response.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"


async def test_trusted_documents_only_refuses_a_hash_outside_the_manifest_and_registers_nothing(client_with,
                                                                                                 learner):
    http = await client_with(trusted_documents_only=True)

    unknown = await http.post("/graphql", json={"extensions": persisted(AD_HOC_HASH)}, headers=learner)
    with_text = await http.post("/graphql", json={"query": AD_HOC, "extensions": persisted(AD_HOC_HASH)},
                                headers=learner)
    again = await http.post("/graphql", json={"documentId": AD_HOC_HASH}, headers=learner)

    assert [code(r.json()) for r in (unknown, with_text, again)] == ["PERSISTED_QUERY_NOT_IN_LIST"] * 3
    assert http.app.state.persisted.store is None


async def test_a_batch_is_looked_up_operation_by_operation(client_with, learner):
    http = await client_with(trusted_documents_only=True, batching_enabled=True)

    response = await http.post("/graphql", json=[{"documentId": DASHBOARD.sha256}, {"query": AD_HOC}],
                               headers=learner)

    first, second = response.json()
    assert first["data"]["viewer"]["user"]["name"] == "Lena Learner"
    assert code(second) == "PERSISTED_QUERY_ID_REQUIRED"


async def test_a_malformed_hash_or_version_is_a_bad_request(client_with, learner):
    http = await client_with()

    short = await http.post("/graphql", json={"extensions": persisted("abc123")}, headers=learner)
    version = await http.post("/graphql", json={"extensions": {"persistedQuery": {
        "version": 2, "sha256Hash": DASHBOARD.sha256}}}, headers=learner)

    assert [code(short.json()), code(version.json())] == ["BAD_REQUEST", "BAD_REQUEST"]


async def test_the_manifest_is_served_without_trusted_only_mode_too(http, learner):
    # A mobile build sends hashes whatever mode the server runs in.
    response = await http.post("/graphql", json={"documentId": f"sha256:{DASHBOARD.sha256}"}, headers=learner)

    assert response.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"


def test_a_manifest_whose_hash_is_not_its_document_refuses_to_start(tmp_path):
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({AD_HOC_HASH: AD_HOC + " "}))

    with pytest.raises(SystemExit, match="not their document's SHA-256"):
        load_manifest(path)


# --- Automatic persisted queries, as Apollo's client sends them ---

@pytest.fixture(params=["in-process", "redis"])
async def apq(request, client_with, redis_prefix, redis_keys):
    """A factory of service instances sharing one place for registered documents."""
    overrides = ({"redis_url": REDIS_URL, "persisted_query_key_prefix": redis_prefix,
                  "rate_limit_key_prefix": redis_prefix + "ratelimit:"} if request.param == "redis" else {})
    shared = None

    async def instance():
        nonlocal shared
        http = await client_with(**overrides)
        store = http.app.state.persisted.store
        assert isinstance(store, RedisDocuments if request.param == "redis" else InProcessDocuments)
        if request.param == "in-process":  # one process: both "instances" share it
            shared = shared or store
            http.app.state.persisted.store = shared
        return http

    instance.kind = request.param
    return instance


async def test_the_apq_round_trip(apq, learner):
    http = await apq()
    hashed = {"operationName": "Me", "variables": {}, "extensions": persisted(AD_HOC_HASH)}

    # Apollo's link first sends the hash alone,
    miss = await http.post("/graphql", json=hashed, headers=learner)
    # then, told PERSISTED_QUERY_NOT_FOUND, the query with its hash,
    registered = await http.post("/graphql", json={**hashed, "query": AD_HOC}, headers=learner)
    # and from then on the hash alone (over GET, with useGETForHashedQueries).
    hit = await http.get("/graphql", params={"operationName": "Me",
                                             "extensions": json.dumps(persisted(AD_HOC_HASH))}, headers=learner)

    assert miss.status_code == 200  # not 400: Apollo's link gives up on persisted queries after a 400
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code(miss.json()) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.json() == {"data": {"viewer": {"user": {"name": "Lena Learner"}}}}
    assert hit.status_code == 200 and hit.json() == registered.json()


async def test_a_document_registered_on_one_instance_is_found_on_another(apq, learner, redis_prefix, redis_keys):
    first, second = await apq(), await apq()

    await first.post("/graphql", json={"query": AD_HOC, "extensions": persisted(AD_HOC_HASH)}, headers=learner)
    hit = await second.post("/graphql", json={"extensions": persisted(AD_HOC_HASH)}, headers=learner)

    assert hit.json() == {"data": {"viewer": {"user": {"name": "Lena Learner"}}}}
    if apq.kind == "redis":
        documents = [key for key in await redis_keys() if not key.startswith(f"{redis_prefix}ratelimit:".encode())]
        assert documents == [f"{redis_prefix}{AD_HOC_HASH}".encode()]
        client = redis.from_url(REDIS_URL)
        ttl = await client.ttl(f"{redis_prefix}{AD_HOC_HASH}")
        await client.aclose()
        assert 0 < ttl <= 7 * 24 * 3600


async def test_a_hash_that_is_not_the_querys_is_refused_and_not_registered(apq, learner):
    http = await apq()
    wrong = document_hash("{ __typename }")

    mismatch = await http.post("/graphql", json={"query": AD_HOC, "extensions": persisted(wrong)}, headers=learner)
    after = await http.post("/graphql", json={"extensions": persisted(wrong)}, headers=learner)

    assert code(mismatch.json()) == "PERSISTED_QUERY_HASH_MISMATCH" and mismatch.status_code == 400
    assert code(after.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_that_does_not_validate_is_not_registered(apq, learner):
    http = await apq()
    broken = "{ viewer { nope } }"
    hashed = {"extensions": persisted(document_hash(broken))}

    refused = await http.post("/graphql", json={**hashed, "query": broken}, headers=learner)
    after = await http.post("/graphql", json=hashed, headers=learner)

    assert code(refused.json()) == "GRAPHQL_VALIDATION_FAILED"
    assert code(after.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_with_apq_off_an_unknown_hash_is_not_supported_but_the_manifest_still_is(client_with, learner):
    http = await client_with(automatic_persisted_queries=False)

    unknown = await http.post("/graphql", json={"extensions": persisted(AD_HOC_HASH)}, headers=learner)
    text = await http.post("/graphql", json={"query": AD_HOC, "extensions": persisted(AD_HOC_HASH)}, headers=learner)
    trusted = await http.post("/graphql", json={"extensions": persisted(DASHBOARD.sha256)}, headers=learner)

    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    assert code(unknown.json()) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert text.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"
    assert trusted.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"


async def test_while_redis_is_unreachable_every_hash_is_unknown_and_the_text_still_runs(client_with, learner):
    http = await client_with(redis_url="redis://127.0.0.1:1/0", rate_limit_enabled=False)

    miss = await http.post("/graphql", json={"extensions": persisted(AD_HOC_HASH)}, headers=learner)
    text = await http.post("/graphql", json={"query": AD_HOC, "extensions": persisted(AD_HOC_HASH)}, headers=learner)

    assert code(miss.json()) == "PERSISTED_QUERY_NOT_FOUND"
    assert text.json()["data"]["viewer"]["user"]["name"] == "Lena Learner"


# --- Over WebSocket ---

@pytest.fixture
async def trusted_server(settings, database, clock):
    """A real server in trusted-documents-only mode; yields its host:port."""
    app = create_app(settings.model_copy(update={"trusted_documents_only": True}), clock=clock, database=database,
                     check_migrations=False)
    async with serving(app) as address:
        yield address
    await app.state.persisted.close()


async def signed_in_socket(server: str, protocol: str, authorization: str):
    socket = await websockets.connect(f"ws://{server}/graphql", subprotocols=[protocol])
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": authorization}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
    return socket


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_over_websocket_a_trusted_server_refuses_text(trusted_server, learner, protocol):
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    async with await signed_in_socket(trusted_server, protocol, learner["Authorization"]) as socket:
        await socket.send(json.dumps({"id": "1", "type": start, "payload": {"query": AD_HOC}}))
        refused = json.loads(await asyncio.wait_for(socket.recv(), 5))

    errors = refused["payload"] if isinstance(refused["payload"], list) else [refused["payload"]]
    assert refused["type"] == "error" and refused["id"] == "1"
    assert errors[0]["extensions"]["code"] == "PERSISTED_QUERY_ID_REQUIRED"


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_over_websocket_a_trusted_server_runs_a_manifest_hash(trusted_server, data, settings, clock, protocol):
    learner = await data.user("Lena")
    live_session = await data.live_session(await data.course(), await data.instructor(),
                                           clock.now() + timedelta(minutes=5),
                                           virtual_classroom_url="https://classroom.example.test/1")
    await data.book(learner, live_session)
    token = f"Bearer {issue_token(learner.id, settings, clock.now())}"
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"

    async with await signed_in_socket(trusted_server, protocol, token) as socket:
        await socket.send(json.dumps({"id": "2", "type": start, "payload": {
            "extensions": persisted(JOIN.sha256),
            "variables": {"liveSessionId": gid("LiveSession", live_session.id)}}}))
        served = json.loads(await asyncio.wait_for(socket.recv(), 5))

    assert served["id"] == "2" and served["type"] in ("next", "data"), served
    assert served["payload"]["data"]["joinAvailability"]["isOpen"] is True
