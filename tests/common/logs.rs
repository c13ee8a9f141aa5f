//! Reading what rafid logged: a `rafid run` child's stderr file, or an
//! in-process subscriber's buffer.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a log line may take to appear on a busy machine.
pub const LOG_WAIT: Duration = Duration::from_secs(20);

/// The log file as far as it is written (empty if it is not there yet).
pub fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The first line of `log` containing `needle`.
pub fn line_with<'a>(log: &'a str, needle: &str) -> Option<&'a str> {
    log.lines().find(|l| l.contains(needle))
}

/// Waits (blocking) until the log file has a line containing `needle`
/// after its first `skip` bytes, and returns that line; panics with the
/// whole log after [`LOG_WAIT`].
pub fn wait_for_line(path: &Path, skip: usize, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let log = read_log(path);
        if let Some(l) = log.get(skip..).and_then(|tail| line_with(tail, needle)) {
            return l.to_string();
        }
        assert!(
            start.elapsed() < LOG_WAIT,
            "no log line with {needle:?} after {LOG_WAIT:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`wait_for_line`] for async tests: sleeps on the runtime's clock.
pub async fn wait_for_line_async(path: &Path, skip: usize, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let log = read_log(path);
        if let Some(l) = log.get(skip..).and_then(|tail| line_with(tail, needle)) {
            return l.to_string();
        }
        assert!(
            start.elapsed() < LOG_WAIT,
            "no log line with {needle:?} after {LOG_WAIT:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything an in-process subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Sends every event of the process, debug and up, here. Global: only
    /// for a test binary with a single test.
    pub fn install_global() -> Captured {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        )
        .unwrap();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
