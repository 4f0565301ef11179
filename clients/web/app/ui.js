// What every screen of every role shares: building elements, dates and times in the viewer's zone,
// tables that stack on a phone, a UserError shown beside its field, and a load that failed shown with a
// Retry button, never a blank card.

export const $ = (id) => document.getElementById(id);

// ---------- elements ----------

export function el(tag, attributes = {}, ...children) {
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
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

export function table(headings, rows) {
  return el("table", { class: "stacking" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))), el("tbody", {}, rows.map((row) => labelled(row, headings))));
}

// Rows of one page of a connection, in `body`: a table for the first page (or the `empty` text when there is
// nothing), appended to for the next ones, with "n of total" and, while there is more, Load more (`more`).
// A next page that fails to load shows Retry in the foot, the rows already shown kept.
export function pagedRows(body, { headings, rows, append, totalCount, hasNextPage, empty, more }) {
  if (!append) fill(body, totalCount ? table(headings, []) : el("p", { class: "muted" }, empty));
  const tbody = body.querySelector("tbody");
  if (!tbody) return;
  rows.forEach((row) => tbody.append(labelled(row, headings)));
  body.querySelector(".list-foot")?.remove();
  const foot = el("div", { class: "list-foot" }, el("span", { class: "muted" }, `${tbody.children.length} of ${totalCount}`));
  if (hasNextPage) foot.append(el("button", { type: "button", class: "secondary", onclick: () => loadInto(foot, more, () => {}) }, "Load more"));
  body.append(foot);
}

// A view's card: a section named by its heading.
export const card = (id, title, ...body) => el("section", { class: "card", id, "aria-labelledby": `${id}-title` },
  el("h2", { id: `${id}-title` }, title), ...body);

// A live session's course as the tables show it: its code, then its title.
export const courseCell = (s) => [el("span", { class: "course-code" }, s.course.code), " ", s.course.title];

// Each cell names its column, shown beside it where a phone stacks the row's cells (app.css).
export function labelled(row, headings) {
  [...row.children].forEach((cell, i) => { if (headings[i]) cell.dataset.label = headings[i]; });
  return row;
}

// ---------- dates and times, in the viewer's zone ----------

let viewerZone; // undefined until signed in: the browser's own zone
export function setTimeZone(zone) {
  viewerZone = zone;
}
export const timeZone = () => viewerZone;

function formatter(options) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: viewerZone, ...options });
}
export const fmtDate = (iso) => formatter({ weekday: "short", day: "numeric", month: "short", year: "numeric" }).format(new Date(iso));
export const fmtShortDate = (iso) => formatter({ weekday: "short", day: "numeric", month: "short" }).format(new Date(iso));
export const fmtTime = (iso) => formatter({ hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
export const fmtDateTime = (iso) => `${fmtShortDate(iso)} ${fmtTime(iso)}`;
export const timeRange = (s) => `${fmtTime(s.startsAt)}–${fmtTime(s.endsAt)}`;
// A calendar date ("YYYY-MM-DD") names the same day in every zone: it is formatted as that date (its
// midnight in UTC, read in UTC), never as an instant read in the viewer's zone, a day late east of UTC+12.
export const fmtCalendarDate = (date) => new Intl.DateTimeFormat("en-GB", {
  timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
}).format(new Date(`${date}T00:00:00Z`));

// Today's date ("YYYY-MM-DD") in the viewer's zone.
export function todayInZone() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: viewerZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

// The instant a wall-clock date and time ("YYYY-MM-DD", "HH:MM") name in the viewer's zone, as ISO 8601:
// what a date and a time input mean, whatever zone the browser itself is in.
export function instantInZone(date, time) {
  const wall = Date.parse(`${date}T${time}:00Z`);
  let instant = wall;
  // twice: the offset may change at DST
  for (let pass = 0; pass < 2; pass++) instant = wall - zoneOffset(new Date(instant));
  return new Date(instant).toISOString();
}

// The calendar date `days` after a calendar date ("YYYY-MM-DD").
export function addDays(date, days) {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + days);
  return next.toISOString().slice(0, 10);
}

// ---------- errors ----------

// A mutation's UserErrors, each beside the field it names (the form's control whose name is the last part of
// the error's `field` path), the rest in the form's own alert. Returns true when there were any.
export function showUserErrors(form, errors) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const general = [];
  for (const error of errors) {
    const name = error.field && error.field[error.field.length - 1];
    const control = fieldControl(form, error.field);
    if (!control) {
      general.push(error.message);
      continue;
    }
    const id = `${control.id || name}-error`;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", id);
    control.insertAdjacentElement("afterend", el("span", { class: "field-error error", id, role: "alert" }, error.message));
  }
  const alert = form.querySelector(".form-error");
  if (alert) {
    alert.hidden = !general.length;
    alert.textContent = general.join(" ");
  }
  return errors.length > 0;
}

// The form's control an error's `field` path names: the one named by the whole path ("accessWindow.end",
// where several parts of the input have an `end`); else the one named by its last part, within the element
// marked data-index="N" for each list position N the path goes through (["entries", "2", "feedback"] is the
// feedback of the form's third entry); a form of a single entry has no such element, and is its own.
export function fieldControl(form, path) {
  if (!path || !path.length) return null;
  const whole = form.querySelector(`[name="${CSS.escape(path.join("."))}"]`);
  if (whole) return whole;
  let scope = form;
  for (const part of path.slice(0, -1)) {
    if (/^\d+$/.test(part)) scope = scope.querySelector(`[data-index="${part}"]`) || scope;
  }
  return scope.querySelector(`[name="${CSS.escape(path[path.length - 1])}"]`);
}

// Loads a screen's data into `container` and renders it there; a failure (the network, or the service
// answering 503) is shown in place with a Retry button that loads it again.
export async function loadInto(container, load, render) {
  try {
    render(await load());
  } catch (error) {
    fill(container,
      el("p", { class: "error", role: "alert" }, `Could not load this: ${error.message}`),
      el("button", { type: "button", class: "secondary retry", onclick: () => loadInto(container, load, render) }, "Retry"));
  }
}

// ---------- date-time inputs, in the viewer's zone ----------

// How far the zone's wall clock is ahead of UTC at `date`, in milliseconds.
function zoneOffset(date) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: viewerZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  }).formatToParts(date).map((part) => [part.type, Number(part.value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - (date.getTime() - date.getMilliseconds());
}

// An instant as a datetime-local input shows it ("YYYY-MM-DDTHH:MM"), on the viewer's wall clock.
export function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return new Date(date.getTime() + zoneOffset(date)).toISOString().slice(0, 16);
}

// A datetime-local input's value, read on the viewer's wall clock, as an instant (ISO 8601, UTC); null
// when empty. The offset is taken again at the first guess, so a time just past a DST change is right.
export function fromLocalInput(value) {
  if (!value) return null;
  const wall = Date.parse(`${value.length === 10 ? `${value}T00:00` : value}:00Z`);
  const guess = wall - zoneOffset(new Date(wall));
  return new Date(wall - zoneOffset(new Date(guess))).toISOString();
}
