"""Password sign-in as a client does it: signIn, the access token on requests, refreshToken's rotation,
signOut, setPassword, invitations, the lock-out and the sign-in rate limits."""

import hashlib
import statistics
import time

from sqlalchemy import select

from sessiongraph.infrastructure.passwords import hash_password
from sessiongraph.models import Invitation, RefreshToken, User
from sessiongraph.schema.relay import to_global_id

PASSWORD = "correct horse battery staple"

SIGN_IN = """mutation($email: String!, $password: String!) { signIn(input: {email: $email, password: $password}) {
  tokens { accessToken accessTokenExpiresAt refreshToken user { id email } } errors { field code message } } }"""
REFRESH = """mutation($refresh: String!) { refreshToken(input: {refreshToken: $refresh}) {
  tokens { accessToken refreshToken } errors { field code message } } }"""
SIGN_OUT = """mutation($refresh: String!) { signOut(input: {refreshToken: $refresh}) { revoked errors { code } } }"""
SET_PASSWORD = """mutation($input: SetPasswordInput!) { setPassword(input: $input) {
  user { email } errors { field code } } }"""
VIEWER = "{ viewer { user { email } } }"


async def with_password(make_user, email="lena@example.test", password=PASSWORD, **fields):
    return await make_user("Lena", email, password_hash=await hash_password(password), **fields)


async def sign_in(http, email, password, ip_headers=None):
    response = await http.post("/graphql", json={"query": SIGN_IN, "variables": {"email": email, "password": password}},
                               headers=ip_headers or {})
    return response


async def signed_in(http, email, password):
    body = (await sign_in(http, email, password)).json()
    assert body["data"]["signIn"]["errors"] == [], body
    return body["data"]["signIn"]["tokens"]


async def post(http, query, token=None, **variables):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


async def test_sign_in_gives_a_fifteen_minute_access_token_that_signs_requests_in(http, make_user, clock):
    user = await with_password(make_user)

    tokens = await signed_in(http, "  Lena@Example.TEST ", PASSWORD)
    viewer = (await post(http, VIEWER, tokens["accessToken"])).json()
    clock.advance(minutes=15, seconds=1)
    expired = await post(http, VIEWER, tokens["accessToken"])

    assert tokens["user"]["id"] == to_global_id("User", user.id)
    assert tokens["accessTokenExpiresAt"] == "2026-03-10T12:15:00+00:00"
    assert viewer["data"]["viewer"]["user"]["email"] == "lena@example.test"
    assert expired.status_code == 401


async def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(http, make_user):
    await with_password(make_user)

    unknown = (await sign_in(http, "nobody@example.test", PASSWORD)).json()
    wrong = (await sign_in(http, "lena@example.test", "not the password at all")).json()

    assert unknown == wrong
    assert unknown["data"]["signIn"] == {"tokens": None, "errors": [
        {"field": None, "code": "INVALID_CREDENTIALS", "message": "The e-mail address or the password is wrong."}]}


async def test_an_unknown_address_and_a_wrong_password_take_the_same_time(http, make_user, clock):
    # Several users, so that no address reaches the lock-out, and the clock moved on between rounds,
    # so that the sign-in rate limits never refuse (a refusal would be fast and spoil the measure).
    users = [await with_password(make_user, f"user{n}@example.test") for n in range(6)]
    unknown_times, wrong_times = [], []
    for round_ in range(3):
        for n, user in enumerate(users):
            for address, password, times in ((f"ghost{round_}-{n}@example.test", PASSWORD, unknown_times),
                                             (user.email, f"wrong password {round_}", wrong_times)):
                started = time.perf_counter()
                body = (await sign_in(http, address, password)).json()
                times.append(time.perf_counter() - started)
                assert body["data"]["signIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        clock.advance(minutes=10)

    unknown, wrong = statistics.median(unknown_times), statistics.median(wrong_times)
    # A verification against no hash at all would answer in well under a tenth of a real one's time;
    # the bound is loose enough for a busy machine and tight enough to catch that.
    assert 0.6 < unknown / wrong < 1.67, (unknown, wrong)


async def test_ten_failures_in_a_row_lock_an_address_for_fifteen_minutes_whether_or_not_it_exists(http, make_user,
                                                                                                    clock):
    await with_password(make_user)
    for _ in range(10):
        await sign_in(http, "lena@example.test", "wrong password")
        await sign_in(http, "ghost@example.test", "wrong password")

    locked = (await sign_in(http, "lena@example.test", PASSWORD)).json()["data"]["signIn"]
    locked_ghost = (await sign_in(http, "ghost@example.test", PASSWORD)).json()["data"]["signIn"]
    clock.advance(minutes=15, seconds=1)
    after = (await sign_in(http, "lena@example.test", PASSWORD)).json()["data"]["signIn"]

    assert [e["code"] for e in locked["errors"]] == ["ACCOUNT_LOCKED"]
    assert [e["code"] for e in locked_ghost["errors"]] == ["ACCOUNT_LOCKED"]
    assert locked["tokens"] is None
    assert after["errors"] == [] and after["tokens"]["accessToken"]


async def test_a_success_resets_the_count_of_failures(http, make_user, clock):
    await with_password(make_user)
    for _ in range(9):
        await sign_in(http, "lena@example.test", "wrong password")
    await signed_in(http, "lena@example.test", PASSWORD)
    clock.advance(minutes=5)  # the sign-in rate limit refills; the failures in a row do not fade
    for _ in range(9):
        await sign_in(http, "lena@example.test", "wrong password")

    assert await signed_in(http, "lena@example.test", PASSWORD)


async def test_a_flood_for_one_address_is_refused_with_429_and_retry_after(http, settings):
    answers = [await sign_in(http, "ghost@example.test", "guess") for _ in range(settings.sign_in_email_burst + 1)]

    assert [a.status_code for a in answers[:-1]] == [200] * settings.sign_in_email_burst
    assert answers[-1].status_code == 429
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_flood_from_one_client_address_is_refused_with_429(http, settings):
    answers = [await sign_in(http, f"ghost{n}@example.test", "guess") for n in range(settings.sign_in_ip_burst + 1)]

    assert {a.status_code for a in answers[:-1]} == {200}
    assert answers[-1].status_code == 429
    assert "Retry-After" in answers[-1].headers


async def test_a_refresh_token_rotates_and_a_reused_one_revokes_its_whole_family(http, make_user):
    await with_password(make_user)
    first = await signed_in(http, "lena@example.test", PASSWORD)

    second = (await post(http, REFRESH, refresh=first["refreshToken"])).json()["data"]["refreshToken"]
    reused = (await post(http, REFRESH, refresh=first["refreshToken"])).json()["data"]["refreshToken"]
    after_reuse = (await post(http, REFRESH, refresh=second["tokens"]["refreshToken"])).json()["data"]["refreshToken"]

    assert second["errors"] == [] and second["tokens"]["refreshToken"] != first["refreshToken"]
    assert (await post(http, VIEWER, second["tokens"]["accessToken"])).status_code == 200
    assert [e["code"] for e in reused["errors"]] == ["TOKEN_REUSED"]
    assert [e["code"] for e in after_reuse["errors"]] == ["INVALID_CREDENTIALS"]


async def test_another_sign_in_keeps_its_own_family(http, make_user):
    await with_password(make_user)
    phone = await signed_in(http, "lena@example.test", PASSWORD)
    laptop = await signed_in(http, "lena@example.test", PASSWORD)
    await post(http, REFRESH, refresh=phone["refreshToken"])
    await post(http, REFRESH, refresh=phone["refreshToken"])  # reused: the phone's family is revoked

    refreshed = (await post(http, REFRESH, refresh=laptop["refreshToken"])).json()["data"]["refreshToken"]

    assert refreshed["errors"] == []


async def test_refresh_tokens_are_stored_as_digests_only(http, make_user, database):
    await with_password(make_user)
    tokens = await signed_in(http, "lena@example.test", PASSWORD)

    async with database.read() as db:
        stored = (await db.scalars(select(RefreshToken.token_hash))).all()

    assert stored == [hashlib.sha256(tokens["refreshToken"].encode()).hexdigest()]


async def test_an_expired_refresh_token_is_refused(http, make_user, clock, settings):
    await with_password(make_user)
    tokens = await signed_in(http, "lena@example.test", PASSWORD)
    clock.advance(days=settings.refresh_token_days, seconds=1)

    refreshed = (await post(http, REFRESH, refresh=tokens["refreshToken"])).json()["data"]["refreshToken"]

    assert [e["code"] for e in refreshed["errors"]] == ["INVALID_CREDENTIALS"]


async def test_sign_out_revokes_the_refresh_token(http, make_user):
    await with_password(make_user)
    tokens = await signed_in(http, "lena@example.test", PASSWORD)

    signed_out = (await post(http, SIGN_OUT, refresh=tokens["refreshToken"])).json()["data"]["signOut"]
    again = (await post(http, SIGN_OUT, refresh=tokens["refreshToken"])).json()["data"]["signOut"]
    refreshed = (await post(http, REFRESH, refresh=tokens["refreshToken"])).json()["data"]["refreshToken"]

    assert signed_out == {"revoked": True, "errors": []}
    assert again["revoked"] is False
    assert [e["code"] for e in refreshed["errors"]] == ["INVALID_CREDENTIALS"]


async def test_set_password_needs_the_current_one_and_a_strong_new_one(http, make_user):
    await with_password(make_user)
    tokens = await signed_in(http, "lena@example.test", PASSWORD)
    access = tokens["accessToken"]

    wrong = (await post(http, SET_PASSWORD, access, input={"currentPassword": "nope", "newPassword": "a much better one"}
                        )).json()["data"]["setPassword"]
    weak = (await post(http, SET_PASSWORD, access, input={"currentPassword": PASSWORD, "newPassword": "short"}
                       )).json()["data"]["setPassword"]
    changed = (await post(http, SET_PASSWORD, access,
                          input={"currentPassword": PASSWORD, "newPassword": "a much better one"})).json()
    old = (await sign_in(http, "lena@example.test", PASSWORD)).json()["data"]["signIn"]
    refreshed = (await post(http, REFRESH, refresh=tokens["refreshToken"])).json()["data"]["refreshToken"]

    assert wrong["errors"] == [{"field": ["currentPassword"], "code": "INVALID_CREDENTIALS"}]
    assert weak["errors"] == [{"field": ["newPassword"], "code": "WEAK_PASSWORD"}]
    assert changed["data"]["setPassword"] == {"user": {"email": "lena@example.test"}, "errors": []}
    assert [e["code"] for e in old["errors"]] == ["INVALID_CREDENTIALS"]
    assert await signed_in(http, "lena@example.test", "a much better one")
    # Other devices sign in again.
    assert [e["code"] for e in refreshed["errors"]] == ["INVALID_CREDENTIALS"]


async def test_set_password_signed_out_without_an_invitation_is_unauthenticated(anonymous):
    body = await anonymous.execute(SET_PASSWORD, input={"newPassword": "a much better one"})

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


CREATE_INVITED = """mutation { createUser(input: {email: "new@example.test", name: "New", sendInvitation: true}) {
  user { id } invitationUrl errors { code } } }"""


async def test_an_invitation_link_sets_a_first_password_once(admin, anonymous, http, database):
    created = (await admin(CREATE_INVITED))["createUser"]
    token = created["invitationUrl"].split("#invitation=")[1]

    accepted = await anonymous(SET_PASSWORD, input={"invitationToken": token, "newPassword": "my first password"})
    again = await anonymous(SET_PASSWORD, input={"invitationToken": token, "newPassword": "another password!"})
    async with database.read() as db:
        stored = (await db.scalars(select(Invitation.token_hash))).all()

    assert created["invitationUrl"].startswith("http://127.0.0.1:8000/app/#invitation=")
    # Signed out, the invited user sees no e-mail address (theirs, but no one is signed in yet).
    assert accepted["setPassword"] == {"user": {"email": None}, "errors": []}
    assert again["setPassword"]["errors"] == [{"field": ["invitationToken"], "code": "INVALID_CREDENTIALS"}]
    assert await signed_in(http, "new@example.test", "my first password")
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


async def test_an_invitation_expires(admin, anonymous, clock, settings):
    created = (await admin(CREATE_INVITED))["createUser"]
    clock.advance(days=settings.invitation_days, seconds=1)

    late = await anonymous(SET_PASSWORD, input={"invitationToken": created["invitationUrl"].split("=")[1],
                                                "newPassword": "my first password"})

    assert late["setPassword"]["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_a_deactivated_user_cannot_sign_in_refresh_or_use_a_token(http, make_user, admin, database):
    user = await with_password(make_user)
    tokens = await signed_in(http, "lena@example.test", PASSWORD)

    await admin("""mutation($id: ID!) { updateUser(input: {id: $id, active: false}) { errors { code } } }""",
                id=to_global_id("User", user.id))
    request = await post(http, VIEWER, tokens["accessToken"])
    again = (await sign_in(http, "lena@example.test", PASSWORD)).json()["data"]["signIn"]
    refreshed = (await post(http, REFRESH, refresh=tokens["refreshToken"])).json()["data"]["refreshToken"]
    async with database.read() as db:
        kept = await db.get(User, user.id)

    assert request.status_code == 401
    assert [e["code"] for e in again["errors"]] == ["ACCOUNT_INACTIVE"]
    assert refreshed["tokens"] is None
    assert kept is not None and kept.active is False


async def test_a_deactivated_user_with_a_wrong_password_hears_only_invalid_credentials(http, make_user):
    await with_password(make_user, active=False)

    wrong = (await sign_in(http, "lena@example.test", "wrong password")).json()["data"]["signIn"]

    assert [e["code"] for e in wrong["errors"]] == ["INVALID_CREDENTIALS"]
