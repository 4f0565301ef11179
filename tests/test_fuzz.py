"""Fuzzing: hypothesis-graphql writes valid queries and mutations from the exported schema (and, a
quarter of the time, ones with a single schema violation), and
they run over HTTP as an anonymous caller, a demo learner and a demo admin against the demo data.
No answer may be a 5xx, carry an error without `extensions.code` or with code INTERNAL (an
unmasked or unexpected failure), or take longer than FUZZ_BOUND_SECONDS (twice in a row: once
may be a busy machine).

CI runs FUZZ_EXAMPLES examples (200 by default); `make fuzz` runs many more.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, date, datetime

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from sessiongraph.schema import schema
from sessiongraph.schema.relay import to_global_id
from tests.conftest import Caller
from tests.demo_roles import demo_users

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
BOUND_SECONDS = float(os.environ.get("FUZZ_BOUND_SECONDS", "2"))
NODE_TYPES = ("User", "UserClass", "Course", "Session", "SessionCategory", "LiveSession", "Booking", "Instructor",
              "BookableSlot", "CreditTransaction", "AbsenceRequest")
SDL = schema.as_str()
MUTATION_FIELDS = [name for name in graphql.build_schema(SDL).mutation_type.fields if name != "importCsv"]

# IDs: mostly real ones from the demo data (small database IDs of every type), sometimes junk.
ids = st.one_of(
    st.builds(to_global_id, st.sampled_from(NODE_TYPES), st.integers(min_value=1, max_value=40)),
    st.text(max_size=12),
).map(nodes.String)
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1))
datetimes = st.one_of(
    moments.map(lambda m: m.replace(tzinfo=UTC).isoformat()),
    moments.map(lambda m: m.isoformat()),  # naive: a BAD_USER_INPUT
    st.text(max_size=20),
).map(nodes.String)
dates = st.one_of(st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 1, 1)).map(date.isoformat),
                  st.text(max_size=10)).map(nodes.String)
SCALARS = {"ID": ids, "DateTime": datetimes, "Date": dates}

operations = st.one_of(
    queries(SDL, custom_scalars=SCALARS, allow_x00=False),
    mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=SCALARS, allow_x00=False),
    # Now and then one schema violation (a wrong type, a missing argument): a clean 4xx or error.
    queries(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
    mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
)
ROLES = ("anonymous", "learner", "admin")


@pytest.fixture
async def fuzz(database, clock, client_with, settings, capsys):
    """The app with the demo data (rate limits off, so mutations are not refused for volume), its
    callers by role, and the run's tally, printed at the end."""
    users = await demo_users(database, clock.now())
    http = await client_with(rate_limit_enabled=False)
    tally = {"examples": 0, "errors": 0, "slowest": 0.0, "started": time.perf_counter(), "codes": Counter()}
    yield {role: Caller(http, settings, clock, user) for role, user in users.items()}, tally
    line = (f"fuzz: {tally['examples']} examples ({EXAMPLES} asked) in "
            f"{time.perf_counter() - tally['started']:.1f}s, {tally['errors']} answered with errors, "
            f"slowest {tally['slowest'] * 1000:.0f} ms; error codes {dict(tally['codes'].most_common())}")
    with capsys.disabled():
        print(f"\n{line}")


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(operation=operations, role=st.sampled_from(ROLES))
async def test_generated_operations_fail_cleanly(fuzz, operation, role):
    callers, tally = fuzz
    who = callers[role]
    started = time.perf_counter()
    response = await who.http.post("/graphql", json={"query": operation}, headers=who.headers)
    elapsed = time.perf_counter() - started
    tally["examples"] += 1
    tally["slowest"] = max(tally["slowest"], elapsed)
    assert response.status_code < 500, (response.status_code, response.text, operation)
    body = response.json()
    errors = body.get("errors") or []
    tally["errors"] += bool(errors)
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        tally["codes"][code] += 1
        assert code is not None, (error, operation)
        assert code != "INTERNAL", (error, role, operation)
    if elapsed >= BOUND_SECONDS:
        # Slow once may be a busy machine (CI shares its cores); a slow operation is slow again.
        started = time.perf_counter()
        await who.http.post("/graphql", json={"query": operation}, headers=who.headers)
        elapsed = min(elapsed, time.perf_counter() - started)
    assert elapsed < BOUND_SECONDS, (elapsed, operation)
