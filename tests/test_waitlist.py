"""Waitlists: joining a full slot, leaving, promotion first come first served in the
transaction that frees a seat (a cancellation, a larger capacity), skips with their reason,
expiry at the cancellation notice, and the views. Every refusal writes nothing."""

from datetime import timedelta

from sqlalchemy import select

from sessiongraph import models
from tests.conftest import NOW, next_schedule_message
from tests.lifecycle_data import BOOK, CANCEL, JOIN, LEAVE, MY_WAITLIST, data, given, slot_input, snapshot  # noqa: F401
from tests.schedule_data import gid

UPDATE_CAPACITY = """
mutation($id: ID!, $capacity: Int!) { updateLiveSession(input: {id: $id, capacity: $capacity}) {
  liveSession { capacity seatsLeft } errors { field code message }
} }
"""

CANCEL_LIVE_SESSION = """
mutation($id: ID!) { cancelLiveSession(input: {id: $id}) { liveSession { status } errors { code } } }
"""

SLOT = """
query($id: ID!) { node(id: $id) { ... on BookableSlot {
  seatsLeft waitlistCount myWaitlistEntry { position placeInLine status reason }
} } }
"""


async def a_full_slot(data, given, *, seats=1, cost=1, notice=0, starts_in=timedelta(days=1),
                      names=("Ben", "Cat", "Dan"), credits=5):
    """A slot whose seats Ada holds, and learners who may book it (not yet waiting)."""
    course = await given.course(code="TALK", credit_cost=cost, cancellation_notice_minutes=notice)
    slot = await given.slot(course, await data.instructor("Ines"), NOW + starts_in, seats=seats)
    holders = [await given.learner(course, name=f"Ada {n}", credits=5) for n in range(seats)]
    learners = [await given.learner(course, name=name, credits=credits) for name in names]
    return course, slot, holders, learners


async def book(caller, learner, slot):
    answer = (await caller(learner)(BOOK, input=slot_input(slot)))["bookSlot"]
    assert answer["errors"] == [], answer
    return answer["booking"]


async def join(caller, learner, slot):
    return (await caller(learner)(JOIN, input=slot_input(slot)))["joinWaitlist"]


def errors_of(payload):
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def entries(data, slot):
    async with data.database.read() as db:
        return list((await db.scalars(select(models.WaitlistEntry).where(models.WaitlistEntry.slot_id == slot.id)
                                      .order_by(models.WaitlistEntry.position))).all())


async def test_learners_queue_for_a_full_slot_in_joining_order(data, given, caller):
    # given
    _, slot, holders, (ben, cat, _) = await a_full_slot(data, given)
    await book(caller, holders[0], slot)

    # when
    first, second = await join(caller, ben, slot), await join(caller, cat, slot)

    # then
    assert first["errors"] == [] and second["errors"] == []
    assert [(e["position"], e["placeInLine"], e["status"]) for e in
            (first["waitlistEntry"], second["waitlistEntry"])] == [(1, 1, "WAITING"), (2, 2, "WAITING")]
    assert second["waitlistEntry"]["slot"] == {"id": gid("BookableSlot", slot.id), "waitlistCount": 2,
                                               "seatsLeft": 0}
    cats = (await caller(cat)(SLOT, id=gid("BookableSlot", slot.id)))["node"]
    assert cats["myWaitlistEntry"] == {"position": 2, "placeInLine": 2, "status": "WAITING", "reason": None}
    mine = (await caller(cat)(MY_WAITLIST))["viewer"]["waitlist"]
    assert [(e["position"], e["status"], e["slot"]["myWaitlistEntry"]["status"]) for e in mine] == [
        (2, "WAITING", "WAITING")]


async def test_joining_is_refused_with_a_reason_and_writes_nothing(data, given, caller, clock):
    # given: a full slot Ben waits for, a slot with seats, a learner without access
    course, slot, holders, (ben, cat, _) = await a_full_slot(data, given, notice=60, starts_in=timedelta(hours=3))
    await book(caller, holders[0], slot)
    assert (await join(caller, ben, slot))["errors"] == []
    roomy = await given.slot(course, await data.instructor("Omar"), NOW + timedelta(days=2), seats=5)
    outsider = await data.user("Olga")
    before = await snapshot(data.database)

    # when
    answers = {
        "seats left": await join(caller, cat, roomy),
        "booked": await join(caller, holders[0], slot),
        "waiting": await join(caller, ben, slot),
        "no access": await join(caller, outsider, slot),
        "no such slot": (await caller(cat)(JOIN, input={"slotId": gid("BookableSlot", 999_999)}))["joinWaitlist"],
    }
    clock.set(NOW + timedelta(hours=2, minutes=1))  # inside the 60 minutes of notice
    answers["notice passed"] = await join(caller, cat, slot)

    # then
    assert {name: errors_of(a) for name, a in answers.items()} == {
        "seats left": [(["slotId"], "SLOT_NOT_FULL")],
        "booked": [(["slotId"], "ALREADY_BOOKED")],
        "waiting": [(["slotId"], "ALREADY_WAITING")],
        "no access": [(["slotId"], "NO_ACCESS")],
        "no such slot": [(["slotId"], "NOT_FOUND")],
        "notice passed": [(["slotId"], "WAITLIST_CLOSED")],
    }
    assert await snapshot(data.database) == before


async def test_leaving_ends_the_entry_once_and_a_rejoin_goes_to_the_back(data, given, caller):
    _, slot, holders, (ben, cat, _) = await a_full_slot(data, given)
    await book(caller, holders[0], slot)
    bens = (await join(caller, ben, slot))["waitlistEntry"]
    await join(caller, cat, slot)

    left = (await caller(ben)(LEAVE, input={"waitlistEntryId": bens["id"]}))["leaveWaitlist"]
    before = await snapshot(data.database)
    again = (await caller(ben)(LEAVE, input={"waitlistEntryId": bens["id"]}))["leaveWaitlist"]
    by_someone_else = (await caller(cat)(LEAVE, input={"waitlistEntryId": bens["id"]}))["leaveWaitlist"]
    unchanged = await snapshot(data.database)
    rejoined = (await join(caller, ben, slot))["waitlistEntry"]

    assert left["waitlistEntry"] == {"id": bens["id"], "status": "LEFT", "placeInLine": None}
    assert again == left
    assert errors_of(by_someone_else) == [(["waitlistEntryId"], "NOT_FOUND")]
    assert unchanged == before
    assert (rejoined["position"], rejoined["placeInLine"]) == (3, 2)
    cats = (await caller(cat)(SLOT, id=gid("BookableSlot", slot.id)))["node"]["myWaitlistEntry"]
    assert (cats["position"], cats["placeInLine"]) == (2, 1)


async def test_a_cancellation_books_the_first_waiting_learner_at_once(data, given, caller, app):
    # given: Ada holds the one seat; Ben, Cat and Dan wait in that order
    _, slot, (ada,), (ben, cat, dan) = await a_full_slot(data, given, cost=2)
    adas = await book(caller, ada, slot)
    for learner in (ben, cat, dan):
        await join(caller, learner, slot)
    teacher = await data.user_of(await instructor_of(data, slot))

    # What the setup published is out first: the subscriptions below hear only what the step does.
    await app.state.relay.idle()
    # when
    async with app.state.broker.subscribe(f"schedule:user:{ben.id}") as bens, \
            app.state.broker.subscribe(f"schedule:user:{teacher.id}") as teachers:
        await caller(ada)(CANCEL, input={"bookingId": adas["id"]})
        promoted = {"kind": "PROMOTED", "liveSessionId": (await given.fresh(slot)).live_session_id,
                    "occurredAt": NOW.isoformat()}
        assert await next_schedule_message(bens) == promoted
        assert [await next_schedule_message(teachers) for _ in range(2)][1] == promoted

    # then
    assert [(e.learner_id, e.status) for e in await entries(data, slot)] == [
        (ben.id, "PROMOTED"), (cat.id, "WAITING"), (dan.id, "WAITING")]
    assert (await given.fresh(slot)).booked == 1 and await given.balance(ben) == 3
    bens_view = (await caller(ben)(MY_WAITLIST))["viewer"]["waitlist"]
    assert [(e["status"], e["booking"]["status"]) for e in bens_view] == [("PROMOTED", "BOOKED")]
    cats = (await caller(cat)(SLOT, id=gid("BookableSlot", slot.id)))["node"]["myWaitlistEntry"]
    assert cats["placeInLine"] == 1
    await given.check_ledgers()


async def test_those_who_may_no_longer_book_are_skipped_with_the_reason(data, given, caller, clock):
    # given: Ben cannot pay, Cat's access ends before the seat frees, Dan can book
    course, slot, (ada,), (ben, dan) = await a_full_slot(data, given, cost=3, names=("Ben", "Dan"), credits=3)
    adas = await book(caller, ada, slot)
    async with data.database.write() as db:
        (await db.get(models.CreditAccount, ben.id)).balance = 2
        db.add(models.CreditTransaction(user_id=ben.id, kind="ADJUSTMENT", amount=-1, balance_after=2,
                                        description="Correction", created_at=NOW))
    late_cat = await given.learner(course, name="Cat Later", credits=3, access_end=NOW + timedelta(hours=1))
    for learner in (ben, late_cat, dan):
        assert (await join(caller, learner, slot))["errors"] == []
    clock.set(NOW + timedelta(hours=2))

    # when
    await caller(ada)(CANCEL, input={"bookingId": adas["id"]})

    # then
    assert [(e.learner_id, e.status, e.reason) for e in await entries(data, slot)] == [
        (ben.id, "SKIPPED", "INSUFFICIENT_CREDITS"), (late_cat.id, "SKIPPED", "NO_ACCESS"),
        (dan.id, "PROMOTED", None)]
    assert await given.balance(ben) == 2 and await given.balance(dan) == 0
    bens = (await caller(ben)(SLOT, id=gid("BookableSlot", slot.id)))["node"]["myWaitlistEntry"]
    assert bens == {"position": 1, "placeInLine": None, "status": "SKIPPED", "reason": "INSUFFICIENT_CREDITS"}
    await given.check_ledgers()


async def test_a_larger_capacity_promotes_as_many_as_it_frees(data, given, caller, admin):
    _, slot, (ada,), (ben, cat, dan) = await a_full_slot(data, given)
    adas = await book(caller, ada, slot)
    for learner in (ben, cat, dan):
        await join(caller, learner, slot)

    raised = (await admin(UPDATE_CAPACITY, id=adas["liveSession"]["id"], capacity=3))["updateLiveSession"]

    assert raised == {"liveSession": {"capacity": 3, "seatsLeft": 0}, "errors": []}
    assert [e.status for e in await entries(data, slot)] == ["PROMOTED", "PROMOTED", "WAITING"]
    assert (await given.fresh(slot)).booked == 3
    await given.check_ledgers()


async def test_nobody_is_promoted_past_the_notice_and_waiting_entries_expire(data, given, caller, admin, clock):
    # given: notice 60 minutes before a slot three hours away; Ben waits
    _, slot, (ada,), (ben, cat, _) = await a_full_slot(data, given, notice=60, starts_in=timedelta(hours=3))
    adas = await book(caller, ada, slot)
    await join(caller, ben, slot)
    await join(caller, cat, slot)
    clock.set(NOW + timedelta(hours=2, minutes=30))

    # when: read lazily, left too late, then a larger capacity past the notice
    bens_view = (await caller(ben)(MY_WAITLIST))["viewer"]["waitlist"]
    left_too_late = (await caller(ben)(LEAVE, input={"waitlistEntryId": bens_view[0]["id"]}))["leaveWaitlist"]
    raised = (await admin(UPDATE_CAPACITY, id=adas["liveSession"]["id"], capacity=2))["updateLiveSession"]

    # then
    assert [(e["status"], e["reason"], e["slot"]["waitlistCount"]) for e in bens_view] == [
        ("EXPIRED", "NOTICE_PASSED", 0)]
    assert left_too_late["waitlistEntry"]["status"] == "EXPIRED"
    assert raised["errors"] == [] and raised["liveSession"]["seatsLeft"] == 1
    assert [(e.status, e.reason) for e in await entries(data, slot)] == [("EXPIRED", "NOTICE_PASSED")] * 2


async def test_a_cancelled_live_session_ends_its_waitlist(data, given, caller, admin):
    _, slot, (ada,), (ben, _, _) = await a_full_slot(data, given)
    adas = await book(caller, ada, slot)
    await join(caller, ben, slot)

    await admin(CANCEL_LIVE_SESSION, id=adas["liveSession"]["id"])

    assert [(e.status, e.reason) for e in await entries(data, slot)] == [("EXPIRED", "LIVE_SESSION_CANCELLED")]


async def instructor_of(data, slot):
    async with data.database.read() as db:
        return await db.get(models.Instructor, slot.instructor_id)

