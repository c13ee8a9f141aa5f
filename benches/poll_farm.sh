#!/usr/bin/env bash
# benches/poll_farm.sh — time `rafid poll-once` against the shared feed farm,
# next to the peer pollers (newsboat; Python aiohttp + feedparser), cold and warm,
# following ../shared/bench/README.md.
#
# usage: benches/poll_farm.sh [OUT_DIR]        (default /tmp/rafid-bench)
# env:   N=1000          farm size
#        RUNS=3          cold runs per poller (and as many warm runs)
#        PEERS="newsboat py"   peers from run_peers.sh; PEERS="" times rafid alone
#        PORT=8099       farm port
#        SKIP_BUILD=1    use the existing target/release/rafid
#        KEEP_FARM=1     leave the farm's nginx running at the end
#
# What it does:
#   1. installs what the farm and the peers need (idempotent);
#   2. builds rafid in release;
#   3. starts the N-feed farm (nginx on 127.0.0.1:PORT);
#   4. runs the peers through run_peers.sh and rafid through poll_peers.sh, all
#      into OUT_DIR/bench/results/poll.csv (a copy of shared/bench lives in
#      OUT_DIR/bench, so the shared folder is never written);
#   5. checks that rafid's store holds exactly manifest.json's unique_item_ids
#      items (cross-feed dedup), and on a mismatch lists the stories that are
#      stored twice or missing;
#   6. prints summarize.py's table.
# Exit status: 0 when the runs completed and the item count matched, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${1:-/tmp/rafid-bench}"
N="${N:-1000}"
RUNS="${RUNS:-3}"
PEERS="${PEERS-newsboat py}"
PORT="${PORT:-8099}"
FARM_DIR="${FARM_DIR:-/tmp/feedfarm}"
export FARM_DIR PORT

# Everything here talks to 127.0.0.1 only: keep any proxy away from the pollers.
# (Installs below run before this and keep the caller's environment.)
LOOPBACK_ENV=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY
              no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost)

echo "== dependencies"
installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
missing=()
for p in nginx-light newsboat sfeed time curl; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
if ! python3 -c 'import feedparser, aiohttp' 2>/dev/null; then
    echo "installing: feedparser aiohttp (pip)"
    python3 -m pip install -q --disable-pip-version-check feedparser aiohttp
fi

echo "== build"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release)
fi
RAFID_BIN="$ROOT/target/release/rafid"
[ -x "$RAFID_BIN" ] || { echo "no $RAFID_BIN" >&2; exit 2; }
export RAFID_BIN
"$RAFID_BIN" --version

echo "== bench scripts -> $OUT/bench"
# A private copy of shared/bench: run_peers.sh and poll_peers.sh write their
# CSV next to themselves (results/), which the shared folder may not allow.
mkdir -p "$OUT"
rm -rf "$OUT/bench"
cp -r "$SHARED/bench" "$OUT/bench"
chmod -R u+w "$OUT/bench"
B="$OUT/bench"
CSV="$B/results/poll.csv"
mkdir -p "$B/results"
rm -f "$CSV"

echo "== farm"
FARM="$FARM_DIR/$N"
farm_was_running=0
if [ -f "$FARM/nginx.pid" ] && kill -0 "$(cat "$FARM/nginx.pid")" 2>/dev/null; then farm_was_running=1; fi
stop_farm() {
    if [ "$farm_was_running" = 0 ] && [ "${KEEP_FARM:-0}" != 1 ]; then "$B/farm.sh" stop "$N" || true; fi
}
trap stop_farm EXIT
"$B/farm.sh" start "$N" "$PORT"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("manifest:", json.dumps(m))' "$FARM/manifest.json"
UNIQUE="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unique_item_ids"])' "$FARM/manifest.json")"

if [ -n "$PEERS" ]; then
    echo "== peers: $PEERS ($RUNS cold + $RUNS warm each)"
    # shellcheck disable=SC2086
    "${LOOPBACK_ENV[@]}" "$B/run_peers.sh" "$N" "$RUNS" $PEERS
fi

echo "== rafid ($RUNS cold + $RUNS warm)"
# The README's rafid command line, with the settings it asks for: 16 fetches at
# once (the peers use 16; the farm is one host) and no near-duplicate matching
# (the farm's text is word salad).
SETUP='printf "[storage]\npath = \"$STATE/data\"\n\n[poll]\nconcurrency = 16\nper_host = 16\n\n[dedup]\nnear_duplicates = false\n" > "$STATE/rafid.toml"; sed "s#.*#[[feed]]\nurl = \"&\"#" "$URLS" >> "$STATE/rafid.toml"'
RUN='"$RAFID_BIN" -c "$STATE/rafid.toml" poll-once'
COUNT='"$RAFID_BIN" -c "$STATE/rafid.toml" render --format json --limit 1000000 | python3 -c "import json,sys;print(len(json.load(sys.stdin)[\"items\"]))"'
"${LOOPBACK_ENV[@]}" "$B/poll_peers.sh" rafid "$N" "$RUNS" "$SETUP" "$RUN" "$COUNT"

STATE="${STATE_ROOT:-/tmp/pollbench}/rafid-$N"
echo "-- last rafid poll-once summary:"
head -3 "$STATE.out" || true
if grep -q '^failed: ' "$STATE.out" 2>/dev/null; then grep '^failed: ' "$STATE.out" | head -5; fi

echo "== unique items in rafid's store"
# The farm carries each shared story (same id, link, title and body) in several
# feeds; after cross-feed dedup the store must hold exactly unique_item_ids items.
"$RAFID_BIN" -c "$STATE/rafid.toml" render --format json --limit 1000000 > "$OUT/rafid-items.json"
count_ok=0
python3 - "$OUT/rafid-items.json" "$FARM" "$UNIQUE" <<'EOF' && count_ok=1
import collections, glob, json, os, sys
import xml.etree.ElementTree as ET
items = json.load(open(sys.argv[1], encoding="utf-8"))["items"]
farm, unique = sys.argv[2], int(sys.argv[3])
print("rafid items: %d   manifest unique_item_ids: %d   -> %s"
      % (len(items), unique, "OK" if len(items) == unique else "MISMATCH"))
if len(items) == unique:
    sys.exit(0)
# Diagnose: read every farm item (id, link, title, feed) and compare by link.
NS = {"atom": "http://www.w3.org/2005/Atom", "rss1": "http://purl.org/rss/1.0/",
      "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
farm_items = collections.defaultdict(list)   # link -> [(feed, id, title)]
for path in sorted(glob.glob(os.path.join(farm, "feeds", "*"))):
    name = os.path.basename(path)
    root = ET.parse(path).getroot()
    if root.tag == "rss":
        for it in root.iter("item"):
            farm_items[it.findtext("link")].append((name, it.findtext("guid"), it.findtext("title")))
    elif root.tag == "{%s}feed" % NS["atom"]:
        for e in root.findall("atom:entry", NS):
            link = e.find("atom:link[@rel='alternate']", NS).get("href")
            farm_items[link].append((name, e.findtext("atom:id", namespaces=NS), e.findtext("atom:title", namespaces=NS)))
    else:
        for it in root.findall("rss1:item", NS):
            link = it.findtext("rss1:link", namespaces=NS)
            farm_items[link].append((name, it.get("{%s}about" % NS["rdf"]), it.findtext("rss1:title", namespaces=NS)))
by_link = collections.Counter(i.get("url") for i in items)
dups = {l: n for l, n in by_link.items() if n > 1}
missing = [l for l in farm_items if l not in by_link]
extra = [l for l in by_link if l not in farm_items]
print("farm: %d distinct links; rafid: %d distinct links" % (len(farm_items), len(by_link)))
print("links stored more than once: %d (%d surplus items)" % (len(dups), sum(n - 1 for n in dups.values())))
kinds = collections.Counter()
for l in dups:
    kinds[tuple(sorted({os.path.splitext(f)[1] for f, _, _ in farm_items.get(l, [])}))] += 1
for k, n in kinds.most_common():
    print("   carried by feed kinds %s: %d links" % ("+".join(k) or "?", n))
for l in list(dups)[:5]:
    print("   %s x%d; in the farm: %s" % (l, dups[l], ", ".join("%s (id %s)" % (f, i) for f, i, _ in farm_items.get(l, []))))
    for it in items:
        if it.get("url") == l:
            print("      rafid id %s, title %r, sources %s" % (it.get("id"), it.get("title"),
                  [s.get("feed_url", "").rsplit("/", 1)[-1] for s in it.get("_rafid", {}).get("sources", [])]))
print("farm links missing from rafid: %d" % len(missing))
for l in missing[:5]:
    print("   %s in %s" % (l, ", ".join(f for f, _, _ in farm_items[l])))
print("rafid links not in the farm: %d" % len(extra))
for l in extra[:5]:
    print("   %r" % l)
sys.exit(1)
EOF

echo
echo "== results: $CSV"
python3 "$B/summarize.py" "$CSV" | tee "$OUT/summary.md"
echo
echo "table: $OUT/summary.md   csv: $CSV   rafid items: $OUT/rafid-items.json"
[ "$count_ok" = 1 ]
