"""The command line, run as a user would: a subprocess in a folder of its own."""

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args, env_extra=None):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "JWT_SECRET": "cli-secret-" + "x" * 32}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "sessiongraph.server.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    # The subprocess must import this checkout, whichever folder it runs in.
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return tmp_path


def test_create_user_then_token_prints_a_token_for_that_user_alone_on_one_line(cli_env):
    created = run(cli_env, "create-user", "Ops@Example.com", "--name", "Ops", "--admin", "--time-zone", "Asia/Tokyo")
    token = run(cli_env, "token", "ops@example.com")

    assert created.returncode == 0, created.stderr
    assert "(admin)" in created.stdout
    assert token.returncode == 0, token.stderr
    lines = token.stdout.splitlines()
    assert len(lines) == 1
    claims = jwt.decode(lines[0], "cli-secret-" + "x" * 32, algorithms=["HS256"])
    assert claims["sub"] == "1"


def test_create_user_accepts_an_active_directory_local_domain(cli_env):
    created = run(cli_env, "create-user", "a@School.local", "--name", "A")
    token = run(cli_env, "token", "a@school.local")

    assert created.returncode == 0, created.stderr
    assert "<a@school.local>" in created.stdout
    assert token.returncode == 0, token.stderr


def test_create_user_refuses_a_localhost_address_clearly(cli_env):
    result = run(cli_env, "create-user", "a@box.localhost", "--name", "A")

    assert result.returncode == 1
    assert "'a@box.localhost' is not an email address" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_for_an_unknown_email_fails_clearly(cli_env):
    run(cli_env, "migrate")

    result = run(cli_env, "token", "nobody@example.com")

    assert result.returncode == 1
    assert "no user has the email" in result.stderr


def test_create_user_refuses_a_duplicate(cli_env):
    run(cli_env, "create-user", "a@example.com", "--name", "A")

    result = run(cli_env, "create-user", "a@example.com", "--name", "A")

    assert result.returncode == 1
    assert "exists" in result.stderr


def test_export_schema_prints_the_sdl(cli_env):
    result = run(cli_env, "export-schema")

    assert result.returncode == 0
    assert "type Query" in result.stdout and "scalar DateTime" in result.stdout


def test_demo_loads_a_platform_with_the_advertised_logins(cli_env):
    result = run(cli_env, "demo")
    again = run(cli_env, "demo")

    assert result.returncode == 0, result.stderr
    assert "300 learners" in result.stdout and "learner@example.com" in result.stdout
    feeds = [line for line in result.stdout.splitlines() if line.startswith("calendar feed of ")]
    assert [line.split()[3] for line in feeds] == ["learner@example.com:", "guardian@example.com:",
                                                   "instructor@example.com:"]
    assert all(line.endswith(".ics") and "/calendar/" in line for line in feeds)
    assert "already has users" in again.stdout
    assert run(cli_env, "token", "learner@example.com").returncode == 0


def test_calendar_feed_prints_the_users_feed_url_the_same_each_time(cli_env):
    run(cli_env, "create-user", "lea@example.com", "--name", "Lea")
    env = {"PUBLIC_URL": "https://learn.example.org/"}

    first = run(cli_env, "calendar-feed", "Lea@example.com", env_extra=env)
    again = run(cli_env, "calendar-feed", "lea@example.com", env_extra=env)
    unknown = run(cli_env, "calendar-feed", "nobody@example.com", env_extra=env)

    assert first.returncode == 0, first.stderr
    (url,) = first.stdout.splitlines()
    assert url.startswith("https://learn.example.org/calendar/") and url.endswith(".ics")
    assert again.stdout == first.stdout
    assert unknown.returncode == 1 and "no user has the email nobody@example.com" in unknown.stderr


def test_create_user_reads_a_password_from_stdin_and_stores_its_argon2id_hash(cli_env):
    import sqlite3

    from argon2 import PasswordHasher

    created = subprocess.run(
        [sys.executable, "-m", "sessiongraph.server.cli", "create-user", "pw@example.com", "--name", "Pw",
         "--password-stdin"], cwd=cli_env, input="a long enough password\n", capture_output=True, text=True,
        timeout=120, env={**os.environ, "DATABASE_URL": f"sqlite:///{cli_env / 'cli.db'}"})
    with sqlite3.connect(cli_env / "cli.db") as connection:
        (stored,) = connection.execute("SELECT password_hash FROM app_user").fetchone()

    assert created.returncode == 0, created.stderr
    assert "with a password" in created.stdout
    assert "a long enough password" not in created.stdout + created.stderr
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, "a long enough password")


def test_create_user_refuses_a_weak_password_from_stdin(cli_env):
    created = subprocess.run(
        [sys.executable, "-m", "sessiongraph.server.cli", "create-user", "pw@example.com", "--name", "Pw",
         "--password-stdin"], cwd=cli_env, input="short\n", capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{cli_env / 'cli.db'}"})

    assert created.returncode == 1
    assert "at least 10 characters" in created.stderr
    assert "Traceback" not in created.stderr
