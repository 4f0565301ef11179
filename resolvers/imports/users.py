"""The users file: `email,name[,time_zone,week_start,class,guardian_of,is_admin]`, one user a row,
created or updated by email.

- email: the user, matched as stored (lower-cased); a new address creates a user.
- name: required; an existing user's name is replaced.
- time_zone, week_start, is_admin: a blank cell (or a column left out) leaves an existing
  user's setting alone and gives a new user the default (UTC, MONDAY, not an admin).
  week_start is a weekday's English name; is_admin is true/false, yes/no or 1/0.
- class: `class1|class2`, names of classes that exist; the user is added to each.
- guardian_of: `a@x|b@x`, learners (existing users, or users of the same file) whom this
  user may follow as a guardian.

Like Chamilo's format the file only adds: it never removes a class membership or a
guardian link. Counts: `created` is new users; `updated` existing users whose fields
changed or who joined a class or gained a child; `alreadyEnrolled` the rows that changed
nothing. Everything is read and written with the rows as one table-valued parameter (store.Given), so
100,000 rows cost some ten statements, not 100,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from sessiongraph.infrastructure.zones import shown, zone_named
from sessiongraph.models import ClassMember, GuardianLink, User, UserClass, Weekday
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.imports.problems import Counts, RowError, RowErrors
from sessiongraph.resolvers.imports.store import Given, insert_new, inserted_rows, lookup
from sessiongraph.resolvers.imports.values import Emails, read_header, split_list

COLUMNS = ("email", "name", "time_zone", "week_start", "class", "guardian_of", "is_admin")
REQUIRED = ("email", "name")
NAME_LENGTH = 200
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}
# The columns a row sets on the user, with what a new user gets when the cell is blank.
_DEFAULTS = {"time_zone": "UTC", "week_start": Weekday.MONDAY.value, "is_admin": False}
_USERS, _CLASS_MEMBERS, _GUARDIAN_LINKS = (cast(Table, inspect(model).local_table)
                                           for model in (User, ClassMember, GuardianLink))


@dataclass(slots=True)
class UserRow:
    line: int
    email: str  # blank when reported as malformed
    name: str
    settings: dict[str, object]  # the optional columns this row sets (blank cells left out)
    classes: list[str]
    guardian_of: list[str]  # the children's emails


@dataclass
class UsersPlan:
    rows: list[UserRow] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


def read_users(header: list[str], records: Iterable[tuple[int, list[str]]], errors: RowErrors) -> UsersPlan | None:
    """Reads and checks every row on its own (no database); None when the header is unusable."""
    columns = read_header(header, COLUMNS, REQUIRED, errors)
    if errors:
        return None
    at = {name: columns.get(name) for name in COLUMNS}
    emails = Emails()
    plan = UsersPlan()
    first_seen: dict[str, int] = {}
    for line, cells in records:
        row = _read_row(line, _Cells(cells, at), errors, emails)
        if row.email and (first := first_seen.setdefault(row.email, line)) != line:
            errors.add(line, "email", ErrorCode.DUPLICATE, f"{row.email!r} is already on line {first}.")
            continue
        plan.rows.append(row)
    return plan


@dataclass(frozen=True, slots=True)
class _Cells:
    cells: list[str]
    at: dict[str, int | None]

    def __call__(self, name: str) -> str:
        """The cell, stripped; blank when the header leaves the column out."""
        position = self.at[name]
        return self.cells[position].strip() if position is not None else ""


def _read_row(line: int, cell: _Cells, errors: RowErrors, emails: Emails) -> UserRow:
    def fail(column: str, detail: str) -> None:
        errors.add(line, column, ErrorCode.VALIDATION, detail)

    raw_email = cell("email")
    email = (emails.clean(raw_email) if raw_email else None) or ""
    if not email:
        fail("email", emails.problem(raw_email) + "." if raw_email else "the email is blank.")
    name = cell("name")
    if not name:
        fail("name", "the name is blank.")
    elif len(name) > NAME_LENGTH:
        fail("name", f"the name is longer than {NAME_LENGTH} characters.")
    settings: dict[str, object] = {}
    if zone := cell("time_zone"):
        if zone_named(zone) is None:
            fail("time_zone", f"{shown(zone)} is not an IANA time zone (such as Europe/Paris).")
        settings["time_zone"] = zone
    if week_start := cell("week_start"):
        if week_start.upper() not in Weekday.__members__:
            fail("week_start", f"{shown(week_start)} is not a weekday: write MONDAY … SUNDAY.")
        settings["week_start"] = week_start.upper()
    if is_admin := cell("is_admin").lower():
        if is_admin not in _TRUE | _FALSE:
            fail("is_admin", f"{shown(cell('is_admin'))} is not true or false (nor yes/no, 1/0).")
        settings["is_admin"] = is_admin in _TRUE
    children = []
    for written in split_list(cell("guardian_of")):
        child = emails.clean(written)
        if child is None:
            fail("guardian_of", f"{emails.problem(written)}.")
        elif child == email:
            fail("guardian_of", "a user cannot be their own guardian.")
        else:
            children.append(child)
    return UserRow(line, email, name, settings, split_list(cell("class")), list(dict.fromkeys(children)))


async def apply_users(db: AsyncSession, plan: UsersPlan, errors: RowErrors, now: datetime) -> Counts:
    """Finds what the rows name, reporting what does not exist; writes only when all of it does."""
    named = {row.email for row in plan.rows} | {child for row in plan.rows for child in row.guardian_of}
    existing = await _users_by_email(db, named)
    in_file = {row.email for row in plan.rows if row.email}
    class_names = {name for row in plan.rows for name in row.classes}
    class_ids = await lookup(db, col(UserClass.name), col(UserClass.id), class_names) if class_names else {}
    for row in plan.rows:
        for name in row.classes:
            if name not in class_ids:
                errors.add(row.line, "class", ErrorCode.NOT_FOUND, f"no class is named {name!r}.")
        for child in row.guardian_of:
            if child not in existing and child not in in_file:
                errors.add(row.line, "guardian_of", ErrorCode.NOT_FOUND,
                           f"no user has the email {child!r}, here or in this file.")
    if errors:
        return Counts()

    user_ids = {email: user["id"] for email, user in existing.items()}
    new_rows = [row for row in plan.rows if row.email not in existing]
    await _insert_users(db, new_rows, user_ids, now)
    changed = [row for row in plan.rows if row.email in existing and _changes(row, existing[row.email])]
    await _update_users(db, changed, existing)
    joined = await insert_new(db, _CLASS_MEMBERS, (
        {"class_id": class_ids[name], "user_id": user_ids[row.email]} for row in plan.rows for name in row.classes),
        "user_id")
    linked = await insert_new(db, _GUARDIAN_LINKS, (
        {"guardian_id": user_ids[row.email], "learner_id": user_ids[child], "linked_at": now}
        for row in plan.rows for child in row.guardian_of), "guardian_id")

    changed_emails = {row.email for row in changed}
    updated = sum(1 for row in plan.rows if row.email in existing and (
        row.email in changed_emails or joined[user_ids[row.email]] or linked[user_ids[row.email]]))
    return Counts(created=len(new_rows), updated=updated, already_enrolled=len(plan.rows) - len(new_rows) - updated)


async def _users_by_email(db: AsyncSession, emails: Iterable[str]) -> dict[str, dict]:
    """The named users that exist, with the columns a row may change."""
    table = _USERS
    given = Given(db, "wanted", {"email": table.c.email.type})
    query = select(table.c.id, table.c.email, table.c.name, *(table.c[name] for name in _DEFAULTS)).where(
        table.c.email.in_(select(given.table.c.email)))
    result = await db.execute(query, given.parameters((email,) for email in set(emails) if email))
    return {row.email: dict(row._mapping) for row in result}


def _changes(row: UserRow, user: dict) -> bool:
    return user["name"] != row.name or any(user[key] != value for key, value in row.settings.items())


async def _update_users(db: AsyncSession, rows: list[UserRow], existing: dict[str, dict]) -> None:
    if not rows:
        return
    table, columns = _USERS, ("id", "name", *_DEFAULTS)
    given = Given(db, "given", {name: table.c[name].type for name in columns})
    statement = (update(table).where(table.c.id == given.table.c.id)
                 .values({name: given.table.c[name] for name in columns[1:]}))
    await db.execute(statement, given.parameters(
        (user["id"], row.name, *(row.settings.get(key, user[key]) for key in _DEFAULTS))
        for row in rows for user in [existing[row.email]]))


async def _insert_users(db: AsyncSession, rows: list[UserRow], user_ids: dict[str, int], now: datetime) -> None:
    table = _USERS
    inserted = await inserted_rows(db, table, (
        {"email": row.email, "name": row.name, **_DEFAULTS, **row.settings, "created_at": now} for row in rows),
        table.c.id, table.c.email)
    if len(inserted) < len(rows):  # an email taken since it was looked up
        raise UserErrors.one(ErrorCode.DUPLICATE, "A user this file creates was created by someone else "
                             "meanwhile; nothing was imported. Import the file again.", "file")
    user_ids.update((email, user_id) for user_id, email in inserted)
