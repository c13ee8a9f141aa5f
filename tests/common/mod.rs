//! What the integration tests share, one job per file: the `rafid` command
//! ([`bin`]), a local feed server ([`server`]), feed documents ([`rss`]),
//! fixtures ([`fixtures`]), config files ([`config`]), daemons in and out
//! of process ([`daemon`]) and their logs ([`logs`]).

// Each test binary uses a part of these.
#![allow(dead_code, unused_imports)]

pub mod bin;
pub mod config;
pub mod daemon;
pub mod fixtures;
pub mod logs;
pub mod rss;
pub mod server;

pub use bin::{rafid, run, run_ok};
pub use config::{rewrite, write_config};
pub use daemon::{Daemon, Running, start_daemon};
pub use fixtures::{
    STANDARD_UNIQUE_ITEMS, fixture_bytes, fixture_path, fixture_text, serve_standard,
    windows_1256_feed,
};
pub use server::{Doc, FeedServer, Seen};
