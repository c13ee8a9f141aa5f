//! The config file: TOML → `RawConfig` (serde, mirrors the file, unknown
//! keys rejected) → `Config` (validated: URLs parsed, durations and sizes
//! read, secrets resolved). Every error names `file:line:column`.
//!
//! This file holds the validated types and how a config is found and
//! loaded; `read` turns text into the raw schema (`raw`), `validate` checks
//! it table by table, `diagnostic` words the errors, `secret` reads
//! credentials and `redact` keeps them out of what rafid shows.

mod diagnostic;
mod raw;
mod read;
mod redact;
mod secret;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::rules::SharedRules;

pub use diagnostic::{ConfigError, Diagnostic};
pub use redact::{redact_str, redact_url};
pub use secret::{Secret, resolve_secret};
pub use validate::{MIN_ADMIN_TOKEN, is_valid_tag};

/// Where the config is looked for when neither `-c` nor `$RAFID_CONFIG` says.
pub const DEFAULT_PATHS: &[&str] = &["config/rafid.toml", "/etc/rafid/rafid.toml"];

/// Items taken from one response at most (the newest), so that one huge
/// feed cannot flood the store.
pub const DEFAULT_MAX_ITEMS_PER_FETCH: usize = 1000;

/// The default User-Agent: names rafid, its version and where to read about it.
pub fn default_user_agent() -> String {
    format!(
        "rafid/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    )
}

/// `server.base_url` unless set: rafid as reached at `listen` itself.
pub fn default_base_url(listen: SocketAddr) -> Url {
    // Any socket address makes a valid authority, in brackets for IPv6.
    Url::parse(&format!("http://{listen}/"))
        .unwrap_or_else(|_| unreachable!("http://{listen}/ is a URL"))
}

/// `storage.cache` unless set: bytes of sled's page cache. sled's own
/// default (1 GiB) is far more than a feed store needs, and sled holds
/// about three times what it counts: polling the 10,000-feed bench farm
/// peaked 47 MB lower with 24 MiB than with 64 MiB, and no slower, since a
/// poll touches each feed's items once and the published pages have a
/// cache of their own.
pub const DEFAULT_CACHE_BYTES: u64 = 16 << 20;

/// The config in force in a running daemon: replaced as a whole on reload.
/// Readers take `borrow().clone()` (an `Arc`) and keep it for one request
/// or one poll, so a reload never changes a config under their feet.
pub type Live = tokio::sync::watch::Receiver<std::sync::Arc<Config>>;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this config was read from.
    pub path: PathBuf,
    /// A digest of the text this config was read from. The outputs the
    /// daemon saved under one text are served at its next start only if
    /// the text is the same (`publish::saved`).
    pub text_digest: [u8; 16],
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub poll: PollConfig,
    pub output: OutputConfig,
    pub dedup: DedupConfig,
    pub feeds: Vec<FeedConfig>,
    pub websub: WebsubConfig,
    /// Named rivers, in config order; names are unique.
    pub rivers: Vec<RiverConfig>,
    /// What is looked up by feed on every poll and every rendered item,
    /// built on first use.
    pub(crate) lookups: Lookups,
}

/// Lookups derived from a config, so that a poll, or an item rendered into
/// a tag's feed, costs the same with 10,000 feeds as with 10: by walking
/// `feeds` instead, every poll cost time in proportion to the number of
/// feeds, and a cold poll of them all in proportion to its square.
///
/// Built once, on first use, from the config as it is then. A config is
/// not changed once in force (readers share it through an `Arc`); one
/// changed after its first lookup (tests do) is still read right: a feed
/// is found by walking `feeds` whenever the index does not hold it
/// (`Config::feed`). A clone starts with none.
#[derive(Default)]
pub(crate) struct Lookups(std::sync::OnceLock<Derived>);

struct Derived {
    /// Each feed's place in `feeds`, by URL.
    by_url: std::collections::HashMap<String, usize>,
    near: crate::dedup::near::NearDup,
    priorities: std::sync::Arc<crate::store::Priorities>,
}

impl Clone for Lookups {
    fn clone(&self) -> Lookups {
        Lookups::default()
    }
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lookups")
    }
}

/// A named river: a merged feed of its own, served at `/rivers/{name}.*`.
#[derive(Debug, Clone)]
pub struct RiverConfig {
    /// Letters, digits, '-' and '_' only: usable as is in a URL path.
    pub name: String,
    /// Draws on the feeds with any of these tags; empty: on every feed.
    pub tags: Vec<String>,
    pub rules: SharedRules,
    /// Shown instead of the name in the river's feeds and page.
    pub title: Option<String>,
    /// When set, the river is served only to requests that carry it, and
    /// listed on no page that does not.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Always ends with '/', so relative paths join under any prefix.
    pub base_url: Url,
    pub admin_token: Option<Secret>,
    /// A client must have sent its whole request within this long of its
    /// first byte, or the connection is closed (slow-header clients).
    pub read_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

/// `[websub]`: the hub rafid's feeds advertise and tell about changes.
#[derive(Debug, Clone, Default)]
pub struct WebsubConfig {
    pub hub: Option<Url>,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The state directory: the sled store lives in `path/store`.
    pub path: PathBuf,
    pub max_age: Option<Duration>,
    pub max_items_per_feed: Option<u64>,
    pub max_items: Option<u64>,
    /// Bytes of sled's page cache.
    pub cache: u64,
    pub backend: StorageBackend,
}

/// Where the store's records are kept (`storage.backend`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StorageBackend {
    /// In sled, in `storage.path/store`.
    #[default]
    Sled,
    /// In a PostgreSQL database several rafid processes may share, read
    /// from a replica in `storage.path/replica` (`store::postgres`).
    Postgres { url: Secret },
}

#[derive(Debug, Clone)]
pub struct PollConfig {
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub user_agent: String,
    pub concurrency: usize,
    pub per_host: usize,
    pub max_body: u64,
    pub max_items_per_fetch: usize,
    /// Whether this process polls at all: a process that only publishes a
    /// store other processes poll sets it false.
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub title: String,
    pub max_items: usize,
    /// The language of the river page's own words: a tag whose primary
    /// subtag is "ar" or "en", the two languages it has labels in.
    pub lang: String,
    /// Where the river page's days begin and end, and its times are told.
    pub timezone: jiff::tz::TimeZone,
    pub page_content: PageContent,
    /// When set, the main feed, its page, the tag feeds and `/opml` are
    /// served only to requests that carry it.
    pub token: Option<Secret>,
    /// What one item's content (and, apart, its summary) may carry into an
    /// output; past it the HTML is cut at an element boundary and ends with
    /// a link to the original. The store keeps everything.
    pub max_item_bytes: usize,
}

impl OutputConfig {
    /// Whether the river page speaks Arabic (else English).
    pub fn arabic(&self) -> bool {
        self.lang.split('-').next() == Some("ar")
    }
}

/// What the river page shows of each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageContent {
    /// A plain-text excerpt of a few lines.
    Summary,
    /// The whole content, sanitized as in the feeds.
    Full,
}

/// `storage.max_items_per_feed` unless set: a feed that invents new items
/// on every poll cannot fill the disk.
pub const DEFAULT_MAX_ITEMS_PER_FEED: u64 = 10_000;

/// `output.max_item_bytes` unless set: roomy for any article, small enough
/// that one huge item cannot make every render slow.
pub const DEFAULT_MAX_ITEM_BYTES: usize = 256 << 10;

#[derive(Debug, Clone)]
pub struct DedupConfig {
    pub near_duplicates: bool,
    pub window: Duration,
    /// The resemblance two items need to be one story (0 < t <= 1).
    pub threshold: f64,
    /// Line openings that mark boilerplate lines, ignored when comparing.
    pub boilerplate: Vec<String>,
    /// Whether an Arabic story and an English one that report the same
    /// event link to each other (see `dedup::near::xling`).
    pub cross_language: bool,
    /// The Arabic–English dictd database the cross-language decision reads
    /// words through (see `dedup::near::xling`).
    pub dictionary: std::path::PathBuf,
}

impl Default for DedupConfig {
    fn default() -> DedupConfig {
        DedupConfig {
            near_duplicates: true,
            window: Duration::from_secs(72 * 3600),
            threshold: crate::dedup::near::DEFAULT_THRESHOLD,
            boilerplate: crate::dedup::near::DEFAULT_BOILERPLATE
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cross_language: false,
            dictionary: crate::dedup::near::xling::DEFAULT_DICTIONARY.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub url: Url,
    pub title: Option<String>,
    pub tags: Vec<String>,
    /// Pins the feed's interval when set.
    pub interval: Option<Duration>,
    pub enabled: bool,
    /// Whether the feed's items take part in near-duplicate detection.
    pub dedup: bool,
    /// Which outlet's copy a merged story shows when none of its members
    /// links to its own site: the highest wins (see `store::shown`).
    pub priority: i32,
    pub headers: Vec<(String, Secret)>,
    pub auth: Option<(String, Secret)>,
    /// Decide which of the feed's items are stored; `None`: all of them.
    pub rules: Option<SharedRules>,
}

impl FeedConfig {
    /// The key this feed's state and items are filed under: its URL as configured.
    pub fn key(&self) -> &str {
        self.url.as_str()
    }

    /// A feed known by its URL alone, with what a `[[feed]]` table that
    /// gives only `url` would mean: for fetching a feed that is in no
    /// config yet (discovery, the probe, `rules test` of a URL).
    pub fn for_url(url: Url) -> FeedConfig {
        FeedConfig {
            url,
            title: None,
            tags: Vec::new(),
            interval: None,
            enabled: true,
            dedup: true,
            priority: 0,
            headers: Vec::new(),
            auth: None,
            rules: None,
        }
    }
}

impl Config {
    fn derived(&self) -> &Derived {
        self.lookups.0.get_or_init(|| Derived {
            by_url: self
                .feeds
                .iter()
                .enumerate()
                .map(|(i, f)| (f.url.as_str().to_string(), i))
                .collect(),
            near: self.build_near_dup(),
            priorities: std::sync::Arc::new(
                self.feeds
                    .iter()
                    .filter(|f| f.priority != 0)
                    .map(|f| (f.key().to_string(), f.priority))
                    .collect(),
            ),
        })
    }

    /// The same-story search as `[dedup]` sets it, with the feeds that opt
    /// out (`dedup = false`) kept out of other feeds' stories.
    pub fn near_dup(&self) -> &crate::dedup::near::NearDup {
        &self.derived().near
    }

    /// The feeds' `priority` other than 0, by feed: which copy a merged
    /// story shows depends on them.
    pub fn priorities(&self) -> std::sync::Arc<crate::store::Priorities> {
        self.derived().priorities.clone()
    }

    fn build_near_dup(&self) -> crate::dedup::near::NearDup {
        let mut near = crate::dedup::near::NearDup::new(
            self.dedup.boilerplate.iter().map(String::as_str),
            self.dedup.threshold,
            self.dedup.window,
            self.feeds
                .iter()
                .filter(|f| !f.dedup)
                .map(|f| f.key().to_string()),
        );
        if self.dedup.cross_language {
            near.cross_language = Some(crate::dedup::near::xling::shared_dictionary(
                &self.dedup.dictionary,
            ));
        }
        near
    }

    pub fn feed(&self, url: &str) -> Option<&FeedConfig> {
        let indexed = self
            .derived()
            .by_url
            .get(url)
            .and_then(|i| self.feeds.get(*i));
        match indexed {
            Some(f) if f.url.as_str() == url => Some(f),
            // Not indexed, or `feeds` changed since: see `Lookups`.
            _ => self.feeds.iter().find(|f| f.url.as_str() == url),
        }
    }

    /// The feeds that carry `tag` (in any case: tags fold case).
    pub fn feeds_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a FeedConfig> {
        let tag = self.tag(tag).unwrap_or(tag);
        self.feeds
            .iter()
            .filter(move |f| f.tags.iter().any(|t| t == tag))
    }

    /// The tag `name` names as the config spells it: tags that differ only
    /// in case are one tag, spelled as where it first appears.
    pub fn tag(&self, name: &str) -> Option<&str> {
        let folded = name.to_lowercase();
        self.feeds
            .iter()
            .flat_map(|f| &f.tags)
            .find(|t| t.to_lowercase() == folded)
            .map(String::as_str)
    }

    /// The named rivers, for listing beside the tags.
    pub fn rivers(&self) -> &[RiverConfig] {
        &self.rivers
    }

    pub fn river(&self, name: &str) -> Option<&RiverConfig> {
        self.rivers.iter().find(|r| r.name == name)
    }

    /// The feeds a river draws on: those with one of its tags, or all.
    pub fn river_feeds<'a>(
        &'a self,
        river: &'a RiverConfig,
    ) -> impl Iterator<Item = &'a FeedConfig> {
        self.feeds
            .iter()
            .filter(move |f| river.tags.is_empty() || f.tags.iter().any(|t| river.tags.contains(t)))
    }

    /// The interval a feed is polled at.
    pub fn interval_of(&self, feed: &FeedConfig) -> Duration {
        feed.interval.unwrap_or(self.poll.interval)
    }
}

/// Finds the config file: `explicit` (from `-c` or `$RAFID_CONFIG`), else
/// the first of `DEFAULT_PATHS` that exists.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    for p in DEFAULT_PATHS {
        let p = Path::new(p);
        if p.exists() {
            return Ok(p.to_path_buf());
        }
    }
    Err(ConfigError::NotFound {
        tried: DEFAULT_PATHS.join(", "),
    })
}

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_for(path, Purpose::Serve)
}

/// What the config is loaded for: only the daemon serves HTTP and needs
/// `server.admin_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Serve,
    /// A command that does not serve (`render`, `export`, `store check`,
    /// ...): an admin token that cannot be read leaves the token unset
    /// instead of failing the command.
    Offline,
}

/// `load` for `purpose`.
pub fn load_for(path: &Path, purpose: Purpose) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_for(path, &text, purpose)
}

/// Validates config text; `path` is only used in messages and to resolve
/// the default state directory.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    parse_for(path, text, Purpose::Serve)
}

/// `parse` for `purpose`.
pub fn parse_for(path: &Path, text: &str, purpose: Purpose) -> Result<Config, ConfigError> {
    let mut cx = validate::Validator::new(path, text, purpose);
    let Some(raw) = read::read_raw(&mut cx, text) else {
        return Err(ConfigError::Invalid(cx.into_errors()));
    };
    let config = cx.validate(raw);
    let errors = cx.into_errors();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(errors))
    }
}

/// Parses sizes such as "16MiB", "512 KiB", "2MB", "1000".
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = num * mult;
    (0.0..1e18).contains(&v).then_some(v as u64)
}
