#!/usr/bin/env bash
# benches/serve.sh — requests per second for the 100-item merged Atom feed
# served by the running daemon, full and 304, beside nginx serving the same
# bytes as a static file, all in the same run on the same machine.
#
# usage: benches/serve.sh                (needs target/release/rafid; RAFID=path overrides)
# env:   DURATION=10s  wrk run length     CONNECTIONS=32  THREADS=2
#        WORKERS=2     nginx worker_processes (match the cores rafid's runtime uses)
#
# Prints one line per run and the ratios rafid/nginx; exit 0 when every run
# completed with no errors and every response had the expected status.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WORKERS="${WORKERS:-2}"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
[ -x "$RAFID" ] || { echo "serve.sh: $RAFID missing (cargo build --release)" >&2; exit 2; }

missing=()
command -v wrk > /dev/null || missing+=(wrk)
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v curl > /dev/null || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" > /dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

WORK="$(mktemp -d /tmp/rafid-bench-serve.XXXXXX)"
# nginx's workers drop root: they must be able to read the static copy.
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A source feed of 100 Arabic items, served by a throwaway Python server.
mkdir -p "$WORK/src" "$WORK/static"
python3 - "$WORK/src/feed.xml" <<'EOF'
import sys
items = []
for i in range(100):
    items.append(
        "<item><guid>bench-%d</guid><link>https://bench.example/n/%d</link>"
        "<title>خبر تجريبي رقم %d عن أحوال الطقس والأسواق</title>"
        "<description>&lt;p&gt;فقرة أولى من الخبر رقم %d، تتبعها &lt;a href=\"/more/%d\"&gt;تفاصيل&lt;/a&gt;.&lt;/p&gt;"
        "&lt;p&gt;فقرة ثانية أطول قليلاً تصف ما جرى وما يُنتظر في الأيام المقبلة.&lt;/p&gt;</description>"
        "<pubDate>Mon, 04 Mar 2024 %02d:%02d:00 GMT</pubDate></item>" % (i, i, i, i, i, i // 60, i % 60))
open(sys.argv[1], "w", encoding="utf-8").write(
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>مصدر القياس</title>'
    "<link>https://bench.example/</link><description>x</description>" + "".join(items) + "</channel></rss>\n")
EOF
SPORT="$(free_port)"
python3 -m http.server "$SPORT" --bind 127.0.0.1 --directory "$WORK/src" > /dev/null 2>&1 &
PIDS+=($!)

RPORT="$(free_port)"
cat > "$WORK/rafid.toml" <<EOF
[server]
listen = "127.0.0.1:$RPORT"
[storage]
path = "$WORK/data"
[poll]
interval = "24h"
[output]
max_items = 100
[[feed]]
url = "http://127.0.0.1:$SPORT/feed.xml"
EOF
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$SPORT/feed.xml" 2>/dev/null && break; sleep 0.1; done
# Stored first, so the daemon starts with the 100 items rendered.
"$RAFID" -q -c "$WORK/rafid.toml" poll-once > "$WORK/poll.log" 2>&1
"$RAFID" -q -c "$WORK/rafid.toml" run > "$WORK/rafid.log" 2>&1 &
PIDS+=($!)
RAFID_URL="http://127.0.0.1:$RPORT/feed.atom"
for _ in $(seq 100); do
    if curl -fsS -o "$WORK/static/feed.atom" "$RAFID_URL" 2>/dev/null \
        && [ "$(grep -c '<entry' "$WORK/static/feed.atom")" = 100 ]; then break; fi
    sleep 0.2
done
[ "$(grep -c '<entry' "$WORK/static/feed.atom")" = 100 ] || { echo "serve.sh: rafid did not publish 100 items" >&2; tail "$WORK/rafid.log"; exit 1; }

NPORT="$(free_port)"
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types { application/atom+xml atom; }
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$NPORT;
        root $WORK/static;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2> "$WORK/nginx/stderr" &
PIDS+=($!)
NGINX_URL="http://127.0.0.1:$NPORT/feed.atom"
for _ in $(seq 50); do curl -fsS -o /dev/null "$NGINX_URL" 2>/dev/null && break; sleep 0.1; done
cmp -s <(curl -fsS "$NGINX_URL") <(curl -fsS "$RAFID_URL") || { echo "serve.sh: nginx and rafid serve different bytes" >&2; exit 1; }

etag_of() { curl -fsS -o /dev/null -D - "$1" | tr -d '\r' | awk 'tolower($1)=="etag:" {print $2}'; }
R_ETAG="$(etag_of "$RAFID_URL")"
N_ETAG="$(etag_of "$NGINX_URL")"
BYTES="$(wc -c < "$WORK/static/feed.atom")"
echo "feed: 100 items, $BYTES bytes; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; nginx worker_processes $WORKERS; $(nproc) cores"

# Counts non-2xx/3xx answers through wrk's Lua hooks, and the 304s.
cat > "$WORK/count.lua" <<'EOF'
local counts = {}
function setup(thread) table.insert(counts, thread) end
function init(args) codes = {} end
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(counts) do
    local c = t:get("codes")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d: %d\n", k, v)) end
end
EOF

declare -A RPS
ok=1
run() { # NAME URL EXPECTED_STATUS [ETAG]
    local name="$1" url="$2" want="$3" etag="${4:-}" out
    if [ -n "$etag" ]; then
        out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/count.lua" -H "If-None-Match: $etag" "$url")"
    else
        out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/count.lua" "$url")"
    fi
    local rps statuses
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")"
    statuses="$(grep '^status ' <<< "$out" | tr '\n' ' ')"
    RPS[$name]="$rps"
    printf '%-14s %12s req/s   %s\n' "$name" "$rps" "$statuses"
    if grep -q 'Socket errors' <<< "$out"; then echo "  $(grep 'Socket errors' <<< "$out")"; fi
    if grep -q 'Non-2xx' <<< "$out"; then echo "  $(grep 'Non-2xx' <<< "$out")"; ok=0; fi
    if [ "$(grep -c '^status ' <<< "$out")" != 1 ] || ! grep -q "^status $want:" <<< "$out"; then
        echo "  expected only status $want"; ok=0
    fi
}
run "nginx full" "$NGINX_URL" 200
run "rafid full" "$RAFID_URL" 200
run "nginx 304" "$NGINX_URL" 304 "$N_ETAG"
run "rafid 304" "$RAFID_URL" 304 "$R_ETAG"

ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
echo "ratio rafid/nginx, full: $(ratio "${RPS[rafid full]}" "${RPS[nginx full]}")"
echo "ratio rafid/nginx, 304:  $(ratio "${RPS[rafid 304]}" "${RPS[nginx 304]}")"
[ "$ok" = 1 ]
