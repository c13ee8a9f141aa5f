#!/usr/bin/env bash
# check-clients.sh — end-to-end check of the daemon against real feed readers.
#
# Serves the fixture feeds in .ci/fixtures/clients/ (Arabic RSS in UTF-8, Arabic
# RSS in windows-1256 named only by the HTTP header, English Atom, bilingual JSON
# Feed 1.1) on 127.0.0.1, runs `rafid run` on them, and checks that:
#   - every feed gets polled and the merged feed holds each story once (one story
#     is carried by two feeds under the same link, another likewise);
#   - feedparser, newsboat and sfeed read /feed.atom, /feed.rss and one tag's
#     .atom/.rss with the expected item count and byte-identical titles
#     (Arabic with diacritics, "&", quotes, two consecutive spaces);
#   - conditional GET gives 304, and gzip is served to clients that ask;
#   - SIGTERM stops the daemon with exit 0 within 10 s, and the store it leaves
#     renders the same items with `rafid render`.
#
# usage: .ci/check-clients.sh        (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory for inspection.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-clients
FIXTURES="$ROOT/.ci/fixtures/clients"
ci_need_rafid
ci_workdir

# The fixture feeds and their tags. A feed's expected titles are in NAME.titles
# (UTF-8, one per line); distinct stories have distinct titles, so the expected
# item count of a scope is the number of distinct titles of its feeds.
FEEDS=(arabic-utf8.xml arabic-cp1256.xml english.atom bilingual.json)
declare -A TAGS=(
    [arabic-utf8.xml]='"ar", "news"'
    [arabic-cp1256.xml]='"ar"'
    [english.atom]='"en", "news"'
    [bilingual.json]='"news"'
)
TAG=ar   # the tag whose feeds are checked with the clients too

titles_of() { # FEED -> path of its .titles file
    echo "$FIXTURES/${1%.*}.titles"
}

echo "== fixtures"
WWW="$WORK/www"
mkdir -p "$WWW"
cp "$FIXTURES/arabic-utf8.xml" "$FIXTURES/english.atom" "$FIXTURES/bilingual.json" "$WWW/"
# The windows-1256 feed: its XML declaration names no encoding, so only the
# Content-Type charset of the response says how to read it. The repository keeps
# the UTF-8 text; the served bytes are made here.
python3 - "$FIXTURES/arabic-cp1256.xml.in" "$WWW/arabic-cp1256.xml" <<'EOF'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "wb").write(text.encode("cp1256"))
EOF
printf 'Content-Type: application/rss+xml; charset=windows-1256\n' > "$WWW/arabic-cp1256.xml.headers"
# The JSON feed by its registered media type.
printf 'Content-Type: application/feed+json\n' > "$WWW/bilingual.json.headers"

# Expected titles: all feeds, and the feeds of $TAG.
for f in "${FEEDS[@]}"; do cat "$(titles_of "$f")"; done | awk 'length && !seen[$0]++' > "$WORK/all.titles"
for f in "${FEEDS[@]}"; do
    case "${TAGS[$f]}" in *"\"$TAG\""*) cat "$(titles_of "$f")";; esac
done | awk 'length && !seen[$0]++' > "$WORK/tag.titles"
N_ALL=$(wc -l < "$WORK/all.titles")
N_TAG=$(wc -l < "$WORK/tag.titles")
echo "expected: $N_ALL items in the merged feed, $N_TAG in tag '$TAG'"

echo "== serving the fixtures"
serve_corpus "$WWW"
FEED_BASE="$SERVED_URL"
echo "fixtures at $FEED_BASE"

# The fixtures themselves, read by feedparser through the same server: a
# fixture whose titles do not parse as written would make every later failure
# meaningless, so this comes first. (JSON Feed: read with the json module.)
if python3 - "$FEED_BASE" "$FIXTURES" "${FEEDS[@]}" <<'EOF'
import json, sys, urllib.request, feedparser
base, fixtures, feeds = sys.argv[1], sys.argv[2], sys.argv[3:]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
bad = 0
for f in feeds:
    with opener.open(base + f) as r:
        body, headers = r.read(), {k.lower(): v for k, v in r.headers.items()}
    if f.endswith(".json"):
        # feedparser 6.0 does not read JSON Feed: the json module does.
        got = [i.get("title", "") for i in json.loads(body)["items"]]
    else:
        got = [e.get("title", "") for e in feedparser.parse(body, response_headers=headers).entries]
    want = [l for l in open("%s/%s.titles" % (fixtures, f.rsplit(".", 1)[0]), encoding="utf-8").read().split("\n") if l]
    if got != want:
        bad += 1
        print("  fixture %s: feedparser titles %r, .titles file %r" % (f, got, want))
sys.exit(1 if bad else 0)
EOF
then pass "fixtures parse to their .titles (feedparser)"; else fail "fixtures parse to their .titles (feedparser)"; fi

echo "== starting rafid run"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
CFG="$WORK/rafid.toml"
{
    printf '[server]\nlisten = "127.0.0.1:%s"\nbase_url = "%s/"\n\n' "$PORT" "$BASE"
    printf '[storage]\npath = "%s/data"\n\n' "$WORK"
    printf '[poll]\ninterval = "10s"\nmin_interval = "1s"\n\n'
    printf '[output]\ntitle = "rafid client check"\nmax_items = 1000\n'
    for f in "${FEEDS[@]}"; do
        printf '\n[[feed]]\nurl = "%s%s"\ntags = [%s]\n' "$FEED_BASE" "$f" "${TAGS[$f]}"
    done
} > "$CFG"
"$RAFID" -c "$CFG" check
start_daemon "$CFG" "$WORK/rafid.log"
RAFID_PID="$DAEMON_PID"

# Ready = every feed has a last_success in /status and /feed.json holds the
# expected number of items (the outputs are re-rendered shortly after a poll).
ready=0
for _ in $(seq 60); do
    if ! kill -0 "$RAFID_PID" 2>/dev/null; then break; fi
    if curl -fsS -o "$WORK/status.json" "$BASE/status" 2>/dev/null \
        && curl -fsS -o "$WORK/feed.json" "$BASE/feed.json" 2>/dev/null \
        && python3 - "$WORK/status.json" "$WORK/feed.json" "$N_ALL" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
feed = json.load(open(sys.argv[2]))
ok = all(f.get("last_success") for f in st["feeds"]) and len(feed["items"]) == int(sys.argv[3])
sys.exit(0 if ok else 1)
EOF
    then ready=1; break; fi
    sleep 0.5
done
if [ "$ready" = 1 ]; then
    pass "daemon polled every feed and /feed.json holds $N_ALL items"
else
    fail "daemon ready within 30 s (every feed polled, $N_ALL items in /feed.json)"
    echo "--- /status"; cat "$WORK/status.json" 2>/dev/null || true; echo
    echo "--- /feed.json titles"
    python3 -c 'import json,sys; [print("  ", repr(i.get("title"))) for i in json.load(open(sys.argv[1]))["items"]]' "$WORK/feed.json" 2>/dev/null || true
    echo "--- rafid log (tail)"; tail -20 "$WORK/rafid.log"
fi

# Each story once (the two shared stories are merged), and nothing missing.
if python3 - "$WORK/feed.json" "$WORK/all.titles" <<'EOF'
import json, sys, collections
items = json.load(open(sys.argv[1]))["items"]
want = [l for l in open(sys.argv[2], "rb").read().split(b"\n") if l]
got = [i.get("title", "").encode("utf-8") for i in items]
links = collections.Counter(i.get("url") for i in items)
dups = {k: v for k, v in links.items() if v > 1}
missing = [w.decode() for w in want if w not in got]
for l, n in dups.items():
    print("  link %s appears %d times" % (l, n))
for m in missing:
    print("  title missing: %r" % m)
sys.exit(1 if dups or missing else 0)
EOF
then pass "/feed.json: every story once, every title byte-identical"; else fail "/feed.json: every story once, every title byte-identical"; fi

echo "== feed readers"
# feedparser, newsboat and sfeed on the merged feed and on one tag's feed.
client_check() { # URL COUNT TITLES
    echo "-- check-feed-clients $1"
    if "$TOOLS/check-feed-clients" --require-all --timeout 30 --expect-count "$2" --expect-titles "$3" "$1"; then
        pass "clients read $1"
    else
        fail "clients read $1"
    fi
}
client_check "$BASE/feed.atom" "$N_ALL" "$WORK/all.titles"
client_check "$BASE/feed.rss" "$N_ALL" "$WORK/all.titles"
client_check "$BASE/tags/$TAG.atom" "$N_TAG" "$WORK/tag.titles"
client_check "$BASE/tags/$TAG.rss" "$N_TAG" "$WORK/tag.titles"

echo "== HTTP: conditional GET and compression"
# A reader that sends back the ETag it was given must get 304 and no body.
etag="$( (curl -fsS -o /dev/null -D - "$BASE/feed.atom" || true) | tr -d '\r' | awk 'tolower($1)=="etag:" {sub(/^[^:]*: */, ""); print}')"
if [ -z "$etag" ]; then
    fail "/feed.atom carries an ETag"
else
    code="$(curl -sS -o "$WORK/304.body" -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/feed.atom" || true)"
    if [ "$code" = 304 ] && [ ! -s "$WORK/304.body" ]; then
        pass "If-None-Match $etag -> 304"
    else
        fail "If-None-Match $etag -> expected 304 with no body, got $code ($(wc -c < "$WORK/304.body") bytes)"
    fi
fi
# A client that accepts gzip gets gzip, and it unpacks to the same bytes.
curl -fsS -o "$WORK/plain.atom" "$BASE/feed.atom" || true
curl -fsS -o "$WORK/gz.atom" -D "$WORK/gz.headers" -H 'Accept-Encoding: gzip' "$BASE/feed.atom" || true
if [ -s "$WORK/plain.atom" ] && tr -d '\r' < "$WORK/gz.headers" | grep -qi '^content-encoding: *gzip$' \
    && gzip -dc < "$WORK/gz.atom" | cmp -s - "$WORK/plain.atom"; then
    pass "Accept-Encoding: gzip -> gzip body equal to the plain one"
else
    fail "Accept-Encoding: gzip -> gzip body equal to the plain one"
    sed 's/^/  /' "$WORK/gz.headers" 2>/dev/null || true
fi

echo "== SIGTERM"
# The daemon must stop promptly and cleanly, leaving the store closed.
kill -TERM "$RAFID_PID" 2>/dev/null || echo "(the daemon had already exited)"
stopped=0
for _ in $(seq 100); do
    if ! kill -0 "$RAFID_PID" 2>/dev/null; then stopped=1; break; fi
    sleep 0.1
done
if [ "$stopped" = 1 ]; then
    rc=0; wait "$RAFID_PID" || rc=$?
    RAFID_PID=""
    if [ "$rc" = 0 ]; then pass "SIGTERM -> exit 0 within 10 s"; else fail "SIGTERM -> exit status $rc (want 0)"; tail -20 "$WORK/rafid.log"; fi
else
    fail "SIGTERM -> still running after 10 s"
    kill -KILL "$RAFID_PID" 2>/dev/null || true
    wait "$RAFID_PID" 2>/dev/null || true
    RAFID_PID=""
fi

echo "== store persisted"
# The store the daemon left renders the same items without a daemon.
if "$RAFID" -c "$CFG" render --format atom > "$WORK/render.atom" 2> "$WORK/render.err" \
    && python3 - "$WORK/render.atom" "$WORK/all.titles" "$N_ALL" <<'EOF'
import sys, xml.etree.ElementTree as ET
A = "{http://www.w3.org/2005/Atom}"
entries = ET.parse(sys.argv[1]).getroot().findall(A + "entry")
titles = {(e.findtext(A + "title") or "").encode("utf-8") for e in entries}
want = [l for l in open(sys.argv[2], "rb").read().split(b"\n") if l]
missing = [w.decode() for w in want if w not in titles]
print("  render --format atom: %d entries, %d of %d titles" % (len(entries), len(want) - len(missing), len(want)))
sys.exit(0 if len(entries) == int(sys.argv[3]) and not missing else 1)
EOF
then pass "rafid render after stop: $N_ALL items"; else fail "rafid render after stop: $N_ALL items"; cat "$WORK/render.err"; fi

ci_summary
