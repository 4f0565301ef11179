"""Reading single cells: email addresses, dates, and the header's columns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError

from sessiongraph.infrastructure.storable import EARLIEST_DATE, LATEST_DATE, storable_date
from sessiongraph.resolvers.errors import ErrorCode
from sessiongraph.resolvers.imports.problems import RowErrors
from sessiongraph.resolvers.validation import email_address

# A spreadsheet reads a cell starting with one of these as a formula (OWASP's "CSV injection");
# exports write such a text with a leading apostrophe, and imports read the apostrophe off
# again, so that an exported file imports back unchanged.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


class Emails:
    """Normalises addresses the way stored ones are (lower-cased), once per distinct cell text."""

    def __init__(self) -> None:
        self._seen: dict[str, str | EmailNotValidError] = {}

    def clean(self, text: str) -> str | None:
        """The address, or None when the text is not one (see `problem`)."""
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = self._normalise(text)
        return found if isinstance(found, str) else None

    def problem(self, text: str) -> str:
        found = self._seen.get(text)
        reason = f": {str(found).rstrip('.')}" if isinstance(found, EmailNotValidError) else ""
        return f"{text.strip()!r} is not an email address{reason}"

    @staticmethod
    def _normalise(text: str) -> str | EmailNotValidError:
        try:
            return email_address(text)
        except EmailNotValidError as error:
            return error.with_traceback(None)  # kept per distinct cell: without the frames it holds


# [0-9], not \d, which also matches Arabic-Indic and other digits that int() reads.
_DATE = re.compile(r"([0-9]{4})([/-])([0-9]{1,2})\2([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")


def parse_moment(text: str, zone: ZoneInfo, *, is_end: bool) -> datetime:
    """`yyyy/mm/dd` or `yyyy-mm-dd`, with an optional `hh:mm[:ss]`, in the importing admin's zone.

    A date alone starts its day; as the end of a window it takes in the whole day
    (windows are half-open, so it ends at the next midnight). Raises ValueError.
    """
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a date: write yyyy/mm/dd or yyyy-mm-dd, "
                         "optionally followed by hh:mm:ss")
    year, _, month, day, hour, minute, second = match.groups()
    try:
        day_ = date(int(year), int(month), int(day))
        if not storable_date(day_):
            raise ValueError(f"the dates this service takes are {EARLIEST_DATE} to {LATEST_DATE}")
        if hour is None:
            at = time(0)
            if is_end:
                day_ += timedelta(days=1)
        else:
            at = time(int(hour), int(minute), int(second or 0))
    except ValueError as error:
        raise ValueError(f"{text.strip()!r} is not a real date or time ({error})") from None
    return datetime.combine(day_, at, tzinfo=zone)


def split_list(cell: str, separator: str = "|") -> list[str]:
    """The non-blank items of a `a|b|c` cell, stripped, in order, without repeats."""
    if not cell:  # most cells of a large file
        return []
    return list(dict.fromkeys(stripped for item in cell.split(separator) if (stripped := item.strip())))


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each known column sits in the header (matched ignoring case and spaces)."""

    positions: dict[str, int]

    def __contains__(self, name: str) -> bool:
        return name in self.positions

    def get(self, name: str) -> int | None:
        return self.positions.get(name)


def read_header(header: list[str], known: tuple[str, ...], required: tuple[str, ...],
                errors: RowErrors) -> Columns:
    """Maps the header onto `known` columns, reporting missing, unknown and repeated ones on line 1."""
    by_key = {name.lower(): name for name in known}
    positions: dict[str, int] = {}
    for position, written in enumerate(header):
        name = by_key.get(written.replace(" ", "").lower())
        if not written:
            errors.add(1, None, ErrorCode.VALIDATION, f"column {position + 1} of the header has no name.")
        elif name is None:
            errors.add(1, written, ErrorCode.UNKNOWN_COLUMN,
                       f"{written!r} is not a column of this format; the columns are {', '.join(known)}.")
        elif name in positions:
            errors.add(1, written, ErrorCode.DUPLICATE, f"the column {name} appears twice.")
        else:
            positions[name] = position
    for name in required:
        if name not in positions:
            errors.add(1, name, ErrorCode.MISSING_COLUMN, f"the required column {name} is missing.")
    return Columns(positions)
