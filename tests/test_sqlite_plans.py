"""SQLite's plans, where its statistics at full scale once led it to read most of a table.

SQLite is the embedded default, so its plans matter too; but they depend on the statistics
ANALYZE gathers (bench/generate.py's data at scale 1.0), which a test database of a few rows
does not have. These tests make a SQLite database of their own (whatever DATABASE_URL
says), give it the full-scale statistics, and read the plan SQLite chooses
(EXPLAIN QUERY PLAN), as it would choose it on a full-scale database.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import col

from sessiongraph import migrations
from sessiongraph.infrastructure.db import Database, create_engine
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.models import Enrollment
from sessiongraph.resolvers.loaders.reports import _figures_query

# sqlite_stat1 of bench/generate.py --scale 1.0 (seed 1) after its ANALYZE, for the tables a session's
# tracking reads: (table, index, stat).
FULL_SCALE = [
    ("booking", "ux_booking_learner_live_session_booked", "1900068 10 1"),
    ("booking", "ix_booking_live_session_id", "2000000 5"),
    ("booking", "ix_booking_learner_status", "2000000 10 8"),
    ("live_session", "ix_live_session_starts", "500000 107"),
    ("live_session", "ix_live_session_session_starts", "500000 100 10"),
    ("live_session", "ix_live_session_instructor_starts", "500000 250 1"),
    ("live_session", "ix_live_session_course_starts", "500000 251 1"),
    ("live_session", "sqlite_autoindex_live_session_1", "500000 1"),
    ("session", "ix_session_access_order", "5000 17 1"),
    ("enrollment", "ix_enrollment_user_id", "999833 5"),
    ("enrollment", "sqlite_autoindex_enrollment_1", "999833 200 1"),
    ("session_course", "ix_session_course_course_id", "10000 6"),
    ("session_course", "sqlite_autoindex_session_course_1", "10000 2 1"),
]


async def plan_at_full_scale(tmp_path, statement) -> list[str]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}", _env_file=None,
                        jwt_secret="test-secret-of-at-least-thirty-two-bytes", environment="test")
    database = Database(create_engine(settings))
    try:
        await migrations.upgrade(database.engine)
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")  # makes sqlite_stat1
            await connection.exec_driver_sql("DELETE FROM sqlite_stat1")
            for table, index, stat in FULL_SCALE:
                await connection.execute(text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)"),
                                         {"t": table, "i": index, "s": stat})
            await connection.exec_driver_sql("ANALYZE sqlite_schema")  # reloads the statistics
            sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
            return [row[3] for row in (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()]
    finally:
        await database.dispose()


async def test_a_sessions_tracking_reads_the_live_sessions_its_learners_booked_by_key(tmp_path):
    """The tracking counts a session's own live sessions (found by its index on session_id) and the
    live sessions of its courses that its learners booked outside any session. SQLite took
    `live_session.session_id IS NULL` for a selective condition and read those from the session_id
    index: the 450,000 live sessions of no session, 11 s. From the session's enrollments through
    their bookings it reads a few hundred rows."""
    plan = await plan_at_full_scale(tmp_path, _figures_query(col(Enrollment.session_id).in_([1]),
                                                             per_learner=False))

    by_session = [step for step in plan if step.startswith("SEARCH live_session USING INDEX "
                                                           "ix_live_session_session_starts")]
    assert len(by_session) == 1, plan  # the session's own live sessions, and nothing else
    assert "SEARCH live_session USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert any(step.startswith("SEARCH booking USING INDEX ix_booking_learner_status") for step in plan), plan
