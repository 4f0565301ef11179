"""Password sign-in on the wire: signIn, refreshToken, signOut, setPassword."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from sessiongraph.resolvers import signin
from sessiongraph.resolvers.errors import RateLimited
from sessiongraph.schema.accounts import User
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.limits import client_ip

T = TypeVar("T")


@strawberry.type(description="What a sign-in gives: a short-lived access token (the bearer token) and a refresh "
                             "token, used once, for the next pair.")
class AuthTokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    user: User

    @classmethod
    def from_tokens(cls, tokens: signin.Tokens) -> AuthTokens:
        return cls(access_token=tokens.access_token, access_token_expires_at=tokens.access_token_expires_at,
                   refresh_token=tokens.refresh_token, user=User.from_model(tokens.user))


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.type
class SignInPayload:
    tokens: AuthTokens | None
    errors: list[UserError]


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.type
class RefreshTokenPayload:
    tokens: AuthTokens | None
    errors: list[UserError]


@strawberry.input
class SignOutInput:
    refresh_token: str


@strawberry.type
class SignOutPayload:
    revoked: bool
    errors: list[UserError]


@strawberry.input
class SetPasswordInput:
    current_password: str | None = None
    new_password: str
    invitation_token: str | None = strawberry.field(
        default=None, description="From an invitation link: sets an invited user's first password, signed out.")


@strawberry.type
class SetPasswordPayload:
    user: User | None
    errors: list[UserError]


async def _limited(work: Callable[[], Awaitable[T]]) -> T:
    """A refusal for too many attempts as the mutation rate limits give it (HTTP 429, Retry-After)."""
    try:
        return await work()
    except RateLimited as refusal:
        raise GraphQLError(str(refusal), extensions={"code": "RATE_LIMITED",
                                                     "retryAfter": refusal.retry_after}) from refusal


@strawberry.type
class SignInMutation:
    @strawberry.mutation(description="Signs in with an e-mail address and a password.")
    async def sign_in(self, info: Info, input: SignInInput) -> SignInPayload:
        tokens, errors = await _limited(lambda: attempt(info, lambda: signin.sign_in(
            info.context, email=input.email, password=input.password, ip=client_ip(info.context))))
        return SignInPayload(tokens=AuthTokens.from_tokens(tokens) if tokens else None, errors=errors)

    @strawberry.mutation(description="New tokens for a refresh token, which is then spent; using a spent one "
                                     "revokes every token of its sign-in (TOKEN_REUSED).")
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenPayload:
        tokens, errors = await attempt(info, lambda: signin.refresh(info.context, input.refresh_token))
        return RefreshTokenPayload(tokens=AuthTokens.from_tokens(tokens) if tokens else None, errors=errors)

    @strawberry.mutation(description="Revokes the refresh token and the others of its sign-in.")
    async def sign_out(self, info: Info, input: SignOutInput) -> SignOutPayload:
        revoked, errors = await attempt(info, lambda: signin.sign_out(info.context, input.refresh_token))
        return SignOutPayload(revoked=bool(revoked), errors=errors)

    @strawberry.mutation(description="A new password: with the current one, or with an invitation's token.")
    async def set_password(self, info: Info, input: SetPasswordInput) -> SetPasswordPayload:
        user, errors = await attempt(info, lambda: signin.set_password(
            info.context, current_password=input.current_password, new_password=input.new_password,
            invitation_token=input.invitation_token))
        return SetPasswordPayload(user=User.from_model(user) if user else None, errors=errors)
