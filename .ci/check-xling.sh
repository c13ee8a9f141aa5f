#!/usr/bin/env bash
# check-xling.sh — the same story across languages, measured:
#
# `rafid dedup eval` on ../shared/dedup-data/xling-dev-pairs.jsonl (Arabic–
# English pairs, each side with its `lang`), with Debian's
# dict-freedict-ara-eng installed (installed here if missing) and the
# default config. Bars, recomputed from stdout: cross-language precision
# >= 0.95 and recall >= 0.70; no xl_neg_* kind above 5% false links; every
# pair kept apart says why; the dictionary was found (no fallback note).
# Then the same file with a dictionary path that does not exist: the
# report says so, the pairs are still decided (names and figures), and no
# pair labelled different is linked.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-xling
PAIRS="$SHARED/dedup-data/xling-dev-pairs.jsonl"
ci_need_rafid
[ -r "$PAIRS" ] || die 2 "cannot read $PAIRS"
ci_need_debs dict-freedict-ara-eng
ci_workdir

printf '[output]\ntitle = "xling eval"\n' > "$WORK/eval.toml"
(cd "$WORK" && "$RAFID" -c "$WORK/eval.toml" dedup eval "$PAIRS" > "$WORK/pred.jsonl" 2> "$WORK/eval.txt") \
    || { cat "$WORK/eval.txt"; fail "rafid dedup eval exited non-zero"; ci_summary; }
cat "$WORK/eval.txt"
ci_check "cross-language eval meets its bars" python3 - "$PAIRS" "$WORK/pred.jsonl" "$WORK/eval.txt" <<'PY'
import collections, json, sys
pairs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
preds = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
report = open(sys.argv[3], encoding="utf-8").read()
ok = True
def fail(msg):
    global ok
    print("FAIL:", msg); ok = False
if len(preds) != len(pairs):
    fail(f"{len(preds)} prediction lines for {len(pairs)} pairs")
if "note: no bilingual dictionary" in report:
    fail("the dictionary was not found")
tp = fp = fn = 0
false_links = collections.Counter(); negs = collections.Counter()
for i, (pair, pred) in enumerate(zip(pairs, preds)):
    if pred.get("cross_language") is not True:
        fail(f"line {i + 1} was not decided as a cross-language pair")
    p, a = pred["duplicate"], pair["duplicate"]
    tp += p and a; fp += p and not a; fn += (not p) and a
    if pair["kind"].startswith("xl_neg_"):
        negs[pair["kind"]] += 1
        false_links[pair["kind"]] += p
    if not p and not pred.get("conflict"):
        fail(f"line {i + 1} was kept apart with no conflict saying why")
precision = tp / (tp + fp) if tp + fp else 1.0
recall = tp / (tp + fn) if tp + fn else 1.0
print(f"cross-language precision {precision:.3f} (bar 0.95), recall {recall:.3f} (bar 0.70)")
if precision < 0.95 or recall < 0.70:
    fail("below the precision or recall bar")
if len(negs) < 3:
    fail(f"only {len(negs)} xl_neg_* kinds to measure")
for kind in sorted(negs):
    share = false_links[kind] / negs[kind]
    print(f"{kind}: {false_links[kind]} of {negs[kind]} linked ({share:.1%}, bar 5%)")
    if share > 0.05:
        fail(f"{kind} above 5% false links")
sys.exit(0 if ok else 1)
PY

printf '[output]\ntitle = "xling eval"\n[dedup]\ndictionary = "%s/absent/ara-eng"\n' "$WORK" > "$WORK/nodict.toml"
(cd "$WORK" && "$RAFID" -c "$WORK/nodict.toml" dedup eval "$PAIRS" > "$WORK/pred2.jsonl" 2> "$WORK/eval2.txt") \
    || { cat "$WORK/eval2.txt"; fail "rafid dedup eval without a dictionary exited non-zero"; ci_summary; }
grep -E "cross-language|note:" "$WORK/eval2.txt" || true
ci_check "without the dictionary the report says so" grep -q "note: no bilingual dictionary.*absent/ara-eng.index" "$WORK/eval2.txt"
ci_check "without the dictionary every pair is still decided" \
    test "$(wc -l < "$WORK/pred2.jsonl")" -eq "$(grep -c . "$PAIRS")"
ci_check "without the dictionary no pair labelled different is linked" python3 - "$PAIRS" "$WORK/pred2.jsonl" <<'PY'
import json, sys
pairs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
preds = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
wrong = [i + 1 for i, (p, q) in enumerate(zip(pairs, preds)) if q["duplicate"] and not p["duplicate"]]
found = sum(1 for p, q in zip(pairs, preds) if q["duplicate"] and p["duplicate"])
print(f"names and figures alone: {found} linked rightly, {len(wrong)} wrongly {wrong}")
sys.exit(1 if wrong else 0)
PY
ci_summary
