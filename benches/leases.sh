#!/usr/bin/env bash
# benches/leases.sh — lease claims per second on a throwaway PostgreSQL
# cluster (.ci/postgres.sh), stopped and removed after: see benches/leases.rs.
# env: FEEDS (default 100000), BATCH (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(mktemp -d /tmp/rafid-pg-bench.XXXXXX)"
cleanup() { bash .ci/postgres.sh stop "$dir" || true; rm -rf "$dir"; }
trap cleanup EXIT
url="$(bash .ci/postgres.sh start "$dir")"
RAFID_BENCH_POSTGRES="$url" cargo bench --bench leases
