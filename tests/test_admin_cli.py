"""The admin command-line client's commands beyond `import`: users import, export tracking and
enrollments, sessions create, each run against the app in process, and each with an example in --help."""

from __future__ import annotations

import csv
import io

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.clients.admin import cli
from tests.imports_support import snapshot
from tests.sized_data import gid, sized  # noqa: F401


def token_of(caller) -> str:
    return caller.headers["Authorization"].removeprefix("Bearer ")


async def run_cli(app, caller, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = await cli.run([*argv, "--url", "http://test", "--token", token_of(caller)],
                           transport=httpx.ASGITransport(app=app), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
async def cohort(sized):
    return await sized.session_with_people(3)


async def test_users_import_creates_the_users_of_a_file(app, admin, database, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("email,name,week_start\nkim@example.org,Kim Lee,sunday\nadmin@example.test,Ada Admin,\n")

    status, out, err = await run_cli(app, admin, "users", "import", str(path))

    assert (status, err) == (0, "")
    assert out == ("Imported users.csv (users file).\n"
                   "           ROWS\n"
                   "created       1\n"
                   "updated       0\n"
                   "unchanged     1\n")
    async with database.read() as db:
        assert (await db.execute(select(models.User.week_start).where(models.User.email == "kim@example.org"))
                ).scalar_one() == "SUNDAY"


async def test_users_import_refuses_a_file_of_another_format_before_sending_it(app, admin, database, tmp_path):
    path = tmp_path / "enrollments.csv"
    path.write_text("session,email\nAutumn,kim@example.org\n")
    before = await snapshot(database)

    status, out, err = await run_cli(app, admin, "users", "import", str(path))

    assert (status, out) == (2, "")
    assert err == (f"users import: {path} is not a users file: its header must name email and name "
                   "(and no session)\n")
    assert await snapshot(database) == before


async def test_export_tracking_by_name_writes_the_file(app, admin, cohort, tmp_path):
    target = tmp_path / "tracking.csv"

    status, out, err = await run_cli(app, admin, "export", "tracking", cohort.session.name, "-o", str(target))

    assert (status, err) == (0, "")
    assert out == f"Wrote {target} ({target.stat().st_size:,} bytes): the tracking of {cohort.session.name}.\n"
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0][:2] == ["learner", "email"]
    assert sorted(row[1] for row in rows[1:]) == sorted(learner.email for learner in cohort.learners)


async def test_export_enrollments_by_id_as_xlsx(app, admin, cohort, tmp_path):
    target = tmp_path / "enrollments.xlsx"

    status, _, err = await run_cli(app, admin, "export", "enrollments", gid(cohort.session), "--format", "xlsx",
                                   "-o", str(target))

    assert (status, err) == (0, "")
    sheet = openpyxl.load_workbook(target, read_only=True).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["session", "email", "role"]
    assert {row[1] for row in rows[1:] if row[2] == "learner"} == {learner.email for learner in cohort.learners}


async def test_an_export_refused_by_the_service_exits_1_and_an_unknown_name_2(app, caller, admin, cohort, tmp_path):
    learner = caller(cohort.learners[0])

    refused = await run_cli(app, learner, "export", "tracking", gid(cohort.session), "-o", str(tmp_path / "x.csv"))
    unknown = await run_cli(app, admin, "export", "tracking", "No such session", "-o", str(tmp_path / "y.csv"))

    assert refused == (1, f"Refused the tracking export of {gid(cohort.session)}:\n"
                          "  sessionId: No such session. (NOT_FOUND)\n", "")
    assert unknown == (2, "", "export tracking: no session is named 'No such session'\n")
    assert not list(tmp_path.iterdir())


async def test_sessions_create(app, admin, database):
    status, out, err = await run_cli(app, admin, "sessions", "create", "Spring 2026", "--description", "Cohort",
                                     "--access-start", "2026-04-01T08:00:00+02:00",
                                     "--access-end", "2026-06-30T18:00:00+02:00", "--visibility", "VISIBLE")

    assert (status, err) == (0, "")
    async with database.read() as db:
        session = (await db.execute(select(models.Session))).scalar_one()
    assert out == f"Created the session 'Spring 2026': {gid(session)} (UPCOMING).\n"
    assert (session.description, session.visibility) == ("Cohort", "VISIBLE")


async def test_sessions_create_refused_exits_1_and_writes_nothing(app, admin, database):
    before = await snapshot(database)

    status, out, _ = await run_cli(app, admin, "sessions", "create", "Backwards",
                                   "--access-start", "2026-06-30T18:00:00Z", "--access-end", "2026-04-01T08:00:00Z")

    assert status == 1
    assert out.startswith("Refused to create the session 'Backwards':\n  accessWindow") and "INVALID_WINDOW" in out
    assert await snapshot(database) == before


@pytest.mark.parametrize("command", ["import", "users import", "export tracking", "export enrollments",
                                     "sessions create"])
async def test_every_command_shows_an_example_in_its_help(command, capsys):
    status = await cli.run([*command.split(), "--help"])

    shown = capsys.readouterr().out
    assert status == 0
    assert f"example:\n  python -m clients.admin {command} " in shown
