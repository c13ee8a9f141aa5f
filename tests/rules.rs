//! Keep/drop rules end to end: feed rules decide what is stored (and what
//! they dropped stays out until the rule goes), river rules what a named
//! river shows, over HTTP and from `rafid render --river`; `rafid rules
//! test` reports per item.

mod common;

use std::path::Path;

use std::sync::Arc;

use common::{FeedServer, fixture_path, fixture_text, rafid};
use rafid::cli::poll::poll_once;
use rafid::config::{self, Config};
use rafid::publish::{Cursor, Format, Scope, render_from_store, render_page_from_store};
use rafid::store::Store;

const OTHER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>أخرى</title><link>https://other.example/</link>
<item><title>النفط يهبط في الأسواق الآسيوية</title><link>https://other.example/1</link>
<guid isPermaLink="false">other-1</guid><pubDate>Tue, 05 Mar 2024 06:00:00 +0300</pubDate></item>
</channel></rss>"#;

fn write_config(dir: &Path, server: &FeedServer, feed_drop: &str) -> Config {
    let text = format!(
        r#"[storage]
path = {data:?}
[server]
listen = "127.0.0.1:0"
base_url = "http://rafid.test/"

[[feed]]
url = "{news}"
tags = ["news"]
drop = {feed_drop}

[[feed]]
url = "{other}"
tags = ["misc"]

[[river]]
name = "economy"
tags = ["news"]
keep = {{ any = ["اقتصاد", "النفط", "regex:(?i)\\boil\\b"] }}
lang = ["ar"]

[[river]]
name = "everything"
drop = {{ link = ["en"] }}
"#,
        data = dir.join("data").display().to_string(),
        news = server.url("/news.xml"),
        other = server.url("/other.xml"),
    );
    let path = dir.join("rafid.toml");
    std::fs::write(&path, text).unwrap();
    config::load(&path).unwrap()
}

fn titles(cfg: &Config, scope: Scope) -> Vec<String> {
    let store = Store::open(&cfg.storage.path, "test render").unwrap();
    let r = render_from_store(&store, cfg, &scope, Format::Json, 100).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The titles of `scope` read one item a page, following each page's
/// `next_url` cursor.
fn paged_titles(cfg: &Config, scope: Scope) -> Vec<String> {
    let store = Store::open(&cfg.storage.path, "test render").unwrap();
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let r = render_page_from_store(&store, cfg, &scope, Format::Json, 1, before).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        for i in v["items"].as_array().unwrap() {
            out.push(i["title"].as_str().unwrap_or("").to_string());
        }
        match v["next_url"].as_str() {
            None => return out,
            Some(next) => {
                let c = next.split("?before=").nth(1).unwrap();
                before = Some(Cursor::parse(c).unwrap());
            }
        }
        assert!(out.len() < 100, "paging does not end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_rules_decide_what_is_stored_and_river_rules_what_rivers_show() {
    let server = FeedServer::start().await;
    server.put(
        "/news.xml",
        fixture_text("rules_news.xml"),
        "application/rss+xml",
    );
    server.put("/other.xml", OTHER, "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    let both = r#"{ title = ["إعلان"], category = ["sport"] }"#;
    let cfg = write_config(dir.path(), &server, both);

    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.dropped, 2, "{summary:?}");
    let all = titles(&cfg, Scope::All);
    assert_eq!(
        all,
        [
            "ارتفاع أسعار النفط بعد قرار خفض الإنتاج",
            "تقرير: الاقتصادُ المحلي ينمو للربع الثالث",
            "مهرجان الفيلم يفتتح دورته الجديدة",
            "Oil output cut lifts prices",
            "النفط يهبط في الأسواق الآسيوية",
        ]
    );
    // Drawn from the news feed only, Arabic only, kept by a word.
    assert_eq!(
        titles(&cfg, Scope::River("economy".into())),
        [
            "ارتفاع أسعار النفط بعد قرار خفض الإنتاج",
            "تقرير: الاقتصادُ المحلي ينمو للربع الثالث",
        ]
    );
    // A river is paged like any feed: one item a page, then no next page.
    assert_eq!(
        paged_titles(&cfg, Scope::River("everything".into())),
        titles(&cfg, Scope::River("everything".into()))
    );
    // No tags: every feed; the drop rule on the link removes the English item.
    assert_eq!(titles(&cfg, Scope::River("everything".into())).len(), 4);
    {
        let store = Store::open(&cfg.storage.path, "test").unwrap();
        let dropped = store.dropped_of_feed(&server.url("/news.xml")).unwrap();
        let mut rules: Vec<&str> = dropped.iter().map(|(_, d)| d.rule.as_str()).collect();
        rules.sort();
        assert_eq!(rules, ["drop.category \"sport\"", "drop.title \"إعلان\""]);
        assert!(store.check().unwrap().is_empty());
        // The memory of what was dropped is part of a backup.
        let mut exported = Vec::new();
        store.export(&mut exported).unwrap();
        let text = String::from_utf8(exported.clone()).unwrap();
        assert_eq!(text.matches("\"kind\":\"dropped\"").count(), 2, "{text}");
        let copy = dir.path().join("copy");
        let restored = Store::open(&copy, "test import").unwrap();
        restored.import(exported.as_slice()).unwrap();
        let mut again = Vec::new();
        restored.export(&mut again).unwrap();
        assert_eq!(again, exported);
        assert_eq!(
            restored
                .dropped_of_feed(&server.url("/news.xml"))
                .unwrap()
                .len(),
            2
        );
    }

    // The source edits the advertisement so that the rule no longer
    // matches: it stays out while the rule is there.
    let edited = fixture_text("rules_news.xml").replace("إعلانٌ: تخفيضات", "تخفيضات");
    server.put("/news.xml", edited, "application/rss+xml");
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.dropped, 2, "{summary:?}");
    assert_eq!(titles(&cfg, Scope::All).len(), 5);

    // The title rule goes: the next poll takes the item in, although the
    // document has not changed since the last poll.
    let cfg = write_config(dir.path(), &server, r#"{ category = ["sport"] }"#);
    let before = server.seen_for("/news.xml").len();
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.dropped, 1, "{summary:?}");
    let seen = server.seen_for("/news.xml");
    assert_eq!(seen.len(), before + 1);
    assert_eq!(
        seen.last().unwrap().if_none_match,
        None,
        "changed rules fetch in full"
    );
    let all = titles(&cfg, Scope::All);
    assert_eq!(all.len(), 6);
    assert!(all.contains(&"تخفيضات الشتاء في متجر الواحة".to_string()));
    // Unchanged rules: the poll after is conditional again.
    poll_once(cfg.clone()).await.unwrap();
    assert!(
        server
            .seen_for("/news.xml")
            .last()
            .unwrap()
            .if_none_match
            .is_some()
    );

    // `rules test` on a configured feed's URL applies that feed's rules.
    let report = rafid::cli::commands::rules_test(&cfg, &server.url("/news.xml"), None)
        .await
        .unwrap();
    assert!(
        report.contains("dropped: drop.category \"sport\""),
        "{report}"
    );
    assert!(report.contains("river economy:"), "{report}");
    assert!(
        report.contains("river everything:") && report.contains("not shown: drop.link \"en\""),
        "{report}"
    );
    let missing = rafid::cli::commands::rules_test(&cfg, &server.url("/missing.xml"), None).await;
    assert_eq!(missing.unwrap_err().code, 1);

    // The river over HTTP, and 404 for a river that does not exist.
    let store = Store::open(&cfg.storage.path, "test daemon").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(rafid::daemon::serve(
        Arc::new(cfg.clone()),
        store,
        listener,
        token.clone(),
        std::future::pending(),
    ));
    rafid::ingest::fetch::install_tls_provider();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client
        .get(format!("http://{addr}/rivers/economy.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("etag").is_some());
    let body = resp.text().await.unwrap();
    let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 2);
    assert!(
        body.contains("http://rafid.test/rivers/economy.atom"),
        "{body}"
    );
    for path in [
        "/rivers/nosuch.atom",
        "/rivers/economy.xml",
        "/rivers/economy",
    ] {
        let resp = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    token.cancel();
    handle.await.unwrap().unwrap();
}

#[test]
fn rules_test_shows_what_each_rule_does_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rafid.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[storage]
path = {:?}
[[feed]]
url = "https://waha.example/feed.xml"
tags = ["news"]
drop = {{ title = ["إعلان"], category = ["sport"] }}
[[river]]
name = "economy"
keep = {{ any = ["اقتصاد", "النفط", "أسعار*"] }}
lang = ["ar"]
"#,
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let fixture = fixture_path("rules_news.xml");
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["rules", "test"])
        .arg(&fixture)
        .args(["--feed", "https://waha.example/feed.xml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expect = [
        ": 6 items (نشرة الواحة)",
        "1. إعلانٌ: تخفيضات الشتاء في متجر الواحة",
        "   feed https://waha.example/feed.xml: dropped: drop.title \"إعلان\"",
        "   river economy:                      not shown: no keep rule matched",
        "3. المنتخب يفوز في المباراة الودية",
        "   feed https://waha.example/feed.xml: dropped: drop.category \"sport\"",
        "   river economy:                      shown: keep.any \"النفط\"",
        "   river economy:                      not shown: language en is not one of ar",
        "   feed https://waha.example/feed.xml: drop.title \"إعلان\": drops 1 item\n",
        "   river economy:                      keep.any \"اقتصاد\": keeps 1 item\n",
        // Every matching rule counts the item, not only the first (issue 16).
        "   river economy:                      keep.any \"النفط\": keeps 1 item\n",
        "   river economy:                      keep.any \"أسعار*\": keeps 1 item\n",
        "   river economy:                      lang: ar",
    ];
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in\n{text}");
    }

    // Bad input: a user error naming the file.
    let bad = dir.path().join("not-a-feed.xml");
    std::fs::write(&bad, "hello").unwrap();
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["rules", "test"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-feed.xml"));
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["rules", "test", "/nonexistent/feed.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // `render --river` names the rivers there are when the name is wrong.
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["render", "--river", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rivers: economy"));
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["render", "--river", "economy", "--tag", "news"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses both");
    let out = rafid()
        .arg("-c")
        .arg(&cfg)
        .args(["render", "--river", "economy", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["items"].as_array().unwrap().is_empty());
}
