"""Compiled operations (schema/compiled) answer exactly what executing the document answers.

Each request goes to two apps on the same database and clock: the service as it runs
(compiled operations on) and one with COMPILED_OPERATIONS off, which executes every
document field by field. Their response bodies must be the same bytes, and the
sessiongraph_compiled_operations_total metric tells whether the compiled operation
answered or left the document to be executed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from sessiongraph import models
from sessiongraph.clients.documents import load_operations
from sessiongraph.schema.compiled import _compiled, compiled_by_document
from sessiongraph.server.app import create_app
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401
from tests.side_by_side import side_by_side

OPERATIONS = {(op.client, op.name): op for client in ("web", "mobile", "admin") for op in load_operations(client)}
CALENDAR_TAB = OPERATIONS["web", "CalendarTab"]
MONTH = OPERATIONS["mobile", "MobileCalendarMonth"]
DAY = OPERATIONS["mobile", "MobileCalendarDay"]
# The token's user, then the calendar: all a compiled calendar reads.
COMPILED_STATEMENTS = 2


@pytest.fixture
async def executed(settings, database, clock) -> AsyncIterator[httpx.AsyncClient]:
    """The same service with every document executed field by field."""
    app = create_app(settings.model_copy(update={"compiled_operations": False}), clock=clock, database=database,
                     check_migrations=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def compiled_answers(outcome: str) -> float:
    return sum(REGISTRY.get_sample_value("sessiongraph_compiled_operations_total",
                                         {"operation": c.name, "outcome": outcome}) or 0 for c in _compiled())


@pytest.fixture
def both(http, executed, settings, clock, count_statements):
    """send(user, body) -> Sent, after checking the reference's response is the same bytes."""
    return side_by_side(http, executed, settings, clock, count_statements, lambda: compiled_answers("answered"))


def request(operation, **variables: Any) -> dict[str, Any]:
    return {"query": operation.document, "operationName": operation.name, "variables": variables}


def calendar_of(body: dict[str, Any]) -> dict[str, Any]:
    return body["data"]["viewer"]["schedule"]["calendar"]


@pytest.fixture
async def world(data):
    """Two learners in zones that change to summer time in March 2026 (New York on the 8th,
    Paris on the 29th), with every kind of row a calendar shows; NOW is March 10, 12:00 UTC."""
    paris = await data.user("Paris learner", time_zone="Europe/Paris", week_start="MONDAY")
    new_york = await data.user("New York learner", time_zone="America/New_York", week_start="SUNDAY")
    stranger = await data.user("Someone else")
    quick = await data.course(join_lead_minutes=15, title="Quick joins")
    early = await data.course(join_lead_minutes=45, title="Early joins")
    teacher = await data.instructor("Ines Instructor")
    other_teacher = await data.instructor("Otto Other")
    term = await data.session("Spring term", courses=[early])
    await data.enroll(term, paris)

    def at(*fields: int) -> datetime:
        return datetime(*fields, tzinfo=UTC)

    rows = [
        # ended, virtual, with a lesson
        await data.live_session(quick, teacher, at(2026, 3, 2, 9), lesson_name="Verbs",
                                virtual_classroom_url="https://class.example/1"),
        # cancelled before it happened, in a room
        await data.live_session(quick, other_teacher, at(2026, 3, 12, 16), location_name="Main hall",
                                location_room="B2", cancelled_at=NOW - timedelta(days=1),
                                cancellation_reason="Instructor ill"),
        # upcoming, neither URL nor place nor lesson
        await data.live_session(quick, teacher, at(2026, 3, 20, 23, 30)),
        # upcoming, virtual, the day Paris changes to summer time
        await data.live_session(early, teacher, at(2026, 3, 29, 1, 30), virtual_classroom_url="https://class.example/2"),
        # the first instant of April in Paris (still March in New York)
        await data.live_session(quick, other_teacher, at(2026, 3, 31, 22), lesson_name="Edge",
                                virtual_classroom_url="https://class.example/3"),
    ]
    for row in rows:
        await data.book(paris, row)
        await data.book(new_york, row)
    # on Paris's schedule through the term only, without a booking
    await data.live_session(early, other_teacher, at(2026, 3, 17, 8), lesson_name="Term lesson",
                            session_id=term.id, virtual_classroom_url="https://class.example/4")
    # a booking cancelled by the learner: off the schedule
    dropped = await data.live_session(quick, teacher, at(2026, 3, 18, 10))
    await data.book(paris, dropped, status=models.BookingStatus.CANCELLED)
    # someone else's
    await data.book(stranger, await data.live_session(quick, teacher, at(2026, 3, 19, 10)))
    return {"paris": paris, "new_york": new_york, "stranger": stranger, "teacher": teacher, "quick": quick,
            "data": data}


def test_every_compiled_operation_matches_its_document_in_clients():
    # A document changed in clients/ without its compiled operation: this fails until
    # schema/compiled is brought up to date (or the operation is dropped from it).
    stale = [f"{c.client}/{c.name}" for c in _compiled() if compiled_by_document().get(
        OPERATIONS[c.client, c.name].document) is not c]
    assert stale == []


@pytest.mark.parametrize("learner", ["paris", "new_york"])
@pytest.mark.parametrize(("view", "day"), [("MONTH", "2026-03-10"), ("MONTH", "2026-04-01"), ("WEEK", "2026-03-29"),
                                           ("WEEK", "2026-03-08"), ("DAY", "2026-03-31"), ("DAY", "2026-04-01"),
                                           ("MONTH", "2025-12-31")])
async def test_the_calendar_tab_answers_as_executed(world, both, learner, view, day):
    sent = await both(world[learner], request(CALENDAR_TAB, view=view, date=day))

    assert (sent.answered, sent.statements) == (True, COMPILED_STATEMENTS)
    assert calendar_of(sent.body)["view"] == view


async def test_a_month_shows_every_kind_of_row(world, both):
    # when
    body = (await both(world["paris"], request(CALENDAR_TAB, view="MONTH", date="2026-03-10"))).body

    # then: the rows this test is about are there to compare (not an empty month)
    sessions = [s for d in calendar_of(body)["days"] for s in d["sessions"]]
    assert {s["status"] for s in sessions} == {"COMPLETED", "CANCELLED", "SCHEDULED"}
    assert {s["lesson"]["name"] if s["lesson"] else None for s in sessions} >= {"Verbs", "Term lesson", None}
    assert {(s["location"] or {}).get("isVirtual") for s in sessions} == {True, False, None}
    assert len(sessions) == 6  # five booked, one through the term; not the dropped one nor the stranger's


@pytest.mark.parametrize("learner", ["paris", "new_york"])
@pytest.mark.parametrize("day", ["2026-03-10", "2026-03-29", "2026-04-30"])
async def test_the_mobile_calendars_answer_as_executed(world, both, learner, day):
    sent = [await both(world[learner], request(MONTH, date=day)),
            await both(world[learner], request(DAY, date=day)),
            await both(world[learner], request(DAY, view="WEEK", date=day))]

    assert [(s.answered, s.statements) for s in sent] == [(True, COMPILED_STATEMENTS)] * 3
    month, one_day, week = (calendar_of(s.body)["days"] for s in sent)
    assert (len(month) in (35, 42), len(one_day), len(week)) == (True, 1, 7)


async def test_a_session_open_to_join_asks_who_may_join(world, both, clock):
    # given: the Paris learner's term lesson of March 17, 08:00 UTC (join lead 45 minutes) is open
    clock.set(datetime(2026, 3, 17, 7, 20, tzinfo=UTC))

    # when
    sent = await both(world["paris"], request(CALENDAR_TAB, view="WEEK", date="2026-03-17"))

    # then: who may join decided it (more statements), and gave the URL
    assert sent.answered and sent.statements > COMPILED_STATEMENTS
    open_now = [s for d in calendar_of(sent.body)["days"] for s in d["sessions"] if s["joinAvailability"]["isOpen"]]
    assert [s["joinAvailability"]["url"] for s in open_now] == ["https://class.example/4"]


async def test_the_window_closed_again_is_compiled(world, both, clock):
    # given: the same lesson's end instant (its window is [07:15, 09:00))
    clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))

    sent = await both(world["paris"], request(CALENDAR_TAB, view="WEEK", date="2026-03-17"))

    assert (sent.answered, sent.statements) == (True, COMPILED_STATEMENTS)
    assert not any(s["joinAvailability"]["isOpen"] for d in calendar_of(sent.body)["days"] for s in d["sessions"])


@pytest.mark.parametrize("variables", [
    {"view": "YEAR", "date": "2026-03-10"},
    {"view": "MONTH", "date": "10/03/2026"},
    {"view": "MONTH"},
    {"view": None, "date": "2026-03-10"},
    {"view": "MONTH", "date": "2026-03-10", "extra": 1},
])
async def test_variables_the_schema_refuses_or_questions_are_left_to_it(world, both, variables):
    sent = await both(world["paris"], request(CALENDAR_TAB, **variables))

    assert not sent.answered
    if "extra" in variables:  # graphql-core ignores a variable the document does not declare
        assert calendar_of(sent.body)["view"] == "MONTH"
    else:
        assert sent.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_anonymous_calendar_is_the_schemas_null_viewer(world, both):
    sent = await both(None, request(CALENDAR_TAB, view="MONTH", date="2026-03-10"))

    assert (sent.answered, sent.body) == (False, {"data": {"viewer": None}})


async def test_a_trusted_document_sent_by_hash_is_compiled(world, both):
    sent = await both(world["paris"], {"documentId": f"sha256:{CALENDAR_TAB.sha256}",
                                       "variables": {"view": "DAY", "date": "2026-03-17"}})

    assert (sent.answered, sent.statements) == (True, COMPILED_STATEMENTS)
    assert [s["lesson"]["name"] for s in calendar_of(sent.body)["days"][0]["sessions"]] == ["Term lesson"]


async def test_the_same_query_written_differently_is_executed(world, both):
    # Only the exact trusted document is compiled; the same fields in another text execute.
    sent = await both(world["paris"], {
        "query": CALENDAR_TAB.document.replace("query CalendarTab", "query  CalendarTab"),
        "variables": {"view": "DAY", "date": "2026-03-17"}})

    # (told by the compiled operations' metric: executed, the calendar reads its courses and
    # instructors in its own statement too, so the statements no longer tell the paths apart)
    assert not sent.answered
    assert calendar_of(sent.body)["days"][0]["count"] == 1


# --- the admin's session list ----------------------------------------------------------------

SESSION_LIST = next(op for op in load_operations("admin") if op.name == "SessionList")
# The token's user, the page, its total, categories, course counts and learner counts.
SESSION_LIST_STATEMENTS = 6


@pytest.fixture
async def sessions_world(data):
    """Twelve sessions: past, active, upcoming and open-ended, with and without a category,
    courses and learners, by duration or by dates, in every visibility."""
    admin = await data.user("Ada Admin", is_admin=True)
    learners = [await data.user(f"Learner {n}") for n in range(3)]
    courses = [await data.course() for _ in range(2)]
    language = models.SessionCategory(name="Languages")
    music = models.SessionCategory(name="Music")
    await data.add(language, music)
    day = timedelta(days=1)
    windows = [(NOW - 60 * day, NOW - 30 * day), (NOW - day, NOW + day), (NOW + 10 * day, NOW + 40 * day),
               (None, None), (None, NOW + day), (NOW - day, None)]
    visibilities = list(models.SessionVisibility)
    for n in range(12):
        start, end = windows[n % len(windows)]
        session = await data.session(
            f"{'Spanish' if n % 2 else 'Piano'} {n:02d}", courses=courses[: n % 3],
            category_id=(language.id, music.id, None)[n % 3], visibility=visibilities[n % 3].value,
            access_start=start, access_end=end, display_start=start and start - day, display_end=end,
            coach_start=start, coach_end=end and end + day, duration_days=30 if n == 7 else None)
        await data.enroll(session, *learners[: n % 4])
    return {"admin": admin, "learner": learners[0], "language": language}


def sessions_of(body: dict[str, Any]) -> dict[str, Any]:
    return body["data"]["sessions"]


async def test_the_session_list_answers_as_executed_page_after_page(sessions_world, both):
    # when: three pages of five
    pages, after = [], None
    for _ in range(3):
        sent = await both(sessions_world["admin"], request(SESSION_LIST, first=5, after=after))
        assert sent.answered and sent.statements <= SESSION_LIST_STATEMENTS
        pages.append(sessions_of(sent.body))
        after = pages[-1]["pageInfo"]["endCursor"]

    # then: every session once, and the rows this test is about are there to compare
    names = [e["node"]["name"] for page in pages for e in page["edges"]]
    assert len(names) == len(set(names)) == 12 == pages[0]["totalCount"]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    nodes = [e["node"] for page in pages for e in page["edges"]]
    assert {n["status"] for n in nodes} == {"ACTIVE", "UPCOMING", "PAST"}
    assert {n["category"]["name"] if n["category"] else None for n in nodes} == {"Languages", "Music", None}
    assert {n["learnerCount"] for n in nodes} == {0, 1, 2, 3} and {n["courseCount"] for n in nodes} == {0, 1, 2}


@pytest.mark.parametrize("make_filter", [
    lambda w: {"search": "span"},
    lambda w: {"status": "ACTIVE"},
    lambda w: {"status": "PAST", "search": "o"},
    lambda w: {"categoryId": gid("SessionCategory", w["language"].id)},
    lambda w: {"from": "2026-03-20T00:00:00Z", "to": "2026-04-30T00:00:00+02:00"},
    lambda w: {"search": None, "categoryId": None, "status": None, "from": None, "to": None},
    lambda w: None,
])
async def test_a_filtered_session_list_answers_as_executed(sessions_world, both, make_filter):
    sent = await both(sessions_world["admin"], request(SESSION_LIST, filter=make_filter(sessions_world), first=50))

    assert sent.answered and sent.statements <= SESSION_LIST_STATEMENTS
    assert sessions_of(sent.body)["totalCount"] == len(sessions_of(sent.body)["edges"]) > 0


@pytest.mark.parametrize(("variables", "code"), [
    ({"first": -1}, "BAD_USER_INPUT"),
    ({"after": "not-a-cursor"}, "BAD_USER_INPUT"),
    ({"first": 1.5}, "BAD_USER_INPUT"),
    ({"filter": {"status": "SOON"}}, "BAD_USER_INPUT"),
    ({"filter": {"from": "yesterday"}}, "BAD_USER_INPUT"),
    ({"filter": {"categoryId": "bm90IGFuIGlk"}}, None),
])
async def test_session_list_variables_the_schema_refuses_are_left_to_it(sessions_world, both, variables, code):
    sent = await both(sessions_world["admin"], request(SESSION_LIST, **variables))

    body = sent.body
    assert not sent.answered
    if code is None:  # an ID that names no category: an empty list
        assert sessions_of(body) == {"totalCount": 0, "edges": [],
                                     "pageInfo": {"hasNextPage": False, "endCursor": None}}
    else:
        assert body["errors"][0]["extensions"]["code"] == code


async def test_a_learner_asking_for_the_session_list_is_refused_as_executed(sessions_world, both):
    sent = await both(sessions_world["learner"], request(SESSION_LIST, first=5))

    assert not sent.answered and sent.body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_compiled_operation_that_fails_leaves_the_document_to_the_schema(world, both, monkeypatch, caplog):
    # given: the calendar's read fails once, as a lost connection would
    from sessiongraph.resolvers import schedule

    real = schedule.calendar_rows
    failures = []

    async def failing_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise ConnectionResetError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(schedule, "calendar_rows", failing_once)

    # when
    sent = await both(world["paris"], request(CALENDAR_TAB, view="MONTH", date="2026-03-10"))

    # then: executed field by field (byte-equal to the executed service's answer), and logged
    assert failures == [1] and not sent.answered
    assert len([d for d in calendar_of(sent.body)["days"] if d["sessions"]]) > 0
    assert "CalendarTab failed; executing it field by field" in caplog.text
