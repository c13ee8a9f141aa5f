//! The document a text becomes for comparison: its words, boilerplate
//! lines dropped, as shingles and anchors, read from a title and an HTML
//! or plain body by a `Reader`.

use std::collections::HashSet;
use std::hash::Hasher;

use super::lexicon::LEXICON;

use super::{
    ANCHOR_EVERY, DEFAULT_BOILERPLATE, LEAD_TOKENS, MAX_BOILERPLATE_WORDS, MAX_REST_ANCHORS,
    MIN_BODY_TOKENS, MIN_HEADLINE_WORDS, SHINGLE, SHORT_BODY_TOKENS, facts,
};
use crate::text::html_to_text;
use crate::text::normalize::normalize_text;

/// The text of one item as the decision reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub title: Vec<Token>,
    pub body: Vec<Token>,
}

/// One word of a document. Words are short and a document has hundreds:
/// kept inline (up to 24 bytes, a dozen Arabic letters) they cost no
/// allocation each, which was a tenth of a cold poll's CPU time.
pub type Token = compact_str::CompactString;

/// How the text of items is read: the boilerplate list, normalized.
#[derive(Debug, Clone)]
pub struct Reader {
    pub(super) boilerplate: Vec<String>,
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
        for line in html_to_text(body.unwrap_or("")).lines() {
            let line = normalize_text(&facts::mark_figures(line));
            if self.is_boilerplate(&line) {
                continue;
            }
            words.extend(line.split(' ').filter(|w| !w.is_empty()).map(Token::from));
        }
        Doc {
            title: title
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(Token::from)
                .collect(),
            body: words,
        }
    }

    /// Whether a normalized line is one of the configured boilerplate lines.
    /// The openings are compared first: most lines have none, and the
    /// words of a line are counted only up to the limit.
    pub fn is_boilerplate(&self, line: &str) -> bool {
        self.boilerplate.iter().any(|b| {
            line.strip_prefix(b.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        }) && line.split(' ').nth(MAX_BOILERPLATE_WORDS).is_none()
    }
}

/// 64-bit FNV-1a of a token. Hand-written (five lines) because tokens are
/// hashed by the hundred per comparison and SipHash, the standard default,
/// is several times slower on short keys; the result only lives in memory.
pub(super) fn hash_of(t: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A set of hashes, hashed no further.
pub(super) type HashSet64 = HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>;

/// Mixes the bits of a combined hash (the finalizer of SplitMix64), so
/// that `h % ANCHOR_EVERY` picks anchors evenly.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) fn shingles(tokens: &[Token]) -> HashSet64 {
    let ids: Vec<u64> = tokens.iter().map(|t| hash_of(t.as_str())).collect();
    shingles_hashed(&ids)
}

/// `shingles` of tokens given as their `hash_of`.
pub(super) fn shingles_hashed(ids: &[u64]) -> HashSet64 {
    if ids.len() < SHINGLE {
        return ids.iter().copied().map(mix).collect();
    }
    ids.windows(SHINGLE)
        .map(|w| mix(w[0].rotate_left(42) ^ w[1].rotate_left(21) ^ w[2]))
        .collect()
}

pub(super) fn is_content_word(w: &str) -> bool {
    if w.chars().count() < 3 || w.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    let e = LEXICON.entry(w);
    !e.interchangeable && e.number_word.is_none() && e.ordinal.is_none()
}

impl Doc {
    /// The title's tokens, `TITLE_END`, then the body's: the sequence the
    /// checks read facts from, knowing where the headline ends.
    pub(super) fn sequence(&self) -> Vec<&str> {
        self.title
            .iter()
            .map(Token::as_str)
            .chain([super::TITLE_END])
            .chain(self.body.iter().map(Token::as_str))
            .collect()
    }

    pub(super) fn headline_only(&self) -> bool {
        self.body.len() < MIN_BODY_TOKENS
    }

    /// The body's length as the index records it: 0 for a document
    /// compared on its headline.
    pub fn indexed_tokens(&self) -> u32 {
        if self.headline_only() {
            0
        } else {
            u32::try_from(self.body.len()).unwrap_or(u32::MAX)
        }
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

/// A hasher for keys that are already hashes: hashing them again would
/// only cost time. (A few lines, rather than a crate for them.)
#[derive(Default, Clone, Copy)]
pub(super) struct Prehashed(u64);

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

    /// A 32-bit key (the index's) is spread over the 64 bits: the hash
    /// table reads its low bits for the bucket and its top seven to tell
    /// keys apart, which a key taken as is would leave all zero.
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
