"""Chamilo's session file, so platforms can move over: one session a row, created or updated by name.

    SessionName;Coach;DateStart;DateEnd;Users;Courses;VisibilityAfterExpiration;
    DisplayStartDate;DisplayEndDate;CoachStartDate;CoachEndDate;Classes

How the cells map (Chamilo names users by username; this service by email, so every
user cell holds email addresses):

- SessionName: the session, matched exactly; a new name creates one.
- Coach: the session coach's email; blank means no session coach.
- DateStart, DateEnd: the access window; blank leaves that side open.
- Display…/Coach… dates: those windows; a blank side takes the access window's.
  Dates are `yyyy/mm/dd` or `yyyy-mm-dd` with an optional `hh:mm:ss`, in the
  importing admin's time zone; a date without a time as an end takes in that whole day.
- Users: `a@x|b@x`, enrolled as learners.
- Courses: `CODE[coach1,coach2][user1,user2]|CODE2`: the session's courses (appended
  in this order after those it has), each with its course coaches, and users who are
  enrolled in the session (this service enrolls in a session, not per course in it).
- VisibilityAfterExpiration: read_only, accessible or not_accessible (READ_ONLY,
  VISIBLE, INVISIBLE); blank means read_only.
- Classes: `class1|class2`, class names; their members at this moment are enrolled,
  remembering the class (unless also listed themselves).

Chamilo's own export writes `SessionId;SessionName;Coach;DateStart;DateEnd;Visibility;
SessionCategory;Users;Courses` (dates `yyyy-mm-dd hh:mm:ss`, Visibility Chamilo's number:
1 read only, 2 visible, 3 invisible, 4 available, which is visible here). It imports like
the import format: Visibility stands for VisibilityAfterExpiration, and SessionId and
SessionCategory, the other platform's database IDs, name nothing here and are not read.

An import adds: it never removes a course, coach or learner the session already has.
A column left out of the header leaves that field of an existing session alone
(Coach, VisibilityAfterExpiration) or adds nothing (Users, Courses, Classes).

Counts: `created` is new sessions plus new enrollments and course coaches; `updated`
the existing sessions whose fields changed or that gained a course; `alreadyEnrolled`
the rows that changed nothing at all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.models import (
    ClassMember,
    Course,
    Session,
    SessionCourse,
    SessionCourseCoach,
    SessionVisibility,
    UserClass,
)
from sessiongraph.models.windows import DateWindow
from sessiongraph.resolvers.errors import ErrorCode, UserErrors
from sessiongraph.resolvers.imports.problems import Counts, RowError, RowErrors, describe
from sessiongraph.resolvers.imports.store import chunked, enroll_new, insert_new, lookup, user_ids_by_email
from sessiongraph.resolvers.imports.values import Columns, Emails, parse_moment, read_header, split_list
from sessiongraph.resolvers.sessions import session_rule_problems, session_warnings

COLUMNS = ("SessionName", "Coach", "DateStart", "DateEnd", "Users", "Courses", "VisibilityAfterExpiration",
           "DisplayStartDate", "DisplayEndDate", "CoachStartDate", "CoachEndDate", "Classes",
           # Chamilo's export header adds these (see above)
           "SessionId", "Visibility", "SessionCategory")
REQUIRED = ("SessionName", "DateStart", "DateEnd")

VISIBILITIES = {
    "read_only": SessionVisibility.READ_ONLY, "accessible": SessionVisibility.VISIBLE,
    "not_accessible": SessionVisibility.INVISIBLE,
    # this service's own names, for files written by hand
    "visible": SessionVisibility.VISIBLE, "invisible": SessionVisibility.INVISIBLE,
    # the numbers Chamilo's export writes (its SESSION_VISIBLE_READ_ONLY … SESSION_AVAILABLE)
    "1": SessionVisibility.READ_ONLY, "2": SessionVisibility.VISIBLE, "3": SessionVisibility.INVISIBLE,
    "4": SessionVisibility.VISIBLE,
}
_COURSE = re.compile(r"([^\[\]]+?)\s*(?:\[([^\[\]]*)\])?\s*(?:\[([^\[\]]*)\])?")

# A session rule's field, as the createSession input names it -> (column, what to tell the admin).
_RULE_COLUMNS = {
    "accessWindow": ("DateEnd", "DateEnd is before DateStart."),
    "displayWindow": ("DisplayEndDate", "the display window ends before it starts."),
    "coachAccessWindow": ("CoachEndDate", "the coach access window ends before it starts."),
    "durationDays": ("DateStart", "this session counts its days from each learner's first access and has no "
                                  "access dates: leave DateStart and DateEnd blank."),
}


@dataclass(slots=True)
class CourseCell:
    code: str
    coaches: list[str]
    learners: list[str]


@dataclass(slots=True)
class SessionRow:
    line: int
    name: str
    access: DateWindow
    display: DateWindow
    coach_window: DateWindow
    own_windows: set[str]  # the display and coach windows the row dates itself (not copied from access)
    coach: str | None = None
    sets_coach: bool = False
    visibility: SessionVisibility | None = None  # None: the column is left out
    learners: list[str] = field(default_factory=list)
    courses: list[CourseCell] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    ok: bool = True  # False once a cell was reported malformed

    def emails(self) -> Iterable[str]:
        coach = [self.coach] if self.coach else []
        return chain(coach, self.learners, *((c.coaches + c.learners) for c in self.courses))


@dataclass
class ChamiloPlan:
    rows: list[SessionRow] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


class _Row:
    """Reads one record's cells, reporting each bad cell."""

    def __init__(self, line: int, cells: list[str], columns: Columns, errors: RowErrors, emails: Emails,
                 zone: ZoneInfo) -> None:
        self.line, self.cells, self.columns, self.errors, self.emails, self.zone = (
            line, cells, columns, errors, emails, zone)
        self.ok = True

    def text(self, column: str) -> str | None:
        """The cell, stripped; None when the header leaves the column out."""
        at = self.columns.get(column)
        return self.cells[at].strip() if at is not None else None

    def fail(self, column: str | None, code: ErrorCode, detail: str) -> None:
        self.errors.add(self.line, column, code, detail)
        self.ok = False

    def moment(self, column: str, *, is_end: bool) -> datetime | None:
        text = self.text(column)
        if not text:
            return None
        try:
            return parse_moment(text, self.zone, is_end=is_end)
        except ValueError as error:
            self.fail(column, ErrorCode.VALIDATION, f"{error}.")
            return None

    def email_list(self, column: str, texts: Iterable[str], what: str = "") -> list[str]:
        found = []
        for text in texts:
            email = self.emails.clean(text)
            if email is None:
                self.fail(column, ErrorCode.VALIDATION, f"{what}{self.emails.problem(text)}.")
            else:
                found.append(email)
        return list(dict.fromkeys(found))


def read_sessions(header: list[str], records: Iterable[tuple[int, list[str]]], errors: RowErrors,
                  zone: ZoneInfo) -> ChamiloPlan | None:
    """Reads and checks every row on its own (no database); None when the header is unusable.

    A row with a malformed cell stays in the plan (marked not ok) so that what its
    other cells name is still looked up and reported.
    """
    columns = read_header(header, COLUMNS, REQUIRED, errors)
    if "Visibility" in columns and "VisibilityAfterExpiration" in columns:
        errors.add(1, "Visibility", ErrorCode.DUPLICATE,
                   "Visibility (of Chamilo's export) and VisibilityAfterExpiration are the same column: keep one.")
    if errors:
        return None
    plan = ChamiloPlan()
    emails = Emails()
    first_seen: dict[str, int] = {}
    for line, cells in records:
        row = _read_row(_Row(line, cells, columns, errors, emails, zone))
        first = first_seen.setdefault(row.name, line) if row.name else line
        if first != line:
            errors.add(line, "SessionName", ErrorCode.DUPLICATE,
                       f"the session {row.name!r} is already on line {first}.")
            continue
        plan.rows.append(row)
    return plan


def _read_row(cells: _Row) -> SessionRow:
    name = cells.text("SessionName") or ""
    if not name:
        cells.fail("SessionName", ErrorCode.VALIDATION, "the session name is blank.")
    access = DateWindow(cells.moment("DateStart", is_end=False), cells.moment("DateEnd", is_end=True))

    own_windows = set()

    def window(start_column: str, end_column: str, field_name: str) -> DateWindow:
        start = cells.moment(start_column, is_end=False)
        end = cells.moment(end_column, is_end=True)
        if start or end:
            own_windows.add(field_name)
        return DateWindow(start or access.start, end or access.end)

    row = SessionRow(line=cells.line, name=name, access=access,
                     display=window("DisplayStartDate", "DisplayEndDate", "displayWindow"),
                     coach_window=window("CoachStartDate", "CoachEndDate", "coachAccessWindow"),
                     own_windows=own_windows)

    coach = cells.text("Coach")
    if coach is not None:
        row.sets_coach = True
        if coach:
            found = cells.email_list("Coach", [coach])
            row.coach = found[0] if found else None

    visibility_column = "VisibilityAfterExpiration" if "VisibilityAfterExpiration" in cells.columns else "Visibility"
    visibility = cells.text(visibility_column)
    if visibility is not None:
        row.visibility = VISIBILITIES.get(visibility.lower() or "read_only")
        if row.visibility is None:
            cells.fail(visibility_column, ErrorCode.VALIDATION,
                       f"{visibility!r} is not read_only, accessible or not_accessible (nor Chamilo's 1 to 4).")

    row.learners = cells.email_list("Users", split_list(cells.text("Users") or ""))
    row.classes = split_list(cells.text("Classes") or "")
    codes_seen: set[str] = set()
    for item in split_list(cells.text("Courses") or ""):
        match = _COURSE.fullmatch(item)
        if match is None:
            cells.fail("Courses", ErrorCode.VALIDATION,
                       f"{item!r} is not a course: write CODE, CODE[coach,…] or CODE[coach,…][user,…].")
            continue
        code, coaches, learners = match.groups()
        if code.lower() in codes_seen:
            cells.fail("Courses", ErrorCode.DUPLICATE, f"the course {code!r} is listed twice.")
            continue
        codes_seen.add(code.lower())
        row.courses.append(CourseCell(
            code=code,
            coaches=cells.email_list("Courses", split_list(coaches or "", ","), f"course {code}: "),
            learners=cells.email_list("Courses", split_list(learners or "", ","), f"course {code}: ")))
    row.ok = cells.ok
    return row


# --- against the database -------------------------------------------------------------------

@dataclass
class _Found:
    """Everything the rows name that exists, found with one query per chunk of names."""

    sessions: dict[str, dict]
    users: dict[str, int]
    courses: dict[str, int]
    classes: dict[str, int]
    members: dict[int, list[int]]
    session_courses: dict[int, dict[int, int]]  # session ID -> {course ID: position}


async def _find(db: AsyncSession, plan: ChamiloPlan) -> _Found:
    names = [row.name for row in plan.rows]
    sessions: dict[str, dict] = {}
    for chunk in chunked(names):
        result = await db.execute(select(Session.__table__).where(Session.name.in_(chunk)))
        sessions.update((r.name, dict(r._mapping)) for r in result)
    users = await user_ids_by_email(db, chain.from_iterable(row.emails() for row in plan.rows))
    codes = {c.code.lower() for row in plan.rows for c in row.courses}
    courses = await lookup(db, func.lower(Course.code), Course.id, codes) if codes else {}
    class_names = {name for row in plan.rows for name in row.classes}
    classes = await lookup(db, UserClass.name, UserClass.id, class_names) if class_names else {}
    members: dict[int, list[int]] = defaultdict(list)
    for chunk in chunked(classes.values()):
        query = (select(ClassMember.class_id, ClassMember.user_id).where(ClassMember.class_id.in_(chunk))
                 .order_by(ClassMember.class_id, ClassMember.user_id))
        for class_id, user_id in (await db.execute(query)):
            members[class_id].append(user_id)
    session_courses: dict[int, dict[int, int]] = defaultdict(dict)
    for chunk in chunked(s["id"] for s in sessions.values()):
        query = select(SessionCourse.session_id, SessionCourse.course_id, SessionCourse.position).where(
            SessionCourse.session_id.in_(chunk))
        for session_id, course_id, position in (await db.execute(query)):
            session_courses[session_id][course_id] = position
    return _Found(sessions, users, courses, classes, members, session_courses)


@dataclass(slots=True)
class _Change:
    """What one row does to its session."""

    row: SessionRow
    values: dict  # the session's columns as the row sets them
    existing_id: int | None
    changed: bool  # an existing session's fields differ
    new_courses: list[int]
    coaches: list[tuple[int, int]]  # (course ID, user ID)
    learners: dict[int, int | None]  # user ID -> the class they came with


async def apply_sessions(db: AsyncSession, plan: ChamiloPlan, errors: RowErrors, now: datetime) -> Counts:
    found = await _find(db, plan)
    changes = [change for row in plan.rows if (change := _check(row, found, errors, plan.warnings)) is not None]
    if errors:
        return Counts()

    session_ids = {c.row.name: c.existing_id for c in changes if c.existing_id is not None}
    new = [c for c in changes if c.existing_id is None]
    table = Session.__table__
    try:
        for chunk in chunked(new):
            result = await db.execute(
                table.insert().returning(table.c.id, table.c.name),
                [{**c.values, "description": None, "category_id": None, "duration_days": None, "created_at": now}
                 for c in chunk])
            session_ids.update((name, session_id) for session_id, name in result)
    except IntegrityError as error:
        raise UserErrors.one(ErrorCode.DUPLICATE, "A session this file creates was created by someone else "
                             "meanwhile; nothing was imported. Import the file again.", "file") from error
    changed = [c for c in changes if c.changed]
    for chunk in chunked(changed):
        await db.execute(update(Session), [{"id": c.existing_id, **c.values} for c in chunk])

    for chunk in chunked(changes):
        await _add_courses(db, chunk, session_ids, found)
    added = await insert_new(db, SessionCourseCoach.__table__, (
        {"session_id": session_ids[c.row.name], "course_id": course_id, "user_id": user_id}
        for c in changes for course_id, user_id in c.coaches), "session_id")
    added += await enroll_new(db, (
        {"session_id": session_ids[c.row.name], "user_id": user_id, "class_id": class_id, "enrolled_at": now,
         "first_access_at": None}
        for c in changes for user_id, class_id in c.learners.items()), now)

    counts = Counts()
    for change in changes:
        links = added[session_ids[change.row.name]]
        counts.created += links
        if change.existing_id is None:
            counts.created += 1
        elif change.changed or change.new_courses:
            counts.updated += 1
        elif not links:
            counts.already_enrolled += 1
    return counts


async def _add_courses(db: AsyncSession, changes: list[_Change], session_ids: dict[str, int], found: _Found) -> None:
    rows = []
    for change in changes:
        session_id = session_ids[change.row.name]
        positions = found.session_courses.get(change.existing_id, {}) if change.existing_id else {}
        next_position = max(positions.values(), default=-1) + 1
        for offset, course_id in enumerate(change.new_courses):
            rows.append({"session_id": session_id, "course_id": course_id, "position": next_position + offset})
    if rows:
        await db.execute(SessionCourse.__table__.insert(), rows)


def _check(row: SessionRow, found: _Found, errors: RowErrors, warnings: list[RowError]) -> _Change | None:
    """The row against what exists: unknown names, and the rules every session keeps."""
    line, ok = row.line, row.ok

    def missing(column: str, detail: str) -> None:
        nonlocal ok
        errors.add(line, column, ErrorCode.NOT_FOUND, detail)
        ok = False

    def user(column: str, email: str, what: str = "") -> int | None:
        user_id = found.users.get(email)
        if user_id is None:
            missing(column, f"{what}no user has the email {email!r}.")
        return user_id

    existing = found.sessions.get(row.name)
    values = {
        "name": row.name,
        "coach_id": (user("Coach", row.coach) if row.coach else None) if row.sets_coach
        else (existing["coach_id"] if existing else None),
        "visibility": (row.visibility or (existing["visibility"] if existing else SessionVisibility.READ_ONLY)),
        "display_start": row.display.start, "display_end": row.display.end,
        "access_start": row.access.start, "access_end": row.access.end,
        "coach_start": row.coach_window.start, "coach_end": row.coach_window.end,
    }
    values["visibility"] = SessionVisibility(values["visibility"]).value

    learners: dict[int, int | None] = {}
    for email in row.learners:
        if (user_id := user("Users", email)) is not None:
            learners[user_id] = None
    new_courses, coaches = [], []
    had = found.session_courses.get(existing["id"], {}) if existing else {}
    for course in row.courses:
        course_id = found.courses.get(course.code.lower())
        if course_id is None:
            missing("Courses", f"no course has the code {course.code!r}.")
            continue
        if course_id not in had:
            new_courses.append(course_id)
        for email in course.coaches:
            if (user_id := user("Courses", email, f"course {course.code}: ")) is not None:
                coaches.append((course_id, user_id))
        for email in course.learners:
            if (user_id := user("Courses", email, f"course {course.code}: ")) is not None:
                learners[user_id] = None
    for name in row.classes:
        class_id = found.classes.get(name)
        if class_id is None:
            missing("Classes", f"no class is named {name!r}.")
            continue
        for user_id in found.members.get(class_id, []):
            learners.setdefault(user_id, class_id)

    candidate = Session(**values, duration_days=existing["duration_days"] if existing else None)
    for problem in session_rule_problems(candidate):
        if problem.field == ("name",) and not row.name:
            continue  # reported as blank when read
        if problem.field[0] in ("displayWindow", "coachAccessWindow") and problem.field[0] not in row.own_windows:
            continue  # a copy of the access window, which is reported itself
        column, detail = _RULE_COLUMNS.get(problem.field[0], ("SessionName", f"the session {problem.message}"))
        errors.add(line, column, problem.code, detail)
        ok = False
    if not ok:
        return None
    for warning in session_warnings(candidate):
        starts_late = candidate.coach_start is not None and (
            candidate.access_start is None or candidate.coach_start > candidate.access_start)
        column = "CoachStartDate" if starts_late else "CoachEndDate"
        warnings.append(RowError(line, column, warning.code, describe(line, column, warning.message)))

    changed = existing is not None and any(existing[key] != value for key, value in values.items())
    return _Change(row=row, values=values, existing_id=existing["id"] if existing else None, changed=changed,
                   new_courses=new_courses, coaches=coaches, learners=learners)
