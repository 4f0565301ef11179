"""The demo data's schedule, seen through the API by its advertised logins."""

from sqlalchemy import select

from sessiongraph import models
from sessiongraph.demo import load_demo
from tests.conftest import NOW

LEARNER = """{ viewer { schedule {
  upNext { code joinAvailability { isOpen url } myBooking { status } }
  today { code status }
  upcoming(first: 1) { totalCount }
  past(first: 50) { totalCount edges { node { status recordingUrl myReport { attendance } } } }
} } }"""

GUARDIAN = """{ viewer { children { user { name } schedule {
  upcoming(first: 1) { totalCount } past(first: 50) { edges { node { myReport { attendance } } } }
} } } }"""

INSTRUCTOR = """{ viewer { user { instructor { displayName } } teaching(first: 100) {
  totalCount edges { node { status bookings { totalCount } reports { totalCount } } }
} } }"""


async def user(database, email: str) -> models.User:
    async with database.read() as db:
        return (await db.scalars(select(models.User).where(models.User.email == email))).one()


async def test_the_demo_has_a_realistic_schedule(database, caller):
    # given
    summary = await load_demo(database, NOW)

    # when
    learner = (await caller(await user(database, "learner@example.com"))(LEARNER))["viewer"]["schedule"]
    children = (await caller(await user(database, "guardian@example.com"))(GUARDIAN))["viewer"]["children"]
    teaching = (await caller(await user(database, "instructor@example.com"))(INSTRUCTOR))["viewer"]

    # then: a class is about to start for the learner, with history behind and plans ahead
    assert "instructor@example.com" in summary and "guardian@example.com" in summary
    assert learner["upNext"]["joinAvailability"]["isOpen"] and learner["upNext"]["myBooking"] == {"status": "BOOKED"}
    assert len(learner["today"]) >= 2
    assert learner["upcoming"]["totalCount"] >= 20 and learner["past"]["totalCount"] >= 20
    past = [edge["node"] for edge in learner["past"]["edges"]]
    assert any(node["status"] == "CANCELLED" for node in past)
    assert any(node["recordingUrl"] for node in past)
    assert any(node["myReport"] for node in past)
    # a guardian with two children, each with a schedule and reports
    assert [child["user"]["name"] for child in children] == ["Mila Guardian", "Noah Guardian"]
    for child in children:
        assert child["schedule"]["upcoming"]["totalCount"] > 0
        assert any(edge["node"]["myReport"] for edge in child["schedule"]["past"]["edges"])
    # the instructor teaches classes with bookings and reports
    assert teaching["user"]["instructor"] == {"displayName": "Ms. Ines"}
    classes = [edge["node"] for edge in teaching["teaching"]["edges"]]
    assert any(c["bookings"]["totalCount"] for c in classes) and any(c["reports"]["totalCount"] for c in classes)
