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
//! 2. **Contradiction.** Re-editing changes wording, never the facts, so
//!    two resembling texts are kept apart when their facts differ. Figures
//!    are read as values with units (`facts`): "1.250.000" and
//!    "1,250,000", «٣ آلاف» and 3000, «مليار ونصف» and "1.5 مليار", «ثلاث
//!    مراحل» and "3 مراحل" agree; an ordinal is a number ("the sixth
//!    plane" is not "the fourth"); a figure in a dateline, a Hijri date or
//!    a time of day is no fact. The two are different stories when:
//!    - they count the same thing differently ("10 أطنان" / "11 طنا", the
//!      fourth plane / the sixth), each giving a value the other lacks;
//!    - the aligned texts (a longest common subsequence) differ in a
//!      number, a compass direction or a period (daily / monthly) in the
//!      same place;
//!    - in the body, a *name* is swapped for another the other text never
//!      uses: two such swaps, or one in text otherwise near-identical, or
//!      the same swap made twice. Only a word that names something can
//!      contradict: a listed place, country or body (`lexicon`, with their
//!      adjectives, "المصرية" of "مصر"), a word after a title or a kind of
//!      place ("الأمير", "مدينة"), or a word the stored items rarely use.
//!      Synonyms, honorifics, reporting verbs and time words re-editing
//!      exchanges («أكد» / «أوضح», «المملكة» / «السعودية», «اليوم» /
//!      «أمس») are not names;
//!    - each headline names a place the other text never mentions;
//!    - lists of places differ inside sentences the two share (where it
//!      rains, whom a storm hit): a trimmed copy drops sentences, not one
//!      name from the middle of a list;
//!    - a figure one side adds to text otherwise identical.
//!
//!    Items without a body are compared on their headlines: the share of
//!    the shorter headline's words the other has in some form (clitics,
//!    typos, another form of the same stem), at least 0.65, with the same
//!    vetoes plus opposite predicates (rose / fell, backs / condemns) and a
//!    toll only one headline gives.
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

use crate::ingest::normalize::{html_to_text, normalize_text};
use crate::model::ItemId;

mod facts;
mod lexicon;
mod search;

pub use search::{Found, Misfit, NearDup, NearState, Probe};

use facts::{Fact, Kind};
use lexicon::{LEXICON, Lexicon, stem};

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

/// The resemblance two headlines without bodies need, at the least.
const HEADLINE_THRESHOLD: f64 = 0.65;

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
        let title = normalize_text(&facts::mark_figures(&html_to_text(title.unwrap_or(""))));
        let mut words = Vec::new();
        for line in html_lines(body.unwrap_or("")).lines() {
            let line = normalize_text(&facts::mark_figures(line));
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
    if w.chars().count() < 3 || w.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    let e = LEXICON.entry(w);
    !e.interchangeable && e.number_word.is_none() && e.ordinal.is_none()
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
    /// Why the two were kept apart, if they were: too little in common,
    /// or what contradicts.
    pub conflict: Option<String>,
}

fn containment(a: &HashSet64, b: &HashSet64) -> f64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.is_empty() {
        return 0.0;
    }
    small.iter().filter(|h| large.contains(h)).count() as f64 / small.len() as f64
}

/// What the decision knows of the text around it: which words are rare.
/// A word the stored items seldom use, and the other text lacks, is a name
/// (a person, a place, a ship) even when no list knows it; a common word
/// exchanged for another is an editor's choice.
pub trait Corpus {
    /// Whether a word (a light stem) is rare enough to be a name.
    fn rare(&self, word: &str) -> bool;

    /// Whether it is at least uncommon: in a headline, where every word is
    /// chosen, an uncommon word swapped for another is news of its own.
    fn uncommon(&self, word: &str) -> bool {
        self.rare(word)
    }
}

/// No statistics: every word might be a name. The strict reading, for
/// when nothing is stored yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCorpus;

impl Corpus for NoCorpus {
    fn rare(&self, _word: &str) -> bool {
        true
    }
}

/// Whether `a` and `b` are the same story. `threshold` is the resemblance
/// needed (`dedup.threshold`). Reads names without corpus statistics; the
/// daemon uses `same_story_in` with its index.
pub fn same_story<'d>(a: &'d Doc, b: &'d Doc, threshold: f64) -> Verdict {
    same_story_in(a, b, threshold, &NoCorpus)
}

/// `same_story`, telling names from common words by `corpus`.
pub fn same_story_in<'d>(a: &'d Doc, b: &'d Doc, threshold: f64, corpus: &dyn Corpus) -> Verdict {
    let headline = a.headline_only() || b.headline_only();
    let title_words = |d: &Doc| -> HashSet64 {
        d.title
            .iter()
            .filter(|w| is_content_word(w))
            .map(|w| mix(hash_of(w.as_str())))
            .collect()
    };
    let score = if headline {
        headline_resemblance(&a.title, &b.title)
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
    // A headline is a dozen words: it takes more of them in common to
    // name one story than it takes of a body.
    let needed = if headline {
        threshold.max(HEADLINE_THRESHOLD)
    } else {
        threshold
    };
    if score < needed {
        verdict.conflict = Some(format!(
            "{TOO_LITTLE}: resemblance {score:.2} below {needed:.2}"
        ));
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
    verdict.conflict = conflict(&sa, &sb, score, headline, corpus);
    verdict.duplicate = verdict.conflict.is_none();
    verdict
}

/// What contradicts between two texts, whatever their resemblance: a
/// story must not contradict any of its members, not only the one a new
/// copy resembles most (A like B and B like C does not make A like C).
/// Only the facts that do not depend on aligning the texts count here —
/// figures with their units, ordinals, the places headlines name — since
/// two members of one story may share little wording.
pub fn contradiction(a: &Doc, b: &Doc, _corpus: &dyn Corpus) -> Option<String> {
    let seq = |d: &Doc| -> Vec<String> {
        d.title
            .iter()
            .cloned()
            .chain([TITLE_END.to_string()])
            .chain(d.body.iter().cloned())
            .collect()
    };
    let (sa, sb) = (seq(a), seq(b));
    let sa: Vec<&str> = sa.iter().map(String::as_str).collect();
    let sb: Vec<&str> = sb.iter().map(String::as_str).collect();
    let (ea, eb) = (facts::entries(&sa), facts::entries(&sb));
    different_figures(&facts::facts_with(&sa, &ea), &facts::facts_with(&sb, &eb))
        .or_else(|| different_places(&sa, &sb, &ea, &eb))
}

/// How a verdict that found too little in common starts.
const TOO_LITTLE: &str = "too little text in common";

/// Resemblance of two headlines: the share of the shorter one's content
/// words that the other has in some form. Headlines are rewritten freely
/// ("النفط ينخفض" / "انخفاض أسعار النفط"), so a word counts when the other
/// has it with another clitic, a typo, or another form of the same stem.
/// A headline of a word or two names no story.
fn headline_resemblance(a: &[String], b: &[String]) -> f64 {
    fn words(t: &[String]) -> Vec<&str> {
        let mut v: Vec<&str> = t
            .iter()
            .map(String::as_str)
            .filter(|w| is_content_word(w))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
    let (wa, wb) = (words(a), words(b));
    let (small, large) = if wa.len() <= wb.len() {
        (wa, wb)
    } else {
        (wb, wa)
    };
    if small.len() < MIN_HEADLINE_WORDS {
        return 0.0;
    }
    let found = small
        .iter()
        .filter(|w| large.iter().any(|v| related_words(w, v)))
        .count();
    found as f64 / small.len() as f64
}

/// Whether two headline words are forms of one word: the same word as
/// `same_word` reads it, one name under two spellings, or one stem with
/// other affixes ("تحذر" / "تحذيرات", "ينخفض" / "انخفاض").
fn related_words(x: &str, y: &str) -> bool {
    if same_word(x, y) {
        return true;
    }
    let lex = &*LEXICON;
    if let (Some(gx), Some(gy)) = (lex.same_name_group(x), lex.same_name_group(y)) {
        return gx == gy;
    }
    let (sx, sy) = (light_stem(x), light_stem(y));
    let (short, long) = if sx.len() <= sy.len() {
        (sx, sy)
    } else {
        (sy, sx)
    };
    short.chars().count() >= 3 && (long.starts_with(short) || long.ends_with(short))
}

/// A word without its clitic and its commonest affixes: the verb prefixes
/// and the plural, feminine and adjective endings.
fn light_stem(w: &str) -> &str {
    let mut s = stem(w);
    // The future particle before a verb's prefix ("ستزود").
    if let Some(rest) = s.strip_prefix('س') {
        if rest.starts_with(['ي', 'ت', 'ن', 'ا']) && rest.chars().count() >= 4 {
            s = rest;
        }
    }
    for p in ["ي", "ت", "ن", "ا", "م"] {
        if let Some(rest) = s.strip_prefix(p) {
            if rest.chars().count() >= 3 {
                s = rest;
                break;
            }
        }
    }
    for suffix in ["ات", "ون", "ين", "يه", "ها", "هم", "ه", "ي", "ا"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            if rest.chars().count() >= 3 {
                return rest;
            }
        }
    }
    s
}

/// Whether two entries that one document lists side by side, both in the
/// outlet's own words, may still be one story posted twice. A re-post is a
/// story, not a line or two, under a new GUID, and either keeps its
/// headline (perhaps adding "Update:") or repeats its text nearly word for
/// word under a headline written anew. A shop's listings under one blurb,
/// or the parts of a series, share the text too, but their headlines are
/// variants of one another ("... Ford Focus" / "... Mercedes", "part 1" /
/// "part 2"): neither the same headline nor a new one.
pub fn may_be_repost(a: &Doc, b: &Doc) -> bool {
    if a.body.len().min(b.body.len()) <= SHORT_BODY_TOKENS {
        return false;
    }
    // A short headline ("Low spoiler", "Pedals 2") is a listing's: it
    // tells too little to be reworded, and a figure only one of two such
    // headlines gives is a listing's attribute or a part number.
    let words = |d: &Doc| d.title.iter().filter(|w| is_content_word(w)).count();
    let short = words(a).min(words(b)) < REPOST_HEADLINE_WORDS;
    if headlines_agree(a, b) {
        return !(short && lone_headline_figure(a, b));
    }
    // Under a headline reworded or written anew: a story's worth of text,
    // unless both headlines are sentences. A shop's blurbs under short
    // product names are neither.
    let story = a.body.len().min(b.body.len()) >= REPOST_STORY_TOKENS;
    if words(a).min(words(b)) < MIN_HEADLINE_WORDS || (short && !story) {
        return false;
    }
    let rewritten = headline_resemblance(&a.title, &b.title) < REWRITTEN_HEADLINE;
    (rewritten || headline_only_extended(a, b))
        && containment(&shingles(&a.body), &shingles(&b.body)) >= REPOST_BODY
}

/// Whether one headline gives a figure (in digits) the other does not.
fn lone_headline_figure(a: &Doc, b: &Doc) -> bool {
    let figures =
        |t: &[String]| -> Vec<Vec<f64>> { t.iter().filter_map(|w| facts::value(w)).collect() };
    let (fa, fb) = (figures(&a.title), figures(&b.title));
    let lone =
        |p: &[Vec<f64>], q: &[Vec<f64>]| p.iter().any(|v| !q.iter().any(|w| facts::agree(v, w)));
    lone(&fa, &fb) || lone(&fb, &fa)
}

/// Content words of a headline that is a sentence, not a name.
const REPOST_HEADLINE_WORDS: usize = 5;

/// Body tokens of a story, as against a listing's blurb.
const REPOST_STORY_TOKENS: usize = 80;

/// Whether two headlines differ only by words each adds or drops ("راكب
/// أمواج يتعرض لهجوم من سمكة قرش" / "راكب أمواج يتعرض لهجوم قرش في
/// مسابقة"), never by a word put in another's place: a listing's model or a
/// series' part number is such a replacement.
fn headline_only_extended(a: &Doc, b: &Doc) -> bool {
    let ta: Vec<&str> = a.title.iter().map(String::as_str).collect();
    let tb: Vec<&str> = b.title.iter().map(String::as_str).collect();
    // A letter or a digit numbering a part matches only itself (or, for a
    // number, the same number in words).
    let matches = |w: &str, v: &str| {
        if let (Some(x), Some(y)) = (number(w), number(v)) {
            facts::agree(&x, &y)
        } else if w.chars().count() < 3 || v.chars().count() < 3 {
            v == w
        } else {
            related_words(w, v)
        }
    };
    // Words that say something: not the function words that come and go
    // ("في مهرجان" / "بمهرجان").
    let telling = |w: &str| {
        !LEXICON.interchangeable(w)
            && (is_content_word(w) || number(w).is_some() || w.chars().count() < 3)
    };
    changes(&ta, &tb).iter().all(|c| {
        let (x, y) = (&ta[c.a.clone()], &tb[c.b.clone()]);
        let lone = |p: &[&str], q: &[&str]| {
            p.iter()
                .any(|w| telling(w) && !q.iter().any(|v| matches(w, v)))
        };
        // Words one side adds are fine; a word where the other has another
        // is a replacement.
        x.concat() == y.concat() || !(lone(x, y) && lone(y, x))
    })
}

/// Below this resemblance a headline is written anew, not a variant.
const REWRITTEN_HEADLINE: f64 = 0.6;

/// The resemblance of the bodies of a re-post under a new headline: more
/// than two stories share by their template (a daily weather report from
/// one outlet resembles yesterday's to about 0.6).
const REPOST_BODY: f64 = 0.7;

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

/// The values a token states, if it states a number: a figure, a number
/// word, an ordinal (with or without a clitic).
fn number(w: &str) -> Option<Vec<f64>> {
    if w.bytes().any(|b| b.is_ascii_digit()) {
        return facts::value(w);
    }
    let e = LEXICON.entry(w);
    e.number_word.or(e.ordinal).map(|v| vec![v])
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
        (Some(nx), Some(ny)) => return facts::agree(&nx, &ny),
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
fn conflict<'a>(
    a: &[&'a str],
    b: &[&'a str],
    score: f64,
    headline: bool,
    corpus: &dyn Corpus,
) -> Option<String> {
    let lex = &*LEXICON;
    let vocab =
        |s: &[&'a str]| -> HashSet<&'a str> { s.iter().flat_map(|w| [*w, stem(w)]).collect() };
    // Built on first need: most pairs have no replaced content word.
    let (va, vb) = (std::cell::OnceCell::new(), std::cell::OnceCell::new());
    let absent = |w: &str, v: &std::cell::OnceCell<HashSet<&'a str>>, s: &[&'a str]| {
        let v = v.get_or_init(|| vocab(s));
        !v.contains(w) && !v.contains(stem(w))
    };
    let (ea, eb) = (facts::entries(a), facts::entries(b));
    let (fa, fb) = (facts::facts_with(a, &ea), facts::facts_with(b, &eb));
    if let Some(why) = different_figures(&fa, &fb) {
        return Some(why);
    }
    if headline {
        if let Some(why) = opposed_predicates(a, b) {
            return Some(why);
        }
        if let Some(why) = toll_on_one_side(&fa, &fb, a, b) {
            return Some(why);
        }
    }
    // A word can contradict the other text only if it names something: a
    // listed place or body, a word after a title ("الأمير", "مدينة"), or a
    // word the corpus rarely uses. Synonyms and honorifics are not names.
    let names = |s: &[&str], i: usize| -> bool {
        let w = s[i];
        is_content_word(w)
            && !lex.interchangeable(w)
            && (lex.is_listed_name(w)
                || (i > 0 && lex.introduces_name(s[i - 1]))
                || corpus.rare(light_stem(w))
                || (headline && corpus.uncommon(light_stem(w))))
    };
    if !headline {
        if let Some(why) = different_places(a, b, &ea, &eb) {
            return Some(why);
        }
    }
    let mut swaps: Vec<(String, String)> = Vec::new();
    let mut echoes: HashSet<(String, String)> = HashSet::new();
    let mut list_edits: Vec<String> = Vec::new();
    for c in changes(a, b) {
        let x = &a[c.a.clone()];
        let y = &b[c.b.clone()];
        if x.is_empty() || y.is_empty() {
            // A place or a direction added to or dropped from a list of
            // them in a sentence the two otherwise share: where it rains,
            // whom a storm hit. A trimmed copy drops sentences, not one
            // name from the middle of a list.
            let (added, text) = if x.is_empty() { (y, b) } else { (x, a) };
            let start = if x.is_empty() { c.b.start } else { c.a.start };
            let inside =
                start > 0 && c.a.end < a.len() && c.b.end < b.len() && !added.contains(&TITLE_END);
            let place = |w: &str| lex.is_listed_name(w) || lex.closed_class(w).is_some();
            let listed = added.len() <= 2
                && added.iter().all(|w| place(w))
                && (text.get(start.wrapping_sub(1)).is_some_and(|w| place(w))
                    || text.get(start + added.len()).is_some_and(|w| place(w)));
            if inside && listed {
                list_edits.push(join(added));
            }
            continue;
        }
        // Figures in the same place that disagree (a swapped number, or
        // "the sixth" where the other says "the fourth").
        let at = |f: &[Fact], r: &std::ops::Range<usize>| -> Vec<f64> {
            f.iter()
                .filter(|f| f.kind != Kind::Date && f.span.start < r.end && r.start < f.span.end)
                .flat_map(|f| f.values.iter().copied())
                .collect()
        };
        if x.len() > MAX_SWAP_TOKENS || y.len() > MAX_SWAP_TOKENS {
            continue; // rewriting, not a swap
        }
        // A list of places where the other names other places or a
        // region: "جازان وعسير والباحة" / "جنوب المملكة".
        let places = |s: &[&str]| s.iter().filter(|w| lex.is_listed_name(w)).count();
        let region = |s: &[&str]| {
            s.iter()
                .any(|w| lex.is_listed_name(w) || lex.closed_class(w).is_some())
        };
        let shared = |p: &[&str], q: &[&str]| {
            p.iter()
                .any(|w| lex.is_listed_name(w) && q.iter().any(|v| same_word(w, v)))
        };
        if ((places(x) >= 2 && region(y)) || (places(y) >= 2 && region(x))) && !shared(x, y) {
            list_edits.push(format!("{} / {}", join(x), join(y)));
        }
        let (nx, ny) = (at(&fa, &c.a), at(&fb, &c.b));
        if !nx.is_empty() && !ny.is_empty() && !facts::agree(&nx, &ny) {
            return Some(format!("different numbers: {} / {}", join(x), join(y)));
        }
        // A wind from the north is not one from the south, nor a daily
        // figure a monthly one.
        let closed = |s: &[&str]| -> HashSet<(&'static str, char)> {
            s.iter().filter_map(|w| lex.closed_class(w)).collect()
        };
        let (dx, dy) = (closed(x), closed(y));
        if dx
            .iter()
            .any(|(k, m)| dy.iter().any(|(l, n)| k == l && m != n) && !dy.contains(&(k, *m)))
        {
            return Some(format!(
                "different words of one kind: {} / {}",
                join(x),
                join(y)
            ));
        }
        if x.concat() == y.concat() {
            continue; // "عبد العزيز" / "عبدالعزيز"
        }
        let nx: Vec<(usize, &&str)> = x
            .iter()
            .enumerate()
            .filter(|(_, w)| !y.iter().any(|v| same_word(w, v)))
            .map(|(i, w)| (c.a.start + i, w))
            .collect();
        let ny: Vec<(usize, &&str)> = y
            .iter()
            .enumerate()
            .filter(|(_, w)| !x.iter().any(|v| same_word(w, v)))
            .map(|(i, w)| (c.b.start + i, w))
            .collect();
        let one_name = |p: &str, q: &str| matches!((lex.same_name_group(p), lex.same_name_group(q)), (Some(g), Some(h)) if g == h);
        let ex = nx
            .iter()
            .find(|(i, w)| names(a, *i) && absent(w, &vb, b))
            .map(|(_, w)| **w);
        let ey = ny
            .iter()
            .find(|(i, w)| names(b, *i) && absent(w, &va, a))
            .map(|(_, w)| **w);
        // Headlines are rewritten freely: a swap counts in the body (or
        // between two headlines, when that is all there is).
        let in_body = headline || a[..c.a.start].contains(&TITLE_END);
        if !in_body {
            continue;
        }
        match (ex, ey) {
            (Some(ex), Some(ey)) if !one_name(ex, ey) => {
                swaps.push((ex.to_string(), ey.to_string()))
            }
            (Some(_), Some(_)) => {}
            (None, Some(new)) | (Some(new), None) => {
                // One side's word is new, the other's still appears
                // elsewhere: a swap if made the same way more than once, or
                // in text otherwise near-identical.
                let side = if ey.is_some() { &nx } else { &ny };
                let text = if ey.is_some() { a } else { b };
                if let Some((_, old)) = side.iter().find(|(i, _)| names(text, *i)) {
                    if one_name(old, new) {
                        continue;
                    }
                    let pair = (stem(old).to_string(), stem(new).to_string());
                    if !echoes.insert(pair) || score >= NEAR_IDENTICAL {
                        swaps.push((old.to_string(), new.to_string()));
                    }
                }
            }
            (None, None) => {}
        }
    }
    if list_edits.len() >= 2 {
        return Some(format!(
            "places listed differently: {}",
            list_edits.join(", ")
        ));
    }
    if swaps.len() >= 2 || (!swaps.is_empty() && (score >= NEAR_IDENTICAL || headline)) {
        let shown: Vec<String> = swaps
            .iter()
            .take(3)
            .map(|(x, y)| format!("{x} / {y}"))
            .collect();
        return Some(format!("different names or places: {}", shown.join(", ")));
    }
    // Figures one side gives and the other does not give at all, in text
    // otherwise alike. Dates are left out: a dateline is no fact.
    let stated = |f: &[Fact]| -> Vec<Vec<f64>> {
        f.iter()
            .filter(|f| f.kind == Kind::Figure)
            .map(|f| f.values.clone())
            .collect()
    };
    let (sa, sb) = (stated(&fa), stated(&fb));
    let missing = |p: &[Vec<f64>], q: &[Vec<f64>]| -> Vec<f64> {
        p.iter()
            .filter(|v| !q.iter().any(|w| facts::agree(v, w)))
            .map(|v| v[0])
            .collect()
    };
    let (only_a, only_b) = (missing(&sa, &sb), missing(&sb, &sa));
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

/// Two texts whose headlines name different places: each headline names
/// a listed place the other text never mentions, in its headline or its
/// body (a telegram to Jamaica's governor and one to Tunisia's president,
/// on one template). Headlines are rewritten freely, but the place a story
/// happened in survives in the other copy somewhere.
fn different_places(
    a: &[&str],
    b: &[&str],
    ea: &[lexicon::Entry],
    eb: &[lexicon::Entry],
) -> Option<String> {
    let title = |s: &[&str]| s.iter().position(|w| *w == TITLE_END).unwrap_or(s.len());
    let named = |s: &[&str], e: &[lexicon::Entry]| -> Vec<(usize, u32)> {
        (0..title(s))
            .filter_map(|i| e[i].place.map(|k| (i, k)))
            .collect()
    };
    let (na, nb) = (named(a, ea), named(b, eb));
    if na.is_empty() || nb.is_empty() {
        return None;
    }
    // Every place each text mentions, by key: a name and its adjectives,
    // and the names of one thing, meet.
    let keys =
        |e: &[lexicon::Entry]| -> HashSet<u32> { e.iter().filter_map(|e| e.place).collect() };
    let (ka, kb) = (keys(ea), keys(eb));
    let own = |n: &[(usize, u32)], s: &[&str], other: &HashSet<u32>| {
        n.iter()
            .find(|(_, k)| !other.contains(k))
            .map(|(i, _)| s[*i].to_string())
    };
    match (own(&na, a, &kb), own(&nb, b, &ka)) {
        (Some(x), Some(y)) => Some(format!("headlines name different places: {x} / {y}")),
        _ => None,
    }
}

/// Figures of one unit a text may give and still be compared unit by unit.
const MAX_FIGURES_PER_UNIT: usize = 2;

/// Two texts that count the same thing differently: "10 tonnes" and "11
/// tonnes", "the fourth" and "the sixth". Each side must state a value the
/// other does not, so a trimmed copy that drops a figure still agrees.
/// Figures whose unit is unknown are left to the alignment.
fn different_figures(fa: &[Fact], fb: &[Fact]) -> Option<String> {
    // What a story is about is counted in tonnes, casualties, money or
    // ordinals; spans of time ("in five years", "since seven years") and
    // nouns of any kind recur in background sentences a copy may keep or
    // drop, so they are left to the alignment.
    let compared = |unit: &str| {
        unit.starts_with("ordinal:")
            || matches!(
                unit,
                "ton"
                    | "kg"
                    | "km"
                    | "km2"
                    | "m"
                    | "bbl"
                    | "killed"
                    | "injured"
                    | "people"
                    | "sar"
                    | "usd"
                    | "eur"
                    | "degree"
            )
    };
    let units: HashSet<&str> = fa
        .iter()
        .filter(|f| f.kind != Kind::Date && compared(&f.unit))
        .map(|f| f.unit.as_str())
        .collect();
    for unit in units {
        let of = |f: &[Fact]| -> Vec<Vec<f64>> {
            f.iter()
                .filter(|f| f.kind != Kind::Date && f.unit == unit)
                .map(|f| f.values.clone())
                .collect()
        };
        let (ua, ub) = (of(fa), of(fb));
        // A text that gives many figures of one kind (the rates of an
        // economic report) is compared by the alignment only: a trimmed
        // copy keeps some of them, and not the same ones.
        if ub.is_empty() || ua.len() > MAX_FIGURES_PER_UNIT || ub.len() > MAX_FIGURES_PER_UNIT {
            continue;
        }
        let lone = |p: &[Vec<f64>], q: &[Vec<f64>]| {
            p.iter()
                .find(|v| !q.iter().any(|w| facts::agree(v, w)))
                .map(|v| v[0])
        };
        if let (Some(x), Some(y)) = (lone(&ua, &ub), lone(&ub, &ua)) {
            return Some(match unit.strip_prefix("ordinal:") {
                Some(head) => format!("different ordinals of {head}: {x} / {y}"),
                None => format!("different figures for {unit}: {x} / {y}"),
            });
        }
    }
    None
}

/// Two headlines that say opposite things: prices rose / fell, a leader
/// backs / condemns. A predicate one headline asserts counts when the other
/// asserts its opposite and not it.
fn opposed_predicates(a: &[&str], b: &[&str]) -> Option<String> {
    let lex = &*LEXICON;
    let classes = |s: &[&str]| -> Vec<(&'static str, String)> {
        s.iter()
            .filter_map(|w| lex.polarity(w).map(|c| (c, w.to_string())))
            .collect()
    };
    let (ca, cb) = (classes(a), classes(b));
    let has = |c: &[(&str, String)], class: &str| c.iter().any(|(k, _)| *k == class);
    for (x, wx) in &ca {
        for (y, wy) in &cb {
            if Lexicon::opposed(x, y) && (!has(&cb, x) || !has(&ca, y)) {
                return Some(format!("opposite predicates: {wx} / {wy}"));
            }
        }
    }
    None
}

/// A death or injury toll in one headline and none in the other: a story
/// and its aftermath, or two events.
fn toll_on_one_side(fa: &[Fact], fb: &[Fact], a: &[&str], b: &[&str]) -> Option<String> {
    let toll = |f: &[Fact]| {
        f.iter()
            .find(|f| f.kind == Kind::Figure && matches!(f.unit.as_str(), "killed" | "injured"))
            .map(|f| f.values[0])
    };
    match (toll(fa), toll(fb)) {
        (Some(x), None) => Some(format!("a toll only one headline gives: {x} ({})", join(a))),
        (None, Some(y)) => Some(format!("a toll only one headline gives: {y} ({})", join(b))),
        _ => None,
    }
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
    /// The corpus statistics names are read by: in how many documents each
    /// word (the hash of its stem) occurred, over the items counted since
    /// the index was built. Not taken back when an item leaves the window:
    /// how rare a word is changes slowly, and keeping each item's words to
    /// take them back would cost more than the index itself.
    words: PrehashedMap<u32>,
    docs: u32,
}

/// A word that occurs in at most this many documents is rare whatever the
/// corpus size...
const RARE_DOCS: u32 = 2;

/// ... and so is one that occurs in at most one document in this many.
const RARE_SHARE: u64 = 400;

/// A word in at most this many documents, or one in this many, is uncommon.
const UNCOMMON_DOCS: u32 = 5;
const UNCOMMON_SHARE: u64 = 100;

impl Index {
    fn doc_freq(&self, word: &str) -> u32 {
        self.words.get(&hash_of(word)).copied().unwrap_or(0)
    }
}

impl Corpus for Index {
    fn rare(&self, word: &str) -> bool {
        let df = self.doc_freq(word);
        df <= RARE_DOCS || u64::from(df) * RARE_SHARE <= u64::from(self.docs)
    }

    fn uncommon(&self, word: &str) -> bool {
        let df = self.doc_freq(word);
        df <= UNCOMMON_DOCS || u64::from(df) * UNCOMMON_SHARE <= u64::from(self.docs)
    }
}

impl Index {
    /// Counts the words of a document into the corpus statistics.
    pub fn count_words(&mut self, doc: &Doc) {
        let mut seen: HashSet64 = HashSet64::default();
        for w in doc.title.iter().chain(&doc.body) {
            if w.chars().count() >= 3 {
                seen.insert(hash_of(light_stem(w)));
            }
        }
        for h in seen {
            *self.words.entry(h).or_insert(0) += 1;
        }
        self.docs = self.docs.saturating_add(1);
    }

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

    /// A corpus in which the given words are common and every other word
    /// rare, as a store full of news would have it.
    struct Common(&'static [&'static str]);

    impl Corpus for Common {
        fn rare(&self, word: &str) -> bool {
            !self
                .0
                .iter()
                .any(|w| light_stem(&normalize_text(w)) == word)
        }
    }

    const PLANE: &str = "هبطت في مطار عدن الدولي اليوم الطائرة السعودية الرابعة ضمن الجسر الجوي \
        الذي يسيره مركز الإغاثة، وعلى متنها 10 أطنان من الأدوية والمستلزمات الطبية \
        المخصصة لمستشفيات المدينة، ويرافقها فريق من المتطوعين سيتولى تسليم الشحنة \
        إلى الجهات الصحية المحلية خلال الأيام المقبلة وفق خطة التوزيع المعتمدة.";

    #[test]
    fn another_ordinal_or_tonnage_is_another_flight() {
        let fourth = doc("وصول الطائرة الإغاثية الرابعة إلى عدن", PLANE);
        // Another outlet's report of a later flight: the same formula,
        // re-edited, with the ordinal and the load in other places.
        let sixth = doc(
            "الإغاثة: الطائرة السادسة تصل عدن",
            "هبطت في مطار عدن الدولي اليوم الطائرة السعودية السادسة ضمن الجسر الجوي \
             الذي يسيره مركز الإغاثة، ويرافقها فريق من المتطوعين سيتولى تسليم الشحنة \
             إلى الجهات الصحية المحلية خلال الأيام المقبلة وفق خطة التوزيع المعتمدة. \
             وعلى متنها مواد غذائية تزن 11 طنا مخصصة لمستشفيات المدينة.",
        );
        let v = same_story(&fourth, &sixth, DEFAULT_THRESHOLD);
        assert!(v.score >= DEFAULT_THRESHOLD, "{v:?}");
        assert!(!v.duplicate, "{v:?}");
        assert!(
            v.conflict
                .as_deref()
                .is_some_and(|c| c.contains("different")),
            "{v:?}"
        );
    }

    #[test]
    fn one_figure_written_another_way_is_the_same_fact() {
        let base = "أعلنت الهيئة أن عدد سكان المحافظة بلغ 1.250.000 نسمة وفق التعداد الأخير \
            وأن مساحتها تبلغ 40 كم2 وأن الإنفاق على مشاريعها بلغ 1.5 مليار ريال خلال ثلاث مراحل \
            متتالية شملت الطرق والمدارس والمستشفيات والحدائق العامة في الأحياء الجديدة";
        let other = "أعلنت الهيئة أن عدد سكان المحافظة بلغ 1,250,000 نسمة وفق التعداد الأخير \
            وأن مساحتها تبلغ 40 كيلومترا مربعا وأن الإنفاق على مشاريعها بلغ مليار ونصف ريال خلال 3 مراحل \
            متتالية شملت الطرق والمدارس والمستشفيات والحدائق العامة في الأحياء الجديدة";
        let v = same_story(
            &doc("سكان المحافظة", base),
            &doc("سكان المحافظة", other),
            DEFAULT_THRESHOLD,
        );
        assert!(v.duplicate, "{v:?}");
        let changed = other.replace("1,250,000", "1,350,000");
        let v = same_story(
            &doc("سكان المحافظة", base),
            &doc("سكان المحافظة", &changed),
            DEFAULT_THRESHOLD,
        );
        assert!(!v.duplicate, "{v:?}");
    }

    #[test]
    fn a_dateline_is_not_a_fact() {
        let with = format!("جدة 12 ذو القعدة 1436 هـ الموافق 27 أغسطس 2015 م (واس)\n{STORY}");
        let v = same_story(
            &doc("مستشفى للأطفال", STORY),
            &doc("مستشفى للأطفال", &with),
            DEFAULT_THRESHOLD,
        );
        assert!(v.duplicate, "{v:?}");
    }

    #[test]
    fn synonyms_and_honorifics_are_not_names_in_a_corpus() {
        let edited = STORY
            .replace("أعلنت", "أكدت")
            .replace("وقال", "وأوضح")
            .replace("الماضية", "الأخيرة")
            .replace("الحديثة", "المتطورة");
        let a = doc("مستشفى جديد", STORY);
        let b = doc("مستشفى جديد", &edited);
        let corpus = Common(&["الماضية", "الأخيرة", "الحديثة", "المتطورة"]);
        let v = same_story_in(&a, &b, DEFAULT_THRESHOLD, &corpus);
        assert!(v.duplicate, "{v:?}");
        // A place swapped is a different story in any corpus.
        let moved = doc(
            "مستشفى جديد",
            &STORY
                .replace("الرياض", "الدمام")
                .replace("النرجس", "الفيصلية"),
        );
        assert!(!same_story_in(&a, &moved, DEFAULT_THRESHOLD, &corpus).duplicate);
        // With no statistics, any word the other text lacks might be a name.
        assert!(!same_story(&a, &b, DEFAULT_THRESHOLD).duplicate);
    }

    #[test]
    fn headlines_with_opposite_predicates_or_places_are_apart() {
        let r = Reader::default();
        let h = |t: &str| r.doc(Some(t), None);
        let rise = h("أسعار الذهب ترتفع إلى أعلى مستوى في ستة أشهر");
        let fall = h("أسعار الذهب تهبط إلى أدنى مستوى في ستة أشهر");
        assert!(!same_story(&rise, &fall, DEFAULT_THRESHOLD).duplicate);
        let paraphrase = h("ارتفاع أسعار الذهب لأعلى مستوى في ستة أشهر");
        assert!(same_story(&rise, &paraphrase, DEFAULT_THRESHOLD).duplicate);
        let here = h("وفد من الفلبين يبحث أزمة العمالة مع الكويت");
        let there = h("وفد من باكستان يبحث أزمة العمالة مع الكويت");
        assert!(!same_story(&here, &there, DEFAULT_THRESHOLD).duplicate);
    }

    #[test]
    fn every_pair_kept_apart_says_why() {
        let a = doc("افتتاح مستشفى", STORY);
        let b = doc(
            "مباراة",
            "فاز الفريق في المباراة النهائية بعد أداء قوي أمام جمهوره الكبير في الملعب",
        );
        let v = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(!v.duplicate && v.conflict.is_some(), "{v:?}");
    }

    #[test]
    fn a_repost_may_carry_a_new_or_longer_headline_but_not_a_variant() {
        let story = doc("راكب أمواج يتعرض لهجوم من سمكة قرش", STORY);
        // The same text under a headline that adds and drops words.
        let longer = doc("راكب أمواج يتعرض لهجوم قرش في مسابقة دولية", STORY);
        assert!(may_be_repost(&story, &longer));
        // Under a headline written anew.
        let anew = doc("المستشفى يستقبل مرضاه مطلع الشهر المقبل", STORY);
        assert!(may_be_repost(&story, &anew));
        // Variants: a part number, a model.
        let part1 = doc("حوار مع الوزير عن المستشفى الجديد: الجزء 1", STORY);
        let part2 = doc("حوار مع الوزير عن المستشفى الجديد: الجزء 2", STORY);
        assert!(!may_be_repost(&part1, &part2));
        let ford = doc("طقم مصابيح خلفية لسيارة فورد فوكس", STORY);
        let benz = doc("طقم مصابيح خلفية لسيارة مرسيدس بنز", STORY);
        assert!(!may_be_repost(&ford, &benz));
    }
}
