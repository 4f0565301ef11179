"""The planned execution's own behaviour (schema/execution.py): which requests it answers, which it
leaves to graphql-core, and that a query's reads share one database session.

That its answers equal graphql-core's, for every client document as every role, is
tests/test_differential.py's to show.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import event

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


async def test_a_query_s_reads_check_out_one_connection_whatever_its_statements(data, caller, database, app,
                                                                                 count_statements):
    learner = await learner_with_schedule(data, [NOW + timedelta(days=1, hours=n) for n in range(6)])
    # The outbox relay publishes what the setup recorded on connections of its own: not while counting.
    await app.state.relay.idle()
    checkouts: list[object] = []

    def checked_out(dbapi_connection, record, proxy) -> None:
        checkouts.append(dbapi_connection)

    for engine in database.engines:
        event.listen(engine.sync_engine, "checkout", checked_out)
    try:
        with count_statements() as log:
            body = await caller(learner).execute(DASHBOARD)
    finally:
        for engine in database.engines:
            event.remove(engine.sync_engine, "checkout", checked_out)

    assert "errors" not in body, body
    assert len(body["data"]["viewer"]["schedule"]["upcoming"]["edges"]) == 6
    # the signed-in user (before execution) and the query's one session, for its many statements
    assert log.count > 5
    assert len(checkouts) == 2, len(checkouts)


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
