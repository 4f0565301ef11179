"""Every client operation runs against the demo data, as its client's user, with no error and real data.

Each operation is sent as its client sends it: the document from clients/ (the
operation and its fragments), by name, with the variables a screen would pass.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sessiongraph import models
from sessiongraph.clients.admin.cli import import_file
from sessiongraph.clients.documents import Operation, load_operations
from sessiongraph.demo import load_demo
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema.relay import to_global_id
from tests.ws_client import TRANSPORT_WS, GraphQLSocket

LEARNER, GUARDIAN, INSTRUCTOR, ADMIN = ("learner@example.com", "guardian@example.com", "instructor@example.com",
                                        "admin@example.com")


@dataclass
class Demo:
    """The demo platform, and what earlier operations of a run have found or made."""

    http: httpx.AsyncClient
    tokens: dict[str, str]
    found: dict[str, Any] = field(default_factory=dict)
    by_hash: bool = False  # send the document's hash alone, as a trusted-documents client does

    async def send(self, operation: Operation, variables: dict[str, Any], login: str) -> dict[str, Any]:
        request = {"operationName": operation.name, "variables": variables}
        if self.by_hash:
            request["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}}
        else:
            request["query"] = operation.document
        response = await self.http.post("/graphql", json=request,
                                        headers={"Authorization": f"Bearer {self.tokens[login]}"})
        return response.json()


@dataclass
class Run:
    """How a screen uses an operation: as whom, with which variables, and what it must get."""

    login: str
    variables: Callable[[Demo], dict[str, Any]] | dict[str, Any]
    expect: Callable[[dict[str, Any], Demo], Any]


def edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


def schedule(data: dict[str, Any]) -> dict[str, Any]:
    return data["viewer"]["schedule"]


def remember(demo: Demo, **found: Any) -> bool:
    demo.found.update(found)
    return True


def no_errors(payload: dict[str, Any]) -> bool:
    assert payload["errors"] == [], payload["errors"]
    return True


def two_weeks(demo: Demo) -> dict[str, str]:
    return window_of(demo, 0, 14)


def free_slots(slots: list[dict[str, Any]]) -> list[str]:
    """The slots with seats left that the learner has not booked (nor cancelled)."""
    return [slot["id"] for slot in slots if slot["seatsLeft"] > 0 and slot["myBooking"] is None]


def remember_two_free_slots(demo: Demo, slots: list[dict[str, Any]]) -> bool:
    """One to book, and one of the same course to move that booking to."""
    free = free_slots(slots)
    return len(free) >= 2 and remember(demo, slotId=free[0], otherSlotId=free[1])


def early_morning(demo: Demo, days: int) -> datetime:
    """05:00 UTC some days ahead: a time no demo class or slot takes."""
    return (demo.found["now"] + timedelta(days=days)).replace(hour=5, minute=0, second=0, microsecond=0)


def window_of(demo: Demo, start_days: int, end_days: int) -> dict[str, str]:
    now = demo.found["now"]
    return {"from": (now + timedelta(days=start_days)).isoformat(), "to": (now + timedelta(days=end_days)).isoformat()}


def window(demo: Demo, start_days: int, end_days: int) -> dict[str, str]:
    now = demo.found["now"]
    return {"start": (now + timedelta(days=start_days)).isoformat(),
            "end": (now + timedelta(days=end_days)).isoformat()}


WEB: dict[str, Run] = {
    "Dashboard": Run(LEARNER, {}, lambda d, demo: remember(
        demo, liveSessionId=schedule(d)["upNext"]["id"]) and schedule(d)["upNext"]["lesson"]["goal"]),
    "UpcomingTab": Run(LEARNER, {"first": 5}, lambda d, _: len(schedule(d)["today"]) >= 3
                       and len(edges(schedule(d)["upcoming"])) == 5
                       and schedule(d)["upcoming"]["pageInfo"]["hasNextPage"]),
    "PastTab": Run(LEARNER, {"first": 5}, lambda d, _: schedule(d)["past"]["totalCount"] > 5
                   and edges(schedule(d)["past"])[0]["course"]["title"]),
    "CalendarTab": Run(LEARNER, lambda demo: {"view": "MONTH", "date": demo.found["today"]},
                       lambda d, _: sum(day["count"] for day in schedule(d)["calendar"]["days"]) > 3
                       and any(day["isToday"] for day in schedule(d)["calendar"]["days"])),
    "SessionDetails": Run(LEARNER, lambda demo: {"id": demo.found["liveSessionId"]},
                          lambda d, _: d["node"]["code"] and d["node"]["myBooking"]["status"] == "BOOKED"),
    "CourseSessionHistory": Run(LEARNER, lambda demo: {"courseId": demo.found["courseId"]},
                                lambda d, _: d["course"]["title"] and schedule(d)["courseHistory"]["totalCount"] > 0),
    "MySessions": Run(LEARNER, {}, lambda d, _: all(d["viewer"]["mySessions"][part]
                                                   for part in ("current", "upcoming", "past"))),
    "Me": Run(GUARDIAN, {}, lambda d, _: len(d["viewer"]["children"]) == 2 and not d["viewer"]["user"]["isAdmin"]
              and d["viewer"]["user"]["instructor"] is None),
    "Children": Run(GUARDIAN, {}, lambda d, _: len(d["viewer"]["children"]) == 2
                    and all(child["schedule"]["upcoming"]["totalCount"] for child in d["viewer"]["children"])),
    "ChildPastSessions": Run(GUARDIAN, {}, lambda d, _: any(
        node["myReport"] for child in d["viewer"]["children"] for node in edges(child["schedule"]["past"]))),
    "ChildCalendar": Run(GUARDIAN, lambda demo: {"view": "WEEK", "date": demo.found["today"]},
                         lambda d, _: all(len(child["schedule"]["calendar"]["days"]) == 7
                                          for child in d["viewer"]["children"])),
    "Teaching": Run(INSTRUCTOR, lambda demo: {"from": demo.found["now"].isoformat()},
                    lambda d, _: d["viewer"]["teaching"]["totalCount"] > 0
                    and edges(d["viewer"]["teaching"])[0]["bookings"]["totalCount"] > 0),
    # Teaching: this morning's class, its learners' attendance, the absence requests, and availability.
    "ClassRoster": Run(INSTRUCTOR, lambda demo: {"id": demo.found["endedClassId"]},
                       lambda d, demo: remember(demo, rosterLearnerId=edges(d["node"]["bookings"])[0]["learner"]["id"])
                       and edges(d["node"]["reports"])[0]["attendance"]),
    "RecordAttendance": Run(INSTRUCTOR, lambda demo: {"input": {"liveSessionId": demo.found["endedClassId"], "entries": [
        {"learnerId": demo.found["rosterLearnerId"], "status": "LATE", "feedback": "Ten minutes late"}]}},
        lambda d, demo: no_errors(d["recordAttendance"]) and [
            (r["attendance"], r["feedback"]) for r in edges(d["recordAttendance"]["liveSession"]["reports"])
            if r["learner"]["id"] == demo.found["rosterLearnerId"]] == [("LATE", "Ten minutes late")]),
    "TeachingAbsenceRequests": Run(INSTRUCTOR, lambda demo: {"from": demo.found["now"].isoformat()},
                                   lambda d, _: any(edges(c["bookings"]) for c in edges(d["viewer"]["teaching"]))),
    "DecideAbsenceRequest": Run(ADMIN, lambda demo: {"input": {"id": demo.found["absenceRequestId"], "approve": False,
                                                               "comment": "Not this week"}},
                                lambda d, _: no_errors(d["reviewAbsenceRequest"])
                                and d["reviewAbsenceRequest"]["absenceRequest"]["status"] == "REJECTED"),
    "TeachableCourses": Run(INSTRUCTOR, {}, lambda d, demo: demo.found["bookableCourseId"] in [
        c["id"] for c in edges(d["courses"])]),
    "PublishMySlots": Run(INSTRUCTOR, lambda demo: {"input": {
        "instructorId": demo.found["instructorId"], "courseId": demo.found["bookableCourseId"],
        "slots": [{"startsAt": early_morning(demo, 31).isoformat(),
                   "endsAt": (early_morning(demo, 31) + timedelta(hours=1)).isoformat(), "seats": 3,
                   "recurrence": "FREQ=WEEKLY;COUNT=2"}]}},
        lambda d, demo: no_errors(d["publishAvailability"]) and len(d["publishAvailability"]["slots"]) == 2
        and remember(demo, mySlotId=d["publishAvailability"]["slots"][0]["id"])),
    "MySlots": Run(INSTRUCTOR, lambda demo: {"courseId": demo.found["bookableCourseId"],
                                             "instructorId": demo.found["instructorId"], **window_of(demo, 0, 45)},
                   lambda d, demo: [s["recurrence"] for s in d["course"]["availableSlots"]
                                    if s["id"] == demo.found["mySlotId"]] == ["FREQ=WEEKLY;COUNT=2"]),
    "WithdrawMySlot": Run(INSTRUCTOR, lambda demo: {"input": {"slotId": demo.found["mySlotId"]}},
                          lambda d, demo: no_errors(d["withdrawSlot"])
                          and d["withdrawSlot"]["withdrawnSlotId"] == demo.found["mySlotId"]),
    # Book Session(s): search, pick a free slot, book it, ask to be excused from another class,
    # cancel the new booking, and read the ledger.
    "BookCourseSearch": Run(LEARNER, {}, lambda d, demo: remember(
        demo, bookCourseIds=[c["id"] for c in edges(d["courses"]) if c["canBook"]])
        and demo.found["bookCourseIds"] and d["viewer"]["credits"]["balance"] > 0),
    "CourseSlots": Run(LEARNER, lambda demo: {"courseId": demo.found["bookCourseIds"][0], **two_weeks(demo)},
                       lambda d, demo: remember_two_free_slots(demo, d["course"]["availableSlots"])
                       and d["course"]["availableSlots"][0]["instructor"]["displayName"]),
    "BookSlot": Run(LEARNER, lambda demo: {"input": {"slotId": demo.found["slotId"], "idempotencyKey": "web-1"}},
                    lambda d, demo: no_errors(d["bookSlot"])
                    and remember(demo, bookingId=d["bookSlot"]["booking"]["id"])
                    and d["bookSlot"]["booking"]["creditTransaction"]["kind"] == "BOOKING"),
    "RescheduleBooking": Run(LEARNER, lambda demo: {"input": {"bookingId": demo.found["bookingId"],
                                                              "slotId": demo.found["otherSlotId"]}},
                             lambda d, demo: no_errors(d["rescheduleBooking"])
                             and remember(demo, bookingId=d["rescheduleBooking"]["booking"]["id"])
                             and d["rescheduleBooking"]["booking"]["status"] == "BOOKED"),
    "RequestAbsence": Run(LEARNER, lambda demo: {"input": {"liveSessionId": demo.found["absenceFrom"][0],
                                                           "reason": "A doctor's appointment"}},
                          lambda d, _: no_errors(d["requestAbsence"])
                          and d["requestAbsence"]["absenceRequest"]["status"] == "PENDING"
                          and d["requestAbsence"]["absenceRequest"]["booking"]["liveSession"]["canRequestAbsence"]
                          is False),
    "CancelBooking": Run(LEARNER, lambda demo: {"input": {"bookingId": demo.found["bookingId"]}},
                         lambda d, _: no_errors(d["cancelBooking"])
                         and d["cancelBooking"]["booking"]["status"] == "CANCELLED"
                         and d["cancelBooking"]["booking"]["refundTransaction"]["amount"] > 0),
    "Credits": Run(LEARNER, {}, lambda d, _: [line["kind"] for line in edges(
        d["viewer"]["credits"]["transactions"])][:2] == ["REFUND", "BOOKING"]),
    # The waitlist: join a full slot, see it in line, leave it.
    "JoinWaitlist": Run(LEARNER, lambda demo: {"input": {"slotId": demo.found["fullSlotId"]}},
                        lambda d, demo: no_errors(d["joinWaitlist"])
                        and remember(demo, waitlistEntryId=d["joinWaitlist"]["waitlistEntry"]["id"])
                        and d["joinWaitlist"]["waitlistEntry"]["placeInLine"] == 1),
    "Waitlist": Run(LEARNER, {}, lambda d, demo: [(e["placeInLine"], e["slot"]["waitlistCount"])
                                                  for e in d["viewer"]["waitlist"]
                                                  if e["id"] == demo.found["waitlistEntryId"]] == [(1, 1)]),
    "LeaveWaitlist": Run(LEARNER, lambda demo: {"input": {"waitlistEntryId": demo.found["waitlistEntryId"]}},
                         lambda d, _: no_errors(d["leaveWaitlist"])
                         and d["leaveWaitlist"]["waitlistEntry"]["status"] == "LEFT"),
    # The calendar feed card: the link, then a new one.
    "CalendarFeed": Run(LEARNER, {}, lambda d, demo: remember(demo, feedUrl=d["viewer"]["calendarFeed"]["url"])
                        and demo.found["feedUrl"].endswith(".ics")),
    "ResetCalendarFeed": Run(LEARNER, {}, lambda d, demo: no_errors(d["resetCalendarFeed"])
                             and d["resetCalendarFeed"]["calendarFeed"]["url"] != demo.found["feedUrl"]),
}

MOBILE: dict[str, Run] = {
    "MobileUpNext": Run(LEARNER, {}, lambda d, demo: remember(
        demo, liveSessionId=schedule(d)["upNext"]["id"]) and schedule(d)["upNext"]["joinAvailability"]["isOpen"]),
    "MobileToday": Run(LEARNER, {}, lambda d, _: len(schedule(d)["today"]) >= 3),
    "MobileUpcoming": Run(LEARNER, {}, lambda d, _: len(edges(schedule(d)["upcoming"])) == 10),
    "MobilePast": Run(LEARNER, {}, lambda d, _: len(edges(schedule(d)["past"])) == 10),
    "MobileCalendarMonth": Run(LEARNER, lambda demo: {"date": demo.found["today"]},
                               lambda d, _: len(schedule(d)["calendar"]["days"]) in (28, 35, 42)),
    "MobileCalendarDay": Run(LEARNER, lambda demo: {"date": demo.found["today"]},
                             lambda d, _: len(schedule(d)["calendar"]["days"][0]["sessions"]) >= 3),
    "MobileSessionDetails": Run(LEARNER, lambda demo: {"id": demo.found["liveSessionId"]},
                                lambda d, _: d["node"]["lesson"]["name"]),
    "MobileCourseHistory": Run(LEARNER, lambda demo: {"courseId": demo.found["courseId"]},
                               lambda d, _: edges(schedule(d)["courseHistory"])),
    "MobileMySessions": Run(LEARNER, {}, lambda d, _: d["viewer"]["mySessions"]["current"]),
    "MobileChildren": Run(GUARDIAN, {}, lambda d, _: any(c["schedule"]["upNext"] for c in d["viewer"]["children"])),
    "MobileBookCourseSearch": Run(LEARNER, {}, lambda d, demo: remember(
        demo, bookCourseIds=[c["id"] for c in edges(d["courses"]) if c["canBook"]]) and demo.found["bookCourseIds"]),
    "MobileCourseSlots": Run(LEARNER, lambda demo: {"courseId": demo.found["bookCourseIds"][0], **two_weeks(demo)},
                             lambda d, demo: remember_two_free_slots(demo, d["course"]["availableSlots"])),
    "MobileBookSlot": Run(LEARNER, lambda demo: {"input": {"slotId": demo.found["slotId"],
                                                           "idempotencyKey": "mobile-1"}},
                          lambda d, demo: no_errors(d["bookSlot"])
                          and remember(demo, bookingId=d["bookSlot"]["booking"]["id"])
                          and d["bookSlot"]["booking"]["liveSession"]["startsAt"]),
    "MobileRescheduleBooking": Run(LEARNER, lambda demo: {"input": {"bookingId": demo.found["bookingId"],
                                                                    "slotId": demo.found["otherSlotId"]}},
                                   lambda d, demo: no_errors(d["rescheduleBooking"])
                                   and remember(demo, bookingId=d["rescheduleBooking"]["booking"]["id"])
                                   and d["rescheduleBooking"]["booking"]["liveSession"]["startsAt"]),
    "MobileRequestAbsence": Run(LEARNER, lambda demo: {"input": {"liveSessionId": demo.found["absenceFrom"][1],
                                                                 "reason": "Travelling for work"}},
                                lambda d, _: no_errors(d["requestAbsence"])
                                and d["requestAbsence"]["absenceRequest"]["status"] == "PENDING"),
    "MobileCancelBooking": Run(LEARNER, lambda demo: {"input": {"bookingId": demo.found["bookingId"]}},
                               lambda d, _: no_errors(d["cancelBooking"])
                               and d["cancelBooking"]["booking"]["refundTransaction"]["amount"] > 0),
    "MobileCredits": Run(LEARNER, {}, lambda d, _: d["viewer"]["credits"]["balance"] > 0
                         and edges(d["viewer"]["credits"]["transactions"])[0]["kind"] == "REFUND"),
    "MobileJoinWaitlist": Run(LEARNER, lambda demo: {"input": {"slotId": demo.found["fullSlotId"]}},
                              lambda d, demo: no_errors(d["joinWaitlist"])
                              and remember(demo, waitlistEntryId=d["joinWaitlist"]["waitlistEntry"]["id"])),
    "MobileWaitlist": Run(LEARNER, {}, lambda d, demo: (demo.found["waitlistEntryId"], 1) in [
        (e["id"], e["placeInLine"]) for e in d["viewer"]["waitlist"]]),
    "MobileLeaveWaitlist": Run(LEARNER, lambda demo: {"input": {"waitlistEntryId": demo.found["waitlistEntryId"]}},
                               lambda d, _: no_errors(d["leaveWaitlist"])
                               and d["leaveWaitlist"]["waitlistEntry"]["status"] == "LEFT"),
}

# In the order an admin works: find, create, edit, enroll, track, import, delete.
ADMIN_RUNS: dict[str, Run] = {
    "SessionList": Run(ADMIN, {"filter": {"status": "ACTIVE"}}, lambda d, demo: remember(
        demo, sessionId=edges(d["sessions"])[0]["id"]) and d["sessions"]["totalCount"] >= 2
        and all(s["status"] == "ACTIVE" for s in edges(d["sessions"]))),
    "SessionEditor": Run(ADMIN, lambda demo: {"id": demo.found["sessionId"]},
                         lambda d, _: d["session"]["courses"] and d["session"]["learners"]["totalCount"] > 10),
    "SessionTracking": Run(ADMIN, lambda demo: {"id": demo.found["sessionId"]},
                           lambda d, _: d["session"]["tracking"]["learnerCount"] > 10),
    "CourseSearch": Run(ADMIN, {"search": "English"}, lambda d, demo: remember(
        demo, courseIds=[c["id"] for c in edges(d["courses"])]) and len(edges(d["courses"])) == 2),
    "UserSearch": Run(ADMIN, {"search": "Coach"}, lambda d, demo: remember(
        demo, coachId=edges(d["users"])[0]["id"]) and d["users"]["totalCount"] >= 1),
    "CategoryPicker": Run(ADMIN, {}, lambda d, _: [c["name"] for c in edges(d["sessionCategories"])] == [
        "Languages", "Leadership", "Onboarding"]),
    "ClassPicker": Run(ADMIN, {"search": "team"}, lambda d, _: [
        (c["name"], c["memberCount"]) for c in edges(d["userClasses"])] == [("Sales team 2026", 40)]),
    "CreateSession": Run(ADMIN, lambda demo: {"input": {
        "name": "Summer English", "courseIds": demo.found["courseIds"], "coachId": demo.found["coachId"],
        "accessWindow": window(demo, 10, 40), "coachAccessWindow": window(demo, 5, 50)}},
        lambda d, demo: not d["createSession"]["errors"] and remember(
            demo, newSessionId=d["createSession"]["session"]["id"])
        and d["createSession"]["session"]["courseCount"] == 2),
    "UpdateSession": Run(ADMIN, lambda demo: {"input": {"id": demo.found["newSessionId"], "visibility": "VISIBLE",
                                                         "displayWindow": window(demo, 0, 60)}},
                         lambda d, _: not d["updateSession"]["errors"]
                         and d["updateSession"]["session"]["visibility"] == "VISIBLE"),
    "SetSessionCourses": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["newSessionId"],
                                                            "courseIds": demo.found["courseIds"][::-1]}},
                             lambda d, demo: not d["setSessionCourses"]["errors"]
                             and d["setSessionCourses"]["session"]["courses"][0]["course"]["id"]
                             == demo.found["courseIds"][-1]),
    "SetCourseCoaches": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["newSessionId"],
                                                           "courseId": demo.found["courseIds"][0],
                                                           "coachIds": [demo.found["coachId"]]}},
                            lambda d, _: not d["setCourseCoaches"]["errors"]
                            and any(c["coaches"] for c in d["setCourseCoaches"]["session"]["courses"])),
    "EnrollLearners": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["newSessionId"],
                                                         "userIds": [demo.found["learnerId"]]}},
                          lambda d, _: not d["enrollLearners"]["errors"] and d["enrollLearners"]["enrolledCount"] == 1),
    "UnenrollLearners": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["newSessionId"],
                                                           "userIds": [demo.found["learnerId"]]}},
                            lambda d, _: not d["unenrollLearners"]["errors"]
                            and d["unenrollLearners"]["unenrolledCount"] == 1),
    "ExportTracking": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["sessionId"], "format": "XLSX"}},
                          lambda d, _: no_errors(d["exportTracking"]) and "/exports/" in d["exportTracking"]["url"]),
    "ExportEnrollments": Run(ADMIN, lambda demo: {"input": {"sessionId": demo.found["sessionId"], "format": "CSV"}},
                             lambda d, _: no_errors(d["exportEnrollments"])
                             and "/exports/" in d["exportEnrollments"]["url"]),
    "DeleteSession": Run(ADMIN, lambda demo: {"input": {"id": demo.found["newSessionId"]}},
                         lambda d, demo: d["deleteSession"]["deletedId"] == demo.found["newSessionId"]),
    "DepositCredits": Run(ADMIN, lambda demo: {"input": {"userId": demo.found["learnerId"], "amount": 5,
                                                         "description": "Top-up"}},
                          lambda d, _: no_errors(d["depositCredits"])
                          and d["depositCredits"]["creditTransaction"]["kind"] == "DEPOSIT"),
    "ReviewAbsenceRequest": Run(ADMIN, lambda demo: {"input": {"id": demo.found["absenceRequestId"], "approve": True,
                                                               "comment": "Get well soon"}},
                                lambda d, _: no_errors(d["reviewAbsenceRequest"])
                                and d["reviewAbsenceRequest"]["absenceRequest"]["status"] == "APPROVED"
                                and d["reviewAbsenceRequest"]["absenceRequest"]["booking"]["learner"]["name"]),
    "PublishAvailability": Run(ADMIN, lambda demo: {"input": {
        "instructorId": demo.found["instructorId"], "courseId": demo.found["bookableCourseId"],
        "slots": [{"startsAt": early_morning(demo, 30).isoformat(),
                   "endsAt": (early_morning(demo, 30) + timedelta(hours=1)).isoformat(), "seats": 4,
                   "virtualClassroomUrl": "https://classroom.example.com/extra"}]}},
        lambda d, demo: no_errors(d["publishAvailability"]) and d["publishAvailability"]["slots"][0]["seatsLeft"] == 4
        and remember(demo, publishedSlotId=d["publishAvailability"]["slots"][0]["id"])),
    "WithdrawSlot": Run(ADMIN, lambda demo: {"input": {"slotId": demo.found["publishedSlotId"]}},
                        lambda d, demo: no_errors(d["withdrawSlot"])
                        and d["withdrawSlot"]["withdrawnSlotId"] == demo.found["publishedSlotId"]),
    # The demo registers its own receiver for every event type; this one asks for events the runs above raise
    # no more of.
    "CreateWebhookEndpoint": Run(ADMIN, {"input": {"url": "https://93.184.216.34/hooks", "description": "CRM",
                                                   "eventTypes": ["waitlist.promoted"]}},
                                 lambda d, demo: no_errors(d["createWebhookEndpoint"])
                                 and d["createWebhookEndpoint"]["secret"].startswith("whsec_")
                                 and remember(demo, webhookEndpointId=d["createWebhookEndpoint"]["webhookEndpoint"]["id"])),
    # The demo's endpoint (unless the web page's run deleted it first) and the one just created, last.
    "WebhookEndpoints": Run(ADMIN, {}, lambda d, demo: all(e["node"]["url"].endswith(("/demo/webhooks", "/hooks"))
                                                           for e in d["webhookEndpoints"]["edges"])
                            and d["webhookEndpoints"]["edges"][-1]["node"]["id"] == demo.found["webhookEndpointId"]),
    "WebhookDeliveries": Run(ADMIN, lambda demo: {"id": demo.found["webhookEndpointId"]},
                             lambda d, _: d["node"]["deliveries"]["edges"] == []),
}

# The web client's Users screen: find, create (with an invitation), edit, deactivate.
WEB.update({
    "AdminUserList": Run(ADMIN, {"search": "Coach"}, lambda d, _: d["users"]["totalCount"] >= 1
                         and all(u["active"] and u["timeZone"] for u in edges(d["users"]))),
    "AdminCreateUser": Run(ADMIN, {"input": {"email": "new.web.user@example.com", "name": "New Web User",
                                             "timeZone": "Europe/Lisbon", "sendInvitation": True}},
                           lambda d, demo: no_errors(d["createUser"]) and "#invitation=" in d["createUser"]["invitationUrl"]
                           and remember(demo, newUserId=d["createUser"]["user"]["id"])),
    # Webhooks: the demo's own endpoint deleted (the admin client's documents list, create and read the log).
    "AdminDeleteWebhookEndpoint": Run(ADMIN, lambda demo: {"input": {"id": demo.found["demoWebhookEndpointId"]}},
                                      lambda d, demo: no_errors(d["deleteWebhookEndpoint"])
                                      and d["deleteWebhookEndpoint"]["deletedId"] == demo.found["demoWebhookEndpointId"]),
    "AdminUpdateUser": Run(ADMIN, lambda demo: {"input": {"id": demo.found["newUserId"], "active": False,
                                                          "weekStart": "SUNDAY"}},
                           lambda d, _: no_errors(d["updateUser"]) and d["updateUser"]["user"]["active"] is False
                           and d["updateUser"]["user"]["weekStart"] == "SUNDAY"),
})
RUNS = {"web": WEB, "mobile": MOBILE, "admin": ADMIN_RUNS}
# Run by other means below: a multipart upload through the admin command-line client, and the
# subscriptions over a WebSocket.
SUBSCRIPTIONS = {"web": ("JoinAvailability", "ScheduleChanged"),
                 "mobile": ("MobileJoinAvailability", "MobileScheduleChanged")}
# The sign-in documents change the demo password or need a refresh token or an invitation the demo does not have:
# tests/test_client_statements.py runs each with its own (and tests/test_web_client.py signs in the page).
SIGN_IN_OPERATIONS = {"SignIn", "RefreshToken", "SignOut", "SetPassword"}
RUN_ELSEWHERE = {"ImportCsv", *SIGN_IN_OPERATIONS, *SUBSCRIPTIONS["web"], *SUBSCRIPTIONS["mobile"]}


@pytest.mark.parametrize("client", RUNS)
def test_every_operation_of_a_client_has_a_run(client):
    names = {op.name for op in load_operations(client)} - RUN_ELSEWHERE

    assert names == set(RUNS[client])


@pytest.fixture
async def demo(database, clock, settings, http) -> Demo:
    await load_demo(database, clock.now())
    async with database.read() as db:
        users = (await db.scalars(select(models.User).where(
            models.User.email.in_([LEARNER, GUARDIAN, INSTRUCTOR, ADMIN])))).all()
    tokens = {user.email: issue_token(user.id, settings, clock.now()) for user in users}
    learner = next(user for user in users if user.email == LEARNER)
    instructor = next(user for user in users if user.email == INSTRUCTOR)
    async with database.write() as db:
        # A course the learner has had booked classes of (the course screen they open its history from).
        course_id = await db.scalar(
            select(models.LiveSession.course_id).join(models.Booking).where(
                models.Booking.learner_id == learner.id, models.LiveSession.ends_at < clock.now()).limit(1))
        # Booked classes ahead whose course takes absence requests: one for each client to request an
        # absence from, and one with a request already made, for the admin to review.
        absences = (await db.execute(
            select(models.Booking.id, models.LiveSession.id).join(models.LiveSession).join(models.Course).where(
                models.Booking.learner_id == learner.id, models.Booking.status == "BOOKED",
                models.LiveSession.starts_at > clock.now() + timedelta(days=1),
                models.LiveSession.cancelled_at.is_(None), models.Course.absence_requests_enabled.is_(True))
            .order_by(models.LiveSession.starts_at).limit(3))).all()
        assert len(absences) == 3, "the demo data should give the learner classes to request absences from"
        request = models.AbsenceRequest(booking_id=absences[2][0], reason="Travelling", requested_at=clock.now())
        db.add(request)
        await db.flush()
        teaches = await db.scalar(select(models.Instructor.id).where(models.Instructor.user_id == instructor.id))
        bookable = await db.scalar(select(models.Course.id).where(models.Course.bookable.is_(True)).limit(1))
        full_slot = await a_full_slot(db, learner, clock.now())
        demo_endpoint = await db.scalar(select(models.WebhookEndpoint.id).limit(1))
        # The class the instructor taught this morning, to take its attendance.
        ended = await db.scalar(select(models.LiveSession.id).where(
            models.LiveSession.instructor_id == teaches, models.LiveSession.ends_at < clock.now(),
            models.LiveSession.starts_at > clock.now() - timedelta(hours=6)))
    return Demo(http, tokens, found={"now": clock.now(), "today": clock.now().date().isoformat(),
                                     "learnerId": to_global_id("User", learner.id),
                                     "courseId": to_global_id("Course", course_id),
                                     "absenceFrom": [to_global_id("LiveSession", ls) for _, ls in absences],
                                     "absenceRequestId": to_global_id("AbsenceRequest", request.id),
                                     "instructorId": to_global_id("Instructor", teaches),
                                     "bookableCourseId": to_global_id("Course", bookable),
                                     "fullSlotId": to_global_id("BookableSlot", full_slot),
                                     "endedClassId": to_global_id("LiveSession", ended),
                                     "demoWebhookEndpointId": to_global_id("WebhookEndpoint", demo_endpoint)})


async def a_full_slot(db, learner: models.User, now: datetime) -> int:
    """A slot (a week or more ahead) of a course the learner books, filled by someone else: the demo's
    slots start empty, and a waitlist is only for a full one."""
    slot = await db.scalar(
        select(models.BookableSlot).join(models.SessionCourse, models.SessionCourse.course_id
                                         == models.BookableSlot.course_id)
        .join(models.Enrollment, models.Enrollment.session_id == models.SessionCourse.session_id)
        .join(models.Session, models.Session.id == models.Enrollment.session_id)
        .where(models.Enrollment.user_id == learner.id, models.BookableSlot.starts_at > now + timedelta(days=7),
               models.Session.access_end > now + timedelta(days=30))
        .order_by(models.BookableSlot.starts_at).limit(1))
    other = await db.scalar(select(models.User.id).where(models.User.id != learner.id).limit(1))
    live_session = models.LiveSession(
        code="FULL01", course_id=slot.course_id, instructor_id=slot.instructor_id, starts_at=slot.starts_at,
        ends_at=slot.ends_at, capacity=1, created_at=now, updated_at=now)
    db.add(live_session)
    await db.flush()
    db.add(models.Booking(learner_id=other, live_session_id=live_session.id, booked_at=now))
    slot.seats, slot.booked, slot.live_session_id = 1, 1, live_session.id
    await db.flush()
    return slot.id


async def run_all(demo: Demo, client: str) -> list[str]:
    """Runs the client's operations in order; the problems found, by operation."""
    operations = {op.name: op for op in load_operations(client)}
    problems = []
    for name, run in RUNS[client].items():
        variables = run.variables(demo) if callable(run.variables) else run.variables
        body = await demo.send(operations[name], variables, run.login)
        if body.get("errors"):
            problems.append(f"{name} as {run.login}: {body['errors']}")
            continue
        try:
            ok = run.expect(body["data"], demo)
        except (KeyError, IndexError, TypeError, AssertionError) as error:
            ok, body = False, {**body, "exception": repr(error)}
        if not ok:
            problems.append(f"{name} as {run.login}: not the data the screen needs: {body}")
    return problems


@pytest.mark.parametrize("client", ["web", "mobile"])
async def test_the_learner_clients_operations_run_on_the_demo_data(demo, client):
    problems = await run_all(demo, client)

    assert not problems, "\n".join(problems)


async def test_the_admin_clients_operations_run_on_the_demo_data(demo, app, tmp_path):
    problems = await run_all(demo, "admin")
    csv = tmp_path / "enrollments.csv"
    csv.write_text("session,email\nLeadership cohort 4,learner@example.com\nLeadership cohort 4,learner2@example.com\n")

    payload = await import_file(csv, url="http://test/graphql", token=demo.tokens[ADMIN],
                                transport=httpx.ASGITransport(app=app))

    assert not problems, "\n".join(problems)
    assert payload["errors"] == [] and payload["created"] + payload["alreadyEnrolled"] == 2


async def subscribe(socket: GraphQLSocket, operation: Operation, by_hash: bool, **variables: Any) -> None:
    payload: dict[str, Any] = {"operationName": operation.name, "variables": variables}
    if by_hash:
        payload["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}}
    else:
        payload["query"] = operation.document
    await socket.socket.send(json.dumps({"id": operation.name, "type": "subscribe", "payload": payload}))


@pytest.mark.parametrize("client", SUBSCRIPTIONS)
@pytest.mark.parametrize("by_hash", [False, True], ids=["text", "hash"])
async def test_the_subscriptions_run_on_the_demo_data(demo, live_server, client, by_hash):
    operations = {op.name: op for op in load_operations(client)}
    join, changes = (operations[name] for name in SUBSCRIPTIONS[client])
    up_next = await demo.send(operations["Dashboard" if client == "web" else "MobileUpNext"], {}, LEARNER)
    live_session = up_next["data"]["viewer"]["schedule"]["upNext"]
    socket = await GraphQLSocket.connect(live_server, TRANSPORT_WS, demo.tokens[LEARNER])
    try:
        # The Join window of the class starting in ten minutes is open.
        await subscribe(socket, join, by_hash, liveSessionId=live_session["id"])
        joined = await socket.next_data()
        # An admin moves it by five minutes: it is on the learner's schedule, so they hear of it.
        await subscribe(socket, changes, by_hash)
        await asyncio.sleep(0.1)
        starts_at = datetime.fromisoformat(live_session["startsAt"]) + timedelta(minutes=5)
        moved = await demo.http.post("/graphql", json={"query": RESCHEDULE, "variables": {
            "id": live_session["id"], "startsAt": starts_at.isoformat(),
            "endsAt": (starts_at + timedelta(hours=1)).isoformat()}},
            headers={"Authorization": f"Bearer {demo.tokens[ADMIN]}"})
        assert moved.json()["data"]["updateLiveSession"]["errors"] == []
        heard = {}
        while len(heard) < 2:
            message = await socket.next_message()
            assert message["type"] == "next" and not message["payload"].get("errors"), message
            heard[message["id"]] = message["payload"]["data"]
    finally:
        await socket.close()

    assert joined["joinAvailability"]["isOpen"] is True and joined["joinAvailability"]["url"]
    assert heard[changes.name]["scheduleChanged"]["kind"] == "RESCHEDULED"
    assert heard[changes.name]["scheduleChanged"]["liveSession"]["startsAt"] == starts_at.isoformat()
    assert heard[join.name]["joinAvailability"]["isOpen"] is True  # still open: it starts in 15 minutes now


RESCHEDULE = """mutation Reschedule($id: ID!, $startsAt: DateTime!, $endsAt: DateTime!) {
  updateLiveSession(input: {id: $id, startsAt: $startsAt, endsAt: $endsAt}) { errors { code message } }
}"""


async def test_every_operation_runs_by_hash_alone_on_a_service_running_trusted_documents_only(demo, client_with,
                                                                                          tmp_path):
    trusted = await client_with(trusted_documents_only=True)
    demo.http, demo.by_hash = trusted, True
    csv = tmp_path / "enrollments.csv"
    csv.write_text("session,email\nLeadership cohort 4,learner@example.com\n")

    problems = [problem for client in RUNS for problem in await run_all(demo, client)]
    payload = await import_file(csv, url="http://test/graphql", token=demo.tokens[ADMIN],
                                transport=httpx.ASGITransport(app=trusted.app))

    assert not problems, "\n".join(problems)
    assert payload["errors"] == []
