//! Markup and text, both ways, in one place: what an HTML fragment says
//! as plain text, and plain text made safe inside HTML.
//!
//! One reading of markup serves everything that reads item text: titles as
//! parsed, the keep/drop rules, the same-story keys and the outputs. A rule
//! or a duplicate check therefore sees the words a reader sees on the page.
//!
//! `html_to_text` is written by hand rather than run through a full HTML
//! parser because it runs on every title and body of every poll; it reads
//! markup the way a browser shows it, for the needs of news text:
//! entities decoded (all of HTML's names, numeric references, and the
//! Windows-1252 numbers legacy publishers write), paragraphs and other
//! blocks ended by a line break, inline tags (`<b>`, `<span>`) removed
//! without splitting the word they sit in, the contents of scripts and
//! styles dropped, and runs of spaces collapsed. Directional marks (RLM,
//! LRM, ALM) and joiners (ZWNJ, ZWJ) are kept: Arabic and Persian text
//! needs them, and `&nbsp;` stays a no-break space.
//!
//! [`normalize`] goes one step further, for matching only: canonical links
//! and text folded (Arabic-aware) so that two copies of a story compare
//! equal. Every stage that matches items uses it: parsing, the rules, the
//! same-story decision, the store's keys and the config's URLs.

pub mod normalize;

/// `s` escaped for HTML element content and double-quoted attribute values
/// (every attribute rafid writes is double-quoted).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The text of an HTML fragment: see the module documentation. Blocks and
/// `<br>` end lines (`\n`); other runs of white space become one space; the
/// ends are trimmed.
pub fn html_to_text(html: &str) -> String {
    let mut out = Collapsed::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = rest.find(['<', '&']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let Some(t) = tail.strip_prefix('<') else {
            let (c, used) = entity(tail);
            out.push_decoded(c);
            rest = &tail[used..];
            continue;
        };
        if let Some(comment) = t.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |i| &comment[i + 3..]);
            continue;
        }
        if t.starts_with(['!', '?']) {
            // A doctype, CDATA or processing instruction: not text.
            rest = t.find('>').map_or("", |i| &t[i + 1..]);
            continue;
        }
        let closing = t.starts_with('/');
        let name_at = usize::from(closing);
        let name_len = t[name_at..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(t.len() - name_at);
        let name = &t[name_at..name_at + name_len];
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // A '<' that opens no tag is text (`a < b`).
            out.push_str("<");
            rest = t;
            continue;
        }
        let Some(end) = tag_end(t) else {
            // An unterminated tag: the rest is inside it.
            rest = "";
            break;
        };
        rest = &t[end + 1..];
        if is_block(name) {
            out.push_break();
        }
        if !closing && is_hidden(name) {
            rest = after_closing_tag(rest, name);
        }
    }
    out.push_str(rest);
    out.finish()
}

/// `text` with its character references decoded and nothing else changed:
/// for plain text that carries entities (a title with `&eacute;`, or one
/// escaped twice, `&amp;#8211;`), where tags and spacing are the text's own.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let (c, used) = entity(&rest[pos..]);
        match c {
            Decoded::One(c) => out.push(c),
            Decoded::Two(a, b) => {
                out.push(a);
                out.push(b);
            }
        }
        rest = &rest[pos + used..];
    }
    out.push_str(rest);
    out
}

/// Text being built with white space collapsed as it comes.
struct Collapsed {
    out: String,
    /// White space seen since the last character: none, a space, a break.
    pending: Gap,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Break,
}

impl Collapsed {
    fn with_capacity(n: usize) -> Collapsed {
        Collapsed {
            out: String::with_capacity(n),
            pending: Gap::None,
        }
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            match c {
                '\n' | '\r' => self.pending = Gap::Break,
                // HTML's white space; a no-break space is a character.
                ' ' | '\t' | '\u{c}' => self.pending = self.pending.max(Gap::Space),
                c => self.push_char(c),
            }
        }
    }

    fn push_char(&mut self, c: char) {
        if !self.out.is_empty() {
            match self.pending {
                Gap::None => {}
                Gap::Space => self.out.push(' '),
                Gap::Break => self.out.push('\n'),
            }
        }
        self.pending = Gap::None;
        self.out.push(c);
    }

    /// A character from a reference: `&#10;` and `&#32;` are white space
    /// like any other.
    fn push_decoded(&mut self, d: Decoded) {
        let mut buf = [0u8; 4];
        match d {
            Decoded::One(c) => self.push_str(c.encode_utf8(&mut buf)),
            Decoded::Two(a, b) => {
                self.push_str(a.encode_utf8(&mut buf));
                self.push_str(b.encode_utf8(&mut buf));
            }
        }
    }

    fn push_break(&mut self) {
        self.pending = Gap::Break;
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Elements that start and end a line of text.
fn is_block(name: &str) -> bool {
    const BLOCKS: [&str; 42] = [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "td",
        "th",
        "tr",
        "ul",
        "option",
        "legend",
    ];
    BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// Elements whose contents are never shown as text.
fn is_hidden(name: &str) -> bool {
    ["script", "style", "noscript", "template", "iframe"]
        .iter()
        .any(|b| b.eq_ignore_ascii_case(name))
}

/// Where the tag that `t` starts (just after its `<`) ends: its `>`, not
/// one inside a quoted attribute value.
fn tag_end(t: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in t.bytes().enumerate() {
        match (quote, b) {
            (None, b'>') => return Some(i),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
    }
    None
}

/// What follows `</name ...>` in `s` (ASCII case-insensitive), or "" if
/// the element never closes.
fn after_closing_tag<'a>(s: &'a str, name: &str) -> &'a str {
    for (i, _) in s.match_indices("</") {
        let after = &s[i + 2..];
        let same = after
            .get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        let ends = after[name.len().min(after.len())..]
            .starts_with(|c: char| c == '>' || c.is_ascii_whitespace() || c == '/');
        if same && ends {
            return after.find('>').map_or("", |e| &after[e + 1..]);
        }
    }
    ""
}

/// What one reference stands for: most are one character, a few two.
#[derive(Clone, Copy)]
enum Decoded {
    One(char),
    Two(char, char),
}

/// Decodes the reference at the start of `s` (which begins with `&`):
/// what it stands for and how many bytes it used. Something that is no
/// reference (`&`, `&unknown;`, `& b`) is a literal `&`.
fn entity(s: &str) -> (Decoded, usize) {
    let literal = (Decoded::One('&'), 1);
    let Some(end) = s[1..].find(';').filter(|&e| e > 0 && e <= 32) else {
        return literal;
    };
    let name = &s[1..=end];
    let used = end + 2;
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        return match code.filter(|_| num.chars().all(|c| c.is_ascii_alphanumeric())) {
            Some(code) => (Decoded::One(numeric(code)), used),
            None => literal,
        };
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return literal;
    }
    let key = &s[1..used];
    match web_atoms::NAMED_ENTITIES.get(key) {
        Some(&(a, b)) if a != 0 => match (char::from_u32(a), char::from_u32(b)) {
            (Some(a), Some('\0') | None) => (Decoded::One(a), used),
            (Some(a), Some(b)) => (Decoded::Two(a, b), used),
            _ => literal,
        },
        _ => literal,
    }
}

/// The character a numeric reference stands for, as browsers read it:
/// 128-159 as Windows-1252 (what pages labelled Latin-1 meant), nothing
/// valid as U+FFFD.
fn numeric(code: u32) -> char {
    const CP1252: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match code {
        0x80..=0x9f => CP1252[(code - 0x80) as usize],
        0 => '\u{fffd}',
        c => char::from_u32(c).unwrap_or('\u{fffd}'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_double_quoted_attributes() {
        assert_eq!(
            escape("<a href=\"x\">خبر & تحليل</a>"),
            "&lt;a href=&quot;x&quot;&gt;خبر &amp; تحليل&lt;/a&gt;"
        );
        // Escaping then reading gives the text back.
        let s = "a < b && \"c\" > d ‏ع";
        assert_eq!(html_to_text(&escape(s)), s);
    }

    #[test]
    fn entities_are_decoded_named_numeric_and_legacy() {
        let html = "سلام&nbsp;عليكم &amp; &#1575; &#x644; &laquo;خبر&raquo; &eacute;t&eacute; \
                    &#150; &hellip; &unknown; a &b; &#xZZ; &";
        assert_eq!(
            html_to_text(html),
            "سلام\u{a0}عليكم & ا ل «خبر» été – … &unknown; a &b; &#xZZ; &"
        );
        // Twice escaped, as some publishers write titles: decoded once.
        assert_eq!(html_to_text("&amp;#8211;"), "&#8211;");
        assert_eq!(decode_entities("&amp;#8211;"), "&#8211;");
    }

    #[test]
    fn blocks_end_lines_and_inline_tags_do_not_split_words() {
        let html = "<div><p>الفقرة   الأولى</p><p>الثانية<br>سطر\n\n\n آخر</p></div>\
                    <ul><li>أ</li><li>ب</li></ul><b>كل</b>مة <span>و</span><i>احدة</i>";
        assert_eq!(
            html_to_text(html),
            "الفقرة الأولى\nالثانية\nسطر\nآخر\nأ\nب\nكلمة واحدة"
        );
        assert_eq!(html_to_text("  <p> </p> x \t y  "), "x y");
    }

    #[test]
    fn scripts_styles_and_comments_are_not_text() {
        let html = "قبل<script>var a = '<p>';</script>\
                    <STYLE type=\"text/css\">p { color: red }</STYLE>\
                    <!-- تعليق -->بعد<!DOCTYPE html><noscript>x</noscript>\
                    <scripts>نص</scripts>";
        assert_eq!(html_to_text(html), "قبلبعدنص");
        // A script never closed hides the rest.
        assert_eq!(html_to_text("a<script>b"), "a");
    }

    #[test]
    fn quoted_brackets_stay_inside_the_tag_and_stray_ones_are_text() {
        assert_eq!(
            html_to_text("<a title=\"a > b\" href='x>'>رابط</a>"),
            "رابط"
        );
        assert_eq!(html_to_text("a < b, 3<4, x <- y"), "a < b, 3<4, x <- y");
        assert_eq!(html_to_text("نص <b"), "نص");
    }

    #[test]
    fn directional_marks_and_joiners_are_kept() {
        let html = "<p>&rlm;‏عاجل&lrm;: 2024&#x61C;</p><p>می&zwnj;خواهم \u{200d}</p>";
        assert_eq!(
            html_to_text(html),
            "\u{200f}\u{200f}عاجل\u{200e}: 2024\u{61c}\nمی\u{200c}خواهم \u{200d}"
        );
    }

    #[test]
    fn plain_text_decoding_keeps_tags_and_spaces() {
        assert_eq!(
            decode_entities("Caf&eacute;  <b>  &lt;x&gt; & y"),
            "Café  <b>  <x> & y"
        );
    }
}
