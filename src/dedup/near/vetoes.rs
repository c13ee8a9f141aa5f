//! The vetoes: why two resembling texts are different stories (another
//! figure, place, name or predicate in the same place).

use std::collections::HashSet;

use super::align::changes_hashed;
use super::doc::is_content_word;
use super::facts::{Fact, Kind};
use super::lexicon::{self, LEXICON, Lexicon, stem};
use super::words::{Corpus, light_stem, related_words, same_word};
use super::{MAX_SWAP_TOKENS, NEAR_IDENTICAL, TITLE_END, facts};

/// Why two resembling sequences are different stories, if they are.
/// Each sequence comes with its tokens' `hash_of`, for the alignment.
pub(super) fn conflict<'a>(
    (a, ha): (&[&'a str], &[u64]),
    (b, hb): (&[&'a str], &[u64]),
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
    for c in changes_hashed(ha, hb) {
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
        // A name written in Latin letters in one copy and in Arabic in the
        // other ("PayPal" / «باي بال») is one name spelled twice.
        let one_name = |p: &str, q: &str| {
            latin(p) != latin(q)
                || matches!((lex.same_name_group(p), lex.same_name_group(q)), (Some(g), Some(h)) if g == h)
        };
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
            .filter(|v| !q.iter().any(|w| facts::agree_rounded(v, w)))
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
pub(super) fn different_places(
    a: &[&str],
    b: &[&str],
    ea: &[&lexicon::Entry],
    eb: &[&lexicon::Entry],
) -> Option<String> {
    places_differ(&Places::of(a, ea), &Places::of(b, eb))
}

/// The places a text mentions, as `different_places` compares them.
#[derive(Debug, Clone, Default)]
pub(super) struct Places {
    /// The listed places its headline names, as written, with their keys.
    headline: Vec<(String, u32)>,
    /// Every place it mentions, by key: a name and its adjectives, and the
    /// names of one thing, meet.
    all: HashSet<u32>,
}

impl Places {
    pub(super) fn of(s: &[&str], e: &[&lexicon::Entry]) -> Places {
        let title = s.iter().position(|w| *w == TITLE_END).unwrap_or(s.len());
        Places {
            headline: (0..title)
                .filter_map(|i| e[i].place.map(|k| (s[i].to_string(), k)))
                .collect(),
            all: e.iter().filter_map(|e| e.place).collect(),
        }
    }
}

impl Places {
    /// Whether these places can contradict any: only a headline that names
    /// a place can.
    pub(super) fn named_in_headline(&self) -> bool {
        !self.headline.is_empty()
    }
}

/// `different_places` on places read already.
pub(super) fn places_differ(a: &Places, b: &Places) -> Option<String> {
    if a.headline.is_empty() || b.headline.is_empty() {
        return None;
    }
    fn own<'p>(p: &'p Places, other: &Places) -> Option<&'p str> {
        p.headline
            .iter()
            .find(|(_, k)| !other.all.contains(k))
            .map(|(w, _)| w.as_str())
    }
    match (own(a, b), own(b, a)) {
        (Some(x), Some(y)) => Some(format!("headlines name different places: {x} / {y}")),
        _ => None,
    }
}

/// A text that carries the other's story and another one besides: a
/// roundup ("… ومن جهة ثانية …") or a page that runs two stories under the
/// first one's headline. It contains the other text, so it resembles it,
/// but merged with it one of the two headlines would show nowhere. It gives
/// itself away by its length and its headline: the longer text is much
/// longer, and its headline is about what the shorter text never says,
/// naming someone or somewhere the shorter one never mentions. A copy with
/// added background keeps the story's headline, and its words.
pub(super) fn another_story_besides(a: &[&str], b: &[&str], corpus: &dyn Corpus) -> Option<String> {
    let title = |s: &[&str]| s.iter().position(|w| *w == TITLE_END).unwrap_or(s.len());
    let body_len = |s: &[&str]| s.len() - title(s).min(s.len());
    let (small, large) = if body_len(a) <= body_len(b) {
        (a, b)
    } else {
        (b, a)
    };
    if (body_len(large) as f64) < ROUNDUP_LENGTH * body_len(small) as f64 {
        return None;
    }
    let lex = &*LEXICON;
    let head = &large[..title(large)];
    let mut words: Vec<(usize, &str)> = head
        .iter()
        .enumerate()
        .filter(|(_, w)| is_content_word(w))
        .map(|(i, w)| (i, *w))
        .collect();
    words.sort_unstable_by(|x, y| x.1.cmp(y.1));
    words.dedup_by(|x, y| x.1 == y.1);
    if words.len() < super::MIN_HEADLINE_WORDS {
        return None;
    }
    // The shorter text's words, with their stems: most of a headline's
    // words are found there as they are, and only the rest are compared
    // form by form.
    let vocab: HashSet<&str> = small.iter().flat_map(|w| [*w, stem(w)]).collect();
    let told = |w: &str| {
        vocab.contains(w)
            || vocab.contains(stem(w))
            || small
                .iter()
                .any(|v| is_content_word(v) && related_words(w, v))
    };
    let untold: Vec<(usize, &str)> = words.iter().copied().filter(|(_, w)| !told(w)).collect();
    if (untold.len() as f64) <= ROUNDUP_UNTOLD * words.len() as f64 {
        return None;
    }
    let name = untold.iter().find(|(i, w)| {
        !lex.interchangeable(w)
            && (lex.is_listed_name(w)
                || (*i > 0 && lex.introduces_name(head[i - 1]))
                || corpus.rare(light_stem(w)))
    })?;
    Some(format!(
        "the longer text carries another story: its headline names {} (\"{}\"), which the shorter never mentions",
        name.1,
        join(head)
    ))
}

/// A text this many times the other's length may carry another story.
pub(super) const ROUNDUP_LENGTH: f64 = 1.5;

/// More than this share of the longer text's headline words absent from
/// the shorter text: its headline is about something else.
pub(super) const ROUNDUP_UNTOLD: f64 = 0.5;

/// Figures of one unit a text may give and still be compared unit by unit.
pub(super) const MAX_FIGURES_PER_UNIT: usize = 2;

/// Whether `different_figures` compares a figure. What a story is about is
/// counted in tonnes, casualties, money or ordinals; dates, spans of time
/// ("in five years", "since seven years") and nouns of any kind recur in
/// background sentences a copy may keep or drop, so they are left to the
/// alignment.
pub(super) fn compared_figure(f: &Fact) -> bool {
    f.kind != Kind::Date
        && (f.unit.starts_with("ordinal:")
            || matches!(
                f.unit.as_str(),
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
            ))
}

/// Two texts that count the same thing differently: "10 tonnes" and "11
/// tonnes", "the fourth" and "the sixth". Each side must state a value the
/// other does not, so a trimmed copy that drops a figure still agrees.
/// Figures whose unit is unknown are left to the alignment.
pub(super) fn different_figures(fa: &[Fact], fb: &[Fact]) -> Option<String> {
    // In the order the text gives them, so that the reason reported is
    // the same every run.
    let mut units: Vec<&str> = Vec::new();
    for f in fa {
        if compared_figure(f) && !units.contains(&f.unit.as_str()) {
            units.push(&f.unit);
        }
    }
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
pub(super) fn opposed_predicates(a: &[&str], b: &[&str]) -> Option<String> {
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
pub(super) fn toll_on_one_side(fa: &[Fact], fb: &[Fact], a: &[&str], b: &[&str]) -> Option<String> {
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

pub(super) fn join(ws: &[&str]) -> String {
    ws.join(" ")
}

/// Whether a word is written in Latin letters (a brand, an acronym, a name
/// an Arabic copy also gives in its own script).
fn latin(w: &str) -> bool {
    w.chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(|c| c.is_ascii_alphabetic())
}
