// Signing in, in the gateway's identity mode (/config.json `authMode`):
// - emulator / firebase: Firebase Auth over its REST API (no SDK): email + password sign-up and sign-in, ID-token
//   refresh. The base URLs and the Web API key come from /config.json (the Auth Emulator, or Google's hosts).
// - oidc: the issuer's authorization-code flow with PKCE (S256), state and nonce; the issuer redirects back to
//   the app's own URL with a code, which the page exchanges at the token endpoint for an ID token.
// The session lives in localStorage so a reload (or another tab) stays signed in; the OIDC flow's one-time
// values (verifier, state, nonce) live in sessionStorage, for this tab only, until the issuer answers.

const STORAGE_KEY = "trove.session";
const PENDING_KEY = "trove.oidc.pending";
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

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, unverified (the gateway verifies; the page only reads sub, email, exp and nonce). */
function jwtClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(part + "===".slice((part.length + 3) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

/** OAuth answers errors as {error, error_description}. */
function oauthMessage(body, fallback) {
  return (body && (body.error_description || body.error)) || fallback;
}

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

  /** The OIDC settings ({authorizationEndpoint, tokenEndpoint, clientId, scopes}) in oidc mode, else null. */
  get oidc() {
    return this.config.authMode === "oidc" ? this.config.oidc : null;
  }

  /** The stored session {idToken, refreshToken, expiresAt, email, uid}, or null when signed out. */
  get session() {
    try {
      const session = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      // An OIDC issuer may hand out no refresh token: the session then ends with its ID token.
      return session && session.idToken && (session.refreshToken || this.oidc) ? session : null;
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

  redirectUri() {
    return `${location.origin}/`;
  }

  /** oidc: leave for the issuer's sign-in page; it comes back to this page with a code (`completeSignIn`). */
  async beginSignIn() {
    const oidc = this.oidc;
    const pending = { verifier: randomString(48), state: randomString(), nonce: randomString(), hash: location.hash };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: oidc.clientId,
      redirect_uri: this.redirectUri(),
      scope: oidc.scopes,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await pkceChallenge(pending.verifier),
      code_challenge_method: "S256",
    });
    const separator = oidc.authorizationEndpoint.includes("?") ? "&" : "?";
    location.assign(`${oidc.authorizationEndpoint}${separator}${query}`);
  }

  /** oidc: when the issuer has just redirected back (?code=…&state=…), exchange the code for the session. */
  async completeSignIn() {
    const params = new URLSearchParams(location.search);
    if (!this.oidc || !(params.has("code") || params.has("error"))) return;
    let pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
    } catch {
      pending = null;
    }
    sessionStorage.removeItem(PENDING_KEY);
    // The code is single-use and must not stay in the address bar or the history.
    history.replaceState(null, "", `${location.pathname}${(pending && pending.hash) || ""}`);
    if (params.has("error")) {
      throw new AuthError(`Sign-in failed: ${params.get("error_description") || params.get("error")}`);
    }
    if (!pending || params.get("state") !== pending.state) {
      throw new AuthError("This sign-in answer does not match a sign-in started here. Please sign in again.");
    }
    const body = await this.tokenRequest({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: this.redirectUri(),
      client_id: this.oidc.clientId,
      code_verifier: pending.verifier,
    });
    const claims = jwtClaims(body.id_token);
    if (claims.nonce !== pending.nonce) throw new AuthError("The sign-in answer was not for this page. Please sign in again.");
    this.saveOidc(body, null);
  }

  async tokenRequest(form) {
    let response;
    try {
      response = await fetch(this.oidc.tokenEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form),
      });
    } catch {
      throw new AuthError("Cannot reach the sign-in service. Check your connection and try again.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.id_token) throw new AuthError(oauthMessage(body, `Sign-in failed (${response.status}).`));
    return body;
  }

  saveOidc(body, previous) {
    const claims = jwtClaims(body.id_token);
    this.save({
      idToken: body.id_token,
      refreshToken: body.refresh_token || (previous && previous.refreshToken) || "",
      expiresAt: Number(claims.exp) > 0 ? Number(claims.exp) * 1000 : Date.now() + Number(body.expires_in || 300) * 1000,
      email: claims.email || claims.preferred_username || (previous && previous.email) || "",
      uid: claims.sub,
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
    if (this.oidc) return this.exchangeOidc(session);
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

  async exchangeOidc(session) {
    const ended = "Your session has ended. Please sign in again.";
    if (!session.refreshToken) {
      this.signOut(ended);
      throw new AuthError(ended);
    }
    let body;
    try {
      body = await this.tokenRequest({
        grant_type: "refresh_token",
        refresh_token: session.refreshToken,
        client_id: this.oidc.clientId,
      });
    } catch (error) {
      if (error.message.startsWith("Cannot reach")) throw error; // offline: keep the session
      this.signOut(ended);
      throw new AuthError(ended);
    }
    this.saveOidc(body, session);
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
