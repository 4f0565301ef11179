"""A user's "My sessions": display window, access window, visibility, coaches, duration sessions."""

from datetime import timedelta

from sqlalchemy import insert

from sessiongraph.models import Course, Enrollment, Session, SessionCategory, SessionCourse, SessionCourseCoach
from sessiongraph.schema.relay import to_global_id

MY_SESSIONS = """{ viewer { mySessions {
  current { name status } upcoming { name status } past { name status } } } }"""


def days(n):
    return timedelta(days=n)


async def add(database, *sessions):
    async with database.write() as db:
        db.add_all(sessions)
        await db.flush()
    return sessions


async def enroll(database, user, *sessions, first_access_at=None):
    async with database.write() as db:
        db.add_all([Enrollment(session_id=s.id, user_id=user.id, first_access_at=first_access_at)
                    for s in sessions])


def listing(data):
    mine = data["viewer"]["mySessions"]
    return {key: [s["name"] for s in mine[key]] for key in ("current", "upcoming", "past")}


async def test_a_learners_sessions_split_by_the_access_window(database, clock, make_user, caller):
    now = clock.now()
    lena = await make_user("Lena")
    sessions = await add(
        database,
        Session(name="Current", access_start=now - days(5), access_end=now + days(5)),
        Session(name="Open-ended", access_start=now - days(5)),
        Session(name="Upcoming", access_start=now + days(3)),
        Session(name="Past", access_start=now - days(30), access_end=now - days(1)),
        Session(name="Not mine", access_start=now - days(5)),
    )
    await enroll(database, lena, *sessions[:4])

    data = await caller(lena)(MY_SESSIONS)

    assert listing(data) == {"current": ["Current", "Open-ended"], "upcoming": ["Upcoming"], "past": ["Past"]}
    assert data["viewer"]["mySessions"]["upcoming"][0]["status"] == "UPCOMING"


async def test_only_sessions_whose_display_window_contains_now_are_listed(database, clock, make_user, caller):
    now = clock.now()
    lena = await make_user("Lena")
    sessions = await add(
        database,
        Session(name="Shown", display_start=now - days(1), display_end=now + days(1), access_start=now + days(2)),
        Session(name="Not yet shown", display_start=now + days(1), access_start=now + days(2)),
        Session(name="No longer shown", display_end=now - days(1), access_end=now - days(2)),
    )
    await enroll(database, lena, *sessions)

    assert listing(await caller(lena)(MY_SESSIONS)) == {"current": [], "upcoming": ["Shown"], "past": []}


async def test_visibility_decides_what_an_ended_session_still_shows(database, clock, make_user, caller):
    now = clock.now()
    lena = await make_user("Lena")
    ended = dict(access_start=now - days(30), access_end=now - days(1))
    sessions = await add(
        database,
        Session(name="Read only", visibility="READ_ONLY", **ended),
        Session(name="Visible", visibility="VISIBLE", **ended),
        Session(name="Invisible", visibility="INVISIBLE", **ended),
        Session(name="Invisible but running", visibility="INVISIBLE", access_start=now - days(1)),
    )
    await enroll(database, lena, *sessions)

    result = listing(await caller(lena)(MY_SESSIONS))

    assert result == {"current": ["Invisible but running"], "upcoming": [], "past": ["Read only", "Visible"]}


async def test_a_coach_sees_coached_sessions_by_the_coach_window(database, clock, make_user, caller):
    now = clock.now()
    carla = await make_user("Carla")
    sessions = await add(
        database,
        # learners are not in yet and it is not displayed, but the coach prepares it
        Session(name="Preparing", coach_id=carla.id, display_start=now + days(10),
                access_start=now + days(10), coach_start=now - days(1)),
        Session(name="Grading", coach_id=carla.id, access_end=now - days(2), coach_end=now + days(5)),
        Session(name="Coach not yet", coach_id=carla.id, coach_start=now + days(1)),
        Session(name="By course", access_start=now - days(1)),
    )
    async with database.write() as db:
        course = Course(code="C", title="C")
        db.add(course)
        await db.flush()
        await db.execute(insert(SessionCourse).values(session_id=sessions[3].id, course_id=course.id))
        await db.execute(insert(SessionCourseCoach).values(session_id=sessions[3].id, course_id=course.id,
                                                           user_id=carla.id))

    data = await caller(carla)(MY_SESSIONS)

    assert listing(data) == {"current": ["Grading", "By course", "Preparing"], "upcoming": ["Coach not yet"],
                             "past": []}
    assert {s["status"] for s in data["viewer"]["mySessions"]["current"]} == {"ACTIVE"}


async def test_a_duration_session_counts_from_the_learners_first_access(database, clock, make_user, caller):
    now = clock.now()
    fresh, started, finished = [await make_user(n) for n in ("Fresh", "Started", "Finished")]
    (session,) = await add(database, Session(name="Self-paced", duration_days=30))
    await enroll(database, fresh, session)
    await enroll(database, started, session, first_access_at=now - days(10))
    await enroll(database, finished, session, first_access_at=now - days(30))

    assert listing(await caller(fresh)(MY_SESSIONS))["current"] == ["Self-paced"]
    assert listing(await caller(started)(MY_SESSIONS))["current"] == ["Self-paced"]
    assert listing(await caller(finished)(MY_SESSIONS))["past"] == ["Self-paced"]


async def test_a_learner_sees_their_session_by_node_and_not_anothers(database, clock, make_user, caller):
    now = clock.now()
    lena, omar = await make_user("Lena"), await make_user("Omar")
    mine, hidden = await add(database, Session(name="Mine", access_start=now - days(1)),
                             Session(name="Hidden", visibility="INVISIBLE", access_end=now - days(1)))
    await enroll(database, lena, mine, hidden)
    query = "query($id: ID!) { node(id: $id) { ... on Session { name } } }"

    assert (await caller(lena)(query, id=to_global_id("Session", mine.id)))["node"] == {"name": "Mine"}
    assert (await caller(omar)(query, id=to_global_id("Session", mine.id)))["node"] is None
    assert (await caller(lena)(query, id=to_global_id("Session", hidden.id)))["node"] is None


MY_SESSIONS_RICH = """{ viewer { mySessions {
  current { name status courseCount learnerCount category { name } coach { name }
            courses { course { code } coaches { name } } }
  upcoming { name status courseCount learnerCount category { name } coach { name } }
  past { name status } } } }"""


async def test_my_sessions_runs_the_same_statements_for_5_or_50_sessions(database, clock, make_user, caller,
                                                                        count_statements):
    now = clock.now()
    lena, carla = await make_user("Lena"), await make_user("Carla")
    async with database.write() as db:
        category = SessionCategory(name="Cat")
        course = Course(code="C", title="C")
        db.add_all([category, course])
        await db.flush()
        ids = category.id, course.id

    async def seed(count, prefix):
        sessions = await add(database, *[
            Session(name=f"{prefix}{i}", category_id=ids[0], coach_id=carla.id,
                    access_start=now + days(i % 3 - 1), access_end=now + days(i % 3 + 5)) for i in range(count)])
        await enroll(database, lena, *sessions)
        async with database.write() as db:
            await db.execute(insert(SessionCourse), [{"session_id": s.id, "course_id": ids[1]} for s in sessions])
            await db.execute(insert(SessionCourseCoach), [{"session_id": s.id, "course_id": ids[1],
                                                           "user_id": carla.id} for s in sessions])

    await seed(5, "a")
    with count_statements() as small:
        small_data = await caller(lena)(MY_SESSIONS_RICH)
    await seed(45, "b")
    with count_statements() as large:
        large_data = await caller(lena)(MY_SESSIONS_RICH)

    assert sum(len(v) for v in listing(small_data).values()) == 5
    assert sum(len(v) for v in listing(large_data).values()) == 50
    assert small.count == large.count
    assert large.count <= 12
