#!/usr/bin/env bash
# check-readonly.sh — a state directory rafid cannot write to gives a clear
# error naming the path (exit 2), and damages nothing already stored.
#
# Runs as root, for whom permission bits do not stop writes; the directory and
# its files are made immutable with chattr instead (ext4 here).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
command -v chattr > /dev/null || { echo "check-readonly: chattr (e2fsprogs) is needed"; exit 2; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    chattr -R -i "$WORK" 2> /dev/null || true
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/feeds"
cat > "$WORK/feeds/a.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>قناة الاختبار</title><link>https://ro.example/</link>
<item><guid>ro-1</guid><title>خبر محفوظ قبل القفل</title><link>https://ro.example/1</link></item>
<item><guid>ro-2</guid><title>Stored before the lock</title><link>https://ro.example/2</link></item>
</channel></rss>
XML
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/feeds" > /dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/a.xml" > /dev/null && break; sleep 0.1; done

cat > "$WORK/rafid.toml" <<TOML
[storage]
path = "$WORK/state"
[[feed]]
url = "http://127.0.0.1:$PORT/a.xml"
TOML
"$RAFID" -c "$WORK/rafid.toml" poll-once > /dev/null
before="$("$RAFID" -c "$WORK/rafid.toml" export)"

fail=0
chattr -R +i "$WORK/state"
for cmd in "poll-once" "render" "export"; do
    set +e
    # shellcheck disable=SC2086
    out="$("$RAFID" -c "$WORK/rafid.toml" $cmd 2>&1 > /dev/null)"
    rc=$?
    set -e
    if [ "$rc" = 2 ] && grep -q "$WORK/state" <<< "$out"; then
        echo "PASS: $cmd on a read-only state directory: exit 2, names the path: $(head -c 200 <<< "$out")"
    else
        echo "FAIL: $cmd on a read-only state directory: exit $rc: $out"
        fail=1
    fi
done
chattr -R -i "$WORK/state"

after="$("$RAFID" -c "$WORK/rafid.toml" export)"
if [ "$before" = "$after" ] && "$RAFID" -c "$WORK/rafid.toml" store check > /dev/null; then
    echo "PASS: the store is intact afterwards (same export, store check clean)"
else
    echo "FAIL: the store changed or does not check clean"
    fail=1
fi
[ "$fail" = 0 ] && echo "check-readonly: passed" || { echo "check-readonly: FAILED"; exit 1; }
