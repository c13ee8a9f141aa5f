//! The subscription list as OPML 2.0, both ways: written for `/opml` and
//! `rafid feeds export`, read for `rafid feeds import`.

use std::collections::HashMap;

use crate::config::{Config, redact_str};
use crate::publish::xml::Xml;
use crate::store::Store;

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
