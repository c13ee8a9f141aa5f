//! The subscription list as OPML 2.0, both ways: written for `/opml` and
//! `rafid feeds export`, read for `rafid feeds import`.

use std::collections::HashMap;

use crate::config::{Config, redact_str};
use crate::publish::xml::Xml;
use crate::store::Store;

/// One feed an OPML document lists: its URL, its own title, and the tags
/// its folders and categories give it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpmlFeed {
    pub url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

/// The subscription list as OPML 2.0: one `<outline>` per feed, inside
/// nested folder outlines for its tags (`news`, then `ar` inside it, for
/// `tags = ["news", "ar"]`: importing gives the same tags back), secrets in
/// URLs redacted (see `config::redact_url`).
pub fn opml(config: &Config) -> Vec<u8> {
    opml_with(config, &HashMap::new(), false)
}

/// The feeds' own titles, as their polls found them (`FeedState::title`),
/// by feed key: what the subscription list shows for a feed the config
/// gives no title.
pub fn own_titles(store: &Store) -> HashMap<String, String> {
    store
        .feed_states()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, s)| Some((k, s.title?)))
        .collect()
}

/// `opml` naming an untitled feed by its own title from `own` (see
/// `own_titles`), else by its URL; with `configured`, each feed's URL as
/// configured, secrets and all: only for whoever holds the admin token.
pub fn opml_with(config: &Config, own: &HashMap<String, String>, configured: bool) -> Vec<u8> {
    let mut x = Xml::new();
    x.open("opml", &[("version", "2.0")]);
    x.open("head", &[]);
    x.text("title", &[], &config.output.title);
    x.close("head");
    x.open("body", &[]);
    // Folders, and feeds within them, in the order they first appear.
    #[derive(Default)]
    struct Folder<'a> {
        entries: Vec<(&'a str, Option<Folder<'a>>, usize)>,
    }
    fn insert<'a>(folder: &mut Folder<'a>, path: &'a [String], i: usize) {
        let Some((tag, rest)) = path.split_first() else {
            folder.entries.push(("", None, i));
            return;
        };
        let found = folder
            .entries
            .iter()
            .position(|(name, sub, _)| sub.is_some() && *name == tag.as_str());
        let at = found.unwrap_or_else(|| {
            folder.entries.push((tag, Some(Folder::default()), 0));
            folder.entries.len() - 1
        });
        // The entry found or pushed is a folder.
        if let Some(sub) = folder.entries[at].1.as_mut() {
            insert(sub, rest, i);
        }
    }
    let mut root = Folder::default();
    for (i, f) in config.feeds.iter().enumerate() {
        insert(&mut root, &f.tags, i);
    }
    let url_of = |f: &crate::config::FeedConfig| {
        if configured {
            f.key().to_string()
        } else {
            redact_str(f.key())
        }
    };
    fn write(
        x: &mut Xml,
        folder: &Folder<'_>,
        config: &Config,
        own: &HashMap<String, String>,
        url_of: &dyn Fn(&crate::config::FeedConfig) -> String,
    ) {
        for (name, sub, i) in &folder.entries {
            match sub {
                Some(sub) => {
                    x.open("outline", &[("text", name), ("title", name)]);
                    write(x, sub, config, own, url_of);
                    x.close("outline");
                }
                None => {
                    let f = &config.feeds[*i];
                    let url = url_of(f);
                    let title = f
                        .title
                        .clone()
                        .or_else(|| own.get(f.key()).cloned())
                        .unwrap_or_else(|| url.clone());
                    x.empty(
                        "outline",
                        &[
                            ("type", "rss"),
                            ("text", title.as_str()),
                            ("title", title.as_str()),
                            ("xmlUrl", url.as_str()),
                        ],
                    );
                }
            }
        }
    }
    write(&mut x, &root, config, own, &url_of);
    x.close("body");
    x.close("opml");
    x.finish()
}

/// The feeds of an OPML document: every `<outline>` with an `xmlUrl`; the
/// `text` (or `title`) of the outlines around it become its tags, then the
/// tags of its `category` attribute.
pub fn read_opml(xml: &str) -> Result<Vec<OpmlFeed>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    let mut saw_opml = false;
    // Open elements and where they start: a document that ends with any
    // still open is cut short, and importing part of it would be silent loss.
    let mut open: Vec<(String, u64)> = Vec::new();
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            let (line, col) = line_col(xml, reader.error_position());
            format!("not OPML: {e} (line {line}, column {col})")
        })?;
        let (start, empty) = match &event {
            Event::Start(e) => {
                open.push((String::from_utf8_lossy(e.name().as_ref()).into_owned(), at));
                (e, false)
            }
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                open.pop();
                if e.name().as_ref() == b"outline" {
                    folders.pop();
                }
                continue;
            }
            Event::Eof => {
                if let Some((name, at)) = open.last() {
                    let (line, col) = line_col(xml, *at);
                    return Err(format!(
                        "not OPML: the document ends with <{name}> (line {line}, column {col}) still open; is the file cut short?"
                    ));
                }
                break;
            }
            _ => continue,
        };
        match start.name().as_ref() {
            b"opml" => saw_opml = true,
            b"outline" => {
                let mut attr = std::collections::HashMap::new();
                for a in start.attributes().flatten() {
                    let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let v = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| {
                            let (line, col) = line_col(xml, at);
                            format!(
                                "not OPML: the <outline> at line {line}, column {col}: attribute {k}: {e}"
                            )
                        })?
                        .into_owned();
                    attr.insert(k, v);
                }
                let name = attr
                    .get("text")
                    .or_else(|| attr.get("title"))
                    .filter(|s| !s.trim().is_empty())
                    .cloned();
                if let Some(url) = attr.get("xmlUrl").filter(|u| !u.trim().is_empty()) {
                    let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
                    for c in attr.get("category").into_iter().flat_map(|c| c.split(',')) {
                        // OPML categories may be paths ("/news/world"): each part a tag.
                        for part in c.split('/').map(str::trim).filter(|p| !p.is_empty()) {
                            if !tags.iter().any(|t| t == part) {
                                tags.push(part.to_string());
                            }
                        }
                    }
                    // rafid's own export names an untitled feed by its URL.
                    let title = attr
                        .get("title")
                        .or(name.as_ref())
                        .filter(|t| *t != url)
                        .cloned();
                    feeds.push(OpmlFeed {
                        url: url.trim().to_string(),
                        title,
                        tags,
                    });
                    if !empty {
                        folders.push(None);
                    }
                } else if !empty {
                    folders.push(name);
                }
            }
            _ => {}
        }
    }
    if !saw_opml {
        return Err("not OPML: no <opml> element".into());
    }
    Ok(feeds)
}

/// The line and column (both from 1, columns in characters) of byte `at`.
fn line_col(text: &str, at: u64) -> (usize, usize) {
    let mut at = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A malformed file is refused, not imported in part.
    #[test]
    fn malformed_opml_is_refused_with_the_error_and_where() {
        let feed = r#"<outline text="a" xmlUrl="https://a.example/f"/>"#;
        let cases = [
            (
                format!("<opml version=\"2.0\">\n<body>\n{feed}\n"),
                "<body> (line 2, column 1) still open",
            ),
            (
                format!("<opml version=\"2.0\"><body>\n<outline text=\"x\">{feed}</body></opml>"),
                "(line 2,",
            ),
            (
                format!(
                    "<opml version=\"2.0\"><body>{feed}\n  <outline text=\"b\" xmlUrl=\"https://b.example/?a=1&b=2\"/></body></opml>"
                ),
                "the <outline> at line 2, column 3: attribute xmlUrl",
            ),
        ];
        for (doc, expect) in cases {
            let e = read_opml(&doc).unwrap_err();
            assert!(e.starts_with("not OPML: "), "{e}");
            assert!(e.contains(expect), "{expect:?} not in {e:?}");
        }
    }

    #[test]
    fn opml_folders_become_tags() {
        let xml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="أخبار">
    <outline text="Daily" title="Daily" type="rss" xmlUrl="https://a.example/f?x=1&amp;y=2"/>
    <outline text="World"><outline text="https://b.example/f" xmlUrl="https://b.example/f" category="extra,أخبار"/></outline>
  </outline>
  <outline text="Loose" xmlUrl="https://c.example/f"/>
</body></opml>"#;
        let feeds = read_opml(xml).unwrap();
        assert_eq!(
            feeds,
            vec![
                OpmlFeed {
                    url: "https://a.example/f?x=1&y=2".into(),
                    title: Some("Daily".into()),
                    tags: vec!["أخبار".into()],
                },
                OpmlFeed {
                    url: "https://b.example/f".into(),
                    title: None,
                    tags: vec!["أخبار".into(), "World".into(), "extra".into()],
                },
                OpmlFeed {
                    url: "https://c.example/f".into(),
                    title: Some("Loose".into()),
                    tags: vec![],
                },
            ]
        );
        assert!(read_opml("<html></html>").is_err());
    }
}
