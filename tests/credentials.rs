//! A feed's `headers` and `auth` go only to the origin of its configured
//! URL, even after rafid adopts a permanent move to another origin.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><guid>1</guid><title>خبر</title><link>https://news.example/1</link></item>
</channel></rss>"#;

/// Everything logged, kept for the test to read.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One request as a server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    api_key: bool,
    authorization: bool,
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    /// Where `/moves` and `/stays` redirect to (301), by path.
    redirects: Mutex<Vec<(String, String)>>,
}

async fn handle(State(rec): State<Arc<Recorder>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    rec.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        api_key: headers.contains_key("x-api-key"),
        authorization: headers.contains_key(header::AUTHORIZATION),
    });
    let to = rec
        .redirects
        .lock()
        .unwrap()
        .iter()
        .find(|(from, _)| *from == path)
        .map(|(_, to)| to.clone());
    match to {
        Some(to) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response(),
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/rss+xml")],
            FEED,
        )
            .into_response(),
    }
}

async fn server() -> (String, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let app = Router::new().fallback(handle).with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_move_to_another_origin_drops_the_credentials() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    // Two servers on two ports of 127.0.0.1: two origins.
    let (a, seen_a) = server().await;
    let (b, seen_b) = server().await;
    seen_a.redirects.lock().unwrap().extend([
        ("/moves".to_string(), format!("{b}/moved")),
        ("/stays".to_string(), format!("{a}/stayed")),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\npath = {:?}\n\
         [[feed]]\nurl = \"{a}/moves\"\n\
         headers = {{ \"X-Api-Key\" = \"key-for-a\" }}\n\
         auth = {{ user = \"me\", password = \"password-for-a\" }}\n\
         [[feed]]\nurl = \"{a}/stays\"\n\
         headers = {{ \"X-Api-Key\" = \"key-for-a\" }}\n\
         auth = {{ user = \"me\", password = \"password-for-a\" }}\n",
        dir.path().join("data").display().to_string()
    );
    let config = Arc::new(rafid::config::parse(&dir.path().join("rafid.toml"), &text).unwrap());
    let store = rafid::store::Store::open(&config.storage.path, "test").unwrap();
    let fetcher = Arc::new(rafid::ingest::fetch::Fetcher::new(&config.poll).unwrap());
    let poller = rafid::ingest::poll::Poller::new(config.clone(), store.clone(), fetcher);
    let token = CancellationToken::new();
    // Three polls see the 301 and adopt the move; two more poll the new URL.
    for _ in 0..5 {
        for feed in &config.feeds {
            let r = poller.poll(feed, &token).await;
            assert!(
                !matches!(r.outcome, rafid::ingest::poll::Outcome::Failed(_)),
                "{r:?}"
            );
        }
    }

    let a_seen = seen_a.seen.lock().unwrap().clone();
    let b_seen = seen_b.seen.lock().unwrap().clone();
    let moves: Vec<_> = a_seen.iter().filter(|s| s.path == "/moves").collect();
    assert_eq!(moves.len(), 3, "{a_seen:?}");
    assert!(moves.iter().all(|s| s.api_key && s.authorization));
    // The other origin: polled five times, never with the credentials.
    assert_eq!(b_seen.len(), 5, "{b_seen:?}");
    assert!(
        b_seen.iter().all(|s| !s.api_key && !s.authorization),
        "credentials sent to another origin: {b_seen:?}"
    );
    // A move within the origin keeps them.
    let stayed: Vec<_> = a_seen.iter().filter(|s| s.path == "/stayed").collect();
    assert_eq!(stayed.len(), 5, "{a_seen:?}");
    assert!(stayed.iter().all(|s| s.api_key && s.authorization));

    // /status says why.
    let (_live_tx, live) = tokio::sync::watch::channel(config.clone());
    let state = rafid::server::AppState {
        config: live,
        store: rafid::server::StoreSlot::ready(store.clone()),
        outputs: Arc::new(rafid::publish::Outputs::default()),
        schedule: Arc::default(),
        counters: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(rafid::server::run(listener, state, token.clone()));
    let status = reqwest::get(format!("http://{addr}/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    token.cancel();
    let feeds = status["feeds"].as_array().unwrap();
    let withheld = feeds[0]["credentials_withheld"].as_str().unwrap_or("");
    assert!(
        withheld.contains("another origin") && withheld.contains(&b),
        "{status:#}"
    );
    assert!(feeds[1]["credentials_withheld"].is_null(), "{status:#}");
    // And so does the log, once, when the move is adopted.
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    let warned: Vec<_> = logged
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("another origin"))
        .collect();
    assert_eq!(warned.len(), 1, "{logged}");
    assert!(warned[0].contains(&b), "{logged}");
}
