//! `rafid feeds poll`: polls now and prints the result per feed, on the
//! store directly or through a running daemon's control socket.

mod common;

use common::{FeedServer, run, start_daemon, write_config};

#[test]
fn feeds_poll_without_a_daemon_polls_the_feeds_named() {
    let server = FeedServer::start_in_thread();
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    let (good, bad) = (server.url("/rss.xml"), server.url("/missing.xml"));
    // A port nobody listens on any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/feed.xml", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &[(&good, &[]), (&bad, &[]), (&closed, &[])], "");

    let (code, out, err) = run(&cfg, &["feeds", "poll", "--all"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Issue 16: the URL is said once, not again inside reqwest's message.
    assert!(
        lines[2].starts_with(&format!("{closed}: failed: cannot connect")),
        "{out}"
    );
    assert_eq!(lines[2].matches(closed.as_str()).count(), 1, "{out}");
    assert!(lines[0].starts_with(&format!("{good}: ")), "{out}");
    assert!(lines[0].contains(" new,"), "{out}");
    assert!(lines[1].starts_with(&format!("{bad}: failed: ")), "{out}");
    assert!(lines[1].contains("404"), "{out}");
    // The URL is said once, not again inside the error.
    assert_eq!(lines[1].matches(bad.as_str()).count(), 1, "{out}");

    // Only the failing feed, and the good one by its URL as the config has it.
    let (code, out, _) = run(&cfg, &["feeds", "poll", "--failing"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with(&format!("{bad}: failed")), "{out}");
    let (code, out, _) = run(&cfg, &["feeds", "poll", &good]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(&format!("{good}: ")), "{out}");
    assert_eq!(server.seen_for("/rss.xml").len(), 2);

    let (code, _, err) = run(&cfg, &["feeds", "poll", "https://nowhere.example/f"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("https://nowhere.example/f: no such [[feed]]"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_poll_beside_a_daemon_goes_through_it() {
    let server = FeedServer::start().await;
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    // A feed the daemon would first poll well after the test is done.
    let now = chrono::Utc::now();
    let (path, cfg) = (0..)
        .map(|n| {
            let url = server.url(&format!("/rss.xml?n={n}"));
            let path = write_config(dir.path(), &[(url.as_str(), &[][..])], "");
            let cfg = rafid::config::load(&path).unwrap();
            (path, cfg)
        })
        .find(|(_, cfg)| {
            let due = rafid::ingest::schedule::next_due(cfg, &cfg.feeds[0], None, now);
            due - now > chrono::Duration::seconds(40)
        })
        .unwrap();
    let url = cfg.feeds[0].url.to_string();
    let socket = rafid::cli::remote::socket_path(&cfg.storage.path);
    let daemon = start_daemon(cfg).await;
    while !socket.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let p = path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run(&p, &["feeds", "poll", "--all"]))
            .await
            .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    // Named as everywhere rafid shows a feed: query values redacted.
    let shown = rafid::config::redact_str(&url);
    assert!(out.starts_with(&format!("{shown}: ")), "{out}");
    assert!(out.contains(" new,"), "{out}");
    assert_eq!(server.seen_for("/rss.xml").len(), 1);
    // The daemon's store has the items: `render` asks the same daemon.
    let p = path.clone();
    let (code, atom, _) = tokio::task::spawn_blocking(move || run(&p, &["render"]))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(atom.contains("<entry"), "{atom}");
    daemon.stop().await;
}

/// Issue 16: when every host fails to connect, `/status` says the network
/// is down and that the feeds are retried together; no feed counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_when_there_is_no_network() {
    let port = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let urls = [
        format!("http://127.0.0.1:{}/feed.xml", port()),
        format!("http://localhost:{}/feed.xml", port()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &[(urls[0].as_str(), &[]), (urls[1].as_str(), &[])],
        "",
    );
    let cfg = rafid::config::load(&path).unwrap();
    let socket = rafid::cli::remote::socket_path(&cfg.storage.path);
    let daemon = start_daemon(cfg).await;
    while !socket.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let p = path.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run(&p, &["feeds", "poll", "--all"]))
            .await
            .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no network"), "{out}");
    let status = daemon
        .client
        .get(format!("http://{}/status", daemon.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(v["network"]["since"].is_string(), "{status}");
    assert!(v["network"]["retry_at"].is_string(), "{status}");
    for f in v["feeds"].as_array().unwrap() {
        assert_eq!(f["consecutive_failures"], 0, "{status}");
        assert!(
            f["next_poll_reason"]
                .as_str()
                .unwrap()
                .starts_with("no network"),
            "{status}"
        );
    }
    daemon.stop().await;
}
