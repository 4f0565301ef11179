"""What the database can hold, the one rule every input path checks against before SQL sees it.

Both engines must agree: SQLite would store an integer of any size and a NUL, PostgreSQL
refuses both (and neither driver can send a lone UTF-16 surrogate, which has no UTF-8 form).
"""

from __future__ import annotations

import base64
import re
from datetime import date

# PostgreSQL's `integer`: every ID column, and the counts and minutes beside them.
MAX_INTEGER = 2**31 - 1

# The dates the service takes, from every path (the GraphQL scalars, CSV files). Far outside,
# moving a time between zones leaves what datetime holds (0001-01-01 east of UTC, the day after
# 9999-12-31), and no session is planned there.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# ASCII digits only (str.isdigit and int() also take Arabic-Indic digits, " 1" and "1_0"), no sign, no leading zero.
_CANONICAL_ID = re.compile("0|[1-9][0-9]{0,9}")


def storable_text(text: str) -> bool:
    """False for text holding NUL or an unpaired surrogate."""
    return _UNSTORABLE.search(text) is None


def database_id(text: str) -> int | None:
    """The ID a canonical decimal stands for, within PostgreSQL's integer; None for anything else."""
    if _CANONICAL_ID.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= MAX_INTEGER else None


def storable_date(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def global_id(type_name: str, db_id: int) -> str:
    """The Relay global ID clients know an object by (sessiongraph/schema/relay.py): what the API hands out,
    what the audit log writes its subjects with, and what webhook payloads name rows by."""
    return base64.b64encode(f"{type_name}:{db_id}".encode()).decode()


def id_of(type_name: str, value: str | None) -> int | None:
    """The database ID of a global ID of `type_name` (one `global_id` made); None for anything else."""
    try:
        decoded = base64.b64decode(value or "", validate=True).decode()
    except (ValueError, UnicodeError):
        return None
    name, _, text = decoded.partition(":")
    return database_id(text) if name == type_name else None
