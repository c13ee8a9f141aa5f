#!/usr/bin/env bash
# check-pollers.sh — three rafid pollers and a publish-only process on one
# PostgreSQL database, one poller SIGKILLed mid-run (.ci/pollers/pollers.py
# says what is checked: every feed polled, none twice, per_host across
# pollers, one /feed.atom everywhere, `store check` and the item count).
#
# The database is a throwaway cluster (.ci/postgres.sh), stopped and removed
# on exit.
# usage: .ci/check-pollers.sh   (needs target/release/rafid; KEEP=1 keeps the work directory)
# Exit status: 0 pass, 1 a check failed, 2 the check could not run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-pollers
ci_need_rafid
ci_workdir

# Not under WORK, which only its owner may enter: the server runs as the
# postgres user.
pg="$(mktemp -d /tmp/rafid-pg.XXXXXX)"
ci_on_exit "bash '$ROOT/.ci/postgres.sh' stop '$pg'; rm -rf '$pg'"
url="$(bash "$ROOT/.ci/postgres.sh" start "$pg")" || die 2 "cannot start PostgreSQL"
echo "PostgreSQL at $url"

RAFID_CHECK_DATABASE="$url" python3 "$ROOT/.ci/pollers/pollers.py" \
    --rafid "$RAFID" --work "$WORK" | tee "$WORK/results.txt" || true
ci_results "$WORK/results.txt"
ci_summary
