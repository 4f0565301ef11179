"""Download tickets: who asked for which export, signed, valid for ten minutes.

A ticket is an HS256 JWT signed with JWT_SECRET, like bearer tokens, but with its own
audience: a bearer token is never a ticket, and a ticket is never a bearer token (PyJWT
refuses a token with an audience where none is expected). Expiry is checked against the
service's clock, so a frozen clock holds for tickets too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import database_id

AUDIENCE = "sessiongraph:export"
LIFETIME = timedelta(minutes=10)


class ExportKind(StrEnum):
    TRACKING = "tracking"
    ENROLLMENTS = "enrollments"


class ExportFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"


class InvalidTicket(Exception):
    """Forged, malformed or not a ticket at all."""


class ExpiredTicket(InvalidTicket):
    pass


@dataclass(frozen=True, slots=True)
class Ticket:
    user_id: int
    kind: ExportKind
    session_id: int
    format: ExportFormat
    expires_at: datetime

    def sign(self, settings: Settings) -> str:
        claims = {"sub": str(self.user_id), "aud": AUDIENCE, "export": self.kind.value, "session": self.session_id,
                  "format": self.format.value, "exp": int(self.expires_at.timestamp())}
        return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def read_ticket(token: str, settings: Settings, now: datetime) -> Ticket:
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["sub", "exp", "aud", "export", "session", "format"],
                                     "verify_exp": False})
        user_id = database_id(claims["sub"]) if isinstance(claims["sub"], str) else None
        if user_id is None or not isinstance(claims["session"], int) or not isinstance(claims["exp"], int):
            raise InvalidTicket("not a ticket")
        ticket = Ticket(user_id, ExportKind(claims["export"]), claims["session"], ExportFormat(claims["format"]),
                        datetime.fromtimestamp(claims["exp"], now.tzinfo))
    except (jwt.InvalidTokenError, UnicodeError, ValueError, OverflowError) as error:
        raise InvalidTicket("not a ticket") from error
    if ticket.expires_at <= now:
        raise ExpiredTicket("the ticket has expired")
    return ticket
