"""The learner's flows in the web client (issue #20): the calendar's Day and Week views in the zones furthest
from UTC, booking (course search, slots, credits, the waitlist), the details window's Reschedule, Cancel
booking and Request Absence, the credits ledger and a course's session history; each at desktop and phone
width with the clock frozen, a refused input shown beside its field, and a failed load shown with a Retry
that works. Driven in headless Chromium against a live service in trusted-documents-only mode."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from sessiongraph import models
from sessiongraph.clients.documents import load_operations
from sessiongraph.schema.relay import from_global_id, to_global_id
from tests.test_client_operations import a_full_slot
from tests.test_web_client import ARTIFACTS, app, browser, learner_token  # noqa: F401  (fixtures)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WIDTHS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
WEB = {operation.name: operation for operation in load_operations("web")}


async def open_page(browser, base: str, token: str, now, viewport, *, time_zone: str | None = None, hash: str = "",
                    fail_once: str | None = None):
    """The learner's page, loaded; `fail_once` names an operation whose first request the network drops."""
    context = await browser.new_context(viewport=viewport, timezone_id=time_zone)
    page = await context.new_page()
    await page.clock.set_fixed_time(now)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"a browser dialog: {dialog.message}"))
    if fail_once:
        await drop_once(page, base, fail_once)
    await page.goto(f"{base}/app/?token={token}{hash}")
    await page.locator("#up-next button.join").wait_for()
    await page.locator("#calendar-body .day.today").wait_for()
    return page, problems


async def drop_once(page, base: str, operation: str) -> None:
    """The next request of `operation` fails as a dropped connection does; the ones after it go through."""
    dropped: list[str] = []

    async def route(route):
        body = json.loads(route.request.post_data or "{}")
        if body.get("operationName") == operation and not dropped:
            dropped.append(operation)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(f"{base}/graphql", route)


async def send(http, token: str, name: str, variables: dict) -> dict:
    """A web operation as the page sends it: by its hash alone."""
    response = await http.post("/graphql", headers={"Authorization": f"Bearer {token}"}, json={
        "operationName": name, "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": WEB[name].sha256}}})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def the_learner(database) -> models.User:
    async with database.read() as db:
        return await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))


async def balance_of(database, user_id: int) -> int:
    async with database.read() as db:
        return await db.scalar(select(models.CreditAccount.balance).where(models.CreditAccount.user_id == user_id))


async def booking_on_slot(database, user_id: int, slot_id: int) -> models.Booking | None:
    async with database.read() as db:
        return await db.scalar(select(models.Booking).join(
            models.BookableSlot, models.BookableSlot.live_session_id == models.Booking.live_session_id)
            .where(models.BookableSlot.id == slot_id, models.Booking.learner_id == user_id))


def gid_id(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


def day_heading(day: date) -> str:
    return f"{day:%a}, {day.day} {day:%b} {day.year}"


# ---------- the calendar's Day and Week views ----------


@pytest.mark.parametrize(("time_zone", "viewport"), [pytest.param("Pacific/Kiritimati", DESKTOP, id="UTC+14-desktop"),
                                                     pytest.param("Pacific/Pago_Pago", PHONE, id="UTC-11-phone")])
async def test_the_day_and_week_views_show_the_viewers_own_days(browser, live_server, database, clock, settings,
                                                              time_zone, viewport):
    # given: a learner (and their browser) in a zone furthest from UTC, at an hour when their day is not UTC's
    clock.set(clock.now().replace(hour=10, minute=30))  # 00:30 tomorrow in Kiritimati, 23:30 yesterday in Pago Pago
    token = await learner_token(database, clock, settings, time_zone=time_zone)
    base = f"http://{live_server}"
    page, problems = await open_page(browser, base, token, clock.now(), viewport, time_zone=time_zone)
    today = clock.now().astimezone(ZoneInfo(time_zone)).date()
    assert today != clock.now().date()
    counts = dict(await page.locator("#calendar-body .day").evaluate_all(
        "days => days.map(d => [d.dataset.date, parseInt(d.querySelector('.count')?.textContent ?? '0')])"))
    await drop_once(page, base, "CalendarTab")

    # when: they choose the Week view, and the network drops that request
    await page.get_by_role("tab", name="Week").click()

    # then: the calendar says so with a Retry, which shows the week
    await page.locator("#calendar-body button.retry").click()
    await page.locator("#calendar-body .week").wait_for()
    week = [date.fromisoformat(d) for d in await page.locator(".week-day").evaluate_all(
        "days => days.map(d => d.dataset.date)")]
    monday = today - timedelta(days=today.weekday())  # the learner's week starts on Monday
    assert week == [monday + timedelta(days=n) for n in range(7)]
    assert await page.locator(".week-day.today").get_attribute("data-date") == today.isoformat()
    for day in week:  # each session on the day it starts in the learner's zone, as the month shows it
        if day.isoformat() in counts:
            assert await page.locator(f'.week-day[data-date="{day}"] .chip').count() == counts[day.isoformat()]
    assert await page.locator("#month-next").get_attribute("aria-label") == "Next week"
    assert await page.get_by_role("tab", name="Week").get_attribute("aria-selected") == "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.locator(".calendar").screenshot(path=ARTIFACTS / f"web-learner-week-{viewport['width']}.png")

    # when: the next week, then back
    await page.click("#month-next")
    await page.locator(f'.week-day[data-date="{monday + timedelta(days=7)}"]').wait_for()
    await page.click("#month-prev")
    await page.locator(f'.week-day[data-date="{monday}"]').wait_for()

    # when: the Day view
    await page.get_by_role("tab", name="Day").click()
    await page.locator(".day-view").wait_for()

    # then: it is today, headed with today's date, with today's sessions, each opening its details
    assert await page.locator(".day-view").get_attribute("data-date") == today.isoformat()
    assert (await page.locator(".day-view h3").text_content()).startswith(day_heading(today))
    assert await page.locator("#month-label").text_content() == day_heading(today)
    assert await page.locator(".day-view li").count() == counts[today.isoformat()] > 0
    await page.locator(".day-view li button.link").first.click()
    await page.locator("#details-body .facts").wait_for()
    await page.locator("#details form.dialog-head button").click()
    await page.locator(".calendar").screenshot(path=ARTIFACTS / f"web-learner-day-{viewport['width']}.png")

    # when: the next day, and the day before today
    await page.click("#month-next")
    await page.locator(f'.day-view[data-date="{today + timedelta(days=1)}"]').wait_for()
    await page.click("#month-prev")
    await page.click("#month-prev")
    await page.locator(f'.day-view[data-date="{today - timedelta(days=1)}"]').wait_for()

    # then: the heading follows, a day at a time, in the learner's own days
    assert await page.locator("#month-label").text_content() == day_heading(today - timedelta(days=1))

    # when: back to the Month view, then Today
    await page.get_by_role("tab", name="Month").click()
    await page.locator("#calendar-body .month").wait_for()
    await page.click("#month-today")

    # then: today is marked in its month
    await page.locator(f'#calendar-body .day.today[data-date="{today}"]').wait_for()
    assert problems == []


# ---------- booking: course search, slots, credits, the waitlist ----------


@pytest.mark.parametrize("viewport", WIDTHS)
async def test_the_learner_books_a_slot_waits_for_a_full_one_and_is_refused_without_credits(
        browser, live_server, database, clock, settings, viewport):
    # given: the demo, with a slot a week ahead that someone else filled
    token = await learner_token(database, clock, settings)
    learner = await the_learner(database)
    async with database.write() as db:
        full_slot_id = await a_full_slot(db, learner, clock.now())
        course = await db.scalar(select(models.Course).join(models.BookableSlot).where(
            models.BookableSlot.id == full_slot_id))
    balance = await balance_of(database, learner.id)
    base = f"http://{live_server}"
    page, problems = await open_page(browser, base, token, clock.now(), viewport)

    # then: the Book card lists the courses open for booking, with the balance
    await page.locator("#book-courses tbody tr").first.wait_for()
    assert await page.locator("#book .credit-balance").text_content() == f"{balance} credits"

    # when: they search for the course, and the network drops the request for its slots
    await page.fill("#book-search-input", course.title)
    await page.click("#book-search button[type=submit]")
    row = page.locator(f'#book-courses tr[data-course="{to_global_id("Course", course.id)}"]')
    await row.wait_for()
    await drop_once(page, base, "CourseSlots")
    await row.get_by_role("button", name="See slots").click()

    # then: a Retry shows the course's slots, with their instructors, seats left and waitlists
    await page.locator("#book-slots button.retry").click()
    full = page.locator(f'#book-slots tr[data-slot="{to_global_id("BookableSlot", full_slot_id)}"]')
    await full.wait_for()
    assert await page.locator("#book-courses tbody tr").count() >= 1
    assert await full.locator("td.seats").text_content() == "0 of 1"
    instructors = page.locator('#book-slots select[name="instructor"]')
    assert await instructors.locator("option").count() >= 3  # all, and two or more instructors

    # when: they choose one instructor, then all again
    one = await full.locator("td").nth(2).evaluate("cell => cell.firstChild.textContent")
    every = await page.locator("#book-slots tr[data-slot]").count()
    await instructors.select_option(label=one)

    # then: that instructor's slots alone, then every slot again
    await page.wait_for_function("""(one) => {
      const rows = [...document.querySelectorAll("#book-slots tr[data-slot]")];
      return rows.length && rows.every((row) => row.cells[2].firstChild.textContent === one);
    }""", arg=one)
    assert await page.locator("#book-slots tr[data-slot]").count() < every
    await instructors.select_option(label="All instructors")
    await page.locator("#book-slots tr[data-slot]").nth(every - 1).wait_for()
    free = page.locator("#book-slots tr[data-slot]").filter(has=page.get_by_role("button", name="Book ("))
    assert await free.count() >= 2
    first_slot = gid_id(await free.first.get_attribute("data-slot"))

    # when: they book the first free slot
    await free.first.get_by_role("button", name="Book (").click()

    # then: it is booked, the balance shows the cost taken, and the service holds the booking and the debit
    await page.locator("#book-done .learner-done").wait_for()
    assert (await page.locator("#book-done").text_content()).startswith(f"Booked: {course.title}")
    assert await page.locator("#book .credit-balance").text_content() == f"{balance - course.credit_cost} credits"
    assert await page.locator("#credits .credit-balance").text_content() == f"{balance - course.credit_cost} credits"
    booking = await booking_on_slot(database, learner.id, first_slot)
    assert booking is not None and booking.status == "BOOKED"
    assert await balance_of(database, learner.id) == balance - course.credit_cost
    await page.locator(f'#book-slots tr[data-slot="{to_global_id("BookableSlot", first_slot)}"] .badge').wait_for()
    assert await page.locator("#credits-body tbody tr").first.locator("td").nth(2).text_content() == \
        f"-{course.credit_cost}"

    # when: they join the full slot's waitlist
    await full.get_by_role("button", name="Join waitlist").click()

    # then: they are first in line, on the slot and in their waitlist
    await full.get_by_text("1st in line").wait_for()
    await page.locator("#book-waitlist tbody tr").first.wait_for()
    assert "1st in line" in await page.locator("#book-waitlist").text_content()
    async with database.read() as db:
        entry = await db.scalar(select(models.WaitlistEntry).where(models.WaitlistEntry.slot_id == full_slot_id,
                                                                   models.WaitlistEntry.learner_id == learner.id))
    assert entry.status == "WAITING"
    await page.screenshot(path=ARTIFACTS / f"web-learner-book-{viewport['width']}.png", full_page=True)

    # when: they leave it
    await full.get_by_role("button", name="Leave waitlist").click()
    await full.get_by_role("button", name="Join waitlist").wait_for()

    # then
    async with database.read() as db:
        assert await db.scalar(select(models.WaitlistEntry.status).where(models.WaitlistEntry.id == entry.id)) == "LEFT"
    await page.locator("#book-waitlist td").get_by_text("left", exact=True).wait_for()  # kept, as left

    # when: their credits are spent, and they try to book another slot
    async with database.write() as db:
        await db.execute(update(models.CreditAccount).where(models.CreditAccount.user_id == learner.id).values(balance=0))
    other = page.locator("#book-slots tr[data-slot]").filter(has=page.get_by_role("button", name="Book ("))
    other_slot = gid_id(await other.first.get_attribute("data-slot"))
    button = other.first.get_by_role("button", name="Book (")
    await button.click()

    # then: the refusal shows beside that slot's Book button, the balance as it is, and nothing is booked
    error = other.first.locator(".field-error")
    await error.wait_for()
    await page.locator("#book .credit-balance").get_by_text("0 credits").wait_for()
    assert "balance is too low" in await error.text_content()
    assert await button.get_attribute("aria-invalid") == "true"
    assert await booking_on_slot(database, learner.id, other_slot) is None
    await page.locator("#book").screenshot(path=ARTIFACTS / f"web-learner-book-refused-{viewport['width']}.png")
    assert problems == []


# ---------- the details window: Request Absence, Reschedule, Cancel; credits; the course's history ----------


@pytest.mark.parametrize("viewport", WIDTHS)
async def test_from_the_details_the_learner_requests_an_absence_reschedules_and_cancels(
        browser, live_server, database, clock, settings, http, viewport):
    # given: the demo; a class ahead whose course takes absence requests; and a slot the learner booked
    token = await learner_token(database, clock, settings)
    learner = await the_learner(database)
    async with database.write() as db:
        absence_from = await db.scalar(
            select(models.LiveSession.id).join(models.Booking).join(models.Course).where(
                models.Booking.learner_id == learner.id, models.Booking.status == "BOOKED",
                models.LiveSession.starts_at > clock.now() + timedelta(days=1),
                models.LiveSession.cancelled_at.is_(None), models.Course.absence_requests_enabled.is_(True))
            .order_by(models.LiveSession.starts_at).limit(1))
        course_id = await db.scalar(select(models.BookableSlot.course_id).where(
            models.BookableSlot.id == await a_full_slot(db, learner, clock.now())))
    balance = await balance_of(database, learner.id)
    slots = (await send(http, token, "CourseSlots", {
        "courseId": to_global_id("Course", course_id), "from": clock.now().isoformat(),
        "to": (clock.now() + timedelta(days=14)).isoformat()}))["course"]["availableSlots"]
    slot = next(s for s in slots if s["seatsLeft"] > 0)
    booked = (await send(http, token, "BookSlot", {"input": {"slotId": slot["id"]}}))["bookSlot"]
    assert booked["errors"] == []
    cost = balance - booked["booking"]["creditTransaction"]["balanceAfter"]
    base = f"http://{live_server}"
    # (the credits card's first load is dropped by the network)
    page, problems = await open_page(browser, base, token, clock.now(), viewport, fail_once="Credits",
                                     hash=f"#session={to_global_id('LiveSession', absence_from)}")

    # when: in that class's details, they ask for an absence without a reason
    await page.locator("#details-body .facts").wait_for()
    await page.get_by_role("button", name="Request Absence").click()
    await page.locator("#details-body form.learner-form button[type=submit]").click()

    # then: the service's refusal shows beside the reason, and nothing is requested
    await page.locator("#absence-reason + .field-error").wait_for()
    assert await page.locator("#absence-reason").get_attribute("aria-invalid") == "true"
    async with database.read() as db:
        requested = select(models.AbsenceRequest).join(models.Booking).where(
            models.Booking.learner_id == learner.id, models.Booking.live_session_id == absence_from)
        assert await db.scalar(requested) is None

    # when: with a reason
    await page.fill("#absence-reason", "A doctor's appointment")
    await page.locator("#details-body form.learner-form button[type=submit]").click()

    # then: the details show the request, pending, and the service holds it
    await page.locator("#details-body .absence-status").wait_for()
    assert "pending" in await page.locator("#details-body .absence-status").text_content()
    async with database.read() as db:
        request = await db.scalar(requested)
    assert (request.reason, request.status) == ("A doctor's appointment", "PENDING")
    await page.locator("#details form.dialog-head button").click()

    # then: the credits card, whose load failed, offers a Retry that loads it, ten lines a page
    await page.locator("#credits-body button.retry").click()
    await page.locator("#credits-body tbody tr").first.wait_for()
    assert await page.locator("#credits .credit-balance").text_content() == f"{balance - cost} credits"
    async with database.read() as db:
        lines = len((await db.scalars(select(models.CreditTransaction.id).where(
            models.CreditTransaction.user_id == learner.id))).all())
    assert await page.locator("#credits-body tbody tr").count() == min(lines, 10)
    if lines > 10:
        await page.get_by_role("button", name="Load more").last.click()
        await page.locator(f"#credits-body tbody tr:nth-child({min(lines, 20)})").wait_for()
        assert f"{min(lines, 20)} of {lines}" in await page.locator("#credits-body .list-foot").text_content()

    # when: the booked slot's details, Reschedule, to the first other slot, confirmed
    live_session = booked["booking"]["liveSession"]["id"]
    await page.evaluate(f"location.hash = '#session={live_session}'")
    await page.get_by_role("button", name="Reschedule").click()
    await page.locator("#reschedule-slot").wait_for()
    target = await page.locator("#reschedule-slot").input_value()
    await page.locator("#details-body form.learner-form button[type=submit]").click()
    assert (await page.locator("#details-body .confirm").text_content()).startswith("Move this booking to")
    await page.get_by_role("button", name="Yes, reschedule").click()

    # then: the details are the new class's; the old booking is cancelled and the new one booked
    await page.get_by_text("Rescheduled to").wait_for()
    async with database.read() as db:
        old = await db.scalar(select(models.Booking).where(models.Booking.id == gid_id(booked["booking"]["id"])))
    new = await booking_on_slot(database, learner.id, gid_id(target))
    assert old.status == "CANCELLED" and new is not None and new.status == "BOOKED"
    new_code = await page.locator("#details-body .facts code").text_content()
    async with database.read() as db:
        assert await db.scalar(select(models.LiveSession.code).where(models.LiveSession.id == new.live_session_id)) \
            == new_code
    await page.screenshot(path=ARTIFACTS / f"web-learner-rescheduled-{viewport['width']}.png")

    # when: Cancel booking, and confirm
    await page.get_by_role("button", name="Cancel booking").click()
    await page.get_by_role("button", name="Yes, cancel the booking").click()

    # then: refunded, the balance back to where it was, and the booking cancelled in the service
    await page.get_by_text("Booking cancelled;").wait_for()
    assert "refunded" in await page.locator("#details-body .learner-done").text_content()
    assert await page.locator("#credits .credit-balance").text_content() == f"{balance} credits"
    assert await balance_of(database, learner.id) == balance
    async with database.read() as db:
        assert await db.scalar(select(models.Booking.status).where(models.Booking.id == new.id)) == "CANCELLED"

    # when: the course's session history
    await page.get_by_role("button", name="Course session history").click()

    # then: the course's classes that ended or were cancelled, newest first, with their credit lines
    rows = page.locator("#details-body .history-list tbody tr")
    await rows.first.wait_for()
    statuses = await rows.locator(".badge").all_text_contents()
    assert statuses and set(statuses) <= {"completed", "cancelled"}
    foot = await page.locator("#details-body .history-list .list-foot").text_content()
    assert foot.startswith(f"{await rows.count()} of ")
    async with database.read() as db:
        debited = await db.scalar(select(models.LiveSession.code).join(models.CreditTransaction).where(
            models.CreditTransaction.user_id == learner.id, models.CreditTransaction.kind == "BOOKING",
            models.LiveSession.course_id == course_id, models.LiveSession.ends_at < clock.now())
            .order_by(models.LiveSession.starts_at.desc()).limit(1))

    # when: filtered by one Session ID (a class the learner paid for, if the course has one)
    code = debited or await rows.last.locator("code").text_content()
    await page.fill("#history-code", code.lower())  # matched ignoring case
    await page.get_by_role("button", name="Filter").click()

    # then: that class alone, with what it cost
    await page.locator("#details-body .history-list .list-foot").get_by_text("1 of 1").wait_for()
    assert await rows.first.locator("code").text_content() == code
    if debited is not None:
        assert await rows.first.locator("td").nth(4).text_content() == f"-{cost}"
    await page.screenshot(path=ARTIFACTS / f"web-learner-history-{viewport['width']}.png")
    shown = await page.locator("body").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown
    assert problems == []


# ---------- the Upcoming and Past lists: filters, pages, and loads the network drops ----------


@pytest.mark.parametrize("viewport", WIDTHS)
async def test_the_lists_filter_by_course_and_instructor_and_each_dropped_load_offers_a_retry(
        browser, live_server, database, clock, settings, http, viewport):
    # given: the learner's page, the upcoming list loaded
    token = await learner_token(database, clock, settings)
    base = f"http://{live_server}"
    page, problems = await open_page(browser, base, token, clock.now(), viewport)
    rows = page.locator("#list-body tbody tr")
    await rows.first.wait_for()
    shown = page.locator("#list-body .list-foot span.muted")

    async def total(name: str, filter: dict) -> int:
        data = await send(http, token, name, {"filter": filter, "first": 1})
        return data["viewer"]["schedule"]["upcoming" if name == "UpcomingTab" else "past"]["totalCount"]

    async def column(index: int) -> list[str]:
        return [text.strip() for text in await rows.locator(f"td:nth-child({index})").all_text_contents()]

    # when: a course chosen in the filter, and the network drops that request
    option = page.locator("#filter-course option").nth(1)
    course_id, title = await option.get_attribute("value"), await option.text_content()
    await drop_once(page, base, "UpcomingTab")
    await page.select_option("#filter-course", course_id)

    # then: Retry in the list's place, which loads that course's upcoming sessions alone, counted as the service
    # counts them
    await page.locator("#list-body button.retry").click()
    upcoming = await total("UpcomingTab", {"courseId": course_id})
    assert 0 < upcoming < await total("UpcomingTab", {})
    await shown.filter(has_text=re.compile(rf"^\d+ of {upcoming}$")).wait_for()
    assert all(cell.endswith(title) for cell in await column(3)), await column(3)

    # when: the Past tab, the same course, and the network drops that request too
    await drop_once(page, base, "PastTab")
    await page.click("#tab-past")

    # then: Retry, then that course's past sessions
    await page.locator("#list-body button.retry").click()
    past = await total("PastTab", {"courseId": course_id})
    if past:
        await shown.filter(has_text=re.compile(rf"^\d+ of {past}$")).wait_for()
        assert all(cell.endswith(title) for cell in await column(3))
    else:
        await page.locator("#list-body", has_text="No past sessions.").wait_for()

    # when: any course, one instructor
    await page.select_option("#filter-course", "")
    await shown.filter(has_text=re.compile(rf"^\d+ of {await total('PastTab', {})}$")).wait_for()
    option = page.locator("#filter-instructor option").nth(1)
    instructor_id, name = await option.get_attribute("value"), await option.text_content()
    await page.select_option("#filter-instructor", instructor_id)

    # then: that instructor's past sessions alone
    by_instructor = await total("PastTab", {"instructorId": instructor_id})
    await shown.filter(has_text=re.compile(rf"^\d+ of {by_instructor}$")).wait_for()
    assert set(await column(4)) == {name}

    # when: every past session, and the next page is dropped by the network
    await page.select_option("#filter-instructor", "")
    every = await total("PastTab", {})
    await shown.filter(has_text=re.compile(rf"^8 of {every}$")).wait_for()
    assert every > 8
    await drop_once(page, base, "PastTab")
    await page.get_by_role("button", name="Load more").first.click()

    # then: Retry where Load more was, the rows shown kept; it loads the next page
    retry = page.locator("#list-body .list-foot button.retry")
    await retry.wait_for()
    assert await rows.count() == 8
    await retry.click()
    await shown.filter(has_text=re.compile(rf"^{min(every, 16)} of {every}$")).wait_for()
    assert await rows.count() == min(every, 16)

    # when: a session's details, whose load the network drops
    # (the list stays inside its card: its last column, View Details, does not run under the calendar beside it)
    assert await rows.first.get_by_role("button", name="View Details").evaluate("""(button) => {
      button.scrollIntoView({ block: "center", inline: "center" });
      const box = button.getBoundingClientRect();
      return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === button;
    }""")
    await drop_once(page, base, "SessionDetails")
    await rows.first.get_by_role("button", name="View Details").click()

    # then: Retry in the dialog, never a dialog left loading; it loads the details
    await page.locator("#details-body button.retry").click()
    await page.locator("#details-body .facts").wait_for()
    await page.screenshot(path=ARTIFACTS / f"web-learner-lists-{viewport['width']}.png")
    text = await page.locator("body").inner_text()
    assert "null" not in text and "undefined" not in text and "NaN" not in text
    assert problems == []
