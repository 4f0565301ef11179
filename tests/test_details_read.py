"""A live session's details read with it answer as its fields' own loaders do.

Where a document selects a live session's details (schema/schedule.py, DETAILS) on a live
session found on its own, one statement reads them all and puts each where the field that
shows it looks (resolvers/loaders/schedule.py: LiveSessionDetails by ID, and a ScheduleList
with `details` for Up Next). Here every live session of tests/test_differential.py's world
(ended, under way, cancelled, hidden, booked, booked then cancelled, reported, with an
absence request) is asked for by ID as every role, and every role's Up Next with a
guardian's children's (several learners in one statement), once with that read and once
with it turned off: the answers are equal, and the read costs fewer statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema import schedule as schedule_schema
from sessiongraph.schema.relay import to_global_id
from tests.authz_world import ROLES, build_world
from tests.conftest import NOW
from tests.test_differential import grow

DETAILS = """
  id status capacity seatsLeft canRequestAbsence cancelledAt
  course { id code } instructor { id displayName }
  session { id name }
  myBooking { id status bookedAt cancelledAt
              absenceRequest { id status reason comment }
              creditTransaction { amount kind } }
  myReport { attendance feedback }
"""
BY_ID = f"query($id: ID!) {{ node(id: $id) {{ ... on LiveSession {{ {DETAILS} }} }} }}"
UP_NEXT = f"""{{ viewer {{
  schedule {{ upNext {{ {DETAILS} }} }}
  children {{ user {{ id }} schedule {{ upNext {{ {DETAILS} }} }} }} }} }}"""


async def test_details_read_together_answer_as_each_field_reads_them(database, http, settings, clock,
                                                                     count_statements, monkeypatch):
    # given: the differential test's world, with an absence request on a booking
    world = await build_world(database, NOW)
    await grow(database, world)
    async with database.write() as db:
        booking = await db.scalar(select(models.Booking).where(models.Booking.status == "BOOKED")
                                  .order_by(models.Booking.id.desc()).limit(1))
        db.add(models.AbsenceRequest(booking_id=booking.id, reason="Ill", requested_at=NOW))
    async with database.read() as db:
        live_session_ids = (await db.scalars(select(models.LiveSession.id).order_by(models.LiveSession.id))).all()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        (role, UP_NEXT, {}) for role in ROLES] + [
        (role, BY_ID, {"id": to_global_id("LiveSession", i)}) for role in ROLES for i in live_session_ids]

    async def answers() -> tuple[list[dict[str, Any]], int]:
        bodies, statements = [], 0
        for role, document, variables in requests:
            user = world.users[role]
            headers = {"Authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"} if user else {}
            with count_statements() as log:
                response = await http.post("/graphql", json={"query": document, "variables": variables},
                                           headers=headers)
            bodies.append(response.json())
            statements += log.count
        return bodies, statements

    # when: asked with the details read together, then with each field reading its own
    together, together_statements = await answers()
    monkeypatch.setattr(schedule_schema, "asks_for_details", lambda info: False)
    apart, apart_statements = await answers()

    # then
    for (role, _, variables), one, other in zip(requests, together, apart, strict=True):
        assert one == other, f"as {role}, {variables or 'Up Next'}"
    assert together_statements < apart_statements
    # and the world had what makes the details differ
    shown = [body["data"]["node"] for body in together if body.get("data", {}).get("node")]
    assert {s["myBooking"]["status"] for s in shown if s["myBooking"]} == {"BOOKED", "CANCELLED"}
    assert any(s["myBooking"]["absenceRequest"] for s in shown if s["myBooking"])
    assert any(s["myReport"] for s in shown) and any(s["canRequestAbsence"] for s in shown)
    assert any(s["session"] for s in shown) and any(s["seatsLeft"] < s["capacity"] for s in shown)
    guardian = together[ROLES.index("guardian")]["data"]["viewer"]
    assert sum(child["schedule"]["upNext"] is not None for child in guardian["children"]) >= 2
