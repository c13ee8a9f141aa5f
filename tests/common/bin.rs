//! The `rafid` binary as scripts run it: one command builder that leaves
//! nothing of the test runner's environment for rafid to pick up.

use std::path::Path;
use std::process::Command;

/// `rafid` with no config path, state directory, systemd socket or journal
/// stream inherited: a test sets what it means to test.
pub fn rafid() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rafid"));
    c.env_remove("RAFID_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM");
    c
}

/// `rafid -c CFG ARGS...`: exit code, stdout and stderr.
pub fn run(cfg: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = rafid().arg("-c").arg(cfg).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rafid -c CFG ARGS...`, which must succeed; its stdout.
pub fn run_ok(cfg: &Path, args: &[&str]) -> Vec<u8> {
    let out = rafid().arg("-c").arg(cfg).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rafid {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
