"""What every resolver gets for one request (or one subscription event)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sessiongraph.infrastructure.broker import Broker, InProcessBroker
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.scheduler import Scheduler
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.models import User


@dataclass(slots=True)
class Actor:
    """Who is asking. Roles beyond the admin flag come from the data, per object."""

    user: User | None = None

    @classmethod
    def command_line(cls) -> Actor:
        """The operator at the command line: an administrator who is no stored user."""
        return cls(User(name="sessiongraph command line", email="operator@localhost", is_admin=True))

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


@dataclass
class Context:
    database: Database
    clock: Clock
    settings: Settings
    actor: Actor
    broker: Broker = field(default_factory=InProcessBroker)
    scheduler: Scheduler | None = None
    # The mutation rate limiter (sessiongraph/infrastructure/ratelimit.py), which signIn asks too; None when off.
    rate_limiter: Any = None
    request: Any = None
    response: Any = None
    # What a WebSocket client sent in `connection_init`.
    connection_params: dict[str, Any] | None = None
    loaders: dict[type, Any] = field(default_factory=dict)
    # One instant per request, so every field of a response agrees on "now".
    now: datetime = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = self.clock.now()
        if self.scheduler is None:
            self.scheduler = Scheduler(self.clock)

    def fresh(self) -> Context:
        """A context for one subscription event: the same caller, empty loaders, a new "now".

        Over WebSocket the connection's context lives as long as the socket; its
        loaders would answer every event with what they cached for the first.
        """
        return replace(self, loaders={}, now=self.clock.now())

    def refresh(self) -> None:
        """Forget every load and take a new "now": the connection's context, before each event
        it serves, so the event's fields are read as they are now."""
        self.loaders = {}
        self.now = self.clock.now()

    def forget_loaded(self) -> None:
        """Drop every cached load; a mutation has changed what they would answer."""
        self.loaders.clear()
