"""Exports (DESIGN.md, "Exports"): a session's tracking or enrollments as CSV or XLSX.

Asking (`request_export`) checks the rights and signs a ticket naming the user, the export
and its expiry (tickets.py); the download (`open_export`, behind `GET /exports/<ticket>`)
reads the ticket's user again and checks the rights again before the first row, so a
coach whose window closed, or a user demoted or removed, in those ten minutes gets nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sessiongraph.models import Session
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.exports.files import csv_file, xlsx_file
from sessiongraph.resolvers.exports.rows import ROWS
from sessiongraph.resolvers.exports.tickets import (
    LIFETIME,
    ExpiredTicket,
    ExportFormat,
    ExportKind,
    InvalidTicket,
    Ticket,
    read_ticket,
)
from sessiongraph.resolvers.loaders.sessions import SessionById
from sessiongraph.resolvers.permissions import can_follow_session, require_signed_in

__all__ = ["ExpiredTicket", "ExportFile", "ExportFormat", "ExportKind", "InvalidTicket", "Ticket", "open_export",
           "read_ticket", "request_export"]

MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8",
               ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: AsyncIterator[bytes]


async def request_export(ctx: Context, kind: ExportKind, session_id: int, file_format: ExportFormat) -> Ticket:
    """A ticket for the export, for admins and the session's coaches inside the coach access
    window (who may read its tracking); a session the caller may not follow is NOT_FOUND."""
    user = require_signed_in(ctx)
    if await _followed_session(ctx, session_id) is None:
        raise UserErrors.one(ErrorCode.NOT_FOUND, "No such session.", "sessionId")
    assert user.id is not None  # a stored user
    return Ticket(user.id, kind, session_id, file_format, ctx.now + LIFETIME)


async def open_export(ctx: Context, ticket: Ticket) -> ExportFile | None:
    """The file, as the ticket's user (ctx's actor) may still read it now; None when they may not."""
    session = await _followed_session(ctx, ticket.session_id)
    if session is None:
        return None
    rows = ROWS[ticket.kind](ctx, session)
    content = csv_file(rows) if ticket.format is ExportFormat.CSV else xlsx_file(ticket.kind.title(), rows)
    filename = f"{ticket.kind}-session-{session.id}.{ticket.format.lower()}"
    return ExportFile(filename, MEDIA_TYPES[ticket.format], content)


async def _followed_session(ctx: Context, session_id: int) -> Session | None:
    """The session, when the caller may read its learners and tracking."""
    session = await SessionById(ctx).load(session_id)
    return session if session is not None and await can_follow_session(ctx, session) else None
