"""updateUser: what a user changes of themselves, what only admins change, and deactivation."""

from sessiongraph.schema.relay import to_global_id

UPDATE = """mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { name timeZone weekStart emailNotifications isAdmin active } errors { field code } } }"""


def gid(user):
    return to_global_id("User", user.id)


async def test_a_user_changes_their_own_settings(make_user, caller):
    lena = await make_user("Lena")

    body = await caller(lena)(UPDATE, input={"id": gid(lena), "name": " Lena B ", "timeZone": "Europe/Paris",
                                             "weekStart": "SUNDAY", "emailNotifications": False})

    assert body["updateUser"] == {"user": {"name": "Lena B", "timeZone": "Europe/Paris", "weekStart": "SUNDAY",
                                           "emailNotifications": False, "isAdmin": False, "active": True},
                                  "errors": []}


async def test_left_out_fields_stay_as_they_were(make_user, caller):
    lena = await make_user("Lena", time_zone="Asia/Tokyo")

    body = await caller(lena)(UPDATE, input={"id": gid(lena), "emailNotifications": False})

    assert body["updateUser"]["user"]["name"] == "Lena"
    assert body["updateUser"]["user"]["timeZone"] == "Asia/Tokyo"


async def test_a_user_cannot_make_themselves_admin_or_reactivate(make_user, caller):
    lena = await make_user("Lena")

    promoted = await caller(lena).execute(UPDATE, input={"id": gid(lena), "isAdmin": True})
    activated = await caller(lena).execute(UPDATE, input={"id": gid(lena), "active": True})

    assert promoted["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert activated["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_users_account_is_not_found_for_a_non_admin(make_user, caller):
    lena, other = await make_user("Lena"), await make_user("Other")

    body = await caller(lena)(UPDATE, input={"id": gid(other), "name": "Hacked"})

    assert body["updateUser"] == {"user": None, "errors": [{"field": ["id"], "code": "NOT_FOUND"}]}


async def test_an_admin_changes_anything_of_another_user(make_user, admin):
    lena = await make_user("Lena")

    body = await admin(UPDATE, input={"id": gid(lena), "name": "Lena Admin", "isAdmin": True, "active": False})

    assert body["updateUser"]["user"] | {} == {"name": "Lena Admin", "timeZone": "UTC", "weekStart": "MONDAY",
                                               "emailNotifications": True, "isAdmin": True, "active": False}


async def test_an_admin_cannot_deactivate_or_demote_themselves(admin):
    deactivated = await admin(UPDATE, input={"id": gid(admin.user), "active": False})
    demoted = await admin(UPDATE, input={"id": gid(admin.user), "isAdmin": False})

    assert deactivated["updateUser"]["errors"] == [{"field": ["active"], "code": "VALIDATION"}]
    assert demoted["updateUser"]["errors"] == [{"field": ["isAdmin"], "code": "VALIDATION"}]


async def test_bad_settings_are_refused_with_every_field_named_and_nothing_written(make_user, caller):
    lena = await make_user("Lena")

    body = await caller(lena)(UPDATE, input={"id": gid(lena), "name": "  ", "timeZone": "Mars/Olympus"})
    after = await caller(lena)("{ viewer { user { name timeZone } } }")

    assert sorted(e["field"][0] for e in body["updateUser"]["errors"]) == ["name", "timeZone"]
    assert after["viewer"]["user"] == {"name": "Lena", "timeZone": "UTC"}


async def test_a_deactivated_users_token_is_refused_at_once_and_their_history_stays(make_user, admin, caller):
    lena = await make_user("Lena")
    await admin(UPDATE, input={"id": gid(lena), "active": False})

    refused = await caller(lena).http.post("/graphql", json={"query": "{ viewer { user { name } } }"},
                                           headers=caller(lena).headers)
    listed = await admin("{ users { edges { node { name active } } } }")

    assert refused.status_code == 401
    assert {"name": "Lena", "active": False} in [edge["node"] for edge in listed["users"]["edges"]]


async def test_anonymous_update_is_unauthenticated(make_user, anonymous):
    lena = await make_user("Lena")

    body = await anonymous.execute(UPDATE, input={"id": gid(lena), "name": "X"})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
