// The Learner Portal: dashboard (Up Next), today's and upcoming (or past) sessions, a month
// calendar, session details, and Join buttons that turn on by themselves when the window opens
// (the JoinAvailability subscription), and the calendar feed link. `#session=<ID>` opens that
// session's details (the calendar feed's events link there). Every request is one of the
// committed web operations.
"use strict";

const TOKEN_KEY = "sessiongraph.token";
const REFRESH_KEY = "sessiongraph.refreshToken";
const $ = (id) => document.getElementById(id);

const state = {
  client: null,
  user: null,
  filter: { courseId: "", instructorId: "" },
  listMode: "upcoming",
  month: null, // "YYYY-MM-01"
  selectedDay: null,
  courses: new Map(),
  instructors: new Map(),
  joinButtons: new Map(), // live session id -> Set of buttons
  joinStates: new Map(), // live session id -> latest JoinAvailability
  joinSubscriptions: new Map(), // live session id -> unsubscribe
};

// ---------- formatting, in the viewer's time zone ----------

function formatter(options) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: state.user ? state.user.timeZone : undefined, ...options });
}
const fmtDate = (iso) => formatter({ weekday: "short", day: "numeric", month: "short", year: "numeric" }).format(new Date(iso));
const fmtShortDate = (iso) => formatter({ weekday: "short", day: "numeric", month: "short" }).format(new Date(iso));
const fmtTime = (iso) => formatter({ hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
const timeRange = (s) => `${fmtTime(s.startsAt)}–${fmtTime(s.endsAt)}`;
// A calendar date ("YYYY-MM-DD") names the same day in every zone: it is formatted as that date (its
// midnight in UTC, read in UTC), never as an instant read in the viewer's zone, a day late east of UTC+12.
const fmtCalendarDate = (date) => new Intl.DateTimeFormat("en-GB", {
  timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
}).format(new Date(`${date}T00:00:00Z`));

function todayInZone() {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: state.user.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date());
  return parts; // YYYY-MM-DD
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replaceChildren, leaving out what is absent (null would be shown as "null").
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

// ---------- signing in ----------

function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token) {
    localStorage.setItem(TOKEN_KEY, token.trim());
    url.searchParams.delete("token"); // keep it out of the history and of screenshots
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

function showSignIn(message, { notice = false } = {}) {
  $("portal").hidden = true;
  $("who").hidden = true;
  $("set-password").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").hidden = !message;
  $("sign-in-error").className = notice ? "notice" : "error";
  $("sign-in-error").textContent = message || "";
}

function keepTokens(tokens) {
  localStorage.setItem(TOKEN_KEY, tokens.accessToken);
  localStorage.setItem(REFRESH_KEY, tokens.refreshToken);
}

// A signed-out client, for signIn, refreshToken and an invitation's setPassword.
const anonymousClient = () => GraphQLClient.load(location.origin, null);

// A new access token from the refresh token (which is then spent); null when there is none to be had.
let renewing = null;
function renewToken() {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return Promise.resolve(null);
  // One renewal at a time: the refresh token works once, and a second use would revoke them all.
  renewing = renewing || (async () => {
    try {
      const data = await (await anonymousClient()).request("RefreshToken", { input: { refreshToken } });
      const { tokens, errors } = data.refreshToken;
      if (errors.length || !tokens) {
        localStorage.removeItem(REFRESH_KEY);
        return null;
      }
      keepTokens(tokens);
      return tokens.accessToken;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

async function signIn(email, password) {
  try {
    const data = await (await anonymousClient()).request("SignIn", { input: { email, password } });
    const { tokens, errors } = data.signIn;
    if (errors.length) return showSignIn(errors.map((e) => e.message).join(" "));
    keepTokens(tokens);
    await start();
  } catch (error) {
    showSignIn(error.code === "RATE_LIMITED" ? error.message : `Could not sign in: ${error.message}`);
  }
}

// An invitation link (/app/#invitation=…): the invited user chooses a first password, then signs in.
function invitationToken() {
  const match = location.hash.match(/^#invitation=([\w-]+)$/);
  return match ? match[1] : null;
}

function showSetPassword(message) {
  $("portal").hidden = true;
  $("sign-in").hidden = true;
  $("set-password").hidden = false;
  $("set-password-error").hidden = !message;
  $("set-password-error").textContent = message || "";
}

async function setFirstPassword(newPassword) {
  const data = await (await anonymousClient()).request("SetPassword", {
    input: { invitationToken: invitationToken(), newPassword },
  });
  const { errors } = data.setPassword;
  if (errors.length) return showSetPassword(errors.map((e) => e.message).join(" "));
  history.replaceState(null, "", location.pathname + location.search); // the link works once
  showSignIn("Your password is set: sign in with it.", { notice: true });
}

async function start() {
  takeTokenFromUrl();
  if (invitationToken()) return showSetPassword();
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return showSignIn();
  try {
    state.client = await GraphQLClient.load(location.origin, token);
    state.client.renewToken = renewToken;
    const data = await state.client.request("Dashboard");
    if (!data.viewer) return signOut("You are not signed in.");
    state.user = data.viewer.user;
    $("user-name").textContent = state.user.name;
    $("sign-in").hidden = true;
    $("portal").hidden = false;
    $("who").hidden = false;
    state.month = todayInZone().slice(0, 8) + "01";
    renderUpNext(data.viewer.schedule.upNext);
    watchSchedule();
    openLinkedSession();
    await Promise.all([loadLists(), loadCalendar(), loadFeed()]);
  } catch (error) {
    if (error.status === 401 || error.code === "UNAUTHENTICATED") {
      return signOut("Your sign-in has ended: sign in again.");
    }
    showSignIn(`Could not load your schedule: ${error.message}`);
  }
}

function signOut(message) {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (refreshToken && !message) {
    // Revoked on the server too; the page does not wait for it.
    anonymousClient().then((client) => client.request("SignOut", { input: { refreshToken } })).catch(() => {});
  }
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(REFRESH_KEY);
  if (state.client) state.client.close();
  state.client = null;
  state.joinSubscriptions.clear();
  showSignIn(message);
}

// ---------- Join buttons, driven by the JoinAvailability subscription ----------

function joinControl(session) {
  if (session.status === "CANCELLED") return el("span", { class: "badge cancelled" }, "Cancelled");
  if (!session.location || !session.location.isVirtual) {
    return el("span", { class: "badge", title: "In person" }, session.location ? session.location.name || "In person" : "—");
  }
  const button = el("button", { type: "button", class: "join", "data-live-session": session.id, disabled: true }, "Join");
  button.addEventListener("click", () => {
    const current = state.joinStates.get(session.id);
    if (current && current.isOpen && current.url) window.open(current.url, "_blank", "noopener");
  });
  if (!state.joinButtons.has(session.id)) state.joinButtons.set(session.id, new Set());
  state.joinButtons.get(session.id).add(button);
  applyJoin(session.id, state.joinStates.get(session.id) || session.joinAvailability);
  if (session.status === "SCHEDULED") watchJoin(session.id);
  return button;
}

function applyJoin(id, join) {
  if (!join) return;
  state.joinStates.set(id, join);
  const buttons = state.joinButtons.get(id) || new Set();
  for (const button of [...buttons]) {
    if (!button.isConnected && button.dataset.placed) { buttons.delete(button); continue; }
    button.dataset.placed = "1";
    const open = Boolean(join.isOpen && join.url);
    button.disabled = !open;
    button.classList.toggle("open", open);
    if (open) {
      button.textContent = "Join now";
      button.title = `Open until ${fmtTime(join.closesAt)}`;
    } else if (waitingToOpen(join)) {
      button.textContent = `Join at ${fmtTime(join.opensAt)}`;
      button.title = "The Join button turns on 15 minutes before the start";
    } else {
      button.textContent = "Ended";
      button.title = "";
    }
  }
  for (const hint of document.querySelectorAll(".join-hint")) {
    if (hint.dataset.liveSession === id) hint.hidden = !waitingToOpen(join);
  }
}

// The Join button is off until its window opens (and then turns on by itself).
function waitingToOpen(join) {
  return Boolean(join) && !(join.isOpen && join.url) && new Date() < new Date(join.opensAt);
}

function watchJoin(id) {
  if (state.joinSubscriptions.has(id) || !state.client) return;
  const stop = state.client.subscribe("JoinAvailability", { liveSessionId: id },
    (data) => applyJoin(id, data.joinAvailability),
    () => state.joinSubscriptions.delete(id));
  state.joinSubscriptions.set(id, stop);
}

// A booking, cancellation or reschedule on the learner's schedule: load the screens again. After a
// reconnect (the service restarting closes sockets with 1012) it subscribes again after the last
// event seen, so that what happened meanwhile arrives first.
let reloadTimer = null;
let scheduleCursor = null;
function watchSchedule() {
  state.client.subscribe("ScheduleChanged", () => ({ after: scheduleCursor }), (data) => {
    scheduleCursor = data.scheduleChanged.cursor;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(async () => {
      const data = await state.client.request("Dashboard");
      renderUpNext(data.viewer.schedule.upNext);
      await Promise.all([loadLists(), loadCalendar()]);
    }, 300);
  });
  state.client.socket.onstatus = (status) => {
    $("live").textContent = status === "live" ? "● Live" : "● offline";
    $("live").classList.toggle("on", status === "live");
  };
}

// ---------- Up Next ----------

function renderUpNext(session) {
  const body = $("up-next-body");
  body.replaceChildren();
  if (!session) {
    body.append(el("p", { class: "muted" }, "Nothing scheduled. Book a session to see it here."));
    return;
  }
  remember(session);
  fill(body,
    el("div", { class: "up-next-course" }, session.course.title),
    el("div", { class: "up-next-when" }, fmtDate(session.startsAt), " · ", timeRange(session)),
    el("dl", { class: "facts" },
      el("dt", {}, "Session ID"), el("dd", {}, el("code", {}, session.code)),
      el("dt", {}, "Lesson"), el("dd", {}, session.lesson ? session.lesson.name : "—"),
      el("dt", {}, "Goal"), el("dd", {}, (session.lesson && session.lesson.goal) || "—"),
      el("dt", {}, "Instructor"), el("dd", {}, session.instructor.displayName),
      el("dt", {}, "Location"), el("dd", {}, locationText(session.location))),
    el("div", { class: "actions" },
      joinControl(session),
      el("button", { type: "button", class: "secondary", onclick: () => openDetails(session.id) }, "View Details")),
    session.location && session.location.isVirtual
      ? el("p", { class: "hint muted join-hint", "data-live-session": session.id,
        hidden: !waitingToOpen(state.joinStates.get(session.id)) }, "Join turns on by itself 15 minutes before the start.")
      : null,
  );
}

function locationText(location) {
  if (!location) return "—";
  if (location.isVirtual) return "Virtual classroom";
  return [location.name, location.room && `room ${location.room}`, location.address].filter(Boolean).join(", ");
}

// ---------- today, upcoming and past ----------

let listCursor = null;

async function loadLists(append = false) {
  const filter = {};
  if (state.filter.courseId) filter.courseId = state.filter.courseId;
  if (state.filter.instructorId) filter.instructorId = state.filter.instructorId;
  const variables = { filter, first: 8, after: append ? listCursor : null };
  if (state.listMode === "upcoming") {
    const data = await state.client.request("UpcomingTab", variables);
    const schedule = data.viewer.schedule;
    if (!append) renderToday(schedule.today);
    renderList(schedule.upcoming, append, upcomingRow, ["Date", "Time", "Course", "Instructor", ""]);
  } else {
    const [data, today] = await Promise.all([
      state.client.request("PastTab", variables),
      append ? null : state.client.request("UpcomingTab", { filter, first: 1 }),
    ]);
    if (today) renderToday(today.viewer.schedule.today);
    renderList(data.viewer.schedule.past, append, pastRow, ["Date", "Time", "Course", "Instructor", "Status", "Attendance", ""]);
  }
  fillFilters();
}

function renderToday(sessions) {
  sessions.forEach(remember);
  const body = $("today-body");
  body.replaceChildren();
  if (!sessions.length) {
    body.append(el("p", { class: "muted" }, "No sessions today."));
    return;
  }
  body.append(table(["Time", "Course", "Instructor", "Session ID", ""], sessions.map((s) => el("tr", { class: rowClass(s) },
    el("td", { class: "nowrap" }, timeRange(s)),
    el("td", {}, courseCell(s)),
    el("td", { class: "nowrap" }, s.instructor.displayName),
    el("td", {}, el("code", {}, s.code)),
    el("td", {}, el("div", { class: "actions" }, joinControl(s), detailsButton(s)))))));
}

function upcomingRow(s) {
  return el("tr", { class: rowClass(s) },
    el("td", { class: "nowrap" }, fmtShortDate(s.startsAt)),
    el("td", { class: "nowrap" }, timeRange(s)),
    el("td", {}, courseCell(s)),
    el("td", { class: "nowrap" }, s.instructor.displayName),
    el("td", {}, el("div", { class: "actions" },
      s.status === "CANCELLED" ? el("span", { class: "badge cancelled" }, "Cancelled") : null, detailsButton(s))));
}

function pastRow(s) {
  const attendance = s.myReport ? s.myReport.attendance.toLowerCase() : "—";
  return el("tr", { class: rowClass(s) },
    el("td", { class: "nowrap" }, fmtShortDate(s.startsAt)),
    el("td", { class: "nowrap" }, timeRange(s)),
    el("td", {}, courseCell(s)),
    el("td", { class: "nowrap" }, s.instructor.displayName),
    el("td", {}, el("span", { class: `badge ${s.status.toLowerCase()}` }, s.status.toLowerCase())),
    el("td", {}, el("span", { class: `attendance ${attendance}` }, attendance)),
    el("td", {}, el("div", { class: "actions" }, detailsButton(s))));
}

function renderList(connection, append, row, headings) {
  const nodes = connection.edges.map((edge) => edge.node);
  nodes.forEach(remember);
  listCursor = connection.pageInfo.endCursor;
  const body = $("list-body");
  let tbody = body.querySelector("tbody");
  if (!append || !tbody) {
    body.replaceChildren();
    if (!nodes.length) {
      body.append(el("p", { class: "muted" }, state.listMode === "upcoming" ? "No upcoming sessions." : "No past sessions."));
      return;
    }
    body.append(table(headings, []), el("div", { class: "list-foot" }));
    tbody = body.querySelector("tbody");
  }
  nodes.forEach((node) => tbody.append(labelled(row(node), headings)));
  const foot = body.querySelector(".list-foot");
  foot.replaceChildren(el("span", { class: "muted" }, `${tbody.children.length} of ${connection.totalCount}`));
  if (connection.pageInfo.hasNextPage) {
    foot.append(el("button", { type: "button", class: "secondary", onclick: () => loadLists(true) }, "Load more"));
  }
}

function table(headings, rows) {
  return el("table", { class: "stacking" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))), el("tbody", {}, rows.map((row) => labelled(row, headings))));
}

// Each cell names its column, shown beside it where a phone stacks the row's cells (app.css).
function labelled(row, headings) {
  [...row.children].forEach((cell, i) => { if (headings[i]) cell.dataset.label = headings[i]; });
  return row;
}

const rowClass = (s) => (s.status === "CANCELLED" ? "cancelled" : "");
const courseCell = (s) => [el("span", { class: "course-code" }, s.course.code), " ", s.course.title];
const detailsButton = (s) => el("button", { type: "button", class: "link", onclick: () => openDetails(s.id) }, "View Details");

function remember(session) {
  state.courses.set(session.course.id, session.course.title);
  state.instructors.set(session.instructor.id, session.instructor.displayName);
}

function fillFilters() {
  for (const [select, known, chosen] of [[$("filter-course"), state.courses, state.filter.courseId],
    [$("filter-instructor"), state.instructors, state.filter.instructorId]]) {
    const first = select.options[0];
    const options = [...known].sort((a, b) => a[1].localeCompare(b[1]))
      .map(([id, name]) => el("option", { value: id, selected: id === chosen }, name));
    select.replaceChildren(first, ...options);
  }
}

// ---------- month calendar ----------

const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

async function loadCalendar() {
  const data = await state.client.request("CalendarTab", { view: "MONTH", date: state.month });
  renderCalendar(data.viewer.schedule.calendar);
}

function renderCalendar(calendar) {
  const [year, month] = state.month.split("-").map(Number);
  $("month-label").textContent = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, 1)));
  const first = WEEKDAYS.indexOf(calendar.weekStart);
  const names = [...WEEKDAYS.slice(first), ...WEEKDAYS.slice(0, first)].map((d) => d[0] + d.slice(1, 3).toLowerCase());
  const grid = el("div", { class: "month" }, names.map((n) => el("div", { class: "weekday" }, n)));
  for (const day of calendar.days) {
    const inMonth = Number(day.date.slice(5, 7)) === month;
    day.sessions.forEach(remember);
    const cell = el("button", {
      type: "button",
      class: ["day", inMonth ? "" : "other", day.isToday ? "today" : "", day.date === state.selectedDay ? "selected" : ""].join(" "),
      "aria-label": `${day.date}: ${day.count} session${day.count === 1 ? "" : "s"}`,
      onclick: () => { state.selectedDay = day.date; renderCalendar(calendar); },
    }, el("span", { class: "date" }, Number(day.date.slice(8))),
    day.count ? el("span", { class: "count" }, String(day.count), el("span", { class: "unit" }, day.count === 1 ? " session" : " sessions")) : null);
    for (const s of day.sessions.slice(0, 2)) {
      // The code wraps rather than being cut where a day is narrow; a phone leaves the time out.
      cell.append(el("span", { class: `chip ${rowClass(s)}` },
        el("span", { class: "time" }, fmtTime(s.startsAt)), " ", el("span", { class: "code" }, s.course.code)));
    }
    if (day.count > 2) cell.append(el("span", { class: "more" }, `+${day.count - 2} more`));
    grid.append(cell);
  }
  $("calendar-body").replaceChildren(grid);
  renderDay(calendar.days.find((d) => d.date === state.selectedDay));
}

function renderDay(day) {
  const body = $("day-body");
  body.replaceChildren();
  if (!day) return;
  body.append(el("h3", {}, fmtCalendarDate(day.date)));
  if (!day.sessions.length) {
    body.append(el("p", { class: "muted" }, "No sessions."));
    return;
  }
  body.append(el("ul", {}, day.sessions.map((s) => el("li", { class: rowClass(s) },
    el("span", { class: "nowrap" }, timeRange(s)), " ", courseCell(s), " · ", s.instructor.displayName, " ",
    detailsButton(s)))));
}

function shiftMonth(delta) {
  const [year, month] = state.month.split("-").map(Number);
  const next = new Date(Date.UTC(year, month - 1 + delta, 1));
  state.month = next.toISOString().slice(0, 10);
  state.selectedDay = null;
  loadCalendar();
}

// ---------- details window ----------

async function openDetails(id) {
  const dialog = $("details");
  const body = $("details-body");
  body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  const { node: s } = await state.client.request("SessionDetails", { id });
  if (!s) {
    body.replaceChildren(el("p", {}, "This session is no longer on your schedule."));
    return;
  }
  const links = s.extraLinks.map((l) => el("li", {}, el("a", { href: l.url, target: "_blank", rel: "noopener" }, l.title)));
  fill(body,
    el("div", { class: "up-next-course" }, s.course.title),
    s.status === "CANCELLED" ? el("p", { class: "badge cancelled" }, `Cancelled${s.cancellationReason ? ": " + s.cancellationReason : ""}`) : null,
    el("dl", { class: "facts" },
      el("dt", {}, "Session ID"), el("dd", {}, el("code", {}, s.code)),
      el("dt", {}, "Date & time"), el("dd", {}, `${fmtDate(s.startsAt)} · ${timeRange(s)}`),
      el("dt", {}, "Lesson"), el("dd", {}, s.lesson ? s.lesson.name : "—"),
      el("dt", {}, "Lesson goal"), el("dd", {}, (s.lesson && s.lesson.goal) || "—"),
      el("dt", {}, "Recording"), el("dd", {}, s.recordingUrl ? el("a", { href: s.recordingUrl, target: "_blank", rel: "noopener" }, "Watch the recording") : "—"),
      el("dt", {}, "Extra links"), el("dd", {}, links.length ? el("ul", { class: "plain" }, links) : "—"),
      el("dt", {}, "Instructor"), el("dd", {}, s.instructor.displayName, s.instructor.bio ? el("div", { class: "muted" }, s.instructor.bio) : null),
      el("dt", {}, "Location"), el("dd", {}, locationText(s.location)),
      el("dt", {}, "My booking"), el("dd", {}, s.myBooking ? s.myBooking.status.toLowerCase() : "through my session"),
      s.myReport ? [el("dt", {}, "Attendance"), el("dd", {}, s.myReport.attendance.toLowerCase(),
        s.myReport.feedback ? el("div", { class: "muted" }, `“${s.myReport.feedback}”`) : null)] : null),
    el("div", { class: "actions" }, joinControl(s)),
  );
}

// A link to one session (`#session=<ID>`, as the calendar feed's events give) opens its details.
function openLinkedSession() {
  const match = /^#session=([A-Za-z0-9+/=%]+)$/.exec(location.hash);
  if (!match || !state.client) return;
  openDetails(decodeURIComponent(match[1])).catch((error) => {
    $("details-body").replaceChildren(el("p", { class: "error" }, `Could not load the session: ${error.message}`));
  });
}

// ---------- calendar feed ----------

function showFeed(feed) {
  $("feed-url").value = feed.url;
  $("feed-url").title = `Issued ${fmtDate(feed.createdAt)}`;
}

function feedError(message) {
  $("feed-error").hidden = !message;
  $("feed-error").textContent = message || "";
}

async function loadFeed() {
  const data = await state.client.request("CalendarFeed");
  showFeed(data.viewer.calendarFeed);
}

async function resetFeed() {
  if (!confirm("Reset the calendar link? Calendar apps subscribed to the old link stop receiving your sessions.")) return;
  try {
    const { resetCalendarFeed: result } = await state.client.request("ResetCalendarFeed");
    if (result.errors.length) return feedError(result.errors.map((e) => e.message).join(" "));
    feedError(null);
    showFeed(result.calendarFeed);
  } catch (error) {
    feedError(`Could not reset the link: ${error.message}`);
  }
}

async function copyFeed() {
  $("feed-url").select();
  try {
    await navigator.clipboard.writeText($("feed-url").value);
    $("feed-copy").textContent = "Copied";
  } catch {
    $("feed-copy").textContent = "Press Ctrl+C"; // no clipboard outside a secure context: the text is selected
  }
}

// ---------- wiring ----------

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const password = $("password-input").value;
    $("password-input").value = "";
    signIn($("email-input").value.trim(), password);
  });
  $("set-password-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const password = $("new-password-input").value;
    $("new-password-input").value = "";
    setFirstPassword(password).catch((error) => showSetPassword(`Could not set the password: ${error.message}`));
  });
  $("sign-out").addEventListener("click", () => signOut());
  for (const mode of ["upcoming", "past"]) {
    $(`tab-${mode}`).addEventListener("click", () => {
      state.listMode = mode;
      $("tab-upcoming").setAttribute("aria-selected", String(mode === "upcoming"));
      $("tab-past").setAttribute("aria-selected", String(mode === "past"));
      loadLists();
    });
  }
  $("filter-course").addEventListener("change", (event) => { state.filter.courseId = event.target.value; loadLists(); });
  $("filter-instructor").addEventListener("change", (event) => { state.filter.instructorId = event.target.value; loadLists(); });
  $("month-prev").addEventListener("click", () => shiftMonth(-1));
  $("month-next").addEventListener("click", () => shiftMonth(1));
  $("feed-reset").addEventListener("click", resetFeed);
  $("feed-copy").addEventListener("click", copyFeed);
  window.addEventListener("hashchange", openLinkedSession);
  $("details").addEventListener("close", () => {
    if (location.hash.startsWith("#session=")) history.replaceState(null, "", location.pathname + location.search);
  });
  $("month-today").addEventListener("click", () => { state.month = todayInZone().slice(0, 8) + "01"; state.selectedDay = null; loadCalendar(); });
  start();
});
