"""Bearer tokens: HS256 JWTs whose `sub` is the user's database ID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.storable import database_id


class InvalidToken(Exception):
    """An expired, forged or malformed token: refused, never read as anonymous."""


def issue_token(user_id: int, settings: Settings, now: datetime, lifetime: timedelta | None = None) -> str:
    """A token for `sub` user_id: JWT_LIFETIME_HOURS long (development, service accounts) unless
    `lifetime` says otherwise (signIn's access tokens)."""
    expires = now + (lifetime if lifetime is not None else timedelta(hours=settings.jwt_lifetime_hours))
    claims = {"sub": str(user_id), "iat": now, "exp": expires}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def user_id_from_token(token: str, settings: Settings, now: datetime) -> int:
    # Expiry is checked against the service's clock, so a frozen clock holds for tokens too.
    user_id, expires = _verified(token, settings.jwt_secret)
    if expires <= now.timestamp():
        raise InvalidToken("the token has expired")
    return user_id


def token_expiry(token: str, settings: Settings) -> datetime:
    """When a token whose signature holds expires (InvalidToken for one whose signature does not)."""
    _, expires = _verified(token, settings.jwt_secret)
    return datetime.fromtimestamp(expires, UTC)


@lru_cache(maxsize=10_000)
def _verified(token: str, secret: str) -> tuple[int, float]:
    """(user ID, expiry) of a token whose signature holds. A client sends the same token for
    hours, and checking it costs more than the rest of the request's authentication; only
    tokens that verify are remembered (an exception is not cached), and expiry is compared
    with the clock on every request."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False})
    except (jwt.InvalidTokenError, UnicodeError) as error:
        # UnicodeError: a WebSocket's connection_init can carry a lone surrogate, which PyJWT cannot encode.
        raise InvalidToken("the token is not valid") from error
    if not isinstance(claims["exp"], int | float):
        raise InvalidToken("the token has expired")
    # A subject past PostgreSQL's integer (or "1_0", " 1") names no user: refused like a forged
    # token, where looking it up would fail in SQL.
    user_id = database_id(claims["sub"]) if isinstance(claims["sub"], str) else None
    if user_id is None:
        raise InvalidToken("the token's subject is not a user ID")
    return user_id, float(claims["exp"])


def bearer_token(authorization: str | None) -> str | None:
    """The token from an `Authorization: Bearer …` value; None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token.strip()
