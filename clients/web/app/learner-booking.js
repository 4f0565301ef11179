// The learner's booking and credits: course search, a course's instructors and open slots (seats left, the
// waitlist), booking with credits, joining and leaving a waitlist, and the credit ledger; and, in the
// details window of a booked session, Reschedule, Cancel booking, Request Absence and the course's session
// history. learner.js mounts it beside the schedule and gives it `openDetails` and `scheduleChanged`.
// Every mutation form shows its UserErrors beside the control they name (ui.js showUserErrors).
import {
  $, el, fill, fmtDate, fmtDateTime, fmtShortDate, labelled, loadInto, showUserErrors, table, timeRange,
} from "./ui.js";

// How far ahead the booking screen offers slots (the demo's and the mobile app's two weeks).
const SLOT_DAYS = 14;
const PAGE = 10;

const book = {
  client: null,
  hooks: null, // { openDetails(id), scheduleChanged() } from learner.js
  search: "",
  course: null, // the chosen course's id
  instructorId: "",
  coursesAfter: null,
  creditsAfter: null,
};

// ---------- shared bits ----------

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// The balance wherever it shows (the Book card, the Credits card), after a load or a mutation's ledger line.
function showBalance(balance) {
  for (const node of document.querySelectorAll(".credit-balance")) node.textContent = plural(balance, "credit");
}

// A key per form, kept across its retries: a request retried after a network failure books once.
function idempotencyKey(form) {
  if (!form.dataset.key) {
    form.dataset.key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  }
  return form.dataset.key;
}

function formAlert() {
  return el("p", { class: "form-error error", role: "alert", hidden: true });
}

// A table that "Load more" extends: the connection's rows, "n of total", and the button while there are more.
function pagedTable(container, { headings, rows, connection, append, empty, more }) {
  if (!append || !container.querySelector("tbody")) {
    if (!rows.length) return fill(container, el("p", { class: "muted" }, empty));
    fill(container, table(headings, rows), el("div", { class: "list-foot" }));
  } else {
    container.querySelector("tbody").append(...rows.map((row) => labelled(row, headings)));
  }
  const shown = container.querySelectorAll("tbody tr").length;
  return fill(container.querySelector(".list-foot"), el("span", { class: "muted" }, `${shown} of ${connection.totalCount}`),
    connection.pageInfo.hasNextPage ? el("button", { type: "button", class: "secondary", onclick: more }, "Load more") : null);
}

function say(node, message) {
  // (no node: the details it belongs to failed to load again, and show Retry instead)
  if (node) fill(node, message ? el("p", { class: "notice learner-done", role: "status" }, message) : null);
}

// Sends a mutation from `form`: its UserErrors go beside their fields, a failure of the network or the
// service into the form's alert (the button stays, so trying again is one click). Returns the payload when
// it succeeded, else null.
async function submit(form, name, input, payloadOf) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((button) => { button.disabled = true; });
  try {
    const payload = payloadOf(await book.client.request(name, { input }));
    if (showUserErrors(form, payload.errors)) return null;
    return payload;
  } catch (error) {
    showUserErrors(form, [{ field: null, message: `That did not go through (${error.message}): try again.` }]);
    return null;
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// After a booking changed: the schedule (learner.js), the open course's slots, the waitlist and the credits.
async function changed() {
  await Promise.all([book.hooks.scheduleChanged(), loadSlots(), loadWaitlist(), loadCredits()]);
}

// ---------- Book Session(s): course search ----------

function bookCard() {
  return el("section", { class: "card learner-book", id: "book", "aria-labelledby": "book-title" },
    el("div", { class: "card-head" },
      el("h2", { id: "book-title" }, "Book Session(s)"),
      el("span", { class: "balance-line" }, "Balance: ", el("strong", { class: "credit-balance" }, "…"))),
    el("form", { id: "book-search", role: "search", onsubmit: (event) => {
      event.preventDefault();
      book.search = $("book-search-input").value.trim();
      loadCourses();
    } },
    el("label", { for: "book-search-input" }, "Find a course"),
    el("input", { id: "book-search-input", name: "search", type: "search", placeholder: "Course name or code" }),
    el("button", { type: "submit", class: "secondary" }, "Search")),
    el("div", { id: "book-courses", "aria-live": "polite" }),
    el("div", { id: "book-slots", "aria-live": "polite" }),
    el("h3", {}, "My waitlist"),
    el("div", { id: "book-waitlist", "aria-live": "polite" }));
}

function loadCourses(append = false) {
  const container = $("book-courses");
  return loadInto(container,
    () => book.client.request("BookCourseSearch", { search: book.search || null, first: PAGE,
      after: append ? book.coursesAfter : null }),
    (data) => renderCourses(data, append));
}

function renderCourses(data, append) {
  showBalance(data.viewer.credits.balance);
  const { courses } = data;
  book.coursesAfter = courses.pageInfo.endCursor;
  const container = $("book-courses");
  const rows = courses.edges.map(({ node: c }) => el("tr", { "data-course": c.id },
    el("td", {}, el("span", { class: "course-code" }, c.code)),
    el("td", {}, c.title),
    el("td", { class: "nowrap" }, plural(c.creditCost, "credit")),
    el("td", {}, c.canBook
      ? el("button", { type: "button", class: "secondary", "aria-pressed": String(c.id === book.course),
        onclick: () => chooseCourse(c.id) }, "See slots")
      : el("span", { class: "muted" }, "Not open to you"))));
  pagedTable(container, { headings: ["Code", "Course", "Cost", ""], rows, connection: courses, append,
    empty: "No course to book matches.", more: () => loadCourses(true) });
}

// ---------- a course's instructors and slots ----------

function chooseCourse(id) {
  book.course = id;
  book.instructorId = "";
  for (const button of document.querySelectorAll("#book-courses button[aria-pressed]")) {
    button.setAttribute("aria-pressed", String(button.closest("tr").dataset.course === id));
  }
  return loadSlots();
}

function slotWindow() {
  const from = new Date();
  return { from: from.toISOString(), to: new Date(from.getTime() + SLOT_DAYS * 86400000).toISOString() };
}

function courseSlots(courseId, instructorId = null) {
  return book.client.request("CourseSlots", { courseId, instructorId: instructorId || null, ...slotWindow() });
}

function loadSlots() {
  if (!book.course || !book.client) return Promise.resolve();
  return loadInto($("book-slots"), () => courseSlots(book.course, book.instructorId), renderSlots);
}

function renderSlots(data) {
  showBalance(data.viewer.credits.balance);
  const course = data.course;
  const container = $("book-slots");
  if (!course) return fill(container, el("p", { class: "muted" }, "This course is no longer offered."));
  const instructors = new Map(course.availableSlots.map((slot) => [slot.instructor.id, slot.instructor]));
  const picker = el("select", { name: "instructor", onchange: (event) => {
    book.instructorId = event.target.value;
    loadSlots();
  } }, el("option", { value: "" }, "All instructors"),
  [...instructors.values()].map((i) => el("option", { value: i.id, selected: i.id === book.instructorId }, i.displayName)));
  const headings = ["Date", "Time", "Instructor", "Seats left", "Waitlist", ""];
  fill(container,
    el("h3", {}, el("span", { class: "course-code" }, course.code), " ", course.title,
      el("span", { class: "muted" }, ` · ${plural(course.creditCost, "credit")} a session`)),
    el("div", { class: "filters" }, el("label", {}, "Instructor", picker)),
    course.availableSlots.length
      ? table(headings, course.availableSlots.map((slot) => slotRow(course, slot)))
      : el("p", { class: "muted" }, `No open slots in the next ${SLOT_DAYS} days.`),
    el("div", { id: "book-done" }));
}

function slotRow(course, slot) {
  return el("tr", { "data-slot": slot.id },
    el("td", { class: "nowrap" }, fmtShortDate(slot.startsAt)),
    el("td", { class: "nowrap" }, timeRange(slot)),
    el("td", {}, slot.instructor.displayName, slot.instructor.bio ? el("div", { class: "muted small" }, slot.instructor.bio) : null),
    el("td", { class: "seats" }, `${slot.seatsLeft} of ${slot.seats}`),
    el("td", { class: "waitlist-count" }, slot.waitlistCount ? `${slot.waitlistCount} waiting` : "—"),
    el("td", {}, slotAction(course, slot)));
}

function slotAction(course, slot) {
  if (slot.myBooking && slot.myBooking.status === "BOOKED") return el("span", { class: "badge completed" }, "Booked");
  const waiting = slot.myWaitlistEntry && slot.myWaitlistEntry.status === "WAITING" ? slot.myWaitlistEntry : null;
  if (waiting) {
    return leaveForm(waiting.id, `${ordinal(waiting.placeInLine)} in line`);
  }
  const full = slot.seatsLeft === 0;
  const form = el("form", { class: "slot-action", onsubmit: async (event) => {
    event.preventDefault();
    if (full) {
      const done = await submit(form, "JoinWaitlist", { slotId: slot.id }, (d) => d.joinWaitlist);
      if (done) {
        await changed();
        say($("book-done"), `You are ${ordinal(done.waitlistEntry.placeInLine)} in line for ${course.title} on ${fmtDateTime(slot.startsAt)}: you are booked when a seat frees.`);
      }
      return;
    }
    const done = await submit(form, "BookSlot", { slotId: slot.id, idempotencyKey: idempotencyKey(form) }, (d) => d.bookSlot);
    if (!done) {
      loadCredits(); // a refusal for too few credits: the balance as it is now
    } else {
      const line = done.booking.creditTransaction;
      if (line) showBalance(line.balanceAfter);
      await changed();
      say($("book-done"), `Booked: ${course.title} on ${fmtDateTime(slot.startsAt)}${line ? `, ${plural(-line.amount, "credit")} taken; ${plural(line.balanceAfter, "credit")} left` : ""}.`);
    }
  } },
  el("button", { type: "submit", name: "slotId", value: slot.id, class: full ? "secondary" : "primary" },
    full ? "Join waitlist" : `Book (${plural(course.creditCost, "credit")})`),
  formAlert());
  return form;
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

function leaveForm(entryId, text) {
  const form = el("form", { class: "slot-action", onsubmit: async (event) => {
    event.preventDefault();
    if (await submit(form, "LeaveWaitlist", { waitlistEntryId: entryId }, (d) => d.leaveWaitlist)) await changed();
  } },
  el("span", { class: "badge" }, text), " ",
  el("button", { type: "submit", name: "waitlistEntryId", value: entryId, class: "link" }, "Leave waitlist"),
  formAlert());
  return form;
}

// ---------- the waitlist ----------

function loadWaitlist() {
  return loadInto($("book-waitlist"), () => book.client.request("Waitlist"), (data) => {
    const entries = data.viewer.waitlist;
    if (!entries.length) return fill($("book-waitlist"), el("p", { class: "muted" }, "You wait for no slot."));
    fill($("book-waitlist"), table(["Date", "Course", "Instructor", "Status", ""], entries.map((entry) => el("tr", {},
      el("td", { class: "nowrap" }, fmtDateTime(entry.slot.startsAt)),
      el("td", {}, entry.slot.course.title),
      el("td", {}, entry.slot.instructor.displayName),
      el("td", {}, entry.status === "WAITING" ? `${ordinal(entry.placeInLine)} in line` : entry.status.toLowerCase(),
        entry.reason ? el("div", { class: "muted small" }, entry.reason.toLowerCase().replaceAll("_", " ")) : null),
      el("td", {}, entry.status === "WAITING" ? leaveForm(entry.id, "Waiting") : null)))));
  });
}

// ---------- credits ----------

function creditsCard() {
  return el("section", { class: "card learner-credits", id: "credits", "aria-labelledby": "credits-title" },
    el("div", { class: "card-head" },
      el("h2", { id: "credits-title" }, "Credits"),
      el("span", { class: "balance-line" }, "Balance: ", el("strong", { class: "credit-balance" }, "…"))),
    el("div", { id: "credits-body", "aria-live": "polite" }, el("p", { class: "muted" }, "Loading…")));
}

function loadCredits(append = false) {
  return loadInto($("credits-body"),
    () => book.client.request("Credits", { first: PAGE, after: append ? book.creditsAfter : null }),
    (data) => renderCredits(data.viewer.credits, append));
}

const CREDIT_HEADINGS = ["Date", "What", "Amount", "Balance"];

function renderCredits(credits, append) {
  showBalance(credits.balance);
  const { transactions } = credits;
  book.creditsAfter = transactions.pageInfo.endCursor;
  const body = $("credits-body");
  const rows = transactions.edges.map(({ node: line }) => el("tr", { class: `credit-${line.kind.toLowerCase()}` },
    el("td", { class: "nowrap" }, fmtShortDate(line.createdAt)),
    el("td", {}, line.description),
    el("td", { class: `amount ${line.amount < 0 ? "debit" : "credit"}` }, line.amount > 0 ? `+${line.amount}` : String(line.amount)),
    el("td", {}, String(line.balanceAfter))));
  pagedTable(body, { headings: CREDIT_HEADINGS, rows, connection: transactions, append,
    empty: "No credit movements yet.", more: () => loadCredits(true) });
}

// ---------- the details window: Reschedule, Cancel booking, Request Absence, course history ----------

// What the details window of `s` (a LiveSessionDetails) offers beside Join.
export function detailsActions(s) {
  const booked = s.myBooking && s.myBooking.status === "BOOKED";
  const ahead = s.status === "SCHEDULED" && new Date(s.startsAt) > new Date();
  const panel = el("div", { class: "learner-panel", "aria-live": "polite" });
  const open = (build) => () => fill(panel, build(s, panel));
  const request = s.myBooking && s.myBooking.absenceRequest;
  return el("div", { class: "learner-details-actions" },
    request ? el("p", { class: "absence-status" }, `Absence requested ${fmtShortDate(request.requestedAt)}: `,
      el("strong", {}, request.status.toLowerCase()), ` — “${request.reason}”`,
      request.comment ? el("span", { class: "muted" }, ` (${request.comment})`) : null) : null,
    el("div", { class: "actions" },
      booked && ahead ? el("button", { type: "button", class: "secondary", onclick: open(rescheduleForm) }, "Reschedule") : null,
      booked && ahead ? el("button", { type: "button", class: "secondary", onclick: open(cancelForm) }, "Cancel booking") : null,
      s.canRequestAbsence ? el("button", { type: "button", class: "secondary", onclick: open(absenceForm) }, "Request Absence") : null,
      el("button", { type: "button", class: "link", onclick: () => showHistory(s.course) }, "Course session history")),
    panel);
}

function rescheduleForm(s, panel) {
  const slots = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  loadInto(slots, () => courseSlots(s.course.id), (data) => {
    const free = data.course ? data.course.availableSlots.filter((slot) => slot.seatsLeft > 0 && !slot.myBooking
      && slot.startsAt !== s.startsAt) : [];
    if (!free.length) return fill(slots, el("p", { class: "muted" }, "No other slot of this course is open."));
    const form = el("form", { class: "learner-form", onsubmit: async (event) => {
      event.preventDefault();
      if (!form.querySelector(".confirm")) {
        const chosen = form.elements.slotId.selectedOptions[0].textContent;
        form.querySelector(".buttons").replaceChildren(el("p", { class: "confirm" }, `Move this booking to ${chosen}?`),
          el("button", { type: "submit", class: "primary" }, "Yes, reschedule"),
          el("button", { type: "button", class: "link", onclick: () => fill(panel, rescheduleForm(s, panel)) }, "Keep it"));
        return;
      }
      const done = await submit(form, "RescheduleBooking", { bookingId: s.myBooking.id, slotId: form.elements.slotId.value,
        idempotencyKey: idempotencyKey(form) }, (d) => d.rescheduleBooking);
      if (!done) return;
      const line = done.booking.creditTransaction;
      if (line) showBalance(line.balanceAfter);
      await changed();
      await book.hooks.openDetails(done.booking.liveSession.id);
      say($("details-body").querySelector(".learner-panel"), `Rescheduled to ${fmtDateTime(done.booking.liveSession.startsAt)}.`);
    } },
    el("label", { for: "reschedule-slot" }, "Move to"),
    el("select", { id: "reschedule-slot", name: "slotId" }, free.map((slot) => el("option", { value: slot.id },
      `${fmtShortDate(slot.startsAt)} ${timeRange(slot)} · ${slot.instructor.displayName} · ${plural(slot.seatsLeft, "seat")} left`))),
    el("div", { class: "actions buttons" }, el("button", { type: "submit", class: "primary" }, "Reschedule")),
    formAlert());
    fill(slots, form);
  });
  return [el("h3", {}, "Reschedule"), slots];
}

function cancelForm(s, panel) {
  const form = el("form", { class: "learner-form", onsubmit: async (event) => {
    event.preventDefault();
    const done = await submit(form, "CancelBooking", { bookingId: s.myBooking.id }, (d) => d.cancelBooking);
    if (!done) return;
    const refund = done.booking.refundTransaction;
    if (refund) showBalance(refund.balanceAfter);
    await changed();
    await book.hooks.openDetails(s.id);
    say($("details-body").querySelector(".learner-panel"), refund
      ? `Booking cancelled; ${plural(refund.amount, "credit")} refunded.` : "Booking cancelled; too late for a refund.");
  } },
  el("input", { type: "hidden", name: "bookingId", value: s.myBooking.id }),
  el("p", { class: "confirm" }, `Cancel your booking of ${s.course.title} on ${fmtDate(s.startsAt)}? Its credits are refunded until the course's cancellation notice.`),
  el("div", { class: "actions" },
    el("button", { type: "submit", class: "primary danger" }, "Yes, cancel the booking"),
    el("button", { type: "button", class: "link", onclick: () => panel.replaceChildren() }, "Keep it")),
  formAlert());
  return [el("h3", {}, "Cancel booking"), form];
}

function absenceForm(s) {
  // No `required`: the service says what is wrong with the reason, beside it, in its own words.
  const form = el("form", { class: "learner-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const done = await submit(form, "RequestAbsence", { liveSessionId: s.id, reason: form.elements.reason.value },
      (d) => d.requestAbsence);
    if (!done) return;
    await book.hooks.openDetails(s.id);
    say($("details-body").querySelector(".learner-panel"), "Absence requested: your instructor reviews it.");
  } },
  el("label", { for: "absence-reason" }, "Reason"),
  el("textarea", { id: "absence-reason", name: "reason", rows: 3, maxlength: 2000 }),
  el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Request Absence")),
  formAlert());
  return [el("h3", {}, "Request Absence"), form];
}

// ---------- a course's session history (in the details window) ----------

// The history holds the course's classes that have ended or were cancelled (DESIGN.md "courseHistory").
const HISTORY_STATUSES = [["", "All"], ["COMPLETED", "Completed"], ["CANCELLED", "Cancelled"]];

function showHistory(course) {
  const list = el("div", { class: "history-list", "aria-live": "polite" }, el("p", { class: "muted" }, "Loading…"));
  const filters = el("form", { class: "filters history-filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    loadHistory(course, filters, list);
  } },
  el("label", {}, "Session ID", el("input", { id: "history-code", name: "code", size: 8, autocomplete: "off" })),
  el("label", {}, "Status", el("select", { id: "history-status", name: "status" },
    HISTORY_STATUSES.map(([value, label]) => el("option", { value }, label)))),
  el("button", { type: "submit", class: "secondary" }, "Filter"));
  fill($("details-body"), el("h3", {}, "Session history: ", el("span", { class: "course-code" }, course.code), " ", course.title),
    filters, list);
  return loadHistory(course, filters, list);
}

function loadHistory(course, filters, list, after = null) {
  const variables = { courseId: course.id, code: filters.elements.code.value.trim() || null,
    status: filters.elements.status.value || null, first: PAGE, after };
  return loadInto(list, () => book.client.request("CourseSessionHistory", variables),
    (data) => renderHistory(course, filters, list, data.viewer.schedule.courseHistory, Boolean(after)));
}

const HISTORY_HEADINGS = ["Session ID", "Date", "Status", "Attendance", "Credits", ""];

function renderHistory(course, filters, list, history, append) {
  const rows = history.edges.map(({ node: s }) => {
    const booking = s.myBooking;
    const credits = booking ? [booking.creditTransaction, booking.refundTransaction].filter(Boolean)
      .map((line) => (line.amount > 0 ? `+${line.amount}` : String(line.amount))).join(" ") : "";
    return el("tr", { class: s.status === "CANCELLED" ? "cancelled" : "" },
      el("td", {}, el("code", {}, s.code)),
      el("td", { class: "nowrap" }, `${fmtShortDate(s.startsAt)} ${timeRange(s)}`),
      el("td", {}, el("span", { class: `badge ${s.status.toLowerCase()}` }, s.status.toLowerCase())),
      el("td", {}, s.myReport ? s.myReport.attendance.toLowerCase() : "—"),
      el("td", {}, credits || "—"),
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => book.hooks.openDetails(s.id) }, "View Details")));
  });
  pagedTable(list, { headings: HISTORY_HEADINGS, rows, connection: history, append,
    empty: "No past or cancelled sessions of this course.",
    more: () => loadHistory(course, filters, list, history.pageInfo.endCursor) });
}

// ---------- mounting ----------

// Adds the Book and Credits cards to the learner's view `root` and loads them.
export async function mountBooking(client, root, hooks) {
  book.client = client;
  book.hooks = hooks;
  if (!$("book")) root.append(el("div", { class: "row learner-booking" }, bookCard(), creditsCard()));
  await Promise.all([loadCourses(), loadWaitlist(), loadCredits()]);
}

export function unmountBooking() {
  Object.assign(book, { client: null, hooks: null, search: "", course: null, instructorId: "", coursesAfter: null,
    creditsAfter: null });
  for (const id of ["book-courses", "book-slots", "book-waitlist", "credits-body"]) if ($(id)) $(id).replaceChildren();
}
