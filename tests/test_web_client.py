"""The web client at /app: served by the service, and driven in headless Chromium against a running
service in trusted-documents-only mode, where the Join button turns on by itself when the window opens.

The browser test needs Debian's Chromium at /usr/bin/chromium (`.ci/run` installs it) and
Playwright for Python (the `dev` extra); it saves screenshots in tests/artifacts/<engine>/.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from sessiongraph import models
from sessiongraph.clients.documents import load_operations, manifest
from sessiongraph.demo import load_demo
from sessiongraph.infrastructure.passwords import hash_password, new_secret, secret_digest, verify_password
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema.relay import to_global_id
from sessiongraph.server.app import create_app
from tests.conftest import on_postgresql

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Screenshots, by engine: CI's PostgreSQL run keeps the SQLite run's beside its own.
ARTIFACTS = Path(__file__).parent / "artifacts" / ("postgresql" if on_postgresql() else "sqlite")
# The demo data is laid out as if loaded this long from now: the learner's next class starts in
# 30 minutes, so its Join window (15 minutes before) is closed when the page opens.
DEMO_AHEAD = timedelta(minutes=20)
# Every flow runs at both widths: a desktop's and a common phone's.
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
async def app(settings, database, clock):
    """The app as production runs it with TRUSTED_DOCUMENTS_ONLY: the page must send hashes only."""
    return create_app(settings.model_copy(update={"trusted_documents_only": True}), clock=clock, database=database,
                      check_migrations=False)


async def test_the_page_and_its_scripts_are_served(http):
    page = await http.get("/app/")
    script = await http.get("/app/app.js")
    bare = await http.get("/app", follow_redirects=False)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "Learner Portal" in script.text
    assert bare.status_code in (301, 307) and bare.headers["location"].endswith("/app/")


async def test_the_page_gets_exactly_the_committed_web_operations(http):
    operations = (await http.get("/app/operations.json")).json()["operations"]
    trusted = manifest()

    assert set(operations) == {op.name for op in (*load_operations("web"), *load_operations("admin"))}
    assert all(trusted[op["sha256"]] == op["document"] for op in operations.values())


def test_the_page_names_only_committed_web_operations():
    # Every operation the scripts ask for by name is a committed web operation, or the admin client's for the
    # admin screens.
    web = {op.name for op in load_operations("web")}
    admin = {op.name for op in load_operations("admin")}
    used: dict[str, set[str]] = {}
    for script in (Path(__file__).parent.parent / "clients/web/app").glob("*.js"):
        used[script.name] = set(re.findall(r'(?:request|subscribe|upload)\("([A-Za-z]+)"', script.read_text()))

    assert all(names <= web for script, names in used.items() if script != "admin.js"), used
    assert used["admin.js"] & admin and used["admin.js"] <= web | admin, used["admin.js"] - web - admin


@pytest.fixture
async def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (`apt-get install chromium`; .ci/run does it "
                    f"where apt-get can)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_join_button_turns_on_by_itself_when_the_window_opens(browser, live_server, database, clock,
                                                                       settings, width):
    # given: the demo platform, and the learner's token
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.read() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
    token = issue_token(learner.id, settings, clock.now())
    base = f"http://{live_server}"
    page = await browser.new_page(viewport=WIDTHS[width])
    await page.clock.set_fixed_time(clock.now())  # the page's "now" is the service's frozen one
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("request", lambda request: None if request.url.startswith((base, base.replace("http", "ws")))
            else problems.append(f"left the service for {request.url}"))
    graphql_bodies: list[dict] = []
    page.on("request", lambda request: graphql_bodies.append(json.loads(request.post_data))
            if request.url == f"{base}/graphql" and request.method == "POST" else None)

    # when: the learner opens the page with their token
    await page.goto(f"{base}/app/?token={token}")
    join = page.locator("#up-next button.join")
    await join.wait_for()
    await page.locator("#list-body tbody tr").first.wait_for()
    await page.locator("#calendar-body .day.today").wait_for()
    await page.locator("#live.on").wait_for()

    # then: the dashboard, today's and upcoming sessions and the month calendar are there; Join is off,
    # and the hint says it turns on by itself
    assert await join.is_disabled()
    assert await page.locator("#up-next .join-hint").is_visible()
    assert await join.text_content() == "Join at 13:15"  # Europe/Paris, 15 minutes before 13:30
    assert await page.locator("#today-body tbody tr").count() >= 3
    assert "sessions" in await page.locator("#calendar-body .day.today .count").text_content()
    assert "?token=" not in page.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-client-before-join-{width}.png", full_page=True)

    # when: the clock reaches the moment the window opens
    opens_at = clock.now() + timedelta(minutes=15)
    await page.clock.set_fixed_time(opens_at)
    clock.set(opens_at)

    # then: the subscription turns the button on, with no reload
    await page.locator("#up-next button.join:not([disabled])").wait_for(timeout=5000)
    assert await join.text_content() == "Join now"
    assert await page.locator("#up-next .join-hint").is_hidden()  # it has
    await page.screenshot(path=ARTIFACTS / f"web-client-{width}.png", full_page=True)

    # and View Details opens the session's details window
    code = await page.locator("#up-next .facts code").text_content()
    await page.locator("#up-next button.secondary").click()
    await page.locator("#details-body .facts").wait_for()
    details = await page.locator("#details-body").text_content()
    assert code in details and "Lesson goal" in details
    shown = await page.locator("body").inner_text()
    assert "null" not in shown and "undefined" not in shown and "NaN" not in shown
    assert await page.locator("#details-body button.join:not([disabled])").count() == 1
    await page.screenshot(path=ARTIFACTS / f"web-client-details-{width}.png")
    assert problems == []
    # and every request named a committed document by hash, none sent query text
    assert graphql_bodies and all("query" not in body and body["extensions"]["persistedQuery"]["sha256Hash"]
                                  in manifest() for body in graphql_bodies)


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_feed_card_shows_the_link_resets_it_and_an_events_link_opens_its_session(
        browser, live_server, database, clock, settings, http, width):
    # given: the demo platform, and the learner's next class as their calendar app links to it
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.read() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
        live_session = await db.scalar(
            select(models.LiveSession).join(models.Booking).where(
                models.Booking.learner_id == learner.id, models.LiveSession.starts_at > clock.now())
            .order_by(models.LiveSession.starts_at).limit(1))
    token = issue_token(learner.id, settings, clock.now())
    base = f"http://{live_server}"
    page = await browser.new_page(viewport=WIDTHS[width])
    await page.clock.set_fixed_time(clock.now())
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Reset the calendar link?"

    # when: the page opens at the event's link
    await page.goto(f"{base}/app/?token={token}#session={to_global_id('LiveSession', live_session.id)}")

    # then: that session's details are open, and the feed card holds the viewer's link
    await page.locator("#details-body .facts").wait_for()
    assert live_session.code in await page.locator("#details-body").text_content()
    await page.locator("#details form button").click()
    feed = page.locator("#feed-url")
    await page.wait_for_function("document.getElementById('feed-url').value.endsWith('.ics')")
    old = await feed.input_value()
    assert old.startswith(f"{settings.public_url}/calendar/")
    assert "#session=" not in page.url  # closing the details leaves the link behind
    await page.screenshot(path=ARTIFACTS / f"web-client-feed-{width}.png", full_page=True)

    # when: Reset link
    await page.locator("#feed-reset").click()
    await page.wait_for_function(f"document.getElementById('feed-url').value !== {json.dumps(old)}")

    # then: a new link works, the old one is gone
    new = await feed.input_value()
    assert (await http.get(new.removeprefix(settings.public_url))).status_code == 200
    assert (await http.get(old.removeprefix(settings.public_url))).status_code == 404
    assert problems == []


async def demo_with_learner_password(database, clock) -> None:
    """The demo platform, its learner signing in with the password "the learner's password"."""
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.write() as db:
        await db.execute(update(models.User).where(models.User.email == "learner@example.com")
                         .values(password_hash=await hash_password("the learner's password")))


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_learner_signs_in_with_a_password_and_the_page_renews_its_token(browser, live_server, database,
                                                                                 clock, settings, width):
    # given: the demo platform, and the learner's password
    await demo_with_learner_password(database, clock)
    base = f"http://{live_server}"
    page = await browser.new_page(viewport=WIDTHS[width])
    await page.clock.set_fixed_time(clock.now())
    operations: list[str] = []
    page.on("request", lambda request: operations.append(json.loads(request.post_data).get("operationName"))
            if request.url == f"{base}/graphql" and request.method == "POST" else None)

    # when: they open the page and sign in
    await page.goto(f"{base}/app/")
    await page.locator("#sign-in-form").wait_for()
    await page.fill("#email-input", "learner@example.com")
    await page.fill("#password-input", "wrong password")
    await page.click("#sign-in-form button[type=submit]")
    await page.locator("#sign-in-error:not([hidden])").wait_for()
    wrong = await page.locator("#sign-in-error").text_content()
    await page.fill("#password-input", "the learner's password")
    await page.click("#sign-in-form button[type=submit]")
    await page.locator("#up-next button.join").wait_for()

    # then: the dashboard is there, signed in by signIn's tokens
    assert wrong == "The e-mail address or the password is wrong."
    assert operations[:4] == ["SignIn", "SignIn", "Me", "Dashboard"]

    # when: the access token has expired and the learner switches to the past tab
    clock.advance(minutes=settings.access_token_minutes, seconds=1)
    async with page.expect_response(lambda response: response.url == f"{base}/graphql" and response.status == 200
                                    and '"PastTab"' in (response.request.post_data or "")):
        await page.click("#tab-past")

    # then: the page renewed its token once with the refresh token (the socket, closed at the token's
    # expiry, and the refused request share the renewal: a refresh token works once) and carried on
    assert operations.count("RefreshToken") == 1, operations
    assert operations.index("RefreshToken") < len(operations) - 1 - operations[::-1].index("PastTab")
    assert not await page.locator("#portal").is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-client-renewed-{width}.png", full_page=True)

    # when: they sign out
    async with page.expect_response(lambda response: response.url == f"{base}/graphql"
                                    and '"SignOut"' in (response.request.post_data or "")):
        await page.click("#sign-out")

    # then: the sign-in form, no token left in the page, and the sign-in's refresh tokens revoked
    await page.locator("#sign-in-form").wait_for()
    assert await page.evaluate("[localStorage.getItem('sessiongraph.token'), "
                               "localStorage.getItem('sessiongraph.refreshToken')]") == [None, None]
    async with database.read() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
        tokens = (await db.scalars(select(models.RefreshToken).where(models.RefreshToken.user_id == learner.id))).all()
    assert tokens and all(token.revoked_at is not None for token in tokens)


@pytest.mark.parametrize("width", WIDTHS)
async def test_wrong_passwords_lock_the_address_then_a_flood_is_rate_limited_each_said_in_the_sign_in_form(
        browser, live_server, database, clock, settings, width):
    # given: the demo platform, and the learner's password
    await demo_with_learner_password(database, clock)
    base = f"http://{live_server}"
    page = await browser.new_page(viewport=WIDTHS[width])
    await page.clock.set_fixed_time(clock.now())
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    said = page.locator("#sign-in-form #sign-in-error[role=alert]:not([hidden])")
    statuses: list[int] = []
    wrong = "The e-mail address or the password is wrong."
    locked = f"Too many failed sign-ins for this address; try again in {settings.sign_in_lock_minutes} minutes."
    flooded = re.compile(r"^Too many attempts in a short time; try again in \d+ seconds\.$")

    async def sign_in(password: str, expected: str | re.Pattern) -> None:
        """The form sent once; the answer's HTTP status kept, and the form saying `expected`."""
        async with page.expect_response(lambda response: response.url == f"{base}/graphql"
                                        and '"SignIn"' in (response.request.post_data or "")) as answer:
            await page.fill("#email-input", "learner@example.com")
            await page.fill("#password-input", password)
            await page.click("#sign-in-form button[type=submit]")
        statuses.append((await answer.value).status)
        await said.filter(has_text=expected if isinstance(expected, re.Pattern) else
                          re.compile(f"^{re.escape(expected)}$")).wait_for()

    async def failures():
        async with database.read() as db:
            return await db.get(models.SignInFailures, "learner@example.com")

    await page.goto(f"{base}/app/")
    await page.locator("#sign-in-form").wait_for()

    # when: a wrong password as many times in a row as the service allows (SIGN_IN_MAX_FAILURES)
    for n in range(settings.sign_in_max_failures):
        await sign_in(f"wrong password {n}", wrong)

    # then: each time the form said so; the last one locked the address, for SIGN_IN_LOCK_MINUTES
    assert (await failures()).locked_until == clock.now() + timedelta(minutes=settings.sign_in_lock_minutes)

    # when: the right password now
    await sign_in("the learner's password", locked)

    # then: refused as locked, said in the form, which stays (not signed in, no blank page)
    assert await page.locator("#sign-in-form").is_visible() and await page.locator("#portal").is_hidden()
    assert await page.evaluate("localStorage.getItem('sessiongraph.token')") is None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-client-sign-in-locked-{width}.png", full_page=True)

    # when: it is tried on up to the address's burst of attempts (SIGN_IN_EMAIL_BURST), then once more, the
    # clock still frozen
    while len(statuses) < settings.sign_in_email_burst:
        await sign_in("the learner's password", locked)
    await sign_in("the learner's password", flooded)

    # then: the one past the burst is refused as too many (HTTP 429), said in the form, which stays with
    # the address as typed
    assert statuses == [200] * settings.sign_in_email_burst + [429]
    assert await page.locator("#sign-in-form").is_visible() and await page.locator("#portal").is_hidden()
    assert await page.input_value("#email-input") == "learner@example.com"
    assert "Sign in" in await page.locator("body").inner_text()
    await page.screenshot(path=ARTIFACTS / f"web-client-sign-in-rate-limited-{width}.png", full_page=True)

    # when: the lock-out is over
    later = clock.now() + timedelta(minutes=settings.sign_in_lock_minutes, seconds=1)
    clock.set(later)
    await page.clock.set_fixed_time(later)
    await page.fill("#password-input", "the learner's password")
    await page.click("#sign-in-form button[type=submit]")

    # then: the right password signs in, and the count of failures is gone
    await page.locator("#up-next button.join").wait_for()
    assert await failures() is None
    assert problems == []


@pytest.mark.parametrize("width", WIDTHS)
async def test_an_invited_user_chooses_a_first_password_each_refusal_beside_its_field(browser, live_server, database,
                                                                                     clock, settings, width):
    # given: the demo platform, and a user invited by an admin (no password yet)
    await load_demo(database, clock.now() + DEMO_AHEAD)
    invitation = new_secret()
    async with database.write() as db:
        invited = models.User(name="Ivy Invited", email="ivy@example.com")
        db.add(invited)
        await db.flush()
        db.add(models.Invitation(token_hash=secret_digest(invitation), user_id=invited.id,
                                 expires_at=clock.now() + timedelta(days=7)))
    base = f"http://{live_server}"
    page = await browser.new_page(viewport=WIDTHS[width])
    await page.clock.set_fixed_time(clock.now())
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    form = page.locator("#set-password-form")
    field_error = page.locator("#new-password-input + .field-error")
    alert = page.locator("#set-password-error")

    async def choose(password: str) -> None:
        await page.fill("#new-password-input", password)
        await page.click("#set-password-form button[type=submit]")

    # when: they open the invitation link and choose a password of one character repeated
    await page.goto(f"{base}/app/#invitation={invitation}")
    await form.wait_for()
    await choose("a" * 10)

    # then: the service's refusal shows beside the password field, and nothing is set
    await field_error.wait_for()
    assert "different characters" in await field_error.text_content()
    assert await page.get_attribute("#new-password-input", "aria-invalid") == "true"
    assert await page.get_attribute("#new-password-input", "aria-describedby") == "new-password-input-error"
    assert await alert.is_hidden()
    async with database.read() as db:
        assert (await db.get(models.User, invited.id)).password_hash is None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"web-client-set-password-refused-{width}.png", full_page=True)

    # when: a good one, sent while the network drops
    async def drop(route):
        await route.abort("internetdisconnected")
        await page.unroute(f"{base}/graphql", drop)

    await page.route(f"{base}/graphql", drop)
    await choose("a first password, long enough")

    # then: the form says so in its alert, the field's old refusal gone, and offers to send it again
    await page.locator("#set-password-error:not([hidden])").wait_for()
    assert (await alert.text_content()).startswith("Could not set the password")
    assert await field_error.count() == 0
    assert await form.is_visible()

    # when: sent again
    await choose("a first password, long enough")

    # then: set; the sign-in form says so, and the link is gone from the address
    await page.locator("#sign-in-error.notice", has_text="Your password is set").wait_for()
    assert "#invitation=" not in page.url

    # when: they sign in with it
    await page.fill("#email-input", "ivy@example.com")
    await page.fill("#password-input", "a first password, long enough")
    await page.click("#sign-in-form button[type=submit]")

    # then: their page
    await page.locator("#user-name", has_text="Ivy Invited").wait_for()
    assert not await page.locator("#portal").is_hidden()

    # when: the link is opened again (it works once)
    await page.goto(f"{base}/app/#invitation={invitation}")
    await page.reload()
    await form.wait_for()
    await choose("another password, long enough")

    # then: refused in the form's alert (the link has no field of its own), the password kept
    await page.locator("#set-password-error:not([hidden])").wait_for()
    assert "not valid" in await alert.text_content()
    assert await field_error.count() == 0
    async with database.read() as db:
        user = await db.get(models.User, invited.id)
    assert await verify_password(user.password_hash, "a first password, long enough")
    assert problems == []


PHONE = {"width": 360, "height": 780}  # the narrowest phones in common use
# The texts of the nodes the selector finds that are cut: past the viewport's edges, past an ancestor
# that clips its overflow, or ellipsised within their own box.
CUT_TEXTS = """(selector) => [...document.querySelectorAll(selector)].filter((node) => {
  const box = node.getBoundingClientRect();
  if (box.left < -0.5 || box.right > document.documentElement.clientWidth + 0.5) return true;
  if (node.scrollWidth > node.clientWidth + 0.5) return true;
  for (let outer = node.parentElement; outer; outer = outer.parentElement) {
    if (getComputedStyle(outer).overflowX === "visible") continue;
    const edge = outer.getBoundingClientRect();
    if (box.left < edge.left - 0.5 || box.right > edge.right + 0.5) return true;
  }
  return false;
}).map((node) => node.textContent)"""


async def open_portal(browser, base: str, token: str, now, *, viewport=None, time_zone: str | None = None):
    """The learner's page, open and loaded, in a browser whose clock and time zone are the given ones."""
    context = await browser.new_context(viewport=viewport or {"width": 1360, "height": 900}, timezone_id=time_zone)
    page = await context.new_page()
    await page.clock.set_fixed_time(now)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    await page.goto(f"{base}/app/?token={token}")
    await page.locator("#up-next button.join").wait_for()
    await page.locator("#calendar-body .day.today").wait_for()
    return page, problems


async def learner_token(database, clock, settings, time_zone: str | None = None) -> str:
    await load_demo(database, clock.now() + DEMO_AHEAD)
    async with database.write() as db:
        learner = await db.scalar(select(models.User).where(models.User.email == "learner@example.com"))
        if time_zone is not None:
            learner.time_zone = time_zone
    return issue_token(learner.id, settings, clock.now())


async def test_at_phone_width_no_session_id_nor_course_code_is_cut(browser, live_server, database, clock, settings):
    # given: the learner's page on a phone
    token = await learner_token(database, clock, settings)
    page, problems = await open_portal(browser, f"http://{live_server}", token, clock.now(), viewport=PHONE)
    await page.locator("#today-body tbody tr").first.wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "web-client-phone.png", full_page=True)
    await page.locator("#calendar-body").screenshot(path=ARTIFACTS / "web-client-phone-calendar.png")
    await page.locator("#today-body").screenshot(path=ARTIFACTS / "web-client-phone-today.png")

    # then: every Session ID of today's table and every course code in the calendar shows whole
    assert await page.locator("#today-body code").count() >= 3
    assert await page.evaluate(CUT_TEXTS, "#today-body code") == []
    assert await page.locator("#calendar-body .chip").count() >= 3
    assert await page.evaluate(CUT_TEXTS, "#calendar-body .chip") == []
    assert await page.evaluate(CUT_TEXTS, "#calendar-body .chip .code") == []
    assert problems == []


@pytest.mark.parametrize("time_zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])  # UTC+14, UTC-11
async def test_the_calendar_day_heading_is_the_day_chosen_in_the_furthest_zones(browser, live_server, database, clock,
                                                                                  settings, time_zone):
    # given: a learner (and their browser) in a zone furthest from UTC, at an hour when their day is not UTC's
    clock.set(clock.now().replace(hour=10, minute=30))  # 00:30 tomorrow in Kiritimati, 23:30 yesterday in Pago Pago
    token = await learner_token(database, clock, settings, time_zone=time_zone)
    page, problems = await open_portal(browser, f"http://{live_server}", token, clock.now(), time_zone=time_zone)
    today = clock.now().astimezone(ZoneInfo(time_zone)).date()

    # when: they choose today in the month calendar
    await page.locator("#calendar-body .day.today").click()

    # then: the day's list is headed with that date
    heading = await page.locator("#day-body h3").text_content()
    expected = f"{today:%a}, {today.day} {today:%b} {today.year}"
    assert today != clock.now().date()
    assert (await page.locator("#calendar-body .day.selected").text_content()).startswith(f"{expected}: ")
    assert heading == expected, (heading, today)
    assert problems == []
