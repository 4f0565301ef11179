// The admin screens: the session list (search, status, category, date range, pages) and the session form
// (create and edit: the three date windows with the coach-window warning, duration sessions, visibility,
// courses and their coaches). Every refused field shows its UserError beside it; every failed load shows
// a Retry. The markup is built here, into index.html's #view-admin.
import {
  $, el, fieldControl, fill, fmtDate, fmtDateTime, fmtTime, fromLocalInput, loadInto, showUserErrors, table, toLocalInput,
} from "./ui.js";

const PAGE_SIZE = 20;
const STATUSES = { UPCOMING: "Upcoming", ACTIVE: "Active", PAST: "Past" };
const VISIBILITIES = {
  READ_ONLY: "Read only after the access end (listed, nothing bookable)",
  VISIBLE: "Visible after the access end (still fully usable)",
  INVISIBLE: "Invisible after the access end (no longer listed)",
};
const WINDOWS = [
  ["displayWindow", "Display window", "When learners see the session listed."],
  ["accessWindow", "Access window", "When learners can use its content and live sessions."],
  ["coachAccessWindow", "Coach access window", "When coaches can; usually from before the access window to after it."],
];

const state = {
  client: null,
  root: null,
  screen: null, // the sub-navigation's current screen
  list: { filter: {}, cursors: [null] }, // cursors[i]: the `after` of page i + 1
  categories: null, // [{id, name}], loaded once
  session: null, // the session Enrolment and Tracking work on: {id, name}
  users: { search: null, cursors: [null] },
};

export async function mount(client, me, root) {
  state.client = client;
  state.root = root;
  fill(root,
    el("h1", { class: "admin-title" }, "Administration"),
    el("nav", { class: "admin-nav", id: "admin-nav", "aria-label": "Administration screens" }),
    el("section", { id: "admin-screen", class: "card admin-screen", "aria-live": "polite" }));
  showSessions();
}

export function unmount() {
  state.client = null;
  state.list = { filter: {}, cursors: [null] };
  state.categories = null;
  state.session = null;
  state.users = { search: null, cursors: [null] };
}

const request = (name, variables) => state.client.request(name, variables);

// ---------- the sub-navigation ----------

const SCREENS = [
  { name: "sessions", label: "Sessions", open: () => showSessions() },
  { name: "session-form", label: "New session", open: () => showSessionForm(null) },
  { name: "enrolment", label: "Enrolment", open: () => showEnrolment() },
  { name: "tracking", label: "Tracking", open: () => showTracking() },
  { name: "users", label: "Users", open: () => showUsers() },
  { name: "webhooks", label: "Webhooks", open: () => showWebhooks() },
];

function markScreen(name) {
  state.screen = name;
  fill($("admin-nav"), SCREENS.map((screen) => el("button", {
    type: "button", class: "view-tab", "data-screen": screen.name,
    "aria-current": screen.name === name ? "page" : null, onclick: screen.open,
  }, screen.label)));
}

function showScreen(name, ...children) {
  markScreen(name);
  const container = $("admin-screen");
  fill(container, children);
  return container;
}

async function categories() {
  if (!state.categories) {
    const data = await request("CategoryPicker", {});
    state.categories = data.sessionCategories.edges.map((edge) => edge.node);
  }
  return state.categories;
}

// ---------- shared pieces ----------

function windowText(window) {
  if (!window.start && !window.end) return "Open";
  return `${window.start ? fmtDate(window.start) : "…"} – ${window.end ? fmtDate(window.end) : "…"}`;
}

function accessText(session) {
  return session.durationDays ? `${session.durationDays} days from first access` : windowText(session.accessWindow);
}

function options(choices, selected, blank) {
  return [
    blank === undefined ? null : el("option", { value: "" }, blank),
    ...choices.map(([value, label]) => el("option", { value, selected: value === selected }, label)),
  ];
}

function field(id, label, control, hint) {
  control.id = id;
  return el("div", { class: "admin-field" }, el("label", { for: id }, label), control,
    hint ? el("p", { class: "muted admin-hint" }, hint) : null);
}

// A search box and what it finds, each with a button that picks it: the session coach, courses, course coaches.
function picker({ id, label, find, describe, onPick, pick = "Add" }) {
  const input = el("input", { type: "search", id, autocomplete: "off" });
  const results = el("ul", { class: "plain admin-results", "aria-live": "polite" });
  const search = () => loadInto(results, () => find(input.value.trim()), (items) => fill(results, items.length
    ? items.map((item) => el("li", {}, describe(item), " ", el("button", {
      type: "button", class: "secondary", "aria-label": `${pick} ${describe(item)}`, onclick: () => onPick(item),
    }, pick)))
    : el("li", { class: "muted" }, "Nothing found.")));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search();
    }
  });
  return el("div", { class: "admin-picker" }, el("label", { for: id }, label),
    el("div", { class: "admin-picker-row" }, input, el("button", { type: "button", class: "secondary", onclick: search }, "Find")),
    results);
}

const findUsers = async (search) => (await request("UserSearch", { search: search || null })).users.edges.map((e) => e.node);
const findCourses = async (search) => (await request("CourseSearch", { search: search || null })).courses.edges.map((e) => e.node);
const personText = (user) => (user.email ? `${user.name} (${user.email})` : user.name);
const courseText = (course) => `${course.code} · ${course.title}`;

// A mutation sent from a form: its UserErrors beside their fields; a failure to reach the service in the
// form's alert, the form kept as it was so that sending it again retries. Returns the payload when saved.
async function submit(form, name, variables, key) {
  const payload = await send(form, () => request(name, variables), key);
  return payload && !payload.errors.length ? payload : null;
}

// The payload, its UserErrors shown; null when the service could not be reached (said in the form's alert).
async function send(form, sending, key) {
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const payload = (await sending())[key];
    showUserErrors(form, payload.errors);
    return payload;
  } catch (error) {
    showUserErrors(form, [{ field: null, message: `Could not send this: ${error.message}. Try again.` }]);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------- Sessions: the list ----------

function showSessions() {
  const list = state.list;
  const search = el("input", { type: "search", name: "search", value: list.filter.search || "" });
  const status = el("select", { name: "status" }, options(Object.entries(STATUSES), list.filter.status, "Any status"));
  const category = el("select", { name: "categoryId" }, el("option", { value: "" }, "Any category"));
  const from = el("input", { type: "date", name: "from", value: list.dates?.from || "" });
  const to = el("input", { type: "date", name: "to", value: list.dates?.to || "" });
  const form = el("form", { class: "admin-filters", role: "search", "aria-label": "Find sessions" },
    field("admin-sessions-search", "Name", search),
    field("admin-sessions-status", "Status", status),
    field("admin-sessions-category", "Category", category),
    field("admin-sessions-from", "From", from),
    field("admin-sessions-to", "To", to),
    el("div", { class: "admin-field admin-actions" }, el("button", { type: "submit", class: "primary" }, "Search")));
  const count = el("p", { class: "admin-count", id: "admin-sessions-count", role: "status" });
  const body = el("div", { id: "admin-sessions-body" }, el("p", { class: "muted" }, "Loading…"));
  showScreen("sessions", el("h2", {}, "Sessions"), form, count, body);
  categories().then((found) => {
    category.append(...options(found.map((c) => [c.id, c.name]), list.filter.categoryId));
  }).catch(() => {}); // the list below says so, with a Retry, if the service is away
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // A date range is whole days in the viewer's zone: from the first day's midnight to the last day's end.
    const end = to.value ? new Date(Date.parse(`${to.value}T00:00:00Z`) + 86400000).toISOString().slice(0, 10) : null;
    list.dates = { from: from.value, to: to.value };
    list.filter = {
      search: search.value.trim() || null, status: status.value || null, categoryId: category.value || null,
      from: fromLocalInput(from.value), to: end && fromLocalInput(end),
    };
    list.cursors = [null];
    loadSessions(count, body);
  });
  loadSessions(count, body);
}

function loadSessions(count, body) {
  const list = state.list;
  const page = list.cursors.length;
  fill(body, el("p", { class: "muted" }, "Loading…"));
  return loadInto(body, () => request("SessionList", {
    filter: list.filter, first: PAGE_SIZE, after: list.cursors[page - 1],
  }), (data) => {
    const { totalCount, edges, pageInfo } = data.sessions;
    const pages = Math.max(1, Math.ceil(totalCount / PAGE_SIZE));
    count.textContent = `${totalCount} ${totalCount === 1 ? "session" : "sessions"}`;
    const rows = edges.map(({ node: s }) => el("tr", { "data-session": s.id },
      el("td", {}, el("button", { type: "button", class: "link admin-open", onclick: () => showSessionForm(s.id) }, s.name)),
      el("td", {}, s.category ? s.category.name : "—"),
      el("td", {}, el("span", { class: `badge admin-status ${s.status.toLowerCase()}` }, STATUSES[s.status])),
      el("td", { class: "admin-access" }, accessText(s)),
      el("td", {}, windowText(s.displayWindow)),
      el("td", {}, windowText(s.coachAccessWindow)),
      el("td", { class: "admin-courses" }, String(s.courseCount)),
      el("td", { class: "admin-learners" }, String(s.learnerCount))));
    fill(body,
      edges.length
        ? table(["Session", "Category", "Status", "Access", "Display", "Coach access", "Courses", "Learners"], rows)
        : el("p", { class: "muted" }, "No session matches."),
      el("div", { class: "list-foot" },
        el("button", { type: "button", class: "secondary", id: "admin-sessions-prev", disabled: page === 1, onclick: () => {
          list.cursors.pop();
          loadSessions(count, body);
        } }, "Previous page"),
        el("span", { id: "admin-sessions-page" }, `Page ${page} of ${pages}`),
        el("button", { type: "button", class: "secondary", id: "admin-sessions-next", disabled: !pageInfo.hasNextPage,
          onclick: () => {
            list.cursors.push(pageInfo.endCursor);
            loadSessions(count, body);
          } }, "Next page")));
  });
}

// ---------- the session form: create (id null) and edit ----------

function showSessionForm(id) {
  const container = showScreen(id ? "sessions" : "session-form", el("p", { class: "muted" }, "Loading…"));
  const load = async () => {
    const [found, data] = await Promise.all([categories(), id ? request("SessionEditor", { id }) : null]);
    if (id && !data.session) throw new Error("this session no longer exists");
    return { categories: found, session: data ? data.session : null };
  };
  loadInto(container, load, ({ categories: found, session }) => renderSessionForm(container, found, session));
}

function renderSessionForm(container, found, session, notice) {
  const editing = session !== null;
  const s = session || {
    name: "", description: "", category: null, coach: null, visibility: "READ_ONLY", durationDays: null,
    displayWindow: {}, accessWindow: {}, coachAccessWindow: {}, courses: [],
  };
  let coach = s.coach;
  const coachShown = el("output", { name: "coachId", id: "admin-session-coach", class: "admin-chosen" });
  const showCoach = () => fill(coachShown, coach ? personText(coach) : "No session coach",
    coach ? el("button", { type: "button", class: "link", onclick: () => { coach = null; showCoach(); } }, "Remove") : null);
  showCoach();

  const byDuration = s.durationDays !== null && s.durationDays !== undefined;
  const durationDays = el("input", { type: "number", name: "durationDays", min: "1", value: byDuration ? s.durationDays : "" });
  const mode = (value, label) => el("label", { class: "admin-radio" },
    el("input", { type: "radio", name: "accessMode", value, checked: (value === "duration") === byDuration }), ` ${label}`);
  const windows = WINDOWS.map(([key, legend, hint]) => el("fieldset", { class: "admin-window", name: key, "data-window": key },
    el("legend", {}, legend), el("p", { class: "muted admin-hint" }, hint),
    el("div", { class: "admin-window-row" },
      field(`admin-${key}-start`, "Start", el("input", { type: "datetime-local", name: `${key}.start`, value: toLocalInput(s[key].start) })),
      field(`admin-${key}-end`, "End", el("input", { type: "datetime-local", name: `${key}.end`, value: toLocalInput(s[key].end) })))));
  const accessFieldset = windows[1];

  const form = el("form", { class: "admin-form", id: "admin-session-form", novalidate: true },
    el("h2", {}, editing ? `Edit ${s.name}` : "New session"),
    notice ? el("p", { class: "notice admin-saved", role: "status" }, notice) : null,
    field("admin-session-name", "Name", el("input", { name: "name", value: s.name, required: true, maxlength: "200" })),
    field("admin-session-description", "Description", el("textarea", { name: "description", rows: "3" }, s.description || "")),
    field("admin-session-category", "Category", el("select", { name: "categoryId" },
      options(found.map((c) => [c.id, c.name]), s.category ? s.category.id : "", "No category"))),
    field("admin-session-visibility", "Visibility", el("select", { name: "visibility" },
      options(Object.entries(VISIBILITIES), s.visibility))),
    el("div", { class: "admin-field" }, el("span", { class: "admin-label", id: "admin-coach-label" }, "Session coach"), coachShown),
    picker({ id: "admin-coach-search", label: "Find a session coach", find: findUsers, describe: personText, pick: "Choose",
      onPick: (user) => { coach = user; showCoach(); } }),
    el("fieldset", { class: "admin-access-mode" }, el("legend", {}, "Learners' access"),
      mode("dates", "Between dates (the access window below)"),
      mode("duration", "For a number of days from each learner's first access"),
      field("admin-session-duration", "Days", durationDays)),
    windows,
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, editing ? "Save" : "Create session"),
      editing ? el("button", { type: "button", class: "secondary", id: "admin-session-enrol", onclick: () => {
        state.session = { id: s.id, name: s.name };
        showEnrolment();
      } }, "Enroll learners") : null,
      el("button", { type: "button", class: "secondary", onclick: () => showSessions() }, "Back to the list")));

  // A duration session has no access dates: the dates are off while the duration is chosen.
  const applyMode = () => {
    const duration = form.querySelector("input[name=accessMode]:checked").value === "duration";
    durationDays.disabled = !duration;
    for (const input of accessFieldset.querySelectorAll("input")) input.disabled = duration;
  };
  form.addEventListener("change", (event) => { if (event.target.name === "accessMode") applyMode(); });
  applyMode();

  const courses = coursesCard(s, editing);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const duration = values.get("accessMode") === "duration";
    const windowOf = (key) => ({ start: fromLocalInput(values.get(`${key}.start`)), end: fromLocalInput(values.get(`${key}.end`)) });
    const input = {
      name: values.get("name").trim(), description: values.get("description").trim() || null,
      categoryId: values.get("categoryId") || null, coachId: coach ? coach.id : null, visibility: values.get("visibility"),
      displayWindow: windowOf("displayWindow"), coachAccessWindow: windowOf("coachAccessWindow"),
      accessWindow: duration ? null : windowOf("accessWindow"),
      durationDays: duration ? Number(values.get("durationDays")) || 0 : null,
    };
    const saved = editing
      ? await submit(form, "UpdateSession", { input: { id: s.id, ...input } }, "updateSession")
      : await submit(form, "CreateSession", { input: { ...input, courseIds: courses.courseIds() } }, "createSession");
    if (!saved) return;
    state.list.cursors = [null]; // the list shows it next time it opens
    markScreen("sessions"); // a created session is edited as any other
    renderSessionForm(container, found, saved.session, editing ? "Saved." : "Session created.");
    showWarnings($("admin-session-form"), saved.warnings);
  });
  fill(container, form, courses.node);
}

// A warning (a coach window not covering the access window) beside the field it is about; it was saved.
function showWarnings(form, warnings) {
  for (const warning of warnings) {
    const control = fieldControl(form, warning.field);
    const note = el("p", { class: "field-warning", role: "status" }, warning.message);
    if (control && control.tagName === "FIELDSET") control.append(note);
    else if (control) control.insertAdjacentElement("afterend", note);
    else form.querySelector(".form-error").insertAdjacentElement("beforebegin", note);
  }
}

// ---------- the session form: its courses, in order, and each course's coaches ----------

// While creating, the chosen courses are sent with createSession; once the session exists, every change is
// saved at once (setSessionCourses, setCourseCoaches), as course coaches need the session.
function coursesCard(session, editing) {
  let courses = session.courses.map((entry) => ({ course: entry.course, coaches: entry.coaches }));
  const form = el("form", { class: "card admin-courses-card", id: "admin-courses-form", "aria-labelledby": "admin-courses-title" });
  const node = el("section", { class: "admin-courses-section" }, form);

  async function setCourses(next) {
    if (!editing) {
      courses = next;
      return render();
    }
    const saved = await submit(form, "SetSessionCourses", {
      input: { sessionId: session.id, courseIds: next.map((entry) => entry.course.id) },
    }, "setSessionCourses");
    if (saved) {
      courses = saved.session.courses;
      render();
    }
  }

  async function setCoaches(entry, coaches) {
    const saved = await submit(form, "SetCourseCoaches", {
      input: { sessionId: session.id, courseId: entry.course.id, coachIds: coaches.map((c) => c.id) },
    }, "setCourseCoaches");
    if (saved) {
      const byCourse = new Map(saved.session.courses.map((c) => [c.course.id, c.coaches]));
      courses = courses.map((c) => ({ course: c.course, coaches: byCourse.get(c.course.id) || [] }));
      render();
    }
  }

  const move = (i, by) => {
    const next = [...courses];
    [next[i], next[i + by]] = [next[i + by], next[i]];
    return setCourses(next);
  };

  function render() {
    const items = courses.map((entry, i) => el("li", { class: "admin-course", "data-course": entry.course.id },
      el("div", { class: "admin-course-head" },
        el("span", {}, el("span", { class: "course-code" }, entry.course.code), " ", entry.course.title),
        el("span", { class: "actions" },
          el("button", { type: "button", class: "secondary", disabled: i === 0, "aria-label": `Move ${entry.course.code} up`,
            onclick: () => move(i, -1) }, "↑"),
          el("button", { type: "button", class: "secondary", disabled: i === courses.length - 1,
            "aria-label": `Move ${entry.course.code} down`, onclick: () => move(i, 1) }, "↓"),
          el("button", { type: "button", class: "link", onclick: () => setCourses(courses.filter((c) => c !== entry)) },
            `Remove ${entry.course.code}`))),
      editing ? el("div", { class: "admin-coaches" },
        el("span", { class: "muted" }, "Coaches: "),
        entry.coaches.length ? entry.coaches.map((c) => el("span", { class: "admin-coach" }, c.name, " ",
          el("button", { type: "button", class: "link", "aria-label": `Remove ${c.name} from ${entry.course.code}`,
            onclick: () => setCoaches(entry, entry.coaches.filter((other) => other.id !== c.id)) }, "✕")))
          : el("span", { class: "muted" }, "none"),
        el("details", {}, el("summary", {}, `Add a coach to ${entry.course.code}`),
          picker({ id: `admin-coach-for-${i}`, label: "Find a person", find: findUsers, describe: personText,
            onPick: (user) => setCoaches(entry, [...entry.coaches.filter((c) => c.id !== user.id), user]) })))
        : null));
    fill(form,
      el("h2", { id: "admin-courses-title" }, "Courses and coaches"),
      editing ? null : el("p", { class: "muted" }, "Courses are saved with the session; coaches can be added once it exists."),
      el("output", { name: "courseIds", class: "admin-count" }, `${courses.length} ${courses.length === 1 ? "course" : "courses"}`),
      el("output", { name: "coachIds", hidden: true }),
      el("ol", { class: "plain admin-course-list" }, items),
      picker({ id: "admin-course-search", label: "Find a course to add", find: findCourses, describe: courseText,
        onPick: (course) => courses.some((c) => c.course.id === course.id) ? null
          : setCourses([...courses, { course, coaches: [] }]) }),
      el("p", { class: "error form-error", role: "alert", hidden: true }));
  }

  render();
  return { node, courseIds: () => courses.map((entry) => entry.course.id) };
}

// ---------- Enrolment: people, a class, or a CSV file ----------

const findSessions = async (search) => (await request("SessionList", { filter: { search: search || null }, first: 20 }))
  .sessions.edges.map((e) => e.node);
const findClasses = async (search) => (await request("ClassPicker", { search: search || null }))
  .userClasses.edges.map((e) => e.node);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The session a screen works on (Enrolment, Tracking): found by name, kept when the admin moves between them.
function sessionPart(id, title, load) {
  const chosen = el("output", { id: `${id}-chosen`, class: "admin-chosen" }, "None chosen yet");
  const body = el("div", { id: `${id}-session` });
  const choose = (session) => {
    state.session = { id: session.id, name: session.name };
    fill(chosen, session.name);
    load(body, state.session);
  };
  const part = el("section", { class: "admin-part", "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, title),
    el("div", { class: "admin-field" }, el("span", { class: "admin-label" }, "Session"), chosen),
    picker({ id: `${id}-session-search`, label: "Find a session", find: findSessions, describe: (s) => s.name,
      pick: "Choose", onPick: choose }),
    body);
  if (state.session) choose(state.session);
  return part;
}

function showEnrolment() {
  showScreen("enrolment", el("h2", {}, "Enrolment"), sessionPart("admin-enrol", "Enroll in a session", loadEnrolled),
    importForm());
}

function loadEnrolled(container, session) {
  fill(container, el("p", { class: "muted" }, "Loading…"));
  return loadInto(container, () => request("SessionEditor", { id: session.id }), ({ session: found }) => {
    if (!found) return fill(container, el("p", { class: "error", role: "alert" }, "This session no longer exists."));
    const { totalCount, edges } = found.learners;
    const enrolForm = (id, title, pickerOptions, input, said) => {
      const notice = el("p", { class: "notice", role: "status" });
      const form = el("form", { class: "admin-enrol", id, "aria-label": title }, el("h4", {}, title),
        picker({ ...pickerOptions, pick: "Enroll", onPick: async (picked) => {
          const payload = await submit(form, "EnrollLearners", { input: { sessionId: session.id, ...input(picked) } },
            "enrollLearners");
          if (!payload) return;
          await loadLearners(list, session); // said once everything shown says it
          fill(notice, said(picked, payload));
          fill(count, plural(payload.session.learnerCount, "learner"));
        } }),
        el("output", { name: "userIds", hidden: true }), el("output", { name: "classId", hidden: true }),
        notice, el("p", { class: "error form-error", role: "alert", hidden: true }));
      return form;
    };
    const count = el("p", { class: "admin-count", id: "admin-enrol-count", role: "status" }, plural(totalCount, "learner"));
    const list = el("div", { id: "admin-enrol-learners" });
    fill(container,
      count,
      el("div", { class: "admin-enrol-ways" },
        enrolForm("admin-enrol-users", "People", { id: "admin-enrol-user-search", label: "Find people by name or e-mail",
          find: findUsers, describe: personText }, (user) => ({ userIds: [user.id] }),
        (user, p) => (p.enrolledCount ? `${user.name} is enrolled.` : `${user.name} was already enrolled.`)),
        enrolForm("admin-enrol-class", "A class", { id: "admin-enrol-class-search", label: "Find a class",
          find: findClasses, describe: (c) => `${c.name} (${plural(c.memberCount, "member")})` }, (c) => ({ classId: c.id }),
        (c, p) => `${c.name}: ${plural(p.enrolledCount, "member")} enrolled, ${p.alreadyEnrolledCount} already were.`)),
      list);
    renderLearners(list, found.learners);
  });
}

function loadLearners(list, session) {
  return loadInto(list, () => request("SessionEditor", { id: session.id }), ({ session: found }) => (found
    ? renderLearners(list, found.learners) : fill(list, el("p", { class: "error", role: "alert" }, "This session no longer exists."))));
}

function renderLearners(list, learners) {
  const shown = learners.edges.map((e) => e.node);
  fill(list, el("h4", {}, "Enrolled learners"),
    shown.length ? table(["Name", "E-mail"], shown.map((u) => el("tr", {}, el("td", {}, u.name), el("td", {}, u.email))))
      : el("p", { class: "muted" }, "Nobody is enrolled yet."),
    learners.totalCount > shown.length
      ? el("p", { class: "muted" }, `The first ${shown.length} of ${learners.totalCount}, by name.`) : null);
}

// A CSV file: enrollments (session,email[,role]), Chamilo's sessions, or users. A refused file changes nothing
// and lists its row errors, each by line and column.
const IMPORT_LABELS = { USERS: ["created", "updated", "unchanged"] };
const IMPORT_KINDS = { ENROLLMENTS: "enrollments", CHAMILO_SESSIONS: "Chamilo sessions", USERS: "users" };

function importForm({ id = "admin-import", title = "Import a CSV file", hint } = {}) {
  const file = el("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const result = el("div", { class: "admin-import-result", id: `${id}-result`, "aria-live": "polite" });
  const form = el("form", { class: "admin-part admin-import", id, "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title` }, title),
    el("p", { class: "muted admin-hint" }, hint || "Enrollments (session,email[,role]), Chamilo's session file, or "
      + "users (email,name[,time_zone,week_start,class,guardian_of,is_admin]). A file with any error changes nothing."),
    field(`${id}-file`, "CSV file", file),
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    el("button", { type: "submit", class: "primary" }, "Import"),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) return showUserErrors(form, [{ field: ["file"], message: "Choose a CSV file." }]);
    fill(result);
    const payload = await send(form, () => state.client.upload("ImportCsv", { input: { file: null } },
      { "input.file": file.files[0] }), "importCsv");
    if (payload) fill(result, importReport(payload));
  });
  return form;
}

function problemsTable(problems) {
  return table(["Line", "Column", "Code", "Message"], problems.map((p) => el("tr", {},
    el("td", {}, String(p.line)), el("td", {}, p.column || "—"), el("td", {}, el("code", {}, p.code)), el("td", {}, p.message))));
}

function importReport(payload) {
  const kind = IMPORT_KINDS[payload.format];
  if (payload.errors.length) {
    const unlisted = payload.rowErrorCount - payload.rowErrors.length;
    return [
      el("p", { class: "error admin-refused" }, `Nothing was imported${kind ? ` from this ${kind} file` : ""}: `
        + `${plural(payload.rowErrorCount, "row error")}. Fix them and import the file again.`),
      payload.rowErrors.length ? problemsTable(payload.rowErrors) : null,
      unlisted > 0 ? el("p", { class: "muted" }, `${unlisted} more not listed: fix these and import again to see them.`) : null,
    ];
  }
  const labels = IMPORT_LABELS[payload.format] || ["created", "updated", "already enrolled"];
  const counts = [payload.created, payload.updated, payload.alreadyEnrolled];
  return [
    el("p", { class: "notice admin-imported" }, `Imported${kind ? ` the ${kind} file` : ""}: `
      + labels.map((label, i) => `${counts[i]} ${label}`).join(", ") + "."),
    payload.warnings.length ? [el("p", {}, "Imported, but worth a look:"), problemsTable(payload.warnings)] : null,
  ];
}

// ---------- Tracking, and its export ----------

const TRACKING_PAGE = 50;
const rate = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 100)} %`);
const figures = (t) => [t.booked, t.attended, t.late, t.absent, t.excused].map((n) => el("td", { class: "num" }, String(n)));

function showTracking() {
  showScreen("tracking", el("h2", {}, "Tracking"), sessionPart("admin-tracking", "Tracking of a session",
    (body, session) => loadTracking(body, session, [null])));
}

function loadTracking(body, session, cursors) {
  fill(body, el("p", { class: "muted" }, "Loading…"));
  return loadInto(body, () => request("SessionTracking", {
    id: session.id, first: TRACKING_PAGE, after: cursors[cursors.length - 1],
  }), ({ session: found }) => {
    if (!found) return fill(body, el("p", { class: "error", role: "alert" }, "This session no longer exists."));
    const { tracking } = found;
    const { totals, learners } = tracking;
    const headings = ["Learner", "Booked", "Attended", "Late", "Absent", "Excused", "Rate", "Last attended"];
    const page = cursors.length;
    fill(body,
      el("dl", { class: "facts admin-tracking-totals", id: "admin-tracking-totals" },
        el("dt", {}, "Learners"), el("dd", {}, String(tracking.learnerCount)),
        el("dt", {}, "Attendance rate"), el("dd", {}, rate(tracking.attendanceRate)),
        el("dt", {}, "Last attended"), el("dd", {}, totals.lastAttendedAt ? fmtDate(totals.lastAttendedAt) : "—")),
      exportForm(session),
      learners.edges.length ? table(headings, [
        ...learners.edges.map(({ node: t }) => el("tr", {}, el("td", {}, t.learner.name), figures(t),
          el("td", { class: "num" }, rate(t.attendanceRate)), el("td", {}, t.lastAttendedAt ? fmtDate(t.lastAttendedAt) : "—"))),
        el("tr", { class: "admin-totals" }, el("th", { scope: "row" }, "All learners"), figures(totals),
          el("td", { class: "num" }, rate(totals.attendanceRate)), el("td", {}, "")),
      ]) : el("p", { class: "muted" }, "Nobody is enrolled."),
      el("div", { class: "list-foot" },
        el("button", { type: "button", class: "secondary", disabled: page === 1,
          onclick: () => loadTracking(body, session, cursors.slice(0, -1)) }, "Previous page"),
        el("span", { id: "admin-tracking-page" },
          `Page ${page} of ${Math.max(1, Math.ceil(learners.totalCount / TRACKING_PAGE))}`),
        el("button", { type: "button", class: "secondary", disabled: !learners.pageInfo.hasNextPage,
          onclick: () => loadTracking(body, session, [...cursors, learners.pageInfo.endCursor]) }, "Next page")));
  });
}

function exportForm(session) {
  const link = el("p", { class: "admin-download", id: "admin-export-link", "aria-live": "polite" });
  const form = el("form", { class: "admin-export", id: "admin-export", "aria-label": "Export the tracking" },
    field("admin-export-format", "Export as", el("select", { name: "format" }, options([["CSV", "CSV"], ["XLSX", "Excel (XLSX)"]], "CSV"))),
    el("button", { type: "submit", class: "secondary" }, "Export"),
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    link);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(link);
    const format = new FormData(form).get("format");
    const payload = await submit(form, "ExportTracking", { input: { sessionId: session.id, format } }, "exportTracking");
    if (payload) {
      fill(link, el("a", { href: payload.url, download: "" }, `Download the tracking (${format})`),
        ` — the link works until ${fmtTime(payload.expiresAt)}.`);
    }
  });
  return form;
}

// ---------- Users: find, create, edit, deactivate, import ----------

const WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const title = (word) => word[0] + word.slice(1).toLowerCase();

function showUsers() {
  const search = el("input", { type: "search", name: "search", value: state.users.search || "" });
  const find = el("form", { class: "admin-filters", role: "search", "aria-label": "Find users" },
    field("admin-users-search", "Name or e-mail", search),
    el("div", { class: "admin-field admin-actions" }, el("button", { type: "submit", class: "primary" }, "Search")));
  const count = el("p", { class: "admin-count", id: "admin-users-count", role: "status" });
  const list = el("form", { id: "admin-users-list", "aria-label": "Users" });
  const editor = el("div", { id: "admin-user-editor" });
  showScreen("users", el("h2", {}, "Users"), find, count, list, editor,
    el("button", { type: "button", class: "secondary", id: "admin-user-new", onclick: () => userForm(editor, null, reload) },
      "New user"),
    importForm({ id: "admin-users-import", title: "Import users from a CSV file",
      hint: "email,name[,time_zone,week_start,class,guardian_of,is_admin]: new users are created, existing ones "
        + "updated. A file with any error changes nothing." }));
  const reload = () => loadUsers(list, count, editor);
  find.addEventListener("submit", (event) => {
    event.preventDefault();
    state.users = { search: search.value.trim() || null, cursors: [null] };
    reload();
  });
  reload();
}

function loadUsers(list, count, editor) {
  const users = state.users;
  const page = users.cursors.length;
  const reload = () => loadUsers(list, count, editor);
  fill(list, el("p", { class: "muted" }, "Loading…"));
  return loadInto(list, () => request("AdminUserList", { search: users.search, first: PAGE_SIZE, after: users.cursors[page - 1] }),
    (data) => {
      const { totalCount, edges, pageInfo } = data.users;
      count.textContent = plural(totalCount, "user");
      const rows = edges.map(({ node: u }) => el("tr", { "data-user": u.id, class: u.active ? null : "admin-inactive" },
        el("td", {}, u.name), el("td", {}, u.email || "—"), el("td", {}, u.isAdmin ? "Admin" : "—"),
        el("td", {}, u.active ? "Active" : "Inactive"), el("td", {}, u.timeZone),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "link", "aria-label": `Edit ${u.name}`, onclick: () => userForm(editor, u, reload) }, "Edit"),
          el("button", { type: "button", class: "link", "aria-label": `${u.active ? "Deactivate" : "Reactivate"} ${u.name}`,
            onclick: async () => {
              if (await submit(list, "AdminUpdateUser", { input: { id: u.id, active: !u.active } }, "updateUser")) reload();
            } }, u.active ? "Deactivate" : "Reactivate"))));
      fill(list,
        edges.length ? table(["Name", "E-mail", "Role", "Status", "Time zone", ""], rows) : el("p", { class: "muted" }, "Nobody matches."),
        el("p", { class: "error form-error", role: "alert", hidden: true }),
        el("div", { class: "list-foot" },
          el("button", { type: "button", class: "secondary", disabled: page === 1, onclick: () => {
            users.cursors.pop();
            reload();
          } }, "Previous page"),
          el("span", { id: "admin-users-page" }, `Page ${page} of ${Math.max(1, Math.ceil(totalCount / PAGE_SIZE))}`),
          el("button", { type: "button", class: "secondary", disabled: !pageInfo.hasNextPage, onclick: () => {
            users.cursors.push(pageInfo.endCursor);
            reload();
          } }, "Next page")));
    });
}

// The form of a new user (user null) or of one to edit; `saved` reloads the list.
function userForm(container, user, saved) {
  const editing = user !== null;
  const checkbox = (name, label, checked) => el("label", { class: "admin-radio" },
    el("input", { type: "checkbox", name, checked }), ` ${label}`);
  const form = el("form", { class: "admin-form card admin-user-form", id: "admin-user-form", novalidate: true },
    el("h3", {}, editing ? `Edit ${user.name}` : "New user"),
    field("admin-user-name", "Name", el("input", { name: "name", value: editing ? user.name : "", required: true })),
    editing ? null : field("admin-user-email", "E-mail address", el("input", { type: "email", name: "email", required: true })),
    field("admin-user-zone", "Time zone", el("input", { name: "timeZone", value: editing ? user.timeZone : "Europe/Paris" }),
      "An IANA time zone, as Europe/Paris."),
    field("admin-user-week", "Week starts on", el("select", { name: "weekStart" },
      options(WEEKDAYS.map((day) => [day, title(day)]), editing ? user.weekStart : "MONDAY"))),
    checkbox("isAdmin", "Administrator", editing && user.isAdmin),
    editing ? checkbox("active", "Active (may sign in)", user.active)
      : checkbox("sendInvitation", "Make an invitation link to choose a first password", true),
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, editing ? "Save" : "Create user"),
      el("button", { type: "button", class: "secondary", onclick: () => fill(container) }, "Close")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const input = { name: values.get("name").trim(), timeZone: values.get("timeZone").trim(),
      weekStart: values.get("weekStart"), isAdmin: values.has("isAdmin") };
    const payload = editing
      ? await submit(form, "AdminUpdateUser", { input: { id: user.id, ...input, active: values.has("active") } }, "updateUser")
      : await submit(form, "AdminCreateUser", { input: { ...input, email: values.get("email").trim(),
        sendInvitation: values.has("sendInvitation") } }, "createUser");
    if (!payload) return;
    fill(container, el("div", { class: "notice admin-user-saved", role: "status" },
      el("p", {}, editing ? `Saved ${payload.user.name}.` : `Created ${payload.user.name}.`),
      payload.invitationUrl ? [field("admin-user-invitation", "Invitation link (pass it on: it works once)",
        el("input", { readonly: true, value: payload.invitationUrl }))] : null));
    saved();
  });
  fill(container, form);
  form.querySelector("input").focus();
}

// ---------- Webhooks: endpoints, their secret once, their delivery log ----------

// DESIGN.md's webhook event types (the schema takes them as strings; tests/test_web_admin.py keeps this list
// the service's).
export const EVENT_TYPES = [
  "booking.created", "booking.cancelled", "booking.rescheduled", "live_session.updated", "live_session.cancelled",
  "absence_request.created", "absence_request.reviewed", "enrollment.created", "waitlist.promoted", "reminder.due",
];

function showWebhooks() {
  const list = el("form", { id: "admin-webhooks-list", "aria-label": "Webhook endpoints" });
  const deliveries = el("div", { id: "admin-deliveries", "aria-live": "polite" });
  const reload = () => loadWebhooks(list, deliveries);
  showScreen("webhooks", el("h2", {}, "Webhooks"), list, deliveries, webhookForm(reload));
  reload();
}

function loadWebhooks(list, deliveries) {
  fill(list, el("p", { class: "muted" }, "Loading…"));
  const reload = () => loadWebhooks(list, deliveries);
  return loadInto(list, () => request("WebhookEndpoints", { first: 100 }), (data) => {
    const { totalCount, edges } = data.webhookEndpoints;
    const remove = async (endpoint) => {
      if (!window.confirm(`Delete the endpoint ${endpoint.url} and its delivery log?`)) return;
      if (await submit(list, "AdminDeleteWebhookEndpoint", { input: { id: endpoint.id } }, "deleteWebhookEndpoint")) {
        fill(deliveries);
        reload();
      }
    };
    fill(list,
      el("p", { class: "admin-count", id: "admin-webhooks-count", role: "status" }, plural(totalCount, "endpoint")),
      edges.length ? table(["URL", "Events", "Status", "Description", ""], edges.map(({ node: e }) => el("tr", { "data-endpoint": e.id },
        el("td", { class: "admin-url" }, e.url), el("td", {}, e.eventTypes.join(", ")), el("td", {}, e.active ? "Active" : "Off"),
        el("td", {}, e.description || "—"),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "link", "aria-label": `Deliveries to ${e.url}`,
            onclick: () => loadDeliveries(deliveries, e, [null]) }, "Deliveries"),
          el("button", { type: "button", class: "link", "aria-label": `Delete ${e.url}`, onclick: () => remove(e) }, "Delete")))))
        : el("p", { class: "muted" }, "No endpoint yet."),
      el("p", { class: "error form-error", role: "alert", hidden: true }));
  });
}

function loadDeliveries(container, endpoint, cursors) {
  fill(container, el("p", { class: "muted" }, "Loading…"));
  return loadInto(container, () => request("WebhookDeliveries", { id: endpoint.id, after: cursors[cursors.length - 1] }),
    ({ node }) => {
      if (!node) return fill(container, el("p", { class: "error", role: "alert" }, "This endpoint no longer exists."));
      const { edges, pageInfo } = node.deliveries;
      const when = (iso) => (iso ? fmtDateTime(iso) : "—");
      fill(container, el("section", { class: "admin-part", "aria-labelledby": "admin-deliveries-title" },
        el("h3", { id: "admin-deliveries-title" }, `Deliveries to ${node.url}`),
        edges.length ? table(["Event", "Message", "Status", "Attempts", "Last attempt", "Response", "Next attempt"],
          edges.map(({ node: d }) => el("tr", {}, el("td", {}, d.eventType), el("td", {}, el("code", {}, d.webhookId)),
            el("td", {}, el("span", { class: `badge admin-delivery ${d.status.toLowerCase()}` }, title(d.status))),
            el("td", { class: "num" }, String(d.attempts)), el("td", {}, when(d.lastAttemptAt)),
            el("td", {}, d.responseStatus === null ? "—" : String(d.responseStatus)), el("td", {}, when(d.nextAttemptAt)))))
          : el("p", { class: "muted" }, "Nothing sent yet."),
        el("div", { class: "list-foot" },
          el("button", { type: "button", class: "secondary", disabled: cursors.length === 1,
            onclick: () => loadDeliveries(container, endpoint, cursors.slice(0, -1)) }, "Newer"),
          el("button", { type: "button", class: "secondary", disabled: !pageInfo.hasNextPage,
            onclick: () => loadDeliveries(container, endpoint, [...cursors, pageInfo.endCursor]) }, "Older"))));
    });
}

function webhookForm(created) {
  const secret = el("div", { id: "admin-webhook-secret", "aria-live": "polite" });
  const form = el("form", { class: "admin-part admin-form", id: "admin-webhook-form", novalidate: true,
    "aria-labelledby": "admin-webhook-form-title" },
    el("h3", { id: "admin-webhook-form-title" }, "New endpoint"),
    field("admin-webhook-url", "URL", el("input", { type: "url", name: "url", required: true, placeholder: "https://" }),
      "A public HTTPS address; events are signed with the endpoint's secret (Standard Webhooks)."),
    field("admin-webhook-description", "Description", el("input", { name: "description" })),
    el("fieldset", { class: "admin-window", name: "eventTypes" }, el("legend", {}, "Events to send"),
      EVENT_TYPES.map((type) => el("label", { class: "admin-radio" },
        el("input", { type: "checkbox", name: "eventType", value: type }), ` ${type}`))),
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    el("button", { type: "submit", class: "primary" }, "Create endpoint"),
    secret);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(secret);
    const values = new FormData(form);
    const payload = await submit(form, "CreateWebhookEndpoint", { input: {
      url: values.get("url").trim(), description: values.get("description").trim() || null,
      eventTypes: values.getAll("eventType"),
    } }, "createWebhookEndpoint");
    if (!payload) return;
    form.reset();
    fill(secret, el("div", { class: "notice admin-secret", role: "status" },
      el("p", {}, `Created the endpoint ${payload.webhookEndpoint.url}. Keep its secret now: it is not shown again.`),
      field("admin-webhook-secret-value", "Signing secret", el("input", { readonly: true, value: payload.secret }))));
    created();
  });
  return form;
}
