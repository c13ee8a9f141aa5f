//! Near-duplicates: the same story carried by several outlets (or by one
//! outlet twice, under a new GUID), lightly re-edited, trimmed, re-titled or
//! with its boilerplate changed.
//!
//! # Method, and why
//!
//! The decision has two stages, because the two things it must do pull in
//! opposite directions: find re-edited copies that share as little as a
//! third of their words (a summary against the full article), and keep apart
//! template stories that share nearly all of their words but differ in one
//! number, place or name ("18 killed in Mosul" / "18 killed in Raqqa").
//!
//! 1. **Resemblance.** Text is normalized (`normalize::normalize_text`),
//!    boilerplate lines (source, translator, "read more"; `dedup.boilerplate`)
//!    are dropped, and the body becomes a set of word 3-shingles. Two items
//!    resemble each other when the *containment* of the smaller set in the
//!    larger reaches `dedup.threshold` (0.6 by default). Containment rather
//!    than Jaccard, because a trimmed copy or a summary is wholly contained
//!    in the original while sharing few of its shingles. Items without a
//!    body (headline only) are compared on their title words instead.
//! 2. **Contradiction.** The two token sequences are aligned (a longest
//!    common subsequence) and every short replaced stretch is read: typos,
//!    transposed letters, clitics (و ب ل ف ك ال) and a number written in
//!    words against the same in figures are not differences. They are:
//!    - a different number where the other text has a number;
//!    - in the body, a content word where the other has another that appears
//!      nowhere in it (a name or place swap): two such swaps, or one in text
//!      otherwise near-identical, or the same swap made twice even though the
//!      old name survives elsewhere. Headlines are rewritten freely, so swaps
//!      there do not count. Words outlets exchange at will ("said",
//!      "stated", "today", "yesterday") are not content words;
//!    - numbers in figures on both sides that the other lacks, in text that
//!      is otherwise near-identical; or one side adding numbers to text
//!      otherwise identical in length and words (an added fact: a toll, a
//!      figure).
//!
//! Why not SimHash or MinHash alone: both estimate resemblance only. On
//! labelled Arabic pairs they either merge template stories that differ in a
//! number or a place, or, tuned tight enough not to, miss the trimmed and
//! re-titled copies that make up most real republishing. The alignment stage
//! is what lets the resemblance threshold stay low.
//!
//! # Index
//!
//! Candidates come from an in-memory inverted index over *anchor* shingles:
//! the shingles whose hash falls in a fixed quarter of the hash space. The
//! choice depends on the shingle alone, so any stretch of shared text a dozen
//! words long very likely yields a shared anchor, whatever the two documents'
//! lengths: what containment needs, where MinHash bands favour documents of
//! similar length. A stored item keeps the anchors of its lead (where a
//! summary or a trimmed copy meets it) and a bounded sample of the rest; a
//! new item probes with all of its anchors. A lookup costs one hash probe per
//! anchor of the new item (a few dozen), independent of how many fingerprints
//! are stored; anchors shared by very many items (boilerplate that escaped
//! the list) are not followed. Only the few best candidates are loaded and
//! compared.
//!
//! The index holds each item's anchors and date only (under a kilobyte an
//! item; `cargo bench --bench neardup` measures it). It is not written to
//! sled: it is rebuilt from the stored items when the store first needs it,
//! so it can never disagree with them after a crash, and covers the items of
//! the last `dedup.window`, counted back from the newest item's own date.

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

use chrono::{DateTime, Utc};

use crate::model::ItemId;
use crate::normalize::{html_to_text, normalize_text};

/// The resemblance (shingle containment) above which two items may be the
/// same story, unless `dedup.threshold` says otherwise.
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// Lines that outlets add around a story and that say nothing about it, as
/// written by people; compared after normalization, at the start of a line.
pub const DEFAULT_BOILERPLATE: &[&str] = &[
    "المصدر",
    "مصدر الخبر",
    "ترجمة",
    "ترجمه",
    "اقرأ أيضاً",
    "اقرأ أيضا",
    "اقرأ المزيد",
    "شاهد أيضاً",
    "شاهد أيضا",
    "للمزيد",
    "تابعونا",
    "تابعوا",
    "انتهى",
    "read more",
    "continue reading",
    "source",
    "translated by",
    "the post",
];

/// A boilerplate line is short: a paragraph that merely starts with "source"
/// is still text.
const MAX_BOILERPLATE_WORDS: usize = 16;

/// Word shingle length.
const SHINGLE: usize = 3;

/// An anchor is a shingle whose hash is 0 modulo this.
const ANCHOR_EVERY: u64 = 4;

/// Body tokens whose anchors are all stored: the lead.
const LEAD_TOKENS: usize = 48;

/// Anchors stored from the rest of a long body at most.
const MAX_REST_ANCHORS: usize = 12;

/// Headline agreement (word containment) two items whose bodies are short
/// need besides.
const SHORT_BODY_TITLE_AGREEMENT: f64 = 0.5;

/// Bodies this short store every shingle: they have too few anchors.
const SHORT_BODY_TOKENS: usize = 24;

/// Anchors shared by more items than this are not followed: such a shingle
/// is a formula, not a story.
const MAX_POSTINGS: usize = 64;

/// Candidates verified per new item, the ones sharing most anchors first.
pub const MAX_CANDIDATES: usize = 8;

/// Below this many body tokens an item is compared on its title.
const MIN_BODY_TOKENS: usize = 8;

/// Longer tokens are compared for equality only.
const MAX_WORD_CHARS: usize = 40;

/// Content words a headline needs to be compared on its own.
const MIN_HEADLINE_WORDS: usize = 3;

/// Replaced stretches longer than this are rewriting, not a swap.
const MAX_SWAP_TOKENS: usize = 4;

/// The token between title and body in the sequences compared.
const TITLE_END: &str = "\u{1}";

/// Texts above this containment count as near-identical.
const NEAR_IDENTICAL: f64 = 0.9;

/// Tokens aligned at most (each side): the alignment is quadratic.
const MAX_ALIGN_TOKENS: usize = 1500;

/// Words outlets swap for one another without changing the story: time
/// references, reporting verbs, function words (normalized forms).
const INTERCHANGEABLE: &[&str] = &[
    "اليوم",
    "امس",
    "غدا",
    "يوم",
    "الليله",
    "صباح",
    "مساء",
    "العام",
    "عام",
    "الماضي",
    "المقبل",
    "القادم",
    "الحالي",
    "الجاري",
    "قال",
    "قالت",
    "اوضح",
    "اوضحت",
    "اكد",
    "اكدت",
    "بين",
    "بينت",
    "اعلن",
    "اعلنت",
    "اشار",
    "اشارت",
    "اضاف",
    "اضافت",
    "لفت",
    "لفتت",
    "ذكر",
    "ذكرت",
    "افاد",
    "افادت",
    "اعرب",
    "اعربت",
    "شدد",
    "شددت",
    "مبينا",
    "موضحا",
    "مشيرا",
    "مضيفا",
    "موكدا",
    "لافتا",
    "داعيا",
    "في",
    "من",
    "الي",
    "علي",
    "عن",
    "مع",
    "حيث",
    "اذ",
    "اذا",
    "كما",
    "ايضا",
    "كل",
    "جميع",
    "كافه",
    "بعض",
    "هذا",
    "هذه",
    "ذلك",
    "تلك",
    "التي",
    "الذي",
    "الذين",
    "وقد",
    "قد",
    "ثم",
    "او",
    "ان",
    "انه",
    "انها",
    "لا",
    "لم",
    "لن",
    "ما",
    "هو",
    "هي",
    "هم",
    "بعد",
    "قبل",
    "خلال",
    "عبر",
    "حول",
    "بشان",
    "نحو",
    "لدي",
    "عند",
    "منذ",
    "حتي",
    "said",
    "says",
    "told",
    "today",
    "yesterday",
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "and",
    "to",
];

/// The text of one item as the decision reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub title: Vec<String>,
    pub body: Vec<String>,
}

/// How the text of items is read: the boilerplate list, normalized.
#[derive(Debug, Clone)]
pub struct Reader {
    boilerplate: Vec<String>,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader::new(DEFAULT_BOILERPLATE.iter().copied())
    }
}

impl Reader {
    /// `boilerplate`: line openings as a person writes them; they are
    /// normalized here, so any spelling variant matches.
    pub fn new<'a>(boilerplate: impl IntoIterator<Item = &'a str>) -> Reader {
        Reader {
            boilerplate: boilerplate
                .into_iter()
                .map(normalize_text)
                .filter(|b| !b.is_empty())
                .collect(),
        }
    }

    /// `body` may be HTML or plain text.
    pub fn doc(&self, title: Option<&str>, body: Option<&str>) -> Doc {
        let title = normalize_text(&html_to_text(title.unwrap_or("")));
        let mut words = Vec::new();
        for line in html_lines(body.unwrap_or("")).lines() {
            let line = normalize_text(line);
            if self.is_boilerplate(&line) {
                continue;
            }
            words.extend(line.split(' ').filter(|w| !w.is_empty()).map(str::to_owned));
        }
        Doc {
            title: title
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
            body: words,
        }
    }

    /// Whether a normalized line is one of the configured boilerplate lines.
    pub fn is_boilerplate(&self, line: &str) -> bool {
        if line.split(' ').count() > MAX_BOILERPLATE_WORDS {
            return false;
        }
        self.boilerplate.iter().any(|b| {
            line.strip_prefix(b.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    }
}

/// The text of an HTML fragment with a line break for every block-level
/// tag, so that boilerplate can be recognised line by line.
fn html_lines(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "/p",
        "br",
        "div",
        "/div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "blockquote",
    ];
    let mut marked = String::with_capacity(html.len() + 16);
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        marked.push_str(&rest[..pos]);
        let tag = &rest[pos + 1..];
        let name_end = tag
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '/'))
            .unwrap_or(tag.len());
        let name = &tag[..name_end];
        if BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name)) {
            marked.push('\n');
        }
        marked.push('<');
        rest = tag;
    }
    marked.push_str(rest);
    html_to_text(&marked)
}

/// 64-bit FNV-1a of a token. Hand-written (five lines) because tokens are
/// hashed by the hundred per comparison and SipHash, the standard default,
/// is several times slower on short keys; the result only lives in memory.
fn hash_of(t: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A set of hashes, hashed no further.
type HashSet64 = HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>;

/// Mixes the bits of a combined hash (the finalizer of SplitMix64), so
/// that `h % ANCHOR_EVERY` picks anchors evenly.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn shingles(tokens: &[String]) -> HashSet64 {
    let ids: Vec<u64> = tokens.iter().map(|t| hash_of(t.as_str())).collect();
    if ids.len() < SHINGLE {
        return ids.into_iter().map(mix).collect();
    }
    ids.windows(SHINGLE)
        .map(|w| mix(w[0].rotate_left(42) ^ w[1].rotate_left(21) ^ w[2]))
        .collect()
}

fn is_content_word(w: &str) -> bool {
    w.chars().count() >= 3 && !INTERCHANGEABLE.contains(&w) && number(w).is_none()
}

impl Doc {
    fn headline_only(&self) -> bool {
        self.body.len() < MIN_BODY_TOKENS
    }

    /// The anchors under which the item is stored in the index: the
    /// anchor shingles of its lead (where a trimmed copy or a summary meets
    /// it), and a bounded sample of the rest (the smallest hashes), so that
    /// a long article costs no more memory than a short one.
    pub fn anchors(&self) -> Vec<u64> {
        if self.headline_only() {
            return self.title_anchors();
        }
        let lead = self.body.len().min(LEAD_TOKENS);
        let mut out: Vec<u64> = shingles(&self.body[..lead])
            .into_iter()
            .filter(|h| h % ANCHOR_EVERY == 0)
            .collect();
        if self.body.len() <= SHORT_BODY_TOKENS {
            out = shingles(&self.body).into_iter().collect();
        } else if self.body.len() > lead {
            let mut rest: Vec<u64> = shingles(&self.body[lead.saturating_sub(SHINGLE - 1)..])
                .into_iter()
                .filter(|h| h % ANCHOR_EVERY == 0)
                .collect();
            rest.sort_unstable();
            out.extend(rest.into_iter().take(MAX_REST_ANCHORS));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The anchors a new item looks its candidates up by: every anchor
    /// shingle (and every shingle of a short text), so it meets the stored
    /// items' sampled anchors wherever they lie.
    pub fn probe(&self) -> Vec<u64> {
        if self.headline_only() {
            return self.title_anchors();
        }
        let all = shingles(&self.body);
        let mut out: Vec<u64> = if self.body.len() <= SHORT_BODY_TOKENS {
            all.into_iter().collect()
        } else {
            all.into_iter().filter(|h| h % ANCHOR_EVERY == 0).collect()
        };
        out.sort_unstable();
        out
    }

    fn title_anchors(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .title
            .iter()
            .filter(|w| is_content_word(w))
            .map(|w| mix(hash_of(w.as_str())) | 1)
            .collect();
        out.sort_unstable();
        out.dedup();
        if out.len() < MIN_HEADLINE_WORDS {
            out.clear(); // never compared: nothing to look up
        }
        out
    }
}

/// The decision on one pair, with what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub duplicate: bool,
    /// Resemblance: containment of the smaller text's shingles in the other's.
    pub score: f64,
    /// Why two resembling items were kept apart, if they were.
    pub conflict: Option<String>,
}

fn containment(a: &HashSet64, b: &HashSet64) -> f64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.is_empty() {
        return 0.0;
    }
    small.iter().filter(|h| large.contains(h)).count() as f64 / small.len() as f64
}

/// Whether `a` and `b` are the same story. `threshold` is the resemblance
/// needed (`dedup.threshold`).
pub fn same_story<'d>(a: &'d Doc, b: &'d Doc, threshold: f64) -> Verdict {
    let headline = a.headline_only() || b.headline_only();
    let title_words = |d: &Doc| -> HashSet64 {
        d.title
            .iter()
            .filter(|w| is_content_word(w))
            .map(|w| mix(hash_of(w.as_str())))
            .collect()
    };
    let score = if headline {
        let (wa, wb) = (title_words(a), title_words(b));
        // "Breaking", "Update": a headline of a word or two names no story.
        if wa.len().min(wb.len()) < MIN_HEADLINE_WORDS {
            0.0
        } else {
            containment(&wa, &wb)
        }
    } else {
        let body = containment(&shingles(&a.body), &shingles(&b.body));
        if a.body.len().min(b.body.len()) <= SHORT_BODY_TOKENS {
            // A short body may be a formula a feed puts under every item
            // ("details on our site"): it counts only with the headlines.
            let titles = containment(&title_words(a), &title_words(b));
            if titles < SHORT_BODY_TITLE_AGREEMENT {
                body.min(titles)
            } else {
                body
            }
        } else {
            body
        }
    };
    let mut verdict = Verdict {
        duplicate: false,
        score,
        conflict: None,
    };
    if score < threshold {
        return verdict;
    }
    let seq = |d: &'d Doc| -> Vec<&'d str> {
        let title = d.title.iter().map(String::as_str);
        if headline {
            title.collect()
        } else {
            let body = d.body.iter().map(String::as_str);
            title.chain([TITLE_END]).chain(body).collect()
        }
    };
    let sa = seq(a);
    let sb = seq(b);
    verdict.conflict = conflict(&sa, &sb, score, headline);
    verdict.duplicate = verdict.conflict.is_none();
    verdict
}

/// Whether two entries that one document lists side by side, both in the
/// outlet's own words, may still be one story posted twice: a re-post
/// under a new GUID keeps its headline (perhaps adding "Update:") and is a
/// story, not a line or two. A shop's listings under one blurb, or the
/// parts of a series, are not.
pub fn may_be_repost(a: &Doc, b: &Doc) -> bool {
    a.body.len().min(b.body.len()) > SHORT_BODY_TOKENS && headlines_agree(a, b)
}

/// Whether two headlines could name one story as one outlet writes it
/// twice: every word of one has its counterpart in the other (a typo, a
/// clitic, a number written as a word), except words that only one side
/// adds ("Update:"). Words of one or two letters must match exactly, as
/// they are where a series numbers its parts.
fn headlines_agree(a: &Doc, b: &Doc) -> bool {
    let close = |x: &str, y: &str| {
        if x.chars().count() < 3 || y.chars().count() < 3 {
            x == y
        } else {
            same_word(x, y)
        }
    };
    let left = |p: &Doc, q: &Doc| p.title.iter().any(|w| !q.title.iter().any(|v| close(w, v)));
    !(left(a, b) && left(b, a))
}

fn has_digit(w: &str) -> bool {
    w.bytes().any(|b| b.is_ascii_digit())
}

fn digits(w: &str) -> String {
    w.chars().filter(char::is_ascii_digit).collect()
}

/// Numbers outlets write as words (normalized forms), by value: "three
/// years" and "3 years" say the same. Only the small ones: larger numbers
/// are compounds ("ألف وثلاثمئة") and "مئة" also means "percent".
const NUMBER_WORDS: &[(&str, &str)] = &[
    ("واحد", "1"),
    ("واحده", "1"),
    ("اثنان", "2"),
    ("اثنين", "2"),
    ("اثنتان", "2"),
    ("اثنتين", "2"),
    ("ثلاث", "3"),
    ("ثلاثه", "3"),
    ("اربع", "4"),
    ("اربعه", "4"),
    ("خمس", "5"),
    ("خمسه", "5"),
    ("ست", "6"),
    ("سته", "6"),
    ("سبع", "7"),
    ("سبعه", "7"),
    ("ثمان", "8"),
    ("ثماني", "8"),
    ("ثمانيه", "8"),
    ("تسع", "9"),
    ("تسعه", "9"),
    ("عشر", "10"),
    ("عشره", "10"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
];

/// The value a token states, if it states one: its digits, or the number
/// it spells (with or without a clitic).
fn number(w: &str) -> Option<String> {
    static WORDS: std::sync::LazyLock<HashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| NUMBER_WORDS.iter().copied().collect());
    if has_digit(w) {
        return Some(digits(w));
    }
    WORDS
        .get(w)
        .or_else(|| WORDS.get(stem(w)))
        .map(|v| v.to_string())
}

/// Arabic proclitics, longest first: a word with and without one of them is
/// the same word for comparison.
const CLITICS: &[&str] = &[
    "وال", "بال", "كال", "فال", "لل", "ال", "و", "ب", "ل", "ف", "ك",
];

fn stem(w: &str) -> &str {
    for c in CLITICS {
        if let Some(rest) = w.strip_prefix(c) {
            if rest.chars().count() >= 2 {
                return rest;
            }
        }
    }
    w
}

/// Edit distance counting a transposition of neighbours as one edit
/// (optimal string alignment), on characters; `limit + 1` once over `limit`.
fn osa(a: &[char], b: &[char], limit: usize) -> usize {
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// Whether two words are one word spelled differently: a clitic, a typo,
/// two letters swapped.
fn same_word(x: &str, y: &str) -> bool {
    if x == y {
        return true;
    }
    let (sx, sy) = (stem(x), stem(y));
    if sx == sy {
        return true;
    }
    match (number(x), number(y)) {
        (Some(nx), Some(ny)) => return nx == ny,
        (Some(_), None) | (None, Some(_)) => return false,
        (None, None) => {}
    }
    let a: Vec<char> = sx.chars().collect();
    let b: Vec<char> = sy.chars().collect();
    if a.len().max(b.len()) > MAX_WORD_CHARS {
        return false; // no word: a URL or a run of junk; not worth a table
    }
    let limit = if a.len().max(b.len()) < 5 { 1 } else { 2 };
    osa(&a, &b, limit) <= limit
}

/// One aligned stretch where the two sequences differ.
struct Change {
    a: std::ops::Range<usize>,
    b: std::ops::Range<usize>,
}

/// The differing stretches of `a` and `b`, in order.
///
/// Aligned as patience diff does: the tokens that occur once in each text
/// and in the same order in both (a longest increasing subsequence) are
/// fixed first, and only the gaps between them go through a longest common
/// subsequence table. Copies of one story share most such tokens, so the
/// gaps, and the quadratic work, stay small. Hand-written: only the changed
/// stretches are needed, over token hashes, which is less than a diff
/// crate's API around them.
fn changes(a: &[&str], b: &[&str]) -> Vec<Change> {
    let a: Vec<u64> = a.iter().map(|t| hash_of(t)).collect();
    let b: Vec<u64> = b.iter().map(|t| hash_of(t)).collect();
    let mut out = Vec::new();
    let (mut ia, mut ib) = (0, 0);
    for (pa, pb) in unique_anchors(&a, &b) {
        lcs_changes(&a[ia..pa], &b[ib..pb], ia, ib, &mut out);
        (ia, ib) = (pa + 1, pb + 1);
    }
    lcs_changes(&a[ia..], &b[ib..], ia, ib, &mut out);
    out
}

/// Positions `(in a, in b)` of the tokens that occur exactly once in each,
/// keeping the longest run that is in the same order in both.
fn unique_anchors(a: &[u64], b: &[u64]) -> Vec<(usize, usize)> {
    // token -> (count in a, position in a, count in b, position in b)
    let mut seen: HashMap<u64, (u32, usize, u32, usize), std::hash::BuildHasherDefault<Prehashed>> =
        HashMap::default();
    for (i, t) in a.iter().enumerate() {
        let e = seen.entry(*t).or_insert((0, i, 0, 0));
        e.0 += 1;
    }
    for (j, t) in b.iter().enumerate() {
        if let Some(e) = seen.get_mut(t) {
            e.2 += 1;
            e.3 = j;
        }
    }
    let mut pairs: Vec<(usize, usize)> = seen
        .values()
        .filter(|e| e.0 == 1 && e.2 == 1)
        .map(|e| (e.1, e.3))
        .collect();
    pairs.sort_unstable();
    // Longest increasing subsequence of the positions in b (patience
    // sorting): tails[k] is the pair ending the best run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (i, &(_, pb)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].1 < pb);
        if k > 0 {
            prev[i] = Some(tails[k - 1]);
        }
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut run = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.push(pairs[i]);
        at = prev[i];
    }
    run.reverse();
    run
}

/// The differing stretches of `a` and `b` (starting at `oa` and `ob` in the
/// whole texts) along a longest common subsequence.
fn lcs_changes(a: &[u64], b: &[u64], oa: usize, ob: usize, out: &mut Vec<Change>) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let ea = (a.len() - suf).min(pre + MAX_ALIGN_TOKENS);
    let eb = (b.len() - suf).min(pre + MAX_ALIGN_TOKENS);
    let (x, y) = (&a[pre..ea], &b[pre..eb]);
    let (n, m) = (x.len(), y.len());
    let (oa, ob) = (oa + pre, ob + pre);
    if n == 0 || m == 0 {
        if n + m > 0 {
            out.push(Change {
                a: oa..oa + n,
                b: ob..ob + m,
            });
        }
        return;
    }
    // l[i][j]: length of the LCS of x[i..] and y[j..].
    let w = m + 1;
    let mut l = vec![0u16; (n + 1) * w];
    for i in (0..n).rev() {
        let (upper, lower) = l.split_at_mut((i + 1) * w);
        let (row, below) = (&mut upper[i * w..], &lower[..w]);
        let xi = x[i];
        for j in (0..m).rev() {
            row[j] = if xi == y[j] {
                below[j + 1] + 1
            } else {
                below[j].max(row[j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut start: Option<(usize, usize)> = None;
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            if let Some((si, sj)) = start.take() {
                out.push(Change {
                    a: oa + si..oa + i,
                    b: ob + sj..ob + j,
                });
            }
            i += 1;
            j += 1;
            continue;
        }
        start.get_or_insert((i, j));
        if j >= m || (i < n && l[(i + 1) * w + j] >= l[i * w + j + 1]) {
            i += 1;
        } else {
            j += 1;
        }
    }
    if let Some((si, sj)) = start {
        out.push(Change {
            a: oa + si..oa + n,
            b: ob + sj..ob + m,
        });
    }
}

/// Why two resembling sequences are different stories, if they are.
fn conflict<'a>(a: &[&'a str], b: &[&'a str], score: f64, headline: bool) -> Option<String> {
    let vocab =
        |s: &[&'a str]| -> HashSet<&'a str> { s.iter().flat_map(|w| [*w, stem(w)]).collect() };
    // Built on first need: most pairs have no replaced content word.
    let (va, vb) = (std::cell::OnceCell::new(), std::cell::OnceCell::new());
    let absent = |w: &str, v: &std::cell::OnceCell<HashSet<&'a str>>, s: &[&'a str]| {
        let v = v.get_or_init(|| vocab(s));
        !v.contains(w) && !v.contains(stem(w))
    };
    let mut swaps: Vec<(String, String)> = Vec::new();
    let mut echoes: HashSet<(String, String)> = HashSet::new();
    for c in changes(a, b) {
        let x = &a[c.a.clone()];
        let y = &b[c.b.clone()];
        if x.is_empty() || y.is_empty() || x.len() > MAX_SWAP_TOKENS || y.len() > MAX_SWAP_TOKENS {
            continue;
        }
        if x.concat() == y.concat() {
            continue; // "عبد العزيز" / "عبدالعزيز"
        }
        let nx: Vec<&&str> = x
            .iter()
            .filter(|w| !y.iter().any(|v| same_word(w, v)))
            .collect();
        let ny: Vec<&&str> = y
            .iter()
            .filter(|w| !x.iter().any(|v| same_word(w, v)))
            .collect();
        let dx: HashSet<String> = nx
            .iter()
            .filter(|w| has_digit(w))
            .map(|w| digits(w))
            .collect();
        let dy: HashSet<String> = ny
            .iter()
            .filter(|w| has_digit(w))
            .map(|w| digits(w))
            .collect();
        if !dx.is_empty() && !dy.is_empty() && dx != dy {
            return Some(format!("different numbers: {} / {}", join(x), join(y)));
        }
        let ex = nx.iter().find(|w| {
            is_content_word(w) && !INTERCHANGEABLE.contains(&stem(w)) && absent(w, &vb, b)
        });
        let ey = ny.iter().find(|w| {
            is_content_word(w) && !INTERCHANGEABLE.contains(&stem(w)) && absent(w, &va, a)
        });
        // Headlines are rewritten freely: a swap counts in the body (or
        // between two headlines, when that is all there is).
        let in_body = headline || a[..c.a.start].contains(&TITLE_END);
        if !in_body {
            continue;
        }
        match (ex, ey) {
            (Some(ex), Some(ey)) => swaps.push((ex.to_string(), ey.to_string())),
            (None, Some(new)) | (Some(new), None) => {
                // One side's word is new, the other's still appears
                // elsewhere: a swap if made the same way more than once, or
                // in text otherwise near-identical.
                let side = if ey.is_some() { &nx } else { &ny };
                if let Some(old) = side.iter().find(|w| is_content_word(w)) {
                    let pair = (stem(old).to_string(), stem(new).to_string());
                    if !echoes.insert(pair) || score >= NEAR_IDENTICAL {
                        swaps.push((old.to_string(), new.to_string()));
                    }
                }
            }
            (None, None) => {}
        }
    }
    if swaps.len() >= 2 || (!swaps.is_empty() && (score >= NEAR_IDENTICAL || headline)) {
        let shown: Vec<String> = swaps
            .iter()
            .take(3)
            .map(|(x, y)| format!("{x} / {y}"))
            .collect();
        return Some(format!("different names or places: {}", shown.join(", ")));
    }
    // Numbers in figures one side gives and the other does not, neither in
    // figures nor in words.
    let figures = |s: &[&str]| -> HashSet<String> {
        s.iter()
            .filter(|w| has_digit(w))
            .map(|w| digits(w))
            .collect()
    };
    let stated = |s: &[&str]| -> HashSet<String> { s.iter().filter_map(|w| number(w)).collect() };
    let (fa, fb) = (figures(a), figures(b));
    if fa == fb {
        return None;
    }
    let (sa, sb) = (stated(a), stated(b));
    let only_a: Vec<&String> = fa.iter().filter(|n| !sb.contains(*n)).collect();
    let only_b: Vec<&String> = fb.iter().filter(|n| !sa.contains(*n)).collect();
    if !only_a.is_empty() && !only_b.is_empty() && score >= 0.85 {
        return Some(format!(
            "numbers only one side gives: {:?} / {:?}",
            only_a, only_b
        ));
    }
    let (la, lb) = (a.len(), b.len());
    let close_lengths = la.abs_diff(lb) as f64 <= (la.max(lb) as f64 * 0.1).max(20.0);
    if (!only_a.is_empty() || !only_b.is_empty()) && score >= NEAR_IDENTICAL && close_lengths {
        return Some(format!(
            "a fact added with new numbers: {:?}",
            only_a.iter().chain(&only_b).collect::<Vec<_>>()
        ));
    }
    None
}

fn join(ws: &[&str]) -> String {
    ws.join(" ")
}

/// One indexed item.
#[derive(Debug, Clone)]
struct Entry {
    id: ItemId,
    date: i64,
    anchors: Box<[u64]>,
}

/// A hasher for keys that are already hashes: hashing them again would
/// only cost time. (A few lines, rather than a crate for them.)
#[derive(Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PrehashedMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<Prehashed>>;

/// The in-memory index of recent items' anchors.
///
/// Most anchors belong to one item only, so postings live in two maps: one
/// slot inline for those, a vector only for anchors several items share.
/// That halves the memory of the index against a vector per anchor.
#[derive(Debug, Default)]
pub struct Index {
    /// The newest item date held (seconds): the window is counted back
    /// from it, not from the clock, since items carry their own dates.
    newest: i64,
    single: PrehashedMap<u32>,
    multi: PrehashedMap<Vec<u32>>,
    entries: Vec<Option<Entry>>,
    slots: HashMap<ItemId, u32>,
    free: Vec<u32>,
}

impl Index {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds (or replaces) an item under its stored anchors (`Doc::anchors`).
    pub fn insert(&mut self, id: ItemId, date: DateTime<Utc>, anchors: Vec<u64>) {
        self.remove(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                // More than 4 billion items in a window is beyond any store
                // rafid keeps; saturating keeps this from panicking.
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        for a in &anchors {
            if let Some(p) = self.multi.get_mut(a) {
                p.push(slot);
            } else if let Some(first) = self.single.remove(a) {
                self.multi.insert(*a, vec![first, slot]);
            } else {
                self.single.insert(*a, slot);
            }
        }
        self.newest = self.newest.max(date.timestamp());
        if let Some(e) = self.entries.get_mut(slot as usize) {
            *e = Some(Entry {
                id,
                date: date.timestamp(),
                anchors: anchors.into_boxed_slice(),
            });
        }
        self.slots.insert(id, slot);
    }

    pub fn remove(&mut self, id: ItemId) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        if let Some(e) = self.entries.get_mut(slot as usize).and_then(Option::take) {
            for a in e.anchors.iter() {
                if self.single.get(a) == Some(&slot) {
                    self.single.remove(a);
                } else if let Some(p) = self.multi.get_mut(a) {
                    p.retain(|s| *s != slot);
                    match p.len() {
                        0 => {
                            self.multi.remove(a);
                        }
                        1 => {
                            let last = p[0];
                            self.multi.remove(a);
                            self.single.insert(*a, last);
                        }
                        _ => {}
                    }
                }
            }
        }
        self.free.push(slot);
    }

    /// Items dated within `window_secs` of `date` sharing anchors with
    /// `probe` (`Doc::probe`), most shared first, at most `MAX_CANDIDATES`.
    pub fn candidates(&self, probe: &[u64], date: DateTime<Utc>, window_secs: i64) -> Vec<ItemId> {
        let mut hits: Vec<u32> = Vec::new();
        for a in probe {
            if let Some(s) = self.single.get(a) {
                hits.push(*s);
            } else if let Some(p) = self.multi.get(a) {
                if p.len() <= MAX_POSTINGS {
                    hits.extend_from_slice(p);
                }
            }
        }
        hits.sort_unstable();
        let counts = hits.chunk_by(|x, y| x == y).map(|run| (run[0], run.len()));
        let t = date.timestamp();
        let mut found: Vec<(usize, ItemId)> = counts
            .filter_map(|(s, n)| {
                let e = self.entries.get(s as usize)?.as_ref()?;
                ((e.date - t).abs() <= window_secs).then_some((n, e.id))
            })
            .collect();
        found.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.0.cmp(&y.1.0)));
        found.truncate(MAX_CANDIDATES);
        found.into_iter().map(|(_, id)| id).collect()
    }

    /// Drops items dated more than `window_secs` before the newest one.
    pub fn prune_outside(&mut self, window_secs: i64) {
        let t = self.newest.saturating_sub(window_secs);
        let old: Vec<ItemId> = self
            .entries
            .iter()
            .flatten()
            .filter(|e| e.date < t)
            .map(|e| e.id)
            .collect();
        for id in old {
            self.remove(id);
        }
    }

    /// Bytes the index holds, estimated from its tables' capacities (hash
    /// tables: a control byte and the slot per bucket), for the memory
    /// figure per fingerprint. The allocator's own overhead is not counted.
    pub fn approx_bytes(&self) -> usize {
        fn table<K, V>(cap: usize) -> usize {
            cap * (std::mem::size_of::<(K, V)>() + 1)
        }
        let single = table::<u64, u32>(self.single.capacity());
        let multi = table::<u64, Vec<u32>>(self.multi.capacity())
            + self.multi.values().map(|p| p.capacity() * 4).sum::<usize>();
        let entries = self.entries.capacity() * std::mem::size_of::<Option<Entry>>()
            + self
                .entries
                .iter()
                .flatten()
                .map(|e| e.anchors.len() * 8)
                .sum::<usize>();
        let slots = table::<ItemId, u32>(self.slots.capacity()) + self.free.capacity() * 4;
        single + multi + entries + slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str, body: &str) -> Doc {
        Reader::default().doc(Some(title), Some(body))
    }

    const STORY: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال بسعة 120 سريرا \
        في حي النرجس شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
        مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
        على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

    #[test]
    fn headlines_of_one_outlet_agree_only_when_one_adds_words() {
        let r = Reader::new(DEFAULT_BOILERPLATE.iter().copied());
        let doc = |t: &str| r.doc(Some(t), None);
        let base = doc("وصول طائرة الإغاثة الرابعة إلى عدن");
        assert!(headlines_agree(
            &base,
            &doc("تحديث: وصول طائرة الإغاثة الرابعة إلى عدن")
        ));
        assert!(headlines_agree(
            &base,
            &doc("وصول طائرة الاغاثه الرابعه الى عدن")
        ));
        assert!(headlines_agree(
            &base,
            &doc("وصول طائرة الإغاثة الرابعة لعدن")
        ));
        assert!(!headlines_agree(
            &base,
            &doc("وصول طائرة الإغاثة الخامسة إلى عدن")
        ));
        assert!(!headlines_agree(
            &doc("حوار مع الوزير: الجزء أ"),
            &doc("حوار مع الوزير: الجزء ب")
        ));
        assert!(!headlines_agree(
            &doc("Rear set for Ford Focus, 5 doors"),
            &doc("Rear set for Mercedes 210, black")
        ));
    }

    #[test]
    fn boilerplate_lines_are_dropped_and_configurable() {
        let r = Reader::default();
        let d = r.doc(
            None,
            Some("<p>نص الخبر هنا</p><p>المصدر: وكالة الأنباء</p><p>ترجمة: فريق التحرير</p>\n<p>اقرأ أيضاً: خبر آخر</p><p>Read more</p>"),
        );
        assert_eq!(d.body, ["نص", "الخبر", "هنا"]);
        let custom = Reader::new(["حقوق النشر"]);
        let d = custom.doc(None, Some("نص\nحقوق النشر محفوظة\nالمصدر: واس"));
        assert_eq!(d.body, ["نص", "المصدر", "واس"]);
        // A long paragraph that starts like a source line is text.
        let long = format!("المصدر {}", "كلمة ".repeat(20));
        assert!(!r.is_boilerplate(&normalize_text(&long)));
    }

    #[test]
    fn rewritten_copies_are_the_same_story() {
        let a = doc("افتتاح مستشفى جديد للأطفال في الرياض", STORY);
        let variants = [
            // Punctuation, diacritics, tatweel, digits, letter variants.
            STORY
                .replace("،", " - ")
                .replace("المستشفى", "المُسْتَشْفَى")
                .replace("الطوارئ", "الطـــوارئ")
                .replace("120", "١٢٠")
                .replace("أقسام", "اقسام"),
            // Typos: two letters swapped.
            STORY
                .replace("الحديثة", "الحدثية")
                .replace("المرضى", "المرضي"),
            // Source and translator lines, a read-more line.
            format!("{STORY}\nالمصدر: واس\nاقرأ أيضا: أخبار أخرى"),
            // Truncated to a summary.
            STORY.split("وقال").next().unwrap_or_default().to_string()
                + " وقال المتحدث باسم الوزارة إن المستشفى سيبدأ",
            // Reporting words changed.
            STORY.replace("وقال", "وأوضح"),
        ];
        for v in &variants {
            let b = doc("الصحة تفتتح مستشفى للأطفال", v);
            let verdict = same_story(&a, &b, DEFAULT_THRESHOLD);
            assert!(verdict.duplicate, "{v}: {verdict:?}");
        }
    }

    #[test]
    fn a_different_number_place_or_name_is_another_story() {
        let a = doc("افتتاح مستشفى جديد للأطفال في الرياض", STORY);
        let cases = [
            STORY.replace("120", "80"),
            STORY.replace("الرياض", "جدة").replace("النرجس", "الروضة"),
            STORY.replace("النرجس", "الملقا"),
            format!("{STORY} وأسفر الحادث عن إصابة 14 شخصا"),
        ];
        for v in &cases {
            // The title says what the body says.
            let title = if v.contains("جدة") {
                "افتتاح مستشفى جديد للأطفال في جدة"
            } else {
                "افتتاح مستشفى جديد للأطفال في الرياض"
            };
            let b = doc(title, v);
            let verdict = same_story(&a, &b, DEFAULT_THRESHOLD);
            assert!(!verdict.duplicate, "{v}: {verdict:?}");
            assert!(verdict.conflict.is_some());
        }
    }

    #[test]
    fn unrelated_stories_are_apart() {
        let a = doc("افتتاح مستشفى", STORY);
        let b = doc(
            "فوز الفريق",
            "فاز الفريق الأول لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف في المباراة التي أقيمت \
             مساء الخميس على الملعب الرئيسي أمام جمهور غفير ملأ المدرجات حتى صافرة النهاية",
        );
        let v = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(!v.duplicate);
        assert!(v.score < 0.1);
    }

    #[test]
    fn threshold_tunes_the_decision() {
        let a = doc("t", STORY);
        let half: String = STORY.split(' ').take(20).collect::<Vec<_>>().join(" ")
            + " ثم جاء نص مختلف تماما عن الموضوع لا علاقة له بما سبق من كلام في هذا الخبر ابدا";
        let b = doc("t", &half);
        let v = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(same_story(&a, &b, 0.2).duplicate, "{v:?}");
        assert!(!same_story(&a, &b, 0.95).duplicate);
    }

    #[test]
    fn changes_are_the_differing_stretches() {
        let a: Vec<&str> = "a b c d e f g h".split(' ').collect();
        let b: Vec<&str> = "a b x d e f y y h z".split(' ').collect();
        let got: Vec<(Vec<&str>, Vec<&str>)> = changes(&a, &b)
            .into_iter()
            .map(|c| (a[c.a].to_vec(), b[c.b].to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (vec!["c"], vec!["x"]),
                (vec!["g"], vec!["y", "y"]),
                (vec![], vec!["z"]),
            ]
        );
        // Moved text: the unique tokens in order anchor, the rest differs.
        let a: Vec<&str> = "p q r s t".split(' ').collect();
        let b: Vec<&str> = "s t p q r".split(' ').collect();
        let n: usize = changes(&a, &b).iter().map(|c| c.a.len() + c.b.len()).sum();
        assert_eq!(n, 4);
    }

    #[test]
    fn words_compare_through_clitics_and_typos() {
        assert!(same_word("والمدينة", "المدينة"));
        assert!(same_word("يحمل", "يمحل"));
        assert!(same_word("ب10", "10"));
        assert!(!same_word("الرياض", "جدة"));
        assert!(!same_word("35", "25"));
        assert!(same_word("ثلاثة", "3") || same_word("ثلاثه", "3"));
        assert!(same_word("والثلاثه", "3") || same_word("ثلاثه", "3"));
        assert!(!same_word("خمسه", "3"));
        let long = "ب".repeat(5000);
        assert!(!same_word(&long, &format!("{long}ا")));
    }

    #[test]
    fn index_finds_copies_within_the_window_only() {
        let a = doc("افتتاح مستشفى", STORY);
        let b = doc("الصحة تفتتح", &format!("{STORY}\nالمصدر: واس"));
        let other = doc(
            "فوز",
            "فاز الفريق الأول لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف في المباراة التي أقيمت",
        );
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let mut ix = Index::default();
        ix.insert(ItemId([1; 16]), t0, a.anchors());
        ix.insert(ItemId([2; 16]), t0, other.anchors());
        let hour = 3600;
        assert_eq!(
            ix.candidates(&b.probe(), t0, 72 * hour),
            vec![ItemId([1; 16])]
        );
        let late = t0 + chrono::Duration::hours(100);
        assert!(ix.candidates(&b.probe(), late, 72 * hour).is_empty());
        ix.remove(ItemId([1; 16]));
        assert!(ix.candidates(&b.probe(), t0, 72 * hour).is_empty());
        assert_eq!(ix.len(), 1);
        ix.insert(ItemId([3; 16]), late, other.anchors());
        ix.prune_outside(72 * hour);
        assert_eq!(
            ix.len(),
            1,
            "the items dated 100 hours before the newest go"
        );
    }

    #[test]
    fn a_short_formula_under_every_item_merges_nothing() {
        let formula = "لقراءة تفاصيل الخبر كاملة يرجى زيارة موقعنا الإلكتروني الرسمي اليوم";
        let a = doc("ارتفاع أسعار النفط في الأسواق العالمية", formula);
        let b = doc("فوز المنتخب في المباراة الودية", formula);
        let v = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(!v.duplicate, "{v:?}");
        let c = doc("أسعار النفط ترتفع في الأسواق العالمية", formula);
        assert!(same_story(&a, &c, DEFAULT_THRESHOLD).duplicate);
    }

    #[test]
    fn headlines_alone_compare_on_their_words() {
        let a = Reader::default().doc(Some("ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج"), None);
        let b = Reader::default().doc(Some("أسعار النفط ترتفع بعد قرار أوبك خفض الإنتاج"), None);
        assert!(same_story(&a, &b, DEFAULT_THRESHOLD).duplicate);
        let short = Reader::default().doc(Some("عاجل"), None);
        assert!(!same_story(&short, &short.clone(), DEFAULT_THRESHOLD).duplicate);
        let c = Reader::default().doc(Some("انخفاض أسعار الذهب بعد قرار البنك المركزي"), None);
        assert!(!same_story(&a, &c, DEFAULT_THRESHOLD).duplicate);
    }
}
