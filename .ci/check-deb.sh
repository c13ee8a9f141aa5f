#!/usr/bin/env bash
# check-deb.sh — rafid installed as a packager ships it: builds the Debian
# package with cargo-deb from the release binary, installs it with dpkg (the
# CI machine is root and throwaway), and checks that:
#   - the files are in place: /usr/bin/rafid, /etc/rafid/rafid.toml (a
#     conffile), the manual page, bash/zsh/fish completions, the systemd
#     unit (ExecStart=/usr/bin/rafid, StateDirectory=rafid), README;
#   - the `rafid` system user exists;
#   - the INSTALLED /usr/bin/rafid, run as that user on a fixture config,
#     polls a fixture feed served on 127.0.0.1 and serves it in /feed.atom.
# Then the package is purged again (KEEP=1 keeps it and the work directory).
#
# Installs cargo-deb when missing (`cargo install cargo-deb --locked`, a
# few minutes the first time). Run from the repository root after
# `cargo build --release`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-deb
cd "$ROOT"
[ -x target/release/rafid ] || die 2 "no target/release/rafid: run cargo build --release first"

if ! cargo deb --version > /dev/null 2>&1; then
    echo "installing cargo-deb"
    cargo install cargo-deb --locked --quiet
fi
cargo deb --version

echo "== building the package"
size=$(stat -c %s target/release/rafid)
if [ "$size" -lt $((25 * 1024 * 1024)) ]; then
    pass "release binary is $((size / 1024 / 1024)) MiB (under 25)"
else
    fail "release binary is $((size / 1024 / 1024)) MiB (25 at most)"
fi
bash debian/assets.sh
# cargo deb prints the package's path on stdout, its progress on stderr.
deb=$(cargo deb --no-build --no-strip | tail -1)
[ -f "$deb" ] || die 1 "cargo deb made no package ($deb)"
echo "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

ci_workdir
chmod 755 "$WORK"
# The package goes again on exit, unless KEEP=1 keeps it with the work directory.
ci_on_exit '[ "${KEEP:-0}" = 1 ] || dpkg --purge rafid > /dev/null 2>&1'

echo "== installing it"
if dpkg -i "$deb"; then pass "dpkg -i $deb"; else fail "dpkg -i $deb"; fi

for f in /usr/bin/rafid /etc/rafid/rafid.toml /usr/share/man/man1/rafid.1.gz \
         /usr/share/bash-completion/completions/rafid /usr/share/zsh/vendor-completions/_rafid \
         /usr/share/fish/vendor_completions.d/rafid.fish /usr/share/doc/rafid/README.md; do
    if [ -s "$f" ]; then pass "installed $f"; else fail "installed $f"; fi
done
unit=$(dpkg -L rafid | grep '/systemd/system/rafid.service$' || true)
if [ -n "$unit" ] && grep -q '^ExecStart=/usr/bin/rafid ' "$unit" && grep -q '^StateDirectory=rafid$' "$unit"; then
    pass "unit $unit runs /usr/bin/rafid with StateDirectory=rafid"
else
    fail "the systemd unit (found: ${unit:-none})"
fi
if [ -n "$unit" ] && command -v systemd-analyze > /dev/null; then
    if UNIT="$unit" bash .ci/check-systemd.sh > "$WORK/systemd.out" 2>&1; then
        pass "the packaged unit: $(grep -o 'exposure [0-9.]*' "$WORK/systemd.out")"
    else
        fail "the packaged unit under .ci/check-systemd.sh"; cat "$WORK/systemd.out"
    fi
fi
if dpkg-query -W -f='${Conffiles}\n' rafid | grep -q '^ */etc/rafid/rafid.toml '; then
    pass "/etc/rafid/rafid.toml is a conffile"
else
    fail "/etc/rafid/rafid.toml is a conffile"
fi
if getent passwd rafid > /dev/null; then pass "system user rafid ($(getent passwd rafid))"; else fail "system user rafid"; fi
if /usr/bin/rafid -c /etc/rafid/rafid.toml check > "$WORK/check.out" 2>&1; then
    pass "the packaged config passes rafid check"
else
    fail "the packaged config passes rafid check"; cat "$WORK/check.out"
fi
if man -l /usr/share/man/man1/rafid.1.gz 2>/dev/null | grep -q 'completions' \
    || zcat /usr/share/man/man1/rafid.1.gz | grep -q 'completions'; then
    pass "the manual page lists the commands"
else
    fail "the manual page lists the commands"
fi
if bash -c 'source /usr/share/bash-completion/completions/rafid && complete -p rafid' > /dev/null 2>&1; then
    pass "the bash completion loads"
else
    fail "the bash completion loads"
fi

echo "== the installed binary, as user rafid, on a fixture feed"
mkdir -p "$WORK/www"
cp .ci/fixtures/river/en.atom "$WORK/www/feed.atom"
serve_http "$WORK/www"
FEED="${SERVED_URL}feed.atom"
RPORT=$(free_port)
mkdir -p "$WORK/state"
chown rafid: "$WORK/state" 2>/dev/null || true
cat > "$WORK/rafid.toml" <<EOF
[server]
listen = "127.0.0.1:$RPORT"
base_url = "http://127.0.0.1:$RPORT/"
[storage]
path = "$WORK/state"
[output]
title = "deb check"
[[feed]]
url = "$FEED"
interval = "2s"      # pinned: the first poll comes within 2 s, not within the start's minute
EOF
chmod 644 "$WORK/rafid.toml"
RAFID=/usr/bin/rafid start_daemon "$WORK/rafid.toml" "$WORK/rafid.log" runuser -u rafid --
want=$(python3 -c 'import sys, xml.etree.ElementTree as ET; A="{http://www.w3.org/2005/Atom}"; print(ET.parse(sys.argv[1]).getroot().find(A+"entry").findtext(A+"title"))' "$WORK/www/feed.atom")
served=0
for _ in $(seq 150); do
    if curl -fsS "http://127.0.0.1:$RPORT/feed.atom" -o "$WORK/served.atom" 2>/dev/null && grep -qF "$want" "$WORK/served.atom"; then
        served=1; break
    fi
    sleep 0.2
done
if [ "$served" = 1 ]; then
    pass "the installed rafid serves the fixture item \"$want\" in /feed.atom"
else
    fail "the installed rafid serves the fixture item in /feed.atom"; tail -20 "$WORK/rafid.log"
fi
if [ "$(stat -c %U "$WORK/state/store" 2>/dev/null)" = rafid ]; then
    pass "its store belongs to user rafid"
else
    fail "its store belongs to user rafid"
fi

ci_summary
