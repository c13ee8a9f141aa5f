#!/usr/bin/env bash
# check-stream.sh — same-story merging on a real stream: every article of
# ../shared/dedup-data/snn-articles.jsonl served as a feed item, one RSS feed
# per outlet (the article's `feed` field), dated by its `date`, polled by
# `rafid poll-once` with near-duplicates on. Then, with the dev pairs of
# ../shared/dedup-data/dev-pairs.jsonl whose two sides are both in the stream:
#   (a) no exported item holds two articles that a pair labels different,
#       even through a chain of merges;
#   (b) at least 90% of the pairs labelled duplicate end up in one item;
# and a second poll (all "not modified") leaves the grouping as it was. The
# stream goes into three stores: every feed in one poll-once (stored in the
# order the answers come), and one feed at a time in the listed order and in
# the reverse order; each must meet the bars.
# The counting is done by .ci/stream_check.py.
#
# usage: .ci/check-stream.sh     (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory for inspection.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-stream
ARTICLES="$SHARED/dedup-data/snn-articles.jsonl"
PAIRS="$SHARED/dedup-data/dev-pairs.jsonl"
HELPER="$ROOT/.ci/stream_check.py"
ci_need_rafid
[ -r "$ARTICLES" ] && [ -r "$PAIRS" ] || die 2 "cannot read $ARTICLES or $PAIRS"
ci_workdir
START=$SECONDS

# The server starts first, on an empty folder, so the items' links can carry
# its port; it reads each file when asked.
mkdir -p "$WORK/www"
serve_corpus "$WORK/www"
BASE="$SERVED_URL"

read -r N_ARTICLES N_FEEDS WINDOW < <(python3 "$HELPER" feeds "$ARTICLES" "$WORK/www" "$BASE")
echo "serving $N_ARTICLES articles as $N_FEEDS feeds at $BASE; dedup.window = $WINDOW"

FEEDS=()
for f in "$WORK"/www/*.xml; do FEEDS+=("$(basename "$f")"); done
REVERSED=()
for ((i = ${#FEEDS[@]} - 1; i >= 0; i--)); do REVERSED+=("${FEEDS[$i]}"); done

# config NAME ENABLED FEED... : NAME/rafid.toml polling the feeds in this
# order; ENABLED is "all" or the one feed to poll (the others keep their items).
config() {
    local name="$1" enabled="$2"; shift 2
    mkdir -p "$WORK/$name"
    {
        printf '[storage]\npath = "%s/%s/data"\n\n' "$WORK" "$name"
        printf '[output]\nmax_items = 100000\n\n'
        # poll-once asks every enabled feed once whatever the schedule; all
        # the feeds are on one host: let them all be fetched at once.
        printf '[poll]\nmin_interval = "1s"\nper_host = %d\n\n' "$N_FEEDS"
        # Near-duplicates on (the default). The window is the articles' whole
        # date span plus a day (computed by stream_check.py): the articles span
        # about three weeks and the pairs labelled different are often days
        # apart, so the default 72h would keep most of them from ever being
        # compared.
        printf '[dedup]\nnear_duplicates = true\nwindow = "%s"\n' "$WINDOW"
        local f
        for f in "$@"; do
            printf '\n[[feed]]\nurl = "%s%s"\n' "$BASE" "$f"
            if [ "$enabled" != all ] && [ "$enabled" != "$f" ]; then printf 'enabled = false\n'; fi
        done
    } > "$WORK/$name/rafid.toml"
}

fail=0
poll() { # NAME N EXPECTED: runs poll-once, fails unless EXPECTED feeds were polled cleanly
    local rc=0 dir="$WORK/$1"
    "$RAFID" -c "$dir/rafid.toml" poll-once > "$dir/poll$2.txt" 2> "$dir/poll$2.err" || rc=$?
    if [ "$rc" != 0 ] || ! grep -q "^feeds polled: $3, .* failed: 0," "$dir/poll$2.txt"; then
        cat "$dir/poll$2.txt"; tail -5 "$dir/poll$2.err"
        echo "FAIL: $1: poll-once ($2) did not poll $3 feeds cleanly (exit $rc)"
        fail=1
    fi
}
export_store() { # NAME FILE
    "$RAFID" -c "$WORK/$1/rafid.toml" export > "$WORK/$1/$2" || { echo "FAIL: $1: export"; fail=1; }
}

# 1. Every feed in one poll-once, as a new user's first poll (the feeds are
#    stored in the order their answers come), polled again (all "not
#    modified") to see that nothing regroups.
config together all "${FEEDS[@]}"
"$RAFID" -c "$WORK/together/rafid.toml" check > /dev/null
poll together 1 "$N_FEEDS"
echo "== together: every feed in one poll-once, $((SECONDS - START)) s"
cat "$WORK/together/poll1.txt"
export_store together export1.jsonl
poll together 2 "$N_FEEDS"
cat "$WORK/together/poll2.txt"
export_store together export2.jsonl
python3 "$HELPER" report "$ARTICLES" "$PAIRS" "$BASE" "$WORK/together/export1.jsonl" "$WORK/together/export2.jsonl" || fail=1

# 2. One feed at a time, in the listed order and in the reverse order: which
#    outlet comes first must not decide what is merged.
for name in forward reversed; do
    if [ "$name" = forward ]; then order=("${FEEDS[@]}"); else order=("${REVERSED[@]}"); fi
    n=0
    for f in "${order[@]}"; do
        n=$((n + 1))
        config "$name" "$f" "${order[@]}"
        poll "$name" "$n" 1
    done
    echo "== $name: one feed at a time (${order[*]}), $((SECONDS - START)) s"
    export_store "$name" export.jsonl
    python3 "$HELPER" report "$ARTICLES" "$PAIRS" "$BASE" "$WORK/$name/export.jsonl" || fail=1
done
echo "check-stream: $((SECONDS - START)) s"
exit "$fail"
