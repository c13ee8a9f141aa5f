//! The daemon as the servers it polls see it: a local server records every
//! request and the test checks the rules of polite polling — validators
//! byte for byte, nothing before a feed is due, Retry-After, growing
//! backoff, 410 ending the polling, permanent moves adopted, no cookies or
//! Referer, never more than `per_host` requests in flight, and `poll-once`
//! starting polls as slots come free rather than all at once.
//!
//! Intervals are one second, and tokio's clock is paused: the gaps measured
//! are the daemon's own waits, whatever else the machine is doing.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::rss::{Feed, Item};

const ETAG: &str = "W/\"v1,with;odd\"";
const LAST_MODIFIED: &str = "Tue, 05 Mar 2024 10:00:00 GMT";

#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    path: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    cookie: bool,
    referer: bool,
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn feed(title: &str) -> String {
    // No dates: the adaptive interval stays out of the way of the schedule.
    Feed::new(title)
        .item(Item::new(
            &format!("{title}-1"),
            &format!("{title}: خبر"),
            &format!("https://p.example/{title}/1"),
        ))
        .rss()
}

async fn handle(State(rec): State<Arc<Recorder>>, uri: Uri, headers: HeaderMap) -> Response {
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let path = uri.path().to_string();
    let now = Instant::now();
    let earlier = {
        let mut seen = rec.seen.lock().unwrap();
        let earlier = seen.iter().filter(|s| s.path == path).count();
        seen.push(Seen {
            at: now,
            path: path.clone(),
            if_none_match: h(header::IF_NONE_MATCH),
            if_modified_since: h(header::IF_MODIFIED_SINCE),
            cookie: headers.contains_key(header::COOKIE),
            referer: headers.contains_key(header::REFERER),
        });
        earlier
    };
    let n = rec.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    rec.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let conditional_ok = h(header::IF_NONE_MATCH).as_deref() == Some(ETAG);
    let validators = [
        (header::ETAG, ETAG.to_string()),
        (header::LAST_MODIFIED, LAST_MODIFIED.to_string()),
        (header::SET_COOKIE, "session=abc; Path=/".to_string()),
    ];
    let resp = match path.as_str() {
        "/etag.xml" | "/new.xml" if conditional_ok => {
            (StatusCode::NOT_MODIFIED, validators).into_response()
        }
        "/etag.xml" | "/new.xml" => (StatusCode::OK, validators, feed("etag")).into_response(),
        "/limited.xml" if earlier == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "3")],
            "slow down",
        )
            .into_response(),
        "/limited.xml" => (StatusCode::OK, feed("limited")).into_response(),
        "/broken.xml" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "/gone.xml" => (StatusCode::GONE, "gone").into_response(),
        "/old.xml" => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, "/new.xml")],
        )
            .into_response(),
        p if p.starts_with("/slow/") => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            (StatusCode::OK, feed(&p[6..p.len() - 4])).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no").into_response(),
    };
    rec.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

/// On tokio's paused clock: the waits are the daemon's own arithmetic, not
/// what a busy machine makes of them.
#[tokio::test(start_paused = true)]
async fn the_daemon_polls_politely() {
    let rec = Arc::new(Recorder::default());
    let addr = common::server::serve(Router::new().fallback(handle).with_state(rec.clone())).await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = format!(
        "[storage]\npath = {:?}\n[poll]\ninterval = \"1s\"\nmin_interval = \"1s\"\nmax_interval = \"8s\"\nper_host = 2\n",
        dir.path().join("data").display().to_string()
    );
    let mut paths: Vec<String> = [
        "/etag.xml",
        "/limited.xml",
        "/broken.xml",
        "/gone.xml",
        "/old.xml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    paths.extend((0..4).map(|i| format!("/slow/{i}.xml")));
    for p in &paths {
        cfg.push_str(&format!("[[feed]]\nurl = \"http://{addr}{p}\"\n"));
    }
    let config = rafid::config::parse(&dir.path().join("rafid.toml"), &cfg).unwrap();
    let store = rafid::store::Store::open(&config.storage.path, "test").unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let daemon = tokio::spawn(rafid::daemon::serve(
        Arc::new(config),
        store.clone(),
        http,
        token.clone(),
        async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            // The stop runs on the real clock: on the paused one, its grace
            // for the tasks would pass at once while one waits on a
            // blocking thread (tokio advances a paused clock whenever no
            // task is ready), and the stop would report them stuck.
            tokio::time::resume();
        },
    ));
    daemon.await.unwrap().unwrap();
    let seen = rec.seen.lock().unwrap().clone();
    let by_path = |p: &str| -> Vec<Seen> { seen.iter().filter(|s| s.path == p).cloned().collect() };
    let gaps = |v: &[Seen]| -> Vec<f64> {
        v.windows(2)
            .map(|w| (w[1].at - w[0].at).as_secs_f64())
            .collect()
    };
    let report: HashMap<&str, usize> = paths
        .iter()
        .map(|p| (p.as_str(), by_path(p).len()))
        .collect();
    eprintln!("requests per path: {report:?}");

    // First polls are spread over at most one interval after start.
    for p in &paths {
        let first = by_path(p)[0].at - started;
        assert!(
            first < Duration::from_millis(1500),
            "{p}: first poll after {first:?}"
        );
    }

    // Validators: absent on the first request, then byte for byte.
    let etag = by_path("/etag.xml");
    assert!(etag.len() >= 6, "{}", etag.len());
    assert!(etag[0].if_none_match.is_none() && etag[0].if_modified_since.is_none());
    for s in &etag[1..] {
        assert_eq!(s.if_none_match.as_deref(), Some(ETAG));
        assert_eq!(s.if_modified_since.as_deref(), Some(LAST_MODIFIED));
    }
    // Nothing before the feed is due (1 s, jitter at most 5% early).
    for g in gaps(&etag) {
        assert!(g >= 0.9, "a poll came {g:.2}s after the previous one");
    }

    // Retry-After: 3 seconds, for this feed only.
    let limited = by_path("/limited.xml");
    assert!(limited.len() >= 2);
    assert!(gaps(&limited)[0] >= 2.9, "{:?}", gaps(&limited));

    // ... and counted as honoured, for the politeness reports.
    let limited_state = store
        .feed_state(&format!("http://{addr}/limited.xml"))
        .unwrap()
        .unwrap();
    assert_eq!(limited_state.retry_afters, 1);
    let mut list = Vec::new();
    let cfg = rafid::config::parse(&dir.path().join("rafid.toml"), &cfg).unwrap();
    rafid::cli::ops::feeds_list(&cfg, &store, &mut list).unwrap();
    let list = String::from_utf8(list).unwrap();
    let etag_block = list
        .split("\nhttp")
        .find(|b| b.contains("/etag.xml"))
        .unwrap();
    assert!(
        etag_block.contains("validators: ETag and Last-Modified; Retry-After honoured: 0"),
        "{etag_block}"
    );
    assert!(etag_block.contains("% answered 304"), "{etag_block}");
    let limited_block = list
        .split("\nhttp")
        .find(|b| b.contains("/limited.xml"))
        .unwrap();
    assert!(
        limited_block.contains(
            "validators: none (every poll downloads the whole feed); Retry-After honoured: 1"
        ),
        "{limited_block}"
    );

    // Errors back off: each wait longer than the one before.
    let broken = gaps(&by_path("/broken.xml"));
    assert!(broken.len() >= 2, "{broken:?}");
    assert!(broken[0] >= 1.9 && broken[1] >= 3.8, "{broken:?}");
    assert!(broken.windows(2).all(|w| w[1] > w[0]), "{broken:?}");

    // 410 ends the polling.
    assert_eq!(by_path("/gone.xml").len(), 1);
    let gone = store
        .feed_state(&format!("http://{addr}/gone.xml"))
        .unwrap()
        .unwrap();
    assert!(gone.gone);

    // A permanent redirect seen three times in a row is adopted.
    let old = by_path("/old.xml");
    assert_eq!(
        old.len(),
        3,
        "the old URL is polled until the move is adopted"
    );
    let new = by_path("/new.xml");
    assert!(new.len() > old.len(), "then only the new URL");
    assert!(
        new[1].if_none_match.as_deref() == Some(ETAG),
        "redirected requests carry validators"
    );
    let moved = store
        .feed_state(&format!("http://{addr}/old.xml"))
        .unwrap()
        .unwrap();
    assert_eq!(
        moved.moved_to.as_deref(),
        Some(format!("http://{addr}/new.xml").as_str())
    );

    // No cookies kept, no Referer sent, anywhere.
    assert!(seen.iter().all(|s| !s.cookie), "a cookie was sent back");
    assert!(seen.iter().all(|s| !s.referer), "a Referer was sent");

    // All feeds are on one host: never more than per_host at once.
    let max = rec.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 2, "{max} requests in flight to one host");
    assert_eq!(max, 2, "the per-host allowance is used");
}

/// Issue 16: on a machine that starts before its network, every feed
/// failed once and backed off to twice its interval, across restarts. A
/// failure to connect to every host is the network's, not the feeds'.
#[tokio::test]
async fn no_network_at_start_is_not_counted_as_each_feeds_failure() {
    // Ports nobody listens on, on two hosts (names for the same machine).
    let port = |_| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let urls = [
        format!("http://127.0.0.1:{}/feed.xml", port(())),
        format!("http://localhost:{}/feed.xml", port(())),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = common::write_config(
        dir.path(),
        &[(urls[0].as_str(), &[]), (urls[1].as_str(), &[])],
        "",
    );
    let cfg = rafid::config::load(&path).unwrap();
    let summary = rafid::cli::poll::poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.failed.len(), 2);
    let store = rafid::store::Store::open(&cfg.storage.path, "test").unwrap();
    let now = chrono::Utc::now();
    for feed in &cfg.feeds {
        let st = store.feed_state(feed.key()).unwrap().unwrap();
        assert_eq!(st.consecutive_failures, 0, "{:?}", st.last_error);
        assert!(st.last_error.as_deref().unwrap().contains("no network"));
        // After a restart it is polled soon, not after a backoff.
        let due = rafid::ingest::schedule::next_due(&cfg, feed, Some(&st), now);
        assert!(due <= now + chrono::Duration::seconds(60), "{due}");
    }
}

/// A host that answers only when the test lets it: requests pile up at the
/// daemon's per-host allowance, and a released one makes room for one more.
struct Gate {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    answered: AtomicUsize,
    release: tokio::sync::Semaphore,
}

async fn held(State(gate): State<Arc<Gate>>, uri: Uri) -> Response {
    let n = gate.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    gate.max_in_flight.fetch_max(n, Ordering::SeqCst);
    if let Ok(permit) = gate.release.acquire().await {
        permit.forget();
    }
    gate.in_flight.fetch_sub(1, Ordering::SeqCst);
    gate.answered.fetch_add(1, Ordering::SeqCst);
    let title = uri.path().trim_start_matches('/').replace(".xml", "");
    (StatusCode::OK, feed(&title)).into_response()
}

#[tokio::test(start_paused = true)]
async fn never_more_than_per_host_requests_in_flight_to_one_host() {
    const PER_HOST: usize = 3;
    let gate = Arc::new(Gate {
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
        release: tokio::sync::Semaphore::new(0),
    });
    let addr = common::server::serve(Router::new().fallback(held).with_state(gate.clone())).await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = format!(
        "[storage]\npath = {:?}\n[poll]\ninterval = \"1s\"\nmin_interval = \"1s\"\nper_host = {PER_HOST}\n",
        dir.path().join("data").display().to_string()
    );
    for i in 0..8 {
        cfg.push_str(&format!("[[feed]]\nurl = \"http://{addr}/f{i}.xml\"\n"));
    }
    let config = rafid::config::parse(&dir.path().join("rafid.toml"), &cfg).unwrap();
    let store = rafid::store::Store::open(&config.storage.path, "test").unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let daemon = tokio::spawn(rafid::daemon::serve(
        Arc::new(config),
        store,
        http,
        token.clone(),
        std::future::pending(),
    ));

    // Every feed is due within a second, so the queue is never short of
    // requests: each time, the host holds exactly the allowance, no more.
    for round in 0..20 {
        let start = Instant::now();
        while gate.in_flight.load(Ordering::SeqCst) < PER_HOST {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "round {round}: only {} in flight",
                gate.in_flight.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Time for any request beyond the allowance to arrive.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = gate.in_flight.load(Ordering::SeqCst);
        assert_eq!(now, PER_HOST, "round {round}: {now} requests in flight");
        gate.release.add_permits(1);
        let before = gate.answered.load(Ordering::SeqCst);
        while gate.answered.load(Ordering::SeqCst) == before {
            assert!(start.elapsed() < Duration::from_secs(60), "round {round}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let max = gate.max_in_flight.load(Ordering::SeqCst);
    assert_eq!(max, PER_HOST, "{max} requests in flight to one host");
    gate.release.add_permits(1000);
    // The stop on the real clock (see `the_daemon_polls_politely`).
    tokio::time::resume();
    token.cancel();
    daemon.await.unwrap().unwrap();
}

/// What the poll's runtime looked like from the server's side.
struct Watched {
    poll_runtime: tokio::runtime::Handle,
    max_alive: AtomicUsize,
    answered: AtomicUsize,
}

async fn watched(State(w): State<Arc<Watched>>, uri: Uri) -> Response {
    let alive = w.poll_runtime.metrics().num_alive_tasks();
    w.max_alive.fetch_max(alive, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    w.answered.fetch_add(1, Ordering::SeqCst);
    let title = uri.path().trim_start_matches('/').replace(".xml", "");
    (StatusCode::OK, feed(&title)).into_response()
}

/// `poll-once` starts a feed's poll when a slot is about to come free, not
/// every feed's at the start: a feed waiting its turn costs nothing but
/// its entry in the config, however many feeds there are.
#[test]
fn poll_once_starts_polls_as_slots_come_free() {
    const FEEDS: usize = 40;
    let poll_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = Arc::new(Watched {
        poll_runtime: poll_runtime.handle().clone(),
        max_alive: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
    });
    // The server runs on a runtime of its own, so that the poll's runtime
    // holds only the poll's tasks.
    let addr = {
        let w = w.clone();
        common::server::on_own_runtime(move || {
            common::server::serve(Router::new().fallback(watched).with_state(w))
        })
    };

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = format!(
        "[storage]\npath = {:?}\n[poll]\nconcurrency = 2\nper_host = 2\n",
        dir.path().join("data").display().to_string()
    );
    for i in 0..FEEDS {
        cfg.push_str(&format!("[[feed]]\nurl = \"http://{addr}/f{i}.xml\"\n"));
    }
    let config = rafid::config::parse(&dir.path().join("rafid.toml"), &cfg).unwrap();
    let summary = poll_runtime
        .block_on(rafid::cli::poll::poll_once(config))
        .unwrap();
    assert_eq!(summary.polled, FEEDS, "{:?}", summary.failed);
    assert_eq!(w.answered.load(Ordering::SeqCst), FEEDS);
    // Two slots, a window of four polls, and the HTTP client's connections:
    // a dozen tasks at most, where one per feed would be forty.
    let max = w.max_alive.load(Ordering::SeqCst);
    assert!(max <= 12, "{max} tasks alive on the poll's runtime");
}

/// `poll-once` leaves alone a feed whose server said it is gone, and one
/// whose server asked for a wait not yet over, and says so; it polls the
/// others, and a wait that is over no longer holds a feed back.
#[tokio::test]
async fn poll_once_skips_gone_feeds_and_waits_asked_for() {
    let rec = Arc::new(Recorder::default());
    let addr = common::server::serve(Router::new().fallback(handle).with_state(rec.clone())).await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = format!(
        "[storage]\npath = {:?}\n",
        dir.path().join("data").display().to_string()
    );
    for name in ["gone", "waiting", "slow/waited", "slow/plain"] {
        cfg.push_str(&format!("[[feed]]\nurl = \"http://{addr}/{name}.xml\"\n"));
    }
    let config = rafid::config::parse(&dir.path().join("rafid.toml"), &cfg).unwrap();
    let now = chrono::Utc::now();
    {
        let store = rafid::store::Store::open(&config.storage.path, "test").unwrap();
        let key = |name: &str| format!("http://{addr}/{name}.xml");
        let gone = rafid::model::FeedState {
            gone: true,
            ..Default::default()
        };
        store.put_feed_state(&key("gone"), &gone).unwrap();
        let waiting = rafid::model::FeedState {
            retry_after: Some(now + chrono::Duration::hours(2)),
            ..Default::default()
        };
        store.put_feed_state(&key("waiting"), &waiting).unwrap();
        let waited = rafid::model::FeedState {
            retry_after: Some(now - chrono::Duration::minutes(1)),
            ..Default::default()
        };
        store.put_feed_state(&key("slow/waited"), &waited).unwrap();
    }
    let summary = rafid::cli::poll::poll_once(config).await.unwrap();
    assert_eq!(summary.polled, 2);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    let deferred: HashMap<String, String> = summary.deferred.into_iter().collect();
    assert_eq!(deferred.len(), 2, "{deferred:?}");
    let why = |name: &str| deferred[&format!("http://{addr}/{name}.xml")].clone();
    assert!(why("gone").contains("410"), "{}", why("gone"));
    assert!(why("waiting").contains("wait until"), "{}", why("waiting"));
    let mut asked: Vec<String> = rec
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    asked.sort();
    assert_eq!(asked, ["/slow/plain.xml", "/slow/waited.xml"]);
}
