//! One poll of one feed, end to end: fetch → decode → parse → keys → store,
//! and the feed's state updated to match. Shared by the daemon's scheduler
//! and `rafid poll-once`.

use std::sync::Arc;

use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error_span, info, warn};

use crate::config::{Config, FeedConfig, redact_url};
use crate::dedup::keys as dedup;
use crate::ingest::counters::Counters;
use crate::ingest::fetch::{Fetched, Fetcher, Validators, decode_body};
use crate::ingest::parse;
pub use crate::ingest::report::{IngestStatsView, Outcome, Report};
use crate::model::{FeedState, Source, hex};
use crate::store::{IngestStats, Store, StoreError};

/// What every poll needs; cheap to clone.
#[derive(Clone)]
pub struct Poller {
    pub config: Arc<Config>,
    pub store: Store,
    pub fetcher: Arc<Fetcher>,
    /// Polls in progress, `poll.concurrency` at most, from request to stored
    /// items: bounds the bodies held in memory, not only the requests.
    slots: Arc<Semaphore>,
    /// Parsing and storing is CPU work: one document per core at a time,
    /// and one more. The store runs one document's transaction at a time
    /// and every other store call waits for it, so with one per core a
    /// core sat idle while its document waited; with one more, cold polls
    /// took 0.97 times as long at 10,000 feeds (four runs each way,
    /// alternated) and 0.96 at 1000 (three), a few MB higher at the peak.
    cpu: Arc<Semaphore>,
    /// When each feed is next polled, as the scheduler planned it.
    pub schedule: Arc<crate::ingest::schedule::Schedule>,
    /// Where this poller counts its polls; shared with whoever shows them.
    pub counters: Arc<Counters>,
    /// Held while a connect failure is counted or taken back; see
    /// `connect_failed`.
    books: Arc<std::sync::Mutex<()>>,
    /// The other processes polling the store, when there are any: a
    /// request to a host then also takes one of the host's slots shared
    /// with them, and a `Retry-After` pauses the host for all.
    pub pollers: Option<Arc<crate::store::Pollers>>,
}

impl Poller {
    pub fn new(config: Arc<Config>, store: Store, fetcher: Arc<Fetcher>) -> Poller {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Poller {
            slots: Arc::new(Semaphore::new(config.poll.concurrency)),
            cpu: Arc::new(Semaphore::new(cores + 1)),
            schedule: Arc::default(),
            counters: Arc::default(),
            books: Arc::default(),
            pollers: None,
            config,
            store,
            fetcher,
        }
    }

    /// The same poller counting its polls into `counters`, which the
    /// daemon also hands to the server for `/metrics`. Without this a
    /// poller counts into a set of its own.
    pub fn counting_into(self, counters: Arc<Counters>) -> Poller {
        Poller { counters, ..self }
    }

    /// The same poller under another config (after a reload): the slots,
    /// the fetcher and the store are shared.
    pub fn with_config(&self, config: Arc<Config>) -> Poller {
        Poller {
            config,
            ..self.clone()
        }
    }

    /// Polls `feed` once; never fails: every problem ends up in the report
    /// and in the feed's state. `cancel` ends the poll at once: the fetch,
    /// and the wait for the ingest on its blocking thread, which stops
    /// parsing at its next check (storing, once started, finishes there).
    pub async fn poll(&self, feed: &FeedConfig, cancel: &CancellationToken) -> Report {
        let slot = self.slot().await;
        self.poll_holding(slot, feed, cancel).await
    }

    /// Waits for one of the `poll.concurrency` slots a poll holds. The
    /// semaphore is never closed; should that change, polling goes on
    /// unbounded rather than failing.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// `poll`, in the slot the caller already holds: for a scheduler that
    /// takes a feed's lease only once it can poll at once, so that a busy
    /// process does not hold feeds others could poll.
    pub async fn poll_holding(
        &self,
        _slot: Option<OwnedSemaphorePermit>,
        feed: &FeedConfig,
        cancel: &CancellationToken,
    ) -> Report {
        let shown = redact_url(&feed.url);
        // An error-level span is enabled whenever any logging is, so warnings
        // from a poll always name the feed, even under `-q`.
        let span = error_span!("poll", feed = %shown);
        let started = std::time::Instant::now();
        // Boxed, so that its state (some kilobytes: the fetch, the parse,
        // the ingest) is allocated only while a slot is held. Every feed's
        // task awaits `poll`, and each would otherwise carry that state the
        // whole time it waits for a slot or sleeps until its next poll:
        // 33 MB for 10,000 feeds.
        let report = Box::pin(self.poll_inner(feed, shown, cancel).instrument(span)).await;
        self.counters.record(&report, started.elapsed());
        report
    }

    async fn poll_inner(
        &self,
        feed: &FeedConfig,
        shown: String,
        cancel: &CancellationToken,
    ) -> Report {
        let key = feed.key().to_string();
        let mut state = match self.store.feed_state(&key) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                // A damaged state record must not stop the feed: start afresh.
                warn!(error = %e, "feed state unreadable; polling unconditionally");
                FeedState::default()
            }
        };
        state.polls += 1;
        if state.rules.as_deref() != rules_fingerprint(feed) {
            // Items the old rules dropped may be wanted now (or the other
            // way round): the document is fetched and judged in full.
            state.etag = None;
            state.last_modified = None;
            state.body_hash = None;
        }
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        // A feed that moved for good is fetched at its new address.
        let url = state
            .moved_to
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .unwrap_or_else(|| feed.url.clone());
        self.schedule.polling(&key);
        let fetched = tokio::select! {
            r = async {
                let _shared = self.shared_host_slot(&url).await;
                self.fetcher.fetch(feed, &url, &validators).await
            } => r,
            _ = cancel.cancelled() => {
                return Report { feed: shown, status: None, outcome: Outcome::Cancelled };
            }
        };
        if let (Some(pollers), Err(e)) = (&self.pollers, &fetched) {
            if let Some(until) = e.retry_after() {
                if let Err(e) = pollers.pause_host(&shared_host(&url), until).await {
                    warn!(error = %e, "cannot tell the other processes of the host's Retry-After");
                }
            }
        }
        let fetched = match fetched {
            Err(e @ crate::ingest::fetch::FetchError::Connect { .. }) => {
                state.last_poll = Some(Utc::now());
                let report = self.connect_failed(&key, &url, shown, state, e);
                log_report(&report);
                return report;
            }
            other => other,
        };
        // Any answer from a server, even an error status, shows the network
        // works.
        if !matches!(
            fetched,
            Err(crate::ingest::fetch::FetchError::Timeout { .. }
                | crate::ingest::fetch::FetchError::Request { .. })
        ) {
            self.schedule.answered();
        }
        // The poll counts from when the answer came: time spent waiting for
        // a free slot to the host does not shorten the wait to the next one.
        let now = Utc::now();
        state.last_poll = Some(now);
        let report = match fetched {
            Ok(Fetched::NotModified {
                status,
                moved,
                hints,
            }) => {
                state.last_status = Some(status);
                state.not_modified += 1;
                note_redirect(&mut state, moved, feed);
                state.hints.fresh_for_secs = hints.fresh_for.map(|d| d.as_secs());
                succeed(&mut state, now);
                self.save_state(&key, &mut state, &shown);
                Report {
                    feed: shown,
                    status: Some(status),
                    outcome: Outcome::NotModified,
                }
            }
            Ok(Fetched::Body(body)) => {
                let status = body.status;
                note_redirect(&mut state, body.moved.clone(), feed);
                state.hints.fresh_for_secs = body.hints.fresh_for.map(|d| d.as_secs());
                let body_hash = hex(&Sha256::digest(&body.bytes)[..16]);
                state.last_status = Some(status);
                if state.body_hash.as_deref() == Some(body_hash.as_str()) {
                    // Validators are replaced after every 200, even when the
                    // bytes are the same.
                    state.etag = body.validators.etag;
                    state.last_modified = body.validators.last_modified;
                    succeed(&mut state, now);
                    self.save_state(&key, &mut state, &shown);
                    Report {
                        feed: shown,
                        status: Some(status),
                        outcome: Outcome::Unchanged,
                    }
                } else {
                    let store = self.store.clone();
                    let config = self.config.clone();
                    let feed = feed.clone();
                    let shown2 = shown.clone();
                    let cpu = tokio::select! {
                        p = self.cpu.clone().acquire_owned() => p.ok(),
                        _ = cancel.cancelled() => {
                            return Report { feed: shown, status: Some(status), outcome: Outcome::Cancelled };
                        }
                    };
                    let stop = cancel.clone();
                    let work = tokio::task::spawn_blocking(move || {
                        let _cpu = cpu;
                        let deadline = parse::Deadline::new(parse::MAX_PARSE_CPU, Some(stop));
                        ingest_within(
                            &store, &config, &feed, body, body_hash, state, &shown2, &deadline,
                        )
                    });
                    // Shutdown does not wait for the parse: it stops at its
                    // next look at the token, and a store transaction already
                    // begun is atomic whether or not it ends before the exit.
                    let outcome = tokio::select! {
                        r = work => match r {
                            Ok(o) => o,
                            Err(e) => Outcome::Failed(format!("{shown}: ingest task failed: {e}")),
                        },
                        _ = cancel.cancelled() => Outcome::Cancelled,
                    };
                    Report {
                        feed: shown,
                        status: Some(status),
                        outcome,
                    }
                }
            }
            Err(e) => self.failed(&key, shown, state, e, false),
        };
        log_report(&report);
        report
    }

    /// One of the host's request slots shared with the other processes
    /// polling the store, when there are any. Without the database the
    /// fetch goes on within this process's own `per_host`.
    async fn shared_host_slot(&self, url: &url::Url) -> Option<crate::store::HostPermit> {
        let pollers = self.pollers.as_ref()?;
        let host = shared_host(url);
        let lease = self.config.poll.timeout + std::time::Duration::from_secs(30);
        match pollers
            .host_slot(&host, self.config.poll.per_host, lease)
            .await
        {
            Ok(permit) => Some(permit),
            Err(e) => {
                warn!(error = %e, "cannot take a request slot shared with the other processes; fetching within this process's own limit");
                None
            }
        }
    }

    /// A connect failure. Registering it with the schedule and saving the
    /// feed's state happen under one lock: a feed whose failure shows an
    /// outage takes back the failures counted before it, and must find them
    /// saved, not about to be.
    fn connect_failed(
        &self,
        key: &str,
        url: &url::Url,
        shown: String,
        state: FeedState,
        e: crate::ingest::fetch::FetchError,
    ) -> Report {
        let _books = self.books.lock().unwrap_or_else(|p| p.into_inner());
        let host = url.host_str().unwrap_or_default();
        let verdict =
            self.schedule
                .unreachable(key, host, &e.to_string(), self.hosts(), Utc::now());
        let network_down = match verdict {
            crate::ingest::schedule::Unreachable::Feed => false,
            crate::ingest::schedule::Unreachable::Network { uncount } => {
                for other in uncount.iter().filter(|k| k.as_str() != key) {
                    self.uncount_failure(other);
                }
                true
            }
        };
        self.failed(key, shown, state, e, network_down)
    }

    /// A poll that got no document: the error goes into the feed's state,
    /// counted as the feed's failure unless the network is down (which
    /// `connect_failed` tells, under the lock that keeps an outage found by
    /// another feed meanwhile from slipping past).
    fn failed(
        &self,
        key: &str,
        shown: String,
        mut state: FeedState,
        e: crate::ingest::fetch::FetchError,
        network_down: bool,
    ) -> Report {
        state.last_status = e.status();
        if e.status() == Some(410) {
            state.gone = true;
            warn!("410 Gone: the feed is not polled any more");
        }
        if network_down {
            // Not this feed's fault: no backoff of its own.
            state.last_error = Some(format!(
                "{e} (no network: every feed fails to connect; not counted as this feed's failure)"
            ));
        } else {
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            state.last_error = Some(e.to_string());
        }
        if let Some(t) = e.retry_after() {
            state.retry_after = Some(t);
            state.retry_afters += 1;
        }
        self.save_state(key, &mut state, &shown);
        Report {
            feed: shown,
            status: e.status(),
            outcome: Outcome::Failed(state.last_error.clone().unwrap_or_else(|| e.to_string())),
        }
    }

    /// Distinct hosts among the enabled feeds.
    fn hosts(&self) -> usize {
        let hosts: std::collections::HashSet<&str> = self
            .config
            .feeds
            .iter()
            .filter(|f| f.enabled)
            .filter_map(|f| f.url.host_str())
            .collect();
        hosts.len()
    }

    /// Takes back a failure counted for feed `key` before an outage showed.
    fn uncount_failure(&self, key: &str) {
        if let Ok(Some(mut state)) = self.store.feed_state(key) {
            if state.consecutive_failures > 0 {
                state.consecutive_failures -= 1;
                if let Some(e) = state.last_error.take() {
                    state.last_error = Some(format!(
                        "{e} (no network: every feed fails to connect; not counted as this feed's failure)"
                    ));
                }
                let shown = crate::config::redact_str(key);
                self.save_state(key, &mut state, &shown);
            }
        }
    }

    fn save_state(&self, key: &str, state: &mut FeedState, shown: &str) {
        note_interval(&self.config, key, state);
        if let Err(e) = self.store.put_feed_state(key, state) {
            warn!(feed = %shown, error = %e, "cannot save feed state");
        }
    }
}

/// Records the interval the feed will be polled at, and why, in its state.
/// The name the processes sharing a store know a host by, for its slots
/// and pauses.
fn shared_host(url: &url::Url) -> String {
    url.host_str().unwrap_or("").to_ascii_lowercase()
}

fn note_interval(config: &Config, key: &str, state: &mut FeedState) {
    if let Some(feed) = config.feed(key) {
        let (interval, why) =
            crate::ingest::schedule::effective_interval(config, feed, Some(state));
        state.interval_secs = Some(interval.as_secs());
        state.interval_reason = Some(why);
    }
}

/// Identifies the feed's rules, as remembered in its state.
fn rules_fingerprint(feed: &FeedConfig) -> Option<&str> {
    feed.rules
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| r.fingerprint())
}

/// Polls in a row that must see the same permanent redirect before the new
/// URL is adopted: one stray 301 from a misconfigured server moves nothing.
const ADOPT_REDIRECT_AFTER: u32 = 3;

fn note_redirect(state: &mut FeedState, moved: Option<url::Url>, feed: &FeedConfig) {
    let Some(moved) = moved else {
        state.redirect_to = None;
        state.redirect_streak = 0;
        return;
    };
    let to = moved.to_string();
    if state.redirect_to.as_deref() == Some(to.as_str()) {
        state.redirect_streak = state.redirect_streak.saturating_add(1);
    } else {
        state.redirect_to = Some(to.clone());
        state.redirect_streak = 1;
    }
    if state.redirect_streak >= ADOPT_REDIRECT_AFTER && state.moved_to.as_deref() != Some(&to) {
        info!(to = %crate::config::redact_str(&to), "the feed moved permanently; polling its new URL from now on");
        if let Some(why) = credentials_withheld(feed, &moved) {
            warn!(to = %crate::config::redact_str(&to), "{why}");
        }
        state.moved_to = Some(to);
    }
}

/// Why the feed's `headers` and `auth` are not sent to `moved_to`, a URL
/// the feed moved to, if they are not: they go only to the configured
/// URL's origin (see `fetch::sends_credentials`). Shown in the log and in
/// /status.
pub fn credentials_withheld(feed: &FeedConfig, moved_to: &url::Url) -> Option<String> {
    let has_credentials = !feed.headers.is_empty() || feed.auth.is_some();
    if !has_credentials || crate::ingest::fetch::sends_credentials(feed, moved_to) {
        return None;
    }
    Some(format!(
        "the feed moved to another origin ({}); its headers and auth go only to {}, \
         so they are no longer sent",
        moved_to.origin().ascii_serialization(),
        feed.url.origin().ascii_serialization()
    ))
}

fn succeed(state: &mut FeedState, now: chrono::DateTime<Utc>) {
    state.last_success = Some(now);
    state.last_error = None;
    state.consecutive_failures = 0;
    state.retry_after = None;
}

/// The CPU and storage part of a poll: decode, parse, key and store one
/// response body, and record the outcome in the feed's `state`. Blocking;
/// the daemon runs it on a blocking thread. Public so that fuzzing and
/// benchmarks can drive exactly what a poll does with a body.
pub fn ingest(
    store: &Store,
    config: &Config,
    feed: &FeedConfig,
    body: crate::ingest::fetch::Body,
    body_hash: String,
    state: FeedState,
    shown: &str,
) -> Outcome {
    let deadline = parse::Deadline::new(parse::MAX_PARSE_CPU, None);
    ingest_within(
        store, config, feed, body, body_hash, state, shown, &deadline,
    )
}

/// `ingest`, with the parse and the work before storing bounded by
/// `deadline` (the CPU time of this thread, and the daemon's stop). A
/// document over its time fails the poll like any bad document; storing,
/// once begun, is not interrupted.
#[allow(clippy::too_many_arguments)]
pub fn ingest_within(
    store: &Store,
    config: &Config,
    feed: &FeedConfig,
    body: crate::ingest::fetch::Body,
    body_hash: String,
    mut state: FeedState,
    shown: &str,
    deadline: &parse::Deadline,
) -> Outcome {
    let now = state.last_poll.unwrap_or_else(Utc::now);
    let decoded = decode_body(&body.bytes, body.content_type.as_deref());
    if decoded.had_errors {
        warn!(
            encoding = decoded.encoding.name(),
            "body is not valid {}; undecodable bytes replaced",
            decoded.encoding.name()
        );
    }
    let parsed = parse::parse_within(
        &decoded.text,
        &body.final_url,
        config.poll.max_items_per_fetch,
        deadline,
    );
    let refuse = |mut state: FeedState, e: parse::ParseError| {
        if let parse::ParseError::Cancelled = e {
            return Outcome::Cancelled;
        }
        let msg = format!("{shown}: {e}");
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.last_error = Some(msg.clone());
        // Validators and body hash stay as they were: the next poll
        // fetches the document again in full.
        if let Err(e) = store.put_feed_state(feed.key(), &state) {
            warn!(error = %e, "cannot save feed state");
        }
        Outcome::Failed(msg)
    };
    let mut parsed = match parsed {
        Ok(p) => p,
        Err(e) => return refuse(state, e),
    };
    let keys = dedup::keys_for(feed.key(), parsed.meta.site_url.as_deref(), &parsed.entries);
    // An item listed twice in one document is taken once (the first time),
    // or two differing copies would count as an edit on every poll.
    let mut seen = std::collections::HashSet::new();
    let listed = parsed.entries.len();
    let (entries, keys): (Vec<_>, Vec<_>) = std::mem::take(&mut parsed.entries)
        .into_iter()
        .zip(keys)
        .filter(|(_, k)| seen.insert(k.local))
        .unzip();
    // The feed's rules decide what is stored.
    let screened = match crate::rules::screen::screen(
        store,
        feed.key(),
        feed.rules.as_deref(),
        entries,
        keys,
        now,
    ) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("{shown}: {e}")),
    };
    let (entries, keys, dropped) = (screened.entries, screened.keys, screened.dropped);
    // The last look at the clock: storing, once begun, runs to the end.
    if let Err(e) = deadline.check() {
        return refuse(state, e);
    }
    state.rules = rules_fingerprint(feed).map(str::to_string);
    state.etag = body.validators.etag;
    state.last_modified = body.validators.last_modified;
    state.body_hash = Some(body_hash);
    state.title = parsed.meta.title.clone();
    state.site_url = parsed.meta.site_url.clone();
    state.feed_id = parsed.meta.id.clone();
    state.language = parsed.meta.language.clone();
    state.hints.ttl_secs = parsed.meta.ttl_minutes.map(|m| u64::from(m) * 60);
    state.hints.update_period_secs = parsed.meta.update_period.map(|d| d.as_secs());
    state.hints.publish_gap_secs = parse::publish_gap(&parsed.entries, now).map(|d| d.as_secs());
    succeed(&mut state, now);
    note_interval(config, feed.key(), &mut state);
    let source = Source {
        feed_url: feed.key().to_string(),
        feed_title: parsed.meta.title.clone(),
        feed_id: parsed.meta.id.clone(),
        site_url: parsed.meta.site_url.clone(),
        item_link: None,
        guid: None,
        copy: None,
    };
    // The store saves the state with this document's items counted in it,
    // in the transaction that stores them.
    // A feed that opts out neither merges into other feeds' stories nor
    // takes their items in.
    let near = (config.dedup.near_duplicates && feed.dedup).then(|| config.near_dup());
    // Which copy a merged story shows depends on the feeds' priorities in
    // force; usually none is set and this costs nothing.
    store.set_priorities(config.priorities().iter().map(|(f, p)| (f.clone(), *p)));
    let result = store_document(store, &source, &entries, &keys, &mut state, now, near);
    match result {
        Ok(stats) => Outcome::Stored(IngestStatsView {
            items: listed,
            pruned: after_ingest(store, config, feed.key(), listed, &stats, &mut state, now),
            stats,
            dropped,
        }),
        Err(e) => Outcome::Failed(format!("{shown}: {e}")),
    }
}

/// Polls in a row of mostly new items after which a feed is said to churn.
const CHURN_POLLS: u32 = 3;

/// Keeps the feed within `storage.max_items_per_feed` now rather than at
/// the next retention run, and warns about a feed whose documents are
/// mostly new items poll after poll (GUIDs that change every time): the
/// cap is then all that bounds it. Any item the ingest wrote (new, merged
/// or updated) may have made this feed's copy the one a story shows, which
/// counts against this feed's cap, and retention relies on the feed being
/// brought back within it here (see `store::retention::FeedCaps`). Returns
/// how many items were pruned.
fn after_ingest(
    store: &Store,
    config: &Config,
    key: &str,
    listed: usize,
    stats: &IngestStats,
    state: &mut FeedState,
    now: chrono::DateTime<Utc>,
) -> usize {
    let (new, written) = (stats.new, stats.new + stats.merged + stats.updated);
    let max = config.storage.max_items_per_feed;
    let mut pruned = 0;
    if let (true, Some(max)) = (written > 0, max) {
        match store.prune_feed(key, max, now) {
            Ok(n) => pruned = n,
            Err(e) => warn!(error = %e, "cannot prune the feed to its cap"),
        }
    }
    // A full document (not a short one) of which more than 90% is new.
    let churning = listed >= 10 && new * 10 > listed * 9;
    let streak = if churning {
        state.churning_polls.saturating_add(1)
    } else {
        0
    };
    if streak == state.churning_polls {
        return pruned;
    }
    state.churning_polls = streak;
    if streak == CHURN_POLLS {
        warn!(
            polls = streak,
            new,
            listed,
            max_items_per_feed = max,
            "most of this feed's items are new on every poll (do its GUIDs change each time?); only storage.max_items_per_feed bounds what it stores"
        );
    }
    if let Err(e) = store.put_feed_state(key, state) {
        warn!(error = %e, "cannot save feed state");
    }
    pruned
}

fn store_document(
    store: &Store,
    source: &Source,
    entries: &[crate::model::Entry],
    keys: &[dedup::ItemKeys],
    state: &mut FeedState,
    now: chrono::DateTime<Utc>,
    near: Option<&crate::dedup::near::NearDup>,
) -> Result<IngestStats, StoreError> {
    let stats = store.ingest_near(source, entries, keys, state, now, near)?;
    // The store counted them into the state it saved.
    state.items += stats.contributed();
    Ok(stats)
}

fn log_report(r: &Report) {
    let status = r
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into());
    match &r.outcome {
        Outcome::NotModified => info!(status = %status, "not modified"),
        Outcome::Unchanged => info!(status = %status, "unchanged body"),
        Outcome::Stored(v) => info!(
            status = %status,
            items = v.items,
            new = v.stats.new,
            updated = v.stats.updated,
            merged = v.stats.merged,
            dropped = v.dropped,
            pruned = v.pruned,
            near_duplicates = v.stats.near_duplicates,
            folded = v.stats.folded,
            linked = v.stats.linked,
            "polled"
        ),
        Outcome::Deferred(why) => info!(why = %why, "not polled"),
        // Its own target, so that `poll-once`, which lists the failures in
        // its summary, does not print each one twice.
        Outcome::Failed(e) => {
            warn!(target: "rafid::poll::failed", status = %status, error = %e, "poll failed")
        }
        Outcome::Cancelled => info!("poll cancelled by shutdown"),
    }
}

/// A poller over a new store in `dir` whose config lists the one feed
/// `url`: for tests that look at a poll or a feed's loop without running it.
#[cfg(test)]
pub(crate) fn lone_feed_poller(dir: &std::path::Path, url: &str) -> (Arc<Config>, Poller) {
    let text = format!(
        "[storage]\npath = {:?}\n[[feed]]\nurl = \"{url}\"\n",
        dir.join("data").display().to_string()
    );
    let cfg = Arc::new(crate::config::parse(&dir.join("rafid.toml"), &text).unwrap());
    let store = Store::open(&cfg.storage.path, "test").unwrap();
    let fetcher = Arc::new(Fetcher::new(&cfg.poll).unwrap());
    (cfg.clone(), Poller::new(cfg, store, fetcher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn body(doc: &str) -> crate::ingest::fetch::Body {
        crate::ingest::fetch::Body {
            status: 200,
            bytes: bytes::Bytes::from(doc.to_string()),
            content_type: Some("application/rss+xml".into()),
            final_url: url::Url::parse("https://a.example/f").unwrap(),
            validators: Default::default(),
            moved: None,
            hints: Default::default(),
        }
    }

    #[test]
    fn a_parse_past_its_time_fails_the_poll_and_a_stopped_one_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[storage]\npath = {:?}\n[[feed]]\nurl = \"https://a.example/f?k=s3cr3t\"\n",
            dir.path().join("data").display().to_string()
        );
        let cfg = crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap();
        let store = Store::open(&cfg.storage.path, "test").unwrap();
        let feed = &cfg.feeds[0];
        let shown = redact_url(&feed.url);
        let doc = "<rss version=\"2.0\"><channel><title>T</title>\
                   <item><guid>1</guid><title>خبر</title></item></channel></rss>";

        let over = parse::Deadline::new(Duration::ZERO, None);
        // Some CPU time on this thread, so that the clock has moved.
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let out = ingest_within(
            &store,
            &cfg,
            feed,
            body(doc),
            "h1".into(),
            FeedState::default(),
            &shown,
            &over,
        );
        let Outcome::Failed(msg) = out else {
            panic!("{out:?}")
        };
        assert!(
            msg.starts_with(&format!("{shown}: ")) && msg.contains("CPU"),
            "{msg}"
        );
        let st = store.feed_state(feed.key()).unwrap().unwrap();
        assert_eq!(st.consecutive_failures, 1);
        assert_eq!(st.last_error.as_deref(), Some(msg.as_str()));
        assert!(
            crate::ingest::schedule::next_poll_reason(&cfg, feed, Some(&st), Utc::now())
                .contains("backing off"),
        );
        assert_eq!(store.item_count(), 0);

        // Stopped by shutdown: nothing stored, nothing recorded.
        let stop = CancellationToken::new();
        stop.cancel();
        let stopped = parse::Deadline::new(Duration::from_secs(3600), Some(stop));
        let out = ingest_within(
            &store,
            &cfg,
            feed,
            body(doc),
            "h2".into(),
            st.clone(),
            &shown,
            &stopped,
        );
        assert_eq!(out, Outcome::Cancelled);
        let after = store.feed_state(feed.key()).unwrap().unwrap();
        assert_eq!(after.consecutive_failures, 1);
        assert_eq!(store.item_count(), 0);

        // With time to spare the same document is stored.
        let fine = parse::Deadline::new(Duration::from_secs(3600), None);
        let out = ingest_within(
            &store,
            &cfg,
            feed,
            body(doc),
            "h3".into(),
            st,
            &shown,
            &fine,
        );
        assert!(matches!(out, Outcome::Stored(_)), "{out:?}");
        assert_eq!(store.item_count(), 1);
    }

    #[tokio::test]
    async fn each_poller_counts_only_its_own_polls() {
        // A port nothing listens on: every poll fails fast, and is counted.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[storage]\npath = {:?}\n[[feed]]\nurl = \"http://{addr}/f\"\n",
            dir.path().join("data").display().to_string()
        );
        let cfg = Arc::new(crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap());
        let store = Store::open(&cfg.storage.path, "test").unwrap();
        let fetcher = Arc::new(Fetcher::new(&cfg.poll).unwrap());
        let mine = Arc::new(Counters::default());
        let a =
            Poller::new(cfg.clone(), store.clone(), fetcher.clone()).counting_into(mine.clone());
        let b = Poller::new(cfg.clone(), store.clone(), fetcher.clone());
        let idle = Poller::new(cfg.clone(), store, fetcher);
        let token = CancellationToken::new();
        for _ in 0..2 {
            let r = a.poll(&cfg.feeds[0], &token).await;
            assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
        }
        b.poll(&cfg.feeds[0], &token).await;
        let polls = |c: &Counters| c.tally().statuses.values().sum::<u64>();
        assert_eq!(polls(&mine), 2);
        assert_eq!(polls(&a.counters), 2);
        assert_eq!(polls(&b.counters), 1);
        assert_eq!(polls(&idle.counters), 0);
    }

    /// Every feed's task holds a `poll` future from its start (waiting for
    /// a slot) and, in the daemon, between polls: it must stay small, with
    /// the poll's own state boxed (see `Poller::poll`).
    #[test]
    fn a_poll_waiting_for_its_slot_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, poller) = lone_feed_poller(dir.path(), "https://a.example/f");
        let token = CancellationToken::new();
        let poll = poller.poll(&cfg.feeds[0], &token);
        let bytes = std::mem::size_of_val(&poll);
        assert!(bytes <= 512, "a waiting poll holds {bytes} bytes");
    }
}
