"""One request sent to two apps on the same database and clock, the service under test and a
reference that answers the same document another way: their response bodies must be the same
bytes. `answers()` reads a metric that counts the path under test's answers, so that a test
can tell that path answered rather than declined to the schema's execution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sessiongraph.infrastructure.tokens import issue_token


@dataclass
class Sent:
    body: dict[str, Any]
    statements: int  # the service's, for this request
    answered: bool  # the path under test answered (it did not decline)


def side_by_side(service: httpx.AsyncClient, reference: httpx.AsyncClient, settings, clock, count_statements,
                 answers: Callable[[], float]) -> Callable[[Any, dict[str, Any]], Awaitable[Sent]]:
    """send(user or None, body) -> Sent, after checking the reference's response is the same bytes."""

    async def send(user, body: dict[str, Any]) -> Sent:
        headers = {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"} if user else {}
        before = answers()
        with count_statements() as log:
            tested = await service.post("/graphql", json=body, headers=headers)
        answered = answers() - before
        expected = await reference.post("/graphql", json=body, headers=headers)
        assert (tested.status_code, tested.content) == (expected.status_code, expected.content)
        return Sent(tested.json(), log.count, answered == 1)

    return send
