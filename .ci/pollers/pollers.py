#!/usr/bin/env python3
"""Several rafid pollers on one PostgreSQL database, one of them SIGKILLed.

Serves a farm of feeds of its own on three loopback hosts (127.0.0.1-3, one
port), each response held back a little so that requests overlap, and logs
every request with the poller that sent it (each poller has its own
User-Agent). Starts three `rafid run` pollers and one publish-only process
([poll] enabled = false) on the database, SIGKILLs one poller once a
quarter of the feeds were asked for, waits until every feed was polled,
starts the killed poller again, and checks:

- every feed was polled (answered 200);
- no feed was polled twice, but for a feed the killed poller had asked for
  before it died, which another poller may poll once more after the kill;
- no host ever had more than `per_host` requests at once, from all pollers;
- the publish-only process sent no request;
- every process serves the same /feed.atom, byte for byte, holding every
  item of the farm;
- after a clean stop, `rafid store check` passes on every replica and counts
  the farm's unique items.

Prints `RESULT PASS|FAIL what` lines; exit status 0 only if all passed.
"""

import argparse
import collections
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
PER_HOST = 2
# Polls each poller runs at once: as few as per_host, so that every poller
# has to take its share and their requests to one host overlap often.
CONCURRENCY = 2
OWN_ITEMS = 4
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(rng, n=4000):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 7))))
    return sorted(words)


class Farm:
    """The feeds: each has OWN_ITEMS stories of its own and one of a pool of
    shared stories, which three feeds on three hosts carry under one link."""

    def __init__(self, feeds, seed, port):
        rng = random.Random(seed)
        words = vocabulary(rng)
        self.port = port
        self.shared = feeds // 3
        now = int(time.time())

        def text(k):
            return " ".join(rng.choice(words) for _ in range(k))

        stories = []
        for j in range(self.shared):
            stories.append(
                {
                    "link": f"http://{HOSTS[0]}:{port}/story/{j}",
                    "title": text(6),
                    "body": text(80),
                    "at": now - rng.randint(60, 86400),
                }
            )
        self.docs = {}
        self.urls = []
        for i in range(feeds):
            host = HOSTS[i % len(HOSTS)]
            url = f"http://{host}:{port}/feed/{i}.xml"
            self.urls.append(url)
            items = []
            for k in range(OWN_ITEMS):
                items.append(
                    (f"f{i}-{k}", f"http://{host}:{port}/feed/{i}/item/{k}", text(6), text(80),
                     now - rng.randint(60, 86400))
                )
            s = stories[i % self.shared]
            items.append((f"f{i}-shared", s["link"], s["title"], s["body"], s["at"]))
            self.docs[f"/feed/{i}.xml"] = rss(f"feed {i}", url, items).encode()
        self.unique = feeds * OWN_ITEMS + self.shared


def rss(title, url, items):
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{url}</link><description>{title}</description>",
    ]
    for guid, link, t, body, at in items:
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(at))
        out.append(
            f'<item><guid isPermaLink="false">{guid}</guid><link>{link}</link>'
            f"<title>{t}</title><description>&lt;p&gt;{body}&lt;/p&gt;</description>"
            f"<pubDate>{date}</pubDate></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out)


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (path, poller, start, end, status)
        self.inflight = collections.Counter()
        self.peak = collections.Counter()


def serve(farm, log, delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            ua = self.headers.get("User-Agent") or ""
            start = time.time()
            # Counted from the request to just before the answer: the
            # poller holds its slot for all of that and more, so two
            # windows overlap only if two slots are held at once. (Counting
            # until after the answer is sent would count a request the
            # next one overlaps only because this thread has not run yet.)
            with log.lock:
                log.inflight[host] += 1
                log.peak[host] = max(log.peak[host], log.inflight[host])
            time.sleep(delay)
            with log.lock:
                log.inflight[host] -= 1
            body = farm.docs.get(self.path)
            status = 200 if body is not None else 404
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")
            except (BrokenPipeError, ConnectionResetError):
                # The poller was SIGKILLed mid-request.
                status = 0
            with log.lock:
                log.requests.append((self.path, ua, start, time.time(), status))

    servers = []
    for h in HOSTS:
        s = http.server.ThreadingHTTPServer((h, farm.port), Handler)
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    return servers


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(work, name, port, farm, polls):
    path = os.path.join(work, f"{name}.toml")
    with open(path, "w") as f:
        f.write(
            f"""[server]
listen = "127.0.0.1:{port}"
base_url = "http://rafid.test/"

[storage]
path = "{work}/{name}"
backend = "postgres"
url = "env:RAFID_CHECK_DATABASE"

[poll]
enabled = {"true" if polls else "false"}
interval = "1h"
timeout = "5s"
concurrency = {CONCURRENCY}
per_host = {PER_HOST}
user_agent = "rafid-check/{name}"

[output]
max_items = {farm.unique + 100}
"""
        )
        for u in farm.urls:
            f.write(f'\n[[feed]]\nurl = "{u}"\n')
    return path


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


class Proc:
    def __init__(self, rafid, work, name, farm, polls):
        self.name, self.port = name, free_port()
        self.cfg = config(work, name, self.port, farm, polls)
        self.logfile = os.path.join(work, f"{name}.log")
        self.rafid = rafid
        self.p = None

    def start(self):
        out = open(self.logfile, "a")
        self.p = subprocess.Popen([self.rafid, "--config", self.cfg, "run"], stdout=out, stderr=out)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.p.poll() is not None:
                sys.exit(f"{self.name} exited at start; see {self.logfile}")
            try:
                get(f"http://127.0.0.1:{self.port}/healthz", 1)
                return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"{self.name} did not start within 60 s; see {self.logfile}")

    def feed(self):
        return get(f"http://127.0.0.1:{self.port}/feed.atom", 30)


results = []


def result(ok, what):
    results.append(ok)
    print(f"RESULT {'PASS' if ok else 'FAIL'} {what}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rafid", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if "RAFID_CHECK_DATABASE" not in os.environ:
        sys.exit("RAFID_CHECK_DATABASE is not set")

    farm = Farm(a.feeds, a.seed, free_port())
    log = Log()
    serve(farm, log, a.delay)
    print(f"farm: {a.feeds} feeds on {', '.join(HOSTS)} port {farm.port}, {farm.unique} unique items")

    pollers = [Proc(a.rafid, a.work, f"p{i}", farm, True) for i in (1, 2, 3)]
    publisher = Proc(a.rafid, a.work, "pub", farm, False)
    started = time.time()
    for p in pollers + [publisher]:
        p.start()
    victim = pollers[1]

    def asked():
        with log.lock:
            return {r[0] for r in log.requests}, list(log.requests)

    while len(asked()[0]) < a.feeds // 4:
        if time.time() - started > 120:
            sys.exit("the pollers did not get a quarter of the way in 120 s")
        time.sleep(0.05)
    victim.p.send_signal(signal.SIGKILL)
    victim.p.wait()
    killed = time.time()
    print(f"SIGKILLed {victim.name} after {killed - started:.1f} s, {len(asked()[0])} feeds asked for")

    # The killed poller's leases lapse after twice the poll timeout and 30 s.
    deadline = time.time() + 180
    while True:
        with log.lock:
            answered = {r[0] for r in log.requests if r[4] == 200}
        if len(answered) == a.feeds:
            break
        if time.time() > deadline:
            break
        time.sleep(0.5)
    print(f"all feeds answered after {time.time() - started:.1f} s")
    result(len(answered) == a.feeds, f"every feed polled ({len(answered)} of {a.feeds})")

    victim.start()
    # Every process serves the same bytes once each has applied the log.
    everyone = [p for p in pollers] + [publisher]
    same, bodies = False, []
    deadline = time.time() + 60
    while time.time() < deadline:
        bodies = [p.feed() for p in everyone]
        if all(b == bodies[0] for b in bodies) and bodies[0].count(b"<entry>") >= farm.unique:
            same = True
            break
        time.sleep(0.5)
    counts = [b.count(b"<entry>") for b in bodies]
    result(same, f"/feed.atom byte-identical from {len(everyone)} processes ({counts} entries, {farm.unique} unique items)")

    # Requests: at most once per feed, but for the killed poller's own.
    _, reqs = asked()
    by_feed = collections.defaultdict(list)
    for path, ua, start, end, status in reqs:
        by_feed[path].append((start, ua, status))
    twice = []
    for path, rs in by_feed.items():
        rs.sort()
        if len(rs) == 1:
            continue
        first = rs[0]
        ok = (
            len(rs) == 2
            and first[1].startswith(f"rafid-check/{victim.name}")
            and first[0] < killed
            and rs[1][0] > killed
        )
        if not ok:
            twice.append((path, [(round(s - started, 2), u.split(" ")[0]) for s, u, _ in rs]))
    again = sum(1 for rs in by_feed.values() if len(rs) == 2)
    result(not twice, f"no feed polled twice but the killed poller's ({again} taken over){': ' + str(twice[:5]) if twice else ''}")
    with log.lock:
        peak = dict(log.peak)
    result(max(peak.values()) <= PER_HOST, f"at most per_host = {PER_HOST} requests at once per host across pollers (peaks {peak})")
    pub = [r for r in reqs if r[1].startswith("rafid-check/pub")]
    result(not pub, f"the publish-only process sent no request ({len(pub)})")
    by_poller = collections.Counter(r[1].split(" ")[0] for r in reqs)
    print(f"requests by poller: {dict(by_poller)}")

    for p in everyone:
        p.p.send_signal(signal.SIGTERM)
    for p in everyone:
        try:
            p.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.p.kill()
            result(False, f"{p.name} stopped on SIGTERM")
    for p in everyone:
        out = subprocess.run([a.rafid, "--config", p.cfg, "store", "check"], capture_output=True, text=True)
        text = (out.stdout + out.stderr).strip()
        ok = out.returncode == 0 and f"({farm.unique} items)" in text
        result(ok, f"store check on {p.name}: {text.splitlines()[-1] if text else out.returncode}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
