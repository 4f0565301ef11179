"""Bearer tokens: HS256 JWTs whose `sub` is the user's database ID."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from sessiongraph.settings import Settings


class InvalidToken(Exception):
    """An expired, forged or malformed token: refused, never read as anonymous."""


def issue_token(user_id: int, settings: Settings, now: datetime) -> str:
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(hours=settings.jwt_lifetime_hours)}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def user_id_from_token(token: str, settings: Settings, now: datetime) -> int:
    try:
        # Expiry is checked against the service's clock below, so a frozen clock holds for tokens too.
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False})
    except jwt.InvalidTokenError as error:
        raise InvalidToken("the token is not valid") from error
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now.timestamp():
        raise InvalidToken("the token has expired")
    try:
        return int(claims["sub"])
    except (TypeError, ValueError) as error:
        raise InvalidToken("the token's subject is not a user ID") from error


def bearer_token(authorization: str | None) -> str | None:
    """The token from an `Authorization: Bearer …` value; None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token.strip()
