#!/usr/bin/env bash
# benches/scale.sh — how `rafid poll-once` scales from 1000 to 10,000 feeds,
# beside the Python poller (aiohttp + feedparser), on the shared feed farm.
#
# usage: benches/scale.sh [OUT_DIR]            (default /tmp/rafid-scale)
# env:   SIZES="1000 10000"   farm sizes
#        RUNS=1               cold runs per case (the median is reported)
#        PY=1                 time the Python poller at the largest size (0: skip)
#        SOAK=0               also run ../shared/bench/soak.py (SOAK=MINUTES)
#        SKIP_BUILD=1         use the existing target/release/rafid
#        KEEP_FARM=1          leave the farms' nginx running at the end
#
# Every case runs with rafid's defaults but for `[poll] concurrency = 16` and
# `per_host = 16` (the peers fetch 16 at once and the farm is one host):
#   - cold, near-duplicates on (rafid's default) and off, at every size;
#   - warm (every feed answers 304) after the cold run with the defaults;
#   - the Python poller cold at the largest size, `--concurrency 16`.
# Each run records wall, user and sys seconds and peak RSS (GNU time); a rafid
# run also the items stored and the store's bytes on disk. The summary gives
# the ratios the scaling goals are stated in: the largest size's cold time
# against the smallest's, rafid against the Python poller, near-duplicates on
# against off, and the store's bytes against the feeds' (manifest.json's
# total_bytes). Results go to OUT_DIR/scale.csv; the machine is noisy, so
# compare figures from one run of this script only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${1:-/tmp/rafid-scale}"
SIZES="${SIZES:-1000 10000}"
RUNS="${RUNS:-1}"
PY="${PY:-1}"
SOAK="${SOAK:-0}"
FARM_DIR="${FARM_DIR:-/tmp/feedfarm}"
export FARM_DIR
# shellcheck source=benches/farm_common.sh
. "$ROOT/benches/farm_common.sh"

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
missing=()
for p in nginx-light time curl; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
if [ "$PY" = 1 ] && ! python3 -c 'import feedparser, aiohttp' 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check feedparser aiohttp
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release)
fi
RAFID="$ROOT/target/release/rafid"
"$RAFID" --version

mkdir -p "$OUT"
CSV="$OUT/scale.csv"
echo "who,feeds,case,run,wall_s,user_s,sys_s,peak_rss_kb,items,store_bytes,feed_bytes" > "$CSV"

start_farm() {
    local n=$1 port
    port=$(port_of "$n")
    ACCESS_LOG=off bash "$SHARED/bench/farm.sh" start "$n" "$port" > /dev/null
}

stop_farms() {
    [ "${KEEP_FARM:-0}" = 1 ] && return
    for n in $SIZES; do bash "$SHARED/bench/farm.sh" stop "$n" > /dev/null 2>&1 || true; done
}
trap stop_farms EXIT

# timed WHO N CASE RUN CMD...: runs CMD under GNU time, appends a CSV row
# (items and store bytes filled in by the caller through ITEMS / STORE_BYTES).
timed() {
    local who=$1 n=$2 case=$3 run=$4; shift 4
    local t="$OUT/time.$who.$n.$case.$run"
    "${NOPROXY[@]}" /usr/bin/time -f "%e,%U,%S,%M" -o "$t" "$@" > "$OUT/out.$who.$n.$case.$run" 2>&1 \
        || { echo "$who $n $case run $run failed:"; tail -5 "$OUT/out.$who.$n.$case.$run"; exit 1; }
    local feed_bytes
    feed_bytes=$(python3 -c "import json;print(json.load(open('$FARM_DIR/$n/manifest.json'))['total_bytes'])")
    echo "$who,$n,$case,$run,$(tail -1 "$t"),${ITEMS:-},${STORE_BYTES:-},$feed_bytes" >> "$CSV"
    echo "  $who $n $case run $run: wall,user,sys,rssKB = $(tail -1 "$t")"
}

rafid_case() {
    local n=$1 nd=$2 run=$3 d="$OUT/rafid-$1-$2"
    mkdir -p "$d"
    farm_config "$n" "$nd" "$d"
    rm -rf "$d/state"
    ITEMS="" STORE_BYTES="" timed rafid "$n" "cold-nd-$nd" "$run" "$RAFID" -q -c "$d/rafid.toml" poll-once
    # The warm poll comes straight after the cold one, as the next poll of
    # a cron job would. A command that writes to the store in between would
    # take away what the cold poll saved for it (the key filter, the near
    # index, the feeds' cap); the export below only reads, and hands them
    # on, but the warm poll is measured before it all the same.
    if [ "$nd" = on ] && [ "$run" = "$RUNS" ]; then
        ITEMS="" STORE_BYTES="" timed rafid "$n" warm "$run" "$RAFID" -q -c "$d/rafid.toml" poll-once
    fi
    local items bytes
    items=$("$RAFID" -q -c "$d/rafid.toml" export | grep -c '^{"kind":"item"')
    bytes=$(du -sb "$d/state/store" | cut -f1)
    # Fill in the rows just written: the cold one, and the warm one after
    # it (every row before has these filled).
    sed -i '/^rafid,/ s/,,,\([0-9]*\)$/,'"$items,$bytes"',\1/' "$CSV"
}

for n in $SIZES; do
    echo "== farm of $n feeds"
    start_farm "$n"
    for run in $(seq "$RUNS"); do
        rafid_case "$n" on "$run"
        rafid_case "$n" off "$run"
    done
done

LARGEST=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)
if [ "$PY" = 1 ]; then
    echo "== Python poller, $LARGEST feeds"
    for run in $(seq "$RUNS"); do
        rm -rf "$OUT/py-state"; mkdir -p "$OUT/py-state"
        timed py "$LARGEST" cold "$run" python3 "$SHARED/bench/peers/py_poller.py" \
            "$FARM_DIR/$LARGEST/urls.txt" "$OUT/py-state" --concurrency 16
    done
fi

if [ "$SOAK" != 0 ]; then
    echo "== soak, $SOAK minutes"
    "${NOPROXY[@]}" python3 "$SHARED/bench/soak.py" "$RAFID" "$SOAK" | tee "$OUT/soak.txt" | tail -15
fi

echo
python3 - "$CSV" "$SIZES" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
sizes = sorted(int(s) for s in sys.argv[2].split())
def med(who, n, case, col="wall_s"):
    v = [float(r[col]) for r in rows if r["who"] == who and int(r["feeds"]) == n and r["case"] == case and r[col]]
    return statistics.median(v) if v else None
print("| feeds | case | wall s | CPU s | peak RSS MB | items | store / feeds |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for n in sizes:
    for who, case in (("rafid", "cold-nd-on"), ("rafid", "cold-nd-off"), ("rafid", "warm"), ("py", "cold")):
        w = med(who, n, case)
        if w is None:
            continue
        cpu = med(who, n, case, "user_s") + med(who, n, case, "sys_s")
        rss = med(who, n, case, "peak_rss_kb") / 1024
        r = [x for x in rows if x["who"] == who and int(x["feeds"]) == n and x["case"] == case][-1]
        store = f"{int(r['store_bytes']) / int(r['feed_bytes']):.2f}" if r["store_bytes"] else ""
        label = {"cold-nd-on": "rafid cold (defaults)", "cold-nd-off": "rafid cold, near-duplicates off",
                 "warm": "rafid warm (all 304)", "cold": "Python poller cold"}[case]
        print(f"| {n} | {label} | {w:.2f} | {cpu:.2f} | {rss:.0f} | {r['items']} | {store} |")
lo, hi = sizes[0], sizes[-1]
on_lo, on_hi, off_hi, py = med("rafid", lo, "cold-nd-on"), med("rafid", hi, "cold-nd-on"), med("rafid", hi, "cold-nd-off"), med("py", hi, "cold")
print()
if lo != hi:
    print(f"scaling, cold with defaults, {hi} / {lo} feeds: {on_hi / on_lo:.1f}x the time for {hi / lo:.0f}x the feeds (goal: at most 11x)")
if py:
    print(f"Python poller / rafid, cold, {hi} feeds: {py / on_hi:.2f}x (goal: at least 8x)")
print(f"near-duplicates on / off, cold, {hi} feeds: {on_hi / off_hi:.2f}x (goal: at most 1.3x)")
EOF
