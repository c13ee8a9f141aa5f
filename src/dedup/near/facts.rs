//! Figures as facts: the value a text states and what it counts, however
//! it is written. "1.250.000" and "1,250,000", «٣ آلاف» and 3000, «مليار
//! ونصف» and "1.5 مليار", «ثلاث مراحل» and "3 مراحل", "0.3%" and the old
//! typesetters' «3ر0%» are each one fact; "the sixth plane" states 6. A
//! figure that is part of a date or a time of day is marked as such: a
//! dateline one outlet adds says nothing about the story.

use std::borrow::Cow;
use std::ops::Range;

use super::lexicon::{Entry, FIGURE, LEXICON, Lexicon, stem};

/// Rewrites the figures of raw text so that normalization keeps each one a
/// single token with its value: thousands separators go ("1,250,000" →
/// "1250000"), a decimal mark becomes `p` ("1.5" → "1p5", «8ر1» → "1p8"),
/// and a percent sign becomes the word normalization reads as percent.
///
/// "1.250" and "1,250" are left as "1p250": a lone group of three digits
/// after the mark is a thousand and a quarter in some outlets' style and
/// one and a quarter in others', so `value` reads it both ways.
pub(super) fn mark_figures(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| digit(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i]).is_none() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run of digit groups joined by single separators.
        let mut groups: Vec<String> = Vec::new();
        let mut seps: Vec<char> = Vec::new();
        let mut j = i;
        loop {
            let mut g = String::new();
            while j < chars.len() {
                match digit(chars[j]) {
                    Some(d) => g.push(d),
                    None => break,
                }
                j += 1;
            }
            groups.push(g);
            let joins = j + 1 < chars.len()
                && matches!(chars[j], '.' | ',' | '٫' | '٬' | 'ر' | '\'')
                && digit(chars[j + 1]).is_some();
            if !joins {
                break;
            }
            seps.push(chars[j]);
            j += 1;
        }
        // A figure glued to letters ("كم2", "ب43", "2015م") stays glued:
        // it is a unit, or a clitic, or a date mark, read as one token.
        if !out.ends_with(char::is_alphabetic) {
            out.push(' ');
        }
        out.push_str(&figure_token(&groups, &seps));
        if j < chars.len() && matches!(chars[j], '%' | '٪') {
            out.push_str(" بالمئة");
            j += 1;
        }
        if !chars.get(j).is_some_and(|c| c.is_alphabetic()) {
            out.push(' ');
        }
        i = j;
    }
    Cow::Owned(out)
}

/// The ASCII digit a character writes, in any of the three digit sets.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '٠'..='٩' => char::from_digit(c as u32 - '٠' as u32, 10),
        '۰'..='۹' => char::from_digit(c as u32 - '۰' as u32, 10),
        _ => None,
    }
}

fn figure_token(groups: &[String], seps: &[char]) -> String {
    match seps {
        [] => groups[0].clone(),
        // «YرX» is X.Y: the fraction is written first.
        ['ر'] => format!("{}p{}", groups[1], groups[0]),
        ['٬' | '\''] => format!("{}{}", groups[0], groups[1]),
        [_] => format!("{}p{}", groups[0], groups[1]),
        _ => {
            // Several marks: the last may be the decimal one when it
            // differs from the others ("1,250.5", "1.250,5").
            let last = seps[seps.len() - 1];
            let thousands = seps[0];
            if seps[..seps.len() - 1].iter().all(|s| *s == thousands)
                && last != thousands
                && seps.len() >= 2
            {
                let int: String = groups[..groups.len() - 1].concat();
                format!("{int}p{}", groups[groups.len() - 1])
            } else if seps.iter().all(|s| *s == thousands)
                && groups[1..].iter().all(|g| g.len() == 3)
            {
                groups.concat()
            } else {
                // A version number, a phone number: no one value.
                groups.join("x")
            }
        }
    }
}

/// The values a figure token states: one, or two for "1p250".
pub(super) fn value(token: &str) -> Option<Vec<f64>> {
    let bytes = token.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() {
        // "ب43", "الـ26": a clitic before the figure.
        // Bytes, not chars: an ASCII digit is never inside a longer
        // character. The lead is at most three two-byte letters, so a
        // figure starts within the first seven bytes or not at all.
        let start = bytes.iter().take(7).position(u8::is_ascii_digit)?;
        let lead = &token[..start];
        if lead.chars().count() > 3 || !lead.chars().all(|c| "وبلفكال".contains(c)) {
            return None;
        }
        return value(&token[start..]);
    }
    let (int, frac) = match token.split_once('p') {
        Some((i, f)) => (i, Some(f)),
        None => (token, None),
    };
    // Trailing letters ("2015م", "12ه"): the figure is what comes first.
    let frac = frac.map(|f| f.trim_end_matches(|c: char| !c.is_ascii_digit()));
    let int_digits = int.trim_end_matches(|c: char| !c.is_ascii_digit());
    if !int_digits.bytes().all(|b| b.is_ascii_digit()) || int_digits.is_empty() {
        return None;
    }
    let i: f64 = int_digits.parse().ok()?;
    match frac {
        None => Some(vec![i]),
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(f) => {
            let fv: f64 = format!("0.{f}").parse().ok()?;
            if f.len() == 3 {
                Some(vec![i * 1000.0 + fv * 1000.0, i + fv])
            } else {
                Some(vec![i + fv])
            }
        }
    }
}

/// What kind of statement a figure makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A quantity or a count.
    Figure,
    /// "the sixth", "the fourth".
    Ordinal,
    /// Part of a date or a time of day: not a fact of the story.
    Date,
}

/// One figure a text states.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fact {
    /// The value, or the readings of an ambiguous one.
    pub values: Vec<f64>,
    /// What it counts: a unit key ("ton", "pct"), else the stem of the word
    /// after it, else empty.
    pub unit: String,
    pub kind: Kind,
    /// The tokens it is written with.
    pub span: Range<usize>,
}

#[cfg(test)]
impl Fact {
    pub fn agrees(&self, other: &Fact) -> bool {
        agree(&self.values, &other.values)
    }
}

/// Whether two sets of readings share a value.
pub(super) fn agree(a: &[f64], b: &[f64]) -> bool {
    a.iter().any(|x| {
        b.iter()
            .any(|y| (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0))
    })
}

/// Whether two figures are one, or one is the other rounded: a headline
/// gives "627 مليون" where the text says "627.3 مليون". The rounded one has
/// fewer significant digits, and lies within half a unit of its last one
/// from the other. Two figures of equal precision must agree exactly: 627
/// is not 628.
pub(super) fn agree_rounded(a: &[f64], b: &[f64]) -> bool {
    agree(a, b)
        || a.iter()
            .any(|x| b.iter().any(|y| rounds_to(*x, *y) || rounds_to(*y, *x)))
}

/// Whether `rounded` is `exact` written with fewer significant digits.
fn rounds_to(rounded: f64, exact: f64) -> bool {
    let (Some((rd, re)), Some((ed, _))) = (significant(rounded), significant(exact)) else {
        return false;
    };
    rd < ed && (rounded - exact).abs() <= 0.5 * 10f64.powi(re)
}

/// The significant digits of a figure, and the power of ten of the last
/// one ("627000000": 3 digits, 10^6; "12.4": 3 digits, 10^-1; "600": 3
/// digits, 10^0).
fn significant(x: f64) -> Option<(u32, i32)> {
    if !x.is_finite() || x == 0.0 {
        return None;
    }
    // Figures in news have at most a few decimals; six covers them, and
    // what f64 adds past that is noise.
    let text = format!("{:.6}", x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    let digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
    // Zeros at the end of a whole number are significant ("600" may be
    // exact), except whole groups of three, which a scale word writes
    // ("627 مليون" is 627 millions, not 627,000,000 to the unit).
    let trailing = if frac.is_empty() {
        (digits.len() - digits.trim_end_matches('0').len()) / 3 * 3
    } else {
        0
    };
    let sig = digits.len() - trailing;
    let last = if frac.is_empty() {
        trailing as i32
    } else {
        -(frac.len() as i32)
    };
    Some((u32::try_from(sig).ok()?, last))
}

/// The first word of eleven or twelve in words («أحد عشر», «إحدى عشرة»,
/// «اثنا عشر», «اثني عشر»), with a clitic or not («بأحد عشر طنا»). On its
/// own «أحد» is "one of" or Sunday, and «اثنا» nothing: a number only
/// before «عشر».
fn teen_unit(w: &str) -> Option<f64> {
    // As `normalize_text` leaves them: alef without hamza, final ya.
    const UNITS: &[(&str, f64)] = &[
        ("احد", 1.0),
        ("احدي", 1.0),
        ("اثنا", 2.0),
        ("اثني", 2.0),
        ("اثنتا", 2.0),
        ("اثنتي", 2.0),
    ];
    let find = |w: &str| UNITS.iter().find(|(u, _)| *u == w).map(|(_, v)| *v);
    find(w).or_else(|| find(stem(w)))
}

/// A single number at `t[i]`: a figure or a number word, with what follows
/// it that scales it ("3 آلاف", "مليار ونصف"). Returns its values and the
/// end of its tokens.
fn number_at(t: &[&str], i: usize, e: &Entry) -> Option<(Vec<f64>, usize)> {
    let lex = &*LEXICON;
    let w = t[i];
    // A token without digits has no `value`: `entries` looked once.
    let mut values = if e.figure {
        value(w)?
    } else if let Some(v) = e.number_word {
        vec![v]
    } else if let Some(v) = teen_unit(w).filter(|_| {
        t.get(i + 1)
            .is_some_and(|n| lex.number_word(n) == Some(10.0))
    }) {
        vec![v]
    } else if let Some(s) = e.scale {
        // "مليون دولار": a scale on its own is one of it. "مئة" alone is
        // too often "percent" to be a number, but not before a larger
        // scale ("مائة ألف").
        if s < 1e3
            && !t
                .get(i + 1)
                .and_then(|n| lex.scale(n))
                .is_some_and(|n| n >= 1e3)
        {
            return None;
        }
        vec![s]
    } else {
        return None;
    };
    let mut j = i + 1;
    // The teens: "خمسة عشر".
    if values[0] < 10.0 && t.get(j).is_some_and(|n| lex.number_word(n) == Some(10.0)) {
        values = values.iter().map(|x| x + 10.0).collect();
        j += 1;
    }
    // A tens word joined by "و" ("خمسة وعشرون").
    if let Some(next) = t.get(j).and_then(|n| n.strip_prefix('و')) {
        if let Some(v) = lex.number_word(next).filter(|v| *v >= 20.0) {
            values = values.iter().map(|x| x + v).collect();
            j += 1;
        }
    }
    let mut last_scale = 1.0;
    while let Some(s) = t.get(j).and_then(|n| lex.scale(n)) {
        if s < 1e3 && e.figure {
            break; // "50 مئة" is not a number
        }
        values = values.iter().map(|x| x * s).collect();
        last_scale = s;
        j += 1;
    }
    if let Some(f) = t
        .get(j)
        .and_then(|n| n.strip_prefix('و'))
        .and_then(|n| lex.fraction(n))
    {
        if last_scale > 1.0 || e.scale.is_some() {
            let scale = if last_scale > 1.0 {
                last_scale
            } else {
                values[0]
            };
            values = values.iter().map(|x| x + f * scale).collect();
            j += 1;
        }
    }
    Some((values, j))
}

/// Every figure of a token sequence, in order.
#[cfg(test)]
pub(super) fn facts(t: &[&str]) -> Vec<Fact> {
    facts_with(t, &entries(t))
}

/// What the lists say of each token, looked up once for all the readings
/// of a text (figures here, places in the decision).
pub(super) fn entries(t: &[&str]) -> Vec<&'static Entry> {
    let lex: &'static Lexicon = &LEXICON;
    t.iter()
        .map(|w| {
            if w.bytes().any(|b| b.is_ascii_digit()) {
                &FIGURE
            } else {
                lex.entry_ref(w)
            }
        })
        .collect()
}

/// `facts`, with each token's `entries` already looked up.
pub(super) fn facts_with(t: &[&str], entries: &[&Entry]) -> Vec<Fact> {
    let lex = &*LEXICON;
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let e = entries[i];
        let Some((values, end)) = number_at(t, i, e) else {
            if let Some(v) = e.ordinal {
                let after_month = i > 0 && lex.is_month(t[i - 1]);
                let (v, end) = compound_ordinal(t, i, v);
                out.push(Fact {
                    values: vec![v],
                    unit: format!("ordinal:{}", ordinal_head(t, i)),
                    kind: if after_month {
                        Kind::Date
                    } else {
                        Kind::Ordinal
                    },
                    span: i..end,
                });
                i = end;
                continue;
            }
            i += 1;
            continue;
        };
        // A range or a list of figures ("15 - 35 كم"): the unit follows the
        // last of them.
        let mut k = end;
        while k < t.len() && k < end + 3 && entries[k].figure && value(t[k]).is_some() {
            k += 1;
        }
        let unit = unit_at(t, k);
        let before = i.checked_sub(1).map(|p| t[p]);
        let year_like = values
            .iter()
            .all(|v| (1300.0..=2100.0).contains(v) && v.fract() == 0.0);
        let after_date = out
            .last()
            .is_some_and(|f: &Fact| f.kind == Kind::Date && f.span.end == i);
        let is_date = after_date
            || before.is_some_and(|b| lex.is_month(b) || lex.is_time_before(b))
            || t.get(end).is_some_and(|n| lex.is_month(n))
            || (year_like && t.get(end).is_some_and(|n| lex.is_date_mark(n)))
            || (year_like && t[i].ends_with(['م', 'ه']))
            || t.get(end)
                .is_some_and(|n| n.starts_with("ه") && n.chars().count() == 1);
        out.push(Fact {
            values,
            unit: if is_date { String::new() } else { unit },
            kind: if is_date { Kind::Date } else { Kind::Figure },
            span: i..end,
        });
        i = end;
    }
    out
}

/// An ordinal past the tenth, written in words: "الخامسة عشرة" (15th),
/// "الخامس والعشرين" (25th). Returns its value and the end of its tokens;
/// the same ordinal in figures ("ال25") reads 25 too.
fn compound_ordinal(t: &[&str], i: usize, unit: f64) -> (f64, usize) {
    let lex = &*LEXICON;
    if unit >= 10.0 {
        return (unit, i + 1);
    }
    let Some(next) = t.get(i + 1) else {
        return (unit, i + 1);
    };
    if lex.number_word(next) == Some(10.0) {
        return (unit + 10.0, i + 2);
    }
    let tens = next
        .strip_prefix('و')
        .and_then(|w| lex.number_word(w.strip_prefix("ال").unwrap_or(w)))
        .filter(|v| *v >= 20.0 && *v < 100.0);
    match tens {
        Some(v) => (unit + v, i + 2),
        None => (unit, i + 1),
    }
}

/// What an ordinal counts: the noun it follows ("الطائرة ... الخامسة",
/// passing over adjectives of origin such as «السعودية»), or for one
/// without the article, the noun it leads ("خامس طائرة").
fn ordinal_head(t: &[&str], i: usize) -> String {
    let lex = &*LEXICON;
    let noun = |w: &str| {
        let s = stem(w);
        s.trim_end_matches('ه').to_string()
    };
    if !stem(t[i]).eq(t[i]) || t[i].starts_with("ال") {
        let mut k = i;
        while k > 0 && i - k < 4 {
            k -= 1;
            let w = t[k];
            let adjective = w.ends_with("يه") || w.ends_with('ي') || lex.is_listed_name(w);
            if !adjective && w.chars().count() >= 3 && !lex.interchangeable(w) {
                return noun(w);
            }
        }
        String::new()
    } else {
        t.get(i + 1).map(|w| noun(w)).unwrap_or_default()
    }
}

/// The unit named at `t[k]`: a listed unit (of one or two words), else the
/// stem of a content word, else nothing.
fn unit_at(t: &[&str], k: usize) -> String {
    let lex = &*LEXICON;
    let Some(w) = t.get(k) else {
        return String::new();
    };
    if let Some(u) = t.get(k + 1).and_then(|next| lex.unit2(w, next)) {
        return u.to_string();
    }
    if let Some(u) = lex.listed_unit(w) {
        return u.to_string();
    }
    // "15 وإصابة 33": a word after "and" starts the next clause.
    if w.chars().count() < 3
        || lex.interchangeable(w)
        || value(w).is_some()
        || (w.starts_with('و') && !stem(w).starts_with("ال") && stem(w) != *w)
    {
        return String::new();
    }
    // "سريرا" counts what "سرير" counts: the accusative ending goes.
    let s = stem(w);
    match s.strip_suffix('ا') {
        Some(bare) if bare.chars().count() >= 3 => bare.to_string(),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize::normalize_text;

    fn read(text: &str) -> Vec<Fact> {
        let norm = normalize_text(&mark_figures(text));
        let t: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        facts(&t)
    }

    fn values(text: &str) -> Vec<(Vec<f64>, String, Kind)> {
        read(text)
            .into_iter()
            .map(|f| (f.values, f.unit, f.kind))
            .collect()
    }

    fn one(text: &str) -> Fact {
        let f = read(text);
        assert_eq!(f.len(), 1, "{text}: {f:?}");
        f.into_iter().next().unwrap()
    }

    #[test]
    fn one_number_written_many_ways_is_one_value() {
        let million = one("بلغ العدد 1.250.000 نسمة");
        assert!(million.agrees(&one("بلغ العدد 1,250,000 نسمة")));
        assert!(million.agrees(&one("بلغ العدد ١٬٢٥٠٬٠٠٠ نسمة")));
        assert_eq!(million.unit, one("بلغ العدد 1,250,000 نسمة").unit);
        assert!(one("نحو ٣ آلاف شخص").agrees(&one("نحو 3000 شخص")));
        assert!(one("كلفة مليار ونصف دولار").agrees(&one("كلفة 1.5 مليار دولار")));
        assert!(one("ارتفع 0.3% خلال").agrees(&one("ارتفع 3ر0% خلال")));
        assert_eq!(one("ارتفع 0.3% خلال").unit, "pct");
        assert_eq!(one("ارتفع 0.3 في المائة خلال").unit, "pct");
        assert_eq!(
            one("مساحة 40 كم2 فقط").unit,
            one("مساحة 40 كيلومترا مربعا فقط").unit
        );
        let words = one("على ثلاث مراحل متتالية");
        let figures = one("على 3 مراحل متتالية");
        assert!(words.agrees(&figures));
        assert_eq!(words.unit, figures.unit);
        assert!(!one("تحمل 10 أطنان").agrees(&one("تحمل 11 طنا")));
        assert_eq!(one("تحمل 10 أطنان").unit, one("تحمل 11 طنا").unit);
    }

    #[test]
    fn a_rounded_figure_is_the_figure_but_a_neighbour_is_not() {
        let exact = one("بلغت 627.3 مليون عملية").values;
        let headline = one("627 مليون عملية").values;
        assert!(!agree(&headline, &exact));
        assert!(agree_rounded(&headline, &exact));
        assert!(agree_rounded(&exact, &headline));
        assert!(agree_rounded(&[12.0], &[12.4]));
        // The same precision must agree exactly, and a rounding goes to
        // the nearest unit only.
        assert!(!agree_rounded(&[627e6], &[628e6]));
        assert!(!agree_rounded(&[12.0], &[12.6]));
        assert!(!agree_rounded(&[10.0], &[11.0]));
        assert!(!agree_rounded(&[600e6], &[627.3e6]));
    }

    #[test]
    fn ordinals_are_numbers() {
        let fourth = one("وصول الطائرة الرابعة إلى عدن");
        let sixth = one("وصول الطائرة السادسة إلى عدن");
        assert_eq!(fourth.kind, Kind::Ordinal);
        assert!(!fourth.agrees(&sixth));
        assert!(one("the fourth plane").agrees(&fourth));
        // Past the tenth, in words or in figures.
        let words = one("الدورة الخامسة عشرة للمجلس");
        assert_eq!(words.values, vec![15.0]);
        assert_eq!(one("في يومه الخامس والعشرين").values, vec![25.0]);
        assert!(one("في يومه الخامس والعشرين").agrees(&one("في يومه ال25")));
        assert!(!words.agrees(&one("الدورة الخامسة للمجلس")));
        assert_eq!(one("الدورة الحادية عشرة للمجلس").values, vec![11.0]);
        assert!(!one("الدورة الحادية عشرة").agrees(&one("الدورة العاشرة")));
    }

    #[test]
    fn eleven_and_twelve_in_words_are_not_ten() {
        let eleven = one("محملة بأحد عشر طنا من المواد");
        assert_eq!(eleven.values, vec![11.0]);
        assert_eq!(eleven.unit, one("محملة 11 طنا من المواد").unit);
        assert!(eleven.agrees(&one("محملة 11 طنا من المواد")));
        assert!(!eleven.agrees(&one("محملة بعشرة أطنان من المواد")));
        assert_eq!(one("تضم إحدى عشرة مدرسة").values, vec![11.0]);
        assert_eq!(one("نقل اثني عشر مصابا").values, vec![12.0]);
        // On its own, "one of" is no number.
        assert!(values("قال أحد المسؤولين").is_empty());
    }

    #[test]
    fn datelines_and_times_are_dates() {
        let f = values("جدة 12 ذو القعدة 1436 هـ الموافق 27 أغسطس 2015 م (واس) الساعة 10:30");
        assert!(!f.is_empty());
        assert!(f.iter().all(|(_, _, k)| *k == Kind::Date), "{f:?}");
        assert!(
            values("في 3 تشرين الأول")
                .iter()
                .all(|(_, _, k)| *k == Kind::Date)
        );
        assert!(
            values("في ربيع الأول")
                .iter()
                .all(|(_, _, k)| *k == Kind::Date)
        );
    }

    #[test]
    fn ranges_share_their_unit() {
        let f = values("بسرعة 15-35 كم/ساعة");
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|(_, u, _)| u == "km"), "{f:?}");
    }

    #[test]
    fn text_without_figures_is_untouched() {
        assert!(matches!(mark_figures("لا أرقام هنا"), Cow::Borrowed(_)));
        assert_eq!(mark_figures("عام 2015."), "عام  2015 .");
        assert_eq!(mark_figures("40 كم2 و2015م"), " 40  كم2  و2015م");
    }
}
