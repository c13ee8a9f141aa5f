//! The binary as users and scripts meet it: exit codes, messages, and the
//! store's single owner.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rafid() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rafid"));
    c.env_remove("RAFID_CONFIG").env_remove("STATE_DIRECTORY");
    c
}

#[test]
fn check_reports_every_error_with_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[poll]\ninterval = \"often\"\n\n[[feed]]\nurl = \"https://a.example/f\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let out = rafid().arg("-c").arg(&cfg).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:1: "), "{err}");
    assert!(err.contains("colour"), "{err}");

    std::fs::write(&cfg, "[poll]\ninterval = \"often\"\nmax_body = \"huge\"\n").unwrap();
    let out = rafid().arg("-c").arg(&cfg).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:2:12: poll.interval"), "{err}");
    assert!(err.contains("bad.toml:3:12: poll.max_body"), "{err}");
    assert!(
        err.contains("interval = \"often\"\n               ^"),
        "{err}"
    );
}

#[test]
fn shipped_config_checks_clean() {
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rafid.toml");
    let out = rafid().arg("-c").arg(&cfg).arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_second_process_names_the_daemon_holding_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::write_config(dir.path(), &[], "");
    let mut daemon = rafid()
        .arg("-c")
        .arg(&cfg)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = dir.path().join("data/rafid.pid");
    let start = Instant::now();
    while !pid_file.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pid_file.exists(), "the daemon opened its store");

    let out = rafid().arg("-c").arg(&cfg).arg("render").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by `rafid run`"), "{err}");
    assert!(err.contains(&format!("pid {}", daemon.id())), "{err}");

    // SIGTERM: the daemon flushes and exits 0 within a few seconds.
    let pid = daemon.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // The store is free again.
    let out = rafid().arg("-c").arg(&cfg).arg("render").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_config_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = rafid()
        .current_dir(dir.path())
        .arg("-c")
        .arg(dir.path().join("nope.toml"))
        .arg("poll-once")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn feeds_list_shows_each_feeds_health() {
    let server = common::FeedServer::start_in_thread();
    let urls = common::serve_standard(&server);
    let missing = server.url("/missing.xml");
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = vec![(urls[0].as_str(), &[]), (missing.as_str(), &[])];
    let cfg = common::write_config(dir.path(), &feeds, "");
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .arg("poll-once")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["feeds", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let blocks: Vec<&str> = text.split("\nhttp").collect();
    assert_eq!(blocks.len(), 2, "{text}");
    assert!(blocks[0].contains("صحيفة الرافدين"), "{text}");
    assert!(blocks[0].contains("failures in a row: 0"), "{text}");
    assert!(blocks[0].contains("items: 3"), "{text}");
    assert!(
        blocks[1].contains("last error:   ") && blocks[1].contains("HTTP 404"),
        "{text}"
    );
    assert!(blocks[1].contains("failures in a row: 1"), "{text}");
    assert!(blocks[1].contains("next poll:"), "{text}");
}
