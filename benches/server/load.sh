#!/usr/bin/env bash
# Load benchmark of the keyseal server from a second process on loopback (wrk).
#
# For SQLite and PostgreSQL: seeds KEYS keys (default 100,000), starts a release server,
# warms its verify cache, then measures POST /v1/verify (random key among all of them,
# one required scope) and POST /v1/token (exchange), and reads the server's RSS.
# The limits mode seeds a second set of KEYS keys, each with a limit of LIMIT per minute
# (default 1e9: nothing is refused, so it measures the metering), and measures verify on
# it in the same sitting; the table gives its req/s, p99 and the ratio to plain verify.
# CREDITS=n gives those keys a balance of n usage credits as well (default none).
# Prints a Markdown table. Bounded: DURATION seconds per measurement (default 10).
#
#   benches/server/load.sh                 # both backends (starts PostgreSQL with scripts/pg)
#   BACKENDS=sqlite benches/server/load.sh
#   KEYS=10000 DURATION=5 CONNECTIONS=64 benches/server/load.sh
#   LIMIT=0 benches/server/load.sh        # without the limits mode
#   LIMITS_FIRST=1 benches/server/load.sh # the limits mode before plain verify
#   KEYS=1000 CREDITS=1000000000 benches/server/load.sh  # a limit and credits on hot keys
#   NICE=-10 benches/server/load.sh        # server and wrk ahead of other jobs (needs root):
#                                          # on a shared machine, the tail without them
#   KEYSEAL_BIN=/tmp/keyseal-old benches/server/load.sh   # another build (before/after)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
KEYS="${KEYS:-100000}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
BACKENDS="${BACKENDS:-sqlite postgres}"
NICE="${NICE:-0}"
LIMIT="${LIMIT:-1000000000}"

if ! command -v wrk >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y wrk >&2
fi
if [[ -n "${KEYSEAL_BIN:-}" ]]; then
    BIN="$KEYSEAL_BIN"
else
    cargo build --release -p keyseal-server >&2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/keyseal"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
PG_STARTED=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
    if [[ -n "$PG_STARTED" ]]; then "$ROOT/scripts/pg" stop; fi
}
trap cleanup EXIT

start_server() {
    nice -n "$NICE" "$BIN" serve --addr 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        [[ -s "$WORK/serve.out" ]] && break
        sleep 0.05
    done
    URL="$(head -1 "$WORK/serve.out" | sed 's/^keyseal listening on //')"
}

stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
}

# wrk with verify.lua on KEYS_FILE (default the keys without limits); prints
# "rps p50 p99 non200".
run_wrk() {
    local mode="$1" secs="$2" keys="${3:-$WORK/keys.txt}"
    KEYS_FILE="$keys" LOAD_MODE="$mode" nice -n "$NICE" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" \
        -s "$ROOT/benches/server/verify.lua" "$URL" >"$WORK/wrk.out" 2>&1
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     print v["rps"], v["p50_ms"], v["p99_ms"], v["non200"] }' "$WORK/wrk.out"
}

rows=()
for backend in $BACKENDS; do
    case "$backend" in
        sqlite) DB="$WORK/keyseal.db" ;;
        postgres)
            if [[ -z "${KEYSEAL_BENCH_PG_URL:-}" ]]; then
                KEYSEAL_BENCH_PG_URL="$("$ROOT/scripts/pg" start)"
                PG_STARTED=1
            fi
            DB="$KEYSEAL_BENCH_PG_URL"
            ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    export KEYSEAL_DB="$DB" KEYSEAL_CONFIG="$WORK/keyseal-$backend.toml" KEYSEAL_LOG=warn
    account="load-$backend-$RANDOM$RANDOM"
    "$BIN" init --json --account "$account" >/dev/null
    t0=$(date +%s)
    "$BIN" seed-keys --account "$account" --count "$KEYS" --out "$WORK/keys.txt"
    echo "$backend: seeded $KEYS keys in $(( $(date +%s) - t0 )) s" >&2
    if [[ "$LIMIT" != 0 ]]; then
        t0=$(date +%s)
        "$BIN" seed-keys --account "$account-limited" --count "$KEYS" --limit-per-minute "$LIMIT" \
            ${CREDITS:+--credits "$CREDITS"} --out "$WORK/keys-limited.txt"
        echo "$backend: seeded $KEYS keys with a limit of $LIMIT per minute in $(( $(date +%s) - t0 )) s" >&2
    fi
    start_server
    l_rps=- l_p99=- l_bad=0 ratio=-
    # The limited keys replace the others in the verify cache and take their first
    # leases: each key's first metered request is a transaction (batched), so the warm
    # pass is long enough for every key at a few thousand a second. What is measured
    # then is the steady state, where a key's next transaction comes when its window
    # rolls over (windows have per-key phases, so about KEYS / 60 a second).
    measure_limits() {
        run_wrk warm "$(( DURATION / 2 + 3 + KEYS / 4000 ))" "$WORK/keys-limited.txt" >/dev/null
        read -r l_rps _ l_p99 l_bad < <(run_wrk verify "$DURATION" "$WORK/keys-limited.txt")
    }
    # LIMITS_FIRST=1 measures the limited keys before the others (the database, and its
    # usage tables, grow over a run: each order favours the mode measured first).
    if [[ "$LIMIT" != 0 && "${LIMITS_FIRST:-0}" == 1 ]]; then measure_limits; fi
    # Warm the cache: every key verified at least once (a pass in file order, then more).
    run_wrk warm "$(( DURATION / 2 + 3 ))" >/dev/null
    read -r v_rps v_p50 v_p99 v_bad < <(run_wrk verify "$DURATION")
    read -r x_rps x_p50 x_p99 x_bad < <(run_wrk exchange "$DURATION")
    if [[ "$LIMIT" != 0 && "${LIMITS_FIRST:-0}" != 1 ]]; then measure_limits; fi
    if [[ "$LIMIT" != 0 ]]; then
        ratio=$(awk -v l="$l_rps" -v v="$v_rps" 'BEGIN { printf "%.2f", l / v }')
    fi
    rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
    hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")
    anon_kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$SERVER_PID/status")
    cached=$(curl -s "$URL/metrics" | awk '/^keyseal_cached_records/ { print $2 }')
    stop_server
    if [[ "$v_bad" != "0" || "$x_bad" != "0" || "$l_bad" != "0" ]]; then
        echo "$backend: non-200 answers during the run (verify $v_bad, exchange $x_bad, limits $l_bad)" >&2
        exit 1
    fi
    rows+=("| $backend | $KEYS | $cached | $v_rps | $v_p50 | $v_p99 | $x_rps | $x_p99 | $l_rps | $l_p99 | $ratio | $(( rss_kb / 1024 )) | $(( anon_kb / 1024 )) | $(( hwm_kb / 1024 )) |")
done

echo
echo "keyseal server load ($(nproc) cores, wrk -t$THREADS -c$CONNECTIONS, ${DURATION}s per run, server and wrk on one machine, nice $NICE, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| backend | keys | cached | verify req/s | verify p50 ms | verify p99 ms | exchange req/s | exchange p99 ms | limits req/s | limits p99 ms | limits / verify | RSS MB | anon RSS MB | peak RSS MB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "RSS: resident memory after the runs (the server maps no database file: sqlite_mmap_size = 0); anon RSS is heap, including SQLite's page caches; peak RSS is the high-water mark."
