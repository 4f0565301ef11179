"""CSV import of Chamilo's session file: sessions created or updated by name, with their
courses, course coaches, learners and classes."""

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.imports_support import add, import_csv, seed, snapshot

HEADER = ("SessionName;Coach;DateStart;DateEnd;Users;Courses;VisibilityAfterExpiration;"
          "DisplayStartDate;DisplayEndDate;CoachStartDate;CoachEndDate;Classes")

# As a platform moving over from Chamilo would export it (Excel's "CSV UTF-8": BOM, CRLF, semicolons).
CHAMILO_FILE = "\r\n".join([
    "\ufeff" + HEADER,
    "Formation Python – printemps 2026;carla@example.org;2026/04/01;2026/06/30;ana@example.org|bo@example.org;"
    "PY101[dan@example.org][cy@example.org]|SQL201[dan@example.org,carla@example.org];read_only;"
    "2026/03/15;2026/07/31;2026/03/25;2026/07/15;Promo 2026",
    '"Onboarding; Q2";;2026-04-01 08:00:00;2026-04-30 17:30:00;cy@example.org;PY101;accessible;;;;;',
    "Archive 2025;carla@example.org;2025/01/01;2025/12/31;;SQL201[][ana@example.org];not_accessible;"
    "2025/01/01;2026/12/31;2024/12/15;2026/01/15;",
    "",
]).encode("utf-8")

PEOPLE = ["ana@example.org", "bo@example.org", "cy@example.org", "dan@example.org", "carla@example.org",
          "eve@example.org"]

SESSIONS = """
query { sessions(first: 20) { edges { node {
  name visibility learnerCount coach { email }
  displayWindow { start end } accessWindow { start end } coachAccessWindow { start end }
  courses { position course { code } coaches { email } }
} } } }"""


@pytest.fixture
async def ids(database):
    ids = await seed(database, courses=["PY101", "SQL201"], users=PEOPLE)
    promo = models.UserClass(name="Promo 2026")
    await add(database, promo)
    await add(database, models.ClassMember(class_id=promo.id, user_id=ids["eve@example.org"]),
              models.ClassMember(class_id=promo.id, user_id=ids["ana@example.org"]))
    return {**ids, "Promo 2026": promo.id}


async def sessions_by_name(caller) -> dict[str, dict]:
    return {edge["node"]["name"]: edge["node"] for edge in (await caller(SESSIONS))["sessions"]["edges"]}


async def enrollments(database) -> set[tuple[str, str, str | None]]:
    """(session name, email, class name) of every enrollment."""
    async with database.read() as db:
        rows = await db.execute(
            select(models.Session.name, models.User.email, models.UserClass.name)
            .select_from(models.Enrollment)
            .join(models.Session, models.Session.id == models.Enrollment.session_id)
            .join(models.User, models.User.id == models.Enrollment.user_id)
            .outerjoin(models.UserClass, models.UserClass.id == models.Enrollment.class_id))
        return set(rows.all())


def window(start, end):
    return {"start": start, "end": end}


async def test_a_chamilo_session_file_creates_the_sessions_it_names(admin, database, ids):
    payload = await import_csv(admin, CHAMILO_FILE)

    # 3 sessions, 6 enrollments and 3 course coaches
    assert payload == {"format": "CHAMILO_SESSIONS", "created": 12, "updated": 0, "alreadyEnrolled": 0,
                       "rowErrors": [], "rowErrorCount": 0, "warnings": [], "errors": []}
    sessions = await sessions_by_name(admin)
    assert set(sessions) == {"Formation Python – printemps 2026", "Onboarding; Q2", "Archive 2025"}

    python = sessions["Formation Python – printemps 2026"]
    assert python["coach"] == {"email": "carla@example.org"}
    assert python["visibility"] == "READ_ONLY"
    # a date alone as an end takes in that whole day: windows end at the next midnight
    assert python["accessWindow"] == window("2026-04-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00")
    assert python["displayWindow"] == window("2026-03-15T00:00:00+00:00", "2026-08-01T00:00:00+00:00")
    assert python["coachAccessWindow"] == window("2026-03-25T00:00:00+00:00", "2026-07-16T00:00:00+00:00")
    assert [(c["position"], c["course"]["code"], sorted(u["email"] for u in c["coaches"]))
            for c in python["courses"]] == [(0, "PY101", ["dan@example.org"]),
                                            (1, "SQL201", ["carla@example.org", "dan@example.org"])]

    onboarding = sessions["Onboarding; Q2"]
    assert onboarding["coach"] is None
    assert onboarding["visibility"] == "VISIBLE"
    assert onboarding["accessWindow"] == window("2026-04-01T08:00:00+00:00", "2026-04-30T17:30:00+00:00")
    # blank display and coach dates take the access window's
    assert onboarding["displayWindow"] == onboarding["coachAccessWindow"] == onboarding["accessWindow"]
    assert [c["course"]["code"] for c in onboarding["courses"]] == ["PY101"]

    assert sessions["Archive 2025"]["visibility"] == "INVISIBLE"

    assert await enrollments(database) == {
        ("Formation Python – printemps 2026", "ana@example.org", None),  # listed herself, and in the class
        ("Formation Python – printemps 2026", "bo@example.org", None),
        ("Formation Python – printemps 2026", "cy@example.org", None),  # from PY101's user list
        ("Formation Python – printemps 2026", "eve@example.org", "Promo 2026"),
        ("Onboarding; Q2", "cy@example.org", None),
        ("Archive 2025", "ana@example.org", None),
    }


async def test_reimporting_a_chamilo_file_changes_nothing(admin, database, ids):
    await import_csv(admin, CHAMILO_FILE)
    before = await snapshot(database)

    again = await import_csv(admin, CHAMILO_FILE)

    assert (again["created"], again["updated"], again["alreadyEnrolled"], again["errors"]) == (0, 0, 3, [])
    assert await snapshot(database) == before


# Chamilo's session_export.php: its own header (SessionId first in recent versions), Visibility
# as Chamilo's number, SessionCategory as its category ID, dates with times, a separator ending each line.
CHAMILO_EXPORT = "\n".join([
    "SessionId;SessionName;Coach;DateStart;DateEnd;Visibility;SessionCategory;Users;Courses;",
    "42;Formation SQL;carla@example.org;2026-04-01 09:00:00;2026-06-30 18:00:00;2;7;ana@example.org|bo@example.org;"
    "SQL201[dan@example.org][cy@example.org]|PY101[][];",
    "43;Archive;;2025-01-01 00:00:00;2025-12-31 23:59:59;1;;;;",
    "",
])


async def test_chamilos_own_export_imports_like_its_import_format(admin, database, ids):
    # when
    payload = await import_csv(admin, CHAMILO_EXPORT)

    # then: 2 sessions, 3 enrollments (cy from SQL201's user list), 1 course coach
    assert payload == {"format": "CHAMILO_SESSIONS", "created": 6, "updated": 0, "alreadyEnrolled": 0,
                       "rowErrors": [], "rowErrorCount": 0, "warnings": [], "errors": []}
    sessions = await sessions_by_name(admin)
    sql = sessions["Formation SQL"]
    assert (sql["visibility"], sql["coach"]) == ("VISIBLE", {"email": "carla@example.org"})
    assert sql["accessWindow"] == window("2026-04-01T09:00:00+00:00", "2026-06-30T18:00:00+00:00")
    assert [(c["course"]["code"], [u["email"] for u in c["coaches"]]) for c in sql["courses"]] == [
        ("SQL201", ["dan@example.org"]), ("PY101", [])]
    assert sessions["Archive"]["visibility"] == "READ_ONLY"
    assert await enrollments(database) == {("Formation SQL", email, None)
                                           for email in ("ana@example.org", "bo@example.org", "cy@example.org")}
    # and again: nothing changes
    before = await snapshot(database)
    again = await import_csv(admin, CHAMILO_EXPORT)
    assert (again["created"], again["updated"], again["alreadyEnrolled"]) == (0, 0, 2)
    assert await snapshot(database) == before


async def test_an_unknown_chamilo_visibility_number_and_both_visibility_columns_are_refused(admin, database, ids):
    before = await snapshot(database)

    bad_number = await import_csv(admin, "SessionName;DateStart;DateEnd;Visibility\nX;2026-01-01;2026-02-01;5\n")
    both = await import_csv(admin, "SessionName;DateStart;DateEnd;Visibility;VisibilityAfterExpiration\n"
                                   "X;2026-01-01;2026-02-01;1;read_only\n")

    assert [(e["line"], e["column"], e["code"]) for e in bad_number["rowErrors"]] == [(2, "Visibility", "VALIDATION")]
    assert [(e["line"], e["column"], e["code"]) for e in both["rowErrors"]] == [(1, "Visibility", "DUPLICATE")]
    assert await snapshot(database) == before


async def test_updates_the_sessions_it_names_and_only_adds(admin, database, ids):
    # given: "Onboarding; Q2" exists with other dates, SQL201, a coach and a learner
    existing = models.Session(name="Onboarding; Q2", coach_id=ids["dan@example.org"])
    await add(database, existing)
    await add(database, models.SessionCourse(session_id=existing.id, course_id=ids["SQL201"], position=0),
              models.Enrollment(session_id=existing.id, user_id=ids["bo@example.org"]))

    # when
    payload = await import_csv(admin, CHAMILO_FILE)

    # then: two sessions created with their 8 links; one updated, and one learner added to it
    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (2 + 8 + 1, 1, 0)
    onboarding = (await sessions_by_name(admin))["Onboarding; Q2"]
    assert onboarding["coach"] is None  # the Coach cell is blank
    assert onboarding["accessWindow"] == window("2026-04-01T08:00:00+00:00", "2026-04-30T17:30:00+00:00")
    assert [(c["position"], c["course"]["code"]) for c in onboarding["courses"]] == [(0, "SQL201"), (1, "PY101")]
    assert {e for e in await enrollments(database) if e[0] == "Onboarding; Q2"} == {
        ("Onboarding; Q2", "bo@example.org", None), ("Onboarding; Q2", "cy@example.org", None)}


async def test_columns_left_out_leave_an_existing_session_alone(admin, database, ids):
    existing = models.Session(name="Kept", coach_id=ids["dan@example.org"], visibility="INVISIBLE")
    await add(database, existing)

    payload = await import_csv(admin, "SessionName,DateStart,DateEnd\nKept,,\n")

    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (0, 0, 1)
    kept = (await sessions_by_name(admin))["Kept"]
    assert (kept["coach"], kept["visibility"]) == ({"email": "dan@example.org"}, "INVISIBLE")


async def test_dates_are_the_importing_admins_local_times(caller, make_user, ids):
    paris_admin = caller(await make_user("Paul", "paul@example.test", is_admin=True, time_zone="Europe/Paris"))

    await import_csv(paris_admin, "SessionName,DateStart,DateEnd\nPrintemps,2026/03/28 09:00:00,2026/03/29\n")

    printemps = (await sessions_by_name(paris_admin))["Printemps"]
    # 09:00 in Paris on the Saturday is UTC+1; the Sunday ends after the change to summer time (UTC+2)
    assert printemps["accessWindow"] == window("2026-03-28T08:00:00+00:00", "2026-03-29T22:00:00+00:00")


async def test_a_coach_window_that_does_not_cover_access_is_imported_with_a_warning(admin, ids):
    payload = await import_csv(admin, "SessionName;DateStart;DateEnd;CoachStartDate\nLate coaches;2026/04/01;"
                                      "2026/04/30;2026/04/10\n")

    assert payload["created"] == 1 and payload["errors"] == []
    assert payload["warnings"] == [{
        "line": 2, "column": "CoachStartDate", "code": "COACH_WINDOW_NOT_COVERING",
        "message": "Line 2, column CoachStartDate: The coach access window does not cover the learners' access "
                   "window; coaches will be locked out while learners are in."}]


def row(**cells) -> str:
    """A comma-separated file with every column, one good row and the row given."""
    good = {"SessionName": "Good", "DateStart": "2026/04/01", "DateEnd": "2026/04/30"}
    columns = HEADER.split(";")
    return "\n".join([",".join(columns), ",".join(good.get(c, "") for c in columns),
                      ",".join(cells.get(c, good.get(c, "") if c != "SessionName" else "Bad") for c in columns)])


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(row(DateStart="2026/13/01"),
                 ("DateStart", "VALIDATION", "'2026/13/01' is not a real date or time (month must be in 1..12)."),
                 id="malformed date"),
    pytest.param(row(DateEnd="30/04/2026"),
                 ("DateEnd", "VALIDATION", "'30/04/2026' is not a date: write yyyy/mm/dd or yyyy-mm-dd, optionally "
                                           "followed by hh:mm:ss."), id="date in another format"),
    pytest.param(row(CoachStartDate="2026/03/01 25:00:00"),
                 ("CoachStartDate", "VALIDATION",
                  "'2026/03/01 25:00:00' is not a real date or time (hour must be in 0..23)."), id="malformed time"),
    pytest.param(row(DateStart="2026/05/02"), ("DateEnd", "INVALID_WINDOW", "DateEnd is before DateStart."),
                 id="ends before it starts"),
    pytest.param(row(DisplayStartDate="2026/05/01", DisplayEndDate="2026/04/01"),
                 ("DisplayEndDate", "INVALID_WINDOW", "the display window ends before it starts."),
                 id="display window ends before it starts"),
    pytest.param(row(Coach="nobody@example.org"),
                 ("Coach", "NOT_FOUND", "no user has the email 'nobody@example.org'."), id="unknown coach"),
    pytest.param(row(Users="ana@example.org|nobody@example.org"),
                 ("Users", "NOT_FOUND", "no user has the email 'nobody@example.org'."), id="unknown user"),
    pytest.param(row(Users="ana@example.org|ana.example.org"),
                 ("Users", "VALIDATION", "'ana.example.org' is not an email address: An email address must have "
                                         "an @-sign."), id="malformed email"),
    pytest.param(row(Courses="PY101|CHEM"), ("Courses", "NOT_FOUND", "no course has the code 'CHEM'."),
                 id="unknown course"),
    pytest.param(row(Courses='"PY101[dan@example.org][nobody@example.org]"'),
                 ("Courses", "NOT_FOUND", "course PY101: no user has the email 'nobody@example.org'."),
                 id="unknown user of a course"),
    pytest.param(row(Courses="PY101[dan@example.org"),
                 ("Courses", "VALIDATION", "'PY101[dan@example.org' is not a course: write CODE, CODE[coach,…] or "
                                           "CODE[coach,…][user,…]."), id="malformed course cell"),
    pytest.param(row(Courses="PY101|py101"), ("Courses", "DUPLICATE", "the course 'py101' is listed twice."),
                 id="course listed twice"),
    pytest.param(row(Classes="Promo 2026|Promo 2027"), ("Classes", "NOT_FOUND", "no class is named 'Promo 2027'."),
                 id="unknown class"),
    pytest.param(row(VisibilityAfterExpiration="hidden"),
                 ("VisibilityAfterExpiration", "VALIDATION", "'hidden' is not read_only, accessible or "
                                                             "not_accessible (nor Chamilo's 1 to 4)."), id="unknown visibility"),
    pytest.param(row(SessionName="Good"), ("SessionName", "DUPLICATE", "the session 'Good' is already on line 2."),
                 id="duplicate session row"),
    pytest.param(row(SessionName=" "), ("SessionName", "VALIDATION", "the session name is blank."),
                 id="blank session name"),
    pytest.param(row(SessionName="S" * 201), ("SessionName", "VALIDATION",
                                              "the session name must be at most 200 characters."), id="long name"),
])
async def test_a_bad_row_refuses_the_whole_file(admin, database, ids, content, expected):
    before = await snapshot(database)

    payload = await import_csv(admin, content)

    column, code, detail = expected
    assert payload["rowErrors"] == [{"line": 3, "column": column, "code": code,
                                     "message": f"Line 3, column {column}: {detail}"}]
    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (0, 0, 0)
    assert payload["errors"][0]["code"] == "VALIDATION"
    assert await snapshot(database) == before


async def test_a_duration_session_keeps_no_access_dates(admin, database, ids):
    await add(database, models.Session(name="Self-paced", duration_days=30))
    before = await snapshot(database)

    payload = await import_csv(admin, "SessionName,DateStart,DateEnd\nSelf-paced,2026/04/01,\n")

    assert [(e["column"], e["code"]) for e in payload["rowErrors"]] == [("DateStart", "VALIDATION")]
    assert await snapshot(database) == before


async def test_a_header_without_the_required_columns_is_refused(admin, database, ids):
    before = await snapshot(database)

    payload = await import_csv(admin, "SessionName;DateStart;Users\nSpring;2026/04/01;ana@example.org\n")

    assert payload["rowErrors"] == [{"line": 1, "column": "DateEnd", "code": "MISSING_COLUMN",
                                     "message": "Line 1, column DateEnd: the required column DateEnd is missing."}]
    assert before["session"] == [] and await snapshot(database) == before


async def test_every_bad_cell_of_a_row_is_listed(admin, database, ids):
    payload = await import_csv(admin, row(Coach="nobody@example.org", DateEnd="soon", Users="zed@example.org",
                                          Classes="Nope"))

    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [
        (3, "DateEnd", "VALIDATION"), (3, "Coach", "NOT_FOUND"), (3, "Users", "NOT_FOUND"),
        (3, "Classes", "NOT_FOUND")]
