//! Reading an English text for the cross-language decision: its content
//! words as stems (Snowball's English stemmer, so "inspects" and
//! "inspection" meet the dictionary's "inspect"), the names it writes with
//! a capital, and the few figures the decision compares.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Words that say nothing of what a story is about: function words, the
/// verbs of reporting, days, and the titles every official carries.
const STOP: &[&str] = &[
    "a",
    "about",
    "according",
    "added",
    "after",
    "against",
    "also",
    "amid",
    "among",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "day",
    "days",
    "did",
    "does",
    "during",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "him",
    "his",
    "how",
    "i",
    "in",
    "including",
    "into",
    "is",
    "it",
    "its",
    "just",
    "last",
    "may",
    "might",
    "more",
    "most",
    "mr",
    "ms",
    "mrs",
    "dr",
    "no",
    "not",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "per",
    "said",
    "same",
    "say",
    "says",
    "she",
    "should",
    "since",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "told",
    "under",
    "until",
    "up",
    "us",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "year",
    "years",
    "yesterday",
    "today",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "week",
    "weeks",
    "al",
    "el",
    "bin",
    "ibn",
    "abu",
    "sheikh",
    "made",
    "make",
    "makes",
    "held",
    "take",
    "took",
    "given",
    "give",
    "gave",
    "set",
    "new",
    "first",
    "two",
    "three",
    "all",
    "every",
    "any",
    "week",
    "reported",
    "announced",
    "stated",
    "noted",
];

/// `STOP` as a set: every word of every text is looked up.
static STOP_SET: LazyLock<std::collections::HashSet<&'static str, fxhash::FxBuildHasher>> =
    LazyLock::new(|| STOP.iter().copied().collect());

pub(super) fn is_stop(w: &str) -> bool {
    STOP_SET.contains(w)
}

/// The Snowball stem of a lower-case word.
pub(super) fn stem(w: &str) -> String {
    STEMMER.stem(w).into_owned()
}

/// The words of a text as written: letters, with inner apostrophes and
/// hyphens split off ("Al-Baha" is "Al" and "Baha", "Sisi's" is "Sisi").
pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
}

/// The stems of a gloss's or a text's content words.
pub(super) fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    words(text).filter_map(|w| {
        let lower = w.to_ascii_lowercase();
        (lower.len() >= 3 && !is_stop(&lower)).then(|| stem(&lower))
    })
}

/// One content word of an English text.
#[derive(Debug, Clone)]
pub(super) struct Word {
    pub stem: String,
    /// Written with a capital somewhere other than a headline's start.
    pub capital: bool,
    /// Its consonant skeleton, when written with a capital (a name).
    pub name: Option<String>,
}

/// An English text as the decision reads it.
#[derive(Debug, Clone, Default)]
pub struct English {
    /// Distinct content words, headline first.
    pub(super) words: Vec<Word>,
    /// The skeletons of the headline's names.
    pub(super) headline_names: Vec<String>,
    /// The stems of the headline's content words.
    pub(super) headline: Vec<String>,
    /// Every figure written in digits.
    pub(super) figures: Vec<f64>,
    /// Every capitalized word's skeleton, headline and body.
    pub(super) names: Vec<String>,
    /// Ordinals the headline gives ("Fifth Saudi aid flight").
    pub(super) headline_ordinals: Vec<f64>,
    /// Tonnages the text gives.
    pub(super) tonnes: Vec<f64>,
}

impl English {
    pub fn read(title: &str, body: &str) -> English {
        let mut e = English::default();
        let mut seen = fxhash::FxHashSet::default();
        let mut stems: fxhash::FxHashMap<String, String> = Default::default();
        for text in [title, body] {
            e.figures.extend(figures(text));
            e.tonnes.extend(tonnages(text));
        }
        for (in_title, text) in [(true, title), (false, body)] {
            let ws: Vec<&str> = words(text).collect();
            for (i, w) in ws.iter().enumerate() {
                let lower = w.to_ascii_lowercase();
                let capital = w.starts_with(|c: char| c.is_ascii_uppercase());
                let name = capital
                    .then(|| super::skeleton::key(super::skeleton::latin(&lower)))
                    .flatten();
                if let Some(k) = &name {
                    if !is_stop(&lower) {
                        if in_title && !e.headline_names.contains(k) {
                            e.headline_names.push(k.clone());
                        }
                        if !e.names.contains(k) {
                            e.names.push(k.clone());
                        }
                    }
                }
                if in_title {
                    if let Some(v) = ordinal(&lower) {
                        e.headline_ordinals.push(v);
                    }
                }
                if lower.len() < 3 || is_stop(&lower) {
                    continue;
                }
                // A text repeats its words: each is stemmed once.
                let stem = stems
                    .entry(lower.clone())
                    .or_insert_with(|| stem(&lower))
                    .clone();
                if in_title && !e.headline.contains(&stem) {
                    e.headline.push(stem.clone());
                }
                // A headline's first word is capitalized whatever it is.
                let capital = capital && !(in_title && i == 0);
                if seen.insert(stem.clone()) {
                    e.words.push(Word {
                        stem,
                        capital,
                        name,
                    });
                } else if capital {
                    if let Some(w) = e.words.iter_mut().find(|w| w.stem == stem) {
                        w.capital = true;
                        w.name = w.name.take().or(name);
                    }
                }
            }
        }
        e
    }
}

/// The numbers a text writes in digits ("1,200", "5.5", "33").
fn figures(text: &str) -> impl Iterator<Item = f64> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .filter_map(|n| {
            let n = n.trim_matches(|c| c == ',' || c == '.');
            if n.is_empty() {
                return None;
            }
            n.replace(',', "").parse().ok()
        })
}

/// An ordinal word's value.
fn ordinal(w: &str) -> Option<f64> {
    const ORDINALS: &[&str] = &[
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth", "eleventh", "twelfth",
    ];
    ORDINALS
        .iter()
        .position(|o| *o == w)
        .map(|i| (i + 1) as f64)
}

/// The tonnages a text gives ("12 tonnes", "eleven tons"): a unit word
/// after a number in digits or in words.
fn tonnages(text: &str) -> Vec<f64> {
    const NUMBERS: &[&str] = &[
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    // Most texts give no tonnage: not tokenized again for nothing.
    if !text
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"ton"))
    {
        return Vec::new();
    }
    // Words and numbers in the order written: `words` drops the digits.
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        rest = &rest[start..];
        let number = rest.starts_with(|c: char| c.is_ascii_digit());
        let end = rest
            .find(|c: char| {
                if number {
                    !(c.is_ascii_digit() || c == ',' || c == '.')
                } else {
                    !c.is_ascii_alphabetic()
                }
            })
            .unwrap_or(rest.len());
        tokens.push(&rest[..end]);
        rest = &rest[end..];
    }
    tokens
        .windows(2)
        .filter(|w| {
            ["tonnes", "tons", "tonne", "ton"]
                .iter()
                .any(|u| w[1].eq_ignore_ascii_case(u))
        })
        .filter_map(|w| {
            let n = w[0].trim_end_matches(['.', ',']);
            if n.starts_with(|c: char| c.is_ascii_digit()) {
                n.replace(',', "").parse().ok()
            } else {
                NUMBERS
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case(n))
                    .map(|i| (i + 1) as f64)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_words_are_stems_without_function_words() {
        let w: Vec<String> = content_words("The ministry inspects hotels in Dammam").collect();
        assert_eq!(w, ["ministri", "inspect", "hotel", "dammam"]);
    }

    #[test]
    fn headline_ordinals_and_tonnages_are_read() {
        let e = English::read(
            "Fifth Saudi relief plane lands in Jeddah",
            "The plane carried 12 tonnes of medical supplies and eleven tonnes of food.",
        );
        assert_eq!(e.headline_ordinals, [5.0]);
        assert_eq!(e.tonnes, [12.0, 11.0]);
        assert_eq!(e.figures, [12.0]);
        assert_eq!(
            e.headline,
            ["fifth", "saudi", "relief", "plane", "land", "jeddah"]
        );
        assert!(
            e.headline_names.iter().any(|k| k == "jdh"),
            "{:?}",
            e.headline_names
        );
        // Each tonnage where it is written, one at the start of a text too.
        let e = English::read(
            "Aid",
            "10 tonnes of food came first, then 12 tonnes of fuel.",
        );
        assert_eq!(e.tonnes, [10.0, 12.0]);
    }
}
