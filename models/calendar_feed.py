"""A user's secret calendar feed (GET /calendar/<secret>.ics).

Only the secret's SHA-256 is stored: a copy of the database alone opens no feed. The
secret itself is derived from the server's key and `nonce` (resolvers/calendar_feed.py),
so the viewer can be shown their URL again without it being kept.
"""

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime, utcnow


class CalendarFeed(SQLModel, table=True):
    __tablename__ = "calendar_feed"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    # Random per issue; a reset draws a new one, which changes the secret.
    nonce: str = Field(sa_column=Column(String(32), nullable=False))
    # hex SHA-256 of the secret: a request finds its feed by an indexed equality.
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
