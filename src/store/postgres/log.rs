//! The log: every change to a store kept in PostgreSQL, in one order.
//!
//! A poller does not write items into tables of their own. It appends what
//! it would have done to a store (`Record`: a fetched document with the
//! feed's new state, a split, a retention run…) to `rafid_log`, and every
//! rafid process on the database applies the records, in the log's order,
//! to a replica of its own (`replica`). Same-story decisions are then made
//! once per record by the one merging code the sled store has, in the same
//! order everywhere: two pollers ingesting copies of one story at once are
//! ordered by the log, and every process serves the same bytes.
//!
//! Records are numbered under a transaction-scoped advisory lock, so that
//! the order of the numbers is the order of the commits: a reader that has
//! applied record n never meets a record below n committed later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::dedup::keys::{ItemKeys, Key};
use crate::model::{Entry, FeedState, ItemId, Source};
use crate::store::{Dropped, Priorities, Retention, StoreError};

/// The advisory lock held while a record is numbered and committed: a
/// constant of rafid's own (the bytes of "rafid-lg" as an integer).
const APPEND_LOCK: i64 = 0x7261_6669_642d_6c67;

/// Records a partition of the log holds: partition k holds records
/// k * PARTITION + 1 to (k + 1) * PARTITION. A small number in tests, so
/// that they make and drop partitions.
pub(crate) const PARTITION: i64 = if cfg!(test) { 8 } else { 100_000 };

/// The partition record `seq` goes in.
pub(crate) fn partition_of(seq: i64) -> i64 {
    (seq - 1).max(0) / PARTITION
}

/// The channel `NOTIFY` wakes the replicas on.
pub(crate) const CHANNEL: &str = "rafid_log";

/// One change to the store, as every replica applies it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Record {
    /// One fetched document and the feed's new state (`Backend::ingest_near`).
    /// The priorities in force travel with it, since the copy a merged
    /// story shows depends on them.
    Ingest {
        source: Box<Source>,
        entries: Vec<Entry>,
        keys: Vec<ItemKeys>,
        state: Box<FeedState>,
        now: DateTime<Utc>,
        near: bool,
        priorities: Priorities,
    },
    FeedState {
        feed_url: String,
        state: Box<FeedState>,
    },
    Dropped {
        feed_url: String,
        add: Vec<(Key, Dropped)>,
        remove: Vec<Key>,
        listed: Vec<Key>,
    },
    Split {
        story: ItemId,
        member: String,
        now: DateTime<Utc>,
    },
    Prune {
        policy: Retention,
        now: DateTime<Utc>,
    },
    PruneFeed {
        feed_url: String,
        max: u64,
        now: DateTime<Utc>,
    },
    /// A whole export, restored into an empty store.
    Import { export: String },
}

impl Record {
    /// JSON, LZ4-compressed: a document's text is most of a record.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let json = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        Ok(lz4_flex::compress_prepend_size(&json))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, String> {
        let json = lz4_flex::decompress_size_prepended(bytes).map_err(|e| e.to_string())?;
        serde_json::from_slice(&json).map_err(|e| e.to_string())
    }
}

/// Appends `records` (encoded), in order, as written by `poller`, wakes the
/// replicas, and returns the records' numbers. `made` is the highest
/// partition this caller knows exists, kept up to date.
pub(crate) async fn append(
    client: &mut Client,
    database: &str,
    poller: &str,
    records: &[&[u8]],
    made: &mut i64,
) -> Result<Vec<i64>, StoreError> {
    let failed = |doing| super::failed(database, doing);
    let tx = client
        .transaction()
        .await
        .map_err(failed("starting a log append"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
        .await
        .map_err(failed("waiting for another append to the log"))?;
    let last: i64 = tx
        .query_one("SELECT coalesce(max(seq), 0) FROM rafid_log", &[])
        .await
        .map_err(failed("reading the log's end"))?
        .get(0);
    let need = partition_of(last + records.len() as i64);
    for k in partition_of(last + 1).max(*made + 1)..=need {
        let name = format!("rafid_log_{k}");
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF rafid_log
                 FOR VALUES FROM ({}) TO ({});
             ALTER TABLE {name} ALTER COLUMN record SET STORAGE EXTERNAL;",
            k * PARTITION + 1,
            (k + 1) * PARTITION + 1
        ))
        .await
        .map_err(failed("making a partition of the log"))?;
    }
    let mut seqs: Vec<i64> = tx
        .query(
            "INSERT INTO rafid_log (seq, poller, record)
             SELECT $3 + r.n, $1, r.record
             FROM unnest($2::bytea[]) WITH ORDINALITY AS r(record, n)
             RETURNING seq",
            &[&poller, &records, &last],
        )
        .await
        .map_err(failed("appending to the log"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Numbered in the order given: sorted, the numbers are the records'.
    seqs.sort_unstable();
    let last = seqs.last().copied().unwrap_or_default();
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last.to_string()])
        .await
        .map_err(failed("waking the replicas"))?;
    tx.commit()
        .await
        .map_err(failed("committing a log append"))?;
    *made = (*made).max(need);
    Ok(seqs)
}

/// Up to `limit` records after `after`, in order: (number, encoded record),
/// without the bytes of those in `known` (the reader has them).
pub(crate) async fn read_after(
    client: &Client,
    database: &str,
    after: i64,
    limit: i64,
    known: &[i64],
) -> Result<Vec<(i64, Option<Vec<u8>>)>, StoreError> {
    let rows = client
        .query(
            "SELECT seq, CASE WHEN seq = ANY($3) THEN NULL ELSE record END
             FROM rafid_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit, &known],
        )
        .await
        .map_err(super::failed(database, "reading the log"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The store's identity the database keeps: its id and when it was made.
pub(crate) async fn identity(
    client: &Client,
    database: &str,
) -> Result<([u8; 16], DateTime<Utc>), StoreError> {
    let rows = client
        .query("SELECT name, value FROM rafid_meta", &[])
        .await
        .map_err(super::failed(database, "reading the store's identity"))?;
    let damaged = |detail: String| StoreError::DatabaseRecord {
        database: database.to_string(),
        table: "rafid_meta",
        detail,
    };
    let value = |name: &str| {
        rows.iter()
            .find(|r| r.get::<_, &str>(0) == name)
            .map(|r| r.get::<_, String>(1))
            .ok_or_else(|| damaged(format!("no {name}")))
    };
    let id = crate::model::unhex(&value("store_id")?)
        .and_then(|v| <[u8; 16]>::try_from(v).ok())
        .ok_or_else(|| damaged("store_id is not 32 hex digits".into()))?;
    let created = DateTime::parse_from_rfc3339(&value("created")?)
        .map_err(|e| damaged(format!("created: {e}")))?
        .with_timezone(&Utc);
    Ok((id, created))
}
