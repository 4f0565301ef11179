// Join buttons for every view that shows a live session (the learner's schedule, the instructor's
// classes): off until the window opens, then on by themselves, driven by the JoinAvailability
// subscription (one per live session, however many buttons show it).
import { el, fmtTime } from "./ui.js";

const joins = {
  client: null,
  buttons: new Map(), // live session id -> Set of buttons
  states: new Map(), // live session id -> latest JoinAvailability
  subscriptions: new Map(), // live session id -> unsubscribe
};

// The signed-in client the subscriptions go through (each view's mount passes its own: the same one).
export function useJoinClient(client) {
  joins.client = client;
}

// A Join button for a virtual live session (a badge for one in person or cancelled).
export function joinControl(session) {
  if (session.status === "CANCELLED") return el("span", { class: "badge cancelled" }, "Cancelled");
  if (!session.location || !session.location.isVirtual) {
    return el("span", { class: "badge", title: "In person" }, session.location ? session.location.name || "In person" : "—");
  }
  const button = el("button", { type: "button", class: "join", "data-live-session": session.id, disabled: true }, "Join");
  button.addEventListener("click", () => {
    const current = joins.states.get(session.id);
    if (current && current.isOpen && current.url) window.open(current.url, "_blank", "noopener");
  });
  if (!joins.buttons.has(session.id)) joins.buttons.set(session.id, new Set());
  joins.buttons.get(session.id).add(button);
  applyJoin(session.id, joins.states.get(session.id) || session.joinAvailability);
  if (session.status === "SCHEDULED") watchJoin(session.id);
  return button;
}

function applyJoin(id, join) {
  if (!join) return;
  joins.states.set(id, join);
  const buttons = joins.buttons.get(id) || new Set();
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

// Whether the live session's Join button is still waiting for its window (what a "turns on by itself"
// hint beside it says).
export const joinWaitingToOpen = (id) => waitingToOpen(joins.states.get(id));

function watchJoin(id) {
  if (joins.subscriptions.has(id) || !joins.client) return;
  const stop = joins.client.subscribe("JoinAvailability", { liveSessionId: id },
    (data) => applyJoin(id, data.joinAvailability),
    () => joins.subscriptions.delete(id));
  joins.subscriptions.set(id, stop);
}

// Signed out: nothing of this user's is kept, and their subscriptions end with the client.
export function forgetJoins() {
  joins.client = null;
  joins.subscriptions.clear();
  joins.buttons.clear();
  joins.states.clear();
}
