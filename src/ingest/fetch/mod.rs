//! Fetching: one HTTP GET per poll with reqwest, conditional when the feed
//! has validators, bounded in time, size, redirects and concurrency, and the
//! body decoded to UTF-8 the way browsers decide an encoding.
//!
//! Nothing a server sends may panic or stall the daemon: every failure is a
//! `FetchError` naming the feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{FeedConfig, PollConfig, redact_url};

/// Redirects followed at most per request.
mod body;
mod charset;

use body::{BodyDecoder, BodyError};
pub use charset::{Decoded, decode_body};

const MAX_REDIRECTS: usize = 5;

/// What rafid asks for: feeds first, any XML or JSON next.
const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json, \
                      application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, \
                      application/json;q=0.8, */*;q=0.5";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: u16,
        retry_after: Option<DateTime<Utc>>,
    },
    #[error(
        "{url}: blocked by a bot challenge (HTTP {status}); the site does not let feed readers in"
    )]
    BotWall { url: String, status: u16 },
    #[error("{url}: body over {limit} bytes, abandoned")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: no complete answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: too many redirects (more than {MAX_REDIRECTS}) or a redirect loop")]
    Redirects { url: String },
    #[error("{url}: cannot connect: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url}: {reason}")]
    Request { url: String, reason: String },
}

impl FetchError {
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } | FetchError::BotWall { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// When the server asked rafid to come back (429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The validators sent with a conditional request, byte for byte as the
/// server last gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response worth acting on.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing changed; the old validators stay.
    NotModified {
        status: u16,
        /// Where every redirect on the way was permanent: the new URL.
        moved: Option<Url>,
        hints: CacheHints,
    },
    /// 200 with a body.
    Body(Body),
}

#[derive(Debug)]
pub struct Body {
    pub status: u16,
    pub bytes: Bytes,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The URL the body came from after redirects.
    pub final_url: Url,
    pub validators: Validators,
    /// Where every redirect on the way was permanent (301/308): the new URL.
    pub moved: Option<Url>,
    pub hints: CacheHints,
}

/// The HTTP client and the limits shared by every poll.
///
/// Requests to one host are limited by a semaphore per host (created on
/// first use, never removed: there is one per configured host). The global
/// bound, `poll.concurrency`, is the `Poller`'s: it covers a poll from the
/// request to the stored items.
pub struct Fetcher {
    client: reqwest::Client,
    per_host_limit: usize,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    max_body: u64,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// Installs ring as the process's TLS provider. reqwest is built without a
/// default one (see Cargo.toml); every HTTP client needs this first. A
/// second call finds one installed, which is fine.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Fetcher {
    pub fn new(cfg: &PollConfig) -> Result<Fetcher, ClientError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            // rafid's own deadline (see `fetch`) fires first and names the
            // problem; reqwest's is only a backstop.
            .timeout(cfg.timeout + Duration::from_secs(2))
            // Redirects are followed by hand (see `fetch`), which also means
            // no Referer is ever sent.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(cfg.per_host)
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Fetcher {
            client,
            per_host_limit: cfg.per_host,
            per_host: Mutex::new(HashMap::new()),
            max_body: cfg.max_body,
            timeout: cfg.timeout,
        })
    }

    /// Waits for a slot on the feed's host.
    async fn host_permit(&self, url: &Url) -> OwnedSemaphorePermit {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let sem = {
            // A poisoned lock only means another poll panicked mid-insert;
            // the map itself is still usable.
            let mut map = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone()
        };
        // The semaphores are never closed, so acquiring cannot fail; if it
        // ever did, a fresh permit keeps the poll going rather than panicking.
        match sem.acquire_owned().await {
            Ok(p) => p,
            Err(_) => fresh_permit(),
        }
    }

    /// One GET of `feed` at `url`, conditional on `validators`, following
    /// up to `MAX_REDIRECTS` redirects by hand: every hop carries the
    /// validators, none carries a Referer, and the feed's own headers and
    /// credentials go only to the origin of the URL in the config (see
    /// [`sends_credentials`]), wherever `url` (a URL the feed moved to)
    /// and the redirects lead.
    pub async fn fetch(
        &self,
        feed: &FeedConfig,
        url: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let shown = redact_url(url);
        let _permit = self.host_permit(url).await;
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let timeout = || FetchError::Timeout {
            url: shown.clone(),
            secs: self.timeout.as_secs(),
        };

        let mut current = url.clone();
        let mut visited: Vec<Url> = vec![url.clone()];
        // Whether every hop so far was a permanent redirect (301/308).
        let mut all_permanent = true;
        let resp = loop {
            let req = self.request(
                feed,
                &current,
                validators,
                sends_credentials(feed, &current),
            );
            let resp = tokio::select! {
                r = req.send() => r.map_err(|e| classify(&shown, e, self.timeout))?,
                _ = &mut deadline => return Err(timeout()),
            };
            let status = resp.status();
            if !status.is_redirection() || status == reqwest::StatusCode::NOT_MODIFIED {
                break resp;
            }
            let Some(next) = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| current.join(loc.trim()).ok())
            else {
                return Err(FetchError::Request {
                    url: shown,
                    reason: format!("HTTP {} without a usable Location", status.as_u16()),
                });
            };
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::Request {
                    url: shown,
                    reason: format!("redirect to a {} URL, not followed", next.scheme()),
                });
            }
            if visited.contains(&next) || visited.len() > MAX_REDIRECTS {
                return Err(FetchError::Redirects { url: shown });
            }
            all_permanent &= matches!(status.as_u16(), 301 | 308);
            visited.push(next.clone());
            current = next;
        };
        let moved = (visited.len() > 1 && all_permanent).then(|| current.clone());
        let hints = CacheHints::from_headers(resp.headers(), Utc::now());

        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(Fetched::NotModified {
                status,
                moved,
                hints,
            });
        }
        if !resp.status().is_success() {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let challenged = resp
                .headers()
                .get("cf-mitigated")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"challenge"));
            if status == 403 || status == 503 || status == 429 {
                let head = tokio::select! {
                    b = read_limited(resp, 64 << 10, &shown) => b.unwrap_or_default(),
                    _ = &mut deadline => Bytes::new(),
                };
                if challenged || looks_like_challenge(&head) {
                    return Err(FetchError::BotWall { url: shown, status });
                }
            }
            return Err(FetchError::Status {
                url: shown,
                status,
                retry_after,
            });
        }
        let header_str = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let bytes = tokio::select! {
            b = read_limited(resp, self.max_body, &shown) => b?,
            _ = &mut deadline => return Err(timeout()),
        };
        Ok(Fetched::Body(Body {
            status,
            bytes,
            content_type,
            final_url: current,
            validators,
            moved,
            hints,
        }))
    }

    fn request(
        &self,
        feed: &FeedConfig,
        url: &Url,
        validators: &Validators,
        credentials: bool,
    ) -> reqwest::RequestBuilder {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        // Decoded by `read_limited`, which bounds the decoded size.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        // Validators go out exactly as the server sent them.
        if let Some(v) = validators
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_bytes(e.as_bytes()).ok())
        {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = validators
            .last_modified
            .as_deref()
            .and_then(|e| HeaderValue::from_bytes(e.as_bytes()).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
        if credentials {
            for (name, value) in &feed.headers {
                if let (Ok(n), Ok(mut v)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value.0),
                ) {
                    v.set_sensitive(true);
                    headers.insert(n, v);
                }
            }
        }
        let mut req = self.client.get(url.clone()).headers(headers);
        if credentials {
            if let Some((user, pw)) = &feed.auth {
                req = req.basic_auth(user, Some(&pw.0));
            }
        }
        req
    }
}

/// Whether a request to `target` may carry `feed`'s `headers` and `auth`:
/// only when it goes to the origin (scheme, host and port) of the feed's
/// URL as configured. A redirect, or a move rafid adopted, to another
/// host, another port, or from https to plain http, loses them.
pub fn sends_credentials(feed: &FeedConfig, target: &Url) -> bool {
    let origin = feed.url.origin();
    origin.is_tuple() && target.origin() == origin
}

/// What the response headers say about how long the feed stays fresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Cache-Control: max-age`, else `Expires` minus `Date` (or now).
    pub fresh_for: Option<Duration>,
}

impl CacheHints {
    pub fn from_headers(h: &HeaderMap, now: DateTime<Utc>) -> CacheHints {
        let get = |n: header::HeaderName| h.get(n).and_then(|v| v.to_str().ok());
        let max_age = get(header::CACHE_CONTROL).and_then(|cc| {
            cc.split(',').find_map(|d| {
                let (k, v) = d.split_once('=')?;
                let k = k.trim();
                (k.eq_ignore_ascii_case("max-age") || k.eq_ignore_ascii_case("s-maxage"))
                    .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                    .flatten()
            })
        });
        let fresh_for = max_age.map(Duration::from_secs).or_else(|| {
            let expires = DateTime::parse_from_rfc2822(get(header::EXPIRES)?.trim()).ok()?;
            let date = get(header::DATE)
                .and_then(|d| DateTime::parse_from_rfc2822(d.trim()).ok())
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or(now);
            (expires.with_timezone(&Utc) - date).to_std().ok()
        });
        CacheHints { fresh_for }
    }
}

fn fresh_permit() -> OwnedSemaphorePermit {
    // A one-permit semaphore that nobody else holds: acquiring succeeds.
    Arc::new(Semaphore::new(1))
        .try_acquire_owned()
        .unwrap_or_else(|_| unreachable!("a new semaphore has a free permit"))
}

async fn read_limited(
    mut resp: reqwest::Response,
    limit: u64,
    shown: &str,
) -> Result<Bytes, FetchError> {
    let err = |e: BodyError| match e {
        BodyError::TooLarge => FetchError::TooLarge {
            url: shown.to_string(),
            limit,
        },
        BodyError::Unsupported(enc) => FetchError::Request {
            url: shown.to_string(),
            reason: format!("unsupported Content-Encoding {enc:?}"),
        },
        BodyError::Corrupt(reason) => FetchError::Request {
            url: shown.to_string(),
            reason,
        },
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(err(BodyError::TooLarge));
    }
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let capacity = resp.content_length().unwrap_or(64 << 10).min(limit) as usize;
    let mut body = BodyDecoder::new(&encoding, limit, capacity);
    loop {
        let chunk = resp.chunk().await.map_err(|e| FetchError::Request {
            url: shown.to_string(),
            reason: format!("reading the body: {}", error_chain(&e.without_url())),
        })?;
        let Some(chunk) = chunk else { break };
        body.push(&chunk).map_err(err)?;
    }
    Ok(Bytes::from(body.finish().map_err(err)?))
}

fn classify(shown: &str, e: reqwest::Error, timeout: Duration) -> FetchError {
    let url = shown.to_string();
    // reqwest names the URL in full; the message names the feed once,
    // redacted (`shown`).
    let e = e.without_url();
    if e.is_timeout() {
        FetchError::Timeout {
            url,
            secs: timeout.as_secs(),
        }
    } else if e.is_redirect() {
        FetchError::Redirects { url }
    } else if e.is_connect() {
        FetchError::Connect {
            url,
            reason: error_chain(&e),
        }
    } else {
        FetchError::Request {
            url,
            reason: error_chain(&e),
        }
    }
}

/// The error and its causes on one line; reqwest's top-level message alone
/// ("error sending request") says too little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let msg = c.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = c.source();
    }
    s
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        let secs = secs.min(30 * 86400) as i64;
        return Some(now + chrono::Duration::seconds(secs));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn looks_like_challenge(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]).to_ascii_lowercase();
    head.contains("challenge-platform")
        || head.contains("cf-chl-")
        || head.contains("<title>just a moment")
        || head.contains("ddos-guard")
        || head.contains("_incapsula_resource")
        || head.contains("captcha-delivery.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_hints_read_max_age_and_expires() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=900"),
        );
        assert_eq!(
            CacheHints::from_headers(&h, now).fresh_for,
            Some(Duration::from_secs(900))
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::DATE,
            HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"),
        );
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Mon, 01 Jan 2024 02:00:00 GMT"),
        );
        assert_eq!(
            CacheHints::from_headers(&h, now).fresh_for,
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            CacheHints::from_headers(&HeaderMap::new(), now).fresh_for,
            None
        );
    }

    #[test]
    fn credentials_go_only_to_the_configured_origin() {
        let cfg = crate::config::parse(
            std::path::Path::new("t.toml"),
            "[[feed]]\nurl = \"https://news.example:8443/f\"\n\
             headers = { \"X-Api-Key\" = \"k\" }\n",
        )
        .unwrap();
        let feed = &cfg.feeds[0];
        let sends = |u: &str| sends_credentials(feed, &Url::parse(u).unwrap());
        assert!(sends("https://news.example:8443/other?page=2"));
        assert!(sends("https://NEWS.example:8443/f"));
        // Same host and port, but plain http: never.
        assert!(!sends("http://news.example:8443/f"));
        assert!(!sends("https://news.example/f"));
        assert!(!sends("https://cdn.news.example:8443/f"));
        assert!(!sends("https://other.example:8443/f"));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + chrono::Duration::seconds(120))
        );
        let d = parse_retry_after("Mon, 01 Jan 2024 01:00:00 GMT", now).unwrap();
        assert_eq!((d - now).num_seconds(), 3600);
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
