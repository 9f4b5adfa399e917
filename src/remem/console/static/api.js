// remem's REST API, called with the token the user gave (kept for this tab only).

const KEY = "remem.console.token";

export const token = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function detailOf(body) {
  if (!body || body.detail === undefined) return "";
  const { detail } = body;
  if (typeof detail === "string") return detail;
  return JSON.stringify(detail);
}

export async function call(method, path, { query = {}, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query)) {
    for (const one of [value].flat()) {
      if (one !== undefined && one !== null && one !== "") url.searchParams.append(key, one);
    }
  }
  const headers = { Accept: "application/json" };
  const held = token.get();
  if (held) headers.Authorization = `Bearer ${held}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  let data = null;
  try {
    data = await answer.json();
  } catch {
    data = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, detailOf(data) || answer.statusText);
  return data;
}

export const api = {
  sessions: (query) => call("GET", "/v1/working-memory/", { query }),
  session: (id, query) => call("GET", `/v1/working-memory/${encodeURIComponent(id)}`, { query }),
  deleteSession: (id, query) =>
    call("DELETE", `/v1/working-memory/${encodeURIComponent(id)}`, { query }),
  search: (body) => call("POST", "/v1/long-term-memory/search", { body }),
  memory: (id) => call("GET", `/v1/long-term-memory/${encodeURIComponent(id)}`),
  history: (id) => call("GET", `/v1/long-term-memory/${encodeURIComponent(id)}/history`),
  deleteMemory: (id) => call("DELETE", "/v1/long-term-memory", { query: { memory_ids: id } }),
  audit: (query) => call("GET", "/v1/audit", { query }),
  namespaces: (query) => call("GET", "/v1/namespaces", { query }),
  tasks: (query) => call("GET", "/v1/tasks", { query }),
  tokens: () => call("GET", "/v1/tokens"),
  revokeToken: (id) => call("DELETE", `/v1/tokens/${encodeURIComponent(id)}`),
};
