#!/usr/bin/env bash
# check-screens.sh — screenshots of the river page as people see it: an
# Arabic river and an English one, each at phone (412 px) and desktop
# (1280 px) width, taken by headless Chromium from the release binary
# serving the fixture feeds of .ci/fixtures/screens/.
#
# Checks that:
#   - each screenshot exists and is a real picture (a PNG of the asked
#     width, not a few bytes of blank);
#   - the DOM Chromium built says <html lang="ar" dir="rtl"> for the Arabic
#     page and <html lang="en" dir="ltr"> for the English one, with the
#     page's words in its language, day headings, and the list of sections
#     folded (<details> without open);
#   - the private river of each config is named on neither page.
# The screenshots stay in target/screens/ (SCREENS= overrides) for people to
# look at: ar-412.png, ar-1280.png, en-412.png, en-1280.png.
#
# usage: .ci/check-screens.sh      (needs target/release/rafid; RAFID=path overrides)
# env:   KEEP=1 keeps the work directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-screens
FIXTURES="$ROOT/.ci/fixtures/screens"
SCREENS="${SCREENS:-$ROOT/target/screens}"
ci_need_rafid
ci_need_debs chromium curl
ci_workdir

echo "== serving the fixtures"
serve_http "$FIXTURES"
FEEDS="${SERVED_URL%/}"

# start NAME CONFIG-BODY: runs `rafid run` on its own port (left in PORT)
# and store.
start() {
    local name="$1" body="$2"
    PORT="$(free_port)"
    mkdir -p "$WORK/$name"
    cat > "$WORK/$name/rafid.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
base_url = "http://127.0.0.1:$PORT/"
[storage]
path = "$WORK/$name/data"
$body
EOF
    "$RAFID" -c "$WORK/$name/rafid.toml" check > /dev/null
    start_daemon "$WORK/$name/rafid.toml" "$WORK/$name/log"
}

echo "== two rivers: Arabic (Asia/Riyadh) and English (Europe/London)"
start ar "
[output]
title = \"رافد — نشرة الأخبار\"
timezone = \"Asia/Riyadh\"
[[feed]]
url = \"$FEEDS/ar-agency.xml\"
interval = \"2s\"
tags = [\"سياسة\", \"اقتصاد\", \"رياضة\", \"ثقافة\"]
[[feed]]
url = \"$FEEDS/ar-daily.xml\"
interval = \"2s\"
tags = [\"اقتصاد\", \"تعليم\", \"محليات\"]
[[river]]
name = \"economy\"
title = \"الاقتصاد\"
tags = [\"اقتصاد\"]
keep = { any = [\"النفط\", \"البنك\"] }
[[river]]
name = \"newsroom\"
title = \"غرفة التحرير\"
token = \"screens-secret\"
"
AR_PORT=$PORT
start en "
[output]
title = \"rafid — the news\"
timezone = \"Europe/London\"
page_content = \"full\"
[[feed]]
url = \"$FEEDS/en-wire.atom\"
interval = \"2s\"
tags = [\"world\", \"business\", \"culture\", \"local news\"]
[[river]]
name = \"markets\"
title = \"Markets\"
keep = { any = [\"markets\", \"bank\"] }
[[river]]
name = \"newsroom\"
token = \"screens-secret\"
"
EN_PORT=$PORT

# Ready once every feed has been polled and the page shows its items (the
# feeds' pinned 2 s interval makes the first polls come within 2 s).
ready() { # PORT COUNT
    for _ in $(seq 150); do
        if [ "$(curl -fsS "http://127.0.0.1:$1/" 2>/dev/null | grep -c '<article')" -ge "$2" ]; then return 0; fi
        sleep 0.2
    done
    return 1
}
if ready "$AR_PORT" 6; then pass "the Arabic river shows its 6 stories"; else fail "the Arabic river shows its 6 stories"; tail -5 "$WORK/ar/log"; fi
if ready "$EN_PORT" 5; then pass "the English river shows its 5 stories"; else fail "the English river shows its 5 stories"; tail -5 "$WORK/en/log"; fi

echo "== screenshots"
mkdir -p "$SCREENS"
chrome() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$(mktemp -d "$WORK/chrome.XXXXXX")" "$@"
}
for lang in ar en; do
    port=$AR_PORT; [ "$lang" = en ] && port=$EN_PORT
    for width in 412 1280; do
        shot="$SCREENS/$lang-$width.png"
        rm -f "$shot"
        chrome --window-size="$width,2000" --screenshot="$shot" "http://127.0.0.1:$port/" > "$WORK/chrome-$lang-$width.log" 2>&1 || true
        # A PNG of the asked width, and more than a blank page's few bytes.
        if python3 - "$shot" "$width" <<'EOF'
import struct, sys
path, width = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert w == width, "width %d, want %d" % (w, width)
assert len(data) > 20000, "only %d bytes: a blank page?" % len(data)
print("  %s: %dx%d, %d bytes" % (path, w, h, len(data)))
EOF
        then pass "screenshot $lang at $width px"; else fail "screenshot $lang at $width px"; tail -3 "$WORK/chrome-$lang-$width.log"; fi
    done
    chrome --dump-dom "http://127.0.0.1:$port/" > "$WORK/$lang.dom" 2> "$WORK/chrome-$lang-dom.log" || true
done

echo "== the pages' language, direction, words and folded navigation"
if python3 - "$WORK/ar.dom" "$WORK/en.dom" <<'EOF'
import re, sys
ar, en = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
bad = 0
def want(ok, what):
    global bad
    if not ok:
        print("  " + what); bad += 1
want(re.search(r'<html[^>]*\blang="ar"[^>]*\bdir="rtl"', ar), "Arabic page: no <html lang=\"ar\" dir=\"rtl\">")
want(re.search(r'<html[^>]*\blang="en"[^>]*\bdir="ltr"', en), "English page: no <html lang=\"en\" dir=\"ltr\">")
for word in ("كل الأخبار", "الأقسام والخلاصات", "أوردته أيضًا", "الاثنين 2 مارس 2026", "الأحد 1 مارس 2026"):
    want(word in ar, "Arabic page lacks %r" % word)
for word in ("Everything", "Sections and feeds", "Monday, 2 March 2026", "Sunday, 1 March 2026"):
    want(word in en, "English page lacks %r" % word)
want("Everything" not in ar and "Subscribe" not in ar, "English words on the Arabic page")
want("كل الأخبار" not in en, "Arabic words on the English page")
# Times in the page's zone: 21:40 UTC is 00:40 in Riyadh, on the 3rd.
want("00:40 +03" in ar and "الثلاثاء 3 مارس 2026" in ar, "Arabic page: times not in Asia/Riyadh")
want("19:30 GMT" in en, "English page: times not in Europe/London")
for name, dom in (("Arabic", ar), ("English", en)):
    want(re.search(r"<details>\s*<summary>", dom) and "<details open" not in dom,
         "%s page: the sections are not folded" % name)
    want("newsroom" not in dom and "screens-secret" not in dom, "%s page names the private river" % name)
want('class="content"' in en, "English page: page_content = \"full\" shows no content")
sys.exit(1 if bad else 0)
EOF
then pass "lang/dir, words, day headings in the time zone, folded navigation, no private river"; else fail "page DOM checks"; fi

echo
echo "screenshots: $SCREENS"
ci_summary
