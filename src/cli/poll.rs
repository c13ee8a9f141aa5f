//! Polling on demand: `poll-once` (every enabled feed, once, then a
//! summary) and the work behind `feeds poll` (the feeds named, polled now),
//! which the command line and the daemon's control socket both run.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::failure::Failure;
use crate::config::{self, Config, FeedConfig};
use crate::ingest::fetch::Fetcher;
use crate::ingest::poll::{Outcome, Poller, Report};
use crate::store::open_store;
use crate::store::{IngestStats, Retention, Store, StoreError};

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
        tokio::task::spawn_blocking(move || {
            let store = open_store(&cfg, "rafid poll-once")?;
            // Before the first ingest: the poll's lookups of new keys then
            // never read sled.
            store.fill_key_set(None)?;
            Ok::<_, crate::store::StoreError>(store)
        })
        .await
        .map_err(Failure::internal)??
    };
    let fetcher = Arc::new(Fetcher::new(&config.poll).map_err(Failure::internal)?);
    let poller = Poller::new(config.clone(), store.clone(), fetcher);
    let token = CancellationToken::new();
    let now = Utc::now();
    let mut summary = Summary::default();
    let mut set = JoinSet::new();
    // Polls are started as slots come free, not all at once: a feed
    // waiting its turn is then only its entry in the config. Started all
    // at once, each waiting poll was a task holding a copy of the feed's
    // settings, about a kilobyte: 9 MB of a warm 10,000-feed poll's 74 MB
    // peak. Twice the concurrency keeps a poll waiting for every slot that
    // frees; the slots are taken in the order the config lists the feeds,
    // as before.
    let window = config.poll.concurrency.max(1).saturating_mul(2);
    let mut waiting = config.feeds.iter().filter(|f| f.enabled);
    let total = config.feeds.iter().filter(|f| f.enabled).count();
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
        while set.len() < window {
            let Some(feed) = waiting.next() else {
                break;
            };
            if let Some(report) = deferral(&store, feed, now) {
                done += 1;
                summary.add(&report);
                continue;
            }
            let poller = poller.clone();
            let feed = feed.clone();
            let token = token.clone();
            set.spawn(async move { poller.poll(&feed, &token).await });
        }
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
    let near = config
        .dedup
        .near_duplicates
        .then(|| config.near_dup().clone());
    summary.pruned += tokio::task::spawn_blocking(move || {
        let pruned = s.prune(&policy, Utc::now())?;
        // Every poll has ended: the next run can start from this index,
        // this key filter and what this prune knows of the feeds' caps.
        s.save_for_next_start(near.as_ref());
        s.flush()?;
        Ok::<_, StoreError>(pruned)
    })
    .await
    .map_err(Failure::internal)??;
    Ok(summary)
}

/// The report of a feed `poll-once` leaves alone, from its stored state:
/// its server said it is gone (HTTP 410), or asked for a wait that has not
/// ended (`Retry-After`).
fn deferral(store: &Store, feed: &FeedConfig, now: DateTime<Utc>) -> Option<Report> {
    let state = store.feed_state(feed.key()).ok().flatten()?;
    let why = if state.gone {
        "gone (HTTP 410): not polled any more".to_string()
    } else {
        let until = state.retry_after.filter(|t| *t > now)?;
        format!("the server asked to wait until {}", until.to_rfc3339())
    };
    Some(Report {
        feed: config::redact_url(&feed.url),
        status: state.gone.then_some(410),
        outcome: Outcome::Deferred(why),
    })
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
    let canon = |u: &str| crate::text::normalize::canonical_link(u.trim()).unwrap_or(u.to_string());
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
