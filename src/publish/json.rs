//! The merged feed as JSON Feed 1.1, with rafid's own `_rafid` extension
//! listing every outlet that carried a story.

use serde_json::{Map, Value, json};

use crate::config::redact_str;
use crate::model::Item;
use crate::publish::sanitize::{item_base, item_html, plain_title, web_url};
use crate::publish::scope::Format;
use crate::publish::view::{Page, View, rfc3339};

pub(crate) fn json_feed(view: &View<'_>, items: &[Item], page: &Page) -> Vec<u8> {
    let mut out_items = Vec::with_capacity(items.len());
    for item in items {
        let mut o = Map::new();
        o.insert("id".into(), json!(item.public_id().urn()));
        let base = item_base(item);
        if let Some(l) = item.link.as_deref().and_then(|l| web_url(l, base)) {
            o.insert("url".into(), json!(l));
        }
        if let Some(t) = &item.title {
            o.insert("title".into(), json!(plain_title(t)));
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        match (&content, &summary) {
            (Some(c), _) => {
                o.insert("content_html".into(), json!(c));
            }
            (None, Some(s)) => {
                o.insert("content_html".into(), json!(s));
            }
            (None, None) => {
                o.insert("content_text".into(), json!(""));
            }
        }
        if let (Some(_), Some(s)) = (&content, &summary) {
            o.insert("summary".into(), json!(crate::text::html_to_text(s)));
        }
        o.insert("date_published".into(), json!(rfc3339(item.sort_time())));
        if item.updated.is_some() {
            o.insert("date_modified".into(), json!(rfc3339(item.updated_shown())));
        }
        if !item.authors.is_empty() {
            let authors: Vec<Value> = item
                .authors
                .iter()
                .map(|a| {
                    let mut m = Map::new();
                    let name = if a.name.is_empty() {
                        a.email.clone().unwrap_or_default()
                    } else {
                        a.name.clone()
                    };
                    m.insert("name".into(), json!(name));
                    if let Some(u) = a.uri.as_deref().and_then(|u| web_url(u, base)) {
                        m.insert("url".into(), json!(u));
                    }
                    Value::Object(m)
                })
                .collect();
            o.insert("authors".into(), Value::Array(authors));
        }
        if !item.categories.is_empty() {
            let tags: Vec<&str> = item.categories.iter().map(|c| c.term.as_str()).collect();
            o.insert("tags".into(), json!(tags));
        }
        if let Some(l) = &item.language {
            o.insert("language".into(), json!(l));
        }
        let enclosures: Vec<_> = item
            .enclosures
            .iter()
            .filter_map(|e| Some((e, web_url(&e.url, base)?)))
            .collect();
        if !enclosures.is_empty() {
            let att: Vec<Value> = enclosures
                .iter()
                .map(|(e, url)| {
                    let mut m = Map::new();
                    m.insert("url".into(), json!(url));
                    m.insert(
                        "mime_type".into(),
                        json!(e.mime_type.as_deref().unwrap_or("application/octet-stream")),
                    );
                    if let Some(len) = e.length {
                        m.insert("size_in_bytes".into(), json!(len));
                    }
                    Value::Object(m)
                })
                .collect();
            o.insert("attachments".into(), Value::Array(att));
        }
        let sources: Vec<Value> = item
            .sources
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert(
                    "title".into(),
                    json!(view.source_title(&s.feed_url, s.feed_title.as_deref())),
                );
                m.insert("feed_url".into(), json!(redact_str(&s.feed_url)));
                if let Some(h) = s.site_url.as_deref().and_then(|u| web_url(u, None)) {
                    m.insert("home_page_url".into(), json!(h));
                }
                if let Some(l) = s.item_link.as_deref().and_then(|u| web_url(u, None)) {
                    m.insert("url".into(), json!(l));
                }
                Value::Object(m)
            })
            .collect();
        // The outlets besides the first that carried the same story.
        let also: Vec<Value> = sources.iter().skip(1).cloned().collect();
        // The same story in another language, linked rather than merged.
        let translations: Vec<Value> = item
            .translations
            .iter()
            .filter_map(|t| {
                let url = t.link.as_deref().and_then(|l| web_url(l, None))?;
                Some(json!({
                    "url": url,
                    "lang": t.lang,
                    "title": t.title,
                    "source": t.source,
                }))
            })
            .collect();
        let mut ext = json!({ "sources": sources, "also_reported_by": also });
        if !translations.is_empty() {
            ext["translations"] = Value::Array(translations);
        }
        o.insert("_rafid".into(), ext);
        out_items.push(Value::Object(o));
    }
    let mut feed = Map::new();
    feed.insert("version".into(), json!("https://jsonfeed.org/version/1.1"));
    feed.insert("title".into(), json!(view.title()));
    feed.insert("home_page_url".into(), json!(view.home_url()));
    feed.insert(
        "feed_url".into(),
        json!(view.page_url(Format::Json, page.before)),
    );
    if let Some(next) = page.next {
        feed.insert(
            "next_url".into(),
            json!(view.page_url(Format::Json, Some(next))),
        );
    }
    if let Some(hub) = &view.config.websub.hub {
        feed.insert(
            "hubs".into(),
            json!([{ "type": "WebSub", "url": hub.as_str() }]),
        );
    }
    let mut langs = items.iter().map(|i| i.language.as_deref());
    if let Some(Some(first)) = langs.next() {
        if langs.all(|l| l == Some(first)) {
            feed.insert("language".into(), json!(first));
        }
    }
    feed.insert(
        "_rafid".into(),
        json!({ "about": "https://github.com/rafid-aggregator/rafid", "id": view.feed_id() }),
    );
    feed.insert("items".into(), Value::Array(out_items));
    let mut out = serde_json::to_vec_pretty(&Value::Object(feed)).unwrap_or_default();
    out.push(b'\n');
    out
}
