"""Every query and mutation in clients/ costs the same SQL statements on a small and a large data set.

Each operation is sent as its client sends it (the document from clients/, by name) with
the variables its screen passes, as the user of that screen: once against a data set whose
lists hold SMALL items, then against one ten times as large. Both answers must carry no
error and the data the screen shows; both must cost the same number of statements, and no
more than the operation's stated bound. A mutation is one call against a small or a large
neighbourhood (a session with 3 or 30 learners, a ledger of 3 or 30 lines...).

Operations whose every field an older statement-count test already selects (on data of two
sizes) are listed in COVERED_ELSEWHERE with that test, and checked to stay that way. A client
operation in neither table fails the first test below. Subscriptions are left out (they cost
what each event reads; tests/test_client_operations.py runs them over WebSocket).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import tests.test_schedule_statements as schedule_statements
from sessiongraph import models
from sessiongraph.clients.admin.cli import import_file
from sessiongraph.clients.documents import Operation, all_operations
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema import schema
from tests.client_contract import coordinates_used
from tests.conftest import NOW
from tests.sized_data import (  # noqa: F401
    MIDNIGHT,
    Lifecycle,
    Schedule,
    SessionWithPeople,
    SizedData,
    at,
    gid,
    sized,
)
from tests.test_schedule_statements import log_hint

SMALL, LARGE = 3, 30

OPERATIONS: dict[str, Operation] = {op.name: op for op in all_operations() if op.kind != "subscription"}


@dataclass
class Given:
    """What one run sends, as whom, and what its answer must hold."""

    viewer: models.User
    variables: dict[str, Any]
    expect: Callable[[dict[str, Any]], Any]  # given the data; true (or no assertion failing) when it is right
    upload: str | None = None  # ImportCsv: the file, sent as the admin command-line client sends it


@dataclass(frozen=True)
class Entry:
    given: Callable[[SizedData, int], Awaitable[Given]]
    statements: int  # the most the operation may cost; measured on SQLite and PostgreSQL


@dataclass(frozen=True)
class CoveredBy:
    """An older statement-count test whose document selects every field the operation does."""

    test: Callable[..., Any]
    document: str


# --- who asks, on which data ------------------------------------------------------------------

Expect = Callable[[dict[str, Any], Any, int], Any]  # (data, what the builder made, n)


def as_learner(variables: Callable[[Schedule, int], dict[str, Any]], expect: Expect):
    """The learner of a schedule of n past, n today's and n upcoming live sessions."""
    async def given(sized: SizedData, n: int) -> Given:
        made = await sized.schedule(n)
        return Given(made.learner, variables(made, n), lambda data: expect(data, made, n))

    return given


def as_guardian(variables: dict[str, Any], expect: Callable[[list[dict[str, Any]], int], Any]):
    """A guardian of two children, each with a schedule of size n. (Their number stays two:
    see the test of one child against four, below.)"""
    async def given(sized: SizedData, n: int) -> Given:
        return Given(await sized.guardian(n), variables, lambda data: len(data["viewer"]["children"]) == 2
                     and expect(data["viewer"]["children"], n))

    return given


def as_instructor(variables: Callable[[models.User, int], dict[str, Any]], expect: Expect):
    """An instructor with n classes ahead, three bookings on each (one cancelled)."""
    async def given(sized: SizedData, n: int) -> Given:
        user = await sized.instructor(n)
        return Given(user, variables(user, n), lambda data: expect(data, user, n))

    return given


def as_waiting_learner(variables: Callable[[Lifecycle, int], dict[str, Any]], expect: Expect):
    """The learner of a booking lifecycle: a booking on a full slot others wait for, waitlists n long."""
    async def given(sized: SizedData, n: int) -> Given:
        made = await sized.lifecycle(n)
        return Given(made.learner, variables(made, n), lambda data: expect(data, made, n))

    return given


def as_admin(make: Callable[[SizedData, int], Awaitable[Any]], variables: Callable[[Any, int], dict[str, Any]],
             expect: Expect, upload: Callable[[Any, int], str] | None = None):
    async def given(sized: SizedData, n: int) -> Given:
        made = await make(sized, n)
        return Given(await sized.admin(), variables(made, n), lambda data: expect(data, made, n),
                     upload(made, n) if upload else None)

    return given


def nothing(_made: Any, _n: int) -> dict[str, Any]:
    return {}


# --- what the answers must hold ------------------------------------------------------------------

def edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


def schedule(data: dict[str, Any]) -> dict[str, Any]:
    return data["viewer"]["schedule"]


def page_of(connection: dict[str, Any], total: int, size: int) -> bool:
    """The first page of a connection of `total` items, `size` to a page."""
    return connection["totalCount"] == total and len(connection["edges"]) == min(total, size)


def no_errors(payload: dict[str, Any]) -> bool:
    assert payload["errors"] == [], payload["errors"]
    return True


def sessions_by_status(data: dict[str, Any]) -> list[int]:
    return [len(data["viewer"]["mySessions"][part]) for part in ("current", "upcoming", "past")]


def month_count(calendar: dict[str, Any]) -> int:
    return sum(day["count"] for day in calendar["days"])


def ledger_lines(n: int) -> int:
    """A schedule's ledger: the deposit, a debit per booking (two in three of its 3n live
    sessions), a refund per cancelled one (one in six)."""
    return 1 + 2 * n + (3 * n) // 6


def courses_with_coaches(session: dict[str, Any], n: int, coaches: int = 2) -> bool:
    return len(session["courses"]) == n and all(len(c["coaches"]) == coaches for c in session["courses"])


# --- what the screens send -----------------------------------------------------------------------

MARCH = {"view": "MONTH", "date": NOW.date().isoformat()}


def the_detail(made: Schedule, _n: int) -> dict[str, Any]:
    return {"id": gid(made.detail)}


def the_history_course(made: Schedule, _n: int) -> dict[str, Any]:
    return {"courseId": gid(made.history_course)}


def conversation_courses(made: Schedule, _n: int) -> dict[str, Any]:
    return {"search": f"Conversation {made.tag}"}


def slots_of_the_next_two_weeks(made: Schedule, _n: int) -> dict[str, Any]:
    return {"courseId": gid(made.bookable_course), "from": at(NOW), "to": at(NOW + timedelta(days=14))}


def book_the_slot(idempotency_key: str) -> Callable[[Schedule, int], dict[str, Any]]:
    return lambda made, _n: {"input": {"slotId": gid(made.slot), "idempotencyKey": idempotency_key}}


def request_an_absence(reason: str) -> Callable[[Schedule, int], dict[str, Any]]:
    return lambda made, _n: {"input": {"liveSessionId": gid(made.absence_from), "reason": reason}}


def cancel_the_booking(made: Schedule, _n: int) -> dict[str, Any]:
    return {"input": {"bookingId": gid(made.booking)}}


def reschedule_the_booking(made: Lifecycle, _n: int) -> dict[str, Any]:
    return {"input": {"bookingId": gid(made.booking), "slotId": gid(made.free_slot)}}


def join_the_full_slot(made: Lifecycle, _n: int) -> dict[str, Any]:
    return {"input": {"slotId": gid(made.full_slot)}}


def leave_the_waitlist(made: Lifecycle, _n: int) -> dict[str, Any]:
    return {"input": {"waitlistEntryId": gid(made.entry)}}


def window(days_from: int, days_to: int) -> dict[str, str]:
    return {"start": at(NOW + timedelta(days=days_from)), "end": at(NOW + timedelta(days=days_to))}


def early_mornings(n: int) -> list[dict[str, Any]]:
    """n slots at 05:00 UTC on the coming days, clear of everything instructor_with_slots made."""
    return [{"startsAt": at(MIDNIGHT + timedelta(days=1 + k, hours=5)),
             "endsAt": at(MIDNIGHT + timedelta(days=1 + k, hours=6)), "seats": 4} for k in range(n)]


def enrollments_csv(made: SessionWithPeople, _n: int) -> str:
    """Every outsider (new) and every learner (already enrolled) into the session."""
    return "session,email\n" + "".join(f"{made.session.name},{user.email}\n"
                                       for user in made.outsiders + made.learners)


# --- signing in: a user with a password, n earlier sign-ins and an invitation -----------------

SIGN_IN_PASSWORD = "correct horse battery staple"


@dataclass
class Credentials:
    user: models.User
    refresh_token: str
    invitation_token: str


async def signed_up(sized: SizedData, n: int) -> Credentials:
    from sessiongraph.infrastructure.passwords import hash_password, new_secret, secret_digest

    secrets = [new_secret() for _ in range(n)]
    invitation = new_secret()
    async with sized.database.write() as db:
        user = models.User(name="Signing In", email=f"signin-{secrets[0][:8].lower()}@example.test",
                           password_hash=await hash_password(SIGN_IN_PASSWORD))
        db.add(user)
        await db.flush()
        db.add_all([models.RefreshToken(token_hash=secret_digest(secret), family=f"family{k}-{secrets[0][:8]}",
                                        user_id=user.id, issued_at=NOW, expires_at=NOW + timedelta(days=30))
                    for k, secret in enumerate(secrets)])
        db.add(models.Invitation(token_hash=secret_digest(invitation), user_id=user.id,
                                 expires_at=NOW + timedelta(days=7)))
    return Credentials(user, secrets[-1], invitation)


def as_signing_in(variables: Callable[[Credentials], dict[str, Any]], expect: Callable[[dict[str, Any]], Any]):
    async def given(sized: SizedData, n: int) -> Given:
        made = await signed_up(sized, n)
        return Given(made.user, {"input": variables(made)}, expect)

    return given


# Each bound is what the operation costs today, the same on SQLite and PostgreSQL; a failure
# prints every statement of both runs.
WEB: dict[str, Entry] = {
    "SignIn": Entry(as_signing_in(lambda made: {"email": made.user.email, "password": SIGN_IN_PASSWORD},
                                  lambda d: no_errors(d["signIn"]) and d["signIn"]["tokens"]["accessToken"]), 5),
    "RefreshToken": Entry(as_signing_in(lambda made: {"refreshToken": made.refresh_token},
                                        lambda d: no_errors(d["refreshToken"]) and d["refreshToken"]["tokens"]), 5),
    "SignOut": Entry(as_signing_in(lambda made: {"refreshToken": made.refresh_token},
                                   lambda d: no_errors(d["signOut"]) and d["signOut"]["revoked"]), 3),
    "SetPassword": Entry(as_signing_in(lambda made: {"invitationToken": made.invitation_token,
                                                     "newPassword": "a brand new password"},
                                       lambda d: no_errors(d["setPassword"]) and d["setPassword"]["user"]), 5),
    "Dashboard": Entry(as_learner(nothing, lambda d, made, n: schedule(d)["upNext"]["joinAvailability"]["isOpen"]
                                  and schedule(d)["upNext"]["lesson"]["goal"]
                                  and schedule(d)["upNext"]["myBooking"]["creditTransaction"]["kind"] == "BOOKING"),
                       4),  # the user; Up Next with its details, in one statement; the viewer's instructor; the credit line
    "UpcomingTab": Entry(as_learner(nothing, lambda d, made, n: len(schedule(d)["today"]) == n
                                    and page_of(schedule(d)["upcoming"], n, 20)), 8),
    "PastTab": Entry(as_learner(nothing, lambda d, made, n: schedule(d)["past"]["totalCount"] > n
                                and len(schedule(d)["past"]["edges"]) == min(schedule(d)["past"]["totalCount"], 20)
                                and edges(schedule(d)["past"])[0]["myReport"]), 6),
    "CalendarTab": Entry(as_learner(lambda made, n: MARCH,
                                    lambda d, made, n: month_count(schedule(d)["calendar"]) == 3 * n), 6),
    "SessionDetails": Entry(as_learner(the_detail,
                                       lambda d, made, n: d["node"]["id"] == gid(made.detail)
                                       and d["node"]["myBooking"]["creditTransaction"]["kind"] == "BOOKING"
                                       and d["node"]["myBooking"]["absenceRequest"]["status"] == "PENDING"), 3),
    "CourseSessionHistory": Entry(as_learner(the_history_course,
                                             lambda d, made, n: d["course"]["title"].startswith("History")
                                             and schedule(d)["courseHistory"]["totalCount"] >= n // 2
                                             and any(node["myBooking"] and node["myBooking"]["creditTransaction"]
                                                     for node in edges(schedule(d)["courseHistory"]))), 7),
    "MySessions": Entry(as_learner(nothing, lambda d, made, n: sessions_by_status(d) == [n // 3] * 3), 9),
    "Children": Entry(as_guardian({}, lambda children, n: all(page_of(c["schedule"]["upcoming"], n, 10)
                                                              and c["credits"]["balance"] > 0 for c in children)), 16),
    "Me": Entry(as_guardian({}, lambda children, n: all(c["user"]["name"] for c in children)), 4),
    "ChildPastSessions": Entry(as_guardian({}, lambda children, n: all(
        edges(c["schedule"]["past"])[0]["myReport"] for c in children)), 10),
    "ChildCalendar": Entry(as_guardian(MARCH, lambda children, n: all(
        month_count(c["schedule"]["calendar"]) == 3 * n for c in children)), 6),
    "Teaching": Entry(as_instructor(lambda made, n: {"from": at(NOW)},
                                    lambda d, made, n: page_of(d["viewer"]["teaching"], n, 20) and all(
                                        c["bookings"]["totalCount"] == 3 and c["seatsLeft"] == c["capacity"] - 2
                                        for c in edges(d["viewer"]["teaching"]))), 9),
    "BookCourseSearch": Entry(as_learner(conversation_courses,
                                         lambda d, made, n: page_of(d["courses"], n, 20)
                                         and all(c["canBook"] for c in edges(d["courses"]))
                                         and d["viewer"]["credits"]["balance"] > 0), 5),
    "CourseSlots": Entry(as_learner(slots_of_the_next_two_weeks,
                                    lambda d, made, n: len(d["course"]["availableSlots"]) == n
                                    and d["course"]["canBook"]), 8),
    "BookSlot": Entry(as_learner(book_the_slot("web-1"),
                                 lambda d, made, n: no_errors(d["bookSlot"])
                                 and d["bookSlot"]["booking"]["creditTransaction"]["kind"] == "BOOKING"), 21),
    "RequestAbsence": Entry(as_learner(request_an_absence("A doctor's appointment"),
                                       lambda d, made, n: no_errors(d["requestAbsence"])
                                       and d["requestAbsence"]["absenceRequest"]["status"] == "PENDING"), 14),
    "CancelBooking": Entry(as_learner(cancel_the_booking,
                                      lambda d, made, n: no_errors(d["cancelBooking"])
                                      and d["cancelBooking"]["booking"]["refundTransaction"]["amount"] == 1), 20),
    "Credits": Entry(as_learner(nothing, lambda d, made, n: page_of(d["viewer"]["credits"]["transactions"],
                                                                    ledger_lines(n), 20)), 6),
    "RescheduleBooking": Entry(as_waiting_learner(reschedule_the_booking,
                                                  lambda d, made, n: no_errors(d["rescheduleBooking"])
                                                  and d["rescheduleBooking"]["booking"]["status"] == "BOOKED"), 43),
    "JoinWaitlist": Entry(as_waiting_learner(join_the_full_slot,
                                             lambda d, made, n: no_errors(d["joinWaitlist"])
                                             and d["joinWaitlist"]["waitlistEntry"]["placeInLine"] == n), 16),
    "LeaveWaitlist": Entry(as_waiting_learner(leave_the_waitlist,
                                              lambda d, made, n: no_errors(d["leaveWaitlist"])
                                              and d["leaveWaitlist"]["waitlistEntry"]["status"] == "LEFT"), 8),
    "Waitlist": Entry(as_waiting_learner(nothing, lambda d, made, n: len(d["viewer"]["waitlist"]) == n
                                         and all(e["placeInLine"] == 1 for e in d["viewer"]["waitlist"])), 6),
    # Issued at the first read: the viewer, their feed (none), the insert. A reset: the viewer, the upsert.
    "CalendarFeed": Entry(as_learner(nothing, lambda d, made, n: d["viewer"]["calendarFeed"]["url"].endswith(".ics")),
                          3),
    "ResetCalendarFeed": Entry(as_learner(nothing, lambda d, made, n: d["resetCalendarFeed"]["errors"] == []
                                          and d["resetCalendarFeed"]["calendarFeed"]["url"].endswith(".ics")), 2),
}

MOBILE: dict[str, Entry] = {
    "MobileUpcoming": Entry(as_learner(nothing, lambda d, made, n: len(edges(schedule(d)["upcoming"])) == min(n, 10)),
                            3),
    "MobilePast": Entry(as_learner(nothing, lambda d, made, n: len(edges(schedule(d)["past"])) >= min(n, 10)), 3),
    "MobileSessionDetails": Entry(as_learner(the_detail,
                                             lambda d, made, n: d["node"]["lesson"]["goal"]
                                             and d["node"]["myBooking"]["absenceRequest"]["status"] == "PENDING"), 2),
    "MobileCourseHistory": Entry(as_learner(the_history_course,
                                            lambda d, made, n: len(edges(schedule(d)["courseHistory"]))
                                            >= min(n, 10)), 2),
    "MobileMySessions": Entry(as_learner(nothing, lambda d, made, n: sessions_by_status(d) == [n // 3] * 3), 4),
    "MobileChildren": Entry(as_guardian({}, lambda children, n: all(
        len(c["schedule"]["today"]) == n and c["schedule"]["upNext"] for c in children)), 10),
    "MobileBookCourseSearch": Entry(as_learner(conversation_courses,
                                               lambda d, made, n: len(edges(d["courses"])) == min(n, 10)), 3),
    "MobileCourseSlots": Entry(as_learner(slots_of_the_next_two_weeks,
                                          lambda d, made, n: len(d["course"]["availableSlots"]) == n), 6),
    "MobileBookSlot": Entry(as_learner(book_the_slot("mobile-1"),
                                       lambda d, made, n: no_errors(d["bookSlot"])
                                       and d["bookSlot"]["booking"]["status"] == "BOOKED"), 18),
    "MobileRequestAbsence": Entry(as_learner(request_an_absence("Travelling for work"),
                                             lambda d, made, n: no_errors(d["requestAbsence"])
                                             and d["requestAbsence"]["absenceRequest"]["status"] == "PENDING"), 9),
    "MobileCancelBooking": Entry(as_learner(cancel_the_booking,
                                            lambda d, made, n: no_errors(d["cancelBooking"])
                                            and d["cancelBooking"]["booking"]["status"] == "CANCELLED"), 16),
    "MobileCredits": Entry(as_learner(nothing, lambda d, made, n: len(edges(d["viewer"]["credits"]["transactions"]))
                                      == min(ledger_lines(n), 10)), 3),
    "MobileRescheduleBooking": Entry(as_waiting_learner(reschedule_the_booking,
                                                        lambda d, made, n: no_errors(d["rescheduleBooking"])), 41),
    "MobileJoinWaitlist": Entry(as_waiting_learner(join_the_full_slot,
                                                   lambda d, made, n: no_errors(d["joinWaitlist"])
                                                   and d["joinWaitlist"]["waitlistEntry"]["placeInLine"] == n), 12),
    "MobileLeaveWaitlist": Entry(as_waiting_learner(leave_the_waitlist,
                                                    lambda d, made, n: no_errors(d["leaveWaitlist"])), 4),
    "MobileWaitlist": Entry(as_waiting_learner(nothing, lambda d, made, n: len(d["viewer"]["waitlist"]) == n), 4),
}

# Each admin mutation also writes its audit entry (one INSERT, resolvers/audit.py).
ADMIN: dict[str, Entry] = {
    "SessionList": Entry(as_admin(SizedData.admin_sessions, lambda tag, n: {"filter": {"search": tag}},
                                  lambda d, tag, n: page_of(d["sessions"], n, 25) and all(
                                      s["learnerCount"] == 4 and s["courseCount"] == 3 and s["category"]
                                      for s in edges(d["sessions"]))), 6),
    "SessionEditor": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"id": gid(made.session)},
                                    lambda d, made, n: courses_with_coaches(d["session"], n) and d["session"]["coach"]
                                    and page_of(d["session"]["learners"], n, 50)), 12),
    "SessionTracking": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"id": gid(made.session)},
                                      lambda d, made, n: d["session"]["tracking"]["learnerCount"] == n
                                      and len(d["session"]["tracking"]["learners"]["edges"]) == n
                                      and d["session"]["tracking"]["totals"]["booked"] > 0), 7),
    "CourseSearch": Entry(as_admin(SizedData.courses, lambda tag, n: {"search": f"English {tag}"},
                                   lambda d, tag, n: page_of(d["courses"], n, 20)), 3),
    "UserSearch": Entry(as_admin(SizedData.users, lambda tag, n: {"search": f"Coach {tag}"},
                                 lambda d, tag, n: page_of(d["users"], n, 20)), 3),
    "CategoryPicker": Entry(as_admin(SizedData.categories, lambda tag, n: {"search": tag},
                                     lambda d, tag, n: len(edges(d["sessionCategories"])) == n), 2),
    "ClassPicker": Entry(as_admin(SizedData.classes, lambda tag, n: {"search": tag},
                                  lambda d, tag, n: len(edges(d["userClasses"])) == n
                                  and {c["memberCount"] for c in edges(d["userClasses"])} == {2, 3, 4}), 3),
    "CreateSession": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "name": f"New {made.session.name}", "courseIds": [gid(c) for c in made.courses],
        "coachId": gid(made.coaches[0]), "accessWindow": window(10, 40), "coachAccessWindow": window(5, 50)}},
        lambda d, made, n: no_errors(d["createSession"]) and d["createSession"]["session"]["courseCount"] == n
        and courses_with_coaches(d["createSession"]["session"], n, coaches=0)), 14),
    "UpdateSession": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "id": gid(made.session), "visibility": "VISIBLE", "displayWindow": window(0, 60)}},
        lambda d, made, n: no_errors(d["updateSession"]) and d["updateSession"]["session"]["learnerCount"] == n
        and courses_with_coaches(d["updateSession"]["session"], n)), 14),
    "SetSessionCourses": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "sessionId": gid(made.session), "courseIds": [gid(c) for c in reversed(made.courses)]}},
        lambda d, made, n: no_errors(d["setSessionCourses"])
        and d["setSessionCourses"]["session"]["courses"][0]["course"]["id"] == gid(made.courses[-1])
        and courses_with_coaches(d["setSessionCourses"]["session"], n)), 12),
    "SetCourseCoaches": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "sessionId": gid(made.session), "courseId": gid(made.courses[0]),
        "coachIds": [gid(u) for u in made.coaches]}},
        lambda d, made, n: no_errors(d["setCourseCoaches"])
        and len(d["setCourseCoaches"]["session"]["courses"][0]["coaches"]) == 2 * n), 11),
    "EnrollLearners": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "sessionId": gid(made.session), "userIds": [gid(u) for u in made.outsiders + made.learners[:1]]}},
        lambda d, made, n: no_errors(d["enrollLearners"])
        and (d["enrollLearners"]["enrolledCount"], d["enrollLearners"]["alreadyEnrolledCount"]) == (n, 1)
        and d["enrollLearners"]["session"]["learnerCount"] == 2 * n), 9),  # the audit INSERT, the event counter and the events' INSERT
    "UnenrollLearners": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "sessionId": gid(made.session), "userIds": [gid(u) for u in made.learners[::3]]}},
        lambda d, made, n: no_errors(d["unenrollLearners"]) and d["unenrollLearners"]["unenrolledCount"] == n // 3
        and d["unenrollLearners"]["session"]["learnerCount"] == n - n // 3), 5),
    "DeleteSession": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {"id": gid(made.session)}},
                                    lambda d, made, n: no_errors(d["deleteSession"])
                                    and d["deleteSession"]["deletedId"] == gid(made.session)), 8),
    "DepositCredits": Entry(as_admin(SizedData.ledger, lambda user, n: {"input": {
        "userId": gid(user), "amount": 5, "description": "Top-up"}},
        lambda d, user, n: no_errors(d["depositCredits"])
        and d["depositCredits"]["creditTransaction"]["balanceAfter"] == n + 5), 5),
    "ReviewAbsenceRequest": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "id": gid(made.absence_request), "approve": True, "comment": "Get well soon"}},
        lambda d, made, n: no_errors(d["reviewAbsenceRequest"])
        and d["reviewAbsenceRequest"]["absenceRequest"]["booking"]["learner"]["name"] == made.learners[0].name),
        15),  # the audit INSERT; the event counter and INSERT, and the users whose schedules it concerns
    "WebhookEndpoints": Entry(as_admin(SizedData.webhook_endpoints, lambda made, n: {},
                                       lambda d, made, n: d["webhookEndpoints"]["totalCount"] >= n
                                       and len(d["webhookEndpoints"]["edges"])
                                       == min(d["webhookEndpoints"]["totalCount"], 20)), 3),
    "WebhookDeliveries": Entry(as_admin(SizedData.webhook_endpoints, lambda made, n: {"id": gid(made)},
                                        lambda d, made, n: len(d["node"]["deliveries"]["edges"]) == min(n, 20)), 3),
    "CreateWebhookEndpoint": Entry(as_admin(SizedData.webhook_endpoints, lambda made, n: {"input": {
        "url": "https://93.184.216.34/new", "eventTypes": ["booking.created", "booking.cancelled"]}},
        lambda d, made, n: no_errors(d["createWebhookEndpoint"])
        and d["createWebhookEndpoint"]["secret"].startswith("whsec_")), 3),  # with the audit entry
    "PublishAvailability": Entry(as_admin(SizedData.instructor_with_slots, lambda made, n: {"input": {
        "instructorId": gid(made[0]), "courseId": gid(made[1]), "slots": early_mornings(n)}},
        lambda d, made, n: no_errors(d["publishAvailability"]) and len(d["publishAvailability"]["slots"]) == n), 10),
    "WithdrawSlot": Entry(as_admin(SizedData.lifecycle, lambda made, n: {"input": {
        "slotId": gid(made.full_slot), "cancelBookings": True}},
        lambda d, made, n: no_errors(d["withdrawSlot"]) and d["withdrawSlot"]["cancelledBookingCount"] == 1), 15),
    "ImportCsv": Entry(as_admin(SizedData.session_with_people, nothing,
                                lambda d, made, n: no_errors(d["importCsv"])
                                and (d["importCsv"]["created"], d["importCsv"]["alreadyEnrolled"]) == (n, n),
                                upload=enrollments_csv), 7),  # 1 for the audit entry, 2 for the enrollments' events
    # the signed-in user and the session: the file itself is read at download, in chunks (tests/test_exports.py)
    **{name: Entry(as_admin(SizedData.session_with_people, lambda made, n, fmt=fmt: {"input": {
        "sessionId": gid(made.session), "format": fmt}},
        lambda d, made, n, field=field: no_errors(d[field]) and d[field]["url"].startswith("http://test/exports/")),
        2) for name, field, fmt in [("ExportTracking", "exportTracking", "CSV"),
                                    ("ExportEnrollments", "exportEnrollments", "XLSX")]},
}

# The instructor's screens of the web client, as the instructor of a class of n learners (each booked on
# it with an absence request; reported on at the class before) or of n slots.
async def the_class_of(sized: SizedData, n: int) -> tuple[SessionWithPeople, models.User, list[models.LiveSession]]:
    """A session of n learners, its instructor's user and its live sessions, latest (the one ahead) first."""
    made = await sized.session_with_people(n)
    async with sized.database.read() as db:
        classes = list((await db.scalars(select(models.LiveSession).where(
            models.LiveSession.session_id == made.session.id).order_by(models.LiveSession.starts_at.desc()))).all())
        user = await db.scalar(select(models.User).join(models.Instructor).where(
            models.Instructor.id == classes[0].instructor_id))
    return made, user, classes


def as_class_instructor(variables: Callable[[SessionWithPeople, list[models.LiveSession]], dict[str, Any]],
                        expect: Callable[[dict[str, Any], SessionWithPeople, int], Any]):
    async def given(sized: SizedData, n: int) -> Given:
        made, user, classes = await the_class_of(sized, n)
        return Given(user, variables(made, classes), lambda data: expect(data, made, n))

    return given


def as_slots_instructor(variables: Callable[[models.Instructor, models.Course], dict[str, Any]],
                        expect: Callable[[dict[str, Any], int], Any]):
    async def given(sized: SizedData, n: int) -> Given:
        instructor, course = await sized.instructor_with_slots(n)
        async with sized.database.read() as db:
            user = await db.get(models.User, instructor.user_id)
        return Given(user, variables(instructor, course), lambda data: expect(data, n))

    return given


def absence_requests(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [booking["absenceRequest"] for c in edges(data["viewer"]["teaching"]) for booking in edges(c["bookings"])
            if booking["absenceRequest"]]


WEB_TEACHING: dict[str, Entry] = {
    "ClassRoster": Entry(as_class_instructor(lambda made, classes: {"id": gid(classes[0])},
                                             lambda d, made, n: len(edges(d["node"]["bookings"])) == n
                                             and all(b["absenceRequest"]["status"] == "PENDING"
                                                     for b in edges(d["node"]["bookings"]))), 12),
    "TeachingAbsenceRequests": Entry(as_class_instructor(lambda made, classes: {"from": at(NOW)},
                                                         lambda d, made, n: len(absence_requests(d)) == n), 6),
    "RecordAttendance": Entry(as_class_instructor(lambda made, classes: {"input": {
        "liveSessionId": gid(classes[1]), "entries": [{"learnerId": gid(made.learners[0]), "status": "LATE",
                                                       "feedback": "Ten minutes late"}]}},
        lambda d, made, n: no_errors(d["recordAttendance"])
        and len(edges(d["recordAttendance"]["liveSession"]["reports"])) == n), 12),
    "DecideAbsenceRequest": Entry(as_class_instructor(lambda made, classes: {"input": {
        "id": gid(made.absence_request), "approve": False, "comment": "Not this week"}},
        lambda d, made, n: no_errors(d["reviewAbsenceRequest"])
        and d["reviewAbsenceRequest"]["absenceRequest"]["status"] == "REJECTED"), 13),
    "TeachableCourses": Entry(as_admin(SizedData.courses, nothing,
                                       lambda d, tag, n: len([c for c in edges(d["courses"]) if tag in c["code"]])
                                       == (n + 1) // 2), 2),
    "MySlots": Entry(as_slots_instructor(lambda instructor, course: {
        "courseId": gid(course), "instructorId": gid(instructor), "from": at(NOW), "to": at(NOW + timedelta(days=60))},
        lambda d, n: len(d["course"]["availableSlots"]) == n), 4),
    "PublishMySlots": Entry(as_slots_instructor(lambda instructor, course: {"input": {
        "instructorId": gid(instructor), "courseId": gid(course),
        "slots": [{**early_mornings(1)[0], "recurrence": "FREQ=DAILY;COUNT=3"}]}},
        lambda d, n: no_errors(d["publishAvailability"]) and len(d["publishAvailability"]["slots"]) == 3), 9),
    "WithdrawMySlot": Entry(as_admin(SizedData.lifecycle, lambda made, n: {"input": {
        "slotId": gid(made.full_slot), "cancelBookings": True}},
        lambda d, made, n: no_errors(d["withdrawSlot"]) and d["withdrawSlot"]["cancelledBookingCount"] == 1), 15),
}

# The web client's admin screens send the admin client's documents, and these of their own.
WEB.update({
    # The viewer, the endpoint, one DELETE (its deliveries go with it, ON DELETE CASCADE), the audit entry.
    "AdminDeleteWebhookEndpoint": Entry(as_admin(SizedData.webhook_endpoints, lambda made, n: {"input": {"id": gid(made)}},
                                                 lambda d, made, n: no_errors(d["deleteWebhookEndpoint"])
                                                 and d["deleteWebhookEndpoint"]["deletedId"] == gid(made)), 4),
    "AdminUserList": Entry(as_admin(SizedData.users, lambda tag, n: {"search": f"Coach {tag}"},
                                    lambda d, tag, n: page_of(d["users"], n, 20)
                                    and all(u["active"] for u in edges(d["users"]))), 3),
    # Among n users: the new one is checked against them by its e-mail address alone.
    "AdminCreateUser": Entry(as_admin(SizedData.users, lambda tag, n: {"input": {
        "email": f"new-{tag}@example.test", "name": f"New {tag}", "sendInvitation": True}},
        lambda d, tag, n: no_errors(d["createUser"]) and d["createUser"]["invitationUrl"]), 5),  # with the audit entry
    "AdminUpdateUser": Entry(as_admin(SizedData.session_with_people, lambda made, n: {"input": {
        "id": gid(made.learners[0]), "active": False, "timeZone": "Europe/Lisbon"}},
        lambda d, made, n: no_errors(d["updateUser"]) and d["updateUser"]["user"]["active"] is False), 5),
})

STATEMENTS: dict[str, Entry] = {**WEB, **WEB_TEACHING, **MOBILE, **ADMIN}

# Their documents select nothing the older test's does not, on a schedule of 6 and of 60.
COVERED_ELSEWHERE: dict[str, CoveredBy] = {
    name: CoveredBy(test, document) for names, test, document in [
        (("MobileUpNext", "MobileToday"), schedule_statements.test_the_dashboard_runs_a_fixed_number_of_statements,
         schedule_statements.DASHBOARD),
        (("MobileCalendarMonth", "MobileCalendarDay"),
         schedule_statements.test_a_month_calendar_runs_a_fixed_number_of_statements, schedule_statements.MONTH),
    ] for name in names
}


def test_every_client_query_and_mutation_has_a_statement_count_entry():
    assert not STATEMENTS.keys() & COVERED_ELSEWHERE.keys()
    assert sorted(OPERATIONS.keys() - STATEMENTS.keys() - COVERED_ELSEWHERE.keys()) == [], \
        "give each a STATEMENTS entry: how to make its data at a size, its variables, and what it must answer"
    assert sorted((STATEMENTS.keys() | COVERED_ELSEWHERE.keys()) - OPERATIONS.keys()) == [], \
        "entries for operations clients/ no longer has"


@pytest.mark.parametrize("name", sorted(COVERED_ELSEWHERE))
def test_an_operation_counted_elsewhere_selects_only_what_that_test_selects(name):
    covered = COVERED_ELSEWHERE[name]

    beyond = coordinates_used(OPERATIONS[name].document, schema._schema) - coordinates_used(covered.document,
                                                                                         schema._schema)

    assert not beyond, (f"{name} selects {sorted(beyond)}, which {covered.test.__name__} does not: "
                        f"move {name} into STATEMENTS")


@pytest.fixture
def send(http, app, settings, clock, tmp_path):
    async def sending(operation: Operation, given: Given) -> dict[str, Any]:
        token = issue_token(given.viewer.id, settings, clock.now())
        if given.upload is not None:
            path = tmp_path / "upload.csv"
            path.write_text(given.upload)
            payload = await import_file(path, url="http://test/graphql", token=token,
                                        transport=httpx.ASGITransport(app=app))
            return {"data": {"importCsv": payload}}
        response = await http.post("/graphql", json={"query": operation.document, "operationName": operation.name,
                                                     "variables": given.variables},
                                   headers={"Authorization": f"Bearer {token}"})
        return response.json()

    return sending


@pytest.mark.parametrize("name", sorted(STATEMENTS))
async def test_a_client_operation_costs_the_same_statements_on_small_and_large_data(name, sized, send,
                                                                                   count_statements):
    operation, entry = OPERATIONS[name], STATEMENTS[name]
    logs = {}
    for size in (SMALL, LARGE):
        # given
        given = await entry.given(sized, size)

        # when
        with count_statements() as log:
            body = await send(operation, given)

        # then
        assert "errors" not in body, body
        assert given.expect(body["data"]), f"{name} on {size} items answered {body['data']}"
        logs[size] = log
    assert logs[SMALL].count == logs[LARGE].count, (
        f"{name}: {SMALL} items: {log_hint(logs[SMALL])}\n{LARGE} items: {log_hint(logs[LARGE])}")
    assert logs[LARGE].count <= entry.statements, log_hint(logs[LARGE])


class CostGrows(AssertionError):
    """An operation cost more statements on more data."""


GUARDIAN_SCREENS = {"Children": {}, "ChildPastSessions": {}, "ChildCalendar": MARCH, "MobileChildren": {}}


@pytest.mark.parametrize("name", sorted(GUARDIAN_SCREENS))
async def test_a_guardian_s_screen_costs_the_same_for_one_child_or_four(name, sized, send, count_statements):
    counts = []
    for children in (1, 4):
        guardian = await sized.guardian(SMALL, children=children)

        with count_statements() as log:
            body = await send(OPERATIONS[name], Given(guardian, GUARDIAN_SCREENS[name], expect=None))

        assert "errors" not in body, body
        assert len(body["data"]["viewer"]["children"]) == children
        counts.append(log.count)
    if counts[0] != counts[1]:
        raise CostGrows(f"{name}: {counts[0]} statements for one child, {counts[1]} for four")
