#!/usr/bin/env python3
"""1, 2 and 3 `rafid run` pollers on one PostgreSQL database, on the feed farm.

For each number of pollers, on a database of its own: starts the pollers
together ([poll] concurrency = per_host = 16, interval = min_interval = 5 s,
so that the first polls are spread over 5 s rather than a minute), and
reports the first pass: seconds from the start (processes started, the
database migrated) until the first poller's replica holds every unique item
of the farm (its /metrics), and feeds per second.

The references, measured in the same run with the same settings:
`rafid poll-once` cold on a sled store, and one `rafid run` on sled, timed
as the pollers are.

usage: pollers.py --rafid BIN --farm DIR --work DIR --db URL [--pollers 1,2,3]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

PSQL = next(
    (f"/usr/lib/postgresql/{v}/bin/psql" for v in sorted(os.listdir("/usr/lib/postgresql"), reverse=True)
     if os.path.exists(f"/usr/lib/postgresql/{v}/bin/psql")),
    "psql",
) if os.path.isdir("/usr/lib/postgresql") else "psql"


def psql(url, sql):
    out = subprocess.run([PSQL, "-At", url, "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def database(base, name):
    psql(base, f"DROP DATABASE IF EXISTS {name}")
    psql(base, f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


def write_config(path, storage, port, urls, backend):
    with open(path, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{port}"
base_url = "http://rafid.test/"

[storage]
path = "{storage}"
{backend}
[poll]
concurrency = 16
per_host = 16
interval = "5s"
min_interval = "5s"
""")
        for u in urls:
            f.write(f'\n[[feed]]\nurl = "{u}"\n')


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def items(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("rafid_store_items "):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def run(a, n, urls, unique):
    """n pollers on a new database; n = 0: one `rafid run` on sled."""
    env = dict(os.environ)
    backend = ""
    if n > 0:
        env["RAFID_BENCH_DATABASE"] = database(a.db, f"bench_pollers_{n}")
        backend = 'backend = "postgres"\nurl = "env:RAFID_BENCH_DATABASE"\n'
    procs, ports = [], []
    for i in range(max(n, 1)):
        d = os.path.join(a.work, f"n{n}-p{i}")
        os.makedirs(d, exist_ok=True)
        port = free_port()
        cfg = os.path.join(a.work, f"n{n}-p{i}.toml")
        write_config(cfg, d, port, urls, backend)
        ports.append(port)
        procs.append((cfg, d))
    started = time.time()
    running = [
        subprocess.Popen([a.rafid, "--config", cfg, "-q", "run"], env=env,
                         stdout=open(d + ".log", "w"), stderr=subprocess.STDOUT)
        for cfg, d in procs
    ]
    try:
        while items(ports[0]) < unique:
            if time.time() - started > 600:
                sys.exit(f"{n} pollers: not every item after 600 s")
            if any(p.poll() is not None for p in running):
                sys.exit(f"{n} pollers: a poller exited; see {a.work}")
            time.sleep(0.1)
        first = time.time() - started
        cpu = sum(cpu_seconds(p.pid) for p in running)
    finally:
        for p in running:
            p.terminate()
        for p in running:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    return first, cpu


def cpu_seconds(pid):
    """User and system time of a running process (/proc/PID/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reference(a, urls):
    d = os.path.join(a.work, "sled")
    cfg = os.path.join(a.work, "sled.toml")
    write_config(cfg, d, free_port(), urls, "")
    t = time.time()
    before = os.times()
    subprocess.run([a.rafid, "--config", cfg, "-q", "poll-once"], check=True, stdout=subprocess.DEVNULL)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.time() - t, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rafid", required=True)
    ap.add_argument("--farm", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--pollers", default="1,2,3")
    a = ap.parse_args()
    urls = open(os.path.join(a.farm, "urls.txt")).read().split()
    unique = json.load(open(os.path.join(a.farm, "manifest.json")))["unique_item_ids"]
    feeds = len(urls)
    ref, ref_cpu = reference(a, urls)
    print(f"reference: sled, poll-once cold: {ref:.2f} s, {feeds / ref:.0f} feeds/s, rafid CPU {ref_cpu:.2f} s")
    daemon, daemon_cpu = run(a, 0, urls, unique)
    print(f"reference: sled, `rafid run` first pass: {daemon:.2f} s, {feeds / daemon:.0f} feeds/s, rafid CPU {daemon_cpu:.2f} s")
    print("| pollers | first pass, s | feeds/s | time vs `rafid run` on sled | rafid CPU, s (all pollers) |")
    print("| --- | --- | --- | --- | --- |")
    for n in [int(x) for x in a.pollers.split(",")]:
        first, cpu = run(a, n, urls, unique)
        print(f"| {n} | {first:.2f} | {feeds / first:.0f} | {first / daemon:.2f}x | {cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()
