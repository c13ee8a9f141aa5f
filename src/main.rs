//! The `rafid` binary: parses the command line, sets up logging, runs the
//! command, and turns the outcome into the exit code (0 success, 1 a user
//! error, 2 an internal or I/O failure).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use rafid::cli::{Cli, Command, FeedsCommand, LogFormat, RenderFormat};
use rafid::commands::{self, Failure};
use rafid::control;
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
    // The feeds commands that edit the config file work on its text, and
    // need no valid config to start from (e.g. `feeds add` to an empty file).
    if let Command::Feeds(f) = &command {
        let path = rafid::config::locate(config_path)?;
        let mut out = std::io::stdout().lock();
        match f {
            FeedsCommand::List => {}
            FeedsCommand::Add {
                url,
                title,
                tags,
                interval,
                discover,
                probe,
            } => {
                let add = rafid::feeds::NewFeed {
                    url: url.clone(),
                    title: title.clone(),
                    tags: tags.clone(),
                    interval: interval.clone(),
                };
                return runtime()?.block_on(rafid::feeds::add_command(
                    &path, add, *discover, *probe, &mut out,
                ));
            }
            FeedsCommand::Remove { url } => {
                return rafid::feeds::remove_command(&path, url, &mut out);
            }
            FeedsCommand::Import { file } => {
                return rafid::feeds::import_command(&path, file, &mut out);
            }
            FeedsCommand::Export => {
                let config = commands::load_config(Some(&path))?;
                return write_out(&rafid::publish::opml(&config));
            }
        }
    }
    let config = commands::load_config(config_path)?;
    if let Command::Render {
        format: RenderFormat::Opml,
        ..
    } = command
    {
        // The subscription list comes from the config alone.
        return write_out(&rafid::publish::opml(&config));
    }
    if control::reads_store(&command) {
        let mut out = std::io::stdout().lock();
        if let Some(answer) = control::forward(&config.storage.path, &command, &mut out) {
            return answer;
        }
        let store = commands::open_store(&config, &format!("rafid {}", name(&command)))?;
        return control::execute(&command, &config, &store, &mut out);
    }
    match command {
        Command::Run => runtime()?
            .block_on(async { rafid::daemon::run(config).await.map_err(Failure::internal) }),
        Command::PollOnce => {
            refuse_beside_daemon(&config, "poll-once")?;
            let summary = runtime()?.block_on(commands::poll_once(config))?;
            summary
                .print(&mut std::io::stdout().lock())
                .map_err(Failure::internal)
        }
        Command::Import { file } => {
            refuse_beside_daemon(&config, "import")?;
            let n = commands::import(&config, &file)?;
            eprintln!("restored {n} items into {}", config.storage.path.display());
            Ok(())
        }
        other => Err(Failure::internal(format!("{other:?}: not dispatched"))),
    }
}

/// `poll-once` and `import` write the store, which a running daemon owns.
fn refuse_beside_daemon(config: &rafid::config::Config, what: &str) -> Result<(), Failure> {
    match control::who(&config.storage.path) {
        Some(daemon) => Err(Failure::user(format!(
            "{what}: the store in {} belongs to a running daemon, {daemon}; stop it first{}",
            config.storage.path.display(),
            if what == "poll-once" {
                " (the daemon polls on its own)"
            } else {
                ""
            }
        ))),
        None => Ok(()),
    }
}

/// The command's name as typed, for the store's lock message.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Render { .. } => "render",
        Command::Export => "export",
        Command::Store(_) => "store check",
        Command::Feeds(_) => "feeds list",
        _ => "command",
    }
}

fn write_out(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
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
