//! The merged feed as Atom 1.0 (RFC 4287), paged as RFC 5005 says.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::config::redact_str;
use crate::model::Item;
use crate::publish::sanitize::{item_base, item_html, plain_title, web_url};
use crate::publish::scope::Format;
use crate::publish::view::{Page, View, generator_version, rfc3339};
use crate::publish::xml::{Xml, paging_links};

pub(crate) fn atom(
    view: &View<'_>,
    items: &[Item],
    updated: DateTime<Utc>,
    page: &Page,
) -> Vec<u8> {
    let mut x = Xml::new();
    x.open("feed", &[("xmlns", "http://www.w3.org/2005/Atom")]);
    x.text("id", &[], &view.feed_id());
    x.text("title", &[("type", "text")], &view.title());
    x.text("updated", &[], &rfc3339(updated));
    x.empty(
        "link",
        &[
            ("rel", "self"),
            ("type", "application/atom+xml"),
            ("href", &view.page_url(Format::Atom, page.before)),
        ],
    );
    paging_links(&mut x, "link", view, Format::Atom, page);
    x.empty(
        "link",
        &[
            ("rel", "alternate"),
            ("type", "text/html"),
            ("href", &view.home_url()),
        ],
    );
    x.open("author", &[]);
    x.text("name", &[], &view.config.output.title);
    x.close("author");
    x.text("generator", &[("version", &generator_version())], "rafid");
    for item in items {
        let lang = item.language.as_deref().unwrap_or("");
        let attrs: &[(&str, &str)] = if lang.is_empty() {
            &[]
        } else {
            &[("xml:lang", lang)]
        };
        x.open("entry", attrs);
        x.text("id", &[], &item.public_id().urn());
        x.text(
            "title",
            &[("type", "text")],
            &plain_title(item.title.as_deref().unwrap_or("")),
        );
        let base = item_base(item);
        let link = item.link.as_deref().and_then(|l| web_url(l, base));
        if let Some(link) = &link {
            x.empty("link", &[("rel", "alternate"), ("href", link)]);
        }
        // Every outlet that carried the story, by its own link to it.
        let mut vias: Vec<Cow<'_, str>> = Vec::new();
        for l in item.sources.iter().filter_map(|s| s.item_link.as_deref()) {
            if let Some(l) = web_url(l, None) {
                if !vias.contains(&l) {
                    vias.push(l);
                }
            }
        }
        for via in &vias {
            x.empty("link", &[("rel", "via"), ("href", via)]);
        }
        // The same story in another language (RFC 4287 §4.2.7.4).
        for t in &item.translations {
            if let Some(href) = t.link.as_deref().and_then(|l| web_url(l, None)) {
                let mut attrs = vec![
                    ("rel", "alternate"),
                    ("type", "text/html"),
                    ("hreflang", t.lang.as_str()),
                    ("href", &*href),
                ];
                if let Some(title) = &t.title {
                    attrs.push(("title", title.as_str()));
                }
                x.empty("link", &attrs);
            }
        }
        for enc in &item.enclosures {
            let Some(href) = web_url(&enc.url, base) else {
                continue;
            };
            let len = enc.length.map(|l| l.to_string());
            let mut a = vec![("rel", "enclosure"), ("href", &*href)];
            if let Some(t) = &enc.mime_type {
                a.push(("type", t));
            }
            if let Some(l) = &len {
                a.push(("length", l));
            }
            x.empty("link", &a);
        }
        if item.published.is_some() {
            x.text("published", &[], &rfc3339(item.sort_time()));
        }
        x.text("updated", &[], &rfc3339(item.updated_shown()));
        for a in &item.authors {
            x.open("author", &[]);
            x.text(
                "name",
                &[],
                if a.name.is_empty() {
                    a.email.as_deref().unwrap_or("")
                } else {
                    &a.name
                },
            );
            if let Some(e) = &a.email {
                x.text("email", &[], e);
            }
            if let Some(u) = a.uri.as_deref().and_then(|u| web_url(u, base)) {
                x.text("uri", &[], &u);
            }
            x.close("author");
        }
        for c in &item.categories {
            let mut a = vec![("term", c.term.as_str())];
            if let Some(s) = &c.scheme {
                a.push(("scheme", s));
            }
            if let Some(l) = &c.label {
                a.push(("label", l));
            }
            x.empty("category", &a);
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        if let Some(s) = &summary {
            x.text("summary", &[("type", "html")], s);
        }
        if let Some(c) = &content {
            x.text("content", &[("type", "html")], c);
        } else if link.is_none() {
            // RFC 4287 4.1.2: an entry with no alternate link must have content.
            x.text("content", &[("type", "text")], "");
        }
        if let Some(src) = item.sources.first() {
            x.open("source", &[]);
            let id = src
                .feed_id
                .clone()
                .unwrap_or_else(|| redact_str(&src.feed_url));
            x.text("id", &[], &id);
            x.text(
                "title",
                &[],
                &view.source_title(&src.feed_url, src.feed_title.as_deref()),
            );
            x.empty(
                "link",
                &[("rel", "self"), ("href", &redact_str(&src.feed_url))],
            );
            if let Some(site) = src.site_url.as_deref().and_then(|u| web_url(u, None)) {
                x.empty("link", &[("rel", "alternate"), ("href", &site)]);
            }
            x.close("source");
        }
        x.close("entry");
    }
    x.close("feed");
    x.finish()
}
