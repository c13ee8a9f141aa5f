//! The same story across languages: whether an Arabic item and an English
//! one report one event, so that each can link to the other (they are not
//! merged: each reader wants their own language).
//!
//! Built for precision, as same-story merging is. An English text is read as
//! its content words (stems) and the names it capitalizes; an Arabic text as
//! what its words mean in English (through an installed bilingual
//! dictionary, `Dictionary`), the skeletons of its words (`skeleton`, for
//! names the dictionary lacks or mistranslates: الموصل is "connector" to
//! it), and a short table of names that differ between the languages
//! (مصر / Egypt). The score is the share of the English text's content
//! words the Arabic one accounts for, each weighted by its rarity, so
//! "Saudi" and "ministry" count for little and "dialysis" for much. The two
//! must share an anchor (a name or a figure), and the same contradictions
//! that keep same-language stories apart keep these apart: another ordinal
//! in the headline ("the fifth plane" / «الطائرة الرابعة»), another
//! tonnage, another place named in each headline.

mod dict;
mod english;
mod index;
mod skeleton;

use std::sync::LazyLock;

/// The sets a reading keeps: looked up once a word of the other text.
type HashSet<T> = fxhash::FxHashSet<T>;

pub use dict::{DictError, Dictionary};
pub use english::English;
pub use index::{CrossIndex, MAX_CANDIDATES};

use super::facts::{self, Kind};
use super::lexicon::{LEXICON, stem as clitic_stem};
use super::{Doc, TITLE_END};
use crate::text::normalize::normalize_text;

/// The default resemblance an English item needs to an Arabic one: the
/// rarity-weighted share of its content words the Arabic text accounts for.
pub const DEFAULT_XLING_THRESHOLD: f64 = 0.40;

/// The dictionary at `path`, read once a process: every poll builds its
/// settings anew, and reading it takes a tenth of a second. A dictionary
/// that cannot be read is said once, and names and figures alone are
/// compared from then on.
pub fn shared_dictionary(path: &std::path::Path) -> std::sync::Arc<Dictionary> {
    type Loaded = std::collections::HashMap<std::path::PathBuf, std::sync::Arc<Dictionary>>;
    static LOADED: LazyLock<std::sync::Mutex<Loaded>> = LazyLock::new(Default::default);
    // A panic while loading leaves at worst a dictionary not cached.
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = loaded.get(path) {
        return d.clone();
    }
    let dict = match Dictionary::load(path) {
        Ok(d) => {
            tracing::info!(path = %path.display(), forms = d.len(), "bilingual dictionary read");
            d
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "no bilingual dictionary (apt install dict-freedict-ara-eng, or set \
                 [dedup] dictionary): stories across languages are linked by names and \
                 figures alone"
            );
            Dictionary::default()
        }
    };
    let dict = std::sync::Arc::new(dict);
    loaded.insert(path.to_path_buf(), dict.clone());
    dict
}

/// The resemblance needed when no dictionary is installed and only names
/// are compared: on the labelled development pairs, names alone link
/// different stories at any lower bar.
pub const NAMES_ONLY_THRESHOLD: f64 = 0.65;

/// Where Debian's `dict-freedict-ara-eng` installs its database.
pub const DEFAULT_DICTIONARY: &str = "/usr/share/dictd/freedict-ara-eng";

/// Names whose Arabic and English forms do not share a skeleton, written
/// here from common knowledge: (Arabic, English words, a place?).
const NAMES: &[(&str, &str, bool)] = &[
    ("مصر", "egypt", true),
    ("المصرية", "egyptian", true),
    ("المصري", "egyptian", true),
    ("الأردن", "jordan", true),
    ("الأردنية", "jordanian", true),
    ("السعودية", "saudi", true),
    ("المملكة", "saudi kingdom", true),
    ("اليمن", "yemen", true),
    ("اليمنية", "yemeni", true),
    ("سوريا", "syria", true),
    ("السورية", "syrian", true),
    ("العراق", "iraq", true),
    ("الكويت", "kuwait", true),
    ("قطر", "qatar", true),
    ("الإمارات", "uae emirates", true),
    ("البحرين", "bahrain", true),
    ("عمان", "oman amman", true),
    ("لبنان", "lebanon", true),
    ("ليبيا", "libya", true),
    ("تونس", "tunisia", true),
    ("الجزائر", "algeria", true),
    ("المغرب", "morocco", true),
    ("السودان", "sudan", true),
    ("إيران", "iran", true),
    ("تشاد", "chad", true),
    ("النيجر", "niger", true),
    ("الإكوادور", "ecuador", true),
    ("بوليفيا", "bolivia", true),
    ("بلجيكا", "belgium", true),
    ("ماليزيا", "malaysia", true),
    ("نيويورك", "york", true),
    ("تركيا", "turkey", true),
    ("اليونان", "greece athens", true),
    ("ألمانيا", "germany", true),
    ("فرنسا", "france french", true),
    ("الفرنسية", "french", true),
    ("بريطانيا", "britain british", true),
    ("الصين", "china", true),
    ("اليابان", "japan", true),
    ("روسيا", "russia", true),
    ("أمريكا", "america american", true),
    ("الأمريكية", "american", true),
    ("الولايات", "united states", false),
    ("فلسطين", "palestine palestinian", true),
    ("الفلسطيني", "palestinian", true),
    ("الفلسطينية", "palestinian", true),
    ("إسرائيل", "israel", true),
    ("الإسرائيلي", "israeli", true),
    ("أفغانستان", "afghanistan", true),
    ("باكستان", "pakistan", true),
    ("الهند", "india", true),
    ("دمشق", "damascus", true),
    ("القاهرة", "cairo", true),
    ("الشرقية", "eastern", true),
    ("المدينة", "madinah medina", true),
    ("مكة", "makkah mecca", true),
    ("عدن", "aden", true),
    ("حائل", "hail", true),
    ("داعش", "isis islamic", false),
    ("الحوثيين", "houthi", false),
    ("الحج", "hajj", false),
    ("رمضان", "ramadan", false),
    ("الفطر", "eid fitr", false),
    ("العيد", "eid", false),
    ("سمو", "highness", false),
    ("ولي", "crown", false),
    ("العهد", "crown", false),
    ("الأمير", "prince", false),
    ("الملك", "king", false),
    ("خادم", "custodian", false),
    ("الحرمين", "holy mosques", false),
    ("الوزراء", "cabinet ministers", false),
    ("واس", "spa", false),
];

/// `NAMES`, normalized: Arabic form → English stems and whether a place.
struct Names {
    by_arabic: std::collections::HashMap<String, (Vec<String>, bool)>,
    /// English stems of the places.
    places: HashSet<String>,
    /// Skeleton keys of the places the lexicon lists (in Arabic).
    place_keys: HashSet<String>,
}

static NAME_TABLE: LazyLock<Names> = LazyLock::new(|| {
    let mut by_arabic = std::collections::HashMap::new();
    let mut places = HashSet::default();
    for (ar, en, place) in NAMES {
        let stems: Vec<String> = en.split(' ').map(english::stem).collect();
        if *place {
            places.extend(stems.iter().cloned());
        }
        by_arabic.insert(normalize_text(ar), (stems, *place));
    }
    let place_keys = LEXICON
        .place_words()
        .filter_map(|(w, _)| skeleton::key(skeleton::arabic(w)))
        .collect();
    Names {
        by_arabic,
        places,
        place_keys,
    }
});

/// An Arabic text as the cross-language decision reads it.
#[derive(Debug, Clone, Default)]
pub struct Arabic {
    /// The English stems its words mean (ids in the dictionary).
    senses: HashSet<u32>,
    /// English stems of the names in `NAMES` it gives.
    named: HashSet<String>,
    /// The skeleton keys of its words.
    keys: HashSet<String>,
    /// The skeleton keys of the words the dictionary does not know: names,
    /// mostly, which is what an item is found by.
    name_keys: HashSet<String>,
    /// The skeleton keys of the places it names (listed places only).
    place_keys: HashSet<String>,
    /// Places its headline names: (as written, skeleton key, English stems).
    headline_places: Vec<(String, Option<String>, Vec<String>)>,
    headline_ordinals: Vec<f64>,
    tonnes: Vec<f64>,
    /// Every figure's readings, for anchors.
    figures: Vec<f64>,
}

impl Arabic {
    pub fn read(doc: &Doc, dict: &Dictionary) -> Arabic {
        let names = &*NAME_TABLE;
        let mut a = Arabic::default();
        let mut title_end = 0;
        let seq = doc.sequence();
        for (i, t) in seq.iter().enumerate() {
            if *t == TITLE_END {
                title_end = i;
                continue;
            }
            // A word in Latin letters (a brand, an acronym) is the English
            // word itself.
            if t.bytes().all(|b| b.is_ascii_alphabetic()) {
                if t.len() >= 3 && !english::is_stop(t) {
                    a.named.insert(english::stem(t));
                }
                continue;
            }
            let bare = clitic_stem(t);
            let with_article = format!("ال{bare}");
            for v in [*t, bare, with_article.as_str()] {
                if let Some((stems, _)) = names.by_arabic.get(v) {
                    a.named.extend(stems.iter().cloned());
                }
            }
            // The article is no part of a skeleton, so `bare` covers the
            // form with it.
            let whole = skeleton::key(skeleton::arabic(t));
            let key = if bare.len() == t.len() {
                whole.clone()
            } else {
                skeleton::key(skeleton::arabic(bare))
            };
            let senses = senses_of(t, dict);
            if senses.is_empty() {
                if let Some(k) = &key {
                    a.name_keys.insert(k.clone());
                }
            }
            a.keys.extend(whole.into_iter().chain(key));
            a.senses.extend(senses.iter().copied());
        }
        let entries = facts::entries(&seq);
        for (i, (t, e)) in seq.iter().zip(&entries).enumerate() {
            if e.place.is_some() {
                if let Some(k) = skeleton::key(skeleton::arabic(clitic_stem(t))) {
                    a.place_keys.insert(k);
                }
            }
            if e.place.is_some() && i < title_end {
                let bare = clitic_stem(t);
                let en = names
                    .by_arabic
                    .get(*t)
                    .or_else(|| names.by_arabic.get(bare))
                    .or_else(|| names.by_arabic.get(&format!("ال{bare}")))
                    .map(|(s, _)| s.clone())
                    .unwrap_or_default();
                a.headline_places
                    .push((t.to_string(), skeleton::key(skeleton::arabic(bare)), en));
            }
        }
        for f in facts::facts_with(&seq, &entries) {
            a.figures.extend(f.values.iter().copied());
            match f.kind {
                Kind::Ordinal if f.span.start < title_end => {
                    a.headline_ordinals.push(f.values[0]);
                }
                Kind::Figure if f.unit == "ton" => a.tonnes.push(f.values[0]),
                _ => {}
            }
        }
        a
    }
}

impl Arabic {
    /// What the text is found by, among texts in the other language: the
    /// skeletons of its names and its figures (`anchor_keys`).
    pub fn anchor_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.name_keys.iter().cloned().collect();
        keys.extend(figure_keys(&self.figures));
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl English {
    /// `Arabic::anchor_keys`, for an English text.
    pub fn anchor_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.names.clone();
        keys.extend(figure_keys(&self.figures));
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// The figures worth finding a text by: not the small numbers every text
/// has, nor years.
fn figure_keys(figures: &[f64]) -> impl Iterator<Item = String> + '_ {
    figures
        .iter()
        .filter(|v| **v >= 10.0 && v.fract() == 0.0 && !(1300.0..=2100.0).contains(*v))
        .map(|v| format!("#{v}"))
}

/// A language the cross-language decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Arabic,
    English,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Arabic => "ar",
            Lang::English => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Arabic => Lang::English,
            Lang::English => Lang::Arabic,
        }
    }
}

/// The language a text is written in, by its letters: a feed's declared
/// language is often missing or wrong (an Arabic site's English section
/// under `ar`). Too few letters, or a mix, is neither.
pub fn language_of(text: &str) -> Option<Lang> {
    let (mut arabic, mut latin, mut other) = (0usize, 0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        if ('\u{0600}'..='\u{06ff}').contains(&c) {
            arabic += 1;
        } else if c.is_ascii_alphabetic() {
            latin += 1;
        } else {
            other += 1;
        }
    }
    let all = arabic + latin + other;
    if all < 40 {
        None
    } else if arabic * 10 >= all * 7 {
        Some(Lang::Arabic)
    } else if latin * 10 >= all * 9 {
        Some(Lang::English)
    } else {
        None
    }
}

/// What an Arabic token means, through the dictionary: as written, else
/// without its clitic, else without a plural or pronoun ending.
fn senses_of<'d>(t: &str, dict: &'d Dictionary) -> &'d [u32] {
    let found = dict.senses(t);
    if !found.is_empty() {
        return found;
    }
    let bare = clitic_stem(t);
    let found = dict.senses(bare);
    if !found.is_empty() {
        return found;
    }
    for end in ["ات", "ون", "ين", "ان", "ها", "هم", "ه", "ي"] {
        if let Some(root) = bare.strip_suffix(end).filter(|r| r.chars().count() >= 3) {
            for form in [root.to_string(), format!("{root}ه")] {
                let found = dict.senses(&form);
                if !found.is_empty() {
                    return found;
                }
            }
        }
    }
    &[]
}

/// How rare an English word is among the English items seen: common words
/// say little of which story a text tells.
pub trait Rarity {
    fn weight(&self, stem: &str) -> f64;
}

/// Every word counts the same.
pub struct NoRarity;

impl Rarity for NoRarity {
    fn weight(&self, _: &str) -> f64 {
        1.0
    }
}

/// Document frequencies of English stems over a set of texts.
#[derive(Debug, Default)]
pub struct DocFrequencies {
    docs: usize,
    df: std::collections::HashMap<String, usize>,
}

impl DocFrequencies {
    pub fn add(&mut self, e: &English) {
        self.docs += 1;
        for w in &e.words {
            *self.df.entry(w.stem.clone()).or_default() += 1;
        }
    }
}

impl Rarity for DocFrequencies {
    fn weight(&self, stem: &str) -> f64 {
        let df = self.df.get(stem).copied().unwrap_or(0) as f64;
        ((self.docs as f64 + 1.0) / (df + 0.5)).ln().max(0.0)
    }
}

/// The cross-language decision on one pair, with what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub linked: bool,
    pub score: f64,
    /// Names and figures both give.
    pub anchors: Vec<String>,
    /// Why the two were kept apart, if they were.
    pub conflict: Option<String>,
}

/// Whether an Arabic and an English text report the same story.
pub fn same_story_across(
    ar: &Arabic,
    en: &English,
    dict: &Dictionary,
    rarity: &dyn Rarity,
    threshold: f64,
) -> Link {
    let mut covered = 0.0;
    let mut total = 0.0;
    let mut anchors = Vec::new();
    // Without a dictionary only names can be accounted for, so only names
    // are counted.
    let names_only = dict.is_empty();
    for w in en.words.iter().filter(|w| !names_only || w.capital) {
        let weight = rarity.weight(&w.stem);
        total += weight;
        let by_name = w.name.as_ref().is_some_and(|k| ar.keys.contains(k))
            || (w.capital && ar.named.contains(&w.stem));
        if by_name {
            anchors.push(w.stem.clone());
        }
        let meant = dict
            .stem_id(&w.stem)
            .is_some_and(|id| ar.senses.contains(&id));
        if by_name || meant || ar.named.contains(&w.stem) {
            covered += weight;
        }
    }
    for v in &en.figures {
        if ar.figures.contains(v) && !anchors.contains(&v.to_string()) {
            anchors.push(v.to_string());
        }
    }
    let score = if total > 0.0 { covered / total } else { 0.0 };
    // Names alone tell stories apart poorly (the same officials and cities
    // recur): without the dictionary, only a near-complete match counts.
    let threshold = if names_only {
        threshold.max(NAMES_ONLY_THRESHOLD)
    } else {
        threshold
    };
    let mut link = Link {
        linked: false,
        score,
        anchors,
        conflict: None,
    };
    if score < threshold {
        link.conflict = Some(format!(
            "too little in common: resemblance {score:.2} below {threshold:.2}"
        ));
        return link;
    }
    if link.anchors.is_empty() {
        link.conflict = Some("no name or figure in common".into());
        return link;
    }
    link.conflict = contradiction(ar, en, dict);
    link.linked = link.conflict.is_none();
    link
}

/// The contradictions that keep two stories apart across languages.
fn contradiction(ar: &Arabic, en: &English, dict: &Dictionary) -> Option<String> {
    let lone = |p: &[f64], q: &[f64]| p.iter().find(|v| !q.contains(v)).copied();
    let differ = |p: &[f64], q: &[f64]| {
        if p.is_empty() || q.is_empty() || p.len() > 2 || q.len() > 2 {
            return None;
        }
        lone(p, q).zip(lone(q, p))
    };
    if let Some((x, y)) = differ(&ar.headline_ordinals, &en.headline_ordinals) {
        return Some(format!("different ordinals in the headlines: {x} / {y}"));
    }
    if let Some((x, y)) = differ(&ar.tonnes, &en.tonnes) {
        return Some(format!("different tonnages: {x} / {y}"));
    }
    // Each headline names a place the other text never mentions: a
    // telegram to another country's president, an execution in another
    // city. A place whose skeleton is too short to tell, and is not in
    // `NAMES`, is not judged.
    let names = &*NAME_TABLE;
    let ar_own = ar.headline_places.iter().find(|(_, key, stems)| {
        let by_key = key.as_ref().is_some_and(|k| en.names.contains(k));
        let by_name = stems.iter().any(|s| en.words.iter().any(|w| &w.stem == s));
        (key.is_some() || !stems.is_empty()) && !(by_key || by_name)
    });
    let en_own = en.words.iter().find(|w| {
        if !w.capital || !en.headline.contains(&w.stem) || ar.named.contains(&w.stem) {
            return false;
        }
        if names.places.contains(&w.stem) {
            return w.name.as_ref().is_none_or(|k| !ar.place_keys.contains(k));
        }
        // A listed place, by its skeleton, unless the word is an ordinary
        // English one ("State", "Hails") that happens to share it.
        w.name.as_ref().is_some_and(|k| {
            names.place_keys.contains(k) && !ar.keys.contains(k) && dict.stem_id(&w.stem).is_none()
        })
    });
    match (ar_own, en_own) {
        (Some((a, _, _)), Some(e)) => {
            Some(format!("headlines name different places: {a} / {}", e.stem))
        }
        (None, Some(e)) => Some(format!(
            "the English headline names a place the Arabic text does not: {}",
            e.stem
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
