//! `/metrics`: what rafid does, in the Prometheus text format (0.0.4).
//!
//! Counters of the polls made by this process (fetch durations, responses
//! by status, items ingested, duplicates merged) live here; per-feed figures
//! (last success, failures, politeness) come from the feed states in the
//! store, so they survive restarts.
//!
//! The format is written by hand: it is a few lines of text per series, and
//! a metrics crate would add a registry and its dependencies for that.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::{Config, redact_url};
use crate::ingest::poll::{Outcome, Report};
use crate::model::FeedState;
use crate::server::AppState;

/// Upper bounds (seconds) of the fetch duration histogram buckets.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The counters of this process's polls.
#[derive(Default)]
pub struct Counters {
    /// Per bucket of `BUCKETS`, then +Inf; not cumulative (summed on output).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_micros: AtomicU64,
    /// Responses by HTTP status; status 0 counts polls that got none.
    statuses: Mutex<BTreeMap<u16, u64>>,
    items_new: AtomicU64,
    items_updated: AtomicU64,
    /// Items seen again unchanged (the same item from the same feed).
    dup_seen_again: AtomicU64,
    /// Items merged into a story already stored by a shared key (canonical
    /// link or exact text): another feed's, or this feed's under another
    /// identity.
    dup_same_story: AtomicU64,
    /// Items merged into a story already stored as a re-edited copy of it.
    dup_near: AtomicU64,
    /// Items that feed rules kept out of the store.
    items_dropped: AtomicU64,
}

/// The process's counters. One set per process, as the process is what
/// Prometheus scrapes; tests that run several daemons see their sum.
pub fn global() -> &'static Counters {
    static COUNTERS: std::sync::OnceLock<Counters> = std::sync::OnceLock::new();
    COUNTERS.get_or_init(Counters::default)
}

impl Counters {
    /// Counts one finished poll. Polls stopped by shutdown or skipped are
    /// not requests and are not counted.
    pub fn record(&self, report: &Report, took: Duration) {
        if matches!(report.outcome, Outcome::Cancelled | Outcome::Deferred(_)) {
            return;
        }
        let secs = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.duration_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        {
            let mut s = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
            *s.entry(report.status.unwrap_or(0)).or_default() += 1;
        }
        if let Outcome::Stored(v) = &report.outcome {
            let st = &v.stats;
            self.items_new.fetch_add(st.new as u64, Ordering::Relaxed);
            self.items_updated
                .fetch_add(st.updated as u64, Ordering::Relaxed);
            self.dup_seen_again
                .fetch_add(st.unchanged as u64, Ordering::Relaxed);
            // `merged` counts both kinds of merge; near-duplicates are
            // reported apart.
            let exact = st.merged.saturating_sub(st.near_duplicates);
            self.dup_same_story
                .fetch_add(exact as u64, Ordering::Relaxed);
            self.dup_near
                .fetch_add(st.near_duplicates as u64, Ordering::Relaxed);
            self.items_dropped
                .fetch_add(v.dropped as u64, Ordering::Relaxed);
        }
    }
}

/// A label value with `\`, `"` and newlines escaped as the format says.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition: process counters, per-feed figures, the store.
pub fn render(
    counters: &Counters,
    config: &Config,
    states: &[(String, FeedState)],
    store_items: usize,
    store_bytes: u64,
) -> String {
    let mut o = String::new();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

    header(
        &mut o,
        "rafid_fetch_duration_seconds",
        "histogram",
        "Time from request to stored items, per poll.",
    );
    let mut cumulative = 0;
    for (i, b) in BUCKETS.iter().enumerate() {
        cumulative += load(&counters.buckets[i]);
        let _ = writeln!(
            o,
            "rafid_fetch_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
        );
    }
    cumulative += load(&counters.buckets[BUCKETS.len()]);
    let _ = writeln!(
        o,
        "rafid_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        o,
        "rafid_fetch_duration_seconds_sum {}",
        load(&counters.duration_micros) as f64 / 1e6
    );
    let _ = writeln!(o, "rafid_fetch_duration_seconds_count {cumulative}");

    header(
        &mut o,
        "rafid_responses_total",
        "counter",
        "Polls by the HTTP status of the answer (0: no answer).",
    );
    {
        let s = counters.statuses.lock().unwrap_or_else(|p| p.into_inner());
        for (status, n) in s.iter() {
            let _ = writeln!(o, "rafid_responses_total{{status=\"{status}\"}} {n}");
        }
    }

    header(
        &mut o,
        "rafid_items_ingested_total",
        "counter",
        "Items stored, new or updated.",
    );
    let _ = writeln!(
        o,
        "rafid_items_ingested_total{{kind=\"new\"}} {}",
        load(&counters.items_new)
    );
    let _ = writeln!(
        o,
        "rafid_items_ingested_total{{kind=\"updated\"}} {}",
        load(&counters.items_updated)
    );
    header(
        &mut o,
        "rafid_duplicates_merged_total",
        "counter",
        "Items recognised as already stored, by kind.",
    );
    let _ = writeln!(
        o,
        "rafid_duplicates_merged_total{{kind=\"seen_again\"}} {}",
        load(&counters.dup_seen_again)
    );
    let _ = writeln!(
        o,
        "rafid_duplicates_merged_total{{kind=\"same_story\"}} {}",
        load(&counters.dup_same_story)
    );
    let _ = writeln!(
        o,
        "rafid_duplicates_merged_total{{kind=\"near_duplicate\"}} {}",
        load(&counters.dup_near)
    );
    header(
        &mut o,
        "rafid_items_dropped_total",
        "counter",
        "New items that a feed's keep/drop rules kept out of the store.",
    );
    let _ = writeln!(
        o,
        "rafid_items_dropped_total {}",
        load(&counters.items_dropped)
    );

    let per_feed: Vec<(String, FeedState)> = config
        .feeds
        .iter()
        .map(|f| {
            let st = states
                .iter()
                .find(|(k, _)| k == f.key())
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            (label(&redact_url(&f.url)), st)
        })
        .collect();
    // Feeds whose URLs differ only in their query values look the same
    // redacted; the second and later get a number, as series must differ.
    let mut per_feed = per_feed;
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (l, _) in per_feed.iter_mut() {
        let n = seen.entry(l.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            *l = format!("{l} #{n}");
        }
    }
    type Field = fn(&FeedState) -> Option<f64>;
    let series: [(&str, &str, &str, Field); 7] = [
        (
            "rafid_feed_last_success_timestamp_seconds",
            "gauge",
            "When the feed was last fetched without error (Unix time).",
            |s| s.last_success.map(|t| t.timestamp() as f64),
        ),
        (
            "rafid_feed_consecutive_failures",
            "gauge",
            "Failed polls in a row.",
            |s| Some(s.consecutive_failures as f64),
        ),
        (
            "rafid_feed_items",
            "gauge",
            "Items the feed has contributed.",
            |s| Some(s.items as f64),
        ),
        (
            "rafid_feed_polls_total",
            "counter",
            "Requests made to the feed.",
            |s| Some(s.polls as f64),
        ),
        (
            "rafid_feed_not_modified_total",
            "counter",
            "Requests the server answered 304 Not Modified.",
            |s| Some(s.not_modified as f64),
        ),
        (
            "rafid_feed_retry_after_total",
            "counter",
            "Retry-After answers received and honoured.",
            |s| Some(s.retry_afters as f64),
        ),
        (
            "rafid_feed_sends_validators",
            "gauge",
            "1 when the server sends ETag or Last-Modified.",
            |s| Some(u8::from(s.etag.is_some() || s.last_modified.is_some()) as f64),
        ),
    ];
    for (name, kind, help, field) in series {
        header(&mut o, name, kind, help);
        for (feed, st) in &per_feed {
            if let Some(v) = field(st) {
                let _ = writeln!(o, "{name}{{feed=\"{feed}\"}} {v}");
            }
        }
    }

    header(&mut o, "rafid_store_items", "gauge", "Items in the store.");
    let _ = writeln!(o, "rafid_store_items {store_items}");
    header(
        &mut o,
        "rafid_store_size_bytes",
        "gauge",
        "Bytes the store takes on disk.",
    );
    let _ = writeln!(o, "rafid_store_size_bytes {store_bytes}");
    o
}

/// `GET /metrics`, guarded by the admin token like `/status`.
pub async fn handler(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !crate::server::authorized(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "this endpoint needs the admin token\n",
        )
            .into_response();
    }
    let config = s.config.borrow().clone();
    let store = s.store.clone();
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
            render(global(), &config, &states, items, bytes),
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
    use crate::ingest::poll::IngestStatsView;
    use crate::store::IngestStats;
    use std::path::Path;

    #[test]
    fn exposition_counts_polls_and_feeds() {
        let c = Counters::default();
        let stored = Report {
            feed: "https://a.example/f".into(),
            status: Some(200),
            outcome: Outcome::Stored(IngestStatsView {
                items: 3,
                dropped: 4,
                pruned: 0,
                stats: IngestStats {
                    new: 2,
                    merged: 3,
                    near_duplicates: 2,
                    ..IngestStats::default()
                },
            }),
        };
        c.record(&stored, Duration::from_millis(70));
        c.record(
            &Report {
                status: Some(304),
                outcome: Outcome::NotModified,
                ..stored.clone()
            },
            Duration::from_secs(3),
        );
        c.record(
            &Report {
                status: None,
                outcome: Outcome::Cancelled,
                ..stored.clone()
            },
            Duration::from_secs(3),
        );
        let cfg = crate::config::parse(
            Path::new("t.toml"),
            "[[feed]]\nurl = \"https://a.example/f?token=s3cret\"\n",
        )
        .unwrap();
        let st = FeedState {
            polls: 4,
            not_modified: 3,
            consecutive_failures: 1,
            ..FeedState::default()
        };
        let text = render(&c, &cfg, &[(cfg.feeds[0].key().into(), st)], 7, 4096);
        for line in [
            "rafid_fetch_duration_seconds_bucket{le=\"0.05\"} 0",
            "rafid_fetch_duration_seconds_bucket{le=\"0.1\"} 1",
            "rafid_fetch_duration_seconds_bucket{le=\"5\"} 2",
            "rafid_fetch_duration_seconds_bucket{le=\"+Inf\"} 2",
            "rafid_fetch_duration_seconds_count 2",
            "rafid_responses_total{status=\"200\"} 1",
            "rafid_responses_total{status=\"304\"} 1",
            "rafid_items_ingested_total{kind=\"new\"} 2",
            "rafid_duplicates_merged_total{kind=\"same_story\"} 1",
            "rafid_duplicates_merged_total{kind=\"near_duplicate\"} 2",
            "rafid_items_dropped_total 4",
            "rafid_feed_not_modified_total{feed=\"https://a.example/f?token=redacted\"} 3",
            "rafid_feed_consecutive_failures{feed=\"https://a.example/f?token=redacted\"} 1",
            "rafid_store_items 7",
            "rafid_store_size_bytes 4096",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("s3cret"));
        // Never polled successfully: no timestamp series for it.
        assert!(!text.contains("rafid_feed_last_success_timestamp_seconds{"));
    }

    #[test]
    fn feed_labels_carry_no_query_value() {
        let names = ["client_secret", "pwd", "jwt", "code", "hash", "k", "x-auth"];
        let mut text = String::new();
        for n in names {
            text.push_str(&format!(
                "[[feed]]\nurl = \"https://me:pw@a.example/f?{n}=s3cr3t-{n}\"\n"
            ));
        }
        // Two feeds the same but for a query value stay two series.
        text.push_str("[[feed]]\nurl = \"https://you:pw@a.example/f?k=s3cr3t-other\"\n");
        let cfg = crate::config::parse(Path::new("t.toml"), &text).unwrap();
        let states: Vec<_> = cfg
            .feeds
            .iter()
            .map(|f| (f.key().to_string(), FeedState::default()))
            .collect();
        let out = render(&Counters::default(), &cfg, &states, 0, 0);
        assert!(!out.contains("s3cr3t") && !out.contains(":pw@"), "{out}");
        for n in names {
            assert!(out.contains(&format!("f?{n}=redacted")), "{n}: {out}");
        }
        assert!(
            out.contains("rafid_feed_items{feed=\"https://redacted@a.example/f?k=redacted #2\"} 0"),
            "{out}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
