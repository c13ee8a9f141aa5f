#!/usr/bin/env bash
# check-corpus-merge.sh — same-story merging on the five Arabic corpus feeds
# (../shared/corpus/arabic) polled together with near-duplicates on: no story
# may be hidden by a wrong merge. The corpus carries one weekly template with
# different ordinals (Saudi relief flights to Aden: the fourth, the fifth, the
# sixth); each must keep an item of its own, shown with its own headline, in
# `rafid render --format json`, `--format atom` and `--format html`; no item
# may hold two headlines with different ordinals; and every corpus headline
# is shown, or its item shows a headline of the same story (same ordinals,
# same numbers). The feeds are polled all at once, then one at a time in
# several orders (each feed first once, and the reverse order), each into a
# store of its own: which outlet comes first must not decide what is hidden. .ci/check-arabic-corpus.sh polls the same feeds with merging
# off, for the encodings; the counting here is done by .ci/corpus_merge_check.py.
#
# usage: .ci/check-corpus-merge.sh   (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory for inspection.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-corpus-merge
CORPUS="$SHARED/corpus/arabic"
HELPER="$ROOT/.ci/corpus_merge_check.py"
# The dev pairs label some corpus items (found among the articles by
# headline) different: those must never share an item either.
PAIRS_ARGS=()
if [ -r "$SHARED/dedup-data/dev-pairs.jsonl" ] && [ -r "$SHARED/dedup-data/snn-articles.jsonl" ]; then
    PAIRS_ARGS=(--pairs "$SHARED/dedup-data/dev-pairs.jsonl" "$SHARED/dedup-data/snn-articles.jsonl")
fi
ci_need_rafid
[ -d "$CORPUS" ] || die 2 "no corpus at $CORPUS"
ci_workdir

# serve-corpus sends each feed's headers (the charset only HTTP names).
serve_corpus "$CORPUS"
BASE="$SERVED_URL"

FEEDS=()
for f in "$CORPUS"/*.xml "$CORPUS"/*.atom; do
    [ -f "$f" ] && FEEDS+=("$(basename "$f")")
done
N_FEEDS=${#FEEDS[@]}
[ "$N_FEEDS" -gt 0 ] || die 2 "no feed files in $CORPUS"
# config NAME ENABLED FEED... : NAME/rafid.toml with the feeds in this order;
# ENABLED is "all" or the one feed to poll (the others keep their items).
config() {
    local name="$1" enabled="$2"; shift 2
    mkdir -p "$WORK/$name"
    {
        printf '[storage]\npath = "%s/%s/data"\n\n' "$WORK" "$name"
        printf '[output]\nmax_items = 100000\n\n'
        # The defaults, said out loud: this is what a new user gets.
        printf '[dedup]\nnear_duplicates = true\n'
        local f
        for f in "$@"; do
            printf '\n[[feed]]\nurl = "%s%s"\ntags = ["ar"]\n' "$BASE" "$f"
            if [ "$enabled" != all ] && [ "$enabled" != "$f" ]; then printf 'enabled = false\n'; fi
        done
    } > "$WORK/$name/rafid.toml"
}

fail=0
poll() { # NAME EXPECTED_FEEDS
    local rc=0 dir="$WORK/$1"
    "$RAFID" -c "$dir/rafid.toml" poll-once > "$dir/poll.txt" 2> "$dir/poll.err" || rc=$?
    if [ "$rc" != 0 ] || ! grep -q "^feeds polled: $2, .* failed: 0," "$dir/poll.txt"; then
        cat "$dir/poll.txt"; tail -5 "$dir/poll.err"
        echo "FAIL: $1: poll-once did not poll $2 feeds cleanly (exit $rc)"
        fail=1
    fi
}

check_outputs() { # NAME [--quiet]
    local dir="$WORK/$1" fmt
    for fmt in json atom html; do
        "$RAFID" -c "$dir/rafid.toml" render --format "$fmt" --limit 100000 > "$dir/river.$fmt" \
            || { echo "FAIL: $1: render --format $fmt"; fail=1; }
    done
    "$RAFID" -c "$dir/rafid.toml" export > "$dir/export.jsonl" \
        || { echo "FAIL: $1: export"; fail=1; }
    python3 "$HELPER" "$CORPUS" "$dir/river.json" "$dir/river.atom" "$dir/river.html" ${2:-} "${PAIRS_ARGS[@]}" \
        --export "$dir/export.jsonl" "$dir/rafid.toml" \
        || { echo "FAIL: $1"; fail=1; }
}

# 1. Every feed in one poll-once, as a new user's first poll.
echo "== together: the $N_FEEDS feeds in one poll-once"
config together all "${FEEDS[@]}"
"$RAFID" -c "$WORK/together/rafid.toml" check > /dev/null
poll together "$N_FEEDS"
cat "$WORK/together/poll.txt"
check_outputs together

# 2. One feed at a time, in every rotation of the feed list and in the
#    reverse order: whichever outlet comes first, no story may be hidden.
ORDERS=()
for ((r = 0; r < N_FEEDS; r++)); do
    o=""
    for ((i = 0; i < N_FEEDS; i++)); do o+="${FEEDS[$(((r + i) % N_FEEDS))]} "; done
    ORDERS+=("$o")
done
o=""
for ((i = N_FEEDS - 1; i >= 0; i--)); do o+="${FEEDS[$i]} "; done
ORDERS+=("$o")
n=0
for o in "${ORDERS[@]}"; do
    n=$((n + 1))
    read -r -a order <<< "$o"
    name="order$n"
    echo "== $name: one feed at a time: ${order[*]}"
    for f in "${order[@]}"; do
        config "$name" "$f" "${order[@]}"
        poll "$name" 1
    done
    config "$name" all "${order[@]}"
    check_outputs "$name" --quiet
done
[ "$fail" = 0 ] && echo "check-corpus-merge: passed" || echo "check-corpus-merge: FAILED"
exit "$fail"
