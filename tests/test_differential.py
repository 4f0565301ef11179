"""Every query document in clients/ answers the same on both paths, as every role.

The reference path is graphql-core's own execution, field by field (COMPILED_OPERATIONS
and PLANNED_EXECUTION off). The other path is the one under test: the planned execution
of schema/execution.py (`OTHER_PATH`; `PATHS` says how each is built). Nothing here names a document:
the documents are every query of every client (clients/documents.py), and each one's
variables are derived from its own variable definitions and the world
(tests/differential.py), pages included (the next page's cursor is the endCursor of the
page before).

Not run: mutations, which change state (they could be run later on twin worlds, one per
path, comparing the responses and then the worlds), and subscriptions, which stream
(tests/test_subscriptions.py holds them).

The world is tests/authz_world.py's (anonymous, two learners, a guardian, an instructor,
a course coach and a session coach, an admin), with what makes answers differ added:
the learner in New York (summer time on March 8, two days before the frozen NOW), the
other learner in Paris (March 29), live sessions ended, cancelled, under way with the
Join window open, across each DST change and the end of March, in a term not displayed
yet (hidden), booked and cancelled by the learner, and enough of every list to need a
second page at the page size the cases use. Roles refused come out as refusals
(UNAUTHENTICATED, FORBIDDEN, a null viewer or node), and these are compared too.

Responses are compared as parsed JSON with key order kept (each object read as its list
of pairs): GraphQL orders a response's fields as the document selects them, so a path
that orders them otherwise is a difference; whitespace and escaping in the bytes are not.
Status codes are compared too, errors included in the bodies.

Each case goes to both paths at once, and the roles' cases run side by side (every request
only reads the world): the database works while Python does, which keeps both engines
within their minute on two cores.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.clients.documents import Operation, all_operations
from sessiongraph.infrastructure.clock import FrozenClock
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema.relay import id_of, to_global_id
from sessiongraph.server.app import create_app
from tests.authz_world import ROLES, World, build_world
from tests.conftest import NOW, empty_tables
from tests.differential import Case, WorldValues, client_schema, cursor_variables, document_cases, pages_after
from tests.schedule_data import ScheduleData
from tests.sized_data import SizedData

# How each path's service differs from the settings of the tests. Rate limits are off in
# both: the cases send far more than a user's burst, and limits are not what is compared.
PATHS: dict[str, dict[str, Any]] = {
    "executed": {"compiled_operations": False, "planned_execution": False},
    "planned": {"compiled_operations": False, "planned_execution": True},
}
REFERENCE_PATH = "executed"
OTHER_PATH = "planned"

QUERIES = [op for op in all_operations() if op.kind == "query"]
# (client, name) -> why the paths differ there: a strict xfail until the difference is fixed.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}
MAX_PAGES = 3  # the first page and up to two more, per case and cursor


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


# --- the world -------------------------------------------------------------------------------

async def grow(database, world: World) -> None:
    """tests/authz_world.py's world, with the rows that make answers differ (see the module's docstring)."""
    data, sized = ScheduleData(database), SizedData(database)
    users = world.users
    async with database.write() as db:
        for role, zone, week_start in (("learner", "America/New_York", "SUNDAY"),
                                       ("other_learner", "Europe/Paris", "MONDAY"),
                                       ("guardian", "Asia/Kolkata", "SATURDAY"),
                                       ("instructor", "Europe/Paris", "MONDAY")):
            user = await db.get(models.User, users[role].id)
            user.time_zone, user.week_start = zone, week_start
        course = await db.get(models.Course, id_of(world.ids["Course"], "Course"))
        instructor = await db.get(models.Instructor, id_of(world.ids["Instructor"], "Instructor"))
        session = await db.get(models.Session, id_of(world.ids["Session"], "Session"))
        classmate = await db.get(models.User, id_of(world.ids["User:classmate"], "User"))
    learner, other, guardian = users["learner"], users["other_learner"], users["guardian"]

    def live(starts_at: datetime, minutes: int = 60, **fields: Any):
        return data.live_session(course, instructor, starts_at, minutes, session_id=session.id, **fields)

    # ended, across New York's change to summer time (07:00 UTC on March 8), with a report
    ended = await live(at(2026, 3, 8, 6, 30), 90, lesson_name="Verbs", recording_url="https://rec.example/1",
                       virtual_classroom_url="https://class.example/1")
    earlier = await live(at(2026, 2, 20, 15), location_name="Main hall", location_room="B2")
    earliest = await live(at(2026, 1, 5, 9), lesson_name="First steps")
    # under way: its Join window is open now
    open_now = await live(NOW - timedelta(minutes=20), virtual_classroom_url="https://class.example/open")
    # cancelled before it happens
    cancelled = await live(NOW + timedelta(days=1), cancelled_at=NOW - timedelta(days=1),
                           cancellation_reason="Instructor ill", virtual_classroom_url="https://class.example/2")
    # across Paris's change to summer time (01:00 UTC on March 29), booked by both learners
    paris = await live(at(2026, 3, 29, 0, 30), 120, lesson_name="Spring", virtual_classroom_url="https://class.example/3")
    # April in Paris, still March in New York
    edge = await live(at(2026, 3, 31, 22), lesson_name="Edge", location_name="Annex")
    # New York back to winter time (06:00 UTC on November 1)
    autumn = await live(at(2026, 11, 1, 5, 30), 60)
    # booked, then cancelled by the learner: off their schedule
    dropped = await live(NOW + timedelta(days=3))
    for row in (ended, earlier, earliest, open_now, cancelled, paris, edge, autumn):
        await data.book(learner, row)
    await data.book(learner, dropped, status=models.BookingStatus.CANCELLED)
    await data.book(classmate, open_now)
    await data.book(other, paris)
    await data.report(ended, learner, models.AttendanceStatus.PRESENT, "Well done")
    await data.report(earlier, learner, models.AttendanceStatus.LATE)
    await data.report(ended, classmate, models.AttendanceStatus.ABSENT)
    # hidden: through a term not displayed to learners yet, full
    hidden_term = await data.session("Hidden term", courses=[course], display_start=NOW + timedelta(days=1),
                                     visibility="INVISIBLE")
    await data.enroll(hidden_term, learner)
    hidden = await data.live_session(course, instructor, NOW + timedelta(hours=3), capacity=1,
                                     session_id=hidden_term.id)
    await data.book(classmate, hidden)
    # a second and third page of credits, learners, children
    await data.add(*(models.CreditTransaction(user_id=learner.id, kind=kind, amount=amount, balance_after=balance,
                                              description=kind.title(), created_at=NOW - timedelta(hours=hours))
                     for kind, amount, balance, hours in (("BOOKING", -1, 3, 3), ("REFUND", 1, 4, 2),
                                                          ("BOOKING", -1, 3, 1))))
    newcomers = [await data.user(f"Nia Newcomer {n}") for n in range(2)]
    await data.enroll(session, *newcomers)
    await data.guardian_of(guardian, *newcomers)
    for kid in newcomers:
        await data.book(kid, ended)
        await data.book(kid, paris)
    # more of every admin list than a page holds
    await sized.courses(3)
    await sized.categories(3)
    await sized.classes(3)
    await sized.admin_sessions(3)
    await sized.instructor_with_slots(3)


NODE_TYPES = ("LiveSession", "Session", "Course", "User", "Instructor", "Booking", "BookableSlot",
              "CreditTransaction", "AbsenceRequest", "SessionCategory", "UserClass")
IDS_PER_TYPE = 12


async def world_values(database, world: World) -> WorldValues:
    """The world's objects and strings, as tests/differential.py offers them to variables."""
    ids: dict[str, list[str]] = {}
    async with database.read() as db:
        for type_name in NODE_TYPES:
            named = [gid for name, gid in world.ids.items()
                     if name.split(":")[0] == type_name and not name.endswith(":missing")]
            rows = (await db.execute(select(getattr(models, type_name).id).order_by("id"))).scalars()
            ids[type_name] = list(dict.fromkeys(named + [to_global_id(type_name, i) for i in rows]))[:IDS_PER_TYPE]
        codes = (await db.execute(select(models.LiveSession.code).order_by(models.LiveSession.id))).scalars().all()
    return WorldValues(
        ids=ids,
        strings={"search": ["o", "Auth", "zzz"], "code": [codes[-3], "NO-SUCH-CODE"]},
        dates=["2026-03-08", "2026-03-29", "2026-11-01", NOW.date().isoformat()],
        windows=[((NOW - timedelta(days=1)).isoformat(), (NOW + timedelta(days=30)).isoformat()),
                 ("2026-03-08T00:00:00-05:00", "2026-03-29T03:00:00+02:00")])


@pytest.fixture(autouse=True)
def clean_tables() -> None:
    """The module's world is read by every test (no document here writes): the `world`
    fixture empties the tables once, after the module."""


@pytest.fixture(scope="module")
async def world(database) -> AsyncIterator[tuple[World, WorldValues]]:
    await empty_tables(database)
    built = await build_world(database, NOW)
    await grow(database, built)
    yield built, await world_values(database, built)
    await empty_tables(database)


@pytest.fixture(scope="module")
def frozen() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="module")
async def service(settings, database, frozen) -> AsyncIterator[Any]:
    """service(path name) -> an HTTP client of the service answering on that path."""
    clients: dict[str, httpx.AsyncClient] = {}

    async def for_path(path: str) -> httpx.AsyncClient:
        if path not in clients:
            app = create_app(settings.model_copy(update={"rate_limit_enabled": False, **PATHS[path]}), clock=frozen,
                             database=database, check_migrations=False)
            clients[path] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
            clients[path].app = app  # type: ignore[attr-defined]
        return clients[path]

    yield for_path
    for client in clients.values():
        await client.aclose()
        await client.app.state.broker.close()  # type: ignore[attr-defined]
        await client.app.state.persisted.close()  # type: ignore[attr-defined]


# --- comparing -------------------------------------------------------------------------------

def ordered(text: str) -> Any:
    """The JSON with every object as its list of (key, value) pairs: equal only in the same order."""
    return json.loads(text, object_pairs_hook=list)


def first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '/'}: keys {list(a)} != {list(b)}"
        return next((d for k in a if (d := first_difference(a[k], b[k], f"{path}/{k}"))), "")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        return next((d for n, (x, y) in enumerate(zip(a, b, strict=True))
                     if (d := first_difference(x, y, f"{path}/{n}"))), "")
    return "" if a == b else f"{path}: {a!r} != {b!r}"


@dataclass
class Observed:
    """What the cases saw, so the last test can tell the world covered what it is for."""

    cases: int = 0
    pages: int = 0
    codes: set[str] = field(default_factory=set)
    values: set[tuple[str, Any]] = field(default_factory=set)  # (key, value) of the keys below
    null_roots: int = 0  # responses whose every root field is null (a null viewer, a node not visible)

    KEYS = ("status", "isOpen", "hasNextPage", "isToday", "timeZone")

    def see(self, body: dict[str, Any]) -> None:
        self.cases += 1
        self.codes |= {(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or ()}
        data = body.get("data")
        if isinstance(data, dict) and data and all(v is None for v in data.values()):
            self.null_roots += 1
        self._walk(data)

    def _walk(self, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in self.KEYS and not isinstance(value, dict | list):
                    self.values.add((key, value))
                self._walk(value)
        elif isinstance(node, list):
            for item in node:
                self._walk(item)


OBSERVED = Observed()


@dataclass
class Mismatch:
    role: str
    case: Case
    difference: str

    def __str__(self) -> str:
        return f"as {self.role}, {self.case.label()}: {self.difference}"


async def compare(service, operation: Operation, role: str, user: models.User | None, case: Case,
                  settings, clock) -> tuple[dict[str, Any], Mismatch | None]:
    headers = {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"} if user else {}
    body = {"query": operation.document, "operationName": operation.name, "variables": case.variables}
    clients = [await service(path) for path in (REFERENCE_PATH, OTHER_PATH)]
    reference, other = await asyncio.gather(*(c.post("/graphql", json=body, headers=headers) for c in clients))
    parsed = reference.json()
    if (reference.status_code, ordered(reference.text)) == (other.status_code, ordered(other.text)):
        return parsed, None
    if reference.status_code != other.status_code:
        return parsed, Mismatch(role, case, f"HTTP {reference.status_code} != {other.status_code}")
    return parsed, Mismatch(role, case, f"{REFERENCE_PATH} != {OTHER_PATH} at "
                                        f"{first_difference(parsed, other.json()) or 'key order'}")


def _marked(operation: Operation) -> Any:
    reason = KNOWN_DIFFERENCES.get((operation.client, operation.name))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(operation, id=f"{operation.client}/{operation.name}", marks=marks)


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", [_marked(op) for op in QUERIES])
async def test_both_paths_answer_alike_for_every_role(operation, world, service, settings, frozen):
    built, values = world
    cursors = cursor_variables(operation)
    mismatches: list[Mismatch] = []

    async def as_role(role: str) -> None:  # the roles' requests interleave, as users' would
        user = built.users[role]
        pending = [(case, 1) for case in document_cases(operation, values)]
        while pending:
            case, page = pending.pop(0)
            body, mismatch = await compare(service, operation, role, user, case, settings, frozen)
            OBSERVED.see(body)
            OBSERVED.pages += page > 1
            if mismatch:
                mismatches.append(mismatch)
            elif page < MAX_PAGES:
                pending += [(later, page + 1) for later in pages_after(case, cursors, body)]

    await asyncio.gather(*(as_role(role) for role in ROLES))
    mismatches.sort(key=lambda m: ROLES.index(m.role))

    assert not mismatches, f"{len(mismatches)} answers differ:\n" + "\n".join(map(str, mismatches[:5]))


def planned_answers(operation: str) -> float:
    return REGISTRY.get_sample_value("sessiongraph_execution_total", {"operation": operation, "path": "planned"}) or 0


def test_the_cases_covered_what_the_world_is_for():
    """Run after the documents' tests: refusals, pages, every status, an open Join window and
    calendars in the DST-changing zones were seen (so the comparisons above were not of empty answers), and
    every document was answered by its plan at least once."""
    if OBSERVED.cases == 0:
        pytest.skip("no document's cases ran in this session")
    assert OBSERVED.codes >= {"FORBIDDEN"}, OBSERVED.codes
    assert OBSERVED.null_roots > 0 and OBSERVED.pages > 0
    assert {("status", s) for s in client_schema().get_type("LiveSessionStatus").values} <= OBSERVED.values
    assert {("isOpen", True), ("isOpen", False), ("hasNextPage", True)} <= OBSERVED.values
    # calendars in the zones whose DST changes the world's rows straddle
    assert {("timeZone", "America/New_York"), ("timeZone", "Europe/Paris")} <= OBSERVED.values
    unplanned = {op.name for op in QUERIES if not planned_answers(op.name)}
    assert not unplanned, f"never answered by their plans: {sorted(unplanned)}"
