"""Bearer tokens from an OpenID Connect provider (OIDC_ISSUER), verified with PyJWT.

The provider's keys come from the JWKS its discovery document names, fetched with httpx's async
client (never blocking the event loop) and kept. A token whose `kid` is not among them makes the
keys be fetched again (a provider rotates its keys), at most once per OIDC_JWKS_REFRESH_SECONDS, so
a stream of made-up `kid`s cannot turn the service into a client flooding the provider.

Only RS256 and ES256 are taken: never `none`, never HS256 (whose "secret" would be the provider's
public key). `iss`, `aud`, `exp` and `nbf` are checked, the times against the service's clock with
OIDC_LEEWAY_SECONDS of allowance.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import InvalidToken

log = logging.getLogger("sessiongraph.oidc")

ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a provider's token names."""

    email: str
    name: str | None
    expires: datetime


class OidcVerifier:
    def __init__(self, settings: Settings, clock: Clock, client: httpx.AsyncClient | None = None) -> None:
        assert settings.oidc_issuer is not None and settings.oidc_audience is not None  # Settings.check
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.leeway = settings.oidc_leeway_seconds
        self.refresh_seconds = settings.oidc_jwks_refresh_seconds
        self.clock = clock
        self.client = client or httpx.AsyncClient(timeout=settings.oidc_http_timeout_seconds)
        self.keys: dict[str, PyJWK] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._jwks_uri: str | None = None
        self._fetching = asyncio.Lock()

    async def identity(self, token: str) -> Identity:
        """The token's identity; InvalidToken for anything not signed by the provider's keys, for
        this audience, and valid now."""
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.InvalidTokenError, UnicodeError) as error:
            raise InvalidToken("the token is not valid") from error
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")
        key = await self._key(kid if isinstance(kid, str) else None)
        if key.algorithm_name != algorithm:
            raise InvalidToken("the token's algorithm is not its key's")
        try:
            # Times are checked below, against the service's clock (which tests freeze).
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                                options={"require": ["iss", "aud", "exp"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except (jwt.InvalidTokenError, UnicodeError) as error:
            raise InvalidToken("the token is not valid for this service") from error
        return self._checked(claims)

    def _checked(self, claims: dict[str, Any]) -> Identity:
        now = self.clock.now().timestamp()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int | float) or expires + self.leeway <= now:
            raise InvalidToken("the token has expired")
        if not_before is not None and (not isinstance(not_before, int | float) or not_before - self.leeway > now):
            raise InvalidToken("the token is not valid yet")
        email = claims.get("email")
        if not isinstance(email, str) or not email.strip() or claims.get("email_verified") is False:
            raise InvalidToken("the token carries no verified `email` claim")
        name = claims.get("name")
        return Identity(email=email.strip().lower(), name=name if isinstance(name, str) else None,
                        expires=datetime.fromtimestamp(expires, self.clock.now().tzinfo))

    async def _key(self, kid: str | None) -> PyJWK:
        if kid is None:
            raise InvalidToken("the token names no key (`kid`)")
        if kid not in self.keys:
            async with self._fetching:
                if kid not in self.keys and self._may_fetch():
                    await self._fetch_keys()
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("the token's key is not the provider's")
        return key

    def _may_fetch(self) -> bool:
        now = self.clock.now().timestamp()
        return self.fetched_at is None or now - self.fetched_at >= self.refresh_seconds

    async def _fetch_keys(self) -> None:
        self.fetched_at = self.clock.now().timestamp()
        self.fetches += 1
        try:
            if self._jwks_uri is None:
                discovery = await self._get_json(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
                if discovery.get("issuer") != self.issuer or not isinstance(discovery.get("jwks_uri"), str):
                    raise InvalidToken("the provider's discovery document does not match OIDC_ISSUER")
                self._jwks_uri = discovery["jwks_uri"]
            key_set = PyJWKSet.from_dict(await self._get_json(self._jwks_uri))
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as error:
            log.warning("cannot read the OpenID provider's keys: %s", error)
            raise InvalidToken("the provider's keys cannot be read just now") from error
        self.keys = {key.key_id: key for key in key_set.keys
                     if key.key_id and key.algorithm_name in ALGORITHMS}

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self.client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} is not a JSON object")
        return document

    async def close(self) -> None:
        await self.client.aclose()


def create_oidc_verifier(settings: Settings, clock: Clock) -> OidcVerifier | None:
    return OidcVerifier(settings, clock) if settings.oidc_issuer else None
