"""Exports on the wire: `exportTracking` and `exportEnrollments` answer a short-lived download URL."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph.resolvers import exports
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import decode_id

ExportFormat: TypeAlias = exports.ExportFormat
strawberry.enum(ExportFormat, name="ExportFormat", description="CSV (UTF-8 with a BOM) or an Excel workbook.")

DOWNLOAD_PATH = "/exports/"


@strawberry.input
class ExportInput:
    session_id: strawberry.ID
    format: ExportFormat


@strawberry.type(description="Where to download the file: for ten minutes, for the user who asked, while they "
                             "may still read the session's tracking.")
class ExportPayload:
    url: str | None = strawberry.field(description="Absolute; GET it without a bearer token (the URL is the "
                                                   "credential: keep it private).")
    expires_at: datetime | None
    errors: list[UserError]


@strawberry.type
class ExportsMutation:
    @strawberry.mutation(description="The session's tracking per learner, as a file; admins and the session's "
                                     "coaches inside the coach access window.")
    async def export_tracking(self, info: Info, input: ExportInput) -> ExportPayload:
        return await _export(info, exports.ExportKind.TRACKING, input)

    @strawberry.mutation(description="The session's enrollments in the enrollments import format "
                                     "(session,email,role), as a file; who may export tracking may export this.")
    async def export_enrollments(self, info: Info, input: ExportInput) -> ExportPayload:
        return await _export(info, exports.ExportKind.ENROLLMENTS, input)


async def _export(info: Info, kind: exports.ExportKind, input: ExportInput) -> ExportPayload:
    ticket, errors = await attempt(info, lambda: exports.request_export(
        info.context, kind, decode_id(input.session_id, "Session", "sessionId"), input.format))
    if ticket is None:
        return ExportPayload(url=None, expires_at=None, errors=errors)
    context = info.context
    base = str(context.request.base_url).rstrip("/")
    return ExportPayload(url=f"{base}{DOWNLOAD_PATH}{ticket.sign(context.settings)}", expires_at=ticket.expires_at,
                         errors=[])
