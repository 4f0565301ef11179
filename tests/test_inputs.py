"""Every bad input refused cleanly: a coded, masked GraphQL error, never INTERNAL or plain text (issue #16)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.infrastructure.tokens import issue_token
from tests.conftest import NOW
from tests.schedule_data import data  # noqa: F401


def codes(body: dict) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def post_raw(http, content: bytes, headers: dict[str, str] | None = None):
    return await http.post("/graphql", content=content, headers={"content-type": "application/json", **(headers or {})})


async def row_count(database, table) -> int:
    async with database.read() as db:
        return await db.scalar(select(func.count()).select_from(table))


# --- A: bounds on every integer input ---

CREATE_COURSE = """mutation($input: CreateCourseInput!) { createCourse(input: $input) {
  course { creditCost joinLeadMinutes cancellationNoticeMinutes } errors { code field message } } }"""

COURSE_BOUNDS = {"creditCost": (0, 10_000), "joinLeadMinutes": (0, 1440), "cancellationNoticeMinutes": (0, 43_200)}


@pytest.mark.parametrize("field", sorted(COURSE_BOUNDS))
async def test_course_numbers_are_bounded_and_named(admin, database, field):
    low, high = COURSE_BOUNDS[field]
    for value in (low - 1, high + 1, 2147483647, -2147483648):
        body = await admin.execute(CREATE_COURSE, input={"code": f"C{value}", "title": "T", field: value})
        assert body["data"]["createCourse"]["course"] is None
        assert [(e["code"], e["field"]) for e in body["data"]["createCourse"]["errors"]] == [("VALIDATION", [field])]
        assert str(high) in body["data"]["createCourse"]["errors"][0]["message"]
    assert await row_count(database, models.Course) == 0
    for value in (low, high):
        body = await admin(CREATE_COURSE, input={"code": f"OK{value}", "title": "T", field: value})
        assert body["createCourse"]["course"][field] == value


async def test_a_session_duration_is_bounded(admin, database):
    document = """mutation($input: CreateSessionInput!) { createSession(input: $input) {
      session { durationDays } errors { code field } } }"""
    for value in (0, 3661, 2147483647):
        body = await admin(document, input={"name": f"S{value}", "durationDays": value})
        assert body["createSession"]["errors"] == [{"code": "VALIDATION", "field": ["durationDays"]}]
    assert await row_count(database, models.Session) == 0
    assert (await admin(document, input={"name": "Long", "durationDays": 3660}))["createSession"]["session"] == {
        "durationDays": 3660}


async def test_capacity_and_seats_are_bounded(admin, data, database):
    course = await data.course("MATH", bookable=True)
    teacher = await data.instructor("Ines")
    starts = NOW + timedelta(days=1)
    live = {"courseId": gid(f"Course:{course.id}"), "instructorId": gid(f"Instructor:{teacher.id}"),
            "startsAt": starts.isoformat(), "endsAt": (starts + timedelta(hours=1)).isoformat()}
    create = """mutation($input: CreateLiveSessionInput!) { createLiveSession(input: $input) {
      liveSession { id capacity } errors { code field } } }"""
    for value in (0, 1001, 2147483647):
        body = await admin(create, input={**live, "capacity": value})
        assert body["createLiveSession"]["errors"] == [{"code": "VALIDATION", "field": ["capacity"]}]
    assert await row_count(database, models.LiveSession) == 0
    created = (await admin(create, input={**live, "capacity": 1000}))["createLiveSession"]["liveSession"]
    update = """mutation($input: UpdateLiveSessionInput!) { updateLiveSession(input: $input) {
      liveSession { capacity } errors { code field } } }"""
    body = await admin(update, input={"id": created["id"], "capacity": 2147483647})
    assert body["updateLiveSession"]["errors"] == [{"code": "VALIDATION", "field": ["capacity"]}]
    publish = """mutation($input: PublishAvailabilityInput!) { publishAvailability(input: $input) {
      errors { code field } } }"""
    slot = {"startsAt": starts.isoformat(), "endsAt": (starts + timedelta(hours=1)).isoformat()}
    body = await admin(publish, input={"courseId": live["courseId"], "instructorId": live["instructorId"],
                                       "slots": [{**slot, "seats": 1001}]})
    assert body["publishAvailability"]["errors"] == [{"code": "VALIDATION", "field": ["slots", "0", "seats"]}]
    assert await row_count(database, models.BookableSlot) == 0


async def test_a_balance_stays_far_inside_the_integer_column(admin, make_user, database):
    learner = await make_user("Rich")
    async with database.write() as db:
        db.add(models.CreditAccount(user_id=learner.id, balance=999_999_999))
    document = """mutation($input: DepositCreditsInput!) { depositCredits(input: $input) {
      creditTransaction { balanceAfter } errors { code field } } }"""
    refused = await admin(document, input={"userId": gid(f"User:{learner.id}"), "amount": 2})
    assert refused["depositCredits"]["errors"] == [{"code": "VALIDATION", "field": ["amount"]}]
    assert await row_count(database, models.CreditTransaction) == 0
    taken = await admin(document, input={"userId": gid(f"User:{learner.id}"), "amount": 1})
    assert taken["depositCredits"]["creditTransaction"] == {"balanceAfter": 1_000_000_000}


@pytest.mark.parametrize(("first", "code"), [(-1, "BAD_USER_INPUT"), (2147483648, "BAD_USER_INPUT"),
                                             (10**30, "BAD_USER_INPUT")])
async def test_page_sizes_out_of_range_are_bad_user_input(admin, first, code):
    body = await admin.execute("query($n: Int) { courses(first: $n) { totalCount } }", n=first)
    assert codes(body) == [code]
    assert "first" in body["errors"][0]["message"] or "$n" in body["errors"][0]["message"]


async def test_a_huge_page_size_is_capped_not_refused(admin):
    assert (await admin("{ courses(first: 2147483647) { edges { cursor } } }"))["courses"] == {"edges": []}


# --- C: time zones and scalars ---

NOT_PLACES = ["right/Europe/London", "posix/Europe/London", "localtime", "posixrules", "Factory", "/etc/localtime",
              "../zoneinfo/UTC", "europe/london", "Europe/London ", "x" * 10_000]

CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { timeZone } errors { code field message } } }"""


def test_zones_come_from_the_pinned_tzdata_only():
    import zoneinfo

    import tzdata

    from sessiongraph.infrastructure.zones import ZONE_NAMES

    # No host path: every zone the service builds is read from the tzdata package the lock pins.
    assert zoneinfo.TZPATH == ()
    assert {name for name in zoneinfo.available_timezones()
                          if not name.startswith(("right/", "posix/"))} - {"Factory", "localtime", "posixrules"} == ZONE_NAMES
    assert {"Europe/London", "America/New_York", "UTC"} <= ZONE_NAMES
    assert "Factory" in zoneinfo.available_timezones() and tzdata.IANA_VERSION


@pytest.mark.parametrize("zone", NOT_PLACES)
async def test_a_user_zone_must_be_a_place_in_tzdata(admin, database, zone):
    before = await row_count(database, models.User)
    body = await admin(CREATE_USER, input={"email": "zed@example.com", "name": "Zed", "timeZone": zone})
    errors = body["createUser"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", ["timeZone"])]
    assert len(errors[0]["message"]) < 200
    assert await row_count(database, models.User) == before


async def test_a_place_in_tzdata_is_a_user_zone(admin):
    body = await admin(CREATE_USER, input={"email": "lon@example.com", "name": "Lon", "timeZone": "Europe/London"})
    assert body["createUser"]["user"] == {"timeZone": "Europe/London"}


@pytest.mark.parametrize("zone", NOT_PLACES)
async def test_a_time_zone_argument_must_be_a_place(caller, make_user, zone):
    learner = caller(await make_user("Lea"))
    body = await learner.execute("query($z: String) { viewer { schedule { today(timeZone: $z) { id } } } }", z=zone)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert len(body["errors"][0]["message"]) < 200


@pytest.mark.parametrize("text", ["2026-03-08T10:00:00Z", "2026-03-08t10:00:00z", "2026-03-08T10:00:00.123456789+01:00",
                                  "2026-03-08T10:00:00-00:00", "1900-01-01T00:00:00Z", "2199-12-31T23:59:59Z"])
def test_datetime_takes_rfc_3339(text):
    from sessiongraph.schema.scalars import parse_datetime

    assert parse_datetime(text).utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-03-08T24:00:00Z", "2026-03-08T10:00Z", "2026-03-08T10:00:00", "20260308T100000Z",
                                  "2026-03-08 10:00:00Z", "2026-03-08T10:00:60Z", "2026-03-08T10:00:00+24:00",
                                  "2026-02-30T10:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "1899-12-31T23:00:00-02:00", "\uff12026-03-08T10:00:00Z", "2026-03-08T10:00:00+0100"])
async def test_datetime_refuses_all_else_as_bad_user_input(admin, text):
    body = await admin.execute("query($from: DateTime) { sessions(filter: {from: $from}) { totalCount } }", **{"from": text})
    assert codes(body) == ["BAD_USER_INPUT"]


CREATE_CATEGORY = """mutation($input: CreateSessionCategoryInput!) { createSessionCategory(input: $input) {
  sessionCategory { start } errors { code field } } }"""


@pytest.mark.parametrize("text", ["20260308", "2026-W10-7", "2026-3-8", "2026-03-08T00:00:00", "0001-01-01",
                                  "9999-12-31", "1899-12-31", "2200-01-01", "2026-02-30"])
async def test_date_takes_only_yyyy_mm_dd_in_the_window(admin, database, text):
    body = await admin.execute(CREATE_CATEGORY, input={"name": "Spring", "start": text})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "start" in body["errors"][0]["message"]
    assert await row_count(database, models.SessionCategory) == 0


async def test_a_calendar_far_from_today_is_bad_user_input(caller, make_user):
    learner = caller(await make_user("Lea"))
    document = "query($d: Date!) { viewer { schedule { calendar(view: MONTH, date: $d) { timeZone } } } }"
    for far in ("0001-01-01", "9999-12-31"):
        assert codes(await learner.execute(document, d=far)) == ["BAD_USER_INPUT"]
    assert (await learner(document, d="2199-12-31"))["viewer"]["schedule"]["calendar"]["timeZone"] == "UTC"


@pytest.mark.parametrize("cell", ["9999/12/31", "0001/01/01", "1899/12/31", "٢٠٢٦/03/08"])
async def test_a_csv_date_outside_the_window_is_a_row_error(admin, database, cell):
    from tests.imports_support import import_csv

    payload = await import_csv(admin, f"SessionName,DateStart,DateEnd\nFar,2026/01/01,{cell}\n")
    assert [(error["line"], error["column"]) for error in payload["rowErrors"]] == [(2, "DateEnd")]
    assert await row_count(database, models.Session) == 0


# --- D: garbage bodies and strings ---

async def test_a_body_that_is_not_utf8_is_a_coded_400(http):
    response = await post_raw(http, b'{"query": "{ __typename }", "x": "\xff\xfe"}')
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_a_5000_digit_number_in_variables_is_a_coded_400(http, admin):
    body = ('{"query": "query($n: Int) { courses(first: $n) { totalCount } }", "variables": {"n": '
            + "9" * 5000 + "}}").encode()
    response = await post_raw(http, body, admin.headers)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "\udfff tail"])
async def test_unstorable_text_in_a_variable_is_bad_user_input(http, admin, text):
    response = await post_raw(http, json.dumps({"query": "query($s: String) { courses(search: $s) { totalCount } }",
                                                "variables": {"s": text}}).encode(), admin.headers)
    body = response.json()
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "$s" in body["errors"][0]["message"]


async def test_unstorable_text_deep_in_an_input_names_its_path(admin, database):
    body = await admin.execute("mutation($input: CreateCourseInput!) { createCourse(input: $input) { course { id } } }",
                               input={"code": "C\x00", "title": "T"})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "$input.code" in body["errors"][0]["message"]
    assert (await admin("{ courses { totalCount } }"))["courses"]["totalCount"] == 0


async def test_a_nul_in_a_string_literal_is_bad_user_input(admin):
    body = await admin.execute('{ courses(search: "\\u0000") { totalCount } }')
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "'search'" in body["errors"][0]["message"]


async def test_a_long_chain_of_fragments_is_refused_with_a_code(admin):
    count = 300
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} }}\n" for i in range(count))
    body = await admin.execute("{ ...F0 }\n" + fragments + f"fragment F{count} on Query {{ __typename }}\n")
    assert "QUERY_TOO_DEEP" in codes(body)
    assert all(codes(body)) and "INTERNAL" not in codes(body)
    assert not any("recursion" in error["message"] for error in body["errors"])


# --- B: canonical global IDs only ---

def gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def non_canonical_ids(type_name: str, db_id: int) -> list[str]:
    """IDs that int() or a lax base64 decoder would read as `type_name` `db_id`."""
    canonical = gid(f"{type_name}:{db_id}")
    stripped = canonical.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    # The last character before padding has bits no byte uses: flipping one decodes the same.
    spare = alphabet[alphabet.index(stripped[-1]) ^ 1]
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in str(db_id))
    forms = [f"{type_name}: {db_id}", f"{type_name}:{db_id} ", f"{type_name}:0{db_id}", f"{type_name}:+{db_id}",
             f"{type_name}:0_{db_id}", f"{type_name}:{arabic_indic}", f"{type_name}:{db_id}.0"]
    ids = [gid(form) for form in forms]
    if canonical.endswith("="):
        ids.append(stripped[:-1] + spare + canonical[len(stripped):])
    return ids


TOO_LARGE = ["User:2147483648", "User:99999999999", "User:" + "9" * 30, "User:-1"]


async def test_node_finds_only_canonical_ids(admin):
    user_id = admin.user.id
    query = "query($id: ID!) { node(id: $id) { id } }"
    canonical = gid(f"User:{user_id}")
    assert (await admin(query, id=canonical))["node"] == {"id": canonical}
    for other in non_canonical_ids("User", user_id):
        assert await admin.execute(query, id=other) == {"data": {"node": None}}, base64.b64decode(other)


@pytest.mark.parametrize("raw", TOO_LARGE)
async def test_node_of_an_id_past_the_integer_range_is_null(admin, raw):
    assert await admin.execute("query($id: ID!) { node(id: $id) { id } }", id=gid(raw)) == {"data": {"node": None}}


def refusal(body: dict, field: str) -> tuple:
    """What a mutation answered, without the ID its messages echo."""
    payload = (body.get("data") or {}).get(field) or {}
    return (codes(body), [(error["code"], error["field"]) for error in payload.get("errors") or []])


MUTATIONS = {
    "cancelBooking": ("mutation($id: ID!) { cancelBooking(input: {bookingId: $id}) { errors { code field } } }",
                      "Booking"),
    "bookSlot": ("mutation($id: ID!) { bookSlot(input: {slotId: $id}) { errors { code field } } }", "BookableSlot"),
    "depositCredits": ("mutation($id: ID!) { depositCredits(input: {userId: $id, amount: 5}) "
                       "{ errors { code field } } }", "User"),
    "enrollLearners": ("mutation($id: ID!) { enrollLearners(input: {sessionId: $id, userIds: []}) "
                       "{ errors { code field } } }", "Session"),
}


@pytest.mark.parametrize("field", sorted(MUTATIONS))
async def test_mutations_refuse_bad_ids_as_they_refuse_missing_objects(admin, make_user, caller, field):
    document, type_name = MUTATIONS[field]
    who = admin if field in ("depositCredits", "enrollLearners") else caller(await make_user("Lea"))
    missing = refusal(await who.execute(document, id=gid(f"{type_name}:2147483647")), field)
    assert missing[1] and "INTERNAL" not in missing[0]
    for raw in [*TOO_LARGE, f"{type_name}:0_1", f"{type_name}: 1"]:
        assert refusal(await who.execute(document, id=gid(raw.replace("User", type_name))), field) == missing, raw


@pytest.mark.parametrize("subject", ["99999999999", "2147483648", "0_{id}", " {id}", "+{id}", "{arabic}", "{id}.0"])
async def test_a_token_whose_subject_is_no_database_id_is_a_401(http, settings, clock, admin, subject):
    user_id = admin.user.id
    arabic = "".join(chr(0x0660 + int(digit)) for digit in str(user_id))
    token = jwt.encode({"sub": subject.format(id=user_id, arabic=arabic), "exp": clock.now() + timedelta(hours=1)},
                       settings.jwt_secret, algorithm="HS256")
    response = await http.post("/graphql", json={"query": "{ viewer { user { name } } }"},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("key", [["v", 10**20], ["v", [1]], ["v", 1.5], ["v", {"a": 1}]])
async def test_a_forged_cursor_is_bad_user_input(admin, key):
    """`users` sorts by (name, id): a cursor of that width whose ID SQL cannot take."""
    cursor = base64.urlsafe_b64encode(json.dumps([["v", "Ada"], key]).encode()).decode()
    body = await admin.execute("query($after: String) { users(after: $after) { totalCount } }", after=cursor)
    assert codes(body) == ["BAD_USER_INPUT"]


# --- D, found by tests/test_garbage.py: WebSocket messages of the wrong shape ---

WS_SUBSCRIPTION = "subscription { scheduleChanged { kind } }"


async def ws_answers(live_server, init_payload, *messages):
    from tests.test_garbage import ws_exchange

    init = json.dumps({"type": "connection_init", "payload": init_payload})
    return await ws_exchange(live_server, [init, *map(json.dumps, messages)])


@pytest.mark.parametrize("message", [5, "subscribe", [], {"type": 5}, {"type": "subscribe", "id": "1", "payload": 5}])
async def test_a_websocket_message_that_is_no_message_closes_with_4400(live_server, settings, clock, admin, message):
    token = issue_token(admin.user.id, settings, clock.now())
    assert await ws_answers(live_server, {"authorization": f"Bearer {token}"}, message) == [
        {"type": "connection_ack"}, 4400]


@pytest.mark.parametrize("payload", [{}, {"query": 5}, {"query": WS_SUBSCRIPTION, "variables": 5},
                                     {"query": WS_SUBSCRIPTION, "operationName": 5}])
async def test_a_subscribe_payload_that_cannot_run_is_a_coded_error(live_server, settings, clock, admin, payload):
    token = issue_token(admin.user.id, settings, clock.now())
    answers = await ws_answers(live_server, {"authorization": f"Bearer {token}"},
                               {"id": "1", "type": "subscribe", "payload": payload})
    assert answers[0] == {"type": "connection_ack"}
    assert answers[1]["type"] == "error"
    assert [error["extensions"]["code"] for error in answers[1]["payload"]] == ["BAD_REQUEST"]


async def test_a_connection_init_token_with_a_lone_surrogate_is_refused(live_server):
    assert await ws_answers(live_server, {"authorization": "Bearer \ud800"}) == [4403]


@pytest.mark.parametrize("messages", [[5], [{"type": "connection_init", "payload": True}],
                                      ["start"], [{"type": ["start"]}]])
async def test_a_legacy_graphql_ws_message_that_is_no_message_closes_with_4400(live_server, messages):
    from tests.test_garbage import ws_exchange
    from tests.ws_client import LEGACY_WS

    answers = await ws_exchange(live_server, [json.dumps(message) for message in messages], LEGACY_WS)
    assert [answer for answer in answers if answer != {"type": "ka"}][-1] == 4400


@pytest.mark.parametrize("payload", [5, {}, {"query": WS_SUBSCRIPTION, "variables": 5}])
async def test_a_legacy_start_payload_that_cannot_run_is_a_coded_error(live_server, settings, clock, admin, payload):
    from tests.test_garbage import ws_exchange
    from tests.ws_client import LEGACY_WS

    token = issue_token(admin.user.id, settings, clock.now())
    messages = [{"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}},
                {"id": "1", "type": "start", "payload": payload}]
    answers = [answer for answer in await ws_exchange(live_server, [json.dumps(m) for m in messages], LEGACY_WS)
               if answer != {"type": "ka"}]
    assert answers[0] == {"type": "connection_ack"}
    assert answers[1]["type"] == "error" and answers[1]["payload"]["extensions"]["code"] == "BAD_REQUEST"
