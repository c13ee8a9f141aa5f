//! WebSub publishing: with `[websub] hub = "URL"`, the feeds advertise the
//! hub (`rel="hub"` beside `rel="self"`) and rafid tells the hub after each
//! change which of its feeds changed, so subscribers get new items pushed
//! instead of polling.
//!
//! The notice is the common publish ping (`hub.mode=publish` with one
//! `hub.url` per feed), retried a few times with growing pauses; a hub that
//! stays down costs a warning, never a feed.

use std::time::Duration;

use tracing::{info, warn};
use url::Url;

use crate::config::{Config, redact_url};
use crate::publish::{Format, scopes};

/// Retries after the first attempt.
const RETRIES: u32 = 3;

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
}
