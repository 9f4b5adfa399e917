// Building the page: every piece of data becomes a text node (never HTML), so a memory
// holding markup shows it as text.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

// A link to a console page: the path's parts and the query are encoded here.
export function href(parts, query = {}) {
  const path = ["/ui", ...parts.map(encodeURIComponent)].join("/");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

// A table from rows of cells; cells are nodes or text.
export function table(caption, headings, rows) {
  return el("div", { class: "scroll" },
    el("table", {},
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell)))))));
}

// Field names and values as a description list; objects and lists shown as JSON.
export function fields(record, names = Object.keys(record)) {
  return el("dl", { class: "fields" }, names.map((name) => [
    el("dt", {}, name),
    el("dd", {}, display(record[name])),
  ]));
}

export function display(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function when(iso) {
  if (!iso) return "-";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// Seconds as its two largest units: "2 d 3 h", "59 min 58 s".
export function duration(seconds) {
  if (seconds <= 0) return "expiring";
  const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  const parts = [];
  let left = seconds;
  for (const [unit, size] of units) {
    if (left >= size || parts.length) parts.push(`${Math.floor(left / size)} ${unit}`);
    left %= size;
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}
