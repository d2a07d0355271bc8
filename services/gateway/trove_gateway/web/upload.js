// Uploads: each file is checked here against the server's own limits (from /config.json), then PUT straight
// to its signed URL with a progress bar, completed, and watched while the analysis runs. Failures stay in the
// list with the server's message and a Retry button.

import { ApiError } from "./api.js";
import { fill, formatBytes, h } from "./dom.js";

// Browsers leave File.type empty for formats the OS does not know; the extension fills in for those.
const EXTENSION_TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp", bmp: "image/bmp",
  tif: "image/tiff", tiff: "image/tiff", heic: "image/heic", heif: "image/heif",
  mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm", mkv: "video/x-matroska",
  avi: "video/x-msvideo", mpg: "video/mpeg", mpeg: "video/mpeg",
  mp3: "audio/mpeg", wav: "audio/wav", m4a: "audio/mp4", ogg: "audio/ogg", oga: "audio/ogg", opus: "audio/ogg",
  flac: "audio/flac", aac: "audio/aac", pdf: "application/pdf",
};
const PARALLEL_UPLOADS = 2;
const POLL_MS = 1500;
const FINAL = new Set(["completed", "failed"]);
// Answers that a second try gets again (bad input, too large, type not allowed, bytes not the declared type).
const PERMANENT = new Set([400, 413, 415, 422]);

export function contentTypeOf(file) {
  if (file.type) return file.type.toLowerCase();
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return EXTENSION_TYPES[ext] || "";
}

/** Why the server would refuse this file (the same allow-list and size limit), or "" when it may go. */
export function problemWith(file, config) {
  const type = contentTypeOf(file);
  if (!type || !Object.hasOwn(config.allowedTypes, type)) {
    const what = type ? `a ${type} file` : "of a type this browser cannot tell";
    return `${file.name} is ${what}. Trove takes images, videos, audio and PDF documents.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > config.maxUploadBytes) {
    return `${file.name} is ${formatBytes(file.size)}; the largest file Trove takes is ${formatBytes(config.maxUploadBytes)}.`;
  }
  return "";
}

function errorOfXhr(xhr) {
  let message = "";
  try {
    message = JSON.parse(xhr.responseText).error.message;
  } catch {
    message = "";
  }
  return new ApiError(xhr.status, message || `The upload failed (${xhr.status || "no answer"}).`);
}

function messageOf(error) {
  if (error instanceof ApiError && error.status) return `${error.message} (${error.status})`;
  return (error && error.message) || String(error);
}

export class Uploads extends EventTarget {
  /** Events: "uploaded" {mediaId} once a file is stored, "analysed" {media} when analysis ends, "open" {mediaId}. */
  constructor({ api, config, list }) {
    super();
    this.api = api;
    this.config = config;
    this.list = list;
    this.queue = [];
    this.active = 0;
    this.generation = 0; // bumped on sign-out: stops every loop of the previous user
  }

  add(files) {
    for (const file of files) {
      const item = { file, type: contentTypeOf(file), el: null, xhr: null };
      this.render(item);
      this.list.append(item.el);
      this.start(item);
    }
  }

  start(item) {
    const problem = problemWith(item.file, this.config);
    if (problem) {
      // The same check fails on every retry, so none is offered.
      this.fail(item, problem, { retry: false });
      return;
    }
    this.setState(item, "waiting", "Waiting…", 0);
    this.queue.push(item);
    this.pump();
  }

  pump() {
    while (this.active < PARALLEL_UPLOADS && this.queue.length > 0) {
      const item = this.queue.shift();
      this.active += 1;
      const generation = this.generation;
      this.upload(item, generation)
        .then((mediaId) => mediaId && this.watch(item, mediaId, generation))
        .catch((error) => {
          if (generation !== this.generation) return;
          this.fail(item, messageOf(error), { retry: !(error instanceof ApiError && PERMANENT.has(error.status)) });
        })
        .finally(() => {
          this.active -= 1;
          if (generation === this.generation) this.pump();
        });
    }
  }

  /** Create the upload, PUT the bytes, complete it; returns the media id. */
  async upload(item, generation) {
    this.setState(item, "uploading", "Uploading… 0%", 0);
    const ticket = await this.api.createUpload(item.file, item.type);
    await this.put(item, ticket);
    if (generation !== this.generation) return null;
    this.setState(item, "analysing", "Uploaded. Checking the file…", 100);
    const done = await this.api.completeUpload(ticket.upload_id);
    item.mediaId = done.media_id;
    this.dispatchEvent(new CustomEvent("uploaded", { detail: { mediaId: done.media_id } }));
    return done.media_id;
  }

  put(item, ticket) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open(ticket.method || "PUT", ticket.upload_url);
      for (const [name, value] of Object.entries(ticket.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.floor((100 * event.loaded) / event.total);
        this.setState(item, "uploading", `Uploading… ${percent}%`, percent);
      });
      xhr.addEventListener("load", () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(errorOfXhr(xhr))));
      xhr.addEventListener("error", () => reject(new ApiError(0, "The upload was interrupted. Check your connection.")));
      xhr.addEventListener("abort", () => reject(new ApiError(0, "The upload was cancelled.")));
      xhr.send(item.file);
    }).finally(() => {
      item.xhr = null;
    });
  }

  /** Poll the media until its analysis ends. */
  async watch(item, mediaId, generation) {
    for (;;) {
      if (generation !== this.generation) return;
      const media = await this.api.media(mediaId);
      if (FINAL.has(media.status)) {
        if (media.status === "completed") {
          const saw = media.analysis && media.analysis.description;
          this.setState(item, "done", "Done", 100, saw ? `Trove saw: ${saw}` : "");
        } else {
          this.fail(item, media.error || "The analysis failed.", { retry: true });
        }
        this.dispatchEvent(new CustomEvent("analysed", { detail: { media } }));
        return;
      }
      const phase = media.status === "queued" ? "waiting for a worker" : "looking at it";
      this.setState(item, "analysing", `Analysing… (${phase})`, null);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  retry(item) {
    item.mediaId = undefined;
    this.start(item);
  }

  remove(item) {
    if (item.xhr) item.xhr.abort();
    this.queue = this.queue.filter((queued) => queued !== item);
    item.el.remove();
  }

  /** Forget every upload (sign-out). */
  reset() {
    this.generation += 1;
    for (const item of this.queue) item.el.remove();
    this.queue = [];
    this.list.replaceChildren();
  }

  render(item) {
    const name = item.file.name;
    item.progress = h("progress", { max: "100", value: "0", "aria-label": `Progress of ${name}` });
    item.status = h("p", { class: "upload-status" });
    item.note = h("p", { class: "upload-note" });
    item.error = h("p", { class: "upload-error", role: "alert", hidden: true });
    item.actions = h("div", { class: "upload-actions" });
    item.el = h(
      "li",
      { class: "upload", dataset: { filename: name } },
      h("div", { class: "upload-head" }, h("span", { class: "upload-name" }, name), h("span", { class: "muted" }, formatBytes(item.file.size))),
      item.progress,
      item.status,
      item.note,
      item.error,
      item.actions,
    );
  }

  setState(item, state, status, percent, note = "") {
    item.el.dataset.state = state;
    item.status.textContent = status;
    item.note.textContent = note;
    item.error.hidden = true;
    if (percent === null) item.progress.removeAttribute("value"); // indeterminate while the analysis runs
    else item.progress.value = percent;
    if (item.actionsFor !== state) this.renderActions(item, state); // not on every progress event: keeps focus
  }

  fail(item, message, { retry }) {
    item.el.dataset.state = "failed";
    item.status.textContent = "Failed";
    item.note.textContent = "";
    item.error.textContent = message;
    item.error.hidden = false;
    item.progress.value = 0;
    this.renderActions(item, "failed", retry);
  }

  renderActions(item, state, retry = false) {
    item.actionsFor = state;
    const button = (label, onclick, cls = "") => h("button", { type: "button", class: cls, onclick }, label);
    const name = item.file.name;
    const actions = [];
    if (state === "failed" && retry) actions.push(button("Retry", () => this.retry(item), "small"));
    if (state === "done" || (state === "failed" && item.mediaId)) {
      const open = () => this.dispatchEvent(new CustomEvent("open", { detail: { mediaId: item.mediaId } }));
      actions.push(button("View", open, "small"));
    }
    const label = state === "uploading" || state === "waiting" ? "Cancel" : "Dismiss";
    actions.push(button(label, () => this.remove(item), "small secondary"));
    for (const action of actions) action.setAttribute("aria-label", `${action.textContent} ${name}`);
    fill(item.actions, actions);
  }
}
