"""Who sees which live sessions, bookings and people: learners their own, guardians their
own children's, instructors their own sessions' bookings, and nobody anything else."""

from datetime import timedelta

from sqlalchemy import select

from sessiongraph import models
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

NODE = """
query($id: ID!) { node(id: $id) {
  __typename
  ... on LiveSession { code myBooking { status } }
  ... on Booking { status learner { name } liveSession { code } }
  ... on User { name email }
} }
"""

CHILDREN = """
{ viewer { children {
  user { name }
  schedule {
    upNext { code myBooking { status } myReport { attendance feedback } joinAvailability { isOpen url } }
    upcoming { edges { node { code myBooking { status } } } }
    past { edges { node { code myReport { attendance feedback } } } }
  }
} } }
"""

BOOKINGS = """
query($id: ID!) { node(id: $id) { ... on LiveSession {
  bookings { totalCount edges { node { status learner { name email } } } }
  reports { edges { node { attendance learner { name } } } }
} } }
"""


async def family(data):
    """Two guardians: Gina with two children (Ann, Ben), Hal with one (Cal)."""
    course = await data.course()
    teacher = await data.instructor("Ines")
    gina, hal = await data.user("Gina"), await data.user("Hal")
    ann, ben, cal = await data.user("Ann"), await data.user("Ben"), await data.user("Cal")
    await data.guardian_of(gina, ann, ben)
    await data.guardian_of(hal, cal)
    sessions = {}
    for child in (ann, ben, cal):
        sessions[child.name] = await data.live_session(
            course, teacher, NOW + timedelta(days=1), code=f"FOR-{child.name.upper()}",
            virtual_classroom_url="https://room.test")
        await data.book(child, sessions[child.name])
        done = await data.live_session(course, teacher, NOW - timedelta(days=1), code=f"DONE-{child.name.upper()}")
        await data.book(child, done)
        await data.report(done, child, models.AttendanceStatus.LATE, f"{child.name} came in late.")
    return (gina, hal), (ann, ben, cal), sessions, teacher


async def test_a_guardian_sees_only_their_own_children_and_the_children_s_bookings_and_reports(data, caller):
    (gina, hal), _, _, _ = await family(data)

    ginas = (await caller(gina)(CHILDREN))["viewer"]["children"]
    hals = (await caller(hal)(CHILDREN))["viewer"]["children"]

    assert [c["user"]["name"] for c in ginas] == ["Ann", "Ben"]
    assert [c["user"]["name"] for c in hals] == ["Cal"]
    ann = ginas[0]["schedule"]
    assert ann["upNext"]["code"] == "FOR-ANN" and ann["upNext"]["myBooking"] == {"status": "BOOKED"}
    assert ann["upNext"]["myReport"] is None
    assert [e["node"] for e in ann["upcoming"]["edges"]] == [{"code": "FOR-ANN", "myBooking": {"status": "BOOKED"}}]
    assert [e["node"] for e in ann["past"]["edges"]] == [
        {"code": "DONE-ANN", "myReport": {"attendance": "LATE", "feedback": "Ann came in late."}}]


async def test_a_guardian_only_looks_and_cannot_join(data, caller, clock):
    (gina, _), _, sessions, _ = await family(data)
    clock.set(sessions["Ann"].starts_at)

    ann = (await caller(gina)(CHILDREN))["viewer"]["children"][0]["schedule"]

    assert ann["upNext"]["joinAvailability"] == {"isOpen": False, "url": None}


async def test_a_learner_with_no_children_has_none(data, caller):
    loner = await data.user()
    assert (await caller(loner)(CHILDREN))["viewer"]["children"] == []


async def test_live_sessions_by_node_are_seen_by_those_on_them_their_guardians_and_the_instructor(data, caller):
    (gina, hal), (ann, ben, _), sessions, teacher = await family(data)
    stranger_teacher = await data.instructor("Stan")
    ann_ls = gid("LiveSession", sessions["Ann"].id)

    assert (await caller(ann)(NODE, id=ann_ls))["node"] == {
        "__typename": "LiveSession", "code": "FOR-ANN", "myBooking": {"status": "BOOKED"}}
    assert (await caller(ben)(NODE, id=ann_ls))["node"] is None
    assert (await caller(gina)(NODE, id=ann_ls))["node"]["code"] == "FOR-ANN"
    assert (await caller(hal)(NODE, id=ann_ls))["node"] is None
    assert (await caller(await data.user_of(teacher))(NODE, id=ann_ls))["node"]["code"] == "FOR-ANN"
    assert (await caller(await data.user_of(stranger_teacher))(NODE, id=ann_ls))["node"] is None


async def test_enrolled_learners_see_their_session_s_live_sessions_by_node(data, caller):
    course = await data.course()
    teacher = await data.instructor()
    session = await data.session(courses=[course])
    inside, outside = await data.user(), await data.user()
    await data.enroll(session, inside)
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1), session_id=session.id)

    assert (await caller(inside)(NODE, id=gid("LiveSession", ls.id)))["node"]["myBooking"] is None
    assert (await caller(outside)(NODE, id=gid("LiveSession", ls.id)))["node"] is None


async def test_an_instructor_sees_only_their_own_sessions_bookings(data, caller, admin):
    # given
    course = await data.course()
    ines, stan = await data.instructor("Ines"), await data.instructor("Stan")
    ann, ben = await data.user("Ann"), await data.user("Ben")
    ines_ls = await data.live_session(course, ines, NOW + timedelta(days=1))
    stan_ls = await data.live_session(course, stan, NOW + timedelta(days=1))
    ann_booking = await data.book(ann, ines_ls)
    ben_booking = await data.book(ben, stan_ls)
    ines_caller = caller(await data.user_of(ines))

    # when
    own = (await ines_caller(BOOKINGS, id=gid("LiveSession", ines_ls.id)))["node"]
    others = (await ines_caller(BOOKINGS, id=gid("LiveSession", stan_ls.id)))["node"]
    own_booking = (await ines_caller(NODE, id=gid("Booking", ann_booking.id)))["node"]
    other_booking = (await ines_caller(NODE, id=gid("Booking", ben_booking.id)))["node"]
    learners_view = (await caller(ann)(BOOKINGS, id=gid("LiveSession", ines_ls.id)))["node"]
    admins_view = (await admin(BOOKINGS, id=gid("LiveSession", stan_ls.id)))["node"]

    # then: the instructor sees names, never emails
    assert own["bookings"] == {"totalCount": 1, "edges": [{"node": {"status": "BOOKED",
                                                                    "learner": {"name": "Ann", "email": None}}}]}
    assert others is None and other_booking is None
    assert own_booking == {"__typename": "Booking", "status": "BOOKED", "learner": {"name": "Ann"},
                           "liveSession": {"code": ines_ls.code}}
    assert learners_view["bookings"] == {"totalCount": 0, "edges": []}
    assert admins_view["bookings"]["totalCount"] == 1


async def test_bookings_by_node_are_the_learner_s_and_their_guardians(data, caller):
    (gina, hal), (ann, ben, _), _, _ = await family(data)
    async with data.database.read() as db:
        booking = (await db.scalars(select(models.Booking).where(models.Booking.learner_id == ann.id))).first()
    booking_id = gid("Booking", booking.id)

    assert (await caller(ann)(NODE, id=booking_id))["node"]["learner"] == {"name": "Ann"}
    assert (await caller(gina)(NODE, id=booking_id))["node"]["status"] == "BOOKED"
    assert (await caller(ben)(NODE, id=booking_id))["node"] is None
    assert (await caller(hal)(NODE, id=booking_id))["node"] is None


async def test_users_by_node_for_the_people_who_teach_or_guard_them(data, caller):
    (gina, hal), (ann, ben, _), _, teacher = await family(data)
    stranger_teacher = await data.instructor("Stan")
    ann_id = gid("User", ann.id)

    assert (await caller(gina)(NODE, id=ann_id))["node"] == {"__typename": "User", "name": "Ann", "email": None}
    assert (await caller(hal)(NODE, id=ann_id))["node"] is None
    assert (await caller(await data.user_of(teacher))(NODE, id=ann_id))["node"]["name"] == "Ann"
    assert (await caller(await data.user_of(stranger_teacher))(NODE, id=ann_id))["node"] is None
    assert (await caller(ben)(NODE, id=ann_id))["node"] is None


async def test_anonymous_callers_get_null_nodes(data, anonymous):
    course = await data.course()
    teacher = await data.instructor()
    ls = await data.live_session(course, teacher, NOW)

    assert (await anonymous.execute(NODE, id=gid("LiveSession", ls.id))) == {"data": {"node": None}}
    assert (await anonymous.execute(NODE, id=gid("Instructor", teacher.id))) == {"data": {"node": None}}


async def test_teaching_lists_the_instructor_s_own_sessions(data, caller):
    course = await data.course()
    ines, stan = await data.instructor("Ines"), await data.instructor("Stan")
    for n in range(3):
        await data.live_session(course, ines, NOW + timedelta(days=n - 1), code=f"INES{n}")
    await data.live_session(course, stan, NOW, code="STAN")
    learner = await data.user()
    query = """query($from: DateTime, $to: DateTime, $first: Int) {
      viewer { teaching(from: $from, to: $to, first: $first) {
        totalCount edges { node { code instructor { displayName } } }
      } } }"""
    ines_caller = caller(await data.user_of(ines))

    everything = (await ines_caller(query))["viewer"]["teaching"]
    ranged = (await ines_caller(query, **{"from": NOW.isoformat(), "to": (NOW + timedelta(days=1)).isoformat()}))
    nothing = (await caller(learner)(query))["viewer"]["teaching"]

    assert [e["node"]["code"] for e in everything["edges"]] == ["INES0", "INES1", "INES2"]
    assert everything["edges"][0]["node"]["instructor"] == {"displayName": "Ines"}
    assert [e["node"]["code"] for e in ranged["viewer"]["teaching"]["edges"]] == ["INES1"]
    assert nothing == {"totalCount": 0, "edges": []}


async def test_a_live_session_s_bookings_page_on_from_the_first_page(data, caller):
    course = await data.course()
    teacher = await data.instructor("Ines")
    ls = await data.live_session(course, teacher, NOW + timedelta(days=1))
    for n in range(5):
        await data.book(await data.user(f"Learner {n}"), ls)
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on LiveSession {
      bookings(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { learner { name } } } }
    } } }"""
    ines = caller(await data.user_of(teacher))

    names, after = [], None
    while True:
        page = (await ines(query, id=gid("LiveSession", ls.id), after=after))["node"]["bookings"]
        names += [edge["node"]["learner"]["name"] for edge in page["edges"]]
        assert page["totalCount"] == 5
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert names == [f"Learner {n}" for n in range(5)]
