//! When each feed is due, as policy with no I/O: the interval a feed is
//! polled at and why, backoff after failures, the time of the next poll,
//! and the plans and network outage shared by the feeds' loops and
//! `/status`. The loops that act on it are in `scheduler`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, FeedConfig};
use crate::model::FeedState;
use crate::text::normalize::digest;

/// The longest the first polls after start are spread over.
const FIRST_POLL_SPREAD: Duration = Duration::from_secs(60);

/// A number in [0, 1) fixed for each feed and purpose, so a feed's jitter is
/// stable from one run to the next and feeds spread evenly.
pub(crate) fn unit_hash(feed: &str, purpose: &str) -> f64 {
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

fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The interval a feed is polled at under the config in force, and why.
///
/// A feed's own `interval` in the config pins it. Otherwise the feed's
/// rhythm decides — the median gap between its items (adaptive), else what
/// it says of itself (`sy:updatePeriod`), else `poll.interval` — and what
/// the server asks (`Cache-Control`/`Expires`, RSS `<ttl>`) is a floor;
/// the result stays within `poll.min_interval`..`poll.max_interval`.
pub fn effective_interval(
    config: &Config,
    feed: &FeedConfig,
    state: Option<&FeedState>,
) -> (Duration, String) {
    if let Some(pinned) = feed.interval {
        return (pinned, format!("{} pinned by the config", human(pinned)));
    }
    let hints = state.map(|s| s.hints.clone()).unwrap_or_default();
    let secs = |s: Option<u64>| s.map(Duration::from_secs);
    let (mut interval, mut reason) =
        if let Some(gap) = secs(hints.publish_gap_secs).filter(|g| !g.is_zero()) {
            (gap, format!("items about every {}", human(gap)))
        } else if let Some(p) = secs(hints.update_period_secs).filter(|p| !p.is_zero()) {
            (p, format!("sy:updatePeriod says every {}", human(p)))
        } else {
            (
                config.poll.interval,
                format!("default {}", human(config.poll.interval)),
            )
        };
    for (floor, what) in [
        (secs(hints.fresh_for_secs), "the server's cache lifetime"),
        (secs(hints.ttl_secs), "the feed's <ttl>"),
    ] {
        if let Some(floor) = floor.filter(|f| *f > interval) {
            interval = floor;
            reason = format!("{} ({})", what, human(floor));
        }
    }
    let (lo, hi) = (
        config.poll.min_interval,
        config.poll.max_interval.max(config.poll.min_interval),
    );
    if interval < lo {
        reason = format!("{reason}, raised to poll.min_interval {}", human(lo));
        interval = lo;
    } else if interval > hi {
        reason = format!("{reason}, capped at poll.max_interval {}", human(hi));
        interval = hi;
    }
    (interval, reason)
}

/// The time each feed's loop waits for, shared with `/status`: a feed not
/// polled yet (or overdue) is due at a time spread from the moment its
/// wait was first worked out, and showing a time worked out afresh on
/// every request would move with the request, not with the poll.
#[derive(Debug)]
pub struct Schedule {
    /// Feed key → when its next poll is planned. Dropped after each poll
    /// and on reload, when the next one is worked out again.
    planned: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
    /// Bumped when plans were dropped from outside the feeds' loops (a
    /// poll on request): the loops then work their waits out again.
    replans: tokio::sync::watch::Sender<u64>,
    network: std::sync::Mutex<Network>,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            planned: Default::default(),
            replans: tokio::sync::watch::Sender::new(0),
            network: Default::default(),
        }
    }
}

/// The first retry after every feed failed to connect, and the longest
/// wait between retries while that lasts.
const OUTAGE_FIRST_RETRY: Duration = Duration::from_secs(30);
const OUTAGE_MAX_RETRY: Duration = Duration::from_secs(15 * 60);

/// Whether this machine can reach the network at all. A machine that boots
/// before its network, or loses DNS, sees every feed fail to connect: that
/// is no feed's fault, so it is not counted as any feed's failure (no
/// backoff per feed); the feeds are retried together, soon, backing off as
/// one, until a server answers.
#[derive(Debug, Default)]
struct Network {
    /// Hosts that could not be reached since a server last answered, and
    /// the feeds whose failures were counted before the outage was seen.
    unreachable_hosts: std::collections::HashSet<String>,
    suspects: Vec<String>,
    /// Set while no server answers.
    outage: Option<Outage>,
    /// Feeds that failed during an outage, due again at `retry_at`; each
    /// leaves the set at its next poll, whatever the outcome.
    waiting: std::collections::HashSet<String>,
    retry_at: Option<DateTime<Utc>>,
}

/// An outage: since when, how it shows, and how many retries failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outage {
    pub since: DateTime<Utc>,
    pub error: String,
    pub retries: u32,
    pub retry_at: DateTime<Utc>,
}

/// What a connection failure means for the feed that met it.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Only this feed (as far as is known): its own failure.
    Feed,
    /// The network: not the feed's failure. `uncount` lists feeds whose
    /// failures were counted before the outage showed.
    Network { uncount: Vec<String> },
}

impl Schedule {
    /// Records that `feed` (on `host`) could not be connected to. Two hosts
    /// unreachable with no answer from any server in between is an outage.
    /// With one host (`hosts` distinct in the config) there is no telling
    /// the network from that server, whose failures back off as usual.
    pub fn unreachable(
        &self,
        feed: &str,
        host: &str,
        error: &str,
        hosts: usize,
        now: DateTime<Utc>,
    ) -> Unreachable {
        let mut guard = self.network.lock().unwrap_or_else(|p| p.into_inner());
        let Network {
            unreachable_hosts,
            suspects,
            outage,
            waiting,
            retry_at,
        } = &mut *guard;
        unreachable_hosts.insert(host.to_string());
        waiting.insert(feed.to_string());
        let mut uncount = Vec::new();
        match outage {
            None if hosts >= 2 && unreachable_hosts.len() >= 2 => {
                uncount = std::mem::take(suspects);
                let at = now + chrono::Duration::from_std(OUTAGE_FIRST_RETRY).unwrap_or_default();
                tracing::warn!(
                    hosts = unreachable_hosts.len(),
                    error = %error,
                    retry_at = %at.to_rfc3339(),
                    "no network: every feed fails to connect; not counted as the feeds' failures, retrying them together"
                );
                *outage = Some(Outage {
                    since: now,
                    error: error.to_string(),
                    retries: 0,
                    retry_at: at,
                });
                // The feeds counted before are retried with the others.
                waiting.extend(uncount.iter().cloned());
                *retry_at = Some(at);
            }
            None => {
                waiting.remove(feed);
                suspects.push(feed.to_string());
                return Unreachable::Feed;
            }
            Some(o) => {
                if now >= o.retry_at {
                    // A failure in a new round of retries: back off as one.
                    o.retries = o.retries.saturating_add(1);
                    let wait = OUTAGE_FIRST_RETRY
                        .saturating_mul(2u32.saturating_pow(o.retries.min(16)))
                        .min(OUTAGE_MAX_RETRY);
                    o.retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    o.error = error.to_string();
                    *retry_at = Some(o.retry_at);
                    tracing::warn!(retries = o.retries, retry_at = %o.retry_at.to_rfc3339(), "still no network");
                }
            }
        }
        drop(guard);
        for k in &uncount {
            self.forget(k);
        }
        if !uncount.is_empty() {
            self.replan();
        }
        Unreachable::Network { uncount }
    }

    /// A server answered (whatever it said): the network works.
    pub fn answered(&self) {
        let mut n = self.network.lock().unwrap_or_else(|p| p.into_inner());
        n.unreachable_hosts.clear();
        n.suspects.clear();
        if let Some(o) = n.outage.take() {
            tracing::info!(since = %o.since.to_rfc3339(), "the network is back");
        }
    }

    /// The outage in progress, if any (for `/status`).
    pub fn outage(&self) -> Option<Outage> {
        let n = self.network.lock().unwrap_or_else(|p| p.into_inner());
        n.outage.clone()
    }

    /// When `feed` is retried, if it failed during an outage.
    pub fn outage_retry(&self, feed: &str) -> Option<DateTime<Utc>> {
        let n = self.network.lock().unwrap_or_else(|p| p.into_inner());
        n.retry_at.filter(|_| n.waiting.contains(feed))
    }

    /// `feed` is being polled: it no longer waits for an outage retry.
    pub fn polling(&self, feed: &str) {
        let mut n = self.network.lock().unwrap_or_else(|p| p.into_inner());
        n.waiting.remove(feed);
    }

    /// Wakes every feed's loop to work its wait out again.
    pub fn replan(&self) {
        self.replans.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What a feed's loop watches to hear of `replan`.
    pub fn replans(&self) -> tokio::sync::watch::Receiver<u64> {
        self.replans.subscribe()
    }

    /// When the poll of feed `key` is planned; `compute` plans it when
    /// nothing is planned yet.
    pub fn plan(&self, key: &str, compute: impl FnOnce() -> DateTime<Utc>) -> DateTime<Utc> {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        *planned.entry(key.to_string()).or_insert_with(compute)
    }

    /// Plans the poll of `key` for `due`, whatever was planned before.
    pub fn set(&self, key: &str, due: DateTime<Utc>) {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.insert(key.to_string(), due);
    }

    /// Forgets the plan for `key`: the next one is worked out again.
    pub fn forget(&self, key: &str) {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.remove(key);
    }
}

/// When `feed` is next due, given its state, at `now`.
pub fn next_due(
    config: &Config,
    feed: &FeedConfig,
    state: Option<&FeedState>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let interval = effective_interval(config, feed, state).0;
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
    if state.last_error.is_some() && state.consecutive_failures == 0 && state.retry_after.is_none()
    {
        // Its last poll failed, but not by its own fault (no network, see
        // `Schedule::unreachable`): soon, as after a restart.
        return spread_at("overdue");
    }
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

/// Why `feed` is next polled when `next_due` says, in words: a server's
/// `Retry-After`, backoff after failures, or the interval and its reason.
pub fn next_poll_reason(
    config: &Config,
    feed: &FeedConfig,
    state: Option<&FeedState>,
    now: DateTime<Utc>,
) -> String {
    let (interval, why) = effective_interval(config, feed, state);
    let Some(state) = state else {
        return "not polled yet: first polls are spread over a minute".into();
    };
    if let Some(until) = state.retry_after.filter(|t| *t > now) {
        return format!(
            "the server asked to wait (Retry-After) until {}",
            until.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    if state.consecutive_failures > 0 {
        let wait = backoff(
            interval,
            config.poll.max_interval,
            state.consecutive_failures,
        );
        return format!(
            "backing off after {} failures in a row: every {} instead of {}",
            state.consecutive_failures,
            human(wait),
            human(interval)
        );
    }
    format!("every {}: {why}", human(interval))
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
    fn hints_move_the_interval_within_bounds() {
        let cfg = crate::config::parse(
            Path::new("t.toml"),
            "[poll]\ninterval = \"1h\"\nmin_interval = \"10m\"\nmax_interval = \"24h\"\n\
             [[feed]]\nurl = \"https://a.example/f\"\n[[feed]]\nurl = \"https://b.example/f\"\ninterval = \"1m\"\n",
        )
        .unwrap();
        let with = |h: crate::model::PollHints| FeedState {
            hints: h,
            ..FeedState::default()
        };
        let iv = |s: &FeedState| effective_interval(&cfg, &cfg.feeds[0], Some(s)).0.as_secs();
        use crate::model::PollHints as H;
        assert_eq!(iv(&FeedState::default()), 3600);
        // Busy feed: polled more often, but not below min_interval.
        assert_eq!(
            iv(&with(H {
                publish_gap_secs: Some(1200),
                ..H::default()
            })),
            1200
        );
        assert_eq!(
            iv(&with(H {
                publish_gap_secs: Some(60),
                ..H::default()
            })),
            600
        );
        // Idle feed: less often, up to max_interval.
        assert_eq!(
            iv(&with(H {
                publish_gap_secs: Some(9 * 86400),
                ..H::default()
            })),
            86400
        );
        // sy:updatePeriod when items carry no dates.
        assert_eq!(
            iv(&with(H {
                update_period_secs: Some(1800),
                ..H::default()
            })),
            1800
        );
        // ttl and max-age are floors.
        let h = H {
            publish_gap_secs: Some(1200),
            ttl_secs: Some(7200),
            ..H::default()
        };
        assert_eq!(iv(&with(h.clone())), 7200);
        let (_, why) = effective_interval(&cfg, &cfg.feeds[0], Some(&with(h)));
        assert!(why.contains("<ttl>"), "{why}");
        let h = H {
            fresh_for_secs: Some(5400),
            ..H::default()
        };
        assert_eq!(iv(&with(h)), 5400);
        // A pinned interval ignores all of it, even below min_interval.
        let pinned = effective_interval(
            &cfg,
            &cfg.feeds[1],
            Some(&with(H {
                ttl_secs: Some(7200),
                ..H::default()
            })),
        );
        assert_eq!(pinned.0.as_secs(), 60);
        assert!(pinned.1.contains("pinned"));
    }

    #[test]
    fn the_reason_for_the_next_poll_names_what_decides_it() {
        let cfg = config();
        let now = Utc::now();
        let f = &cfg.feeds[0];
        assert!(next_poll_reason(&cfg, f, None, now).contains("not polled yet"));
        let mut st = FeedState {
            last_poll: Some(now),
            ..FeedState::default()
        };
        assert_eq!(
            next_poll_reason(&cfg, f, Some(&st), now),
            "every 1h: default 1h"
        );
        st.consecutive_failures = 2;
        assert_eq!(
            next_poll_reason(&cfg, f, Some(&st), now),
            "backing off after 2 failures in a row: every 4h instead of 1h"
        );
        st.retry_after = Some(now + chrono::Duration::hours(2));
        assert!(next_poll_reason(&cfg, f, Some(&st), now).contains("Retry-After"));
    }

    #[test]
    fn every_host_unreachable_is_an_outage_retried_together() {
        let s = Schedule::default();
        let t0 = Utc::now();
        // One host down: that feed's own failure.
        assert_eq!(
            s.unreachable("a", "a.example", "x", 3, t0),
            Unreachable::Feed
        );
        assert!(s.outage().is_none());
        // A second host down with no answer in between: the network.
        let v = s.unreachable("b", "b.example", "cannot connect", 3, t0);
        assert_eq!(
            v,
            Unreachable::Network {
                uncount: vec!["a".into()]
            }
        );
        let o = s.outage().unwrap();
        assert_eq!(o.retry_at, t0 + chrono::Duration::seconds(30));
        assert_eq!(s.outage_retry("a"), Some(o.retry_at));
        assert_eq!(s.outage_retry("b"), Some(o.retry_at));
        assert_eq!(s.outage_retry("c"), None);
        // The retry round fails: the next one is later, for every feed.
        s.polling("a");
        let t1 = o.retry_at + chrono::Duration::seconds(1);
        assert!(matches!(
            s.unreachable("a", "a.example", "x", 3, t1),
            Unreachable::Network { .. }
        ));
        let o = s.outage().unwrap();
        assert_eq!(
            (o.retries, o.retry_at),
            (1, t1 + chrono::Duration::seconds(60))
        );
        assert_eq!(s.outage_retry("b"), Some(o.retry_at));
        // A server answers: the outage is over; the feeds that wait are
        // still retried at the planned time, each once.
        s.answered();
        assert!(s.outage().is_none());
        assert_eq!(s.outage_retry("b"), Some(o.retry_at));
        s.polling("b");
        assert_eq!(s.outage_retry("b"), None);
        // With one host only, its failures are its own.
        let s = Schedule::default();
        assert_eq!(
            s.unreachable("a", "a.example", "x", 1, t0),
            Unreachable::Feed
        );
        assert_eq!(
            s.unreachable("b", "a.example", "x", 1, t0),
            Unreachable::Feed
        );
    }

    #[test]
    fn a_failure_that_was_not_the_feeds_is_retried_soon_after_a_restart() {
        let cfg = config();
        let now = Utc::now();
        let state = FeedState {
            last_poll: Some(now),
            last_error: Some("cannot connect (no network)".into()),
            ..FeedState::default()
        };
        let due = next_due(&cfg, &cfg.feeds[0], Some(&state), now);
        assert!(due <= now + chrono::Duration::seconds(60), "{due}");
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
