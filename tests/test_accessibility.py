"""Every state of the web pages passes axe-core's check with no serious or critical violation, at desktop and
phone widths: the sign-in and set-password forms; the learner's portal (its load error with Retry, the
dashboard with the upcoming list, the past list, a calendar day chosen, the week and day views, a course's
slots to book, Join turned on, the details dialog, a course's session history); the guardian's view (a child's
dashboard and reports, the calendar's load error, the other child, the month and week calendars); the
instructor's view (today's classes with Join, the absence requests' load error with Retry, then a request, a
class's learners with a refused feedback, availability with a refused recurrence rule, the published slots);
the admin's screens (sessions list, session form with its errors and with the coach-window warning, enrolment
with a CSV file's row errors, tracking, users with the create form's error, webhooks with a new endpoint's
secret); GraphiQL (with its documentation and explorer). tests/accessibility.py runs axe. The guardian,
instructor and admin views are opened, and walked, as tests/test_web_staff.py and tests/test_web_admin.py do,
with their helpers.

The browser tests need Debian's Chromium at /usr/bin/chromium, as tests/test_web_client.py does.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.accessibility import assert_accessible, axe_violations
from tests.test_web_admin import ADMIN_ZONE, open_admin
from tests.test_web_admin import VIEWPORTS as ADMIN_WIDTHS
from tests.test_web_client import ARTIFACTS, browser, learner_token  # noqa: F401  (browser: a fixture)
from tests.test_web_learner import drop_once
from tests.test_web_staff import PARIS, demo_user, open_view
from tests.test_web_staff import WIDTHS as STAFF_WIDTHS

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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
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
    # (a function, not an expression: Playwright evaluates an expression again at each poll with eval(), which
    # GraphiQL's Content-Security-Policy refuses once the answer is not there at the first look)
    await page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('Query')")
    await check(page, "GraphiQL")

    await page.locator("button[aria-label='Show Documentation Explorer']").click()
    await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).first.wait_for()
    await check(page, "GraphiQL's documentation")

    await page.locator("button[aria-label='Show GraphiQL Explorer']").click()
    await page.locator(".graphiql-explorer-root").wait_for()
    await check(page, "GraphiQL's explorer")


def named(page, width: str):
    """A page opened by another file's helper, named for check()'s screenshots and messages."""
    page.width_name = width
    return page


@pytest.mark.parametrize("width", sorted(STAFF_WIDTHS))
async def test_the_guardian_view(browser, live_server, database, clock, settings, width):
    _, token = await demo_user(database, clock, settings, "guardian@example.com")
    page, problems, _ = await open_view(browser, f"http://{live_server}", token, clock.now(), STAFF_WIDTHS[width],
                                        drop_once="ChildCalendar")
    named(page, width)
    await page.locator("#guardian-dashboard-body h3").first.wait_for()
    await page.locator("#guardian-reports-body tbody tr").first.wait_for()
    await page.locator("#guardian-calendar-body button.retry").wait_for()
    await check(page, "guardian: a child's dashboard, reports, the calendar's load error")

    await page.locator("#guardian-calendar-body button.retry").click()
    await page.locator("#guardian-calendar-body .day.today").wait_for()
    await check(page, "guardian: the month calendar")

    await page.locator("#guardian-switch button", has_text="Noah Guardian").click()
    await page.wait_for_function("document.getElementById('guardian-child-name').textContent === 'Noah Guardian'")
    await page.locator("#guardian-dashboard-body h3").first.wait_for()
    await check(page, "guardian: the other child chosen")

    await page.locator("#guardian-calendar [data-calendar-view=WEEK]").click()
    await page.locator("#guardian-calendar-body .guardian-week").wait_for()
    await check(page, "guardian: the week calendar")
    assert problems == []


@pytest.mark.parametrize("width", sorted(STAFF_WIDTHS))
async def test_the_instructor_view(browser, live_server, database, clock, settings, width):
    instructor, token = await demo_user(database, clock, settings, "instructor@example.com")
    now = clock.now()
    async with database.write() as db:
        teaches = await db.scalar(select(models.Instructor).where(models.Instructor.user_id == instructor.id))
        booking = await db.scalar(select(models.Booking).join(models.LiveSession).where(
            models.LiveSession.instructor_id == teaches.id, models.LiveSession.starts_at > now + timedelta(days=1),
            models.LiveSession.cancelled_at.is_(None), models.Booking.status == "BOOKED").limit(1))
        db.add(models.AbsenceRequest(booking_id=booking.id, reason="A family wedding", requested_at=now))
        ended = await db.scalar(select(models.LiveSession).where(
            models.LiveSession.instructor_id == teaches.id, models.LiveSession.ends_at < now,
            models.LiveSession.starts_at > now - timedelta(hours=6)))
    page, problems, _ = await open_view(browser, f"http://{live_server}", token, now, STAFF_WIDTHS[width],
                                        drop_once="TeachingAbsenceRequests")
    named(page, width)
    today = page.locator("#teach-today-body tbody tr")
    await today.first.wait_for()
    await page.locator("#teach-today-body button.join").first.wait_for()
    await page.locator("#teach-slots").wait_for()
    await page.locator("#teach-absences-body button.retry").wait_for()
    await check(page, "instructor: today's classes, availability and slots, the absences' load error")

    await page.locator("#teach-absences-body button.retry").click()
    await page.locator("#teach-absences-body form.teach-request").wait_for()
    await check(page, "instructor: an absence request")

    await today.filter(has_text=ended.code).get_by_role("button", name="Learners", exact=True).click()
    form = page.locator("#teach-class-body form.teach-attendance")
    await form.wait_for()
    first = form.locator("fieldset.teach-learner").first
    await first.locator("textarea").fill("x" * 5001)
    await form.locator("button[type=submit]").click()
    await first.locator("textarea + .field-error").wait_for()
    await check(page, "instructor: a class's learners, a feedback refused")

    publish = page.locator("form.teach-publish")
    date = (now.astimezone(PARIS) + timedelta(days=2)).date()
    await publish.locator("input[name=date]").fill(date.isoformat())
    await publish.locator("input[name=startsAt]").fill("06:15")
    await publish.locator("input[name=endsAt]").fill("07:00")
    await publish.locator("input[name=recurrence]").fill("FREQ=WEEKLY")
    await publish.locator("button[type=submit]").click()
    await publish.locator("#slot-recurrence + .field-error").wait_for()
    await check(page, "instructor: availability with its rule refused")

    await publish.locator("#slot-repeat").select_option(label="Every week, 4 times")
    await publish.locator("button[type=submit]").click()
    await page.locator("#slot-published:not([hidden])").wait_for()
    await page.locator("#teach-slots tbody tr", has_text="FREQ=WEEKLY;COUNT=4").first.wait_for()
    await check(page, "instructor: slots published and listed")
    assert problems == []


@pytest.mark.parametrize("width", sorted(ADMIN_WIDTHS))
async def test_the_admin_view(browser, live_server, database, clock, settings, width):
    page, problems = await open_admin(browser, live_server, database, clock, settings, ADMIN_WIDTHS[width])
    named(page, width)
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()
    await check(page, "admin: the sessions list")

    day = clock.now().astimezone(ADMIN_ZONE).date() + timedelta(days=20)
    await page.click("#admin-nav [data-screen=session-form]")
    await page.fill("#admin-session-name", "Spring onboarding")
    await page.fill("#admin-accessWindow-start", f"{day}T10:00")
    await page.fill("#admin-accessWindow-end", f"{day - timedelta(days=1)}T10:00")
    await page.click("#admin-session-form button[type=submit]")
    await page.locator("#admin-session-name-error").wait_for()
    await check(page, "admin: the session form with its errors")

    await page.fill("#admin-session-name", "Web onboarding")
    await page.fill("#admin-accessWindow-end", f"{day + timedelta(days=30)}T18:00")
    await page.fill("#admin-coachAccessWindow-start", f"{day + timedelta(days=1)}T09:00")
    await page.click("#admin-session-form button[type=submit]")
    await page.locator("fieldset[name=coachAccessWindow] .field-warning").wait_for()
    await check(page, "admin: the session form with the coach-window warning")

    await page.click("#admin-nav [data-screen=enrolment]")
    await page.fill("#admin-enrol-session-search", "Bulk session 00")
    await page.press("#admin-enrol-session-search", "Enter")
    await page.click("#view-admin .admin-results button[aria-label='Choose Bulk session 00']")
    await page.locator("#admin-enrol-count").wait_for()
    csv = "session,email\nNo such session,learner@example.com\nBulk session 01,nobody@example.com\n"
    await page.set_input_files("#admin-import-file", files=[{"name": "enrol.csv", "mimeType": "text/csv",
                                                            "buffer": csv.encode()}])
    await page.click("#admin-import button[type=submit]")
    await page.locator("#admin-import-result .admin-refused").wait_for()
    await check(page, "admin: enrolment with a file's row errors")

    await page.click("#admin-nav [data-screen=tracking]")
    await page.fill("#admin-tracking-session-search", "Spring onboarding")
    await page.press("#admin-tracking-session-search", "Enter")
    await page.click("#view-admin .admin-results button[aria-label='Choose Spring onboarding']")
    await page.locator("#admin-tracking-totals").wait_for()
    await check(page, "admin: tracking")

    await page.click("#admin-nav [data-screen=users]")
    await page.locator("#admin-users-list tbody tr").first.wait_for()
    await page.click("#admin-user-new")
    await page.fill("#admin-user-name", "Web Person")
    await page.fill("#admin-user-email", "web.person@example.com")
    await page.fill("#admin-user-zone", "Mars/Olympus")
    await page.click("#admin-user-form button[type=submit]")
    await page.locator("#admin-user-zone-error").wait_for()
    await check(page, "admin: users with the create form and its error")

    await page.click("#admin-nav [data-screen=webhooks]")
    await page.locator("#admin-webhooks-list tbody tr").first.wait_for()
    await page.fill("#admin-webhook-url", "https://93.184.216.34/hooks")
    await page.check("#admin-webhook-form input[value='booking.created']")
    await page.click("#admin-webhook-form button[type=submit]")
    await page.locator("#admin-webhook-secret-value").wait_for()
    await check(page, "admin: webhooks with a new endpoint's secret")
    assert problems == []
