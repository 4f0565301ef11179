"""The admin command-line client: `python -m clients.admin import FILE --url URL --token TOKEN`,
run against the app in process (an httpx transport) and as a real process against uvicorn."""

import asyncio
import io
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from sessiongraph.clients.admin import cli
from sessiongraph.server.app import create_app
from tests.imports_support import seed, snapshot

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = ["ana@example.org", "bo@example.org"]


@pytest.fixture
async def ids(database):
    return await seed(database, courses=["PY"], users=PEOPLE, sessions={"Autumn": ["PY"]})


def token_of(caller) -> str:
    return caller.headers["Authorization"].removeprefix("Bearer ")


async def run_cli(app, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = await cli.run(list(argv), transport=httpx.ASGITransport(app=app), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str, name: str = "enrollments.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


async def test_prints_the_counts_of_an_import(app, admin, ids, tmp_path):
    path = write(tmp_path, "session,email,role\nAutumn,ana@example.org,\nAutumn,bo@example.org,course_coach:PY\n")

    status, out, err = await run_cli(app, "import", path, "--url", "http://test/graphql", "--token", token_of(admin))

    assert (status, err) == (0, "")
    assert out == ("Imported enrollments.csv (enrollments file).\n"
                   "                  ROWS\n"
                   "created              2\n"
                   "updated              0\n"
                   "already enrolled     0\n")


async def test_lists_the_errors_of_a_refused_file_and_exits_1(app, admin, database, ids, tmp_path):
    path = write(tmp_path, "session,email\nAutumn,ana@example.org\nWinter,nobody@example.org\nAutumn,bo.example.org\n")
    before = await snapshot(database)

    status, out, _ = await run_cli(app, "import", path, "--url", "http://test/graphql", "--token", token_of(admin))

    assert status == 1
    assert out == ("Refused enrollments.csv (enrollments file):\n"
                   "  The file has 3 errors; nothing was imported.\n"
                   "\n"
                   "LINE  COLUMN   CODE        PROBLEM\n"
                   "   3  session  NOT_FOUND   no session is named 'Winter'.\n"
                   "   3  email    NOT_FOUND   no user has the email 'nobody@example.org'.\n"
                   "   4  email    VALIDATION  'bo.example.org' is not an email address: An email address must "
                   "have an @-sign.\n")
    assert await snapshot(database) == before


async def test_a_file_refused_as_a_whole_exits_1(app, admin, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")

    status, out, _ = await run_cli(app, "import", str(path), "--url", "http://test/graphql", "--token",
                                   token_of(admin))

    assert status == 1
    assert out == ("Refused photo.csv:\n"
                   "  The file is not UTF-8 text: line 1 has the byte 0x89. Save it as UTF-8 (\"CSV UTF-8\").\n")


async def test_a_caller_who_is_not_an_admin_exits_3(app, caller, make_user, ids, tmp_path):
    learner = caller(await make_user("Lea Learner"))
    path = write(tmp_path, "session,email\nAutumn,ana@example.org\n")

    status, out, err = await run_cli(app, "import", path, "--url", "http://test/graphql", "--token",
                                     token_of(learner))

    assert (status, out) == (3, "")
    assert err == "import: the server refused the request: Only administrators can do this. (FORBIDDEN)\n"


async def test_a_forged_token_exits_3(app, tmp_path):
    path = write(tmp_path, "session,email\n")

    status, _, err = await run_cli(app, "import", path, "--url", "http://test/graphql", "--token", "forged")

    assert status == 3
    assert err == "import: the server refused the request: the token is not valid (UNAUTHENTICATED)\n"


async def test_usage_mistakes_exit_2(app, admin, tmp_path, monkeypatch):
    monkeypatch.delenv("SESSIONGRAPH_TOKEN", raising=False)
    missing = await run_cli(app, "import", str(tmp_path / "nope.csv"), "--token", token_of(admin))
    without_token = await run_cli(app, "import", write(tmp_path, "session,email\n"))

    assert missing == (2, "", f"import: {tmp_path / 'nope.csv'} is not a readable file\n")
    assert without_token[0] == 2 and "--token" in without_token[2]


def test_a_url_without_a_path_gets_the_graphql_endpoint():
    assert cli.graphql_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/graphql"
    assert cli.graphql_url("https://lms.example.org/") == "https://lms.example.org/graphql"
    assert cli.graphql_url("https://lms.example.org/api/graphql") == "https://lms.example.org/api/graphql"


@pytest.fixture
async def served(settings, clock):
    """The app behind uvicorn on a free port, in a thread with its own event loop and engine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock, check_migrations=False),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.to_thread(thread.join, 10)


async def test_the_command_runs_against_a_served_app(served, admin, database, ids, tmp_path):
    def command(path: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONGRAPH_")}
        return subprocess.run([sys.executable, "-m", "sessiongraph.clients.admin", "import", path, "--url", served,
                               "--token", token_of(admin)], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=60)

    refused = await asyncio.to_thread(command, write(tmp_path, "session,email\nWinter,ana@example.org\n", "bad.csv"))
    imported = await asyncio.to_thread(command, write(tmp_path, "session,email\nAutumn,ana@example.org\n"))

    assert refused.returncode == 1, refused.stderr
    assert "no session is named 'Winter'." in refused.stdout
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("Imported enrollments.csv (enrollments file).\n")
    assert "created              1\n" in imported.stdout
    assert len((await snapshot(database))["enrollment"]) == 1
