// The instructor's screens (#view-instructor): today's classes with their Join buttons, the classes ahead,
// a class's learners with their attendance and feedback, the absence requests to review, and the
// availability they publish for learners to book (once, or repeated by an RRULE).
import {
  addDays, card, courseCell, el, fill, fmtDateTime, fmtShortDate, fmtTime, instantInZone, loadInto, pagedRows,
  showUserErrors, table, timeRange, todayInZone,
} from "./ui.js";
import { forgetJoins, joinControl, useJoinClient } from "./join.js";

const ATTENDANCE = ["PRESENT", "LATE", "ABSENT", "EXCUSED"];
const SLOT_WEEKS = 8; // how far ahead the availability list looks (availableSlots takes at most 93 days)

const state = {
  client: null,
  me: null,
  root: null,
  upcomingCursor: null,
};

const loading = () => el("p", { class: "muted" }, "Loading…");
const part = (id) => state.root.querySelector(`#${id}`);
const seatsTaken = (c) => `${c.capacity - c.seatsLeft} of ${c.capacity}`;
// A status line that screen readers announce when it changes.
const status = (id) => el("p", { class: "notice", id, role: "status", "aria-live": "polite", hidden: true });

function say(node, message) {
  node.hidden = !message;
  node.textContent = message || "";
}

// ---------- today's and upcoming classes ----------

// Today's classes have a Join button (each one a JoinAvailability subscription); those ahead only say
// whether they were cancelled.
function classActions(c, { join }) {
  return el("div", { class: "actions" },
    join ? joinControl(c) : c.status === "CANCELLED" ? el("span", { class: "badge cancelled" }, "Cancelled") : null,
    el("button", { type: "button", class: "secondary", onclick: () => openClass(c.id) }, "Learners"));
}

async function loadToday() {
  const today = todayInZone();
  const data = await state.client.request("Teaching", {
    from: instantInZone(today, "00:00"), to: instantInZone(addDays(today, 1), "00:00"), first: 50,
  });
  const classes = data.viewer.teaching.edges.map((edge) => edge.node);
  fill(part("teach-today-body"), classes.length
    ? table(["Time", "Course", "Session ID", "Booked", ""], classes.map((c) => el("tr", { class: c.status === "CANCELLED" ? "cancelled" : "" },
      el("td", { class: "nowrap" }, timeRange(c)),
      el("td", {}, courseCell(c)),
      el("td", {}, el("code", {}, c.code)),
      el("td", { class: "nowrap" }, seatsTaken(c)),
      el("td", {}, classActions(c, { join: true })))))
    : el("p", { class: "muted" }, "No classes today."));
}

async function loadUpcoming(append = false) {
  const data = await state.client.request("Teaching", {
    from: instantInZone(addDays(todayInZone(), 1), "00:00"), first: 10, after: append ? state.upcomingCursor : null,
  });
  const teaching = data.viewer.teaching;
  state.upcomingCursor = teaching.pageInfo.endCursor;
  pagedRows(part("teach-upcoming-body"), {
    headings: ["Date", "Time", "Course", "Session ID", "Booked", ""],
    rows: teaching.edges.map(({ node: c }) => el("tr", { class: c.status === "CANCELLED" ? "cancelled" : "" },
      el("td", { class: "nowrap" }, fmtShortDate(c.startsAt)),
      el("td", { class: "nowrap" }, timeRange(c)),
      el("td", {}, courseCell(c)),
      el("td", {}, el("code", {}, c.code)),
      el("td", { class: "nowrap" }, seatsTaken(c)),
      el("td", {}, classActions(c, { join: false })))),
    append, totalCount: teaching.totalCount, hasNextPage: teaching.pageInfo.hasNextPage,
    empty: "No classes ahead.", more: () => loadUpcoming(true),
  });
}

// ---------- one class: its learners, attendance and feedback ----------

// The learners to report on: those booked on the class, and any already reported on (a learner of the
// class's session is listed once reported: the session's enrolments are its coaches' to read).
function learnersOf(liveSession) {
  const learners = new Map();
  for (const { node: booking } of liveSession.bookings.edges) {
    if (booking.status === "BOOKED") learners.set(booking.learner.id, { learner: booking.learner, absence: booking.absenceRequest });
  }
  for (const { node: report } of liveSession.reports.edges) {
    const entry = learners.get(report.learner.id) || { learner: report.learner, absence: null };
    learners.set(report.learner.id, { ...entry, report });
  }
  return [...learners.values()].sort((a, b) => a.learner.name.localeCompare(b.learner.name));
}

async function openClass(id) {
  const panel = part("teach-class");
  panel.hidden = false;
  const body = part("teach-class-body");
  fill(body, loading());
  panel.scrollIntoView({ block: "start" });
  await loadInto(body, () => state.client.request("ClassRoster", { id }), (data) => renderClass(data.node));
}

function renderClass(c) {
  const body = part("teach-class-body");
  part("teach-class-title").textContent = `${c.course.title} · ${fmtShortDate(c.startsAt)} ${timeRange(c)}`;
  const learners = learnersOf(c);
  if (!learners.length) {
    fill(body, el("p", { class: "muted" }, `No learner is booked on ${c.code} yet.`));
    return;
  }
  const rows = learners.map(({ learner, absence, report }, index) => {
    const statusId = `attendance-${index}`;
    const feedbackId = `feedback-${index}`;
    return el("fieldset", { class: "teach-learner", "data-index": String(index), "data-learner": learner.id },
      el("legend", {}, learner.name),
      absence ? el("p", { class: "muted" }, `Absence request (${absence.status.toLowerCase()}): ${absence.reason}`) : null,
      el("label", { for: statusId }, "Attendance"),
      el("select", { id: statusId, name: "status" },
        el("option", { value: "" }, "Not recorded"),
        ATTENDANCE.map((value) => el("option", { value, selected: report && report.attendance === value }, value.toLowerCase()))),
      el("label", { for: feedbackId }, "Feedback"),
      el("textarea", { id: feedbackId, name: "feedback", rows: 2 }, report && report.feedback ? report.feedback : ""),
      report ? el("p", { class: "muted recorded" }, `Recorded ${fmtDateTime(report.recordedAt)}`) : null);
  });
  const saved = status("teach-attendance-saved");
  const form = el("form", { class: "teach-attendance", "aria-label": `Attendance for ${c.code}` },
    el("p", { class: "muted" }, `Session ID `, el("code", {}, c.code), ` · booked ${seatsTaken(c)}`),
    rows,
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    saved,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Save attendance")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveAttendance(form, c, learners, saved);
  });
  fill(body, form);
}

async function saveAttendance(form, c, learners, saved) {
  say(saved, null);
  // Only the learners given a status are sent, in the order shown (the errors' positions are theirs).
  const fieldsets = [...form.querySelectorAll("fieldset.teach-learner")].filter((fieldset) => fieldset.querySelector("select").value);
  fieldsets.forEach((fieldset, position) => { fieldset.dataset.index = String(position); });
  for (const fieldset of form.querySelectorAll("fieldset.teach-learner")) {
    if (!fieldsets.includes(fieldset)) delete fieldset.dataset.index;
  }
  const entries = fieldsets.map((fieldset) => ({
    learnerId: fieldset.dataset.learner,
    status: fieldset.querySelector("select").value,
    feedback: fieldset.querySelector("textarea").value,
  }));
  try {
    const { recordAttendance: result } = await state.client.request("RecordAttendance", { input: { liveSessionId: c.id, entries } });
    if (showUserErrors(form, result.errors)) return;
    const recorded = new Map(result.liveSession.reports.edges.map(({ node }) => [node.learner.id, node]));
    for (const fieldset of form.querySelectorAll("fieldset.teach-learner")) {
      const report = recorded.get(fieldset.dataset.learner);
      if (!report) continue;
      fieldset.querySelector(".recorded")?.remove();
      fieldset.append(el("p", { class: "muted recorded" }, `Recorded ${fmtDateTime(report.recordedAt)}`));
    }
    say(saved, `Attendance saved for ${entries.length} learner${entries.length === 1 ? "" : "s"}.`);
  } catch (error) {
    showUserErrors(form, [{ field: null, message: `Could not save: ${error.message}` }]);
  }
}

// ---------- absence requests ----------

async function loadAbsences() {
  const data = await state.client.request("TeachingAbsenceRequests", { from: new Date().toISOString() });
  const requests = [];
  for (const { node: c } of data.viewer.teaching.edges) {
    for (const { node: booking } of c.bookings.edges) {
      if (booking.absenceRequest) requests.push({ liveSession: c, learner: booking.learner, request: booking.absenceRequest });
    }
  }
  const pending = requests.filter((r) => r.request.status === "PENDING");
  const decided = requests.filter((r) => r.request.status !== "PENDING");
  fill(part("teach-absences-body"),
    pending.length ? el("ul", { class: "plain teach-requests" }, pending.map(absenceItem))
      : el("p", { class: "muted" }, "No absence request waits for you."),
    decided.length ? [el("h3", {}, "Reviewed"), el("ul", { class: "plain teach-requests" }, decided.map(absenceItem))] : null);
}

function absenceItem({ liveSession: c, learner, request }) {
  const commentId = `absence-comment-${request.id}`;
  const decision = status(`absence-decision-${request.id}`);
  const form = el("form", { class: "teach-request", "aria-label": `Absence request of ${learner.name}` },
    el("p", {}, el("strong", {}, learner.name), ` · ${c.course.title} · ${fmtShortDate(c.startsAt)} ${timeRange(c)}`),
    el("p", { class: "muted" }, `“${request.reason}” · asked ${fmtDateTime(request.requestedAt)}`),
    request.status === "PENDING" ? [
      el("label", { for: commentId }, "Comment for the learner (optional)"),
      el("input", { id: commentId, name: "comment", type: "text", value: request.comment || "" }),
      el("p", { class: "error form-error", role: "alert", hidden: true }),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "primary", value: "approve" }, "Approve"),
        el("button", { type: "submit", class: "secondary", value: "refuse" }, "Refuse")),
    ] : null,
    decision);
  if (request.status !== "PENDING") say(decision, decisionText(request));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    decide(form, request, event.submitter.value === "approve", decision);
  });
  return el("li", {}, form);
}

const decisionText = (request) => `${request.status === "APPROVED" ? "Approved" : "Refused"}${request.comment ? `: “${request.comment}”` : ""}`;

async function decide(form, request, approve, decision) {
  try {
    const { reviewAbsenceRequest: result } = await state.client.request("DecideAbsenceRequest", {
      input: { id: request.id, approve, comment: form.elements.comment.value.trim() || null },
    });
    if (showUserErrors(form, result.errors)) return;
    for (const control of form.querySelectorAll("label, input, .actions")) control.remove();
    say(decision, decisionText(result.absenceRequest));
  } catch (error) {
    showUserErrors(form, [{ field: null, message: `Could not send the decision: ${error.message}` }]);
  }
}

// ---------- availability ----------

const REPEATS = [
  ["", "Does not repeat"],
  ["FREQ=DAILY;COUNT=5", "Every day, 5 times"],
  ["FREQ=WEEKLY;COUNT=4", "Every week, 4 times"],
  ["FREQ=WEEKLY;INTERVAL=2;COUNT=4", "Every two weeks, 4 times"],
];

function availabilityForm(courses) {
  const field = (id, label, control) => el("div", { class: "field" }, el("label", { for: id }, label), control);
  const form = el("form", { class: "teach-publish", "aria-label": "Publish availability" },
    field("slot-course", "Course", el("select", { id: "slot-course", name: "courseId", required: true },
      courses.map((c) => el("option", { value: c.id }, `${c.code} · ${c.title}`)))),
    el("div", { class: "field-row" },
      field("slot-date", "Date", el("input", { id: "slot-date", name: "date", type: "date", required: true, value: addDays(todayInZone(), 1) })),
      field("slot-start", "Starts", el("input", { id: "slot-start", name: "startsAt", type: "time", required: true, value: "09:00" })),
      field("slot-end", "Ends", el("input", { id: "slot-end", name: "endsAt", type: "time", required: true, value: "10:00" })),
      field("slot-seats", "Seats", el("input", { id: "slot-seats", name: "seats", type: "number", min: 1, required: true, value: 4 }))),
    field("slot-repeat", "Repeat", el("select", { id: "slot-repeat" }, REPEATS.map(([rule, label]) => el("option", { value: rule }, label)))),
    field("slot-recurrence", "Recurrence rule (RRULE, ends by COUNT or UNTIL)",
      el("input", { id: "slot-recurrence", name: "recurrence", type: "text", placeholder: "FREQ=WEEKLY;COUNT=6", spellcheck: "false" })),
    field("slot-url", "Virtual classroom address (optional)",
      el("input", { id: "slot-url", name: "virtualClassroomUrl", type: "url", placeholder: "https://" })),
    el("p", { class: "error form-error", role: "alert", hidden: true }),
    status("slot-published"),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Publish")));
  form.elements["slot-repeat"].addEventListener("change", (event) => { form.elements.recurrence.value = event.target.value; });
  form.elements.courseId.addEventListener("change", () => loadSlots(form.elements.courseId.value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    publish(form);
  });
  return form;
}

async function publish(form) {
  const value = (name) => form.elements[name].value.trim();
  const date = value("date");
  const slot = {
    startsAt: instantInZone(date, value("startsAt")),
    endsAt: instantInZone(date, value("endsAt")),
    seats: Number(value("seats")),
    recurrence: value("recurrence") || null,
    virtualClassroomUrl: value("virtualClassroomUrl") || null,
  };
  const published = form.querySelector("#slot-published");
  say(published, null);
  try {
    const { publishAvailability: result } = await state.client.request("PublishMySlots", {
      input: { instructorId: state.me.user.instructor.id, courseId: value("courseId"), slots: [slot] },
    });
    if (showUserErrors(form, result.errors)) return;
    const count = result.slots.length;
    say(published, `Published ${count} slot${count === 1 ? "" : "s"}, from ${fmtDateTime(result.slots[0].startsAt)}.`);
    await loadSlots(value("courseId"));
  } catch (error) {
    showUserErrors(form, [{ field: null, message: `Could not publish: ${error.message}` }]);
  }
}

async function loadSlots(courseId) {
  const body = part("teach-slots");
  if (!courseId) return fill(body);
  const from = new Date();
  const to = new Date(from.getTime() + SLOT_WEEKS * 7 * 86400000);
  await loadInto(body, () => state.client.request("MySlots", {
    courseId, instructorId: state.me.user.instructor.id, from: from.toISOString(), to: to.toISOString(),
  }), (data) => renderSlots(data.course));
}

function renderSlots(course) {
  const body = part("teach-slots");
  const heading = el("h3", {}, `Your open slots of ${course.code}, next ${SLOT_WEEKS} weeks`);
  if (!course.availableSlots.length) return fill(body, heading, el("p", { class: "muted" }, "None yet."));
  const problem = el("p", { class: "error", role: "alert", hidden: true });
  fill(body, heading, problem, table(["Date", "Time", "Booked", "Repeats", ""], course.availableSlots.map((slot) => el("tr", { "data-slot": slot.id },
    el("td", { class: "nowrap" }, fmtShortDate(slot.startsAt)),
    el("td", { class: "nowrap" }, `${fmtTime(slot.startsAt)}–${fmtTime(slot.endsAt)}`),
    el("td", { class: "nowrap" }, `${slot.seats - slot.seatsLeft} of ${slot.seats}`, slot.waitlistCount ? ` (+${slot.waitlistCount} waiting)` : ""),
    el("td", {}, slot.recurrence ? el("code", {}, slot.recurrence) : "once"),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => withdraw(course.id, slot, problem) }, "Withdraw"))))));
}

async function withdraw(courseId, slot, problem, cancelBookings = false) {
  say(problem, null);
  try {
    const { withdrawSlot: result } = await state.client.request("WithdrawMySlot", { input: { slotId: slot.id, cancelBookings } });
    const [error] = result.errors;
    if (error && error.code === "SLOT_HAS_BOOKINGS" && !cancelBookings) {
      // (error.message is the API's: it names the cancelBookings argument)
      if (confirm("This slot has bookings. Cancel them (each learner is refunded) and withdraw it?")) {
        return withdraw(courseId, slot, problem, true);
      }
      return;
    }
    if (error) return say(problem, result.errors.map((e) => e.message).join(" "));
    await loadSlots(courseId);
  } catch (failure) {
    say(problem, `Could not withdraw the slot: ${failure.message}`);
  }
}

async function loadAvailability() {
  const data = await state.client.request("TeachableCourses");
  const courses = data.courses.edges.map((edge) => edge.node);
  if (!courses.length) return fill(part("teach-availability-body"), el("p", { class: "muted" }, "No course takes bookings."));
  fill(part("teach-availability-body"), availabilityForm(courses), el("div", { id: "teach-slots" }));
  await loadSlots(courses[0].id);
}

// ---------- mounting ----------

// Shows the instructor's screens in `root`; `me` is the Me viewer (its user's instructor profile).
export async function mount(client, me, root) {
  Object.assign(state, { client, me, root, upcomingCursor: null });
  useJoinClient(client);
  const body = (id) => el("div", { id }, loading());
  const classPanel = card("teach-class", "Class", body("teach-class-body"));
  classPanel.hidden = true;
  fill(root,
    el("h1", { class: "view-title" }, "Teaching"),
    el("div", { class: "row" },
      card("teach-today", "Today's classes", body("teach-today-body")),
      card("teach-upcoming", "Upcoming classes", body("teach-upcoming-body"))),
    classPanel,
    el("div", { class: "row" },
      card("teach-absences", "Absence requests", body("teach-absences-body")),
      card("teach-availability", "Availability", el("p", { class: "muted" },
        "Publish times learners can book, once or repeated."), body("teach-availability-body"))));
  await Promise.all([
    loadInto(part("teach-today-body"), loadToday, () => {}),
    loadInto(part("teach-upcoming-body"), () => loadUpcoming(), () => {}),
    loadInto(part("teach-absences-body"), loadAbsences, () => {}),
    loadInto(part("teach-availability-body"), loadAvailability, () => {}),
  ]);
}

export function unmount() {
  Object.assign(state, { client: null, me: null, root: null });
  forgetJoins();
}
