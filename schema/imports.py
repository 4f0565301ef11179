"""CSV import on the wire: `importCsv` takes a file by the GraphQL multipart request spec."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from sessiongraph.resolvers import imports, permissions
from sessiongraph.resolvers.errors import BadInput
from sessiongraph.schema.errors import UserError, attempt

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
ImportFormat: TypeAlias = imports.ImportFormat
strawberry.enum(ImportFormat, name="CsvFormat", description="Which of the three file formats a file was read as.")


@strawberry.type(description="One problem with one line of an imported file; the header is line 1.")
class CsvRowError:
    line: int
    column: str | None = strawberry.field(description="The header's name for the column, when one is at fault.")
    code: str
    message: str = strawberry.field(description="Names the line and column, for showing as it is.")

    @classmethod
    def from_row_error(cls, error: imports.RowError) -> CsvRowError:
        return cls(line=error.line, column=error.column, code=error.code.value, message=error.message)


@strawberry.input
class ImportCsvInput:
    file: Upload = strawberry.field(description=(
        "UTF-8 CSV: `session,email[,role]`, Chamilo's session file (its import or export header), or users: "
        "`email,name[,time_zone,week_start,class,guardian_of,is_admin]`."))


@strawberry.type(description="A refused file lists its errors and changes nothing; "
                             "a good one is applied whole and counted.")
class ImportCsvPayload:
    created: int = strawberry.field(description="New enrollments and course coaches (and new sessions, "
                                                "for Chamilo's format); new users, for the users format.")
    updated: int = strawberry.field(description="Existing sessions whose fields changed or that gained a course; "
                                                "for the users format, existing users changed or added to.")
    already_enrolled: int = strawberry.field(description="Rows that changed nothing.")
    row_errors: list[CsvRowError] = strawberry.field(description=(
        "Every error found, by line, up to IMPORT_MAX_ERRORS (1,000 by default, where reading stops); "
        "rowErrorCount counts them all."))
    row_error_count: int = strawberry.field(description=(
        "Every error, including those not listed; at least this many when reading stopped early "
        "(the summary error says at which line)."))
    warnings: list[CsvRowError] = strawberry.field(
        description="Imported, but worth a look: a coach window that does not cover the access window, "
                    "an enrollments row that repeats an earlier one (a no-op).")
    format: ImportFormat | None = strawberry.field(description="Null when the file could not be read.")
    errors: list[UserError]


@strawberry.type
class ImportsMutation:
    @strawberry.mutation(description="Imports a CSV file of enrollments, Chamilo sessions or users; admins only.")
    async def import_csv(self, info: Info, input: ImportCsvInput) -> ImportCsvPayload:
        permissions.require_admin(info.context)  # before judging the file part, so strangers learn nothing
        report, errors = await attempt(info, lambda: imports.import_csv(info.context, _stream_of(input.file)))
        if report is None:
            return ImportCsvPayload(created=0, updated=0, already_enrolled=0, row_errors=[], row_error_count=0,
                                    warnings=[], format=None, errors=errors)
        return ImportCsvPayload(
            created=report.counts.created, updated=report.counts.updated,
            already_enrolled=report.counts.already_enrolled,
            row_errors=[CsvRowError.from_row_error(e) for e in report.row_errors],
            row_error_count=report.row_error_count,
            warnings=[CsvRowError.from_row_error(w) for w in report.warnings],
            format=report.format,
            errors=[UserError.from_problem(p) for p in report.refusal])


def _stream_of(upload):
    """The uploaded file's bytes as a stream (Starlette's UploadFile spools them to disk)."""
    stream = getattr(upload, "file", None)
    if stream is None or not hasattr(stream, "seek"):
        raise BadInput("`file` must be an uploaded file part (GraphQL multipart request spec), not a value.")
    return stream
