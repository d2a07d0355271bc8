#!/usr/bin/env bash
# Against a running `make run`: uploads a corpus twice at once (two evaluation users, through the REST API) while
# SIGKILLing every analysis worker by its PID file every few seconds, then prints both evaluations' summaries.
# Every file should end completed (the supervisor restarts the workers; their jobs run again).
#   scripts/chaos.sh [CORPUS_DIR] [KILLS] [EVERY_S]     (CORPUS_DIR: the evaluator's default, the sample corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=(${1:+"$1"})
kills=${2:-6}
every=${3:-12}
eval_cmd=(.venv/bin/python bench/search_eval.py "${corpus[@]}" --url "http://127.0.0.1:${TROVE_STACK_GATEWAY_PORT:-8080}"
  --auth "127.0.0.1:${TROVE_STACK_AUTH_PORT:-9099}" --wait 1800)
logs=$(mktemp -d)
"${eval_cmd[@]}" >"$logs/first.log" 2>&1 &
first=$!
"${eval_cmd[@]}" >"$logs/second.log" 2>&1 &
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
for log in "$logs/first.log" "$logs/second.log"; do
  echo "== $log"
  grep -E '"(queries|recall@5|mrr|segment_hits|segments|files|failed|still_pending)"' "$log" || tail -n 5 "$log"
done
