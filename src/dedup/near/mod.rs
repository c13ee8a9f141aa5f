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
//!    - a figure one side adds to text otherwise identical (a figure
//!      rounded the way re-editing rounds, "627 مليون" for "627.3 مليون",
//!      is the same figure; "628 مليون" is not);
//!    - the longer text is a roundup: half again as long, and its headline
//!      tells mostly of something the shorter text never mentions, naming
//!      it. A bulletin that carries one story among others is not that
//!      story, and merging it would hide its own headline.
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
//! Every member of a story is indexed, each copy under its own anchors and
//! date, so a new copy finds the story through whichever copy it repeats,
//! not only through the one shown; and a new member must fit every member
//! it is checked against, not just one (no chains). The index holds
//! anchors and dates only (under a kilobyte a copy; `cargo bench --bench
//! neardup` measures it). It is not written to
//! sled: it is rebuilt from the stored items when the store first needs it,
//! so it can never disagree with them after a crash, and covers the items of
//! the last `dedup.window`, counted back from the newest item's own date. A
//! daemon stopped cleanly saves it beside the store for its next start
//! ([`persist`]), which uses it only if nothing changed the store since.

mod align;
mod decision;
mod doc;
mod facts;
mod index;
mod lexicon;
pub mod persist;
mod search;
#[cfg(test)]
mod tests;
mod vetoes;
mod words;
pub mod xling;

pub use decision::{Facts, Verdict, contradiction, may_be_repost, same_story, same_story_in};
pub use doc::{Doc, Reader};
pub use index::{Index, member_key};
pub use search::{Found, Misfit, NearDup, NearState, Probe, own_date};
pub use words::{Corpus, NoCorpus};

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

/// Copies (members of the candidate stories) verified per new item, at most.
const MAX_MEMBER_CANDIDATES: usize = 16;

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
