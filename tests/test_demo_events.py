"""The demo shows events end to end: its logins sign in with the printed password, and a booking
reaches the demo's own webhook receiver as a signed delivery it verified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from sessiongraph.demo import load_demo
from sessiongraph.demo.events import DEMO_PASSWORD, RECEIVER_PATH
from sessiongraph.server.app import create_app
from tests.conftest import NOW, free_port, serving
from tests.test_demo_booking import BOOK, SEARCH
from tests.test_signin import SIGN_IN


async def test_a_demo_booking_reaches_the_demo_receiver_signed_and_verified(settings, database, clock):
    # given: the demo, served with its receiver at the public URL its endpoint names; at the real time,
    # since the receiver, as any, holds a delivery's timestamp against its own clock
    now = datetime.now(UTC).replace(microsecond=0)
    clock.set(now)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    summary = await load_demo(database, now, public_url=public_url)
    app = create_app(settings.model_copy(update={"public_url": public_url, "demo_webhook_receiver": True,
                                                 "webhook_allow_private": True}),
                     clock=clock, database=database, check_migrations=False)
    relay, dispatcher = app.state.relay, app.state.dispatcher
    async with serving(app, port=port), httpx.AsyncClient(base_url=public_url) as http:
        await relay.start()
        try:
            # when: Lena signs in with the password the demo printed and books a slot
            signed_in = (await http.post("/graphql", json={"query": SIGN_IN, "variables": {
                "email": "learner@example.com", "password": DEMO_PASSWORD}})).json()["data"]["signIn"]
            assert signed_in["errors"] == []
            bearer = {"Authorization": f"Bearer {signed_in['tokens']['accessToken']}"}
            found = (await http.post("/graphql", headers=bearer, json={"query": SEARCH, "variables": {
                "from": now.isoformat(), "to": (now + timedelta(days=14)).isoformat()}})).json()["data"]
            slot = next(c for c in (e["node"] for e in found["courses"]["edges"]) if c["canBook"])["availableSlots"][0]
            booked = (await http.post("/graphql", headers=bearer, json={"query": BOOK, "variables": {
                "id": slot["id"]}})).json()["data"]["bookSlot"]
            assert booked["errors"] == []
            await relay.idle()
            await dispatcher.idle()
            received = (await http.get(RECEIVER_PATH)).json()["received"]
        finally:
            await relay.close()
            await dispatcher.close()
            await app.state.broker.close()
            await app.state.persisted.close()

    # then: the receiver checked the signature with the endpoint's secret and kept the event
    assert DEMO_PASSWORD in summary and public_url + RECEIVER_PATH in summary
    (event,) = received
    assert event["type"] == "booking.created" and event["webhookId"].startswith("msg_")
    assert event["data"]["status"] == "BOOKED" and event["data"]["userId"] == signed_in["tokens"]["user"]["id"]


async def test_the_demo_receiver_refuses_a_delivery_signed_with_another_secret(settings, database, clock):
    from standardwebhooks.webhooks import Webhook

    from sessiongraph.resolvers.webhooks import new_secret

    await load_demo(database, NOW, public_url="http://127.0.0.1:8000")
    app = create_app(settings.model_copy(update={"demo_webhook_receiver": True}), clock=clock, database=database,
                     check_migrations=False)
    body = b'{"type":"booking.created","timestamp":"2026-12-07T00:00:00+00:00","data":{}}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(clock.now().timestamp())),
               "webhook-signature": Webhook(new_secret()).sign("msg_1", clock.now(), body)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        refused = await http.post(RECEIVER_PATH, content=body, headers=headers)
        kept = (await http.get(RECEIVER_PATH)).json()["received"]
    await app.state.broker.close()
    await app.state.persisted.close()

    assert refused.status_code == 401 and kept == []
