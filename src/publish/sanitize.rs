//! What an item may show: its HTML sanitized (ammonia) and cut to size,
//! its URLs reduced to absolute http(s), its title reduced to plain text.
//! Done at the last moment, so the store keeps what the source said and
//! every output is safe to open.

use std::borrow::Cow;

use url::Url;

use crate::model::Item;

/// Sanitizes item HTML: no script, no event handlers, no dangerous URLs;
/// relative links and images made absolute against the item's base.
/// `data:` URLs survive only as raster images in `img src` (feeds inline
/// small pictures that way); SVG and every other `data:` use is dropped.
pub fn sanitize(html: &str, base: Option<&str>) -> String {
    let mut b = ammonia::Builder::default();
    let base = base.and_then(|b| Url::parse(b).ok());
    if let Some(base) = base {
        b.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
    } else {
        b.url_relative(ammonia::UrlRelative::Deny);
    }
    b.add_url_schemes(["data"]);
    b.attribute_filter(|element, attribute, value| {
        if !is_data_url(value) || (element == "img" && attribute == "src" && is_raster_data(value))
        {
            Some(value.into())
        } else {
            None
        }
    });
    b.clean(html).to_string()
}

/// Whether a URL (as a browser would read it: leading spaces and control
/// characters skipped, case ignored) uses the `data:` scheme.
fn is_data_url(value: &str) -> bool {
    let v: String = value
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(5)
        .collect();
    v.eq_ignore_ascii_case("data:")
}

/// A base64 PNG, JPEG, GIF, WebP or AVIF: image types that cannot carry script.
fn is_raster_data(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    ["png", "jpeg", "jpg", "gif", "webp", "avif"]
        .iter()
        .any(|t| v.starts_with(&format!("data:image/{t};base64,")))
}

/// The one filter every URL in every output goes through (links,
/// enclosures, author URIs, sources, the river page): http(s) only, a
/// relative URL made absolute against `base` (an item's base, see
/// `item_base`), anything else (`javascript:`, `data:`, `vbscript:`, a
/// relative URL with no base, what does not parse) dropped. An absolute
/// URL comes out as it came in.
pub(crate) fn web_url<'a>(link: &'a str, base: Option<&str>) -> Option<Cow<'a, str>> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    match Url::parse(link) {
        Ok(u) => web(&u).then_some(Cow::Borrowed(link)),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = Url::parse(base?).ok().filter(web)?;
            let u = base.join(link).ok().filter(web)?;
            Some(Cow::Owned(u.to_string()))
        }
        Err(_) => None,
    }
}

/// What relative URLs of an item resolve against: its xml:base, else its
/// link, else the site of the feed that carried it.
pub(crate) fn item_base(item: &Item) -> Option<&str> {
    item.base
        .as_deref()
        .or(item.link.as_deref())
        .or_else(|| item.sources.first().and_then(|s| s.site_url.as_deref()))
}

/// Titles are plain text. Many readers render an RSS title as HTML, so
/// markup that reached a stored title is removed here, not passed on
/// escaped; text that only looks like `a < b` is left as it is.
pub(crate) fn plain_title(title: &str) -> std::borrow::Cow<'_, str> {
    fn has_markup(t: &str) -> bool {
        t.char_indices().any(|(i, c)| {
            c == '<'
                && t[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'))
        })
    }
    if !has_markup(title) {
        return title.into();
    }
    // Removing tags can join text into new tags (`<<b>i>`): repeat until
    // none are left, and after a few rounds defuse what remains.
    let mut t = title.to_string();
    for _ in 0..4 {
        t = crate::text::html_to_text(&t);
        if !has_markup(&t) {
            return t.into();
        }
    }
    t.replace('<', "\u{2039}").into()
}

pub(crate) fn item_html(item: &Item, max_bytes: usize) -> (Option<String>, Option<String>) {
    let base = item_base(item);
    let original = item.link.as_deref().and_then(|l| web_url(l, base));
    let show = |c: &str| sanitize(&capped(c, max_bytes, original.as_deref()), base);
    let content = item.content.as_deref().map(show);
    let summary = item.summary.as_deref().map(show);
    (content, summary)
}

/// At most `max` bytes of `html`: past that, it is cut before the last tag
/// that starts within the limit (so never inside a tag or a character; the
/// sanitizer closes what is left open), and ends with a link to the
/// original. A render then costs the same however big the stored item is.
pub(crate) fn capped<'a>(
    html: &'a str,
    max: usize,
    original: Option<&str>,
) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if html.len() <= max {
        return Cow::Borrowed(html);
    }
    let mut end = max;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let head = &html[..end];
    let tag_start = head
        .match_indices('<')
        .map(|(i, _)| i)
        .rfind(|&i| {
            head[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| c == '/' || c.is_ascii_alphabetic())
        })
        .filter(|&i| i > 0);
    let in_tag = match (head.rfind('<'), head.rfind('>')) {
        (Some(lt), Some(gt)) => lt > gt,
        (Some(_), None) => true,
        _ => false,
    };
    let cut = match tag_start {
        Some(i) => i,
        None if in_tag => head.rfind('<').unwrap_or(0),
        // In text: at a space after the last tag, else right after it.
        None => {
            let after_tag = head.rfind('>').map_or(0, |i| i + 1);
            head[after_tag..]
                .rfind(char::is_whitespace)
                .map(|i| after_tag + i)
                .filter(|&i| i > 0)
                .or(Some(after_tag).filter(|&i| i > 0))
                .unwrap_or(end)
        }
    };
    let mut out = String::with_capacity(cut + 128);
    out.push_str(&html[..cut]);
    match original {
        Some(link) => {
            out.push_str("<p><a href=\"");
            out.push_str(&crate::text::escape(link));
            out.push_str("\">…</a></p>");
        }
        None => out.push_str("<p>…</p>"),
    }
    Cow::Owned(out)
}
