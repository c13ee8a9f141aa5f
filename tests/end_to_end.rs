//! The whole pipeline against local feed servers: poll, deduplicate, store,
//! republish, restart.

mod common;

use std::time::Duration;

use common::{
    Daemon, FeedServer, STANDARD_UNIQUE_ITEMS, serve_standard, start_daemon, write_config,
};
use rafid::cli::poll::poll_once;
use rafid::config::{self, Config};
use rafid::publish::{Format, Scope, render_from_store};
use rafid::store::Store;

fn load(path: &std::path::Path) -> Config {
    config::load(path).unwrap()
}

fn render(cfg: &Config, scope: Scope, format: Format) -> Vec<u8> {
    let store = Store::open(&cfg.storage.path, "test render").unwrap();
    render_from_store(&store, cfg, &scope, format, 1000)
        .unwrap()
        .body
        .to_vec()
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_dedup_store_and_republish() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = vec![
        (urls[0].as_str(), &["ar", "news"][..]),
        (urls[1].as_str(), &["en"][..]),
        (urls[2].as_str(), &["ar"][..]),
        (urls[3].as_str(), &["ar"][..]),
    ];
    let cfg_path = write_config(dir.path(), &feeds, "");
    let cfg = load(&cfg_path);

    let summary = poll_once(cfg.clone()).await.unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.polled, 4);
    assert_eq!(summary.stats.new, STANDARD_UNIQUE_ITEMS);
    assert_eq!(summary.stats.merged, 1, "the oil story is in two feeds");

    // Every format carries every unique item, parsed back by a real parser.
    for format in [Format::Atom, Format::Rss, Format::Json] {
        let bytes = render(&cfg, Scope::All, format);
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
        assert_eq!(feed.entries.len(), STANDARD_UNIQUE_ITEMS, "{format:?}");
        let t = titles(&feed);
        for want in [
            "افتتاح جسر جديد على نهر دجلة يربط ضفتي المدينة",
            "«الأرصاد»: أمطار غزيرة متوقعة  نهاية الأسبوع",
            "وزير التربية يعلن مواعيد الامتحانات النهائية",
            "مزارعو التمور يستعدون لموسم الحصاد",
            "Port reopens after storm repairs",
        ] {
            assert!(
                t.iter().any(|x| x == want),
                "{format:?} lacks {want:?}: {t:#?}"
            );
        }
        // Newest first: the first item is the one published 2024-03-04 07:15Z.
        assert_eq!(t[0], "Port reopens after storm repairs", "{format:?}");
        // The oil story is in the Arabic and the English feed (same link):
        // it is shown once, under the title of whichever outlet came first.
        let oil = t
            .iter()
            .filter(|x| {
                *x == "مؤتمر اقتصادي يناقش أسعار النفط & مستقبل الطاقة"
                    || x.starts_with("Energy conference")
            })
            .count();
        assert_eq!(oil, 1, "{format:?}");
    }

    // Bytes on the wire are exactly the characters that came in, as UTF-8.
    let atom = String::from_utf8(render(&cfg, Scope::All, Format::Atom)).unwrap();
    assert!(atom.contains("«الأرصاد»: أمطار غزيرة متوقعة  نهاية الأسبوع"));
    assert!(atom.contains("xml:lang=\"ar\""));
    assert!(
        !atom.contains("alert("),
        "script from a feed must not survive"
    );
    assert!(atom.contains("https://rafidayn.example/img/bridge.jpg"));
    assert!(atom.contains("rel=\"enclosure\""));

    // Source attribution in every format.
    let json: serde_json::Value =
        serde_json::from_slice(&render(&cfg, Scope::All, Format::Json)).unwrap();
    let oil = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["url"].as_str().unwrap().contains("oil-2024-03"))
        .unwrap();
    let mut sources: Vec<&str> = oil["_rafid"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    sources.sort();
    assert_eq!(sources, vec!["Harbour Wire", "صحيفة الرافدين"], "{oil:#}");
    let rss = String::from_utf8(render(&cfg, Scope::All, Format::Rss)).unwrap();
    assert!(rss.contains(&format!(
        "<source url=\"{}\">صحيفة الرافدين</source>",
        urls[0]
    )));
    assert!(atom.contains("<title>Harbour Wire</title>"));

    // A tag's feed holds only its feeds' items.
    let en =
        feed_rs::parser::parse(&render(&cfg, Scope::Tag("en".into()), Format::Atom)[..]).unwrap();
    assert_eq!(en.entries.len(), 3);
    let news =
        feed_rs::parser::parse(&render(&cfg, Scope::Tag("news".into()), Format::Rss)[..]).unwrap();
    assert_eq!(news.entries.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_poll_is_conditional_and_restart_announces_nothing_new() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &[][..])).collect();
    let cfg = load(&write_config(dir.path(), &feeds, ""));

    let first = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(first.stats.new, STANDARD_UNIQUE_ITEMS);
    let before = render(&cfg, Scope::All, Format::Atom);

    // A new process on the same store: every feed answers 304, nothing new.
    let second = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(second.not_modified, 4, "{second:?}");
    assert_eq!(second.stats.new, 0);
    for path in ["/rss.xml", "/atom.xml", "/feed.json", "/legacy.xml"] {
        let seen = server.seen_for(path);
        assert_eq!(seen.len(), 2, "{path}: one request per poll");
        assert!(seen[0].if_none_match.is_none() && seen[0].if_modified_since.is_none());
        assert!(
            seen[1]
                .if_none_match
                .as_deref()
                .is_some_and(|e| e.starts_with('"'))
        );
        assert_eq!(
            seen[1].if_modified_since.as_deref(),
            Some("Mon, 04 Mar 2024 10:00:00 GMT"),
            "the server's own Last-Modified, byte for byte"
        );
        assert_eq!(seen[1].status, 304);
        let ua = seen[0].user_agent.clone().unwrap();
        assert!(ua.starts_with("rafid/"), "{ua}");
    }
    assert_eq!(
        render(&cfg, Scope::All, Format::Atom),
        before,
        "same store, same bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_update_in_place_and_id_less_items_stay_single() {
    let server = FeedServer::start().await;
    let v1 = r#"<rss version="2.0"><channel><title>T</title>
        <item><guid>a-1</guid><title>العنوان الأول</title><link>https://t.example/a1</link>
          <description>نص الخبر الأول</description><pubDate>Mon, 04 Mar 2024 09:00:00 GMT</pubDate></item>
        <item><title>خبر بلا معرف ولا رابط</title><description>نص ثابت لا يتغير</description></item>
        </channel></rss>"#;
    server.put("/t.xml", v1, "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/t.xml");
    let cfg = load(&write_config(dir.path(), &[(url.as_str(), &[])], ""));
    assert_eq!(poll_once(cfg.clone()).await.unwrap().stats.new, 2);

    // The server changes the document (new ETag): one title edited, and the
    // id-less item re-served unchanged. Nothing is stored twice.
    let v2 = v1.replace("العنوان الأول", "العنوان الأول (محدث)");
    server.put("/t.xml", v2, "application/rss+xml");
    let s = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(
        (s.stats.new, s.stats.updated, s.stats.unchanged),
        (0, 1, 1),
        "{s:?}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&render(&cfg, Scope::All, Format::Json)).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let edited = items
        .iter()
        .find(|i| i["url"] == "https://t.example/a1")
        .unwrap();
    assert_eq!(edited["title"], "العنوان الأول (محدث)");
    assert!(edited["date_modified"].as_str().unwrap() > "2024-03-04T09:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_feed_does_not_sink_the_others() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    server.put(
        "/html",
        "<!DOCTYPE html><html><body>not a feed</body></html>",
        "text/html",
    );
    let dir = tempfile::tempdir().unwrap();
    let html = server.url("/html");
    let missing = server.url("/missing.xml");
    let feeds: Vec<(&str, &[&str])> = vec![
        (urls[0].as_str(), &[]),
        (html.as_str(), &[]),
        (missing.as_str(), &[]),
        ("http://127.0.0.1:9/refused.xml", &[]),
    ];
    let cfg = load(&write_config(
        dir.path(),
        &feeds,
        "[poll]\nconnect_timeout = \"2s\"\n",
    ));
    let s = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(s.stats.new, 3);
    assert_eq!(s.failed.len(), 3, "{:?}", s.failed);
    let errors: Vec<String> = s.failed.iter().map(|(u, e)| format!("{u} {e}")).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/html") && e.contains("HTML page")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/missing.xml") && e.contains("404")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("refused.xml")),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_conditional_feeds_and_stops_cleanly() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &["x"][..])).collect();
    let cfg = load(&write_config(
        dir.path(),
        &feeds,
        "[poll]\ninterval = \"1s\"\nmin_interval = \"1s\"\n",
    ));
    let Daemon {
        addr,
        token,
        handle: daemon,
        client,
    } = start_daemon(cfg).await;
    let feed_url = format!("http://{addr}/feed.atom");
    let mut got = 0;
    for _ in 0..100 {
        let body = client
            .get(&feed_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        got = feed_rs::parser::parse(&body[..])
            .map(|f| f.entries.len())
            .unwrap_or(0);
        if got == STANDARD_UNIQUE_ITEMS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got, STANDARD_UNIQUE_ITEMS);

    let r = client.get(&feed_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    let r = client
        .get(&feed_url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client
        .get(&feed_url)
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    for path in [
        "/feed.rss",
        "/feed.json",
        "/tags/x.atom",
        "/tags/x.rss",
        "/tags/x.json",
    ] {
        let r = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body = r.bytes().await.unwrap();
        let n = feed_rs::parser::parse(&body[..]).unwrap().entries.len();
        assert_eq!(n, STANDARD_UNIQUE_ITEMS, "{path}");
    }
    let r = client
        .get(format!("http://{addr}/tags/nope.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = client
        .get(format!("http://{addr}/status"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["feeds"].as_array().unwrap().len(), 4);
    assert!(status["feeds"][0]["last_success"].is_string());

    // `serve` is Ok only when every task ended within the grace period and
    // the final flush succeeded.
    token.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), daemon).await;
    match stopped {
        Ok(Ok(Ok(()))) => {}
        other => panic!("daemon stops within the grace period: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_needs_the_admin_token_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load(&write_config(
        dir.path(),
        &[],
        "admin_token = \"s3cret-token-0123456\"\n",
    ));
    let Daemon {
        addr,
        token,
        handle: daemon,
        client,
    } = start_daemon(cfg).await;
    let url = format!("http://{addr}/status");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    let wrong = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&url)
        .bearer_auth("s3cret-token-0123456")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    // The feeds themselves stay public.
    let feed = client
        .get(format!("http://{addr}/feed.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    let opml = client
        .get(format!("http://{addr}/opml"))
        .send()
        .await
        .unwrap();
    assert_eq!(opml.status(), 200);
    token.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_wall_is_reported_as_such() {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let app = axum::Router::new()
        .route(
            "/cf.xml",
            axum::routing::get(|| async {
                (StatusCode::FORBIDDEN, [("cf-mitigated", "challenge")], "no").into_response()
            }),
        )
        .route(
            "/page.xml",
            axum::routing::get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><head><title>Just a moment...</title></head><body>\
                     <script src=\"/cdn-cgi/challenge-platform/x.js\"></script></body></html>",
                )
                    .into_response()
            }),
        )
        .route(
            "/plain403.xml",
            axum::routing::get(|| async { (StatusCode::FORBIDDEN, "forbidden").into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = ["/cf.xml", "/page.xml", "/plain403.xml"]
        .iter()
        .map(|p| format!("http://{addr}{p}"))
        .collect();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &[][..])).collect();
    let cfg = load(&write_config(dir.path(), &feeds, ""));
    let s = poll_once(cfg).await.unwrap();
    let err = |p: &str| {
        s.failed
            .iter()
            .find(|(u, _)| u.ends_with(p))
            .map(|(_, e)| e.clone())
            .unwrap()
    };
    assert!(
        err("/cf.xml").contains("bot challenge"),
        "{}",
        err("/cf.xml")
    );
    assert!(
        err("/page.xml").contains("bot challenge"),
        "{}",
        err("/page.xml")
    );
    assert!(
        err("/plain403.xml").contains("HTTP 403"),
        "{}",
        err("/plain403.xml")
    );
    assert!(!err("/plain403.xml").contains("bot"));
}
