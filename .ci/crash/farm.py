#!/usr/bin/env python3
"""farm.py -- a local farm of RSS 2.0 and Atom feeds for .ci/check-crash.sh.

The farm lives in a directory: `feeds/NNN.xml` (RSS 2.0) and `feeds/NNN.atom`
(Atom 1.0), served by serve-corpus, and `state.json`, the model they are
written from (kept out of `feeds/` so it is not served). Every story has a
unique link, a unique serial in its title and a paragraph of its own (made-up
words and figures), so two different stories never share a link nor a text
near-duplicate detection would take for the same story; about a fifth of the stories are carried by
several feeds under the same link (each feed with its own GUID/id), so the
store must merge them into one item.

    farm.py init DIR [--feeds 200] [--seed N]   write a new farm; prints a summary
    farm.py mutate DIR [--seed N]               add items / edit titles in a random subset of feeds
    farm.py links DIR                           print every distinct link in the farm files

Imported by crash.py for the same operations (init, mutate, links).
Stdlib only.
"""
import argparse
import email.utils
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr

# Short texts of our own, Arabic and English, assembled into titles and bodies.
AR_SUBJECTS = ["وزارة الصحة", "البنك المركزي", "بلدية المدينة", "جامعة القاهرة", "مجلس الوزراء",
               "اتحاد الكرة", "هيئة الأرصاد", "شركة الكهرباء", "وزارة التعليم", "غرفة التجارة",
               "المتحف الوطني", "مطار بيروت", "ميناء جدة", "مكتبة الإسكندرية", "نقابة الصحفيين"]
AR_VERBS = ["تعلن", "تفتتح", "تناقش", "تطلق", "تؤجل", "تراجع", "توقع", "تستقبل", "تنشر", "تدعم"]
AR_OBJECTS = ["خطة جديدة للنقل العام", "موسم الحصاد", "مشروع المياه", "معرض الكتاب السنوي",
              "برنامج المنح الدراسية", "تقرير الربع الثالث", "حملة التطعيم", "مهرجان الأفلام القصيرة",
              "اتفاقية تعاون إقليمي", "نتائج الامتحانات", "توسعة الطريق الساحلي", "مبادرة الطاقة الشمسية"]
EN_SUBJECTS = ["The city council", "A local bakery", "The national library", "Researchers",
               "The port authority", "A youth orchestra", "The weather service", "Rail operators",
               "The football league", "Hospital staff", "A startup", "The museum"]
EN_VERBS = ["announces", "opens", "debates", "launches", "postpones", "reviews", "signs", "welcomes"]
EN_OBJECTS = ["a new bus network", "the harvest season", "a water project", "the annual book fair",
              "a scholarship scheme", "its quarterly report", "a vaccination drive",
              "a short film festival", "a regional agreement", "exam results", "a coastal road",
              "a solar initiative"]
AR_FILLER = ["وقال مسؤول إن العمل سيبدأ خلال أسابيع.", "ويأتي ذلك بعد مشاورات استمرت أشهرا.",
             "وأكد المنظمون أن الدخول مجاني للجميع.", "ومن المتوقع أن يستفيد آلاف السكان.",
             "ولم يصدر تعليق رسمي حتى الآن."]
EN_FILLER = ["Work is expected to start within weeks.", "The decision follows months of talks.",
             "Organisers said entry is free.", "Thousands of residents are expected to benefit.",
             "No official comment was available."]
SECTIONS = ["world", "local", "economy", "culture", "sport", "science"]


def now_utc():
    return datetime.now(timezone.utc).replace(microsecond=0)


AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
EN_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def own_paragraph(rng, letters, n):
    """Words and figures no other story has: what keeps two stories made from
    the same templates apart for near-duplicate detection."""
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 7))) for _ in range(24)]
    return "%s %d %s %d." % (" ".join(words[:12]), 1000 + n * 7, " ".join(words[12:]), 50 + n % 900)


def new_story(st, rng, published):
    """Creates a story (unique link, unique serial in its title) and returns its id."""
    n = st["next_story"]
    st["next_story"] += 1
    arabic = rng.random() < 0.6
    if arabic:
        title = "%s %s %s (%d)" % (rng.choice(AR_SUBJECTS), rng.choice(AR_VERBS), rng.choice(AR_OBJECTS), n)
        body = "<p>%s</p><p>%s</p><p>%s</p>" % (title, own_paragraph(rng, AR_LETTERS, n),
                                                 " ".join(rng.sample(AR_FILLER, 3)))
        lang = "ar"
    else:
        title = "%s %s %s (%d)" % (rng.choice(EN_SUBJECTS), rng.choice(EN_VERBS), rng.choice(EN_OBJECTS), n)
        body = "<p>%s.</p><p>%s</p><p>%s</p>" % (title, own_paragraph(rng, EN_LETTERS, n),
                                                  " ".join(rng.sample(EN_FILLER, 3)))
        lang = "en"
    host = "news%d.example" % (n % 37)
    link = "https://%s/%s/%d-story" % (host, rng.choice(SECTIONS), n)
    st["stories"][str(n)] = {"link": link, "title": title, "body": body, "lang": lang,
                             "published": published.isoformat()}
    return str(n)


def add_item(st, feed, sid):
    """Puts story `sid` in `feed` (once) with a GUID of that feed's own."""
    if any(it["story"] == sid for it in feed["items"]):
        return
    guid = st["stories"][sid]["link"] if feed["guid_is_link"] else "%s-item-%s" % (feed["name"], sid)
    feed["items"].append({"story": sid, "guid": guid, "edits": 0})


def init(dirpath, n_feeds=200, seed=1):
    rng = random.Random(seed)
    st = {"next_story": 1, "stories": {}, "feeds": [], "round": 0}
    now = now_utc()
    for i in range(n_feeds):
        kind = "rss" if i % 2 == 0 else "atom"
        st["feeds"].append({"name": "%03d" % i, "kind": kind, "guid_is_link": rng.random() < 0.5,
                            "title": "Farm feed %03d — مزرعة %d" % (i, i), "items": []})
    # Stories: each feed gets 15-25 items; about 20% of all stories are shared
    # by 2-4 feeds (same link), the rest belong to one feed.
    targets = {f["name"]: rng.randint(15, 25) for f in st["feeds"]}

    def room(f):
        return len(f["items"]) < targets[f["name"]]

    # With S shared stories (3 carriers on average) and U single-feed ones,
    # S / (S + U) = 0.2 means U = 4 S, so the slots number 7 S.
    n_shared = sum(targets.values()) // 7
    for _ in range(n_shared):
        open_feeds = [f for f in st["feeds"] if room(f)]
        if len(open_feeds) < 2:
            break
        carriers = rng.sample(open_feeds, min(len(open_feeds), rng.randint(2, 4)))
        sid = new_story(st, rng, now - timedelta(minutes=rng.randint(60, 30 * 24 * 60)))
        for f in carriers:
            add_item(st, f, sid)
    for f in st["feeds"]:
        while room(f):
            sid = new_story(st, rng, now - timedelta(minutes=rng.randint(60, 30 * 24 * 60)))
            add_item(st, f, sid)
    for f in st["feeds"]:
        rng.shuffle(f["items"])
    save(dirpath, st)
    write_all(dirpath, st)
    return st


def mutate(dirpath, seed, fraction=(0.3, 0.6)):
    """Changes a random subset of the feeds: new items (some shared by several
    of the changed feeds) and edited titles. Returns a description."""
    st = load(dirpath)
    rng = random.Random(seed)
    st["round"] += 1
    now = now_utc()
    k = max(1, int(len(st["feeds"]) * rng.uniform(*fraction)))
    chosen = rng.sample(st["feeds"], k)
    added = edited = 0
    for f in chosen:
        for _ in range(rng.randint(1, 3)):
            sid = new_story(st, rng, now - timedelta(seconds=rng.randint(0, 600)))
            add_item(st, f, sid)
            added += 1
        for it in rng.sample(f["items"], min(len(f["items"]), rng.randint(0, 2))):
            it["edits"] += 1
            edited += 1
    # A few new stories carried by several of the changed feeds at once.
    shared = 0
    for _ in range(max(1, k // 10)):
        if len(chosen) < 2:
            break
        sid = new_story(st, rng, now - timedelta(seconds=rng.randint(0, 600)))
        for f in rng.sample(chosen, min(len(chosen), rng.randint(2, 4))):
            add_item(st, f, sid)
        shared += 1
    save(dirpath, st)
    for f in chosen:
        write_feed(dirpath, st, f)
    return "round %d: %d feeds changed, %d items added, %d new shared stories, %d titles edited" % (
        st["round"], k, added, shared, edited)


def item_title(st, it):
    t = st["stories"][it["story"]]["title"]
    if it["edits"]:
        t += " — تحديث %d / update %d" % (it["edits"], it["edits"])
    return t


def rss(st, f):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss version="2.0"><channel>',
           "<title>%s</title><link>https://site%s.example/</link>" % (escape(f["title"]), f["name"]),
           "<description>crash-check farm feed %s</description>" % f["name"]]
    for it in f["items"]:
        s = st["stories"][it["story"]]
        pub = email.utils.format_datetime(datetime.fromisoformat(s["published"]))
        perma = "true" if f["guid_is_link"] else "false"
        out.append("<item><title>%s</title><link>%s</link><guid isPermaLink=\"%s\">%s</guid>"
                   "<pubDate>%s</pubDate><description>%s</description></item>"
                   % (escape(item_title(st, it)), escape(s["link"]), perma, escape(it["guid"]),
                      pub, escape(s["body"])))
    out.append("</channel></rss>")
    return "\n".join(out) + "\n"


def atom(st, f):
    updated = max((st["stories"][it["story"]]["published"] for it in f["items"]), default=now_utc().isoformat())
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom">',
           "<title>%s</title><id>urn:farm:feed:%s</id><updated>%s</updated>"
           % (escape(f["title"]), f["name"], updated),
           "<link rel=\"alternate\" href=\"https://site%s.example/\"/>" % f["name"]]
    for it in f["items"]:
        s = st["stories"][it["story"]]
        guid = it["guid"] if not f["guid_is_link"] else s["link"]
        out.append("<entry><title>%s</title><id>%s</id><link rel=\"alternate\" href=%s/>"
                   "<published>%s</published><updated>%s</updated>"
                   "<content type=\"html\" xml:lang=\"%s\">%s</content></entry>"
                   % (escape(item_title(st, it)), escape(guid), quoteattr(s["link"]),
                      s["published"], s["published"], s["lang"], escape(s["body"])))
    out.append("</feed>")
    return "\n".join(out) + "\n"


def feed_path(dirpath, f):
    return os.path.join(dirpath, "feeds", f["name"] + (".xml" if f["kind"] == "rss" else ".atom"))


def write_feed(dirpath, st, f):
    path = feed_path(dirpath, f)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(rss(st, f) if f["kind"] == "rss" else atom(st, f))
    os.replace(tmp, path)   # the server never sees half a file


def write_all(dirpath, st):
    os.makedirs(os.path.join(dirpath, "feeds"), exist_ok=True)
    for f in st["feeds"]:
        write_feed(dirpath, st, f)


def save(dirpath, st):
    os.makedirs(dirpath, exist_ok=True)
    tmp = os.path.join(dirpath, "state.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(st, fh, ensure_ascii=False)
    os.replace(tmp, os.path.join(dirpath, "state.json"))


def load(dirpath):
    with open(os.path.join(dirpath, "state.json"), encoding="utf-8") as fh:
        return json.load(fh)


def feed_urls(dirpath, base):
    """The URL of every feed, `base` ending with '/'."""
    st = load(dirpath)
    return [base + "feeds/" + os.path.basename(feed_path(dirpath, f)) for f in st["feeds"]]


def links(dirpath):
    """Every distinct link in the farm files, read back from the files
    themselves (not the model), with the feeds that carry it."""
    import xml.etree.ElementTree as ET
    atom_ns = "{http://www.w3.org/2005/Atom}"
    out = {}
    feeds_dir = os.path.join(dirpath, "feeds")
    for name in sorted(os.listdir(feeds_dir)):
        if name.endswith(".tmp"):
            continue
        root = ET.parse(os.path.join(feeds_dir, name)).getroot()
        if root.tag == "rss":
            found = [it.findtext("link") for it in root.iter("item")]
        else:
            found = [e.find(atom_ns + "link").get("href") for e in root.iter(atom_ns + "entry")]
        for link in found:
            out.setdefault(link, []).append(name)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("dir")
    p.add_argument("--feeds", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("mutate")
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("links")
    p.add_argument("dir")
    a = ap.parse_args()
    if a.cmd == "init":
        st = init(a.dir, a.feeds, a.seed)
        summary(a.dir, st)
    elif a.cmd == "mutate":
        print(mutate(a.dir, a.seed))
    else:
        for link in sorted(links(a.dir)):
            print(link)


def summary(dirpath, st):
    entries = sum(len(f["items"]) for f in st["feeds"])
    carried = {}
    for f in st["feeds"]:
        for it in f["items"]:
            carried[it["story"]] = carried.get(it["story"], 0) + 1
    shared = sum(1 for n in carried.values() if n > 1)
    rss_n = sum(1 for f in st["feeds"] if f["kind"] == "rss")
    print("farm: %d feeds (%d RSS 2.0, %d Atom), %d entries, %d unique stories (links), "
          "%d of them (%.0f%%) carried by 2-4 feeds"
          % (len(st["feeds"]), rss_n, len(st["feeds"]) - rss_n, entries, len(carried), shared,
             100.0 * shared / max(1, len(carried))))


if __name__ == "__main__":
    sys.exit(main())
