//! A feed body decoded to UTF-8 the way browsers decide an encoding:
//! byte-order mark, HTTP `charset`, XML declaration, then UTF-8.

use encoding_rs::Encoding;

/// A body decoded to UTF-8.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Bytes that were not valid in the chosen encoding were replaced.
    pub had_errors: bool,
}

/// Decodes a feed body as browsers and good parsers decide its encoding:
/// a byte-order mark, then the HTTP `charset`, then the XML declaration,
/// then UTF-8. The XML declaration of the result says UTF-8, so the parser
/// does not decode it a second time.
pub fn decode_body(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let (encoding, skip) = if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        (enc, bom_len)
    } else if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        (enc, 0)
    } else if let Some(enc) = utf16_without_bom(bytes) {
        (enc, 0)
    } else if let Some(enc) = xml_declared_encoding(bytes) {
        (enc, 0)
    } else {
        (encoding_rs::UTF_8, 0)
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[skip..]);
    let mut text = text.into_owned();
    if text.contains('\0') {
        // NUL is never allowed in XML or JSON text; a body full of them was
        // mislabelled, and the parser must not see them.
        text.retain(|c| c != '\0');
    }
    let text = rewrite_xml_declaration(text);
    Decoded {
        text,
        encoding,
        had_errors,
    }
}

/// UTF-16 without a byte-order mark, recognised by how `<?` (or any ASCII
/// first character) looks in it: one zero byte beside each ASCII byte.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0, a, 0, b, ..] if *a != 0 && *b != 0 && a.is_ascii() && b.is_ascii() => {
            Some(encoding_rs::UTF_16BE)
        }
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 && a.is_ascii() && b.is_ascii() => {
            Some(encoding_rs::UTF_16LE)
        }
        _ => None,
    }
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("charset") {
            Some(v.trim().trim_matches(['"', '\'']).to_string())
        } else {
            None
        }
    })
}

/// The `encoding` of an XML declaration written in an ASCII-compatible
/// encoding (UTF-16 documents are recognised by their BOM instead).
fn xml_declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let pos = decl.find("encoding")?;
    let rest = decl[pos + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let label = &rest[..rest.find(quote)?];
    let enc = Encoding::for_label(label.trim().as_bytes())?;
    // A declaration readable as ASCII cannot be UTF-16: such a label is wrong.
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        return Some(encoding_rs::UTF_8);
    }
    Some(enc)
}

const UTF8_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// The decoded text of an XML document, with one UTF-8 declaration at its
/// start and no other declaration anywhere (outside CDATA sections and
/// comments): the parser must not decode the text a second time, and
/// quick-xml panics on a declaration naming another encoding once it has
/// read past the start. A misplaced declaration is invalid XML anyway; the
/// text around it (a PHP warning before it, say) is kept.
fn rewrite_xml_declaration(text: String) -> String {
    let body = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n', '\u{c}']);
    // JSON Feed (or anything not XML) is left alone.
    if body
        .find('{')
        .is_some_and(|j| body.find('<').is_none_or(|x| j < x))
    {
        return text;
    }
    if !body.contains("<?xml") {
        return text;
    }
    let mut out = String::with_capacity(body.len() + UTF8_DECLARATION.len());
    out.push_str(UTF8_DECLARATION);
    let mut rest = body;
    // One pass from `<` to `<`: each is looked at once. (Searching the rest
    // for each marker at every step went through the whole document again
    // for every CDATA section in it, and most descriptions are one.)
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(marker) = ["<?xml", "<![CDATA[", "<!--"]
            .into_iter()
            .find(|m| tail.starts_with(m))
        else {
            out.push('<');
            rest = &tail[1..];
            continue;
        };
        rest = past_marker(marker, &tail[marker.len()..], &mut out);
    }
    out.push_str(rest);
    out
}

/// What follows `marker` (the text `after` it): a declaration is dropped,
/// a CDATA section or comment copied to `out` whole, anything else that
/// opens with `<?xml` (`<?xml-stylesheet …?>`) kept. Returns the text
/// after what was dropped or copied.
fn past_marker<'a>(marker: &str, after: &'a str, out: &mut String) -> &'a str {
    match marker {
        "<?xml" if after.starts_with(|c: char| c.is_whitespace() || c == '?') => {
            after.find("?>").map_or("", |e| &after[e + 2..])
        }
        "<?xml" => {
            out.push_str(marker);
            after
        }
        _ => {
            let close = if marker == "<!--" { "-->" } else { "]]>" };
            let end = after.find(close).map_or(after.len(), |e| e + close.len());
            out.push_str(marker);
            out.push_str(&after[..end]);
            &after[end..]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_charset_decides_when_the_declaration_is_silent() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1256.encode("<?xml version=\"1.0\"?><rss><t>مرحبا</t></rss>");
        let d = decode_body(&bytes, Some("application/rss+xml; charset=windows-1256"));
        assert!(d.text.contains("مرحبا"), "{}", d.text);
        assert!(
            d.text
                .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        );
        assert!(!d.had_errors);
    }

    #[test]
    fn xml_declaration_decides_without_a_header_charset() {
        let (bytes, _, _) = encoding_rs::ISO_8859_6
            .encode("<?xml version=\"1.0\" encoding=\"ISO-8859-6\"?><feed><t>سلام</t></feed>");
        let d = decode_body(&bytes, Some("application/atom+xml"));
        assert!(d.text.contains("سلام"));
        assert!(d.text.contains("encoding=\"UTF-8\""));
    }

    #[test]
    fn bom_wins_over_everything() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>نص</rss>".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode_body(&bytes, Some("text/xml; charset=iso-8859-1"));
        assert!(d.text.contains("نص"), "{}", d.text);
        assert_eq!(d.encoding, encoding_rs::UTF_16LE);
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let doc = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><t>خبر</t></rss>";
        let be: Vec<u8> = doc.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let le: Vec<u8> = doc.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        for bytes in [be, le] {
            let d = decode_body(&bytes, None);
            assert!(d.text.contains("خبر"), "{}", d.text);
            assert!(!d.text.contains('\0'));
            assert!(
                d.text
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            );
        }
    }

    #[test]
    fn misplaced_declarations_are_removed() {
        let decl = "<?xml version=\"1.0\" encoding=\"windows-1256\"?>";
        let cases = [
            format!("Warning: something in /var/www/feed.php\n{decl}<rss/>"),
            format!("{decl}<rss><channel>{decl}</channel></rss>"),
            format!("\u{c}{decl}<rss/>"),
        ];
        for c in cases {
            let out = rewrite_xml_declaration(c.clone());
            assert!(out.starts_with(UTF8_DECLARATION), "{out}");
            assert!(!out.contains("windows-1256"), "{out}");
            assert!(out.contains("<rss"), "{out}");
        }
        // CDATA, comments, stylesheets and JSON are left as they are.
        let keep = format!(
            "<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.css\"?><rss><![CDATA[{decl}]]><!-- {decl} --></rss>"
        );
        let out = rewrite_xml_declaration(keep);
        assert!(out.contains("<?xml-stylesheet href=\"s.css\"?>"));
        assert_eq!(out.matches("windows-1256").count(), 2, "{out}");
        let json = format!("{{\"items\":[{{\"content_html\":\"{decl}\"}}]}}");
        assert_eq!(rewrite_xml_declaration(json.clone()), json);
    }

    /// The rewrite as first written: the earliest of the three markers,
    /// searched for afresh at every step. Slow on long documents, plainly
    /// right in where it finds them: the one-pass rewrite must give the
    /// same text.
    fn rewrite_by_search(body: &str) -> String {
        let mut out = String::from(UTF8_DECLARATION);
        let mut rest = body;
        loop {
            let next = ["<?xml", "<![CDATA[", "<!--"]
                .iter()
                .filter_map(|m| rest.find(m).map(|i| (i, *m)))
                .min_by_key(|(i, _)| *i);
            let Some((i, marker)) = next else { break };
            out.push_str(&rest[..i]);
            rest = past_marker(marker, &rest[i + marker.len()..], &mut out);
        }
        out.push_str(rest);
        out
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_rewrite_keeps_what_a_search_for_each_marker_keeps(
            parts in proptest::collection::vec(0usize..14, 0..40)
        ) {
            const PIECES: [&str; 14] = [
                "<?xml version=\"1.0\" encoding=\"windows-1256\"?>", "<?xml", "<?xml-stylesheet ",
                "?>", "<![CDATA[", "]]>", "<!--", "-->", "<", "<!", "<item>", "خبر", " ", "x",
            ];
            let body: String = std::iter::once("<?xml version=\"1.0\"?><rss>")
                .chain(parts.iter().map(|&p| PIECES[p]))
                .collect();
            proptest::prop_assert_eq!(rewrite_xml_declaration(body.clone()), rewrite_by_search(&body));
        }
    }

    #[test]
    fn invalid_utf8_is_decoded_best_effort() {
        let d = decode_body(b"<rss>\xff\xfe ok</rss>", None);
        assert!(d.had_errors);
        assert!(d.text.contains("ok"));
    }
}
