//! `[poll]`: how often feeds are polled, and the HTTP client's limits.

use std::time::Duration;

use super::Validator;
use crate::config::raw::RawPoll;
use crate::config::{DEFAULT_MAX_ITEMS_PER_FETCH, PollConfig, default_user_agent, parse_size};

impl Validator<'_> {
    pub(super) fn poll(&mut self, p: &RawPoll) -> PollConfig {
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
        PollConfig {
            enabled: p.enabled.unwrap_or(true),
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
        }
    }
}
