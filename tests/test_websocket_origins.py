"""Which pages may open a WebSocket: configured origins, the service's own, and clients that send no Origin.

Strawberry checks the handshake before anything else: a browser page on another
origin is refused with HTTP 403 unless ALLOWED_ORIGINS lists it.
"""

import asyncio
import json

import pytest
import websockets

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.app import create_app
from tests.conftest import serving

ALLOWED = "https://learn.example.org"


@pytest.fixture
async def server(settings, database, clock):
    app = create_app(settings.model_copy(update={"allowed_origins": (ALLOWED, "https://admin.example.org:8443")}),
                     clock=clock, database=database, check_migrations=False)
    async with serving(app) as address:
        yield address
    await app.state.broker.close()


@pytest.fixture
async def token(make_user, settings, clock):
    return issue_token((await make_user()).id, settings, clock.now())


async def handshake(server, token, origin=None):
    """The first reply to connection_init, or the HTTP status of a refused handshake."""
    try:
        socket_ = await websockets.connect(f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"],
                                           origin=origin)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    async with socket_:
        await socket_.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        return json.loads(await asyncio.wait_for(socket_.recv(), 5))["type"]


async def test_a_page_on_an_allowed_origin_connects(server, token):
    assert await handshake(server, token, origin=ALLOWED) == "connection_ack"
    assert await handshake(server, token, origin="https://admin.example.org:8443") == "connection_ack"


async def test_a_page_on_another_origin_is_refused_at_the_handshake(server, token):
    assert await handshake(server, token, origin="https://evil.example.com") == 403
    assert await handshake(server, token, origin="http://learn.example.org") == 403  # scheme matters


async def test_a_client_without_an_origin_header_connects(server, token):
    assert await handshake(server, token, origin=None) == "connection_ack"


async def test_a_page_served_by_the_service_itself_connects(server, token):
    assert await handshake(server, token, origin=f"http://{server}") == "connection_ack"


def test_allowed_origins_are_read_comma_separated_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example:8443")

    assert Settings(_env_file=None).allowed_origins == ("https://a.example", "https://b.example:8443")


async def test_an_allowed_origin_with_a_path_is_refused_at_start_up(settings, database):
    with pytest.raises(ValueError, match="Invalid origin"):
        create_app(settings.model_copy(update={"allowed_origins": ("https://learn.example.org/app",)}),
                   database=database, check_migrations=False)
