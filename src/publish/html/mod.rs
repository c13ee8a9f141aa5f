//! The river page: the merged feed as one server-rendered HTML page, newest
//! first, for people rather than feed readers.
//!
//! It needs no JavaScript and runs none of its own (its only script element
//! is JSON-LD, which browsers do not execute); the server sends it with a
//! Content-Security-Policy that forbids scripts altogether, so even markup
//! that slipped past sanitizing could not run. Item text is shown as plain
//! text excerpts (or, with `output.page_content = "full"`, as the content
//! sanitized as in the feeds); each item carries its own `lang` and `dir`,
//! and names and titles sit in `<bdi>` so Arabic and Latin text mix without
//! reordering. The page's own words, its `lang` and its direction follow
//! `output.lang` (Arabic or English); items are grouped under day headings
//! in `output.timezone`.
//!
//! The HTML is written by hand: one fixed page shape whose only dynamic
//! parts are escaped text and checked URLs does not justify a template
//! engine's build time.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::PageContent;
use crate::model::Item;
use crate::publish::sanitize::{item_base, item_html, plain_title, web_url};
use crate::publish::scope::{Format, Scope, listed_scopes};
use crate::publish::view::{Page, View};
use crate::text::{escape, html_to_text};

/// The Content-Security-Policy the page is served with: no script, no
/// plugins, no frames, no forms; images from anywhere (feeds embed them).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Characters of an item's text shown under its title.
const EXCERPT_CHARS: usize = 280;

const STYLE: &str = "\
:root{color-scheme:light dark}\
body{margin:0 auto;max-width:46rem;padding:.5rem 1rem 2rem;font:1.05rem/1.6 system-ui,-apple-system,\"Segoe UI\",\"Noto Sans\",\"Noto Naskh Arabic\",Tahoma,sans-serif;overflow-wrap:break-word}\
header h1{font-size:1.5rem;margin:.6rem 0 .2rem}\
.subscribe{margin:.2rem 0;font-size:.9rem}\
.subscribe a{margin-inline-start:.6rem}\
details{margin:.3rem 0 .6rem;font-size:.9rem}\
summary{cursor:pointer;color:#1a55c4}\
nav ul{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem}\
nav li a:first-child{font-weight:600}\
h2.day{font-size:1rem;margin:1.4rem 0 0;padding:.3rem 0;border-bottom:2px solid #8886;color:#555}\
article{border-top:1px solid #8885;padding:.8rem 0}\
h2.day+article{border-top:0}\
article h3{font-size:1.15rem;line-height:1.4;margin:0 0 .25rem}\
article[dir=rtl]{font-size:1.08em}\
.meta,.also{color:#666;font-size:.88rem;margin:.15rem 0}\
.excerpt{margin:.3rem 0}\
.content img,.content video{max-width:100%;height:auto}\
.content pre{overflow-x:auto}\
a{color:#1a55c4;text-decoration:none}a:hover{text-decoration:underline}\
footer{border-top:1px solid #8885;padding:1rem 0;font-size:.9rem}\
footer a{margin-inline-end:1.2rem}\
@media (prefers-color-scheme:dark){body{background:#15171a;color:#e8e8e8}a,summary{color:#8ab4f8}.meta,.also,h2.day{color:#aaa}}";

/// The words of the page itself, in the language of `output.lang`.
struct Words {
    everything: &'static str,
    nothing_yet: &'static str,
    older: &'static str,
    newest: &'static str,
    also: &'static str,
    /// Before a link to the same story in English, in Arabic.
    also_in_english: &'static str,
    also_in_arabic: &'static str,
    list_separator: &'static str,
    untitled: &'static str,
    subscribe: &'static str,
    sections: &'static str,
    opml: &'static str,
    feeds_nav: &'static str,
    pages_nav: &'static str,
    /// Followed by the version.
    merged_by: &'static str,
    /// Monday first.
    weekdays: [&'static str; 7],
    months: [&'static str; 12],
}

const ENGLISH: Words = Words {
    everything: "Everything",
    nothing_yet: "Nothing here yet.",
    older: "Older items",
    newest: "Newest items",
    also: "Also reported by:",
    also_in_english: "Also in English:",
    also_in_arabic: "Also in Arabic:",
    list_separator: ", ",
    untitled: "(untitled)",
    subscribe: "Subscribe:",
    sections: "Sections and feeds",
    opml: "Subscriptions (OPML)",
    feeds_nav: "Feeds",
    pages_nav: "Pages",
    merged_by: "Merged by rafid",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
};

const ARABIC: Words = Words {
    everything: "كل الأخبار",
    nothing_yet: "لا أخبار هنا بعد.",
    older: "أخبار أقدم",
    newest: "أحدث الأخبار",
    also: "أوردته أيضًا:",
    also_in_english: "بالإنجليزية أيضًا:",
    also_in_arabic: "بالعربية أيضًا:",
    list_separator: "، ",
    untitled: "(بلا عنوان)",
    subscribe: "اشترك:",
    sections: "الأقسام والخلاصات",
    opml: "قائمة الاشتراكات (OPML)",
    feeds_nav: "الخلاصات",
    pages_nav: "الصفحات",
    merged_by: "جمعها رافد",
    weekdays: [
        "الاثنين",
        "الثلاثاء",
        "الأربعاء",
        "الخميس",
        "الجمعة",
        "السبت",
        "الأحد",
    ],
    months: [
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ],
};

fn words(view: &View<'_>) -> &'static Words {
    if view.config.output.arabic() {
        &ARABIC
    } else {
        &ENGLISH
    }
}

/// Renders one page of the river.
pub(crate) fn page(view: &View<'_>, items: &[Item], page: &Page) -> Vec<u8> {
    let w = words(view);
    let out = &view.config.output;
    let title = view.title();
    let mut h = String::with_capacity(2048 + items.len() * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\" dir=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        escape(&out.lang),
        if out.arabic() { "rtl" } else { "ltr" }
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", escape(&title));
    for f in Format::FEEDS {
        let _ = writeln!(
            h,
            "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
            f.media_type(),
            escape(&title),
            f.label(),
            escape(&view.self_url(f))
        );
    }
    if let Some(next) = page.next {
        let _ = writeln!(
            h,
            "<link rel=\"next\" href=\"{}\">",
            escape(&view.page_url(Format::Html, Some(next)))
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
    let _ = writeln!(h, "<h1 dir=\"auto\">{}</h1>", escape(&title));
    let _ = write!(h, "<p class=\"subscribe\">{}", w.subscribe);
    for f in Format::FEEDS {
        let _ = write!(
            h,
            " <a href=\"{}\" type=\"{}\">{}</a>",
            escape(&view.self_url(f)),
            f.media_type(),
            f.label()
        );
    }
    h.push_str("</p>\n");
    nav(&mut h, view, w);
    h.push_str("</header>\n<main>\n");
    if items.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", w.nothing_yet);
    }
    let mut day = None;
    for item in items {
        let local = out.timezone.to_datetime(timestamp(item.sort_time())).date();
        if day != Some(local) {
            day = Some(local);
            let _ = writeln!(
                h,
                "<h2 class=\"day\"><time datetime=\"{local}\">{}</time></h2>",
                day_heading(w, local)
            );
        }
        article(&mut h, view, w, item);
    }
    let _ = write!(h, "</main>\n<footer>\n<nav aria-label=\"{}\">", w.pages_nav);
    if let Some(next) = page.next {
        let _ = write!(
            h,
            "<a rel=\"next\" href=\"{}\">{}</a>",
            escape(&view.page_url(Format::Html, Some(next))),
            w.older
        );
    }
    if page.before.is_some() {
        let _ = write!(
            h,
            "<a href=\"{}\">{}</a>",
            escape(&view.page_url(Format::Html, None)),
            w.newest
        );
    }
    let _ = writeln!(
        h,
        "</nav>\n<p>{} <span dir=\"ltr\">{}</span></p>\n</footer>\n</body>\n</html>",
        w.merged_by,
        env!("CARGO_PKG_VERSION")
    );
    h.into_bytes()
}

/// A day's heading: "Thursday, 4 December 2026" or «الخميس 4 ديسمبر 2026».
fn day_heading(w: &Words, d: jiff::civil::Date) -> String {
    let weekday = w.weekdays[d.weekday().to_monday_zero_offset() as usize];
    let month = w.months[(d.month() - 1) as usize];
    if std::ptr::eq(w, &ARABIC) {
        format!("{weekday} {} {month} {}", d.day(), d.year())
    } else {
        format!("{weekday}, {} {month} {}", d.day(), d.year())
    }
}

/// chrono's instant as jiff's, which knows the time zones.
fn timestamp(t: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(t.timestamp_millis()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Every scope this page may name (the whole river, each tag, each named
/// river; none guarded by a token its readers do not hold), each with its
/// page and its feeds, and the subscription list. Collapsed: on a phone the
/// list would fill the first screen.
fn nav(h: &mut String, view: &View<'_>, w: &Words) {
    let _ = write!(
        h,
        "<details>\n<summary>{}</summary>\n<nav aria-label=\"{}\">\n<ul>\n",
        w.sections, w.feeds_nav
    );
    for scope in listed_scopes(view.config, view.scope) {
        let label = match &scope {
            Scope::All => w.everything.to_string(),
            Scope::Tag(t) => format!("#{t}"),
            Scope::River(r) => view
                .config
                .river(r)
                .and_then(|r| r.title.clone())
                .unwrap_or_else(|| r.clone()),
        };
        let current = if &scope == view.scope {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<li><a href=\"{}\"{current}><bdi>{}</bdi></a>",
            escape(&view.scope_url(&scope, Format::Html)),
            escape(&label)
        );
        for f in Format::FEEDS {
            let _ = write!(
                h,
                " <a href=\"{}\" type=\"{}\">{}</a>",
                escape(&view.scope_url(&scope, f)),
                f.media_type(),
                f.label()
            );
        }
        h.push_str("</li>\n");
    }
    if let Some(opml) = view.opml_url() {
        let _ = writeln!(
            h,
            "<li><a href=\"{}\" type=\"text/x-opml\">{}</a></li>",
            escape(&opml),
            w.opml
        );
    }
    h.push_str("</ul>\n</nav>\n</details>\n");
}

fn article(h: &mut String, view: &View<'_>, w: &Words, item: &Item) {
    let title = plain_title(item.title.as_deref().unwrap_or(""));
    let full = view.config.output.page_content == PageContent::Full;
    let body = if full {
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        content.or(summary).unwrap_or_default()
    } else {
        excerpt(item, view.config.output.max_item_bytes)
    };
    let text_for_direction = if full {
        html_to_text(&body)
    } else {
        body.clone()
    };
    let dir = direction(
        item.language.as_deref(),
        &format!("{title} {text_for_direction}"),
    );
    h.push_str("<article");
    if let Some(lang) = item.language.as_deref().filter(|l| is_lang_tag(l)) {
        let _ = write!(h, " lang=\"{}\"", escape(lang));
    }
    let _ = writeln!(h, " dir=\"{dir}\">");
    let shown = if title.trim().is_empty() {
        w.untitled.into()
    } else {
        title
    };
    match item
        .link
        .as_deref()
        .and_then(|l| web_url(l, item_base(item)))
    {
        Some(link) => {
            let _ = writeln!(
                h,
                "<h3><a href=\"{}\"><bdi>{}</bdi></a></h3>",
                escape(&link),
                escape(&shown)
            );
        }
        None => {
            let _ = writeln!(h, "<h3><bdi>{}</bdi></h3>", escape(&shown));
        }
    }
    h.push_str("<p class=\"meta\">");
    if let Some(first) = item.sources.first() {
        outlet(h, view, first);
        h.push_str(" · ");
    }
    // Digits and the zone would be reordered inside right-to-left text:
    // the time is its own left-to-right island. The day is the heading's.
    let t = item.sort_time();
    let _ = writeln!(
        h,
        "<time dir=\"ltr\" datetime=\"{}\">{}</time></p>",
        t.to_rfc3339_opts(SecondsFormat::Secs, true),
        shown_time(&view.config.output.timezone, t)
    );
    if full {
        if !body.is_empty() {
            // Sanitized as in the feeds: no script, no handlers, safe URLs.
            let _ = writeln!(h, "<div class=\"content\">{body}</div>");
        }
    } else if !body.is_empty() {
        let _ = writeln!(h, "<p class=\"excerpt\">{}</p>", escape(&body));
    }
    if item.sources.len() > 1 {
        // The label is the page's; inside an article in another language
        // it keeps its own language and direction.
        let page_lang = &view.config.output.lang;
        let same = item
            .language
            .as_deref()
            .is_some_and(|l| primary_subtag(l) == primary_subtag(page_lang));
        if same {
            let _ = write!(h, "<p class=\"also\">{} ", w.also);
        } else {
            let _ = write!(
                h,
                "<p class=\"also\"><bdi lang=\"{}\">{}</bdi> ",
                escape(page_lang),
                w.also
            );
        }
        for (i, s) in item.sources.iter().skip(1).enumerate() {
            if i > 0 {
                h.push_str(w.list_separator);
            }
            outlet(h, view, s);
        }
        h.push_str("</p>\n");
    }
    // The same story in another language: linked in its own language and
    // direction, with the outlet that carried it.
    for t in &item.translations {
        let Some(link) = t.link.as_deref().and_then(|l| web_url(l, None)) else {
            continue;
        };
        let (label, dir) = match t.lang.as_str() {
            "ar" => (w.also_in_arabic, "rtl"),
            _ => (w.also_in_english, "ltr"),
        };
        let _ = write!(
            h,
            "<p class=\"also translation\">{label} <a lang=\"{}\" dir=\"{dir}\" hreflang=\"{}\" href=\"{}\">{}</a>",
            escape(&t.lang),
            escape(&t.lang),
            escape(&link),
            escape(t.title.as_deref().unwrap_or(&link))
        );
        if let Some(source) = &t.source {
            let _ = write!(h, " · <bdi>{}</bdi>", escape(source));
        }
        h.push_str("</p>\n");
    }
    h.push_str("</article>\n");
}

/// An outlet's name, linked to its own copy of the story when it has one.
fn outlet(h: &mut String, view: &View<'_>, s: &crate::model::Source) {
    let name = view.source_title(&s.feed_url, s.feed_title.as_deref());
    match s.item_link.as_deref().and_then(|l| web_url(l, None)) {
        Some(l) => {
            let _ = write!(
                h,
                "<a class=\"source\" href=\"{}\"><bdi>{}</bdi></a>",
                escape(&l),
                escape(&name)
            );
        }
        None => {
            let _ = write!(h, "<bdi class=\"source\">{}</bdi>", escape(&name));
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
    let text = html_to_text(&html);
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

/// The time of day in the page's time zone, with the zone's abbreviation.
fn shown_time(tz: &jiff::tz::TimeZone, t: DateTime<Utc>) -> String {
    let ts = timestamp(t);
    let local = tz.to_datetime(ts);
    let info = tz.to_offset_info(ts);
    format!(
        "{:02}:{:02} {}",
        local.hour(),
        local.minute(),
        info.abbreviation()
    )
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
            if let Some(l) = item
                .link
                .as_deref()
                .and_then(|l| web_url(l, item_base(item)))
            {
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

#[cfg(test)]
mod tests;
