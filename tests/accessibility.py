"""The accessibility check of the web pages: axe-core (tools/package-lock.json) run in the page by Playwright.

    await assert_accessible(page, "sign-in form, phone")

fails on any serious or critical violation of axe's rules (WCAG 2.x A and AA, and its best practices),
listing each rule with the elements it found and what to fix. Lesser ones (moderate, minor) are left to
review: axe rates them so because they seldom stop anyone using the page.
"""

from __future__ import annotations

from functools import cache

from tests.node_tools import node_tools

FAILING = ("serious", "critical")
SHOWN = 5  # elements listed per rule: the first few name the fix


@cache
def axe_source() -> str:
    return (node_tools() / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


async def axe_violations(page) -> list[dict]:
    """axe's violations in the page as it is now (open dialogs, chosen tabs and all)."""
    # Through evaluate, not a <script> tag: the DevTools protocol is not held by the page's
    # Content-Security-Policy (GraphiQL's allows scripts from the service only).
    if not await page.evaluate("() => Boolean(window.axe)"):
        await page.evaluate(axe_source())
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return result["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:SHOWN]:
            lines.append(f"      {' > '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = "; ".join(line.strip() for line in node.get("failureSummary", "").splitlines()[1:])
            if summary:
                lines.append(f"        {summary[:300]}")
        if len(violation["nodes"]) > SHOWN:
            lines.append(f"      and {len(violation['nodes']) - SHOWN} more")
    return "\n".join(lines)


async def assert_accessible(page, context: str) -> None:
    """Fails, listing them, when axe finds serious or critical violations in the page as it is now."""
    failing = [violation for violation in await axe_violations(page) if violation["impact"] in FAILING]
    assert not failing, f"accessibility violations in {context}:\n{describe(failing)}"
