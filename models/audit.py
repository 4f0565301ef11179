"""The audit log: who changed what through an admin mutation, and how."""

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from sessiongraph.models.columns import UTCDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    # auditLog pages newest first, over everything or one actor's or one subject's entries.
    __table_args__ = (Index("ix_audit_entry_at", "at", "id"),
                      Index("ix_audit_entry_actor_at", "actor_id", "at", "id"),
                      Index("ix_audit_entry_subject_at", "subject_id", "at", "id"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # None once the actor's user is deleted, and for the operator at the command line.
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    action: str = Field(max_length=100)
    # The global ID of what the mutation changed (the GraphQL type's, as clients know it).
    subject_id: str | None = Field(default=None, max_length=200)
    # JSON: {"field": [before, after]}.
    changes: str = Field(sa_type=Text, nullable=False)
