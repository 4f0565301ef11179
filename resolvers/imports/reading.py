"""From an uploaded byte stream to numbered CSV records, with Python's csv module.

UTF-8 with or without a BOM; comma or semicolon separated, whichever the header line
uses more of; CRLF, LF or CR line ends; quoted fields (which may hold separators and
line breaks). Line numbers are physical lines, the header being line 1, so an admin
can find a reported line in any editor.

The stream is read in blocks and handed to the csv reader a line at a time, so memory
follows the rows kept, not the file, and three limits (ImportLimits) bound what a
hostile or broken file costs: the lines read, the bytes of one record (a quote left
open swallows the rest of the file into one field), and the errors counted before the
file is known bad enough to stop reading it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sessiongraph.infrastructure.settings import human_size
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.imports.problems import RowErrors
from sessiongraph.resolvers.imports.values import unescape_cell

if TYPE_CHECKING:
    from _csv import Reader

# A line and its end: LF, CRLF or a lone CR (old Mac files). UTF-8 never has these bytes
# inside a character, so splitting bytes is safe.
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
_BLOCK = 64 * 1024
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_lines: int
    max_row_bytes: int
    max_errors: int


class _RowTooLong(Exception):
    """Raised through the csv reader when one record outgrows ImportLimits.max_row_bytes."""


def refuse_file(code: ErrorCode, message: str) -> UserErrors:
    return UserErrors.one(code, message, "file")


def size_of(stream: BinaryIO) -> int:
    """The stream's size in bytes, found by seeking: nothing is read."""
    here = stream.tell()
    size = stream.seek(0, 2)
    stream.seek(here)
    return size


def count_lines(stream: BinaryIO) -> int:
    """The stream's lines (LF, CRLF or lone CR ends, and a last line without one), counted at
    C speed so that a file of too many is refused before any row is held; rewinds."""
    lines, last = 0, b""
    while block := stream.read(_BLOCK):
        lines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
        if last == b"\r" and block.startswith(b"\n"):
            lines -= 1  # a CRLF split between blocks
        last = block[-1:]
    stream.seek(0)
    return lines + (1 if last not in (b"", b"\n", b"\r") else 0)


class TextLines:
    """The file's lines as text, line ends kept, for csv.reader; refuses at the first line that
    is not UTF-8 text. `record_bytes` counts what the current record has read (the caller
    zeroes it per record), raising _RowTooLong past the limit."""

    def __init__(self, stream: BinaryIO, limits: ImportLimits) -> None:
        self.number = 0
        self.record_bytes = 0
        self._limits = limits
        self._raw = self._split(stream)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = next(self._raw)
        number = self.number = self.number + 1
        self.record_bytes += len(raw)
        too_long = self.record_bytes > self._limits.max_row_bytes
        # What the file is comes first: a binary file is "not text" rather than "a long line".
        if number == 1 and raw.startswith(UTF16_BOMS):
            raise refuse_file(ErrorCode.NOT_TEXT, "The file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\").")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            # a piece cut where a block ends may end inside a character
            if not (too_long and error.reason == "unexpected end of data"):
                raise refuse_file(ErrorCode.NOT_TEXT, (
                    f"The file is not UTF-8 text: line {number} has the byte 0x{raw[error.start]:02x}. "
                    "Save it as UTF-8 (\"CSV UTF-8\").")) from None
            text = ""
        if "\x00" in text:
            raise refuse_file(ErrorCode.NOT_TEXT, f"The file is not text: line {number} holds a NUL byte.")
        if too_long:
            raise _RowTooLong()
        return text.removeprefix("\ufeff") if number == 1 else text

    def _split(self, stream: BinaryIO) -> Iterator[bytes]:
        """Physical lines; a line longer than the row limit comes out as one piece over it."""
        carry = b""
        while block := stream.read(_BLOCK):
            buffer = carry + block
            # Up to the last line end, leaving a CR that ends the block: it may be half a CRLF.
            cut = max(buffer.rfind(b"\n"), buffer.rfind(b"\r", 0, len(buffer) - 1)) + 1
            for match in _LINE.finditer(buffer[:cut]):
                yield match.group()
            carry = buffer[cut:]
            if len(carry) > self._limits.max_row_bytes:
                yield carry  # unended and already too long: the caller refuses it unread further
                return
        if carry:
            yield carry


def sniff_delimiter(header_line: str) -> str:
    """Semicolon when the header line has more semicolons than commas, else comma."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


@dataclass(slots=True)
class CsvFile:
    header: list[str]
    delimiter: str
    _reader: Reader  # a csv reader, positioned after the header
    _lines: TextLines  # what the reader reads
    _limits: ImportLimits

    def records(self, errors: RowErrors) -> Iterator[tuple[int, list[str]]]:
        """(line, cells) for every record after the header, each as wide as the header.

        A cell an export escaped against formulas (`'=…`) loses its apostrophe.
        Blank lines are skipped; a record that is not well-formed CSV or is wider
        than the header is reported in `errors` and skipped. Reading stops (marked in
        `errors`) once `max_errors` are counted, or at a record longer than
        `max_row_bytes`: after a quote left open nothing further can be told apart.
        """
        width = len(self.header)
        reader, lines = self._reader, self._lines
        while True:
            line = reader.line_num + 1
            if errors.count >= self._limits.max_errors:
                errors.stop(line)
                return
            lines.record_bytes = 0
            try:
                cells = next(reader)
            except StopIteration:
                return
            except _RowTooLong:
                errors.add(line, None, ErrorCode.VALIDATION, (
                    f"the row starting here is longer than {human_size(self._limits.max_row_bytes)}; "
                    "is a closing quote missing?"))
                errors.stop(line)
                return
            except csv.Error as error:
                # csv's words for a quote still open at the end of the file
                detail = ("a quote opened in the row starting here is never closed."
                          if str(error) == "unexpected end of data" else f"this line is not well-formed CSV ({error}).")
                errors.add(line, None, ErrorCode.VALIDATION, detail)
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
            yield line, [unescape_cell(cell) if cell.startswith("'") else cell for cell in cells]


def open_csv(stream: BinaryIO, limits: ImportLimits) -> CsvFile:
    """Reads the header; the records follow through `CsvFile.records`."""
    if (count := count_lines(stream)) > limits.max_lines:
        raise refuse_file(ErrorCode.FILE_TOO_LARGE, (
            f"The file has {count:,} lines; the most one import reads is {limits.max_lines:,}: "
            "split it into smaller files."))
    lines = TextLines(stream, limits)
    try:
        first = next(lines, None)
    except _RowTooLong:
        raise refuse_file(ErrorCode.VALIDATION, (
            f"The first line is longer than {human_size(limits.max_row_bytes)}: it must be the header.")) from None
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
    except _RowTooLong:
        raise refuse_file(ErrorCode.VALIDATION, (
            f"The header (line 1) is longer than {human_size(limits.max_row_bytes)}; "
            "is a closing quote missing?")) from None
    while header and not header[-1]:  # spreadsheets leave trailing separators; cells there must stay blank
        header.pop()
    return CsvFile(header=header, delimiter=delimiter, _reader=reader, _lines=lines, _limits=limits)
