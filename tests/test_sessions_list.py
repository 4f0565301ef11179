"""The admin session list: order, search, filters, pagination, and its SQL statement count."""

from datetime import timedelta

from sqlalchemy import insert

from sessiongraph.models import Course, Enrollment, Session, SessionCategory, SessionCourse, SessionCourseCoach, User
from sessiongraph.schema.relay import to_global_id

LIST = """
query($filter: SessionFilter, $first: Int, $after: String) {
  sessions(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { name status } }
  }
}"""

ADMIN_PAGE = """
query($first: Int) {
  sessions(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name status courseCount learnerCount
      accessWindow { start end } displayWindow { start end }
      category { name } coach { name }
      courses { position course { code title } coaches { name } }
    } }
  }
}"""


async def add_sessions(database, clock, specs):
    """specs: (name, access start offset in days or None, length in days or None, category)."""
    now = clock.now()
    async with database.write() as db:
        for name, offset, length, category_id in specs:
            start = now + timedelta(days=offset) if offset is not None else None
            end = (start or now) + timedelta(days=length) if length is not None else None
            db.add(Session(name=name, access_start=start, access_end=end, category_id=category_id))


def names(data):
    return [e["node"]["name"] for e in data["sessions"]["edges"]]


async def test_sorted_by_access_start_with_open_starts_first_then_name(admin, database, clock):
    await add_sessions(database, clock, [("Later", 10, 5, None), ("Open b", None, None, None),
                                         ("Earlier", -10, 5, None), ("Open a", None, 3, None),
                                         ("Same start z", 10, 1, None)])

    data = await admin(LIST)

    assert names(data) == ["Open a", "Open b", "Earlier", "Later", "Same start z"]
    assert data["sessions"]["totalCount"] == 5


async def test_status_filter_uses_the_clock(admin, database, clock):
    await add_sessions(database, clock, [("Past", -30, 10, None), ("Active", -1, 10, None),
                                         ("Upcoming", 5, 10, None), ("Open", None, None, None)])

    by_status = {status: names(await admin(LIST, filter={"status": status}))
                 for status in ("PAST", "ACTIVE", "UPCOMING")}

    assert by_status == {"PAST": ["Past"], "ACTIVE": ["Open", "Active"], "UPCOMING": ["Upcoming"]}


async def test_search_is_a_case_insensitive_substring_with_wildcards_taken_literally(admin, database, clock):
    await add_sessions(database, clock, [("Spring Onboarding", 1, 1, None), ("spring_2026", 2, 1, None),
                                         ("Autumn", 3, 1, None), ("100% remote", 4, 1, None)])

    assert names(await admin(LIST, filter={"search": "SPRING"})) == ["Spring Onboarding", "spring_2026"]
    assert names(await admin(LIST, filter={"search": "g_2"})) == ["spring_2026"]
    assert names(await admin(LIST, filter={"search": "%"})) == ["100% remote"]


async def test_category_filter(admin, database, clock):
    async with database.write() as db:
        category = SessionCategory(name="Languages")
        db.add(category)
        await db.flush()
        category_id = category.id
    await add_sessions(database, clock, [("French", 1, 1, category_id), ("Safety", 1, 1, None)])

    data = await admin(LIST, filter={"categoryId": to_global_id("SessionCategory", category_id)})
    unknown = await admin(LIST, filter={"categoryId": "bm9wZQ=="})

    assert names(data) == ["French"]
    assert names(unknown) == []


async def test_date_range_keeps_sessions_whose_access_window_overlaps_it(admin, database, clock):
    # the clock stands at 2026-03-10T12:00Z
    await add_sessions(database, clock, [("Before", -30, 10, None), ("Overlapping start", -5, 10, None),
                                         ("Inside", 1, 1, None), ("After", 30, 5, None),
                                         ("Open", None, None, None)])

    data = await admin(LIST, filter={"from": "2026-03-09T00:00:00Z", "to": "2026-03-20T00:00:00Z"})

    assert names(data) == ["Open", "Overlapping start", "Inside"]


async def test_cursor_pagination_walks_every_session_once(admin, database, clock):
    await add_sessions(database, clock, [(f"S{i:02}", i % 4 if i % 5 else None, 1, None) for i in range(23)])
    seen, after, pages = [], None, 0

    for _ in range(10):  # five pages are expected; a cursor that does not advance must not loop forever
        data = await admin(LIST, first=5, after=after)
        seen += names(data)
        pages += 1
        info = data["sessions"]["pageInfo"]
        assert info["hasPreviousPage"] == (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]

    everything = names(await admin(LIST, first=100))
    assert pages == 5
    assert seen == everything and len(set(seen)) == 23


async def test_a_bad_cursor_is_a_bad_user_input_error(admin):
    body = await admin.execute(LIST, after="not-a-cursor")

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_first_is_capped_by_the_max_page_size(admin, database, clock, settings):
    await add_sessions(database, clock, [(f"S{i:03}", None, None, None) for i in range(settings.max_page_size + 5)])

    data = await admin(LIST, first=10_000)

    assert len(data["sessions"]["edges"]) == settings.max_page_size
    assert data["sessions"]["pageInfo"]["hasNextPage"] is True


async def seed_admin_page(database, clock, count):
    """`count` sessions, each with a category, a coach, 3 courses with a coach each, and 4 learners."""
    async with database.write() as db:
        coach = User(name="Carla", email="carla@example.test")
        learners = [User(name=f"L{i}", email=f"l{i}@example.test") for i in range(4)]
        category = SessionCategory(name="Cat")
        courses = [Course(code=f"C{i}", title=f"Course {i}") for i in range(3)]
        db.add_all([coach, *learners, category, *courses])
        await db.flush()
        sessions = [Session(name=f"Session {i:04}", category_id=category.id, coach_id=coach.id,
                            access_start=clock.now() + timedelta(days=i % 30 - 15)) for i in range(count)]
        db.add_all(sessions)
        await db.flush()
        await db.execute(insert(SessionCourse), [{"session_id": s.id, "course_id": c.id, "position": p}
                                                 for s in sessions for p, c in enumerate(courses)])
        await db.execute(insert(SessionCourseCoach), [{"session_id": s.id, "course_id": c.id, "user_id": coach.id}
                                                      for s in sessions for c in courses])
        await db.execute(insert(Enrollment), [{"session_id": s.id, "user_id": u.id, "enrolled_at": clock.now()}
                                              for s in sessions for u in learners])


async def statements_for_admin_page(admin, count_statements, first):
    with count_statements() as log:
        data = await admin(ADMIN_PAGE, first=first)
    return data, log.count


async def test_the_admin_page_runs_the_same_statements_for_5_or_500_sessions(admin, database, clock,
                                                                            count_statements):
    await seed_admin_page(database, clock, 5)
    small, small_count = await statements_for_admin_page(admin, count_statements, 50)
    await seed_admin_page_more(database, clock, 495)
    large, large_count = await statements_for_admin_page(admin, count_statements, 50)

    assert len(small["sessions"]["edges"]) == 5
    assert len(large["sessions"]["edges"]) == 50
    node = large["sessions"]["edges"][0]["node"]
    assert node["courseCount"] == 3 and node["learnerCount"] == 4
    assert [c["coaches"] for c in node["courses"]] == [[{"name": "Carla"}]] * 3
    # actor, page, total count, categories, course lists, courses, course coach IDs,
    # users (session coaches and course coaches in one batch), course counts, learner counts
    assert small_count == large_count == 10


async def seed_admin_page_more(database, clock, count):
    async with database.read() as db:
        from sqlalchemy import select

        coach_id = await db.scalar(select(User.id).where(User.name == "Carla"))
        category_id = await db.scalar(select(SessionCategory.id))
        course_ids = (await db.scalars(select(Course.id).order_by(Course.id))).all()
        learner_ids = (await db.scalars(select(User.id).where(User.name.like("L%")))).all()
    async with database.write() as db:
        sessions = [Session(name=f"More {i:04}", category_id=category_id, coach_id=coach_id,
                            access_start=clock.now() + timedelta(days=i % 30 - 15)) for i in range(count)]
        db.add_all(sessions)
        await db.flush()
        await db.execute(insert(SessionCourse), [{"session_id": s.id, "course_id": c, "position": p}
                                                 for s in sessions for p, c in enumerate(course_ids)])
        await db.execute(insert(SessionCourseCoach), [{"session_id": s.id, "course_id": c, "user_id": coach_id}
                                                      for s in sessions for c in course_ids])
        await db.execute(insert(Enrollment), [{"session_id": s.id, "user_id": u, "enrolled_at": clock.now()}
                                              for s in sessions for u in learner_ids])
