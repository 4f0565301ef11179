"""What the CSV import tests share: uploading a file as the admin client does, seeding the
things a file names, and a snapshot of every table an import can write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sessiongraph import models
from sessiongraph.infrastructure.db import Database

IMPORT_CSV = (Path(__file__).resolve().parent.parent / "clients" / "admin" / "import_csv.graphql").read_text()

WRITTEN_BY_IMPORTS = (models.Session, models.SessionCourse, models.SessionCourseCoach, models.Enrollment, models.User,
                      models.ClassMember, models.GuardianLink)


async def upload(caller, content: bytes | str, filename: str = "import.csv") -> dict[str, Any]:
    """The whole response to importCsv with `content` as the file part (GraphQL multipart request spec)."""
    if isinstance(content, str):
        content = content.encode()
    operations = {"query": IMPORT_CSV, "variables": {"input": {"file": None}}}
    response = await caller.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (filename, content, "text/csv")},
        headers=caller.headers)
    return response.json()


async def import_csv(caller, content: bytes | str) -> dict[str, Any]:
    """The importCsv payload of a request that must have no top-level errors."""
    body = await upload(caller, content)
    assert not body.get("errors"), body
    return body["data"]["importCsv"]


async def snapshot(database: Database) -> dict[str, list]:
    """Every row of every table an import writes, in a stable order."""
    tables = {}
    async with database.read() as db:
        for model in WRITTEN_BY_IMPORTS:
            table = model.__table__
            rows = (await db.execute(select(table).order_by(*table.primary_key.columns))).all()
            tables[table.name] = [tuple(row) for row in rows]
    return tables


async def add(database: Database, *rows: Any) -> None:
    async with database.write() as db:
        for row in rows:
            db.add(row)
            await db.flush()


async def seed(database: Database, *, sessions: dict[str, list[str]] | None = None, courses: list[str] = (),
               users: list[str] = ()) -> dict[str, int]:
    """Courses by code, users by email and sessions by name (each with its courses);
    returns every database ID by that name."""
    ids: dict[str, int] = {}
    async with database.write() as db:
        for code in courses:
            course = models.Course(code=code, title=f"Course {code}")
            db.add(course)
            await db.flush()
            ids[code] = course.id
        for email in users:
            user = models.User(email=email, name=email.split("@")[0].title())
            db.add(user)
            await db.flush()
            ids[email] = user.id
        for name, codes in (sessions or {}).items():
            session = models.Session(name=name)
            db.add(session)
            await db.flush()
            ids[name] = session.id
            for position, code in enumerate(codes):
                db.add(models.SessionCourse(session_id=session.id, course_id=ids[code], position=position))
            await db.flush()
    return ids
