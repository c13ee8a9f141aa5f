//! Each configured feed beside what its polls left in the store: the one
//! join of config to feed states behind `/status`, `/metrics` and `rafid
//! feeds list`, so the three agree on which state is whose and each shows
//! it its own way.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, FeedConfig, redact_url};
use crate::ingest::schedule;
use crate::model::FeedState;

/// One configured feed and its stored state.
#[derive(Debug, Clone)]
pub struct FeedHealth<'c> {
    pub config: &'c Config,
    pub feed: &'c FeedConfig,
    /// The feed's stored state; the default when none is stored yet.
    pub state: FeedState,
    /// Whether a state was stored: the schedule treats a feed without one
    /// as never polled.
    pub stored: bool,
}

impl<'c> FeedHealth<'c> {
    /// Every feed of `config`, in config order, with its state among
    /// `states` (as `Store::feed_states` lists them). One pass over each:
    /// a status page of thousands of feeds costs no more than their count.
    pub fn join(config: &'c Config, states: Vec<(String, FeedState)>) -> Vec<FeedHealth<'c>> {
        let by_key: HashMap<String, FeedState> = states.into_iter().collect();
        config
            .feeds
            .iter()
            .map(|feed| {
                let state = by_key.get(feed.key()).cloned();
                FeedHealth {
                    config,
                    feed,
                    stored: state.is_some(),
                    state: state.unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The stored state, if any, as the schedule wants it.
    pub fn stored_state(&self) -> Option<&FeedState> {
        self.stored.then_some(&self.state)
    }

    /// Whether the feed is polled at all: enabled, and not gone (410).
    pub fn polled(&self) -> bool {
        self.feed.enabled && !self.state.gone
    }

    /// The feed's URL as shown to others, its secrets redacted.
    pub fn shown_url(&self) -> String {
        redact_url(&self.feed.url)
    }

    /// The config's title for the feed, else the one its document gives.
    pub fn title(&self) -> Option<String> {
        self.feed.title.clone().or(self.state.title.clone())
    }

    /// The interval the feed is polled at, and why.
    pub fn interval(&self) -> (Duration, String) {
        schedule::effective_interval(self.config, self.feed, self.stored_state())
    }

    /// When the feed is next due, worked out afresh at `now`.
    pub fn next_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        schedule::next_due(self.config, self.feed, self.stored_state(), now)
    }

    /// Why the feed is next polled when `next_due` says.
    pub fn next_poll_reason(&self, now: DateTime<Utc>) -> String {
        schedule::next_poll_reason(self.config, self.feed, self.stored_state(), now)
    }

    /// The share of polls the server answered 304, once polled.
    pub fn not_modified_share(&self) -> Option<f64> {
        let st = &self.state;
        (st.polls > 0).then(|| st.not_modified as f64 / st.polls as f64)
    }

    /// Whether the server sends validators (ETag or Last-Modified).
    pub fn sends_validators(&self) -> bool {
        self.state.etag.is_some() || self.state.last_modified.is_some()
    }

    /// Why the feed's credentials are no longer sent, if it moved to
    /// another origin.
    pub fn credentials_withheld(&self) -> Option<String> {
        self.state
            .moved_to
            .as_deref()
            .and_then(|m| url::Url::parse(m).ok())
            .and_then(|m| crate::ingest::poll::credentials_withheld(self.feed, &m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn each_feed_gets_its_own_state_and_a_feed_never_polled_none() {
        let cfg = crate::config::parse(
            Path::new("t.toml"),
            "[[feed]]\nurl = \"https://a.example/f\"\n\
             [[feed]]\nurl = \"https://b.example/f\"\n\
             [[feed]]\nurl = \"https://c.example/f\"\nenabled = false\n",
        )
        .unwrap();
        let st = |polls| FeedState {
            polls,
            ..FeedState::default()
        };
        let states = vec![
            // A feed no longer configured is left out.
            ("https://gone.example/f".to_string(), st(9)),
            (cfg.feeds[1].key().to_string(), st(2)),
            (cfg.feeds[0].key().to_string(), st(1)),
        ];
        let h = FeedHealth::join(&cfg, states);
        let seen: Vec<_> = h
            .iter()
            .map(|h| (h.feed.key(), h.stored, h.state.polls, h.polled()))
            .collect();
        assert_eq!(
            seen,
            [
                (cfg.feeds[0].key(), true, 1, true),
                (cfg.feeds[1].key(), true, 2, true),
                (cfg.feeds[2].key(), false, 0, false),
            ]
        );
        let now = Utc::now();
        assert!(h[2].next_poll_reason(now).contains("not polled yet"));
        assert!(h[0].next_poll_reason(now).starts_with("every 1h"));
    }
}
