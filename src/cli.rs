//! The command line (clap derive): the contract of DESIGN.md part 1.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rafid",
    version,
    about = "Polls feeds, merges and deduplicates their stories, republishes one feed"
)]
pub struct Cli {
    /// Config file [default: $RAFID_CONFIG, else ./config/rafid.toml, else /etc/rafid/rafid.toml]
    #[arg(short, long, global = true, env = "RAFID_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More logging (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less logging (repeat for less).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll on schedule and serve the merged feeds (the default).
    Run,
    /// Poll every enabled feed once, store, print a summary, exit.
    PollOnce,
    /// Print a merged feed from the store to stdout.
    Render {
        #[arg(long, value_enum, default_value_t = RenderFormat::Atom)]
        format: RenderFormat,
        /// Only the items of feeds with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// At most this many items [default: output.max_items].
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Validate the config file; exit 1 on any error.
    Check,
    /// Write the whole store (items, feed state) as JSON Lines on stdout.
    Export,
    /// Restore an export into the empty store at `storage.path`.
    Import {
        /// The JSON Lines file `rafid export` wrote ("-" for stdin).
        file: PathBuf,
    },
    /// Store maintenance.
    #[command(subcommand)]
    Store(StoreCommand),
    /// The configured feeds.
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// The same-story detector.
    #[command(subcommand)]
    Dedup(DedupCommand),
}

#[derive(Debug, Subcommand)]
pub enum DedupCommand {
    /// Run the same-story decision on labelled pairs (JSON Lines): one
    /// prediction a line on stdout, precision/recall/F1 on stderr.
    Eval {
        /// The labelled pairs ("-" for stdin).
        pairs: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Each feed's health: last success, last error, failures in a row,
    /// next poll and why, items, gone or moved.
    List,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Verify every index against the items; exit 1 on any problem.
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Atom,
    Rss,
    Json,
    /// The subscription list (no store needed).
    Opml,
}
