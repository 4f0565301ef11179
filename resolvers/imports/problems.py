"""What is wrong with an imported file, line by line.

A file of 100,000 rows that names one unknown session has 100,000 errors: every one
is counted, the first `limit` (by line) are kept, and only the kept ones get a
message written out. A file known bad enough is read no further (`stop`): its count is
then a floor, not the total.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from itertools import count

from sessiongraph.resolvers.errors import ErrorCode

LISTED_ERRORS = 1_000  # the default of IMPORT_MAX_ERRORS, where reading stops


@dataclass(slots=True)
class Counts:
    """What a good file did; see each format's module for what counts where."""

    created: int = 0
    updated: int = 0
    already_enrolled: int = 0


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem on one line; the header is line 1. `column` is the header's name for it."""

    line: int
    column: str | None
    code: ErrorCode
    message: str


def describe(line: int, column: str | None, detail: str) -> str:
    where = f"Line {line}, column {column}" if column else f"Line {line}"
    return f"{where}: {detail}"


class RowErrors:
    """Counts every error and keeps the first `limit` of them in line order."""

    def __init__(self, limit: int = LISTED_ERRORS) -> None:
        self.limit = limit
        self.count = 0
        self._kept: list[tuple[int, int, str | None, ErrorCode, str]] = []  # a max-heap by (line, seq)
        self._seq = count()
        self.stopped_at: int | None = None  # where reading stopped early, if it did

    def add(self, line: int, column: str | None, code: ErrorCode, detail: str) -> None:
        self.count += 1
        entry = (-line, -next(self._seq), column, code, detail)
        if len(self._kept) < self.limit:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:  # earlier than the latest error kept
            heapq.heapreplace(self._kept, entry)

    def stop(self, line: int) -> None:
        self.stopped_at = line

    def __bool__(self) -> bool:
        return self.count > 0

    def listed(self) -> list[RowError]:
        ordered = sorted(self._kept, reverse=True)
        return [RowError(-line, column, code, describe(-line, column, detail))
                for line, _, column, code, detail in ordered]
