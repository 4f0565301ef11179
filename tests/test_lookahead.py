"""Lists load their rows' related rows ahead only when the document asks for them, and the
rows' fields give the same answers whether they were loaded ahead or not."""

from datetime import timedelta

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers.loaders.sessions import CategoryById
from sessiongraph.schema.lookahead import selected_names
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401
from tests.test_schedule_statements import learner_with_schedule


def reads_of(log, table: str) -> int:
    return sum(1 for statement in log.statements if f"FROM {table} " in statement or statement.endswith(f"FROM {table}"))


async def a_month_of(data, count: int = 6):
    """The first one under way now, booked, with a classroom URL: its Join is open."""
    return await learner_with_schedule(data, [NOW - timedelta(minutes=10)]
                                       + [NOW + timedelta(days=n, hours=2) for n in range(1, count)])


async def test_a_calendar_that_shows_no_course_or_instructor_reads_neither(data, caller, count_statements):
    learner = await a_month_of(data)

    with count_statements() as log:
        body = await caller(learner).execute(
            '{ viewer { schedule { calendar(view: MONTH, date: "2026-03-10") { days { count sessions { code } } } } } }')

    assert "errors" not in body, body
    assert sum(d["count"] for d in body["data"]["viewer"]["schedule"]["calendar"]["days"]) == 6
    assert reads_of(log, "course") == 0
    assert reads_of(log, "instructor") == 0


async def test_fields_asked_through_nested_fragments_answer_from_the_list_s_own_statement(data, caller,
                                                                                          count_statements):
    learner = await a_month_of(data)
    query = """
    fragment Teacher on Instructor { displayName }
    fragment Row on LiveSession { code ... on LiveSession { course { code } instructor { ...Teacher } } }
    { viewer { schedule { calendar(view: MONTH, date: "2026-03-10") { days { sessions { ...Row } } } } } }
    """

    with count_statements() as log:
        body = await caller(learner).execute(query)

    assert "errors" not in body, body
    rows = [s for d in body["data"]["viewer"]["schedule"]["calendar"]["days"] for s in d["sessions"]]
    assert len(rows) == 6
    assert all(row["course"]["code"] and row["instructor"]["displayName"].startswith("Teacher") for row in rows)
    # A schedule list reads its rows' courses and instructors in its own statement
    # (resolvers/loaders/schedule.py with_course_and_instructor): no read of either of their own.
    assert reads_of(log, "course") == 0
    assert reads_of(log, "instructor") == 0
    assert log.count == 2  # the signed-in user, the calendar


async def test_a_live_session_read_on_its_own_answers_as_the_same_row_in_a_list(data, caller):
    learner = await a_month_of(data)
    row = "code course { code title } instructor { displayName } joinAvailability { opensAt closesAt isOpen url }"
    listed = await caller(learner).execute(
        '{ viewer { schedule { calendar(view: MONTH, date: "2026-03-10") { days { sessions { id ' + row + ' } } } } } }')
    rows = [s for d in listed["data"]["viewer"]["schedule"]["calendar"]["days"] for s in d["sessions"]]

    assert any(r["joinAvailability"]["isOpen"] and r["joinAvailability"]["url"] for r in rows)
    for expected in rows:
        # node(id:) reads one live session: nothing was loaded ahead, so its fields await their loaders.
        alone = await caller(learner).execute(
            "query($id: ID!) { node(id: $id) { ... on LiveSession { id " + row + " } } }", id=expected["id"])
        assert alone == {"data": {"node": expected}}


def test_selected_names_see_through_fragments_inline_fragments_and_aliases():
    seen = []

    @strawberry.type
    class Leaf:
        a: int = 1
        b: int = 2
        c: int = 3

    @strawberry.type
    class Query:
        @strawberry.field
        def leaf(self, info: Info) -> Leaf:
            seen.append(selected_names(info))
            return Leaf()

    schema = strawberry.Schema(Query)
    result = schema.execute_sync("""
        fragment Outer on Leaf { a ...Inner }
        fragment Inner on Leaf { ... on Leaf { renamed: b } }
        { first: leaf { ...Outer } second: leaf { c } }
    """)

    assert result.errors is None
    assert seen == [frozenset({"a", "b"}), frozenset({"c"})]


async def test_a_failed_read_ahead_fails_the_rows_fields_not_the_list(data, admin, monkeypatch):
    category = models.SessionCategory(name="Languages")
    await data.add(category)
    for n in range(3):
        await data.session(f"Spring {n}", category_id=category.id)

    async def unreachable(self, db, keys):
        raise RuntimeError("the category table is unreachable")

    monkeypatch.setattr(CategoryById, "batch_load", unreachable)
    body = await admin.execute("{ sessions(first: 10) { edges { node { name category { name } } } } }")

    rows = [edge["node"] for edge in body["data"]["sessions"]["edges"]]
    assert [row["name"] for row in rows] == ["Spring 0", "Spring 1", "Spring 2"], "the list itself is answered"
    assert [row["category"] for row in rows] == [None, None, None]
    assert [error["path"] for error in body["errors"]] == [["sessions", "edges", n, "node", "category"] for n in range(3)]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"INTERNAL"}
