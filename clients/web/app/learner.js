// The learner's screens: dashboard (Up Next), today's and upcoming (or past) sessions, a calendar with
// Day, Week and Month views, session details, and Join buttons that turn on by themselves when the window opens
// (the JoinAvailability subscription), and the calendar feed link. `#session=<ID>` opens that
// session's details (the calendar feed's events link there). The markup is index.html's #portal.
// Booking, the waitlist, credits and what the details window offers beside Join: learner-booking.js.
import {
  $, courseCell, el, fill, fmtCalendarDate, fmtDate, fmtShortDate, fmtTime, labelled, loadInto, table, timeRange,
  todayInZone,
} from "./ui.js";
import { forgetJoins, joinControl, joinWaitingToOpen, useJoinClient } from "./join.js";
import { detailsActions, mountBooking, unmountBooking } from "./learner-booking.js";

const state = {
  client: null,
  filter: { courseId: "", instructorId: "" },
  listMode: "upcoming",
  calendarView: "MONTH", // DAY, WEEK or MONTH
  calendarDate: null, // "YYYY-MM-DD": the day shown, or the month's first day
  selectedDay: null,
  courses: new Map(),
  instructors: new Map(),
};

// A booking, cancellation or reschedule on the learner's schedule: load the screens again. After a
// reconnect (the service restarting closes sockets with 1012) it subscribes again after the last
// event seen, so that what happened meanwhile arrives first.
let reloadTimer = null;
let scheduleCursor = null;
function watchSchedule() {
  state.client.subscribe("ScheduleChanged", () => ({ after: scheduleCursor }), (data) => {
    scheduleCursor = data.scheduleChanged.cursor;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(reloadSchedule, 300);
  });
}

async function reloadSchedule() {
  if (!state.client) return;
  await Promise.all([
    loadInto($("up-next-body"), () => state.client.request("Dashboard"), (data) => renderUpNext(data.viewer.schedule.upNext)),
    reloadLists(), loadCalendar()]);
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
        hidden: !joinWaitingToOpen(session.id) }, "Join turns on by itself 15 minutes before the start.")
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

// The chosen tab's list loaded again (a tab, a filter, a schedule change): a failure shows Retry in its place.
function reloadLists() {
  return loadInto($("list-body"), () => loadLists(), () => {});
}

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
    // A next page that fails to load shows Retry in the foot, the rows already shown kept.
    foot.append(el("button", { type: "button", class: "secondary", onclick: () => loadInto(foot, () => loadLists(true), () => {}) },
      "Load more"));
  }
}

const rowClass = (s) => (s.status === "CANCELLED" ? "cancelled" : "");
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

// ---------- calendar: Day, Week and Month views ----------

const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const VIEW_UNIT = { DAY: "day", WEEK: "week", MONTH: "month" };

// Calendar dates ("YYYY-MM-DD") are moved as dates, in UTC, never as instants in the viewer's zone,
// so a day or a week away is the same date in UTC+14 as in UTC−11.
function addDays(date, days) {
  const [year, month, day] = date.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

function addMonths(date, months) {
  const [year, month] = date.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1 + months, 1)).toISOString().slice(0, 10);
}

const calendarFormat = (options) => new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", ...options });
const asDate = (date) => new Date(`${date}T00:00:00Z`);

function loadCalendar() {
  return loadInto($("calendar-body"),
    () => state.client.request("CalendarTab", { view: state.calendarView, date: state.calendarDate }),
    (data) => renderCalendar(data.viewer.schedule.calendar));
}

function renderCalendar(calendar) {
  calendar.days.forEach((day) => day.sessions.forEach(remember));
  const unit = VIEW_UNIT[calendar.view];
  $("month-prev").setAttribute("aria-label", `Previous ${unit}`);
  $("month-next").setAttribute("aria-label", `Next ${unit}`);
  for (const tab of document.querySelectorAll("#calendar-views [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === calendar.view));
  }
  $("calendar-body").dataset.view = calendar.view;
  if (calendar.view === "DAY") {
    $("month-label").textContent = fmtCalendarDate(calendar.start);
    $("calendar-body").replaceChildren(dayView(calendar.days[0]));
    $("day-body").replaceChildren();
  } else if (calendar.view === "WEEK") {
    $("month-label").textContent = weekLabel(calendar);
    $("calendar-body").replaceChildren(weekView(calendar));
    $("day-body").replaceChildren();
  } else {
    $("month-label").textContent = calendarFormat({ month: "long", year: "numeric" }).format(asDate(state.calendarDate));
    renderMonth(calendar);
  }
}

function weekLabel(calendar) {
  const first = asDate(calendar.start);
  const last = asDate(calendar.end);
  const sameMonth = calendar.start.slice(0, 7) === calendar.end.slice(0, 7);
  const from = calendarFormat(sameMonth ? { day: "numeric" } : { day: "numeric", month: "short" }).format(first);
  return `${from}–${calendarFormat({ day: "numeric", month: "short", year: "numeric" }).format(last)}`;
}

function sessionChip(s) {
  return el("button", { type: "button", class: `chip ${rowClass(s)}`, onclick: () => openDetails(s.id),
    title: `${timeRange(s)} ${s.course.title}: details` },
  el("span", { class: "time" }, fmtTime(s.startsAt)), " ", el("span", { class: "code" }, s.course.code));
}

function weekView(calendar) {
  return el("ol", { class: "week" }, calendar.days.map((day) => el("li", {
    class: ["week-day", day.isToday ? "today" : ""].join(" "), "data-date": day.date,
  },
  el("h3", {}, el("span", { class: "weekday-name" }, calendarFormat({ weekday: "short" }).format(asDate(day.date))), " ",
    el("span", { class: "date" }, calendarFormat({ day: "numeric", month: "short" }).format(asDate(day.date)))),
  day.count ? day.sessions.map(sessionChip) : el("p", { class: "muted none" }, "—"))));
}

function dayView(day) {
  return el("div", { class: ["day-list", "day-view", day.isToday ? "today" : ""].join(" "), "data-date": day.date },
    el("h3", {}, fmtCalendarDate(day.date), day.isToday ? el("span", { class: "badge" }, "Today") : null),
    dayEntries(day));
}

function dayEntries(day) {
  if (!day.sessions.length) return el("p", { class: "muted" }, "No sessions.");
  return el("ul", {}, day.sessions.map((s) => el("li", { class: rowClass(s) },
    el("span", { class: "nowrap" }, timeRange(s)), " ", courseCell(s), " · ", s.instructor.displayName, " ",
    detailsButton(s))));
}

function renderMonth(calendar) {
  const month = Number(state.calendarDate.slice(5, 7));
  const first = WEEKDAYS.indexOf(calendar.weekStart);
  const names = [...WEEKDAYS.slice(first), ...WEEKDAYS.slice(0, first)].map((d) => d[0] + d.slice(1, 3).toLowerCase());
  const grid = el("div", { class: "month" }, names.map((n) => el("div", { class: "weekday" }, n)));
  for (const day of calendar.days) {
    const inMonth = Number(day.date.slice(5, 7)) === month;
    const cell = el("button", {
      type: "button",
      class: ["day", inMonth ? "" : "other", day.isToday ? "today" : "", day.date === state.selectedDay ? "selected" : ""].join(" "),
      "data-date": day.date,
      onclick: () => { state.selectedDay = day.date; renderMonth(calendar); },
    // Named by what it shows (WCAG's label in name), after the whole date for a screen reader.
    }, el("span", { class: "sr-only" }, fmtCalendarDate(day.date) + ": "), el("span", { class: "date" }, Number(day.date.slice(8))),
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
  body.append(el("h3", {}, fmtCalendarDate(day.date)), dayEntries(day));
}

// The previous or next day, week or month; a week or day view moves from the day it shows.
function shiftCalendar(delta) {
  if (state.calendarView === "MONTH") state.calendarDate = addMonths(state.calendarDate, delta);
  else state.calendarDate = addDays(state.calendarDate, delta * (state.calendarView === "WEEK" ? 7 : 1));
  state.selectedDay = null;
  loadCalendar();
}

// Switching views keeps the day in view: the chosen day of the month, else today if it is in the month.
function switchCalendar(view) {
  if (view === state.calendarView) return;
  if (view === "MONTH") {
    state.selectedDay = state.calendarView === "DAY" ? state.calendarDate : null;
    state.calendarDate = state.calendarDate.slice(0, 8) + "01";
  } else if (state.calendarView === "MONTH") {
    const today = todayInZone();
    state.calendarDate = state.selectedDay || (today.slice(0, 7) === state.calendarDate.slice(0, 7) ? today : state.calendarDate);
  }
  state.calendarView = view;
  loadCalendar();
}

function calendarToday() {
  const today = todayInZone();
  state.calendarDate = state.calendarView === "MONTH" ? today.slice(0, 8) + "01" : today;
  state.selectedDay = null;
  loadCalendar();
}

// ---------- details window ----------

async function openDetails(id) {
  const dialog = $("details");
  const body = $("details-body");
  body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  if (!dialog.open) dialog.showModal();
  // A failed load shows Retry in the dialog, never a dialog left saying "Loading…".
  await loadInto(body, () => state.client.request("SessionDetails", { id }), ({ node }) => renderDetails(node));
}

function renderDetails(s) {
  const body = $("details-body");
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
    detailsActions(s),
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

// ---------- mounting ----------

let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  for (const mode of ["upcoming", "past"]) {
    $(`tab-${mode}`).addEventListener("click", () => {
      state.listMode = mode;
      $("tab-upcoming").setAttribute("aria-selected", String(mode === "upcoming"));
      $("tab-past").setAttribute("aria-selected", String(mode === "past"));
      reloadLists();
    });
  }
  $("filter-course").addEventListener("change", (event) => { state.filter.courseId = event.target.value; reloadLists(); });
  $("filter-instructor").addEventListener("change", (event) => { state.filter.instructorId = event.target.value; reloadLists(); });
  $("month-prev").addEventListener("click", () => shiftCalendar(-1));
  $("month-next").addEventListener("click", () => shiftCalendar(1));
  for (const tab of document.querySelectorAll("#calendar-views [role=tab]")) {
    tab.addEventListener("click", () => switchCalendar(tab.dataset.view));
  }
  $("feed-reset").addEventListener("click", resetFeed);
  $("feed-copy").addEventListener("click", copyFeed);
  window.addEventListener("hashchange", openLinkedSession);
  $("details").addEventListener("close", () => {
    if (location.hash.startsWith("#session=")) history.replaceState(null, "", location.pathname + location.search);
  });
  $("month-today").addEventListener("click", calendarToday);
}

// Shows the learner's screens in #portal; `client` is the signed-in GraphQLClient.
export async function mount(client) {
  wire();
  state.client = client;
  useJoinClient(client);
  state.calendarView = "MONTH";
  state.calendarDate = todayInZone().slice(0, 8) + "01";
  // Listening before anything is read: a subscription with no cursor starts when the service sets it
  // up, so a change made between a read and a later subscribe would never reach this page.
  watchSchedule();
  const data = await client.request("Dashboard");
  renderUpNext(data.viewer.schedule.upNext);
  openLinkedSession();
  await Promise.all([loadLists(), loadCalendar(), loadFeed(),
    mountBooking(client, $("portal"), { openDetails, scheduleChanged: reloadSchedule })]);
}

// Signed out: nothing of this user's is kept, and their subscriptions end with the client.
export function unmount() {
  state.client = null;
  unmountBooking();
  forgetJoins();
}
