"""GraphiQL at /graphql, from files this package holds: it works with no network.

Strawberry's own page loads React, GraphiQL and its explorer plugin from unpkg.com, and stays on
"Loading…" offline. Ours (graphiql.html) is the same page pointing at the same files at the same
versions, committed in graphiql/ (graphiql/vendor.py fetches them and checks their SHA-256) and
served at /graphiql/. Its links are relative, so a path prefix in front of the service keeps them right.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ASSETS_DIR = HERE / "graphiql"
PAGE = (HERE / "graphiql.html").read_text(encoding="utf-8")

# Scripts and styles from the service only, requests to it only (the WebSocket of subscriptions
# included: 'self' covers ws: and wss: of the same host); GraphiQL's CSS embeds its fonts and icons
# as data: URLs. tests/test_graphiql.py runs a query and opens the docs and the explorer under it.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers=PAGE_HEADERS)


def graphiql_assets() -> Mount:
    """The page's files at /graphiql/, compressed (graphiql's bundle is 3.5 MB, some 700 kB gzipped)."""
    files = StaticFiles(directory=ASSETS_DIR)
    return Mount("/graphiql", GZipMiddleware(files, minimum_size=1024), name="graphiql")
