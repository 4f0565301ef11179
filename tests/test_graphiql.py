"""GraphiQL at /graphql works with no network: its page names only files the service serves, from its
own package (sessiongraph/server/graphiql/, pinned by SHA-256 in graphiql_vendor.py).

The browser test needs Debian's Chromium at /usr/bin/chromium, as tests/test_web_client.py does.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote, urljoin

from sessiongraph.server import graphiql_vendor
from tests.test_web_client import ARTIFACTS, browser  # noqa: F401  (a fixture)

HTML = {"Accept": "text/html"}


def references(page: str) -> list[tuple[str, str | None]]:
    """(URL, integrity or None) of every file the page loads (data: URLs hold theirs)."""
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    found = []
    for tag in tags:
        url = re.search(r'\b(?:src|href)="([^"]+)"', tag)
        integrity = re.search(r'\bintegrity="([^"]+)"', tag)
        if url and not url.group(1).startswith("data:"):
            found.append((url.group(1), integrity.group(1) if integrity else None))
    return found


def test_the_committed_files_are_the_pinned_ones():
    assert graphiql_vendor.check() == []


async def test_the_page_names_no_other_host_and_every_file_it_names_is_served(http):
    page = await http.get("/graphql", headers=HTML)
    named = references(page.text)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"(?:https?:)?//", page.text.replace("http://www.w3.org", "")), "an address elsewhere"
    assert {url for url, _ in named} >= {f"graphiql/{pin.name}" for pin in graphiql_vendor.PINS
                                         if not pin.name.endswith(".txt")}
    for url, integrity in named:
        asset = await http.get(urljoin(str(page.url), url))
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith("text/css" if url.endswith(".css") else "text/javascript"), url
        if integrity is not None:
            algorithm, _, digest = integrity.partition("-")
            assert base64.b64encode(hashlib.new(algorithm, asset.content).digest()).decode() == digest, url


async def test_the_big_bundle_travels_compressed(http):
    bundle = await http.get("/graphiql/graphiql-3.8.3.min.js", headers={"Accept-Encoding": "gzip"})

    assert bundle.headers["content-encoding"] == "gzip"
    assert bundle.num_bytes_downloaded < len(bundle.content) / 3


async def test_production_serves_neither_the_page_nor_its_files(client_with):
    production = await client_with(environment="production")

    assert (await production.get("/graphql", headers=HTML)).status_code == 404
    assert (await production.get("/graphiql/start.js")).status_code == 404


async def test_graphiql_runs_a_query_with_the_network_cut_off(browser, live_server):
    # given: a browser that reaches this service and nothing else
    base = f"http://{live_server}"
    page = await browser.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)

    async def only_the_service(route):
        if route.request.url.startswith((base, base.replace("http", "ws"))) or route.request.url.startswith("data:"):
            await route.continue_()
        else:
            problems.append(f"left the service for {route.request.url}")
            await route.abort("internetdisconnected")

    await page.route("**/*", only_the_service)

    # when: GraphiQL opens with a query and it is run
    await page.goto(f"{base}/graphql?q={quote('{ __typename }')}")
    await page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    await page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response .CodeMirror")
    # (a function, not an expression: Playwright evaluates an expression again at each poll with eval(), which
    # GraphiQL's Content-Security-Policy refuses once the answer is not there at the first look)
    await page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('Query')")

    # and the documentation and the explorer plugin are opened
    await page.locator("button[aria-label='Show Documentation Explorer']").click()
    await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).first.wait_for()
    await page.locator("button[aria-label='Show GraphiQL Explorer']").click()
    await page.locator(".graphiql-explorer-root").wait_for()

    # then: the editor rendered the answer, and nothing left the machine or failed
    assert '"__typename": "Query"' in await response.evaluate("node => node.CodeMirror.getValue()")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "graphiql.png")
    assert problems == []
