#!/usr/bin/env bash
# Against a running `make run`: uploads a corpus twice at once (two evaluation users, through the REST API) while
# SIGKILLing every analysis worker by its PID file every few seconds, then prints both evaluations' summaries.
# Every file should end completed (the supervisor restarts the workers; their jobs run again).
#   scripts/chaos.sh [CORPUS_DIR] [KILLS] [EVERY_S]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/media/dev}
kills=${2:-6}
every=${3:-12}
eval_tool=../shared/tools/search_eval.py
logs=$(mktemp -d)
python3 "$eval_tool" "$corpus" --wait 1800 >"$logs/first.log" 2>&1 &
first=$!
python3 "$eval_tool" "$corpus" --wait 1800 >"$logs/second.log" 2>&1 &
second=$!
done_kills=0
while [ "$done_kills" -lt "$kills" ]; do
  sleep "$every"
  for pid_file in .trove/run/*worker*.pid; do
    [ -f "$pid_file" ] || continue
    pid=$(awk '{print $1; exit}' "$pid_file")
    if kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"; then
      done_kills=$((done_kills + 1))
      echo "$(date +%T) SIGKILL $pid_file ($pid)"
    fi
  done
done
wait "$first" "$second" || true
tail -n 1 "$logs/first.log" "$logs/second.log"
