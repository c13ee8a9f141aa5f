//! The store: the only module that knows sled.
//!
//! Layout of the state directory (`storage.path`):
//! - `store/` — the sled database;
//! - `rafid.pid` — JSON naming the process that holds the store, written
//!   after sled's lock is taken, so a second process can say who holds it.
//!
//! Trees, keys and values (schema version 2):
//!
//! | tree      | key                                          | value                         |
//! |-----------|----------------------------------------------|-------------------------------|
//! | `meta`    | `schema_version`                             | decimal ASCII, `2`            |
//! | `meta`    | `store_id`                                   | 16 random-ish bytes           |
//! | `meta`    | `created`                                    | when the store was created (or first opened by a rafid that records it): RFC 3339 |
//! | `items`   | item id (16 bytes)                           | `model::Item` as JSON, each source with its outlet's copy |
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
//! keeps every member's own copy (`model::OutletCopy`) and adds `splits`.
//! A version-1 store is upgraded when it is opened (see `upgrade_v1`).
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

use crate::dedup::keys::{self as dedup, Decision, ItemKeys, Key};
use crate::model::{Entry, FeedState, Item, ItemId, Joined, OutletCopy, Source, hex, unhex};

mod backup;
mod check;
mod dropped;
mod near;
mod retention;
mod shown;
mod split;

pub use backup::ImportError;
pub use dropped::{Dropped, river_scan_bound};
pub use near::NearDup;
pub use retention::Retention;
pub use shown::{Priorities, Why, choose as choose_shown, links_home, same_site};
pub use split::{Split, SplitError};

pub const SCHEMA_VERSION: u32 = 2;

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
    /// Members taken out of a story for good (see `split`).
    splits: sled::Tree,
    /// The feeds' `priority`, for choosing the copy a story shows; set by
    /// whoever polls (see `set_priorities`).
    priorities: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Priorities>>>,
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

/// Takes group and other permissions off `path` and everything under it.
/// Best effort: a file rafid cannot chmod is one it does not own, and its
/// owner chose its mode.
fn owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700));
    }
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                owner_only(&e.path());
            }
        }
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
        // The store holds feed URLs with their secrets: only its owner may
        // look in. (systemd makes StateDirectory= so already.)
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::CreateDir {
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
        // sled creates its files with the process umask (0644 with the
        // usual 022); the files it makes later (snapshots, blobs) sit in
        // these directories, which only the owner can enter.
        owner_only(&db_path);
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
            Some(v) if v.as_ref() == b"1" => {
                let items = db.open_tree("items").map_err(sled_err)?;
                upgrade_v1(&items).map_err(|detail| StoreError::Corrupt {
                    path: db_path.clone(),
                    tree: "items",
                    detail,
                })?;
                // The version goes last: a crash before it runs the
                // upgrade again, which skips the items already done.
                db.flush().map_err(sled_err)?;
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(sled_err)?;
                db.flush().map_err(sled_err)?;
                tracing::info!(path = %db_path.display(), "store upgraded from schema version 1 to 2");
            }
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
                let id = crate::ingest::normalize::digest(&[seed.as_bytes()]);
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
            splits: tree("splits")?,
            priorities: Default::default(),
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
        let priorities = self.priorities();
        let trees = (
            &self.items,
            &self.keys,
            &self.by_time,
            &self.by_feed,
            &self.feeds,
            &self.seen,
            &self.seen_by_feed,
            &self.splits,
        );
        let result = trees.transaction(
            |(items, keys_t, by_time, by_feed, feeds, seen, seen_by_feed, splits)| {
                let tx = Tx {
                    items,
                    keys: keys_t,
                    by_time,
                    by_feed,
                    seen,
                    seen_by_feed,
                    splits,
                    near_state: &self.near,
                    near,
                    listed: &listed,
                    priorities: &priorities,
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
    crate::ingest::normalize::digest(&[feed_url.as_bytes()])
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
    splits: &'a TransactionalTree,
    near_state: &'a std::sync::Mutex<near::NearState>,
    near: Option<&'a NearDup>,
    /// Hex local keys of every entry of the document being stored.
    listed: &'a std::collections::HashSet<String>,
    priorities: &'a Priorities,
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
        let mut decision = dedup::decide(k, lookup)?;
        if let Decision::Known(id) | Decision::SameStory(id, _) = decision {
            if self.items.get(id.0)?.is_none() {
                return self.listed_again(id, &source.feed_url, k, stats);
            }
        }
        // A member split off a story stays out of it, whatever key it
        // brings next.
        if let Decision::SameStory(id, _) = decision {
            if self.is_split(id, &source.feed_url)? {
                decision = Decision::New;
            }
        }
        match decision {
            Decision::Known(id) => {
                let mut item = load(self.items, id)?;
                // Each outlet's edit changes its own copy; the story shows
                // whichever copy `shown` chooses.
                let Some(m) = item
                    .sources
                    .iter()
                    .position(|s| s.feed_url == source.feed_url)
                else {
                    stats.unchanged += 1;
                    return Ok(());
                };
                // The outlet's copy follows the identity it came under (see
                // `join`): a second identity of the same item changes
                // nothing, or two listed side by side would swap the copy
                // on every poll.
                let local = hex(&k.local.0);
                if item.sources[m].copy.as_ref().is_some_and(|c| {
                    c.revision == k.revision || c.local_key.as_ref().is_some_and(|l| *l != local)
                }) {
                    stats.unchanged += 1;
                    return Ok(());
                }
                let old = item.sources[m].copy.take();
                let old_time = item.sort_time();
                let had_copy = old.is_some();
                item.sources[m].copy = Some(edited_copy(old, entry, k, now));
                if entry.link.is_some() {
                    item.sources[m].item_link = entry.link.clone();
                }
                self.reshow(&mut item, old_time, Some(now))?;
                self.claim_shared_keys(&mut item, k)?;
                save(self.items, &item)?;
                // A member merged before copies were kept gets its copy
                // now: its text did not change.
                if had_copy {
                    stats.updated += 1;
                } else {
                    stats.unchanged += 1;
                }
            }
            Decision::SameStory(id, kind) => {
                let mut item = load(self.items, id)?;
                let old_time = item.sort_time();
                let by = match kind {
                    dedup::KeyKind::Text => "text",
                    _ => "link",
                };
                let copy = joining_copy(entry, k, by, None, now);
                join(&mut item, source, copy);
                self.keys.insert(&k.local.0, &id.0)?;
                push_key(&mut item, &k.local);
                self.reshow(&mut item, old_time, Some(now))?;
                self.claim_shared_keys(&mut item, k)?;
                save(self.items, &item)?;
                stats.merged += 1;
            }
            Decision::New => {
                let probe = self
                    .near
                    .map(|n| near::Probe::new(n, &feed.feed_url, entry, now));
                if let Some(p) = &probe {
                    if let Some((id, score)) = self.near_match(p)? {
                        self.merge_near(id, source, entry, k, score, now)?;
                        stats.merged += 1;
                        stats.near_duplicates += 1;
                        return Ok(());
                    }
                }
                let id = k.new_id();
                let copy = OutletCopy::of_entry(entry, &k.revision, Some(hex(&k.local.0)));
                let mut item = Item::of_copy(
                    id,
                    now,
                    Source {
                        copy: Some(copy),
                        ..source
                    },
                );
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

impl Tx<'_> {
    /// Shows the copy `shown` chooses, moving the item in the time indexes
    /// if its date changed (from `old_time`).
    fn reshow(
        &self,
        item: &mut Item,
        old_time: DateTime<Utc>,
        now: Option<DateTime<Utc>>,
    ) -> TxResult<()> {
        shown::show(item, self.priorities, now);
        let (id, new_time) = (item.id, item.sort_time());
        if new_time != old_time {
            self.by_time.remove(&time_key(old_time, id)[..])?;
            self.by_time.insert(&time_key(new_time, id)[..], &[][..])?;
        }
        // Every member is in its feed's index at the item's time, a member
        // that just joined included.
        for s in &item.sources {
            if new_time != old_time {
                self.by_feed
                    .remove(&feed_time_key(&s.feed_url, old_time, id)[..])?;
            }
            self.by_feed
                .insert(&feed_time_key(&s.feed_url, new_time, id)[..], &[][..])?;
        }
        Ok(())
    }
}

impl Item {
    /// A new item of one member, showing its copy.
    pub(crate) fn of_copy(id: ItemId, first_seen: DateTime<Utc>, member: Source) -> Item {
        let mut item = Item {
            id,
            title: None,
            link: None,
            content: None,
            summary: None,
            published: None,
            updated: None,
            first_seen,
            authors: Vec::new(),
            categories: Vec::new(),
            enclosures: Vec::new(),
            language: None,
            base: None,
            sources: vec![member],
            revision: String::new(),
            keys: Vec::new(),
        };
        shown::show(&mut item, &Priorities::new(), None);
        item
    }
}

/// The copy of a member joining a story.
fn joining_copy(
    entry: &Entry,
    k: &ItemKeys,
    by: &str,
    score: Option<f64>,
    now: DateTime<Utc>,
) -> OutletCopy {
    OutletCopy {
        joined: Some(Joined {
            by: by.to_string(),
            score,
            at: now,
        }),
        ..OutletCopy::of_entry(entry, &k.revision, Some(hex(&k.local.0)))
    }
}

/// Adds a member to the story. The same outlet again under a new identity
/// (a re-post, "Update: …") stays one member, with the copy and link it
/// first gave (a member merged before copies were kept takes this copy).
fn join(item: &mut Item, source: Source, copy: OutletCopy) {
    match item
        .sources
        .iter_mut()
        .find(|s| s.feed_url == source.feed_url)
    {
        Some(s) => {
            if s.item_link.is_none() {
                s.item_link = source.item_link;
            }
            if s.copy.is_none() {
                s.copy = Some(copy);
            }
        }
        None => item.sources.push(Source {
            copy: Some(copy),
            ..source
        }),
    }
}

/// The outlet edited its copy: take what it says now. The updated date
/// moves to the source's own, or to now when the source gave none newer.
fn edited_copy(
    old: Option<OutletCopy>,
    entry: &Entry,
    k: &ItemKeys,
    now: DateTime<Utc>,
) -> OutletCopy {
    let Some(old) = old else {
        return OutletCopy {
            joined: Some(Joined {
                by: "unknown".into(),
                score: None,
                at: now,
            }),
            ..OutletCopy::of_entry(entry, &k.revision, Some(hex(&k.local.0)))
        };
    };
    let mut c = OutletCopy::of_entry(entry, &k.revision, old.local_key.clone());
    c.joined = old.joined;
    if c.link.is_none() {
        c.link = old.link;
    }
    if c.published.is_none() {
        c.published = old.published;
    }
    if c.language.is_none() {
        c.language = old.language;
    }
    c.updated = match entry.updated {
        Some(u) if old.updated.is_none_or(|o| u > o) && u <= now => Some(u),
        _ => Some(now),
    };
    c
}

/// Upgrades the items of a schema-1 store: each keeps its first source's
/// copy, which is what it shows (the other members' text was not kept).
/// Items already upgraded are left alone, so a pass cut short is simply
/// run again.
fn upgrade_v1(items: &sled::Tree) -> Result<(), String> {
    for kv in items.iter() {
        let (k, v) = kv.map_err(|e| e.to_string())?;
        let mut item: Item = serde_json::from_slice(&v).map_err(|e| format!("{}: {e}", hex(&k)))?;
        if upgrade_item(&mut item) {
            let v = serde_json::to_vec(&item).map_err(|e| format!("{}: {e}", item.id))?;
            items.insert(k, v).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Gives a schema-1 item its first source's copy; false when it has one.
pub(crate) fn upgrade_item(item: &mut Item) -> bool {
    if item.sources.first().is_none_or(|s| s.copy.is_some()) {
        return false;
    }
    let local_key = split::member_local_key(item, 0);
    let mut copy = OutletCopy::of_shown(item);
    copy.local_key = local_key;
    item.sources[0].copy = Some(copy);
    true
}

fn push_key(item: &mut Item, key: &Key) {
    let h = hex(&key.0);
    if !item.keys.contains(&h) {
        item.keys.push(h);
    }
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
    use crate::dedup::keys::keys_for;

    #[test]
    fn only_the_owner_can_read_a_new_store() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let store = Store::open(&dir, "test").unwrap();
        store.flush().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let mut seen = 0;
        let mut stack = vec![dir.join("store")];
        while let Some(p) = stack.pop() {
            seen += 1;
            assert_eq!(mode(&p) & 0o077, 0, "{} is {:o}", p.display(), mode(&p));
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
        assert!(seen > 2, "sled made no files?");
    }

    fn source(url: &str) -> Source {
        Source {
            feed_url: url.into(),
            feed_title: Some("F".into()),
            feed_id: None,
            site_url: None,
            item_link: None,
            guid: None,
            copy: None,
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
