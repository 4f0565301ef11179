"""GET /calendar/<secret>.ics: a user's schedule for calendar apps, which cannot send a
bearer token; the secret in the path is the credential (resolvers/calendar_feed.py)."""

from __future__ import annotations

import hashlib
import logging
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database, database_unavailable
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.zones import zone_named
from sessiongraph.resolvers.calendar_feed import feed_span, read_feed, session_page, uid_domain
from sessiongraph.resolvers.icalendar_writer import feed_calendar

log = logging.getLogger("sessiongraph")

PATH = "/calendar/{secret}.ics"
MEDIA_TYPE = "text/calendar; charset=utf-8"
# Calendar apps revalidate with If-None-Match; nothing in between may keep a copy of a
# secret URL's answer, nor send the URL on as a referrer.
HEADERS = {"Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def calendar_feed_endpoint(database: Database, clock: Clock, settings: Settings):
    domain = uid_domain(settings)

    async def calendar_feed(request: Request) -> Response:
        now = clock.now()
        try:
            found = await read_feed(database, request.path_params["secret"], now)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("cannot read a calendar feed: %s", error)
            retry_after = str(settings.service_unavailable_retry_after_seconds)
            return PlainTextResponse("The database is not answering; try again later.", status_code=503,
                                     headers={**HEADERS, "Retry-After": retry_after})
        if found is None:
            return PlainTextResponse("No such calendar feed.", status_code=404, headers=HEADERS)
        owner, entries = found
        body = feed_calendar(entries, zone=zone_named(owner.time_zone) or ZoneInfo("UTC"), span=feed_span(now),
                             name=f"{owner.name} · sessiongraph", uid_domain=domain,
                             page_url=lambda live_session_id: session_page(settings, live_session_id))
        etag = etag_of(body)
        if matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={**HEADERS, "ETag": etag})
        return Response(body, media_type=MEDIA_TYPE, headers={**HEADERS, "ETag": etag})

    return calendar_feed
