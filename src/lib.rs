//! rafid: an RSS/Atom/JSON Feed aggregator daemon. Many tributaries (the
//! configured feeds) flow into one river: a merged, deduplicated feed.
//!
//! The folders, in pipeline order:
//!
//! - [`config`]: the config file, validated, with file:line:column errors.
//! - [`ingest`]: getting items in: when each feed is due, the request with
//!   its limits and charset decoding, feed-rs → rafid's own [`model`] types,
//!   and text normalized for matching.
//! - [`dedup`]: identity keys (the same item again) and the same story from
//!   several outlets: fingerprints, the decision and its word lists.
//! - [`rules`]: keep/drop rules: what a feed stores, what a named river shows.
//! - [`store`]: sled, the only module that knows it: the ingest
//!   transaction, queries, the near-duplicate index, retention, backup.
//! - [`publish`]: Atom, RSS, JSON Feed and the HTML river page, rendered
//!   once per change; OPML; WebSub pings.
//! - [`server`]: axum, serving the cached bytes, `/status` and `/metrics`,
//!   with a guard bounding connections and their timeouts.
//! - [`daemon`]: the long-running parts wired together; reload when the
//!   config changes; the control socket through which commands reach its
//!   store.
//! - [`cli`]: the command line: arguments, the commands, config edits for
//!   `rafid feeds`.
//! - [`text`]: HTML read as text and text escaped for HTML, the same for
//!   every stage that reads or writes item text.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod ingest;
pub mod model;
pub mod publish;
pub mod rules;
pub mod server;
pub mod store;
pub mod text;
