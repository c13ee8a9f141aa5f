//! When each feed is polled. One task per enabled feed sleeps until the
//! feed is due, polls it, and works out the next time from the feed's
//! persisted state, so a restart neither re-polls everything at once nor
//! forgets a backoff or a `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::config::{Config, FeedConfig};
use crate::model::FeedState;
use crate::normalize::digest;
use crate::poll::Poller;

/// The longest the first polls after start are spread over.
const FIRST_POLL_SPREAD: Duration = Duration::from_secs(60);

/// A number in [0, 1) fixed for each feed and purpose, so a feed's jitter is
/// stable from one run to the next and feeds spread evenly.
fn unit_hash(feed: &str, purpose: &str) -> f64 {
    let d = digest(&[feed.as_bytes(), purpose.as_bytes()]);
    let n = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    (n >> 11) as f64 / (1u64 << 53) as f64
}

/// The interval after `failures` errors in a row: doubling from the normal
/// interval, capped at `max_interval` (or at the interval itself when a feed
/// is pinned to more than that). Never gives up.
pub fn backoff(interval: Duration, max_interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let cap = max_interval.max(interval);
    let factor = 2u32.saturating_pow(failures.min(20));
    interval.saturating_mul(factor).min(cap)
}

/// When `feed` is next due, given its state, at `now`.
pub fn next_due(
    config: &Config,
    feed: &FeedConfig,
    state: Option<&FeedState>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let interval = config.interval_of(feed);
    let key = feed.key();
    let spread = FIRST_POLL_SPREAD.min(interval);
    let spread_at = |purpose| {
        now + chrono::Duration::from_std(spread.mul_f64(unit_hash(key, purpose)))
            .unwrap_or_default()
    };
    let Some(state) = state else {
        return spread_at("first");
    };
    let Some(last) = state.last_poll else {
        return spread_at("first");
    };
    let wait = backoff(
        interval,
        config.poll.max_interval,
        state.consecutive_failures,
    );
    // Jitter within ±5% of the wait, fixed per feed, so feeds that share an
    // interval do not all fire together.
    let jitter = wait.mul_f64(0.1 * unit_hash(key, "jitter"));
    let wait = wait.saturating_sub(wait.mul_f64(0.05)) + jitter;
    let mut due = last + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    if let Some(retry) = state.retry_after {
        due = due.max(retry);
    }
    if due < now {
        // Overdue (the daemon was down): spread the catch-up polls instead
        // of firing them all at once.
        return spread_at("overdue");
    }
    due
}

/// Polls every enabled feed on schedule until `token` is cancelled.
/// `changed` is notified after every poll that changed the store.
pub async fn run(poller: Poller, token: CancellationToken, changed: Arc<Notify>) {
    let tasks = TaskTracker::new();
    let feeds: Vec<FeedConfig> = poller
        .config
        .feeds
        .iter()
        .filter(|f| f.enabled)
        .cloned()
        .collect();
    for feed in feeds {
        let poller = poller.clone();
        let token = token.clone();
        let changed = changed.clone();
        tasks.spawn(async move { feed_loop(poller, feed, token, changed).await });
    }
    tasks.close();
    tasks.wait().await;
}

async fn feed_loop(
    poller: Poller,
    feed: FeedConfig,
    token: CancellationToken,
    changed: Arc<Notify>,
) {
    loop {
        let state = poller.store.feed_state(feed.key()).ok().flatten();
        let now = Utc::now();
        let due = next_due(&poller.config, &feed, state.as_ref(), now);
        let wait = (due - now).to_std().unwrap_or_default();
        debug!(feed = %crate::config::redact_url(&feed.url), in_secs = wait.as_secs(), "next poll");
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let report = poller.poll(&feed, &token).await;
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
    use std::path::Path;

    fn config() -> Config {
        crate::config::parse(
            Path::new("t.toml"),
            "[poll]\ninterval = \"1h\"\nmax_interval = \"24h\"\n[[feed]]\nurl = \"https://a.example/f\"\n",
        )
        .unwrap()
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let h = Duration::from_secs(3600);
        let cap = Duration::from_secs(86400);
        assert_eq!(backoff(h, cap, 0), h);
        assert_eq!(backoff(h, cap, 1), 2 * h);
        assert_eq!(backoff(h, cap, 3), 8 * h);
        assert_eq!(backoff(h, cap, 30), cap);
    }

    #[test]
    fn a_new_feed_is_due_within_a_minute() {
        let cfg = config();
        let now = Utc::now();
        let due = next_due(&cfg, &cfg.feeds[0], None, now);
        assert!(due >= now && due <= now + chrono::Duration::seconds(60));
    }

    #[test]
    fn a_polled_feed_is_due_an_interval_later_within_jitter() {
        let cfg = config();
        let now = Utc::now();
        let state = FeedState {
            last_poll: Some(now),
            ..FeedState::default()
        };
        let due = next_due(&cfg, &cfg.feeds[0], Some(&state), now);
        let secs = (due - now).num_seconds();
        assert!((3240..=3960).contains(&secs), "{secs}");
    }

    #[test]
    fn retry_after_is_honoured() {
        let cfg = config();
        let now = Utc::now();
        let state = FeedState {
            last_poll: Some(now),
            retry_after: Some(now + chrono::Duration::hours(5)),
            ..FeedState::default()
        };
        let due = next_due(&cfg, &cfg.feeds[0], Some(&state), now);
        assert_eq!(due, now + chrono::Duration::hours(5));
    }
}
