// Firebase Auth over its REST API (no SDK): email + password sign-up and sign-in, ID-token refresh, sign-out.
// The base URLs and the Web API key come from /config.json: the Auth Emulator in development, Google's hosts
// for a real project. The session lives in localStorage so a reload (or another tab) stays signed in.

const STORAGE_KEY = "trove.session";
// Refresh this long before the ID token expires (Firebase ID tokens live an hour).
const REFRESH_AHEAD_MS = 5 * 60 * 1000;
// A token closer than this to its expiry is refreshed before it is sent.
const MIN_VALIDITY_MS = 60 * 1000;

const MESSAGES = {
  EMAIL_EXISTS: "An account with this email already exists. Sign in instead.",
  EMAIL_NOT_FOUND: "Wrong email or password.",
  INVALID_PASSWORD: "Wrong email or password.",
  INVALID_LOGIN_CREDENTIALS: "Wrong email or password.",
  INVALID_EMAIL: "That email address is not valid.",
  MISSING_EMAIL: "Enter your email address.",
  MISSING_PASSWORD: "Enter your password.",
  WEAK_PASSWORD: "Choose a password of at least 6 characters.",
  USER_DISABLED: "This account has been disabled.",
  TOO_MANY_ATTEMPTS_TRY_LATER: "Too many attempts. Try again later.",
  TOKEN_EXPIRED: "Your session has ended. Please sign in again.",
  INVALID_REFRESH_TOKEN: "Your session has ended. Please sign in again.",
  INVALID_GRANT_TYPE: "Your session has ended. Please sign in again.",
  USER_NOT_FOUND: "Your session has ended. Please sign in again.",
};

export class AuthError extends Error {}

/** Firebase answers errors as {error: {message: "CODE" or "CODE : details"}}. */
function friendly(body, fallback) {
  const raw = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
  const code = raw.split(" ")[0];
  return MESSAGES[code] || (raw ? raw.replace(/_/g, " ").toLowerCase() : fallback);
}

export class Auth extends EventTarget {
  constructor(config) {
    super();
    this.config = config;
    this.refreshing = null;
    this.timer = 0;
    // Another tab signed in or out.
    window.addEventListener("storage", (event) => {
      if (event.key !== STORAGE_KEY) return;
      this.schedule();
      this.dispatchEvent(new CustomEvent("change", { detail: { reason: "" } }));
    });
    this.schedule();
  }

  /** The stored session {idToken, refreshToken, expiresAt, email, uid}, or null when signed out. */
  get session() {
    try {
      const session = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      return session && session.idToken && session.refreshToken ? session : null;
    } catch {
      return null;
    }
  }

  save(session) {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    this.schedule();
    this.dispatchEvent(new CustomEvent("change", { detail: { reason: "" } }));
  }

  signIn(email, password) {
    return this.withPassword("accounts:signInWithPassword", email, password);
  }

  signUp(email, password) {
    return this.withPassword("accounts:signUp", email, password);
  }

  async withPassword(operation, email, password) {
    const url = `${this.config.authBaseUrl}/v1/${operation}?key=${encodeURIComponent(this.config.apiKey)}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password, returnSecureToken: true }),
      });
    } catch {
      throw new AuthError("Cannot reach the sign-in service. Check your connection and try again.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new AuthError(friendly(body, `Sign-in failed (${response.status}).`));
    this.save({
      idToken: body.idToken,
      refreshToken: body.refreshToken,
      expiresAt: Date.now() + Number(body.expiresIn || 3600) * 1000,
      email: body.email || email,
      uid: body.localId,
    });
  }

  /** A fresh ID token from the refresh token; signs out (and throws) when the refresh token is no good. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.exchange().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async exchange() {
    const session = this.session;
    if (!session) throw new AuthError("Please sign in.");
    const url = `${this.config.tokenBaseUrl}/v1/token?key=${encodeURIComponent(this.config.apiKey)}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: session.refreshToken }),
      });
    } catch {
      // Offline: keep the session, the next call tries again.
      throw new AuthError("Cannot reach the sign-in service to renew your session.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.id_token) {
      const message = friendly(body, "Your session has ended. Please sign in again.");
      this.signOut(message);
      throw new AuthError(message);
    }
    this.save({
      ...session,
      idToken: body.id_token,
      refreshToken: body.refresh_token || session.refreshToken,
      expiresAt: Date.now() + Number(body.expires_in || 3600) * 1000,
    });
    return body.id_token;
  }

  /** The ID token to send, refreshed first when it is about to expire. */
  async idToken() {
    const session = this.session;
    if (!session) throw new AuthError("Please sign in.");
    if (session.expiresAt - Date.now() < MIN_VALIDITY_MS) return this.refresh();
    return session.idToken;
  }

  signOut(reason = "") {
    localStorage.removeItem(STORAGE_KEY);
    clearTimeout(this.timer);
    this.dispatchEvent(new CustomEvent("change", { detail: { reason } }));
  }

  /** Refresh ahead of expiry, so a token is never sent stale while the page is open. */
  schedule() {
    clearTimeout(this.timer);
    const session = this.session;
    if (!session) return;
    const delay = Math.max(10_000, session.expiresAt - Date.now() - REFRESH_AHEAD_MS);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.min(delay, 2 ** 31 - 1));
  }
}
