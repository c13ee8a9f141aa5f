//! `/metrics`: what rafid does, in the Prometheus text format (0.0.4).
//!
//! Only the rendering: the counts of the daemon's polls (fetch durations,
//! responses by status, items ingested, duplicates merged) come from its
//! poll counters; per-feed figures (last success, failures, politeness)
//! from the feed states in the store, so they survive restarts.
//!
//! The format is written by hand: it is a few lines of text per series, and
//! a metrics crate would add a registry and its dependencies for that.

use std::fmt::Write as _;

use crate::ingest::counters::{BUCKETS, Tally};
use crate::ingest::health::FeedHealth;
use crate::model::FeedState;

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

/// The whole exposition: poll counters, per-feed figures, the store.
pub fn render(
    counters: &Tally,
    feeds: &[FeedHealth],
    store_items: usize,
    store_bytes: u64,
) -> String {
    let mut o = String::new();

    header(
        &mut o,
        "rafid_fetch_duration_seconds",
        "histogram",
        "Time from request to stored items, per poll.",
    );
    let mut cumulative = 0;
    for (i, b) in BUCKETS.iter().enumerate() {
        cumulative += counters.buckets[i];
        let _ = writeln!(
            o,
            "rafid_fetch_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
        );
    }
    cumulative += counters.buckets[BUCKETS.len()];
    let _ = writeln!(
        o,
        "rafid_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        o,
        "rafid_fetch_duration_seconds_sum {}",
        counters.duration_micros as f64 / 1e6
    );
    let _ = writeln!(o, "rafid_fetch_duration_seconds_count {cumulative}");

    header(
        &mut o,
        "rafid_responses_total",
        "counter",
        "Polls by the HTTP status of the answer (0: no answer).",
    );
    for (status, n) in &counters.statuses {
        let _ = writeln!(o, "rafid_responses_total{{status=\"{status}\"}} {n}");
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
        counters.items_new
    );
    let _ = writeln!(
        o,
        "rafid_items_ingested_total{{kind=\"updated\"}} {}",
        counters.items_updated
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
        counters.dup_seen_again
    );
    let _ = writeln!(
        o,
        "rafid_duplicates_merged_total{{kind=\"same_story\"}} {}",
        counters.dup_same_story
    );
    let _ = writeln!(
        o,
        "rafid_duplicates_merged_total{{kind=\"near_duplicate\"}} {}",
        counters.dup_near
    );
    header(
        &mut o,
        "rafid_items_dropped_total",
        "counter",
        "New items that a feed's keep/drop rules kept out of the store.",
    );
    let _ = writeln!(o, "rafid_items_dropped_total {}", counters.items_dropped);

    let mut per_feed: Vec<(String, &FeedState)> = feeds
        .iter()
        .map(|h| (label(&h.shown_url()), &h.state))
        .collect();
    // Feeds whose URLs differ only in their query values look the same
    // redacted; the second and later get a number, as series must differ.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::counters::Counters;
    use crate::ingest::report::{IngestStatsView, Outcome, Report};
    use crate::store::IngestStats;
    use std::path::Path;
    use std::time::Duration;

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
        let feeds = FeedHealth::join(&cfg, vec![(cfg.feeds[0].key().into(), st)]);
        let text = render(&c.tally(), &feeds, 7, 4096);
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
        let out = render(&Tally::default(), &FeedHealth::join(&cfg, states), 0, 0);
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
