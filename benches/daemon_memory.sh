#!/usr/bin/env bash
# benches/daemon_memory.sh — the memory of `rafid run` over the first seconds
# of a start on a store of the shared feed farm (every feed answers 304).
#
# usage: benches/daemon_memory.sh [OUT_DIR] [RAFID_BINARY...]
#        (default /tmp/rafid-daemon-memory, and target/release/rafid)
# env:   FEEDS=10000   farm size
#        SECS=20       how long each daemon runs before it is stopped
#        RUNS=2        runs of each binary, alternated
#        KEEP_FARM=1   leave the farm's nginx running at the end
#
# The first binary polls the farm once, cold, with rafid's defaults but for
# `[poll] concurrency = per_host = 16` (as benches/scale.sh); its store is
# kept and copied afresh for every run. Each run starts the daemon on the
# copy, reads its resident memory after SECS seconds, stops it with SIGTERM
# and takes its peak from GNU time. In those seconds the daemon opens the
# store, reads back the near-duplicate index, starts one polling loop per
# feed, polls the feeds it finds due (all answer 304) and renders its
# outputs. Give several binaries to compare builds in one sitting: the
# machine is noisy, so compare figures from one run of this script only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${1:-/tmp/rafid-daemon-memory}"
shift || true
BINS=("$@")
[ "${#BINS[@]}" -gt 0 ] || BINS=("$ROOT/target/release/rafid")
FEEDS="${FEEDS:-10000}"
SECS="${SECS:-20}"
RUNS="${RUNS:-2}"
FARM_DIR="${FARM_DIR:-/tmp/feedfarm}"
export FARM_DIR
# shellcheck source=benches/farm_common.sh
. "$ROOT/benches/farm_common.sh"
PORT=$(port_of "$FEEDS")

for b in "${BINS[@]}"; do [ -x "$b" ] || { echo "not a binary: $b"; exit 1; }; done
command -v nginx > /dev/null && [ -x /usr/bin/time ] || {
    echo "needs nginx and GNU time (benches/scale.sh installs them)"; exit 1; }

ACCESS_LOG=off bash "$SHARED/bench/farm.sh" start "$FEEDS" "$PORT" > /dev/null
stop_farm() {
    [ "${KEEP_FARM:-0}" = 1 ] || bash "$SHARED/bench/farm.sh" stop "$FEEDS" > /dev/null 2>&1 || true
}
trap stop_farm EXIT

mkdir -p "$OUT"
farm_config "$FEEDS" on "$OUT"

rm -rf "$OUT/state" "$OUT/template"
echo "cold poll of $FEEDS feeds with ${BINS[0]}"
"${NOPROXY[@]}" "${BINS[0]}" -q -c "$OUT/rafid.toml" poll-once > /dev/null
cp -a "$OUT/state" "$OUT/template"

echo "binary,run,rss_after_${SECS}s_kb,peak_rss_kb" > "$OUT/daemon_memory.csv"
for run in $(seq "$RUNS"); do
    for b in "${BINS[@]}"; do
        rm -rf "$OUT/state"
        cp -a "$OUT/template" "$OUT/state"
        "${NOPROXY[@]}" /usr/bin/time -f "%M" -o "$OUT/time" \
            "$b" -q -c "$OUT/rafid.toml" run > "$OUT/daemon.log" 2>&1 &
        timer=$!
        sleep "$SECS"
        # GNU time's child: the daemon itself.
        pid=$(pgrep -P "$timer" || true)
        [ -n "$pid" ] || { echo "$b stopped early:"; tail -5 "$OUT/daemon.log"; exit 1; }
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
        kill -TERM "$pid"
        wait "$timer" || true
        peak=$(tail -1 "$OUT/time")
        echo "$b,$run,$rss,$peak" >> "$OUT/daemon_memory.csv"
        echo "  $b run $run: ${rss} kB after ${SECS} s, peak ${peak} kB"
    done
done
