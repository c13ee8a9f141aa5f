//! The command line (clap derive): the contract of DESIGN.md part 1.

pub mod commands;
pub mod discover;
pub mod edit;
pub mod failure;
pub mod ops;
pub mod poll;
pub mod remote;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

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

/// Serde lets a command travel to a running daemon over the control socket.
#[derive(Debug, Subcommand, Serialize, Deserialize)]
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
        #[arg(long, conflicts_with = "river")]
        tag: Option<String>,
        /// A named river (`[[river]]`) instead of the main feed.
        #[arg(long, value_name = "NAME")]
        river: Option<String>,
        /// At most this many items [default: output.max_items].
        #[arg(long)]
        limit: Option<usize>,
        /// The older page that starts after this cursor: the `before`
        /// value of a page's rel="next" link.
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
    },
    /// Validate the config file; exit 1 on any error.
    Check,
    /// Write a commented starter config (never over an existing file).
    Init {
        /// Where [default: as -c resolves: $RAFID_CONFIG, else ./config/rafid.toml]
        path: Option<PathBuf>,
    },
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
    /// Keep/drop rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The same-story detector.
    #[command(subcommand)]
    Dedup(DedupCommand),
    /// Print the completion script for a shell on stdout.
    #[serde(skip)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout.
    #[serde(skip)]
    Man,
}

/// Writes the completion script of `rafid` for `shell`: generated from the
/// command line's own definition, so it never falls behind it.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "rafid", out);
}

/// Writes the manual page rafid(1), from the same definition.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd).render(out)
}

#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum DedupCommand {
    /// Run the same-story decision on labelled pairs (JSON Lines): one
    /// prediction a line on stdout, precision/recall/F1 on stderr.
    Eval {
        /// The labelled pairs ("-" for stdin).
        pairs: PathBuf,
    },
    /// How a stored story was put together: its members, which copy it
    /// shows and why, and each member against the shown copy.
    Explain {
        /// The item: its id (hex, as exports write it), its urn:uuid (as
        /// the outputs publish it), or a member's link.
        item: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take a member out of a story for good: it becomes an item of its
    /// own and is never merged into that story again.
    Split {
        /// The story: its id, its urn:uuid, or a member's link.
        item: String,
        /// The member: its feed's URL as configured, or its link.
        member: String,
    },
}

#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum RulesCommand {
    /// Show which items of a feed each rule keeps or drops: the rules of
    /// the configured feed with this URL (or the one given with --feed)
    /// and of every named river. Nothing is stored.
    Test {
        /// A feed document: a file path or an http(s) URL.
        #[arg(value_name = "FILE_OR_URL")]
        source: String,
        /// Apply the rules of this configured feed (default: the feed whose
        /// URL is FILE_OR_URL, if any).
        #[arg(long, value_name = "URL")]
        feed: Option<String>,
    },
}

#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum FeedsCommand {
    /// Each feed's health: last success, last error, failures in a row,
    /// next poll and why, items, gone or moved, politeness.
    List,
    /// Add a `[[feed]]` to the config file (comments and layout stay).
    Add {
        /// The feed's URL (or, with --discover, a web page that links to it).
        url: String,
        /// The title to show instead of the feed's own.
        #[arg(long)]
        title: Option<String>,
        /// A tag (repeat for more).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Pin the feed's poll interval, e.g. "15m".
        #[arg(long, value_name = "DURATION")]
        interval: Option<String>,
        /// Treat URL as a web page and find its feed (<link rel="alternate">).
        #[arg(long)]
        discover: bool,
        /// Fetch the feed once and show its title and item count.
        #[arg(long)]
        probe: bool,
    },
    /// Remove a feed from the config file (its stored items stay until
    /// retention removes them).
    Remove {
        /// The feed's URL, as in the config (compared canonically).
        url: String,
    },
    /// Add the feeds of an OPML file; folder names become tags.
    Import {
        /// The OPML file ("-" for stdin).
        file: PathBuf,
    },
    /// Print the feeds as OPML 2.0 (the document /opml serves).
    Export,
    /// Poll feeds now and print the result per feed: through the running
    /// daemon when there is one (Retry-After and per-host limits still
    /// apply), else on the store directly.
    Poll {
        /// The feeds to poll, by their URL in the config.
        #[arg(value_name = "URL", required_unless_present_any = ["all", "failing"])]
        urls: Vec<String>,
        /// Every enabled feed.
        #[arg(long, conflicts_with_all = ["urls", "failing"])]
        all: bool,
        /// The feeds whose last poll failed.
        #[arg(long, conflicts_with = "urls")]
        failing: bool,
    },
}

#[derive(Debug, Subcommand, Serialize, Deserialize)]
pub enum StoreCommand {
    /// Verify every index against the items; exit 1 on any problem.
    Check,
    /// Copy the store to another backend, with nothing lost: the sled
    /// store in storage.path to a PostgreSQL database, or a database's
    /// store to sled in storage.path. The copy must start empty; the
    /// source is left as it is. Stop every rafid using either first.
    Migrate {
        /// The backend to copy to.
        #[arg(long, value_enum)]
        to: MigrateTo,
        /// The database: its postgres:// URL, or "env:NAME" / "file:PATH"
        /// holding it. Default: storage.url.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum MigrateTo {
    Sled,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum RenderFormat {
    Atom,
    Rss,
    Json,
    /// The river page, the same bytes as `/`.
    Html,
    /// The subscription list (no store needed).
    Opml,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_the_manual_page_know_every_command() {
        let mut bash = Vec::new();
        completions(clap_complete::Shell::Bash, &mut bash);
        let bash = String::from_utf8(bash).unwrap();
        let mut page = Vec::new();
        man(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(".TH rafid 1"), "{page}");
        for command in [
            "poll-once",
            "render",
            "check",
            "feeds",
            "completions",
            "man",
        ] {
            assert!(bash.contains(command), "bash completion lacks {command}");
            // roff writes '-' as '\-'.
            assert!(
                page.contains(&command.replace('-', "\\-")),
                "man page lacks {command}"
            );
        }
        assert!(bash.contains("--config"));
    }
}
