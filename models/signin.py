"""What password sign-in keeps: refresh tokens, failed attempts per address, invitations.

Tokens are stored as their SHA-256 only: a copy of the database lets no one sign in.
"""

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class RefreshToken(SQLModel, table=True):
    """One refresh token of a family: the tokens that rotated from one sign-in. Using a token
    rotates it (`replaced_at`); using one already rotated revokes the whole family."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True, info={"secret": True}))
    family: str = Field(max_length=32, index=True)
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    issued_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInFailures(SQLModel, table=True):
    """Failed sign-ins in a row for one address, whether or not a user has it, so that a lock
    tells nothing about who exists."""

    __tablename__ = "sign_in_failures"

    email: str = Field(sa_column=Column(String(320), primary_key=True))
    count: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """A one-time link to set a first password, from an admin's createUser."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True, info={"secret": True}))
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The token is an HMAC of the user's ID and this under a key derived from JWT_SECRET
    # (resolvers/signin.py `invitation_token`), so the sender can write the link into the email again
    # while the database alone holds no way to it. None for invitations made before it was kept.
    nonce: str | None = Field(default=None, sa_column=Column(String(32), nullable=True, info={"secret": True}))
