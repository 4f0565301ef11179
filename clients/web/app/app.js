// The shell of the web client: sign-in (and an invitation's first password), then one view per role the
// signed-in user has, chosen in the top bar: the learner's schedule (learner.js), a guardian's children
// (guardian.js), an instructor's teaching (instructor.js) and the admin screens (admin.js). Each view is a
// module exporting mount(client, user, root) and, if it keeps anything, unmount(). Every request is one of
// the committed web operations.
import { accessToken, anonymousClient, forgetTokens, keepTokens, signedInClient, takeTokenFromUrl } from "./auth.js";
import { $, el, fill, setTimeZone, showUserErrors } from "./ui.js";

// The views in the order the top bar shows them; `has` says whether the signed-in user has that role.
const VIEWS = [
  { name: "learner", label: "Learner Portal", root: "portal", has: () => true },
  { name: "guardian", label: "My children", root: "view-guardian", has: (me) => me.children.length > 0 },
  { name: "instructor", label: "Teaching", root: "view-instructor", has: (me) => me.user.instructor !== null },
  { name: "admin", label: "Administration", root: "view-admin", has: (me) => me.user.isAdmin },
];

const shell = {
  client: null,
  me: null, // the Me query's viewer
  mounted: new Map(), // view name -> its module, once mounted
};

// ---------- signing in ----------

function showOnly(id) {
  for (const section of ["sign-in", "set-password", "load-error", "views"]) $(section).hidden = section !== id;
  $("who").hidden = id !== "views" && id !== "load-error";
}

function showSignIn(message, { notice = false } = {}) {
  showOnly("sign-in");
  $("sign-in-error").hidden = !message;
  $("sign-in-error").className = notice ? "notice" : "error";
  $("sign-in-error").textContent = message || "";
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

// The form, with the service's UserErrors: a weak password beside the password field, the rest (an
// invitation used or expired, the network) in the form's alert.
function showSetPassword(errors = []) {
  showOnly("set-password");
  $("who").hidden = true;
  showUserErrors($("set-password-form"), errors);
}

async function setFirstPassword(newPassword) {
  const data = await (await anonymousClient()).request("SetPassword", {
    input: { invitationToken: invitationToken(), newPassword },
  });
  const { errors } = data.setPassword;
  if (errors.length) return showSetPassword(errors);
  history.replaceState(null, "", location.pathname + location.search); // the link works once
  showSignIn("Your password is set: sign in with it.", { notice: true });
}

function signOut(message) {
  // Revoked on the server too when the user asked for it; an ended sign-in has nothing left to revoke.
  forgetTokens({ revoke: !message });
  for (const view of shell.mounted.values()) if (view.unmount) view.unmount();
  shell.mounted.clear();
  if (shell.client) shell.client.close();
  shell.client = null;
  shell.me = null;
  showSignIn(message);
}

// ---------- the views ----------

const chosenView = () => sessionStorage.getItem("sessiongraph.view");

// A user's first view is the role they most likely came for: admin, then teaching, then their children.
function defaultView(views) {
  const chosen = views.find((view) => view.name === chosenView());
  return chosen || [...views].reverse().find((view) => view.name !== "learner") || views[0];
}

function renderNav(views, current) {
  const nav = $("views-nav");
  nav.hidden = views.length < 2;
  fill(nav, views.map((view) => el("button", {
    type: "button", class: "view-tab", "data-view": view.name, "aria-current": view === current ? "page" : null,
    onclick: () => show(view),
  }, view.label)));
}

async function show(view) {
  sessionStorage.setItem("sessiongraph.view", view.name);
  const views = VIEWS.filter((v) => v.has(shell.me));
  renderNav(views, view);
  for (const v of VIEWS) $(v.root).hidden = v !== view;
  document.title = `${view.label} · sessiongraph`;
  if (shell.mounted.has(view.name)) return;
  const module = await import(`./${view.name}.js`);
  shell.mounted.set(view.name, module);
  await module.mount(shell.client, shell.me, $(view.root));
}

async function start() {
  takeTokenFromUrl();
  if (invitationToken()) return showSetPassword();
  if (!accessToken()) return showSignIn();
  try {
    shell.client = await signedInClient();
    shell.client.onstatus = (status) => {
      $("live").textContent = status === "live" ? "● Live" : "● offline";
      $("live").classList.toggle("on", status === "live");
    };
    const data = await shell.client.request("Me");
    if (!data.viewer) return signOut("You are not signed in.");
    shell.me = data.viewer;
    setTimeZone(shell.me.user.timeZone);
    $("user-name").textContent = shell.me.user.name;
    showOnly("views");
    await show(defaultView(VIEWS.filter((view) => view.has(shell.me))));
  } catch (error) {
    if (error.status === 401 || error.code === "UNAUTHENTICATED") {
      return signOut("Your sign-in has ended: sign in again.");
    }
    // The network or the service is away: say so, and offer to try again, never a blank page.
    $("load-error-text").textContent = `Could not load your page: ${error.message}`;
    showOnly("load-error");
  }
}

// ---------- wiring ----------

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
  setFirstPassword(password)
    .catch((error) => showSetPassword([{ field: null, message: `Could not set the password: ${error.message}` }]));
});
$("sign-out").addEventListener("click", () => signOut());
$("load-retry").addEventListener("click", () => {
  for (const view of shell.mounted.values()) if (view.unmount) view.unmount();
  shell.mounted.clear();
  if (shell.client) shell.client.close();
  start();
});
start();
