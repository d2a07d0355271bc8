// Trove's web app: plain ES modules, no build step. Reads /config.json, signs the user in (Firebase Auth's REST
// API, or the OIDC issuer), then shows one view at a time by the address's hash: #/library, #/upload, #/search?q=….

import { Api } from "./api.js";
import { Auth, AuthError } from "./auth.js";
import { Detail } from "./detail.js";
import { formatBytes } from "./dom.js";
import { Library, Thumbnails } from "./library.js";
import { People, PersonPage } from "./people.js";
import { Search } from "./search.js";
import { Uploads } from "./upload.js";
import { Usage } from "./usage.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["signin", "library", "upload", "search", "people", "person", "usage"];

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [view, id = ""] = path.split("/");
  // #/people/<id> is one person's page.
  if (view === "people" && id) return { view: "person", id: decodeURIComponent(id), params: new URLSearchParams(query) };
  return { view: view || "library", id: "", params: new URLSearchParams(query) };
}

function showView(name) {
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = name === "signin" ? "Sign in · Trove" : `${name[0].toUpperCase()}${name.slice(1)} · Trove`;
  const section = name === "person" ? "people" : name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === section) link.setAttribute("aria-current", "page");
  }
}

async function loadConfig() {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  return response.json();
}

function wireOidcSignIn(auth) {
  $("signin-form").hidden = true;
  $("signin-oidc").hidden = false;
  $("signin-oidc-issuer").textContent = `You sign in with your account at ${new URL(auth.oidc.issuer).host}.`;
  const button = $("signin-oidc-button");
  button.addEventListener("click", async () => {
    button.disabled = true;
    $("signin-oidc-error").textContent = "";
    try {
      await auth.beginSignIn();
    } catch (err) {
      $("signin-oidc-error").textContent = `Sign-in failed: ${err.message}`;
      button.disabled = false;
    }
  });
}

function wireSignIn(auth) {
  if (auth.oidc) {
    wireOidcSignIn(auth);
    return;
  }
  const form = $("signin-form");
  const error = $("signin-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = event.submitter && event.submitter.value === "signup" ? "signup" : "signin";
    const email = $("signin-email").value.trim();
    const password = $("signin-password").value;
    error.textContent = "";
    if (!email || !password) {
      error.textContent = "Enter your email and a password.";
      return;
    }
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      await (mode === "signup" ? auth.signUp(email, password) : auth.signIn(email, password));
      form.reset();
    } catch (err) {
      error.textContent = err instanceof AuthError ? err.message : `Sign-in failed: ${err.message}`;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
}

function wireDropzone(uploads) {
  const zone = $("dropzone");
  const input = $("file-input");
  input.addEventListener("change", () => {
    uploads.add([...input.files]);
    input.value = "";
  });
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  // Files dropped anywhere on the upload view are taken; elsewhere the browser must not navigate to them.
  window.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    const onUpload = !$("view-upload").hidden;
    event.dataTransfer.dropEffect = onUpload ? "copy" : "none";
    zone.classList.toggle("dragging", onUpload);
  });
  window.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) zone.classList.remove("dragging");
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    if (!$("view-upload").hidden) uploads.add([...event.dataTransfer.files]);
  });
}

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    $("boot").textContent = `Trove cannot start: ${error.message}`;
    return;
  }
  const auth = new Auth(config);
  let signInProblem = "";
  try {
    await auth.completeSignIn(); // back from the OIDC issuer with a code
  } catch (error) {
    signInProblem = error instanceof AuthError ? error.message : `Sign-in failed: ${error.message}`;
  }
  const api = new Api(auth);
  const thumbnails = new Thumbnails(api);
  const detail = new Detail({ api, dialog: $("detail"), title: $("detail-title"), body: $("detail-body"), confirm: $("confirm") });
  const library = new Library({
    api,
    thumbnails,
    grid: $("library-grid"),
    status: $("library-status"),
    more: $("library-more"),
    sentinel: $("library-sentinel"),
    empty: $("library-empty"),
  });
  const uploads = new Uploads({ api, config, list: $("upload-list") });
  const people = new People({
    api,
    grid: $("people-grid"),
    status: $("people-status"),
    empty: $("people-empty"),
    showHidden: $("people-show-hidden"),
  });
  const personPage = new PersonPage({
    api,
    thumbnails,
    title: $("person-title"),
    body: $("person-body"),
    status: $("person-status"),
  });
  const usage = new Usage({ api, body: $("usage-body"), status: $("usage-status") });
  const search = new Search({
    api,
    thumbnails,
    form: $("search-form"),
    input: $("search-q"),
    filters: { kind: $("filter-kind"), from: $("filter-from"), to: $("filter-to"), sort: $("filter-sort") },
    status: $("search-status"),
    understood: $("search-understood"),
    list: $("search-results"),
    more: $("search-more"),
  });

  $("upload-limits").textContent =
    `Photos, videos, audio and PDF documents, up to ${formatBytes(config.maxUploadBytes)} each.`;
  $("file-input").accept = Object.keys(config.allowedTypes).join(",");
  $("nav-usage").hidden = !config.billing;

  library.addEventListener("open", (e) => detail.open(e.detail.mediaId));
  uploads.addEventListener("open", (e) => detail.open(e.detail.mediaId));
  search.addEventListener("open", (e) => detail.open(e.detail.mediaId, { startS: e.detail.startS }));
  personPage.addEventListener("open", (e) => detail.open(e.detail.mediaId, { startS: e.detail.startS }));
  uploads.addEventListener("uploaded", () => library.invalidate());
  detail.addEventListener("deleted", (e) => {
    library.remove(e.detail.mediaId);
    search.remove(e.detail.mediaId);
  });
  $("sign-out").addEventListener("click", () => auth.signOut("You have signed out."));
  wireSignIn(auth);
  wireDropzone(uploads);

  let signedInAs = null;
  let lastView = null;
  const route = () => {
    const session = auth.session;
    $("boot").hidden = true;
    $("nav").hidden = $("account").hidden = !session;
    if (!session) {
      if (lastView !== "signin") showView("signin");
      lastView = "signin";
      return;
    }
    $("account-email").textContent = session.email || "";
    let { view, id, params } = parseHash();
    if (!VIEWS.includes(view) || view === "signin" || (view === "usage" && !config.billing)) view = "library";
    if (view === "library") library.show();
    else library.hide();
    if (view === "search") {
      const query = (params.get("q") || "").trim();
      if (query && query !== search.query) search.run(query);
      else if (!query && search.query) search.reset();
    }
    if (view === "usage" && view !== lastView) usage.show();
    if (view === "people") people.show();
    if (view === "person" && (view !== lastView || id !== personPage.personId)) personPage.show(id);
    if (view !== lastView) {
      showView(view);
      $(`${view}-title`).focus({ preventScroll: true });
    }
    lastView = view;
  };

  auth.addEventListener("change", (event) => {
    const session = auth.session;
    const uid = session ? session.uid : null;
    if (uid === signedInAs) return; // a refreshed token: nothing to redraw
    // Someone else (or no one) now: drop everything of the previous user.
    signedInAs = uid;
    if (detail.dialog.open) detail.dialog.close();
    uploads.reset();
    library.reset();
    search.reset();
    people.reset();
    personPage.reset();
    api.clear();
    const notice = $("signin-notice");
    notice.textContent = (event.detail && event.detail.reason) || "";
    notice.hidden = !notice.textContent;
    if (!session) $("signin-error").textContent = $("signin-oidc-error").textContent = "";
    lastView = null;
    route();
    if (!session) $("signin-title").focus();
  });
  signedInAs = auth.session ? auth.session.uid : null;
  window.addEventListener("hashchange", route);
  route();
  if (signInProblem) $(auth.oidc ? "signin-oidc-error" : "signin-error").textContent = signInProblem;
  document.body.dataset.app = "ready"; // every control is wired (tests wait for this after a reload)
}

main();
