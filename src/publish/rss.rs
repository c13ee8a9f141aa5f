//! The merged feed as RSS 2.0, with the Atom, content and Dublin Core
//! extensions it needs for paging, full content and authors.

use chrono::{DateTime, Utc};

use crate::config::redact_str;
use crate::model::Item;
use crate::publish::sanitize::{item_base, item_html, plain_title, web_url};
use crate::publish::scope::Format;
use crate::publish::view::{Page, View, generator_version};
use crate::publish::xml::{Xml, paging_links};

fn rfc822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub(crate) fn rss(view: &View<'_>, items: &[Item], updated: DateTime<Utc>, page: &Page) -> Vec<u8> {
    let mut x = Xml::new();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
            ("xmlns:content", "http://purl.org/rss/1.0/modules/content/"),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
        ],
    );
    x.open("channel", &[]);
    x.text("title", &[], &view.title());
    x.text("link", &[], &view.home_url());
    x.text("description", &[], &view.title());
    x.empty(
        "atom:link",
        &[
            ("rel", "self"),
            ("type", "application/rss+xml"),
            ("href", &view.page_url(Format::Rss, page.before)),
        ],
    );
    paging_links(&mut x, "atom:link", view, Format::Rss, page);
    // A channel language only when every item shares it.
    let mut langs = items.iter().map(|i| i.language.as_deref());
    if let Some(Some(first)) = langs.next() {
        if langs.all(|l| l == Some(first)) {
            x.text("language", &[], first);
        }
    }
    x.text("lastBuildDate", &[], &rfc822(updated));
    x.text("generator", &[], &format!("rafid {}", generator_version()));
    for item in items {
        x.open("item", &[]);
        x.text(
            "title",
            &[],
            &plain_title(item.title.as_deref().unwrap_or("")),
        );
        let base = item_base(item);
        if let Some(link) = item.link.as_deref().and_then(|l| web_url(l, base)) {
            x.text("link", &[], &link);
        }
        x.text("guid", &[("isPermaLink", "false")], &item.public_id().urn());
        x.text("pubDate", &[], &rfc822(item.sort_time()));
        for a in &item.authors {
            let name = if a.name.is_empty() {
                a.email.as_deref().unwrap_or("")
            } else {
                &a.name
            };
            x.text("dc:creator", &[], name);
        }
        for c in &item.categories {
            match &c.scheme {
                Some(s) => x.text("category", &[("domain", s)], &c.term),
                None => x.text("category", &[], &c.term),
            }
        }
        // RSS 2.0 allows one enclosure per item; the first is kept here and
        // every one is in the Atom and JSON outputs.
        let enclosure = item
            .enclosures
            .iter()
            .find_map(|e| Some((e, web_url(&e.url, base)?)));
        if let Some((enc, url)) = enclosure {
            let len = enc.length.unwrap_or(0).to_string();
            x.empty(
                "enclosure",
                &[
                    ("url", &url),
                    ("length", &len),
                    (
                        "type",
                        enc.mime_type
                            .as_deref()
                            .unwrap_or("application/octet-stream"),
                    ),
                ],
            );
        }
        if let Some(lang) = &item.language {
            x.text("dc:language", &[], lang);
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        if let Some(d) = summary.as_ref().or(content.as_ref()) {
            x.text("description", &[], d);
        }
        if let Some(c) = &content {
            x.text("content:encoded", &[], c);
        }
        if let Some(src) = item.sources.first() {
            x.text(
                "source",
                &[("url", &redact_str(&src.feed_url))],
                &view.source_title(&src.feed_url, src.feed_title.as_deref()),
            );
        }
        x.close("item");
    }
    x.close("channel");
    x.close("rss");
    x.finish()
}
