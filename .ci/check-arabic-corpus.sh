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
source "$(dirname "$0")/lib.sh"
ci_init check-arabic-corpus
CORPUS="$SHARED/corpus/arabic"
ci_need_rafid
[ -d "$CORPUS" ] || die 2 "no corpus at $CORPUS"
ci_workdir

echo "== serving $CORPUS"
serve_corpus "$CORPUS" corpus
CORPUS_URL="$SERVED_URL"
echo "corpus at $CORPUS_URL"

# One [[feed]] per feed file; the .headers sidecars give serve-corpus the
# charset that only HTTP names.
FEEDS=()
for f in "$CORPUS"/*.xml "$CORPUS"/*.atom; do
    [ -f "$f" ] && FEEDS+=("$(basename "$f")")
done
N_FEEDS=${#FEEDS[@]}
[ "$N_FEEDS" -gt 0 ] || die 2 "no feed files in $CORPUS"
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
serve_corpus "$WORK/out" rendered
if [ "$rc" = 0 ] && "$TOOLS/check-feed-clients" --require-all --timeout 30 --expect-titles "$WORK/all.titles" "${SERVED_URL}river.atom"; then
    pass "clients read the rendered Atom"
else
    fail "clients read the rendered Atom"
fi

ci_summary
