#!/usr/bin/env python3
"""hostile_server.py -- a feed server that misbehaves on purpose, for .ci/check-faults.sh.

Usage:
    hostile_server.py [--port N] [--manifest FILE] [--lifetime SECONDS]

Listens on 127.0.0.1 (port 0, the default, picks a free one) and prints
`PORT <n>` on stdout once every response is ready to be served. Threaded: every
connection has its own thread, so one stalled request never delays another.

Faults (one path each):
  /hang             reads the request, never answers
  /drip             sends the headers, then one byte of a feed per second, forever
  /huge-length      200, a 2 GiB feed-like body streamed, with Content-Length
  /huge-chunked     the same, chunked (no Content-Length)
  /huge-eof         the same, neither length nor chunks: the body ends when the connection does
  /gzip-bomb        Content-Encoding: gzip, ~1 MB on the wire, 1 GiB once decompressed
  /redirect-loop    302 -> /redirect-loop-b -> 302 -> /redirect-loop ...
  /redirect-self    302 to itself
  /redirect-many    a chain of 10 redirects that ends in a valid feed
  /500              always HTTP 500
  /html             an HTML page, 200
  /empty            200 with an empty body
  /billion-laughs   RSS whose DTD nests entities lol1..lol9 (10^9 "lol" if expanded)
Feeds that must be read:
  /ok/1.xml .. /ok/4.xml   small valid RSS 2.0 and Atom feeds
  /redirect-few            3 redirects, then a valid feed
  /redirect-five           5 redirects (the most rafid promises to follow), then a valid feed
  /slow-headers            waits 3 s before the status line, then a valid feed
  /invalid-utf8            RSS declared UTF-8 with invalid byte sequences in its titles
  /wrong-charset           RSS in windows-1256 (declared so in the XML) served as charset=utf-8

--manifest FILE writes, as JSON, what a reader of each feed should find:
{"base": URL, "healthy": {path: [titles]}, "never_reached": [titles behind /redirect-many],
"invalid_utf8": {"raw": [title bytes as latin-1], "lossy": [titles decoded with U+FFFD]},
"wrong_charset": [titles as written], "gzip_bomb_wire_bytes": N}.
Every request is logged to stderr as one line `REQ {json}` when it ends, with
the bytes sent and how it ended. The server exits on SIGTERM, when its parent
process goes away, or after --lifetime seconds (default 900). Stdlib only.
"""
import argparse
import datetime
import email.utils
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP = threading.Event()
LOG_LOCK = threading.Lock()
BASE = ""  # http://127.0.0.1:PORT, set in main()

HUGE_SIZE = 2 << 30          # bytes streamed by /huge-*
BOMB_SIZE = 1 << 30          # decompressed bytes of /gzip-bomb
DRIP_INTERVAL = 1.0          # seconds between two bytes of /drip
SLOW_HEADERS_DELAY = 3.0     # seconds before /slow-headers answers


# ---------------------------------------------------------------------------
# Documents

def rss(title, slug, items, encoding="UTF-8"):
    """An RSS 2.0 document (str); items are (title, description) pairs."""
    out = ['<?xml version="1.0" encoding="%s"?>\n<rss version="2.0">\n<channel>\n' % encoding,
           "<title>%s</title>\n<link>%s/%s/</link>\n" % (title, BASE, slug),
           "<description>%s</description>\n" % title]
    for n, (t, d) in enumerate(items, 1):
        out.append("<item>\n<title>%s</title>\n<link>%s/%s/item-%d</link>\n"
                   "<guid isPermaLink=\"false\">%s-item-%d</guid>\n"
                   "<pubDate>%s</pubDate>\n"
                   "<description>%s</description>\n</item>\n"
                   % (t, BASE, slug, n, slug, n,
                      email.utils.format_datetime(datetime.datetime(2025, 6, 2 + n, 9, n, tzinfo=datetime.timezone.utc)),
                      d))
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def atom(title, slug, items):
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n',
           "<title>%s</title>\n<id>urn:rafid-ci:%s</id>\n" % (title, slug),
           '<link href="%s/%s/"/>\n<updated>2025-06-20T12:00:00Z</updated>\n' % (BASE, slug),
           "<author><name>Fault check</name></author>\n"]
    for n, (t, d) in enumerate(items, 1):
        out.append("<entry>\n<title>%s</title>\n<id>urn:rafid-ci:%s:%d</id>\n"
                   '<link href="%s/%s/entry-%d"/>\n<updated>2025-06-%02dT10:00:00Z</updated>\n'
                   "<summary>%s</summary>\n</entry>\n" % (t, slug, n, BASE, slug, n, 10 + n, d))
    out.append("</feed>\n")
    return "".join(out)


# Healthy feeds: (path, kind, feed title, [(item title as written, description)],
# [item titles as a reader must show them]). Every title and text is distinct
# across feeds so that no two items are the same story.
HEALTHY = [
    ("/ok/1.xml", "rss", "Harbour bulletin", [
        ("Ferry timetable changes for the winter season", "The early crossing moves to 06:40."),
        ("Lighthouse keepers' cottage opens as a museum", "Guided visits start on Saturday."),
        ("Fishing quotas for mackerel raised by a tenth", "Boats may land more from next month."),
    ]),
    ("/ok/2.xml", "atom", "Allotment notes", [
        ("Sowing broad beans before the first frost", "Autumn sowings overwinter well."),
        ("Why the rhubarb bolted this year", "A dry spring is the usual cause."),
        ("Compost bins: wood or plastic?", "Both work; wood breathes better."),
        ("Saving tomato seed in five steps", "Ferment the pulp for three days."),
    ]),
    ("/ok/3.xml", "rss", "نشرة المدينة", [
        ("افتتاح مكتبة عامة جديدة في الحي الشرقي", "تفتح المكتبة أبوابها يوم الأحد."),
        ("تمديد ساعات عمل الحافلات خلال شهر رمضان", "تعمل الخطوط حتى الثانية صباحا."),
        ("مهرجان الخط العربي يستقبل زواره للمرة العاشرة", "يشارك فيه خطاطون من عشرين بلدا."),
        ("حملة لزراعة ألف شجرة على ضفاف النهر", "يمكن للمتطوعين التسجيل عبر البلدية."),
        ("طلاب المدارس يفوزون في مسابقة الروبوتات الإقليمية", "صمم الفريق روبوتا لفرز النفايات."),
    ]),
    ("/ok/4.xml", "rss", "Kitchen &amp; pantry", [
        ("Bread &amp; butter pickles, the quick way", "<![CDATA[Slice <b>thin</b>, salt, wait.]]>"),
        ("<![CDATA[Three sauces from one tin of tomatoes]]>", "Passata, arrabbiata, and a soup base."),
    ]),
]
HEALTHY_TITLES = {
    "/ok/1.xml": [t for t, _ in HEALTHY[0][3]],
    "/ok/2.xml": [t for t, _ in HEALTHY[1][3]],
    "/ok/3.xml": [t for t, _ in HEALTHY[2][3]],
    "/ok/4.xml": ["Bread & butter pickles, the quick way", "Three sauces from one tin of tomatoes"],
}
SLOW_ITEMS = [
    ("Night trains return to the coastal line", "Sleeper carriages from May."),
    ("Station clock restored after forty years", "It now keeps time to the second."),
]
REDIRECTED_ITEMS = [
    ("Moved feed: the choir's spring concert programme", "Works by Tallis and Pärt."),
    ("Moved feed: rehearsals now on Thursdays", "Same hall, new day."),
]
FIVE_HOPS_ITEMS = [
    ("Five redirects away: the ferry museum's opening hours", "Open daily except Mondays."),
]
NEVER_REACHED_ITEMS = [
    ("End of a ten-redirect chain (must not be stored)", "A reader that follows ten redirects sees this."),
]

# Invalid UTF-8 in a document that says it is UTF-8; each title keeps ASCII words.
INVALID_UTF8_TITLES = [
    b"Invalid lead byte \xff in a title",
    b"Overlong slash \xc0\xaf is not UTF-8",
    b"Truncated euro sign \xe2\x82 then text",
    b"Lone continuation byte \x80 here",
    b"A clean title among broken ones",
]

WRONG_CHARSET_TITLES = [
    "عنوان مكتوب بترميز ويندوز العربي",
    "الخادم يعلن ترميزا غير صحيح",
]

BILLION_LAUGHS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0">
<channel>
<title>&lol9;</title>
<link>{base}/billion-laughs/</link>
<description>&lol9;</description>
<item>
<title>&lol9;</title>
<link>{base}/billion-laughs/item-1</link>
<description>&lol9;</description>
</item>
</channel>
</rss>
"""

HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Welcome</title></head>
<body><h1>Our new website</h1><p>The feed you are looking for has moved. Maybe.</p></body></html>
"""

DOCS = {}  # path -> (content type, bytes), filled by build_documents()


def build_documents():
    for path, kind, title, items in HEALTHY:
        slug = path.strip("/").replace("/", "-").replace(".xml", "")
        if kind == "rss":
            DOCS[path] = ("application/rss+xml", rss(title, slug, items).encode("utf-8"))
        else:
            DOCS[path] = ("application/atom+xml", atom(title, slug, items).encode("utf-8"))
    DOCS["/slow-headers"] = ("application/rss+xml",
                             rss("Slow railway news", "slow", SLOW_ITEMS).encode("utf-8"))
    DOCS["/redirected.xml"] = ("application/rss+xml",
                               rss("Choir news", "redirected", REDIRECTED_ITEMS).encode("utf-8"))
    DOCS["/five-hops.xml"] = ("application/rss+xml",
                              rss("Museum news", "five-hops", FIVE_HOPS_ITEMS).encode("utf-8"))
    DOCS["/never-reached.xml"] = ("application/rss+xml",
                                  rss("Far away", "never", NEVER_REACHED_ITEMS).encode("utf-8"))
    # Invalid UTF-8: the document is built as bytes so the bad sequences survive.
    doc = rss("Broken bytes", "invalid-utf8",
              [("@TITLE%d@" % i, "Item %d of the invalid UTF-8 feed." % i)
               for i in range(len(INVALID_UTF8_TITLES))]).encode("utf-8")
    for i, t in enumerate(INVALID_UTF8_TITLES):
        doc = doc.replace(b"@TITLE%d@" % i, t)
    DOCS["/invalid-utf8"] = ("application/rss+xml; charset=utf-8", doc)
    # windows-1256 bytes, honestly declared in the XML, but the server says utf-8.
    doc = rss("نشرة بترميز قديم", "wrong-charset",
              [(t, "نص الخبر رقم %d." % n) for n, t in enumerate(WRONG_CHARSET_TITLES, 1)],
              encoding="windows-1256")
    DOCS["/wrong-charset"] = ("application/rss+xml; charset=utf-8", doc.encode("cp1256"))
    DOCS["/billion-laughs"] = ("application/rss+xml",
                               BILLION_LAUGHS.replace("{base}", BASE).encode("utf-8"))
    DOCS["/html"] = ("text/html; charset=utf-8", HTML_PAGE)
    DOCS["/empty"] = ("application/rss+xml", b"")


def build_gzip_bomb():
    """A single-member gzip stream of an RSS prefix and BOMB_SIZE zero bytes.

    The deflate data of 1 MiB of zeros, ended with a full flush (byte-aligned,
    no reference to earlier data), is repeated; only the CRC needs the whole
    1 GiB, and zlib.crc32 does that in well under a second."""
    prefix = b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>'
    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # the final, empty block
    crc = zlib.crc32(prefix)
    for _ in range(BOMB_SIZE >> 20):
        crc = zlib.crc32(mib, crc)
    total = len(prefix) + BOMB_SIZE
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little")
    bomb = header + head + seg * (BOMB_SIZE >> 20) + tail + trailer
    # Sanity check on the first megabytes: the stream must decompress as gzip.
    d = zlib.decompressobj(31)
    first = d.decompress(bomb[:200_000], 8 << 20)
    assert first.startswith(prefix) and len(first) > (4 << 20), "gzip bomb does not decompress"
    return bomb


# ---------------------------------------------------------------------------
# Handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile/1"

    def log_message(self, fmt, *args):  # the REQ lines replace the default log
        pass

    def do_GET(self):
        self.t0 = time.monotonic()
        self.sent = 0
        path = self.path.split("?", 1)[0]
        ended = "complete"
        try:
            ended = self.route(path) or "complete"
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            ended = "client closed"
        except OSError as e:
            ended = "socket error: %s" % e
        finally:
            rec = {"path": path, "ended": ended, "sent": self.sent,
                   "secs": round(time.monotonic() - self.t0, 2),
                   "accept_encoding": self.headers.get("Accept-Encoding", "")}
            with LOG_LOCK:  # one whole line per request, even from concurrent threads
                sys.stderr.write("REQ " + json.dumps(rec) + "\n")
                sys.stderr.flush()
            self.close_connection = True

    def client_gone(self, wait=0.0):
        """True once the client has closed its end (EOF waiting to be read)."""
        ready, _, _ = select.select([self.connection], [], [], wait)
        return bool(ready) and not self.connection.recv(1, socket.MSG_PEEK)

    def write(self, data):
        self.wfile.write(data)
        self.sent += len(data)

    def head(self, status, headers, reason=None):
        self.send_response(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def doc(self, path):
        ctype, body = DOCS[path]
        self.head(200, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        self.write(body)

    def redirect(self, to):
        self.head(302, [("Location", to), ("Content-Length", "0")])

    def route(self, path):
        if path == "/hang":
            # Never answers; notices only when the client gives up.
            while not STOP.is_set():
                if self.client_gone(0.2):
                    return "client closed"
            return "stopped"
        if path == "/drip":
            self.head(200, [("Content-Type", "application/rss+xml")])
            body = DOCS["/ok/1.xml"][1]
            i = 0
            while not STOP.is_set():
                if self.client_gone():
                    return "client closed"
                self.write(body[i % len(body):i % len(body) + 1])
                self.wfile.flush()
                i += 1
                if self.client_gone(DRIP_INTERVAL):
                    return "client closed"
            return "stopped"
        if path.startswith("/huge-"):
            return self.huge(path[len("/huge-"):])
        if path == "/gzip-bomb":
            self.head(200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", "gzip"),
                            ("Content-Length", str(len(BOMB)))])
            for i in range(0, len(BOMB), 64 << 10):
                self.write(BOMB[i:i + (64 << 10)])
            return None
        if path == "/redirect-loop":
            return self.redirect("/redirect-loop-b")
        if path == "/redirect-loop-b":
            return self.redirect(BASE + "/redirect-loop")
        if path == "/redirect-self":
            return self.redirect("/redirect-self")
        for name, hops, target in (("/redirect-many", 10, "/never-reached.xml"),
                                   ("/redirect-five", 5, "/five-hops.xml"),
                                   ("/redirect-few", 3, "/redirected.xml")):
            if path == name or path.startswith(name + "/"):
                k = int(path[len(name) + 1:] or 0) if path != name else 0
                return self.redirect("%s/%d" % (name, k + 1) if k + 1 < hops else target)
        if path == "/500":
            body = b"Internal Server Error\n"
            self.head(500, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            self.write(body)
            return None
        if path == "/slow-headers":
            if STOP.wait(SLOW_HEADERS_DELAY):
                return "stopped"
            return self.doc(path)
        if path in DOCS:
            return self.doc(path)
        self.head(404, [("Content-Length", "0")])
        return None

    def huge(self, mode):
        """2 GiB of a feed that never ends: an RSS prefix, then items."""
        chunk = "".join("<item><title>Filler item %06d</title><description>%s</description></item>\n"
                        % (n, "x" * 60) for n in range(512)).encode()
        chunk = chunk[:64 << 10].ljust(64 << 10, b" ")
        prefix = b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Huge</title>\n'
        headers = [("Content-Type", "application/rss+xml")]
        if mode == "length":
            headers.append(("Content-Length", str(HUGE_SIZE)))
        elif mode == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        elif mode != "eof":
            self.head(404, [("Content-Length", "0")])
            return None
        self.head(200, headers)
        remaining = HUGE_SIZE
        first = True
        while remaining > 0 and not STOP.is_set():
            data = prefix + chunk[len(prefix):] if first else chunk
            data = data[:remaining]
            first = False
            if mode == "chunked":
                self.wfile.write(b"%x\r\n" % len(data))
                self.write(data)
                self.wfile.write(b"\r\n")
            else:
                self.write(data)
            remaining -= len(data)
        if mode == "chunked" and remaining == 0:
            self.wfile.write(b"0\r\n\r\n")
        return "stopped" if STOP.is_set() else None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def watchdog(parent, lifetime):
    """Exits when the parent process is gone or the lifetime is over."""
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline:
        if os.getppid() != parent:
            break
        time.sleep(0.5)
    STOP.set()
    os._exit(0)


BOMB = b""


def main():
    global BASE, BOMB
    ap = argparse.ArgumentParser(description="a misbehaving feed server on 127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--manifest")
    ap.add_argument("--lifetime", type=float, default=900)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (STOP.set(), os._exit(0)))
    threading.Thread(target=watchdog, args=(os.getppid(), a.lifetime), daemon=True).start()

    srv = Server(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    BASE = "http://127.0.0.1:%d" % port
    build_documents()
    BOMB = build_gzip_bomb()
    if a.manifest:
        healthy = dict(HEALTHY_TITLES)
        healthy["/slow-headers"] = [t for t, _ in SLOW_ITEMS]
        healthy["/redirect-few"] = [t for t, _ in REDIRECTED_ITEMS]
        healthy["/redirect-five"] = [t for t, _ in FIVE_HOPS_ITEMS]
        manifest = {
            "base": BASE,
            "healthy": healthy,
            "never_reached": [t for t, _ in NEVER_REACHED_ITEMS],
            "invalid_utf8": {"raw": [t.decode("latin-1") for t in INVALID_UTF8_TITLES],
                             "lossy": [t.decode("utf-8", "replace") for t in INVALID_UTF8_TITLES]},
            "wrong_charset": WRONG_CHARSET_TITLES,
            "gzip_bomb_wire_bytes": len(BOMB),
        }
        with open(a.manifest, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
    print("PORT %d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    STOP.set()


if __name__ == "__main__":
    sys.exit(main())
