"""The dashboard and a live session's details, on worlds made for them, answer on the planned
path (schema/execution.py) exactly what graphql-core's execution answers, within their
statements.

These two were compiled (schema/compiled) until the planned path read what they show as
cheaply; the worlds their compiled functions were held to stay, now holding the planned
path. Each request goes to two apps on the same database and clock: the service as it runs,
and one with PLANNED_EXECUTION (and COMPILED_OPERATIONS) off, which executes every document
field by field. Their response bodies must be the same bytes, and the
sessiongraph_execution_total metric tells which path answered.
(tests/test_differential.py holds every document of clients/ so, on one world as every role.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.clients.documents import load_operations
from sessiongraph.server.app import create_app
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401
from tests.side_by_side import side_by_side

OPERATIONS = {(op.client, op.name): op for op in load_operations("web")}


@pytest.fixture
async def executed(settings, database, clock) -> AsyncIterator[httpx.AsyncClient]:
    """The same service with every document executed field by field, by graphql-core."""
    app = create_app(settings.model_copy(update={"compiled_operations": False, "planned_execution": False}),
                     clock=clock, database=database, check_migrations=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def planned_answers() -> float:
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "sessiongraph_execution"
               for sample in metric.samples
               if sample.name == "sessiongraph_execution_total" and sample.labels["path"] == "planned")


@pytest.fixture
def both(http, executed, settings, clock, count_statements):
    """send(user, body) -> Sent, after checking the reference's response is the same bytes."""
    return side_by_side(http, executed, settings, clock, count_statements, planned_answers)


def request(operation, **variables: Any) -> dict[str, Any]:
    return {"query": operation.document, "operationName": operation.name, "variables": variables}


# --- the dashboard -------------------------------------------------------------------------

DASHBOARD = OPERATIONS["web", "Dashboard"]
HOUR = timedelta(hours=1)


async def booked_with_everything(data, learner):
    """Booked with a debit, an absence request under review, a report, a visible term, seats
    taken by others, links, a place, a lesson with its goal."""
    course = await data.course(absence_requests_enabled=True, title="Everything")
    teacher = await data.instructor("Bea Bio")
    term = await data.session("Term", courses=[course])
    await data.enroll(term, learner)
    ls = await data.live_session(course, teacher, NOW + 2 * HOUR, capacity=3, session_id=term.id,
                                 lesson_name="Tenses", lesson_goal="Use them", location_name="Hall",
                                 location_address="1 Main St", location_room="B2", recording_url="https://rec/1",
                                 extra_links=[{"title": "Slides", "url": "https://slides/1"}])
    booking = await data.book(learner, ls)
    for other in [await data.user("Other") for _ in range(2)]:
        await data.book(other, ls)
    await data.add(models.CreditTransaction(user_id=learner.id, kind="BOOKING", amount=-1, balance_after=4,
                                            description="Booked Tenses", live_session_id=ls.id, booking_id=booking.id,
                                            created_at=NOW - HOUR),
                   models.AbsenceRequest(booking_id=booking.id, reason="Dentist", status="REJECTED",
                                         requested_at=NOW - HOUR, reviewed_at=NOW - HOUR / 2,
                                         review_comment="Too late"),
                   models.AttendanceReport(live_session_id=ls.id, learner_id=learner.id, status="EXCUSED",
                                           feedback="Told us", recorded_at=NOW - HOUR / 4))


async def under_way_and_open(data, learner):
    course = await data.course(join_lead_minutes=15)
    ls = await data.live_session(course, await data.instructor(), NOW - HOUR / 2, minutes=90,
                                 virtual_classroom_url="https://class/open")
    await data.book(learner, ls)


async def through_a_term_not_listed_yet(data, learner):
    """On the schedule through an enrollment, the term not yet displayed to learners, and
    full: its session is hidden (null), seats left 0."""
    course = await data.course(bookable=False)
    term = await data.session("Hidden term", courses=[course], display_start=NOW + 24 * HOUR)
    await data.enroll(term, learner)
    ls = await data.live_session(course, await data.instructor(), NOW + 3 * HOUR, capacity=1, session_id=term.id)
    await data.book(await data.user("Someone"), ls)


async def rebooked_after_cancelling(data, learner):
    course = await data.course(absence_requests_enabled=True)
    ls = await data.live_session(course, await data.instructor(), NOW + 5 * HOUR, virtual_classroom_url="https://c/2")
    await data.book(learner, ls, status=models.BookingStatus.CANCELLED)
    await data.book(learner, ls)


async def live_booking_older_than_a_cancelled_one(data, learner):
    """The live booking is their booking, even where a cancelled one came after it."""
    ls = await data.live_session(await data.course(), await data.instructor(), NOW + 5 * HOUR)
    await data.book(learner, ls)
    await data.book(learner, ls, status=models.BookingStatus.CANCELLED)


async def enrolled_with_only_a_cancelled_booking(data, learner):
    course = await data.course()
    term = await data.session("Open term", courses=[course])
    await data.enroll(term, learner)
    ls = await data.live_session(course, await data.instructor(), NOW + 6 * HOUR, session_id=term.id)
    await data.book(learner, ls, status=models.BookingStatus.CANCELLED)
    await data.book(learner, ls, status=models.BookingStatus.CANCELLED)


async def nothing_ahead(data, learner):
    ended = await data.live_session(await data.course(), await data.instructor(), NOW - 5 * HOUR)
    await data.book(learner, ended)


@pytest.mark.parametrize("given", [booked_with_everything, under_way_and_open, through_a_term_not_listed_yet,
                                   rebooked_after_cancelling, live_booking_older_than_a_cancelled_one,
                                   enrolled_with_only_a_cancelled_booking, nothing_ahead])
async def test_the_dashboard_answers_as_executed(data, both, given):
    # given: a learner whose next live session is as the function names it, and a later one
    learner = await data.user("Dana Dashboard", time_zone="Asia/Kolkata", week_start="SUNDAY")
    await given(data, learner)
    later = await data.live_session(await data.course(), await data.instructor(), NOW + 48 * HOUR)
    await data.book(learner, later)

    # when
    sent = await both(learner, request(DASHBOARD))

    # then: the planned path answered, in at most 4 statements (the user, the card with its details,
    # the viewer's instructor, the booking's transactions), and the card is the one the test made
    assert sent.answered and sent.statements <= 4
    card = sent.body["data"]["viewer"]["schedule"]["upNext"]
    assert card["startsAt"] < (NOW + 48 * HOUR).isoformat() or given is nothing_ahead
    assert sent.body["data"]["viewer"]["user"] == {"id": gid("User", learner.id), "name": "Dana Dashboard",
                                                   "timeZone": "Asia/Kolkata", "weekStart": "SUNDAY"}


async def test_the_fullest_dashboard_card_shows_every_part(data, both):
    learner = await data.user()
    await booked_with_everything(data, learner)

    card = (await both(learner, request(DASHBOARD))).body["data"]["viewer"]["schedule"]["upNext"]

    assert (card["seatsLeft"], card["session"]["name"], card["myReport"]["attendance"]) == (0, "Term", "EXCUSED")
    assert card["myBooking"]["creditTransaction"]["description"] == "Booked Tenses"
    assert card["myBooking"]["absenceRequest"]["comment"] == "Too late"
    assert card["canRequestAbsence"] is False  # asked once already


async def test_an_open_window_and_a_hidden_term_show_as_the_schema_says(data, both):
    open_learner, hidden_learner = await data.user(), await data.user()
    await under_way_and_open(data, open_learner)
    await through_a_term_not_listed_yet(data, hidden_learner)

    open_card = (await both(open_learner, request(DASHBOARD))).body["data"]["viewer"]["schedule"]["upNext"]
    hidden_card = (await both(hidden_learner, request(DASHBOARD))).body["data"]["viewer"]["schedule"]["upNext"]

    assert open_card["joinAvailability"]["url"] == "https://class/open"
    assert (hidden_card["session"], hidden_card["seatsLeft"], hidden_card["myBooking"]) == (None, 0, None)


async def test_an_anonymous_dashboard_is_the_schemas(both):
    sent = await both(None, request(DASHBOARD))

    assert (sent.answered, sent.body) == (True, {"data": {"viewer": None}})


# --- one live session's details ------------------------------------------------------------

SESSION_DETAILS = OPERATIONS["web", "SessionDetails"]


async def test_session_details_answer_as_executed_for_everyone_who_asks(data, both):
    # given: the fullest card, and the people who might open it
    learner = await data.user("Lea Learner")
    await booked_with_everything(data, learner)
    async with data.database.read() as db:
        booked = (await db.execute(select(models.Booking).where(models.Booking.learner_id == learner.id))).scalar_one()
        ls = await db.get(models.LiveSession, booked.live_session_id)
        teacher_profile = await db.get(models.Instructor, ls.instructor_id)
    guardian, stranger, admin = await data.user("Gus Guardian"), await data.user("Stan Stranger"), await data.user(
        "Ada", is_admin=True)
    await data.guardian_of(guardian, learner)
    teacher = await data.user_of(teacher_profile)
    other = await data.user("Ola Other")  # booked on it and cancelled: still sees it
    await data.book(other, ls, status=models.BookingStatus.CANCELLED)

    # when
    sent = {name: await both(user, request(SESSION_DETAILS, id=gid("LiveSession", ls.id)))
            for name, user in [("learner", learner), ("guardian", guardian), ("stranger", stranger),
                               ("admin", admin), ("teacher", teacher), ("other", other)]}

    # then: planned for every one of them (byte-equal to graphql-core's, see `both`)
    assert all(s.answered for s in sent.values())
    assert sent["stranger"].body == {"data": {"node": None}}
    assert sent["learner"].body["data"]["node"]["myBooking"]["creditTransaction"]["amount"] == -1
    assert [sent[n].body["data"]["node"]["myBooking"] for n in ("guardian", "admin", "teacher")] == [None] * 3
    assert sent["other"].body["data"]["node"]["myBooking"]["status"] == "CANCELLED"
    assert sent["learner"].statements <= 3


@pytest.mark.parametrize("make_id", [lambda ids: gid("LiveSession", 10_000),  # none such: null
                                     lambda ids: gid("Course", ids["course"]),  # another type: {}
                                     lambda ids: "not-a-global-id"])  # names nothing: null
async def test_session_details_of_other_ids_answer_as_executed(data, both, make_id):
    learner = await data.user()
    course = await data.course()

    sent = await both(learner, request(SESSION_DETAILS, id=make_id({"course": course.id})))

    assert sent.answered and "errors" not in sent.body
