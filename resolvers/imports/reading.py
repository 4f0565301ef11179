"""From an uploaded byte stream to numbered CSV records, with Python's csv module.

UTF-8 with or without a BOM; comma or semicolon separated, whichever the header line
uses more of; CRLF, LF or CR line ends; quoted fields (which may hold separators and
line breaks). The stream is read a line at a time, so memory follows the rows kept,
not the file. Line numbers are physical lines, the header being line 1, so an
admin can find a reported line in any editor.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.imports.problems import RowErrors

if TYPE_CHECKING:
    from _csv import Reader

_LONE_CR = re.compile(r"(?<=\r)(?!\n)")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def refuse_file(code: ErrorCode, message: str) -> UserErrors:
    return UserErrors.one(code, message, "file")


def size_of(stream: BinaryIO) -> int:
    """The stream's size in bytes, found by seeking: nothing is read."""
    here = stream.tell()
    size = stream.seek(0, 2)
    stream.seek(here)
    return size


def text_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines as text, line ends kept; refuses at the first line that is not UTF-8 text."""
    number = 0
    for raw in stream:
        if number == 0 and raw.startswith(UTF16_BOMS):
            raise refuse_file(ErrorCode.NOT_TEXT, "The file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\").")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise refuse_file(ErrorCode.NOT_TEXT, (
                f"The file is not UTF-8 text: line {number + 1} has the byte 0x{raw[error.start]:02x}. "
                "Save it as UTF-8 (\"CSV UTF-8\").")) from None
        if number == 0:
            text = text.removeprefix("\ufeff")
        # Old Mac files end lines with a lone CR; the byte split above only knows LF.
        parts = _LONE_CR.split(text) if "\r" in text[:-2] else (text,)
        for part in parts:
            if not part:
                continue
            number += 1
            if "\x00" in part:
                raise refuse_file(ErrorCode.NOT_TEXT,
                                  f"The file is not text: line {number} holds a NUL byte.")
            yield part


def sniff_delimiter(header_line: str) -> str:
    """Semicolon when the header line has more semicolons than commas, else comma."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


@dataclass(slots=True)
class CsvFile:
    header: list[str]
    delimiter: str
    _reader: Reader  # a csv reader, positioned after the header

    def records(self, errors: RowErrors) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) for every record after the header, each as wide as the header.

        Blank lines are skipped; a record that is not well-formed CSV or is wider
        than the header is reported in `errors` and skipped.
        """
        width = len(self.header)
        reader = self._reader
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                errors.add(line, None, ErrorCode.VALIDATION, f"this line is not well-formed CSV ({error}).")
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > width:
                if any(cell.strip() for cell in cells[width:]):
                    errors.add(line, None, ErrorCode.VALIDATION,
                               f"the line has {len(cells)} fields but the header has {width}; quote a field "
                               f"that holds a {self.delimiter!r}.")
                    continue
                cells = cells[:width]
            elif len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield line, cells


def open_csv(stream: BinaryIO) -> CsvFile:
    """Reads the header; the records follow through `CsvFile.records`."""
    lines = text_lines(stream)
    first = next(lines, None)
    if first is None:
        raise refuse_file(ErrorCode.VALIDATION, "The file is empty: its first line must be the header.")
    if not first.strip():
        raise refuse_file(ErrorCode.VALIDATION, "The first line is blank: it must be the header.")
    delimiter = sniff_delimiter(first)

    def again() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(again(), delimiter=delimiter, strict=True, skipinitialspace=True)
    try:
        header = [cell.strip() for cell in next(reader)]
    except csv.Error as error:
        raise refuse_file(ErrorCode.VALIDATION, f"The header (line 1) is not well-formed CSV: {error}.") from None
    while header and not header[-1]:  # spreadsheets leave trailing separators; cells there must stay blank
        header.pop()
    return CsvFile(header=header, delimiter=delimiter, _reader=reader)
