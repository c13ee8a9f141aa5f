//! WebSub publishing: with `[websub] hub = "URL"`, the feeds advertise the
//! hub (`rel="hub"` beside `rel="self"`) and rafid tells the hub after each
//! change which of its feeds changed, so subscribers get new items pushed
//! instead of polling.
//!
//! The notice is the common publish ping (`hub.mode=publish` with one
//! `hub.url` per feed), retried a few times with growing pauses; a hub that
//! stays down costs a warning, never a feed.
//!
//! Pings run on the daemon's task tracker, so a stop waits for the one in
//! flight: the hub hears of the last change before the process ends. A hub
//! that is slow to answer holds the stop for `AFTER_STOP` at most.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use url::Url;

use crate::config::{Config, redact_url};
use crate::publish::{Format, scopes};

/// Retries after the first attempt.
const RETRIES: u32 = 3;

/// How long a ping in flight may go on once the daemon is told to stop:
/// well inside the daemon's grace, so a slow hub never makes a stop unclean.
pub const AFTER_STOP: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum WebsubError {
    #[error("WebSub hub {hub}: {detail}")]
    Hub { hub: String, detail: String },
    #[error("cannot build the HTTP client for the WebSub hub: {0}")]
    Client(String),
}

/// Tells one hub about changes.
#[derive(Clone)]
pub struct Pinger {
    client: reqwest::Client,
    hub: Url,
    /// The pause before the first retry; each further retry waits twice as long.
    pub backoff: Duration,
}

impl Pinger {
    /// The pinger for the config's hub, if it names one.
    pub fn from_config(config: &Config) -> Result<Option<Pinger>, WebsubError> {
        let Some(hub) = config.websub.hub.clone() else {
            return Ok(None);
        };
        crate::ingest::fetch::install_tls_provider();
        let client = reqwest::Client::builder()
            .user_agent(config.poll.user_agent.clone())
            .connect_timeout(config.poll.connect_timeout)
            .timeout(config.poll.timeout)
            .build()
            .map_err(|e| WebsubError::Client(e.to_string()))?;
        Ok(Some(Pinger {
            client,
            hub,
            backoff: Duration::from_secs(1),
        }))
    }

    /// Pings the hub on `tasks`, so that a stop waits for it; once `token`
    /// is cancelled, the ping gets `after_stop` more to finish.
    pub fn spawn_ping(&self, tasks: &TaskTracker, topics: Vec<String>, token: CancellationToken) {
        self.spawn_ping_within(tasks, topics, token, AFTER_STOP)
    }

    fn spawn_ping_within(
        &self,
        tasks: &TaskTracker,
        topics: Vec<String>,
        token: CancellationToken,
        after_stop: Duration,
    ) {
        let pinger = self.clone();
        tasks.spawn(async move {
            let ping = pinger.ping(&topics);
            tokio::pin!(ping);
            let done = tokio::select! {
                r = &mut ping => Some(r),
                _ = token.cancelled() => tokio::time::timeout(after_stop, &mut ping).await.ok(),
            };
            match done {
                Some(Ok(())) => {}
                Some(Err(e)) => warn!(error = %e, "WebSub hub not notified"),
                None => warn!(
                    hub = %redact_url(&pinger.hub),
                    "WebSub hub not notified: no answer within {after_stop:?} of the stop"
                ),
            }
        });
    }

    /// Sends the publish ping for `topics`, retrying on failure.
    pub async fn ping(&self, topics: &[String]) -> Result<(), WebsubError> {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("hub.mode", "publish");
            for t in topics {
                form.append_pair("hub.url", t);
            }
            form.finish()
        };
        let mut pause = self.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let detail = match self
                .client
                .post(self.hub.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone())
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    info!(hub = %redact_url(&self.hub), topics = topics.len(), "WebSub hub notified");
                    return Ok(());
                }
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(e) => e.without_url().to_string(),
            };
            if attempt > RETRIES {
                return Err(WebsubError::Hub {
                    hub: redact_url(&self.hub),
                    detail: format!("{detail} (after {attempt} attempts)"),
                });
            }
            warn!(hub = %redact_url(&self.hub), attempt, error = %detail, "WebSub ping failed; retrying");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
}

/// The URL of every public feed rafid serves (each scope, each feed
/// format): what subscribers may have subscribed to at the hub. A scope
/// guarded by a token is left out: the hub could not read it, and its name
/// would reach the hub.
pub fn topics(config: &Config) -> Vec<String> {
    scopes(config)
        .iter()
        .filter(|s| crate::publish::is_public(config, s))
        .flat_map(|s| Format::FEEDS.map(|f| crate::publish::feed_url(config, s, f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_never_hears_of_a_guarded_feed() {
        let text = "[server]\nbase_url = \"https://news.example/\"\n\
                    [[feed]]\nurl = \"https://a.example/f\"\ntags = [\"news\"]\n\
                    [[river]]\nname = \"open\"\n\
                    [[river]]\nname = \"desk\"\ntoken = \"t\"\n";
        let config = crate::config::parse(std::path::Path::new("t.toml"), text).unwrap();
        let t = topics(&config);
        assert!(
            t.contains(&"https://news.example/rivers/open.atom".to_string()),
            "{t:?}"
        );
        assert!(
            t.contains(&"https://news.example/feed.json".to_string()),
            "{t:?}"
        );
        assert!(!t.iter().any(|u| u.contains("desk")), "{t:?}");
        let private_main = format!("{text}[output]\ntoken = \"m\"\n");
        let config = crate::config::parse(std::path::Path::new("t.toml"), &private_main).unwrap();
        let t = topics(&config);
        assert_eq!(t.len(), 3, "only the open river: {t:?}");
    }

    /// A hub on 127.0.0.1 that answers each ping after `delay`, and counts
    /// the answers it finished sending (a ping dropped by its sender is
    /// never answered: the server drops the handler with the connection).
    async fn slow_hub(
        delay: Duration,
    ) -> (
        Url,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
        std::sync::Arc<tokio::sync::Notify>,
    ) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let answered = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(tokio::sync::Notify::new());
        let (a, q) = (answered.clone(), asked.clone());
        let app = axum::Router::new().route(
            "/hub",
            axum::routing::post(move || {
                let (a, q) = (a.clone(), q.clone());
                async move {
                    q.notify_one();
                    tokio::time::sleep(delay).await;
                    a.fetch_add(1, Ordering::SeqCst);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let hub = Url::parse(&format!("http://{addr}/hub")).unwrap();
        (hub, answered, asked)
    }

    fn pinger(hub: Url) -> Pinger {
        let text = format!("[websub]\nhub = \"{hub}\"\n");
        let config = crate::config::parse(std::path::Path::new("t.toml"), &text).unwrap();
        let mut p = Pinger::from_config(&config).unwrap().unwrap();
        p.client = reqwest::Client::builder().no_proxy().build().unwrap();
        p
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_waits_for_the_ping_in_flight() {
        let (hub, answered, asked) = slow_hub(Duration::from_millis(600)).await;
        let (tasks, token) = (TaskTracker::new(), CancellationToken::new());
        pinger(hub).spawn_ping(
            &tasks,
            vec!["https://news.example/feed.atom".into()],
            token.clone(),
        );
        asked.notified().await;
        token.cancel();
        tasks.close();
        tokio::time::timeout(Duration::from_secs(10), tasks.wait())
            .await
            .unwrap();
        assert_eq!(
            answered.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the stop waited for the hub's answer"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_hub_holds_a_stop_for_the_bound_only() {
        let (hub, answered, asked) = slow_hub(Duration::from_secs(30)).await;
        let (tasks, token) = (TaskTracker::new(), CancellationToken::new());
        let bound = Duration::from_millis(300);
        pinger(hub).spawn_ping_within(
            &tasks,
            vec!["https://news.example/feed.atom".into()],
            token.clone(),
            bound,
        );
        asked.notified().await;
        let stop = std::time::Instant::now();
        token.cancel();
        tasks.close();
        tokio::time::timeout(Duration::from_secs(10), tasks.wait())
            .await
            .unwrap();
        let took = stop.elapsed();
        assert!(took >= bound && took < Duration::from_secs(5), "{took:?}");
        assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
