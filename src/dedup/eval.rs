//! `rafid dedup eval PAIRS.jsonl`: the daemon's same-story decision run on
//! labelled pairs, so its precision and recall can be measured and kept
//! from regressing.
//!
//! Input: one JSON object a line, `{"a": {"title", "body", …}, "b": {…},
//! "duplicate": bool, "kind": "…"}`. Output: one prediction a line on
//! stdout (`{"duplicate": …, "score": …}`, in input order), and on stderr
//! precision, recall and F1 overall, per kind, for the pairs with a body and
//! for the headline-only pairs (kinds starting `real_title_`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::Deserialize;

use crate::config::DedupConfig;
use crate::dedup::near::{Index, Reader, same_story_in, xling};
use crate::model::ItemId;

#[derive(Debug, Deserialize)]
struct Side {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    /// The language of the text, for pairs across languages ("ar", "en").
    #[serde(default)]
    lang: Option<String>,
}

impl Side {
    fn is(&self, lang: &str) -> bool {
        self.lang.as_deref().is_some_and(|l| {
            l.eq_ignore_ascii_case(lang) || l.to_ascii_lowercase().starts_with(&format!("{lang}-"))
        })
    }
}

#[derive(Debug, Deserialize)]
struct Pair {
    a: Side,
    b: Side,
    #[serde(default)]
    duplicate: Option<bool>,
    #[serde(default)]
    kind: Option<String>,
}

/// Confusion counts of one group of pairs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// Precision; 1 when nothing was predicted (no false merge was made).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp, 1.0)
    }

    /// Recall; 1 when there was nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_, 1.0)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<28} n={:<4} P={:.3} R={:.3} F1={:.3} (tp {} fp {} fn {} tn {})",
            self.tp + self.fp + self.fn_ + self.tn,
            self.precision(),
            self.recall(),
            self.f1(),
            self.tp,
            self.fp,
            self.fn_,
            self.tn
        )
    }
}

fn ratio(a: usize, b: usize, empty: f64) -> f64 {
    if b == 0 { empty } else { a as f64 / b as f64 }
}

/// The figures of one evaluation run.
#[derive(Debug, Default)]
pub struct Summary {
    pub all: Counts,
    /// Pairs with a body (every kind but the headline-only ones).
    pub with_body: Counts,
    pub headline_only: Counts,
    /// Pairs of an Arabic and an English text, linked rather than merged
    /// (not counted in `with_body` or `headline_only`).
    pub cross_language: Counts,
    pub by_kind: BTreeMap<String, Counts>,
    /// What the reader of the report should know (a dictionary missing).
    pub notes: Vec<String>,
}

/// Whether a kind is one of the headline-only kinds.
fn headline_kind(kind: &str) -> bool {
    kind.starts_with("real_title_")
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}:{line}: not a labelled pair: {detail}")]
    Input {
        path: String,
        line: usize,
        detail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Runs the evaluation on `input` (named `path` in messages), writing the
/// predictions to `out`.
pub fn run(
    config: &DedupConfig,
    path: &str,
    input: impl BufRead,
    out: &mut impl Write,
) -> Result<Summary, EvalError> {
    let reader = Reader::new(config.boilerplate.iter().map(String::as_str));
    let io = |source| EvalError::Io {
        path: path.to_string(),
        source,
    };
    let mut summary = Summary::default();
    // Every text of the file is the corpus the decision reads names by, as
    // the stored items are in the daemon.
    let mut pairs = Vec::new();
    let mut corpus = Index::default();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |detail: String| EvalError::Input {
            path: path.to_string(),
            line: n + 1,
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        check_keys(&value).map_err(bad)?;
        let pair: Pair = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        let a = reader.doc(pair.a.title.as_deref(), pair.a.body.as_deref());
        let b = reader.doc(pair.b.title.as_deref(), pair.b.body.as_deref());
        corpus.count_words(&a);
        corpus.count_words(&b);
        pairs.push((pair, a, b));
    }
    // Pairs across languages: the English sides are the corpus rarity is
    // read from, and the dictionary is loaded once, if any such pair is.
    let across = |p: &Pair| (p.a.is("ar") && p.b.is("en")) || (p.a.is("en") && p.b.is("ar"));
    let mut rarity = xling::DocFrequencies::default();
    let mut dict = None;
    // Each cross pair's English side, read once for rarity and decision.
    let mut englishes = Vec::with_capacity(pairs.len());
    for (pair, _, _) in &pairs {
        let english =
            across(pair).then(|| english_of(if pair.a.is("en") { &pair.a } else { &pair.b }));
        if let Some(en) = &english {
            rarity.add(en);
            if dict.is_none() {
                dict = Some(match xling::Dictionary::load(&config.dictionary) {
                    Ok(d) => d,
                    Err(e) => {
                        summary.notes.push(format!(
                            "no bilingual dictionary ({e}): pairs across languages are \
                             compared by names and figures alone"
                        ));
                        xling::Dictionary::default()
                    }
                });
            }
        }
        englishes.push(english);
    }
    // Empty when no pair needs it.
    let dict = dict.unwrap_or_default();
    for ((pair, a, b), english) in pairs.into_iter().zip(englishes) {
        let cross = english.is_some();
        let (duplicate, prediction) = if let Some(en) = english {
            let ar_doc = if pair.a.is("ar") { &a } else { &b };
            let ar = xling::Arabic::read(ar_doc, &dict);
            let link =
                xling::same_story_across(&ar, &en, &dict, &rarity, xling::DEFAULT_XLING_THRESHOLD);
            let prediction = serde_json::json!({
                "duplicate": link.linked,
                "score": (link.score * 1000.0).round() / 1000.0,
                "conflict": link.conflict,
                "anchors": link.anchors,
                "cross_language": true,
            });
            (link.linked, prediction)
        } else {
            // As in the daemon: `b` arrives after `a`, finds it through the
            // index, and only then is the pair compared.
            let mut index = Index::default();
            let when = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
            index.insert(ItemId([0; 16]), when, &a);
            let found = !index
                .candidates(&b.probe(), b.indexed_tokens(), when, 0)
                .is_empty();
            let mut v = same_story_in(&a, &b, config.threshold, &corpus);
            if !found && v.duplicate {
                v.duplicate = false;
                v.conflict = Some("not found through the index".into());
            }
            let prediction = serde_json::json!({
                "duplicate": v.duplicate,
                "score": (v.score * 1000.0).round() / 1000.0,
                "conflict": v.conflict,
            });
            (v.duplicate, prediction)
        };
        writeln!(out, "{prediction}").map_err(io)?;
        if let Some(actual) = pair.duplicate {
            let kind = pair.kind.unwrap_or_else(|| "unlabelled-kind".into());
            summary.all.add(duplicate, actual);
            if cross {
                summary.cross_language.add(duplicate, actual);
            } else if headline_kind(&kind) {
                summary.headline_only.add(duplicate, actual);
            } else {
                summary.with_body.add(duplicate, actual);
            }
            summary
                .by_kind
                .entry(kind)
                .or_default()
                .add(duplicate, actual);
        }
    }
    Ok(summary)
}

/// An English side as the cross-language decision reads it.
fn english_of(side: &Side) -> xling::English {
    let text = |t: &Option<String>| crate::text::html_to_text(t.as_deref().unwrap_or(""));
    xling::English::read(&text(&side.title), &text(&side.body))
}

/// The keys of a pair.
const PAIR_KEYS: &[&str] = &["a", "b", "duplicate", "kind"];

/// A pair without its `duplicate` label but with a key rafid does not know
/// is a misspelled label: counted as unlabelled, it would vanish from the
/// figures and leave a perfect-looking `n=0`.
fn check_keys(value: &serde_json::Value) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Err("expected a JSON object".into());
    };
    if obj.contains_key("duplicate") {
        return Ok(());
    }
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !PAIR_KEYS.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(()); // an unlabelled pair: predicted, not counted
    }
    Err(format!(
        "unknown key {} and no label; the label key is `duplicate` (true or false)",
        unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

impl Summary {
    /// The report for stderr.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for (kind, c) in &self.by_kind {
            s.push_str(&c.line(kind));
            s.push('\n');
        }
        s.push_str(&self.headline_only.line("headline-only pairs"));
        s.push('\n');
        s.push_str(&self.with_body.line("pairs with a body"));
        s.push('\n');
        if self.cross_language != Counts::default() {
            s.push_str(&self.cross_language.line("cross-language pairs"));
            s.push('\n');
        }
        s.push_str(&self.all.line("all pairs"));
        s.push('\n');
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s.push_str(&format!(
            "precision {:.3} recall {:.3} f1 {:.3} (pairs with a body)\n",
            self.with_body.precision(),
            self.with_body.recall(),
            self.with_body.f1()
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicts_one_line_per_pair_and_counts_by_kind() {
        let story = "أعلنت الهيئة العامة للأرصاد أن درجات الحرارة سترتفع في المنطقة الشرقية \
                     خلال الأيام الثلاثة المقبلة مع رياح نشطة مثيرة للغبار على الطرق السريعة";
        let other = "فاز النادي الأهلي على منافسه في نهائي الكأس بعد مباراة مثيرة امتدت \
                     إلى الأشواط الإضافية أمام جمهور كبير في الملعب الرئيسي بالمدينة";
        let pairs = [
            serde_json::json!({"a": {"title": "ارتفاع درجات الحرارة في الشرقية", "body": story}, "b": {"title": "درجات الحرارة ترتفع في الشرقية", "body": format!("{story}\nالمصدر: واس")}, "duplicate": true, "kind": "copy"}),
            serde_json::json!({"a": {"title": "حر", "body": story}, "b": {"title": "كرة", "body": other}, "duplicate": false, "kind": "other"}),
            serde_json::json!({"a": {"title": "ارتفاع الحرارة في الشرقية"}, "b": {"title": "الحرارة ترتفع في الشرقية"}, "duplicate": true, "kind": "real_title_x"}),
        ];
        let input: String = pairs.iter().map(|p| format!("{p}\n")).collect();
        let mut out = Vec::new();
        let s = run(
            &DedupConfig::default(),
            "t.jsonl",
            input.as_bytes(),
            &mut out,
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["duplicate"], true);
        assert_eq!(lines[1]["duplicate"], false);
        assert_eq!(s.with_body.tp, 1);
        assert_eq!(s.with_body.tn, 1);
        assert_eq!(s.headline_only.tp + s.headline_only.fn_, 1);
        assert_eq!(s.by_kind.len(), 3);
        assert!(s.report().contains("pairs with a body"));
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let mut out = Vec::new();
        let e = run(
            &DedupConfig::default(),
            "p.jsonl",
            "\n{oops}\n".as_bytes(),
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("p.jsonl:2:"), "{e}");
    }

    #[test]
    fn pairs_across_languages_are_counted_apart_and_a_missing_dictionary_is_said() {
        let ar = "وصلت اليوم إلى مطار عدن الدولي الطائرة الرابعة ضمن الجسر الجوي الذي يسيره \
                  مركز الملك سلمان للإغاثة محملة بعشرة أطنان من المستلزمات الطبية";
        let en = "ADEN - A fourth Saudi relief plane landed at Aden airport carrying ten \
                  tonnes of medical supplies, the King Salman Relief Centre said.";
        let pair = serde_json::json!({
            "a": {"title": "وصول طائرة الإغاثة الرابعة إلى عدن", "body": ar, "lang": "ar"},
            "b": {"title": "Fourth relief plane lands in Aden", "body": en, "lang": "en"},
            "duplicate": true, "kind": "xl_translation"
        });
        let dir = tempfile::tempdir().unwrap();
        let config = DedupConfig {
            dictionary: dir.path().join("absent"),
            ..DedupConfig::default()
        };
        let mut out = Vec::new();
        let s = run(&config, "x.jsonl", format!("{pair}\n").as_bytes(), &mut out).unwrap();
        assert_eq!(s.cross_language.tp + s.cross_language.fn_, 1);
        assert_eq!(s.with_body, Counts::default());
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["cross_language"], true);
        assert!(s.report().contains("cross-language pairs"));
        assert!(
            s.notes.iter().any(|n| n.contains("absent.index")),
            "{:?}",
            s.notes
        );
    }

    /// Issue 16: a misspelled label key gave `n=0 P=1.000 R=1.000`.
    #[test]
    fn a_misspelled_label_key_is_an_error_naming_the_line_and_the_key() {
        let pair = |label: &str| {
            format!(r#"{{"a": {{"title": "x"}}, "b": {{"title": "y"}}, "{label}": true}}"#)
        };
        let input = format!("{}\n{}\n", pair("duplicate"), pair("duplicte"));
        let mut out = Vec::new();
        let e = run(
            &DedupConfig::default(),
            "p.jsonl",
            input.as_bytes(),
            &mut out,
        )
        .unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("p.jsonl:2: "), "{e}");
        assert!(e.contains("`duplicte`") && e.contains("`duplicate`"), "{e}");
        // A pair with no label at all is predicted, not an error.
        let input = r#"{"a": {"title": "x", "lang": "ar"}, "b": {"title": "y"}, "kind": "k"}"#;
        assert!(
            run(
                &DedupConfig::default(),
                "p.jsonl",
                input.as_bytes(),
                &mut out
            )
            .is_ok()
        );
    }
}
