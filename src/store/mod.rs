//! The store: the only module that knows sled.
//!
//! Layout of the state directory (`storage.path`):
//! - `store/` — the sled database;
//! - `rafid.pid` — JSON naming the process that holds the store, written
//!   after sled's lock is taken, so a second process can say who holds it.
//!
//! Trees, keys and values (schema version 1):
//!
//! | tree      | key                                          | value                         |
//! |-----------|----------------------------------------------|-------------------------------|
//! | `meta`    | `schema_version`                             | decimal ASCII, `1`            |
//! | `meta`    | `store_id`                                   | 16 random-ish bytes           |
//! | `meta`    | `created`                                    | when the store was created (or first opened by a rafid that records it): RFC 3339 |
//! | `items`   | item id (16 bytes)                           | `model::Item` as JSON         |
//! | `keys`    | kind byte (`L` local, `K` link, `T` text) + 16 hash bytes | item id (16 bytes) |
//! | `by_time` | sort time (8 bytes, ms since epoch, sign bit flipped, big-endian) + item id | empty |
//! | `feeds`   | the feed's configured URL (UTF-8)            | `model::FeedState` as JSON    |
//! | `by_feed` | SHA-256 of a source feed's URL (16 bytes) + the `by_time` key | empty |
//! | `seen`    | item id of a pruned item                     | `Seen` as JSON: its keys and the feeds still listing it |
//! | `seen_by_feed` | SHA-256 of the feed URL (16 bytes) + item id | empty                    |
//! | `dropped` | SHA-256 of the feed URL (16 bytes) + the item's local key (17 bytes) | `dropped::Dropped` as JSON: the rule that dropped it |
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
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use crate::dedup::{self, Decision, ItemKeys, Key};
use crate::model::{Entry, FeedState, Item, ItemId, Source, hex, unhex};

mod backup;
mod check;
mod dropped;
mod near;
mod retention;

pub use backup::ImportError;
pub use dropped::{Dropped, river_scan_bound};
pub use near::NearDup;
pub use retention::Retention;

pub const SCHEMA_VERSION: u32 = 1;

/// sled's page cache unless `storage.cache` says otherwise. sled's own
/// default (1 GiB) is far more than a feed store needs.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

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

/// Who holds the store: written to `rafid.pid` once the lock is ours.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    started: DateTime<Utc>,
}

/// What one document did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub new: usize,
    pub updated: usize,
    /// Items found to be a story already stored (from another feed, or from
    /// this feed under another identity), merged into it.
    pub merged: usize,
    pub unchanged: usize,
    /// Items listed again after retention pruned them: not brought back.
    pub pruned_seen: usize,
    /// Of the merged items, those found by near-duplicate detection (the
    /// same story re-edited) rather than by a shared link or exact text.
    pub near_duplicates: usize,
}

impl std::ops::AddAssign for IngestStats {
    fn add_assign(&mut self, o: IngestStats) {
        self.new += o.new;
        self.updated += o.updated;
        self.merged += o.merged;
        self.unchanged += o.unchanged;
        self.pruned_seen += o.pruned_seen;
        self.near_duplicates += o.near_duplicates;
    }
}

/// An open store. Cloning is cheap (sled handles are reference counted).
#[derive(Clone)]
pub struct Store {
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
    dir: PathBuf,
    store_id: [u8; 16],
    /// The near-duplicate index, built on first use.
    near: std::sync::Arc<std::sync::Mutex<near::NearState>>,
    /// How many items there are, `UNCOUNTED` until counted: sled's `len`
    /// scans the whole tree, too slow for every publish and every scrape
    /// of a large store. Ingest adds its new items; pruning and import make
    /// it count again.
    items_counted: std::sync::Arc<std::sync::atomic::AtomicU64>,
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

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in the state directory `dir`.
    /// `command` names this process in the holder file (e.g. "rafid run").
    pub fn open(dir: &Path, command: &str) -> Result<Store, StoreError> {
        Store::open_with(dir, command, DEFAULT_CACHE_BYTES)
    }

    /// `open` with sled's page cache bounded to `cache_bytes`.
    pub fn open_with(dir: &Path, command: &str, cache_bytes: u64) -> Result<Store, StoreError> {
        // sled releases its file lock from a background thread shortly after
        // the last handle is dropped, so this very process may still hold it
        // for a moment after closing the store. Only then is it worth waiting.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Store::open_once(dir, command, cache_bytes) {
                Err(StoreError::Locked { .. })
                    if held_by_us(dir) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(dir: &Path, command: &str, cache_bytes: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let db_path = dir.join("store");
        let db = sled::Config::new()
            .path(&db_path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(200))
            .open()
            .map_err(|e| {
                if is_lock_error(&e) {
                    StoreError::Locked {
                        path: db_path.clone(),
                        holder: describe_holder(dir),
                    }
                } else {
                    StoreError::Sled {
                        path: db_path.clone(),
                        source: e,
                    }
                }
            })?;
        let sled_err = |source| StoreError::Sled {
            path: db_path.clone(),
            source,
        };
        let meta = db.open_tree("meta").map_err(sled_err)?;
        match meta.get("schema_version").map_err(sled_err)? {
            None => {
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(sled_err)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_string().as_bytes() => {}
            Some(v) => {
                let found = String::from_utf8_lossy(&v).into_owned();
                let newer = found.parse::<u32>().is_ok_and(|n| n > SCHEMA_VERSION);
                return Err(StoreError::Schema {
                    path: db_path,
                    found,
                    expected: SCHEMA_VERSION,
                    hint: if newer {
                        "it was written by a newer rafid: run that version, or export with it and import here"
                    } else {
                        "export it with the rafid that wrote it (rafid export) and import it here (rafid import)"
                    },
                });
            }
        }
        let store_id = match meta.get("store_id").map_err(sled_err)? {
            Some(v) if v.len() == 16 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&v);
                id
            }
            _ => {
                let seed = format!(
                    "{}:{}:{}",
                    std::process::id(),
                    Utc::now().timestamp_nanos_opt().unwrap_or_default(),
                    dir.display()
                );
                let id = crate::normalize::digest(&[seed.as_bytes()]);
                meta.insert("store_id", &id[..]).map_err(sled_err)?;
                id
            }
        };
        if meta.get("created").map_err(sled_err)?.is_none() {
            let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            meta.insert("created", now.as_bytes()).map_err(sled_err)?;
        }
        let tree = |name: &str| db.open_tree(name).map_err(sled_err);
        let store = Store {
            items: tree("items")?,
            keys: tree("keys")?,
            by_time: tree("by_time")?,
            by_feed: tree("by_feed")?,
            feeds: tree("feeds")?,
            seen: tree("seen")?,
            seen_by_feed: tree("seen_by_feed")?,
            dropped: tree("dropped")?,
            meta,
            db: db.clone(),
            dir: dir.to_path_buf(),
            store_id,
            near: Default::default(),
            items_counted: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(UNCOUNTED)),
        };
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            started: Utc::now(),
        };
        // Best effort: the file only improves a message for others.
        if let Ok(json) = serde_json::to_vec(&holder) {
            let _ = std::fs::write(dir.join("rafid.pid"), json);
        }
        Ok(store)
    }

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

    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        match self.feeds.get(feed_url).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt("feeds", format!("{feed_url}: {e}"))),
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

    /// Stores one fetched document's entries and the feed's new state in
    /// one transaction. `source` describes the feed (its `item_link` and
    /// `guid` are filled in per entry). Pruned items the feed no longer
    /// lists are forgotten for this feed in the same transaction.
    pub fn ingest(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
    ) -> Result<IngestStats, StoreError> {
        self.ingest_near(source, entries, keys, state, now, None)
    }

    /// `ingest`, merging a new item into a stored story it repeats when
    /// `near` is given (see `neardup`).
    pub fn ingest_near(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
        near: Option<&NearDup>,
    ) -> Result<IngestStats, StoreError> {
        if let Some(n) = near {
            self.ensure_near_index(n, now)?;
        }
        let state_json =
            serde_json::to_vec(state).map_err(|e| self.corrupt("feeds", e.to_string()))?;
        let forget = self.seen_not_listed(&source.feed_url, keys)?;
        // The document's own identities: a stored item that this document
        // also lists is, by the feed's own word, another item.
        let listed: std::collections::HashSet<String> =
            keys.iter().map(|k| hex(&k.local.0)).collect();
        let trees = (
            &self.items,
            &self.keys,
            &self.by_time,
            &self.by_feed,
            &self.feeds,
            &self.seen,
            &self.seen_by_feed,
        );
        let result = trees.transaction(
            |(items, keys_t, by_time, by_feed, feeds, seen, seen_by_feed)| {
                let tx = Tx {
                    items,
                    keys: keys_t,
                    by_time,
                    by_feed,
                    seen,
                    seen_by_feed,
                    near_state: &self.near,
                    near,
                    listed: &listed,
                };
                let mut stats = IngestStats::default();
                for (entry, k) in entries.iter().zip(keys) {
                    tx.ingest_one(source, entry, k, now, &mut stats)?;
                }
                for id in &forget {
                    tx.forget_for_feed(*id, &source.feed_url)?;
                }
                feeds.insert(source.feed_url.as_bytes(), state_json.as_slice())?;
                Ok(stats)
            },
        );
        match result {
            Ok(stats) => {
                let new = stats.new as u64;
                let _ = self.items_counted.fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |n| (n != UNCOUNTED).then(|| n + new),
                );
                Ok(stats)
            }
            Err(TransactionError::Abort(detail)) => Err(self.corrupt("items", detail)),
            Err(TransactionError::Storage(e)) => Err(self.err(e)),
        }
    }

    /// Pruned items recorded as listed by `feed_url` whose keys are not in
    /// this document: the feed has stopped listing them.
    fn seen_not_listed(
        &self,
        feed_url: &str,
        keys: &[ItemKeys],
    ) -> Result<Vec<ItemId>, StoreError> {
        let prefix = feed_digest(feed_url);
        let listed: std::collections::HashSet<String> =
            keys.iter().map(|k| hex(&k.local.0)).collect();
        let mut out = Vec::new();
        for kv in self.seen_by_feed.scan_prefix(prefix) {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(16..32).and_then(as_id) else {
                continue;
            };
            let Some(v) = self.seen.get(id.0).map_err(|e| self.err(e))? else {
                continue;
            };
            let seen: Seen = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("seen", format!("{id}: {e}")))?;
            if !seen.keys.iter().any(|k| listed.contains(k)) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The newest `limit` items carried by any of `feed_urls`, newest first
    /// (ties by id): the per-feed time indexes merged, so the cost depends
    /// on `limit` and the number of feeds, not on the size of the store.
    pub fn newest_in_feeds(
        &self,
        feed_urls: &[&str],
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.newest_in_feeds_before(feed_urls, None, limit)
    }

    /// `newest_in_feeds`, continued after `before` (the sort time and id of
    /// the last item already shown): the next page of a paged feed.
    pub fn newest_in_feeds_before(
        &self,
        feed_urls: &[&str],
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        use std::collections::{BinaryHeap, HashSet};
        let mut iters: Vec<_> = feed_urls
            .iter()
            .map(|f| {
                let prefix = feed_digest(f);
                match before {
                    None => self.by_feed.scan_prefix(prefix),
                    Some((t, id)) => {
                        let mut end = prefix.to_vec();
                        end.extend_from_slice(&time_key(t, id));
                        self.by_feed.range(prefix.to_vec()..end)
                    }
                }
                .rev()
            })
            .collect();
        // Max-heap of (time key, which iterator): the newest entry on top.
        let mut heap: BinaryHeap<(Vec<u8>, usize)> = BinaryHeap::new();
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(kv) = it.next() {
                let (k, _) = kv.map_err(|e| self.err(e))?;
                heap.push((k[16..].to_vec(), i));
            }
        }
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut taken: HashSet<Vec<u8>> = HashSet::new();
        while let Some((tk, i)) = heap.pop() {
            if out.len() >= limit {
                break;
            }
            if let Some(kv) = iters[i].next() {
                let (k, _) = kv.map_err(|e| self.err(e))?;
                heap.push((k[16..].to_vec(), i));
            }
            let Some(id) = tk.get(8..24).and_then(as_id) else {
                return Err(self.corrupt("by_feed", format!("short key {}", hex(&tk))));
            };
            // An item carried by two of the feeds appears once.
            if !taken.insert(tk) {
                continue;
            }
            match self.item(id)? {
                Some(item) => out.push(item),
                None => {
                    return Err(self.corrupt("by_feed", format!("entry for missing item {id}")));
                }
            }
        }
        Ok(out)
    }

    /// The newest `limit` items that `keep` accepts, newest first (ties by
    /// id), read from the time index: the cost does not grow with the store.
    pub fn newest(
        &self,
        limit: usize,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.newest_before(None, limit, keep)
    }

    /// `newest`, continued after `before` (the sort time and id of the last
    /// item already shown): the next page of a paged feed.
    pub fn newest_before(
        &self,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let range = match before {
            None => self.by_time.iter(),
            Some((t, id)) => self.by_time.range(..time_key(t, id)),
        };
        for kv in range.rev() {
            if out.len() >= limit {
                break;
            }
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(8..24) else {
                return Err(self.corrupt("by_time", format!("short key {}", hex(&k))));
            };
            let Some(v) = self.items.get(id).map_err(|e| self.err(e))? else {
                return Err(self.corrupt("by_time", format!("entry for missing item {}", hex(id))));
            };
            let item: Item = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("items", format!("{}: {e}", hex(id))))?;
            if keep(&item) {
                out.push(item);
            }
        }
        Ok(out)
    }

    pub fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        match self.items.get(id.0).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.corrupt("items", format!("{id}: {e}"))),
        }
    }

    /// Number of stored items (walks the tree: for reports, not hot paths).
    /// The number of stored items: counted once, then kept up to date.
    /// Exact but for an item stored while the first count runs.
    pub fn item_count(&self) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        match self.items_counted.load(Relaxed) {
            UNCOUNTED => {
                let n = self.items.len();
                let _ = self
                    .items_counted
                    .compare_exchange(UNCOUNTED, n as u64, Relaxed, Relaxed);
                n
            }
            n => n as usize,
        }
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

    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    #[doc(hidden)]
    /// For tests: the raw meta tree, to simulate stores of other versions.
    pub fn meta_tree(&self) -> &sled::Tree {
        &self.meta
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

pub(crate) fn time_key(t: DateTime<Utc>, id: ItemId) -> [u8; 24] {
    let ms = t.timestamp_millis() as u64 ^ (1u64 << 63);
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&ms.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

fn load(items: &TransactionalTree, id: ItemId) -> TxResult<Item> {
    let Some(v) = items.get(id.0)? else {
        return Err(ConflictableTransactionError::Abort(format!(
            "key index points at missing item {id}"
        )));
    };
    serde_json::from_slice(&v)
        .map_err(|e| ConflictableTransactionError::Abort(format!("item {id}: {e}")))
}

fn save(items: &TransactionalTree, item: &Item) -> TxResult<()> {
    let v = serde_json::to_vec(item)
        .map_err(|e| ConflictableTransactionError::Abort(format!("item {}: {e}", item.id)))?;
    items.insert(&item.id.0, v)?;
    Ok(())
}

fn as_id(v: &[u8]) -> Option<ItemId> {
    v.try_into().ok().map(ItemId)
}

pub(crate) fn feed_digest(feed_url: &str) -> [u8; 16] {
    crate::normalize::digest(&[feed_url.as_bytes()])
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

/// The trees one ingest transaction writes.
struct Tx<'a> {
    items: &'a TransactionalTree,
    keys: &'a TransactionalTree,
    by_time: &'a TransactionalTree,
    by_feed: &'a TransactionalTree,
    seen: &'a TransactionalTree,
    seen_by_feed: &'a TransactionalTree,
    near_state: &'a std::sync::Mutex<near::NearState>,
    near: Option<&'a NearDup>,
    /// Hex local keys of every entry of the document being stored.
    listed: &'a std::collections::HashSet<String>,
}

impl Tx<'_> {
    fn load_seen(&self, id: ItemId) -> TxResult<Option<Seen>> {
        match self.seen.get(id.0)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| ConflictableTransactionError::Abort(format!("seen {id}: {e}"))),
        }
    }

    fn save_seen(&self, seen: &Seen) -> TxResult<()> {
        let v = serde_json::to_vec(seen)
            .map_err(|e| ConflictableTransactionError::Abort(format!("seen {}: {e}", seen.id)))?;
        self.seen.insert(&seen.id.0, v)?;
        Ok(())
    }

    fn ingest_one(
        &self,
        feed: &Source,
        entry: &Entry,
        k: &ItemKeys,
        now: DateTime<Utc>,
        stats: &mut IngestStats,
    ) -> TxResult<()> {
        let keys_t = self.keys;
        let lookup = |key: &Key| -> Result<Option<ItemId>, UnabortableTransactionError> {
            Ok(keys_t.get(key.0)?.and_then(|v| as_id(&v)))
        };
        let source = Source {
            item_link: entry.link.clone(),
            guid: entry.guid.clone(),
            ..feed.clone()
        };
        let decision = dedup::decide(k, lookup)?;
        if let Decision::Known(id) | Decision::SameStory(id, _) = decision {
            if self.items.get(id.0)?.is_none() {
                return self.listed_again(id, &source.feed_url, k, stats);
            }
        }
        match decision {
            Decision::Known(id) => {
                let mut item = load(self.items, id)?;
                // A story merged from several outlets shows the first one's
                // text: another outlet's copy differs by nature, and taking
                // it would flip the story between versions on every poll.
                let owner = item.sources.first().map(|s| s.feed_url.as_str());
                if item.revision == k.revision || owner.is_some_and(|o| o != source.feed_url) {
                    stats.unchanged += 1;
                    return Ok(());
                }
                let old_time = item.sort_time();
                apply_edit(&mut item, entry, k, now);
                self.claim_shared_keys(&mut item, k)?;
                if item.sort_time() != old_time {
                    self.by_time.remove(&time_key(old_time, id)[..])?;
                    self.by_time
                        .insert(&time_key(item.sort_time(), id)[..], &[][..])?;
                    for s in &item.sources {
                        self.by_feed
                            .remove(&feed_time_key(&s.feed_url, old_time, id)[..])?;
                        self.by_feed.insert(
                            &feed_time_key(&s.feed_url, item.sort_time(), id)[..],
                            &[][..],
                        )?;
                    }
                }
                save(self.items, &item)?;
                stats.updated += 1;
            }
            Decision::SameStory(id, _) => {
                let mut item = load(self.items, id)?;
                if !item.sources.iter().any(|s| s.feed_url == source.feed_url) {
                    self.by_feed.insert(
                        &feed_time_key(&source.feed_url, item.sort_time(), id)[..],
                        &[][..],
                    )?;
                    item.sources.push(source);
                }
                self.keys.insert(&k.local.0, &id.0)?;
                push_key(&mut item, &k.local);
                self.claim_shared_keys(&mut item, k)?;
                save(self.items, &item)?;
                stats.merged += 1;
            }
            Decision::New => {
                let probe = self
                    .near
                    .map(|n| near::Probe::new(n, &feed.feed_url, entry, now));
                if let Some(p) = &probe {
                    if let Some(id) = self.near_match(p)? {
                        self.merge_near(id, source, entry, k)?;
                        stats.merged += 1;
                        stats.near_duplicates += 1;
                        return Ok(());
                    }
                }
                let id = k.new_id();
                let mut item = Item {
                    id,
                    title: entry.title.clone(),
                    link: entry.link.clone(),
                    content: entry.content.clone(),
                    summary: entry.summary.clone(),
                    published: entry.published,
                    updated: entry.updated,
                    first_seen: now,
                    authors: entry.authors.clone(),
                    categories: entry.categories.clone(),
                    enclosures: entry.enclosures.clone(),
                    language: entry.language.clone(),
                    base: entry.base.clone(),
                    sources: vec![source],
                    revision: k.revision.clone(),
                    keys: Vec::new(),
                };
                self.keys.insert(&k.local.0, &id.0)?;
                push_key(&mut item, &k.local);
                self.claim_shared_keys(&mut item, k)?;
                self.by_time
                    .insert(&time_key(item.sort_time(), id)[..], &[][..])?;
                self.by_feed.insert(
                    &feed_time_key(&feed.feed_url, item.sort_time(), id)[..],
                    &[][..],
                )?;
                save(self.items, &item)?;
                if let Some(p) = probe {
                    self.near_insert(p, id);
                }
                stats.new += 1;
            }
        }
        Ok(())
    }

    /// Points the item's cross-feed keys at it, where no other item has
    /// them (a key already taken belongs to another story).
    fn claim_shared_keys(&self, item: &mut Item, k: &ItemKeys) -> TxResult<()> {
        for key in k.shared() {
            if self.keys.get(key.0)?.is_none() {
                self.keys.insert(&key.0, &item.id.0)?;
                push_key(item, key);
            }
        }
        Ok(())
    }

    /// A key led to an item retention pruned: the feed still lists it, so
    /// it is remembered as seen for this feed and not stored again.
    fn listed_again(
        &self,
        id: ItemId,
        feed_url: &str,
        k: &ItemKeys,
        stats: &mut IngestStats,
    ) -> TxResult<()> {
        let Some(mut seen) = self.load_seen(id)? else {
            return Err(ConflictableTransactionError::Abort(format!(
                "key index points at missing item {id}"
            )));
        };
        let mut changed = false;
        if !seen.feeds.iter().any(|f| f == feed_url) {
            seen.feeds.push(feed_url.to_string());
            self.seen_by_feed
                .insert(&seen_feed_key(feed_url, id)[..], &[][..])?;
            changed = true;
        }
        let local = hex(&k.local.0);
        if !seen.keys.contains(&local) {
            self.keys.insert(&k.local.0, &id.0)?;
            seen.keys.push(local);
            changed = true;
        }
        if changed {
            self.save_seen(&seen)?;
        }
        stats.pruned_seen += 1;
        Ok(())
    }

    /// `feed_url` no longer lists the pruned item `id`; when no feed does,
    /// its record and keys go.
    fn forget_for_feed(&self, id: ItemId, feed_url: &str) -> TxResult<()> {
        self.seen_by_feed.remove(&seen_feed_key(feed_url, id)[..])?;
        let Some(mut seen) = self.load_seen(id)? else {
            return Ok(());
        };
        seen.feeds.retain(|f| f != feed_url);
        if !seen.feeds.is_empty() {
            return self.save_seen(&seen);
        }
        for key in &seen.keys {
            if let Some(bytes) = unhex(key) {
                if self.keys.get(&bytes)?.as_deref() == Some(&id.0[..]) {
                    self.keys.remove(bytes)?;
                }
            }
        }
        self.seen.remove(&id.0)?;
        Ok(())
    }
}

fn push_key(item: &mut Item, key: &Key) {
    let h = hex(&key.0);
    if !item.keys.contains(&h) {
        item.keys.push(h);
    }
}

/// The source edited the item: take what it says now. The updated date
/// moves to the source's own, or to now when the source gave none newer.
fn apply_edit(item: &mut Item, entry: &Entry, k: &ItemKeys, now: DateTime<Utc>) {
    item.title = entry.title.clone();
    item.content = entry.content.clone();
    item.summary = entry.summary.clone();
    if entry.link.is_some() {
        item.link = entry.link.clone();
    }
    if entry.published.is_some() {
        item.published = entry.published;
    }
    item.updated = match entry.updated {
        Some(u) if item.updated.is_none_or(|old| u > old) && u <= now => Some(u),
        _ => Some(now),
    };
    item.authors = entry.authors.clone();
    item.categories = entry.categories.clone();
    item.enclosures = entry.enclosures.clone();
    if entry.language.is_some() {
        item.language = entry.language.clone();
    }
    item.revision = k.revision.clone();
}

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn read_holder(dir: &Path) -> Option<Holder> {
    let bytes = std::fs::read(dir.join("rafid.pid")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn held_by_us(dir: &Path) -> bool {
    read_holder(dir).is_some_and(|h| h.pid == std::process::id())
}

fn describe_holder(dir: &Path) -> String {
    let Ok(bytes) = std::fs::read(dir.join("rafid.pid")) else {
        return "another process".into();
    };
    match serde_json::from_slice::<Holder>(&bytes) {
        Ok(h) => format!(
            "`{}` (pid {}, started {})",
            h.command,
            h.pid,
            h.started.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Err(_) => "another process".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::keys_for;

    fn source(url: &str) -> Source {
        Source {
            feed_url: url.into(),
            feed_title: Some("F".into()),
            feed_id: None,
            site_url: None,
            item_link: None,
            guid: None,
        }
    }

    fn entry(guid: &str, link: &str, title: &str, body: &str) -> Entry {
        Entry {
            guid: Some(guid.into()),
            link: Some(link.into()),
            title: Some(title.into()),
            content: Some(body.into()),
            published: Some(Utc::now() - chrono::Duration::hours(1)),
            ..Entry::default()
        }
    }

    fn ingest(store: &Store, feed: &str, entries: &[Entry]) -> IngestStats {
        let keys = keys_for(feed, None, entries);
        store
            .ingest(
                &source(feed),
                entries,
                &keys,
                &FeedState::default(),
                Utc::now(),
            )
            .unwrap()
    }

    #[test]
    fn the_item_count_follows_ingest_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        let feed = "https://a.example/f";
        let e = |i: u32| {
            entry(
                &i.to_string(),
                &format!("https://a.example/{i}"),
                &format!("خبر {i}"),
                "<p>نص</p>",
            )
        };
        assert_eq!(store.item_count(), 0);
        ingest(&store, feed, &[e(1), e(2)]);
        assert_eq!(store.item_count(), 2);
        ingest(&store, feed, &[e(1), e(2), e(3)]);
        assert_eq!(store.item_count(), 3);
        let policy = Retention {
            max_age: None,
            max_items_per_feed: None,
            max_items: Some(1),
        };
        assert_eq!(store.prune(&policy, Utc::now()).unwrap(), 2);
        assert_eq!(store.item_count(), 1);
        assert_eq!(store.item_count(), store.items.len());
    }

    #[test]
    fn same_item_twice_is_stored_once_and_edits_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        let e = entry("1", "https://a.example/1", "عنوان", "<p>نص</p>");
        assert_eq!(
            ingest(&store, "https://a.example/f", std::slice::from_ref(&e)).new,
            1
        );
        assert_eq!(
            ingest(&store, "https://a.example/f", std::slice::from_ref(&e)).unchanged,
            1
        );
        let mut edited = e.clone();
        edited.title = Some("عنوان معدل".into());
        assert_eq!(ingest(&store, "https://a.example/f", &[edited]).updated, 1);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].title.as_deref(), Some("عنوان معدل"));
        assert!(items[0].updated.is_some());
    }

    #[test]
    fn same_link_from_two_feeds_is_merged_with_both_sources() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        let a = entry("1", "https://s.example/n/9?utm_source=a", "خبر", "نص أ");
        let b = entry("xyz", "https://s.example/n/9", "خبر", "نص ب");
        assert_eq!(ingest(&store, "https://a.example/f", &[a]).new, 1);
        assert_eq!(ingest(&store, "https://b.example/f", &[b]).merged, 1);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1);
        let feeds: Vec<_> = items[0]
            .sources
            .iter()
            .map(|s| s.feed_url.as_str())
            .collect();
        assert_eq!(feeds, vec!["https://a.example/f", "https://b.example/f"]);
    }

    #[test]
    fn second_open_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _store = Store::open(dir.path(), "rafid run").unwrap();
        // The message a second process gets is checked by an integration
        // test with two processes. Here: the holder file names us.
        let text = describe_holder(dir.path());
        assert!(text.contains("rafid run"), "{text}");
        assert!(text.contains(&std::process::id().to_string()));
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), "test").unwrap();
            store.meta_tree().insert("schema_version", "7").unwrap();
            store.flush().unwrap();
        }
        let err = Store::open(dir.path(), "test").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("schema version 7"), "{msg}");
        assert!(msg.contains("newer rafid"), "{msg}");
    }

    #[test]
    fn newest_is_ordered_by_date_then_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        let mut old = entry("1", "https://a.example/1", "قديم", "a");
        old.published = Some(Utc::now() - chrono::Duration::days(2));
        let mut future = entry("2", "https://a.example/2", "مستقبل", "b");
        future.published = Some(Utc::now() + chrono::Duration::days(365));
        let mid = entry("3", "https://a.example/3", "وسط", "c");
        ingest(&store, "https://a.example/f", &[old, future, mid]);
        let titles: Vec<_> = store
            .newest(10, |_| true)
            .unwrap()
            .into_iter()
            .map(|i| i.title.unwrap())
            .collect();
        // The future date counts as first seen (now): newest.
        assert_eq!(titles, vec!["مستقبل", "وسط", "قديم"]);
    }
}
