// The library: the user's media, newest first, as a grid of cards loaded a page at a time as the end of the grid
// scrolls into view (cursor pagination), thumbnails fetched only for cards on screen.

import { fill, h, kindIcon, timeEl } from "./dom.js";

const PAGE_SIZE = 24;
const POLL_MS = 3000;
const FINAL = new Set(["completed", "failed"]);

const STATUS_LABELS = {
  queued: "Queued",
  processing: "Analysing",
  completed: "Ready",
  failed: "Failed",
  blocked_budget: "Waiting for budget",
};

/**
 * A thumbnail box: the kind's icon at once, the real thumbnail when the box scrolls into view (finished media of
 * kinds that have one). Shared by the library and the search results.
 */
export class Thumbnails {
  constructor(api) {
    this.api = api;
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { rootMargin: "200px" });
  }

  /** A thumbnail box; with `frame_url` (a video moment's keyframe) it shows that frame, else the media's thumbnail. */
  box({ media_id: id, kind, status, frame_url: frameUrl = null }) {
    const dataset = { mediaId: id, kind, ...(frameUrl ? { frameUrl } : {}) };
    const box = h("span", { class: frameUrl ? "thumb frame" : "thumb", dataset }, kindIcon(kind));
    if (status === "completed" && kind !== "audio") this.observer.observe(box);
    return box;
  }

  onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const box = entry.target;
      this.observer.unobserve(box);
      const show = (url) => url && fill(box, h("img", { class: "thumb-img", src: url, alt: "" }));
      const { frameUrl, mediaId } = box.dataset;
      const thumbnail = () => this.api.thumbnail(mediaId).then(show);
      (frameUrl ? this.api.frame(frameUrl).then((url) => (url ? show(url) : thumbnail())) : thumbnail()).catch(
        () => {}, // the icon stays
      );
    }
  }
}

/** A status badge; `error` (why it failed, or why it waits) shows on hover. */
export function statusBadge(status, error = "") {
  const label = STATUS_LABELS[status] || status.replaceAll("_", " ");
  return h("span", { class: `badge status-${status}`, title: error || null }, label);
}

export class Library extends EventTarget {
  /** Events: "open" {mediaId} when a card is chosen. */
  constructor({ api, thumbnails, grid, status, more, sentinel, empty }) {
    super();
    Object.assign(this, { api, thumbnails, grid, statusEl: status, more, sentinel, empty });
    this.cards = new Map(); // media id -> {el, media}
    this.stale = true;
    this.visible = false;
    this.generation = 0;
    this.pollTimer = 0;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
    }, { rootMargin: "300px" });
    more.addEventListener("click", () => this.loadMore());
  }

  show() {
    this.visible = true;
    if (this.stale) this.reload();
    this.observer.observe(this.sentinel);
    this.schedulePoll();
  }

  hide() {
    this.visible = false;
    this.observer.disconnect();
    clearTimeout(this.pollTimer);
  }

  /** Mark the list out of date (a new upload); reloads now if on screen, else when next shown. */
  invalidate() {
    this.stale = true;
    if (this.visible) this.reload();
  }

  reset() {
    this.hide();
    this.generation += 1;
    this.cards.clear();
    this.grid.replaceChildren();
    this.stale = true;
  }

  reload() {
    this.generation += 1;
    this.stale = false;
    this.cards.clear();
    this.grid.replaceChildren();
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.empty.hidden = true;
    this.loadMore();
  }

  async loadMore() {
    if (this.loading || this.done) return;
    const generation = this.generation;
    this.loading = true;
    this.more.hidden = true;
    this.statusEl.textContent = "Loading…";
    try {
      const page = await this.api.listMedia({ limit: PAGE_SIZE, cursor: this.cursor });
      if (generation !== this.generation) return;
      for (const media of page.items) {
        if (!this.cards.has(media.media_id)) this.grid.append(this.card(media));
      }
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      const count = this.cards.size;
      this.statusEl.textContent = this.done ? `${count} ${count === 1 ? "file" : "files"}` : "";
      this.empty.hidden = count > 0;
      this.more.hidden = this.done;
      this.schedulePoll();
    } catch (error) {
      if (generation !== this.generation) return;
      this.statusEl.textContent = `Could not load your library: ${error.message}`;
      this.more.hidden = false; // doubles as "try again"
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    if (generation === this.generation && !this.done && this.visible) {
      // The observer fires on changes only; re-observing asks again whether the end is still in view.
      this.observer.unobserve(this.sentinel);
      this.observer.observe(this.sentinel);
    }
  }

  card(media) {
    const el = h("li", { class: "card-item", dataset: { mediaId: media.media_id } });
    this.cards.set(media.media_id, { el, media });
    this.renderCard(el, media);
    return el;
  }

  renderCard(el, media) {
    const open = () => this.dispatchEvent(new CustomEvent("open", { detail: { mediaId: media.media_id } }));
    el.dataset.status = media.status;
    fill(
      el,
      h(
        "button",
        { type: "button", class: "card", onclick: open },
        this.thumbnails.box(media),
        h("span", { class: "card-name" }, media.filename),
        h("span", { class: "card-meta" }, h("span", { class: "badge kind" }, media.kind), " ", timeEl(media.created_at)),
        statusBadge(media.status, media.error),
      ),
    );
  }

  remove(mediaId) {
    const card = this.cards.get(mediaId);
    if (!card) return;
    const wasFocused = card.el.contains(document.activeElement);
    const next = card.el.nextElementSibling || card.el.previousElementSibling;
    card.el.remove();
    this.cards.delete(mediaId);
    this.empty.hidden = this.cards.size > 0 || !this.done;
    if (this.done) this.statusEl.textContent = `${this.cards.size} ${this.cards.size === 1 ? "file" : "files"}`;
    if (wasFocused && next) next.querySelector("button").focus();
  }

  /** Keep the badges of media still being analysed up to date while the library is on screen. */
  schedulePoll() {
    clearTimeout(this.pollTimer);
    if (!this.visible) return;
    const pending = [...this.cards.values()].filter((card) => !FINAL.has(card.media.status));
    if (pending.length === 0) return;
    const generation = this.generation;
    this.pollTimer = setTimeout(async () => {
      await Promise.all(
        pending.slice(0, 10).map(async (card) => {
          try {
            const media = await this.api.media(card.media.media_id);
            if (generation !== this.generation || media.status === card.media.status) return;
            card.media = media;
            this.renderCard(card.el, media);
          } catch {
            // Deleted meanwhile, or offline: the next round tries again.
          }
        }),
      );
      if (generation === this.generation) this.schedulePoll();
    }, POLL_MS);
  }
}
