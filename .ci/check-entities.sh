#!/usr/bin/env bash
# check-entities.sh — entity-heavy documents cost little CPU, starve no healthy
# feed and never hold up a stop.
#
# Generates at run time, and serves on 127.0.0.1 beside one small healthy feed:
#   - /quadratic.xml: RSS of about 4.9 MB whose internal DTD declares 40,000
#     empty entities (<!ENTITY eN "">), followed by 400,000 references to an
#     undeclared one (&zzzzzzzz;);
#   - /quadratic-16m.xml: the same pattern grown to 16 MiB (130,000
#     declarations, references up to the size).
# Then checks that:
#   - `rafid poll-once` on each document alone costs under 1 s of CPU (user +
#     system, GNU time) and either stores it or lists it as failed with a
#     message naming the entities;
#   - a daemon polling both documents and the healthy feed every second
#     (max_interval 4s, so the documents keep coming back) for 10 s keeps the
#     healthy feed on time: at least 5 successful polls, the last one under
#     3 s old, its item served in /feed.json; each document shows its error
#     in /status; and the daemon's CPU time over the run (from /proc) stays
#     under 1 s per document fetch plus 1 s;
#   - SIGTERM sent just after a document has been sent to the daemon (its
#     ingest in progress) ends the daemon within 5 s.
#
# usage: .ci/check-entities.sh   (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory for inspection.
# Exit status: 0 pass, 1 a check failed, 2 the check could not run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-entities
GNU_TIME=/usr/bin/time

CPU_LIMIT_MS=1000        # per document
RUN_S=10                 # how long the daemon polls before it is judged
STOP_LIMIT_MS=5000       # SIGTERM to exit
KILL_AFTER_S=120         # a poll-once still running then is killed

ci_need_rafid
[ -x "$GNU_TIME" ] && "$GNU_TIME" -v true 2>/dev/null || die 2 "GNU time missing at $GNU_TIME (Debian package 'time')"
command -v curl > /dev/null || die 2 "curl missing"
ci_workdir

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

echo "== documents"
mkdir -p "$WORK/www"
python3 - "$WORK/www" <<'EOF'
import sys
out = sys.argv[1]

def entity_doc(path, decls, refs=None, size=None):
    head = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [\n']
    head += ['<!ENTITY e%d "">\n' % i for i in range(decls)]
    head.append(']>\n<rss version="2.0"><channel><title>entities</title>'
                '<link>https://entities.example/</link>'
                '<item><guid>e1</guid><title>entities</title><description>')
    tail = '</description></item></channel></rss>\n'
    head = ''.join(head)
    ref = '&zzzzzzzz;'
    if refs is None:
        refs = (size - len(head) - len(tail)) // len(ref)
    doc = head + ref * refs + tail
    with open(out + '/' + path, 'w', encoding='utf-8') as f:
        f.write(doc)
    print('%s: %d declarations, %d references, %d bytes' % (path, decls, refs, len(doc)))

entity_doc('quadratic.xml', 40000, refs=400000)
entity_doc('quadratic-16m.xml', 130000, size=16 << 20)
with open(out + '/healthy.xml', 'w', encoding='utf-8') as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            '<title>healthy</title><link>https://healthy.example/</link>'
            '<item><guid>h1</guid><title>خبر سليم في وقته</title>'
            '<link>https://healthy.example/1</link></item></channel></rss>\n')
EOF

echo "== server"
# A plain file server that logs `SENT /path` once a body has been written.
python3 - "$WORK/www" > "$WORK/server.out" 2> "$WORK/server.log" <<'EOF' &
import http.server, sys, functools

class Handler(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, src, dst):
        super().copyfile(src, dst)
        dst.flush()
        print("SENT %s" % self.path, file=sys.stderr, flush=True)

    def log_message(self, *args):
        pass

    def send_header(self, key, value):
        # No Last-Modified: every poll fetches the whole document again.
        if key.lower() != "last-modified":
            super().send_header(key, value)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
EOF
ci_track $!
wait_line "$WORK/server.out" 's/^PORT \([0-9]*\)$/\1/p' $! || { cat "$WORK/server.log" >&2; die 2 "server did not start"; }
BASE="http://127.0.0.1:$LINE"
echo "serving at $BASE"
DOCS=(/quadratic.xml /quadratic-16m.xml)

# config FILE DATA FEED...: a config polling FEEDs every second.
config() {
    local file="$1" data="$2"; shift 2
    {
        printf '[storage]\npath = "%s"\n\n' "$data"
        printf '[server]\nlisten = "127.0.0.1:0"\n\n'
        printf '[poll]\ninterval = "1s"\nmin_interval = "1s"\nmax_interval = "4s"\n'
        printf 'timeout = "10s"\nmax_body = "32MiB"\n'
        for f in "$@"; do printf '\n[[feed]]\nurl = "%s%s"\n' "$BASE" "$f"; done
    } > "$file"
    "$RAFID" -c "$file" check > /dev/null
}

echo "== poll-once, one document at a time"
for d in "${DOCS[@]}"; do
    name="${d#/}"
    config "$WORK/$name.toml" "$WORK/data-$name" "$d"
    rc=0
    "$GNU_TIME" -f '%U %S' -o "$WORK/$name.time" timeout -k 5 "$KILL_AFTER_S" \
        "$RAFID" -c "$WORK/$name.toml" poll-once > "$WORK/$name.out" 2> "$WORK/$name.err" || rc=$?
    read -r user sys < <(tail -1 "$WORK/$name.time")
    cpu_ms=$(python3 -c "print(round(($user + $sys) * 1000))" 2>/dev/null || echo 999999)
    cat "$WORK/$name.out"
    echo "$name: exit status $rc, CPU ${user}s user + ${sys}s system"
    if [ "$rc" = 0 ] && [ "$cpu_ms" -lt "$CPU_LIMIT_MS" ]; then
        pass "$name: poll-once costs $(secs "$cpu_ms") s of CPU (< $(secs $CPU_LIMIT_MS) s)"
    else
        fail "$name: poll-once exit status $rc, $(secs "$cpu_ms") s of CPU (want 0, < $(secs $CPU_LIMIT_MS) s)"
    fi
    if grep -q "^failed: $BASE$d: .*entit" "$WORK/$name.out" \
        || grep -q "^items new: [1-9]" "$WORK/$name.out"; then
        pass "$name: stored, or refused with a message naming the entities"
    else
        fail "$name: neither stored nor refused for its entities"
    fi
done

echo "== daemon: both documents and a healthy feed, every second, for ${RUN_S} s"
config "$WORK/daemon.toml" "$WORK/data-daemon" /healthy.xml "${DOCS[@]}"
start_daemon "$WORK/daemon.toml" "$WORK/daemon.err"
CLK_TCK="$(getconf CLK_TCK)"
cpu_of() { awk -v t="$CLK_TCK" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"; }
sent_before="$(grep -c '^SENT /quadratic' "$WORK/server.log" || true)"
sleep "$RUN_S"
DAEMON_CPU_MS="$(cpu_of "$DAEMON_PID")"
curl -sf "http://$LISTEN/status" > "$WORK/status.json" || echo '{"feeds": []}' > "$WORK/status.json"
curl -sf "http://$LISTEN/feed.json" > "$WORK/feed.json" || echo '{"items": []}' > "$WORK/feed.json"
FETCHES=$(( $(grep -c '^SENT /quadratic' "$WORK/server.log" || true) - sent_before ))
echo "daemon CPU $(secs "$DAEMON_CPU_MS") s; the documents were fetched $FETCHES times"
python3 - "$WORK" "$BASE" > "$WORK/verdicts.txt" <<'EOF' || echo "RESULT FAIL the verdict script exited $?" >> "$WORK/verdicts.txt"
import datetime, json, sys
work, base = sys.argv[1], sys.argv[2]
feeds = {f["url"]: f for f in json.load(open(work + "/status.json"))["feeds"]}
items = json.load(open(work + "/feed.json")).get("items", [])
now = datetime.datetime.now(datetime.timezone.utc)

def result(ok, what):
    print("RESULT %s %s" % ("PASS" if ok else "FAIL", what))

h = feeds.get(base + "/healthy.xml", {})
polls, last = h.get("polls", 0), h.get("last_success")
age = (now - datetime.datetime.fromisoformat(last.replace("Z", "+00:00"))).total_seconds() if last else None
print("healthy feed: %d polls, last success %s s ago, last error %r" % (
    polls, "%.1f" % age if age is not None else "never", h.get("last_error")))
result(polls >= 5 and age is not None and age < 3,
       "the healthy feed is polled on time (%d polls in the run, >= 5; last success < 3 s ago)" % polls)
result(any(i.get("title") == "خبر سليم في وقته" for i in items),
       "the healthy feed's item is served in /feed.json")
for d in ("/quadratic.xml", "/quadratic-16m.xml"):
    f = feeds.get(base + d, {})
    err = f.get("last_error") or ""
    print("%s: %d polls, %d failures in a row, last error %r" % (
        d, f.get("polls", 0), f.get("consecutive_failures", 0), err[:160]))
    result(f.get("items", 0) > 0 or "entit" in err,
           "%s: stored, or its error in /status names the entities" % d)
EOF
ci_results "$WORK/verdicts.txt"
CPU_BUDGET_MS=$(( FETCHES * CPU_LIMIT_MS + 1000 ))
if [ "$FETCHES" -ge 2 ] && [ "$DAEMON_CPU_MS" -lt "$CPU_BUDGET_MS" ]; then
    pass "daemon CPU $(secs "$DAEMON_CPU_MS") s for $FETCHES document fetches (< 1 s each + 1 s)"
else
    fail "daemon CPU $(secs "$DAEMON_CPU_MS") s for $FETCHES document fetches (want >= 2 fetches, < 1 s each + 1 s)"
fi

echo "== SIGTERM while a document is being ingested"
sent="$(grep -c '^SENT /quadratic' "$WORK/server.log" || true)"
waited=0
while [ "$(grep -c '^SENT /quadratic' "$WORK/server.log" || true)" = "$sent" ] && [ "$waited" -lt 100 ]; do
    sleep 0.05
    waited=$((waited + 1))
done
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
rc=0
while kill -0 "$DAEMON_PID" 2>/dev/null && [ $(( $(now_ms) - t0 )) -lt $((STOP_LIMIT_MS + 10000)) ]; do
    sleep 0.05
done
STOP_MS=$(( $(now_ms) - t0 ))
if kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -9 "$DAEMON_PID" 2>/dev/null || true
fi
wait "$DAEMON_PID" 2>/dev/null || rc=$?
DAEMON_PID=""
echo "stop took $(secs "$STOP_MS") s, exit status $rc"
if [ "$STOP_MS" -lt "$STOP_LIMIT_MS" ] && [ "$rc" = 0 ]; then
    pass "SIGTERM during an ingest: exit status 0 within $(secs "$STOP_MS") s (< $(secs $STOP_LIMIT_MS) s)"
else
    fail "SIGTERM during an ingest: exit status $rc after $(secs "$STOP_MS") s (want 0 within $(secs $STOP_LIMIT_MS) s)"
    echo "--- daemon log (tail)"; tail -10 "$WORK/daemon.err"
fi

ci_summary
