//! The polling loops. One task per enabled feed sleeps until the feed is
//! due (as `schedule` works it out), polls it, and works out the next time
//! from the feed's persisted state, so a restart neither re-polls
//! everything at once nor forgets a backoff or a `Retry-After`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::config::{Config, FeedConfig, Live};
use crate::ingest::poll::{Poller, Report};
use crate::ingest::schedule::{effective_interval, next_due, unit_hash};
use crate::store::{Claimed, Pollers};

/// Polls every enabled feed on schedule until `token` is cancelled.
/// `changed` is notified after every poll that changed the store.
///
/// Follows the config in `config`: after a reload, feeds that appeared (or
/// were enabled) start polling, feeds that went away (or were disabled)
/// stop, and the others pick the new settings up at their next wait.
pub async fn run(poller: Poller, mut config: Live, token: CancellationToken, changed: Arc<Notify>) {
    let tasks = TaskTracker::new();
    // One token per running feed loop, keyed by the feed's key.
    let mut running: HashMap<String, CancellationToken> = HashMap::new();
    loop {
        let cfg = config.borrow_and_update().clone();
        running.retain(|key, t| {
            let keep =
                !t.is_cancelled() && cfg.poll.enabled && cfg.feed(key).is_some_and(|f| f.enabled);
            if !keep {
                t.cancel();
            }
            keep
        });
        for feed in cfg.feeds.iter().filter(|f| f.enabled && cfg.poll.enabled) {
            if running.contains_key(feed.key()) {
                continue;
            }
            let child = token.child_token();
            running.insert(feed.key().to_string(), child.clone());
            let (poller, rx, changed) = (poller.clone(), config.clone(), changed.clone());
            let key = feed.key().to_string();
            tasks.spawn(async move { feed_loop(poller, rx, key, child, changed).await });
        }
        tokio::select! {
            _ = token.cancelled() => break,
            r = config.changed() => {
                if r.is_err() {
                    // Nobody can reload any more: carry on with this config.
                    token.cancelled().await;
                    break;
                }
            }
        }
    }
    tasks.close();
    tasks.wait().await;
}

/// The shortest wait before asking for a feed's lease again.
const MIN_ASK_AGAIN: Duration = Duration::from_millis(200);

/// The wait after the leases could not be reached.
const LEASE_RETRY: Duration = Duration::from_secs(30);

/// How long a poll holds a feed's lease without renewing it: past a
/// poll's own deadline, so a lease lapses only when its poller is gone or
/// stuck.
fn lease(cfg: &crate::config::Config) -> Duration {
    cfg.poll.timeout * 2 + Duration::from_secs(30)
}

/// Runs `poll`, renewing the lease on `url` every third of `lease`.
async fn renewing<T>(
    pollers: &Pollers,
    url: &str,
    lease: Duration,
    poll: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(poll);
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
    loop {
        tokio::select! {
            r = &mut poll => return r,
            _ = every.tick() => match pollers.renew(url, lease).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(feed = %crate::config::redact_str(url), "another process took the feed's lease during the poll"),
                Err(e) => tracing::warn!(feed = %crate::config::redact_str(url), error = %e, "cannot renew the feed's lease"),
            },
        }
    }
}

/// What polling a feed under its lease came to.
enum Leased {
    Polled(Report),
    /// Another process holds the feed, or the leases could not be reached:
    /// ask again after this long.
    AskAgain(Duration),
    Stopped,
}

/// Polls `feed` when other processes poll the store too: the feed is
/// polled by whichever takes its lease first, once it has a slot to poll
/// in, and given back due at this process's next poll of it (a process
/// whose replica is behind asks the database first).
async fn poll_leased(
    polled: &Poller,
    pollers: &Pollers,
    feed: &FeedConfig,
    token: &CancellationToken,
) -> Leased {
    let shown = crate::config::redact_url(&feed.url);
    let cfg = &polled.config;
    let slot = tokio::select! {
        _ = token.cancelled() => return Leased::Stopped,
        s = polled.slot() => s,
    };
    match pollers.claim(feed.key(), lease(cfg)).await {
        Ok(Claimed::Yours) => {}
        Ok(Claimed::NotBefore(wait)) => {
            debug!(feed = %shown, in_secs = wait.as_secs(), "polled by another process; asking again later");
            return Leased::AskAgain(wait.max(MIN_ASK_AGAIN));
        }
        Err(e) => {
            tracing::warn!(feed = %shown, error = %e, "cannot take the feed's lease; not polling it now");
            return Leased::AskAgain(LEASE_RETRY);
        }
    }
    let poll = polled.poll_holding(slot, feed, token);
    let report = renewing(pollers, feed.key(), lease(cfg), poll).await;
    let state = polled.store.feed_state(feed.key()).ok().flatten();
    let due = next_due(cfg, feed, state.as_ref(), Utc::now());
    match pollers.finish(feed.key(), due).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(feed = %shown, "the poll outlasted its lease and another process took the feed")
        }
        Err(e) => {
            tracing::warn!(feed = %shown, error = %e, "cannot end the feed's lease; it lapses by itself")
        }
    }
    Leased::Polled(report)
}

/// How long `feed`'s loop waits before its next poll, worked out from the
/// feed's stored state; `None` when the feed is gone (410) and is polled no
/// more. Not part of the loop's body, so that the state read here is not
/// held by the loop while it sleeps.
fn wait_before_poll(
    poller: &Poller,
    cfg: &Config,
    feed: &FeedConfig,
    last_attempt: Option<DateTime<Utc>>,
    ask_again: Option<DateTime<Utc>>,
) -> Option<Duration> {
    let key = feed.key();
    let state = poller.store.feed_state(key).ok().flatten();
    if state.as_ref().is_some_and(|s| s.gone) {
        tracing::warn!(
            feed = %crate::config::redact_url(&feed.url),
            "the server said the feed is gone (410); not polling it any more"
        );
        return None;
    }
    let now = Utc::now();
    let due = match ask_again {
        // Another process polls the feed: the database said when to
        // ask again, or later if the replica shows a poll since (one
        // whose process died before it gave the lease back counts:
        // its document is stored).
        Some(at) => match state.as_ref().and_then(|s| s.last_poll) {
            Some(_) => at.max(next_due(cfg, feed, state.as_ref(), now)),
            None => at,
        },
        None => poller.schedule.plan(key, || {
            if let Some(retry) = poller.schedule.outage_retry(key) {
                // A few seconds of spread, so a retry round is not one burst.
                let spread = Duration::from_secs(10).mul_f64(unit_hash(key, "outage"));
                return retry + chrono::Duration::from_std(spread).unwrap_or_default();
            }
            next_due(cfg, feed, state.as_ref(), now)
        }),
    };
    // Whoever planned it (this loop or `/status`), never sooner than an
    // interval after this loop's last attempt, outages aside.
    let due = match last_attempt {
        Some(last) if poller.schedule.outage_retry(key).is_none() => {
            let interval = effective_interval(cfg, feed, state.as_ref()).0;
            let floor = last
                + chrono::Duration::from_std(interval.mul_f64(0.95))
                    .unwrap_or(chrono::Duration::MAX);
            if floor > due {
                poller.schedule.set(key, floor);
            }
            due.max(floor)
        }
        _ => due,
    };
    Some((due - now).to_std().unwrap_or_default())
}

async fn feed_loop(
    poller: Poller,
    mut config: Live,
    key: String,
    token: CancellationToken,
    changed: Arc<Notify>,
) {
    // When the last poll ended, kept here as well as in the store: if the
    // store cannot be written (a full disk), the persisted state stays old,
    // and without this the feed would look overdue and be polled at once,
    // again and again.
    let mut last_attempt: Option<DateTime<Utc>> = None;
    // When the database said to ask for the feed's lease again, if it
    // refused the last time.
    let mut ask_again: Option<DateTime<Utc>> = None;
    let mut replans = poller.schedule.replans();
    loop {
        let cfg = config.borrow_and_update().clone();
        // Borrowed from `cfg`, not cloned: the loop holds it while asleep.
        let Some(feed) = cfg.feed(&key).filter(|f| f.enabled && cfg.poll.enabled) else {
            return;
        };
        let Some(wait) = wait_before_poll(&poller, &cfg, feed, last_attempt, ask_again) else {
            return;
        };
        debug!(feed = %crate::config::redact_url(&feed.url), in_secs = wait.as_secs(), "next poll");
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            // Polled on request: the wait starts again from that poll.
            Ok(()) = replans.changed() => continue,
            // A reload may change this feed's interval: work the wait out again.
            r = config.changed() => {
                if r.is_ok() {
                    poller.schedule.forget(&key);
                    continue;
                }
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
        let polled = poller.with_config(cfg.clone());
        let report = match &poller.pollers {
            None => polled.poll(feed, &token).await,
            // Boxed, as `poll` boxes its own: the loop sleeps between polls
            // nearly all the time, and would otherwise hold the poll's state
            // while it does.
            Some(pollers) => match Box::pin(poll_leased(&polled, pollers, feed, &token)).await {
                Leased::Polled(report) => {
                    ask_again = None;
                    report
                }
                Leased::AskAgain(wait) => {
                    ask_again = chrono::Duration::from_std(wait)
                        .ok()
                        .map(|w| Utc::now() + w);
                    poller.schedule.forget(&key);
                    continue;
                }
                Leased::Stopped => return,
            },
        };
        last_attempt = Some(Utc::now());
        poller.schedule.forget(&key);
        if report.changed_store() {
            changed.notify_one();
        }
        if token.is_cancelled() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon keeps one `feed_loop` task per feed for as long as it
    /// runs, asleep between polls nearly all the time: what its future
    /// holds, 10,000 feeds hold ten thousand times.
    #[test]
    fn a_feed_loop_asleep_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, poller) =
            crate::ingest::poll::lone_feed_poller(dir.path(), "https://a.example/f");
        let (_tx, live) = tokio::sync::watch::channel(cfg.clone());
        let key = cfg.feeds[0].key().to_string();
        let task = feed_loop(poller, live, key, CancellationToken::new(), Arc::default());
        let bytes = std::mem::size_of_val(&task);
        assert!(bytes <= 1024, "a feed's loop holds {bytes} bytes");
    }
}
