//! The `rafid` binary: parses the command line, sets up logging, runs the
//! command, and turns the outcome into the exit code (0 success, 1 a user
//! error, 2 an internal or I/O failure).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use rafid::cli::{Cli, Command, DedupCommand, FeedsCommand, LogFormat, RenderFormat, StoreCommand};
use rafid::commands::{self, Failure};
use rafid::publish::Format;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    init_logging(&cli.log_format, cli.verbose, cli.quiet, &command);
    match run(cli.config.as_deref(), command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("rafid: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(config_path: Option<&std::path::Path>, command: Command) -> Result<(), Failure> {
    if let Command::Check = command {
        return commands::check(config_path);
    }
    if let Command::Dedup(DedupCommand::Eval { pairs }) = &command {
        return commands::dedup_eval(config_path, pairs);
    }
    let config = commands::load_config(config_path)?;
    match command {
        Command::Run => runtime()?
            .block_on(async { rafid::daemon::run(config).await.map_err(Failure::internal) }),
        Command::PollOnce => {
            let summary = runtime()?.block_on(commands::poll_once(config))?;
            summary
                .print(&mut std::io::stdout().lock())
                .map_err(Failure::internal)
        }
        Command::Render { format, tag, limit } => {
            let bytes = match format {
                RenderFormat::Atom => commands::render(&config, Format::Atom, tag, limit)?,
                RenderFormat::Rss => commands::render(&config, Format::Rss, tag, limit)?,
                RenderFormat::Json => commands::render(&config, Format::Json, tag, limit)?,
                RenderFormat::Opml => rafid::publish::opml(&config),
            };
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|_| out.flush())
                .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
        }
        Command::Export => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            commands::export(&config, &mut out)
        }
        Command::Import { file } => {
            let n = commands::import(&config, &file)?;
            eprintln!("restored {n} items into {}", config.storage.path.display());
            Ok(())
        }
        Command::Store(StoreCommand::Check) => commands::store_check(&config),
        Command::Feeds(FeedsCommand::List) => {
            let mut out = std::io::stdout().lock();
            commands::feeds_list(&config, &mut out)
        }
        Command::Check | Command::Dedup(_) => unreachable!("handled above"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("cannot start the runtime: {e}")))
}

fn init_logging(format: &LogFormat, verbose: u8, quiet: u8, command: &Command) {
    // poll-once prints its own summary: per-feed lines only with -v.
    let base: i32 = match command {
        Command::Run => 2,
        _ => 1,
    };
    let level = match base + verbose as i32 - quiet as i32 {
        i32::MIN..=0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("RAFID_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sled=warn,hyper=warn,reqwest=warn")));
    // Under journald the journal adds its own timestamps and shows no colours.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journald && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}
