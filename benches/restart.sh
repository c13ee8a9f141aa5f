#!/usr/bin/env bash
# benches/restart.sh — how soon a restarting daemon serves /feed.atom on a
# large store, and how soon its store is open.
#
# usage: benches/restart.sh STATE_DIR [RUNS]
#   STATE_DIR  a state directory holding a store (`[storage] path`), e.g. the
#              1M-item one `RAFID_BENCH_KEEP=1 cargo bench --bench store`
#              keeps and names
#   RUNS       starts to time (default 3)
# env:   RAFID=path  the binary (default target/release/rafid)
#        WINDOW=400d  sets `[dedup] window` (default: rafid's, 72 h); the
#                     bench store's items span a year, so a window that
#                     long puts every item in the near-duplicate index
#
# Each start is `rafid run` on STATE_DIR with a config of no feeds, timed
# from the exec to:
#   - the first 200 for /feed.atom;
#   - the first 200 for /status, which needs the store: the store is open;
#   - the log line "serving" (everything runs);
#   - the near-duplicate index ready (read back from the copy the last stop
#     saved, or rebuilt from the window's items): the first ingest waits
#     for it.
# The daemon is stopped with SIGTERM after /feed.atom has been fetched once
# the store is open. The first start finds no saved outputs (they are
# removed before it) and renders from the store; the later ones serve what
# the stop before them saved. The body the first request of a later start
# gets is compared with the last one the run before served.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
STATE="${1:?usage: benches/restart.sh STATE_DIR [RUNS]}"
RUNS="${2:-3}"
[ -x "$RAFID" ] || { echo "restart.sh: $RAFID missing (cargo build --release)" >&2; exit 2; }
[ -d "$STATE/store" ] || { echo "restart.sh: no store in $STATE" >&2; exit 2; }
command -v curl > /dev/null || { echo "restart.sh: needs curl" >&2; exit 2; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

WORK="$(mktemp -d /tmp/rafid-bench-restart.XXXXXX)"
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2> /dev/null && wait "$PID" 2> /dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$WORK/rafid.toml" << EOF
[server]
listen = "127.0.0.1:$PORT"
base_url = "http://127.0.0.1:$PORT/"
[storage]
path = "$STATE"
EOF
if [ -n "${WINDOW:-}" ]; then
    printf '[dedup]\nwindow = "%s"\n' "$WINDOW" >> "$WORK/rafid.toml"
fi

now_ms() { date +%s%3N; }
rm -f "$STATE/outputs.saved" "$STATE/near.index"
prev=""
fail=0
for run in $(seq 1 "$RUNS"); do
    log="$WORK/run-$run.log"
    t0=$(now_ms)
    RUST_LOG=info "$RAFID" -c "$WORK/rafid.toml" run 2> "$log" &
    PID=$!
    feed="" status="" first=""
    while [ -z "$status" ]; do
        kill -0 "$PID" 2> /dev/null || { echo "run $run: rafid exited:"; cat "$log"; exit 1; }
        if [ -z "$feed" ]; then
            code=$(curl -s -o "$WORK/first.atom" -w '%{http_code}' "http://127.0.0.1:$PORT/feed.atom" || true)
            if [ "$code" = 200 ]; then
                feed=$(($(now_ms) - t0))
                first="$WORK/first.atom"
            fi
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/status" || true)
        [ "$code" = 200 ] && status=$(($(now_ms) - t0))
        sleep 0.02
    done
    if [ -z "$feed" ]; then
        curl -s -o "$WORK/first.atom" "http://127.0.0.1:$PORT/feed.atom"
        feed=$status
    fi
    # "serving" is logged once everything runs, right after the store opens.
    for _ in $(seq 1 500); do grep -q ' serving ' "$log" && break; sleep 0.02; done
    # The index is made ready in the background once the store is open.
    near="" line=""
    for _ in $(seq 1 30000); do
        line=$(grep -m1 'near-duplicate index \(built\|read\)' "$log" || true)
        if [ -n "$line" ]; then near=$(($(now_ms) - t0)); break; fi
        kill -0 "$PID" 2> /dev/null || break
        sleep 0.01
    done
    how=$(printf '%s' "$line" | grep -o 'read from the copy\|built from the stored items' || echo '?')
    took=$(printf '%s' "$line" | grep -o 'took_ms=[0-9]*' | cut -d= -f2)
    fps=$(printf '%s' "$line" | grep -o 'fingerprints=[0-9]*' | cut -d= -f2)
    same="-"
    if [ -n "$prev" ]; then
        if cmp -s "$prev" "$WORK/first.atom"; then same="yes"; else same="NO"; fail=1; fi
    fi
    # What this run serves last, once its own render has replaced the saved copy.
    sleep 0.5
    curl -s -o "$WORK/last-$run.atom" "http://127.0.0.1:$PORT/feed.atom"
    prev="$WORK/last-$run.atom"
    kill -TERM "$PID"
    wait "$PID" || { echo "run $run: rafid did not stop cleanly:"; tail -5 "$log"; fail=1; }
    PID=""
    saved=$([ -f "$STATE/outputs.saved" ] && echo yes || echo no)
    printf 'start %d: /feed.atom 200 after %5d ms; store open (/status 200) after %5d ms; first body = last run'"'"'s: %s; outputs saved at stop: %s\n' \
        "$run" "$feed" "$status" "$same" "$saved"
    printf '         near-duplicate index of %s fingerprints %s in %s ms, ready %s ms after the start\n' \
        "${fps:-?}" "$how" "${took:-?}" "${near:-?}"
done
exit "$fail"
