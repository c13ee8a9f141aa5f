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
//!   index and the decision ([`dedup_eval`] measures it on labelled pairs).
//! - [`store`]: sled, the only module that knows it.
//! - [`publish`]: Atom, RSS and JSON Feed rendered once per change.
//! - [`server`]: axum, serving the cached bytes.
//!
//! [`poll`] runs one feed through fetch → store; [`daemon`] wires the
//! long-running parts together; [`commands`] implements the command line.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod dedup_eval;
pub mod fetch;
pub mod model;
pub mod neardup;
pub mod normalize;
pub mod parse;
pub mod poll;
pub mod publish;
pub mod scheduler;
pub mod server;
pub mod store;
