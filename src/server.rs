//! The HTTP server: hands out the rendered feeds as cached bytes, answers
//! conditional requests, compresses for clients that ask, and reports
//! health and per-feed status.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::config::{Config, redact_url};
use crate::publish::{Format, Outputs, Rendered, Scope, render_from_store};
use crate::store::Store;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub outputs: Arc<Outputs>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/feed.atom", get(|s, h| feed(s, h, Format::Atom)))
        .route("/feed.rss", get(|s, h| feed(s, h, Format::Rss)))
        .route("/feed.json", get(|s, h| feed(s, h, Format::Json)))
        // axum cannot match `{tag}.atom`: the file name is split here.
        .route("/tags/{file}", get(tag_feed))
        .route("/rivers/{file}", get(river_feed))
        .route("/opml", get(opml))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/status", get(status))
        .with_state(state)
}

/// Serves until `token` is cancelled, then lets in-flight requests finish.
pub async fn run(listener: TcpListener, state: AppState, token: CancellationToken) {
    let app = router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await;
    if let Err(e) = result {
        warn!(error = %e, "HTTP server stopped");
    }
}

async fn feed(State(s): State<AppState>, headers: HeaderMap, format: Format) -> Response {
    serve(&s, Scope::All, format, &headers).await
}

async fn tag_feed(
    State(s): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((tag, ext)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found();
    };
    if s.config.feeds_tagged(tag).next().is_none() {
        return not_found();
    }
    serve(&s, Scope::Tag(tag.to_string()), format, &headers).await
}

async fn river_feed(
    State(s): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((name, ext)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found();
    };
    if s.config.river(name).is_none() {
        return not_found();
    }
    serve(&s, Scope::River(name.to_string()), format, &headers).await
}

async fn serve(s: &AppState, scope: Scope, format: Format, headers: &HeaderMap) -> Response {
    let rendered = match s.outputs.get(&scope, format) {
        Some(r) => r,
        None => {
            let store = s.store.clone();
            let config = s.config.clone();
            let sc = scope.clone();
            let r = tokio::task::spawn_blocking(move || {
                render_from_store(&store, &config, &sc, format, config.output.max_items)
            })
            .await;
            match r {
                Ok(Ok(r)) => s.outputs.put(scope, format, r),
                Ok(Err(e)) => {
                    warn!(error = %e, "cannot render");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store\n")
                        .into_response();
                }
                Err(e) => {
                    warn!(error = %e, "render task failed");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
    };
    respond(&rendered, headers)
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Whether the client's validators say it already has these bytes.
fn not_modified(r: &Rendered, headers: &HeaderMap) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        // If-None-Match wins over If-Modified-Since when present (RFC 9110).
        return inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t == r.etag || t.strip_prefix("W/") == Some(r.etag.as_str())
        });
    }
    if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
    {
        return r.last_modified.timestamp() <= ims.timestamp();
    }
    false
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let zero_q = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_q
        })
}

fn respond(r: &Rendered, headers: &HeaderMap) -> Response {
    let mut h = HeaderMap::new();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(&mut h, header::ETAG, &r.etag);
    set(&mut h, header::LAST_MODIFIED, &http_date(r.last_modified));
    set(&mut h, header::VARY, "Accept-Encoding");
    set(&mut h, header::CACHE_CONTROL, "public, max-age=60");
    if not_modified(r, headers) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    set(&mut h, header::CONTENT_TYPE, r.content_type);
    if accepts_gzip(headers) && !r.gzip.is_empty() {
        set(&mut h, header::CONTENT_ENCODING, "gzip");
        (StatusCode::OK, h, r.gzip.clone()).into_response()
    } else {
        (StatusCode::OK, h, r.body.clone()).into_response()
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn opml(State(s): State<AppState>) -> Response {
    let body = crate::publish::opml(&s.config);
    ([(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")], body).into_response()
}

/// With `server.admin_token` set, the request must carry it as a bearer
/// token. Compared in constant time so the token cannot be guessed byte by
/// byte from response times.
fn authorized(s: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = &s.config.server.admin_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (given.as_bytes(), token.0.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= (*x ^ a.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0 && !b.is_empty()
}

async fn status(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "this endpoint needs the admin token\n",
        )
            .into_response();
    }
    let store = s.store.clone();
    let config = s.config.clone();
    let states = tokio::task::spawn_blocking(move || store.feed_states()).await;
    let states = match states {
        Ok(Ok(v)) => v,
        _ => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let now = Utc::now();
    let feeds: Vec<_> = config
        .feeds
        .iter()
        .map(|f| {
            let st = states
                .iter()
                .find(|(u, _)| u == f.key())
                .map(|(_, s)| s.clone());
            let next = crate::scheduler::next_due(&config, f, st.as_ref(), now);
            let (interval, why) = crate::scheduler::effective_interval(&config, f, st.as_ref());
            let st = st.unwrap_or_default();
            let share_304 = (st.polls > 0).then(|| st.not_modified as f64 / st.polls as f64);
            json!({
                "url": redact_url(&f.url),
                "title": f.title.clone().or(st.title.clone()),
                "enabled": f.enabled,
                "tags": f.tags,
                "last_poll": st.last_poll,
                "last_success": st.last_success,
                "last_status": st.last_status,
                "last_error": st.last_error,
                "consecutive_failures": st.consecutive_failures,
                "retry_after": st.retry_after,
                "next_poll": if f.enabled && !st.gone { Some(next) } else { None },
                "interval_secs": interval.as_secs(),
                "interval_reason": why,
                "gone": st.gone,
                "moved_to": st.moved_to.as_deref().map(crate::config::redact_str),
                "items": st.items,
                "polls": st.polls,
                "not_modified_share": share_304,
                "server_sends_validators": st.etag.is_some() || st.last_modified.is_some(),
            })
        })
        .collect();
    axum::Json(json!({ "feeds": feeds })).into_response()
}
