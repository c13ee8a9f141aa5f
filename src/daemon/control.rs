//! The control socket: how commands reach the store a running daemon owns.
//!
//! sled lets one process open a store. While a daemon runs, the commands
//! that read the store (`render`, `export`, `store check`, `feeds list`,
//! `dedup explain`, and `dedup split`, which changes one story in one
//! transaction) send their parsed command line to the daemon over a Unix socket in the
//! state directory; the daemon runs the very same function
//! ([`execute`]) against its open store and streams back what it writes,
//! then the exit code. So a command gives the same bytes with or without a
//! daemon, and a new option of a command works through the socket without
//! any code here.
//!
//! The socket is owner-only (mode 0600, in the state directory), and the
//! daemon also checks the peer's user id, so other local users can read
//! nothing through it.
//!
//! Protocol: the client sends one JSON [`Request`] and a newline; the
//! daemon answers with frames of one tag byte and a big-endian u32 length:
//! `O` bytes for stdout, `E` an error message, `X` the exit code (one
//! byte), which ends the answer.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cli::commands::{self, Failure};
use crate::cli::{Command, DedupCommand, FeedsCommand, RenderFormat, StoreCommand};
use crate::config::{Config, Live};
use crate::publish::Format;
use crate::store::Store;

/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "control.sock";

/// How long the daemon waits for a client's request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest request the daemon reads.
const MAX_REQUEST: u64 = 1 << 20;

/// Where the control socket of the store in `state_dir` is.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Which daemon answers: for commands that must refuse to run beside it.
    Who,
    /// Run this command against the daemon's store and config.
    Run(Command),
}

/// The daemon that answered `Who`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Daemon {
    pub pid: u32,
    pub config: PathBuf,
    pub listen: String,
}

impl std::fmt::Display for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rafid run (pid {}, config {}, listening on {})",
            self.pid,
            self.config.display(),
            self.listen
        )
    }
}

/// Whether `command` reads the store, and so goes to a running daemon
/// (`dedup split` writes it too: one transaction, beside the daemon's own).
pub fn reads_store(command: &Command) -> bool {
    matches!(
        command,
        Command::Render { .. }
            | Command::Export
            | Command::Store(StoreCommand::Check)
            | Command::Feeds(FeedsCommand::List)
            | Command::Dedup(DedupCommand::Explain { .. } | DedupCommand::Split { .. })
    )
}

/// Runs a store-reading command against `store`, writing what it prints to
/// `out`. Both the command line (no daemon) and the daemon (for a client)
/// call this, which is what makes their outputs the same.
pub fn execute(
    command: &Command,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let io = |e: io::Error| Failure::internal(format!("writing the output: {e}"));
    match command {
        Command::Render {
            format,
            tag,
            river,
            limit,
            before,
        } => {
            let format = match format {
                RenderFormat::Atom => Format::Atom,
                RenderFormat::Rss => Format::Rss,
                RenderFormat::Json => Format::Json,
                RenderFormat::Html => Format::Html,
                RenderFormat::Opml => {
                    let own = crate::publish::own_titles(store);
                    return out
                        .write_all(&crate::publish::opml_with(config, &own, false))
                        .and_then(|_| out.flush())
                        .map_err(io);
                }
            };
            let bytes = commands::render(
                config,
                store,
                format,
                tag.clone(),
                river.clone(),
                *limit,
                before.as_deref(),
            )?;
            out.write_all(&bytes).and_then(|_| out.flush()).map_err(io)
        }
        Command::Export => {
            let mut w = io::BufWriter::new(out);
            commands::export(store, &mut w)?;
            w.flush().map_err(io)
        }
        Command::Store(StoreCommand::Check) => commands::store_check(store, out),
        Command::Feeds(FeedsCommand::List) => commands::feeds_list(config, store, out),
        Command::Dedup(DedupCommand::Explain { item, json }) => {
            commands::dedup_explain(config, store, item, *json, out)
        }
        Command::Dedup(DedupCommand::Split { item, member }) => {
            commands::dedup_split(config, store, item, member, out)
        }
        other => Err(Failure::internal(format!(
            "{other:?} does not read the store"
        ))),
    }
}

/// Runs a store-reading command: through the running daemon when there is
/// one, else on the store opened here.
pub fn run_reader(config: &Config, command: &Command, out: &mut dyn Write) -> Result<(), Failure> {
    if let Command::Render {
        format: RenderFormat::Opml,
        ..
    } = command
    {
        // The subscription list needs the store only for the feeds' own
        // titles: the daemon's, else the store here if there is one; none
        // is created for it.
        if let Some(answer) = forward(&config.storage.path, command, out) {
            return answer;
        }
        let own = match config.storage.path.join("store").exists() {
            true => crate::store::open_store(config, "rafid feeds export")
                .map(|s| crate::publish::own_titles(&s))
                .unwrap_or_default(),
            false => Default::default(),
        };
        return out
            .write_all(&crate::publish::opml_with(config, &own, false))
            .and_then(|_| out.flush())
            .map_err(|e| Failure::internal(format!("writing the output: {e}")));
    }
    if let Some(answer) = forward(&config.storage.path, command, out) {
        return answer;
    }
    let store = crate::store::open_store(config, &format!("rafid {}", name(command)))?;
    execute(command, config, &store, out)
}

/// The command's name as typed, for the store's lock message.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Render { .. } => "render",
        Command::Export => "export",
        Command::Store(_) => "store check",
        Command::Feeds(_) => "feeds list",
        Command::Dedup(DedupCommand::Explain { .. }) => "dedup explain",
        Command::Dedup(DedupCommand::Split { .. }) => "dedup split",
        _ => "command",
    }
}

/// Asks the daemon whose store is in `state_dir` who it is; `None` when no
/// daemon answers there.
pub fn who(state_dir: &Path) -> Option<Daemon> {
    let mut out = Vec::new();
    match ask(state_dir, &Request::Who, &mut out) {
        Ok(Some(Ok(()))) => serde_json::from_slice(&out).ok(),
        _ => None,
    }
}

/// For `poll-once` and `import`, which write the store a running daemon
/// owns: a failure naming the daemon when one runs.
pub fn refuse_beside_daemon(config: &Config, what: &str) -> Result<(), Failure> {
    match who(&config.storage.path) {
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

/// Sends `command` to the daemon whose store is in `state_dir`, copying
/// its output to `out`. `None` when no daemon listens there (the caller
/// then opens the store itself).
pub fn forward(
    state_dir: &Path,
    command: &Command,
    out: &mut dyn Write,
) -> Option<Result<(), Failure>> {
    let request = Request::Run(clone_command(command)?);
    match ask(state_dir, &request, out) {
        Ok(answer) => answer,
        Err(e) => Some(Err(Failure::internal(format!(
            "the daemon's control socket {}: {e}",
            socket_path(state_dir).display()
        )))),
    }
}

/// Commands are sent by value; clap's types do not derive `Clone`, so they
/// go through serde, which the socket needs anyway.
fn clone_command(command: &Command) -> Option<Command> {
    serde_json::to_vec(command)
        .ok()
        .and_then(|v| serde_json::from_slice(&v).ok())
}

/// `Ok(None)`: nobody listens. `Ok(Some(answer))`: the daemon's answer.
/// `Err`: a daemon was reached but the conversation broke.
fn ask(
    state_dir: &Path,
    request: &Request,
    out: &mut dyn Write,
) -> io::Result<Option<Result<(), Failure>>> {
    let path = socket_path(state_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        // No socket, or one a dead daemon left behind.
        Err(_) => return Ok(None),
    };
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut error = None;
    loop {
        let mut head = [0u8; 5];
        stream.read_exact(&mut head)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0; len];
        stream.read_exact(&mut body)?;
        match head[0] {
            b'O' => out.write_all(&body)?,
            b'E' => error = Some(String::from_utf8_lossy(&body).into_owned()),
            b'X' => {
                out.flush()?;
                let code = body.first().copied().unwrap_or(2);
                return Ok(Some(if code == 0 {
                    Ok(())
                } else {
                    Err(Failure {
                        code,
                        message: error.unwrap_or_else(|| "the daemon reported a failure".into()),
                    })
                }));
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown frame {other:#x}"),
                ));
            }
        }
    }
}

/// Writes `O` frames: the daemon's side of a client's stdout.
struct Frames<W: Write>(W);

impl<W: Write> Frames<W> {
    fn frame(&mut self, tag: u8, body: &[u8]) -> io::Result<()> {
        let len = u32::try_from(body.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        let mut head = [tag, 0, 0, 0, 0];
        head[1..].copy_from_slice(&len.to_be_bytes());
        self.0.write_all(&head)?;
        self.0.write_all(body)
    }
}

impl<W: Write> Write for Frames<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Frames of at most 1 MiB, so a long export streams.
        let n = buf.len().min(1 << 20);
        self.frame(b'O', &buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The daemon's end of the socket.
pub struct Server {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    /// The HTTP address actually bound (the config may say port 0).
    listen: String,
}

impl Server {
    /// Binds the socket in `state_dir`, owner-only. The caller holds the
    /// store's lock, so a socket file already there was left by a daemon
    /// that died, and is replaced.
    pub fn bind(state_dir: &Path, listen: String) -> io::Result<Server> {
        let path = socket_path(state_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => debug!(path = %path.display(), "removed a stale control socket"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = tokio::net::UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Server {
            listener,
            path,
            listen,
        })
    }

    /// Answers clients until `token` is cancelled, then removes the socket.
    /// `poller` runs `feeds poll` for clients, with the daemon's limits;
    /// `changed` is told when that stored something, or when a command
    /// changed the stories (a split), so the outputs are rendered again.
    pub async fn run(
        self,
        config: Live,
        store: Store,
        poller: crate::ingest::poll::Poller,
        changed: std::sync::Arc<tokio::sync::Notify>,
        token: CancellationToken,
    ) {
        let tasks = tokio_util::task::TaskTracker::new();
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok((stream, _)) => {
                        let (config, store) = (config.clone(), store.clone());
                        let listen = self.listen.clone();
                        let polling = Polling {
                            poller: poller.clone(),
                            changed: changed.clone(),
                            token: token.clone(),
                        };
                        tasks.spawn(async move {
                            if let Err(e) = serve_client(stream, config, store, listen, polling).await {
                                debug!(error = %e, "control client");
                            }
                        });
                    }
                    Err(e) => {
                        warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&self.path);
        tasks.close();
        tasks.wait().await;
    }
}

/// What the daemon polls with for a `feeds poll` client.
struct Polling {
    poller: crate::ingest::poll::Poller,
    changed: std::sync::Arc<tokio::sync::Notify>,
    token: CancellationToken,
}

async fn serve_client(
    stream: tokio::net::UnixStream,
    config: Live,
    store: Store,
    listen: String,
    polling: Polling,
) -> io::Result<()> {
    // Owner-only: the file mode says so, and the peer's uid must agree
    // (root may ask too).
    let me = euid();
    let peer = stream.peer_cred()?.uid();
    if peer != me && peer != 0 {
        warn!(
            peer_uid = peer,
            "control socket: refused a client of another user"
        );
        return Ok(());
    }
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = Vec::new();
    {
        use tokio::io::AsyncReadExt;
        let mut limited = (&mut reader).take(MAX_REQUEST);
        let read = limited.read_until(b'\n', &mut line);
        // A client that connects and says nothing does not hold a task.
        tokio::time::timeout(REQUEST_TIMEOUT, read)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request"))??;
    }
    let stream = reader.into_inner().into_std()?;
    stream.set_nonblocking(false)?;
    let request: Result<Request, _> = serde_json::from_slice(&line);
    let config = config.borrow().clone();
    // `feeds poll` is network work: it runs here, on the runtime, through
    // the daemon's poller (its per-host limits and its schedule).
    let polled = match &request {
        Ok(Request::Run(command @ Command::Feeds(FeedsCommand::Poll { .. }))) => {
            let poller = polling.poller.with_config(config.clone());
            Some(match commands::feeds_to_poll(&config, &store, command) {
                Ok(feeds) => {
                    let reports = commands::poll_now(&poller, feeds, &polling.token).await;
                    if reports
                        .iter()
                        .any(crate::ingest::poll::Report::changed_store)
                    {
                        polling.changed.notify_one();
                    }
                    Ok(reports)
                }
                Err(f) => Err(f),
            })
        }
        _ => None,
    };
    tokio::task::spawn_blocking(move || {
        let mut frames = Frames(io::BufWriter::new(stream));
        let result = match request {
            Ok(Request::Run(_)) if polled.is_some() => match &polled {
                Some(Ok(reports)) => commands::write_poll_lines(reports, &mut frames),
                Some(Err(f)) => Err(Failure {
                    code: f.code,
                    message: f.message.clone(),
                }),
                None => Ok(()),
            },
            Ok(Request::Who) => {
                let d = Daemon {
                    pid: std::process::id(),
                    config: config.path.clone(),
                    listen,
                };
                serde_json::to_vec(&d)
                    .map_err(Failure::internal)
                    .and_then(|v| frames.frame(b'O', &v).map_err(Failure::internal))
            }
            Ok(Request::Run(command)) if reads_store(&command) => {
                let done = execute(&command, &config, &store, &mut frames);
                if done.is_ok() && matches!(command, Command::Dedup(DedupCommand::Split { .. })) {
                    polling.changed.notify_one();
                }
                done
            }
            Ok(Request::Run(command)) => Err(Failure::user(format!(
                "the daemon does not run {command:?} for others"
            ))),
            Err(e) => Err(Failure::user(format!(
                "a request the daemon cannot read: {e}"
            ))),
        };
        let code = match result {
            Ok(()) => 0,
            Err(f) => {
                frames.frame(b'E', f.message.as_bytes())?;
                f.code
            }
        };
        frames.frame(b'X', &[code])?;
        frames.flush()
    })
    .await
    .map_err(io::Error::other)?
}

/// The effective user id of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake daemon: reads the request line, answers with `frames`.
    fn daemon(dir: &Path, frames: Vec<(u8, Vec<u8>)>) -> std::thread::JoinHandle<String> {
        let listener = std::os::unix::net::UnixListener::bind(socket_path(dir)).unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            io::BufRead::read_line(&mut io::BufReader::new(&stream), &mut line).unwrap();
            let mut f = Frames(&stream);
            for (tag, body) in frames {
                f.frame(tag, &body).unwrap();
            }
            line
        })
    }

    #[test]
    fn output_and_exit_code_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let d = daemon(
            dir.path(),
            vec![
                (b'O', b"first ".to_vec()),
                (b'O', "ثانٍ".as_bytes().to_vec()),
                (b'X', vec![0]),
            ],
        );
        let mut out = Vec::new();
        let answer = forward(dir.path(), &Command::Export, &mut out).unwrap();
        assert!(answer.is_ok());
        assert_eq!(String::from_utf8(out).unwrap(), "first ثانٍ");
        assert_eq!(d.join().unwrap(), "{\"Run\":\"Export\"}\n");
    }

    #[test]
    fn a_failure_keeps_its_code_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let d = daemon(
            dir.path(),
            vec![(b'E', b"no feed has the tag".to_vec()), (b'X', vec![1])],
        );
        let mut out = Vec::new();
        let f = forward(dir.path(), &Command::Export, &mut out)
            .unwrap()
            .unwrap_err();
        assert_eq!((f.code, f.message.as_str()), (1, "no feed has the tag"));
        d.join().unwrap();
    }

    #[test]
    fn no_daemon_means_none_and_a_broken_answer_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(forward(dir.path(), &Command::Export, &mut Vec::new()).is_none());
        assert!(who(dir.path()).is_none());
        // The daemon hangs up before the exit code.
        let d = daemon(dir.path(), vec![(b'O', b"half".to_vec())]);
        let r = forward(dir.path(), &Command::Export, &mut Vec::new()).unwrap();
        assert_eq!(r.unwrap_err().code, 2);
        d.join().unwrap();
    }

    #[test]
    fn the_store_readers_are_the_ones_forwarded() {
        assert!(reads_store(&Command::Export));
        assert!(reads_store(&Command::Feeds(FeedsCommand::List)));
        assert!(!reads_store(&Command::PollOnce));
        assert!(!reads_store(&Command::Feeds(FeedsCommand::Export)));
        assert!(reads_store(&Command::Dedup(DedupCommand::Split {
            item: "i".into(),
            member: "m".into()
        })));
    }
}
