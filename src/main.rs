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
    tune_malloc();
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

/// glibc gives each thread that allocates while the others do an arena of
/// its own, up to eight per core, and keeps what is freed in each. Bodies
/// are read on the runtime's threads and parsed and stored on blocking
/// ones, so a cold poll of 10,000 feeds held about a fifth more memory than
/// with one arena per core, and was no faster for it.
///
/// Blocks of 1 MiB and more are mapped on their own and given back when
/// freed. glibc's own threshold starts at 128 KiB but rises to the largest
/// block freed so far (up to 32 MiB): after the first large render buffers
/// were freed, later ones came from the arenas, whose free space a long
/// running daemon then kept. Under steady churn (`soak.py`: 300 feeds, an
/// item each every 5 s, eight minutes) the daemon held 71-74 MB at the end
/// with this and a brotli window fitted to the feed, instead of 96 MB; it
/// still grows about 0.9 MB per 1000 items stored, most of it the
/// near-duplicate index of the window. An `MALLOC_MMAP_THRESHOLD_` in the
/// environment is left to rule.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        let own_threshold = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some();
        // SAFETY: mallopt only sets a tunable; it is called before any
        // other thread exists. A refusal (return 0) leaves glibc's default.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
            if !own_threshold {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        }
    }
}

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
