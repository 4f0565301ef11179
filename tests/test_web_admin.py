"""The web client's admin screens (clients/web/app/admin.js), driven in headless Chromium against a running
service in trusted-documents-only mode, at desktop and phone width, with the clock frozen: the session list
(search, filters, pages, counts) and the session form (windows, the coach-window warning, duration sessions,
courses and course coaches), each refused input shown beside its field and a failed request retried.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.demo import load_demo
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.models.events import EventType
from tests.test_exports import xlsx_rows
from tests.test_web_client import ARTIFACTS, app, browser  # noqa: F401 (fixtures)

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
ADMIN_ZONE = ZoneInfo("Europe/Paris")  # the demo admin's; the browser is elsewhere, to show it is not used
BROWSER_ZONE = "America/New_York"
# Nothing runs past the screen's right edge, so the page never scrolls sideways: the boxes whose content
# is wider than they are (none), the page's own first. A text field scrolls its own text: that is no cut.
PAST_THE_EDGE = """() => [document.documentElement, ...document.querySelectorAll("#view-admin *, header *")]
  .filter((node) => !["INPUT", "SELECT", "TEXTAREA"].includes(node.tagName))
  .filter((node) => getComputedStyle(node).display !== "inline" && node.scrollWidth > node.clientWidth + 0.5)
  .map((node) => `${node.tagName.toLowerCase()}#${node.id}.${node.className}: ${node.textContent.slice(0, 60)}`)"""
BULK = 15  # sessions added to the demo's, so that the list has two pages of 20


async def open_admin(browser, live_server, database, clock, settings, viewport, *, fail_once: str | None = None):
    """The demo platform with BULK more sessions, and the admin's page open at the given width; the first
    request for `fail_once` (an operation name) is aborted, as a dropped network would."""
    await load_demo(database, clock.now())
    async with database.write() as db:
        admin = await db.scalar(select(models.User).where(models.User.email == "admin@example.com"))
        for k in range(BULK):
            start = clock.now() + timedelta(days=100 + k)
            db.add(models.Session(name=f"Bulk session {k:02}", access_start=start, access_end=start + timedelta(days=9)))
    context = await browser.new_context(viewport=viewport, timezone_id=BROWSER_ZONE)
    page = await context.new_page()
    await page.clock.set_fixed_time(clock.now())
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    if fail_once:
        await drop_next(page, fail_once)
    await page.goto(f"http://{live_server}/app/?token={issue_token(admin.id, settings, clock.now())}")
    return page, problems


async def drop_next(page, operation: str) -> None:
    """The page's next request for the operation is aborted, as a dropped network would."""
    async def handler(route):
        if f'"{operation}"' in (route.request.post_data or ""):
            await route.abort()
            return await page.unroute("**/graphql", handler)
        await route.continue_()

    await page.route("**/graphql", handler)


async def texts(locator) -> list[str]:
    return [text.strip() for text in await locator.all_text_contents()]


async def all_sessions(database) -> list[models.Session]:
    async with database.read() as db:
        return list((await db.scalars(select(models.Session))).all())


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_the_session_list_searches_filters_and_pages(browser, live_server, database, clock, settings,
                                                           width):
    # given: the admin's page, whose first load of the list fails
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width],
                                      fail_once="SessionList")
    body = page.locator("#admin-sessions-body")
    rows = body.locator("tbody tr")

    # then: the failure is said, with a Retry that loads the list
    await body.locator("button.retry").click()
    await rows.first.wait_for()
    sessions = await all_sessions(database)
    assert await page.locator("#admin-sessions-count").text_content() == f"{len(sessions)} sessions"
    assert await rows.count() == 20
    assert await page.locator("#admin-sessions-page").text_content() == "Page 1 of 2"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-sessions-{width}.png", full_page=True)

    # when: the next page
    first_page = await texts(body.locator("button.admin-open"))
    await page.click("#admin-sessions-next")
    await page.locator("#admin-sessions-page", has_text="Page 2 of 2").wait_for()

    # then: the rest, sorted by start, none twice
    second_page = await texts(body.locator("button.admin-open"))
    assert len(second_page) == len(sessions) - 20 and not set(first_page) & set(second_page)
    assert second_page == [f"Bulk session {k:02}" for k in range(BULK - len(second_page), BULK)]
    assert await page.locator("#admin-sessions-next").is_disabled()

    # when: only the active sessions
    await page.select_option("#admin-sessions-status", "ACTIVE")
    await page.click(".admin-filters button[type=submit]")
    active = [s for s in sessions if s.status(clock.now()).value == "ACTIVE"]
    await page.locator("#admin-sessions-count", has_text=f"{len(active)} sessions").wait_for()

    # then: those, and each row's counts are the session's
    assert sorted(await texts(body.locator("button.admin-open"))) == sorted(s.name for s in active)
    assert set(await texts(body.locator(".admin-status"))) == {"Active"}
    named = next(s for s in active if s.access_start is not None)
    async with database.read() as db:
        learners = await db.scalar(select(func.count()).select_from(models.Enrollment)
                                   .where(models.Enrollment.session_id == named.id))
        courses = await db.scalar(select(func.count()).select_from(models.SessionCourse)
                                  .where(models.SessionCourse.session_id == named.id))
    row = body.locator("tbody tr", has=page.locator("button.admin-open", has_text=named.name))
    assert (await row.locator(".admin-learners").text_content(), await row.locator(".admin-courses").text_content()) \
        == (str(learners), str(courses))

    # when: a name and a category, any status
    await page.select_option("#admin-sessions-status", "")
    await page.fill("#admin-sessions-search", "onboarding")
    await page.select_option("#admin-sessions-category", label="Onboarding")
    await page.click(".admin-filters button[type=submit]")
    async with database.read() as db:
        onboarding = await db.scalar(select(models.SessionCategory.id).where(models.SessionCategory.name == "Onboarding"))
    expected = sorted(s.name for s in sessions if "onboarding" in s.name.lower() and s.category_id == onboarding)
    await page.locator("#admin-sessions-count", has_text=f"{len(expected)} sessions").wait_for()
    assert sorted(await texts(body.locator("button.admin-open"))) == expected

    # when: a date range, in the admin's zone: the sessions whose access overlaps those days
    today = clock.now().astimezone(ADMIN_ZONE).date()
    first, last = today + timedelta(days=25), today + timedelta(days=50)
    await page.fill("#admin-sessions-search", "")
    await page.select_option("#admin-sessions-category", "")
    await page.fill("#admin-sessions-from", first.isoformat())
    await page.fill("#admin-sessions-to", last.isoformat())
    await page.click(".admin-filters button[type=submit]")
    begins = datetime.combine(first, time(), ADMIN_ZONE)
    ends = datetime.combine(last + timedelta(days=1), time(), ADMIN_ZONE)
    overlapping = sorted(s.name for s in sessions if (s.access_start is None or s.access_start <= ends)
                         and (s.access_end is None or s.access_end >= begins))
    await page.locator("#admin-sessions-count", has_text=f"{len(overlapping)} sessions").wait_for()
    assert sorted(await texts(body.locator("button.admin-open"))) == overlapping
    assert 0 < len(overlapping) < len(sessions)
    shown = await page.locator("#view-admin").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown
    assert await page.evaluate(PAST_THE_EDGE) == []
    await page.screenshot(path=ARTIFACTS / f"web-admin-sessions-filtered-{width}.png", full_page=True)
    assert problems == []


def local(day, hour: int) -> datetime:
    return datetime.combine(day, time(hour), ADMIN_ZONE)


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_the_session_form_creates_and_edits_a_session(browser, live_server, database, clock, settings,
                                                            width):
    # given: the admin's page
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width])
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()
    before = len(await all_sessions(database))
    day = clock.now().astimezone(ADMIN_ZONE).date() + timedelta(days=20)

    # when: a new session with a name taken and an access window that ends before it starts
    await page.click("#admin-nav [data-screen=session-form]")
    await page.fill("#admin-session-name", "Spring onboarding")
    await page.fill("#admin-accessWindow-start", f"{day}T10:00")
    await page.fill("#admin-accessWindow-end", f"{day - timedelta(days=1)}T10:00")
    await page.click("#admin-session-form button[type=submit]")

    # then: each error beside its field, nothing saved
    await page.locator("#admin-session-name-error").wait_for()
    assert "exists" in await page.locator("#admin-session-name-error").text_content()
    assert "ends before it starts" in await page.locator("#admin-accessWindow-end-error").text_content()
    assert await page.get_attribute("#admin-accessWindow-end", "aria-invalid") == "true"
    assert await page.locator("#admin-displayWindow-end-error").count() == 0
    assert len(await all_sessions(database)) == before
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-session-errors-{width}.png", full_page=True)

    # when: fixed, with a description, a category, a visibility, a coach window that opens after the
    # learners', a coach and a course
    await page.fill("#admin-session-name", "Web onboarding")
    await page.fill("#admin-session-description", "For the spring hires")
    await page.select_option("#admin-session-category", label="Onboarding")
    await page.select_option("#admin-session-visibility", "INVISIBLE")
    await page.fill("#admin-accessWindow-end", f"{day + timedelta(days=30)}T18:00")
    await page.fill("#admin-coachAccessWindow-start", f"{day + timedelta(days=1)}T09:00")
    await page.fill("#admin-coach-search", "Carla")
    await page.click("#admin-session-form .admin-picker button:text('Find')")
    await page.click("#admin-session-form .admin-results button:text('Choose')")
    await page.fill("#admin-course-search", "English")
    await page.click("#admin-courses-form .admin-picker button:text('Find')")
    course_name = (await page.locator("#admin-courses-form .admin-results li").first.text_content()).removesuffix("Add")
    await page.locator("#admin-courses-form .admin-results button").first.click()
    await page.locator("#admin-courses-form .admin-course").wait_for()
    await page.click("#admin-session-form button[type=submit]")

    # then: created, the form now edits it, and the warning sits beside the coach access window
    await page.locator("#admin-session-form h2", has_text="Edit Web onboarding").wait_for()
    warning = page.locator("fieldset[name=coachAccessWindow] .field-warning")
    assert "does not cover" in await warning.text_content()
    async with database.read() as db:
        made = await db.scalar(select(models.Session).where(models.Session.name == "Web onboarding"))
        coach = await db.scalar(select(models.User).where(models.User.id == made.coach_id))
        category = await db.scalar(select(models.SessionCategory.name).where(
            models.SessionCategory.id == made.category_id))
        course_codes = (await db.scalars(select(models.Course.code).join(models.SessionCourse).where(
            models.SessionCourse.session_id == made.id))).all()
    assert (made.access_start, made.access_end) == (local(day, 10), local(day + timedelta(days=30), 18))
    assert made.coach_start == local(day + timedelta(days=1), 9) and made.coach_end is None
    assert coach.name == "Carla Coach" and made.duration_days is None
    assert (made.description, category, made.visibility) == ("For the spring hires", "Onboarding", "INVISIBLE")
    assert await page.locator("#admin-session-visibility").input_value() == "INVISIBLE"
    assert list(course_codes) == [course_name.split(" · ")[0].strip()]
    await page.screenshot(path=ARTIFACTS / f"web-admin-session-created-{width}.png", full_page=True)

    # when: a coach for the course
    await page.click("#admin-courses-form details summary")
    await page.fill("#admin-coach-for-0", "Carla")
    await page.click("#admin-courses-form details button:text('Find')")
    await page.click("#admin-courses-form details .admin-results button")

    # then: shown and saved
    await page.locator("#admin-courses-form .admin-coach", has_text="Carla Coach").wait_for()
    async with database.read() as db:
        coaches = (await db.scalars(select(models.SessionCourseCoach.user_id).where(
            models.SessionCourseCoach.session_id == made.id))).all()
    assert list(coaches) == [coach.id]

    # when: a second course, moved before the first
    first_code = course_codes[0]
    await page.fill("#admin-course-search", "English")
    await page.click("#admin-courses-form > .admin-picker button:text('Find')")
    await page.locator("#admin-courses-form > .admin-picker .admin-results li").nth(1).wait_for()
    second = (await page.locator("#admin-courses-form > .admin-picker .admin-results li").nth(1).text_content())
    second_code = second.split(" · ")[0].strip()
    await page.locator("#admin-courses-form > .admin-picker .admin-results button").nth(1).click()
    await page.click(f"button[aria-label='Move {second_code} up']")

    # then: saved in that order, the first course keeping its coach
    courses = page.locator("#admin-courses-form .admin-course .course-code")
    await page.wait_for_function(f"document.querySelector('#admin-courses-form .admin-course .course-code')"
                                 f".textContent === {second_code!r}")
    assert await texts(courses) == [second_code, first_code]
    async with database.read() as db:
        order = (await db.scalars(select(models.Course.code).join(models.SessionCourse).where(
            models.SessionCourse.session_id == made.id).order_by(models.SessionCourse.position))).all()
        coaches = (await db.scalars(select(models.SessionCourseCoach.user_id).where(
            models.SessionCourseCoach.session_id == made.id))).all()
    assert (list(order), list(coaches)) == ([second_code, first_code], [coach.id])

    # when: removed again
    await page.click(f"#admin-courses-form button:text('Remove {second_code}')")
    await page.locator("#admin-courses-form output[name=courseIds]", has_text="1 course").wait_for()
    async with database.read() as db:
        order = (await db.scalars(select(models.Course.code).join(models.SessionCourse).where(
            models.SessionCourse.session_id == made.id))).all()
    assert list(order) == [first_code]

    # when: a duration session of 0 days
    await page.check("input[name=accessMode][value=duration]")
    assert await page.locator("#admin-accessWindow-start").is_disabled()
    await page.fill("#admin-session-duration", "0")
    await page.click("#admin-session-form button[type=submit]")

    # then: refused beside the days
    await page.locator("#admin-session-duration-error").wait_for()

    # when: 30 days, sent while the network drops, then sent again
    await page.fill("#admin-session-duration", "30")
    await drop_next(page, "UpdateSession")
    await page.click("#admin-session-form button[type=submit]")
    await page.locator("#admin-session-form .form-error", has_text="Could not send this").wait_for()
    await page.click("#admin-session-form button[type=submit]")

    # then: saved as a duration session, with no access dates
    await page.locator("#admin-session-form .admin-saved", has_text="Saved.").wait_for()
    async with database.read() as db:
        saved = await db.get(models.Session, made.id)
    assert (saved.duration_days, saved.access_start, saved.access_end) == (30, None, None)
    assert await page.locator("#admin-session-duration").input_value() == "30"
    shown = await page.locator("#view-admin").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown
    assert await page.evaluate(PAST_THE_EDGE) == []
    await page.screenshot(path=ARTIFACTS / f"web-admin-session-duration-{width}.png", full_page=True)
    assert problems == []


async def enrolled(database, name: str) -> list[tuple[str, int | None]]:
    """The e-mail addresses enrolled in the session of that name, and the class each came with."""
    async with database.read() as db:
        return sorted((await db.execute(
            select(models.User.email, models.Enrollment.class_id).join(models.Enrollment)
            .join(models.Session, models.Session.id == models.Enrollment.session_id)
            .where(models.Session.name == name))).all())


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_enrolment_by_person_by_class_and_by_csv_file(browser, live_server, database, clock, settings,
                                                            width):
    # given: the admin's page, whose first load of a session's learners fails
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width],
                                      fail_once="SessionEditor")
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()

    # when: Enrolment, in a session nobody is enrolled in
    await page.click("#admin-nav [data-screen=enrolment]")
    await page.fill("#admin-enrol-session-search", "Bulk session 00")
    await page.press("#admin-enrol-session-search", "Enter")
    await page.click("#view-admin .admin-results button[aria-label='Choose Bulk session 00']")

    # then: the failed load offers a Retry, which loads it
    await page.locator("#admin-enrol-session button.retry").click()
    count = page.locator("#admin-enrol-count")
    await count.wait_for()
    assert await count.text_content() == "0 learners"

    # when: one person, twice
    people = page.locator("#admin-enrol-users")
    await page.fill("#admin-enrol-user-search", "Lena")
    await page.press("#admin-enrol-user-search", "Enter")
    await people.locator(".admin-results button").first.click()
    await people.locator(".notice", has_text="Lena Learner is enrolled.").wait_for()
    await people.locator(".admin-results button").first.click()
    await people.locator(".notice", has_text="Lena Learner was already enrolled.").wait_for()

    # then
    assert await count.text_content() == "1 learner"
    assert await enrolled(database, "Bulk session 00") == [("learner@example.com", None)]

    # when: a class
    classes = page.locator("#admin-enrol-class")
    await page.fill("#admin-enrol-class-search", "Sales")
    await page.press("#admin-enrol-class-search", "Enter")
    await classes.locator(".admin-results button").first.click()

    # then: its members, remembered as enrolled with it
    await classes.locator(".notice", has_text="Sales team 2026: 40 members enrolled, 0 already were.").wait_for()
    assert await count.text_content() == "41 learners"
    async with database.read() as db:
        sales = await db.scalar(select(models.UserClass.id).where(models.UserClass.name == "Sales team 2026"))
    assert [class_id for _, class_id in await enrolled(database, "Bulk session 00")].count(sales) == 40
    await page.locator("#admin-enrol-learners tbody tr").first.wait_for()
    assert await page.locator("#admin-enrol-learners tbody tr").count() == 41
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-enrolment-{width}.png", full_page=True)

    # when: a CSV file with a good row and two bad ones
    csv = ("session,email\nBulk session 01,learner@example.com\nNo such session,learner@example.com\n"
           "Bulk session 01,nobody@example.com\n")
    await page.set_input_files("#admin-import-file", files=[{"name": "enrol.csv", "mimeType": "text/csv",
                                                            "buffer": csv.encode()}])
    await page.click("#admin-import button[type=submit]")

    # then: refused, each row error by line and column, and nothing written
    result = page.locator("#admin-import-result")
    await result.locator(".admin-refused").wait_for()
    cells = [await texts(row.locator("td")) for row in await result.locator("tbody tr").all()]
    assert [(line, column) for line, column, _, _ in cells] == [("3", "session"), ("4", "email")], cells
    assert all(message for *_, message in cells)
    assert "Nothing was imported" in await result.locator(".admin-refused").text_content()
    assert await enrolled(database, "Bulk session 01") == []
    await page.screenshot(path=ARTIFACTS / f"web-admin-import-refused-{width}.png", full_page=True)

    # when: the file fixed
    csv = "session,email\nBulk session 01,learner@example.com\nBulk session 01,coach@example.com\n"
    await page.set_input_files("#admin-import-file", files=[{"name": "enrol.csv", "mimeType": "text/csv",
                                                            "buffer": csv.encode()}])
    await page.click("#admin-import button[type=submit]")

    # then: imported and counted
    await result.locator(".admin-imported").wait_for()
    assert await result.locator(".admin-imported").text_content() == \
        "Imported the enrollments file: 2 created, 0 updated, 0 already enrolled."
    assert [email for email, _ in await enrolled(database, "Bulk session 01")] == ["coach@example.com",
                                                                                  "learner@example.com"]
    assert await page.evaluate(PAST_THE_EDGE) == []
    assert problems == []


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_tracking_shows_a_session_s_learners_and_exports_them(browser, live_server, database, clock,
                                                                    settings, http, width):
    # given: the admin's page, whose first load of a tracking fails
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width],
                                      fail_once="SessionTracking")
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()
    async with database.read() as db:
        session_id = await db.scalar(select(models.Session.id).where(models.Session.name == "Spring onboarding"))
        names = set((await db.scalars(select(models.User.name).join(models.Enrollment)
                                      .where(models.Enrollment.session_id == session_id))).all())
        learners = await db.scalar(select(func.count()).select_from(models.Enrollment)
                                   .where(models.Enrollment.session_id == session_id))

    # when: Tracking of a session
    await page.click("#admin-nav [data-screen=tracking]")
    await page.fill("#admin-tracking-session-search", "Spring onboarding")
    await page.press("#admin-tracking-session-search", "Enter")
    await page.click("#view-admin .admin-results button[aria-label='Choose Spring onboarding']")

    # then: a Retry, then its learners, a page at a time, with the totals
    await page.locator("#admin-tracking-session button.retry").click()
    totals = page.locator("#admin-tracking-totals")
    await totals.wait_for()
    assert (await texts(totals.locator("dd")))[0] == str(learners)
    rows = page.locator("#admin-tracking-session tbody tr:not(.admin-totals)")
    assert await rows.count() == min(learners, 50)
    assert set(await texts(rows.locator("td:first-child"))) <= names
    assert await page.locator("#admin-tracking-page").text_content() == f"Page 1 of {-(-learners // 50)}"
    assert await page.locator("tr.admin-totals").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-tracking-{width}.png", full_page=True)

    # when: exported as CSV while the network drops, then again
    await drop_next(page, "ExportTracking")
    await page.click("#admin-export button[type=submit]")
    await page.locator("#admin-export .form-error", has_text="Could not send this").wait_for()
    await page.click("#admin-export button[type=submit]")

    # then: a download link to the file, every learner in it
    link = page.locator("#admin-export-link a")
    await link.wait_for()
    url = await link.get_attribute("href")
    download = await http.get(url.removeprefix(settings.public_url))
    assert download.status_code == 200 and "text/csv" in download.headers["content-type"]
    assert all(name in download.text for name in names)

    # when: exported as XLSX
    await page.select_option("#admin-export-format", "XLSX")
    await page.click("#admin-export button[type=submit]")

    # then: a new link, to a workbook (a zip) whose rows are the session's learners, one each
    xlsx = page.locator("#admin-export-link a", has_text="(XLSX)")
    await xlsx.wait_for()
    assert await page.locator("#admin-export-link a").count() == 1
    assert await xlsx.get_attribute("href") != url
    workbook = await http.get((await xlsx.get_attribute("href")).removeprefix(settings.public_url))
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    assert workbook.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = xlsx_rows(workbook.content)
    assert rows[0][:2] == ["learner", "email"]
    assert len(rows) - 1 == learners and {row[0] for row in rows[1:]} == names
    await page.screenshot(path=ARTIFACTS / f"web-admin-tracking-xlsx-{width}.png", full_page=True)
    assert await page.evaluate(PAST_THE_EDGE) == []
    assert problems == []


async def user(database, email: str) -> models.User | None:
    async with database.read() as db:
        return await db.scalar(select(models.User).where(models.User.email == email))


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_users_are_found_created_edited_deactivated_and_imported(browser, live_server, database, clock,
                                                                      settings, width):
    # given: the admin's page, whose first load of the users fails
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width],
                                      fail_once="AdminUserList")
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()

    # when: Users
    await page.click("#admin-nav [data-screen=users]")

    # then: a Retry, then everyone, counted
    await page.locator("#admin-users-list button.retry").click()
    rows = page.locator("#admin-users-list tbody tr")
    await rows.first.wait_for()
    async with database.read() as db:
        everyone = await db.scalar(select(func.count()).select_from(models.User))
    assert await page.locator("#admin-users-count").text_content() == f"{everyone} users"

    # when: a search
    await page.fill("#admin-users-search", "Carla")
    await page.click("#view-admin form[role=search] button[type=submit]")
    await page.locator("#admin-users-count", has_text="1 user").wait_for()
    assert await texts(rows.locator("td:first-child")) == ["Carla Coach"]

    # when: a new user in no time zone, then with an e-mail address taken, then right
    await page.click("#admin-user-new")
    await page.fill("#admin-user-name", "Web Person")
    await page.fill("#admin-user-email", "coach@example.com")
    await page.fill("#admin-user-zone", "Mars/Olympus")
    await page.click("#admin-user-form button[type=submit]")
    await page.locator("#admin-user-zone-error", has_text="not an IANA time zone").wait_for()
    await page.fill("#admin-user-zone", "Europe/Lisbon")
    await page.click("#admin-user-form button[type=submit]")
    await page.locator("#admin-user-email-error", has_text="exists").wait_for()
    assert await page.locator("#admin-user-zone-error").count() == 0
    await page.fill("#admin-user-email", "web.person@example.com")
    await page.click("#admin-user-form button[type=submit]")

    # then: created, with an invitation link to pass on
    await page.locator(".admin-user-saved", has_text="Created Web Person.").wait_for()
    assert "#invitation=" in await page.locator("#admin-user-invitation").input_value()
    made = await user(database, "web.person@example.com")
    assert (made.name, made.time_zone, made.is_admin, made.active) == ("Web Person", "Europe/Lisbon", False, True)

    # when: found, and deactivated
    await page.fill("#admin-users-search", "Web Person")
    await page.click("#view-admin form[role=search] button[type=submit]")
    await page.locator("#admin-users-count", has_text="1 user").wait_for()
    await page.click("button[aria-label='Deactivate Web Person']")

    # then
    await page.locator("button[aria-label='Reactivate Web Person']").wait_for()
    assert (await user(database, "web.person@example.com")).active is False

    # when: edited
    await page.click("button[aria-label='Edit Web Person']")
    await page.fill("#admin-user-name", "Web Person Renamed")
    await page.select_option("#admin-user-week", "SUNDAY")
    await page.click("#admin-user-form button[type=submit]")

    # then
    await page.locator(".admin-user-saved", has_text="Saved Web Person Renamed.").wait_for()
    edited = await user(database, "web.person@example.com")
    assert (edited.name, edited.week_start, edited.active) == ("Web Person Renamed", "SUNDAY", False)

    # when: the admin tries to deactivate themselves
    await page.fill("#admin-users-search", "Ada")
    await page.click("#view-admin form[role=search] button[type=submit]")
    await page.locator("#admin-users-count", has_text="1 user").wait_for()
    await page.click("button[aria-label='Deactivate Ada Admin']")

    # then: refused, said with the list
    await page.locator("#admin-users-list .form-error", has_text="cannot deactivate").wait_for()
    assert (await user(database, "admin@example.com")).active is True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-users-{width}.png", full_page=True)

    # when: a users file with a bad time zone, then fixed
    result = page.locator("#admin-users-import-result")
    for zone in ("Nowhere/Special", "Asia/Tokyo"):
        csv = f"email,name,time_zone\nimported@example.com,Imported Person,{zone}\n"
        await page.set_input_files("#admin-users-import-file", files=[{"name": "users.csv", "mimeType": "text/csv",
                                                                      "buffer": csv.encode()}])
        await page.click("#admin-users-import button[type=submit]")
        if zone == "Nowhere/Special":
            # then: refused by line and column, nobody created
            await result.locator(".admin-refused").wait_for()
            assert (await texts(result.locator("tbody tr td")))[:2] == ["2", "time_zone"]
            assert await user(database, "imported@example.com") is None

    # then: created
    await result.locator(".admin-imported", has_text="Imported the users file: 1 created, 0 updated, 0 unchanged.").wait_for()
    assert (await user(database, "imported@example.com")).time_zone == "Asia/Tokyo"
    assert await page.evaluate(PAST_THE_EDGE) == []
    assert problems == []


def test_the_webhook_form_offers_every_event_type_the_service_sends():
    source = (Path(__file__).parent.parent / "clients/web/app/admin.js").read_text()
    listed = re.search(r"export const EVENT_TYPES = \[(.*?)\];", source, re.S)

    assert listed and re.findall(r'"([a-z_.]+)"', listed.group(1)) == [t.value for t in EventType]


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_webhook_endpoints_are_listed_created_with_their_secret_read_and_deleted(
        browser, live_server, database, clock, settings, width):
    # given: the admin's page, whose first load of the endpoints fails
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width],
                                      fail_once="WebhookEndpoints")
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete the endpoint …?"
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()
    async with database.write() as db:
        demo_endpoint = await db.scalar(select(models.WebhookEndpoint))
        # Its log: one delivered, one failing and to be tried again.
        db.add_all([models.WebhookDelivery(
            endpoint_id=demo_endpoint.id, event_id=k + 1, event_type="booking.created", webhook_id=f"msg_web{k}",
            body="{}", created_at=clock.now(), attempts=k + 1, status=status, response_status=code,
            last_attempt_at=clock.now(), next_attempt_at=clock.now() + timedelta(minutes=5) if k else None)
            for k, (status, code) in enumerate([("DELIVERED", 200), ("PENDING", 503)])])

    # when: Webhooks
    await page.click("#admin-nav [data-screen=webhooks]")

    # then: a Retry, then the demo's endpoint
    await page.locator("#admin-webhooks-list button.retry").click()
    rows = page.locator("#admin-webhooks-list tbody tr")
    await rows.first.wait_for()
    assert await texts(rows.locator(".admin-url")) == [demo_endpoint.url]

    # when: its deliveries
    await page.click(f"button[aria-label='Deliveries to {demo_endpoint.url}']")
    await page.locator("#admin-deliveries h3").wait_for()

    # then: its log, newest first
    log = page.locator("#admin-deliveries tbody tr")
    now, retry = (f"{moment.astimezone(ADMIN_ZONE):%a %-d %b %H:%M}" for moment in (clock.now(), clock.now() + timedelta(minutes=5)))
    assert [await texts(row.locator("td")) for row in await log.all()] == [
        ["booking.created", "msg_web1", "Pending", "2", now, "503", retry],
        ["booking.created", "msg_web0", "Delivered", "1", now, "200", "—"]]

    # when: an endpoint at a private address, for no event
    await page.fill("#admin-webhook-url", "https://127.0.0.1/hooks")
    await page.click("#admin-webhook-form button[type=submit]")

    # then: each refusal beside its field, nothing made
    await page.locator("#admin-webhook-url-error").wait_for()
    assert await page.locator("#admin-webhook-form fieldset[name=eventTypes] + .field-error").count() == 1
    async with database.read() as db:
        assert await db.scalar(select(func.count()).select_from(models.WebhookEndpoint)) == 1

    # when: a public address, for bookings made
    await page.fill("#admin-webhook-url", "https://93.184.216.34/hooks")
    await page.fill("#admin-webhook-description", "CRM")
    await page.check("#admin-webhook-form input[value='booking.created']")
    await page.click("#admin-webhook-form button[type=submit]")

    # then: its secret, shown once, and the endpoint listed
    secret = page.locator("#admin-webhook-secret-value")
    await secret.wait_for()
    await page.locator("#admin-webhooks-count", has_text="2 endpoints").wait_for()
    async with database.read() as db:
        made = await db.scalar(select(models.WebhookEndpoint).where(models.WebhookEndpoint.url == "https://93.184.216.34/hooks"))
    assert await secret.input_value() == made.secret and made.secret.startswith("whsec_")
    assert json.loads(made.event_types) == ["booking.created"] and made.description == "CRM"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-webhooks-{width}.png", full_page=True)

    # when: deleted
    await page.click("button[aria-label='Delete https://93.184.216.34/hooks']")

    # then: gone from the list and the database
    await page.locator("#admin-webhooks-count", has_text="1 endpoint").wait_for()
    async with database.read() as db:
        assert await db.get(models.WebhookEndpoint, made.id) is None
    assert await page.evaluate(PAST_THE_EDGE) == []
    assert problems == []


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_an_endpoint_s_delivery_log_pages_older_and_newer_with_each_status_and_attempts(
        browser, live_server, database, clock, settings, width):
    # given: the admin's page, and the demo endpoint's log of more deliveries than a page holds (20):
    # delivered, failed for good, and pending a retry
    page, problems = await open_admin(browser, live_server, database, clock, settings, VIEWPORTS[width])
    await page.locator("#admin-sessions-body tbody tr").first.wait_for()
    now = clock.now()
    outcomes = [("DELIVERED", 200, None), ("FAILED", 500, None), ("PENDING", 503, now + timedelta(minutes=5))]
    async with database.write() as db:
        endpoint = await db.scalar(select(models.WebhookEndpoint))
        db.add_all([models.WebhookDelivery(
            endpoint_id=endpoint.id, event_id=k + 1, event_type="booking.created", webhook_id=f"msg_page{k:02}",
            body="{}", created_at=now - timedelta(minutes=30 - k), attempts=k % 4 + 1, status=status,
            response_status=code, last_attempt_at=now - timedelta(minutes=30 - k), next_attempt_at=next_attempt)
            for k, (status, code, next_attempt) in ((k, outcomes[k % 3]) for k in range(27))])
    async with database.read() as db:
        log = [[d.webhook_id, d.status.title(), str(d.attempts), str(d.response_status)]
               for d in (await db.scalars(select(models.WebhookDelivery).where(
                   models.WebhookDelivery.endpoint_id == endpoint.id).order_by(models.WebhookDelivery.id.desc())))]
    assert len(log) == 27
    shown = page.locator("#admin-deliveries tbody tr")
    older, newer = page.locator("#admin-deliveries button", has_text="Older"), page.locator(
        "#admin-deliveries button", has_text="Newer")

    async def columns() -> list[list[str]]:
        return [[cells[1], cells[2], cells[3], cells[5]] for cells in
                [await texts(row.locator("td")) for row in await shown.all()]]

    # when: Webhooks, and the endpoint's deliveries
    await page.click("#admin-nav [data-screen=webhooks]")
    await page.click(f"button[aria-label='Deliveries to {endpoint.url}']")
    await page.locator("#admin-deliveries h3").wait_for()

    # then: the newest 20, each with its status, attempts and response; no newer page
    assert await columns() == log[:20]
    assert await newer.is_disabled() and await older.is_enabled()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-admin-deliveries-{width}.png", full_page=True)

    # when: Older, and the network drops that request
    await drop_next(page, "WebhookDeliveries")
    await older.click()

    # then: a Retry, which loads the older ones: the rest of the log, and no page after it
    await page.locator("#admin-deliveries button.retry").click()
    await shown.filter(has_text="msg_page06").wait_for()
    assert await columns() == log[20:]
    assert await older.is_disabled() and await newer.is_enabled()
    await page.screenshot(path=ARTIFACTS / f"web-admin-deliveries-older-{width}.png", full_page=True)

    # when: Newer
    await newer.click()

    # then: the newest 20 again
    await shown.filter(has_text="msg_page26").wait_for()
    assert await columns() == log[:20]
    shown_text = await page.locator("#view-admin").inner_text()
    assert "null" not in shown_text and "undefined" not in shown_text and "NaN" not in shown_text
    assert await page.evaluate(PAST_THE_EDGE) == []
    assert problems == []
