//! The same-story decision on two documents: resemblance (containment of
//! shingles, or headline words for items without a body), then the vetoes
//! (see `vetoes`), and whether a second copy from one outlet is a re-post.

use super::align::changes;
use super::doc::{Doc, HashSet64, Token, hash_of, is_content_word, mix, shingles, shingles_hashed};
use super::lexicon::LEXICON;
use super::vetoes::{
    Places, another_story_besides, compared_figure, conflict, different_figures, places_differ,
};
use super::words::{Corpus, NoCorpus, number, related_words, same_word};
use super::{
    HEADLINE_THRESHOLD, MIN_HEADLINE_WORDS, SHORT_BODY_TITLE_AGREEMENT, SHORT_BODY_TOKENS,
    TITLE_END, facts,
};

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

pub(super) fn containment(a: &HashSet64, b: &HashSet64) -> f64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.is_empty() {
        return 0.0;
    }
    small.iter().filter(|h| large.contains(h)).count() as f64 / small.len() as f64
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
    let seq = |d: &'d Doc| -> Vec<&'d str> {
        let title = d.title.iter().map(Token::as_str);
        if headline {
            title.collect()
        } else {
            let body = d.body.iter().map(Token::as_str);
            title.chain([TITLE_END]).chain(body).collect()
        }
    };
    let sa = seq(a);
    let sb = seq(b);
    // Each token is hashed once, for the shingles and for the alignment.
    let hashes = |s: &[&str]| -> Vec<u64> { s.iter().map(|t| hash_of(t)).collect() };
    let (ha, hb) = (hashes(&sa), hashes(&sb));
    fn body_of<'h>(h: &'h [u64], d: &Doc) -> &'h [u64] {
        &h[h.len() - d.body.len()..]
    }
    let score = if headline {
        headline_resemblance(&a.title, &b.title)
    } else {
        let body = containment(
            &shingles_hashed(body_of(&ha, a)),
            &shingles_hashed(body_of(&hb, b)),
        );
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
    verdict.conflict = conflict((&sa, &ha), (&sb, &hb), score, headline, corpus);
    if verdict.conflict.is_none() && !headline {
        verdict.conflict = another_story_besides(&sa, &sb, corpus);
    }
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
    Facts::of(a).contradiction(&Facts::of(b))
}

/// What `contradiction` compares of a text, read once: a copy checked
/// against every member of a story, or two stories checked member by
/// member, read each text once rather than once a pair.
#[derive(Debug, Clone)]
pub struct Facts {
    figures: Vec<facts::Fact>,
    places: Places,
}

impl Facts {
    pub fn of(d: &Doc) -> Facts {
        let seq = d.sequence();
        let entries = facts::entries(&seq);
        let mut figures = facts::facts_with(&seq, &entries);
        figures.retain(compared_figure);
        Facts {
            figures,
            places: Places::of(&seq, &entries),
        }
    }

    /// Whether any text could contradict this one: both sides need a
    /// compared figure, or both a place in the headline. When not, the
    /// members of a story need not be read to know they fit.
    pub fn can_contradict(&self) -> bool {
        !self.figures.is_empty() || self.places.named_in_headline()
    }

    /// `contradiction` of the two texts these were read from.
    pub fn contradiction(&self, other: &Facts) -> Option<String> {
        different_figures(&self.figures, &other.figures)
            .or_else(|| places_differ(&self.places, &other.places))
    }
}

/// How a verdict that found too little in common starts.
pub(super) const TOO_LITTLE: &str = "too little text in common";

/// Resemblance of two headlines: the share of the shorter one's content
/// words that the other has in some form. Headlines are rewritten freely
/// ("النفط ينخفض" / "انخفاض أسعار النفط"), so a word counts when the other
/// has it with another clitic, a typo, or another form of the same stem.
/// A headline of a word or two names no story.
pub(super) fn headline_resemblance(a: &[Token], b: &[Token]) -> f64 {
    fn words(t: &[Token]) -> Vec<&str> {
        let mut v: Vec<&str> = t
            .iter()
            .map(Token::as_str)
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
pub(super) fn lone_headline_figure(a: &Doc, b: &Doc) -> bool {
    let figures =
        |t: &[Token]| -> Vec<Vec<f64>> { t.iter().filter_map(|w| facts::value(w)).collect() };
    let (fa, fb) = (figures(&a.title), figures(&b.title));
    let lone =
        |p: &[Vec<f64>], q: &[Vec<f64>]| p.iter().any(|v| !q.iter().any(|w| facts::agree(v, w)));
    lone(&fa, &fb) || lone(&fb, &fa)
}

/// Content words of a headline that is a sentence, not a name.
pub(super) const REPOST_HEADLINE_WORDS: usize = 5;

/// Body tokens of a story, as against a listing's blurb.
pub(super) const REPOST_STORY_TOKENS: usize = 80;

/// Whether two headlines differ only by words each adds or drops ("راكب
/// أمواج يتعرض لهجوم من سمكة قرش" / "راكب أمواج يتعرض لهجوم قرش في
/// مسابقة"), never by a word put in another's place: a listing's model or a
/// series' part number is such a replacement.
pub(super) fn headline_only_extended(a: &Doc, b: &Doc) -> bool {
    let ta: Vec<&str> = a.title.iter().map(Token::as_str).collect();
    let tb: Vec<&str> = b.title.iter().map(Token::as_str).collect();
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
pub(super) const REWRITTEN_HEADLINE: f64 = 0.6;

/// The resemblance of the bodies of a re-post under a new headline: more
/// than two stories share by their template (a daily weather report from
/// one outlet resembles yesterday's to about 0.6).
pub(super) const REPOST_BODY: f64 = 0.65;

/// Whether two headlines could name one story as one outlet writes it
/// twice: every word of one has its counterpart in the other (a typo, a
/// clitic, a number written as a word), except words that only one side
/// adds ("Update:"). Words of one or two letters must match exactly, as
/// they are where a series numbers its parts.
pub(super) fn headlines_agree(a: &Doc, b: &Doc) -> bool {
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
