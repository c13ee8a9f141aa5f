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
source "$(dirname "$0")/lib.sh"
ci_init check-systemd
UNIT=${UNIT:-systemd/rafid.service}   # another unit can be judged the same way
MAX_EXPOSURE=1.5

command -v systemd-analyze > /dev/null || ci_need_debs systemd
systemd-analyze --version | head -1

[ -x target/release/rafid ] || die 2 "no target/release/rafid: build it first"
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
