//! Secrets in feed URLs (every query value, the user info) never reach what
//! rafid shows to others: the outputs' source links, /opml (unless the
//! admin token is given), /status, /metrics and the logs.

mod common;

use std::sync::Arc;

use common::logs::Captured;
use common::rss::{Feed, Item};

use rafid::publish::{Format, Scope};
use tokio_util::sync::CancellationToken;

/// Query names no fixed list of secret names had.
const NAMES: [&str; 7] = ["client_secret", "pwd", "jwt", "code", "hash", "k", "x-auth"];
const TOKEN: &str = "an-admin-token-of-some-length";

fn rss(i: usize) -> String {
    Feed::new(&format!("Feed {i}"))
        .item(Item::new(
            &format!("item-{i}"),
            &format!("خبر رقم {i}"),
            &format!("https://news{i}.example/story"),
        ))
        .rss()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_feed_urls_are_never_shown() {
    // The only test in this file: its subscriber may be the global one.
    let logs = Captured::install_global();

    let server = common::FeedServer::start().await;
    let mut urls = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        server.put(&format!("/f{i}"), rss(i), "application/rss+xml");
        urls.push(server.url(&format!("/f{i}?{name}=s3cr3t-{name}&page=1")));
    }
    server.put("/userinfo", rss(7), "application/rss+xml");
    urls.push(format!("http://me:s3cr3t-pass@{}/userinfo", server.addr));
    // A feed that cannot be reached: the connection error names the URL.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!(
        "http://{}/dead?jwt=s3cr3t-dead",
        closed.local_addr().unwrap()
    );
    drop(closed);
    urls.push(dead);

    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &[][..])).collect();
    // `extra` lands in the [server] table write_config starts.
    let path = common::write_config(dir.path(), &feeds, &format!("admin_token = {TOKEN:?}\n"));
    let text = std::fs::read_to_string(&path).unwrap();
    let config = Arc::new(rafid::config::parse(&path, &text).unwrap());
    let store = rafid::store::Store::open(&config.storage.path, "test").unwrap();
    let fetcher = Arc::new(rafid::ingest::fetch::Fetcher::new(&config.poll).unwrap());
    let poller = rafid::ingest::poll::Poller::new(config.clone(), store.clone(), fetcher);
    let token = CancellationToken::new();
    for feed in &config.feeds {
        poller.poll(feed, &token).await;
    }

    let mut shown: Vec<(String, String)> = Vec::new();
    for format in Format::ALL {
        let r =
            rafid::publish::render_from_store(&store, &config, &Scope::All, format, 100).unwrap();
        let body = String::from_utf8(r.body.to_vec()).unwrap();
        assert!(body.contains("خبر رقم 3"), "{format:?}: {body}");
        shown.push((format!("{format:?}"), body));
    }
    // The source links name the query, not its values.
    assert!(
        shown[0].1.contains("/f5?k=redacted&amp;page=redacted"),
        "{}",
        shown[0].1
    );

    let (_live_tx, live) = tokio::sync::watch::channel(config.clone());
    let state = rafid::server::AppState {
        config: live,
        store: rafid::server::StoreSlot::ready(store.clone()),
        outputs: Arc::new(rafid::publish::Outputs::default()),
        schedule: Arc::default(),
        counters: poller.counters.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(rafid::server::run(listener, state, token.clone()));
    let client = reqwest::Client::new();
    let get = |path: &'static str, auth: bool| {
        let mut req = client.get(format!("http://{addr}{path}"));
        if auth {
            req = req.bearer_auth(TOKEN);
        }
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            resp.text().await.unwrap()
        }
    };
    shown.push(("/opml".into(), get("/opml", false).await));
    shown.push(("/status".into(), get("/status", true).await));
    shown.push(("/metrics".into(), get("/metrics", true).await));
    // With the admin token, /opml carries the URLs as configured.
    let opml = get("/opml", true).await;
    for name in NAMES {
        assert!(opml.contains(&format!("{name}=s3cr3t-{name}")), "{opml}");
    }
    token.cancel();

    let logged = logs.text();
    assert!(logged.contains("/dead?jwt=redacted"), "{logged}");
    shown.push(("logs".into(), logged));
    for (what, text) in &shown {
        assert!(!text.contains("s3cr3t"), "a secret in {what}:\n{text}");
    }
}
