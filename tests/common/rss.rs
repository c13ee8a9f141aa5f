//! Feed documents built in the test, for a local server to hand out: the
//! same items as RSS 2.0 or as Atom.

use chrono::{DateTime, Utc};

/// A feed: a channel and its items, newest wherever the test puts them.
#[derive(Clone, Debug)]
pub struct Feed {
    title: String,
    link: Option<String>,
    language: Option<String>,
    items: Vec<Item>,
}

/// One item. Without a date it has no `pubDate`/`updated` of its own, which
/// keeps the adaptive poll interval out of a test's way.
#[derive(Clone, Debug)]
pub struct Item {
    guid: String,
    /// `isPermaLink="false"`: the guid is a name, not the item's address.
    guid_is_name: bool,
    title: String,
    link: String,
    body: Option<String>,
    date: Option<DateTime<Utc>>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Feed {
    pub fn new(title: &str) -> Feed {
        Feed {
            title: title.to_string(),
            link: None,
            language: None,
            items: Vec::new(),
        }
    }

    /// The site the feed belongs to.
    pub fn link(mut self, link: &str) -> Feed {
        self.link = Some(link.to_string());
        self
    }

    pub fn language(mut self, lang: &str) -> Feed {
        self.language = Some(lang.to_string());
        self
    }

    pub fn item(mut self, item: Item) -> Feed {
        self.items.push(item);
        self
    }

    pub fn items(mut self, items: impl IntoIterator<Item = Item>) -> Feed {
        self.items.extend(items);
        self
    }

    pub fn rss(&self) -> String {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{}</title>",
            esc(&self.title)
        );
        if let Some(link) = &self.link {
            s.push_str(&format!("<link>{}</link>", esc(link)));
        }
        if let Some(lang) = &self.language {
            s.push_str(&format!("<language>{}</language>", esc(lang)));
        }
        s.push('\n');
        for i in &self.items {
            let attr = if i.guid_is_name {
                " isPermaLink=\"false\""
            } else {
                ""
            };
            s.push_str(&format!(
                "<item><guid{attr}>{}</guid><title>{}</title><link>{}</link>",
                esc(&i.guid),
                esc(&i.title),
                esc(&i.link)
            ));
            if let Some(body) = &i.body {
                s.push_str(&format!("<description>{}</description>", esc(body)));
            }
            if let Some(date) = &i.date {
                s.push_str(&format!("<pubDate>{}</pubDate>", date.to_rfc2822()));
            }
            s.push_str("</item>\n");
        }
        s.push_str("</channel></rss>\n");
        s
    }

    pub fn atom(&self) -> String {
        let updated = self
            .items
            .iter()
            .filter_map(|i| i.date)
            .max()
            .unwrap_or(DateTime::UNIX_EPOCH);
        let id = self
            .link
            .clone()
            .unwrap_or_else(|| format!("urn:test:{}", self.title));
        let mut s = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"",
        );
        if let Some(lang) = &self.language {
            s.push_str(&format!(" xml:lang=\"{}\"", esc(lang)));
        }
        s.push_str(&format!(
            "><title>{}</title><id>{}</id><updated>{}</updated>",
            esc(&self.title),
            esc(&id),
            updated.to_rfc3339()
        ));
        if let Some(link) = &self.link {
            s.push_str(&format!("<link href=\"{}\"/>", esc(link)));
        }
        s.push('\n');
        for i in &self.items {
            s.push_str(&format!(
                "<entry><id>{}</id><title>{}</title><link href=\"{}\"/><updated>{}</updated>",
                esc(&i.guid),
                esc(&i.title),
                esc(&i.link),
                i.date.unwrap_or(updated).to_rfc3339()
            ));
            if let Some(body) = &i.body {
                s.push_str(&format!("<summary>{}</summary>", esc(body)));
            }
            s.push_str("</entry>\n");
        }
        s.push_str("</feed>\n");
        s
    }
}

impl Item {
    pub fn new(guid: &str, title: &str, link: &str) -> Item {
        Item {
            guid: guid.to_string(),
            guid_is_name: false,
            title: title.to_string(),
            link: link.to_string(),
            body: None,
            date: None,
        }
    }

    pub fn body(mut self, body: &str) -> Item {
        self.body = Some(body.to_string());
        self
    }

    pub fn guid_is_name(mut self) -> Item {
        self.guid_is_name = true;
        self
    }

    pub fn date(mut self, date: DateTime<Utc>) -> Item {
        self.date = Some(date);
        self
    }
}
