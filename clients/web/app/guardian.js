// A guardian's screens (#view-guardian), read-only: a switch between their children, and for the chosen
// child the dashboard (Up Next, today, upcoming), a week or month calendar, and the reports of past
// sessions (attendance and the instructor's feedback).
import {
  addDays, card, courseCell, el, fill, fmtCalendarDate, fmtDate, fmtShortDate, fmtTime, loadInto, pagedRows, table,
  timeRange, todayInZone,
} from "./ui.js";

const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

const state = {
  client: null,
  root: null,
  children: [], // the Me viewer's children: {user: {id, name}}
  childId: null,
  calendarView: "MONTH",
  calendarDate: null, // "YYYY-MM-DD" inside the week or month shown
  pastCursor: null,
};

const part = (id) => state.root.querySelector(`#${id}`);
const loading = () => el("p", { class: "muted" }, "Loading…");
const childOf = (viewer) => viewer.children.find((child) => child.user.id === state.childId);

// ---------- the switch between children ----------

function renderSwitch() {
  fill(part("guardian-switch"), state.children.map((child) => el("button", {
    type: "button", class: "view-tab", "data-child": child.user.id,
    "aria-pressed": String(child.user.id === state.childId),
    onclick: () => choose(child.user.id),
  }, child.user.name)));
}

async function choose(childId) {
  state.childId = childId;
  state.pastCursor = null;
  renderSwitch();
  const name = state.children.find((child) => child.user.id === childId).user.name;
  part("guardian-child-name").textContent = name;
  await Promise.all([
    loadInto(part("guardian-dashboard-body"), loadDashboard, () => {}),
    loadInto(part("guardian-calendar-body"), loadCalendar, () => {}),
    loadInto(part("guardian-reports-body"), () => loadReports(), () => {}),
  ]);
}

// ---------- dashboard ----------

async function loadDashboard() {
  const data = await state.client.request("Children", { first: 10 });
  const child = childOf(data.viewer);
  if (!child) return fill(part("guardian-dashboard-body"), el("p", { class: "muted" }, "This child is no longer linked to you."));
  const { upNext, today, upcoming } = child.schedule;
  fill(part("guardian-dashboard-body"),
    el("p", { class: "muted" }, `Credits: ${child.credits.balance}`),
    el("h3", {}, "Up Next"),
    upNext
      ? el("div", { class: "guardian-up-next" },
        el("div", { class: "up-next-course" }, upNext.course.title),
        el("div", { class: "up-next-when" }, fmtDate(upNext.startsAt), " · ", timeRange(upNext)),
        el("p", { class: "muted" }, "Session ID ", el("code", {}, upNext.code), ` · ${upNext.instructor.displayName}`))
      : el("p", { class: "muted" }, "Nothing scheduled."),
    el("h3", {}, "Today"),
    today.length ? sessionsTable(today, false) : el("p", { class: "muted" }, "No sessions today."),
    el("h3", {}, "Upcoming"),
    upcoming.totalCount ? sessionsTable(upcoming.edges.map((edge) => edge.node), true) : el("p", { class: "muted" }, "No upcoming sessions."),
    upcoming.totalCount > upcoming.edges.length
      ? el("p", { class: "muted" }, `The next ${upcoming.edges.length} of ${upcoming.totalCount}; the calendar shows the rest.`) : null);
}

function sessionsTable(sessions, withDate) {
  const headings = [withDate ? "Date" : null, "Time", "Course", "Instructor", "Session ID"].filter(Boolean);
  return table(headings, sessions.map((s) => el("tr", { class: s.status === "CANCELLED" ? "cancelled" : "" },
    withDate ? el("td", { class: "nowrap" }, fmtShortDate(s.startsAt)) : null,
    el("td", { class: "nowrap" }, timeRange(s)),
    el("td", {}, courseCell(s), s.status === "CANCELLED" ? [" ", el("span", { class: "badge cancelled" }, "Cancelled")] : null),
    el("td", { class: "nowrap" }, s.instructor.displayName),
    el("td", {}, el("code", {}, s.code)))));
}

// ---------- calendar ----------

async function loadCalendar() {
  const data = await state.client.request("ChildCalendar", { view: state.calendarView, date: state.calendarDate });
  const child = childOf(data.viewer);
  if (child) renderCalendar(child.schedule.calendar);
}

function renderCalendar(calendar) {
  const [start, end] = [calendar.start, calendar.end];
  const middle = calendar.days[Math.floor(calendar.days.length / 2)].date;
  part("guardian-calendar-label").textContent = state.calendarView === "MONTH"
    ? new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(`${middle}T00:00:00Z`))
    : `${fmtCalendarDate(start)} – ${fmtCalendarDate(end)}`;
  const first = WEEKDAYS.indexOf(weekdayOf(calendar.days[0].date));
  const names = [...WEEKDAYS.slice(first), ...WEEKDAYS.slice(0, first)].map((d) => d[0] + d.slice(1, 3).toLowerCase());
  const month = middle.slice(5, 7);
  const grid = el("div", { class: `month guardian-${state.calendarView.toLowerCase()}` }, names.map((n) => el("div", { class: "weekday", "aria-hidden": "true" }, n)));
  for (const day of calendar.days) {
    const other = state.calendarView === "MONTH" && day.date.slice(5, 7) !== month;
    grid.append(el("div", {
      class: ["day", other ? "other" : "", day.isToday ? "today" : ""].join(" "), role: "group",
      "aria-label": `${fmtCalendarDate(day.date)}: ${day.count} session${day.count === 1 ? "" : "s"}`,
    },
    el("span", { class: "date" }, Number(day.date.slice(8))),
    day.count ? el("span", { class: "count" }, String(day.count), el("span", { class: "unit" }, day.count === 1 ? " session" : " sessions")) : null,
    day.sessions.slice(0, state.calendarView === "WEEK" ? 8 : 2).map((s) => el("span", { class: "chip" },
      el("span", { class: "time" }, fmtTime(s.startsAt)), " ", el("span", { class: "code" }, s.course.title))),
    state.calendarView === "MONTH" && day.count > 2 ? el("span", { class: "more" }, `+${day.count - 2} more`) : null));
  }
  fill(part("guardian-calendar-body"), grid);
}

function weekdayOf(date) {
  return WEEKDAYS[(new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7];
}

function shiftCalendar(delta) {
  if (state.calendarView === "WEEK") state.calendarDate = addDays(state.calendarDate, 7 * delta);
  else {
    const [year, month] = state.calendarDate.split("-").map(Number);
    state.calendarDate = new Date(Date.UTC(year, month - 1 + delta, 1)).toISOString().slice(0, 10);
  }
  return loadInto(part("guardian-calendar-body"), loadCalendar, () => {});
}

function setCalendarView(view) {
  state.calendarView = view;
  for (const button of part("guardian-calendar").querySelectorAll("[data-calendar-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.calendarView === view));
  }
  return loadInto(part("guardian-calendar-body"), loadCalendar, () => {});
}

// ---------- reports ----------

async function loadReports(append = false) {
  const data = await state.client.request("ChildPastSessions", { first: 10, after: append ? state.pastCursor : null });
  const child = childOf(data.viewer);
  if (!child) return;
  const past = child.schedule.past;
  state.pastCursor = past.pageInfo.endCursor;
  pagedRows(part("guardian-reports-body"), {
    headings: ["Date", "Course", "Instructor", "Attendance", "Feedback"],
    rows: past.edges.map(({ node: s }) => {
      const attendance = s.status === "CANCELLED" ? "cancelled" : s.myReport ? s.myReport.attendance.toLowerCase() : "not recorded";
      return el("tr", { class: s.status === "CANCELLED" ? "cancelled" : "" },
        el("td", { class: "nowrap" }, fmtShortDate(s.startsAt), " ", timeRange(s)),
        el("td", {}, courseCell(s)),
        el("td", { class: "nowrap" }, s.instructor.displayName),
        el("td", {}, el("span", { class: `attendance ${attendance}` }, attendance)),
        el("td", {}, s.myReport && s.myReport.feedback ? `“${s.myReport.feedback}”` : "—"));
    }),
    append, totalCount: past.totalCount, hasNextPage: past.pageInfo.hasNextPage,
    empty: "No past sessions yet.", more: () => loadReports(true),
  });
}

// ---------- mounting ----------

// Shows the guardian's screens in `root`, for the children the Me viewer lists.
export async function mount(client, me, root) {
  Object.assign(state, { client, root, children: me.children, calendarView: "MONTH", calendarDate: todayInZone() });
  const viewButton = (view, label) => el("button", {
    type: "button", class: "link", "data-calendar-view": view, "aria-pressed": String(view === state.calendarView),
    onclick: () => setCalendarView(view),
  }, label);
  fill(root,
    el("div", { class: "guardian-head" },
      el("h1", { class: "view-title" }, "My children: ", el("span", { id: "guardian-child-name" })),
      el("nav", { class: "guardian-switch", id: "guardian-switch", "aria-label": "Children" })),
    el("div", { class: "row" },
      card("guardian-dashboard", "Dashboard", el("div", { id: "guardian-dashboard-body", "aria-live": "polite" }, loading())),
      el("section", { class: "card calendar", id: "guardian-calendar", "aria-labelledby": "guardian-calendar-title" },
        el("div", { class: "card-head" },
          el("h2", { id: "guardian-calendar-title" }, "Calendar"),
          el("div", { class: "month-nav" },
            el("button", { type: "button", "aria-label": "Previous", onclick: () => shiftCalendar(-1) }, "‹"),
            el("span", { id: "guardian-calendar-label" }),
            el("button", { type: "button", "aria-label": "Next", onclick: () => shiftCalendar(1) }, "›"),
            viewButton("WEEK", "Week"), viewButton("MONTH", "Month"))),
        el("div", { id: "guardian-calendar-body" }, loading()))),
    card("guardian-reports", "Reports", el("div", { id: "guardian-reports-body" }, loading())));
  await choose(state.children[0].user.id);
}

export function unmount() {
  Object.assign(state, { client: null, root: null, children: [], childId: null });
}
