#!/usr/bin/env bash
# check-links.sh — every link rafid publishes resolves over real HTTP.
#
# Serves two fixture feeds (tests/fixtures) with python3's http.server, and
# runs the release binary on a config whose tags carry a space, '&', '%',
# '+', "'" and Arabic, with rivers named in Arabic and ASCII. After one
# `rafid poll-once`, `rafid run` serves, and a walk starting at /,
# /feed.atom, /feed.rss, /feed.json and /opml follows every link found in
# every output (href, src and xmlUrl attributes, JSON Feed URLs) that points
# at the daemon or at the feed server, fetched with curl exactly as written.
# Each must answer 200; the walk must reach every tag's and every river's
# feeds in every format.
#
# usage: .ci/check-links.sh      (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAFID="${RAFID:-$ROOT/target/release/rafid}"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"

[ -x "$RAFID" ] || { echo "check-links: $RAFID missing (cargo build --release)" >&2; exit 2; }
command -v curl > /dev/null || { echo "check-links: curl missing" >&2; exit 2; }

WORK="$(mktemp -d /tmp/rafid-check-links.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
wait_http() {
    local _
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "check-links: $1 never answered" >&2
    return 1
}

echo "== serving the fixtures"
mkdir -p "$WORK/www"
cp "$ROOT/tests/fixtures/rss2_arabic.xml" "$WORK/www/ar.xml"
cp "$ROOT/tests/fixtures/atom_en.xml" "$WORK/www/en.atom"
FEED_PORT="$(free_port)"
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$WORK/www" \
    > "$WORK/feeds.log" 2>&1 &
PIDS+=($!)
FEEDS="http://127.0.0.1:$FEED_PORT"
wait_http "$FEEDS/ar.xml"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT/"
cat > "$WORK/rafid.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
base_url = "$BASE"

[storage]
path = "$WORK/data"

[output]
title = "روابط"

[[feed]]
url = "$FEEDS/ar.xml"
tags = ["World & Politics", "a b", "100%", "أخبار عربية"]

[[feed]]
url = "$FEEDS/en.atom"
title = "It's English"
tags = ["C++", "it's", "100%"]

[[river]]
name = "أخبار"
tags = ["أخبار عربية"]

[[river]]
name = "world_and-politics"
tags = ["World & Politics", "C++"]
EOF

echo "== rafid check, poll-once, run"
"$RAFID" -c "$WORK/rafid.toml" check
"$RAFID" -c "$WORK/rafid.toml" poll-once > "$WORK/poll.out"
"$RAFID" -c "$WORK/rafid.toml" run 2> "$WORK/daemon.log" &
PIDS+=($!)
wait_http "${BASE}healthz"

echo "== walking every link"
python3 - "$BASE" "$FEEDS/" "$WORK" <<'PY'
import collections, html, json, re, subprocess, sys, urllib.parse

base, feeds, work = sys.argv[1], sys.argv[2], sys.argv[3]
attr = re.compile(r'(?:href|xmlUrl|src)="([^"]*)"')

def links(body, ctype):
    found = [html.unescape(m) for m in attr.findall(body)]
    if "json" in ctype:
        doc = json.loads(body)
        found += [doc[k] for k in ("feed_url", "home_page_url", "next_url") if k in doc]
    return found

def fetch(url):
    out = subprocess.run(
        ["curl", "-sS", "--globoff", "-o", f"{work}/body", "-w", "%{http_code} %{content_type}", url],
        capture_output=True, text=True)
    code, _, ctype = out.stdout.partition(" ")
    with open(f"{work}/body", "rb") as f:
        return code, ctype, f.read().decode("utf-8", "replace")

queue = collections.deque(base + p for p in ["", "feed.atom", "feed.rss", "feed.json", "opml"])
seen = set(queue)
broken, ours = [], 0
while queue:
    url = queue.popleft()
    code, ctype, body = fetch(url)
    if code != "200":
        broken.append(f"{url} -> {code}")
        continue
    if not url.startswith(base):
        continue
    ours += 1
    for link in links(body, ctype):
        if (link.startswith(base) or link.startswith(feeds)) and link not in seen:
            seen.add(link)
            queue.append(link)

quote = lambda s: urllib.parse.quote(s, safe="")
expected = [f"{base}tags/{quote(t)}.{e}"
            for t in ["World & Politics", "a b", "100%", "أخبار عربية", "C++", "it's"]
            for e in ["atom", "rss", "json", "html"]]
expected += [f"{base}rivers/{quote(r)}.{e}"
             for r in ["أخبار", "world_and-politics"] for e in ["atom", "rss", "json", "html"]]
expected += [feeds + "ar.xml", feeds + "en.atom"]
unreached = [u for u in expected if u not in seen]
print(f"walked {len(seen)} links ({ours} outputs of rafid)")
for b in broken:
    print(f"FAIL: {b}")
for u in unreached:
    print(f"FAIL: never linked: {u}")
if broken or unreached:
    sys.exit(1)
print("PASS: every link resolves, every tag and river reached")
PY
