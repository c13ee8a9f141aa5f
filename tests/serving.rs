//! The daemon's outputs over HTTP and from `rafid render`: paging, the river
//! page, compression, HEAD, conditional requests, stable ids, WebSub pings,
//! and slow or too many clients.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::rss::{Feed, Item};
use common::{Daemon, FeedServer, start_daemon, write_config};
use rafid::cli::poll::poll_once;
use rafid::config::{self, Config};
use rafid::publish::{Cursor, Format, Scope, render_page_from_store};
use rafid::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BASE: &str = "http://rafid.test/river/";

/// An RSS feed of `n` items, one an hour, the newest last in the document.
fn rss(n: usize, edited: Option<usize>) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    Feed::new("وكالة الاختبار")
        .link("https://src.example/")
        .language("ar")
        .items((0..n).map(|i| {
            let title = if edited == Some(i) {
                format!("خبر رقم {i} (محدّث)")
            } else {
                format!("خبر رقم {i}")
            };
            let hour = u32::try_from(i % 24).unwrap();
            Item::new(
                &format!("item-{i}"),
                &title,
                &format!("https://src.example/n/{i}"),
            )
            .body(&format!("نص الخبر {i}"))
            .date(day.and_hms_opt(hour, 0, 0).unwrap().and_utc())
        }))
        .rss()
}

impl Daemon {
    /// A URL the daemon published (under `base_url`) as one to fetch here.
    fn local(&self, published: &str) -> String {
        let path = published.strip_prefix(BASE).unwrap_or(published);
        format!("http://{}/{path}", self.addr)
    }

    async fn get(&self, published: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.client.get(self.local(published));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }
}

/// The href of the element with `rel="next"`, if any (Atom, RSS, HTML).
fn next_href(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    let tag = &body[start..end];
    let h = tag.find("href=\"")? + 6;
    let href = &tag[h..h + tag[h..].find('"')?];
    Some(href.replace("&amp;", "&"))
}

fn ids(format: Format, body: &str) -> Vec<String> {
    match format {
        Format::Json => serde_json::from_str::<serde_json::Value>(body).unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect(),
        Format::Html => body
            .split("<h3><a href=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].to_string())
            .collect(),
        _ => feed_rs::parser::parse(body.as_bytes())
            .unwrap()
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect(),
    }
}

fn next_of(format: Format, body: &str) -> Option<String> {
    match format {
        Format::Json => serde_json::from_str::<serde_json::Value>(body).unwrap()["next_url"]
            .as_str()
            .map(str::to_string),
        _ => next_href(body),
    }
}

async fn polled_store(n: usize, max_items: usize) -> (tempfile::TempDir, Config, FeedServer) {
    let server = FeedServer::start().await;
    server.put("/f.xml", rss(n, None), "application/rss+xml");
    let url = server.url("/f.xml");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &[(url.as_str(), &["ar"][..])],
        &format!("[output]\nmax_items = {max_items}\n"),
    );
    let cfg = config::load(&path).unwrap();
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.stats.new, n);
    (dir, cfg, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_walks_every_item_once_offline_and_over_http() {
    let (_dir, cfg, _server) = polled_store(7, 3).await;

    // Offline, as `rafid render --before` does: every format, every scope.
    let mut offline: Vec<(Format, Scope, Vec<Vec<String>>)> = Vec::new();
    {
        let store = Store::open(&cfg.storage.path, "test").unwrap();
        for scope in [Scope::All, Scope::Tag("ar".into())] {
            for format in Format::ALL {
                let mut pages = Vec::new();
                let mut before = None;
                loop {
                    let r =
                        render_page_from_store(&store, &cfg, &scope, format, 3, before).unwrap();
                    let body = String::from_utf8(r.body.to_vec()).unwrap();
                    pages.push(ids(format, &body));
                    match next_of(format, &body) {
                        None => break,
                        Some(next) => {
                            let c = next.split("?before=").nth(1).unwrap();
                            before = Some(Cursor::parse(c).unwrap());
                        }
                    }
                    assert!(pages.len() < 10, "{format:?}: paging does not end");
                }
                let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
                assert_eq!(sizes, vec![3, 3, 1], "{format:?} {scope:?}");
                let mut all: Vec<&String> = pages.iter().flatten().collect();
                all.sort();
                all.dedup();
                assert_eq!(all.len(), 7, "{format:?}: every item once");
                offline.push((format, scope.clone(), pages));
            }
        }
    }
    // Newest first across pages: item 6 is the newest, item 0 the oldest.
    let html = &offline
        .iter()
        .find(|(f, s, _)| *f == Format::Html && *s == Scope::All)
        .unwrap()
        .2;
    assert_eq!(html[0][0], "https://src.example/n/6");
    assert_eq!(html[2][0], "https://src.example/n/0");

    // The daemon serves the same pages by following the same links.
    let d = start_daemon(cfg.clone()).await;
    for (format, scope, pages) in &offline {
        let mut url = rafid::publish::feed_url(&cfg, scope, *format);
        for (i, want) in pages.iter().enumerate() {
            let r = d.get(&url, &[]).await;
            assert_eq!(r.status(), 200, "{url}");
            let body = r.text().await.unwrap();
            assert_eq!(&ids(*format, &body), want, "{format:?} page {i}");
            match next_of(*format, &body) {
                Some(n) => url = n,
                None => assert_eq!(i, pages.len() - 1),
            }
        }
    }
    let r = d
        .get(&format!("{BASE}feed.atom?before=yesterday"), &[])
        .await;
    assert_eq!(r.status(), 400);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn river_page_and_feeds_are_served_compressed_conditional_and_for_head() {
    let (_dir, cfg, _server) = polled_store(5, 100).await;
    let d = start_daemon(cfg.clone()).await;

    let page = d.get(BASE, &[]).await;
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let etag = h["etag"].to_str().unwrap().to_string();
    let page = page.bytes().await.unwrap();
    let text = String::from_utf8(page.to_vec()).unwrap();
    assert!(text.contains("خبر رقم 4"), "{text}");
    assert!(text.contains("dir=\"rtl\""));

    // Brotli and gzip unpack to the same bytes.
    let br = d.get(BASE, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["vary"], "Accept-Encoding");
    let packed = br.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli_decompressor::BrotliDecompress(&mut &packed[..], &mut unpacked).unwrap();
    assert_eq!(unpacked, page.to_vec());
    let gz = d.get(BASE, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let packed = gz.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&packed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, page.to_vec());

    // Conditional requests on the page as on the feeds.
    let r = d.get(BASE, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());

    // HEAD: the headers of a GET, no body.
    let full = d.get(&format!("{BASE}feed.atom"), &[]).await;
    let len = full.bytes().await.unwrap().len();
    let head = d
        .client
        .head(d.local(&format!("{BASE}feed.atom")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(head.headers()["content-length"], len.to_string().as_str());
    assert!(head.headers().contains_key("etag"));
    assert!(head.bytes().await.unwrap().is_empty());

    // A tag's page; unknown extensions and tags are 404.
    let r = d.get(&format!("{BASE}tags/ar.html"), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("خبر رقم 0"));
    for bad in ["tags/ar.xml", "tags/none.html", "tags/ar"] {
        let r = d.get(&format!("{BASE}{bad}"), &[]).await;
        assert_eq!(r.status(), 404, "{bad}");
    }
    d.stop().await;

    // `rafid render --format html` prints the bytes `/` served.
    let store = rafid::store::open_store(&cfg, "test").unwrap();
    let offline =
        rafid::cli::ops::render(&cfg, &store, Format::Html, None, None, None, None).unwrap();
    assert_eq!(offline, page.to_vec());
    let err = rafid::cli::ops::render(&cfg, &store, Format::Atom, None, None, None, Some("x"))
        .unwrap_err();
    assert_eq!(err.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_ids_survive_base_url_changes_edits_and_restarts() {
    let (_dir, cfg, server) = polled_store(3, 100).await;
    let read = |cfg: &Config, format: Format| {
        let store = Store::open(&cfg.storage.path, "test").unwrap();
        let r = render_page_from_store(&store, cfg, &Scope::All, format, 100, None).unwrap();
        String::from_utf8(r.body.to_vec()).unwrap()
    };
    let atom = ids(Format::Atom, &read(&cfg, Format::Atom));
    let json = ids(Format::Json, &read(&cfg, Format::Json));
    assert_eq!(atom, json);
    assert!(atom.iter().all(|i| i.starts_with("urn:uuid:")));
    let rss_out = read(&cfg, Format::Rss);
    for id in &atom {
        assert!(rss_out.contains(&format!("<guid isPermaLink=\"false\">{id}</guid>")));
    }

    // Served from elsewhere: the same ids.
    let mut moved = cfg.clone();
    moved.server.base_url = url::Url::parse("https://other.example/deep/prefix/").unwrap();
    let body = read(&moved, Format::Atom);
    assert_eq!(ids(Format::Atom, &body), atom);
    assert!(body.contains("href=\"https://other.example/deep/prefix/feed.atom\""));

    // The source edits an item: same id, new title.
    server.put("/f.xml", rss(3, Some(1)), "application/rss+xml");
    poll_once(cfg.clone()).await.unwrap();
    let body = read(&cfg, Format::Atom);
    assert_eq!(ids(Format::Atom, &body), atom);
    assert!(body.contains("خبر رقم 1 (محدّث)"));
}

/// A WebSub hub that fails its first request and records every request.
async fn hub() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::StatusCode;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hub",
        axum::routing::post(move |body: String| {
            let s = s.clone();
            async move {
                let mut seen = s.lock().unwrap();
                seen.push(body);
                if seen.len() == 1 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hub"), seen)
}

/// How many requests the hub has seen once it has seen `want`, or after 30
/// s: a deadline far beyond the second or two this takes on an idle
/// machine, since on a loaded one start-up and the retry's pause stretch.
async fn pings(seen: &Mutex<Vec<String>>, want: usize) -> usize {
    let start = std::time::Instant::now();
    loop {
        let n = seen.lock().unwrap().len();
        if n >= want || start.elapsed() >= Duration::from_secs(30) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_is_advertised_and_pinged_after_a_change() {
    let (hub_url, seen) = hub().await;
    let server = FeedServer::start().await;
    server.put("/f.xml", rss(2, None), "application/rss+xml");
    let url = server.url("/f.xml");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &[(url.as_str(), &["ar"][..])],
        &format!(
            "[poll]\ninterval = \"1s\"\nmin_interval = \"1s\"\n[websub]\nhub = \"{hub_url}\"\n"
        ),
    );
    let cfg = config::load(&path).unwrap();
    let d = start_daemon(cfg).await;
    // The daemon polls the feed at start; the change makes one ping, which
    // the hub refuses once and accepts on the retry.
    assert_eq!(pings(&seen, 2).await, 2, "one refused ping and its retry");
    let body = seen.lock().unwrap()[1].clone();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("hub.mode".into(), "publish".into())));
    for topic in [
        "feed.atom",
        "feed.rss",
        "feed.json",
        "tags/ar.atom",
        "tags/ar.json",
    ] {
        assert!(
            pairs.contains(&("hub.url".into(), format!("{BASE}{topic}"))),
            "{topic}: {pairs:?}"
        );
    }
    let r = d.get(&format!("{BASE}tags/ar.rss"), &[]).await;
    assert_eq!(
        r.headers()["link"],
        format!("<{hub_url}>; rel=\"hub\", <{BASE}tags/ar.rss>; rel=\"self\"").as_str()
    );
    let atom = d
        .get(&format!("{BASE}feed.atom"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(atom.contains(&format!("<link rel=\"hub\" href=\"{hub_url}\"/>")));
    assert!(atom.contains(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{BASE}feed.atom\"/>"
    )));
    let rss = d
        .get(&format!("{BASE}feed.rss"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(rss.contains(&format!("<atom:link rel=\"hub\" href=\"{hub_url}\"/>")));
    d.stop().await;
}

/// Items stored while the daemon was not running (here by `poll-once`) are
/// in its first render, and no later render changes the feed for them: the
/// hub hears of them at start. This is also what a poll that ends before
/// the first render reads the store gives, which the test above meets on a
/// loaded machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_is_pinged_for_items_stored_before_the_start() {
    let (hub_url, seen) = hub().await;
    let server = FeedServer::start().await;
    server.put("/f.xml", rss(2, None), "application/rss+xml");
    let url = server.url("/f.xml");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &[(url.as_str(), &[][..])],
        &format!("[poll]\ninterval = \"1h\"\n[websub]\nhub = \"{hub_url}\"\n"),
    );
    let cfg = config::load(&path).unwrap();
    poll_once(cfg.clone()).await.unwrap();
    assert!(seen.lock().unwrap().is_empty(), "poll-once pings no hub");
    let d = start_daemon(cfg).await;
    assert_eq!(
        pings(&seen, 2).await,
        2,
        "one refused ping at start and its retry"
    );
    d.stop().await;
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(s: &mut tokio::net::TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let r = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    match r {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_surplus_clients_cannot_hold_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &[],
        "read_timeout = \"1s\"\nidle_timeout = \"3s\"\nmax_connections = 2\n",
    );
    let cfg = config::load(&path).unwrap();
    assert_eq!(cfg.server.max_connections, 2);
    let d = start_daemon(cfg).await;

    // Half a request, then silence: closed after read_timeout, unanswered.
    let mut half = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut half, Duration::from_secs(5)).await;
    assert_eq!(got.as_deref(), Some(&b""[..]), "closed without an answer");

    // A byte every 300 ms keeps the connection busy but never completes a
    // request: still closed, at read_timeout from the first byte.
    let mut drip = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let start = std::time::Instant::now();
    let mut closed = false;
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa".iter() {
        if drip.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), drip.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => panic!("a partial request was answered"),
            Err(_) => {}
        }
    }
    assert!(closed, "a dripping client is cut off");
    assert!(start.elapsed() < Duration::from_secs(5));

    // Two idle connections take both slots: a third client is served all
    // the same, in place of the one that waited longest...
    let mut a = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let b = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let url = format!("http://{}/healthz", d.addr);
    let r = tokio::time::timeout(Duration::from_secs(5), d.client.get(&url).send())
        .await
        .expect("served while idle connections hold every slot")
        .unwrap();
    assert_eq!(r.status(), 200);
    // ...which is closed.
    let got = read_to_close(&mut a, Duration::from_secs(5)).await;
    assert_eq!(
        got.as_deref(),
        Some(&b""[..]),
        "the oldest idle one is closed"
    );
    drop(b);
    assert_eq!(r.status(), 200);
    d.stop().await;
}

#[test]
fn cursors_round_trip_and_nonsense_is_refused() {
    let c = Cursor {
        time_ms: 1_709_287_200_000,
        id: rafid::model::ItemId([0xab; 16]),
    };
    assert_eq!(Cursor::parse(&c.to_string()), Some(c));
    let old = Cursor {
        time_ms: -2_208_988_800_000,
        id: rafid::model::ItemId([0xcd; 16]),
    };
    assert_eq!(Cursor::parse(&old.to_string()), Some(old));
    for bad in [
        "",
        "yesterday",
        "1709287200000",
        "1709287200000-abab",
        "x-abababababababababababababababab",
        "99999999999999999999-abababababababababababababababab",
        "9223372036854775807-abababababababababababababababab",
    ] {
        assert_eq!(Cursor::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn server_and_websub_keys_are_checked() {
    let err = config::parse(
        std::path::Path::new("bad.toml"),
        "[server]\nread_timeout = \"soon\"\nmax_connections = 0\n[websub]\nhub = \"ftp://hub.example/\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad.toml:2:"), "{err}");
    assert!(err.contains("server.read_timeout"), "{err}");
    assert!(err.contains("bad.toml:3:"), "{err}");
    assert!(err.contains("server.max_connections"), "{err}");
    assert!(err.contains("bad.toml:5:"), "{err}");
    assert!(err.contains("websub.hub"), "{err}");
    let ok = config::parse(
        std::path::Path::new("ok.toml"),
        "[server]\nidle_timeout = \"2m\"\n[websub]\nhub = \"https://hub.example/\"\n",
    )
    .unwrap();
    assert_eq!(ok.server.idle_timeout, Duration::from_secs(120));
    assert_eq!(ok.server.read_timeout, Duration::from_secs(10));
    assert_eq!(ok.server.max_connections, 1024);
    assert_eq!(ok.websub.hub.unwrap().as_str(), "https://hub.example/");
}

/// Issue 16: `/status` showed a not-yet-polled feed's first poll worked out
/// afresh for each request, so it moved with the request time.
#[tokio::test]
async fn status_shows_the_planned_first_poll_not_one_moving_with_the_request() {
    let server = FeedServer::start().await;
    server.put("/f.xml", rss(2, None), "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    // A feed whose first poll is planned well after start, so that it is
    // still ahead while the test asks.
    let now = chrono::Utc::now();
    let cfg = (0..)
        .map(|n| {
            let url = server.url(&format!("/f.xml?n={n}"));
            config::load(&write_config(dir.path(), &[(url.as_str(), &[][..])], "")).unwrap()
        })
        .find(|cfg| {
            let due = rafid::ingest::schedule::next_due(cfg, &cfg.feeds[0], None, now);
            due - now > chrono::Duration::seconds(40)
        })
        .unwrap();
    let daemon = start_daemon(cfg).await;
    let next_poll = async || {
        let body = daemon.get(&format!("{BASE}status"), &[]).await;
        let v: serde_json::Value = serde_json::from_str(&body.text().await.unwrap()).unwrap();
        v["feeds"][0]["next_poll"].as_str().unwrap().to_string()
    };
    let first = next_poll().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = next_poll().await;
    assert_eq!(first, second, "next_poll moves with the request time");
    daemon.stop().await;
}

/// Issue 16: an empty store published `<updated>1970-01-01…` and a 1970
/// `Last-Modified`. Its date is the store's creation, the same after a
/// restart.
#[tokio::test]
async fn an_empty_store_is_dated_by_its_creation_not_1970() {
    let dir = tempfile::tempdir().unwrap();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let cfg = config::load(&write_config(dir.path(), &[], "")).unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let daemon = start_daemon(cfg.clone()).await;
        let r = daemon.get(&format!("{BASE}feed.atom"), &[]).await;
        assert_eq!(r.status(), 200);
        let modified = r.headers()["last-modified"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        let updated = body.split("<updated>").nth(1).unwrap();
        let updated = &updated[..updated.find('<').unwrap()];
        let when = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
        assert!(when >= before, "{updated}");
        assert!(!modified.contains("1970"), "{modified}");
        seen.push((modified, body));
        daemon.stop().await;
    }
    assert_eq!(seen[0], seen[1], "the date moved between two runs");
}
