//! rafid: an RSS/Atom/JSON Feed aggregator daemon. Many tributaries (the
//! configured feeds) flow into one river: a merged, deduplicated feed.
//!
//! The folders, in pipeline order (each folder's `mod.rs` says what its
//! files do):
//!
//! - [`config`]: the config file read (`raw`, `read`), validated table by
//!   table (`validate/`), with file:line:column errors (`diagnostic`),
//!   secrets (`secret`) and their redaction in everything shown (`redact`).
//! - [`ingest`]: getting items in. `schedule` decides when each feed is due
//!   and `scheduler` runs the loops; `poll` is one poll of one feed: the
//!   request with its byte limits and charset decoding (`fetch/`), feed-rs
//!   to rafid's own [`model`] types (`parse/`); `counters` and `health` are
//!   what the status views show.
//! - [`rules`]: keep/drop rules: what a feed stores, what a named river
//!   shows; `verdicts` remembers their answers for the renderer.
//! - [`dedup`]: whether an item is one already stored (`keys`, `decide`) and
//!   whether another outlet published the same story (`near/`: the
//!   document, the decision, its vetoes and word lists, the index).
//! - [`store`]: the `Store` handle on a `Backend` trait, and sled's store,
//!   the one module that knows sled: opening, the ingest transaction in
//!   which dedup decides, queries, retention, backup, checks, and how a
//!   story was put together (`explain`); `postgres/`, the leases several
//!   pollers would share through one database.
//! - [`publish`]: Atom, RSS, JSON Feed and the HTML river page (`html/`),
//!   rendered once per change and cached as bytes; OPML both ways; WebSub
//!   pings.
//! - [`server`]: axum, serving the cached bytes; `/status` and `/metrics`
//!   behind one admin check (`admin`); a guard bounding connections and
//!   their timeouts.
//! - [`daemon`]: the long-running parts wired together and stopped in
//!   order; reload when the config changes; the control socket's daemon end.
//! - [`cli`]: the command line: arguments, the commands (`commands`, and
//!   `ops` for those the control socket also runs), the control socket's
//!   client (`remote`), config edits for `rafid feeds` (`edit`) and feed
//!   discovery (`discover`).
//!
//! Foundations every stage uses: [`model`] (items, entries, feed state) and
//! [`text`] (HTML read as text and text escaped for HTML, one way for every
//! stage, so rules and dedup read what the page shows; and `normalize`, the
//! canonical links and folded text that matching compares), and [`fields`]
//! (reading back the binary files kept beside the store).

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod fields;
pub mod ingest;
pub mod model;
pub mod publish;
pub mod rules;
pub mod server;
pub mod store;
pub mod text;
