//! What one poll did: its outcome and the figures of what it stored. Read
//! by the scheduler (did the store change?), `poll-once`'s summary and the
//! poll counters, none of which needs the poll itself.

use crate::store::IngestStats;

/// How one poll ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 304 Not Modified: nothing parsed.
    NotModified,
    /// 200 with the same bytes as last time: nothing parsed.
    Unchanged,
    /// A document was parsed and stored.
    Stored(IngestStatsView),
    /// Not polled, and why: the server asked rafid to wait (Retry-After),
    /// or said the feed is gone (410).
    Deferred(String),
    Failed(String),
    /// The poll was stopped by shutdown before it finished.
    Cancelled,
}

/// `IngestStats` plus the number of items in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestStatsView {
    pub items: usize,
    pub stats: IngestStats,
    /// Items the feed's rules kept out of the store.
    pub dropped: usize,
    /// Older items of the feed pruned after this ingest to keep it within
    /// `storage.max_items_per_feed`.
    pub pruned: usize,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// The feed's URL as shown to others (secrets redacted).
    pub feed: String,
    pub status: Option<u16>,
    pub outcome: Outcome,
}

impl Report {
    pub fn changed_store(&self) -> bool {
        matches!(&self.outcome, Outcome::Stored(v) if v.stats.new + v.stats.updated + v.stats.merged > 0)
    }
}
