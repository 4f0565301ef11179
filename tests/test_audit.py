"""The audit log: every admin mutation records who, when, what and how, in its own transaction; auditLog
pages it for admins, with filters; secrets never reach it."""

import json

from sqlalchemy import func, select

from sessiongraph.models import AuditEntry
from sessiongraph.schema.relay import to_global_id
from tests.conftest import NOW

AUDIT_LOG = """query($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    edges { node { id at actor { name } action subjectId changes } }
    pageInfo { hasNextPage endCursor } totalCount } }"""
CREATE_SESSION = """mutation($name: String!) { createSession(input: {name: $name}) { session { id } errors { code } } }"""
UPDATE_SESSION = """mutation($input: UpdateSessionInput!) { updateSession(input: $input) {
  session { id } errors { code } } }"""
DELETE_SESSION = """mutation($id: ID!) { deleteSession(input: {id: $id}) { deletedId errors { code } } }"""
ENROLL = """mutation($input: EnrollLearnersInput!) { enrollLearners(input: $input) { enrolledCount errors { code } } }"""
UNENROLL = """mutation($input: UnenrollLearnersInput!) { unenrollLearners(input: $input) {
  unenrolledCount errors { code } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }"""


async def entries(admin, **variables):
    return [edge["node"] for edge in (await admin(AUDIT_LOG, **variables))["auditLog"]["edges"]]


async def create_session(admin, name="Spring"):
    return (await admin(CREATE_SESSION, name=name))["createSession"]["session"]["id"]


async def test_an_update_records_who_when_what_and_the_fields_before_and_after(admin, clock):
    session_id = await create_session(admin)
    clock.advance(minutes=5)

    await admin(UPDATE_SESSION, input={"id": session_id, "name": "Autumn", "description": "New"})
    newest = (await entries(admin))[0]

    assert newest["action"] == "updateSession"
    assert newest["actor"] == {"name": "Ada Admin"}
    assert newest["subjectId"] == session_id
    assert newest["at"] == "2026-03-10T12:05:00+00:00"
    assert json.loads(newest["changes"]) == {"name": ["Spring", "Autumn"], "description": [None, "New"]}


async def test_a_creation_records_the_new_fields_from_nothing(admin):
    session_id = await create_session(admin)

    (created,) = await entries(admin)

    assert created["action"] == "createSession"
    assert created["subjectId"] == session_id
    assert json.loads(created["changes"])["name"] == [None, "Spring"]


async def test_a_refused_mutation_records_nothing(admin, database):
    session_id = await create_session(admin)

    refused = await admin(UPDATE_SESSION, input={"id": session_id, "accessWindow": {
        "start": "2026-05-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}})
    async with database.read() as db:
        count = await db.scalar(select(func.count()).select_from(AuditEntry))

    assert refused["updateSession"]["errors"][0]["code"] == "INVALID_WINDOW"
    assert count == 1  # the creation only


async def test_a_deletion_records_what_was_there(admin):
    session_id = await create_session(admin)

    await admin(DELETE_SESSION, id=session_id)
    deleted = (await entries(admin))[0]

    assert deleted["action"] == "deleteSession"
    assert deleted["subjectId"] == session_id
    assert json.loads(deleted["changes"])["name"] == ["Spring", None]


async def test_enrolling_and_unenrolling_record_the_learners(admin, make_user):
    session_id = await create_session(admin)
    learner = await make_user("Lena")
    learner_id = to_global_id("User", learner.id)

    await admin(ENROLL, input={"sessionId": session_id, "userIds": [learner_id]})
    await admin(UNENROLL, input={"sessionId": session_id, "userIds": [learner_id]})
    unenrolled, enrolled = (await entries(admin))[:2]

    assert (enrolled["action"], enrolled["subjectId"]) == ("enrollLearners", session_id)
    assert [row["userId"] for row in json.loads(enrolled["changes"])["enrollment"][1]] == [learner.id]
    assert (unenrolled["action"], unenrolled["subjectId"]) == ("unenrollLearners", session_id)
    assert json.loads(unenrolled["changes"]) == {"learners": [[learner_id], []]}


async def test_no_password_hash_or_secret_reaches_the_log(admin, database):
    await admin(CREATE_USER, input={"email": "pw@example.test", "name": "Pw", "password": "a long enough password",
                                    "sendInvitation": True})

    async with database.read() as db:
        logged = (await db.scalars(select(AuditEntry.changes))).all()

    assert logged and "argon2" not in "".join(logged)
    assert "passwordHash" not in logged[0] and "tokenHash" not in logged[0]
    assert json.loads(logged[0])["email"] == [None, "pw@example.test"]


async def test_an_update_user_records_the_changed_settings(admin, make_user):
    lena = await make_user("Lena")

    await admin("""mutation($id: ID!) { updateUser(input: {id: $id, active: false, timeZone: "Europe/Paris"}) {
      errors { code } } }""", id=to_global_id("User", lena.id))
    (entry,) = await entries(admin)

    assert entry["action"] == "updateUser"
    assert entry["subjectId"] == to_global_id("User", lena.id)
    assert json.loads(entry["changes"]) == {"active": [True, False], "timeZone": ["UTC", "Europe/Paris"]}


async def test_the_log_pages_newest_first_by_keyset(admin, clock):
    for n in range(5):
        await create_session(admin, f"Session {n}")
        clock.advance(minutes=1)

    first = (await admin(AUDIT_LOG, first=2))["auditLog"]
    second = (await admin(AUDIT_LOG, first=2, after=first["pageInfo"]["endCursor"]))["auditLog"]
    third = (await admin(AUDIT_LOG, first=2, after=second["pageInfo"]["endCursor"]))["auditLog"]
    names = [json.loads(edge["node"]["changes"])["name"][1] for page in (first, second, third) for edge in page["edges"]]

    assert names == [f"Session {n}" for n in (4, 3, 2, 1, 0)]
    assert first["totalCount"] == 5
    assert (first["pageInfo"]["hasNextPage"], third["pageInfo"]["hasNextPage"]) == (True, False)


async def test_the_log_filters_by_actor_subject_and_time(admin, caller, make_user, clock):
    other_admin = caller(await make_user("Otto Admin", is_admin=True))
    spring = await create_session(admin, "Spring")
    clock.advance(hours=1)
    await create_session(other_admin, "Autumn")
    await admin(UPDATE_SESSION, input={"id": spring, "description": "Later"})

    by_otto = await entries(admin, filter={"actorId": to_global_id("User", other_admin.user.id)})
    about_spring = await entries(admin, filter={"subjectId": spring})
    early = await entries(admin, filter={"to": "2026-03-10T12:30:00Z"})
    late = await entries(admin, filter={"from": "2026-03-10T12:30:00Z"})
    nobody = await entries(admin, filter={"actorId": "not-an-id"})

    assert [e["actor"]["name"] for e in by_otto] == ["Otto Admin"]
    assert [e["action"] for e in about_spring] == ["updateSession", "createSession"]
    assert [e["at"] for e in early] == [NOW.isoformat()]
    assert len(late) == 2
    assert nobody == []


async def test_only_admins_read_the_log(admin, caller, make_user, anonymous):
    await create_session(admin)
    learner = caller(await make_user("Lena"))

    as_learner = await learner.execute(AUDIT_LOG)
    as_anonymous = await anonymous.execute(AUDIT_LOG)
    entry_id = (await entries(admin))[0]["id"]
    node = await learner("query($id: ID!) { node(id: $id) { id } }", id=entry_id)

    assert as_learner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert as_anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert node == {"node": None}


# DESIGN.md's admin tooling mutations, and updateUser (Version 2). A branch that adds an admin mutation
# wires it with one line (`@audited("name", subject=Model)` on its resolver function) and names it here.
ADMIN_MUTATIONS = {
    "createUser", "createCourse", "createSessionCategory", "createClass", "createSession", "updateSession",
    "deleteSession", "setSessionCourses", "setCourseCoaches", "enrollLearners", "unenrollLearners", "importCsv",
    "createLiveSession", "updateLiveSession", "cancelLiveSession", "publishAvailability", "depositCredits",
    "linkGuardian", "reviewAbsenceRequest", "recordAttendance", "updateUser",
    "createWebhookEndpoint", "updateWebhookEndpoint", "deleteWebhookEndpoint",
}


def test_every_admin_mutation_is_audited():
    import sessiongraph.schema  # noqa: F401  (imports every resolver module)
    from sessiongraph.resolvers.audit import AUDITED_ACTIONS

    assert not ADMIN_MUTATIONS - AUDITED_ACTIONS, ADMIN_MUTATIONS - AUDITED_ACTIONS


async def test_a_deposit_records_the_balance_and_the_transaction_under_the_user(admin, make_user):
    lena = await make_user("Lena")

    await admin("""mutation($id: ID!) { depositCredits(input: {userId: $id, amount: 50}) { errors { code } } }""",
                id=to_global_id("User", lena.id))
    (entry,) = await entries(admin)
    changes = json.loads(entry["changes"])

    assert (entry["action"], entry["subjectId"]) == ("depositCredits", to_global_id("User", lena.id))
    assert changes["credit_transaction"][1][0]["amount"] == 50
    assert changes["credit_transaction"][1][0]["balanceAfter"] == 50
    assert "credit_account" not in changes  # its upsert's values are not the balance after it


async def test_an_import_records_its_rows_listing_the_first_ones(admin, make_user):
    from sessiongraph.resolvers.audit import LISTED_ROWS
    from tests.imports_support import import_csv

    await create_session(admin, "Autumn")
    learners = [await make_user(f"L{n}", f"l{n}@example.test") for n in range(LISTED_ROWS + 3)]
    rows = "".join(f"Autumn,{learner.email}\n" for learner in learners)

    payload = await import_csv(admin, "session,email\n" + rows)
    newest = (await entries(admin))[0]
    enrollments = json.loads(newest["changes"])["enrollment"][1]

    assert payload["created"] == LISTED_ROWS + 3
    assert newest["action"] == "importCsv"
    assert len(enrollments) == LISTED_ROWS + 1 and enrollments[-1] == "… and 3 more"


CREATE_WEBHOOK = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  webhookEndpoint { id } secret errors { code } } }"""
DELETE_WEBHOOK = """mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) { deletedId errors { code } } }"""


async def test_a_webhook_endpoint_is_logged_without_its_secret(admin):
    made = (await admin(CREATE_WEBHOOK, input={"url": "https://93.184.216.34/hooks",
                                               "eventTypes": ["booking.created"]}))["createWebhookEndpoint"]
    endpoint_id = made["webhookEndpoint"]["id"]
    assert (await admin(DELETE_WEBHOOK, id=endpoint_id))["deleteWebhookEndpoint"]["errors"] == []

    deleted, created = await entries(admin)
    assert (created["action"], created["subjectId"]) == ("createWebhookEndpoint", endpoint_id)
    assert (deleted["action"], deleted["subjectId"]) == ("deleteWebhookEndpoint", endpoint_id)
    assert json.loads(created["changes"])["url"] == [None, "https://93.184.216.34/hooks"]
    assert json.loads(deleted["changes"])["url"] == ["https://93.184.216.34/hooks", None]
    for entry in (created, deleted):
        assert made["secret"] not in entry["changes"] and "secret" not in json.loads(entry["changes"])
