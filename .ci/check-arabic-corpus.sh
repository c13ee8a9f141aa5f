#!/usr/bin/env bash
# check-arabic-corpus.sh — Arabic text survives every source encoding, byte for byte.
#
# Serves ../shared/corpus/arabic (UTF-8, UTF-16 with BOM, windows-1256 declared in
# the XML, windows-1256 named only by the HTTP charset, ISO-8859-6 Atom) on
# 127.0.0.1 and checks that:
#   - `rafid poll-once` polls every feed without failure;
#   - `rafid render --format json` holds, as an item title, every line of every
#     `.titles` file exactly (a story merged across feeds counts once: presence
#     is checked, not the count);
#   - a second `poll-once` is all conditional: every feed "not modified" (304),
#     no new items;
#   - feedparser, newsboat and sfeed read the rendered Atom with every title
#     byte-identical.
#
# usage: .ci/check-arabic-corpus.sh   (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
TOOLS="$SHARED/tools"
CORPUS="$SHARED/corpus/arabic"
RAFID="${RAFID:-$ROOT/target/release/rafid}"

# Everything here talks to 127.0.0.1 only: keep any proxy out of the way.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"

[ -x "$RAFID" ] || { echo "check-arabic-corpus: $RAFID missing (cargo build --release)" >&2; exit 2; }
[ -d "$CORPUS" ] || { echo "check-arabic-corpus: no corpus at $CORPUS" >&2; exit 2; }

WORK="$(mktemp -d /tmp/rafid-check-arabic.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

FAILED=()
PASSED=0
pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED+=("$*"); }

serve() { # DIR LOGNAME -> prints the base URL; the server's pid goes into PIDS
    "$TOOLS/serve-corpus" "$1" --port 0 > "$WORK/$2.out" 2> "$WORK/$2.log" &
    PIDS+=($!)
    local url=""
    for _ in $(seq 100); do
        url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$WORK/$2.out" 2>/dev/null || true)"
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$WORK/$2.log" >&2; echo "check-arabic-corpus: serve-corpus did not start" >&2; return 1; }
    SERVED_URL="$url"
}

echo "== serving $CORPUS"
serve "$CORPUS" corpus
CORPUS_URL="$SERVED_URL"
echo "corpus at $CORPUS_URL"

# One [[feed]] per feed file; the .headers sidecars give serve-corpus the
# charset that only HTTP names.
FEEDS=()
for f in "$CORPUS"/*.xml "$CORPUS"/*.atom; do
    [ -f "$f" ] && FEEDS+=("$(basename "$f")")
done
N_FEEDS=${#FEEDS[@]}
[ "$N_FEEDS" -gt 0 ] || { echo "check-arabic-corpus: no feed files in $CORPUS" >&2; exit 2; }
CFG="$WORK/rafid.toml"
{
    printf '[storage]\npath = "%s/data"\n\n' "$WORK"
    printf '[output]\nmax_items = 100000\n\n'
    # The feeds carry some stories twice, re-edited (the fourth relief flight
    # to Aden, say): same-story merging would rightly hide one title of each.
    # This check is about text surviving its encoding; .ci/check-dedup.sh
    # checks the merging.
    printf '[dedup]\nnear_duplicates = false\n'
    for f in "${FEEDS[@]}"; do printf '\n[[feed]]\nurl = "%s%s"\ntags = ["ar"]\n' "$CORPUS_URL" "$f"; done
} > "$CFG"
"$RAFID" -c "$CFG" check

echo "== poll-once (first)"
rc=0; "$RAFID" -c "$CFG" poll-once > "$WORK/poll1.txt" 2> "$WORK/poll1.err" || rc=$?
cat "$WORK/poll1.txt"; [ "$rc" = 0 ] || { echo "poll-once exit status $rc:"; tail -5 "$WORK/poll1.err"; }
if [ "$rc" = 0 ] && grep -q "^feeds polled: $N_FEEDS, .* failed: 0," "$WORK/poll1.txt"; then
    pass "first poll: $N_FEEDS feeds polled, none failed"
else
    fail "first poll: $N_FEEDS feeds polled, none failed"
fi

echo "== titles in the rendered JSON feed"
# Every line of every .titles file must be an item title, byte for byte.
if "$RAFID" -c "$CFG" render --format json --limit 100000 > "$WORK/river.json" && python3 - "$WORK/river.json" "$CORPUS" "${FEEDS[@]}" <<'EOF'
import json, os, sys
items = json.load(open(sys.argv[1], encoding="utf-8"))["items"]
corpus, feeds = sys.argv[2], sys.argv[3:]
titles = {i.get("title", "").encode("utf-8") for i in items}
print("rendered items: %d" % len(items))
bad = 0
for f in feeds:
    tf = os.path.join(corpus, f.rsplit(".", 1)[0] + ".titles")
    want = [l for l in open(tf, "rb").read().split(b"\n") if l]
    missing = [w for w in want if w not in titles]
    print("  %-40s %2d of %2d titles byte-identical  %s" % (f, len(want) - len(missing), len(want),
                                                          "ok" if not missing else "MISSING"))
    for m in missing:
        print("      missing: %r" % m.decode("utf-8"))
        near = [t for t in titles if t.replace(b" ", b"") == m.replace(b" ", b"")]
        for t in near:
            print("      rendered as: %r" % t.decode("utf-8", "replace"))
    bad += bool(missing)
sys.exit(1 if bad else 0)
EOF
then pass "every .titles line is an item title"; else fail "every .titles line is an item title"; fi

echo "== poll-once (second: conditional GET)"
# The corpus did not change: every feed must answer 304 to rafid's validators.
rc=0; "$RAFID" -c "$CFG" poll-once > "$WORK/poll2.txt" 2> "$WORK/poll2.err" || rc=$?
cat "$WORK/poll2.txt"; [ "$rc" = 0 ] || { echo "poll-once exit status $rc:"; tail -5 "$WORK/poll2.err"; }
if [ "$rc" = 0 ] && grep -q "^feeds polled: $N_FEEDS, not modified: $N_FEEDS, .* failed: 0," "$WORK/poll2.txt" \
    && grep -q '^items new: 0,' "$WORK/poll2.txt"; then
    pass "second poll: $N_FEEDS of $N_FEEDS not modified, items new: 0"
else
    fail "second poll: $N_FEEDS of $N_FEEDS not modified, items new: 0"
fi

echo "== feed readers on the rendered Atom"
# The merged feed, written in UTF-8, must read right in every client, even for
# the feed whose charset only HTTP named (which newsboat and sfeed misread at
# the source).
mkdir -p "$WORK/out"
rc=0; "$RAFID" -c "$CFG" render --format atom --limit 100000 > "$WORK/out/river.atom" || rc=$?
[ "$rc" = 0 ] || echo "render --format atom: exit status $rc"
for f in "${FEEDS[@]}"; do cat "$CORPUS/${f%.*}.titles"; done > "$WORK/all.titles"
serve "$WORK/out" rendered
if [ "$rc" = 0 ] && "$TOOLS/check-feed-clients" --require-all --timeout 30 --expect-titles "$WORK/all.titles" "${SERVED_URL}river.atom"; then
    pass "clients read the rendered Atom"
else
    fail "clients read the rendered Atom"
fi

echo
echo "check-arabic-corpus: $PASSED checks passed, ${#FAILED[@]} failed"
if [ "${#FAILED[@]}" -gt 0 ]; then
    printf '  failed: %s\n' "${FAILED[@]}"
    exit 1
fi
