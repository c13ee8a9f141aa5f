#!/usr/bin/env python3
"""crash.py -- the driver of .ci/check-crash.sh: SIGKILLs `rafid poll-once` at
random moments and checks the store after each kill.

    crash.py --rafid BIN --farm DIR --base URL --work DIR [--kills 30] [--min-kills 20]
             [--seed N] [--budget S] [--skip-store-check]

The farm (farm.py) must already be served at URL. Steps:
  1. a throwaway store: one uninterrupted poll-once, timed (D), whose render must
     hold every farm link exactly once, one item per story (so a later mismatch
     is the crash's doing, not the deduplicator's; near-duplicates are on, as
     by default, and the farm's stories are written to differ); `store check`
     is probed on it;
  2. the store under test: until --kills polls have been SIGKILLed while still
     running (at most 3 x --kills attempts, and --budget seconds; fewer than
     --min-kills such kills fails the check): change a random subset of the feeds
     (new items, shared new stories, edited titles) so polls keep writing, start
     poll-once, SIGKILL it after a random delay in [0, D]; then `store check` must
     exit 0, and `render --format json` must succeed with unique ids, no link in
     two items, and no link the farm never had;
  3. one uninterrupted poll-once (exit 0, no failed feed), then every link now in
     the farm files must be in exactly one rendered item, nothing else, ids
     unique, listed by every feed that carries it; and `store check` must pass.
Prints a line per attempt and a summary; exit 0 when everything passed, 1 on a
failed check, 2 when the check itself could not run (no `store check`, the farm
not served, ...). Stdlib only.
"""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import farm  # noqa: E402

CHECK_TIMEOUT_S = 120   # a store check or render taking longer counts as a failure


class Env:
    def __init__(self, a):
        self.rafid = a.rafid
        self.farm = a.farm
        self.base = a.base if a.base.endswith("/") else a.base + "/"
        self.work = a.work
        self.logs = os.path.join(a.work, "logs")
        os.makedirs(self.logs, exist_ok=True)

    def config(self, name):
        """Writes the config of the store `name` (listing the farm's feeds) and returns its path."""
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "rafid.toml")
        lines = ['[storage]', 'path = %s' % json.dumps(os.path.join(d, "data")), '',
                 '[poll]', 'concurrency = 16', 'per_host = 16', 'timeout = "30s"', '']
        for url in farm.feed_urls(self.farm, self.base):
            lines += ['[[feed]]', 'url = %s' % json.dumps(url), '']
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
        return path

    def run(self, cfg, *args, log=None):
        """Runs rafid to completion; returns (rc, stdout bytes, stderr text)."""
        try:
            p = subprocess.run([self.rafid, "-c", cfg, *args], capture_output=True, timeout=CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return (-1, b"", "timed out after %d s" % CHECK_TIMEOUT_S)
        err = p.stderr.decode("utf-8", "replace")
        if log:
            with open(os.path.join(self.logs, log), "wb") as fh:
                fh.write(p.stdout[:200000] + b"\n--- stderr\n" + p.stderr)
        return (p.returncode, p.stdout, err)

    def poll_once(self, cfg, log):
        t0 = time.monotonic()
        rc, out, err = self.run(cfg, "poll-once", log=log)
        return rc, out.decode("utf-8", "replace"), err, time.monotonic() - t0


def render(env, cfg, log=None):
    """Returns (items or None, problem text)."""
    rc, out, err = env.run(cfg, "render", "--format", "json", "--limit", "1000000", log=log)
    if rc != 0:
        return None, "render exit %d: %s" % (rc, last_lines(err))
    try:
        return json.loads(out)["items"], ""
    except (ValueError, KeyError) as e:
        return None, "render printed no JSON Feed: %s" % e


def last_lines(text, n=4):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:]) if lines else "(nothing on stderr)"


def store_check(env, cfg, log=None):
    """Returns (rc, short text)."""
    rc, out, err = env.run(cfg, "store", "check", log=log)
    text = (out.decode("utf-8", "replace") + "\n" + err).strip()
    return rc, last_lines(text, 6)


def unsupported(text):
    return "unrecognized subcommand" in text or "unexpected argument" in text


def members(items):
    """Every outlet copy in a render, by its link: link -> ids of the items
    listing it, and link -> feeds listing it. Counted on the copies, not on
    the items' own `url`: a story wrongly merged into another (near-duplicate
    detection is on, as by default) keeps its link on its own copy."""
    items_of, feeds_of = collections.defaultdict(set), collections.defaultdict(list)
    for i in items:
        for s in i.get("_rafid", {}).get("sources", []):
            link = s.get("url") or i.get("url")
            items_of[link].add(i.get("id"))
            feeds_of[link].append(s.get("feed_url", ""))
    return items_of, feeds_of


def audit(items, known_links):
    """Problems in a render: duplicate ids, a link in two items, links the farm never had."""
    problems = []
    ids = collections.Counter(i.get("id") for i in items)
    dup_ids = [k for k, n in ids.items() if n > 1]
    if dup_ids:
        problems.append("%d ids appear more than once (e.g. %s)" % (len(dup_ids), dup_ids[0]))
    items_of, _ = members(items)
    dup_links = {k: v for k, v in items_of.items() if len(v) > 1}
    if dup_links:
        k = next(iter(dup_links))
        problems.append("%d links stored in more than one item (e.g. %s in %d items)"
                        % (len(dup_links), k, len(dup_links[k])))
    unknown = [l for l in items_of if l not in known_links]
    if unknown:
        problems.append("%d links the farm never had (e.g. %r)" % (len(unknown), unknown[0]))
    return problems


def final_audit(items, farm_links, base):
    """The end state: every farm link in exactly one item, listed by every feed that carries it."""
    problems = audit(items, farm_links)
    items_of, feeds_of = members(items)
    missing = [l for l in farm_links if l not in items_of]
    if missing:
        problems.append("%d farm links missing from the store (e.g. %s in %s)"
                        % (len(missing), missing[0], ", ".join(farm_links[missing[0]])))
    if len(items) != len(farm_links):
        # The farm's stories are all different: one item each, none merged.
        problems.append("%d items rendered, %d unique links in the farm" % (len(items), len(farm_links)))
    wrong_sources = 0
    example = ""
    for link, feeds in farm_links.items():
        if link not in feeds_of:
            continue
        want = sorted(base + "feeds/" + f for f in feeds)
        got = sorted(feeds_of[link])
        if want != got:
            wrong_sources += 1
            example = example or "%s: listed by %s, carried by %s" % (link, got, want)
    if wrong_sources:
        problems.append("%d links not listed by exactly the feeds that carry them (e.g. %s)"
                        % (wrong_sources, example))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rafid", required=True)
    ap.add_argument("--farm", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--min-kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--budget", type=float, default=150.0, help="seconds for the kill loop at most")
    ap.add_argument("--skip-store-check", action="store_true")
    a = ap.parse_args()
    env = Env(a)
    rng = random.Random(a.seed)
    started = time.monotonic()
    print("seed %d (CRASH_SEED=%d reproduces the delays and the farm changes)" % (a.seed, a.seed))

    # -- 1. throwaway store: the duration D of an uninterrupted poll-once.
    print("== throwaway store: one uninterrupted poll-once")
    cfg0 = env.config("throwaway")
    rc, out, err = env.run(cfg0, "check")
    if rc != 0:
        print("rafid check refuses the generated config:\n" + out.decode() + err)
        return 2
    rc, out, err, duration = env.poll_once(cfg0, "throwaway-poll.log")
    print("   " + " / ".join(out.strip().splitlines()[:2]))
    if rc != 0 or "failed: 0" not in out:
        print("FAIL: the uninterrupted poll-once on a fresh store did not poll every feed "
              "(exit %d): %s %s" % (rc, last_lines(out), last_lines(err)))
        return 2
    links0 = farm.links(a.farm)
    items, why = render(env, cfg0, "throwaway-render.log")
    if items is None:
        print("FAIL: throwaway render: " + why)
        return 1
    problems = final_audit(items, links0, env.base)
    if problems:
        print("FAIL: even without a crash the store does not hold every farm story once:")
        for p in problems:
            print("   " + p)
        return 1
    print("   took %.2f s; %d items stored = %d unique links in the farm (D = %.2f s)"
          % (duration, len(items), len(links0), duration))
    use_store_check = not a.skip_store_check
    if use_store_check:
        rc, text = store_check(env, cfg0, "throwaway-store-check.log")
        if unsupported(text):
            print("FAIL: this rafid has no `store check` (%s).\n"
                  "      check-crash needs `rafid store check` (DESIGN.md part 1); "
                  "SKIP_STORE_CHECK=1 runs the rest against render only." % text)
            return 2
        if rc != 0:
            print("FAIL: `store check` on a store written without any crash: exit %d: %s" % (rc, text))
            return 1
        print("   store check on it: exit 0 (%s)" % text)
    else:
        print("   store check: SKIPPED (SKIP_STORE_CHECK=1); checking with render only")

    # -- 2. the store under test: kill, check, repeat.
    print("== kills: SIGKILL poll-once after a random delay in [0, %.2f s]" % duration)
    cfg = env.config("store")
    known = set(links0)
    attempts = []
    failures = []
    killed = 0
    n = 0
    while killed < a.kills:
        n += 1
        if n > 3 * a.kills:
            print("   (stopping after %d attempts)" % (n - 1))
            break
        if time.monotonic() - started > a.budget:
            print("   (time budget of %.0f s spent)" % a.budget)
            break
        change = ""
        if n > 1:
            change = farm.mutate(a.farm, rng.randrange(1 << 30))
            known.update(farm.links(a.farm))
        delay = rng.uniform(0, duration)
        log = open(os.path.join(env.logs, "poll-%02d.log" % n), "wb")
        t0 = time.monotonic()
        p = subprocess.Popen([env.rafid, "-c", cfg, "poll-once"], stdout=log, stderr=subprocess.STDOUT)
        try:
            p.wait(timeout=delay)
            outcome = "exited (%d) before the kill" % p.returncode
            was_killed = False
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            was_killed = True
            killed += 1
            outcome = "SIGKILL at %.2f s" % (time.monotonic() - t0)
        except BaseException:   # interrupted: leave no poll-once behind
            p.kill()
            p.wait()
            raise
        log.close()
        row = {"n": n, "delay": delay, "killed": was_killed, "outcome": outcome, "change": change}
        sc_rc, sc_text = (None, "skipped")
        if use_store_check:
            sc_rc, sc_text = store_check(env, cfg, "store-check-%02d.log" % n)
            if sc_rc != 0:
                failures.append("attempt %d (%s): store check exit %s: %s" % (n, outcome, sc_rc, sc_text))
        items, why = render(env, cfg, "render-%02d.log" % n)
        if items is None:
            failures.append("attempt %d (%s): %s" % (n, outcome, why))
            row["items"] = "-"
        else:
            row["items"] = len(items)
            for prob in audit(items, known):
                failures.append("attempt %d (%s): %s" % (n, outcome, prob))
        row["store_check"] = sc_rc
        attempts.append(row)
        print("%3d  delay %5.2f s  %-28s store check %-4s render %s items%s"
              % (n, delay, outcome, "-" if sc_rc is None else sc_rc, row["items"],
                 "" if not change else "   [" + change + "]"))
        if not was_killed and p.returncode != 0:
            failures.append("attempt %d: poll-once exited %d on its own (log %s)"
                            % (n, p.returncode, os.path.join(env.logs, "poll-%02d.log" % n)))

    if killed < a.min_kills:
        failures.append("only %d of %d attempts SIGKILLed a running poll-once (%d needed)"
                        % (killed, len(attempts), a.min_kills))

    # -- 3. one uninterrupted poll-once; then every farm story exactly once.
    print("== final uninterrupted poll-once")
    rc, out, err, took = env.poll_once(cfg, "final-poll.log")
    print("   " + " / ".join(out.strip().splitlines()[:2]) + "   (%.2f s)" % took)
    if rc != 0:
        failures.append("final poll-once exit %d: %s" % (rc, last_lines(err)))
    if "failed: 0" not in out:
        failures.append("final poll-once: some feeds failed: %s" % last_lines(out))
    farm_links = farm.links(a.farm)
    final_items = None
    items, why = render(env, cfg, "final-render.log")
    if items is None:
        failures.append("final render: " + why)
    else:
        final_items = len(items)
        for prob in final_audit(items, farm_links, env.base):
            failures.append("final: " + prob)
    final_sc = None
    if use_store_check:
        final_sc, text = store_check(env, cfg, "final-store-check.log")
        if final_sc != 0:
            failures.append("final store check exit %s: %s" % (final_sc, text))

    # -- summary
    entries = sum(len(v) for v in farm_links.values())
    delays = [r["delay"] for r in attempts if r["killed"]]
    print()
    print("== summary")
    print("farm: %d feeds, now %d entries, %d unique links (expected items)"
          % (len(farm.load(a.farm)["feeds"]), entries, len(farm_links)))
    print("attempts: %d; poll-once SIGKILLed while running: %d; exited before its kill: %d"
          % (len(attempts), killed, len(attempts) - killed))
    if delays:
        print("kill delays (s): " + ", ".join("%.2f" % d for d in sorted(delays)))
    if use_store_check:
        ok = sum(1 for r in attempts if r["store_check"] == 0)
        print("store check after each attempt: %d/%d exit 0; final: exit %s" % (ok, len(attempts), final_sc))
    else:
        print("store check: SKIPPED (render-only run)")
    ok = sum(1 for r in attempts if r["items"] != "-")
    print("render after each attempt: %d/%d succeeded; final render: %s items for %d farm links"
          % (ok, len(attempts), final_items, len(farm_links)))
    print("took %.0f s; logs in %s (KEEP=1 keeps them)" % (time.monotonic() - started, env.logs))
    if failures:
        print("FAILED (%d):" % len(failures))
        for f in failures:
            print("   " + f)
        return 1
    print("PASS" + ("" if use_store_check else " (render only: store check skipped)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
