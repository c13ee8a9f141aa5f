//! Test helpers: a local feed server on 127.0.0.1:0 that serves fixtures
//! with validators and records every request, and config/store helpers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One document the server hands out.
#[derive(Clone)]
pub struct Doc {
    pub body: Vec<u8>,
    pub content_type: String,
    /// Sent as `Last-Modified`, and compared with `If-Modified-Since`.
    pub last_modified: String,
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    docs: HashMap<String, Doc>,
    seen: Vec<Seen>,
}

/// A feed server whose documents can be changed while it runs.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

fn etag_of(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    format!(
        "\"{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}\"",
        d[0], d[1], d[2], d[3], d[4], d[5]
    )
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut g = inner.lock().unwrap();
    let doc = g.docs.get(&path).cloned();
    let mut seen = Seen {
        path: path.clone(),
        if_none_match: h(header::IF_NONE_MATCH),
        if_modified_since: h(header::IF_MODIFIED_SINCE),
        user_agent: h(header::USER_AGENT),
        status: 404,
    };
    let resp = match doc {
        None => (StatusCode::NOT_FOUND, "no such feed").into_response(),
        Some(doc) => {
            let etag = etag_of(&doc.body);
            let fresh = seen.if_none_match.as_deref() == Some(etag.as_str())
                || (seen.if_none_match.is_none()
                    && seen.if_modified_since.as_deref() == Some(doc.last_modified.as_str()));
            if fresh {
                seen.status = 304;
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
            } else {
                seen.status = 200;
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, doc.content_type.clone()),
                        (header::ETAG, etag),
                        (header::LAST_MODIFIED, doc.last_modified.clone()),
                    ],
                    doc.body.clone(),
                )
                    .into_response()
            }
        }
    };
    g.seen.push(seen);
    resp
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FeedServer { addr, inner }
    }

    /// Starts a server on a thread of its own, for tests that run the
    /// binary and have no runtime.
    pub fn start_in_thread() -> FeedServer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let s = FeedServer::start().await;
                tx.send(s).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>, content_type: &str) {
        self.inner.lock().unwrap().docs.insert(
            path.to_string(),
            Doc {
                body: body.into(),
                content_type: content_type.to_string(),
                last_modified: "Mon, 04 Mar 2024 10:00:00 GMT".to_string(),
            },
        );
    }

    pub fn put_fixture(&self, path: &str, fixture: &str, content_type: &str) {
        self.put(path, fixture_bytes(fixture), content_type);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    pub fn seen_for(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture_bytes(name)).unwrap()
}

/// The windows-1256 fixture: kept in the repository as UTF-8, encoded here.
pub fn windows_1256_feed() -> Vec<u8> {
    let text = fixture_text("rss_windows1256.xml.in");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// Serves the four standard fixtures and returns their URLs:
/// RSS 2.0 (Arabic), Atom, JSON Feed, and RSS in windows-1256 labelled only
/// in the HTTP header.
pub fn serve_standard(server: &FeedServer) -> Vec<String> {
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    server.put_fixture("/atom.xml", "atom_en.xml", "application/atom+xml");
    server.put_fixture("/feed.json", "jsonfeed.json", "application/feed+json");
    server.put(
        "/legacy.xml",
        windows_1256_feed(),
        "application/rss+xml; charset=windows-1256",
    );
    ["/rss.xml", "/atom.xml", "/feed.json", "/legacy.xml"]
        .iter()
        .map(|p| server.url(p))
        .collect()
}

/// Every title of the standard fixtures after deduplication (the oil story
/// is in two feeds and is stored once, under the title seen first).
pub const STANDARD_UNIQUE_ITEMS: usize = 9;

/// Writes a config with `feeds` (url, tags) into `dir` and returns its path.
pub fn write_config(dir: &Path, feeds: &[(&str, &[&str])], extra: &str) -> PathBuf {
    // `extra` may start with more `[storage]` keys; they join the table.
    let (storage, extra) = match extra.strip_prefix("[storage]\n") {
        Some(rest) => match rest.find("\n[") {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, ""),
        },
        None => ("", extra),
    };
    let mut s = format!(
        "[storage]\npath = {:?}\n{storage}[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://rafid.test/river/\"\n{extra}\n",
        dir.join("data").display().to_string()
    );
    for (url, tags) in feeds {
        s.push_str(&format!("[[feed]]\nurl = {url:?}\n"));
        if !tags.is_empty() {
            let t: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
            s.push_str(&format!("tags = [{}]\n", t.join(", ")));
        }
    }
    let path = dir.join("rafid.toml");
    std::fs::write(&path, s).unwrap();
    path
}

/// A daemon serving on a port of its own, and an HTTP client for it.
pub struct Daemon {
    pub addr: SocketAddr,
    pub token: tokio_util::sync::CancellationToken,
    pub handle: tokio::task::JoinHandle<Result<(), rafid::daemon::DaemonError>>,
    pub client: reqwest::Client,
}

/// Starts the daemon of `cfg` on 127.0.0.1 (any port), with the store at
/// its `storage.path`; it runs until `token` is cancelled.
pub async fn start_daemon(cfg: rafid::config::Config) -> Daemon {
    let store = rafid::store::Store::open(&cfg.storage.path, "test daemon").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(rafid::daemon::serve(
        Arc::new(cfg),
        store,
        listener,
        token.clone(),
        std::future::pending(),
    ));
    rafid::ingest::fetch::install_tls_provider();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    Daemon {
        addr,
        token,
        handle,
        client,
    }
}
