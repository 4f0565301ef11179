"""Webhooks per the Standard Webhooks specification, against a real HTTP receiver the test runs.

The receiver answers each request as its script says (500, no answer until the delivery
times out, a closed connection, 200). The clock is frozen: a test moves it to a delivery's
`nextAttemptAt`, wakes the dispatcher and waits until it is idle, so the backoff schedule is
checked without waiting for it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from sessiongraph.resolvers.webhooks import WebhookDispatcher
from tests.conftest import Caller
from tests.schedule_data import data, gid  # noqa: F401

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  webhookEndpoint { id url eventTypes active description } secret errors { field code message } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  webhookEndpoint { id url eventTypes active description } errors { field code } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) { deletedId errors { code } } }"""
ENDPOINTS = """{ webhookEndpoints(first: 10) { edges { node { id url eventTypes deliveries(first: 50) {
  edges { node { id eventType webhookId status attempts lastAttemptAt responseStatus nextAttemptAt } } } } } } }"""
RESCHEDULE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $s, endsAt: $e}) { errors { code } } }"""
# Long enough for a loaded test machine to answer; the "timeout" step outwaits it.
TIMEOUT_SECONDS = 2.0


class Receiver:
    """An HTTP server that answers the requests it gets as `script` says, in turn (the last step repeats):
    a status code, "timeout" (never answers) or "close" (drops the connection)."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.in_flight: Counter[str] = Counter()  # requests being answered, by webhook-id
        self.most_in_flight_of_one = 0
        self.hold = asyncio.Event()
        self.hold.set()
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hooks"
        return self

    async def __aexit__(self, *_exc) -> None:
        self.server.close()
        self.hold.set()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        webhook_id = ""
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in head.split("\r\n")[1:] if line)}
            webhook_id = headers.get("webhook-id", "")
            self.in_flight[webhook_id] += 1
            self.most_in_flight_of_one = max(self.most_in_flight_of_one, self.in_flight[webhook_id])
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers, body))
            self.arrived.set()
            step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            await self.hold.wait()
            if step == "timeout":
                await asyncio.sleep(TIMEOUT_SECONDS * 2)  # the dispatcher has given up long before
            elif step != "close":
                writer.write(f"HTTP/1.1 {step} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if webhook_id:
                self.in_flight[webhook_id] -= 1
            writer.close()


@pytest.fixture
async def hooked(client_with, make_user, settings, clock):
    """An app that may send webhooks to the loopback receiver, and its admin."""
    http = await client_with(webhook_allow_private=True, webhook_timeout_seconds=TIMEOUT_SECONDS)
    admin = Caller(http, settings, clock, await make_user("Ada", is_admin=True))
    return http, admin


@pytest.fixture
async def live_session(data, clock):
    learner = await data.user("Lena")
    # Far enough ahead to stay ahead when a test moves the clock to real time, or a day on.
    live_session = await data.live_session(await data.course(), await data.instructor(),
                                           clock.now() + timedelta(days=400))
    await data.book(learner, live_session)
    return live_session


async def reschedule(admin: Caller, live_session, clock, hour: int) -> None:
    starts = live_session.starts_at.replace(hour=hour, minute=0, second=0, microsecond=0)
    answer = await admin(RESCHEDULE, id=gid("LiveSession", live_session.id), s=starts.isoformat(),
                         e=(starts + timedelta(hours=1)).isoformat())
    assert answer["updateLiveSession"]["errors"] == []


async def settle(http) -> None:
    """Until the relay has fanned out and the dispatcher has sent what is due."""
    await http.app.state.relay.idle()
    await http.app.state.dispatcher.idle()


async def deliveries(admin: Caller) -> list[dict]:
    endpoints = (await admin(ENDPOINTS))["webhookEndpoints"]["edges"]
    return [edge["node"] for endpoint in endpoints for edge in endpoint["node"]["deliveries"]["edges"]]


def signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The spec's signature, computed here without the library the service signs with."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_a_delivery_is_retried_with_backoff_through_500_timeout_and_closed_connection_until_delivered(
        hooked, live_session, clock):
    http, admin = hooked
    clock.set(datetime.now(UTC).replace(microsecond=0))  # near real time: the reference library checks it
    async with Receiver("500", "timeout", "close", "200") as receiver:
        # given: an endpoint for live-session updates
        created = (await admin(CREATE, input={"url": receiver.url, "eventTypes": ["live_session.updated"],
                                              "description": "CRM"}))["createWebhookEndpoint"]
        assert created["errors"] == [] and created["secret"].startswith("whsec_")
        secret = created["secret"]

        # when: a live session is rescheduled
        await reschedule(admin, live_session, clock, 9)
        await settle(http)

        # then: the first attempt got a 500; the next is due within 30 s
        waits = []
        for expected_status in (500, None, None):
            (delivery,) = await deliveries(admin)
            assert (delivery["status"], delivery["responseStatus"]) == ("PENDING", expected_status), delivery
            due = datetime.fromisoformat(delivery["nextAttemptAt"])
            waits.append((due - datetime.fromisoformat(delivery["lastAttemptAt"])).total_seconds())
            clock.set(due)
            http.app.state.dispatcher.wake()
            await settle(http)

        (delivery,) = await deliveries(admin)
        assert (delivery["status"], delivery["attempts"], delivery["responseStatus"]) == ("DELIVERED", 4, 200)
        assert delivery["nextAttemptAt"] is None
        # Exponential backoff with jitter: the first retry within 30 s, each wait about double the last.
        assert 15 <= waits[0] <= 30 and 30 <= waits[1] <= 60 and 60 <= waits[2] <= 120, waits

    # Every attempt carried the same webhook-id and body, each signed for its own timestamp.
    assert len(receiver.requests) == 4
    assert {headers["webhook-id"] for headers, _ in receiver.requests} == {delivery["webhookId"]}
    assert len({body for _, body in receiver.requests}) == 1
    for headers, body in receiver.requests:
        assert headers["webhook-signature"] == signature(secret, headers, body)
    headers, body = receiver.requests[-1]
    payload = Webhook(secret).verify(body, headers)  # the reference library's own check
    assert payload["type"] == "live_session.updated" and set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["liveSessionId"] == gid("LiveSession", live_session.id)
    assert payload["data"]["rescheduled"] is True


async def test_a_delivery_that_keeps_failing_is_retried_for_a_day_then_failed(hooked, live_session, clock):
    http, admin = hooked
    async with Receiver("503") as receiver:
        await admin(CREATE, input={"url": receiver.url, "eventTypes": ["live_session.updated"]})
        await reschedule(admin, live_session, clock, 9)
        await settle(http)
        created_at = clock.now()
        attempts_at = [clock.now()]
        while True:
            (delivery,) = await deliveries(admin)
            if delivery["status"] != "PENDING":
                break
            assert delivery["attempts"] < 40, delivery
            clock.set(datetime.fromisoformat(delivery["nextAttemptAt"]))
            attempts_at.append(clock.now())
            http.app.state.dispatcher.wake()
            await settle(http)

    assert (delivery["status"], delivery["responseStatus"]) == ("FAILED", 503)
    assert delivery["attempts"] == len(attempts_at) == len(receiver.requests)
    assert attempts_at[-1] - created_at >= timedelta(hours=24)
    assert attempts_at[-2] - created_at < timedelta(hours=24)  # it stopped at the first failure past a day
    waits = [later - earlier for earlier, later in itertools.pairwise(attempts_at)]
    assert max(waits) <= timedelta(hours=6)


async def test_only_the_chosen_event_types_are_sent_and_an_inactive_or_deleted_endpoint_gets_nothing(
        hooked, live_session, clock, data):
    http, admin = hooked
    async with Receiver("204") as receiver:
        endpoint = (await admin(CREATE, input={"url": receiver.url, "eventTypes": ["live_session.cancelled"]})
                    )["createWebhookEndpoint"]["webhookEndpoint"]
        await reschedule(admin, live_session, clock, 9)  # live_session.updated: not chosen
        await settle(http)
        assert receiver.requests == [] and await deliveries(admin) == []

        # An inactive endpoint is not sent what happens meanwhile.
        await admin(UPDATE, input={"id": endpoint["id"], "active": False})
        await admin("""mutation($id: ID!) { cancelLiveSession(input: {id: $id}) { errors { code } } }""",
                    id=gid("LiveSession", live_session.id))
        await settle(http)
        assert receiver.requests == [] and await deliveries(admin) == []

        updated = (await admin(UPDATE, input={"id": endpoint["id"], "active": True, "description": "Ops",
                                              "eventTypes": ["live_session.updated", "live_session.cancelled"]})
                   )["updateWebhookEndpoint"]["webhookEndpoint"]
        assert (updated["active"], updated["description"], updated["eventTypes"]) == (
            True, "Ops", ["live_session.cancelled", "live_session.updated"])
        other = await data.live_session(await data.course(), await data.instructor(), live_session.starts_at)
        await reschedule(admin, other, clock, 10)
        await settle(http)
        assert [json.loads(body)["type"] for _, body in receiver.requests] == ["live_session.updated"]
        assert [(d["eventType"], d["status"], d["responseStatus"]) for d in await deliveries(admin)] == [
            ("live_session.updated", "DELIVERED", 204)]

        deleted = (await admin(DELETE, id=endpoint["id"]))["deleteWebhookEndpoint"]
        assert deleted == {"deletedId": endpoint["id"], "errors": []}
        assert (await admin(ENDPOINTS))["webhookEndpoints"]["edges"] == []
        await reschedule(admin, other, clock, 11)
        await settle(http)
        assert len(receiver.requests) == 1


async def test_two_instances_never_send_one_delivery_at_the_same_time_and_a_stuck_receiver_never_slows_a_mutation(
        hooked, live_session, clock, database, settings):
    http, admin = hooked
    async with Receiver("200") as receiver:
        receiver.hold.clear()  # the receiver keeps the first request waiting
        await admin(CREATE, input={"url": receiver.url, "eventTypes": ["live_session.updated"]})
        started = time.monotonic()
        await reschedule(admin, live_session, clock, 9)
        assert time.monotonic() - started < 1.0
        await http.app.state.relay.idle()
        await asyncio.wait_for(receiver.arrived.wait(), 5)

        # when: another instance's dispatcher looks for due deliveries meanwhile
        other = WebhookDispatcher(database, clock, settings.model_copy(update={"webhook_allow_private": True}))
        assert await other.deliver_due() == 0  # leased by the first
        # ... and another change is made while the receiver is stuck
        started = time.monotonic()
        await reschedule(admin, live_session, clock, 10)
        assert time.monotonic() - started < 1.0

        receiver.hold.set()
        await settle(http)
        other.wake()
        await other.idle()
    assert receiver.most_in_flight_of_one == 1
    webhook_ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    assert sorted(webhook_ids) == ["msg_1", "msg_2"]  # each event once, though two dispatchers looked
    assert {d["status"] for d in await deliveries(admin)} == {"DELIVERED"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://10.1.2.3/",
                                 "http://[::1]/", "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/",
                                 "ftp://example.com/hooks", "not a url", "http://user:pw@93.184.216.34/"])
async def test_urls_that_are_not_public_http_are_refused_and_nothing_is_written(url, admin, client_with, settings,
                                                                               clock):
    http = await client_with(webhook_allow_private=False)
    as_admin = Caller(http, settings, clock, admin.user)
    answer = (await as_admin(CREATE, input={"url": url, "eventTypes": ["booking.created"]}))["createWebhookEndpoint"]
    assert answer["webhookEndpoint"] is None and answer["secret"] is None
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(["url"], "WEBHOOK_URL_REFUSED")]
    assert (await as_admin(ENDPOINTS))["webhookEndpoints"]["edges"] == []


async def test_a_public_address_is_taken_and_bad_event_types_are_named(admin, client_with, settings, clock):
    http = await client_with(webhook_allow_private=False)
    as_admin = Caller(http, settings, clock, admin.user)
    taken = (await as_admin(CREATE, input={"url": "https://93.184.216.34/hooks", "eventTypes": [
        "booking.created", "booking.cancelled", "booking.created"]}))["createWebhookEndpoint"]
    assert taken["errors"] == [] and taken["webhookEndpoint"]["eventTypes"] == ["booking.cancelled", "booking.created"]
    refused = (await as_admin(CREATE, input={"url": "https://93.184.216.34/", "eventTypes": ["booking.made"]})
               )["createWebhookEndpoint"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["eventTypes"], "VALIDATION")]
    assert len((await as_admin(ENDPOINTS))["webhookEndpoints"]["edges"]) == 1


async def test_only_admins_manage_webhooks(caller, make_user):
    learner = caller(await make_user("Lena"))
    body = await learner.execute(CREATE, input={"url": "https://93.184.216.34/", "eventTypes": ["booking.created"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await learner.execute(ENDPOINTS)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
