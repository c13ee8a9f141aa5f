//! Canonical forms used for matching: canonical links, text normalized for
//! comparison (Arabic-aware), and the identity keys derived from them.
//!
//! Normalization is for matching only. Nothing computed here is ever
//! published or stored in place of what the source said.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::text::html_to_text;

/// Query parameters that only track where a reader came from. Two links that
/// differ only in these point at the same page.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "rb_clickid",
    "s_cid",
    "ncid",
    "ocid",
    "cmpid",
    "at_medium",
    "at_campaign",
    "wt_mc",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The canonical form of a link, for identity only: scheme and host lower
/// case (the `url` crate does that), no fragment, no tracking parameters,
/// the remaining query sorted, and `http` counted as `https` because outlets
/// serve the same article under both. `None` for anything not http(s).
pub fn canonical_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    match url.scheme() {
        "http" | "https" => {}
        _ => return None,
    }
    url.set_fragment(None);
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        pairs.sort();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let host = url.host_str()?.trim_end_matches('.').to_owned();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path();
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!("https://{host}{port}{path}{query}"))
}

/// Whether a (canonical) link names a site's front page rather than an
/// article: such a link is shared by unrelated items and identifies none.
pub fn is_front_page(canonical: &str) -> bool {
    match Url::parse(canonical) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            let path = path
                .trim_end_matches("index.html")
                .trim_end_matches("index.php")
                .trim_end_matches('/');
            path.is_empty() && u.query().is_none()
        }
        Err(_) => true,
    }
}

/// Arabic marks that change neither the word nor its meaning for matching:
/// tashkeel (fathatan … sukun), superscript alef, Quranic annotation marks.
fn is_arabic_mark(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}'
        | '\u{08D3}'..='\u{08FF}')
}

/// Text normalized for matching: NFKC, no Arabic diacritics or tatweel,
/// alef/yaa/taa-marbuta variants unified, digits to ASCII, punctuation to
/// spaces, Latin lower case, whitespace collapsed to single spaces.
pub fn normalize_text(text: &str) -> String {
    // ASCII and the core Arabic block need no NFKC pass: none of their
    // characters has a compatibility decomposition, and what NFKC would do
    // with them (reorder marks, compose a letter with hamza or madda) is
    // undone by `fold`, which drops the marks and unifies the letters.
    if text.chars().all(needs_no_nfkc) {
        return fold(text.chars(), text.len());
    }
    // Most other text is already NFKC: the quick check is a table lookup
    // per character, the full normalization is not.
    match unicode_normalization::is_nfkc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => fold(text.chars(), text.len()),
        _ => fold(text.nfkc(), text.len()),
    }
}

/// Characters whose `fold` is the same with or without NFKC first.
fn needs_no_nfkc(c: char) -> bool {
    c.is_ascii() || matches!(c, '\u{060C}'..='\u{0669}' | '\u{0670}')
}

/// The per-character part of `normalize_text`, on NFKC input.
fn fold(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pending_space = false;
    for c in chars {
        let mapped = match c {
            // ASCII and the Arabic letters are most of the input: decide
            // them without Unicode table lookups.
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            '\u{0}'..='\u{7f}' => ' ',
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            'ؤ' => 'و',
            'ئ' => 'ي',
            '\u{0621}'..='\u{063a}' | '\u{0641}'..='\u{064a}' => c,
            '\u{0640}' => continue, // tatweel
            c if is_arabic_mark(c) => continue,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                continue;
            }
            '\u{feff}' => continue,
            'ک' => 'ك',
            'ی' | 'ے' => 'ي',
            'ە' | 'ھ' => 'ه',
            '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
            '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
            c if c.is_alphanumeric() => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.extend(c.to_lowercase());
                continue;
            }
            _ => ' ',
        };
        if mapped == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(mapped);
    }
    out
}

/// 128 bits of SHA-256 over length-prefixed parts, so ("ab","c") and
/// ("a","bc") never collide.
pub fn digest(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The smallest normalized text (title and body together) that identifies
/// an item across feeds by content alone. Below it, two unrelated items
/// ("Untitled", an empty body) would collide.
pub const MIN_CONTENT_KEY_CHARS: usize = 48;

/// The normalized title and body an item is matched on.
pub fn matching_text(title: Option<&str>, body: Option<&str>) -> String {
    let mut s = normalize_text(&html_to_text(title.unwrap_or("")));
    let body = normalize_text(&html_to_text(body.unwrap_or("")));
    if !body.is_empty() {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&body);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_arabic_block_folds_the_same_without_nfkc() {
        // Every string of these characters, in any order (marks out of
        // canonical order, hamza and madda after the letters they compose
        // with), folds as its NFKC form does.
        let alphabet: Vec<char> = (0x060Cu32..=0x0669)
            .chain([0x0670, 0x20, 0x41, 0x7A, 0x2E])
            .filter_map(char::from_u32)
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (seed % 9) as usize + 1;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            assert!(s.chars().all(needs_no_nfkc));
            assert_eq!(
                fold(s.chars(), s.len()),
                fold(s.nfkc(), s.len()),
                "{:?}",
                s.chars()
                    .map(|c| format!("{:04X}", c as u32))
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn canonical_link_drops_tracking_fragment_and_sorts_query() {
        let cases = [
            (
                "HTTPS://Example.COM/a/b?utm_source=x&b=2&a=1#top",
                Some("https://example.com/a/b?a=1&b=2"),
            ),
            (
                "http://example.com/news?id=7&fbclid=zz",
                Some("https://example.com/news?id=7"),
            ),
            (
                "https://example.com:8443/x",
                Some("https://example.com:8443/x"),
            ),
            ("https://example.com:443/x", Some("https://example.com/x")),
            ("mailto:someone@example.com", None),
            ("not a url", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_link(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn front_pages_are_recognised() {
        assert!(is_front_page("https://example.com/"));
        assert!(is_front_page("https://example.com/index.html"));
        assert!(!is_front_page("https://example.com/news/1"));
        assert!(!is_front_page("https://example.com/?p=12"));
    }

    #[test]
    fn normalize_text_unifies_arabic_variants() {
        let cases = [
            ("الرَّئِيس", "الرييس"),
            ("الرئيـــس", "الرييس"),
            ("أحمد وإبراهيم وآدم", "احمد وابراهيم وادم"),
            ("مدرسة على", "مدرسه علي"),
            ("عام ٢٠٢٤ و۱۴", "عام 2024 و14"),
            ("«خبر» — عاجل!", "خبر عاجل"),
            ("Hello, WORLD", "hello world"),
            ("  spaced\t\nout  ", "spaced out"),
            ("ﻻ ﷲ", "لا الله"),
            ("Ｆｕｌｌ width Ⅻ", "full width xii"),
            ("ÉCOLE Straße", "école straße"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_text(input), want, "{input}");
        }
    }

    /// One rule per test: the list the matching relies on.
    fn norm_eq(input: &str, want: &str) {
        assert_eq!(normalize_text(input), want, "{input:?}");
    }

    #[test]
    fn rule_nfkc() {
        norm_eq("ﻻ", "لا");
        norm_eq("ﺍﻟﺴﻼﻡ", "السلام");
        norm_eq("①", "1");
    }

    #[test]
    fn rule_diacritics_and_superscript_alef_dropped() {
        norm_eq("مُحَمَّدٌ", "محمد");
        norm_eq("هٰذا", "هذا");
        norm_eq("كِتَابًا", "كتابا");
    }

    #[test]
    fn rule_tatweel_dropped() {
        norm_eq("جـــديد", "جديد");
    }

    #[test]
    fn rule_alef_forms_unified() {
        norm_eq("أ إ آ ٱ ا", "ا ا ا ا ا");
    }

    #[test]
    fn rule_alef_maqsura_is_yaa() {
        norm_eq("مستشفى", "مستشفي");
    }

    #[test]
    fn rule_taa_marbuta_is_haa() {
        norm_eq("مدينة", "مدينه");
    }

    #[test]
    fn rule_hamza_on_waw_and_yaa() {
        norm_eq("مؤتمر رئيس", "موتمر رييس");
    }

    #[test]
    fn rule_persian_kaf_yeh_and_heh() {
        norm_eq("کتاب یوم", "كتاب يوم");
        norm_eq("ھذه", "هذه");
    }

    #[test]
    fn rule_digits_to_ascii() {
        norm_eq("٠١٢٣٤٥٦٧٨٩", "0123456789");
        norm_eq("۰۱۲۳۴۵۶۷۸۹", "0123456789");
    }

    #[test]
    fn rule_punctuation_and_quotes_to_spaces() {
        norm_eq("قال: «نعم»، ثم؛ هل؟", "قال نعم ثم هل");
        norm_eq("\"quoted\" 'words' — (here)", "quoted words here");
        norm_eq("“a” ‘b’ „c“", "a b c");
    }

    #[test]
    fn rule_latin_case_folded() {
        norm_eq("BBC News", "bbc news");
        norm_eq("ÉTÉ", "été");
    }

    #[test]
    fn rule_html_removed_before_matching() {
        assert_eq!(
            matching_text(
                Some("<b>عنوان</b>"),
                Some("<p>نص&nbsp;الخبر</p><script>x()</script>")
            ),
            "عنوان\nنص الخبر"
        );
    }

    fn hex(d: [u8; 16]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digest_separates_parts() {
        // Moving a byte across a boundary must change the key: without the
        // length prefixes both would hash "abc".
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_ne!(digest(&[b"abc"]), digest(&[b"ab", b"c"]));
        assert_ne!(digest(&[b"", b"x"]), digest(&[b"x"]));
    }

    #[test]
    fn digest_changes_with_any_byte() {
        let base = b"https://a.example/f\0guid-1".to_vec();
        let d = digest(&[&base]);
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i] ^= 1;
            assert_ne!(digest(&[&changed]), d, "byte {i}");
        }
    }

    /// Stored keys were made by earlier runs and builds: the digest of a
    /// given input must never change, or every item would be new again.
    #[test]
    fn digest_is_stable_across_runs() {
        assert_eq!(hex(digest(&[b"x"])), "f91b14e7bbea4c5bfa0e1a7040177166");
        assert_eq!(
            hex(digest(&[b"https://a.example/f", b"guid-1"])),
            "998da5bcaa57fe0f6896e2cc41f6f5e3"
        );
        assert_eq!(hex(digest(&[])), "e3b0c44298fc1c149afbf4c8996fb924");
    }
}
