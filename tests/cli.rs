//! The binary as users and scripts meet it: exit codes, messages, and the
//! store's single owner.

mod common;

use common::rss::{Feed, Item};
use common::{Running, rafid, run_ok};

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

    // Unknown keys do not hide the other errors; each error says how to fix it.
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"192.0.2.1:8080\"\nlistn = \"x\"\n[[feed]]\nurl = \"https://a.example/f\"\n\
         [[feed]]\nurl = \"https://A.example/f\"\nintervall = \"1h\"\n",
    )
    .unwrap();
    let out = rafid().arg("-c").arg(&cfg).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.toml:2:10: server.listen: this machine has no address 192.0.2.1",
        "bad.toml:3:1: unknown key `listn`",
        "    hint: did you mean `listen`?",
        "bad.toml:7:7: feed[1].url: the same feed as feed[0]",
        "    hint: remove one of them",
        "bad.toml:8:1: unknown key `intervall`",
        "    hint: did you mean `interval`?",
        "bad.toml: 4 errors",
    ] {
        assert!(err.contains(expected), "{expected:?} not in\n{err}");
    }
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

/// A config in `dir` of two of the standard feeds (the first tagged "ar"),
/// polled once; the server must outlive the test's polls.
fn polled_once(dir: &std::path::Path) -> (common::FeedServer, std::path::PathBuf) {
    let server = common::FeedServer::start_in_thread();
    let urls = common::serve_standard(&server);
    let feeds: Vec<(&str, &[&str])> = vec![(urls[0].as_str(), &["ar"]), (urls[1].as_str(), &[])];
    let cfg = common::write_config(dir, &feeds, "");
    run_ok(&cfg, &["poll-once"]);
    (server, cfg)
}

#[test]
fn commands_beside_a_daemon_go_through_its_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, cfg) = polled_once(dir.path());
    let daemon = Running::start(&cfg);
    let pid = daemon.pid();

    // Owner-only socket.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("data/control.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // The readers answer through the daemon.
    let beside: Vec<Vec<u8>> = [
        &["render"][..],
        &["render", "--format", "json", "--tag", "ar"],
        &["export"],
        &["store", "check"],
    ]
    .iter()
    .map(|a| run_ok(&cfg, a))
    .collect();
    assert!(String::from_utf8_lossy(&beside[0]).contains("<feed"));
    let list = String::from_utf8(run_ok(&cfg, &["feeds", "list"])).unwrap();
    assert!(list.contains("failures in a row: 0"), "{list}");

    // A user error from the daemon keeps its exit code and message.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["render", "--tag", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));

    // Writers refuse, naming the daemon.
    for args in [&["poll-once"][..], &["import", "-"]] {
        let out = rafid().arg("-c").arg(&cfg).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("pid {pid}")), "{err}");
        assert!(err.contains("stop it first"), "{err}");
    }

    // Without its socket, a reader meets the store's lock, which names the
    // daemon too.
    std::fs::rename(
        dir.path().join("data/control.sock"),
        dir.path().join("data/moved.sock"),
    )
    .unwrap();
    let out = rafid().arg("-c").arg(&cfg).arg("render").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by `rafid run`"), "{err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");

    daemon.stop();
    // Stopped: the socket the daemon made is gone (only the moved one stays)
    // and the same commands, run on the store directly, print the same bytes.
    assert!(!dir.path().join("data/control.sock").exists());
    std::fs::remove_file(dir.path().join("data/moved.sock")).unwrap();
    let alone: Vec<Vec<u8>> = [
        &["render"][..],
        &["render", "--format", "json", "--tag", "ar"],
        &["export"],
        &["store", "check"],
    ]
    .iter()
    .map(|a| run_ok(&cfg, a))
    .collect();
    for (a, b) in beside.iter().zip(&alone) {
        assert_eq!(String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    }
}

#[test]
fn commands_that_only_read_keep_what_the_last_poll_saved_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, cfg) = polled_once(dir.path());
    // Saved at the poll's end, read back (and removed) by each open: a
    // command that wrote nothing saves it again for the next poll.
    let filter = dir.path().join("data/keys.filter");
    assert!(filter.exists(), "poll-once saves the key filter");
    for args in [
        &["render"][..],
        &["export"],
        &["store", "check"],
        &["feeds", "list"],
    ] {
        run_ok(&cfg, args);
        assert!(filter.exists(), "after {args:?}");
    }
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
    // Issue 16: each failure is printed once, in the summary, not also
    // as a warning before it.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(all.matches("/missing.xml").count(), 1, "{all}");
    assert!(
        all.contains(&format!("failed: {missing}: HTTP 404")),
        "{all}"
    );
    // Issue 16: the subscription list names an untitled feed by the title
    // its polls found, not by its URL.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["feeds", "export"])
        .output()
        .unwrap();
    let opml = String::from_utf8_lossy(&out.stdout);
    assert!(
        opml.contains(&format!(
            "text=\"صحيفة الرافدين\" title=\"صحيفة الرافدين\" xmlUrl=\"{}\"",
            urls[0]
        )),
        "{opml}"
    );
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

fn rss(title: &str, items: &[(&str, &str, &str, &str)]) -> String {
    let when = chrono::Utc::now();
    Feed::new(title)
        .link(&format!("https://{title}.example/"))
        .items(
            items
                .iter()
                .map(|(guid, link, t, body)| Item::new(guid, t, link).body(body).date(when)),
        )
        .rss()
}

#[test]
fn a_wrong_merge_is_explained_and_split_beside_a_daemon_for_good() {
    let server = common::FeedServer::start_in_thread();
    let story = "https://legit.example/story/1";
    let legit_item = (
        "l1",
        story,
        "الطائرة الرابعة تصل عدن",
        "عشرة أطنان من المستلزمات الطبية",
    );
    let x_item = (
        "x1",
        "https://legit.example/story/1?utm_source=x",
        "الطائرة السادسة تصل عدن",
        "أحد عشر طنا من المواد الغذائية",
    );
    server.put(
        "/legit.xml",
        rss("legit", &[legit_item]),
        "application/rss+xml",
    );
    server.put("/x.xml", rss("x", &[x_item]), "application/rss+xml");
    let (legit, x) = (server.url("/legit.xml"), server.url("/x.xml"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::write_config(dir.path(), &[(legit.as_str(), &[]), (x.as_str(), &[])], "");
    run_ok(&cfg, &["poll-once"]);

    let daemon = Running::start(&cfg);
    let text = String::from_utf8(run_ok(&cfg, &["dedup", "explain", story])).unwrap();
    assert!(text.contains(&legit) && text.contains(&x), "{text}");
    assert!(text.contains("joined: by link"), "{text}");
    assert!(text.contains("[shown]"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&run_ok(&cfg, &["dedup", "explain", "--json", story])).unwrap();
    assert_eq!(json["members"].as_array().unwrap().len(), 2, "{json}");
    let id = json["item"].as_str().unwrap().to_string();

    let said = String::from_utf8(run_ok(&cfg, &["dedup", "split", &id, &x])).unwrap();
    assert!(said.contains("split off"), "{said}");
    let after = String::from_utf8(run_ok(&cfg, &["dedup", "explain", &id])).unwrap();
    assert!(!after.contains(&format!(". {x}")), "{after}");
    assert!(after.contains("split off for good:"), "{after}");
    run_ok(&cfg, &["store", "check"]);
    daemon.stop();

    // Polled again after a restart, the feed changed: still apart.
    let newer = ("x2", "https://x.example/n/2", "خبر آخر", "نص آخر");
    server.put("/x.xml", rss("x", &[x_item, newer]), "application/rss+xml");
    run_ok(&cfg, &["poll-once"]);
    let json: serde_json::Value =
        serde_json::from_slice(&run_ok(&cfg, &["dedup", "explain", "--json", &id])).unwrap();
    assert_eq!(json["members"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["split_off"][0]["feed_url"], x.as_str());
    run_ok(&cfg, &["store", "check"]);

    // Without a daemon too; a second split has nothing to take.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["dedup", "split", &id, &x])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no member"));
}

#[test]
fn commands_that_do_not_serve_run_without_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rafid.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nadmin_token = \"env:RAFID_TEST_TOKEN_NOT_SET\"\n[storage]\npath = {:?}\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    for args in [&["export"][..], &["store", "check"], &["render"]] {
        let out = rafid()
            .arg("-c")
            .arg(&cfg)
            .args(args)
            .env_remove("RAFID_TEST_TOKEN_NOT_SET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The daemon still needs it.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .arg("run")
        .env_remove("RAFID_TEST_TOKEN_NOT_SET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.admin_token"), "{err}");
}

/// `rafid init` writes a commented starter config that `check`
/// accepts, where `-c` would look, and never over an existing file.
#[test]
fn init_writes_a_starter_config_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = rafid()
        .current_dir(dir.path())
        .arg("init")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = dir.path().join("config/rafid.toml");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.starts_with("# rafid's config"), "{text}");
    let out = rafid()
        .current_dir(dir.path())
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(&written, "# mine\n").unwrap();
    let out = rafid()
        .current_dir(dir.path())
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "# mine\n");

    // PATH, else $RAFID_CONFIG.
    let there = dir.path().join("elsewhere/r.toml");
    let out = rafid()
        .env("RAFID_CONFIG", &there)
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(there.exists());
    let given = dir.path().join("given.toml");
    assert!(
        rafid()
            .arg("init")
            .arg(&given)
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(given.exists());
}
