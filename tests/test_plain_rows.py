"""models/rows.py: a row read plain reads as the model's instance reads, and is never written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import UnmappedInstanceError

from sessiongraph.models import Booking, LiveSession
from sessiongraph.models.rows import PlainRow, PlainRows
from sessiongraph.resolvers.context import _reads_no_instances

STARTS = datetime(2026, 12, 7, 9, tzinfo=UTC)


def _model(**changes: object) -> LiveSession:
    fields: dict[str, object] = {
        "id": 7, "code": "AB12CD", "course_id": 3, "session_id": None, "instructor_id": 4,
        "lesson_name": "Fractions", "lesson_goal": "Add them", "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=1), "virtual_classroom_url": None, "location_name": "Hall",
        "location_address": "1 Main St", "location_room": "2", "recording_url": None,
        "extra_links": [{"title": "Slides", "url": "https://example.org/s"}], "capacity": 30,
        "cancelled_at": None, "cancellation_reason": None, "sequence": 0,
        "created_at": STARTS, "updated_at": STARTS}
    fields.update(changes)
    return LiveSession(**fields)


def _plain(model: LiveSession) -> LiveSession:
    rows = PlainRows(LiveSession)
    return rows.of([getattr(model, name) for name in rows.names])


@pytest.mark.parametrize("changes", [{}, {"cancelled_at": STARTS}, {"location_name": None, "location_address": None,
                                                                       "location_room": None}])
def test_a_plain_row_answers_the_models_rules_as_its_instance_does(changes: dict[str, object]) -> None:
    model = _model(**changes)
    plain = _plain(model)
    assert isinstance(plain, PlainRow) and not isinstance(plain, LiveSession)
    for now in (STARTS - timedelta(minutes=20), STARTS + timedelta(minutes=30), STARTS + timedelta(hours=2)):
        assert plain.status(now) == model.status(now)
        assert plain.has_ended(now) == model.has_ended(now)
    assert plain.is_cancelled == model.is_cancelled
    assert plain.location == model.location
    assert plain.links == model.links
    assert plain.join_window(15) == model.join_window(15)
    assert {name: getattr(plain, name) for name in PlainRows(LiveSession).names} == model.model_dump()


def test_a_plain_row_has_its_columns_only() -> None:
    plain = _plain(_model())
    with pytest.raises(AttributeError):
        plain.not_a_column = 1  # type: ignore[attr-defined]


def test_a_session_refuses_to_write_a_plain_row() -> None:
    with pytest.raises(UnmappedInstanceError):
        Session().add(_plain(_model()))


def test_a_query_reads_through_the_sessions_connection_only_what_makes_no_instances() -> None:
    assert not _reads_no_instances(select(LiveSession))
    assert not _reads_no_instances(select(LiveSession.id, aliased(Booking)))
    assert not _reads_no_instances(union(select(Booking), select(Booking)))
    assert _reads_no_instances(select(*PlainRows(LiveSession).columns).join(Booking))
    assert _reads_no_instances(select(Booking.live_session_id, func.count()).group_by(Booking.live_session_id))
    assert _reads_no_instances(union(select(Booking.live_session_id), select(LiveSession.id)))
