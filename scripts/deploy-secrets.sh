#!/usr/bin/env bash
# Generates the secrets compose.yaml reads, as KEY=VALUE lines: every password, token and key a random hex string
# (hex needs no escaping inside a DSN or JSON). Writes FILE (default .env in the repository root, which `docker
# compose` / `podman compose` read), mode 0600; an existing FILE is left alone, so secrets survive re-runs.
# Usage: scripts/deploy-secrets.sh [FILE]   (Kubernetes: FILE is deploy/k8s/overlays/<name>/secrets.env; README, Deploying)
set -euo pipefail
file=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.env"}
if [[ -e $file ]] && grep -q '^TROVE_SECRET_' "$file"; then
  echo "$file already has Trove's secrets; delete those lines to make new ones" >&2
  exit 0
fi
hex() {  # BYTES: that many random bytes, as hex
  if command -v openssl >/dev/null 2>&1; then openssl rand -hex "$1"; else od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'; fi
}
umask 077
{
  echo "# Trove's deployment secrets (scripts/deploy-secrets.sh); keep this file private."
  echo "TROVE_SECRET_POSTGRES_PASSWORD=$(hex 24)"
  for svc in BILLING INGEST ANALYSIS SEARCH; do echo "TROVE_SECRET_DB_${svc}=$(hex 24)"; done
  echo "TROVE_SECRET_REDIS_PASSWORD=$(hex 24)"
  echo "TROVE_SECRET_SIGNING_KEY=$(hex 32)"
  for svc in GATEWAY BILLING INGEST ANALYSIS SEARCH; do echo "TROVE_SECRET_TOKEN_${svc}=$(hex 32)"; done
} >>"$file"
chmod 600 "$file"
echo "wrote Trove's secrets to $file"
