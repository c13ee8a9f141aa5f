//! The HTTP server: hands out the rendered feeds and the river page as
//! cached bytes, answers conditional requests (and HEAD), compresses for
//! clients that ask (brotli or gzip, made once per change), serves older
//! pages by cursor. The router and the serving live here; `/status` and
//! `/metrics` in [`admin`], the handlers' shared state in [`state`].

pub mod admin;
pub mod guard;
pub mod metrics;
pub mod state;

pub use state::{AppState, StoreSlot};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::publish::{Cursor, Format, Rendered, Scope};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|s, q, h| feed(s, q, h, Format::Html)))
        .route("/feed.atom", get(|s, q, h| feed(s, q, h, Format::Atom)))
        .route("/feed.rss", get(|s, q, h| feed(s, q, h, Format::Rss)))
        .route("/feed.json", get(|s, q, h| feed(s, q, h, Format::Json)))
        // axum cannot match `{tag}.atom`: the file name is split here.
        .route("/tags/{file}", get(tag_feed))
        .route("/rivers/{file}", get(river_feed))
        .route("/opml", get(opml))
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(crate::server::admin::routes(state.clone()))
        .with_state(state)
}

/// Serves until `token` is cancelled, then lets in-flight requests finish.
/// Connections are bounded and timed by `server.max_connections`,
/// `read_timeout` and `idle_timeout` (see `guard`).
pub async fn run(listener: TcpListener, state: AppState, token: CancellationToken) {
    // Limits and timeouts are read once: changing them takes a restart.
    let server_config = state.config.borrow().server.clone();
    let listener = crate::server::guard::GuardedListener::new(listener, &server_config);
    let app = router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await;
    if let Err(e) = result {
        warn!(error = %e, "HTTP server stopped");
    }
}

/// The query of a paged output: `?before=CURSOR` asks for the page after
/// the item the cursor names; `?token=` opens a guarded scope. Other
/// parameters (cache busters) are ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    token: Option<String>,
}

/// Whether a request may read an output guarded by `token` (if any): it
/// gives the token as `?token=` or as a bearer token.
fn opens(token: Option<&crate::config::Secret>, given: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else { return true };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    [given, bearer]
        .into_iter()
        .flatten()
        .any(|g| same_secret(g, &token.0))
}

/// Compares a given secret with the real one in constant time, so that
/// response times tell nothing of how much of a guess was right. Both are
/// hashed first: the comparison is then of equal lengths, and the time does
/// not tell the secret's length either.
fn same_secret(given: &str, secret: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(secret.as_bytes()),
    );
    !secret.is_empty() && bool::from(a.as_slice().ct_eq(b.as_slice()))
}

fn unauthorized(what: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"rafid\"")],
        format!("{what} needs its token: add ?token=… to the URL\n"),
    )
        .into_response()
}

async fn feed(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    format: Format,
) -> Response {
    serve(&s, Scope::All, format, q, &headers).await
}

async fn tag_feed(
    State(s): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((tag, ext)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found();
    };
    // Tags fold case: /tags/News.atom is the feed of the tag `news`.
    let Some(tag) = s.config.borrow().tag(tag).map(str::to_string) else {
        return not_found();
    };
    serve(&s, Scope::Tag(tag), format, q, &headers).await
}

async fn river_feed(
    State(s): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some((name, ext)) = file.rsplit_once('.') else {
        return not_found();
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found();
    };
    if s.config.borrow().river(name).is_none() {
        return not_found();
    }
    serve(&s, Scope::River(name.to_string()), format, q, &headers).await
}

async fn serve(
    s: &AppState,
    scope: Scope,
    format: Format,
    q: PageQuery,
    headers: &HeaderMap,
) -> Response {
    let config = s.config.borrow().clone();
    if !opens(
        crate::publish::token_of(&config, &scope),
        q.token.as_deref(),
        headers,
    ) {
        return unauthorized("this feed");
    }
    let before = match q.before.as_deref() {
        None => None,
        Some(c) => match Cursor::parse(c) {
            Some(c) => Some(c),
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    "before: not a page cursor; follow the feed's rel=\"next\" link\n",
                )
                    .into_response();
            }
        },
    };
    // WebSub discovery by HTTP header too, as the spec asks of publishers
    // (not for a guarded scope, which no hub can read).
    let public = crate::publish::is_public(&config, &scope);
    let link = config.websub.hub.as_ref().filter(|_| public).map(|hub| {
        let mut this = crate::publish::feed_url(&config, &scope, format);
        if let Some(c) = before {
            this = format!("{this}?before={c}");
        }
        format!("<{hub}>; rel=\"hub\", <{this}>; rel=\"self\"")
    });
    let Some(store) = s.store.get() else {
        // The store is still opening: what the last run saved, if it holds
        // this page, else a request to come back.
        let saved = match before {
            None => s.outputs.get(&scope, format),
            Some(_) => None,
        };
        return match saved {
            Some(r) => respond(&r, headers, link.as_deref(), public),
            None => opening(),
        };
    };
    let render = || async {
        let config = s.config.borrow().clone();
        let sc = scope.clone();
        let outputs = s.outputs.clone();
        let r = tokio::task::spawn_blocking(move || {
            let limit = config.output.max_items;
            outputs.render_page_from_store(&store, &config, &sc, format, limit, before)
        })
        .await;
        match r {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(format!("cannot render: {e}")),
            Err(e) => Err(format!("render task failed: {e}")),
        }
    };
    let rendered = match s
        .outputs
        .get_or_render(&scope, format, before, render)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "cannot render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store\n").into_response();
        }
    };
    respond(&rendered, headers, link.as_deref(), public)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The encoding the client prefers among those we have (RFC 9110
/// `Accept-Encoding` with q-values): brotli over gzip at equal weight,
/// identity when neither is acceptable.
fn pick_encoding(headers: &HeaderMap) -> Encoding {
    let (mut br, mut gzip, mut star): (Option<f32>, Option<f32>, Option<f32>) = (None, None, None);
    for e in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = e.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
            })
            .next()
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case("br") {
            br = Some(q);
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if name == "*" {
            star = Some(q);
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// `public`: whether anyone may read the output. A guarded one is marked
/// `private`, so that no shared cache keeps it for requests without the
/// token (one given as a bearer token is not in the URL a cache keys on).
fn respond(r: &Rendered, headers: &HeaderMap, link: Option<&str>, public: bool) -> Response {
    let mut h = HeaderMap::new();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(&mut h, header::ETAG, &r.etag);
    set(&mut h, header::LAST_MODIFIED, &http_date(r.last_modified));
    set(&mut h, header::VARY, "Accept-Encoding");
    let cache_control = if public {
        "public, max-age=60"
    } else {
        "private, max-age=60"
    };
    set(&mut h, header::CACHE_CONTROL, cache_control);
    if let Some(l) = link {
        set(&mut h, header::LINK, l);
    }
    if not_modified(r, headers) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    set(&mut h, header::CONTENT_TYPE, r.content_type);
    set(&mut h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if r.content_type.starts_with("text/html") {
        set(
            &mut h,
            header::CONTENT_SECURITY_POLICY,
            crate::publish::html::CONTENT_SECURITY_POLICY,
        );
        set(
            &mut h,
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        );
    }
    let body = match pick_encoding(headers) {
        Encoding::Brotli if !r.br.is_empty() => {
            set(&mut h, header::CONTENT_ENCODING, "br");
            r.br.clone()
        }
        Encoding::Brotli | Encoding::Gzip if !r.gzip.is_empty() => {
            set(&mut h, header::CONTENT_ENCODING, "gzip");
            r.gzip.clone()
        }
        _ => r.body.clone(),
    };
    (StatusCode::OK, h, body).into_response()
}

/// The answer to a request that needs the store while it opens.
pub(crate) fn opening() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "2")],
        "the store is opening; try again in a moment\n",
    )
        .into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The subscription list: feed URLs with their query values and user info
/// redacted, unless `server.admin_token` is set and the request carries it.
/// Behind `[output] token`, only for those who hold it. An untitled feed is
/// named by its own title, as its polls found it.
async fn opml(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let config = s.config.borrow().clone();
    if !opens(config.output.token.as_ref(), q.token.as_deref(), &headers) {
        return unauthorized("the subscription list");
    }
    let configured =
        config.server.admin_token.is_some() && crate::server::admin::authorized(&s, &headers);
    let Some(store) = s.store.get() else {
        return opening();
    };
    let own = tokio::task::spawn_blocking(move || crate::publish::own_titles(&store))
        .await
        .unwrap_or_default();
    let body = crate::publish::opml_with(&config, &own, configured);
    let cache = if configured || config.output.token.is_some() {
        "private, no-store"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "text/x-opml; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
            (header::VARY, "Authorization"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Encoding {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        pick_encoding(&h)
    }

    #[test]
    fn encoding_follows_the_clients_weights() {
        assert_eq!(accept("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(accept("gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=0.5, gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(accept("*"), Encoding::Brotli);
        assert_eq!(accept("*;q=0.1, br;q=0"), Encoding::Gzip);
        assert_eq!(accept("identity"), Encoding::Identity);
        assert_eq!(pick_encoding(&HeaderMap::new()), Encoding::Identity);
    }
}
