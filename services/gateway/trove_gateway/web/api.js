// The REST API of the gateway, called with the signed-in user's ID token. A 401 refreshes the token once and
// retries; when that fails too, the user is signed out (auth.js) and the page goes back to the sign-in form.
// A 429 (rate limited) is waited out for as long as its Retry-After says, a few times, then reported.

const MAX_RATE_LIMIT_WAITS = 5;
const MAX_RETRY_AFTER_MS = 30_000;

function retryAfterMs(response) {
  const seconds = Number.parseInt(response.headers.get("retry-after") || "1", 10);
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(1, Number.isFinite(seconds) ? seconds : 1) * 1000);
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(new DOMException("aborted", "AbortError"));
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(new DOMException("aborted", "AbortError"));
        },
        { once: true },
      );
    }
  });
}

export class ApiError extends Error {
  constructor(status, message, { code = "", requestId = "" } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** The server's error {error: {code, message, request_id}} as an ApiError; a fallback when there is none. */
export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  const message = error.message || `The server answered ${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, message, {
    code: error.code || "",
    requestId: error.request_id || response.headers.get("x-request-id") || "",
  });
}

export class Api {
  constructor(auth) {
    this.auth = auth;
    this.thumbnails = new Map(); // media id -> Promise<object URL | null>
    this.frames = new Map(); // a moment's frame_url -> Promise<object URL | null>
    this.crops = new Map(); // face crop URL -> Promise<object URL | null>
  }

  /** fetch() with the Authorization header; returns the Response of a 2xx, throws ApiError otherwise. */
  async fetch(path, { method = "GET", json, headers = {}, signal } = {}) {
    let waits = 0; // 429s waited out; a long upload of many files meets the rate limit and just slows down
    for (let attempt = 0; ; attempt += 1) {
      const token = attempt === 0 ? await this.auth.idToken() : await this.auth.refresh();
      const init = { method, signal, headers: { ...headers, Authorization: `Bearer ${token}` } };
      if (json !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(json);
      }
      let response;
      try {
        response = await fetch(path, init);
      } catch (error) {
        if (error && error.name === "AbortError") throw error;
        throw new ApiError(0, "Cannot reach Trove. Check your connection and try again.");
      }
      if (response.status === 429 && waits < MAX_RATE_LIMIT_WAITS) {
        waits += 1;
        attempt -= 1; // a wait is not a refresh
        await sleep(retryAfterMs(response), signal);
        continue;
      }
      if (response.status === 401 && attempt === 0) continue; // expired or revoked: refresh once, then retry
      if (response.status === 401) {
        const error = await errorFrom(response);
        this.auth.signOut("Your session has ended. Please sign in again.");
        throw error;
      }
      if (!response.ok) throw await errorFrom(response);
      return response;
    }
  }

  async json(path, options) {
    const response = await this.fetch(path, options);
    return response.status === 204 ? null : response.json();
  }

  listMedia({ limit, cursor }) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (cursor) params.set("cursor", cursor);
    return this.json(`/api/v1/media?${params}`);
  }

  media(id) {
    return this.json(`/api/v1/media/${encodeURIComponent(id)}`);
  }

  async deleteMedia(id) {
    await this.fetch(`/api/v1/media/${encodeURIComponent(id)}`, { method: "DELETE" });
    this.forgetThumbnail(id);
  }

  search(params, { signal } = {}) {
    return this.json(`/api/v1/search?${params}`, { signal });
  }

  people({ hidden = false } = {}) {
    return this.json(`/api/v1/people${hidden ? "?hidden=true" : ""}`);
  }

  person(id) {
    return this.json(`/api/v1/people/${encodeURIComponent(id)}`);
  }

  updatePerson(id, changes) {
    return this.json(`/api/v1/people/${encodeURIComponent(id)}`, { method: "PATCH", json: changes });
  }

  mergePeople(id, otherId) {
    return this.json(`/api/v1/people/${encodeURIComponent(id)}/merge`, { method: "POST", json: { other_person_id: otherId } });
  }

  /** Moves a face to `personId`, or to a new person of its own when it is null. */
  moveFace(faceId, personId) {
    return this.json(`/api/v1/faces/${encodeURIComponent(faceId)}/move`, { method: "POST", json: { person_id: personId } });
  }

  /** An object URL of a face crop (a path the API gave, fetched with the Authorization header); null when none. */
  faceCrop(path) {
    if (!this.crops.has(path)) {
      const promise = this.fetch(path)
        .then(async (response) => URL.createObjectURL(await response.blob()))
        .catch((error) => {
          this.crops.delete(path);
          if (error instanceof ApiError && error.status === 404) return null;
          throw error;
        });
      this.crops.set(path, promise);
    }
    return this.crops.get(path);
  }

  createUpload(file, contentType) {
    return this.json("/api/v1/uploads", {
      method: "POST",
      json: { filename: file.name, content_type: contentType, size_bytes: file.size },
    });
  }

  completeUpload(uploadId) {
    return this.json(`/api/v1/uploads/${encodeURIComponent(uploadId)}/complete`, { method: "POST" });
  }

  /** A signed URL of the original file, for <video>, <audio>, <img> and links, which cannot send headers. */
  contentUrl(id) {
    return this.json(`/api/v1/media/${encodeURIComponent(id)}/content-url`);
  }

  /**
   * An object URL of the media's thumbnail (fetched with the Authorization header), or null when it has none
   * (audio; ask once analysis is done). Cached per media; `forgetThumbnail` drops one, `clear` all.
   */
  thumbnail(id) {
    if (!this.thumbnails.has(id)) {
      const promise = this.fetch(`/api/v1/media/${encodeURIComponent(id)}/thumbnail`)
        .then(async (response) => URL.createObjectURL(await response.blob()))
        .catch((error) => {
          // Ask only for finished media: then a 404 means it has none (audio) and is kept; other errors retry.
          if (error instanceof ApiError && error.status === 404) return null;
          this.thumbnails.delete(id);
          throw error;
        });
      this.thumbnails.set(id, promise);
    }
    return this.thumbnails.get(id);
  }

  forgetThumbnail(id) {
    const cached = this.thumbnails.get(id);
    this.thumbnails.delete(id);
    if (cached) cached.then((url) => url && URL.revokeObjectURL(url)).catch(() => {});
  }

  /** An object URL of a video moment's keyframe picture (a search result's `frame_url`), or null when missing. */
  frame(url) {
    if (!url.startsWith("/api/v1/media/")) return Promise.resolve(null); // only our own API's pictures
    if (!this.frames.has(url)) {
      const promise = this.fetch(url)
        .then(async (response) => URL.createObjectURL(await response.blob()))
        .catch((error) => {
          if (error instanceof ApiError && error.status === 404) return null;
          this.frames.delete(url);
          throw error;
        });
      this.frames.set(url, promise);
    }
    return this.frames.get(url);
  }

  clear() {
    for (const id of [...this.thumbnails.keys()]) this.forgetThumbnail(id);
    for (const cached of this.frames.values()) cached.then((url) => url && URL.revokeObjectURL(url)).catch(() => {});
    this.frames.clear();
    for (const promise of this.crops.values()) promise.then((url) => url && URL.revokeObjectURL(url)).catch(() => {});
    this.crops.clear();
  }
}
