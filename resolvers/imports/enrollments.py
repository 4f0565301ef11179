"""The enrollments file: `session,email[,role]`, one enrollment a row, into sessions that exist.

`role` is `learner` (the default when blank or absent) or `course_coach:<course code>`,
which makes the user a coach of that course in that session (the course must be in
the session). The session is named exactly; the course code matches ignoring case.

Counts: `created` is the rows that added an enrollment or a course coach;
`alreadyEnrolled` the rows that were already true, and rows that repeat an earlier row
(each also a warning: a no-op, as DESIGN.md says); `updated` stays 0 (this format changes
no session's own fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from sessiongraph.models import Course, Session, SessionCourseCoach
from sessiongraph.resolvers.errors import ErrorCode
from sessiongraph.resolvers.imports.problems import Counts, RowError, RowErrors, describe
from sessiongraph.resolvers.imports.store import enroll_new, insert_new, lookup, session_course_pairs, user_ids_by_email
from sessiongraph.resolvers.imports.values import Emails, read_header

COLUMNS = ("session", "email", "role")
REQUIRED = ("session", "email")
COACH_ROLE = "course_coach:"


@dataclass
class EnrollmentPlan:
    """The rows read: (line, session name, email) and (line, session name, email, course code),
    with None for a cell that was reported as malformed."""

    learners: list[tuple[int, str | None, str | None]] = field(default_factory=list)
    coaches: list[tuple[int, str | None, str | None, str]] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)  # one per row that repeats an earlier one

    @property
    def rows(self) -> int:
        return len(self.learners) + len(self.coaches) + len(self.warnings)


def read_enrollments(header: list[str], records: Iterable[tuple[int, list[str]]],
                     errors: RowErrors) -> EnrollmentPlan | None:
    """Reads and checks every row on its own (no database); None when the header is unusable."""
    columns = read_header(header, COLUMNS, REQUIRED, errors)
    if errors:
        return None
    at_session, at_email, at_role = columns.get("session"), columns.get("email"), columns.get("role")
    plan = EnrollmentPlan()
    emails = Emails()
    names: dict[str, str] = {}  # one string object per session name, however many rows repeat it
    first_seen: dict[tuple[str, str, str | None], int] = {}

    for line, cells in records:
        # A bad cell is reported and left None; the row's other cells are still looked up.
        ok = True
        name = cells[at_session].strip() or None
        if name is None:
            errors.add(line, "session", ErrorCode.VALIDATION, "the session name is blank.")
            ok = False
        else:
            name = names.setdefault(name, name)

        raw_email = cells[at_email]
        email = emails.clean(raw_email) if raw_email.strip() else None
        if email is None:
            ok = False
            errors.add(line, "email", ErrorCode.VALIDATION,
                       emails.problem(raw_email) + "." if raw_email.strip() else "the email is blank.")

        role = cells[at_role].strip() if at_role is not None else ""
        course_code = None
        if role.lower().startswith(COACH_ROLE):
            course_code = role[len(COACH_ROLE):].strip()
            if not course_code:
                errors.add(line, "role", ErrorCode.VALIDATION, "course_coach: needs a course code after the colon.")
                ok = False
        elif role and role.lower() != "learner":
            errors.add(line, "role", ErrorCode.VALIDATION,
                       f"{role!r} is not a role: write learner or course_coach:<course code>.")
            ok = False

        if ok:
            key = (name, email, course_code.lower() if course_code else None)
            first = first_seen.setdefault(key, line)
            if first != line:
                plan.warnings.append(RowError(line, None, ErrorCode.DUPLICATE, describe(
                    line, None, f"this row repeats line {first}; it changes nothing.")))
                continue
        if course_code:
            plan.coaches.append((line, name, email, course_code))
        else:
            plan.learners.append((line, name, email))
    return plan


async def apply_enrollments(db: AsyncSession, plan: EnrollmentPlan, errors: RowErrors, now: datetime) -> Counts:
    """Finds what the rows name, reporting what does not exist; writes only when all of it does."""
    session_ids = await lookup(db, Session.name, Session.id, (row[1] for row in chain(plan.learners, plan.coaches)))
    user_ids = await user_ids_by_email(db, (row[2] for row in chain(plan.learners, plan.coaches)))
    codes = {row[3].lower() for row in plan.coaches}
    course_ids = await lookup(db, func.lower(Course.code), Course.id, codes) if codes else {}
    courses_in_sessions = await session_course_pairs(
        db, {session_ids[row[1]] for row in plan.coaches if row[1] in session_ids})

    learners: list[tuple[int, int]] = []
    for line, name, email in plan.learners:
        session_id, user_id = _find(line, name, email, session_ids, user_ids, errors)
        if session_id is not None and user_id is not None:
            learners.append((session_id, user_id))
    coaches: list[tuple[int, int, int]] = []
    for line, name, email, code in plan.coaches:
        session_id, user_id = _find(line, name, email, session_ids, user_ids, errors)
        course_id = course_ids.get(code.lower())
        if course_id is None:
            errors.add(line, "role", ErrorCode.NOT_FOUND, f"no course has the code {code!r}.")
        elif session_id is not None and (session_id, course_id) not in courses_in_sessions:
            errors.add(line, "role", ErrorCode.NOT_FOUND, f"the course {code!r} is not part of the session {name!r}.")
        elif session_id is not None and user_id is not None:
            coaches.append((session_id, course_id, user_id))
    if errors:
        return Counts()

    created = sum((await insert_new(db, SessionCourseCoach.__table__, (
        {"session_id": s, "course_id": c, "user_id": u} for s, c, u in coaches), "session_id")).values())
    created += sum((await enroll_new(db, (
        {"session_id": s, "user_id": u, "class_id": None, "enrolled_at": now, "first_access_at": None}
        for s, u in learners), now)).values())
    return Counts(created=created, already_enrolled=plan.rows - created)


def _find(line: int, name: str | None, email: str | None, session_ids: dict[str, int], user_ids: dict[str, int],
          errors: RowErrors) -> tuple[int | None, int | None]:
    session_id = session_ids.get(name)
    if session_id is None and name is not None:
        errors.add(line, "session", ErrorCode.NOT_FOUND, f"no session is named {name!r}.")
    user_id = user_ids.get(email)
    if user_id is None and email is not None:
        errors.add(line, "email", ErrorCode.NOT_FOUND, f"no user has the email {email!r}.")
    return session_id, user_id
