// The console's entry point: sign in and out, switching views, the keyboard.
import { call, token, whenUnauthorized } from "./api.js";
import { announce } from "./dom.js";
import { loaders, setupPanels } from "./panels.js";
import { setRole, setupQueue, showQueue } from "./queue.js";

const $ = (id) => document.getElementById(id);
let view = "queue";

function signedOut(message) {
  token.forget();
  for (const id of ["views", "who"]) $(id).hidden = true;
  for (const section of document.querySelectorAll(".view")) section.hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

function show(name) {
  view = name;
  for (const button of $("views").children) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${name}`;
  if (name === "queue") showQueue(); else loaders[name]();
}

async function signIn() {
  let me;
  try { me = await call("GET", "/me"); } catch (error) {
    if (error.status !== 401) signedOut(error.message);
    return;
  }
  $("sign-in").hidden = true;
  $("who-name").textContent = me.name;
  $("who-role").textContent = me.role;
  $("views").hidden = $("who").hidden = false;
  document.body.dataset.role = me.role;
  setRole(me.role);
  announce(`Signed in as ${me.name} (${me.role}).`);
  show("queue");
}

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

document.addEventListener("keydown", (event) => {
  if (typing(event.target) || $("help").open) return;
  if (event.key === "?") { event.preventDefault(); $("help").showModal(); return; }
  if (view === "queue" && $("sign-in").hidden) queueKeys(event);
});

whenUnauthorized(() => signedOut("That token is not accepted (unknown or revoked)."));
$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  token.set(value);
  $("token").value = "";
  signIn();
});
$("sign-out").addEventListener("click", () => { signedOut("Signed out."); announce("Signed out."); });
$("help-button").addEventListener("click", () => $("help").showModal());
for (const button of $("views").children) button.addEventListener("click", () => show(button.dataset.view));
const queueKeys = setupQueue();
setupPanels();
if (token.get()) signIn(); else signedOut();
