"""CSV and XLSX files written as their rows come, chunk by chunk, with no cell read as a formula.

CSV goes out as it is written. XLSX is a zip archive whose directory comes last, so it
cannot be sent before it is whole: xlsxwriter writes it row by row in constant memory to
a temporary file (in a worker thread, the event loop keeps serving), which is then sent
in blocks and deleted. xlsxwriter rather than openpyxl: it only writes, which is all an
export needs, and its constant-memory mode holds one row at a time, where openpyxl's
write-only mode still keeps every string for the shared-strings table.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

import xlsxwriter

from sessiongraph.resolvers.imports.values import escape_cell

Cell = str | int | float | None
_BLOCK = 64 * 1024


def _text(cell: Cell) -> str:
    return "" if cell is None else escape_cell(cell) if isinstance(cell, str) else str(cell)


async def csv_file(chunks: AsyncIterator[Sequence[Sequence[Cell]]]) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (what Excel needs to read UTF-8, and what the import accepts), CRLF."""
    yield "\ufeff".encode()
    async for rows in chunks:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([_text(cell) for cell in row] for row in rows)
        yield buffer.getvalue().encode()


async def xlsx_file(sheet_name: str, chunks: AsyncIterator[Sequence[Sequence[Cell]]]) -> AsyncIterator[bytes]:
    descriptor, path = tempfile.mkstemp(prefix="sessiongraph-export-", suffix=".xlsx")
    os.close(descriptor)
    try:
        # Strings stay strings whatever they look like: no formulas, links or numbers guessed from text.
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                              "strings_to_urls": False, "strings_to_numbers": False})
        sheet = workbook.add_worksheet(sheet_name)
        written = 0
        async for rows in chunks:
            await asyncio.to_thread(_write_rows, sheet, written, rows)
            written += len(rows)
        await asyncio.to_thread(workbook.close)
        with open(path, "rb") as file:  # noqa: ASYNC230 (each block is read in a worker thread)
            while block := await asyncio.to_thread(file.read, _BLOCK):
                yield block
    finally:
        os.unlink(path)


def _write_rows(sheet: Any, first: int, rows: Sequence[Sequence[Cell]]) -> None:
    for offset, row in enumerate(rows):
        for column, cell in enumerate(row):
            if isinstance(cell, str):
                sheet.write_string(first + offset, column, escape_cell(cell))
            elif cell is not None:
                sheet.write_number(first + offset, column, cell)
