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

// The form's control a UserError's `field` path names: the one named by the whole path ("accessWindow.end",
// where several parts of the input have an `end`), else the one named by its last part.
export function fieldControl(form, field) {
  if (!field || !field.length) return null;
  return form.querySelector(`[name="${CSS.escape(field.join("."))}"]`)
    || form.querySelector(`[name="${CSS.escape(field[field.length - 1])}"]`);
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
