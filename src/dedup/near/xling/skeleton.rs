//! Names across scripts: a name written in Arabic and in Latin letters
//! reduced to the same consonant skeleton, so that ديلون and Dillon, براغا
//! and Braga, الموصل and Mosul meet.
//!
//! Both sides drop what the other script writes unreliably: vowels (Arabic
//! writes the long ones, English all of them, and و/ي are as often vowels
//! as consonants), the article (ال, "Al-"), ع and hamza (which English
//! writes as nothing, an apostrophe or a vowel). Consonants that the two
//! spellings confuse are one class: ق, ك, خ and k/q/c/kh are one; ج, غ and
//! j/g one (Gulf "Jazan" and Egyptian "Gamal" both); ث, ت, ط and t/th one;
//! and so on. Doubled letters count once. Hand-written because no crate
//! does this: transliteration crates (any_ascii and the like) give one
//! romanization, and the point is to meet every romanization.

/// A skeleton shorter than this names nothing reliably (Saudi and Aden
/// are two consonants, like hundreds of words).
pub(super) const MIN_KEY: usize = 3;

/// The skeleton of a lower-case Latin word.
pub(super) fn latin(w: &str) -> String {
    let w = w.strip_prefix("al").filter(|r| r.len() >= 4).unwrap_or(w);
    let b = w.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let next = b.get(i + 1).copied();
        let (class, step) = match (b[i], next) {
            (b's', Some(b'h')) | (b'c', Some(b'h')) => ('S', 2),
            (b'k', Some(b'h')) => ('k', 2),
            (b'g', Some(b'h')) => ('j', 2),
            (b't', Some(b'h')) => ('t', 2),
            (b'd', Some(b'h')) => ('d', 2),
            (b'p', Some(b'h')) => ('f', 2),
            (b'q' | b'c' | b'k', _) => ('k', 1),
            (b'g' | b'j', _) => ('j', 1),
            (b'v' | b'f', _) => ('f', 1),
            (b'p' | b'b', _) => ('b', 1),
            (b'x', _) => {
                push(&mut out, 'k');
                ('s', 1)
            }
            (b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'w', _) => ('\0', 1),
            (c @ (b'd' | b'h' | b'l' | b'm' | b'n' | b'r' | b's' | b't' | b'z'), _) => {
                (c as char, 1)
            }
            _ => ('\0', 1),
        };
        if class != '\0' {
            push(&mut out, class);
        }
        i += step;
    }
    out
}

/// The skeleton of a normalized Arabic word (see `normalize_text`),
/// without its article.
pub(super) fn arabic(w: &str) -> String {
    let w = w
        .strip_prefix("ال")
        .filter(|r| r.chars().count() >= 3)
        .unwrap_or(w);
    let mut out = String::new();
    for c in w.chars() {
        let class = match c {
            'ب' => 'b',
            'ت' | 'ث' | 'ط' => 't',
            'ج' | 'غ' => 'j',
            'ح' | 'ه' => 'h',
            'خ' | 'ق' | 'ك' => 'k',
            'د' | 'ذ' | 'ض' => 'd',
            'ر' => 'r',
            'ز' | 'ظ' => 'z',
            'س' | 'ص' => 's',
            'ش' => 'S',
            'ف' => 'f',
            'ل' => 'l',
            'م' => 'm',
            'ن' => 'n',
            _ => continue,
        };
        push(&mut out, class);
    }
    out
}

/// The key a skeleton is matched by, if it is long enough to name
/// something: without a final h when enough is left, since ة is written
/// "a" as often as "ah" (مصراتة / Misrata; جدة / Jeddah keeps it, as both
/// spell it).
pub(super) fn key(skeleton: String) -> Option<String> {
    if skeleton.chars().count() < MIN_KEY {
        return None;
    }
    let mut k = skeleton;
    if k.ends_with('h') && k.chars().count() > MIN_KEY {
        k.pop();
    }
    Some(k)
}

fn push(out: &mut String, c: char) {
    if !out.ends_with(c) {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize::normalize_text;

    fn ar(w: &str) -> String {
        arabic(&normalize_text(w))
    }

    #[test]
    fn a_name_meets_its_romanizations() {
        for (a, l) in [
            ("ديلون", "dillon"),
            ("براغا", "braga"),
            ("الموصل", "mosul"),
            ("جازان", "jazan"),
            ("جيزان", "jizan"),
            ("الخبر", "khobar"),
            ("القصيم", "qassim"),
            ("مصراتة", "misrata"),
            ("طالبان", "taliban"),
            ("تبوك", "tabuk"),
        ] {
            assert_eq!(key(ar(a)), key(latin(l)), "{a} / {l}");
            assert!(key(latin(l)).is_some(), "{l}");
        }
        assert_eq!(key(ar("جدة")), key(latin("jeddah")));
        assert_eq!(latin("alkhobar"), latin("khobar"));
        assert_ne!(key(ar("الرياض")), key(latin("jeddah")));
        // Too short to name anything.
        assert_eq!(key(latin("aden")), None);
    }
}
