#!/usr/bin/env bash
# .ci/check-postgres.sh — the tests that need PostgreSQL, against a
# throwaway cluster (.ci/postgres.sh) that is stopped and removed after.
# The tests fail, not pass vacuously, when the cluster cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$(mktemp -d /tmp/rafid-pg.XXXXXX)"
cleanup() { bash .ci/postgres.sh stop "$dir" || true; rm -rf "$dir"; }
trap cleanup EXIT

url="$(bash .ci/postgres.sh start "$dir")"
echo "PostgreSQL at $url"
# The PostgreSQL tests, and the store suite run on both backends.
out="$(RAFID_TEST_POSTGRES="$url" cargo test --lib -- store::postgres store::suite --nocapture 2>&1)" \
    || { echo "$out"; exit 1; }
echo "$out" | grep -E '^test result'
# A test that found no database says so; under this script none may.
if echo "$out" | grep -q 'RAFID_TEST_POSTGRES is not set'; then
    echo "FAIL: PostgreSQL tests ran without the database"
    exit 1
fi
ran="$(echo "$out" | sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' | head -1)"
[ "${ran:-0}" -ge 30 ] || { echo "FAIL: only ${ran:-0} PostgreSQL tests ran"; exit 1; }
echo "PASS: ${ran} PostgreSQL tests"
