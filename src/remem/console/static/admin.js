// The admin's pages: background work and the API tokens (an admin token over every namespace).

import { api } from "./api.js";
import { display, el, href, show, table, when } from "./dom.js";

function sessionLink(w) {
  if (!w.session_id) return display(w.name);
  return el("a", { href: href(["sessions", w.session_id],
    { namespace: w.namespace, user_id: w.user_id }) }, w.session_id);
}

const workCells = (w) => [w.kind, display(w.namespace), display(w.user_id), sessionLink(w)];

function section(title, caption, headings, rows, none) {
  return [el("h2", {}, title),
    rows.length ? table(caption, headings, rows) : el("p", { class: "empty" }, none)];
}

async function loadTasks(out, limit) {
  out.replaceChildren(el("p", { role: "status" }, "Loading..."));
  const t = await api.tasks({ limit });
  const { due } = t;
  const summary = `${due.due_now} due now (the oldest waiting ${due.oldest_due_seconds} s), `
    + `${due.members} in the due set, ${t.queued} queued in Docket, `
    + `${t.workers.length} worker${t.workers.length === 1 ? "" : "s"} seen`;
  out.replaceChildren(
    el("p", { role: "status" }, summary),
    ...section("Due next", "Due work, soonest first",
      ["Kind", "Namespace", "User", "Session", "Due"], due.next.map((w) => [...workCells(w), when(w.due_at)]), "Nothing is due."),
    ...section("Running", "Tasks running now", ["Task", "Kind", "Namespace", "User", "Session",
      "Worker", "Started"], t.running.map((r) => [r.task, ...workCells(r), r.worker,
      when(r.started)]), "Nothing is running."),
    ...section("Scheduled", "Tasks scheduled, soonest first", ["Task", "Kind", "Namespace", "User",
      "Session", "When"], t.scheduled.map((r) => [r.task, ...workCells(r), when(r.when)]),
    "Nothing is scheduled."),
    ...section("Workers", "Workers seen lately", ["Worker", "Last seen"],
      t.workers.map((w) => [w.name, when(w.last_seen)]), "No worker seen."),
    ...section("Failed", "Failed runs, newest first", ["Task", "Kind", "Namespace", "User",
      "Session", "Error", "Attempt", "When"], t.failed.map((f) => [f.task, ...workCells(f),
      f.error, f.final ? `${f.attempt} (given up)` : String(f.attempt), when(f.at)]),
    "No run failed."));
}

export async function tasks(params) {
  const limit = Math.min(1000, Math.max(1, Number(params.get("limit") || 50)));
  const out = el("div", { "aria-live": "polite" });
  const refresh = el("button", { type: "button", onclick: async () => {
    refresh.disabled = true;
    try {
      await loadTasks(out, limit);
    } catch (error) {
      out.replaceChildren(el("p", { role: "alert", class: "error" }, String(error.message)));
    } finally {
      refresh.disabled = false;
    }
  } }, "Refresh");
  show(el("h1", {}, "Background work"),
    el("p", {}, "What writes marked due, what Docket runs and which workers run it. Reading it "
      + "takes an admin token over every namespace. Failed runs are not kept by Docket in a "
      + "form it lists: see the worker's log and /metrics."), refresh, out);
  await loadTasks(out, limit);
}

function revokeButton(t) {
  if (t.status !== "active") return "-";
  return el("button", {
    type: "button",
    class: "danger",
    onclick: async (event) => {
      if (!window.confirm(`Revoke token ${t.id}? Every server refuses it from now on.`)) return;
      event.target.disabled = true;
      await api.revokeToken(t.id);
      location.reload();
    },
  }, `Revoke ${t.id}`);
}

export async function tokens() {
  const out = el("div", { "aria-live": "polite" }, el("p", { role: "status" }, "Loading..."));
  show(el("h1", {}, "API tokens"),
    el("p", {}, "Every token remem keeps, oldest first: its scope, role and dates. No secret is "
      + "stored, so none is shown. Reading them takes an admin token over every namespace."), out);
  const found = await api.tokens();
  const rows = found.map((t) => [el("code", {}, t.id), t.status, t.role,
    t.namespaces.join(" "), display(t.user_id), when(t.created_at), when(t.expires_at),
    when(t.revoked_at), revokeButton(t)]);
  out.replaceChildren(
    el("p", { role: "status", class: rows.length ? "" : "empty" },
      rows.length ? `${rows.length} token${rows.length === 1 ? "" : "s"}` : "No tokens."),
    rows.length ? table("API tokens, oldest first", ["Token", "Status", "Role", "Namespaces",
      "User", "Created", "Expires", "Revoked", ""], rows) : []);
}
