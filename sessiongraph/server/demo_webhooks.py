"""The demo's webhook receiver: what a platform's own receiver does, served by the demo itself.

`serve --demo` registers an endpoint at PUBLIC_URL + /demo/webhooks (sessiongraph/demo/events.py)
and turns this route on, so the demo's events travel the whole way: outbox, relay, fan-out,
a signed POST, and a receiver that checks the signature with the endpoint's secret (the
`standardwebhooks` library, as a receiver would) and logs the event. GET shows the last ones.
"""

from __future__ import annotations

import json
import logging
from collections import deque

from sqlalchemy import select
from sqlmodel import col
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sessiongraph.demo.events import RECEIVER_PATH, receiver_url
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.models.webhooks import WebhookEndpoint

log = logging.getLogger("sessiongraph.demo.webhooks")

KEPT = 50


def demo_webhook_route(database: Database, settings: Settings) -> Route:
    received: deque[dict] = deque(maxlen=KEPT)
    url = receiver_url(settings.public_url)

    async def receive(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"received": list(reversed(received))})
        body = await request.body()
        async with database.read() as db:
            secrets = (await db.scalars(select(col(WebhookEndpoint.secret))
                                        .where(col(WebhookEndpoint.url) == url))).all()
        for secret in secrets:
            try:
                Webhook(secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                continue
            event = json.loads(body)
            received.append({"webhookId": request.headers["webhook-id"], **event})
            log.info("demo receiver got %s (%s), signature verified: %s", event["type"],
                     request.headers["webhook-id"], json.dumps(event["data"], sort_keys=True))
            return Response(status_code=204)
        log.warning("demo receiver refused a delivery whose signature matches no demo endpoint")
        return Response(status_code=401)

    return Route(RECEIVER_PATH, receive, methods=["GET", "POST"])
