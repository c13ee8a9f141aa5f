#!/usr/bin/env bash
# check-dedup.sh — the same-story detector, measured and exercised:
#
# 1. `rafid dedup eval` on ../shared/dedup-data/dev-pairs.jsonl: stdout must
#    hold exactly one JSON prediction per input line, and a "conflict"
#    reason for every pair kept apart. Bars: pairs with a body
#    (every kind but real_title_*) precision >= 0.99 and recall >= 0.95;
#    real_republish_cross recall >= 0.92; no real_template_* or syn_neg_*
#    pair merged; headline-only pairs (real_title_*) precision >= 0.90 and
#    recall >= 0.60. The per-kind table is printed.
# 2. Variants of ../shared/seed-item.txt, generated here (never committed),
#    published by three local outlets next to stories of their own, a copy of
#    the story with other numbers and one set in another city: after
#    `rafid poll-once`, the merged feed shows the story once, listing all
#    three outlets with their own links, and keeps the number and place
#    variants apart.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
PAIRS="$SHARED/dedup-data/dev-pairs.jsonl"
SEED="$SHARED/seed-item.txt"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
[ -x "$RAFID" ] || { echo "check-dedup: no binary at $RAFID (cargo build --release)"; exit 2; }
[ -r "$PAIRS" ] || { echo "check-dedup: cannot read $PAIRS"; exit 2; }
[ -r "$SEED" ] || { echo "check-dedup: cannot read $SEED"; exit 2; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail=0

# --- 1. evaluation on the labelled pairs -----------------------------------
# A config without feeds or dedup keys: the defaults the daemon uses unless told.
printf '[output]\ntitle = "dedup eval"\n' > "$WORK/eval.toml"
(cd "$WORK" && "$RAFID" -c "$WORK/eval.toml" dedup eval "$PAIRS" > "$WORK/pred.jsonl" 2> "$WORK/eval.txt") \
    || { cat "$WORK/eval.txt"; echo "FAIL: rafid dedup eval exited non-zero"; exit 1; }
cat "$WORK/eval.txt"
python3 - "$PAIRS" "$WORK/pred.jsonl" "$WORK/eval.txt" <<'PY' || fail=1
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
hp, hr, n = counts(lambda k: k.startswith("real_title_"))
if n == 0:
    print("FAIL: no headline-only pairs to measure"); ok = False
bar("headline-only pairs: precision", hp, 0.90)
bar("headline-only pairs: recall", hr, 0.60)
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
if ok:
    print("PASS: dedup eval meets its bars")
sys.exit(0 if ok else 1)
PY

# --- 2. variants of the seed item from three outlets -----------------------
for o in one two three; do mkdir -p "$WORK/$o"; done
ports=()
for o in one two three; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    ports+=("$port")
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WORK/$o" > /dev/null 2>&1 &
    PIDS+=($!)
done
python3 - "$SEED" "$WORK" "${ports[@]}" <<'PY'
import html, random, re, sys
seed = open(sys.argv[1], encoding="utf-8").read().strip()
work, ports = sys.argv[2], sys.argv[3:]
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
first_place = "الموصل" if "الموصل" in seed else None

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
if first_place:
    variants["three"].append(("p1", "التحالف طرف في صفقة سمحت بخروج مسلحي داعش من حلب",
                              body([p.replace("الموصل", "حلب") for p in paras]), "Mon, 04 Mar 2024 09:10:00 GMT"))
# Stories of each outlet's own (written here).
own = {
    "one": ("o1", "افتتاح معرض الكتاب الدولي بمشاركة ثلاثمئة دار نشر",
            "افتتح وزير الثقافة معرض الكتاب الدولي صباح اليوم بمشاركة ثلاثمئة دار نشر من عشرين دولة، ويستمر المعرض عشرة أيام تتخللها ندوات وأمسيات شعرية وورش للأطفال."),
    "two": ("o2", "ارتفاع أسعار الذهب مع تراجع الدولار",
            "ارتفعت أسعار الذهب في تعاملات الصباح مع تراجع الدولار أمام سلة العملات الرئيسية، وقال متعاملون إن المستثمرين يترقبون بيانات التضخم الأمريكية نهاية الأسبوع."),
    "three": ("o3", "منتخب الشباب يتأهل إلى نهائي البطولة الإقليمية",
              "تأهل منتخب الشباب لكرة القدم إلى نهائي البطولة الإقليمية بعد فوزه بركلات الترجيح في مباراة نصف النهائي التي امتدت إلى الأشواط الإضافية أمام جمهور كبير."),
}
for o, port in zip(["one", "two", "three"], ports):
    items = variants[o] + [(own[o][0], own[o][1], f"<p>{own[o][2]}</p>", "Mon, 04 Mar 2024 10:00:00 GMT")]
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>outlet-{o}</title><link>https://{o}.example/</link><description>x</description>']
    for guid, title, b, date in items:
        out.append(f'<item><guid isPermaLink="false">{o}-{guid}</guid><title>{html.escape(title)}</title>'
                   f'<link>https://{o}.example/news/{guid}</link><description>{html.escape(b)}</description><pubDate>{date}</pubDate></item>')
    out.append("</channel></rss>")
    open(f"{work}/{o}/feed.xml", "w", encoding="utf-8").write("\n".join(out))
open(f"{work}/expect.txt", "w").write(f"{1 if first_place else 0}\n")
PY
for p in "${ports[@]}"; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$p/feed.xml" > /dev/null && break; sleep 0.1; done
done
{
    echo "[storage]"
    echo "path = \"$WORK/state\""
    for p in "${ports[@]}"; do printf '[[feed]]\nurl = "http://127.0.0.1:%s/feed.xml"\n' "$p"; done
} > "$WORK/rafid.toml"
"$RAFID" -c "$WORK/rafid.toml" poll-once > "$WORK/poll.txt" 2>&1 || { cat "$WORK/poll.txt"; echo "FAIL: poll-once"; exit 1; }
"$RAFID" -c "$WORK/rafid.toml" render --format json > "$WORK/river.json"
python3 - "$WORK/river.json" "$(cat "$WORK/expect.txt")" <<'PY' || fail=1
import json, sys
river = json.load(open(sys.argv[1], encoding="utf-8"))
has_place = sys.argv[2] == "1"
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
if has_place:
    placed = [i for i in items if any(l.endswith("/news/p1") for l in links(i))]
    if len(placed) != 1 or placed[0] in story:
        print("FAIL: the copy set in another city was merged"); ok = False
want_items = 3 + 2 + (1 if has_place else 0)
if len(items) != want_items:
    print(f"FAIL: {len(items)} items in the river, want {want_items}"); ok = False
if ok:
    print(f"PASS: the seed story from three outlets is shown once with all of them; {len(items)} items in all")
sys.exit(0 if ok else 1)
PY
exit "$fail"
