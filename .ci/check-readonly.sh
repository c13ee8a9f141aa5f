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
source "$(dirname "$0")/lib.sh"
ci_init check-readonly
ci_need_rafid
command -v chattr > /dev/null || die 2 "chattr (e2fsprogs) is needed"
ci_workdir
ci_on_exit 'chattr -R -i "$WORK"'
ci_on_exit 'mountpoint -q "$WORK/full" && umount "$WORK/full"'

mkdir -p "$WORK/feeds"
cat > "$WORK/feeds/a.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>قناة الاختبار</title><link>https://ro.example/</link>
<item><guid>ro-1</guid><title>خبر محفوظ قبل القفل</title><link>https://ro.example/1</link></item>
<item><guid>ro-2</guid><title>Stored before the lock</title><link>https://ro.example/2</link></item>
</channel></rss>
XML
serve_http "$WORK/feeds"
FEED="${SERVED_URL}a.xml"

cat > "$WORK/rafid.toml" <<TOML
[storage]
path = "$WORK/state"
[[feed]]
url = "$FEED"
TOML
"$RAFID" -c "$WORK/rafid.toml" poll-once > /dev/null
before="$("$RAFID" -c "$WORK/rafid.toml" export)"

chattr -R +i "$WORK/state"
for cmd in "poll-once" "render" "export"; do
    set +e
    # shellcheck disable=SC2086
    out="$("$RAFID" -c "$WORK/rafid.toml" $cmd 2>&1 > /dev/null)"
    rc=$?
    set -e
    if [ "$rc" = 2 ] && grep -q "$WORK/state" <<< "$out"; then
        pass "$cmd on a read-only state directory: exit 2, names the path: $(head -c 200 <<< "$out")"
    else
        fail "$cmd on a read-only state directory: exit $rc: $out"
    fi
done
chattr -R -i "$WORK/state"

after="$("$RAFID" -c "$WORK/rafid.toml" export)"
ci_check "the store is intact afterwards (same export, store check clean)" \
    eval '[ "$before" = "$after" ] && "$RAFID" -c "$WORK/rafid.toml" store check > /dev/null'

# --- a disk that fills while the daemon runs -------------------------------
mkdir -p "$WORK/full"
mount -t tmpfs -o size=8m tmpfs "$WORK/full"
cat > "$WORK/full.toml" <<TOML
[storage]
path = "$WORK/full/state"
[server]
listen = "127.0.0.1:0"
[poll]
interval = "1s"
min_interval = "1s"
[[feed]]
url = "$FEED"
TOML
start_daemon "$WORK/full.toml" "$WORK/daemon.log"
count() { curl -sf "http://$LISTEN/feed.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2> /dev/null || echo 0; }
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
polls="$(grep -cE 'rafid::(ingest::)?poll(::failed)?: (not modified|unchanged body|polled|poll failed)' "$WORK/daemon.log" || true)"
if [ "$served" = 2 ]; then
    pass "with the disk full the daemon still serves the 2 items it had"
else
    fail "with the disk full the daemon serves $served items (expected the 2 it had)"
fi
ci_check "the full disk is reported with the store's path and what to do" \
    grep -q "$WORK/full/state/store: .*disk is full" "$WORK/daemon.log"
# About 8 s of running at a 1 s interval: the feed keeps being polled while
# the store cannot write (the first poll, then at least MIN_POLLS - 1 more),
# a handful of times, not a storm. No poll line at all means the log's
# format changed under this check: that fails too.
MIN_POLLS=4 MAX_POLLS=11
if [ "$polls" -ge "$MIN_POLLS" ] && [ "$polls" -le "$MAX_POLLS" ]; then
    pass "$polls polls in ~8 s at a 1 s interval while the store could not write ($MIN_POLLS to $MAX_POLLS)"
else
    fail "$polls polls in ~8 s at a 1 s interval while the store could not write (want $MIN_POLLS to $MAX_POLLS)"
    grep -E 'rafid::' "$WORK/daemon.log" | tail -5
fi
ci_stop "$DAEMON_PID"
rm -f "$WORK/full/filler"
"$RAFID" -c "$WORK/full.toml" poll-once > /dev/null
after_full="$("$RAFID" -c "$WORK/full.toml" render --format json --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
ci_check "after space was freed and rafid restarted: all 42 items stored ($after_full), store check clean" \
    eval '[ "$after_full" = 42 ] && "$RAFID" -c "$WORK/full.toml" store check > /dev/null'
ci_summary
