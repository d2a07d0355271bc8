// Search: one box, results as cards with the best moment's snippet (query words highlighted) and its time span,
// filters by kind and upload date, and sort.

import { excerpt, fill, formatSpan, h, highlight, queryTerms, timeEl } from "./dom.js";

const PAGE_SIZE = 20;
const KIND_LABELS = { image: "photo", video: "video", audio: "audio", document: "document" };

// The API reads kinds and dates named in the query ("videos of the dog from last summer") in the user's time zone
// and says what it read (`understood`); each part shows as a chip, and removing one searches again with that part
// of the words taken literally (`literal=kinds|dates|people`).
const PART_LABELS = { kinds: "kind", dates: "date", people: "person" };

function userTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/** One chip per understood filter: [{part, label}]. Dates show as the user's local days; people by name
 * (`names`: person id -> name). */
export function understoodChips(understood, names = new Map()) {
  if (!understood) return [];
  const chips = (understood.kinds || []).map((kind) => ({ part: "kinds", label: KIND_LABELS[kind] || kind }));
  const day = (iso) => (iso || "").slice(0, 10);
  const from = day(understood.from);
  const to = day(understood.to);
  if (from && to) chips.push({ part: "dates", label: from === to ? from : `${from} – ${to}` });
  else if (from) chips.push({ part: "dates", label: `since ${from}` });
  else if (to) chips.push({ part: "dates", label: `until ${to}` });
  for (const person of understood.people || []) chips.push({ part: "people", label: names.get(person) || "a person" });
  return chips;
}

// Filters go to the API as query parameters (`kind`, `from`, `to`, `sort`); an API that does not know them yet
// ignores them. Every filter is also applied here to the results that come back: a no-op when the server already
// filtered, the whole job when it did not. Drop `filterLocally` once every deployed API filters.
export function searchParams(query, filters, cursor, literal = []) {
  const params = new URLSearchParams({ q: query, limit: String(PAGE_SIZE) });
  const tz = userTimeZone();
  if (tz) params.set("tz", tz);
  if (literal.length) params.set("literal", literal.join(","));
  if (filters.kind) params.set("kind", filters.kind);
  if (filters.from) params.set("from", filters.from);
  if (filters.to) params.set("to", filters.to);
  if (filters.sort === "newest") params.set("sort", "date"); // the API's date sort is newest first
  if (cursor) params.set("cursor", cursor);
  return params;
}

/** The results that pass the filters, in the chosen order. Dates compare as UTC days, as the API does. */
export function filterLocally(results, filters) {
  const day = (iso) => (iso || "").slice(0, 10);
  const kept = results.filter(
    (r) =>
      (!filters.kind || r.kind === filters.kind) &&
      (!filters.from || day(r.created_at) >= filters.from) &&
      (!filters.to || day(r.created_at) <= filters.to),
  );
  if (filters.sort === "newest" || filters.sort === "oldest") {
    const sign = filters.sort === "newest" ? -1 : 1;
    kept.sort((a, b) => sign * (Date.parse(a.created_at) - Date.parse(b.created_at)));
  }
  return kept;
}

/** The words the server marked in its snippet (`<mark>…</mark>`), read as text only, never inserted as HTML. */
function markedWords(snippet) {
  const words = [];
  for (const match of (snippet || "").matchAll(/<mark>([^<]{1,64})<\/mark>/g)) words.push(match[1].toLowerCase());
  return words;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'" };

/** The server's snippet (HTML-escaped, query words in `<mark>`) as plain text, to highlight again as DOM nodes. */
export function snippetText(snippet) {
  return (snippet || "").replace(/<\/?mark>/g, "").replace(/&(?:amp|lt|gt|quot|#x27);/g, (e) => ENTITIES[e]);
}

function momentLabel(segment, kind) {
  if (segment.kind === "page" && segment.page) return `page ${segment.page}`;
  if (kind === "video" || kind === "audio") return formatSpan(segment.start_s, segment.end_s);
  return "";
}

export class Search extends EventTarget {
  /** Events: "open" {mediaId, startS}. */
  constructor({ api, thumbnails, form, input, filters, status, understood, list, more }) {
    super();
    Object.assign(this, { api, thumbnails, form, input, filterInputs: filters, statusEl: status, list, more });
    this.understoodEl = understood;
    this.understood = null;
    this.names = new Map(); // person id -> name, for the chips
    this.literal = []; // parts of the query's words the user asked to take literally (removed chips)
    this.query = "";
    this.results = [];
    this.nextCursor = null;
    this.controller = null;
    this.idle();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = input.value.trim();
      if (!query) {
        this.idle();
        input.focus();
        return;
      }
      // Through the address, so Back returns to earlier searches; the router calls run().
      const target = `#/search?q=${encodeURIComponent(query)}`;
      if (location.hash === target) this.run(query);
      else location.hash = target;
    });
    for (const el of Object.values(filters)) el.addEventListener("change", () => this.query && this.run(this.query));
    more.addEventListener("click", () => this.run(this.query, { append: true }));
  }

  get filters() {
    const f = this.filterInputs;
    return { kind: f.kind.value, from: f.from.value, to: f.to.value, sort: f.sort.value };
  }

  idle() {
    this.query = "";
    this.results = [];
    this.understood = null;
    this.literal = [];
    this.list.replaceChildren();
    this.renderUnderstood();
    this.more.hidden = true;
    this.statusEl.textContent = "Describe what you are looking for: “a cat on the sofa”, “receipt for the hammer”.";
  }

  /** Search for `query` (from the address bar or the form). */
  async run(query, { append = false } = {}) {
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    if (query !== this.query) this.literal = [];
    this.query = query;
    if (this.input.value.trim() !== query) this.input.value = query;
    this.statusEl.textContent = "Searching…";
    this.more.hidden = true;
    this.list.setAttribute("aria-busy", "true");
    try {
      const params = searchParams(query, this.filters, append ? this.nextCursor : null, this.literal);
      const answer = await this.api.search(params, { signal: controller.signal });
      this.understood = answer.understood || null;
      if (this.understood && (this.understood.people || []).length) {
        // The people named in the words: their names for the chips.
        const { items } = await this.api.people({ hidden: true });
        this.names = new Map(items.map((p) => [p.person_id, p.name]));
      }
      this.results = append ? [...this.results, ...answer.results] : answer.results;
      this.nextCursor = answer.next_cursor || null;
      this.tookMs = answer.took_ms;
      this.render();
    } catch (error) {
      if (error.name === "AbortError") return;
      this.statusEl.textContent = `Search failed: ${error.message}`;
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.list.removeAttribute("aria-busy");
      }
    }
  }

  /** The chips of what the words were read as; removing one searches again with that part taken literally. */
  renderUnderstood() {
    const el = this.understoodEl;
    if (!el) return;
    const chips = understoodChips(this.understood, this.names);
    const text = this.understood && this.understood.text;
    // "-word"s: files that say them were left out; the query box is where the user takes one back.
    const excluded = (this.understood && this.understood.excluded) || [];
    const changed = (chips.length || excluded.length) && text && text !== this.query.trim();
    fill(
      el,
      chips.length ? h("span", { class: "muted" }, "Filtered by") : "",
      chips.map(({ part, label }) =>
        h(
          "span",
          { class: "chip", dataset: { part } },
          label,
          h(
            "button",
            {
              type: "button",
              class: "small secondary",
              "aria-label": `Remove ${PART_LABELS[part]} filter ${label}`,
              onclick: () => {
                if (!this.literal.includes(part)) this.literal = [...this.literal, part];
                this.run(this.query);
              },
            },
            "×",
          ),
        ),
      ),
      changed ? h("span", { class: "muted" }, `· words: “${text}”`) : "",
      excluded.length
        ? h("span", { class: "muted excluded" }, `· without ${excluded.map((word) => `“${word}”`).join(", ")}`)
        : "",
    );
    el.hidden = chips.length === 0 && excluded.length === 0;
  }

  render() {
    this.renderUnderstood();
    const shown = filterLocally(this.results, this.filters);
    const terms = queryTerms(this.query);
    fill(this.list, shown.map((result) => this.card(result, terms)));
    this.more.hidden = !this.nextCursor;
    const quoted = `“${this.query}”`;
    if (this.results.length === 0) this.statusEl.textContent = `Nothing found for ${quoted}.`;
    else if (shown.length === 0) this.statusEl.textContent = `No results for ${quoted} match the filters.`;
    else {
      const n = shown.length;
      this.statusEl.textContent = `${n} ${n === 1 ? "result" : "results"} for ${quoted}.`;
    }
  }

  card(result, queryWords) {
    const segment = result.segment || {};
    const terms = [...new Set([...queryWords, ...markedWords(segment.snippet)])];
    const moment = momentLabel(segment, result.kind);
    const open = (startS) => () =>
      this.dispatchEvent(new CustomEvent("open", { detail: { mediaId: result.media_id, startS } }));
    const others = (result.moments || []).map((m) => [m, momentLabel(m, result.kind)]).filter(([, label]) => label);
    return h(
      "li",
      { class: "result", dataset: { mediaId: result.media_id, kind: result.kind, filename: result.filename } },
      h(
        "button",
        { type: "button", class: "result-open", onclick: open(segment.start_s || 0) },
        this.thumbnails.box({ ...result, status: "completed", frame_url: segment.frame_url || null }),
        h(
          "span",
          { class: "result-body" },
          h("span", { class: "result-name" }, result.filename),
          h(
            "span",
            { class: "result-meta" },
            h("span", { class: "badge kind" }, KIND_LABELS[result.kind] || result.kind),
            " ",
            timeEl(result.created_at),
            moment ? [" · ", h("span", { class: "moment" }, moment)] : "",
          ),
          h("span", { class: "snippet" }, highlight(snippetText(segment.snippet) || excerpt(segment.text || "", terms), terms)),
          segment.reason ? h("span", { class: "reason" }, segment.reason) : "",
        ),
      ),
      others.length
        ? h(
            "p",
            { class: "moments" },
            "Also at ",
            others.map(([m, label]) =>
              h(
                "button",
                {
                  type: "button",
                  class: m.frame_url ? "small secondary moment-frame" : "small secondary",
                  onclick: open(m.start_s || 0),
                  "aria-label": `${result.filename} at ${label}`,
                  title: snippetText(m.snippet) || null,
                },
                m.frame_url ? this.thumbnails.box({ ...result, status: "completed", frame_url: m.frame_url }) : "",
                label,
              ),
            ),
          )
        : "",
    );
  }

  /** Drop a deleted media from the results on screen. */
  remove(mediaId) {
    const before = this.results.length;
    this.results = this.results.filter((r) => r.media_id !== mediaId);
    if (this.results.length !== before) this.render();
  }

  reset() {
    if (this.controller) this.controller.abort();
    this.input.value = "";
    this.idle();
  }
}
