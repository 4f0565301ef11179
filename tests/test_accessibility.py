"""Every state of the web pages passes axe-core's check with no serious or critical violation, at desktop and
phone widths: the sign-in and set-password forms; the learner's portal (its load error with Retry, the
dashboard with the upcoming list, the past list, a calendar day chosen, the week and day views, a course's
slots to book, Join turned on, the details dialog, a course's session history); GraphiQL (with its
documentation and explorer). tests/accessibility.py runs axe.

The browser tests need Debian's Chromium at /usr/bin/chromium, as tests/test_web_client.py does.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest

from tests.accessibility import assert_accessible, axe_violations
from tests.test_web_client import ARTIFACTS, browser, learner_token  # noqa: F401  (browser: a fixture)
from tests.test_web_learner import drop_once

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=WIDTHS)
async def page(request, browser, clock):
    context = await browser.new_context(viewport=WIDTHS[request.param])
    page = await context.new_page()
    await page.clock.set_fixed_time(clock.now())
    page.width_name = request.param
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield page
    await context.close()
    assert problems == []


async def check(page, state: str) -> None:
    context = f"{state}, {page.width_name}"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"accessibility-{re.sub(r'[^a-z0-9]+', '-', context.lower())}.png",
                          full_page=True)
    await assert_accessible(page, context)


async def test_the_check_fails_naming_each_serious_violation(page):
    # given: a page with an unnamed button, an image with no text and grey on white
    await page.set_content('<html lang="en"><title>t</title><main><h1>t</h1><img src="data:,"><button></button>'
                           '<p style="color:#ddd;background:#fff">faint</p></main></html>')

    # when
    with pytest.raises(AssertionError) as failure:
        await assert_accessible(page, "a bad page")

    # then: each rule is named with the element it found
    message = str(failure.value)
    assert message.startswith("accessibility violations in a bad page:")
    for rule, element in [("button-name", "<button></button>"), ("image-alt", "<img"), ("color-contrast", "faint")]:
        assert any(rule in line for line in message.splitlines()), rule
        assert element in message, element
    assert {violation["id"] for violation in await axe_violations(page)} >= {"button-name", "image-alt",
                                                                            "color-contrast"}


async def test_the_sign_in_and_set_password_forms(page, live_server, database, clock, settings):
    base = f"http://{live_server}"
    await learner_token(database, clock, settings)  # the demo platform

    await page.goto(f"{base}/app/")
    await page.locator("#sign-in-form").wait_for()
    await check(page, "sign-in form")

    await page.fill("#email-input", "learner@example.com")
    await page.fill("#password-input", "wrong password")
    await page.click("#sign-in-form button[type=submit]")
    await page.locator("#sign-in-error:not([hidden])").wait_for()
    await check(page, "sign-in form with its error")

    await page.goto(f"{base}/app/#invitation=an-invitation-token")
    await page.reload()
    await page.locator("#set-password-form").wait_for()
    await check(page, "set-password form")


async def test_the_learner_portal(page, live_server, database, clock, settings):
    token = await learner_token(database, clock, settings)

    base = f"http://{live_server}"
    await drop_once(page, base, "Me")
    await page.goto(f"{base}/app/?token={token}")
    await page.locator("#load-error:not([hidden])").wait_for()
    await check(page, "the page's load error")

    await page.click("#load-retry")
    await page.locator("#up-next button.join").wait_for()
    await page.locator("#list-body tbody tr").first.wait_for()
    await page.locator("#calendar-body .day.today").wait_for()
    await page.wait_for_function("document.getElementById('feed-url').value.endsWith('.ics')")
    await check(page, "dashboard")

    await page.click("#tab-past")
    await page.locator("#tab-past[aria-selected='true']").wait_for()
    await page.locator("#list-body tbody tr").first.wait_for()
    await check(page, "past sessions")

    await page.locator("#calendar-body .day.today").click()
    await page.locator("#day-body h3").wait_for()
    await check(page, "calendar with a day chosen")

    await page.get_by_role("tab", name="Week").click()
    await page.locator("#calendar-body .week").wait_for()
    await check(page, "week view")
    await page.get_by_role("tab", name="Day").click()
    await page.locator(".day-view").wait_for()
    await check(page, "day view")

    await page.locator("#book-courses tbody tr").first.get_by_role("button", name="See slots").click()
    await page.locator("#book-slots h3").wait_for()
    await check(page, "a course's slots to book")

    opens_at = clock.now() + timedelta(minutes=15)  # the next class's Join window (test_web_client.py)
    await page.clock.set_fixed_time(opens_at)
    clock.set(opens_at)
    await page.locator("#up-next button.join:not([disabled])").wait_for()
    await check(page, "Join on")

    await page.locator("#up-next button.secondary").click()
    await page.locator("#details-body .facts").wait_for()
    await check(page, "session details")

    await page.get_by_role("button", name="Course session history").click()
    await page.locator("#details-body .history-list").wait_for()
    await check(page, "a course's session history")


async def test_graphiql(page, live_server):
    await page.goto(f"http://{live_server}/graphql?q={quote('{ __typename }')}")
    await page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    await page.locator(".graphiql-execute-button").click()
    await page.wait_for_function(
        "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('Query')")
    await check(page, "GraphiQL")

    await page.locator("button[aria-label='Show Documentation Explorer']").click()
    await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).first.wait_for()
    await check(page, "GraphiQL's documentation")

    await page.locator("button[aria-label='Show GraphiQL Explorer']").click()
    await page.locator(".graphiql-explorer-root").wait_for()
    await check(page, "GraphiQL's explorer")
