"""Password sign-in: access and refresh tokens, lock-out, passwords and invitations.

- `sign_in` answers an unknown address and a wrong password alike, in the same time (an argon2
  verification either way, against a dummy hash when there is no user), and counts failures per
  address whether or not a user has it: after SIGN_IN_MAX_FAILURES in a row the address is locked for
  SIGN_IN_LOCK_MINUTES, so ACCOUNT_LOCKED says nothing about who exists either.
- A refresh token is used once: `refresh` rotates it within its family (the tokens from one
  sign-in); presenting one already rotated means it was copied, and the whole family is revoked.
- Tokens and invitations are stored as SHA-256 digests only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.passwords import (
    hash_password,
    new_secret,
    password_problem,
    secret_digest,
    verify_password,
)
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.models import Invitation, RefreshToken, SignInFailures, User
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.credits import dialect_insert
from sessiongraph.resolvers.errors import ErrorCode, RateLimited, UserErrors
from sessiongraph.resolvers.permissions import require_signed_in

log = logging.getLogger("sessiongraph.signin")

_failures = SignInFailures.__table__  # type: ignore[attr-defined]

INVALID_CREDENTIALS = UserErrors.one(ErrorCode.INVALID_CREDENTIALS, "The e-mail address or the password is wrong.")


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    user: User


def normal_email(email: str) -> str:
    """Addresses are stored lower-cased (models/accounts.py); the lock-out counts per stored form."""
    return email.strip().lower()


async def sign_in(ctx: Context, *, email: str, password: str, ip: str | None) -> Tokens:
    email = normal_email(email)
    if ctx.rate_limiter is not None:
        decision = await ctx.rate_limiter.take_sign_in(ip=ip, email=email)
        if not decision.allowed:
            raise RateLimited(decision.retry_after)
    async with ctx.database.write() as db:
        failures = await db.get(SignInFailures, email)
        if failures is not None and failures.locked_until is not None and failures.locked_until > ctx.now:
            raise _locked(failures.locked_until, ctx.now)
        user = await db.scalar(select(User).where(col(User.email) == email))
        matches = await verify_password(user.password_hash if user is not None else None, password)
        if matches and user is not None and user.active:
            await db.execute(delete(SignInFailures).where(_failures.c.email == email))
            return await _issue(db, ctx, user, family=uuid.uuid4().hex)
        if not matches:
            await record_failure(db, ctx, email)  # committed with the block; the refusal follows it
    if matches:  # the right password of a deactivated account
        raise UserErrors.one(ErrorCode.ACCOUNT_INACTIVE, "This account is deactivated.")
    raise INVALID_CREDENTIALS


def _locked(until: datetime, now: datetime) -> UserErrors:
    minutes = max(1, round((until - now).total_seconds() / 60))
    return UserErrors.one(ErrorCode.ACCOUNT_LOCKED,
                          f"Too many failed sign-ins for this address; try again in {minutes} minutes.")


async def record_failure(db: AsyncSession, ctx: Context, email: str) -> datetime | None:
    """Counts a failure in a row for the address (one upsert, so concurrent failures all count);
    the one that reaches the limit locks the address. Returns when the lock ends, if it began."""
    insert = dialect_insert(db)(_failures).values(email=email, count=1, locked_until=None)
    upsert = insert.on_conflict_do_update(index_elements=[_failures.c.email],
                                          set_={"count": _failures.c.count + 1})
    count = (await db.execute(upsert.returning(_failures.c.count))).scalar_one()
    if count < ctx.settings.sign_in_max_failures:
        return None
    until = ctx.now + timedelta(minutes=ctx.settings.sign_in_lock_minutes)
    await db.execute(update(_failures).where(_failures.c.email == email).values(count=0, locked_until=until))
    log.warning("sign-in locked for an address after %d failures in a row", count)
    return until


async def _issue(db: AsyncSession, ctx: Context, user: User, *, family: str) -> Tokens:
    assert user.id is not None  # a stored user
    refresh_token = new_secret()
    db.add(RefreshToken(token_hash=secret_digest(refresh_token), family=family, user_id=user.id, issued_at=ctx.now,
                        expires_at=ctx.now + timedelta(days=ctx.settings.refresh_token_days)))
    lifetime = timedelta(minutes=ctx.settings.access_token_minutes)
    return Tokens(access_token=issue_token(user.id, ctx.settings, ctx.now, lifetime),
                  access_token_expires_at=ctx.now + lifetime, refresh_token=refresh_token, user=user)


async def refresh(ctx: Context, refresh_token: str) -> Tokens:
    """New tokens for a refresh token, which is then spent."""
    reused = False
    async with ctx.database.write() as db:
        stored = await _stored(db, refresh_token)
        if stored is None or stored.revoked_at is not None or stored.expires_at <= ctx.now:
            raise UserErrors.one(ErrorCode.INVALID_CREDENTIALS, "The refresh token is not valid; sign in again.",
                                 "refreshToken")
        # Spent here and nowhere else: of two requests with the same token, one wins this update.
        spent = await db.execute(update(RefreshToken)
                                 .where(col(RefreshToken.id) == stored.id, col(RefreshToken.replaced_at).is_(None))
                                 .values(replaced_at=ctx.now))
        if cast(CursorResult, spent).rowcount != 1:
            reused = True
            await _revoke_family(db, stored.family, ctx.now)
        else:
            user = await db.get(User, stored.user_id)
            if user is None or not user.active:
                raise UserErrors.one(ErrorCode.ACCOUNT_INACTIVE, "This account is deactivated.", "refreshToken")
            return await _issue(db, ctx, user, family=stored.family)
    assert reused
    log.warning("a spent refresh token was used again: its family is revoked")
    raise UserErrors.one(ErrorCode.TOKEN_REUSED, "This refresh token was used already; every token from the same "
                                                 "sign-in is revoked. Sign in again.", "refreshToken")


async def _stored(db: AsyncSession, refresh_token: str) -> RefreshToken | None:
    return await db.scalar(select(RefreshToken).where(col(RefreshToken.token_hash) == secret_digest(refresh_token)))


async def _revoke_family(db: AsyncSession, family: str, now: datetime) -> int:
    revoked = await db.execute(update(RefreshToken).where(col(RefreshToken.family) == family,
                                                          col(RefreshToken.revoked_at).is_(None))
                               .values(revoked_at=now))
    return cast(CursorResult, revoked).rowcount


async def sign_out(ctx: Context, refresh_token: str) -> bool:
    """Revokes the refresh token and the others of its sign-in; False when it was not valid anyway.
    (The access token lives out its ACCESS_TOKEN_MINUTES.)"""
    async with ctx.database.write() as db:
        stored = await _stored(db, refresh_token)
        if stored is None:
            return False
        return await _revoke_family(db, stored.family, ctx.now) > 0


async def set_password(ctx: Context, *, current_password: str | None, new_password: str,
                       invitation_token: str | None = None) -> User:
    """The signed-in user's new password (with the current one, if they have one), or an invited
    user's first (with the invitation). Every refresh token of the user is revoked: other devices
    sign in again."""
    problem = password_problem(new_password)
    if problem is not None:
        raise UserErrors.one(ErrorCode.WEAK_PASSWORD, problem, "newPassword")
    new_hash = await hash_password(new_password)
    if invitation_token is not None:
        return await _accept_invitation(ctx, invitation_token, new_hash)
    viewer = require_signed_in(ctx)
    wrong = False
    async with ctx.database.write() as db:
        user = await db.get(User, viewer.id)
        if user is None:
            raise UserErrors.one(ErrorCode.NOT_FOUND, "The user no longer exists.")
        if user.password_hash is not None and not await verify_password(user.password_hash, current_password or ""):
            await record_failure(db, ctx, user.email)
            wrong = True
        else:
            await _set_hash(db, ctx, user, new_hash)
    if wrong:
        raise UserErrors.one(ErrorCode.INVALID_CREDENTIALS, "The current password is wrong.", "currentPassword")
    return user


async def _set_hash(db: AsyncSession, ctx: Context, user: User, new_hash: str) -> None:
    assert user.id is not None  # a stored user
    user.password_hash = new_hash
    await revoke_refresh_tokens(db, user.id, ctx.now)


async def revoke_refresh_tokens(db: AsyncSession, user_id: int, now: datetime) -> None:
    """Every refresh token of the user: a new password, a deactivation."""
    await db.execute(update(RefreshToken)
                     .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
                     .values(revoked_at=now))


async def _accept_invitation(ctx: Context, token: str, new_hash: str) -> User:
    async with ctx.database.write() as db:
        taken = await db.execute(update(Invitation)
                                 .where(col(Invitation.token_hash) == secret_digest(token),
                                        col(Invitation.used_at).is_(None), col(Invitation.expires_at) > ctx.now)
                                 .values(used_at=ctx.now).returning(col(Invitation.user_id)))
        user_id = taken.scalar_one_or_none()
        user = await db.get(User, user_id) if user_id is not None else None
        if user is None or not user.active:
            raise UserErrors.one(ErrorCode.INVALID_CREDENTIALS, "The invitation is not valid (used, expired or "
                                                                "unknown); ask for a new one.", "invitationToken")
        await _set_hash(db, ctx, user, new_hash)
    return user


@dataclass(frozen=True, slots=True)
class Invited:
    invitation_id: int
    url: str


def invitation_token(settings: Settings, user_id: int, nonce: str) -> str:
    """43 URL-safe characters (256 bits) that only this server's key derives from the stored nonce: the
    email sender writes the link again at send time, and a copy of the database opens no invitation."""
    key = hashlib.sha256(b"sessiongraph invitation\0" + settings.jwt_secret.encode()).digest()
    digest = hmac.new(key, f"{user_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def invitation_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/app/#invitation={token}"


async def invite(db: AsyncSession, ctx: Context, user: User) -> Invited:
    """A one-time link for `user` to set a first password, inside the transaction that made the user.
    The link is returned to the admin who asked (createUser's `invitationUrl`) and e-mailed when SMTP_URL
    is set (resolvers/email.py `queue_invitation`)."""
    assert user.id is not None  # flushed
    nonce = secrets.token_hex(16)
    token = invitation_token(ctx.settings, user.id, nonce)
    invitation = Invitation(token_hash=secret_digest(token), user_id=user.id, nonce=nonce,
                            expires_at=ctx.now + timedelta(days=ctx.settings.invitation_days))
    db.add(invitation)
    await db.flush()
    assert invitation.id is not None  # flushed
    return Invited(invitation.id, invitation_url(ctx.settings, token))


async def user_for_identity(database: Database, email: str, name: str | None) -> User:
    """The user an OpenID provider's token names by `email`, made on their first sign-in
    (OIDC_CREATE_USERS=true)."""
    try:
        async with database.write() as db:
            user = User(email=email, name=(name or email.split("@")[0]).strip()[:200] or email)
            db.add(user)
    except IntegrityError:  # made by a concurrent first request
        async with database.read() as db:
            found = await db.scalar(select(User).where(col(User.email) == email))
        assert found is not None  # the unique e-mail that refused this insert
        return found
    log.info("user %s made on their first OpenID Connect sign-in", user.id)
    return user
