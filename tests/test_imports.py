"""CSV import of enrollments (`session,email[,role]`), and what every import shares: all or
nothing with every error listed, the file's encoding and shape, limits, who may import."""

import json

import pytest
from sqlalchemy import select

from sessiongraph import models
from tests.imports_support import import_csv, seed, snapshot, upload

PEOPLE = ["ana@example.org", "bo@example.org", "cy@example.org"]


@pytest.fixture
async def ids(database):
    """Two sessions (Spring teaches PY and SQL), two courses, three users."""
    return await seed(database, courses=["PY", "SQL"], users=PEOPLE,
                      sessions={"Spring 2026; onboarding": ["PY", "SQL"], "Autumn": []})


async def enrollments(database) -> set[tuple[int, int]]:
    async with database.read() as db:
        return set((await db.execute(select(models.Enrollment.session_id, models.Enrollment.user_id))).all())


async def coaches(database) -> set[tuple[int, int, int]]:
    table = models.SessionCourseCoach
    async with database.read() as db:
        return set((await db.execute(select(table.session_id, table.course_id, table.user_id))).all())


async def test_enrolls_learners_and_course_coaches(admin, database, ids):
    # given: Excel's "CSV UTF-8" with semicolons (a BOM, CRLF, a quoted name holding the separator)
    content = ("\ufeffSession;Email;Role\r\n"
               '"Spring 2026; onboarding";Ana@Example.org;learner\r\n'
               '"Spring 2026; onboarding";bo@example.org\r\n'
               "Autumn; cy@example.org ;\r\n"
               "\r\n"
               '"Spring 2026; onboarding";cy@example.org;course_coach:sql\r\n').encode("utf-8")

    # when
    payload = await import_csv(admin, content)

    # then
    assert payload == {"format": "ENROLLMENTS", "created": 4, "updated": 0, "alreadyEnrolled": 0,
                       "rowErrors": [], "rowErrorCount": 0, "warnings": [], "errors": []}
    spring = ids["Spring 2026; onboarding"]
    assert await enrollments(database) == {(spring, ids["ana@example.org"]), (spring, ids["bo@example.org"]),
                                           (ids["Autumn"], ids["cy@example.org"])}
    assert await coaches(database) == {(spring, ids["SQL"], ids["cy@example.org"])}


async def test_comma_separated_with_lf_and_role_column_left_out(admin, database, ids):
    payload = await import_csv(admin, "session,email\nAutumn,ana@example.org\nAutumn,bo@example.org\n")

    assert (payload["created"], payload["alreadyEnrolled"], payload["errors"]) == (2, 0, [])
    assert await enrollments(database) == {(ids["Autumn"], ids["ana@example.org"]),
                                           (ids["Autumn"], ids["bo@example.org"])}


async def test_reimporting_the_same_file_changes_nothing(admin, database, ids):
    content = ("session,email,role\nAutumn,ana@example.org,learner\n"
               "Spring 2026; onboarding,bo@example.org,course_coach:PY\n")
    first = await import_csv(admin, content)
    before = await snapshot(database)

    again = await import_csv(admin, content)

    assert (first["created"], first["alreadyEnrolled"]) == (2, 0)
    assert (again["created"], again["updated"], again["alreadyEnrolled"], again["errors"]) == (0, 0, 2, [])
    assert await snapshot(database) == before


async def test_rows_already_true_count_as_already_enrolled(admin, database, ids):
    await import_csv(admin, "session,email\nAutumn,ana@example.org\n")

    payload = await import_csv(admin, "session,email\nAutumn,ana@example.org\nAutumn,bo@example.org\n")

    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (1, 0, 1)


GOOD_ROW = "Autumn,ana@example.org,learner\n"


@pytest.mark.parametrize(("rows", "expected"), [
    pytest.param("Winter,bo@example.org,learner\n",
                 (3, "session", "NOT_FOUND", "Line 3, column session: no session is named 'Winter'."),
                 id="unknown session"),
    pytest.param("Autumn,nobody@example.org,learner\n",
                 (3, "email", "NOT_FOUND", "Line 3, column email: no user has the email 'nobody@example.org'."),
                 id="unknown user"),
    pytest.param("Autumn,bo@example.org,course_coach:NOPE\n",
                 (3, "role", "NOT_FOUND", "Line 3, column role: no course has the code 'NOPE'."),
                 id="unknown course"),
    pytest.param("Autumn,bo@example.org,course_coach:PY\n",
                 (3, "role", "NOT_FOUND", "Line 3, column role: the course 'PY' is not part of the session 'Autumn'."),
                 id="course not in the session"),
    pytest.param("Autumn,bo.example.org,learner\n",
                 (3, "email", "VALIDATION", "Line 3, column email: 'bo.example.org' is not an email address: "
                                            "An email address must have an @-sign."),
                 id="malformed email"),
    pytest.param("Autumn,,learner\n",
                 (3, "email", "VALIDATION", "Line 3, column email: the email is blank."), id="blank email"),
    pytest.param(",bo@example.org,learner\n",
                 (3, "session", "VALIDATION", "Line 3, column session: the session name is blank."),
                 id="blank session"),
    pytest.param("Autumn,bo@example.org,teacher\n",
                 (3, "role", "VALIDATION",
                  "Line 3, column role: 'teacher' is not a role: write learner or course_coach:<course code>."),
                 id="unknown role"),
    pytest.param("Autumn,bo@example.org,course_coach:\n",
                 (3, "role", "VALIDATION", "Line 3, column role: course_coach: needs a course code after the colon."),
                 id="coach role without a course"),
    pytest.param('Autumn,bo@example.org,learner,"extra"\n',
                 (3, None, "VALIDATION", "Line 3: the line has 4 fields but the header has 3; "
                                         "quote a field that holds a ','."),
                 id="row wider than the header"),
    pytest.param('Autumn,"bo@example.org"x,learner\n',
                 (3, None, "VALIDATION", "Line 3: this line is not well-formed CSV (',' expected after '\"')."),
                 id="malformed quoting"),
])
async def test_a_bad_row_refuses_the_whole_file(admin, database, ids, rows, expected):
    # given: a good row that would be imported, then the bad one
    before = await snapshot(database)

    # when
    payload = await import_csv(admin, "session,email,role\n" + GOOD_ROW + rows)

    # then: the error is listed with its line and column, and nothing was written
    line, column, code, message = expected
    assert payload["rowErrors"] == [{"line": line, "column": column, "code": code, "message": message}]
    assert payload["rowErrorCount"] == 1
    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (0, 0, 0)
    assert payload["errors"] == [{"field": ["file"], "code": "VALIDATION", "message":
                                  "The file has 1 error; nothing was imported."}]
    assert await snapshot(database) == before


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param("session,role", [(1, "email", "MISSING_COLUMN", "Line 1, column email: the required column "
                                                                 "email is missing.")], id="missing email"),
    pytest.param("email,role", [(1, "session", "MISSING_COLUMN", "Line 1, column session: the required column "
                                                                 "session is missing.")], id="missing session"),
    pytest.param("session,email,rol", [(1, "rol", "UNKNOWN_COLUMN", "Line 1, column rol: 'rol' is not a column of "
                                                                    "this format; the columns are session, email, "
                                                                    "role.")], id="misspelt column"),
    pytest.param("session,email,email", [(1, "email", "DUPLICATE", "Line 1, column email: the column email appears "
                                                                   "twice.")], id="repeated column"),
])
async def test_a_bad_header_refuses_the_file(admin, database, ids, header, expected):
    before = await snapshot(database)

    payload = await import_csv(admin, f"{header}\nAutumn,ana@example.org,learner\n")

    assert [(e["line"], e["column"], e["code"], e["message"]) for e in payload["rowErrors"]] == expected
    assert payload["format"] == "ENROLLMENTS" and payload["created"] == 0
    assert await snapshot(database) == before


async def test_every_error_is_listed_in_line_order(admin, database, ids):
    content = ("session,email,role\n"
               "Winter,nobody@example.org,learner\n"   # two errors on one line
               "Autumn,ana@example.org,learner\n"
               '"Spring 2026; onboarding","bo@example.org\n'
               'still in the quoted field",learner\n'   # a quoted field over two lines: the next row is line 6
               "Autumn,ana@example.org,learner\n"
               "Autumn,bo@example.org,chief\n")

    payload = await import_csv(admin, content)

    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [
        (2, "session", "NOT_FOUND"), (2, "email", "NOT_FOUND"),
        (4, "email", "VALIDATION"),
        (7, "role", "VALIDATION")]  # line 6 repeats line 3: a no-op, not an error
    assert payload["rowErrorCount"] == 4
    assert payload["warnings"] == []  # a refused file reports its errors only
    assert await enrollments(database) == set()


async def test_a_row_repeating_an_earlier_one_is_a_no_op_with_a_warning(admin, database, ids):
    # given: line 4 repeats line 2 (the same address written otherwise, the default role spelt out)
    content = ("session,email,role\nAutumn,ana@example.org,\nAutumn,bo@example.org,learner\n"
               "Autumn,ANA@example.org,learner\n")

    # when
    payload = await import_csv(admin, content)

    # then: imported once, the repeat counted with the rows that changed nothing and named as a warning
    assert (payload["created"], payload["updated"], payload["alreadyEnrolled"]) == (2, 0, 1)
    assert payload["errors"] == [] and payload["rowErrors"] == []
    assert payload["warnings"] == [{"line": 4, "column": None, "code": "DUPLICATE",
                                    "message": "Line 4: this row repeats line 2; it changes nothing."}]
    assert await enrollments(database) == {(ids["Autumn"], ids["ana@example.org"]),
                                           (ids["Autumn"], ids["bo@example.org"])}


async def test_lists_every_error_and_counts_them(admin, database, ids):
    content = "session,email\n" + "".join(f"Winter,user{n}@example.org\n" for n in range(150))

    payload = await import_csv(admin, content)

    assert payload["rowErrorCount"] == 300  # an unknown session and an unknown user on each row
    assert [e["line"] for e in payload["rowErrors"]] == [line for line in range(2, 152) for _ in (1, 2)]
    assert payload["errors"][0]["message"] == "The file has 300 errors; nothing was imported."


async def test_a_file_with_only_a_header_imports_nothing(admin, ids):
    payload = await import_csv(admin, "session,email,role\r\n")

    assert payload == {"format": "ENROLLMENTS", "created": 0, "updated": 0, "alreadyEnrolled": 0,
                       "rowErrors": [], "rowErrorCount": 0, "warnings": [], "errors": []}


@pytest.mark.parametrize(("content", "code", "message"), [
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "NOT_TEXT",
                 "The file is not UTF-8 text: line 1 has the byte 0x89. Save it as UTF-8 (\"CSV UTF-8\").",
                 id="an image"),
    pytest.param("session,email\nAutumn,ana@example.org\nAutumn,zoë@example.org\n".encode("latin-1"), "NOT_TEXT",
                 "The file is not UTF-8 text: line 3 has the byte 0xeb. Save it as UTF-8 (\"CSV UTF-8\").",
                 id="latin-1 text"),
    pytest.param("session,email\nAutumn,ana@example.org\n".encode("utf-16"), "NOT_TEXT",
                 "The file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\").", id="utf-16 text"),
    pytest.param(b"session,email\nAutumn,ana@exa\x00mple.org\n", "NOT_TEXT",
                 "The file is not text: line 2 holds a NUL byte.", id="a NUL byte"),
    pytest.param(b"", "VALIDATION", "The file is empty: its first line must be the header.", id="empty"),
    pytest.param(b"\r\nsession,email\r\n", "VALIDATION", "The first line is blank: it must be the header.",
                 id="blank first line"),
    pytest.param(b"Autumn,ana@example.org\n", "VALIDATION",
                 "The first line must be a header: session,email[,role] for enrollments, email,name[,…] for "
                 "users, or Chamilo's "
                 "SessionName;Coach;DateStart;DateEnd;…; it is 'Autumn,ana@example.org'.", id="no header"),
])
async def test_a_file_that_is_not_a_csv_of_either_format_is_refused(admin, database, ids, content, code, message):
    before = await snapshot(database)

    payload = await import_csv(admin, content)

    assert payload["errors"] == [{"field": ["file"], "code": code, "message": message}]
    assert (payload["format"], payload["rowErrors"], payload["created"]) == (None, [], 0)
    assert await snapshot(database) == before


async def test_old_mac_line_ends_are_lines(admin, database, ids):
    payload = await import_csv(admin, b"session,email\rAutumn,ana@example.org\rAutumn,nobody@example.org\r")

    assert [(e["line"], e["column"]) for e in payload["rowErrors"]] == [(3, "email")]


@pytest.fixture
async def small_limit_caller(settings, database, clock, make_user, caller):
    """An admin talking to an app whose upload limit is 1,000 bytes."""
    import httpx

    from sessiongraph.server.app import create_app
    from tests.conftest import Caller

    app = create_app(settings.model_copy(update={"max_upload_bytes": 1000}), clock=clock, database=database,
                     check_migrations=False)
    admin_user = await make_user("Ada Admin", "admin@example.test", is_admin=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield Caller(client, settings, clock, admin_user)


async def test_a_file_over_the_size_limit_is_refused_unread(small_limit_caller, database, ids):
    content = "session,email\n" + "Autumn,ana@example.org\n" * 50  # 1,164 bytes

    payload = (await upload(small_limit_caller, content))["data"]["importCsv"]

    assert payload["errors"] == [{"field": ["file"], "code": "FILE_TOO_LARGE",
                                  "message": "The file is 1.1 KB; the largest file accepted is 1,000 bytes."}]
    assert await enrollments(database) == set()


async def test_a_request_far_over_the_limit_is_cut_off_before_it_is_read(small_limit_caller, database, ids):
    content = "session,email\n" + "Autumn,ana@example.org\n" * 60_000  # 1.4 MB: over the limit and its envelope

    response = await small_limit_caller.http.post(
        "/graphql", headers=small_limit_caller.headers,
        data={"operations": json.dumps({"query": "mutation($f: Upload!) { importCsv(input: {file: $f}) "
                                                 "{ created } }", "variables": {"f": None}}),
              "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("big.csv", content.encode(), "text/csv")})

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert await enrollments(database) == set()


async def test_only_admins_may_import(anonymous, caller, make_user, database, ids):
    learner = caller(await make_user("Lea Learner"))
    content = "session,email\nAutumn,ana@example.org\n"

    refused = [await upload(anonymous, content), await upload(learner, content)]

    assert [body["errors"][0]["extensions"]["code"] for body in refused] == ["UNAUTHENTICATED", "FORBIDDEN"]
    assert all(body["data"] is None for body in refused)
    assert await enrollments(database) == set()


async def test_a_file_given_as_a_plain_value_is_the_client_developers_mistake(admin):
    body = await admin.execute("mutation($f: Upload!) { importCsv(input: {file: $f}) { created } }",
                               f="session,email\n")

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_lookups_are_batched_not_per_row(admin, database, count_statements):
    emails = [f"user{n}@example.org" for n in range(300)]
    await seed(database, courses=["PY"], users=emails, sessions={"A": ["PY"], "B": ["PY"], "C": []})
    content = "session,email,role\n" + "".join(
        f"{session},{email},{'course_coach:PY' if n % 10 == 0 and session != 'C' else 'learner'}\n"
        for n, email in enumerate(emails) for session in "ABC")

    with count_statements() as log:
        payload = await import_csv(admin, content)

    assert payload["created"] == 900 and payload["errors"] == []
    # the admin's token, then sessions, users, courses and the sessions' courses by name, then one
    # insert per table, then the enrollments' events (the outbox's counter, one insert): nine statements
    # for 900 rows (the transaction's BEGIN/COMMIT aside)
    sent = [" ".join(s.split()[:4]) for s in log.statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]
    assert len(sent) <= 10, sent


async def test_trailing_separators_from_a_spreadsheet_are_ignored(admin, database, ids):
    payload = await import_csv(admin, "session;email;role;;\nAutumn;ana@example.org;;;\nAutumn;bo@example.org;;x;\n")

    assert [(e["line"], e["code"], e["message"]) for e in payload["rowErrors"]] == [
        (3, "VALIDATION", "Line 3: the line has 5 fields but the header has 3; quote a field that holds a ';'.")]


async def test_an_upload_spooled_to_disk_reads_the_same(admin, database, ids):
    # over the 1 MB that Starlette keeps in memory: blank rows of separators, then two rows
    padding = f",{' ' * 30},\r\n" * 40_000
    content = f"session,email\r\n{padding}Autumn,ana@example.org\r\nAutumn,bo@example.org\r\n"

    payload = await import_csv(admin, content)

    assert (payload["created"], payload["errors"]) == (2, [])
    refused = await import_csv(admin, f"session,email\r\n{padding}Winter,ana@example.org\r\n")
    assert [e["line"] for e in refused["rowErrors"]] == [40_002]


async def test_email_cells_keep_the_rule_create_user_keeps(admin, database):
    # given: a school whose directory is on an Active Directory `.local` domain
    ids = await seed(database, sessions={"Autumn": []}, users=["ana@school.local", "bo@staging.test"])
    create_user = "mutation($e: String!) { createUser(input: {email: $e, name: \"X\"}) { errors { message } } }"

    # when
    accepted = await import_csv(admin, "session,email\nAutumn,Ana@School.LOCAL\nAutumn,bo@staging.test\n")
    refused = await import_csv(admin, "session,email\nAutumn,cy@box.localhost\n")
    by_create_user = (await admin(create_user, e="cy@box.localhost"))["createUser"]["errors"]

    # then
    assert (accepted["created"], accepted["errors"]) == (2, [])
    assert await enrollments(database) == {(ids["Autumn"], ids["ana@school.local"]),
                                           (ids["Autumn"], ids["bo@staging.test"])}
    [error] = refused["rowErrors"]
    assert (error["line"], error["column"], error["code"]) == (2, "email", "VALIDATION")
    assert error["message"] == f"Line 2, column email: {by_create_user[0]['message']}"
