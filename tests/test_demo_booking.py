"""The demo data's booking side: open slots a learner can book, and ledgers that add up."""

from datetime import UTC, timedelta

from sqlalchemy import select

from sessiongraph import models
from sessiongraph.demo import load_demo
from sessiongraph.models.booking import overlapping
from tests.booking_data import BookingData, data  # noqa: F401
from tests.conftest import NOW
from tests.test_demo_schedule import user

SEARCH = """query($from: DateTime!, $to: DateTime!) {
  viewer { credits { balance transactions(first: 100) { edges { node { kind liveSession { code } } } } } }
  courses(bookable: true) { edges { node { code canBook availableSlots(from: $from, to: $to) { id seatsLeft } } } }
}"""

BOOK = """mutation($id: ID!) { bookSlot(input: {slotId: $id}) {
  booking { status creditTransaction { amount } } errors { code } } }"""


async def test_the_demo_learner_can_book_an_open_slot_with_credits_that_add_up(database, data, caller):
    # given
    summary = await load_demo(database, NOW)
    lena = caller(await user(database, "learner@example.com"))

    # when
    found = await lena(SEARCH, **{"from": NOW.isoformat(), "to": (NOW + timedelta(days=14)).isoformat()})

    # then: credits with history behind them, and slots on a course she may book
    assert "open slots" in summary
    credits = found["viewer"]["credits"]
    assert credits["balance"] >= 12
    kinds = {edge["node"]["kind"] for edge in credits["transactions"]["edges"]}
    assert {"DEPOSIT", "BOOKING"} <= kinds
    courses = [edge["node"] for edge in found["courses"]["edges"]]
    assert all(c["availableSlots"] for c in courses)
    mine = [c for c in courses if c["canBook"]]
    assert mine
    booked = (await lena(BOOK, id=mine[0]["availableSlots"][0]["id"]))["bookSlot"]
    assert booked["errors"] == [] and booked["booking"]["status"] == "BOOKED"
    await BookingData(data).check_ledgers()
    # and no instructor's slots overlap each other or their classes
    async with database.read() as db:
        slots = (await db.scalars(select(models.BookableSlot))).all()
        classes = (await db.scalars(select(models.LiveSession).where(models.LiveSession.cancelled_at.is_(None)))).all()
    from_slots = {slot.live_session_id for slot in slots}
    for slot in slots:
        others = [(s.starts_at, s.ends_at) for s in slots if s.instructor_id == slot.instructor_id and s is not slot]
        others += [(c.starts_at, c.ends_at) for c in classes
                   if c.instructor_id == slot.instructor_id and c.id not in from_slots]
        assert not any(overlapping(slot.starts_at, slot.ends_at, start, end) for start, end in others)
    assert len(slots) > 20


async def test_the_demo_ledger_names_each_live_session_by_its_utc_start(database):
    # given: the demo's live sessions are made at Paris times (UTC+1 or +2)
    await load_demo(database, NOW)

    # when
    async with database.read() as db:
        described = (await db.execute(
            select(models.CreditTransaction.description, models.LiveSession.code, models.LiveSession.starts_at)
            .join(models.LiveSession, models.LiveSession.id == models.CreditTransaction.live_session_id))).all()

    # then: the time labelled UTC is the stored (UTC) start, not the Paris wall-clock time
    assert described
    for description, code, starts_at in described:
        assert description.endswith(f"session {code} on {starts_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"), (
            description, starts_at)
