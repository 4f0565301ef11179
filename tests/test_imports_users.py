"""CSV import of users (`email,name[,time_zone,week_start,class,guardian_of,is_admin]`): created or
updated by email, added to classes, linked to the children they guard; all or nothing."""

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.imports_support import add, import_csv, seed, snapshot, upload

HEADER = "email,name,time_zone,week_start,class,guardian_of,is_admin"


@pytest.fixture
async def ids(database):
    """An existing learner (in Paris, weeks from Sunday) and two classes."""
    ids = await seed(database, users=["old@example.org"])
    async with database.write() as db:
        user = await db.get(models.User, ids["old@example.org"])
        user.time_zone, user.week_start = "Europe/Paris", "SUNDAY"
    year_1, year_2 = models.UserClass(name="Year 1"), models.UserClass(name="Year 2")
    await add(database, year_1, year_2)
    return {**ids, "Year 1": year_1.id, "Year 2": year_2.id}


async def users(database) -> dict[str, tuple]:
    """email -> (name, time zone, week start, is admin)."""
    table = models.User
    async with database.read() as db:
        rows = await db.execute(select(table.email, table.name, table.time_zone, table.week_start, table.is_admin))
        return {email: rest for email, *rest in rows.all()}


async def memberships(database) -> set[tuple[str, str]]:
    async with database.read() as db:
        rows = await db.execute(select(models.UserClass.name, models.User.email)
                                .join(models.ClassMember, models.ClassMember.class_id == models.UserClass.id)
                                .join(models.User, models.User.id == models.ClassMember.user_id))
        return set(rows.all())


async def guardians(database) -> set[tuple[str, str]]:
    guardian, learner = models.User.__table__.alias(), models.User.__table__.alias()
    async with database.read() as db:
        rows = await db.execute(select(guardian.c.email, learner.c.email)
                                .join(models.GuardianLink, models.GuardianLink.guardian_id == guardian.c.id)
                                .join(learner, learner.c.id == models.GuardianLink.learner_id))
        return set(rows.all())


GOOD_FILE = "\n".join([
    HEADER,
    "Kim@Example.org,Kim Lee,America/New_York,sunday,Year 1|Year 2,,",
    "parent@example.org,Pat Lee,,,,kim@example.org|old@example.org,no",
    # an existing user: a new name, blank cells keep their zone and week start; made an admin
    "old@example.org,Olga Old,,,Year 1,,yes",
    "",
])


async def test_creates_and_updates_users_with_classes_and_guardians(admin, database, ids):
    # when
    payload = await import_csv(admin, GOOD_FILE)

    # then
    assert payload == {"format": "USERS", "created": 2, "updated": 1, "alreadyEnrolled": 0,
                       "rowErrors": [], "rowErrorCount": 0, "warnings": [], "errors": []}
    found = await users(database)
    assert found["kim@example.org"] == ["Kim Lee", "America/New_York", "SUNDAY", False]
    assert found["parent@example.org"] == ["Pat Lee", "UTC", "MONDAY", False]  # the defaults
    assert found["old@example.org"] == ["Olga Old", "Europe/Paris", "SUNDAY", True]
    assert await memberships(database) == {("Year 1", "kim@example.org"), ("Year 2", "kim@example.org"),
                                           ("Year 1", "old@example.org")}
    assert await guardians(database) == {("parent@example.org", "kim@example.org"),
                                         ("parent@example.org", "old@example.org")}


async def test_reimporting_the_same_file_changes_nothing(admin, database, ids):
    await import_csv(admin, GOOD_FILE)
    before = await snapshot(database)

    again = await import_csv(admin, GOOD_FILE)

    assert (again["created"], again["updated"], again["alreadyEnrolled"], again["errors"]) == (0, 0, 3, [])
    assert await snapshot(database) == before


async def test_an_existing_user_only_joining_a_class_counts_as_updated(admin, database, ids):
    payload = await import_csv(admin, "email,name,class\nold@example.org,Old,Year 2\n")

    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (0, 1, 0)
    assert await memberships(database) == {("Year 2", "old@example.org")}


async def test_the_columns_may_come_in_any_order_and_only_email_and_name_are_required(admin, database, ids):
    payload = await import_csv(admin, "Name;Email\nNew One;new@example.org\n")

    assert (payload["format"], payload["created"], payload["errors"]) == ("USERS", 1, [])
    assert (await users(database))["new@example.org"] == ["New One", "UTC", "MONDAY", False]


async def test_every_bad_row_is_listed_and_nothing_is_written(admin, database, ids):
    # given: a good row first, then one problem or more on every other line
    content = "\n".join([
        HEADER,
        "fine@example.org,Fine,,,,,",
        "not-an-address,Bad Email,,,,,",
        "blank@example.org,,,,,,",
        "zone@example.org,Zone,Mars/Olympus,,,,",
        "week@example.org,Week,,Someday,,,",
        "admin@example.org,Admin,,,,,maybe",
        "class@example.org,Class,,,Year 1|Year 9,,",
        "child@example.org,Child,,,,nobody@example.org,",
        "self@example.org,Self,,,,self@example.org,",
        "fine@example.org,Fine Again,,,,,",
        "",
    ])
    before = await snapshot(database)

    # when
    payload = await import_csv(admin, content)

    # then
    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [
        (3, "email", "VALIDATION"), (4, "name", "VALIDATION"), (5, "time_zone", "VALIDATION"),
        (6, "week_start", "VALIDATION"), (7, "is_admin", "VALIDATION"), (8, "class", "NOT_FOUND"),
        (9, "guardian_of", "NOT_FOUND"), (10, "guardian_of", "VALIDATION"), (11, "email", "DUPLICATE")]
    assert payload["rowErrors"][5]["message"] == "Line 8, column class: no class is named 'Year 9'."
    assert payload["rowErrors"][8]["message"] == "Line 11, column email: 'fine@example.org' is already on line 2."
    assert payload["rowErrorCount"] == 9
    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (0, 0, 0)
    assert payload["errors"] == [{"field": ["file"], "code": "VALIDATION",
                                  "message": "The file has 9 errors; nothing was imported."}]
    assert await snapshot(database) == before


async def test_an_unknown_column_is_refused(admin, database, ids):
    before = await snapshot(database)

    payload = await import_csv(admin, "email,name,role\nx@example.org,X,admin\n")

    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [(1, "role", "UNKNOWN_COLUMN")]
    assert payload["format"] == "USERS"
    assert await snapshot(database) == before


async def test_only_admins_may_import_users(caller, make_user, database, ids):
    learner = caller(await make_user("Lee Learner"))
    before = await snapshot(database)

    body = await upload(learner, GOOD_FILE)

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await snapshot(database) == before
