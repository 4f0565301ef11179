"""Who a bearer token names: JWT_SECRET's HS256 tokens (signIn's access tokens, `sessiongraph token`,
service accounts) or, with OIDC_ISSUER set, the OpenID provider's RS256/ES256 tokens, told apart by
the token's `alg`. Over HTTP and WebSocket alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import jwt
from sqlalchemy import bindparam, select
from sqlmodel import col
from strawberry.dataloader import DataLoader

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.oidc import ALGORITHMS, OidcVerifier
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import InvalidToken, token_expiry, user_id_from_token
from sessiongraph.models import User
from sessiongraph.models.rows import plain_rows
from sessiongraph.resolvers.context import SharedReads
from sessiongraph.resolvers.signin import user_for_identity

_USER_ROWS = plain_rows(User)
_USERS = select(*_USER_ROWS.columns)
_USER_BY_ID = _USERS.where(col(User.id) == bindparam("user_id"))
_USERS_BY_ID = _USERS.where(col(User.id).in_(bindparam("user_ids", expanding=True)))
_USER_BY_EMAIL = _USERS.where(col(User.email) == bindparam("email"))


async def _read_users(database: Database, reads: SharedReads | None, statement, parameters) -> list[User]:
    """Users read as plain rows (models/rows.py), on a request's shared connection when given, else on a
    connection of their own: neither an ORM session nor SQLModel instances, each of which costs more
    than the statement on every request. Nothing writes them."""
    if reads is not None:
        rows = (await reads.execute(statement, parameters)).all()
    else:
        async with database.read_rows() as connection:
            rows = (await connection.execute(statement, parameters)).all()
    return [_USER_ROWS.of(row) for row in rows]


async def stored_user(database: Database, user_id: int) -> User | None:
    """A user as stored now, by ID (an export's download checks who asked for it)."""
    found = await _read_users(database, None, _USER_BY_ID, {"user_id": user_id})
    return found[0] if found else None


class BearerTokens:
    def __init__(self, database: Database, settings: Settings, clock: Clock, oidc: OidcVerifier | None) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.oidc = oidc
        # Requests, sign-ins and socket checks that ask for users at the same moment share one statement
        # (thousands of sockets signing in again after an instance went away, or due for their periodic
        # check in the same second, would each take a pooled connection). No cache: every load reads the
        # user as stored now. A key is (user ID, the HTTP request's reads or None): the statement runs on
        # the first request's connection, which its query then reads on, so that a request checks out
        # one connection, alone or under load.
        self._users_by_id: DataLoader[tuple[int, SharedReads | None], User | None] | None = None

    def _from_provider(self, token: str) -> bool:
        if self.oidc is None:
            return False
        try:
            return jwt.get_unverified_header(token).get("alg") in ALGORITHMS
        except (jwt.InvalidTokenError, UnicodeError):
            return False

    async def user(self, token: str, reads: SharedReads | None = None) -> User | None:
        """The token's user as stored now (None when there is none); InvalidToken for a bad token.
        `reads`: an HTTP request's, whose connection the read may go on (see `_users_by_id`)."""
        if self.oidc is not None and self._from_provider(token):
            identity = await self.oidc.identity(token)
            found = await _read_users(self.database, reads, _USER_BY_EMAIL, {"email": identity.email})
            user = found[0] if found else None
            if user is None and self.settings.oidc_create_users:
                user = await user_for_identity(self.database, identity.email, identity.name)
            if user is None:
                raise InvalidToken("no user has the token's e-mail address")
            return user
        return await self._users_loader().load((user_id_from_token(token, self.settings, self.clock.now()), reads))

    def expiry(self, token: str) -> datetime | None:
        """When a token the service took expires (its signature was checked when it was taken)."""
        try:
            if self._from_provider(token):
                expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
                return datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None
            return token_expiry(token, self.settings)
        except (InvalidToken, jwt.InvalidTokenError):
            return None

    def _users_loader(self) -> DataLoader[tuple[int, SharedReads | None], User | None]:
        loop = asyncio.get_running_loop()  # the app may be served from more than one loop (tests)
        if self._users_by_id is None or self._users_by_id.loop is not loop:
            self._users_by_id = DataLoader(self._load_users, cache=False, loop=loop)
        return self._users_by_id

    async def _load_users(self, keys: list[tuple[int, SharedReads | None]]) -> list[User | None]:
        reads = next((reads for _, reads in keys if reads is not None), None)
        users = await _read_users(self.database, reads, _USERS_BY_ID,
                                  {"user_ids": list({user_id for user_id, _ in keys})})
        found = {user.id: user for user in users}
        return [found.get(user_id) for user_id, _ in keys]

    async def close(self) -> None:
        if self.oidc is not None:
            await self.oidc.close()
