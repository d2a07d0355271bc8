// Small DOM and formatting helpers. Markup is built with elements and textContent only: never innerHTML with
// data, and never style attributes (the page's Content-Security-Policy forbids inline styles; use classes).

/** An element with attributes ("class", "dataset", on<event> handlers, booleans) and children (nodes or text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const KINDS = ["image", "video", "audio", "document"];

/** The kind's icon, decorative (the kind is always written next to it). */
export function kindIcon(kind, extraClass = "") {
  const name = KINDS.includes(kind) ? kind : "document";
  return h("img", { class: `kind-icon ${extraClass}`.trim(), src: `/static/icons/${name}.svg`, alt: "" });
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${n} ${n === 1 ? "byte" : "bytes"}`;
  const digits = value < 10 && !Number.isInteger(value) ? 1 : 0;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** Seconds as m:ss or h:mm:ss. */
export function formatTime(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  return hours ? `${hours}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatSpan(start, end) {
  return end > start ? `${formatTime(start)}–${formatTime(end)}` : formatTime(start);
}

export function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A <time> element for an ISO timestamp. */
export function timeEl(iso) {
  return h("time", { datetime: iso }, formatDate(iso));
}

const STOP_WORDS = new Set(
  "a an and are as at be by for from has have in is it its of on or our that the their this to us was we were with you".split(" "),
);

/** The words of a query worth highlighting: lower case, no stop words. */
export function queryTerms(query) {
  const words = (query || "").toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w) && (w.length > 1 || /\p{N}/u.test(w))))];
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The text with each word that starts with one of `terms` wrapped in <mark>, as a list of nodes. */
export function highlight(text, terms) {
  if (!text || terms.length === 0) return [text || ""];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${terms.map(escapeRegExp).join("|")})[\\p{L}\\p{N}]*`, "giu");
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(h("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/** A short excerpt of long text around the first of `terms`. */
export function excerpt(text, terms, maxChars = 240) {
  if (!text || text.length <= maxChars) return text || "";
  const lower = text.toLowerCase();
  const hits = terms.map((t) => lower.indexOf(t)).filter((i) => i >= 0);
  const at = hits.length ? Math.min(...hits) : 0;
  const start = Math.max(0, Math.min(at - Math.floor(maxChars / 3), text.length - maxChars));
  const slice = text.slice(start, start + maxChars).trim();
  return `${start > 0 ? "…" : ""}${slice}${start + maxChars < text.length ? "…" : ""}`;
}
