"""Credits: the admin's deposits and adjustments, the ledger newest first, who reads it, and
balances that always replay from the transactions."""

from datetime import timedelta

from tests.booking_data import BOOK, CANCEL, CREDITS, DEPOSIT, codes, data, given, iso  # noqa: F401
from tests.conftest import NOW
from tests.schedule_data import gid

CHILD_CREDITS = """
{ viewer { children { user { name } credits { balance transactions { edges { node { kind amount } } } } } } }
"""

NODE = """
query($id: ID!) { node(id: $id) { ... on CreditTransaction { kind amount balanceAfter } } }
"""


async def deposit(admin, user, amount, **more):
    return (await admin(DEPOSIT, input={"userId": gid("User", user.id), "amount": amount, **more}))["depositCredits"]


async def test_an_admin_deposits_and_adjusts_and_the_learner_reads_the_ledger_newest_first(data, admin, caller):
    # given
    lea = await data.user("Lea")

    # when
    first = await deposit(admin, lea, 10)
    await deposit(admin, lea, -3, kind="ADJUSTMENT", description="  Goodwill correction ")
    await deposit(admin, lea, 5, description="Spring pack")
    credits = (await caller(lea)(CREDITS))["viewer"]["credits"]

    # then
    assert first["errors"] == []
    assert {k: first["creditTransaction"][k] for k in ("kind", "amount", "balanceAfter", "description")} == {
        "kind": "DEPOSIT", "amount": 10, "balanceAfter": 10, "description": "Deposit"}
    assert first["creditTransaction"]["createdAt"] == iso(NOW)
    assert credits["balance"] == 12
    assert credits["transactions"]["totalCount"] == 3
    assert [(e["node"]["kind"], e["node"]["amount"], e["node"]["balanceAfter"], e["node"]["description"])
            for e in credits["transactions"]["edges"]] == [
        ("DEPOSIT", 5, 12, "Spring pack"), ("ADJUSTMENT", -3, 7, "Goodwill correction"),
        ("DEPOSIT", 10, 10, "Deposit")]


async def test_a_new_learner_has_a_balance_of_zero_and_no_transactions(data, caller):
    lea = await data.user("Lea")

    credits = (await caller(lea)(CREDITS))["viewer"]["credits"]

    assert credits == {"balance": 0, "transactions": {"totalCount": 0, "pageInfo": {
        "hasNextPage": False, "endCursor": None}, "edges": []}}


async def test_the_ledger_pages_newest_first(data, given, caller):
    lea = await data.user("Lea")
    for amount in range(1, 6):
        await given.deposit(lea, amount)

    first = (await caller(lea)(CREDITS, first=2))["viewer"]["credits"]["transactions"]
    rest = (await caller(lea)(CREDITS, first=10, after=first["pageInfo"]["endCursor"]))["viewer"]["credits"][
        "transactions"]

    assert [e["node"]["amount"] for e in first["edges"]] == [5, 4] and first["pageInfo"]["hasNextPage"]
    assert [e["node"]["amount"] for e in rest["edges"]] == [3, 2, 1] and not rest["pageInfo"]["hasNextPage"]


async def test_deposits_are_checked(data, admin):
    lea = await data.user("Lea")
    await deposit(admin, lea, 2)

    negative_deposit = await deposit(admin, lea, -1)
    zero_adjustment = await deposit(admin, lea, 0, kind="ADJUSTMENT")
    by_hand_booking = await deposit(admin, lea, 1, kind="BOOKING")
    below_zero = await deposit(admin, lea, -3, kind="ADJUSTMENT")
    huge = await deposit(admin, lea, 10_000_000)
    long_text = await deposit(admin, lea, 1, description="x" * 501)
    nobody = (await admin(DEPOSIT, input={"userId": gid("User", 999), "amount": 1}))["depositCredits"]

    assert codes(negative_deposit["errors"]) == [(["amount"], "VALIDATION")]
    assert codes(zero_adjustment["errors"]) == [(["amount"], "VALIDATION")]
    assert codes(by_hand_booking["errors"]) == [(["kind"], "VALIDATION")]
    assert codes(below_zero["errors"]) == [(["amount"], "INSUFFICIENT_CREDITS")]
    assert codes(huge["errors"]) == [(["amount"], "VALIDATION")]
    assert codes(long_text["errors"]) == [(["description"], "VALIDATION")]
    assert codes(nobody["errors"]) == [(["userId"], "NOT_FOUND")]
    assert (await deposit(admin, lea, -2, kind="ADJUSTMENT"))["creditTransaction"]["balanceAfter"] == 0


async def test_only_admins_deposit(data, caller, anonymous):
    lea = await data.user("Lea")
    mutation = {"input": {"userId": gid("User", lea.id), "amount": 5}}

    assert (await caller(lea).execute(DEPOSIT, **mutation))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await anonymous.execute(DEPOSIT, **mutation))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_guardian_reads_each_child_s_credits_and_nobody_else_reads_them(data, given, caller, admin):
    ann, ben, gina, stan = (await data.user("Ann"), await data.user("Ben"), await data.user("Gina"),
                            await data.user("Stan"))
    await data.guardian_of(gina, ann, ben)
    await given.deposit(ann, 4)
    transaction_id = gid("CreditTransaction", (await given.ledger(ann))[0].id)

    children = (await caller(gina)(CHILD_CREDITS))["viewer"]["children"]

    assert children == [
        {"user": {"name": "Ann"}, "credits": {"balance": 4, "transactions": {"edges": [
            {"node": {"kind": "DEPOSIT", "amount": 4}}]}}},
        {"user": {"name": "Ben"}, "credits": {"balance": 0, "transactions": {"edges": []}}}]
    expected = {"kind": "DEPOSIT", "amount": 4, "balanceAfter": 4}
    assert (await caller(ann)(NODE, id=transaction_id))["node"] == expected
    assert (await caller(gina)(NODE, id=transaction_id))["node"] == expected
    assert (await admin(NODE, id=transaction_id))["node"] == expected
    assert (await caller(stan)(NODE, id=transaction_id))["node"] is None
    assert (await caller(ben)(NODE, id=transaction_id))["node"] is None


async def test_balances_replay_from_the_transactions_whatever_happened(data, given, caller, admin):
    # given: deposits, bookings, cancellations, adjustments and a cancelled live session
    course = await given.course(credit_cost=3)
    teacher = await data.instructor("Ines")
    slots = [await given.slot(course, teacher, NOW + timedelta(days=1, hours=2 * n), seats=2) for n in range(4)]
    learners = [await given.learner(course, name=f"L{n}", credits=7 + n) for n in range(3)]
    booked = {}
    for n, learner in enumerate(learners):
        for slot in slots[n:n + 2]:
            result = (await caller(learner)(BOOK, input={"slotId": gid("BookableSlot", slot.id)}))["bookSlot"]
            if result["booking"] is not None:
                booked.setdefault(learner.id, []).append(result["booking"])
    await caller(learners[0])(CANCEL, input={"bookingId": booked[learners[0].id][0]["id"]})
    await deposit(admin, learners[1], -1, kind="ADJUSTMENT")
    await admin("mutation($input: CancelLiveSessionInput!) { cancelLiveSession(input: $input) { errors { code } } }",
                input={"id": booked[learners[2].id][0]["liveSession"]["id"]})
    await deposit(admin, learners[2], 2)

    # then
    await given.check_ledgers()
    for learner in learners:
        ledger = await given.ledger(learner)
        shown = (await caller(learner)(CREDITS, first=50))["viewer"]["credits"]
        assert shown["balance"] == sum(t.amount for t in ledger) == ledger[-1].balance_after
        assert [e["node"]["balanceAfter"] for e in shown["transactions"]["edges"]] == [
            t.balance_after for t in reversed(ledger)]
