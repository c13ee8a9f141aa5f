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
source "$(dirname "$0")/lib.sh"
ci_init check-links
ci_need_rafid
command -v curl > /dev/null || die 2 "curl missing"
ci_workdir

echo "== serving the fixtures"
mkdir -p "$WORK/www"
cp "$ROOT/tests/fixtures/rss2_arabic.xml" "$WORK/www/ar.xml"
cp "$ROOT/tests/fixtures/atom_en.xml" "$WORK/www/en.atom"
serve_http "$WORK/www"
FEEDS="${SERVED_URL%/}"

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
start_daemon "$WORK/rafid.toml" "$WORK/daemon.log"
wait_url "${BASE}healthz"

echo "== walking every link"
ci_check "every link resolves, every tag and river reached" python3 - "$BASE" "$FEEDS/" "$WORK" <<'PY'
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
sys.exit(1 if broken or unreached else 0)
PY
ci_summary
