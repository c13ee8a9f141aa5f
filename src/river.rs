//! The river page: the merged feed as one server-rendered HTML page, newest
//! first, for people rather than feed readers.
//!
//! It needs no JavaScript and runs none of its own (its only script element
//! is JSON-LD, which browsers do not execute); the server sends it with a
//! Content-Security-Policy that forbids scripts altogether, so even markup
//! that slipped past sanitizing could not run. Item text is shown as plain
//! text excerpts; each item carries its own `lang` and `dir`, and names and
//! titles sit in `<bdi>` so Arabic and Latin text mix without reordering.
//!
//! The HTML is written by hand: one fixed page shape whose only dynamic
//! parts are escaped text and checked URLs does not justify a template
//! engine's build time.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::model::Item;
use crate::publish::{Format, Page, Scope, View, item_html, plain_title, scopes, web_url};

/// The Content-Security-Policy the page is served with: no script, no
/// plugins, no frames, no forms; images from anywhere (feeds embed them).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Characters of an item's text shown under its title.
const EXCERPT_CHARS: usize = 280;

const STYLE: &str = "\
:root{color-scheme:light dark}\
body{margin:0 auto;max-width:46rem;padding:.5rem 1rem 2rem;font:1.05rem/1.6 system-ui,-apple-system,\"Segoe UI\",\"Noto Sans\",\"Noto Naskh Arabic\",Tahoma,sans-serif;overflow-wrap:break-word}\
header h1{font-size:1.5rem;margin:.6rem 0 .2rem}\
nav ul{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;font-size:.9rem}\
nav li a:first-child{font-weight:600}\
article{border-top:1px solid #8885;padding:.8rem 0}\
article h2{font-size:1.15rem;line-height:1.4;margin:0 0 .25rem}\
article[dir=rtl]{font-size:1.08em}\
.meta,.also{color:#666;font-size:.88rem;margin:.15rem 0}\
.excerpt{margin:.3rem 0}\
a{color:#1a55c4;text-decoration:none}a:hover{text-decoration:underline}\
footer{border-top:1px solid #8885;padding:1rem 0;font-size:.9rem}\
footer a{margin-inline-end:1.2rem}\
@media (prefers-color-scheme:dark){body{background:#15171a;color:#e8e8e8}a{color:#8ab4f8}.meta,.also{color:#aaa}}";

/// Renders one page of the river.
pub(crate) fn page(view: &View<'_>, items: &[Item], page: &Page) -> Vec<u8> {
    let title = view.title();
    let mut h = String::with_capacity(2048 + items.len() * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", esc(&title));
    for f in Format::FEEDS {
        let _ = writeln!(
            h,
            "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
            f.media_type(),
            esc(&title),
            f.label(),
            esc(&view.self_url(f))
        );
    }
    if let Some(next) = page.next {
        let _ = writeln!(
            h,
            "<link rel=\"next\" href=\"{}\">",
            esc(&view.page_url(Format::Html, Some(next)))
        );
    }
    let _ = writeln!(h, "<style>{STYLE}</style>");
    let _ = writeln!(
        h,
        "<script type=\"application/ld+json\">{}</script>",
        json_ld(view, items)
    );
    h.push_str("</head>\n<body>\n<header>\n");
    // No <bdi> inside: `dir="auto"` skips a bdi's text when it looks for
    // the first strong letter, so an Arabic title would be laid out LTR.
    let _ = writeln!(h, "<h1 dir=\"auto\">{}</h1>", esc(&title));
    nav(&mut h, view);
    h.push_str("</header>\n<main>\n");
    if items.is_empty() {
        h.push_str("<p>Nothing here yet.</p>\n");
    }
    for item in items {
        article(&mut h, view, item);
    }
    h.push_str("</main>\n<footer>\n<nav aria-label=\"Pages\">");
    if let Some(next) = page.next {
        let _ = write!(
            h,
            "<a rel=\"next\" href=\"{}\">Older items</a>",
            esc(&view.page_url(Format::Html, Some(next)))
        );
    }
    if page.before.is_some() {
        let _ = write!(
            h,
            "<a href=\"{}\">Newest items</a>",
            esc(&view.page_url(Format::Html, None))
        );
    }
    let _ = writeln!(
        h,
        "</nav>\n<p>Merged by rafid {}.</p>\n</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    h.into_bytes()
}

/// Every scope (the whole river, each tag, each named river) with its page and its feeds,
/// and the subscription list.
fn nav(h: &mut String, view: &View<'_>) {
    h.push_str("<nav aria-label=\"Feeds\">\n<ul>\n");
    for scope in scopes(view.config) {
        let label = match &scope {
            Scope::All => "Everything".to_string(),
            Scope::Tag(t) => format!("#{t}"),
            Scope::River(r) => r.clone(),
        };
        let current = if &scope == view.scope {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<li><a href=\"{}\"{current}><bdi>{}</bdi></a>",
            esc(&view.scope_url(&scope, Format::Html)),
            esc(&label)
        );
        for f in Format::FEEDS {
            let _ = write!(
                h,
                " <a href=\"{}\" type=\"{}\">{}</a>",
                esc(&view.scope_url(&scope, f)),
                f.media_type(),
                f.label()
            );
        }
        h.push_str("</li>\n");
    }
    let _ = writeln!(
        h,
        "<li><a href=\"{}\" type=\"text/x-opml\">Subscriptions (OPML)</a></li>",
        esc(&view.opml_url())
    );
    h.push_str("</ul>\n</nav>\n");
}

fn article(h: &mut String, view: &View<'_>, item: &Item) {
    let title = plain_title(item.title.as_deref().unwrap_or(""));
    let excerpt = excerpt(item, view.config.output.max_item_bytes);
    let dir = direction(item.language.as_deref(), &format!("{title} {excerpt}"));
    let arabic = item
        .language
        .as_deref()
        .map(primary_subtag)
        .is_some_and(|l| l == "ar")
        || (item.language.is_none() && dir == "rtl");
    h.push_str("<article");
    if let Some(lang) = item.language.as_deref().filter(|l| is_lang_tag(l)) {
        let _ = write!(h, " lang=\"{}\"", esc(lang));
    }
    let _ = writeln!(h, " dir=\"{dir}\">");
    let shown = if title.trim().is_empty() {
        "(untitled)".into()
    } else {
        title
    };
    match item.link.as_deref().and_then(web_url) {
        Some(link) => {
            let _ = writeln!(
                h,
                "<h2><a href=\"{}\"><bdi>{}</bdi></a></h2>",
                esc(link),
                esc(&shown)
            );
        }
        None => {
            let _ = writeln!(h, "<h2><bdi>{}</bdi></h2>", esc(&shown));
        }
    }
    h.push_str("<p class=\"meta\">");
    if let Some(first) = item.sources.first() {
        outlet(h, view, first);
        h.push_str(" · ");
    }
    // Digits and "UTC" would be reordered inside right-to-left text: the
    // time is its own left-to-right island.
    let t = item.sort_time();
    let _ = writeln!(
        h,
        "<time dir=\"ltr\" datetime=\"{}\">{}</time></p>",
        t.to_rfc3339_opts(SecondsFormat::Secs, true),
        shown_time(t)
    );
    if !excerpt.is_empty() {
        let _ = writeln!(h, "<p class=\"excerpt\">{}</p>", esc(&excerpt));
    }
    if item.sources.len() > 1 {
        let label = if arabic {
            "أوردته أيضًا:"
        } else {
            "Also reported by:"
        };
        let _ = write!(h, "<p class=\"also\">{label} ");
        for (i, s) in item.sources.iter().skip(1).enumerate() {
            if i > 0 {
                h.push_str(if arabic { "، " } else { ", " });
            }
            outlet(h, view, s);
        }
        h.push_str("</p>\n");
    }
    h.push_str("</article>\n");
}

/// An outlet's name, linked to its own copy of the story when it has one.
fn outlet(h: &mut String, view: &View<'_>, s: &crate::model::Source) {
    let name = view.source_title(&s.feed_url, s.feed_title.as_deref());
    match s.item_link.as_deref().and_then(web_url) {
        Some(l) => {
            let _ = write!(
                h,
                "<a class=\"source\" href=\"{}\"><bdi>{}</bdi></a>",
                esc(l),
                esc(&name)
            );
        }
        None => {
            let _ = write!(h, "<bdi class=\"source\">{}</bdi>", esc(&name));
        }
    }
}

/// The start of the item's text: its summary (else its content), sanitized,
/// reduced to plain text, spaces collapsed, cut at a word.
fn excerpt(item: &Item, max_bytes: usize) -> String {
    let (content, summary) = item_html(item, max_bytes);
    let Some(html) = summary.or(content) else {
        return String::new();
    };
    let text = crate::parse::html_fragment_to_text(&html);
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if out.chars().count() + w.chars().count() + 1 > EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn shown_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn primary_subtag(lang: &str) -> String {
    lang.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A language tag safe to put in `lang` (letters, digits, hyphens).
fn is_lang_tag(l: &str) -> bool {
    !l.is_empty() && l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `rtl` for languages written right to left; without a language, the
/// direction of the first strongly directional letter of the text.
pub(crate) fn direction(lang: Option<&str>, text: &str) -> &'static str {
    const RTL: [&str; 12] = [
        "ar", "arc", "ckb", "dv", "fa", "he", "iw", "ps", "sd", "ug", "ur", "yi",
    ];
    if let Some(l) = lang {
        return if RTL.contains(&primary_subtag(l).as_str()) {
            "rtl"
        } else {
            "ltr"
        };
    }
    for c in text.chars() {
        let u = c as u32;
        if (0x0590..=0x08FF).contains(&u)
            || (0xFB1D..=0xFDFF).contains(&u)
            || (0xFE70..=0xFEFF).contains(&u)
        {
            return "rtl";
        }
        if c.is_alphabetic() {
            return "ltr";
        }
    }
    "ltr"
}

/// schema.org data for search engines: the page as a list of news articles.
fn json_ld(view: &View<'_>, items: &[Item]) -> String {
    let list: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut a = json!({
                "@type": "NewsArticle",
                "headline": plain_title(item.title.as_deref().unwrap_or("")),
                "datePublished": item.sort_time().to_rfc3339_opts(SecondsFormat::Secs, true),
            });
            if let Some(l) = item.link.as_deref().and_then(web_url) {
                a["url"] = json!(l);
            }
            if let Some(l) = &item.language {
                a["inLanguage"] = json!(l);
            }
            if let Some(s) = item.sources.first() {
                a["publisher"] = json!({
                    "@type": "Organization",
                    "name": view.source_title(&s.feed_url, s.feed_title.as_deref()),
                });
            }
            json!({ "@type": "ListItem", "position": i + 1, "item": a })
        })
        .collect();
    let doc = json!({
        "@context": "https://schema.org",
        "@type": "ItemList",
        "name": view.title(),
        "url": view.home_url(),
        "itemListElement": list,
    });
    // Inside <script>, "</script" or "<!--" would end or confuse the
    // element: `<`, `>` and `&` are written as JSON escapes.
    serde_json::to_string(&doc)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Escapes text for HTML element content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_follows_language_then_letters() {
        assert_eq!(direction(Some("ar"), "Hello"), "rtl");
        assert_eq!(direction(Some("ar-EG"), ""), "rtl");
        assert_eq!(direction(Some("en"), "مرحبا"), "ltr");
        assert_eq!(direction(None, "  2024: مرحبا world"), "rtl");
        assert_eq!(direction(None, "2024: hello مرحبا"), "ltr");
        assert_eq!(direction(None, "שלום"), "rtl");
    }
}
