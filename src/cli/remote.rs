//! The client of the control socket: how commands reach the store a
//! running daemon owns (the daemon's end is `daemon::control`).
//!
//! sled lets one process open a store. While a daemon runs, the commands
//! that read the store (see [`crate::cli::ops`]) and `feeds poll` send their
//! parsed command line to the daemon over a Unix socket in the state
//! directory; the daemon runs the same function against its open store and
//! streams back what it writes, then the exit code. So a command gives the
//! same bytes with or without a daemon, and a new option of a command works
//! through the socket without any code here. With no daemon, the command
//! runs here, on the store opened for it.
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
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cli::failure::Failure;
use crate::cli::ops::execute;
use crate::cli::poll::{feeds_to_poll, poll_now, write_poll_lines};
use crate::cli::{Command, DedupCommand, RenderFormat};
use crate::config::Config;
use crate::ingest::fetch::Fetcher;
use crate::ingest::poll::Poller;
use crate::store::open_store;

/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "control.sock";

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
        let elsewhere = config.storage.backend != crate::config::StorageBackend::Sled;
        let own = match elsewhere || config.storage.path.join("store").exists() {
            true => open_store(config, "rafid feeds export")
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
    let store = open_store(config, &format!("rafid {}", name(command)))?;
    execute(command, config, &store, out)?;
    if reads_only(command) {
        if let Err(e) = store.hand_on_saved() {
            tracing::warn!(error = %e, "what the last poll saved for the next is not kept; the next poll reads the store again");
        }
    }
    Ok(())
}

/// Whether the command leaves the store as it found it, so that what the
/// last clean stop saved still holds after it.
fn reads_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Render { .. }
            | Command::Export
            | Command::Store(crate::cli::StoreCommand::Check)
            | Command::Feeds(crate::cli::FeedsCommand::List)
            | Command::Dedup(DedupCommand::Explain { .. })
    )
}

/// The command's name as typed, for the store's lock message.
fn name(command: &Command) -> &'static str {
    match command {
        Command::Render { .. } => "render",
        Command::Export => "export",
        Command::Store(crate::cli::StoreCommand::Check) => "store check",
        Command::Store(crate::cli::StoreCommand::Migrate { .. }) => "store migrate",
        Command::Feeds(_) => "feeds list",
        Command::Dedup(DedupCommand::Explain { .. }) => "dedup explain",
        Command::Dedup(DedupCommand::Split { .. }) => "dedup split",
        _ => "command",
    }
}

/// `rafid feeds poll`: through the running daemon when there is one, else
/// on the store opened here.
pub fn feeds_poll(
    config: &Config,
    command: &crate::cli::Command,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if let Some(answer) = forward(&config.storage.path, command, out) {
        return answer;
    }
    let store = open_store(config, "rafid feeds poll")?;
    let feeds = feeds_to_poll(config, &store, command)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(format!("cannot start the runtime: {e}")))?;
    let reports = runtime.block_on(async {
        let fetcher = Arc::new(Fetcher::new(&config.poll).map_err(Failure::internal)?);
        let poller = Poller::new(Arc::new(config.clone()), store.clone(), fetcher);
        Ok::<_, Failure>(poll_now(&poller, feeds, &CancellationToken::new()).await)
    })?;
    store.flush()?;
    write_poll_lines(&reports, out)
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

/// Writes frames: the daemon's side of a conversation (its `O` frames carry
/// what the command writes to a client's stdout).
pub struct Frames<W: Write>(pub W);

impl<W: Write> Frames<W> {
    pub fn frame(&mut self, tag: u8, body: &[u8]) -> io::Result<()> {
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
        use crate::cli::FeedsCommand;
        use crate::cli::ops::reads_store;
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
