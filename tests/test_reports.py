"""Attendance reports (recordAttendance, myReport) and session tracking."""

from datetime import timedelta

import pytest

from sessiongraph import models
from sessiongraph.models.reports import AttendanceFigures
from tests.conftest import NOW
from tests.schedule_data import data, gid  # noqa: F401

RECORD = """
mutation($input: RecordAttendanceInput!) { recordAttendance(input: $input) {
  liveSession { code reports { edges { node { attendance feedback learner { name } } } } }
  errors { field code message }
} }
"""

MY_REPORT = """
query($id: ID!) { node(id: $id) { ... on LiveSession { myReport { attendance feedback recordedAt } } } }
"""

TRACKING = """
query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Session {
  tracking(first: $first, after: $after) {
    learnerCount attendanceRate totals { booked attended late absent excused }
    learners {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { learner { name } booked attended late absent excused attendanceRate lastAttendedAt } }
    }
  }
} } }
"""


def entry(learner, status: str, feedback: str | None = None) -> dict:
    return {"learnerId": gid("User", learner.id), "status": status, "feedback": feedback}


async def taught_class(data, starts_at=NOW - timedelta(hours=2)):
    course = await data.course()
    teacher = await data.instructor("Ines")
    ann, ben = await data.user("Ann"), await data.user("Ben")
    live_session = await data.live_session(course, teacher, starts_at, code="CLASS")
    await data.book(ann, live_session)
    await data.book(ben, live_session)
    return live_session, teacher, ann, ben


async def test_the_instructor_records_attendance_and_each_learner_reads_their_own(data, caller):
    live_session, teacher, ann, ben = await taught_class(data)
    ls_id = gid("LiveSession", live_session.id)
    guardian = await data.user("Gina")
    await data.guardian_of(guardian, ann)

    result = (await caller(await data.user_of(teacher))(RECORD, input={"liveSessionId": ls_id, "entries": [
        entry(ann, "PRESENT", " Great questions. "), entry(ben, "ABSENT")]}))["recordAttendance"]

    assert result["errors"] == []
    assert [e["node"] for e in result["liveSession"]["reports"]["edges"]] == [
        {"attendance": "PRESENT", "feedback": "Great questions.", "learner": {"name": "Ann"}},
        {"attendance": "ABSENT", "feedback": None, "learner": {"name": "Ben"}}]
    assert (await caller(ann)(MY_REPORT, id=ls_id))["node"]["myReport"] == {
        "attendance": "PRESENT", "feedback": "Great questions.", "recordedAt": "2026-03-10T12:00:00+00:00"}
    assert (await caller(ben)(MY_REPORT, id=ls_id))["node"]["myReport"]["attendance"] == "ABSENT"
    guardian_view = await caller(guardian)("{ viewer { children { schedule { past { edges { node { "
                                           "myReport { attendance } reports { edges { node { attendance } } } "
                                           "} } } } } } }")
    child_past = guardian_view["viewer"]["children"][0]["schedule"]["past"]["edges"]
    # the guardian reads the child's own report, not the class's
    assert child_past == [{"node": {"myReport": {"attendance": "PRESENT"}, "reports": {"edges": []}}}]


async def test_recording_again_corrects_the_report(data, caller):
    live_session, teacher, ann, _ = await taught_class(data)
    ines = caller(await data.user_of(teacher))
    ls_id = gid("LiveSession", live_session.id)

    await ines(RECORD, input={"liveSessionId": ls_id, "entries": [entry(ann, "ABSENT")]})
    await ines(RECORD, input={"liveSessionId": ls_id, "entries": [entry(ann, "EXCUSED", "Doctor's note")]})

    assert (await caller(ann)(MY_REPORT, id=ls_id))["node"]["myReport"]["attendance"] == "EXCUSED"


async def test_attendance_is_refused_before_the_start_and_on_a_cancelled_session(data, caller):
    live_session, teacher, ann, _ = await taught_class(data, starts_at=NOW + timedelta(minutes=1))
    course = await data.course()
    cancelled = await data.live_session(course, teacher, NOW - timedelta(hours=1), cancelled_at=NOW - timedelta(days=1))
    await data.book(ann, cancelled)
    ines = caller(await data.user_of(teacher))

    early = (await ines(RECORD, input={"liveSessionId": gid("LiveSession", live_session.id),
                                       "entries": [entry(ann, "PRESENT")]}))["recordAttendance"]
    off = (await ines(RECORD, input={"liveSessionId": gid("LiveSession", cancelled.id),
                                     "entries": [entry(ann, "PRESENT")]}))["recordAttendance"]
    assert early["errors"] == [{"field": ["liveSessionId"], "code": "LIVE_SESSION_NOT_STARTED",
                                "message": "Attendance is recorded once the live session has started."}]
    assert off["errors"][0]["code"] == "LIVE_SESSION_CANCELLED"


async def test_attendance_entries_are_checked_together(data, caller):
    live_session, teacher, ann, _ = await taught_class(data)
    stranger = await data.user("Sam")
    ines = caller(await data.user_of(teacher))

    result = (await ines(RECORD, input={"liveSessionId": gid("LiveSession", live_session.id), "entries": [
        entry(ann, "PRESENT"), entry(stranger, "ABSENT"), entry(ann, "LATE"),
        {"learnerId": gid("Course", 1), "status": "LATE"}]}))["recordAttendance"]

    assert result["liveSession"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(["entries", "3", "learnerId"], "NOT_FOUND")]
    result = (await ines(RECORD, input={"liveSessionId": gid("LiveSession", live_session.id), "entries": [
        entry(ann, "PRESENT"), entry(stranger, "ABSENT"), entry(ann, "LATE")]}))["recordAttendance"]
    assert sorted((e["field"], e["code"]) for e in result["errors"]) == [
        (["entries", "1", "learnerId"], "NOT_FOUND"), (["entries", "2", "learnerId"], "VALIDATION")]


async def test_who_records_attendance(data, caller, admin):
    live_session, _teacher, ann, _ = await taught_class(data)
    other_teacher = await data.instructor("Stan")
    ls_id = gid("LiveSession", live_session.id)
    given = {"liveSessionId": ls_id, "entries": [entry(ann, "PRESENT")]}

    by_learner = await caller(ann).execute(RECORD, input=given)
    by_other_teacher = (await caller(await data.user_of(other_teacher))(RECORD, input=given))["recordAttendance"]
    by_admin = (await admin(RECORD, input=given))["recordAttendance"]

    # a learner on it sees it but may not record: the client's bug, a top-level error
    assert by_learner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # another instructor does not see it at all
    assert by_other_teacher["errors"][0]["code"] == "NOT_FOUND" and by_other_teacher["liveSession"] is None
    assert by_admin["errors"] == []


async def test_the_session_coach_records_attendance_for_the_session_s_live_sessions(data, caller):
    course = await data.course()
    teacher = await data.instructor()
    coach, learner = await data.user("Coach"), await data.user("Lea")
    session = await data.session(courses=[course], coach_id=coach.id)
    await data.enroll(session, learner)
    live_session = await data.live_session(course, teacher, NOW - timedelta(hours=1), session_id=session.id)

    result = (await caller(coach)(RECORD, input={"liveSessionId": gid("LiveSession", live_session.id),
                                                 "entries": [entry(learner, "LATE")]}))["recordAttendance"]

    assert result["errors"] == []


def test_attendance_rate_counts_late_as_came_and_leaves_excused_out():
    assert AttendanceFigures(attended=2, late=1, absent=1, excused=5).attendance_rate == pytest.approx(0.75)
    assert AttendanceFigures(excused=3).attendance_rate is None


async def tracked_session(data, learners: int = 3, *, coach=None):
    """A session with two courses; live sessions attached to it, one cancelled, and a booked
    one of its course outside any session."""
    math, art = await data.course("MATH"), await data.course("ART", bookable=True)
    teacher = await data.instructor()
    session = await data.session("Spring", courses=[math, art], coach_id=coach.id if coach else None,
                                 access_start=NOW - timedelta(days=30), access_end=NOW + timedelta(days=30))
    people = [await data.user(f"Learner {n:03d}") for n in range(learners)]
    await data.enroll(session, *people)
    day = [await data.live_session(math, teacher, NOW - timedelta(days=d), session_id=session.id, code=f"M{d}")
           for d in (3, 2, 1)]
    await data.live_session(math, teacher, NOW + timedelta(days=2), session_id=session.id, code="MNEXT")
    await data.live_session(math, teacher, NOW - timedelta(days=4), session_id=session.id, code="MOFF",
                            cancelled_at=NOW - timedelta(days=5))
    booked_art = await data.live_session(art, teacher, NOW - timedelta(days=1, hours=3), code="ART")
    before_window = await data.live_session(art, teacher, NOW - timedelta(days=40), code="ARTOLD")
    return session, people, day, booked_art, before_window


async def test_tracking_per_learner_and_totals(data, admin):
    # given
    session, (ann, ben, _), (m3, m2, m1), art, old_art = await tracked_session(data)
    await data.book(ann, art)
    await data.book(ann, old_art)  # before the access window: another period's
    for ls, status in ((m3, "PRESENT"), (m2, "LATE"), (m1, "ABSENT"), (art, "PRESENT")):
        await data.report(ls, ann, models.AttendanceStatus(status))
    await data.report(m3, ben, models.AttendanceStatus.EXCUSED)
    await data.report(m2, ben, models.AttendanceStatus.PRESENT)

    # when
    tracking = (await admin(TRACKING, id=gid("Session", session.id)))["node"]["tracking"]

    # then: 4 live sessions count for everyone (3 past, 1 next; the cancelled one not), Ann booked 1 more
    rows = {e["node"]["learner"]["name"]: e["node"] for e in tracking["learners"]["edges"]}
    assert list(rows) == ["Learner 000", "Learner 001", "Learner 002"]
    assert rows["Learner 000"] == {
        "learner": {"name": "Learner 000"}, "booked": 5, "attended": 2, "late": 1, "absent": 1, "excused": 0,
        "attendanceRate": pytest.approx(0.75), "lastAttendedAt": art.starts_at.isoformat()}
    assert rows["Learner 001"] == {
        "learner": {"name": "Learner 001"}, "booked": 4, "attended": 1, "late": 0, "absent": 0, "excused": 1,
        "attendanceRate": 1.0, "lastAttendedAt": m2.starts_at.isoformat()}
    assert rows["Learner 002"] == {
        "learner": {"name": "Learner 002"}, "booked": 4, "attended": 0, "late": 0, "absent": 0, "excused": 0,
        "attendanceRate": None, "lastAttendedAt": None}
    assert tracking["learnerCount"] == 3
    assert tracking["totals"] == {"booked": 13, "attended": 3, "late": 1, "absent": 1, "excused": 1}
    assert tracking["attendanceRate"] == pytest.approx(0.8)


async def test_tracking_is_for_admins_and_the_session_s_coaches(data, caller):
    coach = await data.user("Coach")
    session, (ann, _, _), _, _, _ = await tracked_session(data, coach=coach)
    stranger = await data.user("Sam")
    session_id = gid("Session", session.id)

    by_coach = (await caller(coach)(TRACKING, id=session_id))["node"]["tracking"]
    by_learner = (await caller(ann)(TRACKING, id=session_id))["node"]["tracking"]
    by_stranger = (await caller(stranger)(TRACKING, id=session_id))["node"]

    assert by_coach["learnerCount"] == 3 and by_coach["learners"]["totalCount"] == 3
    assert by_learner["learnerCount"] == 0 and by_learner["learners"]["edges"] == []
    assert by_learner["attendanceRate"] is None and by_learner["totals"]["booked"] == 0
    assert by_stranger is None


async def test_tracking_paginates_by_learner_name(data, admin):
    session, _, _, _, _ = await tracked_session(data, learners=5)

    first = (await admin(TRACKING, id=gid("Session", session.id), first=2))["node"]["tracking"]["learners"]
    rest = (await admin(TRACKING, id=gid("Session", session.id), first=5,
                        after=first["pageInfo"]["endCursor"]))["node"]["tracking"]["learners"]

    assert [e["node"]["learner"]["name"] for e in first["edges"]] == ["Learner 000", "Learner 001"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 5
    assert [e["node"]["learner"]["name"] for e in rest["edges"]] == ["Learner 002", "Learner 003", "Learner 004"]
