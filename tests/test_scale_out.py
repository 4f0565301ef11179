"""Scale-out, small: bench/scale_out.py's run with 200 subscribers. Two real `sessiongraph serve`
processes behind a real haproxy (through PgBouncer when the run is, and Redis), query load and an
admin's changes; one instance is SIGKILLed mid-run. Only the requests in flight at the kill may
fail; every subscriber of the killed instance reconnects to the other and resumes from its cursor,
and every subscriber has every event of the outbox that concerns it, in order, once.
"""

import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from bench.generate import load
from bench.scale_out import (
    JWT_SECRET,
    Plan,
    haproxy_command,
    instance_environment,
    raise_open_files_limit,
    scale_out,
)
from sessiongraph.infrastructure.settings import Settings, async_database_url
from tests.conftest import on_postgresql
from tests.test_broker import REDIS_URL

SCALE = 0.002  # 400 learners in 10 administrative sessions


def server_side(database_url: str) -> str:
    """The test database on the server itself: bench/generate.py's COPY and its session settings
    are not for a pooler in transaction mode."""
    admin = os.environ.get("DATABASE_ADMIN_URL")
    if not (on_postgresql() and admin):
        return database_url
    return make_url(async_database_url(admin)).set(database=make_url(database_url).database).render_as_string(
        hide_password=False)


@pytest.mark.skipif(haproxy_command() is None,
                    reason="haproxy is not installed (.ci/run installs Debian's)")
async def test_an_instance_killed_mid_run_loses_only_its_in_flight_requests_and_no_event(
        database, database_url, tmp_path):
    raise_open_files_limit()
    seed_url = server_side(database_url)
    await load(seed_url, SCALE, seed=3, now=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    env = instance_environment(database_url, os.environ.get("DATABASE_POOLER") == "pgbouncer", [], REDIS_URL,
                               f"sessiongraph-test-{uuid.uuid4().hex[:8]}:")
    settings = Settings(database_url=seed_url, jwt_secret=JWT_SECRET, _env_file=None)
    plan = Plan(subscribers=200, clients=2, before=3, after=4, mutations_per_second=2, drain_seconds=90)

    report = await scale_out(database_url, seed_url, settings, env, plan, tmp_path, say=lambda _line: None)

    assert report["subscribers_per_instance"] == {"a": 100, "b": 100}
    # Requests: some were answered on each side of the kill, and the only failures were in flight then.
    assert report["before_kill"]["per_second"] > 0 and report["after_kill"]["per_second"] > 0, report
    assert report["failed_not_in_flight"] == [], report
    # Subscribers: the killed instance's all moved to the other (the other's reconnect only after an
    # error, an event an overloaded instance could not read, and resume as well).
    assert report["moved"] == report["moved_to_survivor"] == 100, report
    # Events: some came after the kill, and each subscriber has exactly the outbox's, in order.
    assert report["events_since_kill"] > 0, report
    assert report["events_received"] == report["events_expected"] > 0, report
    assert report["events_missing"] == report["events_unexpected"] == report["subscribers_out_of_order"] == 0
