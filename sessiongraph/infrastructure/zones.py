"""Time zones: the rules of the pinned `tzdata` package, never the host's files.

zoneinfo looks in the host's TZPATH before tzdata, and hosts differ: one has `right/`
zones (which count leap seconds and put a session on the wrong local day), `posix/`
copies, `localtime`; another has older rules. With the path emptied, every host reads the
same rules from the package the lock pins. This runs when sessiongraph.infrastructure is
first imported (its __init__), before any zone is built.
"""

from __future__ import annotations

import zoneinfo

zoneinfo.reset_tzpath(to=[])
zoneinfo.ZoneInfo.clear_cache()

# Names in tzdata that are no place: "Factory" is a placeholder zone with the abbreviation "-00".
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})

ZONE_NAMES = frozenset(name for name in zoneinfo.available_timezones()
                       if name not in _NOT_PLACES and not name.startswith(("right/", "posix/")))


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of an IANA name a user may choose; None for any other text."""
    return zoneinfo.ZoneInfo(name) if name in ZONE_NAMES else None


def shown(name: str) -> str:
    """A name as an error message repeats it: a 10 KB "zone" is not echoed whole."""
    return repr(name if len(name) <= 64 else name[:64] + "…")
