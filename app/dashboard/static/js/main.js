// Sign-in and the hash router: #/<page>?<params>. Each page module exports render(root, params, go) and may
// return a function that stops what it started (polling) when the page is left.

import { resume, signIn, signOut } from "./api.js";
import { destroyAll } from "./charts.js";
import { errorBox, h } from "./ui.js";
import * as conversation from "./pages/conversation.js";
import * as experiments from "./pages/experiments.js";
import * as items from "./pages/items.js";
import * as jobs from "./pages/jobs.js";
import * as models from "./pages/models.js";
import * as online from "./pages/online.js";
import * as overview from "./pages/overview.js";
import * as rules from "./pages/rules.js";
import * as segments from "./pages/segments.js";
import * as user from "./pages/user.js";

const PAGES = { overview, models, online, experiments, items, user, segments, rules, conversation, jobs };
const TITLES = { overview: "Overview", models: "Models", online: "Online", experiments: "Experiments", items: "Items",
  user: "User", segments: "Segments", rules: "Rules", conversation: "Conversation", jobs: "Jobs" };
const $ = (id) => document.getElementById(id);
let stop = null;
let rendering = 0;

function parse() {
  const [name, query] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: PAGES[name] ? name : "overview", params: new URLSearchParams(query || "") };
}

// Moves to a page; params must never hold a key (they are in the URL).
export function go(name, params = {}) {
  const query = new URLSearchParams(params).toString();
  const hash = `#/${name}${query ? `?${query}` : ""}`;
  if (location.hash === hash) { route(); return; } // the same page again: render it afresh
  document.body.dataset.ready = ""; // not ready from the moment the URL moves: hashchange fires later
  location.hash = hash;
}

async function route() {
  if (stop) stop();
  stop = null;
  destroyAll();
  const { name, params } = parse();
  const root = $("page");
  const mine = ++rendering;
  document.body.dataset.ready = "";
  root.replaceChildren(h("h2", {}, TITLES[name]), h("p", { class: "loading" }, "Loading…"));
  document.title = `${TITLES[name]} · semrec dashboard`;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const body = h("div", {});
  try {
    stop = (await PAGES[name].render(body, params, go)) || null;
  } catch (error) {
    body.replaceChildren(errorBox(error));
  }
  if (mine !== rendering) { if (stop) stop(); return; } // left while loading
  root.replaceChildren(h("h2", {}, TITLES[name]), body);
  document.body.dataset.ready = name; // the browser test waits for this
}

function showSignedIn(role) {
  $("sign-in-page").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  $("role").textContent = `Signed in with a ${role} key`;
  document.body.dataset.role = role;
  window.addEventListener("hashchange", route);
  route();
}

function showSignIn() {
  window.removeEventListener("hashchange", route);
  if (stop) stop();
  destroyAll();
  $("page").replaceChildren();
  $("nav").hidden = true;
  $("who").hidden = true;
  $("sign-in-page").hidden = false;
  document.body.dataset.ready = "sign-in";
  $("api-key").focus();
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const role = await signIn($("api-key").value.trim());
    $("api-key").value = "";
    showSignedIn(role);
  } catch (error) {
    $("sign-in-error").textContent = error.status === 401 ? "That key is not known to this service." : error.message;
  }
});

$("sign-out").addEventListener("click", () => {
  signOut();
  showSignIn();
});

resume().then((role) => (role ? showSignedIn(role) : showSignIn()));
