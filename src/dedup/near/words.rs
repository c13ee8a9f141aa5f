//! Words compared through the word lists (`lexicon`): stems, clitics,
//! typos, and numbers written in words; and what the stored items say of
//! how common a word is (`Corpus`).

use super::lexicon::{LEXICON, stem};
use super::{MAX_WORD_CHARS, facts};

/// Whether two headline words are forms of one word: the same word as
/// `same_word` reads it, one name under two spellings, or one stem with
/// other affixes ("تحذر" / "تحذيرات", "ينخفض" / "انخفاض").
pub(super) fn related_words(x: &str, y: &str) -> bool {
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
pub(super) fn light_stem(w: &str) -> &str {
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

/// The values a token states, if it states a number: a figure, a number
/// word, an ordinal (with or without a clitic).
pub(super) fn number(w: &str) -> Option<Vec<f64>> {
    if w.bytes().any(|b| b.is_ascii_digit()) {
        return facts::value(w);
    }
    let e = LEXICON.entry(w);
    e.number_word.or(e.ordinal).map(|v| vec![v])
}

/// Edit distance counting a transposition of neighbours as one edit
/// (optimal string alignment), on characters; `limit + 1` once over `limit`.
pub(super) fn osa(a: &[char], b: &[char], limit: usize) -> usize {
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
pub(super) fn same_word(x: &str, y: &str) -> bool {
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
