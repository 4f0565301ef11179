"""CSV import (DESIGN.md, "CSV import" and "Bulk users by CSV"): an enrollments file, Chamilo's
session file (its import or its export header) or a users file, told apart by the header,
checked whole and applied in one transaction.

Nothing is written unless every row is good: the file is read and each row checked
on its own first (off the event loop), then everything the rows name is looked up
with one query per chunk of distinct names, and only when nothing is missing do the
bulk inserts run. Re-importing a file finds everything already there and changes
nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sessiongraph.infrastructure.settings import human_size
from sessiongraph.infrastructure.zones import zone_named
from sessiongraph.models import User
from sessiongraph.resolvers.audit import audited
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.errors import ErrorCode, Problem
from sessiongraph.resolvers.imports.chamilo import ChamiloPlan, apply_sessions, read_sessions
from sessiongraph.resolvers.imports.enrollments import EnrollmentPlan, apply_enrollments, read_enrollments
from sessiongraph.resolvers.imports.problems import Counts, RowError, RowErrors
from sessiongraph.resolvers.imports.reading import ImportLimits, open_csv, refuse_file, size_of
from sessiongraph.resolvers.imports.users import UsersPlan, apply_users, read_users
from sessiongraph.resolvers.permissions import require_admin

__all__ = ["ImportFormat", "ImportReport", "RowError", "import_csv"]


class ImportFormat(StrEnum):
    ENROLLMENTS = "ENROLLMENTS"
    CHAMILO_SESSIONS = "CHAMILO_SESSIONS"
    USERS = "USERS"


Plan = EnrollmentPlan | ChamiloPlan | UsersPlan


@dataclass
class ImportReport:
    format: ImportFormat | None
    counts: Counts = field(default_factory=Counts)
    row_errors: list[RowError] = field(default_factory=list)  # the first ones, by line
    row_error_count: int = 0
    warnings: list[RowError] = field(default_factory=list)
    refusal: list[Problem] = field(default_factory=list)  # empty when the file was imported


class _Refused(Exception):
    """Leaves the transaction (rolling it back) when a row names what does not exist."""


@audited("importCsv")
async def import_csv(ctx: Context, source: BinaryIO) -> ImportReport:
    """Imports an uploaded file. A file that is too large, not text or of neither format
    raises UserErrors; bad rows come back in the report, with nothing written."""
    require_admin(ctx)
    size, limit = size_of(source), ctx.settings.max_upload_bytes
    if size > limit:
        raise refuse_file(ErrorCode.FILE_TOO_LARGE,
                          f"The file is {human_size(size)}; the largest file accepted is {human_size(limit)}.")
    settings = ctx.settings
    # Every error found is listed (DESIGN.md: "every error listed"), up to the count at which reading
    # stops: a file's errors are bounded by it, and those its database lookups find by as many.
    errors = RowErrors(limit=settings.import_max_errors)
    limits = ImportLimits(max_lines=settings.import_max_lines, max_row_bytes=settings.import_max_row_bytes,
                          max_errors=settings.import_max_errors)
    file_format, plan = await asyncio.to_thread(_read, source, limits, errors, _zone_of(ctx.actor.user))
    if plan is None:  # the header is unusable: there are no rows to speak of
        return _refused(file_format, errors)
    # Rows with malformed cells are refused already, but what their other cells name is
    # still looked up, so the admin sees every error at once.
    try:
        async with ctx.database.write() as db:
            if isinstance(plan, EnrollmentPlan):
                counts = await apply_enrollments(db, plan, errors, ctx.now)
            elif isinstance(plan, UsersPlan):
                counts = await apply_users(db, plan, errors, ctx.now)
            else:
                counts = await apply_sessions(db, plan, errors, ctx.now)
            if errors:
                raise _Refused()
    except _Refused:
        return _refused(file_format, errors)
    return ImportReport(file_format, counts, warnings=sorted(plan.warnings, key=lambda w: w.line))


def detect_format(header: list[str]) -> ImportFormat | None:
    """Chamilo's by SessionName, enrollments by session, users by email and name together; a
    lone email is taken for enrollments, so that the missing session column is what is reported."""
    names = {name.replace(" ", "").lower() for name in header}
    if "sessionname" in names:
        return ImportFormat.CHAMILO_SESSIONS
    if "session" in names:
        return ImportFormat.ENROLLMENTS
    if {"email", "name"} <= names:
        return ImportFormat.USERS
    if "email" in names:
        return ImportFormat.ENROLLMENTS
    return None


def _read(source: BinaryIO, limits: ImportLimits, errors: RowErrors,
          zone: ZoneInfo) -> tuple[ImportFormat, Plan | None]:
    """Reads and checks every row on its own; runs in a worker thread."""
    source.seek(0)
    csv_file = open_csv(source, limits)
    file_format = detect_format(csv_file.header)
    if file_format is None:
        shown = csv_file.delimiter.join(csv_file.header)
        raise refuse_file(ErrorCode.VALIDATION, (
            f"The first line must be a header: session,email[,role] for enrollments, email,name[,…] for "
            f"users, or Chamilo's SessionName;Coach;DateStart;DateEnd;…; it is {shown[:200]!r}."))
    records = csv_file.records(errors)
    if file_format is ImportFormat.ENROLLMENTS:
        return file_format, read_enrollments(csv_file.header, records, errors)
    if file_format is ImportFormat.USERS:
        return file_format, read_users(csv_file.header, records, errors)
    return file_format, read_sessions(csv_file.header, records, errors, zone)


def _refused(file_format: ImportFormat | None, errors: RowErrors) -> ImportReport:
    listed = errors.listed()
    errors_ = f"{errors.count:,} error{'s' if errors.count != 1 else ''}"
    if errors.count > len(listed):
        errors_ += f" (the first {len(listed):,} are listed)"
    if errors.stopped_at is None:
        message = f"The file has {errors_}; nothing was imported."
    else:  # the lines before are checked whole, so the listed ones are still the file's first
        message = (f"The file has at least {errors_}; reading stopped at line {errors.stopped_at:,}. "
                   "Nothing was imported.")
    summary = Problem(ErrorCode.VALIDATION, message, ("file",))
    return ImportReport(file_format, row_errors=listed, row_error_count=errors.count, refusal=[summary])


def _zone_of(user: User | None) -> ZoneInfo:
    """Dates in a file are the importing admin's local times."""
    name = user.time_zone if user is not None and user.time_zone else "UTC"
    return zone_named(name) or ZoneInfo("UTC")
