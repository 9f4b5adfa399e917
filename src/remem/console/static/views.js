// The console's pages. Each reads the REST API and builds its part of the page from text.

import { api } from "./api.js";
import { display, duration, el, fields, href, show, table, when } from "./dom.js";

const PAGE = 20;

// The namespaces the token may see, offered as the namespace field's suggestions (any other
// name can still be typed). Asked once a page; a refusal leaves the field as it is.
function namespaceChoices() {
  const list = el("datalist", { id: "namespace-choices" });
  api.namespaces({ limit: 1000 }).then((found) => list.replaceChildren(
    ...found.namespaces.map((n) => el("option", { value: n.name },
      `${n.sessions} sessions, ${n.memories} memories`)))).catch(() => {});
  return list;
}

function filterForm(action, params, extra = []) {
  return el("form", { class: "filters", action, method: "get", role: "search" },
    extra,
    el("label", {}, "Namespace ",
      el("input", { name: "namespace", value: params.get("namespace") || "", spellcheck: "false",
        list: "namespace-choices", autocomplete: "off" })),
    namespaceChoices(),
    el("label", {}, "User ",
      el("input", { name: "user_id", value: params.get("user_id") || "", spellcheck: "false" })),
    el("button", { type: "submit" }, action.endsWith("memories") ? "Search" : "List"));
}

function pager(path, params, total) {
  const offset = Number(params.get("offset") || 0);
  const query = Object.fromEntries(params);
  const links = [];
  if (offset > 0) {
    links.push(el("a", { href: href(path, { ...query, offset: Math.max(0, offset - PAGE) }) },
      "Previous page"));
  }
  if (offset + PAGE < total) {
    links.push(el("a", { href: href(path, { ...query, offset: offset + PAGE }) }, "Next page"));
  }
  return el("nav", { class: "pager", "aria-label": "Pages" }, links);
}

function timeLeft(session) {
  if (!session.ttl_seconds) return "no expiry";
  const since = Date.parse(session.updated_at);
  return duration(Math.floor((since + session.ttl_seconds * 1000 - Date.now()) / 1000));
}

export async function sessions(params) {
  const namespace = params.get("namespace") || undefined;
  const user = params.get("user_id") || undefined;
  const offset = Number(params.get("offset") || 0);
  const out = el("div", { "aria-live": "polite" }, el("p", { role: "status" }, "Loading..."));
  show(el("h1", {}, "Sessions"), filterForm("/ui/sessions", params), out);
  const listed = await api.sessions({ namespace, user_id: user, limit: PAGE, offset });
  const found = await Promise.all(listed.sessions.map((id) =>
    api.session(id, { namespace, user_id: user }).catch(() => ({ session_id: id, gone: true }))));
  const where = namespace ? ` in ${namespace}` : "";
  if (found.length === 0) {
    out.replaceChildren(el("p", { role: "status", class: "empty" }, `No sessions${where}.`));
    return;
  }
  const rows = found.map((s) => [
    el("a", { href: href(["sessions", s.session_id],
      { namespace: s.namespace ?? namespace, user_id: s.user_id ?? user }) }, s.session_id),
    s.gone ? "(gone)" : display(s.user_id),
    s.gone ? "-" : String(s.messages.length),
    s.gone ? "-" : when(s.updated_at),
    s.gone ? "-" : timeLeft(s),
  ]);
  out.replaceChildren(
    el("p", { role: "status" }, `${listed.total} session${listed.total === 1 ? "" : "s"}${where}`),
    table(`Sessions${where}, newest first`,
      ["Session", "User", "Messages", "Updated", "Time left"], rows),
    pager(["sessions"], params, listed.total));
}

function message(m) {
  return el("li", { class: `message ${m.role}` },
    el("div", { class: "meta" }, el("strong", {}, m.role), " ", when(m.created_at)),
    el("p", { class: "text" }, m.content));
}

function confirmDelete(what, action, after) {
  return el("button", {
    type: "button",
    class: "danger",
    onclick: async (event) => {
      if (!window.confirm(`Delete ${what}? This cannot be undone.`)) return;
      event.target.disabled = true;
      await action();
      location.assign(after);
    },
  }, `Delete ${what}`);
}

export async function session(id, params) {
  const query = { namespace: params.get("namespace") || undefined,
    user_id: params.get("user_id") || undefined };
  const s = await api.session(id, query);
  const scope = { namespace: s.namespace, user_id: s.user_id };
  show(
    el("p", {}, el("a", { href: href(["sessions"], { namespace: s.namespace }) }, "Sessions")),
    el("h1", {}, "Session ", el("code", {}, s.session_id)),
    fields({ ...s, created_at: when(s.created_at), updated_at: when(s.updated_at),
      time_left: timeLeft(s) }, ["namespace", "user_id", "created_at", "updated_at",
      "time_left", "ttl_seconds", "tokens", "long_term_memory_strategy"]),
    el("h2", {}, "Context"),
    el("p", { class: "text" }, s.context || "(no summary yet)"),
    el("h2", {}, `Messages (${s.messages.length})`),
    s.messages.length ? el("ol", { class: "messages" }, s.messages.map(message))
      : el("p", { class: "empty" }, "No messages."),
    s.memories.length ? [el("h2", {}, `Memories held (${s.memories.length})`),
      el("ul", {}, s.memories.map((m) => el("li", {}, m.text)))] : [],
    confirmDelete(`session ${s.session_id}`, () => api.deleteSession(s.session_id, scope),
      href(["sessions"], { namespace: s.namespace })));
}

const MODES = [["", "default (hybrid)"], ["semantic", "semantic"], ["keyword", "keyword"],
  ["hybrid", "hybrid"]];

function searchForm(params) {
  const mode = params.get("mode") || "";
  return filterForm("/ui/memories", params, [
    el("label", { class: "wide" }, "Search ",
      el("input", { name: "q", type: "search", value: params.get("q") || "" })),
    el("label", {}, "Mode ",
      el("select", { name: "mode" }, MODES.map(([value, label]) =>
        el("option", { value, selected: value === mode }, label)))),
  ]);
}

function result(m) {
  const score = m.score ?? m.dist;
  return el("li", { class: "result" },
    el("p", { class: "text" }, el("a", { href: href(["memories", m.id]) }, m.text)),
    el("p", { class: "meta" },
      `score ${score === undefined || score === null ? "-" : Number(score).toFixed(3)}`,
      m.dist !== undefined && m.dist !== null ? ` · distance ${Number(m.dist).toFixed(3)}` : "",
      ` · ${m.memory_type} · ${display(m.namespace)} · user ${display(m.user_id)}`,
      ` · ${when(m.created_at)}`));
}

export async function memories(params) {
  const form = searchForm(params);
  const q = params.get("q") || "";
  const out = el("div", { "aria-live": "polite" });
  show(el("h1", {}, "Memories"), form, out);
  form.querySelector("input[name=q]").focus();
  if (![...params.keys()].some((k) => ["q", "namespace", "user_id"].includes(k))) return;
  out.replaceChildren(el("p", { role: "status" }, "Searching..."));
  const offset = Number(params.get("offset") || 0);
  const body = { text: q, limit: PAGE, offset };
  if (params.get("mode")) body.search_mode = params.get("mode");
  if (params.get("namespace")) body.namespace = { eq: params.get("namespace") };
  if (params.get("user_id")) body.user_id = { eq: params.get("user_id") };
  const found = await api.search(body);
  const status = found.memories.length
    ? `${found.total} memor${found.total === 1 ? "y" : "ies"} found`
    : "No memories found.";
  out.replaceChildren(
    el("p", { role: "status", class: found.memories.length ? "" : "empty" }, status),
    el("ol", { class: "results", start: offset + 1 }, found.memories.map(result)),
    pager(["memories"], params, found.total));
}

export async function memory(id) {
  const [m, past] = await Promise.all([api.memory(id), api.history(id)]);
  const rows = past.versions.map((v) => [
    v.id === m.id ? el("strong", {}, v.id) : el("a", { href: href(["memories", v.id]) }, v.id),
    when(v.valid_at), when(v.invalid_at), v.text,
  ]);
  show(
    el("p", {}, el("a", { href: href(["memories"], { namespace: m.namespace }) }, "Memories")),
    el("h1", {}, "Memory ", el("code", {}, m.id)),
    el("p", { class: "text lead" }, m.text),
    fields(m),
    el("h2", {}, "History"),
    rows.length > 1 ? table("Versions of this fact, oldest first",
      ["Memory", "Valid from", "Until", "Text"], rows)
      : el("p", { class: "empty" }, "One version: nothing superseded it."),
    confirmDelete(`memory ${m.id}`, () => api.deleteMemory(m.id),
      href(["memories"], { namespace: m.namespace })));
}

const epochIso = (seconds) => new Date(seconds * 1000).toISOString();

export async function audit(params) {
  const limit = Math.min(1000, Math.max(1, Number(params.get("limit") || 100)));
  const out = el("div", { "aria-live": "polite" }, el("p", { role: "status" }, "Loading..."));
  show(el("h1", {}, "Audit log"),
    el("p", {}, "Erasures, exports, token changes and refused credentials, newest first. "
      + "Reading it takes an admin token over every namespace."), out);
  const entries = await api.audit({ limit });
  const rows = entries.map((e) => [when(epochIso(e.at)), e.action, e.outcome, e.caller, e.via,
    el("code", {}, display(e.details))]);
  out.replaceChildren(
    el("p", { role: "status", class: rows.length ? "" : "empty" },
      rows.length ? `The newest ${rows.length} entries` : "The audit log is empty."),
    rows.length ? table("Audit log, newest first",
      ["When", "Action", "Outcome", "Caller", "Via", "Details"], rows) : []);
}

export async function namespaces(params) {
  const offset = Number(params.get("offset") || 0);
  const out = el("div", { "aria-live": "polite" }, el("p", { role: "status" }, "Loading..."));
  show(el("h1", {}, "Namespaces"),
    el("p", {}, "The namespaces your token may see that hold sessions or memories."), out);
  const found = await api.namespaces({ limit: PAGE, offset });
  const rows = found.namespaces.map((n) => [
    el("code", {}, n.name),
    el("a", { href: href(["sessions"], { namespace: n.name }) }, String(n.sessions)),
    el("a", { href: href(["memories"], { namespace: n.name }) }, String(n.memories)),
  ]);
  out.replaceChildren(
    el("p", { role: "status", class: rows.length ? "" : "empty" }, rows.length
      ? `${found.total} namespace${found.total === 1 ? "" : "s"}` : "No namespaces hold anything."),
    rows.length ? table("Namespaces, by name", ["Namespace", "Sessions", "Memories"], rows) : [],
    pager(["namespaces"], params, found.total));
}
