//! The admin endpoints, `/status` (each feed's health as JSON) and
//! `/metrics` (Prometheus text), behind one check of `server.admin_token`
//! laid over both routes: an admin endpoint added here cannot be served
//! without it.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::json;

use crate::ingest::health::FeedHealth;
use crate::server::state::AppState;

/// `/status` and `/metrics`, each request checked by `admin_only` first.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state, admin_only))
}

/// Lets a request through to an admin endpoint only with the admin token
/// (when one is set).
async fn admin_only(
    State(s): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if !authorized(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "this endpoint needs the admin token\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// With `server.admin_token` set, the request must carry it as a bearer
/// token. Compared in constant time so the token cannot be guessed byte by
/// byte from response times.
pub fn authorized(s: &AppState, headers: &HeaderMap) -> bool {
    let config = s.config.borrow().clone();
    let Some(token) = &config.server.admin_token else {
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

/// `GET /status`: each feed's health, and the network outage if any.
async fn status(State(s): State<AppState>) -> Response {
    let Some(store) = s.store.get() else {
        return crate::server::opening();
    };
    let config = s.config.borrow().clone();
    let states = tokio::task::spawn_blocking(move || store.feed_states()).await;
    let states = match states {
        Ok(Ok(v)) => v,
        _ => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let now = Utc::now();
    let feeds: Vec<_> = FeedHealth::join(&config, states)
        .iter()
        .map(|h| {
            let f = h.feed;
            let polled = h.polled();
            let next = polled.then(|| s.schedule.plan(f.key(), || h.next_due(now)));
            let next_reason = match s.schedule.outage_retry(f.key()) {
                Some(at) => format!(
                    "no network: retried with every other feed at {}",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                None => h.next_poll_reason(now),
            };
            let (interval, why) = h.interval();
            let st = &h.state;
            json!({
                "url": h.shown_url(),
                "title": h.title(),
                "enabled": f.enabled,
                "tags": f.tags,
                "last_poll": st.last_poll,
                "last_success": st.last_success,
                "last_status": st.last_status,
                "last_error": st.last_error,
                "consecutive_failures": st.consecutive_failures,
                "retry_after": st.retry_after,
                "next_poll": next,
                "interval_secs": interval.as_secs(),
                "interval_reason": why,
                "next_poll_reason": polled.then_some(next_reason),
                "gone": st.gone,
                "moved_to": st.moved_to.as_deref().map(crate::config::redact_str),
                "credentials_withheld": h.credentials_withheld(),
                "items": st.items,
                "polls": st.polls,
                "not_modified_share": h.not_modified_share(),
                "server_sends_validators": h.sends_validators(),
                "retry_after_honoured": st.retry_afters,
            })
        })
        .collect();
    // `network` is set while every feed fails to connect (an outage, not
    // the feeds' fault): since when, the error, and the next retry.
    let network = s.schedule.outage();
    axum::Json(json!({ "network": network, "feeds": feeds })).into_response()
}

/// `GET /metrics`: the daemon's poll counters, each feed's figures and the
/// store's size.
async fn metrics(State(s): State<AppState>) -> Response {
    let config = s.config.borrow().clone();
    let Some(store) = s.store.get() else {
        return crate::server::opening();
    };
    let gathered = tokio::task::spawn_blocking(move || {
        let states = store.feed_states()?;
        let bytes = store.size_on_disk()?;
        Ok::<_, crate::store::StoreError>((states, store.item_count(), bytes))
    })
    .await;
    match gathered {
        Ok(Ok((states, items, bytes))) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            crate::server::metrics::render(
                &s.counters.tally(),
                &FeedHealth::join(&config, states),
                items,
                bytes,
            ),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the store for /metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store\n").into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn both_admin_endpoints_need_the_token_and_say_so_alike() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\nadmin_token = \"t0ken-for-admins\"\n[storage]\npath = {:?}\n\
             [[feed]]\nurl = \"https://a.example/f\"\n",
            dir.path().join("data").display().to_string()
        );
        let cfg = Arc::new(crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap());
        let (_keep, live) = tokio::sync::watch::channel(cfg.clone());
        let state = AppState {
            config: live,
            store: crate::server::StoreSlot::ready(
                crate::store::Store::open(&cfg.storage.path, "test").unwrap(),
            ),
            outputs: Arc::default(),
            schedule: Arc::default(),
            counters: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = routes(state.clone()).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        crate::ingest::fetch::install_tls_provider();
        let client = reqwest::Client::new();
        for path in ["/status", "/metrics"] {
            let url = format!("http://{addr}{path}");
            for given in [None, Some("t0ken-for-admin"), Some("t0ken-for-adminsx")] {
                let mut req = client.get(&url);
                if let Some(t) = given {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 401, "{path} with {given:?}");
                assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
                assert_eq!(
                    r.text().await.unwrap(),
                    "this endpoint needs the admin token\n"
                );
            }
            let r = client
                .get(&url)
                .bearer_auth("t0ken-for-admins")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert!(r.text().await.unwrap().contains("a.example"), "{path}");
        }
    }
}
