//! A language guessed from the script of a text, for items that declare
//! none.
//!
//! Script says less than language: Arabic script is read as Arabic unless
//! letters only Persian or Urdu use appear, Latin script as English,
//! Cyrillic as Russian. That is what a `lang` filter on a news river needs
//! (keep the Arabic, leave out the rest); a feed that declares its language
//! is never second-guessed. Written here rather than with a language
//! detection crate because those carry large models for a distinction the
//! rules do not need.

/// The language the script of `text` suggests, or `None` when it has no
/// letters. Counts letters per script and takes the most frequent.
pub fn detect_language(text: &str) -> Option<&'static str> {
    let mut counts = [0usize; SCRIPTS.len()];
    let mut persian = 0usize;
    let mut urdu = 0usize;
    for c in text.chars() {
        if !c.is_alphabetic() {
            continue;
        }
        let Some(i) = SCRIPTS.iter().position(|s| (s.is)(c)) else {
            continue;
        };
        counts[i] += 1;
        if matches!(c, 'پ' | 'چ' | 'ژ' | 'گ' | 'ک' | 'ی') {
            persian += 1;
        }
        if matches!(c, 'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ے' | 'ھ') {
            urdu += 1;
        }
    }
    let (best, n) = counts.iter().enumerate().max_by_key(|(_, n)| **n)?;
    if *n == 0 {
        return None;
    }
    let lang = SCRIPTS[best].lang;
    if lang == "ar" && urdu > 0 {
        return Some("ur");
    }
    if lang == "ar" && persian > 0 {
        return Some("fa");
    }
    Some(lang)
}

struct Script {
    lang: &'static str,
    is: fn(char) -> bool,
}

const SCRIPTS: [Script; 10] = [
    Script {
        lang: "ar",
        is: |c| {
            matches!(c, '\u{0600}'..='\u{06ff}' | '\u{0750}'..='\u{077f}' | '\u{08a0}'..='\u{08ff}'
                | '\u{fb50}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}')
        },
    },
    Script {
        lang: "en",
        is: |c| {
            c.is_ascii_alphabetic()
                || matches!(c, '\u{00c0}'..='\u{024f}' | '\u{1e00}'..='\u{1eff}')
        },
    },
    Script {
        lang: "he",
        is: |c| matches!(c, '\u{0590}'..='\u{05ff}'),
    },
    Script {
        lang: "ru",
        is: |c| matches!(c, '\u{0400}'..='\u{04ff}'),
    },
    Script {
        lang: "el",
        is: |c| matches!(c, '\u{0370}'..='\u{03ff}'),
    },
    Script {
        lang: "hi",
        is: |c| matches!(c, '\u{0900}'..='\u{097f}'),
    },
    Script {
        lang: "ja",
        is: |c| matches!(c, '\u{3040}'..='\u{30ff}'),
    },
    Script {
        lang: "ko",
        is: |c| matches!(c, '\u{ac00}'..='\u{d7af}' | '\u{1100}'..='\u{11ff}'),
    },
    Script {
        lang: "zh",
        is: |c| matches!(c, '\u{4e00}'..='\u{9fff}'),
    },
    Script {
        lang: "hy",
        is: |c| matches!(c, '\u{0530}'..='\u{058f}'),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_languages() {
        let cases = [
            ("أسعار النفط ترتفع", Some("ar")),
            ("Oil prices rise", Some("en")),
            ("قيمت نفت در بازار جهانی", Some("fa")),
            ("پاکستان میں تیل کی قیمتیں بڑھ گئیں", Some("ur")),
            ("Цены на нефть", Some("ru")),
            ("خبر عاجل من العاصمة: Breaking", Some("ar")),
            ("12345 !!", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(detect_language(text), want, "{text}");
        }
    }
}
