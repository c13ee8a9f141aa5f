#!/usr/bin/env bash
# check-dedup.sh — the same-story detector, measured and exercised:
#
# 1. `rafid dedup eval` on ../shared/dedup-data/dev-pairs.jsonl: stdout must
#    hold exactly one JSON prediction per input line, and a "conflict"
#    reason for every pair kept apart. Bars: pairs with a body
#    (every kind but real_title_*) precision >= 0.99 and recall >= 0.95;
#    real_republish_cross recall >= 0.92; no real_template_* or syn_neg_*
#    pair merged; headline-only pairs (real_title_*, at least 40 of them)
#    precision >= 0.95 and recall >= 0.78. The per-kind table is printed.
# 2. Variants of ../shared/seed-item.txt, generated here (never committed),
#    published by three local outlets next to stories of their own, a copy of
#    the story with other numbers and one set in another city (a city the
#    seed names is swapped; a seed naming none fails the check): after
#    `rafid poll-once`, the merged feed shows the story once, listing all
#    three outlets with their own links, and keeps the number and place
#    variants apart.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-dedup
PAIRS="$SHARED/dedup-data/dev-pairs.jsonl"
SEED="$SHARED/seed-item.txt"
ci_need_rafid
[ -r "$PAIRS" ] || die 2 "cannot read $PAIRS"
[ -r "$SEED" ] || die 2 "cannot read $SEED"
ci_workdir

# --- 1. evaluation on the labelled pairs -----------------------------------
# A config without feeds or dedup keys: the defaults the daemon uses unless told.
printf '[output]\ntitle = "dedup eval"\n' > "$WORK/eval.toml"
(cd "$WORK" && "$RAFID" -c "$WORK/eval.toml" dedup eval "$PAIRS" > "$WORK/pred.jsonl" 2> "$WORK/eval.txt") \
    || { cat "$WORK/eval.txt"; fail "rafid dedup eval exited non-zero"; ci_summary; }
cat "$WORK/eval.txt"
ci_check "dedup eval meets its bars" python3 - "$PAIRS" "$WORK/pred.jsonl" "$WORK/eval.txt" <<'PY'
import json, re, sys
pairs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
preds = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
ok = True
if len(preds) != len(pairs):
    print(f"FAIL: {len(preds)} prediction lines for {len(pairs)} pairs"); ok = False
if not all(isinstance(p.get("duplicate"), bool) for p in preds):
    print("FAIL: a prediction line lacks a boolean \"duplicate\""); ok = False
# Recompute the figures from stdout rather than trusting stderr.
def counts(select):
    tp = fp = fn = 0
    for pair, pred in zip(pairs, preds):
        if not select(pair["kind"]):
            continue
        p, a = pred["duplicate"], pair["duplicate"]
        tp += p and a; fp += p and not a; fn += (not p) and a
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp + fn

def bar(name, value, least):
    global ok
    verdict = "ok" if value >= least else "FAIL"
    print(f"{verdict}: {name} {value:.3f} (bar {least:.2f})")
    if value < least:
        ok = False

precision, recall, _ = counts(lambda k: not k.startswith("real_title_"))
bar("pairs with a body: precision", precision, 0.99)
bar("pairs with a body: recall", recall, 0.95)
stated = re.search(r"precision ([0-9.]+) recall ([0-9.]+)", open(sys.argv[3], encoding="utf-8").read())
if not stated or abs(float(stated.group(1)) - precision) > 0.001 or abs(float(stated.group(2)) - recall) > 0.001:
    print("FAIL: stderr's figures disagree with the predictions"); ok = False
_, cross, n = counts(lambda k: k == "real_republish_cross")
if n == 0:
    print("FAIL: no real_republish_cross pairs to measure"); ok = False
bar("real_republish_cross: recall", cross, 0.92)
# Headline-only pairs: 50 in the dev set today, precision 0.952 (20 of 21)
# and recall 0.800 (20 of 25). One more wrong merge, or one fewer found,
# falls below these bars.
hp, hr, _ = counts(lambda k: k.startswith("real_title_"))
n = sum(1 for pair in pairs if pair["kind"].startswith("real_title_"))
if n < 40:
    print(f"FAIL: {n} headline-only pairs to measure (50 expected)"); ok = False
bar("headline-only pairs: precision", hp, 0.95)
bar("headline-only pairs: recall", hr, 0.78)
merged = [(i, pair["kind"]) for i, (pair, pred) in enumerate(zip(pairs, preds))
          if pred["duplicate"] and (pair["kind"].startswith("real_template_") or pair["kind"].startswith("syn_neg_"))]
for i, kind in merged:
    print(f"FAIL: line {i + 1} ({kind}) merged two different stories")
if merged:
    ok = False
unexplained = [i for i, pred in enumerate(preds) if not pred["duplicate"] and not pred.get("conflict")]
for i in unexplained:
    print(f"FAIL: line {i + 1} was kept apart with no conflict saying why")
if unexplained:
    ok = False
sys.exit(0 if ok else 1)
PY

# --- 2. variants of the seed item from three outlets -----------------------
bases=()
for o in one two three; do
    mkdir -p "$WORK/$o"
    serve_http "$WORK/$o"
    bases+=("$SERVED_URL")
done
python3 - "$SEED" "$WORK" <<'PY' || die 2 "cannot make the seed variants"
import html, random, re, sys
seed = open(sys.argv[1], encoding="utf-8").read().strip()
work = sys.argv[2]
paras = [p.strip() for p in seed.split("\n") if p.strip()]
rng = random.Random(7)

def diacritize(text):
    # A fatha or a shadda on some letters, tatweel in some words.
    out = []
    for w in text.split(" "):
        r = rng.random()
        if r < 0.15 and len(w) > 3:
            w = w[:2] + "\u064e" + w[2:]
        elif r < 0.22 and len(w) > 3:
            w = w[:2] + "\u0640\u0640" + w[2:]
        out.append(w)
    return " ".join(out)

def indic(text):
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))

def typo(text):
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // 60)):
        w = words[i]
        if len(w) > 4:
            words[i] = w[:1] + w[2] + w[1] + w[3:]
    return " ".join(words)

def body(ps):
    return "".join(f"<p>{html.escape(p)}</p>" for p in ps)

numbers = re.findall(r"\d+", seed)
if not numbers:
    sys.exit("seed item has no number to vary")
n = numbers[0]
swapped = str(int(n) + 150)
# The place swapped for the "set in another city" copy: the first of these
# cities the seed names. A seed naming none of them is an error, never a
# reason to skip the case.
place = next((p for p in ("الموصل", "الرقة", "بغداد", "دمشق", "حلب") if p in seed), None)
if place is None:
    sys.exit("the seed item names none of the cities the place swap uses")
other_place = "حمص" if place == "حلب" else "حلب"

variants = {
    "one": [("s1", "التحالف طرف في صفقة سمحت بخروج مسلحي داعش", body(paras), "Mon, 04 Mar 2024 08:00:00 GMT")],
    "two": [("s1", "وثيقة: صفقة أخرجت مئات المسلحين من المدينتين",
             body([indic(diacritize(p.replace("،", " -"))) for p in paras] + ["المصدر: وكالات", "ترجمة: فريق التحرير"]),
             "Mon, 04 Mar 2024 07:40:00 GMT")],
    "three": [("s1", "صفقة خروج مسلحي التنظيم",
               body([typo(p) for p in paras[: max(2, len(paras) // 2)]] + ["اقرأ أيضاً: تطورات الحرب على التنظيم"]),
               "Mon, 04 Mar 2024 08:30:00 GMT")],
}
# The same text with another number: another story.
variants["two"].append(("n1", "التحالف طرف في صفقة سمحت بخروج مسلحي داعش",
                        body([re.sub(rf"\b{n}\b", swapped, p) for p in paras]), "Mon, 04 Mar 2024 09:00:00 GMT"))
variants["three"].append(("p1", f"التحالف طرف في صفقة سمحت بخروج مسلحي داعش من {other_place}",
                          body([p.replace(place, other_place) for p in paras]), "Mon, 04 Mar 2024 09:10:00 GMT"))
# Stories of each outlet's own (written here).
own = {
    "one": ("o1", "افتتاح معرض الكتاب الدولي بمشاركة ثلاثمئة دار نشر",
            "افتتح وزير الثقافة معرض الكتاب الدولي صباح اليوم بمشاركة ثلاثمئة دار نشر من عشرين دولة، ويستمر المعرض عشرة أيام تتخللها ندوات وأمسيات شعرية وورش للأطفال."),
    "two": ("o2", "ارتفاع أسعار الذهب مع تراجع الدولار",
            "ارتفعت أسعار الذهب في تعاملات الصباح مع تراجع الدولار أمام سلة العملات الرئيسية، وقال متعاملون إن المستثمرين يترقبون بيانات التضخم الأمريكية نهاية الأسبوع."),
    "three": ("o3", "منتخب الشباب يتأهل إلى نهائي البطولة الإقليمية",
              "تأهل منتخب الشباب لكرة القدم إلى نهائي البطولة الإقليمية بعد فوزه بركلات الترجيح في مباراة نصف النهائي التي امتدت إلى الأشواط الإضافية أمام جمهور كبير."),
}
for o in ["one", "two", "three"]:
    items = variants[o] + [(own[o][0], own[o][1], f"<p>{own[o][2]}</p>", "Mon, 04 Mar 2024 10:00:00 GMT")]
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>outlet-{o}</title><link>https://{o}.example/</link><description>x</description>']
    for guid, title, b, date in items:
        out.append(f'<item><guid isPermaLink="false">{o}-{guid}</guid><title>{html.escape(title)}</title>'
                   f'<link>https://{o}.example/news/{guid}</link><description>{html.escape(b)}</description><pubDate>{date}</pubDate></item>')
    out.append("</channel></rss>")
    open(f"{work}/{o}/feed.xml", "w", encoding="utf-8").write("\n".join(out))
PY
{
    echo "[storage]"
    echo "path = \"$WORK/state\""
    for b in "${bases[@]}"; do printf '[[feed]]\nurl = "%sfeed.xml"\n' "$b"; done
} > "$WORK/rafid.toml"
"$RAFID" -c "$WORK/rafid.toml" poll-once > "$WORK/poll.txt" 2>&1 || { cat "$WORK/poll.txt"; fail "poll-once"; ci_summary; }
"$RAFID" -c "$WORK/rafid.toml" render --format json > "$WORK/river.json"
ci_check "the seed story from three outlets is shown once with all of them, the number and place variants apart" \
    python3 - "$WORK/river.json" <<'PY'
import json, sys
river = json.load(open(sys.argv[1], encoding="utf-8"))
items = river["items"]
ok = True
def links(i):
    return sorted(s.get("url", "") for s in i["_rafid"]["sources"])
story = [i for i in items if any(l.endswith("/news/s1") for l in links(i))]
if len(story) != 1:
    print(f"FAIL: the seed story appears {len(story)} times"); ok = False
else:
    got = links(story[0])
    want = sorted(f"https://{o}.example/news/s1" for o in ("one", "two", "three"))
    if got != want:
        print(f"FAIL: the story lists {got}, want {want}"); ok = False
    if story[0].get("date_published") != "2024-03-04T07:40:00Z":
        print(f"FAIL: the story's date is {story[0].get('date_published')}, want the earliest (07:40Z)"); ok = False
apart = [i for i in items if any(l.endswith("/news/n1") for l in links(i))]
if len(apart) != 1 or apart[0] in story:
    print("FAIL: the copy with another number was merged"); ok = False
placed = [i for i in items if any(l.endswith("/news/p1") for l in links(i))]
if len(placed) != 1 or placed[0] in story:
    print("FAIL: the copy set in another city was merged"); ok = False
want_items = 3 + 2 + 1
if len(items) != want_items:
    print(f"FAIL: {len(items)} items in the river, want {want_items}"); ok = False
print(f"{len(items)} items in the river")
sys.exit(0 if ok else 1)
PY
ci_summary
