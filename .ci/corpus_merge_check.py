#!/usr/bin/env python3
"""corpus_merge_check.py -- no story of the Arabic corpus hidden by same-story merging.

Helper of .ci/check-corpus-merge.sh (stdlib only):

  corpus_merge_check.py CORPUS_DIR RIVER.json RIVER.atom RIVER.html [--quiet]
                        [--pairs DEV_PAIRS.jsonl ARTICLES.jsonl]

(--quiet: one line per output unless something fails. --pairs: the corpus
items are found among the articles by headline, and no output item may hold
two of them that a dev pair labels different.)

CORPUS_DIR holds the feeds and their `.titles` files (one headline a line, in
the feed's order). Each corpus item is known by its link. In each output
(JSON Feed, Atom, the HTML river page) every output item is read as its
shown headline and the links it names (its own and each "also reported by"
outlet's), and the check fails when:
  - a corpus item is named by no output item, or by more than one;
  - one output item holds two corpus items whose headlines are one template
    with different ordinals (الرابعة / السادسة: the fourth flight is not the
    sixth);
  - two corpus headlines of one template (most of their words shared once
    the ordinal is left out) with different ordinals do not get items of
    their own, each shown with its own headline (one of the corpus headlines
    with its ordinal); the fourth and sixth Saudi relief flights to Aden
    must be among these;
  - with --pairs, one output item holds two corpus items a dev pair labels
    different;
  - a headline is hidden: shown in no output, and the item that absorbed it
    shows a headline with other facts (another ordinal, other numbers).
    A headline re-edited by another outlet of the same story (same facts)
    is listed, not failed: one headline per story is what merging means.
"""
import glob
import html.parser
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

ATOM = "{http://www.w3.org/2005/Atom}"

# Single-word Arabic ordinals, masculine and feminine, as a value.
ORDINALS = {}
for value, words in enumerate([
        ("الأول", "الأولى", "الاول", "الاولى"), ("الثاني", "الثانية"), ("الثالث", "الثالثة"),
        ("الرابع", "الرابعة"), ("الخامس", "الخامسة"), ("السادس", "السادسة"), ("السابع", "السابعة"),
        ("الثامن", "الثامنة"), ("التاسع", "التاسعة"), ("العاشر", "العاشرة"), ("الحادي", "الحادية")], 1):
    for w in words:
        ORDINALS[w] = value
TEENS = {"عشر", "عشرة"}
DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u0640]")
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def words(text):
    return re.findall(r"\w+", DIACRITICS.sub("", text).translate(DIGITS))


def ordinals(text):
    """The ordinal values a headline carries (الحادي عشر counts as 11)."""
    ws = words(text)
    out = set()
    for i, w in enumerate(ws):
        base = w[1:] if w.startswith("و") and w[1:] in ORDINALS else w
        if base in ORDINALS:
            v = ORDINALS[base]
            if i + 1 < len(ws) and ws[i + 1] in TEENS:
                v = 10 + (1 if v == 11 else v)
            out.add(v)
    return out


def numbers(text):
    return set(re.findall(r"\d+", DIACRITICS.sub("", text).translate(DIGITS)))


def stem(w):
    w = re.sub("[أإآ]", "ا", w).replace("ة", "ه").replace("ى", "ي")
    for p in ("وال", "بال", "لل", "ال", "و", "ل", "ب"):
        if w.startswith(p) and len(w) - len(p) >= 3:
            w = w[len(p):]
            break
    return w


def template_words(text):
    return {stem(w) for w in words(text) if w not in ORDINALS and w not in TEENS
            and not (w.startswith("و") and w[1:] in ORDINALS)}


def same_template(a, b):
    ta, tb = template_words(a), template_words(b)
    small = min(len(ta), len(tb))
    return small >= 3 and len(ta & tb) / small >= 0.6


def facts_conflict(a, b):
    oa, ob = ordinals(a), ordinals(b)
    na, nb = numbers(a), numbers(b)
    return bool(oa and ob and oa != ob) or bool(na and nb and not (na & nb))


def norm_link(u):
    return (u or "").strip().rstrip("/")


def collapse(t):
    return " ".join(t.split())


# --- the corpus ---------------------------------------------------------------

def decode_feed(path):
    raw = open(path, "rb").read()
    enc = None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc = "utf-16"
    elif raw[:3] == b"\xef\xbb\xbf":
        enc = "utf-8-sig"
    else:
        m = re.match(rb"<\?xml[^>]*encoding=[\"']([^\"']+)", raw)
        if m:
            enc = m.group(1).decode("ascii")
        elif os.path.exists(path + ".headers"):
            for line in open(path + ".headers", encoding="utf-8"):
                m = re.search(r"charset=([\w.-]+)", line, re.I)
                if m:
                    enc = m.group(1)
    text = raw.decode(enc or "utf-8")
    return ET.fromstring(re.sub(r"^\ufeff?\s*<\?xml[^>]*\?>", "", text))


def corpus_items(corpus):
    """[(feed file, headline, link)], headlines from the .titles files."""
    out = []
    for path in sorted(glob.glob(os.path.join(corpus, "*.xml")) + glob.glob(os.path.join(corpus, "*.atom"))):
        root = decode_feed(path)
        links = []
        for it in root.iter("item"):
            links.append(it.findtext("link") or it.findtext("guid"))
        for e in root.iter(ATOM + "entry"):
            alt = [l.get("href") for l in e.findall(ATOM + "link") if l.get("rel", "alternate") == "alternate"]
            links.append(alt[0] if alt else e.findtext(ATOM + "id"))
        tfile = path.rsplit(".", 1)[0] + ".titles"
        titles = [l for l in open(tfile, encoding="utf-8").read().split("\n") if l]
        if len(titles) != len(links):
            sys.exit("corpus_merge_check: %s has %d items but %s %d lines" % (path, len(links), tfile, len(titles)))
        out += [(os.path.basename(path), t, norm_link(l)) for t, l in zip(titles, links)]
    return out


# --- the outputs --------------------------------------------------------------

def json_items(path):
    feed = json.load(open(path, encoding="utf-8"))
    out = []
    for it in feed.get("items", []):
        ext = it.get("_rafid", {})
        links = {norm_link(it.get("url"))}
        for s in ext.get("sources", []) + ext.get("also_reported_by", []):
            links.add(norm_link(s.get("url")))
        # Whatever other headlines the item lists for its members count as shown.
        extra = {collapse(s) for s in strings_in(ext)}
        out.append((it.get("title", ""), links - {""}, extra))
    return out


def strings_in(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings_in(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings_in(x)


def atom_items(path):
    root = ET.parse(path).getroot()
    out = []
    for e in root.findall(ATOM + "entry"):
        links = {norm_link(l.get("href")) for l in e.findall(ATOM + "link")
                 if l.get("rel", "alternate") in ("alternate", "via", "related")}
        out.append((e.findtext(ATOM + "title") or "", links - {""}, set()))
    return out


class RiverPage(html.parser.HTMLParser):
    """Each <article>: the text of its headline (<h3>, or <h2> before day headings), every link in it, and the text of
    its "also reported by" line (where member headlines would be listed)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items, self.cur, self.in_h2, self.in_also = [], None, False, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            self.cur = {"title": "", "links": set(), "text": []}
        elif self.cur is not None:
            if tag in ("h2", "h3"):
                self.in_h2 = True
            if tag == "p" and "also" in (a.get("class") or "").split():
                self.in_also = True
            if tag == "a" and a.get("href"):
                self.cur["links"].add(norm_link(a["href"]))

    def handle_endtag(self, tag):
        if tag in ("h2", "h3"):
            self.in_h2 = False
        elif tag == "p":
            self.in_also = False
        elif tag == "article" and self.cur is not None:
            c = self.cur
            self.items.append((c["title"], c["links"], {collapse("".join(c["text"]))}))
            self.cur = None

    def handle_data(self, data):
        if self.cur is not None:
            if self.in_h2:
                self.cur["title"] += data
            elif self.in_also:
                self.cur["text"].append(data)


def html_items(path):
    p = RiverPage()
    p.feed(open(path, encoding="utf-8").read())
    return p.items


# --- the check ----------------------------------------------------------------

def check(corpus_dir, outputs, quiet=False, different=(), absorbed=None):
    entries = corpus_items(corpus_dir)
    say = (lambda *a: None) if quiet else print
    say("corpus: %d headlines in %d feeds" % (len(entries), len({e[0] for e in entries})))
    by_link = {}
    for feed, title, link in entries:
        by_link.setdefault(link, []).append((feed, title))
    headlines = {link: [t for _, t in v] for link, v in by_link.items()}

    # Pairs that must stay apart: one template, different ordinals.
    apart = []
    links = sorted(headlines)
    for i, la in enumerate(links):
        for lb in links[i + 1:]:
            ta, tb = headlines[la][0], headlines[lb][0]
            oa, ob = ordinals(ta), ordinals(tb)
            if oa and ob and oa != ob and same_template(ta, tb):
                apart.append((la, lb))
    say("headlines of one template with different ordinals (must stay apart): %d pairs" % len(apart))
    for la, lb in apart:
        say("    «%s»  |  «%s»" % (headlines[la][0], headlines[lb][0]))
    relief = [(la, lb) for la, lb in apart
              if {4, 6} == ordinals(headlines[la][0]) | ordinals(headlines[lb][0])
              and all("عدن" in headlines[x][0] for x in (la, lb))]
    different = set(different) | {d[::-1] for d in different}
    labelled = [(la, lb) for la in links for lb in links
                if la < lb and (collapse(headlines[la][0]), collapse(headlines[lb][0])) in different]
    if different:
        say("headline pairs a dev pair labels different: %d" % len(labelled))
    ok = True
    if not relief:
        print("FAIL: the corpus has no pair of relief flights to Aden, the fourth and the sixth: "
              "the check cannot run (has the corpus changed?)")
        ok = False

    for name, items in outputs:
        failures = []
        holders = {}
        for n, (title, ilinks, _) in enumerate(items):
            for l in ilinks:
                if l in headlines:
                    holders.setdefault(l, set()).add(n)
        # A second copy from an outlet already among a story's sources (a
        # re-post under a new GUID) leaves its key, not its link: find its
        # story in the export, and the story in the outputs by its links.
        for l in links:
            if holders.get(l) or absorbed is None:
                continue
            for story_links in absorbed.get(l, ()):
                for n, (_, ilinks, _) in enumerate(items):
                    if ilinks & story_links:
                        holders.setdefault(l, set()).add(n)
        for l in links:
            if len(holders.get(l, ())) != 1:
                failures.append("«%s» is named by %d items" % (headlines[l][0], len(holders.get(l, ()))))
        # No item may hold two headlines of one template with different ordinals.
        for n, (title, ilinks, _) in enumerate(items):
            held = [l for l in links if l in ilinks]
            for i, la in enumerate(held):
                for lb in held[i + 1:]:
                    ha, hb = headlines[la][0], headlines[lb][0]
                    if ordinals(ha) and ordinals(hb) and ordinals(ha) != ordinals(hb) and same_template(ha, hb):
                        failures.append("one item «%s» holds «%s» and «%s»" % (title, headlines[la][0], headlines[lb][0]))
        for la, lb in labelled:
            if holders.get(la) and holders.get(la) == holders.get(lb):
                failures.append("one item holds «%s» and «%s», which a dev pair labels different"
                                % (headlines[la][0], headlines[lb][0]))
        # Template pairs: an item each, each shown with its own ordinal.
        for la, lb in apart:
            ha, hb = holders.get(la, set()), holders.get(lb, set())
            if ha and ha == hb:
                continue  # already reported above
            for l in (la, lb):
                own = {collapse(h) for x in links for h in headlines[x]
                       if ordinals(h) == ordinals(headlines[l][0]) and same_template(h, headlines[l][0])}
                for n in holders.get(l, ()):
                    shown = items[n][0]
                    if collapse(shown) not in own:
                        failures.append("«%s» is shown as «%s», not a headline of its own" % (headlines[l][0], shown))
        # Hidden headlines.
        titles = {collapse(t) for t, _, _ in items}
        retitled = []
        for l in links:
            for h in headlines[l]:
                if collapse(h) in titles or any(collapse(h) in x for n in holders.get(l, ()) for x in items[n][2]):
                    continue
                for n in holders.get(l, ()):
                    shown = items[n][0]
                    if facts_conflict(h, shown):
                        failures.append("hidden: «%s» is only shown as «%s»" % (h, shown))
                    else:
                        retitled.append((h, shown))
        merged = sum(1 for _, il, _ in items if len([l for l in links if l in il]) > 1)
        say("%s: %d items, %d of them merge corpus items; %d headlines shown under another outlet's "
            "headline of the same story" % (name, len(items), merged, len(retitled)))
        for h, shown in retitled:
            say("    «%s» -> «%s»" % (h, shown))
        for la, lb in relief:
            ta = next((items[n][0] for n in holders.get(la, ())), None)
            tb = next((items[n][0] for n in holders.get(lb, ())), None)
            together = holders.get(la) and holders.get(la) == holders.get(lb)
            say("    relief flights: «%s» shown as «%s»; «%s» shown as «%s»%s"
                % (headlines[la][0], ta, headlines[lb][0], tb, " -- ONE ITEM" if together else ""))
        failures = list(dict.fromkeys(failures))
        if failures:
            ok = False
            for f in failures:
                print("FAIL (%s): %s" % (name, f))
        else:
            print("PASS (%s): %d items; every corpus headline has its story, no ordinals mixed" % (name, len(items)))
    return ok


def main(argv):
    args = argv[1:]
    quiet = "--quiet" in args
    args = [a for a in args if a != "--quiet"]
    different = []
    if "--pairs" in args:
        i = args.index("--pairs")
        if len(args) < i + 3:
            sys.stderr.write(__doc__)
            return 2
        different = different_headlines(args[i + 1], args[i + 2])
        del args[i:i + 3]
    absorbed = None
    if "--export" in args:
        i = args.index("--export")
        absorbed = absorbed_copies(args[i + 1], args[i + 2])
        del args[i:i + 3]
    if len(args) != 4:
        sys.stderr.write(__doc__)
        return 2
    outputs = [("json", json_items(args[1])), ("atom", atom_items(args[2])), ("html", html_items(args[3]))]
    return 0 if check(args[0], outputs, quiet, different, absorbed) else 1


def absorbed_copies(export_path, config_path):
    """Article link -> the links of the stored story that holds it by key:
    for every item of an export, the local key each configured feed would
    give an entry whose GUID is the article's link (see stream_check)."""
    import tomllib
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from stream_check import local_key
    feeds = [f["url"] for f in tomllib.load(open(config_path, "rb")).get("feed", [])]
    by_key = {}
    with open(export_path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") != "item":
                continue
            story = {norm_link(rec.get("link"))} | {norm_link(s.get("item_link")) for s in rec.get("sources", [])}
            for k in rec.get("keys", []):
                by_key[k] = story - {""}
    class Lookup(dict):
        def get(self, l, default=()):
            found = [by_key[k] for k in (local_key(u, l) for u in feeds) if k in by_key]
            return found or default
    return Lookup()


def different_headlines(pairs_path, articles_path):
    """The headline pairs (collapsed) of the articles a dev pair labels different."""
    title = {}
    with open(articles_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                title[a["link"]] = a["title"]
    out = []
    with open(pairs_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            p = json.loads(line)
            if p.get("duplicate") is False:
                ta, tb = title.get(p["a"].get("link")), title.get(p["b"].get("link"))
                if ta and tb:
                    out.append((collapse(ta), collapse(tb)))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv))
