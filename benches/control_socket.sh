#!/usr/bin/env bash
# benches/control_socket.sh — what answering through a running daemon's
# control socket costs: `rafid render` and `rafid export` run K times on the
# store directly (no daemon), then K times beside a daemon that owns the
# store (checking the bytes are the same); prints each median and the ratio
# beside/direct. Beside a daemon no process opens the store, which is most
# of what a direct run costs.
#
# usage: benches/control_socket.sh            (uses target/release/rafid)
# env:   ITEMS=2000 items in the store (ITEMS/100 feeds of 100 items)
#        K=15       runs of each command
# Needs python3 (serves the generated feeds on 127.0.0.1).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release/rafid"
ITEMS="${ITEMS:-2000}"
K="${K:-15}"
[ -x "$BIN" ] || { echo "build first: cargo build --release"; exit 2; }

WORK=$(mktemp -d)
cleanup() {
    [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    [ -n "${HTTPD:-}" ] && kill "$HTTPD" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

FEEDS=$(( (ITEMS + 99) / 100 ))
mkdir -p "$WORK/www"
python3 - "$WORK/www" "$FEEDS" <<'PY'
import sys
out, feeds = sys.argv[1], int(sys.argv[2])
for f in range(feeds):
    items = "".join(
        f"<item><title>خبر {f}-{i}: عنوان للقياس</title><link>http://news{f}.test/{i}</link>"
        f"<guid>urn:bench:{f}:{i}</guid><pubDate>Mon, 04 Mar 2024 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
        f"<description>نص الخبر رقم {i} من المصدر {f}، فقرة تكفي لقياس الحجم.</description></item>"
        for i in range(100)
    )
    with open(f"{out}/f{f}.xml", "w", encoding="utf-8") as fh:
        fh.write(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                 f"<title>مصدر {f}</title><link>http://news{f}.test/</link>{items}</channel></rss>")
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$WORK/www" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 > /dev/null 2>&1) &
HTTPD=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/f0.xml" > /dev/null && break; sleep 0.1; done

CFG="$WORK/rafid.toml"
{
    printf '[storage]\npath = "%s/data"\n[server]\nlisten = "127.0.0.1:0"\n[output]\nmax_items = 500\n' "$WORK"
    printf '[poll]\ninterval = "24h"\nmin_interval = "24h"\n'
    for f in $(seq 0 $((FEEDS - 1))); do
        printf '[[feed]]\nurl = "http://127.0.0.1:%s/f%s.xml"\n' "$PORT" "$f"
    done
} > "$CFG"
env -u http_proxy -u HTTP_PROXY "$BIN" -c "$CFG" poll-once | head -2

# median_ms CMD... — median wall time of K runs, in milliseconds.
median_ms() {
    local times=()
    for _ in $(seq "$K"); do
        local t0 t1
        t0=$(date +%s%N)
        "$@" > /dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

declare -A direct beside
for cmd in render export; do
    "$BIN" -c "$CFG" $cmd > "$WORK/$cmd.direct"
    direct[$cmd]=$(median_ms "$BIN" -c "$CFG" $cmd)
done
"$BIN" -c "$CFG" run 2> "$WORK/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do [ -S "$WORK/data/control.sock" ] && break; sleep 0.1; done
[ -S "$WORK/data/control.sock" ] || { echo "no control socket"; cat "$WORK/daemon.log"; exit 1; }
for cmd in render export; do
    # The same bytes either way.
    "$BIN" -c "$CFG" $cmd | cmp - "$WORK/$cmd.direct"
    beside[$cmd]=$(median_ms "$BIN" -c "$CFG" $cmd)
done
printf '%-8s %12s %12s %8s\n' command "direct ms" "beside ms" ratio
for cmd in render export; do
    awk -v c="$cmd" -v d="${direct[$cmd]}" -v b="${beside[$cmd]}" \
        'BEGIN { printf "%-8s %12.2f %12.2f %8.2f\n", c, d, b, b / d }'
done
