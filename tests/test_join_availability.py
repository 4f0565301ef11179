"""The Join action: from startsAt - joinLead until endsAt, for those who may join, only
with a classroom URL, never on a cancelled live session; the URL only while open."""

from datetime import timedelta

from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

URL = "https://classroom.example.test/room/42"

JOIN = """
query($id: ID!) { node(id: $id) { ... on LiveSession {
  joinAvailability { opensAt closesAt isOpen url }
} } }
"""


async def join_state(caller_, live_session) -> dict:
    return (await caller_(JOIN, id=gid("LiveSession", live_session.id)))["node"]["joinAvailability"]


async def booked_session(data, *, starts_in=timedelta(minutes=30), **fields):
    learner = await data.user()
    course = await data.course(**fields.pop("course", {}))
    teacher = await data.instructor()
    live_session = await data.live_session(course, teacher, NOW + starts_in, virtual_classroom_url=URL, **fields)
    await data.book(learner, live_session)
    return learner, teacher, live_session


async def test_the_window_opens_fifteen_minutes_before_and_closes_at_the_end(data, caller, clock):
    # given: a 60-minute live session at 12:30
    learner, _, live_session = await booked_session(data)
    me = caller(learner)

    # 15:59 before the start: closed, and no URL
    clock.set(live_session.starts_at - timedelta(minutes=15, seconds=59))
    assert await join_state(me, live_session) == {
        "opensAt": "2026-03-10T12:15:00+00:00", "closesAt": "2026-03-10T13:30:00+00:00",
        "isOpen": False, "url": None}
    # one second before it opens: still closed
    clock.set(live_session.starts_at - timedelta(minutes=15, seconds=1))
    assert (await join_state(me, live_session))["isOpen"] is False
    # 15:00 before: open, with the URL
    clock.set(live_session.starts_at - timedelta(minutes=15))
    assert (await join_state(me, live_session))["isOpen"] is True
    assert (await join_state(me, live_session))["url"] == URL
    # the last second: open
    clock.set(live_session.ends_at - timedelta(seconds=1))
    assert (await join_state(me, live_session))["url"] == URL
    # the end instant: closed
    clock.set(live_session.ends_at)
    assert await join_state(me, live_session) == {
        "opensAt": "2026-03-10T12:15:00+00:00", "closesAt": "2026-03-10T13:30:00+00:00",
        "isOpen": False, "url": None}


async def test_the_lead_is_the_course_s_own(data, caller, clock):
    learner, _, live_session = await booked_session(data, course={"join_lead_minutes": 5})
    me = caller(learner)

    clock.set(live_session.starts_at - timedelta(minutes=6))
    assert (await join_state(me, live_session))["isOpen"] is False
    clock.set(live_session.starts_at - timedelta(minutes=5))
    state = await join_state(me, live_session)
    assert state["isOpen"] is True and state["opensAt"] == "2026-03-10T12:25:00+00:00"


async def test_no_url_or_cancelled_means_closed(data, caller, clock):
    learner, teacher, _ = await booked_session(data)
    course = await data.course()
    in_person = await data.live_session(course, teacher, NOW + timedelta(minutes=10), location_name="Room 4")
    cancelled = await data.live_session(course, teacher, NOW + timedelta(minutes=10), virtual_classroom_url=URL,
                                        cancelled_at=NOW - timedelta(days=1))
    await data.book(learner, in_person)
    await data.book(learner, cancelled)
    me = caller(learner)

    assert await join_state(me, in_person) == {"opensAt": "2026-03-10T11:55:00+00:00",
                                               "closesAt": "2026-03-10T13:10:00+00:00",
                                               "isOpen": False, "url": None}
    assert (await join_state(me, cancelled))["isOpen"] is False
    assert (await join_state(me, cancelled))["url"] is None


async def test_who_may_join(data, caller, clock, admin):
    # given: the window is open now
    learner, teacher, live_session = await booked_session(data, starts_in=timedelta(minutes=5))
    guardian = await data.user("Gina Guardian")
    await data.guardian_of(guardian, learner)

    # then: the booked learner and the instructor get the URL; the guardian and an admin only look
    assert (await join_state(caller(learner), live_session))["url"] == URL
    teacher_caller = caller(await data.user_of(teacher))
    assert (await join_state(teacher_caller, live_session))["url"] == URL
    guardian_view = await join_state(caller(guardian), live_session)
    assert guardian_view["isOpen"] is False and guardian_view["url"] is None
    admin_view = await join_state(admin, live_session)
    assert admin_view["isOpen"] is False and admin_view["url"] is None


async def test_enrolled_learners_join_without_booking_only_where_the_course_needs_none(data, caller):
    learner = await data.user()
    open_course = await data.course("OPEN")
    bookable = await data.course("BOOKABLE", bookable=True)
    teacher = await data.instructor()
    session = await data.session(courses=[open_course, bookable])
    await data.enroll(session, learner)
    no_booking = await data.live_session(open_course, teacher, NOW + timedelta(minutes=5), session_id=session.id,
                                         virtual_classroom_url=URL)
    needs_booking = await data.live_session(bookable, teacher, NOW + timedelta(minutes=5), session_id=session.id,
                                            virtual_classroom_url=URL)
    me = caller(learner)

    assert (await join_state(me, no_booking))["url"] == URL
    assert (await join_state(me, needs_booking))["isOpen"] is False
    await data.book(learner, needs_booking)
    assert (await join_state(me, needs_booking))["url"] == URL


async def test_enrolled_learners_cannot_join_once_the_session_is_read_only(data, caller):
    learner = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    ended = await data.session(courses=[course], access_start=NOW - timedelta(days=30),
                               access_end=NOW - timedelta(days=1), visibility="READ_ONLY")
    still_visible = await data.session(courses=[course], access_start=NOW - timedelta(days=30),
                                       access_end=NOW - timedelta(days=1), visibility="VISIBLE")
    await data.enroll(ended, learner)
    await data.enroll(still_visible, learner)
    in_ended = await data.live_session(course, teacher, NOW, session_id=ended.id, virtual_classroom_url=URL)
    in_visible = await data.live_session(course, teacher, NOW, session_id=still_visible.id,
                                         virtual_classroom_url=URL)
    me = caller(learner)

    assert (await join_state(me, in_ended))["isOpen"] is False
    assert (await join_state(me, in_visible))["isOpen"] is True

