//! The config file: TOML → `RawConfig` (serde, mirrors the file, unknown
//! keys rejected) → `Config` (validated: URLs parsed, durations and sizes
//! read, secrets resolved). Every error names `file:line:column`.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::rules::{Kind, Rule, Rules, SharedRules};

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

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default, rename = "feed")]
    feeds: Vec<Spanned<RawFeed>>,
    #[serde(default)]
    websub: RawWebsub,
    #[serde(default, rename = "river")]
    rivers: Vec<Spanned<RawRiver>>,
}

/// A `keep` or `drop` table: patterns per field.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    title: Vec<Spanned<String>>,
    #[serde(default)]
    content: Vec<Spanned<String>>,
    #[serde(default)]
    any: Vec<Spanned<String>>,
    #[serde(default)]
    author: Vec<Spanned<String>>,
    #[serde(default)]
    category: Vec<Spanned<String>>,
    #[serde(default)]
    link: Vec<Spanned<String>>,
}

impl RawRules {
    fn fields(&self) -> [(crate::rules::Field, &[Spanned<String>]); 6] {
        use crate::rules::Field;
        [
            (Field::Title, &self.title),
            (Field::Content, &self.content),
            (Field::Any, &self.any),
            (Field::Author, &self.author),
            (Field::Category, &self.category),
            (Field::Link, &self.link),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRiver {
    /// Required; optional here so that a river without one is reported
    /// with every other error, not alone.
    name: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    keep: Option<Spanned<RawRules>>,
    drop: Option<Spanned<RawRules>>,
    #[serde(default)]
    lang: Vec<Spanned<String>>,
    title: Option<String>,
    token: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebsub {
    hub: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    admin_token: Option<Spanned<String>>,
    read_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
    max_items_per_feed: Option<Spanned<i64>>,
    max_items: Option<Spanned<i64>>,
    cache: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<Spanned<String>>,
    min_interval: Option<Spanned<String>>,
    max_interval: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    max_body: Option<Spanned<String>>,
    max_items_per_fetch: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    title: Option<String>,
    max_items: Option<Spanned<i64>>,
    lang: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    page_content: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    max_item_bytes: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    near_duplicates: Option<bool>,
    window: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    boilerplate: Option<Vec<String>>,
}

/// The bound of `[[feed]] priority`, either way: a small range is enough
/// to order outlets, and a typo of many digits is caught.
const MAX_PRIORITY: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    /// Required; optional here so that a feed without one is reported with
    /// every other error, not alone.
    url: Option<Spanned<String>>,
    title: Option<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    interval: Option<Spanned<String>>,
    enabled: Option<bool>,
    dedup: Option<bool>,
    priority: Option<Spanned<i64>>,
    #[serde(default)]
    headers: HashMap<String, Spanned<String>>,
    auth: Option<RawAuth>,
    keep: Option<Spanned<RawRules>>,
    drop: Option<Spanned<RawRules>>,
    #[serde(default)]
    lang: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    user: Spanned<String>,
    password: Spanned<String>,
}

/// A value that must never be logged or shown: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The config in force in a running daemon: replaced as a whole on reload.
/// Readers take `borrow().clone()` (an `Arc`) and keep it for one request
/// or one poll, so a reload never changes a config under their feet.
pub type Live = tokio::sync::watch::Receiver<std::sync::Arc<Config>>;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this config was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub poll: PollConfig,
    pub output: OutputConfig,
    pub dedup: DedupConfig,
    pub feeds: Vec<FeedConfig>,
    pub websub: WebsubConfig,
    /// Named rivers, in config order; names are unique.
    pub rivers: Vec<RiverConfig>,
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
    pub fn feed(&self, url: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.url.as_str() == url)
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

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line, for showing under the message.
    pub source_line: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.source_line.is_empty() {
            writeln!(f, "    {}", self.source_line)?;
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "    {pad}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no config file: looked at {tried}; give one with -c PATH or $RAFID_CONFIG")]
    NotFound { tried: String },
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_diagnostics(d: &[Diagnostic]) -> String {
    let mut s = String::new();
    for (i, diag) in d.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&diag.to_string());
    }
    s
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
    let mut cx = Validator {
        path,
        text,
        errors: Vec::new(),
        purpose,
        starts: Vec::new(),
    };
    // serde stops at the first unknown key: each one found is reported,
    // blanked out (offsets kept) and the text read again, so one run
    // reports every unknown key and every other error too.
    let mut readable = text.to_string();
    let raw: RawConfig = loop {
        match toml::from_str(&readable) {
            Ok(raw) => break raw,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim_end();
                let blanked = if let Some((key, expected)) = unknown_key(message) {
                    cx.error_with_hint(
                        span.clone(),
                        format!("unknown key `{key}`"),
                        Some(suggest(key, &expected)),
                    );
                    blank_key_value(&readable, span.start)
                } else if message.starts_with("missing field") {
                    // Unless the key was blanked for an earlier error.
                    if !cx.reported_within(span.clone()) {
                        let (what, hint) = toml_hint(message);
                        cx.error_with_hint(span.clone(), what, hint);
                    }
                    // The table it is missing from (an inline one, such as
                    // `auth`) is blanked, and the rest read on.
                    key_start(&readable, span.start).and_then(|k| blank_key_value(&readable, k))
                } else {
                    let (what, hint) = toml_hint(message);
                    cx.error_with_hint(span.clone(), what, hint);
                    let wrong_value = ["invalid type", "invalid value", "invalid length"]
                        .iter()
                        .any(|p| message.starts_with(p));
                    // A value of the wrong type: the rest can still be read
                    // once its key-value pair is blanked.
                    wrong_value
                        .then(|| key_start(&readable, span.start))
                        .flatten()
                        .and_then(|k| blank_key_value(&readable, k))
                };
                match blanked {
                    Some(t) if cx.errors.len() < 100 => readable = t,
                    _ => {
                        cx.errors.sort_by_key(|d| (d.line, d.column));
                        return Err(ConfigError::Invalid(cx.errors));
                    }
                }
            }
        }
    };
    let config = cx.validate(raw);
    cx.errors.sort_by_key(|d| (d.line, d.column));
    if cx.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(cx.errors))
    }
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<Diagnostic>,
    purpose: Purpose,
    /// Where in `text` each error of `errors` starts.
    starts: Vec<usize>,
}

impl Validator<'_> {
    /// Records an error. A message written "what is wrong; how to fix it"
    /// shows the part after the last "; " as its hint.
    fn error(&mut self, span: Range<usize>, message: String) {
        match message.rsplit_once("; ") {
            Some((m, h)) => self.error_with_hint(span, m.to_string(), Some(h.to_string())),
            None => self.error_with_hint(span, message, None),
        }
    }

    fn error_with_hint(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let start = span.start.min(self.text.len());
        self.starts.push(start);
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = self.text[line_start..start].chars().count() + 1;
        let source_line = self.text[line_start..].lines().next().unwrap_or("");
        let (source_line, message, hint) = if holds_secrets(self.text, line_start, source_line) {
            let masked = mask_values(source_line);
            let hide = |s: String| {
                secret_values(source_line).fold(s, |s, v| {
                    let s = s.replace(&format!("\"{v}\""), "\"***\"");
                    // Short values would mask unrelated words.
                    if v.len() >= 4 { s.replace(v, "***") } else { s }
                })
            };
            (masked, hide(message), hint.map(hide))
        } else {
            (source_line.to_string(), message, hint)
        };
        self.errors.push(Diagnostic {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
            source_line,
            hint,
        });
    }

    /// An address this machine cannot listen on is reported now, not when
    /// the daemon starts. Port 0 of the same IP answers whether the IP is
    /// ours without touching the port a running daemon may hold; a port
    /// below 1024 is tried itself (a port in use is not a config error).
    fn usable_listen(&mut self, v: &Spanned<String>, addr: SocketAddr) {
        use std::io::ErrorKind;
        use std::net::TcpListener;
        if let Err(e) = TcpListener::bind(SocketAddr::new(addr.ip(), 0)) {
            if e.kind() == ErrorKind::AddrNotAvailable {
                self.error(
                    v.span(),
                    format!(
                        "server.listen: this machine has no address {}; write \"127.0.0.1:{port}\" for this machine only, or \"0.0.0.0:{port}\" for all its addresses",
                        addr.ip(),
                        port = addr.port()
                    ),
                );
                return;
            }
        }
        if addr.port() != 0 && addr.port() < 1024 {
            if let Err(e) = TcpListener::bind(addr) {
                if e.kind() == ErrorKind::PermissionDenied {
                    self.error(
                        v.span(),
                        format!(
                            "server.listen: port {} needs privileges rafid does not have; use a port above 1023 (e.g. 8080), with a reverse proxy in front for ports 80 and 443",
                            addr.port()
                        ),
                    );
                }
            }
        }
    }

    fn duration(&mut self, key: &str, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(v) = v else { return default };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(
                    v.span(),
                    format!("{key}: a duration must be more than zero; write e.g. \"10m\""),
                );
                default
            }
            Err(e) => {
                self.error(
                    v.span(),
                    format!(
                        "{key}: {:?} is not a duration ({e}); write e.g. \"90s\", \"15m\", \"1h\", \"7d\"",
                        v.get_ref()
                    ),
                );
                default
            }
        }
    }

    fn count(&mut self, key: &str, v: &Option<Spanned<i64>>, default: u64, min: i64) -> u64 {
        let Some(v) = v else { return default };
        if *v.get_ref() < min {
            self.error(
                v.span(),
                format!("{key}: must be at least {min}; write a whole number, {min} or more"),
            );
            return default;
        }
        *v.get_ref() as u64
    }

    fn secret(&mut self, key: &str, v: &Spanned<String>) -> Secret {
        match resolve_secret(v.get_ref()) {
            Ok(s) => Secret(s),
            Err(msg) => {
                let hint = if v.get_ref().starts_with("env:") {
                    "set it where rafid runs (Environment= or EnvironmentFile= under systemd), or use \"file:PATH\""
                } else {
                    "under systemd, pass the file with LoadCredential=NAME:PATH and write \"file:NAME\""
                };
                self.error(v.span(), format!("{key}: {msg}; {hint}"));
                Secret(String::new())
            }
        }
    }

    /// A token that guards outputs: a secret, and never empty (an empty
    /// token would be one anyone can give).
    fn token(&mut self, key: &str, v: &Spanned<String>) -> Secret {
        let before = self.errors.len();
        let secret = self.secret(key, v);
        if secret.0.trim().is_empty() && self.errors.len() == before {
            self.error(
                v.span(),
                format!("{key}: the token is empty; give a long random value, e.g. from `openssl rand -hex 24`"),
            );
        }
        secret
    }

    /// `output.lang`, else the language of the title's script: Arabic
    /// script gives "ar", anything else "en".
    fn page_lang(&mut self, v: &Option<Spanned<String>>, title: &str) -> String {
        let Some(v) = v else {
            let arabic = title
                .chars()
                .find(|c| c.is_alphabetic())
                .is_some_and(|c| matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF));
            return if arabic { "ar" } else { "en" }.to_string();
        };
        let tag = v.get_ref().trim().to_ascii_lowercase();
        let mut parts = tag.split('-');
        let primary_ok = matches!(parts.next(), Some("ar" | "en"));
        let rest_ok = parts
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            tag
        } else {
            self.error(
                v.span(),
                format!(
                    "output.lang: {:?} is not a language the river page has words for; write \"ar\" or \"en\" (a region may follow, e.g. \"ar-EG\")",
                    v.get_ref()
                ),
            );
            "en".to_string()
        }
    }

    /// `output.timezone`: an IANA name, looked up in the system's time zone
    /// database (else the one built in); UTC by default.
    fn timezone(&mut self, v: &Option<Spanned<String>>) -> jiff::tz::TimeZone {
        let Some(v) = v else {
            return jiff::tz::TimeZone::UTC;
        };
        let name = v.get_ref().trim();
        if name.eq_ignore_ascii_case("UTC") {
            return jiff::tz::TimeZone::UTC;
        }
        match jiff::tz::db().get(name) {
            Ok(tz) => tz,
            Err(_) => {
                let db = jiff::tz::db();
                let closest = db
                    .available()
                    .map(|n| {
                        let n = n.as_str().to_string();
                        (
                            strsim::levenshtein(
                                &name.to_ascii_lowercase(),
                                &n.to_ascii_lowercase(),
                            ),
                            n,
                        )
                    })
                    .min();
                let hint = match closest {
                    Some((d, n)) if d <= (name.len() / 3).max(2) => format!("did you mean {n:?}?"),
                    _ => "write an IANA name such as \"Asia/Riyadh\", \"Africa/Cairo\", \"Europe/London\" or \"UTC\"".to_string(),
                };
                self.error_with_hint(
                    v.span(),
                    format!("output.timezone: {name:?} is not a time zone of the tz database"),
                    Some(hint),
                );
                jiff::tz::TimeZone::UTC
            }
        }
    }

    fn validate(&mut self, raw: RawConfig) -> Config {
        let listen = match &raw.server.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => match v.get_ref().parse::<SocketAddr>() {
                Ok(a) => {
                    self.usable_listen(v, a);
                    a
                }
                Err(_) => {
                    self.error(
                        v.span(),
                        format!(
                            "server.listen: {:?} is not an address; write IP:PORT, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"",
                            v.get_ref()
                        ),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 8080))
                }
            },
        };
        let default_base = format!("http://{listen}/");
        let base_url = match &raw.server.base_url {
            None => Url::parse(&default_base).ok(),
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "server.base_url: {:?} is not an http(s) URL; write e.g. \"https://example.org/rafid/\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let mut base_url = base_url
            .or_else(|| Url::parse("http://127.0.0.1:8080/").ok())
            .unwrap_or_else(unreachable_url);
        if !base_url.path().ends_with('/') {
            let p = format!("{}/", base_url.path());
            base_url.set_path(&p);
        }
        let admin_token = raw.server.admin_token.as_ref().and_then(|v| {
            if self.purpose == Purpose::Offline && resolve_secret(v.get_ref()).is_err() {
                return None;
            }
            let token = self.secret("server.admin_token", v);
            if !token.0.is_empty() && token.0.len() < MIN_ADMIN_TOKEN {
                self.error(
                    v.span(),
                    format!(
                        "server.admin_token: {} bytes is too short to keep guessers out; use at least {MIN_ADMIN_TOKEN}, e.g. from `openssl rand -hex 32`",
                        token.0.len()
                    ),
                );
            }
            Some(token)
        });
        let read_timeout = self.duration(
            "server.read_timeout",
            &raw.server.read_timeout,
            Duration::from_secs(10),
        );
        let idle_timeout = self.duration(
            "server.idle_timeout",
            &raw.server.idle_timeout,
            Duration::from_secs(60),
        );
        let max_connections = self.count(
            "server.max_connections",
            &raw.server.max_connections,
            1024,
            1,
        ) as usize;
        let websub_hub = match &raw.websub.hub {
            None => None,
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "websub.hub: {:?} is not an http(s) URL; write e.g. \"https://pubsubhubbub.appspot.com/\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
        };

        let storage_path = match std::env::var_os("STATE_DIRECTORY") {
            // Under systemd the unit's StateDirectory= wins; it may list
            // several directories separated by ':', the first is ours.
            Some(dirs) if !dirs.is_empty() => {
                let dirs = dirs.to_string_lossy().into_owned();
                PathBuf::from(dirs.split(':').next().unwrap_or(&dirs))
            }
            _ => PathBuf::from(
                raw.storage
                    .path
                    .as_ref()
                    .map(|p| p.get_ref().as_str())
                    .unwrap_or("data"),
            ),
        };
        let max_age = raw
            .storage
            .max_age
            .as_ref()
            .map(|_| self.duration("storage.max_age", &raw.storage.max_age, Duration::ZERO));
        let max_items_per_feed = Some(self.count(
            "storage.max_items_per_feed",
            &raw.storage.max_items_per_feed,
            DEFAULT_MAX_ITEMS_PER_FEED,
            1,
        ));
        let max_items = raw
            .storage
            .max_items
            .as_ref()
            .map(|_| self.count("storage.max_items", &raw.storage.max_items, 0, 1));

        let cache = match &raw.storage.cache {
            None => crate::store::DEFAULT_CACHE_BYTES,
            Some(v) => match parse_size(v.get_ref()) {
                Some(n) if n >= 1 << 20 => n,
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "storage.cache: {:?} is not a size of 1MiB or more; write e.g. \"64MiB\"",
                            v.get_ref()
                        ),
                    );
                    crate::store::DEFAULT_CACHE_BYTES
                }
            },
        };
        let p = &raw.poll;
        let interval = self.duration("poll.interval", &p.interval, Duration::from_secs(3600));
        let min_interval = self.duration(
            "poll.min_interval",
            &p.min_interval,
            Duration::from_secs(600),
        );
        let max_interval = self.duration(
            "poll.max_interval",
            &p.max_interval,
            Duration::from_secs(86400),
        );
        if min_interval > max_interval {
            if let Some(v) = &p.min_interval {
                self.error(
                    v.span(),
                    "poll.min_interval: is longer than poll.max_interval; shorten poll.min_interval or lengthen poll.max_interval".into(),
                );
            }
        }
        let connect_timeout = self.duration(
            "poll.connect_timeout",
            &p.connect_timeout,
            Duration::from_secs(10),
        );
        let timeout = self.duration("poll.timeout", &p.timeout, Duration::from_secs(30));
        let user_agent = p
            .user_agent
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_else(default_user_agent);
        if let Some(v) = &p.user_agent {
            if reqwest::header::HeaderValue::from_str(v.get_ref()).is_err() {
                self.error(
                    v.span(),
                    "poll.user_agent: not a valid header value; write it on one line, without control characters".into(),
                );
            }
        }
        let concurrency = self.count("poll.concurrency", &p.concurrency, 32, 1) as usize;
        let per_host = self.count("poll.per_host", &p.per_host, 2, 1) as usize;
        let max_body = match &p.max_body {
            None => 16 << 20,
            Some(v) => match parse_size(v.get_ref()) {
                Some(n) if n > 0 => n,
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "poll.max_body: {:?} is not a size; write e.g. \"16MiB\", \"512KiB\", \"1000000\"",
                            v.get_ref()
                        ),
                    );
                    16 << 20
                }
            },
        };
        let max_items_per_fetch = self.count(
            "poll.max_items_per_fetch",
            &p.max_items_per_fetch,
            DEFAULT_MAX_ITEMS_PER_FETCH as u64,
            1,
        ) as usize;

        let title = raw
            .output
            .title
            .clone()
            .unwrap_or_else(|| "rafid".to_string());
        let output = OutputConfig {
            lang: self.page_lang(&raw.output.lang, &title),
            timezone: self.timezone(&raw.output.timezone),
            page_content: match &raw.output.page_content {
                None => PageContent::Summary,
                Some(v) => match v.get_ref().trim() {
                    "summary" => PageContent::Summary,
                    "full" => PageContent::Full,
                    other => {
                        self.error(
                            v.span(),
                            format!(
                                "output.page_content: {other:?} is not a choice; write \"summary\" (an excerpt of each item) or \"full\" (its whole content)"
                            ),
                        );
                        PageContent::Summary
                    }
                },
            },
            token: raw
                .output
                .token
                .as_ref()
                .map(|v| self.token("output.token", v)),
            title,
            max_items: self.count("output.max_items", &raw.output.max_items, 100, 1) as usize,
            max_item_bytes: match &raw.output.max_item_bytes {
                None => DEFAULT_MAX_ITEM_BYTES,
                Some(v) => match parse_size(v.get_ref()) {
                    Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {
                        self.error(
                            v.span(),
                            format!(
                                "output.max_item_bytes: {:?} is not a size; write e.g. \"256KiB\", \"1MiB\"",
                                v.get_ref()
                            ),
                        );
                        DEFAULT_MAX_ITEM_BYTES
                    }
                },
            },
        };
        let dedup = DedupConfig {
            near_duplicates: raw.dedup.near_duplicates.unwrap_or(true),
            window: self.duration(
                "dedup.window",
                &raw.dedup.window,
                Duration::from_secs(72 * 3600),
            ),
            threshold: match &raw.dedup.threshold {
                None => crate::dedup::near::DEFAULT_THRESHOLD,
                Some(t) if *t.get_ref() > 0.0 && *t.get_ref() <= 1.0 => *t.get_ref(),
                Some(t) => {
                    self.error(
                        t.span(),
                        format!(
                            "dedup.threshold: {} is out of range; give a number above 0 and at most 1 (default {})",
                            t.get_ref(),
                            crate::dedup::near::DEFAULT_THRESHOLD
                        ),
                    );
                    crate::dedup::near::DEFAULT_THRESHOLD
                }
            },
            boilerplate: raw.dedup.boilerplate.clone().unwrap_or_else(|| {
                crate::dedup::near::DEFAULT_BOILERPLATE
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        };

        let mut feeds = Vec::with_capacity(raw.feeds.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        // Tags fold case: each is spelled as where it first appears.
        let mut spellings: HashMap<String, String> = HashMap::new();
        for (i, f) in raw.feeds.iter().enumerate() {
            let key = format!("feed[{i}]");
            let table = f.span();
            let f = f.get_ref();
            // The feed's other keys are checked even when its URL is bad,
            // so that one run reports every error.
            let url = self.feed_url(&key, f.url.as_ref(), table.clone());
            let url = url.and_then(|url| {
                let canonical = crate::ingest::normalize::canonical_link(url.as_str())
                    .unwrap_or_else(|| url.to_string());
                if let Some(first) = seen.get(&canonical) {
                    self.error(
                        f.url.as_ref().map_or(table.clone(), |u| u.span()),
                        format!(
                            "{key}.url: the same feed as feed[{first}] ({}); remove one of them",
                            redact_url(&url)
                        ),
                    );
                    return None;
                }
                seen.insert(canonical, i);
                Some(url)
            });
            let mut tags = Vec::new();
            for t in &f.tags {
                let tag = t.get_ref().trim();
                if !is_valid_tag(tag) {
                    self.error(
                        t.span(),
                        format!(
                            "{key}.tags: {:?} cannot be a tag; tags are non-empty and contain no '/', '?', '#' or '\\'",
                            t.get_ref()
                        ),
                    );
                } else {
                    let tag = spellings
                        .entry(tag.to_lowercase())
                        .or_insert_with(|| tag.to_string());
                    if !tags.contains(tag) {
                        tags.push(tag.clone());
                    }
                }
            }
            let interval = f
                .interval
                .as_ref()
                .map(|_| self.duration(&format!("{key}.interval"), &f.interval, interval));
            let mut headers = Vec::new();
            let mut names: Vec<&String> = f.headers.keys().collect();
            names.sort();
            for name in names {
                let v = &f.headers[name];
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    self.error(
                        v.span(),
                        format!(
                            "{key}.headers: {name:?} is not a valid header name; header names are ASCII letters, digits and '-'"
                        ),
                    );
                    continue;
                }
                let secret = self.secret(&format!("{key}.headers.{name}"), v);
                if reqwest::header::HeaderValue::from_str(&secret.0).is_err() {
                    let from = if v.get_ref().starts_with("file:") {
                        "the file holds more than one line, or"
                    } else {
                        "the value holds"
                    };
                    self.error(
                        v.span(),
                        format!(
                            "{key}.headers.{name}: {from} a line break or another control character, which a header cannot carry; write the value on one line"
                        ),
                    );
                    continue;
                }
                headers.push((name.clone(), secret));
            }
            if let Some(a) = &f.auth {
                if url
                    .as_ref()
                    .is_some_and(|u| !u.username().is_empty() || u.password().is_some())
                {
                    self.error(
                        a.user.span(),
                        format!(
                            "{key}.auth: the url carries a user name and password too, and only one can be sent; remove the user info from the url, or remove auth"
                        ),
                    );
                }
            }
            let auth = f.auth.as_ref().map(|a| {
                let user = a.user.get_ref().clone();
                let pw = self.secret(&format!("{key}.auth.password"), &a.password);
                (user, pw)
            });
            let priority = match &f.priority {
                None => 0,
                Some(p) if (-MAX_PRIORITY..=MAX_PRIORITY).contains(p.get_ref()) => {
                    *p.get_ref() as i32
                }
                Some(p) => {
                    self.error(
                        p.span(),
                        format!(
                            "{key}.priority: {} is out of range; write a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY} (higher wins, default 0)",
                            p.get_ref()
                        ),
                    );
                    0
                }
            };
            let rules = self.rules(
                &key,
                f.keep.as_ref(),
                f.drop.as_ref(),
                &f.lang,
                f.url.as_ref().map_or(table, |u| u.span()),
            );
            let Some(url) = url else { continue };
            feeds.push(FeedConfig {
                url,
                title: f.title.clone(),
                tags,
                interval,
                enabled: f.enabled.unwrap_or(true),
                dedup: f.dedup.unwrap_or(true),
                priority,
                headers,
                auth,
                rules,
            });
        }
        let rivers = self.rivers(&raw.rivers, &feeds);

        Config {
            path: self.path.to_path_buf(),
            server: ServerConfig {
                listen,
                base_url,
                admin_token,
                read_timeout,
                idle_timeout,
                max_connections,
            },
            storage: StorageConfig {
                path: storage_path,
                max_age,
                max_items_per_feed,
                max_items,
                cache,
            },
            poll: PollConfig {
                interval,
                min_interval,
                max_interval,
                connect_timeout,
                timeout,
                user_agent,
                concurrency,
                per_host,
                max_body,
                max_items_per_fetch,
            },
            output,
            dedup,
            feeds,
            websub: WebsubConfig { hub: websub_hub },
            rivers,
        }
    }

    /// A feed's URL, when it has a usable one (else the error is reported).
    fn feed_url(
        &mut self,
        key: &str,
        url: Option<&Spanned<String>>,
        table: Range<usize>,
    ) -> Option<Url> {
        let Some(v) = url else {
            // A `url` of the wrong type was blanked, and reported, already.
            if !self.reported_in_table(table.clone()) {
                self.error(
                    table,
                    format!(
                        "{key}: no `url`; every [[feed]] needs one, e.g. url = \"https://example.org/feed.xml\""
                    ),
                );
            }
            return None;
        };
        match Url::parse(v.get_ref().trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(u) => {
                self.error(
                    v.span(),
                    format!(
                        "{key}.url: scheme {:?} is not polled; rafid fetches http and https feeds",
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(
                    v.span(),
                    format!(
                        "{key}.url: {:?} is not a URL ({e}); write it in full, e.g. \"https://example.org/feed.xml\"",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// Whether an error was reported within the text of `span`.
    fn reported_within(&self, span: Range<usize>) -> bool {
        self.starts.iter().any(|s| span.contains(s))
    }

    /// Whether an error was reported within the table whose header is at
    /// `span` (up to the next header).
    fn reported_in_table(&self, span: Range<usize>) -> bool {
        let start = span.start.min(self.text.len());
        let mut end = span.end.min(self.text.len()).max(start);
        while end < self.text.len() {
            let line_end = self.text[end..]
                .find('\n')
                .map_or(self.text.len(), |i| end + i + 1);
            if self.text[end..line_end].trim_start().starts_with('[') {
                break;
            }
            end = line_end;
        }
        self.starts.iter().any(|s| (start..end).contains(s))
    }

    /// Compiles the `keep`/`drop` rules (and languages) of one table named
    /// `key`; `None` when it has none or any is invalid (reported).
    fn rules(
        &mut self,
        key: &str,
        keep: Option<&Spanned<RawRules>>,
        drop: Option<&Spanned<RawRules>>,
        lang: &[Spanned<String>],
        span: Range<usize>,
    ) -> Option<SharedRules> {
        let mut ok = true;
        let mut sets: [Vec<Rule>; 2] = [Vec::new(), Vec::new()];
        for (i, (kind, raw)) in [(Kind::Keep, keep), (Kind::Drop, drop)]
            .into_iter()
            .enumerate()
        {
            let Some(raw) = raw else { continue };
            for (field, patterns) in raw.get_ref().fields() {
                for p in patterns {
                    match Rule::new(kind, field, p.get_ref()) {
                        Ok(r) => sets[i].push(r),
                        Err(msg) => {
                            ok = false;
                            self.error(
                                p.span(),
                                format!("{key}.{}.{}: {msg}", kind.name(), field.name()),
                            );
                        }
                    }
                }
            }
        }
        let mut langs = Vec::new();
        for l in lang {
            let v = l.get_ref().trim();
            let valid = !v.is_empty()
                && v.split('-').all(|part| {
                    (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
                })
                && v.split('-')
                    .next()
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic()));
            if valid {
                langs.push(v.to_ascii_lowercase());
            } else {
                ok = false;
                self.error(
                    l.span(),
                    format!(
                        "{key}.lang: {:?} is not a language tag; write e.g. \"ar\", \"en\", \"fr-CA\"",
                        l.get_ref()
                    ),
                );
            }
        }
        let [keep, drop] = sets;
        if !ok || (keep.is_empty() && drop.is_empty() && langs.is_empty()) {
            return None;
        }
        match Rules::new(keep, drop, langs) {
            Ok(r) => Some(std::sync::Arc::new(r)),
            Err(msg) => {
                self.error(span, format!("{key}: {msg}"));
                None
            }
        }
    }

    fn rivers(&mut self, raw: &[Spanned<RawRiver>], feeds: &[FeedConfig]) -> Vec<RiverConfig> {
        let mut rivers: Vec<RiverConfig> = Vec::with_capacity(raw.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, r) in raw.iter().enumerate() {
            let key = format!("river[{i}]");
            let table = r.span();
            let r = r.get_ref();
            let mut name_ok = true;
            let (name, name_span) = match &r.name {
                Some(n) => (n.get_ref().trim(), n.span()),
                None => {
                    if !self.reported_in_table(table.clone()) {
                        self.error(
                            table.clone(),
                            format!(
                                "{key}: no `name`; every [[river]] needs one, e.g. name = \"economy\" (served at /rivers/economy.atom)"
                            ),
                        );
                    }
                    name_ok = false;
                    ("", table)
                }
            };
            if !name_ok {
                // Reported above.
            } else if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            {
                self.error(
                    name_span.clone(),
                    format!(
                        "{key}.name: {:?} cannot name a river: it is part of its URL (/rivers/NAME.atom); use letters, digits, '-' and '_'",
                        name
                    ),
                );
                name_ok = false;
            } else if let Some(first) = names.get(name) {
                self.error(
                    name_span.clone(),
                    format!(
                        "{key}.name: {name:?} already names river[{first}]; river names are unique"
                    ),
                );
                name_ok = false;
            }
            let mut tags = Vec::new();
            for t in &r.tags {
                let folded = t.get_ref().trim().to_lowercase();
                let known = feeds
                    .iter()
                    .flat_map(|f| &f.tags)
                    .find(|x| x.to_lowercase() == folded);
                match known {
                    None => {
                        let tag = t.get_ref().trim();
                        self.error(
                            t.span(),
                            format!("{key}.tags: no feed has the tag {tag:?}; add it to a [[feed]] or remove it here"),
                        );
                    }
                    Some(tag) if !tags.contains(tag) => tags.push(tag.clone()),
                    Some(_) => {}
                }
            }
            let rules = self
                .rules(
                    &key,
                    r.keep.as_ref(),
                    r.drop.as_ref(),
                    &r.lang,
                    name_span.clone(),
                )
                .unwrap_or_else(|| std::sync::Arc::new(Rules::none()));
            if !name_ok {
                continue;
            }
            let token = r
                .token
                .as_ref()
                .map(|v| self.token(&format!("{key}.token"), v));
            let title = r
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            names.insert(name.to_string(), i);
            rivers.push(RiverConfig {
                name: name.to_string(),
                tags,
                rules,
                title,
                token,
            });
        }
        rivers
    }
}

/// Whether `tag` can name a tag: it becomes a path segment of
/// `/tags/{tag}.atom`, so it is non-empty, has no '/', '?', '#' or '\\',
/// does not start with '.', and has no control characters.
pub fn is_valid_tag(tag: &str) -> bool {
    !(tag.is_empty()
        || tag.contains(['/', '?', '#', '\\'])
        || tag.starts_with('.')
        || tag.chars().any(char::is_control))
}

/// toml's and serde's messages say what was expected after ", expected":
/// that part becomes the hint, in the config's words.
fn toml_hint(message: &str) -> (String, Option<String>) {
    let first = message.lines().next().unwrap_or(message);
    match first.split_once(", expected ") {
        Some((what, expected)) => {
            let hint = match expected {
                "a sequence" => "write a list, e.g. [\"news\", \"ar\"]".to_string(),
                "a string" => "write it in double quotes, e.g. \"1h\"".to_string(),
                "literal string" => "quote the value, e.g. \"1h\"".to_string(),
                other => format!("expected {other}"),
            };
            (what.to_string(), Some(hint))
        }
        None => (message.to_string(), None),
    }
}

/// Where the key of the value at `value_start` starts: the nearest line at
/// or above the value that reads `key = …` (a value in a list may be on a
/// line of its own).
fn key_start(text: &str, value_start: usize) -> Option<usize> {
    let value_start = value_start.min(text.len());
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut line_end = value_start;
    for _ in 0..1000 {
        let line_start = text[..line_end].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..line_end.max(line_start)];
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if body.starts_with('[') && line_end != value_start {
            return None; // a table header: the value is not under a key
        }
        let key_len = body.find(|c: char| !bare(c)).unwrap_or(body.len());
        if key_len > 0 && body[key_len..].trim_start().starts_with('=') {
            return Some(line_start + indent);
        }
        if line_start == 0 {
            return None;
        }
        line_end = line_start - 1;
    }
    None
}

/// The key and the keys allowed beside it, from serde's "unknown field"
/// message (`unknown field `x`, expected one of `a`, `b``).
fn unknown_key(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((key, expected))
}

/// The hint for an unknown key: the allowed key it was probably meant to
/// be, else the keys allowed there.
fn suggest(key: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|e| (strsim::levenshtein(key, e), *e))
        .min();
    match closest {
        Some((d, e)) if d <= (key.chars().count() / 3).max(2) => format!("did you mean `{e}`?"),
        _ if expected.is_empty() => "no keys are allowed here".to_string(),
        _ => format!("the keys allowed here: {}", expected.join(", ")),
    }
}

/// `text` with the key-value pair (or the whole table, for an unknown
/// table name) whose key starts at `start` replaced by spaces, newlines
/// kept, so every offset stays where it was. `None` when the pair cannot
/// be delimited (a key inside an inline table, a dotted key).
fn blank_key_value(text: &str, start: usize) -> Option<String> {
    let start = start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..start].trim();
    let next_line = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    let (from, to) = if before.ends_with('[') {
        // A table header: the table runs to the next header.
        let mut pos = next_line(start);
        while pos < text.len() && !text[pos..next_line(pos)].trim_start().starts_with('[') {
            pos = next_line(pos);
        }
        (line_start, pos)
    } else if before.is_empty() {
        // key = value, the value perhaps over several lines.
        let mut end = next_line(start);
        while text[start..end].parse::<toml_edit::DocumentMut>().is_err() {
            if end >= text.len() {
                return None;
            }
            end = next_line(end);
        }
        (start, end)
    } else {
        return None;
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..from]);
    for c in text[from..to].chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[to..]);
    Some(out)
}

/// The shortest `server.admin_token` accepted.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// Keys whose values are credentials: never shown in a diagnostic.
const SECRET_KEYS: &[&str] = &["admin_token", "headers", "auth", "password", "user"];

/// Whether the line at `line_start` sets a credential: it names one of
/// `SECRET_KEYS`, or sits in a `[...headers]` or `[...auth]` table.
fn holds_secrets(text: &str, line_start: usize, line: &str) -> bool {
    let names_one = |l: &str| {
        let l = l.to_ascii_lowercase();
        SECRET_KEYS.iter().any(|k| {
            l.match_indices(k).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + k.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        })
    };
    if names_one(line) {
        return true;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim_start)
        .find(|l| l.starts_with('['));
    table.is_some_and(names_one)
}

/// The string values (after an `=`) of a TOML line, as written between
/// their quotes, except `env:` and `file:` references, which name where a
/// secret is and are worth showing.
fn secret_values(line: &str) -> impl Iterator<Item = &str> {
    quoted_values(line)
        .into_iter()
        .map(move |(a, b)| &line[a..b])
        .filter(|v| !v.is_empty() && !v.starts_with("env:") && !v.starts_with("file:"))
}

/// Byte ranges of the contents of the quoted strings that follow an `=`.
fn quoted_values(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut after_eq = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '=' => after_eq = true,
            '"' | '\'' => {
                let start = i + 1;
                let mut end = line.len();
                while let Some((j, d)) = chars.next() {
                    if d == '\\' && c == '"' {
                        chars.next();
                    } else if d == c {
                        end = j;
                        break;
                    }
                }
                if after_eq {
                    out.push((start, end));
                }
                after_eq = false;
            }
            '#' => break,
            c if c.is_whitespace() => {}
            _ => after_eq = false,
        }
    }
    out
}

/// `line` with its credential values replaced by as many `*` (so the
/// caret under it still points at the right column).
fn mask_values(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for (a, b) in quoted_values(line) {
        let v = &line[a..b];
        if v.starts_with("env:") || v.starts_with("file:") {
            continue;
        }
        out.push_str(&line[at..a]);
        out.extend(v.chars().map(|_| '*'));
        at = b;
    }
    out.push_str(&line[at..]);
    out
}

fn unreachable_url() -> Url {
    // A literal that parses: used only if every other choice failed.
    Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("literal URL parses"))
}

/// Reads a secret value: `env:NAME`, `file:PATH` (relative paths are read
/// from `$CREDENTIALS_DIRECTORY` when systemd set one), or the literal.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(name) = value.strip_prefix("env:") {
        return std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (or not UTF-8)"));
    }
    if let Some(path) = value.strip_prefix("file:") {
        let mut p = PathBuf::from(path);
        if p.is_relative() {
            if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
                p = Path::new(&dir).join(p);
            }
        }
        return std::fs::read_to_string(&p)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {}: {e}", p.display()));
    }
    Ok(value.to_string())
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

/// A URL as rafid shows it to others (outputs, /opml, /status, metrics,
/// logs): user info removed and every query value replaced, the names
/// kept. Any query value may be a secret (`?k=`, `?code=`, `?jwt=`…), and
/// no list of names can know them all.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("redacted");
        let _ = u.set_password(None);
    }
    if u.query().is_some() {
        let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        if names.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut()
                .clear()
                .extend_pairs(names.iter().map(|k| (k.as_str(), "redacted")));
        }
    }
    u.to_string()
}

/// `redact_url` for a URL kept as a string.
pub fn redact_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact_url(&u),
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(text: &str) -> Vec<Diagnostic> {
        match parse(Path::new("rafid.toml"), text) {
            Err(ConfigError::Invalid(d)) => d,
            other => panic!("expected diagnostics, got {other:?}"),
        }
    }

    #[test]
    fn shipped_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rafid.toml");
        let cfg = load(&path).expect("config/rafid.toml is valid");
        assert!(!cfg.feeds.is_empty());
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let cfg = parse(Path::new("x.toml"), "").unwrap();
        assert_eq!(cfg.poll.interval, Duration::from_secs(3600));
        assert_eq!(cfg.poll.concurrency, 32);
        assert_eq!(cfg.poll.per_host, 2);
        assert_eq!(cfg.poll.max_body, 16 << 20);
        assert_eq!(cfg.output.max_items, 100);
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
        assert!(cfg.feeds.is_empty());
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let d = diags("[poll]\ninterval = \"1h\"\nintervall = \"2h\"\n");
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].column), (3, 1));
        assert!(d[0].message.contains("intervall"), "{}", d[0].message);
        let shown = d[0].to_string();
        assert!(shown.starts_with("rafid.toml:3:1: "), "{shown}");
        assert!(shown.contains("intervall = \"2h\"\n    ^"), "{shown}");
    }

    #[test]
    fn unknown_key_in_a_feed_is_an_error() {
        let d = diags("[[feed]]\nurl = \"https://a.example/f\"\ncolour = \"red\"\n");
        assert_eq!(d[0].line, 3);
    }

    #[test]
    fn every_validation_error_is_reported() {
        let text = "[poll]\ninterval = \"soon\"\nmax_body = \"lots\"\n[server]\nlisten = \"nowhere\"\n\
                    [[feed]]\nurl = \"ftp://a.example/f\"\n[[feed]]\nurl = \"https://b.example/f\"\n\
                    [[feed]]\nurl = \"HTTPS://B.example/f#x\"\n";
        let d = diags(text);
        let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![2, 3, 5, 7, 11], "{d:#?}");
        assert!(d[0].message.contains("not a duration"));
        assert!(d[4].message.contains("same feed as feed[1]"));
        assert_eq!(d[0].column, 12);
    }

    #[test]
    fn every_unknown_key_is_reported_with_a_hint_and_the_rest_checked() {
        let text = "[poll]\nintervall = \"1h\"\ncolour = [\n  1,\n]\ninterval = \"soon\"\n\
                    [polll]\nx = 1\n[[feed]]\nurl = \"https://a.example/أ\"\ntitel = \"t\"\ninterval = \"0s\"\n";
        let d = diags(text);
        let got: Vec<(usize, &str, Option<&str>)> = d
            .iter()
            .map(|d| (d.line, d.message.as_str(), d.hint.as_deref()))
            .collect();
        assert_eq!(got.len(), 6, "{d:#?}");
        assert_eq!(got[0].0, 2);
        assert_eq!(got[0].1, "unknown key `intervall`");
        assert_eq!(got[0].2, Some("did you mean `interval`?"));
        assert_eq!(got[1].0, 3);
        assert!(
            got[1]
                .2
                .unwrap()
                .starts_with("the keys allowed here: interval, ")
        );
        assert_eq!(got[2].0, 6);
        assert!(got[2].1.contains("not a duration"));
        assert_eq!(got[3].0, 7);
        assert_eq!(got[3].2, Some("did you mean `poll`?"));
        assert_eq!((got[4].0, got[4].1), (11, "unknown key `titel`"));
        assert_eq!(got[5].0, 12);
        assert!(got[5].1.contains("more than zero"));
        // The caret is under the key, in the file as written.
        assert!(
            d[4].to_string()
                .contains("titel = \"t\"\n    ^\n    hint: did you mean `title`?")
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_does_not_hide_the_rest() {
        let text = "[[feed]]\nurl = \"https://a.example/f\"\ntags = \"news\"\nenabled = \"yes\"\n\
                    [poll]\nconcurrency = 0\n";
        let d = diags(text);
        let got: Vec<(usize, &str, Option<&str>)> = d
            .iter()
            .map(|d| (d.line, d.message.as_str(), d.hint.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    3,
                    "invalid type: string \"news\"",
                    Some("write a list, e.g. [\"news\", \"ar\"]")
                ),
                (
                    4,
                    "invalid type: string \"yes\"",
                    Some("expected a boolean")
                ),
                (
                    6,
                    "poll.concurrency: must be at least 1",
                    Some("write a whole number, 1 or more")
                ),
            ]
        );
        // A syntax error stops the reading: it is the only error.
        let d = diags("[poll]\ninterval = 1h\nconcurrency = 0\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].hint.as_deref(), Some("quote the value, e.g. \"1h\""));
    }

    /// Issue 16: "News" and "news" made two rivers.
    #[test]
    fn tags_fold_case() {
        let cfg = parse(
            Path::new("t.toml"),
            "[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"News\", \"NEWS\"]\n\
             [[feed]]\nurl = \"https://b.example/f\"\ntags = [\"news\", \"أخبار\"]\n\
             [[river]]\nname = \"r\"\ntags = [\"nEwS\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.feeds[0].tags, ["News"]);
        assert_eq!(cfg.feeds[1].tags, ["News", "أخبار"]);
        assert_eq!(cfg.rivers[0].tags, ["News"]);
        assert_eq!(cfg.tag("news"), Some("News"));
        assert_eq!(cfg.feeds_tagged("NEWS").count(), 2);
        let scopes = crate::publish::scopes(&cfg);
        assert_eq!(scopes.len(), 4, "{scopes:?}"); // all, News, أخبار, river r
    }

    /// Issue 16: these four mistakes took four runs of `check` to find.
    #[test]
    fn a_missing_required_key_does_not_hide_the_rest() {
        let text = "[output]\ntitel = \"My river\"\n\
                    [[feed]]\nurl = \"https://a.example/f\"\ntags = \"ar\"\n\
                    [[feed]]\ntitle = \"no url\"\ninterval = \"5q\"\n\
                    [[feed]]\nurl = \"https://b.example/f\"\nintervall = \"1h\"\n\
                    auth = { user = \"me\" }\nkeep = { title = [\"a\", 1] }\n\
                    [[river]]\nlang = [\"ar\"]\n[[feed]]\nurl = 5\n";
        let d = diags(text);
        let got: Vec<(usize, &str)> = d.iter().map(|d| (d.line, d.message.as_str())).collect();
        assert_eq!(got.len(), 9, "{d:#?}");
        assert_eq!(got[0], (2, "unknown key `titel`"));
        assert_eq!(got[1], (5, "invalid type: string \"ar\""));
        assert_eq!(got[2], (6, "feed[1]: no `url`"));
        assert_eq!(
            d[2].hint.as_deref(),
            Some("every [[feed]] needs one, e.g. url = \"https://example.org/feed.xml\"")
        );
        // The feed without a URL still has its other keys checked.
        assert_eq!(got[3].0, 8);
        assert!(got[3].1.contains("not a duration"), "{}", got[3].1);
        assert_eq!(got[4], (11, "unknown key `intervall`"));
        assert_eq!(got[5], (12, "missing field `password`"));
        assert_eq!(got[6], (13, "invalid type: integer `1`"));
        assert_eq!(got[7], (14, "river[0]: no `name`"));
        // A URL of the wrong type is reported once, not again as missing.
        assert_eq!(got[8], (17, "invalid type: integer `5`"));
    }

    #[test]
    fn every_error_kind_has_a_hint() {
        // SAFETY: no other test reads this variable.
        unsafe { std::env::remove_var("RAFID_TEST_UNSET_TOKEN") };
        let text = "[server]\nlisten = \"192.0.2.1:8080\"\nadmin_token = \"env:RAFID_TEST_UNSET_TOKEN\"\n\
                    base_url = \"ftp://x\"\n[poll]\ninterval = \"often\"\nconcurrency = 0\nmax_body = \"big\"\n\
                    [[feed]]\nurl = \"example.org/feed\"\n[[feed]]\nurl = \"https://b.example/f\"\ntags = [\"a/b\"]\n\
                    [[feed]]\nurl = \"https://B.example/f\"\n";
        let d = diags(text);
        let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 6, 7, 8, 10, 13, 15], "{d:#?}");
        for diag in &d {
            assert!(diag.hint.is_some(), "no hint: {diag}");
        }
        assert!(d[0].message.contains("no address 192.0.2.1"), "{}", d[0]);
        assert!(d[1].hint.as_deref().unwrap().contains("Environment="));
        assert!(d[8].message.contains("same feed as feed[1]"));
    }

    #[test]
    fn rules_and_rivers_are_compiled() {
        let text = r#"
[[feed]]
url = "https://a.example/f"
tags = ["news"]
drop = { title = ["إعلان", "sponsored"], category = ["sport"] }

[[feed]]
url = "https://b.example/f"

[[feed]]
url = "https://c.example/f"
lang = ["AR"]

[[river]]
name = "economy"
tags = ["news"]
keep = { any = ["اقتصاد", "النفط", "regex:(?i)\boil\b"] }
lang = ["ar"]

[[river]]
name = "الكل"
"#;
        let cfg = parse(Path::new("r.toml"), text).unwrap();
        let rules = cfg.feeds[0].rules.as_ref().unwrap();
        assert_eq!(rules.rules().len(), 3);
        assert_eq!(cfg.feeds[2].rules.as_ref().unwrap().lang(), ["ar"]);
        assert!(cfg.feeds[1].rules.is_none());
        let economy = cfg.river("economy").unwrap();
        assert_eq!(economy.tags, ["news"]);
        assert_eq!(economy.rules.rules().len(), 3);
        assert_eq!(economy.rules.lang(), ["ar"]);
        assert_eq!(cfg.river_feeds(economy).count(), 1);
        let all = cfg.river("الكل").unwrap();
        assert!(all.rules.is_empty());
        assert_eq!(cfg.river_feeds(all).count(), 3);
        assert_eq!(cfg.rivers().len(), 2);
    }

    #[test]
    fn bad_rules_and_rivers_name_line_and_column() {
        let text = "[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"news\"]\n\
                    drop = { title = [\"regex:(oops\"] }\n\
                    [[river]]\nname = \"a/b\"\n\
                    [[river]]\nname = \"x\"\ntags = [\"nosuch\"]\nlang = [\"a r\"]\n\
                    [[river]]\nname = \"x\"\nkeep = { any = [\"!!\"] }\n";
        let d = diags(text);
        let got: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
        assert_eq!(
            got,
            vec![(4, 19), (6, 8), (9, 9), (10, 9), (12, 8), (13, 17)],
            "{d:#?}"
        );
        assert!(
            d[0].message.starts_with("feed[0].drop.title: "),
            "{}",
            d[0].message
        );
        assert!(
            d[0].message.contains("not a valid regex"),
            "{}",
            d[0].message
        );
        assert!(
            d[1].message.contains("cannot name a river"),
            "{}",
            d[1].message
        );
        assert!(d[2].message.contains("no feed has the tag \"nosuch\""));
        assert!(d[3].message.contains("not a language tag"));
        assert!(d[4].message.contains("already names river[1]"));
        assert!(d[5].message.contains("no letters or digits"));
    }

    #[test]
    fn page_keys_and_tokens_parse() {
        let c = parse(
            Path::new("t.toml"),
            "[output]\ntitle = \"نهر\"\ntimezone = \"Asia/Riyadh\"\npage_content = \"full\"\ntoken = \"abc\"\n\
             [[river]]\nname = \"r\"\ntitle = \"Economy\"\ntoken = \"def\"\n",
        )
        .unwrap();
        assert_eq!(c.output.lang, "ar", "from the title's script");
        assert!(c.output.arabic());
        assert_eq!(c.output.timezone.iana_name(), Some("Asia/Riyadh"));
        assert_eq!(c.output.page_content, PageContent::Full);
        assert_eq!(c.output.token, Some(Secret("abc".into())));
        assert_eq!(c.rivers[0].title.as_deref(), Some("Economy"));
        assert_eq!(c.rivers[0].token, Some(Secret("def".into())));
        assert!(
            !format!("{c:?}").contains("def"),
            "tokens stay out of Debug"
        );
        let d = parse(Path::new("t.toml"), "[output]\ntitle = \"My river\"\n").unwrap();
        assert_eq!(d.output.lang, "en");
        assert_eq!(d.output.timezone, jiff::tz::TimeZone::UTC);
        assert_eq!(d.output.page_content, PageContent::Summary);
        assert!(d.output.token.is_none());
        let e = parse(
            Path::new("t.toml"),
            "[output]\ntitle = \"نهر\"\nlang = \"en-GB\"\n",
        )
        .unwrap();
        assert_eq!(e.output.lang, "en-gb");
        assert!(!e.output.arabic());
    }

    #[test]
    fn bad_page_keys_and_tokens_name_line_and_column() {
        let text = "[output]\nlang = \"fr\"\ntimezone = \"Asia/Riyad\"\npage_content = \"all\"\ntoken = \"\"\n\
                    [[river]]\nname = \"r\"\ntoken = \"env:RAFID_TEST_NO_SUCH_TOKEN\"\n";
        let d = diags(text);
        let got: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
        assert_eq!(
            got,
            vec![(2, 8), (3, 12), (4, 16), (5, 9), (8, 9)],
            "{d:#?}"
        );
        assert!(d[0].message.starts_with("output.lang: "), "{}", d[0]);
        assert!(
            d[1].message.starts_with("output.timezone: \"Asia/Riyad\""),
            "{}",
            d[1]
        );
        assert_eq!(d[1].hint.as_deref(), Some("did you mean \"Asia/Riyadh\"?"));
        assert!(
            d[2].message.starts_with("output.page_content: "),
            "{}",
            d[2]
        );
        assert!(d[3].message.contains("the token is empty"), "{}", d[3]);
        assert!(d[4].message.starts_with("river[0].token: "), "{}", d[4]);
        assert!(d.iter().all(|d| d.hint.is_some()), "{d:#?}");
    }

    #[test]
    fn unknown_rule_field_is_an_error() {
        let d = diags("[[feed]]\nurl = \"https://a.example/f\"\ndrop = { colour = [\"red\"] }\n");
        assert_eq!(d[0].line, 3);
        assert!(d[0].message.contains("colour"), "{}", d[0].message);
    }

    #[test]
    fn dedup_keys_parse_and_default() {
        let cfg = parse(Path::new("rafid.toml"), "").unwrap();
        assert_eq!(cfg.dedup.threshold, crate::dedup::near::DEFAULT_THRESHOLD);
        assert!(cfg.dedup.boilerplate.iter().any(|b| b == "المصدر"));
        let text = "[dedup]\nthreshold = 0.75\nboilerplate = [\"حقوق النشر\"]\n\
                    [[feed]]\nurl = \"https://a.example/f\"\ndedup = false\n\
                    [[feed]]\nurl = \"https://b.example/f\"\n";
        let cfg = parse(Path::new("rafid.toml"), text).unwrap();
        assert_eq!(cfg.dedup.threshold, 0.75);
        assert_eq!(cfg.dedup.boilerplate, ["حقوق النشر"]);
        assert!(!cfg.feeds[0].dedup);
        assert!(cfg.feeds[1].dedup);
    }

    #[test]
    fn feed_priority_parses_defaults_and_is_bounded() {
        let text = "[[feed]]\nurl = \"https://a.example/f\"\npriority = 7\n\
                    [[feed]]\nurl = \"https://b.example/f\"\n";
        let cfg = parse(Path::new("rafid.toml"), text).unwrap();
        assert_eq!((cfg.feeds[0].priority, cfg.feeds[1].priority), (7, 0));
        let d = diags("[[feed]]\nurl = \"https://a.example/f\"\npriority = 99999\n");
        assert_eq!((d[0].line, d[0].column), (3, 12), "{d:#?}");
        assert!(d[0].message.contains("feed[0].priority"), "{d:#?}");
    }

    #[test]
    fn dedup_threshold_out_of_range_names_its_place() {
        for bad in ["0", "1.5", "-0.2"] {
            let d = diags(&format!("[dedup]\nthreshold = {bad}\n"));
            assert_eq!((d[0].line, d[0].column), (2, 13), "{bad}: {d:#?}");
            assert!(
                d[0].message.starts_with("dedup.threshold"),
                "{}",
                d[0].message
            );
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn secrets_resolve_and_stay_hidden() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("RAFID_TEST_SECRET_A", "hunter2") };
        assert_eq!(
            resolve_secret("env:RAFID_TEST_SECRET_A").unwrap(),
            "hunter2"
        );
        assert!(resolve_secret("env:RAFID_TEST_SECRET_UNSET").is_err());
        assert_eq!(resolve_secret("plain").unwrap(), "plain");
        assert_eq!(format!("{:?}", Secret("x".into())), "Secret(***)");
    }

    #[test]
    fn urls_are_redacted() {
        let u = Url::parse("https://me:pw@example.org/feed?token=abc&page=2&api_key=k").unwrap();
        let shown = redact_url(&u);
        assert!(!shown.contains("pw"));
        assert!(!shown.contains("abc"));
        assert!(!shown.contains("=k"));
        assert!(shown.contains("page="));
        // Every query value, whatever its name.
        for name in ["client_secret", "pwd", "jwt", "code", "hash", "k", "x-auth"] {
            let u =
                Url::parse(&format!("https://example.org/feed?{name}=s3cr3t-{name}&a")).unwrap();
            let shown = redact_url(&u);
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains(&format!("{name}=redacted")), "{shown}");
        }
        assert_eq!(
            redact_str("https://example.org/feed.xml"),
            "https://example.org/feed.xml"
        );
    }

    #[test]
    fn a_header_value_with_a_line_break_is_refused_where_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "first-line\nsecond-line\n").unwrap();
        let text = format!(
            "[[feed]]\nurl = \"https://a.example/f\"\nheaders = {{ \"X-Key\" = \"a\\nb\" }}\n\
             [[feed]]\nurl = \"https://b.example/f\"\nheaders = {{ \"X-Key\" = \"file:{}\" }}\n",
            key.display()
        );
        let d = diags(&text);
        assert_eq!(d.len(), 2, "{d:#?}");
        assert_eq!((d[0].line, d[0].column), (3, 23), "{}", d[0]);
        assert!(d[0].message.contains("feed[0].headers.X-Key"), "{}", d[0]);
        assert!(d[0].message.contains("line break"), "{}", d[0]);
        assert_eq!((d[1].line, d[1].column), (6, 23), "{}", d[1]);
        assert!(d[1].message.contains("more than one line"), "{}", d[1]);
        std::fs::write(&key, "one-line\n").unwrap();
        let cfg = parse(Path::new("rafid.toml"), &text.replace("\\nb", "b"));
        let cfg = cfg.unwrap();
        assert_eq!(cfg.feeds[1].headers[0].1.0, "one-line");
    }

    #[test]
    fn diagnostics_never_show_credentials() {
        let text = "[server]\nadmin_token = \"tooshort-123\"\n\
                    [[feed]]\nurl = \"https://a.example/f\"\nheaders = { \"Bad Name\" = \"hunter2-header\" }\n\
                    [[feed]]\nurl = \"https://b.example/f\"\nauth = \"me:hunter2-auth\"\n\
                    [[feed]]\nurl = \"https://c.example/f\"\n[feed.headers]\n\"Bad Name\" = \"hunter2-table\"\n";
        let d = diags(text);
        assert_eq!(d.len(), 4, "{d:#?}");
        let shown: String = d.iter().map(|d| format!("{d}\n")).collect();
        for secret in ["tooshort-123", "hunter2"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
        // The caret still points at the value.
        assert!(
            shown.contains("    admin_token = \"************\"\n                  ^"),
            "{shown}"
        );
        // References to where a secret is are shown.
        let d = diags(
            "[[feed]]\nurl = \"https://a.example/f\"\nheaders = { \"Bad Name\" = \"env:FEED_KEY\" }\n",
        );
        assert!(d[0].source_line.contains("\"env:FEED_KEY\""), "{d:#?}");
    }

    #[test]
    fn user_info_in_the_url_and_auth_together_are_refused() {
        let d = diags(
            "[[feed]]\nurl = \"https://u:p@a.example/f\"\nauth = { user = \"me\", password = \"pw\" }\n",
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].line, 3);
        assert!(d[0].message.contains("feed[0].auth"), "{}", d[0]);
        assert!(!d[0].to_string().contains("pw\""), "{}", d[0]);
        assert!(
            parse(
                Path::new("rafid.toml"),
                "[[feed]]\nurl = \"https://a.example/f\"\nauth = { user = \"me\", password = \"pw\" }\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn the_admin_token_has_at_least_16_bytes() {
        let d = diags("[server]\nadmin_token = \"ab\"\n");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("server.admin_token"), "{}", d[0]);
        let ok = parse(
            Path::new("rafid.toml"),
            "[server]\nadmin_token = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(ok.server.admin_token.unwrap().0.len(), 16);
    }

    #[test]
    fn commands_that_do_not_serve_need_no_admin_token() {
        // SAFETY: no other test reads this variable.
        unsafe { std::env::remove_var("RAFID_TEST_UNSET_OFFLINE_TOKEN") };
        let text = "[server]\nadmin_token = \"env:RAFID_TEST_UNSET_OFFLINE_TOKEN\"\n";
        let p = Path::new("rafid.toml");
        assert!(parse_for(p, text, Purpose::Serve).is_err());
        let cfg = parse_for(p, text, Purpose::Offline).unwrap();
        assert!(cfg.server.admin_token.is_none());
        // Other errors are still errors.
        assert!(parse_for(p, "[server]\nadmin_token = \"ab\"\n", Purpose::Offline).is_err());
    }
}
