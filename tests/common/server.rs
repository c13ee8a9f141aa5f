//! A local feed server on 127.0.0.1:0 that serves documents with
//! validators, lets a test change them while it runs, and records every
//! request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::fixtures::fixture_bytes;

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
        let addr = serve(Router::new().fallback(handle).with_state(inner.clone())).await;
        FeedServer { addr, inner }
    }

    /// Starts a server on a thread of its own, for tests that run the
    /// binary and have no runtime.
    pub fn start_in_thread() -> FeedServer {
        on_own_runtime(FeedServer::start)
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

/// Serves `app` on a free port of 127.0.0.1, on the current runtime, for
/// as long as the runtime runs.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Runs `start` on a runtime of its own, on a thread that keeps it running
/// until the test process ends, and returns what `start` gave: for servers
/// that must not share the test's runtime (a test without one, or one that
/// counts the tasks on its own).
pub fn on_own_runtime<T, F>(start: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tx.send(start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}
