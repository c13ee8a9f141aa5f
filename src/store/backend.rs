//! What every store backend does, and the handle the rest of rafid holds.
//!
//! The rest of rafid holds a `Store` and never learns which backend is
//! behind it: every read, write and long pass goes through `Backend`. The
//! methods take trait objects where the sled store takes generics
//! (`&mut dyn Write`, `&mut dyn FnMut`), so that a backend can be chosen
//! when the config is read; `Store` gives back the generic forms.
//!
//! A backend keeps the same records as the sled store (see the table in
//! `store`), makes the same same-story decisions, and writes the same
//! export: two stores holding the same items publish the same bytes.

use std::future::Future;
use std::io::{BufRead, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::{
    Dropped, ImportError, IngestStats, NearAhead, NearIndexFrom, Priorities, Retention, Split,
    SplitError, StoreError,
};
use crate::dedup::keys::{ItemKeys, Key};
use crate::dedup::near::NearDup;
use crate::model::{Entry, FeedState, Item, ItemId, Source};

/// A future a backend returns from the one async method; boxed, so that
/// `Backend` stays a trait object.
pub type Flushing<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Reads items newest first, through a filter (see `Backend::newest_before`).
pub type Keep<'a> = &'a mut dyn FnMut(&Item) -> bool;

/// A store backend. Every method may be called from several threads at
/// once; none may be called from an async task, since each may wait on
/// the disk or the network (`flush_async` aside).
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The state directory: where the pid file, the saved outputs and the
    /// saved near index live, whichever backend holds the records.
    fn dir(&self) -> &Path;

    /// Where the records are, for messages.
    fn describe(&self) -> String {
        self.dir().join("store").display().to_string()
    }

    /// A stable id of this store, for the feed-level ids of the outputs.
    /// An import may replace it.
    fn store_id(&self) -> [u8; 16];

    /// When the store was created: the date an output with no items shows.
    fn created(&self) -> DateTime<Utc>;

    /// The feeds' `priority` in force, for choosing the copy a merged story
    /// shows. Only feeds with a priority other than 0 are given.
    fn set_priorities(&self, priorities: Priorities);

    /// The `[dedup]` settings in force, for a backend that merges changes
    /// other processes made (`postgres::PgStore`); the others are given
    /// them with each ingest.
    fn set_near_dup(&self, _near: &NearDup) {}

    /// Tells of changes other processes made to the store, for a backend
    /// shared by several (`postgres::PgStore`): the value changes after
    /// each. None when only this process changes the store.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        None
    }

    fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError>;

    fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError>;

    /// Every feed's state, keyed by configured URL.
    fn feed_states(&self) -> Result<Vec<(String, FeedState)>, StoreError>;

    /// Stores one fetched document's entries and the feed's new state, all
    /// or nothing; the stored state's `items` is `state.items` raised by
    /// the items the document added or merged (`IngestStats::contributed`).
    /// `near` turns on near-duplicate merging.
    fn ingest_near(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
        near: Option<&NearDup>,
    ) -> Result<IngestStats, StoreError>;

    /// The number of stored items; may walk the store the first time.
    fn item_count(&self) -> usize;

    /// The number of stored items if it is known without a walk.
    fn known_item_count(&self) -> Option<usize>;

    fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError>;

    /// Up to `limit` items `keep` accepts, newest first, older than
    /// `before` when given.
    fn newest_before(
        &self,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError>;

    /// Up to `limit` items newest first that any of `feed_urls` carries,
    /// older than `before` when given.
    fn newest_in_feeds_before(
        &self,
        feed_urls: &[&str],
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// `newest_before` over at most `max_scan` items, only those of `feeds`
    /// when given: for rules judged on stored items.
    fn newest_matching(
        &self,
        feeds: Option<&[&str]>,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        max_scan: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError>;

    /// The stored item `spec` names: its id in hex, its `urn:uuid:`, or a
    /// member's link.
    fn find_item(&self, spec: &str) -> Result<Option<ItemId>, StoreError>;

    /// Why an item of `feed_url` was dropped by a rule, if it was.
    fn dropped(&self, feed_url: &str, local: &Key) -> Result<Option<Dropped>, StoreError>;

    /// Whether an item (stored or pruned) answers to `key`.
    fn knows_key(&self, key: &Key) -> Result<bool, StoreError>;

    /// Records the items of `feed_url` rules dropped (`add`), forgets those
    /// they no longer drop (`remove`) and those the feed no longer lists.
    fn note_dropped(
        &self,
        feed_url: &str,
        add: &[(Key, Dropped)],
        remove: &[Key],
        listed: &std::collections::HashSet<Key>,
    ) -> Result<(), StoreError>;

    fn dropped_of_feed(&self, feed_url: &str) -> Result<Vec<(String, Dropped)>, StoreError>;

    /// Takes `member` out of `story` for good; returns the new story's id.
    fn split(&self, story: ItemId, member: &str, now: DateTime<Utc>) -> Result<ItemId, SplitError>;

    /// Every split, under its record key.
    fn split_records(&self) -> Result<Vec<(Vec<u8>, Split)>, StoreError>;

    fn splits_of(&self, story: ItemId) -> Result<Vec<Split>, StoreError>;

    /// Prunes what `policy` says is too old; returns how many items went.
    fn prune(&self, policy: &Retention, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Keeps the newest `max` items `feed_url` lists; returns how many went.
    fn prune_feed(&self, feed_url: &str, max: u64, now: DateTime<Utc>)
    -> Result<usize, StoreError>;

    /// Makes the near-duplicate index ready, from `ahead` (read while the
    /// store opened) or the saved copy if they still match the store,
    /// else by reading the stored items; gives up when `stop` is set.
    fn prepare_near_index(
        &self,
        near: &NearDup,
        stop: &AtomicBool,
        ahead: Option<NearAhead>,
    ) -> Result<NearIndexFrom, StoreError>;

    /// Saves the near-duplicate index for the next start; false when there
    /// was none to save.
    fn save_near_index(&self, near: &NearDup) -> Result<bool, StoreError>;

    /// Saves the filter of the store's keys for the next start; false when
    /// it was not complete or not worth keeping.
    fn save_key_set(&self) -> Result<bool, StoreError>;

    /// Saves for the next start the per-feed cap every feed is known to
    /// be within, so that its first retention run need not count them;
    /// false when that is not known.
    fn save_feed_caps(&self) -> Result<bool, StoreError>;

    /// For a command that only read the store: keeps for the next process
    /// what the last clean stop saved (see `SledStore::hand_on_saved`).
    fn hand_on_saved(&self) -> Result<(), StoreError>;

    /// How many stories the near-duplicate index holds.
    fn near_index_len(&self) -> usize;

    /// Finishes reading into memory what makes lookups of unknown keys
    /// cheap, giving up when `stop` is set; lookups are right meanwhile.
    fn fill_key_set(&self, stop: Option<&AtomicBool>) -> Result<(), StoreError>;

    /// Writes the whole store to `out`, in the one export format.
    fn export(&self, out: &mut dyn Write) -> Result<(), StoreError>;

    /// Restores an export into this store, which must be empty. Returns the
    /// number of items restored.
    fn import(&self, input: &mut dyn BufRead) -> Result<usize, ImportError>;

    /// Checks that the records and indexes agree; returns the problems.
    fn check(&self) -> Result<Vec<String>, StoreError>;

    /// Bytes the store takes on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;

    /// Makes everything stored so far durable.
    fn flush(&self) -> Result<(), StoreError>;

    fn flush_async(&self) -> Flushing<'_>;

    /// The schema version the store records.
    fn schema_version(&self) -> Result<Option<String>, StoreError>;

    /// For tests only: records another schema version.
    fn stamp_schema_version(&self, version: &str) -> Result<(), StoreError>;

    /// For tests only: compacts what the backend keeps (a snapshot of a
    /// log) now, if it is due; whether it did.
    #[cfg(test)]
    fn compact_now(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// An open store, whichever backend holds it. Cloning is cheap.
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The backend's methods are the store's; `Store`'s own methods below are
/// their generic forms.
impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Store {
    pub fn new(backend: impl Backend + 'static) -> Store {
        Store(Arc::new(backend))
    }

    /// `ingest_near` without near-duplicate merging. `source` describes the
    /// feed (its `item_link` and `guid` are filled in per entry).
    pub fn ingest(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
    ) -> Result<IngestStats, StoreError> {
        self.0.ingest_near(source, entries, keys, state, now, None)
    }

    /// At a clean stop, once nothing more will be stored: saves what the
    /// next process can start from (the near index when `near` is given,
    /// the key filter, the feeds' cap). A failure is logged and costs the
    /// next start only time; the caller's flush puts it on disk.
    pub fn save_for_next_start(&self, near: Option<&NearDup>) {
        if let Some(near) = near {
            if let Err(e) = self.0.save_near_index(near) {
                tracing::warn!(error = %e, "the near-duplicate index is not saved");
            }
        }
        if let Err(e) = self.0.save_key_set() {
            tracing::warn!(error = %e, "the filter of the store's keys is not saved");
        }
        if let Err(e) = self.0.save_feed_caps() {
            tracing::warn!(error = %e, "what is known of the feeds' caps is not saved");
        }
    }

    /// See `Backend::set_priorities`; zero priorities are left out here.
    pub fn set_priorities(&self, priorities: impl IntoIterator<Item = (String, i32)>) {
        self.0.set_priorities(
            priorities
                .into_iter()
                .filter(|(_, p)| *p != 0)
                .collect::<Priorities>(),
        )
    }

    /// The newest `limit` items that `keep` accepts, newest first (ties by
    /// id), read from a time index: the cost does not grow with the store.
    pub fn newest(
        &self,
        limit: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.0.newest_before(None, limit, &mut keep)
    }

    pub fn newest_before(
        &self,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.0.newest_before(before, limit, &mut keep)
    }

    /// The newest `limit` items carried by any of `feed_urls`: the cost
    /// depends on `limit` and the number of feeds, not on the store's size.
    pub fn newest_in_feeds(
        &self,
        feed_urls: &[&str],
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.0.newest_in_feeds_before(feed_urls, None, limit)
    }

    pub fn newest_matching(
        &self,
        feeds: Option<&[&str]>,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        max_scan: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.0
            .newest_matching(feeds, before, limit, max_scan, &mut keep)
    }

    pub fn export(&self, mut out: impl Write) -> Result<(), StoreError> {
        self.0.export(&mut out)
    }

    pub fn import(&self, mut input: impl BufRead) -> Result<usize, ImportError> {
        self.0.import(&mut input)
    }
}
