// The console's entry: the token form, then the page the path names.

import { ApiError, token } from "./api.js";
import { el, show } from "./dom.js";
import * as admin from "./admin.js";
import * as views from "./views.js";

function tokenForm() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  state.textContent = token.get() ? "token set (this tab only)" : "no token";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    input.value = "";
    location.reload();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    token.set("");
    location.reload();
  });
}

function home() {
  show(el("h1", {}, "remem console"),
    el("p", {}, "Browse what remem holds: ",
      el("a", { href: "/ui/namespaces" }, "namespaces"), ", ",
      el("a", { href: "/ui/sessions" }, "sessions"), " (working memory) and ",
      el("a", { href: "/ui/memories" }, "long-term memories"), "."),
    el("p", {}, "With authentication on, enter an API token above: it is kept for this tab "
      + "only and every call the console makes carries it, so you see what it may see."));
}

function route() {
  const path = location.pathname.replace(/\/+$/, "");
  const params = new URLSearchParams(location.search);
  const rest = (prefix) => decodeURIComponent(path.slice(prefix.length));
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (path.startsWith(`/ui/${link.dataset.nav}`)) link.setAttribute("aria-current", "page");
  }
  if (path === "/ui") return home();
  if (path === "/ui/sessions") return views.sessions(params);
  if (path.startsWith("/ui/sessions/")) return views.session(rest("/ui/sessions/"), params);
  if (path === "/ui/memories") return views.memories(params);
  if (path.startsWith("/ui/memories/")) return views.memory(rest("/ui/memories/"));
  if (path === "/ui/audit") return views.audit(params);
  if (path === "/ui/namespaces") return views.namespaces(params);
  if (path === "/ui/tasks") return admin.tasks(params);
  if (path === "/ui/tokens") return admin.tokens();
  return show(el("h1", {}, "Not found"), el("p", {}, "No console page here."));
}

// An error keeps what the page already shows (its form) and says what went wrong.
function failed(error) {
  const main = document.getElementById("main");
  for (const status of main.querySelectorAll("[role=status]")) status.remove();
  if (!main.querySelector("h1")) show(el("h1", {}, "Could not load this page"));
  let text = String(error);
  if (error instanceof ApiError && error.status === 401) {
    text = `This server needs an API token: enter one above. (${error.message})`;
    document.getElementById("token").focus();
  } else if (error instanceof ApiError && error.status === 403) {
    text = `Your token may not see this: ${error.message}`;
  } else if (error instanceof ApiError) {
    text = `${error.status}: ${error.message}`;
  }
  main.append(el("p", { role: "alert", class: "error" }, text));
}

tokenForm();
Promise.resolve().then(route).catch(failed);
