#!/usr/bin/env bash
# check-crash.sh — the store survives `rafid poll-once` being SIGKILLed at any moment.
#
# README (Durability) promises that each fetched document — its items, their
# index entries and the feed's validators — is written in one transaction, so
# after a crash the indexes agree with the items and a feed's validators never
# claim items that were not stored. This checks it:
#   - .ci/crash/farm.py writes a farm of 200 feeds (RSS 2.0 and Atom, 15-25
#     items each, Arabic and English texts of its own), about 20% of the stories
#     carried by 2-4 feeds under the same link; serve-corpus serves it on
#     127.0.0.1 with strong ETags, so unchanged feeds answer 304;
#   - .ci/crash/crash.py times one uninterrupted poll-once on a throwaway store
#     (D; its render must already hold every farm story exactly once), then, on the
#     store under test, until 30 polls have been SIGKILLed while running (at
#     least 20 must be, within 150 s): changes
#     a random 30-60% of the feeds (new items, new shared stories, edited titles)
#     so polls keep writing, starts poll-once ([poll] concurrency = 16, per_host
#     = 16, near-duplicates on as by default) and SIGKILLs it after a random delay
#     in [0, D]; after each kill `rafid store check` must exit 0 and `rafid
#     render --format json` must succeed, with unique ids, no link twice and no
#     link the farm never had;
#   - at the end one uninterrupted poll-once, after which every link in the farm
#     files (added ones included) must be rendered exactly once, listing every
#     feed that carries it, and `store check` must pass.
# A summary lists the kills, their delays and every check's result.
#
# usage: .ci/check-crash.sh   (needs target/release/rafid; RAFID=path overrides)
# env:   KILLS=30            polls to SIGKILL while running (20 at least)
#        CRASH_SEED=N        reproduce a run (the seed is printed)
#        SKIP_STORE_CHECK=1  run against render only, for a rafid without
#                            `store check` (otherwise its absence fails the check)
#        KEEP=1              keep the work directory (farm, stores, logs)
# Exit status: 0 pass, 1 a check failed, 2 the check could not run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-crash
KILLS="${KILLS:-30}"
SEED="${CRASH_SEED:-$(( $(date +%s) % 1000000 ))}"
ci_need_rafid
ci_workdir

echo "== farm"
python3 "$ROOT/.ci/crash/farm.py" init "$WORK/farm" --feeds 200 --seed "$SEED"

echo "== server"
serve_corpus "$WORK/farm" server
BASE="$SERVED_URL"
echo "farm at $BASE"

args=(--rafid "$RAFID" --farm "$WORK/farm" --base "$BASE" --work "$WORK" --kills "$KILLS" --min-kills "$(( KILLS < 20 ? KILLS : 20 ))" --seed "$SEED")
[ "${SKIP_STORE_CHECK:-0}" = 1 ] && args+=(--skip-store-check)
python3 "$ROOT/.ci/crash/crash.py" "${args[@]}"
