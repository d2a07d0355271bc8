#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for Trove's embedded stack. Idempotent; quiet on success.
#
#   bash scripts/bootstrap.sh system   Debian packages (redis-server, Node.js) and, as root, the unprivileged user
#                                      that runs PostgreSQL
#   bash scripts/bootstrap.sh node     npm ci from the committed package-lock.json (the Firebase Auth Emulator),
#                                      skipped while node_modules matches the lock file
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_USER="trove-pg"
NODE_MIN_MAJOR=20
# command that proves a package is there -> Debian package that provides it
REQUIRED=(
  "redis-server:redis-server"
  "node:nodejs"
  "npm:npm"
  # media tools the tests use to make speech, audio and video samples
  "sox:sox"
  "ffmpeg:ffmpeg"
  "espeak-ng:espeak-ng"
  # the browser tests drive Debian's Chromium through Playwright (never `playwright install`)
  "chromium:chromium"
)
# file that proves a package is there -> Debian package that provides it (data-only packages have no command)
REQUIRED_FILES=(
  "/usr/share/wordnet/data.noun:wordnet-base"
)
# Optional dependencies are left out: the only one with a build step is re2 (used by the hosting emulator, not
# auth), whose install script tries to download a prebuilt binary and then compiles C++ for minutes.
NPM_CI=(npm ci --omit=optional --no-audit --no-fund --loglevel=error)

die() {
  echo "bootstrap: $*" >&2
  exit 1
}

# Runs a command with its output kept in a log that is shown only when the command fails.
quiet() {
  local what="$1"
  shift
  local log
  log="$(mktemp -t trove-bootstrap.XXXXXX)"
  if ! "$@" >"$log" 2>&1; then
    echo "bootstrap: $what failed; its last output:" >&2
    tail -n 40 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (re-run as root or install sudo)"
  fi
}

system() {
  local missing=() entry
  for entry in "${REQUIRED[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
  done
  for entry in "${REQUIRED_FILES[@]}"; do
    [ -e "${entry%%:*}" ] || missing+=("${entry#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them (Debian expected)"
    quiet "apt-get update" as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quiet "apt-get install ${missing[*]}" \
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  # Debian ships redis-server with a system service on port 6379; Trove starts its own on loopback, so that one
  # is left alone here.
  node_version_ok
  # tests/deploy/test_k8s.py renders deploy/k8s with kustomize (kubectl's built-in copy does). Debian 12 packages
  # neither and no registry Trove installs from ships the binary, so it is not installed here: only reported.
  if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
    echo "bootstrap: neither kubectl nor kustomize is installed; the Kubernetes manifest tests need one" >&2
  fi
  if [ "$(id -u)" -eq 0 ] && ! getent passwd "$PG_USER" >/dev/null; then
    # initdb and postgres refuse to run as root: the embedded PostgreSQL runs as this user instead.
    quiet "creating user $PG_USER" useradd --system --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin --comment "Trove embedded PostgreSQL" "$PG_USER"
  fi
}

node_version_ok() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
    die "Node.js >= $NODE_MIN_MAJOR is needed by firebase-tools, found $(node --version 2>/dev/null || echo none)"
  fi
}

node_modules() {
  command -v npm >/dev/null 2>&1 || die "npm not found: run 'bash scripts/bootstrap.sh system' first"
  node_version_ok
  local lock="$ROOT/package-lock.json" stamp="$ROOT/node_modules/.trove-lock.sha256" want
  [ -f "$lock" ] || die "no package-lock.json in $ROOT"
  want="$(cat "$ROOT/package.json" "$lock" | sha256sum | cut -d' ' -f1) node-$(node --version) ${NPM_CI[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$ROOT/node_modules/.bin/firebase" ]; then
    return 0
  fi
  echo "installing Node packages into node_modules (npm cache: ~/.npm)"
  # The Firebase CLI and npm must not phone home for update notices from a clone's tooling.
  (cd "$ROOT" && quiet "npm ci" env NO_UPDATE_NOTIFIER=1 "${NPM_CI[@]}")
  [ -x "$ROOT/node_modules/.bin/firebase" ] || die "npm ci finished but node_modules/.bin/firebase is missing"
  echo "$want" >"$stamp"
}

case "${1:-}" in
  system) system ;;
  node) node_modules ;;
  *)
    echo "usage: bash scripts/bootstrap.sh {system|node}" >&2
    exit 2
    ;;
esac
