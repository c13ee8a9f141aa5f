//! Where outputs live and what each shows: the formats, the scopes (the
//! whole river, a tag, a named river), their URLs and tokens, and whether
//! an item belongs in one.

use url::Url;

use crate::config::Config;
use crate::model::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Rss,
    Json,
    /// The river page: readable HTML.
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Atom, Format::Rss, Format::Json, Format::Html];
    /// The formats feed readers subscribe to.
    pub const FEEDS: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
            Format::Html => "html",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "atom" => Some(Format::Atom),
            "rss" => Some(Format::Rss),
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The bare media type, for `type` attributes of links.
    pub fn media_type(self) -> &'static str {
        self.content_type()
            .split(';')
            .next()
            .unwrap_or(self.content_type())
    }

    /// How people call the format, for links on the river page.
    pub fn label(self) -> &'static str {
        match self {
            Format::Atom => "Atom",
            Format::Rss => "RSS",
            Format::Json => "JSON Feed",
            Format::Html => "Page",
        }
    }
}

/// Which items a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Tag(String),
    /// A named river (`[[river]]`).
    River(String),
}

impl Scope {
    /// The path of this scope's output under `base_url`: the river page of
    /// everything is the root.
    pub fn path(&self, format: Format) -> String {
        match self {
            Scope::All if format == Format::Html => String::new(),
            Scope::All => format!("feed.{}", format.extension()),
            Scope::Tag(t) => format!("tags/{}.{}", path_segment(t), format.extension()),
            Scope::River(r) => format!("rivers/{}.{}", path_segment(r), format.extension()),
        }
    }
}

/// What a path segment cannot carry as is: a form encoder's `+` for a
/// space would reach the server as a plus sign, so a tag with a space or
/// `&` needs percent-encoding as RFC 3986 writes it (`%20`, `%26`); the
/// server's path extractor decodes it back.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one URL path segment.
pub fn path_segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// Every scope a river page lists, the whole river first, then each tag
/// in name order.
pub fn scopes(config: &Config) -> Vec<Scope> {
    let tags: std::collections::BTreeSet<&str> = config
        .feeds
        .iter()
        .flat_map(|f| f.tags.iter().map(String::as_str))
        .collect();
    std::iter::once(Scope::All)
        .chain(tags.into_iter().map(|t| Scope::Tag(t.to_string())))
        .chain(config.rivers().iter().map(|r| Scope::River(r.name.clone())))
        .collect()
}

/// The token a scope is guarded by, if any: a river's own, and
/// `output.token` for the main feed and the tag feeds (which show its items).
pub fn token_of<'c>(config: &'c Config, scope: &Scope) -> Option<&'c crate::config::Secret> {
    match scope {
        Scope::All | Scope::Tag(_) => config.output.token.as_ref(),
        Scope::River(name) => config.river(name).and_then(|r| r.token.as_ref()),
    }
}

/// Whether anyone may read a scope, and so list it, link to it or tell a
/// WebSub hub about it.
pub fn is_public(config: &Config, scope: &Scope) -> bool {
    token_of(config, scope).is_none()
}

/// The scopes the page of `current` may name: the public ones, and those
/// guarded by the very token its readers hold. A private river is never
/// named on a page that does not carry its token.
pub fn listed_scopes(config: &Config, current: &Scope) -> Vec<Scope> {
    let held = token_of(config, current);
    scopes(config)
        .into_iter()
        .filter(|s| match token_of(config, s) {
            None => true,
            Some(t) => held == Some(t),
        })
        .collect()
}

/// `url` with one more query parameter (form-encoded).
pub(crate) fn with_param(url: &str, key: &str, value: &str) -> String {
    let pair = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{pair}")
}

/// Where the output of `scope` in `format` is served, under `base_url`.
pub fn feed_url(config: &Config, scope: &Scope, format: Format) -> String {
    join(&config.server.base_url, &scope.path(format))
}

pub(crate) fn join(base: &Url, path: &str) -> String {
    base.join(path)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{base}{path}"))
}

/// Whether an item belongs in a scope: tags are the item's feeds' tags as
/// the config says now.
pub fn in_scope(config: &Config, scope: &Scope, item: &Item) -> bool {
    match scope {
        Scope::All => true,
        Scope::Tag(tag) => item.sources.iter().any(|s| {
            config
                .feed(&s.feed_url)
                .is_some_and(|f| f.tags.iter().any(|t| t == tag))
        }),
        Scope::River(name) => config
            .river(name)
            .is_some_and(|r| in_river(config, r, item)),
    }
}

/// Whether a river shows an item: one of its feeds carries it and the
/// river's rules keep it.
pub fn in_river(config: &Config, river: &crate::config::RiverConfig, item: &Item) -> bool {
    let from_its_feeds = river.tags.is_empty()
        || item.sources.iter().any(|s| {
            config
                .feed(&s.feed_url)
                .is_some_and(|f| f.tags.iter().any(|t| river.tags.contains(t)))
        });
    from_its_feeds && river.rules.keeps_item(item)
}
