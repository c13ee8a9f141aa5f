//! The store: the only module that knows sled and PostgreSQL.
//!
//! The rest of rafid holds a `Store`, a handle on a `Backend` (`backend`),
//! and does not know which backend holds the records: the sled store
//! (`SledStore`, described below; `backend_sled` makes it one), or the
//! PostgreSQL store (`postgres`), a log of changes in the database that
//! every process applies to a `SledStore` of its own. `shared` is what
//! pollers on a shared store coordinate through.
//!
//! Files: `open` (opening, the lock, the schema upgrade), `codec` (how an
//! item is packed into a value), `ingest` (the
//! transaction that stores a fetched document), `query` (reads in time
//! order); the other modules each keep one kind of record (see the table).
//!
//! Layout of the state directory (`storage.path`):
//! - `store/` — the sled database;
//! - `rafid.pid` — JSON naming the process that holds the store, written
//!   after sled's lock is taken, so a second process can say who holds it.
//!
//! Trees, keys and values (schema version 4):
//!
//! | tree      | key                                          | value                         |
//! |-----------|----------------------------------------------|-------------------------------|
//! | `meta`    | `schema_version`                             | decimal ASCII, `4`            |
//! | `meta`    | `store_id`                                   | 16 random-ish bytes           |
//! | `meta`    | `created`                                    | when the store was created (or first opened by a rafid that records it): RFC 3339 |
//! | `items`   | item id (16 bytes; see below)                | `model::Item` as JSON, each source with its outlet's copy, LZ4-compressed (`codec`) |
//! | `keys`    | kind byte (`L` local, `K` link, `T` text) + 16 hash bytes | item id (16 bytes) |
//! | `by_time` | sort time (8 bytes, ms since epoch, sign bit flipped, big-endian) + item id | empty |
//! | `feeds`   | the feed's configured URL (UTF-8)            | `model::FeedState` as JSON    |
//! | `by_feed` | SHA-256 of a source feed's URL (16 bytes) + the `by_time` key | empty |
//! | `seen`    | item id of a pruned item                     | `Seen` as JSON: its keys and the feeds still listing it |
//! | `seen_by_feed` | SHA-256 of the feed URL (16 bytes) + item id | empty                    |
//! | `dropped` | SHA-256 of the feed URL (16 bytes) + the item's local key (17 bytes) | `dropped::Dropped` as JSON: the rule that dropped it |
//! | `splits`  | story's item id (16 bytes) + SHA-256 of the member's feed URL (16 bytes) | `split::Split` as JSON: a member taken out of the story, never merged into it again |
//!
//! Schema history: version 1 kept only the text an item shows; version 2
//! keeps every member's own copy (`model::OutletCopy`) and adds `splits`;
//! version 3 compresses items (a third of the bytes, written and rewritten
//! by sled). Version 4 stores a new item under an id that begins with a
//! sequence number (`ingest::next_seq`), so new items are appended to
//! `items` instead of landing on random pages of it; the id the outputs
//! publish, the digest of the item's local key as before, is kept in the
//! item (`Item::uid`). Items stored before keep their ids, which are both.
//! An older store is upgraded when it is opened (see
//! `open::upgrade_items`); the export format is the same for versions 2
//! to 4 (version 4's items may carry a `uid`).
//!
//! `keyset` keeps in memory a filter of the keys `keys` may hold, so that
//! looking up a key not stored does not read sled; it is filled from the
//! tree at every open (a large store's by `fill_key_set`, after the open).
//!
//! The near-duplicate index (see `near`) has no tree: it lives in memory and
//! is rebuilt from `by_time` and `items` when an ingest first needs it.
//!
//! A pruned item (see `retention`) leaves its `keys` entries and a `seen`
//! record behind, so that a feed still listing it does not bring it back as
//! new. The record goes, with its keys, once no feed lists the item any more.
//!
//! All writes of one fetched document — its items, their index entries and
//! the feed's new state (validators included) — happen in one sled
//! transaction: after a crash the indexes agree with the items, and a feed's
//! validators never get ahead of the items they vouch for.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{FeedState, ItemId};

mod backend;
mod backend_sled;
mod backup;
mod check;
mod codec;
mod dropped;
pub mod explain;
mod ingest;
mod keyset;
mod near;
mod open;
pub mod postgres;
mod query;
mod retention;
mod shared;
mod shown;
mod split;
#[cfg(test)]
mod suite;
mod xling;

pub use backend::{Backend, Flushing, Keep, Store};
pub use backup::ImportError;
pub use dropped::{Dropped, river_scan_bound};
pub use ingest::IngestStats;
pub use near::{NearAhead, NearIndexFrom};
pub use open::open_store;
pub use retention::Retention;
pub use shared::{Claimed, HostPermit, Pollers, pollers};
pub use shown::{Priorities, Why, choose as choose_shown, links_home, same_site};
pub use split::{Split, SplitError};

use ingest::{Tx, TxResult, join, joining_copy, load, push_key, save};
use open::upgrade_item;

pub const SCHEMA_VERSION: u32 = 4;

/// The file in the state directory where the daemon keeps the outputs it
/// last rendered, to serve them at its next start while the store opens
/// (`publish::saved`). Opening the store removes it.
pub const SAVED_OUTPUTS: &str = "outputs.saved";

/// The file in the state directory where a daemon stopped cleanly keeps its
/// near-duplicate index for its next start (`near`).
pub const SAVED_NEAR_INDEX: &str = "near.index";

/// The file in the state directory where a process stopped cleanly keeps
/// the filter of the store's keys for the next open (`keyset`).
pub const SAVED_KEY_SET: &str = "keys.filter";

/// The prefixes of those files while they are written, before they are
/// renamed into place; opening the store removes any left by a crash.
pub const HALF_WRITTEN_OUTPUTS: &str = ".outputs.";
pub const HALF_WRITTEN_NEAR: &str = ".near.";
pub const HALF_WRITTEN_KEY_SET: &str = ".keys.";

/// The `meta` key of what a clean stop vouches for: the near index's
/// token, then the key filter's, then the per-feed cap every feed was
/// within (`retention::FeedCaps`: 8 bytes big-endian and 8 zeros), 16
/// bytes each (zeros for none). One key for all three, and the one every
/// rafid that saves a near index removes as it opens the store: a rafid
/// that knows only the near index's token, and so would leave the others
/// in place however it changed the store, still removes them all (and,
/// finding more than the bytes it knows, uses none).
pub(crate) const SAVED_TOKENS: &str = "near_index";

/// The slots of a `SAVED_TOKENS` value: the near index's token, the key
/// filter's, the feeds' cap.
const SAVED_SLOTS: usize = 3;

/// The slots of a `SAVED_TOKENS` value, `None` where zero.
fn saved_tokens(v: &[u8]) -> [Option<[u8; 16]>; SAVED_SLOTS] {
    let slot = |i: usize| {
        v.get(16 * i..16 * (i + 1))
            .and_then(|t| <[u8; 16]>::try_from(t).ok())
            .filter(|t| *t != [0; 16])
    };
    match v.len() {
        16 | 32 | 48 => std::array::from_fn(slot),
        _ => [None; SAVED_SLOTS],
    }
}

/// The feeds' cap as its `SAVED_TOKENS` slot holds it.
fn cap_slot(cap: u64) -> [u8; 16] {
    let mut slot = [0u8; 16];
    slot[..8].copy_from_slice(&cap.to_be_bytes());
    slot
}

/// The feeds' cap in its `SAVED_TOKENS` slot; a slot of any other shape
/// vouches for nothing.
fn cap_of_slot(slot: [u8; 16]) -> Option<u64> {
    let (cap, rest) = slot.split_at(8);
    let cap = u64::from_be_bytes(cap.try_into().ok()?);
    (rest == [0; 8] && cap > 0).then_some(cap)
}

/// sled's page cache unless `storage.cache` says otherwise. sled's own
/// default (1 GiB) is far more than a feed store needs.
pub use crate::config::DEFAULT_CACHE_BYTES;

/// What remains of a pruned item: the keys that identify it and the feeds
/// that still list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub id: ItemId,
    pub feeds: Vec<String>,
    pub keys: Vec<String>,
    pub pruned_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store at {path} is in use by {holder}; stop that process first (or ask the running daemon)"
    )]
    Locked { path: PathBuf, holder: String },
    /// A long pass over the store given up because the process stops.
    #[error("stopped before the end")]
    Stopped,
    #[error("cannot save the near-duplicate index to {path}: {source}; the next start rebuilds it")]
    SaveNearIndex {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot save the filter of the store's keys to {path}: {source}; the next start reads the keys again"
    )]
    SaveKeySet {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store at {path} has schema version {found}, this rafid reads version {expected}; {hint}"
    )]
    Schema {
        path: PathBuf,
        found: String,
        expected: u32,
        hint: &'static str,
    },
    #[error("store at {path}: {source}{}", io_hint(.source))]
    Sled { path: PathBuf, source: sled::Error },
    #[error("store at {path}: cannot create the directory: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store at {path}: damaged record in tree {tree}: {detail}")]
    Corrupt {
        path: PathBuf,
        tree: &'static str,
        detail: String,
    },
    /// `database` is the URL without user or password (`postgres::describe`).
    #[error("database {database}: {doing}: {source}")]
    Postgres {
        database: String,
        doing: &'static str,
        source: tokio_postgres::Error,
    },
    #[error(
        "database {database} has schema version {found}, this rafid writes version {expected}; upgrade rafid on this machine"
    )]
    DatabaseSchema {
        database: String,
        found: i32,
        expected: i32,
    },
    #[error("database {database}: {detail}")]
    DatabaseUnreachable { database: String, detail: String },
    #[error(
        "the replica at {path} is not one of database {database}: {detail}; remove the directory and rafid builds it again from the database"
    )]
    ReplicaOfOther {
        path: PathBuf,
        database: String,
        detail: String,
    },
    #[error(
        "the replica at {path} applied database {database}'s log up to record {applied}, and the log now starts at record {first} (snapshots replaced what was between); remove the directory and rafid builds it again from the database"
    )]
    ReplicaBehind {
        path: PathBuf,
        database: String,
        applied: i64,
        first: i64,
    },
    #[error("database {database}: damaged record in table {table}: {detail}")]
    DatabaseRecord {
        database: String,
        table: &'static str,
        detail: String,
    },
}

impl StoreError {
    /// The error a store in `dir` gives when its disk is full: for tests of
    /// what its callers do then.
    #[cfg(test)]
    pub(crate) fn disk_full(dir: &Path) -> StoreError {
        StoreError::Sled {
            path: dir.join("store"),
            source: sled::Error::Io(std::io::Error::from_raw_os_error(libc::ENOSPC)),
        }
    }
}

/// What to do about the IO errors a user can fix.
fn io_hint(e: &sled::Error) -> &'static str {
    let sled::Error::Io(io) = e else { return "" };
    match io.kind() {
        std::io::ErrorKind::StorageFull => {
            " (the disk is full: free some space, then restart rafid; what is stored is kept)"
        }
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            " (rafid must be able to write there: check the directory's owner, mode and mount)"
        }
        _ if io.raw_os_error() == Some(libc::EPERM) => {
            " (rafid must be able to write there: check the directory's owner, mode and attributes)"
        }
        _ => "",
    }
}

/// An open sled store. Cloning is cheap (sled handles are reference
/// counted).
#[derive(Clone)]
struct SledStore {
    db: sled::Db,
    items: sled::Tree,
    keys: sled::Tree,
    by_time: sled::Tree,
    by_feed: sled::Tree,
    feeds: sled::Tree,
    meta: sled::Tree,
    seen: sled::Tree,
    seen_by_feed: sled::Tree,
    /// Items feed rules dropped (see `dropped`); written outside the
    /// document's transaction, since a lost record is only judged again.
    dropped: sled::Tree,
    /// Members taken out of a story for good (see `split`).
    splits: sled::Tree,
    /// The feeds' `priority`, for choosing the copy a story shows; set by
    /// whoever polls (see `set_priorities`).
    priorities: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Priorities>>>,
    dir: PathBuf,
    store_id: [u8; 16],
    /// What `keys` certainly does not hold (see `keyset`).
    key_set: std::sync::Arc<keyset::KeySet>,
    /// The near-duplicate index, built on first use.
    near: std::sync::Arc<std::sync::Mutex<crate::dedup::near::NearState>>,
    /// The token under which the last process saved the near index (see
    /// `near`), taken out of the store as it opened: set only when nothing
    /// changed the store since that save.
    near_token: Option<[u8; 16]>,
    /// What is known of the feeds' counts against their cap (`retention`).
    caps: std::sync::Arc<retention::FeedCaps>,
    /// The cross-language index, built on first use (see `xling`).
    xling: std::sync::Arc<std::sync::Mutex<xling::XlingState>>,
    /// How many items there are, `UNCOUNTED` until counted: sled's `len`
    /// scans the whole tree, too slow for every publish and every scrape
    /// of a large store. Ingest adds its new items; pruning and import make
    /// it count again.
    items_counted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The last sequence number a new item's id was given (`ingest`).
    seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether `dropped`, and `seen_by_feed`, may hold records (`MayHold`).
    may_hold_drops: MayHold,
    may_hold_seen: MayHold,
    /// Whether new items are made, and their ids taken, before the ingest
    /// transaction (`ingest::Prepared`). Not in a replica of a shared
    /// store, whose ids must follow from the log alone, the same way on
    /// every replica whatever its version.
    ids_ahead: bool,
}

/// Whether a tree may hold records: false only while it is known to be
/// empty. It is raised before anything is written to the tree and never
/// lowered while the store is open, so that "no" is always true.
///
/// Every document's ingest looks for the feed's records in `dropped` and
/// in `seen_by_feed`, which most stores leave empty (no keep/drop rules,
/// nothing pruned yet). Those scans are reads, and sled makes every read
/// wait while a transaction runs: on the 10,000-feed farm they held up the
/// thread that was to parse the next document for most of the other's
/// transaction. A missed record costs at most a look at the next poll:
/// the feed's own records are written by its own poll, and one pruned
/// meanwhile is forgotten for the feed then.
#[derive(Clone, Default)]
struct MayHold(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl MayHold {
    fn of(tree: &sled::Tree) -> Result<MayHold, sled::Error> {
        let held = tree.first()?.is_some();
        Ok(MayHold(std::sync::Arc::new(held.into())))
    }

    fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Before a write to the tree.
    fn raise(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}

const UNCOUNTED: u64 = u64::MAX;

/// Makes the item count be taken again once the holder is done changing
/// the items in bulk, however it ends.
struct Recount<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for Recount<'_> {
    fn drop(&mut self) {
        self.0
            .store(UNCOUNTED, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish()
    }
}

impl SledStore {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A stable id of this store, for feed-level ids of the outputs. Read
    /// from the store each time, since `import` may replace it.
    pub fn store_id(&self) -> [u8; 16] {
        match self.meta.get("store_id") {
            Ok(Some(v)) if v.len() == 16 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&v);
                id
            }
            _ => self.store_id,
        }
    }

    /// When the store was created: the date an output with no items shows,
    /// so that it is not 1970 and stays the same from one render to the next.
    pub fn created(&self) -> DateTime<Utc> {
        self.meta
            .get("created")
            .ok()
            .flatten()
            .and_then(|v| DateTime::parse_from_rfc3339(&String::from_utf8_lossy(&v)).ok())
            .map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc))
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.dir.join("store"),
            source,
        }
    }

    fn corrupt(&self, tree: &'static str, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.dir.join("store"),
            tree,
            detail,
        }
    }

    /// The feeds' `priority` from the config in force: which copy a merged
    /// story shows depends on it. Only feeds with a priority other than 0
    /// need be given.
    pub fn set_priorities(&self, priorities: impl IntoIterator<Item = (String, i32)>) {
        let map: Priorities = priorities.into_iter().filter(|(_, p)| *p != 0).collect();
        let mut slot = self.priorities.write().unwrap_or_else(|e| e.into_inner());
        if **slot != map {
            *slot = std::sync::Arc::new(map);
        }
    }

    fn priorities(&self) -> std::sync::Arc<Priorities> {
        self.priorities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        match self.feeds.get(feed_url).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| {
                self.corrupt(
                    "feeds",
                    format!("{}: {e}", crate::config::redact_str(feed_url)),
                )
            }),
        }
    }

    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        let v = serde_json::to_vec(state).map_err(|e| self.corrupt("feeds", e.to_string()))?;
        self.feeds.insert(feed_url, v).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every feed's state, keyed by configured URL.
    pub fn feed_states(&self) -> Result<Vec<(String, FeedState)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.feeds.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let url = String::from_utf8_lossy(&k).into_owned();
            let state = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("feeds", format!("{url}: {e}")))?;
            out.push((url, state));
        }
        Ok(out)
    }

    /// The number of stored items: counted once (a walk of an index with
    /// an entry per item), then kept up to date. Exact but for an item
    /// stored while the first count runs.
    pub fn item_count(&self) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        match self.items_counted.load(Relaxed) {
            UNCOUNTED => {
                // `by_time` holds one empty-valued entry per item (`store
                // check` sees to it): walking it reads 24 bytes an item,
                // where walking `items` brought every item's value through
                // sled's cache (300 MB at 10,000 feeds; the daemon's first
                // render peaked about 120 MB higher for it).
                let n = self.by_time.len();
                let _ = self
                    .items_counted
                    .compare_exchange(UNCOUNTED, n as u64, Relaxed, Relaxed);
                n
            }
            n => n as usize,
        }
    }

    /// The number of stored items if it was counted already: for what must
    /// not wait for the count, such as telling systemd the daemon is ready.
    pub fn known_item_count(&self) -> Option<usize> {
        match self
            .items_counted
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            UNCOUNTED => None,
            n => Some(n as usize),
        }
    }

    /// Keeps the count up to date after a change that added (or, negative,
    /// removed) `delta` items; nothing to do while uncounted.
    fn count_items(&self, delta: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let _ = self.items_counted.fetch_update(Relaxed, Relaxed, |n| {
            (n != UNCOUNTED).then(|| n.saturating_add_signed(delta))
        });
    }

    /// Bulk changes to the items call this first: the count is taken again
    /// after them.
    fn recount(&self) -> Recount<'_> {
        Recount(&self.items_counted)
    }

    /// Bytes the store takes on disk, as sled counts them.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.err(e))
    }

    /// Writes everything stored so far to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }

    /// Records `token` in `slot` of `SAVED_TOKENS` (0: the near index's,
    /// 1: the key filter's, 2: the feeds' cap), keeping the others.
    fn vouch_for_saved(&self, slot: usize, token: [u8; 16]) -> Result<(), StoreError> {
        let old = self.meta.get(SAVED_TOKENS).map_err(|e| self.err(e))?;
        let mut all = old
            .as_deref()
            .map_or([None; SAVED_SLOTS], saved_tokens)
            .map(Option::unwrap_or_default);
        all[slot] = token;
        self.meta
            .insert(SAVED_TOKENS, all.concat())
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Saves, for the next open, the per-feed cap every feed is within,
    /// when that is known (`retention::FeedCaps`); false when it is not.
    /// As `save_key_set`: only for a process that writes nothing more to
    /// the store after it, and the caller's flush puts it on disk.
    pub fn save_feed_caps(&self) -> Result<bool, StoreError> {
        let Some(cap) = self.caps.saved() else {
            return Ok(false);
        };
        self.vouch_for_saved(2, cap_slot(cap))?;
        Ok(true)
    }

    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The schema version the store records (`meta` tree).
    pub fn schema_version(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get("schema_version")
            .map_err(|e| self.err(e))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    #[doc(hidden)]
    /// For tests only: records another schema version, as an older or a
    /// newer rafid would have left it, so that opening can be tried on it.
    pub fn stamp_schema_version(&self, version: &str) -> Result<(), StoreError> {
        self.meta
            .insert("schema_version", version.as_bytes())
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// An id no other process or moment makes: a digest of this process, the
/// time, and `salt`.
fn unique_id(salt: &str) -> [u8; 16] {
    let seed = format!(
        "{}:{}:{salt}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default(),
    );
    crate::text::normalize::digest(&[seed.as_bytes()])
}

pub(crate) fn time_key(t: DateTime<Utc>, id: ItemId) -> [u8; 24] {
    let ms = t.timestamp_millis() as u64 ^ (1u64 << 63);
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

fn as_id(v: &[u8]) -> Option<ItemId> {
    v.try_into().ok().map(ItemId)
}

pub(crate) fn feed_digest(feed_url: &str) -> [u8; 16] {
    crate::text::normalize::digest(&[feed_url.as_bytes()])
}

fn feed_time_key(feed_url: &str, t: DateTime<Utc>, id: ItemId) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..16].copy_from_slice(&feed_digest(feed_url));
    k[16..].copy_from_slice(&time_key(t, id));
    k
}

fn seen_feed_key(feed_url: &str, id: ItemId) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&feed_digest(feed_url));
    k[16..].copy_from_slice(&id.0);
    k
}
