#!/usr/bin/env bash
# debian/assets.sh — the generated files the Debian package carries, written
# under target/deb/ from the release binary and the repository's files:
#   rafid.1.gz                 the manual page (`rafid man`)
#   completions/{rafid.bash,_rafid,rafid.fish}   (`rafid completions SHELL`)
#   rafid.service              systemd/rafid.service with the binary in /usr/bin
#   rafid.toml                 config/rafid.toml with the store in /var/lib/rafid
# Run from the repository root after `cargo build --release`, before
# `cargo deb --no-build` ([package.metadata.deb] in Cargo.toml names them).
set -euo pipefail

RAFID="${RAFID:-target/release/rafid}"
OUT=target/deb
[ -x "$RAFID" ] || { echo "assets.sh: no $RAFID: run cargo build --release first" >&2; exit 2; }

rm -rf "$OUT"
mkdir -p "$OUT/completions"
"$RAFID" man | gzip -9n > "$OUT/rafid.1.gz"
"$RAFID" completions bash > "$OUT/completions/rafid.bash"
"$RAFID" completions zsh > "$OUT/completions/_rafid"
"$RAFID" completions fish > "$OUT/completions/rafid.fish"

# The packaged binary is /usr/bin/rafid; nothing else in the unit changes,
# so it keeps the sandbox .ci/check-systemd.sh rates.
sed -e 's|/usr/local/bin/rafid|/usr/bin/rafid|g' \
    -e 's|^# rafid as a systemd service. Install the binary at /usr/bin/rafid and$|# rafid as a systemd service, as the Debian package installs it: the binary|' \
    -e 's|^# the config at /etc/rafid/rafid.toml (see README.md). The store lives in$|# in /usr/bin, the config in /etc/rafid/rafid.toml; the store lives in|' \
    -e 's|^# /var/lib/rafid (StateDirectory), owned by a user systemd creates on start.$|# /var/lib/rafid (StateDirectory), owned by the rafid user the package made\n# (DynamicUser=yes uses a static user of that name when there is one).|' \
    systemd/rafid.service > "$OUT/rafid.service"
grep -q '^ExecStart=/usr/bin/rafid ' "$OUT/rafid.service" \
    || { echo "assets.sh: the unit's ExecStart did not move to /usr/bin" >&2; exit 1; }

# The shipped example config, with the store where the service keeps it:
# commands run by hand then find the daemon's control socket.
sed -e 's|^path = "data"  *#.*$|path = "/var/lib/rafid"                 # the service'"'"'s StateDirectory|' \
    config/rafid.toml > "$OUT/rafid.toml"
grep -q '^path = "/var/lib/rafid"' "$OUT/rafid.toml" \
    || { echo "assets.sh: storage.path not set in the packaged config" >&2; exit 1; }
echo "assets in $OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')"
