"""Every SELECT a client query sends can be served by an index, on PostgreSQL.

Each query operation in clients/ runs once as its client sends it, on the large data set
of tests/test_client_statements.py. Every SELECT it sends is captured with its parameters
as the driver got them, and explained (EXPLAIN (FORMAT JSON)) with the same parameters in a
transaction that turned sequential scans off (SET LOCAL enable_seqscan = off). The planner
then still picks a Seq Scan only where no index can serve the statement's conditions or its
order: a missing index, whatever the size of the table. No table is exempt: even the small
lookup tables (session_category, user_class) are read through an index.

What this cannot see: a scan of a whole index. A statement whose condition no index serves
but whose order one does (ORDER BY name LIMIT 20 over a filter on another column) walks that
index instead of the table, and passes; EXPLAIN ANALYZE on bench/generate.py's data shows those.

PostgreSQL only: SQLite's planner answers another question, and production runs PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from sessiongraph.infrastructure.db import Database
from tests.conftest import NOW, on_postgresql
from tests.sized_data import SizedData, sized  # noqa: F401
from tests.test_client_statements import (
    LARGE,
    OPERATIONS,
    STATEMENTS,
    as_admin,
    as_learner,
    nothing,
    schedule,
    send,  # noqa: F401
)

pytestmark = pytest.mark.skipif(not on_postgresql(), reason=(
    "query plans are PostgreSQL's: run with DATABASE_URL=postgresql://… to check them"))

QUERIES = sorted(name for name, operation in OPERATIONS.items() if operation.kind == "query")

TODAY = {"date": NOW.date().isoformat()}

# The operations tests/test_client_statements.py leaves to older tests, on its schedule data.
GIVEN = {name: entry.given for name, entry in STATEMENTS.items()} | {
    "MobileUpNext": as_learner(nothing, lambda d, made, n: schedule(d)["upNext"]["joinAvailability"]["isOpen"]),
    "MobileToday": as_learner(nothing, lambda d, made, n: len(schedule(d)["today"]) == n),
    "MobileCalendarMonth": as_learner(lambda made, n: TODAY, lambda d, made, n: sum(
        day["count"] for day in schedule(d)["calendar"]["days"]) == 3 * n),
    "MobileCalendarDay": as_learner(lambda made, n: TODAY, lambda d, made, n: len(
        schedule(d)["calendar"]["days"][0]["sessions"]) == n),
}


@dataclass(frozen=True)
class Sent:
    statement: str
    parameters: Any

    def __str__(self) -> str:
        return " ".join(self.statement.split())


def selects(log) -> list[Sent]:
    return [Sent(statement, parameters) for statement, parameters in zip(log.statements, log.parameters, strict=True)
            if statement.lstrip().upper().startswith(("SELECT", "WITH"))]


async def plan_without_sequential_scans(database: Database, sent: Sent) -> dict[str, Any]:
    async with database.engine.connect() as connection, connection.begin():
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        found = (await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sent.statement}",
                                                  sent.parameters)).scalar_one()
    plans = json.loads(found) if isinstance(found, str) else found
    return plans[0]["Plan"]


def tables_scanned_sequentially(plan: dict[str, Any]) -> list[str]:
    found = [plan["Relation Name"]] if plan["Node Type"] == "Seq Scan" else []
    return found + [table for child in plan.get("Plans", []) for table in tables_scanned_sequentially(child)]


class SequentialScans(AssertionError):
    """Statements of an operation that no index serves."""


async def run_and_explain(name: str, given, send, database: Database, count_statements) -> None:
    """Runs the operation; raises SequentialScans naming each statement that reads a table whole."""
    with count_statements() as log:
        body = await send(OPERATIONS[name], given)

    assert "errors" not in body, body
    assert given.expect(body["data"]), f"{name} answered {body['data']}"
    sent = selects(log)
    assert sent, f"{name} sent no SELECT"
    scans = [f"Seq Scan on {table} in: {statement}"
             for statement in sent
             for table in tables_scanned_sequentially(await plan_without_sequential_scans(database, statement))]
    if scans:
        raise SequentialScans(f"{name}: no index serves\n" + "\n".join(scans))


def test_every_client_query_has_data_to_plan_on():
    assert sorted(set(QUERIES) - GIVEN.keys()) == []


async def test_a_select_that_no_index_serves_is_seen_scanning_its_table(database):
    unindexed = Sent("SELECT id FROM live_session WHERE lesson_name = $1", ("Lesson 1",))

    assert tables_scanned_sequentially(await plan_without_sequential_scans(database, unindexed)) == ["live_session"]


@pytest.mark.parametrize("name", QUERIES)
async def test_every_select_of_a_client_query_is_served_by_an_index(name, sized, send, database,
                                                                     count_statements):
    given = await GIVEN[name](sized, LARGE)

    await run_and_explain(name, given, send, database, count_statements)


async def test_the_session_list_as_it_opens_without_a_filter_is_served_by_an_index(sized, send, database,
                                                                                     count_statements):
    given = await as_admin(SizedData.admin_sessions, nothing,
                           lambda d, tag, n: len(d["sessions"]["edges"]) == 25)(sized, LARGE)

    await run_and_explain("SessionList", given, send, database, count_statements)
