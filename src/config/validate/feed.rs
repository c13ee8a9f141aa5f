//! `[[feed]]`: the feeds polled, each with its URL, tags, credentials and
//! rules.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::Validator;
use crate::config::raw::RawFeed;
use crate::config::{FeedConfig, redact_url};

/// The bound of `[[feed]] priority`, either way: a small range is enough
/// to order outlets, and a typo of many digits is caught.
const MAX_PRIORITY: i64 = 1000;

impl Validator<'_> {
    /// The feeds; `interval` is `poll.interval`, the default of each.
    pub(super) fn feeds(
        &mut self,
        raw: &[Spanned<RawFeed>],
        interval: Duration,
    ) -> Vec<FeedConfig> {
        let mut feeds = Vec::with_capacity(raw.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        // Tags fold case: each is spelled as where it first appears.
        let mut spellings: HashMap<String, String> = HashMap::new();
        for (i, f) in raw.iter().enumerate() {
            let key = format!("feed[{i}]");
            let table = f.span();
            let f = f.get_ref();
            // The feed's other keys are checked even when its URL is bad,
            // so that one run reports every error.
            let url = self.feed_url(&key, f.url.as_ref(), table.clone());
            let url = url.and_then(|url| {
                let canonical = crate::text::normalize::canonical_link(url.as_str())
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
        feeds
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
