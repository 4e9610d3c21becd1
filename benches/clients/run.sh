#!/usr/bin/env bash
# Speed of the framework integrations: requests/s and p50/p99 of one endpoint protected
# four ways, in FastAPI (uvicorn, one worker) and Express, from wrk on loopback:
#   none   no authentication
#   local  in-process verification (a lookup in memory, digest and policy by the core)
#   hit    verification by keyseal serve through the client, answered from the cache
#   miss   verification by keyseal serve with the cache off (a /v1/verify per request)
# One run; prints a Markdown table. Needs a release server build, the Python wheel venv
# (scripts/test-python) and the npm build (scripts/test-js); installs uvicorn and wrk.
#
#   benches/clients/run.sh                 DURATION=5 CONNECTIONS=16 by default
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-16}"
BIN="${KEYSEAL_BIN:-$ROOT/target/release/keyseal}"
VENV="$ROOT/.build/py/venv"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release -p keyseal-server)
[[ -x "$VENV/bin/python" ]] || { echo "run scripts/test-python first (it builds $VENV)" >&2; exit 1; }
"$VENV/bin/python" -c 'import uvicorn' 2>/dev/null || "$VENV/bin/pip" install -q 'uvicorn==0.54.0'
command -v wrk >/dev/null || { apt-get update >&2 && apt-get install -y wrk >&2; }

# The server, an account and a key for the server-backed routes.
export KEYSEAL_DB="$WORK/keyseal.db" KEYSEAL_CONFIG="$WORK/keyseal.toml" KEYSEAL_LOG=warn
OWNER="$("$BIN" init --json --account bench | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
"$BIN" serve --addr 127.0.0.1:0 >"$WORK/serve.out" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
KEYSEAL_URL="$(sed -n 's/^keyseal listening on //p' "$WORK/serve.out" | head -1)"
export KEYSEAL_URL
SERVED_KEY="$(KEYSEAL_KEY="$OWNER" "$VENV/bin/python" -c '
import keyseal
with keyseal.Client() as c:
    print(c.create_key("bench", scopes=["bench:read"]).secret)')"
BENCH_LOCAL_KEY="$("$VENV/bin/python" -c 'import keyseal; print(keyseal.KeyFormat("bench").generate().expose())')"
export BENCH_LOCAL_KEY

wait_up() {
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/none" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the app on port $1 did not start" >&2; exit 1
}

# One wrk run: prints "rps p50 p99 non200".
run_wrk() {
  local port="$1" path="$2" key="$3"
  BENCH_PATH="$path" BENCH_KEY="$key" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/benches/clients/bench.lua" \
    "http://127.0.0.1:$port" >"$WORK/wrk.out" 2>&1
  awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                   print v["rps"], v["p50_ms"], v["p99_ms"], v["non200"] }' "$WORK/wrk.out"
}

rows=()
bench_app() {
  local name="$1" port="$2"
  for route in none local hit miss; do
    case "$route" in
      none) key="" ;;
      local) key="$BENCH_LOCAL_KEY" ;;
      *) key="$SERVED_KEY" ;;
    esac
    run_wrk "$port" "/$route" "$key" >/dev/null # warm-up (connections, caches, JIT)
    read -r rps p50 p99 bad < <(run_wrk "$port" "/$route" "$key")
    rows+=("| $name | $route | $rps | $p50 | $p99 | $bad |")
  done
}

(cd "$ROOT/benches/clients" && exec "$VENV/bin/python" -m uvicorn fastapi_app:app --host 127.0.0.1 --port 18451 \
  --log-level warning --no-access-log) &
PIDS+=($!)
wait_up 18451
bench_app "FastAPI (uvicorn, 1 worker)" 18451

PORT=18452 node "$ROOT/benches/clients/express_app.mjs" >/dev/null &
PIDS+=($!)
wait_up 18452
bench_app "Express 5" 18452

echo "| app | verification | req/s | p50 ms | p99 ms | non-200 |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), wrk -t1 -c$CONNECTIONS -d${DURATION}s"
