//! What the serializers and the river page share about one rendering: the
//! view (config, store, scope) with its titles and URLs, and where a page
//! sits in its paged feed.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::{Config, redact_str};
use crate::model::{Item, ItemId};
use crate::publish::scope::{Format, Scope, feed_url, join, token_of, with_param};

/// Where a page of a paged feed starts: just after (older than) the item
/// with this sort time and id. Written in URLs as `MILLIS-IDHEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub time_ms: i64,
    pub id: ItemId,
}

impl Cursor {
    /// The cursor of the page after the one that ends with `item`.
    pub fn after(item: &Item) -> Cursor {
        Cursor {
            time_ms: item.sort_time().timestamp_millis(),
            id: item.id,
        }
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        // From the right: a time before 1970 is negative.
        let (ms, id) = s.rsplit_once('-')?;
        let c = Cursor {
            time_ms: ms.parse().ok()?,
            id: ItemId::from_hex(id)?,
        };
        // A time no item can have is no cursor (rather than the first page).
        c.bound().map(|_| c)
    }

    pub(crate) fn bound(self) -> Option<(DateTime<Utc>, ItemId)> {
        Some((DateTime::from_timestamp_millis(self.time_ms)?, self.id))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.time_ms, self.id.to_hex())
    }
}

/// Where one rendered page sits in its paged feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// `None` for the first (newest) page.
    pub before: Option<Cursor>,
    /// The next older page, when there are older items.
    pub next: Option<Cursor>,
}

/// What a rendering needs besides the items.
pub struct View<'a> {
    pub config: &'a Config,
    pub store_id: [u8; 16],
    pub scope: &'a Scope,
    /// The date of a page with no items (`Store::created`).
    pub since: DateTime<Utc>,
}

impl View<'_> {
    pub(crate) fn title(&self) -> String {
        match self.scope {
            Scope::All => self.config.output.title.clone(),
            Scope::River(r) => match self.config.river(r).and_then(|r| r.title.as_deref()) {
                Some(title) => title.to_string(),
                None => format!("{} — {r}", self.config.output.title),
            },
            Scope::Tag(t) => format!("{} — {t}", self.config.output.title),
        }
    }

    pub(crate) fn self_url(&self, format: Format) -> String {
        self.scope_url(self.scope, format)
    }

    /// Where a scope's output is served; a guarded scope's URL carries its
    /// token, so that the links a reader of it follows resolve.
    pub(crate) fn scope_url(&self, scope: &Scope, format: Format) -> String {
        let url = feed_url(self.config, scope, format);
        match token_of(self.config, scope) {
            Some(t) => with_param(&url, "token", &t.0),
            None => url,
        }
    }

    /// The URL of the page of this scope that starts after `cursor`.
    pub(crate) fn page_url(&self, format: Format, cursor: Option<Cursor>) -> String {
        match cursor {
            None => self.self_url(format),
            Some(c) => with_param(&self.self_url(format), "before", &c.to_string()),
        }
    }

    pub(crate) fn home_url(&self) -> String {
        self.self_url(Format::Html)
    }

    /// The subscription list, guarded like the main feed; `None` when this
    /// page's readers may not see it.
    pub(crate) fn opml_url(&self) -> Option<String> {
        let url = join(&self.config.server.base_url, "opml");
        match &self.config.output.token {
            None => Some(url),
            Some(t) if token_of(self.config, self.scope) == Some(t) => {
                Some(with_param(&url, "token", &t.0))
            }
            Some(_) => None,
        }
    }

    /// A feed id that stays the same for this store and scope wherever rafid
    /// is served from.
    pub(crate) fn feed_id(&self) -> String {
        let scope = match self.scope {
            Scope::All => String::new(),
            Scope::Tag(t) => format!("tag:{t}"),
            Scope::River(r) => format!("river:{r}"),
        };
        let d = crate::text::normalize::digest(&[&self.store_id, scope.as_bytes()]);
        crate::model::ItemId(d).urn()
    }

    /// The name a source feed is shown under: the config's title, else the
    /// feed's own, else its (redacted) URL.
    pub(crate) fn source_title(&self, feed_url: &str, own: Option<&str>) -> String {
        self.config
            .feed(feed_url)
            .and_then(|f| f.title.clone())
            .or_else(|| own.map(str::to_string))
            .unwrap_or_else(|| redact_str(feed_url))
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn generator_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
