//! The one-shot commands: `check`, `poll-once`, `render`. Each returns a
//! `Failure` carrying the exit code the contract gives it.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError};
use crate::ingest::fetch::Fetcher;
use crate::ingest::poll::{Outcome, Poller, Report};
use crate::publish::{Cursor, Format, Scope, render_page_from_store};
use crate::store::{ImportError, IngestStats, Retention, Store, StoreError, open_store};

/// A command that failed, with its exit code: 1 for the user's mistakes
/// (bad config, bad input), 2 for internal and I/O failures.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn user(message: impl ToString) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }

    pub fn internal(message: impl ToString) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        match e {
            ConfigError::Read { .. } | ConfigError::NotFound { .. } | ConfigError::Invalid(_) => {
                Failure::user(e)
            }
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::internal(e)
    }
}

/// Finds and loads the config for `purpose`.
pub fn load_config(
    explicit: Option<&std::path::Path>,
    purpose: config::Purpose,
) -> Result<Config, Failure> {
    let path = config::locate(explicit)?;
    let cfg = config::load_for(&path, purpose)?;
    Ok(cfg)
}

/// `rafid check`: prints every problem, or a one-line summary.
pub fn check(explicit: Option<&std::path::Path>) -> Result<(), Failure> {
    let path = config::locate(explicit)?;
    match config::load(&path) {
        Ok(cfg) => {
            let enabled = cfg.feeds.iter().filter(|f| f.enabled).count();
            println!(
                "{}: OK ({} feeds, {} enabled; store in {})",
                path.display(),
                cfg.feeds.len(),
                enabled,
                cfg.storage.path.display()
            );
            Ok(())
        }
        Err(ConfigError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            Err(Failure::user(format!(
                "{}: {} error{}",
                path.display(),
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// The config `rafid init` writes: every section, commented, valid as it is.
pub const STARTER_CONFIG: &str = include_str!("../../config/starter.toml");

/// `rafid init [PATH]`: writes the starter config to `path`, else where
/// `-c`/`$RAFID_CONFIG` say, else `./config/rafid.toml`; never over an
/// existing file.
pub fn init(path: Option<&std::path::Path>, out: &mut dyn Write) -> Result<(), Failure> {
    let path = path.unwrap_or(std::path::Path::new(config::DEFAULT_PATHS[0]));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::user(format!("{}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::user(format!(
                "{} already exists; rafid init never overwrites a config (give another PATH)",
                path.display()
            )));
        }
        Err(e) => return Err(Failure::user(format!("{}: {e}", path.display()))),
    };
    file.write_all(STARTER_CONFIG.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Failure::internal(format!("{}: {e}", path.display())))?;
    writeln!(
        out,
        "wrote {}; add feeds with `rafid -c {} feeds add URL`, then `rafid -c {} run`",
        path.display(),
        path.display(),
        path.display()
    )
    .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
}

/// What `poll-once` prints at the end.
#[derive(Debug, Default)]
pub struct Summary {
    pub polled: usize,
    pub not_modified: usize,
    pub unchanged: usize,
    pub failed: Vec<(String, String)>,
    pub deferred: Vec<(String, String)>,
    pub stats: IngestStats,
    /// Items retention pruned: feeds kept to their cap after their polls,
    /// then the whole store.
    pub pruned: usize,
    /// Items feed rules kept out of the store.
    pub dropped: usize,
}

impl Summary {
    fn add(&mut self, r: &Report) {
        match &r.outcome {
            Outcome::NotModified => {
                self.polled += 1;
                self.not_modified += 1;
            }
            Outcome::Unchanged => {
                self.polled += 1;
                self.unchanged += 1;
            }
            Outcome::Stored(v) => {
                self.polled += 1;
                self.stats += v.stats;
                self.dropped += v.dropped;
                self.pruned += v.pruned;
            }
            Outcome::Failed(e) => {
                self.polled += 1;
                self.failed.push((r.feed.clone(), e.clone()));
            }
            Outcome::Deferred(why) => self.deferred.push((r.feed.clone(), why.clone())),
            Outcome::Cancelled => {}
        }
    }

    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "feeds polled: {}, not modified: {}, unchanged: {}, failed: {}, skipped: {}",
            self.polled,
            self.not_modified,
            self.unchanged,
            self.failed.len(),
            self.deferred.len()
        )?;
        writeln!(
            out,
            "items new: {}, updated: {}, duplicates merged: {} (near-duplicates: {}), pruned: {}",
            self.stats.new,
            self.stats.updated,
            self.stats.merged,
            self.stats.near_duplicates,
            self.pruned
        )?;
        if self.dropped > 0 {
            writeln!(out, "items dropped by feed rules: {}", self.dropped)?;
        }
        for (feed, err) in &self.failed {
            // Errors name their feed already when they come from the fetcher.
            let err = err.strip_prefix(&format!("{feed}: ")).unwrap_or(err);
            writeln!(out, "failed: {feed}: {err}")?;
        }
        for (feed, why) in &self.deferred {
            writeln!(out, "skipped: {feed}: {why}")?;
        }
        Ok(())
    }
}

/// How often `poll-once` logs its progress when stderr is not a terminal.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `rafid poll-once`: one request per enabled feed, then flush and report.
pub async fn poll_once(config: Config) -> Result<Summary, Failure> {
    let config = Arc::new(config);
    let store = {
        let cfg = config.clone();
        tokio::task::spawn_blocking(move || open_store(&cfg, "rafid poll-once"))
            .await
            .map_err(Failure::internal)??
    };
    let fetcher = Arc::new(Fetcher::new(&config.poll).map_err(Failure::internal)?);
    let poller = Poller::new(config.clone(), store.clone(), fetcher);
    let token = CancellationToken::new();
    let now = Utc::now();
    let mut summary = Summary::default();
    let mut set = JoinSet::new();
    for feed in config.feeds.iter().filter(|f| f.enabled) {
        let state = store.feed_state(feed.key()).ok().flatten();
        if state.as_ref().is_some_and(|s| s.gone) {
            summary.add(&Report {
                feed: config::redact_url(&feed.url),
                status: Some(410),
                outcome: Outcome::Deferred("gone (HTTP 410): not polled any more".into()),
            });
            continue;
        }
        if let Some(until) = state.and_then(|s| s.retry_after).filter(|t| *t > now) {
            summary.add(&Report {
                feed: config::redact_url(&feed.url),
                status: None,
                outcome: Outcome::Deferred(format!(
                    "the server asked to wait until {}",
                    until.to_rfc3339()
                )),
            });
            continue;
        }
        let poller = poller.clone();
        let feed = feed.clone();
        let token = token.clone();
        set.spawn(async move { poller.poll(&feed, &token).await });
    }
    let total = set.len();
    // On a terminal, one line redrawn after each poll; otherwise (a log,
    // cron) a line every few seconds, so a slow run is not a silent one.
    let terminal = std::io::stderr().is_terminal();
    let mut every = tokio::time::interval(PROGRESS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    every.tick().await;
    let mut done = 0;
    let line = |done: usize, s: &Summary| {
        format!(
            "polled {done}/{total} feeds, {} failed, {} new items",
            s.failed.len(),
            s.stats.new
        )
    };
    loop {
        let r = tokio::select! {
            r = set.join_next() => match r {
                Some(r) => r,
                None => break,
            },
            _ = every.tick(), if !terminal => {
                tracing::info!(target: "rafid::progress", "{}", line(done, &summary));
                continue;
            }
        };
        done += 1;
        match r {
            Ok(report) => summary.add(&report),
            Err(e) => summary
                .failed
                .push(("(task)".into(), format!("poll task failed: {e}"))),
        }
        if terminal {
            eprint!("\r{}\x1b[K", line(done, &summary));
        }
    }
    if terminal && total > 0 {
        eprintln!();
    }
    let (s, policy) = (store.clone(), Retention::from_config(&config.storage));
    summary.pruned += tokio::task::spawn_blocking(move || {
        let pruned = s.prune(&policy, Utc::now())?;
        s.flush()?;
        Ok::<_, StoreError>(pruned)
    })
    .await
    .map_err(Failure::internal)??;
    Ok(summary)
}

/// The feeds `rafid feeds poll` names: the URLs given (compared as `check`
/// compares them), every enabled feed (`--all`), or those whose last poll
/// failed (`--failing`).
pub fn feeds_to_poll(
    config: &Config,
    store: &Store,
    command: &crate::cli::Command,
) -> Result<Vec<config::FeedConfig>, Failure> {
    let crate::cli::Command::Feeds(crate::cli::FeedsCommand::Poll { urls, all, failing }) = command
    else {
        return Err(Failure::internal("not a feeds poll command"));
    };
    let enabled = config.feeds.iter().filter(|f| f.enabled);
    if *all {
        return Ok(enabled.cloned().collect());
    }
    if *failing {
        return Ok(enabled
            .filter(|f| {
                store
                    .feed_state(f.key())
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.consecutive_failures > 0)
            })
            .cloned()
            .collect());
    }
    let canon =
        |u: &str| crate::ingest::normalize::canonical_link(u.trim()).unwrap_or(u.to_string());
    urls.iter()
        .map(|u| {
            config
                .feeds
                .iter()
                .find(|f| canon(f.key()) == canon(u))
                .cloned()
                .ok_or_else(|| {
                    Failure::user(format!(
                        "{u}: no such [[feed]] in {}",
                        config.path.display()
                    ))
                })
        })
        .collect()
}

/// Polls `feeds` now, at once, in the order given: the fetcher's per-host
/// limit applies, and feeds that are gone or under a Retry-After are
/// skipped, as on schedule. Disabled feeds are skipped too.
pub async fn poll_now(
    poller: &Poller,
    feeds: Vec<config::FeedConfig>,
    token: &CancellationToken,
) -> Vec<Report> {
    let now = Utc::now();
    let mut set = JoinSet::new();
    let mut reports: Vec<Option<Report>> = Vec::with_capacity(feeds.len());
    let keys: Vec<String> = feeds.iter().map(|f| f.key().to_string()).collect();
    for (i, feed) in feeds.into_iter().enumerate() {
        let shown = config::redact_url(&feed.url);
        let state = poller.store.feed_state(feed.key()).ok().flatten();
        let skip = if !feed.enabled {
            Some("disabled in the config".to_string())
        } else if state.as_ref().is_some_and(|s| s.gone) {
            Some("gone (HTTP 410): not polled any more".to_string())
        } else {
            state
                .and_then(|s| s.retry_after)
                .filter(|t| *t > now)
                .map(|t| {
                    format!(
                        "the server asked to wait until {}",
                        t.format("%Y-%m-%d %H:%M:%S UTC")
                    )
                })
        };
        match skip {
            Some(why) => reports.push(Some(Report {
                feed: shown,
                status: None,
                outcome: Outcome::Deferred(why),
            })),
            None => {
                reports.push(None);
                let (poller, token) = (poller.clone(), token.clone());
                set.spawn(async move { (i, poller.poll(&feed, &token).await) });
            }
        }
    }
    while let Some(r) = set.join_next().await {
        if let Ok((i, report)) = r {
            // The scheduler works this feed's next poll out again.
            poller.schedule.forget(&keys[i]);
            reports[i] = Some(report);
        }
    }
    poller.schedule.replan();
    reports.into_iter().flatten().collect()
}

/// One line per feed: what polling it did.
pub fn poll_line(r: &Report) -> String {
    let what = match &r.outcome {
        Outcome::NotModified => "not modified".to_string(),
        Outcome::Unchanged => "unchanged".to_string(),
        Outcome::Stored(v) => {
            let mut s = format!(
                "{} items: {} new, {} updated, {} merged",
                v.items, v.stats.new, v.stats.updated, v.stats.merged
            );
            if v.dropped > 0 {
                s.push_str(&format!(", {} dropped by rules", v.dropped));
            }
            s
        }
        Outcome::Failed(e) => {
            let e = e.strip_prefix(&format!("{}: ", r.feed)).unwrap_or(e);
            format!("failed: {e}")
        }
        Outcome::Deferred(why) => format!("skipped: {why}"),
        Outcome::Cancelled => "cancelled".to_string(),
    };
    format!("{}: {what}", r.feed)
}

/// `rafid feeds poll`: through the running daemon when there is one, else
/// on the store opened here.
pub fn feeds_poll(
    config: &Config,
    command: &crate::cli::Command,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if let Some(answer) = crate::daemon::control::forward(&config.storage.path, command, out) {
        return answer;
    }
    let store = open_store(config, "rafid feeds poll")?;
    let feeds = feeds_to_poll(config, &store, command)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("cannot start the runtime: {e}")))?;
    let reports = runtime.block_on(async {
        let fetcher = Arc::new(Fetcher::new(&config.poll).map_err(Failure::internal)?);
        let poller = Poller::new(Arc::new(config.clone()), store.clone(), fetcher);
        Ok::<_, Failure>(poll_now(&poller, feeds, &CancellationToken::new()).await)
    })?;
    store.flush()?;
    write_poll_lines(&reports, out)
}

/// Prints `poll_line` of each report, or says there was nothing to poll.
pub fn write_poll_lines(reports: &[Report], out: &mut dyn Write) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::internal(format!("writing the output: {e}"));
    if reports.is_empty() {
        writeln!(out, "no feed to poll").map_err(io)?;
    }
    for r in reports {
        writeln!(out, "{}", poll_line(r)).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// `rafid render`: the merged feed (or one tag's) on stdout.
pub fn render(
    config: &Config,
    store: &Store,
    format: Format,
    tag: Option<String>,
    river: Option<String>,
    limit: Option<usize>,
    before: Option<&str>,
) -> Result<Vec<u8>, Failure> {
    let before = match before {
        None => None,
        Some(c) => Some(Cursor::parse(c).ok_or_else(|| {
            Failure::user(format!(
                "--before {c:?}: not a page cursor (the `before` value of a rel=\"next\" link)"
            ))
        })?),
    };
    if let Some(t) = &tag {
        if config.feeds_tagged(t).next().is_none() {
            return Err(Failure::user(format!(
                "no feed in {} has the tag {t:?}",
                config.path.display()
            )));
        }
    }
    if let Some(r) = &river {
        if config.river(r).is_none() {
            let names: Vec<&str> = config.rivers().iter().map(|r| r.name.as_str()).collect();
            return Err(Failure::user(format!(
                "no [[river]] named {r:?} in {} (rivers: {})",
                config.path.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    let scope = match (tag, river) {
        (Some(t), _) => Scope::Tag(config.tag(&t).map_or(t, str::to_string)),
        (None, Some(r)) => Scope::River(r),
        (None, None) => Scope::All,
    };
    let limit = limit.unwrap_or(config.output.max_items);
    let r = render_page_from_store(store, config, &scope, format, limit, before)?;
    Ok(r.body.to_vec())
}

/// `rafid rules test FILE_OR_URL`: reads one feed document (a file, or an
/// http(s) URL fetched as a poll would, without validators) and reports
/// what the rules would keep and drop. Stores nothing.
pub async fn rules_test(
    config: &Config,
    source: &str,
    feed: Option<&str>,
) -> Result<String, Failure> {
    let configured = |url: &str| {
        config.feed(url).or_else(|| {
            let canon = crate::ingest::normalize::canonical_link(url)?;
            config.feeds.iter().find(|f| {
                crate::ingest::normalize::canonical_link(f.key()).as_deref() == Some(&canon)
            })
        })
    };
    let feed_cfg = match feed {
        Some(u) => Some(configured(u).ok_or_else(|| {
            Failure::user(format!(
                "--feed {u}: no such [[feed]] in {}",
                config.path.display()
            ))
        })?),
        None => configured(source),
    };
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let (text, base) = if is_url {
        let url = url::Url::parse(source)
            .map_err(|e| Failure::user(format!("{source}: not a URL: {e}")))?;
        let fetcher = Fetcher::new(&config.poll).map_err(Failure::internal)?;
        let adhoc;
        let fc = match feed_cfg.filter(|f| f.url == url) {
            Some(f) => f,
            None => {
                adhoc = config::FeedConfig {
                    url: url.clone(),
                    title: None,
                    tags: Vec::new(),
                    interval: None,
                    enabled: true,
                    headers: Vec::new(),
                    auth: None,
                    rules: None,
                    dedup: true,
                    priority: 0,
                };
                &adhoc
            }
        };
        let shown = config::redact_url(&url);
        match fetcher
            .fetch(fc, &url, &crate::ingest::fetch::Validators::default())
            .await
        {
            Ok(crate::ingest::fetch::Fetched::Body(b)) => {
                let d = crate::ingest::fetch::decode_body(&b.bytes, b.content_type.as_deref());
                (d.text, b.final_url)
            }
            Ok(crate::ingest::fetch::Fetched::NotModified { status, .. }) => {
                return Err(Failure::user(format!(
                    "{shown}: HTTP {status} without a body"
                )));
            }
            Err(e) => return Err(Failure::user(e)),
        }
    } else {
        let path = std::path::Path::new(source);
        let bytes = std::fs::read(path).map_err(|e| Failure::user(format!("{source}: {e}")))?;
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = url::Url::from_file_path(&abs)
            .or_else(|_| url::Url::parse("file:///"))
            .map_err(|_| Failure::user(format!("{source}: cannot name the file as a URL")))?;
        (crate::ingest::fetch::decode_body(&bytes, None).text, base)
    };
    let shown = if is_url {
        config::redact_str(source)
    } else {
        source.to_string()
    };
    let doc = crate::ingest::parse::parse(&text, &base, config.poll.max_items_per_fetch)
        .map_err(|e| Failure::user(format!("{shown}: {e}")))?;
    Ok(crate::rules::report::report(config, feed_cfg, &shown, &doc))
}

/// `rafid export`: the whole store as JSON Lines on `out`.
pub fn export(store: &Store, out: &mut impl Write) -> Result<(), Failure> {
    Ok(store.export(out)?)
}

/// `rafid import FILE`: restores an export into the empty store.
pub fn import(config: &Config, file: &std::path::Path) -> Result<usize, Failure> {
    let input: Box<dyn std::io::BufRead> = if file == std::path::Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::user(format!("{}: {e}", file.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let store = open_store(config, "rafid import")?;
    store.import(input).map_err(|e| match e {
        ImportError::Input { .. } => Failure::user(format!("{}: {e}", file.display())),
        ImportError::NotEmpty { .. } => Failure::user(e),
        other => Failure::internal(other),
    })
}

/// `rafid store check`: prints every problem; a failure when there is one.
pub fn store_check(store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::internal(format!("writing the output: {e}"));
    let problems = store.check()?;
    if problems.is_empty() {
        writeln!(
            out,
            "{}: OK ({} items)",
            store.dir().join("store").display(),
            store.item_count()
        )
        .map_err(io)?;
        return Ok(());
    }
    for p in &problems {
        writeln!(out, "{p}").map_err(io)?;
    }
    Err(Failure::user(format!(
        "{}: {} problem{}",
        store.dir().join("store").display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )))
}

/// `rafid feeds list`: one block per configured feed with its health.
pub fn feeds_list(config: &Config, store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let now = Utc::now();
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    let io = |e: std::io::Error| Failure::internal(format!("writing to stdout: {e}"));
    for feed in &config.feeds {
        let state = store.feed_state(feed.key())?;
        let st = state.clone().unwrap_or_default();
        let next = if !feed.enabled {
            "disabled in the config".to_string()
        } else if st.gone {
            "never: the server said 410 Gone".to_string()
        } else {
            let due = crate::ingest::scheduler::next_due(config, feed, state.as_ref(), now);
            format!(
                "{} ({})",
                when(Some(due)),
                crate::ingest::scheduler::next_poll_reason(config, feed, state.as_ref(), now)
            )
        };
        let title = feed.title.clone().or(st.title.clone()).unwrap_or_default();
        writeln!(out, "{}  {title}", config::redact_url(&feed.url)).map_err(io)?;
        writeln!(out, "  last success: {}", when(st.last_success)).map_err(io)?;
        if let Some(e) = &st.last_error {
            writeln!(out, "  last error:   {e}").map_err(io)?;
        }
        writeln!(out, "  failures in a row: {}", st.consecutive_failures).map_err(io)?;
        writeln!(out, "  next poll:    {next}").map_err(io)?;
        if let Some(t) = st.retry_after.filter(|t| *t > now) {
            writeln!(out, "  server asked to wait until {}", when(Some(t))).map_err(io)?;
        }
        if let Some(m) = &st.moved_to {
            writeln!(out, "  moved to:     {}", config::redact_str(m)).map_err(io)?;
        }
        let share = if st.polls > 0 {
            format!(
                "{:.0}% answered 304",
                100.0 * st.not_modified as f64 / st.polls as f64
            )
        } else {
            "not polled yet".into()
        };
        writeln!(out, "  items: {}, polls: {} ({share})", st.items, st.polls).map_err(io)?;
        if st.polls > 0 {
            let validators = match (&st.etag, &st.last_modified) {
                (Some(_), Some(_)) => "ETag and Last-Modified",
                (Some(_), None) => "ETag",
                (None, Some(_)) => "Last-Modified",
                (None, None) => "none (every poll downloads the whole feed)",
            };
            writeln!(
                out,
                "  politeness: validators: {validators}; Retry-After honoured: {}",
                st.retry_afters
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

/// `rafid dedup eval PAIRS`: predictions on stdout, figures on stderr. The
/// config is read when there is one (for `dedup.threshold` and
/// `dedup.boilerplate`), and needs no feeds; without one the defaults apply.
pub fn dedup_eval(
    explicit: Option<&std::path::Path>,
    pairs: &std::path::Path,
) -> Result<(), Failure> {
    let dedup = match config::locate(explicit) {
        Ok(path) => config::load(&path)?.dedup,
        Err(_) => config::DedupConfig::default(),
    };
    let shown = pairs.display().to_string();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = if shown == "-" {
        crate::dedup::eval::run(&dedup, &shown, std::io::stdin().lock(), &mut out)
    } else {
        let file = std::fs::File::open(pairs)
            .map_err(|e| Failure::user(format!("{shown}: cannot read: {e}")))?;
        crate::dedup::eval::run(&dedup, &shown, std::io::BufReader::new(file), &mut out)
    }
    .map_err(|e| match e {
        crate::dedup::eval::EvalError::Input { .. } => Failure::user(e),
        crate::dedup::eval::EvalError::Io { .. } => Failure::internal(e),
    })?;
    out.flush()
        .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))?;
    eprint!("{}", summary.report());
    Ok(())
}

/// The stored item ITEM names, or a user error saying what was looked for.
fn find_story(store: &Store, item: &str) -> Result<crate::model::ItemId, Failure> {
    store.find_item(item)?.ok_or_else(|| {
        Failure::user(format!(
            "{item}: no stored item has this id, urn or link (ids are as `rafid export` writes them, urns as the outputs publish them)"
        ))
    })
}

fn priorities(config: &Config) -> crate::store::Priorities {
    config
        .feeds
        .iter()
        .filter(|f| f.priority != 0)
        .map(|f| (f.key().to_string(), f.priority))
        .collect()
}

/// `rafid dedup explain ITEM`: how the story was put together.
pub fn dedup_explain(
    config: &Config,
    store: &Store,
    item: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let id = find_story(store, item)?;
    let Some(stored) = store.item(id)? else {
        return Err(Failure::user(format!("{item}: the item is gone")));
    };
    let explanation = crate::store::explain::explain(
        &stored,
        store.splits_of(id)?,
        &config.dedup,
        &priorities(config),
    );
    let text = if json {
        let mut t = serde_json::to_string_pretty(&explanation).map_err(Failure::internal)?;
        t.push('\n');
        t
    } else {
        explanation.text()
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Failure::internal(format!("writing the output: {e}")))
}

/// `rafid dedup split ITEM MEMBER`: the member leaves the story for good.
pub fn dedup_split(
    config: &Config,
    store: &Store,
    item: &str,
    member: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let id = find_story(store, item)?;
    store.set_priorities(priorities(config));
    let new = store.split(id, member, Utc::now()).map_err(|e| match e {
        crate::store::SplitError::Store(e) => Failure::from(e),
        other => Failure::user(other),
    })?;
    writeln!(
        out,
        "{member} split off item {id}: it is now item {new} ({}), and stays out of {id}",
        new.urn()
    )
    .and_then(|_| out.flush())
    .map_err(|e| Failure::internal(format!("writing the output: {e}")))
}
