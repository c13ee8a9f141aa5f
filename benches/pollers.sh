#!/usr/bin/env bash
# benches/pollers.sh — 1, 2 and 3 rafid pollers on one PostgreSQL database,
# on the 1000-feed farm of ../shared/bench (started here if it is not
# running), beside `rafid poll-once` on sled in the same run: see
# benches/pollers.py. The database is a throwaway cluster (.ci/postgres.sh),
# stopped and removed after.
# env: FEEDS (farm size, default 1000), POLLERS (default 1,2,3),
#      SKIP_BUILD=1 (use the existing target/release/rafid)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
FEEDS="${FEEDS:-1000}"
FARM_DIR="${FARM_DIR:-/tmp/feedfarm}"
PORT=$((8099 + (FEEDS == 1000 ? 0 : 1)))
export FARM_DIR
cd "$ROOT"
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release
if ! curl -sf -o /dev/null "http://127.0.0.1:$PORT/feeds/" && ! curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" | grep -q '^[2-4]'; then
    ACCESS_LOG=off bash "$SHARED/bench/farm.sh" start "$FEEDS" "$PORT"
fi
work="$(mktemp -d /tmp/rafid-pollers-bench.XXXXXX)"
pg="$(mktemp -d /tmp/rafid-pg-bench.XXXXXX)"
cleanup() { bash .ci/postgres.sh stop "$pg" || true; rm -rf "$pg" "$work"; }
trap cleanup EXIT
url="$(bash .ci/postgres.sh start "$pg")"
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY no_proxy=127.0.0.1 \
    python3 benches/pollers.py --rafid "$ROOT/target/release/rafid" --farm "$FARM_DIR/$FEEDS" \
    --work "$work" --db "$url" --pollers "${POLLERS:-1,2,3}"
