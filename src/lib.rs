//! rafid: an RSS/Atom/JSON Feed aggregator daemon. Many tributaries (the
//! configured feeds) flow into one river: a merged, deduplicated feed.
//!
//! The modules, in pipeline order:
//!
//! - [`config`]: the config file, validated, with file:line:column errors.
//! - [`scheduler`]: when each feed is due; backoff; `Retry-After`.
//! - [`fetch`]: HTTP with conditional GET, limits and charset decoding.
//! - [`parse`]: feed-rs → rafid's own [`model`] types.
//! - [`normalize`]: canonical links and text normalized for matching.
//! - [`dedup`]: identity keys and the same-item / same-story decision.
//! - [`neardup`]: the same story from several outlets: fingerprints, their
//!   index and the decision ([`dedup_eval`] measures it on labelled pairs;
//!   [`explain`] shows how a stored story was put together).
//! - [`rules`]: keep/drop rules: what a feed stores, what a named river shows.
//! - [`store`]: sled, the only module that knows it.
//! - [`publish`]: Atom, RSS and JSON Feed rendered once per change, paged;
//!   [`river`] is the HTML page; [`websub`] tells a hub about changes.
//! - [`server`]: axum, serving the cached bytes; [`guard`] bounds its
//!   connections and their timeouts.
//!
//! [`poll`] runs one feed through fetch → store; [`daemon`] wires the
//! long-running parts together; [`commands`] implements the command line.
//! Around the daemon: [`reload`] (the config changing under it),
//! [`control`] (commands reaching its store), [`metrics`] (`/metrics`);
//! [`feeds`] edits the config file for `rafid feeds`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dedup;
pub mod dedup_eval;
pub mod explain;
pub mod feeds;
pub mod fetch;
pub mod guard;
pub mod metrics;
pub mod model;
pub mod neardup;
pub mod normalize;
pub mod parse;
pub mod poll;
pub mod publish;
pub mod reload;
pub mod river;
pub mod rules;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod websub;
