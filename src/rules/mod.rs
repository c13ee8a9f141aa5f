//! Keep and drop rules: which items a feed stores and which a named river
//! shows.
//!
//! Rules are compiled once, when the config is loaded, and then judge items
//! without allocating per rule: every plain word of every rule of one rule
//! set goes into one Aho-Corasick automaton, so an item's text is scanned
//! once per field whatever the number of rules; `regex:` patterns are
//! compiled with the regex crate.
//!
//! Matching is on text normalized as for deduplication
//! (`normalize::normalize_text`: diacritics, tatweel, letter variants,
//! digits, case), on whole words:
//! - a word matches only where the text has a word boundary on both sides,
//!   so «النفط» does not match «النفطية» and "oil" does not match "oils";
//!   a pattern ending in `*` matches words that start with it («نفط*»,
//!   "oil*");
//! - an Arabic word also matches with the proclitics written attached to it:
//!   «و» and «ف», then «ب», «ك», «ل», the article «ال» and their
//!   combinations («والنفط», «بالنفط», «وبالنفط»), and «لل» for «ل» + «ال»
//!   («للنفط» for «النفط»);
//! - a pattern of several words matches them in that order, as a phrase;
//! - `regex:` patterns run on the same normalized text, except on the
//!   `link` field, where they see the link exactly as the source gave it.
//!
//! Within a rule set, a match on any field counts; `drop` wins over `keep`,
//! and a set with `keep` rules lets through only what one of them matches.
//!
//! Compiled rules are plain data, shared by config clones; what they said
//! of stored items is remembered apart, in a `Verdicts` owned by whoever
//! renders.

mod lang;
pub mod report;
pub mod screen;
mod verdicts;

use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use crate::model::{Category, Entry, Item, Person};
use crate::text::html_to_text;
use crate::text::normalize::normalize_text;

pub use lang::detect_language;
pub use verdicts::Verdicts;

/// The part of an item a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    Content,
    Author,
    Category,
    Link,
    /// Every field above.
    Any,
}

impl Field {
    pub const NAMES: [&'static str; 6] = ["title", "content", "any", "author", "category", "link"];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Link => "link",
            Field::Any => "any",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "title" => Field::Title,
            "content" => Field::Content,
            "author" => Field::Author,
            "category" => Field::Category,
            "link" => Field::Link,
            "any" => Field::Any,
            _ => return None,
        })
    }

    /// The concrete fields as bits (see `FIELDS`).
    fn mask(self) -> u8 {
        match self {
            Field::Title => 1,
            Field::Content => 2,
            Field::Author => 4,
            Field::Category => 8,
            Field::Link => 16,
            Field::Any => 31,
        }
    }
}

/// The concrete fields, in the order their bits are numbered.
const FIELDS: [Field; 5] = [
    Field::Title,
    Field::Content,
    Field::Author,
    Field::Category,
    Field::Link,
];

/// What a rule looks for.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// One word or a phrase, normalized.
    Words {
        normalized: String,
        /// Written with a trailing `*`: the last word may go on.
        prefix: bool,
        /// Starts with an Arabic letter: attached proclitics allowed.
        arabic: bool,
    },
    Regex(Regex),
}

impl Pattern {
    /// Reads a pattern as written in the config; the error says what is
    /// wrong and how to write it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if let Some(re) = text.strip_prefix("regex:") {
            if re.is_empty() {
                return Err(
                    "\"regex:\" needs a pattern after it; an empty one would match every item"
                        .into(),
                );
            }
            return regex::RegexBuilder::new(re)
                // Bounds what one pattern may cost to compile and hold.
                .size_limit(1 << 20)
                .build()
                .map(Pattern::Regex)
                .map_err(|e| {
                    format!(
                        "{:?} is not a valid regex: {}",
                        re,
                        one_line(&e.to_string())
                    )
                });
        }
        let (body, prefix) = match text.trim_end().strip_suffix('*') {
            Some(b) => (b, true),
            None => (text, false),
        };
        let normalized = normalize_text(body);
        if normalized.is_empty() {
            return Err(format!(
                "{text:?} has no letters or digits to match; write a word, a phrase, or \"regex:…\""
            ));
        }
        let arabic = normalized.chars().next().is_some_and(is_arabic_letter);
        Ok(Pattern::Words {
            normalized,
            prefix,
            arabic,
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{064a}' | '\u{066e}'..='\u{06d3}' | '\u{06fa}'..='\u{06ff}')
}

/// Whether a rule keeps or drops what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Keep,
    Drop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Keep => "keep",
            Kind::Drop => "drop",
        }
    }
}

/// One rule: a kind, a field and a pattern, as the config wrote them.
#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: Kind,
    pub field: Field,
    /// The pattern as written, for messages and for remembering drops.
    pub source: String,
    pub pattern: Pattern,
}

impl Rule {
    pub fn new(kind: Kind, field: Field, source: &str) -> Result<Rule, String> {
        Ok(Rule {
            kind,
            field,
            source: source.to_string(),
            pattern: Pattern::parse(source)?,
        })
    }

    /// How the rule is shown, and remembered with the items it dropped:
    /// `drop.title "إعلان"`.
    pub fn label(&self) -> String {
        format!(
            "{}.{} {:?}",
            self.kind.name(),
            self.field.name(),
            self.source
        )
    }
}

/// Why an item is let through or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept: by the first keep rule that matched, or `None` when the set has
    /// no keep rules.
    Keep(Option<usize>),
    /// Dropped by the drop rule with this index.
    Dropped(usize),
    /// Dropped: there are keep rules and none matched.
    NoKeepMatched,
    /// Dropped: the item's language (declared or detected, if any) is not
    /// one of the set's.
    Language(Option<String>),
}

impl Verdict {
    pub fn kept(&self) -> bool {
        matches!(self, Verdict::Keep(_))
    }
}

/// What an item offers to the rules, borrowed from an `Entry` or an `Item`.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub title: Option<&'a str>,
    /// HTML.
    pub content: Option<&'a str>,
    /// HTML.
    pub summary: Option<&'a str>,
    pub authors: &'a [Person],
    pub categories: &'a [Category],
    pub link: Option<&'a str>,
    pub language: Option<&'a str>,
}

impl<'a> Doc<'a> {
    pub fn of_entry(e: &'a Entry) -> Doc<'a> {
        Doc {
            title: e.title.as_deref(),
            content: e.content.as_deref(),
            summary: e.summary.as_deref(),
            authors: &e.authors,
            categories: &e.categories,
            link: e.link.as_deref(),
            language: e.language.as_deref(),
        }
    }

    pub fn of_item(i: &'a Item) -> Doc<'a> {
        Doc {
            title: i.title.as_deref(),
            content: i.content.as_deref(),
            summary: i.summary.as_deref(),
            authors: &i.authors,
            categories: &i.categories,
            link: i.link.as_deref(),
            language: i.language.as_deref(),
        }
    }

    /// The field's text as separate pieces (a phrase never spans two
    /// categories), normalized for matching; the link stays as it is when
    /// `raw_link`.
    fn pieces(&self, field: Field, raw_link: bool) -> Vec<String> {
        let mut out = Vec::new();
        match field {
            Field::Title => out.extend(self.title.map(normalize_text)),
            Field::Content => {
                for html in [self.content, self.summary].into_iter().flatten() {
                    out.push(normalize_text(&html_to_text(html)));
                }
            }
            Field::Author => {
                for p in self.authors {
                    out.push(normalize_text(&p.name));
                    out.extend(p.email.as_deref().map(normalize_text));
                }
            }
            Field::Category => {
                for c in self.categories {
                    out.push(normalize_text(&c.term));
                    out.extend(c.label.as_deref().map(normalize_text));
                }
            }
            Field::Link => {
                if raw_link {
                    out.extend(self.link.map(str::to_string));
                } else {
                    out.extend(self.link.map(normalize_text));
                }
            }
            Field::Any => {}
        }
        out
    }

    /// Title and body as plain text, for detecting the language.
    fn plain_text(&self) -> String {
        let mut s = self.title.unwrap_or("").to_string();
        for html in [self.content, self.summary].into_iter().flatten() {
            s.push('\n');
            s.push_str(&html_to_text(html));
        }
        s
    }
}

/// Which rule a word pattern of the automaton belongs to, and in which form.
#[derive(Debug, Clone, Copy)]
struct WordRef {
    rule: usize,
    /// The «لل» form of a pattern that starts with «ال»: only «و» or «ف»
    /// may come before it.
    lam_form: bool,
}

/// The rules of one `[[feed]]` or `[[river]]`, compiled.
#[derive(Clone)]
pub struct Rules {
    /// Drop rules first, then keep rules; `keep_from` is where keep starts.
    rules: Vec<Rule>,
    keep_from: usize,
    /// Languages (lower case) the item must be in; empty: any.
    lang: Vec<String>,
    words: Option<AhoCorasick>,
    word_refs: Vec<WordRef>,
    /// Fields some word rule looks at, as bits.
    word_fields: u8,
    /// Index of every regex rule.
    regex_rules: Vec<usize>,
    regex_fields: u8,
    fingerprint: String,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field(
                "rules",
                &self.rules.iter().map(Rule::label).collect::<Vec<_>>(),
            )
            .field("lang", &self.lang)
            .finish()
    }
}

impl Rules {
    /// Compiles a rule set. Fails only when the automaton cannot be built
    /// (far more patterns than a config holds).
    pub fn new(keep: Vec<Rule>, drop: Vec<Rule>, lang: Vec<String>) -> Result<Rules, String> {
        let keep_from = drop.len();
        let rules: Vec<Rule> = drop.into_iter().chain(keep).collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut word_refs = Vec::new();
        let mut word_fields = 0;
        let mut regex_rules = Vec::new();
        let mut regex_fields = 0;
        for (i, r) in rules.iter().enumerate() {
            match &r.pattern {
                Pattern::Words {
                    normalized, arabic, ..
                } => {
                    word_fields |= r.field.mask();
                    patterns.push(normalized.clone());
                    word_refs.push(WordRef {
                        rule: i,
                        lam_form: false,
                    });
                    if let Some(rest) = normalized.strip_prefix("ال").filter(|_| *arabic) {
                        if !rest.is_empty() && !rest.starts_with(' ') {
                            patterns.push(format!("لل{rest}"));
                            word_refs.push(WordRef {
                                rule: i,
                                lam_form: true,
                            });
                        }
                    }
                }
                Pattern::Regex(_) => {
                    regex_fields |= r.field.mask();
                    regex_rules.push(i);
                }
            }
        }
        let words = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    // Overlapping search needs the standard semantics: every
                    // occurrence of every pattern is reported, and the
                    // boundary check picks the real ones.
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .map_err(|e| format!("cannot compile the rules: {e}"))?,
            )
        };
        let mut lang: Vec<String> = lang.into_iter().map(|l| l.to_ascii_lowercase()).collect();
        lang.dedup();
        let mut fp = String::new();
        for r in &rules {
            fp.push_str(&r.label());
            fp.push('\n');
        }
        fp.push_str(&lang.join(","));
        let fingerprint = crate::model::hex(&crate::text::normalize::digest(&[fp.as_bytes()]));
        Ok(Rules {
            rules,
            keep_from,
            lang,
            words,
            word_refs,
            word_fields,
            regex_rules,
            regex_fields,
            fingerprint,
        })
    }

    /// The empty set: keeps everything.
    pub fn none() -> Rules {
        Rules {
            rules: Vec::new(),
            keep_from: 0,
            lang: Vec::new(),
            words: None,
            word_refs: Vec::new(),
            word_fields: 0,
            regex_rules: Vec::new(),
            regex_fields: 0,
            fingerprint: String::new(),
        }
    }

    /// Whether the set judges anything at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.lang.is_empty()
    }

    /// Every rule: drop rules first, then keep rules. Indices in `Verdict`
    /// and `matches` point into this.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn lang(&self) -> &[String] {
        &self.lang
    }

    pub fn has_keep(&self) -> bool {
        self.keep_from < self.rules.len()
    }

    /// Identifies the rule set: it changes whenever a rule, its order
    /// aside, or the languages change.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A fingerprint of the keep rules and languages only: an item dropped
    /// because none of them matched is judged again once they change.
    pub fn keep_fingerprint(&self) -> String {
        let mut fp = String::new();
        for r in &self.rules[self.keep_from..] {
            fp.push_str(&r.label());
            fp.push('\n');
        }
        fp.push_str(&self.lang.join(","));
        crate::model::hex(&crate::text::normalize::digest(&[fp.as_bytes()]))
    }

    /// Whether a drop rule with this label is in the set.
    pub fn has_drop_rule(&self, label: &str) -> bool {
        self.rules[..self.keep_from]
            .iter()
            .any(|r| r.label() == label)
    }

    /// Judges one item.
    pub fn judge(&self, doc: &Doc<'_>) -> Verdict {
        let matched = self.matches(doc);
        if let Some(i) = matched[..self.keep_from].iter().position(|m| *m) {
            return Verdict::Dropped(i);
        }
        if !self.lang.is_empty() {
            let lang = item_language(doc);
            let ok = lang
                .as_deref()
                .is_some_and(|l| self.lang.iter().any(|want| lang_matches(want, l)));
            if !ok {
                return Verdict::Language(lang);
            }
        }
        if !self.has_keep() {
            return Verdict::Keep(None);
        }
        match matched[self.keep_from..].iter().position(|m| *m) {
            Some(i) => Verdict::Keep(Some(self.keep_from + i)),
            None => Verdict::NoKeepMatched,
        }
    }

    /// Whether the rules keep a stored item. A renderer that judges the
    /// same items again and again asks a `Verdicts` instead.
    pub fn keeps_item(&self, item: &Item) -> bool {
        self.judge(&Doc::of_item(item)).kept()
    }

    /// Which rules match the item, one flag per rule of `rules()`.
    pub fn matches(&self, doc: &Doc<'_>) -> Vec<bool> {
        let mut matched = vec![false; self.rules.len()];
        for (bit, field) in FIELDS.iter().enumerate() {
            let bit = 1u8 << bit;
            if (self.word_fields | self.regex_fields) & bit == 0 {
                continue;
            }
            // Each field is normalized once, for words and regexes alike.
            let pieces = doc.pieces(*field, false);
            if let Some(ac) = self.words.as_ref().filter(|_| self.word_fields & bit != 0) {
                for text in &pieces {
                    for m in ac.find_overlapping_iter(text.as_str()) {
                        let r = self.word_refs[m.pattern().as_usize()];
                        if matched[r.rule] || self.rules[r.rule].field.mask() & bit == 0 {
                            continue;
                        }
                        if self.word_match_at(text, m.start(), m.end(), r) {
                            matched[r.rule] = true;
                        }
                    }
                }
            }
            if self.regex_fields & bit == 0 {
                continue;
            }
            let raw;
            let texts = if *field == Field::Link {
                raw = doc.pieces(Field::Link, true);
                &raw
            } else {
                &pieces
            };
            for &i in &self.regex_rules {
                if matched[i] || self.rules[i].field.mask() & bit == 0 {
                    continue;
                }
                if let Pattern::Regex(re) = &self.rules[i].pattern {
                    matched[i] = texts.iter().any(|t| re.is_match(t));
                }
            }
        }
        matched
    }

    /// Whether an occurrence of a word pattern at `start..end` of normalized
    /// `text` is a match: a word boundary after it (unless the pattern is a
    /// prefix), and before it either a boundary or attached proclitics.
    fn word_match_at(&self, text: &str, start: usize, end: usize, r: WordRef) -> bool {
        let Pattern::Words { prefix, arabic, .. } = self.rules[r.rule].pattern else {
            return false;
        };
        if !prefix && !text[end..].is_empty() && !text[end..].starts_with(' ') {
            return false;
        }
        let word_start = text[..start].rfind(' ').map_or(0, |i| i + 1);
        let before = &text[word_start..start];
        if before.is_empty() {
            return true;
        }
        if !arabic {
            return false;
        }
        if r.lam_form {
            return matches!(before, "و" | "ف");
        }
        is_proclitics(before)
    }
}

/// Whether `s` is a run of proclitics that Arabic writes attached to the
/// word after it: an optional conjunction (و, ف), then an optional
/// preposition (ب, ك, ل) and an optional article (ال), «ل» + «ال» being
/// written «لل».
fn is_proclitics(s: &str) -> bool {
    let s = s
        .strip_prefix('و')
        .or_else(|| s.strip_prefix('ف'))
        .unwrap_or(s);
    matches!(s, "" | "ب" | "ك" | "ل" | "ال" | "بال" | "كال" | "لل")
}

/// The item's language: as declared, else detected from the script of its
/// title and body.
pub fn item_language(doc: &Doc<'_>) -> Option<String> {
    match doc.language.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Some(l.to_ascii_lowercase()),
        None => detect_language(&doc.plain_text()).map(str::to_string),
    }
}

/// `want` (from the config) matches a language tag `have` when they are the
/// same or `want` is its primary subtag: "ar" matches "ar-EG".
fn lang_matches(want: &str, have: &str) -> bool {
    let have = have.to_ascii_lowercase().replace('_', "-");
    have == want
        || have
            .strip_prefix(want)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// A feed's or river's compiled rules, shared between config clones.
pub type SharedRules = Arc<Rules>;

#[cfg(test)]
mod tests;
