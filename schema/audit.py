"""The audit log on the wire: `auditLog`, admins only."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import audit
from sessiongraph.schema.accounts import User, load_user
from sessiongraph.schema.relay import Connection, Node, id_of, node_fetcher, to_global_id


@strawberry.type(description="One admin mutation's change: who, when, which mutation, of what, and how.")
class AuditEntry(Node):
    at: datetime
    action: str = strawberry.field(description="The mutation's name, as `updateSession`.")
    subject_id: strawberry.ID | None = strawberry.field(description="The global ID of what it changed.")
    changes: str = strawberry.field(description='JSON: {"field": [before, after]}.')
    actor_id: strawberry.Private[int | None]

    @strawberry.field(description="Null once their user is deleted, and for the command line's operator.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self.actor_id)

    @classmethod
    def from_model(cls, entry: models.AuditEntry) -> AuditEntry:
        assert entry.id is not None  # a stored row
        return cls(id=to_global_id("AuditEntry", entry.id), at=entry.at, action=entry.action,
                   subject_id=strawberry.ID(entry.subject_id) if entry.subject_id else None, changes=entry.changes,
                   actor_id=entry.actor_id)


@strawberry.input
class AuditFilter:
    actor_id: strawberry.ID | None = None
    subject_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(name="from", default=None)
    to: datetime | None = None


@node_fetcher("AuditEntry")
async def fetch_audit_entry(info: Info, entry_id: int) -> AuditEntry | None:
    entry = await audit.audit_entry(info.context, entry_id)
    return AuditEntry.from_model(entry) if entry is not None else None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="What admin mutations changed, newest first; admins only.")
    async def audit_log(self, info: Info, filter: AuditFilter | None = None, first: int | None = None,
                        after: str | None = None) -> Connection[AuditEntry]:
        given = filter or AuditFilter()
        actor_id = None
        if given.actor_id is not None:
            # An ID that is no user's matches nothing, as a user with no entries does.
            actor_id = id_of(given.actor_id, "User")
            if actor_id is None:
                actor_id = -1
        page = await audit.audit_log(info.context, audit.AuditFilter(
            actor_id=actor_id, subject_id=given.subject_id, starts_from=given.from_, until=given.to),
            first=first, after=after)
        return Connection.from_page(page, AuditEntry.from_model)



