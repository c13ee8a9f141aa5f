#!/usr/bin/env bash
# .ci/check-systemd.sh — the shipped unit, as systemd itself judges it:
#   - `systemd-analyze verify` is clean with the release binary installed at
#     the unit's ExecStart path;
#   - `systemd-analyze security --offline=yes` rates its exposure 1.5 or less;
#   - the unit keeps what the daemon relies on: Type=notify, ExecReload,
#     WatchdogSec, DynamicUser, StateDirectory, ConfigurationDirectory.
# Installs systemd's tools when missing (Debian). Run from the repository
# root after `cargo build --release`.
set -euo pipefail

UNIT=${UNIT:-systemd/rafid.service}   # another unit can be judged the same way
MAX_EXPOSURE=1.5

if ! command -v systemd-analyze > /dev/null; then
    echo "installing systemd (for systemd-analyze)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends systemd > /dev/null
fi
systemd-analyze --version | head -1

[ -x target/release/rafid ] || { echo "no target/release/rafid: build it first"; exit 2; }
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNIT")
[ -n "$exec_start" ] || { echo "$UNIT: no ExecStart"; exit 1; }
install -D -m 0755 target/release/rafid "$exec_start"
echo "installed the release binary at $exec_start"

fail=0
out=$(systemd-analyze verify "$UNIT" 2>&1) || { echo "systemd-analyze verify failed"; fail=1; }
if [ -n "$out" ]; then
    echo "systemd-analyze verify is not clean:"
    echo "$out"
    fail=1
else
    echo "verify: clean"
fi

sec=$(systemd-analyze security --offline=yes "$UNIT" 2>&1) || true
level=$(echo "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
    echo "no exposure level in:"
    echo "$sec"
    fail=1
elif awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }'; then
    echo "security: exposure $level (at most $MAX_EXPOSURE)"
else
    echo "security: exposure $level is above $MAX_EXPOSURE:"
    echo "$sec" | grep -E '^✗' || true
    fail=1
fi

for line in '^Type=notify$' '^ExecReload=' '^WatchdogSec=' '^DynamicUser=yes$' \
            '^StateDirectory=rafid$' '^ConfigurationDirectory=rafid$'; do
    grep -q "$line" "$UNIT" || { echo "$UNIT: missing $line"; fail=1; }
done

exit "$fail"
