#!/usr/bin/env bash
# check-readonly.sh — a state directory rafid cannot write to gives a clear
# error naming the path (exit 2), and damages nothing already stored; a disk
# that fills while the daemon runs is reported with the path, the daemon keeps
# serving what it has and polls no faster than its interval, and after space is
# freed and rafid restarted, every item comes in and the store checks clean.
#
# Runs as root, for whom permission bits do not stop writes; the directory and
# its files are made immutable with chattr instead (ext4 here), and the full
# disk is a small tmpfs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
command -v chattr > /dev/null || { echo "check-readonly: chattr (e2fsprogs) is needed"; exit 2; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    chattr -R -i "$WORK" 2> /dev/null || true
    [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2> /dev/null || true
    mountpoint -q "$WORK/full" 2> /dev/null && umount "$WORK/full"
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
# --- a disk that fills while the daemon runs -------------------------------
mkdir -p "$WORK/full"
mount -t tmpfs -o size=8m tmpfs "$WORK/full"
DPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$WORK/full.toml" <<TOML
[storage]
path = "$WORK/full/state"
[server]
listen = "127.0.0.1:$DPORT"
[poll]
interval = "1s"
min_interval = "1s"
[[feed]]
url = "http://127.0.0.1:$PORT/a.xml"
TOML
"$RAFID" -c "$WORK/full.toml" run > "$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
count() { curl -sf "http://127.0.0.1:$DPORT/feed.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2> /dev/null || echo 0; }
for _ in $(seq 100); do [ "$(count)" = 2 ] && break; sleep 0.1; done
dd if=/dev/zero of="$WORK/full/filler" bs=64k 2> /dev/null || true
python3 - "$WORK/feeds/a.xml" <<'PY'
import sys
items = "".join(
    f"<item><guid>full-{i}</guid><title>خبر بعد امتلاء القرص {i}</title>"
    f"<link>https://ro.example/full/{i}</link><description>{'نص الخبر ' * 40}</description></item>"
    for i in range(40))
open(sys.argv[1], "w", encoding="utf-8").write(
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>قناة الاختبار</title>'
    '<link>https://ro.example/</link>' + items + "</channel></rss>")
PY
# Python's http.server dates files to the second: make the change visible.
touch -d "+2 seconds" "$WORK/feeds/a.xml"
sleep 6
served="$(count)"
# One outcome line per poll (a failed state save adds a warning line).
polls_while_full="$(grep -cE 'rafid::poll(::failed)?: (not modified|unchanged body|polled|poll failed)' "$WORK/daemon.log" || true)"
if [ "$served" = 2 ]; then
    echo "PASS: with the disk full the daemon still serves the 2 items it had"
else
    echo "FAIL: with the disk full the daemon serves $served items (expected the 2 it had)"
    fail=1
fi
if grep -q "$WORK/full/state/store: .*disk is full" "$WORK/daemon.log"; then
    echo "PASS: the full disk is reported with the store's path and what to do"
else
    echo "FAIL: no error naming the store's path and the full disk in the log"
    fail=1
fi
# About 8 s of running at a 1 s interval: a handful of polls, not a storm.
if [ "$polls_while_full" -le 11 ]; then
    echo "PASS: $polls_while_full polls in ~8 s at a 1 s interval while the store could not write"
else
    echo "FAIL: $polls_while_full polls in ~8 s at a 1 s interval: the feed is hammered"
    fail=1
fi
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
rm -f "$WORK/full/filler"
"$RAFID" -c "$WORK/full.toml" poll-once > /dev/null
after_full="$("$RAFID" -c "$WORK/full.toml" render --format json --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
if [ "$after_full" = 42 ] && "$RAFID" -c "$WORK/full.toml" store check > /dev/null; then
    echo "PASS: after space was freed and rafid restarted: all 42 items stored, store check clean"
else
    echo "FAIL: after space was freed: $after_full items (expected 42) or store check failed"
    fail=1
fi

[ "$fail" = 0 ] && echo "check-readonly: passed" || { echo "check-readonly: FAILED"; exit 1; }
