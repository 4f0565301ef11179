"""The instructor's and the guardian's views of the web client at /app, driven in headless Chromium against a
running service in trusted-documents-only mode, at desktop and phone width, with the clock frozen.

The instructor records attendance and feedback, reviews an absence request, publishes (then withdraws)
availability with a recurrence, loads more classes ahead, and withdraws a slot a learner booked (the booking
cancelled and refunded once confirmed); the guardian switches between children and reads each one's
dashboard, calendar and reports. Each flow also meets a refused input (its UserError beside its field) and a request
the network drops (a Retry that then works). Screenshots go to tests/artifacts/<engine>/.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.demo import load_demo
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema.relay import id_of, to_global_id
from tests.test_web_client import ARTIFACTS, CUT_TEXTS, DEMO_AHEAD, app, browser  # noqa: F401  (fixtures)
from tests.test_web_learner import send

PARIS = ZoneInfo("Europe/Paris")  # the demo users' zone
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


async def open_view(browser, base: str, token: str, now: datetime, viewport: dict, drop_once: str | None):
    """The page, signed in by token, in a browser whose clock is the service's and whose zone is UTC (the
    page must read and write times in the user's own zone, not the browser's); the first request for the
    operation `drop_once` (if any) is dropped as a network failure would drop it."""
    context = await browser.new_context(viewport=viewport, timezone_id="UTC")
    page = await context.new_page()
    await page.clock.set_fixed_time(now)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", lambda request: None if request.url.startswith((base, base.replace("http", "ws")))
            else problems.append(f"left the service for {request.url}"))
    dropped: list[str] = []

    async def drop_first(route, request):
        if drop_once and not dropped and sent(request, drop_once):
            dropped.append(drop_once)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route(f"{base}/graphql", drop_first)
    await page.goto(f"{base}/app/?token={token}")
    return page, problems, dropped


def sent(request, operation: str) -> bool:
    return f'"operationName":"{operation}"' in (request.post_data or "").replace(" ", "")


async def drop_next(page, base: str, operation: str) -> list[str]:
    """The page's next request for `operation` is dropped as a network failure would drop it; the list
    returned names it once it was."""
    dropped: list[str] = []

    async def drop(route, request):
        if not dropped and sent(request, operation):
            dropped.append(operation)
            await page.unroute(f"{base}/graphql", drop)
            return await route.abort("internetdisconnected")
        await route.fallback()

    await page.route(f"{base}/graphql", drop)
    return dropped


async def demo_user(database, clock, settings, email: str) -> tuple[models.User, str]:
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.read() as db:
        user = await db.scalar(select(models.User).where(models.User.email == email))
    return user, issue_token(user.id, settings, clock.now())


@pytest.mark.parametrize("width", sorted(WIDTHS))
async def test_the_instructor_records_attendance_reviews_an_absence_and_publishes_availability(
        browser, live_server, database, clock, settings, width):
    # given: the demo platform, the instructor, and a learner's absence request from one of their classes ahead
    instructor, token = await demo_user(database, clock, settings, "instructor@example.com")
    now = clock.now()
    async with database.write() as db:
        teaches = await db.scalar(select(models.Instructor).where(models.Instructor.user_id == instructor.id))
        (booking, learner), (other_booking, _) = (await db.execute(
            select(models.Booking, models.User).join(models.LiveSession).join(
                models.User, models.User.id == models.Booking.learner_id).where(
                models.LiveSession.instructor_id == teaches.id, models.LiveSession.starts_at > now + timedelta(days=1),
                models.LiveSession.cancelled_at.is_(None), models.Booking.status == "BOOKED")
            .order_by(models.LiveSession.starts_at, models.Booking.id).limit(2))).all()
        request = models.AbsenceRequest(booking_id=booking.id, reason="A family wedding", requested_at=now)
        # and a second one, to refuse
        other_request = models.AbsenceRequest(booking_id=other_booking.id, reason="A train strike", requested_at=now)
        db.add_all([request, other_request])
        await db.flush()
        # The class that ended this morning, the one the instructor reports on.
        ended = await db.scalar(select(models.LiveSession).where(
            models.LiveSession.instructor_id == teaches.id, models.LiveSession.ends_at < now,
            models.LiveSession.starts_at > now - timedelta(hours=6)))
    base = f"http://{live_server}"

    # when: they open the page, and the absence requests' first load is lost to the network
    page, problems, dropped = await open_view(browser, base, token, now, WIDTHS[width],
                                              drop_once="TeachingAbsenceRequests")
    await page.locator("#teach-today-body tbody tr").first.wait_for()
    retry = page.locator("#teach-absences-body button.retry")
    await retry.wait_for()

    # then: teaching is their first view; today's classes are there with Join buttons, and the lost load
    # offers a Retry, which loads the request
    assert dropped == ["TeachingAbsenceRequests"]
    assert await page.locator("#views-nav [aria-current=page]").text_content() == "Teaching"
    today = page.locator("#teach-today-body tbody tr")
    assert await today.count() >= 3
    assert ended.code in await page.locator("#teach-today-body").text_content()
    assert await page.locator("#teach-today-body button.join").count() >= 1
    # the upcoming classes come in a request of their own, beside today's
    upcoming = page.locator("#teach-upcoming-body tbody tr")
    await upcoming.nth(9).wait_for()
    assert await upcoming.count() == 10
    await retry.click()
    item = page.locator("#teach-absences-body form.teach-request", has_text="A family wedding")
    await item.wait_for()
    assert learner.name in await item.text_content() and "A family wedding" in await item.text_content()
    # nothing is cut: every Session ID, button and heading shows whole, at either width
    assert await page.evaluate(CUT_TEXTS, "#view-instructor code, #view-instructor button, #views-nav, #who") == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-instructor-{width}.png", full_page=True)

    # when: they open this morning's class, and give its first learner too long a feedback
    await today.filter(has_text=ended.code).get_by_role("button", name="Learners", exact=True).click()
    form = page.locator("#teach-class-body form.teach-attendance")
    await form.wait_for()
    first = form.locator("fieldset.teach-learner").first
    learner_id = await first.get_attribute("data-learner")
    await first.locator("select").select_option("LATE")
    await first.locator("textarea").fill("x" * 5001)
    await form.locator("button[type=submit]").click()

    # then: the refusal shows beside that learner's feedback
    error = first.locator("textarea + .field-error")
    await error.wait_for()
    assert "5000" in await error.text_content()

    # when: they shorten it and save
    await first.locator("textarea").fill("Arrived ten minutes late, then did well.")
    await form.locator("button[type=submit]").click()
    await page.locator("#teach-attendance-saved:not([hidden])").wait_for()

    # then: the page says so, and the database holds the report
    assert (await page.locator("#teach-attendance-saved").text_content()).startswith("Attendance saved for")
    assert await form.locator(".field-error").count() == 0
    async with database.read() as db:
        report = await db.get(models.AttendanceReport, (ended.id, id_of(learner_id, "User")))
    assert (report.status, report.feedback) == ("LATE", "Arrived ten minutes late, then did well.")
    await page.locator("#teach-class").screenshot(path=ARTIFACTS / f"web-instructor-attendance-{width}.png")

    # when: they approve the absence request with a comment
    await item.locator("input[name=comment]").fill("Enjoy the wedding")
    await item.locator("button", has_text="Approve").click()
    decision = page.locator(f"[id='absence-decision-{to_global_id('AbsenceRequest', request.id)}']")
    await page.locator(f"[id='absence-decision-{to_global_id('AbsenceRequest', request.id)}']:not([hidden])").wait_for()

    # then: the request shows as approved, and is so in the database
    assert await decision.text_content() == "Approved: “Enjoy the wedding”"
    async with database.read() as db:
        reviewed = await db.get(models.AbsenceRequest, request.id)
    assert (reviewed.status, reviewed.review_comment, reviewed.reviewed_by_id) == (
        "APPROVED", "Enjoy the wedding", instructor.id)

    # when: they refuse the other one, with no comment
    other = f"absence-decision-{to_global_id('AbsenceRequest', other_request.id)}"
    await page.locator("#teach-absences-body form.teach-request", has_text="A train strike").get_by_role(
        "button", name="Refuse").click()
    await page.locator(f"[id='{other}']:not([hidden])").wait_for()

    # then: refused, on the page and in the database
    assert await page.locator(f"[id='{other}']").text_content() == "Refused"
    async with database.read() as db:
        refused = await db.get(models.AbsenceRequest, other_request.id)
    assert (refused.status, refused.review_comment, refused.reviewed_by_id) == ("REJECTED", None, instructor.id)

    # when: they publish a weekly slot at 06:15 Paris time that never ends
    publish = page.locator("form.teach-publish")
    await page.locator("#teach-slots").wait_for()
    course_id = await publish.locator("select[name=courseId]").input_value()
    date = (now.astimezone(PARIS) + timedelta(days=2)).date()
    await publish.locator("input[name=date]").fill(date.isoformat())
    await publish.locator("input[name=startsAt]").fill("06:15")
    await publish.locator("input[name=endsAt]").fill("07:00")
    await publish.locator("input[name=recurrence]").fill("FREQ=WEEKLY")
    await publish.locator("button[type=submit]").click()

    # then: the rule is refused beside its field, and nothing is published
    refused = publish.locator("#slot-recurrence + .field-error")
    await refused.wait_for()
    assert await refused.text_content()
    assert await count_slots(database, teaches.id) == 0

    # when: they choose "every week, 4 times" instead
    await publish.locator("#slot-repeat").select_option(label="Every week, 4 times")
    await publish.locator("button[type=submit]").click()
    await page.locator("#slot-published:not([hidden])").wait_for()

    # then: four slots are published at 06:15 Paris time, listed under the form
    assert (await page.locator("#slot-published").text_content()).startswith("Published 4 slots")
    async with database.read() as db:
        slots = (await db.scalars(select(models.BookableSlot).where(
            models.BookableSlot.instructor_id == teaches.id, models.BookableSlot.recurrence.is_not(None))
            .order_by(models.BookableSlot.starts_at))).all()
    # (06:15 in Paris each week, across the change to summer time on the way)
    assert [s.starts_at for s in slots] == [
        datetime.combine(date + timedelta(weeks=k), time(6, 15), tzinfo=PARIS).astimezone(UTC) for k in range(4)]
    assert {s.recurrence for s in slots} == {"FREQ=WEEKLY;COUNT=4"}
    assert {to_global_id('Course', s.course_id) for s in slots} == {course_id}
    listed = page.locator("#teach-slots tbody tr", has_text="FREQ=WEEKLY;COUNT=4")
    await listed.first.wait_for()
    assert await listed.count() == 4
    await page.locator("#teach-availability").screenshot(path=ARTIFACTS / f"web-instructor-availability-{width}.png")

    # when: they withdraw the first of them
    await listed.first.locator("button", has_text="Withdraw").click()

    # then: three are left, on the page and in the database
    await page.wait_for_function("document.querySelectorAll('#teach-slots tbody tr code').length === 3")
    assert await count_slots(database, teaches.id) == 3
    shown = await page.locator("#view-instructor").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown

    # when: the clock reaches 15 minutes before their next class today
    upcoming = await db_next_class(database, teaches.id, now)
    opens_at = upcoming.starts_at - timedelta(minutes=15)
    await page.clock.set_fixed_time(opens_at)
    clock.set(opens_at)

    # then: its Join button turns on by itself, as the learners' do
    row = today.filter(has_text=upcoming.code)
    await row.locator("button.join:not([disabled])").wait_for(timeout=5000)
    assert await row.locator("button.join").text_content() == "Join now"
    assert problems == []


async def db_next_class(database, instructor_id: int, now: datetime) -> models.LiveSession:
    async with database.read() as db:
        return await db.scalar(select(models.LiveSession).where(
            models.LiveSession.instructor_id == instructor_id, models.LiveSession.starts_at > now,
            models.LiveSession.virtual_classroom_url.is_not(None), models.LiveSession.cancelled_at.is_(None))
            .order_by(models.LiveSession.starts_at).limit(1))


async def count_slots(database, instructor_id: int) -> int:
    async with database.read() as db:
        return await db.scalar(select(func.count()).select_from(models.BookableSlot).where(
            models.BookableSlot.instructor_id == instructor_id, models.BookableSlot.recurrence.is_not(None)))


@pytest.mark.parametrize("width", sorted(WIDTHS))
async def test_the_instructor_loads_more_classes_ahead_and_a_dropped_page_offers_a_retry(
        browser, live_server, database, clock, settings, width):
    # given: the demo's instructor, who teaches more classes from tomorrow on than a page holds (10)
    instructor, token = await demo_user(database, clock, settings, "instructor@example.com")
    tomorrow = datetime.combine(clock.now().astimezone(PARIS).date() + timedelta(days=1), time(), tzinfo=PARIS)
    async with database.read() as db:
        teaches = await db.scalar(select(models.Instructor).where(models.Instructor.user_id == instructor.id))
        ahead = list((await db.scalars(select(models.LiveSession.code).where(
            models.LiveSession.instructor_id == teaches.id, models.LiveSession.starts_at >= tomorrow)
            .order_by(models.LiveSession.starts_at, models.LiveSession.id))).all())
    assert len(ahead) > 10
    base = f"http://{live_server}"
    page, problems, _ = await open_view(browser, base, token, clock.now(), WIDTHS[width], drop_once=None)
    upcoming = page.locator("#teach-upcoming-body")
    rows = upcoming.locator("tbody tr")
    shown = upcoming.locator(".list-foot span.muted")

    # then: the first page of the classes ahead, soonest first, counted as the service counts them
    await shown.filter(has_text=f"10 of {len(ahead)}").wait_for()
    assert await rows.locator("code").all_text_contents() == ahead[:10]

    # when: Load more, and the network drops that request
    dropped = await drop_next(page, base, "Teaching")
    await upcoming.get_by_role("button", name="Load more").click()

    # then: Retry where Load more was, the rows shown kept
    retry = upcoming.locator(".list-foot button.retry")
    await retry.wait_for()
    assert dropped == ["Teaching"]
    assert await rows.count() == 10
    assert "Could not load this" in await upcoming.locator(".list-foot").text_content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#teach-upcoming").screenshot(path=ARTIFACTS / f"web-instructor-more-retry-{width}.png")

    # when: Retry
    await retry.click()

    # then: the next page follows the first, none twice, and Load more stays while there are more
    await shown.filter(has_text=f"{min(20, len(ahead))} of {len(ahead)}").wait_for()
    assert await rows.locator("code").all_text_contents() == ahead[:20]
    assert await upcoming.get_by_role("button", name="Load more").count() == (1 if len(ahead) > 20 else 0)
    assert await upcoming.locator("button.retry").count() == 0
    await page.locator("#teach-upcoming").screenshot(path=ARTIFACTS / f"web-instructor-more-{width}.png")
    shown_text = await page.locator("#view-instructor").inner_text()
    assert "null" not in shown_text and "undefined" not in shown_text and "NaN" not in shown_text
    assert problems == []


@pytest.mark.parametrize("width", sorted(WIDTHS))
async def test_the_instructor_withdraws_a_booked_slot_once_confirmed_and_its_learner_is_refunded(
        browser, live_server, database, clock, settings, http, width):
    # given: the demo's instructor, and a learner who booked one of their slots ahead
    instructor, token = await demo_user(database, clock, settings, "instructor@example.com")
    now = clock.now()
    async with database.read() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
        teaches = await db.scalar(select(models.Instructor).where(models.Instructor.user_id == instructor.id))
        slot = await db.scalar(
            select(models.BookableSlot).join(models.SessionCourse, models.SessionCourse.course_id
                                             == models.BookableSlot.course_id)
            .join(models.Enrollment, models.Enrollment.session_id == models.SessionCourse.session_id)
            .join(models.Session, models.Session.id == models.Enrollment.session_id)
            .where(models.Enrollment.user_id == learner.id, models.BookableSlot.instructor_id == teaches.id,
                   models.BookableSlot.starts_at > now + timedelta(days=2),
                   models.BookableSlot.starts_at < now + timedelta(days=14),
                   models.Session.access_end > now + timedelta(days=30))
            .order_by(models.BookableSlot.starts_at).limit(1))
        course = await db.get(models.Course, slot.course_id)
    slot_id = to_global_id("BookableSlot", slot.id)
    booked = (await send(http, issue_token(learner.id, settings, now), "BookSlot",
                         {"input": {"slotId": slot_id}}))["bookSlot"]
    assert booked["errors"] == []
    booking_id = id_of(booked["booking"]["id"], "Booking")
    debit = booked["booking"]["creditTransaction"]
    assert debit["amount"] < 0
    base = f"http://{live_server}"
    page, problems, dropped = await open_view(browser, base, token, now, WIDTHS[width], drop_once="MySlots")
    asked: list[str] = []

    def answer(dialog):  # the first "withdraw it?" is declined, the next one accepted
        asked.append(dialog.message)
        return dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)

    # when: the availability's first load of slots is lost to the network
    slots = page.locator("#teach-slots")
    await slots.locator("button.retry").click()

    # then: its Retry loads them; and choosing the booked slot's course lists it, booked
    await slots.locator("h3").wait_for()
    assert dropped == ["MySlots"]
    await page.locator("#slot-course").select_option(to_global_id("Course", course.id))
    row = slots.locator(f"tr[data-slot='{slot_id}']")
    await row.wait_for()
    assert (await row.locator("td").nth(2).text_content()).startswith(f"1 of {slot.seats}")

    # when: they withdraw it, and decline when asked to cancel its booking
    async with page.expect_event("dialog"):
        await row.get_by_role("button", name="Withdraw").click()

    # then: asked once; nothing is withdrawn nor cancelled
    assert asked == ["This slot has bookings. Cancel them (each learner is refunded) and withdraw it?"]
    assert await row.is_visible()
    async with database.read() as db:
        assert (await db.get(models.Booking, booking_id)).status == "BOOKED"
        assert await db.get(models.BookableSlot, slot.id) is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#teach-availability").screenshot(path=ARTIFACTS / f"web-instructor-booked-slot-{width}.png")

    # when: withdrawn again, and accepted
    async with page.expect_event("dialog"):
        await row.get_by_role("button", name="Withdraw").click()

    # then: the slot leaves the list; in the database it is gone, its class cancelled, the booking cancelled
    # and the learner refunded what they paid
    await row.wait_for(state="detached")
    assert len(asked) == 2
    assert await slots.locator("p.error").is_hidden()
    async with database.read() as db:
        assert await db.get(models.BookableSlot, slot.id) is None
        booking = await db.get(models.Booking, booking_id)
        live_session = await db.get(models.LiveSession, booking.live_session_id)
        refund = (await db.scalars(select(models.CreditTransaction).where(
            models.CreditTransaction.booking_id == booking_id, models.CreditTransaction.kind == "REFUND"))).all()
        balance = await db.scalar(select(models.CreditAccount.balance).where(
            models.CreditAccount.user_id == learner.id))
    assert booking.status == "CANCELLED" and booking.cancelled_at == now
    assert live_session.cancelled_at == now
    assert [(line.user_id, line.amount) for line in refund] == [(learner.id, -debit["amount"])]
    assert balance == debit["balanceAfter"] - debit["amount"]
    await page.locator("#teach-availability").screenshot(path=ARTIFACTS / f"web-instructor-withdrawn-{width}.png")
    assert problems == []


@pytest.mark.parametrize("width", sorted(WIDTHS))
async def test_the_guardian_switches_between_children_and_reads_their_dashboard_calendar_and_reports(
        browser, live_server, database, clock, settings, width):
    # given: the demo platform, and the guardian of Mila and Noah (whose weeks start on Monday)
    _, token = await demo_user(database, clock, settings, "guardian@example.com")
    async with database.read() as db:
        children = {u.name: u for u in (await db.scalars(select(models.User).where(
            models.User.email.in_(["child1@example.com", "child2@example.com"])))).all()}
        noah_next = await db.scalar(select(models.LiveSession).join(models.Booking).where(
            models.Booking.learner_id == children["Noah Guardian"].id, models.Booking.status == "BOOKED",
            models.LiveSession.starts_at > clock.now(), models.LiveSession.cancelled_at.is_(None))
            .order_by(models.LiveSession.starts_at).limit(1))
        reports = select(models.AttendanceReport, models.LiveSession).join(models.LiveSession).order_by(
            models.LiveSession.starts_at.desc()).limit(1)
        mila_latest = (await db.execute(reports.where(
            models.AttendanceReport.learner_id == children["Mila Guardian"].id))).one()
        # (Noah's latest report on a class Mila was not reported on: what only his reports show)
        noah_latest = (await db.execute(reports.where(
            models.AttendanceReport.learner_id == children["Noah Guardian"].id,
            models.AttendanceReport.live_session_id.not_in(select(models.AttendanceReport.live_session_id).where(
                models.AttendanceReport.learner_id == children["Mila Guardian"].id))))).one()
    base = f"http://{live_server}"

    # when: they open the page, and the calendar's first load is lost to the network
    page, problems, dropped = await open_view(browser, base, token, clock.now(), WIDTHS[width],
                                              drop_once="ChildCalendar")
    dashboard = page.locator("#guardian-dashboard-body")
    await dashboard.locator("h3").first.wait_for()
    await page.locator("#guardian-reports-body tbody tr").first.wait_for()
    retry = page.locator("#guardian-calendar-body button.retry")
    await retry.wait_for()

    # then: their children are the first view, the first child chosen; the calendar offers a Retry that
    # loads this month
    assert dropped == ["ChildCalendar"]
    assert await page.locator("#views-nav [aria-current=page]").text_content() == "My children"
    assert await page.locator("#guardian-switch button").all_text_contents() == ["Mila Guardian", "Noah Guardian"]
    assert await page.locator("#guardian-child-name").text_content() == "Mila Guardian"
    assert "Credits:" in await dashboard.text_content()
    await retry.click()
    await page.locator("#guardian-calendar-body .day.today").wait_for()
    today = clock.now().astimezone(PARIS).date()
    assert await page.locator("#guardian-calendar-label").text_content() == f"{today:%B %Y}"
    # Mila's reports: each past session she was reported on, with its attendance and feedback
    report, reported_on = mila_latest
    starts = reported_on.starts_at.astimezone(PARIS)
    row = page.locator("#guardian-reports-body tbody tr", has_text=f"{starts:%a} {starts.day} {starts:%b} {starts:%H:%M}–")
    assert await page.locator("#guardian-reports-body tbody tr").count() == 10
    assert await row.locator(".attendance").text_content() == report.status.lower()
    assert await row.locator("td").last.text_content() == (f"“{report.feedback}”" if report.feedback else "—")
    assert await page.evaluate(CUT_TEXTS, "#view-guardian code, #view-guardian button, #views-nav, #who") == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-guardian-{width}.png", full_page=True)

    # when: they switch to Noah, and to the week view
    await page.locator("#guardian-switch button", has_text="Noah Guardian").click()
    await page.wait_for_function(
        "document.getElementById('guardian-child-name').textContent === 'Noah Guardian'")
    await dashboard.locator(".guardian-up-next code", has_text=noah_next.code).wait_for()
    await page.locator("#guardian-calendar [data-calendar-view=WEEK]").click()
    await page.locator("#guardian-calendar-body .guardian-week").wait_for()

    # then: his dashboard shows his next class as Up Next, his reports are his, and the week (as his
    # guardian's weeks go, from Monday) has today in it
    assert await page.locator("#guardian-switch [aria-pressed=true]").text_content() == "Noah Guardian"
    up_next = await dashboard.locator(".guardian-up-next").text_content()
    assert noah_next.code in up_next
    report, reported_on = noah_latest
    starts = reported_on.starts_at.astimezone(PARIS)
    row = page.locator("#guardian-reports-body tbody tr", has_text=f"{starts:%a} {starts.day} {starts:%b} {starts:%H:%M}–")
    await row.locator(".attendance", has_text=report.status.lower()).wait_for()
    assert await row.locator("td").last.text_content() == (f"“{report.feedback}”" if report.feedback else "—")
    days = page.locator("#guardian-calendar-body .day")
    assert await days.count() == 7
    assert (await days.first.get_attribute("aria-label")).startswith("Mon")
    assert await page.locator("#guardian-calendar-body .day.today").count() == 1

    # when: they go a week on
    await page.locator("#guardian-calendar button[aria-label=Next]").click()
    await page.wait_for_function("!document.querySelector('#guardian-calendar-body .day.today')")

    # then: the label names the next week, Monday to Sunday
    monday = today + timedelta(days=8 - today.isoweekday())
    sunday = monday + timedelta(days=6)
    assert await page.locator("#guardian-calendar-label").text_content() == (
        f"{monday:%a}, {monday.day} {monday:%b} {monday.year} – {sunday:%a}, {sunday.day} {sunday:%b} {sunday.year}")
    await page.screenshot(path=ARTIFACTS / f"web-guardian-week-{width}.png", full_page=True)
    # read-only: there is nothing to change on a child's page
    assert await page.locator("#view-guardian form, #view-guardian input, #view-guardian textarea").count() == 0
    shown = await page.locator("#view-guardian").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown
    assert problems == []
