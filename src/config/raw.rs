//! The config file as serde reads it: one struct per table, mirroring the
//! TOML, unknown keys rejected. Values keep their place in the file
//! (`Spanned`) so that validation can name `file:line:column`.

use std::collections::HashMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) storage: RawStorage,
    #[serde(default)]
    pub(super) poll: RawPoll,
    #[serde(default)]
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) dedup: RawDedup,
    #[serde(default, rename = "feed")]
    pub(super) feeds: Vec<Spanned<RawFeed>>,
    #[serde(default)]
    pub(super) websub: RawWebsub,
    #[serde(default, rename = "river")]
    pub(super) rivers: Vec<Spanned<RawRiver>>,
}

/// A `keep` or `drop` table: patterns per field.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRules {
    #[serde(default)]
    pub(super) title: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) content: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) any: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) author: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) category: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) link: Vec<Spanned<String>>,
}

impl RawRules {
    pub(super) fn fields(&self) -> [(crate::rules::Field, &[Spanned<String>]); 6] {
        use crate::rules::Field;
        [
            (Field::Title, &self.title),
            (Field::Content, &self.content),
            (Field::Any, &self.any),
            (Field::Author, &self.author),
            (Field::Category, &self.category),
            (Field::Link, &self.link),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRiver {
    /// Required; optional here so that a river without one is reported
    /// with every other error, not alone.
    pub(super) name: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<Spanned<String>>,
    pub(super) keep: Option<Spanned<RawRules>>,
    pub(super) drop: Option<Spanned<RawRules>>,
    #[serde(default)]
    pub(super) lang: Vec<Spanned<String>>,
    pub(super) title: Option<String>,
    pub(super) token: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebsub {
    pub(super) hub: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) base_url: Option<Spanned<String>>,
    pub(super) admin_token: Option<Spanned<String>>,
    pub(super) read_timeout: Option<Spanned<String>>,
    pub(super) idle_timeout: Option<Spanned<String>>,
    pub(super) max_connections: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub(super) path: Option<Spanned<String>>,
    pub(super) max_age: Option<Spanned<String>>,
    pub(super) max_items_per_feed: Option<Spanned<i64>>,
    pub(super) max_items: Option<Spanned<i64>>,
    pub(super) cache: Option<Spanned<String>>,
    pub(super) backend: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    pub(super) interval: Option<Spanned<String>>,
    pub(super) min_interval: Option<Spanned<String>>,
    pub(super) max_interval: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) user_agent: Option<Spanned<String>>,
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) per_host: Option<Spanned<i64>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) max_items_per_fetch: Option<Spanned<i64>>,
    pub(super) enabled: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) title: Option<String>,
    pub(super) max_items: Option<Spanned<i64>>,
    pub(super) lang: Option<Spanned<String>>,
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) page_content: Option<Spanned<String>>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) max_item_bytes: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedup {
    pub(super) near_duplicates: Option<bool>,
    pub(super) window: Option<Spanned<String>>,
    pub(super) threshold: Option<Spanned<f64>>,
    pub(super) boilerplate: Option<Vec<String>>,
    pub(super) cross_language: Option<bool>,
    pub(super) dictionary: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    /// Required; optional here so that a feed without one is reported with
    /// every other error, not alone.
    pub(super) url: Option<Spanned<String>>,
    pub(super) title: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) enabled: Option<bool>,
    pub(super) dedup: Option<bool>,
    pub(super) priority: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) headers: HashMap<String, Spanned<String>>,
    pub(super) auth: Option<RawAuth>,
    pub(super) keep: Option<Spanned<RawRules>>,
    pub(super) drop: Option<Spanned<RawRules>>,
    #[serde(default)]
    pub(super) lang: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) user: Spanned<String>,
    pub(super) password: Spanned<String>,
}
