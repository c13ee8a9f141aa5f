//! Near-duplicate benchmarks: `cargo bench --bench neardup`.
//!
//! - **decide**: the cost of deciding one new item against an index of 100k
//!   and of 1M stored fingerprints: its probe anchors computed from its
//!   tokens, the candidates looked up, and each candidate verified with
//!   `neardup::same_story_in` (the index is the corpus) against the
//!   candidate's text (held in memory
//!   here; the daemon reads it from the store). Two kinds of new item: a
//!   re-edited copy of a stored one (one candidate, a merge) and a story of
//!   its own (usually no candidate). The copy's decision is also timed in
//!   its two parts: the index lookup alone, and the comparison alone; and
//!   once more joining a story of four members, where the copy must also
//!   fit the three other outlets' copies.
//! - **memory per fingerprint**: `Index::approx_bytes` divided by the
//!   fingerprints held, and the growth of the process's resident memory
//!   (VmRSS) while the index was built, divided likewise.
//!
//! The items are synthetic: 140 body tokens and 8 title tokens drawn from a
//! 40k-word vocabulary with a Zipf-like skew (frequent words are frequent),
//! so common shingles are shared by many items as in real news.
//!
//! `RAFID_BENCH_1M=0` skips the 1M index (building it takes a minute).

use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::Criterion;
use rafid::dedup::near::{DEFAULT_THRESHOLD, Doc, Facts, Index, same_story_in};
use rafid::model::ItemId;

const BODY: usize = 140;
const TITLE: usize = 8;
const VOCAB: usize = 40_000;

/// A small deterministic generator (xorshift): the bench needs the same
/// corpus every run, not good randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word index, skewed towards small indexes.
    fn word(&mut self) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((VOCAB as f64).powf(u) as usize).saturating_sub(1)
    }
}

fn vocabulary() -> Vec<String> {
    const LETTERS: &[char] = &[
        'ا', 'ب', 'ت', 'ث', 'ج', 'ح', 'خ', 'د', 'ذ', 'ر', 'ز', 'س', 'ش', 'ص', 'ض', 'ط', 'ظ', 'ع',
        'غ', 'ف', 'ق', 'ك', 'ل', 'م', 'ن', 'ه', 'و', 'ي',
    ];
    let mut rng = Rng(0x5eed);
    (0..VOCAB)
        .map(|_| {
            let len = 3 + (rng.next() % 6) as usize;
            (0..len)
                .map(|_| LETTERS[(rng.next() % LETTERS.len() as u64) as usize])
                .collect()
        })
        .collect()
}

fn doc(rng: &mut Rng, vocab: &[String]) -> Doc {
    Doc {
        title: (0..TITLE)
            .map(|_| vocab[rng.word()].as_str().into())
            .collect(),
        body: (0..BODY)
            .map(|_| vocab[rng.word()].as_str().into())
            .collect(),
    }
}

/// A copy as an outlet re-edits it: a new title, the last fifth cut, a
/// word dropped here and there.
fn reedit(d: &Doc, rng: &mut Rng, vocab: &[String]) -> Doc {
    let keep = d.body.len() * 4 / 5;
    let body = d.body[..keep]
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 37 != 5)
        .map(|(_, w)| w.clone())
        .collect();
    Doc {
        title: (0..TITLE)
            .map(|_| vocab[rng.word()].as_str().into())
            .collect(),
        body,
    }
}

fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct Built {
    index: Index,
    /// The stored items the benchmark's copies are made from.
    kept: Vec<(ItemId, Doc)>,
    rss_per_fp: Option<f64>,
}

fn build(n: usize, vocab: &[String], now: DateTime<Utc>) -> Built {
    let mut rng = Rng(0xfeed_0000 + n as u64);
    let mut index = Index::default();
    let mut kept = Vec::new();
    let before = resident_bytes();
    for i in 0..n {
        let d = doc(&mut rng, vocab);
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_le_bytes());
        index.count_words(&d);
        index.insert(ItemId(id), now, &d);
        if i % (n / 64).max(1) == 0 {
            kept.push((ItemId(id), d));
        }
    }
    let after = resident_bytes();
    let rss_per_fp = before
        .zip(after)
        .map(|(b, a)| a.saturating_sub(b) as f64 / n as f64);
    Built {
        index,
        kept,
        rss_per_fp,
    }
}

/// The decision for one new item, as the store makes it.
fn decide(
    index: &Index,
    stored: &[(ItemId, Doc)],
    new: &Doc,
    now: DateTime<Utc>,
) -> Option<ItemId> {
    let probe = new.probe();
    for id in index.candidates(&probe, new.indexed_tokens(), now, 72 * 3600) {
        if let Some((_, d)) = stored.iter().find(|(k, _)| *k == id) {
            // As the store decides. The story here has one member, the copy
            // it shows, which the store does not check twice.
            if same_story_in(new, d, DEFAULT_THRESHOLD, index).duplicate {
                return Some(id);
            }
        }
    }
    None
}

/// `decide` for a story of several members: the copy must also fit each
/// member other than the one it resembles (`Facts::contradiction`), as the store
/// checks a new member against the whole story.
fn decide_in_story(
    index: &Index,
    stored: &[(ItemId, Doc)],
    others: &[Vec<Doc>],
    new: &Doc,
    now: DateTime<Utc>,
) -> Option<ItemId> {
    let probe = new.probe();
    for id in index.candidates(&probe, new.indexed_tokens(), now, 72 * 3600) {
        if let Some(i) = stored.iter().position(|(k, _)| *k == id) {
            if same_story_in(new, &stored[i].1, DEFAULT_THRESHOLD, index).duplicate {
                let facts = Facts::of(new);
                if others[i]
                    .iter()
                    .all(|m| facts.contradiction(&Facts::of(m)).is_none())
                {
                    return Some(id);
                }
            }
        }
    }
    None
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let vocab = vocabulary();
    let now = Utc::now();
    let mut sizes = vec![100_000usize];
    if std::env::var("RAFID_BENCH_1M").as_deref() != Ok("0") {
        sizes.push(1_000_000);
    }
    let mut notes = Vec::new();
    for n in sizes {
        let started = std::time::Instant::now();
        let built = build(n, &vocab, now);
        let took = started.elapsed();
        let mut rng = Rng(0xc0ffee + n as u64);
        let copies: Vec<Doc> = built
            .kept
            .iter()
            .map(|(_, d)| reedit(d, &mut rng, &vocab))
            .collect();
        let fresh: Vec<Doc> = (0..64).map(|_| doc(&mut rng, &vocab)).collect();
        // The copies must be found, the fresh stories not merged: a bench of
        // a decision that does nothing would measure nothing.
        let found = copies
            .iter()
            .zip(&built.kept)
            .filter(|(c, (id, _))| decide(&built.index, &built.kept, c, now) == Some(*id))
            .count();
        let wrong = fresh
            .iter()
            .filter(|f| decide(&built.index, &built.kept, f, now).is_some())
            .count();
        // Three more outlets' copies of each kept story: a copy joining a
        // story of four members. All of them, and the copy, give a place in
        // the headline and a tonnage, as relief stories do, so the copy is
        // checked against each member's facts.
        let with_facts = |mut d: Doc| {
            d.title.extend(["في", "عدن"].map(Into::into));
            d.body
                .extend(["وبلغت", "الشحنة", "11", "طنا"].map(Into::into));
            d
        };
        let others: Vec<Vec<Doc>> = built
            .kept
            .iter()
            .map(|(_, d)| {
                (0..3)
                    .map(|_| with_facts(reedit(d, &mut rng, &vocab)))
                    .collect()
            })
            .collect();
        let joining: Vec<Doc> = copies.iter().cloned().map(with_facts).collect();
        let with_something_to_contradict = joining
            .iter()
            .filter(|d| Facts::of(d).can_contradict())
            .count();
        let found_in_stories = joining
            .iter()
            .zip(&built.kept)
            .filter(|(c, (id, _))| {
                decide_in_story(&built.index, &built.kept, &others, c, now) == Some(*id)
            })
            .count();
        let mut group = c.benchmark_group(format!("decide/{n}"));
        let mut i = 0;
        group.bench_function("re-edited copy", |b| {
            b.iter(|| {
                i = (i + 1) % copies.len();
                decide(&built.index, &built.kept, &copies[i], now)
            })
        });
        let mut m = 0;
        group.bench_function("re-edited copy, story of 4 members", |b| {
            b.iter(|| {
                m = (m + 1) % copies.len();
                decide_in_story(&built.index, &built.kept, &others, &joining[m], now)
            })
        });
        let mut j = 0;
        group.bench_function("story of its own", |b| {
            b.iter(|| {
                j = (j + 1) % fresh.len();
                decide(&built.index, &built.kept, &fresh[j], now)
            })
        });
        // The two parts of deciding on a copy: the lookup, which depends on
        // the number of fingerprints, and the comparison with the one
        // candidate, which does not.
        let mut k = 0;
        group.bench_function("lookup only (copy)", |b| {
            b.iter(|| {
                k = (k + 1) % copies.len();
                built.index.candidates(
                    &copies[k].probe(),
                    copies[k].indexed_tokens(),
                    now,
                    72 * 3600,
                )
            })
        });
        let mut l = 0;
        group.bench_function("compare only (copy vs its story)", |b| {
            b.iter(|| {
                l = (l + 1) % copies.len();
                same_story_in(
                    &copies[l],
                    &built.kept[l].1,
                    DEFAULT_THRESHOLD,
                    &built.index,
                )
                .duplicate
            })
        });
        group.finish();
        let per_fp = built.index.approx_bytes() as f64 / built.index.len() as f64;
        notes.push(format!(
            "{n} fingerprints: built in {:.1} s; {found}/{} copies found ({found_in_stories} in stories of 4, \
             {with_something_to_contradict} of them with facts to check), \
             {wrong}/{} fresh stories merged; \
             memory per fingerprint: {per_fp:.0} B (index tables), {} (resident growth)",
            took.as_secs_f64(),
            copies.len(),
            fresh.len(),
            built
                .rss_per_fp
                .map_or("n/a".to_string(), |b| format!("{b:.0} B"))
        ));
    }
    c.final_summary();
    for n in notes {
        println!("{n}");
    }
}
