//! Counters of the polls one poller has made: fetch durations, responses
//! by status, items ingested, duplicates merged. The daemon makes one set
//! and hands it to its poller and to the server, which shows it on
//! `/metrics`; a poller made elsewhere (`poll-once`, a test) counts into a
//! set of its own, so two daemons in one process never mix their figures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::ingest::report::{Outcome, Report};

/// Upper bounds (seconds) of the fetch duration histogram buckets.
pub const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The counters of a poller's polls, written from many polls at once.
#[derive(Debug, Default)]
pub struct Counters {
    /// Per bucket of `BUCKETS`, then +Inf; not cumulative (summed on output).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_micros: AtomicU64,
    /// Responses by HTTP status; status 0 counts polls that got none.
    statuses: Mutex<BTreeMap<u16, u64>>,
    items_new: AtomicU64,
    items_updated: AtomicU64,
    dup_seen_again: AtomicU64,
    dup_same_story: AtomicU64,
    dup_near: AtomicU64,
    items_dropped: AtomicU64,
}

/// The counters read at one moment, for showing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Polls per bucket of `BUCKETS`, then +Inf; not cumulative.
    pub buckets: [u64; BUCKETS.len() + 1],
    pub duration_micros: u64,
    /// Polls by the HTTP status of the answer; 0 counts polls that got none.
    pub statuses: BTreeMap<u16, u64>,
    pub items_new: u64,
    pub items_updated: u64,
    /// Items seen again unchanged (the same item from the same feed).
    pub dup_seen_again: u64,
    /// Items merged into a story already stored by a shared key (canonical
    /// link or exact text): another feed's, or this feed's under another
    /// identity.
    pub dup_same_story: u64,
    /// Items merged into a story already stored as a re-edited copy of it.
    pub dup_near: u64,
    /// Items that feed rules kept out of the store.
    pub items_dropped: u64,
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

    /// The counts as they stand.
    pub fn tally(&self) -> Tally {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Tally {
            buckets: std::array::from_fn(|i| load(&self.buckets[i])),
            duration_micros: load(&self.duration_micros),
            statuses: self
                .statuses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            items_new: load(&self.items_new),
            items_updated: load(&self.items_updated),
            dup_seen_again: load(&self.dup_seen_again),
            dup_same_story: load(&self.dup_same_story),
            dup_near: load(&self.dup_near),
            items_dropped: load(&self.items_dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::report::IngestStatsView;
    use crate::store::IngestStats;

    #[test]
    fn polls_are_counted_by_kind_and_skipped_ones_not_at_all() {
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
                    unchanged: 1,
                    ..IngestStats::default()
                },
            }),
        };
        c.record(&stored, Duration::from_millis(70));
        for outcome in [Outcome::Cancelled, Outcome::Deferred("410".into())] {
            c.record(
                &Report {
                    status: None,
                    outcome,
                    ..stored.clone()
                },
                Duration::from_secs(3),
            );
        }
        let t = c.tally();
        assert_eq!(t.buckets.iter().sum::<u64>(), 1);
        assert_eq!(t.buckets[1], 1);
        assert_eq!(t.duration_micros, 70_000);
        assert_eq!(t.statuses, BTreeMap::from([(200, 1)]));
        assert_eq!(
            (t.items_new, t.dup_seen_again, t.dup_same_story, t.dup_near),
            (2, 1, 1, 2)
        );
        assert_eq!(t.items_dropped, 4);
    }
}
