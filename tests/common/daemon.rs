//! A daemon for a test: in this process (driven through `rafid::daemon::serve`)
//! or as a `rafid run` child whose log the test reads.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bin::rafid;
use super::logs::{read_log, wait_for_line, wait_for_line_async};

/// A daemon serving on a port of its own, and an HTTP client for it.
pub struct Daemon {
    pub addr: SocketAddr,
    pub token: tokio_util::sync::CancellationToken,
    pub handle: tokio::task::JoinHandle<Result<(), rafid::daemon::DaemonError>>,
    pub client: reqwest::Client,
}

/// Starts the daemon of `cfg` on 127.0.0.1 (any port), with the store at
/// its `storage.path`; it runs until `token` is cancelled.
pub async fn start_daemon(cfg: rafid::config::Config) -> Daemon {
    let store = rafid::store::Store::open(&cfg.storage.path, "test daemon").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(rafid::daemon::serve(
        Arc::new(cfg),
        store,
        listener,
        token.clone(),
        std::future::pending(),
    ));
    let client = http_client();
    Daemon {
        addr,
        token,
        handle,
        client,
    }
}

impl Daemon {
    /// Cancels the daemon; it must stop, without error, in time.
    pub async fn stop(self) {
        self.token.cancel();
        match tokio::time::timeout(STOP_WAIT, self.handle).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the daemon did not stop cleanly: {other:?}"),
        }
    }
}

/// A client for a daemon on 127.0.0.1, whatever proxy the environment sets.
pub fn http_client() -> reqwest::Client {
    rafid::ingest::fetch::install_tls_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// How long a stop may take: the daemon's own grace period and a flush.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// `rafid run` as a child process, its stderr in a file the test reads.
pub struct Running {
    child: Child,
    cfg: PathBuf,
    /// Where the daemon's stderr goes.
    pub log: PathBuf,
    /// The HTTP address it serves on (the config asks for port 0).
    pub addr: SocketAddr,
}

impl Running {
    /// Starts `rafid -c CFG run` and waits until it serves: its store is
    /// open, its control socket bound, its HTTP address logged.
    pub fn start(cfg: &Path) -> Running {
        let dir = cfg.parent().unwrap();
        let log = (0..)
            .map(|n| dir.join(format!("rafid-run-{n}.log")))
            .find(|p| !p.exists())
            .unwrap();
        let child = rafid()
            .arg("-c")
            .arg(cfg)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut running = Running {
            child,
            cfg: cfg.to_path_buf(),
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let start = Instant::now();
        let serving = loop {
            let log = read_log(&running.log);
            if let Some(l) = log.lines().find(|l| l.contains(" serving listen=")) {
                break l.to_string();
            }
            if let Some(status) = running.child.try_wait().unwrap() {
                panic!("rafid run exited with {status:?}:\n{log}");
            }
            assert!(
                start.elapsed() < super::logs::LOG_WAIT,
                "rafid run did not start serving:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        running.addr = serving
            .split_whitespace()
            .find_map(|w| w.strip_prefix("listen="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {serving:?}"));
        running
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What the daemon has logged so far.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// Waits for a log line containing `needle`, after the first `skip`
    /// bytes of the log (`log_text().len()` before the action awaited).
    pub fn wait_for_log(&self, skip: usize, needle: &str) -> String {
        wait_for_line(&self.log, skip, needle)
    }

    pub async fn wait_for_log_async(&self, skip: usize, needle: &str) -> String {
        wait_for_line_async(&self.log, skip, needle).await
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// SIGTERM, and a clean stop: exit 0 in time, the store flushed with no
    /// task left running, and the store opens again (`rafid store check`).
    /// Returns the whole log.
    pub fn stop(mut self) -> String {
        self.signal(libc::SIGTERM);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < STOP_WAIT,
                "rafid run did not stop:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.log_text();
        assert!(status.success(), "{status:?}\n{log}");
        assert!(log.contains("store flushed; stopped"), "{log}");
        assert!(!log.contains("still running"), "{log}");
        let out = rafid()
            .arg("-c")
            .arg(&self.cfg)
            .args(["store", "check"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the store does not reopen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        log
    }
}

impl Drop for Running {
    /// A test that failed half-way leaves no daemon behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
