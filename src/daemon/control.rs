//! The daemon's end of the control socket: it answers the commands that
//! read its store, and `feeds poll`, for clients on this machine (the
//! client, the protocol and the reasons are in [`crate::cli::remote`]).
//! It runs the command line's own operations ([`crate::cli::ops`],
//! [`crate::cli::poll`]) against the store it holds open.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cli::failure::Failure;
use crate::cli::ops::{execute, reads_store};
use crate::cli::poll::{feeds_to_poll, poll_now, write_poll_lines};
use crate::cli::remote::{Daemon, Frames, Request, socket_path};
use crate::cli::{Command, DedupCommand, FeedsCommand};
use crate::config::Live;
use crate::store::Store;

/// How long the daemon waits for a client's request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest request the daemon reads.
const MAX_REQUEST: u64 = 1 << 20;

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
        // A client that connects and says nothing does not hold a task,
        // nor the daemon's stop.
        tokio::select! {
            r = tokio::time::timeout(REQUEST_TIMEOUT, read) => {
                r.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request"))??;
            }
            _ = polling.token.cancelled() => return Ok(()),
        }
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
            Some(match feeds_to_poll(&config, &store, command) {
                Ok(feeds) => {
                    let reports = poll_now(&poller, feeds, &polling.token).await;
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
                Some(Ok(reports)) => write_poll_lines(reports, &mut frames),
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
