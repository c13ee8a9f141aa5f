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
    feeds: Vec<RawFeed>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    admin_token: Option<Spanned<String>>,
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
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    near_duplicates: Option<bool>,
    window: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    boilerplate: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    title: Option<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    interval: Option<Spanned<String>>,
    enabled: Option<bool>,
    dedup: Option<bool>,
    #[serde(default)]
    headers: HashMap<String, Spanned<String>>,
    auth: Option<RawAuth>,
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
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Always ends with '/', so relative paths join under any prefix.
    pub base_url: Url,
    pub admin_token: Option<Secret>,
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
}

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
            threshold: crate::neardup::DEFAULT_THRESHOLD,
            boilerplate: crate::neardup::DEFAULT_BOILERPLATE
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
    pub headers: Vec<(String, Secret)>,
    pub auth: Option<(String, Secret)>,
}

impl FeedConfig {
    /// The key this feed's state and items are filed under: its URL as configured.
    pub fn key(&self) -> &str {
        self.url.as_str()
    }
}

impl Config {
    pub fn feed(&self, url: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.url.as_str() == url)
    }

    /// The feeds that carry `tag`.
    pub fn feeds_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a FeedConfig> {
        self.feeds
            .iter()
            .filter(move |f| f.tags.iter().any(|t| t == tag))
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
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Validates config text; `path` is only used in messages and to resolve
/// the default state directory.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut cx = Validator {
        path,
        text,
        errors: Vec::new(),
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.error(span, e.message().trim_end().to_string());
            return Err(ConfigError::Invalid(cx.errors));
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
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = self.text[line_start..start].chars().count() + 1;
        let source_line = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        self.errors.push(Diagnostic {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
            source_line,
        });
    }

    fn duration(&mut self, key: &str, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(v) = v else { return default };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(
                    v.span(),
                    format!("{key}: a duration must be more than zero"),
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
            self.error(v.span(), format!("{key}: must be at least {min}"));
            return default;
        }
        *v.get_ref() as u64
    }

    fn secret(&mut self, key: &str, v: &Spanned<String>) -> Secret {
        match resolve_secret(v.get_ref()) {
            Ok(s) => Secret(s),
            Err(msg) => {
                self.error(v.span(), format!("{key}: {msg}"));
                Secret(String::new())
            }
        }
    }

    fn validate(&mut self, raw: RawConfig) -> Config {
        let listen = match &raw.server.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => match v.get_ref().parse::<SocketAddr>() {
                Ok(a) => a,
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
        let admin_token = raw
            .server
            .admin_token
            .as_ref()
            .map(|v| self.secret("server.admin_token", v));

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
        let max_items_per_feed = raw.storage.max_items_per_feed.as_ref().map(|_| {
            self.count(
                "storage.max_items_per_feed",
                &raw.storage.max_items_per_feed,
                0,
                1,
            )
        });
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
                    "poll.min_interval: is longer than poll.max_interval".into(),
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
                    "poll.user_agent: not a valid header value (control characters?)".into(),
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

        let output = OutputConfig {
            title: raw
                .output
                .title
                .clone()
                .unwrap_or_else(|| "rafid".to_string()),
            max_items: self.count("output.max_items", &raw.output.max_items, 100, 1) as usize,
        };
        let dedup = DedupConfig {
            near_duplicates: raw.dedup.near_duplicates.unwrap_or(true),
            window: self.duration(
                "dedup.window",
                &raw.dedup.window,
                Duration::from_secs(72 * 3600),
            ),
            threshold: match &raw.dedup.threshold {
                None => crate::neardup::DEFAULT_THRESHOLD,
                Some(t) if *t.get_ref() > 0.0 && *t.get_ref() <= 1.0 => *t.get_ref(),
                Some(t) => {
                    self.error(
                        t.span(),
                        format!(
                            "dedup.threshold: {} is out of range; give a number above 0 and at most 1 (default {})",
                            t.get_ref(),
                            crate::neardup::DEFAULT_THRESHOLD
                        ),
                    );
                    crate::neardup::DEFAULT_THRESHOLD
                }
            },
            boilerplate: raw.dedup.boilerplate.clone().unwrap_or_else(|| {
                crate::neardup::DEFAULT_BOILERPLATE
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        };

        let mut feeds = Vec::with_capacity(raw.feeds.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, f) in raw.feeds.iter().enumerate() {
            let key = format!("feed[{i}]");
            let url = match Url::parse(f.url.get_ref().trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
                Ok(u) => {
                    self.error(
                        f.url.span(),
                        format!(
                            "{key}.url: scheme {:?} is not polled; rafid fetches http and https feeds",
                            u.scheme()
                        ),
                    );
                    continue;
                }
                Err(e) => {
                    self.error(
                        f.url.span(),
                        format!(
                            "{key}.url: {:?} is not a URL ({e}); write it in full, e.g. \"https://example.org/feed.xml\"",
                            f.url.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let canonical =
                crate::normalize::canonical_link(url.as_str()).unwrap_or_else(|| url.to_string());
            if let Some(first) = seen.get(&canonical) {
                self.error(
                    f.url.span(),
                    format!(
                        "{key}.url: the same feed as feed[{first}] ({}); remove one of them",
                        redact_url(&url)
                    ),
                );
                continue;
            }
            seen.insert(canonical, i);
            let mut tags = Vec::new();
            for t in &f.tags {
                let tag = t.get_ref().trim();
                if tag.is_empty()
                    || tag.contains(['/', '?', '#', '\\'])
                    || tag.starts_with('.')
                    || tag.chars().any(char::is_control)
                {
                    self.error(
                        t.span(),
                        format!(
                            "{key}.tags: {:?} cannot be a tag; tags are non-empty and contain no '/', '?', '#' or '\\'",
                            t.get_ref()
                        ),
                    );
                } else if !tags.iter().any(|x: &String| x == tag) {
                    tags.push(tag.to_string());
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
                        format!("{key}.headers: {name:?} is not a valid header name"),
                    );
                    continue;
                }
                let secret = self.secret(&format!("{key}.headers.{name}"), v);
                headers.push((name.clone(), secret));
            }
            let auth = f.auth.as_ref().map(|a| {
                let user = a.user.get_ref().clone();
                let pw = self.secret(&format!("{key}.auth.password"), &a.password);
                (user, pw)
            });
            feeds.push(FeedConfig {
                url,
                title: f.title.clone(),
                tags,
                interval,
                enabled: f.enabled.unwrap_or(true),
                dedup: f.dedup.unwrap_or(true),
                headers,
                auth,
            });
        }

        Config {
            path: self.path.to_path_buf(),
            server: ServerConfig {
                listen,
                base_url,
                admin_token,
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
        }
    }
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

/// Query parameters whose values are secrets in feed URLs.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "auth",
    "key",
    "apikey",
    "api_key",
    "secret",
    "password",
    "passwd",
    "sig",
    "signature",
    "session",
    "sid",
];

/// A URL as rafid shows it to others: user info and secret-looking query
/// values replaced, so logs, outputs and /status never leak credentials.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("redacted");
        let _ = u.set_password(None);
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = SECRET_PARAMS.contains(&lower.as_str())
                    || lower.ends_with("token")
                    || lower.ends_with("key");
                let v = if secret {
                    "redacted".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
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
    fn dedup_keys_parse_and_default() {
        let cfg = parse(Path::new("rafid.toml"), "").unwrap();
        assert_eq!(cfg.dedup.threshold, crate::neardup::DEFAULT_THRESHOLD);
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
        assert!(shown.contains("page=2"));
    }
}
