//! The `rafid` binary: parses the command line, sets up logging, runs the
//! command, and turns the outcome into the exit code (0 success, 1 a user
//! error, 2 an internal or I/O failure).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use rafid::cli::commands;
use rafid::cli::failure::Failure;
use rafid::cli::{
    Cli, Command, DedupCommand, FeedsCommand, LogFormat, RulesCommand, StoreCommand, remote,
};
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

/// The allocator. A poll is allocation-heavy (bodies, parsed entries,
/// their text, item records, sled's pages), and with glibc's malloc about a
/// sixth of a cold poll's CPU time went into it (`_int_malloc`, merging and
/// unlinking free chunks). jemalloc serves most allocations from a cache
/// per thread, in size classes: on the 10,000-feed bench farm a cold
/// `poll-once` took about a quarter less wall and CPU time, and peaked
/// within a few MB of glibc (see the README's scale table).
#[cfg(unix)]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its first allocation; `_RJEM_MALLOC_CONF` in
/// the environment is read after them and overrides them.
///
/// - `narenas:1`: jemalloc's default is four arenas per core, each keeping
///   freed pages of its own. rafid's CPU work runs on one thread per core,
///   and the threads' caches serve most allocations without the arena's
///   lock: one arena peaked about 10 MB lower than two on the 10,000-feed
///   farm, and two about 10 MB lower than the default on the 1000-feed
///   one, each at the same speed.
/// - `dirty_decay_ms:250,muzzy_decay_ms:0`: freed pages go back to the
///   kernel within a quarter of a second of falling idle (the default keeps
///   them ten seconds, then ten more as "muzzy"), so a daemon between polls
///   holds what it uses, not what its last poll did.
/// - `background_thread:true`: that return happens on jemalloc's own
///   thread, also while the daemon is idle and allocates nothing.
#[cfg(unix)]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 69] =
    b"narenas:1,dirty_decay_ms:250,muzzy_decay_ms:0,background_thread:true\0";

fn run(config_path: Option<&std::path::Path>, command: Command) -> Result<(), Failure> {
    // Generated from the command line itself: no config needed.
    match &command {
        Command::Completions { shell } => {
            rafid::cli::completions(*shell, &mut std::io::stdout().lock());
            return Ok(());
        }
        Command::Man => {
            return rafid::cli::man(&mut std::io::stdout().lock())
                .map_err(|e| Failure::internal(format!("writing to stdout: {e}")));
        }
        _ => {}
    }
    if let Command::Check = command {
        return commands::check(config_path);
    }
    if let Command::Init { path } = &command {
        let path = path.as_deref().or(config_path);
        return commands::init(path, &mut std::io::stdout().lock());
    }
    if let Command::Dedup(DedupCommand::Eval { pairs }) = &command {
        return commands::dedup_eval(config_path, pairs);
    }
    // The feeds commands that edit the config file work on its text, and
    // need no valid config to start from (e.g. `feeds add` to an empty file).
    if let Command::Feeds(f) = &command {
        let path = rafid::config::locate(config_path)?;
        if let Some(done) = rafid::cli::edit::edit(&path, f, &mut std::io::stdout().lock()) {
            return done;
        }
    }
    // Only the daemon serves HTTP: the others need no admin token.
    let purpose = match command {
        Command::Run => rafid::config::Purpose::Serve,
        _ => rafid::config::Purpose::Offline,
    };
    let config = commands::load_config(config_path, purpose)?;
    if let Command::Feeds(FeedsCommand::Poll { .. }) = &command {
        return remote::feeds_poll(&config, &command, &mut std::io::stdout().lock());
    }
    if rafid::cli::ops::reads_store(&command) {
        return remote::run_reader(&config, &command, &mut std::io::stdout().lock());
    }
    match command {
        Command::Run => {
            let rt = runtime()?;
            // A stop whose final flush failed, or whose tasks outlived the
            // grace period, may have lost writes: exit 2, with the cause.
            let done =
                rt.block_on(async { rafid::daemon::run(config).await.map_err(Failure::internal) });
            // A parse still running on a blocking thread stops at its next
            // look at the stop token; the exit does not wait for it (a
            // dropped runtime would, however long the parse took).
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            done
        }
        Command::PollOnce => {
            remote::refuse_beside_daemon(&config, "poll-once")?;
            let summary = runtime()?.block_on(rafid::cli::poll::poll_once(config))?;
            summary
                .print(&mut std::io::stdout().lock())
                .map_err(Failure::internal)
        }
        Command::Rules(RulesCommand::Test { source, feed }) => {
            let text =
                runtime()?.block_on(commands::rules_test(&config, &source, feed.as_deref()))?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
        }
        Command::Store(StoreCommand::Migrate { to, url }) => {
            let n = commands::migrate(&config, to, url.as_deref())?;
            eprintln!("copied {n} items");
            Ok(())
        }
        Command::Import { file } => {
            remote::refuse_beside_daemon(&config, "import")?;
            let n = commands::import(&config, &file)?;
            eprintln!("restored {n} items into {}", config.storage.path.display());
            Ok(())
        }
        other => Err(Failure::internal(format!("{other:?}: not dispatched"))),
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
    // poll-once lists its failures in its summary (each once), and logs its
    // progress unless told to be quiet.
    let poll_once = match command {
        Command::PollOnce if verbose == 0 => {
            let progress = if quiet == 0 { "info" } else { "warn" };
            format!(",rafid::poll::failed=error,rafid::progress={progress}")
        }
        _ => String::new(),
    };
    let filter = EnvFilter::try_from_env("RAFID_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},sled=warn,hyper=warn,reqwest=warn{poll_once}"
        ))
    });
    // Under journald the journal adds its own timestamps and shows no colours.
    let journald = stderr_is_journal();
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

/// Whether stderr goes to the journal: systemd sets `$JOURNAL_STREAM` to
/// the device and inode of the stream it connected, and a child whose
/// stderr was redirected elsewhere inherits the variable, so both must match.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let stderr = std::io::stderr();
    let Ok(fd) = stderr.as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(m) => dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()),
        Err(_) => false,
    }
}
