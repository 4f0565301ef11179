"""The planned execution's own behaviour (schema/execution.py): which requests it answers, which it
leaves to graphql-core, and that a query's reads share one database session.

That its answers equal graphql-core's, for every client document as every role, is
tests/test_differential.py's to show.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import event

from sessiongraph.clients.documents import load_operations
from tests.conftest import NOW
from tests.schedule_data import data  # noqa: F401
from tests.test_schedule_statements import DASHBOARD, learner_with_schedule


def answered(operation: str, path: str) -> float:
    return REGISTRY.get_sample_value("sessiongraph_execution_total", {"operation": operation, "path": path}) or 0


async def test_a_query_is_answered_by_its_plan_and_a_directive_leaves_it_to_graphql_core(data, caller):
    learner = await data.user("Lea")
    plain = "query Named { viewer { user { name } } }"
    directed = "query Directed($full: Boolean!) { viewer { user { name timeZone @include(if: $full) } } }"
    before = answered("Named", "planned"), answered("Directed", "executed")

    assert await caller(learner).execute(plain) == {"data": {"viewer": {"user": {"name": "Lea"}}}}
    shown = await caller(learner).execute(directed, full=False)

    assert shown == {"data": {"viewer": {"user": {"name": "Lea"}}}}
    assert (answered("Named", "planned"), answered("Directed", "executed")) == (before[0] + 1, before[1] + 1)


async def test_a_resolver_s_error_is_reported_as_graphql_core_reports_it(data, caller):
    learner = await data.user("Lea")
    query = "query Negative { viewer { user { name } schedule { upcoming(first: -1) { totalCount } } } }"
    before = answered("Negative", "executed")

    body = await caller(learner).execute(query)

    # graphql-core's partial data and error path: the planned path gave the request up
    assert body["data"] == {"viewer": None}  # schedule and upcoming are non-null: the null reaches viewer
    (error,) = body["errors"]
    assert error["path"] == ["viewer", "schedule", "upcoming"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert answered("Negative", "executed") == before + 1

RESET_CALENDAR_FEED = next(op.document for op in load_operations("web") if op.name == "ResetCalendarFeed")


@contextmanager
def pool_use(database):
    """How many connections the engines' pools hand out while the block runs, and the most out at once."""
    use = {"checkouts": 0, "out": 0, "most": 0}

    def checked_out(dbapi_connection, record, proxy) -> None:
        use["checkouts"] += 1
        use["out"] += 1
        use["most"] = max(use["most"], use["out"])

    def checked_in(dbapi_connection, record) -> None:
        use["out"] -= 1

    for engine in database.engines:
        event.listen(engine.sync_engine, "checkout", checked_out)
        event.listen(engine.sync_engine, "checkin", checked_in)
    try:
        yield use
    finally:
        for engine in database.engines:
            event.remove(engine.sync_engine, "checkout", checked_out)
            event.remove(engine.sync_engine, "checkin", checked_in)


async def test_a_query_s_reads_and_its_user_s_check_out_one_connection_whatever_its_statements(
        data, caller, database, app, count_statements):
    learner = await learner_with_schedule(data, [NOW + timedelta(days=1, hours=n) for n in range(6)])
    # The outbox relay publishes what the setup recorded on connections of its own: not while counting.
    await app.state.relay.idle()
    with pool_use(database) as use, count_statements() as log:
        body = await caller(learner).execute(DASHBOARD)

    assert "errors" not in body, body
    assert len(body["data"]["viewer"]["schedule"]["upcoming"]["edges"]) == 6
    # the signed-in user, before execution, then the query's many statements, on one connection
    assert log.count > 5
    assert use["checkouts"] == 1, use
    assert use["out"] == 0, use


async def test_requests_at_once_read_their_users_in_one_statement_on_one_of_their_connections(
        data, caller, database, app, count_statements):
    learners = [await learner_with_schedule(data, [NOW + timedelta(days=1)]) for _ in range(3)]
    await app.state.relay.idle()
    with pool_use(database) as use, count_statements() as log:
        bodies = await asyncio.gather(*(caller(learner).execute(
            "{ viewer { user { name } schedule { upcoming(first: 5) { totalCount } } } }") for learner in learners))

    assert all("errors" not in body for body in bodies), bodies
    assert [body["data"]["viewer"]["user"]["name"] for body in bodies] == [learner.name for learner in learners]
    assert [body["data"]["viewer"]["schedule"]["upcoming"]["totalCount"] for body in bodies] == [1, 1, 1]
    assert sum("FROM app_user" in statement for statement in log.statements) == 1, log.statements
    assert use["checkouts"] == 3, use  # each request's one: the users' statement ran on the first's
    assert use["out"] == 0, use


async def test_a_mutation_s_user_is_read_on_a_connection_given_back_before_it_runs(data, caller, database, app):
    learner = await learner_with_schedule(data, [NOW + timedelta(days=1)])
    await app.state.relay.idle()
    with pool_use(database) as use:
        body = await caller(learner).execute(RESET_CALENDAR_FEED)

    assert body["data"]["resetCalendarFeed"]["errors"] == [], body
    assert use["checkouts"] >= 2, use  # the user's read, then the mutation's transaction
    assert use["most"] == 1, use
    assert use["out"] == 0, use


async def test_a_signed_in_request_that_no_operation_answers_gives_its_connection_back(data, caller, database,
                                                                                       http):
    learner = await learner_with_schedule(data, [NOW + timedelta(days=1)])
    with pool_use(database) as use:
        invalid = await http.post("/graphql", json={"query": "{ nothing }"}, headers=caller(learner).headers)
        unparsed = await http.post("/graphql", json={"query": "{"}, headers=caller(learner).headers)

    assert invalid.json()["errors"], invalid.text
    assert unparsed.json()["errors"], unparsed.text
    assert use["checkouts"] == 2, use  # each request's user
    assert use["out"] == 0, use


def test_every_enum_value_is_named_as_graphql_core_names_it():
    """The planned path names an enum's values from a table made with the plan; graphql-core asks the type
    each time. For every enum of the schema, every member of its Python enum, both agree; a value of
    another type is left to the type itself."""
    from graphql import GraphQLEnumType

    from sessiongraph.schema import schema
    from sessiongraph.schema.execution import Level, _leaf_completer

    enums = [t for t in schema._schema.type_map.values()
             if isinstance(t, GraphQLEnumType) and not t.name.startswith("__")]
    assert len(enums) > 5
    for enum_type in enums:
        complete = _leaf_completer(enum_type)
        for member in enum_type.wrapped_cls:
            assert complete(member, Level()) == enum_type.coerce_output_value(member), (enum_type, member)
        name = next(iter(enum_type.values))
        assert complete(name, Level()) == enum_type.coerce_output_value(name)
