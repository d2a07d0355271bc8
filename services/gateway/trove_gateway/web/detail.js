// The media dialog: the file itself (a player for video and audio, started at a given second), what Trove saw
// in it (labels, text, transcript with times, scenes, faces, entities, key phrases, pages), and Delete.

import { ApiError } from "./api.js";
import { fill, formatBytes, formatSpan, formatTime, h, timeEl } from "./dom.js";
import { statusBadge } from "./library.js";

const percent = (score) => {
  const value = 100 * Number(score || 0);
  return value > 0 && value < 1 ? "<1%" : `${Math.round(value)}%`;
};

function section(title, ...content) {
  return h("section", { class: "facts" }, h("h3", {}, title), ...content);
}

function chips(items) {
  return h("ul", { class: "chips" }, items.map((item) => h("li", { class: "chip" }, item)));
}

function labelChips(labels) {
  return chips(labels.map((l) => [l.name, " ", h("span", { class: "muted" }, percent(l.score))]));
}

function definitionList(rows) {
  return h("dl", { class: "meta" }, rows.filter(([, value]) => value !== "" && value !== null && value !== undefined)
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export class Detail extends EventTarget {
  /** Events: "deleted" {mediaId}. */
  constructor({ api, dialog, title, body, confirm }) {
    super();
    Object.assign(this, { api, dialog, title, body, confirm });
    this.player = null;
    this.generation = 0;
    dialog.addEventListener("close", () => this.cleanUp());
    dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener("click", (event) => event.target === dialog && dialog.close());
  }

  /**
   * Open a media file.
   * @param {string} mediaId
   * @param {{startS?: number}} options startS: where the player starts (a search result's moment)
   */
  async open(mediaId, { startS = 0 } = {}) {
    const generation = ++this.generation;
    this.cleanUp();
    this.mediaId = mediaId;
    this.signedUrl = null;
    this.title.textContent = "Loading…";
    fill(this.body, h("p", { class: "muted", role: "status" }, "Loading…"));
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const media = await this.api.media(mediaId);
      if (generation !== this.generation) return;
      this.title.textContent = media.filename;
      this.dialog.dataset.mediaId = media.media_id;
      this.dialog.dataset.kind = media.kind;
      fill(this.body, this.preview(media, startS), this.actions(media), ...this.facts(media));
    } catch (error) {
      if (generation !== this.generation) return;
      this.title.textContent = "Not available";
      const message = error instanceof ApiError && error.status === 404 ? "This file is gone (deleted?)." : error.message;
      fill(this.body, h("p", { class: "error", role: "alert" }, message));
    }
  }

  /** The signed URL of the open media's original, asked for once per opening. */
  contentUrl(mediaId) {
    if (!this.signedUrl) this.signedUrl = this.api.contentUrl(mediaId).then(({ url }) => url);
    return this.signedUrl;
  }

  cleanUp() {
    if (this.player) {
      this.player.pause();
      this.player.removeAttribute("src");
      this.player.load(); // stops the download
      this.player = null;
    }
    delete this.dialog.dataset.mediaId;
    delete this.dialog.dataset.kind;
  }

  preview(media, startS) {
    const box = h("div", { class: "preview" });
    if (media.status === "blocked_budget") {
      box.append(h("p", { class: "muted" }, "Analysis waits until this month's budget allows it."));
    } else if (media.status !== "completed" && media.status !== "failed") {
      const p = (media.analysis && media.analysis.progress) || { done: 0, total: 0 };
      const stage = p.current_stage ? ` (${p.current_stage}${p.attempts > 1 ? `, try ${p.attempts}` : ""})` : "";
      box.append(
        h("p", { class: "muted" }, `Trove is still looking at this file: step ${p.done} of ${p.total || "?"}${stage}.`),
        h("progress", { max: String(p.total || 1), value: String(p.done), "aria-label": "analysis progress" }),
      );
    }
    if (media.kind === "video" || media.kind === "audio") {
      const player = h(media.kind, { class: `player player-${media.kind}`, controls: true, preload: "metadata" });
      this.player = player;
      this.attach(player, media, startS);
      box.append(player);
    } else if (media.kind === "image") {
      const img = h("img", { class: "preview-img", alt: media.analysis.description || media.filename });
      this.contentUrl(media.media_id).then((url) => (img.src = url)).catch(() => img.remove());
      box.append(img);
    } else {
      const slot = h("div", { class: "preview-doc" });
      this.api.thumbnail(media.media_id).then((url) => url && slot.prepend(h("img", { class: "preview-img", src: url, alt: `First page of ${media.filename}` }))).catch(() => {});
      box.append(slot);
    }
    return box;
  }

  /** Give the player a signed URL and start it at `startS`; a fresh URL (and the same second) if it expires. */
  attach(player, media, startS) {
    let position = startS;
    let renewedAt = 0;
    const load = (fresh = false) => {
      if (fresh) this.signedUrl = null;
      return this.contentUrl(media.media_id).then((url) => {
        if (this.player !== player) return;
        player.src = url;
      });
    };
    player.addEventListener("loadedmetadata", () => {
      if (position > 0) player.currentTime = Math.min(position, Math.max(0, player.duration - 0.05) || position);
      player.dataset.ready = "true";
    });
    player.addEventListener("error", () => {
      // Most likely the signed URL expired while paused; fetch a new one once in a while, not in a loop.
      if (!player.getAttribute("src") || Date.now() - renewedAt < 10_000) return;
      renewedAt = Date.now();
      position = player.currentTime || position;
      load(true).catch(() => {});
    });
    load().catch((error) => player.replaceWith(h("p", { class: "error", role: "alert" }, error.message)));
  }

  seek(seconds) {
    if (!this.player) return;
    this.player.currentTime = seconds;
    this.player.play().catch(() => {}); // autoplay rules may refuse; the position is set either way
    this.player.focus();
  }

  seekButton(start, end, label) {
    return h("button", { type: "button", class: "seek", dataset: { start: String(start) }, onclick: () => this.seek(start) }, label || formatSpan(start, end));
  }

  actions(media) {
    const remove = h("button", { type: "button", class: "danger", onclick: () => this.confirmDelete(media) }, "Delete…");
    const download = h("button", { type: "button", class: "secondary", onclick: () => this.download(media, download) }, "Download");
    return h("div", { class: "detail-actions" }, download, remove);
  }

  /**
   * Save the original under its own name. Fetched with the Authorization header rather than through the signed
   * URL, whose answer has neither the file's name nor its type.
   */
  async download(media, button) {
    button.disabled = true;
    button.textContent = "Downloading…";
    try {
      const response = await this.api.fetch(`/api/v1/media/${encodeURIComponent(media.media_id)}/content`);
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: media.filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      button.textContent = "Download";
    } catch (error) {
      button.textContent = "Download failed; try again";
    } finally {
      button.disabled = false;
    }
  }

  async confirmDelete(media) {
    fill(this.confirm.querySelector("[data-text]"), `“${media.filename}” and everything Trove found in it will be deleted. This cannot be undone.`);
    this.confirm.returnValue = "";
    this.confirm.showModal();
    const choice = await new Promise((resolve) => this.confirm.addEventListener("close", () => resolve(this.confirm.returnValue), { once: true }));
    if (choice !== "delete") return;
    try {
      await this.api.deleteMedia(media.media_id);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        this.body.prepend(h("p", { class: "error", role: "alert" }, `Could not delete: ${error.message}`));
        return;
      }
    }
    this.dialog.close();
    this.dispatchEvent(new CustomEvent("deleted", { detail: { mediaId: media.media_id, filename: media.filename } }));
  }

  facts(media) {
    const a = media.analysis || {};
    const probe = a.probe || {};
    const exif = a.exif || {};
    const out = [];
    out.push(
      definitionList([
        ["Status", [statusBadge(media.status), media.error ? h("span", { class: "error" }, ` ${media.error}`) : ""]],
        ["Kind", media.kind],
        ["Type", media.content_type],
        ["Size", formatBytes(media.size_bytes)],
        ["Uploaded", timeEl(media.created_at)],
        ["Taken", exif.taken_at ? timeEl(exif.taken_at) : ""],
        ["Camera", exif.camera || ""],
        ["Duration", probe.duration_s ? formatTime(probe.duration_s) : ""],
        ["Dimensions", probe.width && probe.height ? `${probe.width} × ${probe.height}` : ""],
        ["Language", a.language || (a.transcript && a.transcript.language) || ""],
      ]),
    );
    if (a.description) out.push(section("What Trove saw", h("p", {}, a.description)));
    if (a.labels && a.labels.length) out.push(section("Labels", labelChips(a.labels)));
    out.push(...this.pictureFacts(a.picture));
    if (a.transcript && a.transcript.segments && a.transcript.segments.length) out.push(this.transcript(a.transcript));
    if (a.scenes && a.scenes.length) out.push(this.scenes(a.scenes));
    if (a.pages && a.pages.length) out.push(this.pages(a.pages, a.page_count));
    if (a.entities && a.entities.length) {
      out.push(section("People, places and things", chips(a.entities.map((e) => [e.text, " ", h("span", { class: "muted" }, e.label)]))));
    }
    if (a.key_phrases && a.key_phrases.length) out.push(section("Key phrases", chips(a.key_phrases)));
    if (a.stages && a.stages.length) out.push(this.stages(a.stages));
    return out;
  }

  pictureFacts(picture) {
    if (!picture) return [];
    const out = [];
    if (picture.text) out.push(section("Text in the picture", h("p", { class: "ocr" }, picture.text)));
    const faces = picture.faces ? Number(picture.faces.count || 0) : 0;
    const rows = [
      ["Faces", picture.faces ? String(faces) : ""],
      ["Colours", (picture.colours || []).join(", ")],
      ["Style", picture.style || ""],
      ["Black and white", picture.black_and_white ? "yes" : ""],
    ];
    out.push(section("Picture", definitionList(rows)));
    return out;
  }

  transcript(transcript) {
    const items = transcript.segments.map((s) =>
      h("li", {}, this.seekButton(s.start_s, s.end_s, [h("span", { class: "time" }, formatTime(s.start_s)), " ", s.text])),
    );
    const hint = this.player ? h("p", { class: "muted" }, "Choose a line to play from there.") : "";
    return section("Transcript", hint, h("ol", { class: "transcript" }, items));
  }

  scenes(scenes) {
    const items = scenes.map((scene) =>
      h(
        "li",
        { class: "scene" },
        this.seekButton(scene.start_s, scene.end_s),
        h("p", {}, scene.description || ""),
        scene.text ? h("p", { class: "ocr" }, scene.text) : "",
        scene.faces && scene.faces.count ? h("p", { class: "muted" }, `${scene.faces.count} face(s)`) : "",
      ),
    );
    return section("Scenes", h("ol", { class: "scenes" }, items));
  }

  pages(pages, pageCount) {
    const items = pages.map((page) =>
      h("li", {}, h("details", {}, h("summary", {}, `Page ${page.number}`, h("span", { class: "muted" }, ` (${page.source})`)), h("p", { class: "ocr" }, page.text || "(no text)"))),
    );
    return section(`Pages${pageCount ? ` (${pageCount})` : ""}`, h("ol", { class: "pages" }, items));
  }

  stages(stages) {
    const rows = stages.map((s) =>
      h("tr", {}, h("td", {}, s.stage), h("td", {}, s.status), h("td", {}, s.provider), h("td", {}, s.error || "")),
    );
    return h(
      "details",
      { class: "facts stages" },
      h("summary", {}, "How it was analysed"),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Stage"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Provider"), h("th", { scope: "col" }, "Error"))), h("tbody", {}, rows)),
    );
  }
}
