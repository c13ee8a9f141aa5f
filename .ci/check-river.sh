#!/usr/bin/env bash
# check-river.sh — the republished outputs behind a reverse proxy with a path
# prefix, read by real feed readers page by page, and the river page rendered
# by headless Chromium.
#
# Serves the fixture feeds in .ci/fixtures/river/ (Arabic RSS whose item HTML
# carries script payloads, English Atom; one story is in both), runs
# `rafid run` with output.max_items = 3 behind nginx at /river/ (base_url
# http://127.0.0.1:PORT/river/), and checks that:
#   - following rel="next" from /feed.atom, /feed.rss, /feed.json and one tag's
#     feeds walks every story exactly once, every link staying under /river/;
#   - feedparser (no bozo), newsboat and sfeed read every page of the Atom and
#     RSS feeds, main and tag, with the expected items and byte-identical titles;
#   - Chromium renders / with every item, Arabic items as dir="rtl" lang="ar",
#     the "also reported by" line on the merged story, and no script from any
#     feed ran (a control page proves this Chromium runs scripts and that the
#     check would see it);
#   - `rafid render --format html` after the daemon stops prints the bytes / served.
# Screenshots (phone and desktop width) are left in $SHOTS (default
# /tmp/rafid-river-shots) for people to look at.
#
# usage: .ci/check-river.sh      (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-river
FIXTURES="$ROOT/.ci/fixtures/river"
SHOTS="${SHOTS:-/tmp/rafid-river-shots}"
ci_need_rafid
ci_need_debs chromium nginx curl
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
ci_workdir

echo "== serving the fixtures"
mkdir -p "$WORK/www"
cp "$FIXTURES/ar.xml" "$FIXTURES/en.atom" "$WORK/www/"
serve_corpus "$WORK/www"
FEED_BASE="$SERVED_URL"

echo "== rafid behind nginx at /river/"
RPORT="$(free_port)"
NPORT="$(free_port)"
PUBLIC="http://127.0.0.1:$NPORT/river/"
cat > "$WORK/rafid.toml" <<EOF
[server]
listen = "127.0.0.1:$RPORT"
base_url = "$PUBLIC"

[storage]
path = "$WORK/data"

[poll]
interval = "10s"
min_interval = "1s"

[output]
title = "نهر الاختبار"
max_items = 3

[[feed]]
url = "${FEED_BASE}ar.xml"
tags = ["ar", "news"]

[[feed]]
url = "${FEED_BASE}en.atom"
tags = ["news"]
EOF
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$NPORT;
        location /river/ { proxy_pass http://127.0.0.1:$RPORT/; }
    }
}
EOF
"$RAFID" -c "$WORK/rafid.toml" check
start_daemon "$WORK/rafid.toml" "$WORK/rafid.log"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2> "$WORK/nginx/stderr" &
ci_track $!

ready=0
for _ in $(seq 60); do
    if curl -fsS -o "$WORK/status.json" "${PUBLIC}status" 2>/dev/null \
        && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if all(f.get("last_success") for f in s["feeds"]) else 1)' "$WORK/status.json"; then
        ready=1; break
    fi
    sleep 0.5
done
sleep 1   # the outputs are re-rendered shortly after a poll
if [ "$ready" = 1 ]; then pass "daemon polled both feeds (through the proxy)"; else fail "daemon ready within 30 s"; tail -20 "$WORK/rafid.log"; fi

echo "== paging: every story once, every link under the prefix"
# Walks the JSON Feed pages of each scope (next_url), writes each page's
# titles to WORK/pages/SCOPE.N.titles, and checks the titles against the
# fixtures byte for byte.
mkdir -p "$WORK/pages"
ci_check "paging walks every story once under $PUBLIC" \
    python3 - "$PUBLIC" "$WORK/pages" "$FIXTURES" "$FEED_BASE" <<'EOF'
import json, re, sys, urllib.request, xml.etree.ElementTree as ET
public, out, fixtures, sources = sys.argv[1:5]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
A = "{http://www.w3.org/2005/Atom}"
ar_titles = [t.text for t in ET.parse(fixtures + "/ar.xml").getroot().iter("item") for t in t.iter("title")]
en_titles = [e.findtext(A + "title") for e in ET.parse(fixtures + "/en.atom").getroot().iter(A + "entry")]
fixture = set(ar_titles) | set(en_titles)
want = {"feed": 7, "tags/ar": 5, "tags/news": 7}
bad = 0
for scope, n in want.items():
    url, titles, page = public + scope + ".json", [], 0
    while url:
        if not url.startswith(public):
            print("  %s: link %s leaves %s" % (scope, url, public)); bad += 1; break
        doc = json.load(opener.open(url))
        t = [i["title"] for i in doc["items"]]
        open("%s/%s.%d.titles" % (out, scope.replace("/", "_"), page), "w", encoding="utf-8").write("\n".join(t) + "\n")
        titles += t
        url, page = doc.get("next_url"), page + 1
        if page > 10: print("  %s: paging does not end" % scope); bad += 1; break
    if len(titles) != n or len(set(titles)) != n:
        print("  %s: %d titles (%d distinct), want %d" % (scope, len(titles), len(set(titles)), n)); bad += 1
    for t in titles:
        if t not in fixture:
            print("  %s: title %r is not byte-identical to any fixture title" % (scope, t)); bad += 1
    for t in ar_titles:
        if scope != "tags/ar" and t not in titles and "Smart" not in t:
            print("  %s: %r missing" % (scope, t)); bad += 1
    print("  %s: %d pages, %d stories" % (scope, page, len(titles)))
# Every href and link in the Atom, RSS and HTML of the main scope stays under the prefix
# or points at an outlet (the source feeds are on 127.0.0.1 here too).
for path in ("feed.atom", "feed.rss", ""):
    body = opener.open(public + path).read().decode()
    for u in re.findall(r'(?:href|src)="([^"]+)"', body):
        if u.startswith("http://127.0.0.1") and not u.startswith((public, sources)):
            print("  %s: link %s outside the prefix" % (path or "/", u)); bad += 1
sys.exit(1 if bad else 0)
EOF

echo "== feed readers on every page"
# Atom and RSS pages of the main feed and of one tag, found by rel="next".
pages_of() { # URL -> page URLs, one a line
    python3 - "$1" <<'EOF'
import re, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
url, n = sys.argv[1], 0
while url and n < 10:
    print(url)
    body = opener.open(url).read().decode()
    m = re.search(r'<(?:atom:)?link rel="next"[^>]*href="([^"]+)"', body)
    url, n = (m.group(1).replace("&amp;", "&") if m else None), n + 1
EOF
}
for scope in feed tags/ar; do
    for ext in atom rss; do
        i=0
        while read -r url; do
            titles="$WORK/pages/${scope//\//_}.$i.titles"
            count="$(grep -c . "$titles" || true)"
            echo "-- check-feed-clients $url ($count items)"
            if "$TOOLS/check-feed-clients" --require-all --timeout 30 --expect-count "$count" --expect-titles "$titles" "$url"; then
                pass "clients read $url"
            else
                fail "clients read $url"
            fi
            i=$((i + 1))
        done < <(pages_of "$PUBLIC$scope.$ext")
        [ "$i" -ge 2 ] || fail "$scope.$ext has more than one page (got $i)"
    done
done

echo "== the river page in Chromium"
CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --no-first-run
        --user-data-dir="$WORK/chrome")
# The control: a page whose own script marks the document. If Chromium did
# not run it, or the check below could not see the mark, this fails.
printf '<!DOCTYPE html><html><body><p>control</p><script>document.documentElement.setAttribute("data-pwned","control")</script></body></html>\n' > "$WORK/control.html"
timeout 90 "${CHROME[@]}" --dump-dom "file://$WORK/control.html" > "$WORK/control.dom" 2> "$WORK/chrome-control.log" || true
timeout 90 "${CHROME[@]}" --dump-dom "$PUBLIC" > "$WORK/river.dom" 2> "$WORK/chrome.log" || true
curl -fsS -o "$WORK/river.html" "$PUBLIC" || true
if python3 - "$WORK/control.dom" "$WORK/river.dom" <<'EOF'
import sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.text = [], [], {}
    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.cur = len(self.tags) - 1
        if tag == "article": self.stack.append(self.cur)
    def handle_endtag(self, tag):
        if tag == "article" and self.stack: self.stack.pop()
    def handle_data(self, data):
        if self.stack: self.text[self.stack[-1]] = self.text.get(self.stack[-1], "") + data

def dom(path):
    d = Dom(); d.feed(open(path, encoding="utf-8").read()); return d

def pwned(d):
    return [a["data-pwned"] for _, a in d.tags if "data-pwned" in a]

control, river = dom(sys.argv[1]), dom(sys.argv[2])
bad = 0
if pwned(control) != ["control"]:
    print("  control page: script did not run or was not seen (%r)" % pwned(control)); bad += 1
if pwned(river):
    print("  river page: script from a feed ran: %r" % pwned(river)); bad += 1
arts = [(i, a) for i, (t, a) in enumerate(river.tags) if t == "article"]
print("  %d articles rendered" % len(arts))
if len(arts) != 3:
    print("  want 3 articles (output.max_items)"); bad += 1
ar = [a for i, a in arts if a.get("lang") == "ar"]
if not ar or any(a.get("dir") != "rtl" for a in ar):
    print("  Arabic articles without dir=rtl: %r" % ar); bad += 1
en = [a for i, a in arts if a.get("lang", "").startswith("en")]
if any(a.get("dir") != "ltr" for a in en):
    print("  English articles not ltr: %r" % en); bad += 1
scripts = [a for t, a in river.tags if t == "script"]
if [s.get("type") for s in scripts] != ["application/ld+json"]:
    print("  scripts on the page: %r" % scripts); bad += 1
for t, a in river.tags:
    for k in a:
        if k.startswith("on"):
            print("  handler %s on <%s>" % (k, t)); bad += 1
sys.exit(1 if bad else 0)
EOF
then pass "Chromium: every item, Arabic right to left, no feed script ran (control ran)"; else fail "Chromium DOM check"; head -5 "$WORK/chrome.log"; fi
# The merged story sits on page 3 of the main river at max_items = 3; its
# "also reported by" line, on the page that holds it, must name the outlet
# not shown (whichever of the two is) and link to that outlet's copy.
ci_check "the merged story names the other outlet and links to its copy" \
    python3 - "$PUBLIC" <<'EOF'
import re, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
AR = ("جريدة الضفتين", "مؤتمر «Smart Cities» يناقش النقل العام")
EN = ("Two Banks Herald", "Conference on public transport opens")
LINK = "https://shared.example/2024/transport-conference"
url = sys.argv[1]
for _ in range(10):
    body = opener.open(url).read().decode()
    also = [a for a in re.findall(r"<article\b.*?</article>", body, re.S) if 'class="also"' in a]
    if also:
        article = also[0]
        line = article.split('class="also">', 1)[1].split("</p>", 1)[0]
        print("  also reported by line: %s" % re.sub("<[^>]+>", "", line))
        shown, other = (AR, EN) if AR[1] in article else (EN, AR)
        if shown[1] not in article:
            sys.exit("  the merged article shows neither fixture headline")
        got = re.findall(r'<a class="source" href="([^"]+)"><bdi>([^<]*)</bdi></a>', line)
        want = [(LINK, other[0])]
        if got != want:
            sys.exit("  the line names %r, want %r" % (got, want))
        sys.exit(0)
    m = re.search(r'<link rel="next" href="([^"]+)"', body)
    if not m: break
    url = m.group(1).replace("&amp;", "&")
sys.exit("  no page holds an \"also reported by\" line")
EOF
mkdir -p "$SHOTS"
timeout 90 "${CHROME[@]}" --window-size=412,1400 --screenshot="$SHOTS/river-phone.png" "$PUBLIC" > /dev/null 2>&1 || true
timeout 90 "${CHROME[@]}" --window-size=1280,1000 --screenshot="$SHOTS/river-desktop.png" "$PUBLIC" > /dev/null 2>&1 || true
if [ -s "$SHOTS/river-phone.png" ]; then pass "screenshots in $SHOTS"; else fail "screenshot of the river page"; fi

echo "== render --format html after stop"
ci_stop "$DAEMON_PID"
if "$RAFID" -c "$WORK/rafid.toml" render --format html > "$WORK/render.html" && cmp -s "$WORK/render.html" "$WORK/river.html"; then
    pass "rafid render --format html prints the bytes / served"
else
    fail "rafid render --format html prints the bytes / served"
fi

ci_summary
