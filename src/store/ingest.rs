//! The ingest transaction: one fetched document's items, their index
//! entries and the feed's new state, written together or not at all.

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{
    Priorities, Seen, SledStore, StoreError, as_id, feed_digest, feed_time_key, seen_feed_key,
    shown, time_key,
};
use crate::dedup::decide::{self, StoryView};
use crate::dedup::keys::{self as dedup, Decision, ItemKeys, Key};
use crate::dedup::near::{NearDup, NearState, Probe};
use crate::model::{Entry, FeedState, Item, ItemId, Joined, OutletCopy, Source, hex, unhex};

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
    /// Stored stories found to be another stored story, once a new copy
    /// bridged the two, and folded into it.
    pub folded: usize,
    /// Links made between a new story and one in another language.
    pub linked: usize,
    /// Of the merged items, those found by near-duplicate detection (the
    /// same story re-edited) rather than by a shared link or exact text.
    pub near_duplicates: usize,
}

impl IngestStats {
    /// The items the document added to its feed's count (`FeedState::items`):
    /// those stored new and those merged into a story already stored.
    pub fn contributed(&self) -> u64 {
        (self.new + self.merged) as u64
    }
}

impl std::ops::AddAssign for IngestStats {
    fn add_assign(&mut self, o: IngestStats) {
        self.new += o.new;
        self.updated += o.updated;
        self.merged += o.merged;
        self.unchanged += o.unchanged;
        self.pruned_seen += o.pruned_seen;
        self.folded += o.folded;
        self.linked += o.linked;
        self.near_duplicates += o.near_duplicates;
    }
}

impl SledStore {
    /// `Store::ingest`, for this store's tests.
    #[cfg(test)]
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

    /// Stores one fetched document's entries and the feed's new state in
    /// one transaction (its `items` raised by the items the document added
    /// or merged, so that the state is written once, not again after the
    /// transaction), merging a new item into a stored story it repeats
    /// when `near` is given. `source` describes the feed (its `item_link`
    /// and `guid` are filled in per entry). Pruned items the feed no longer
    /// lists are forgotten for this feed in the same transaction.
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
        let forget = self.seen_not_listed(&source.feed_url, keys)?;
        let ahead = self.ahead(near, source, entries, keys, now)?;
        let (mut stats, folds, created) = self.in_ingest_tx(near, |tx| {
            let mut stats = IngestStats::default();
            for ((entry, k), ahead) in entries.iter().zip(keys).zip(&ahead) {
                tx.ingest_one(source, entry, k, ahead, now, &mut stats)?;
            }
            for id in &forget {
                tx.forget_for_feed(*id, &source.feed_url)?;
            }
            let state = FeedState {
                items: state.items + stats.contributed(),
                ..state.clone()
            };
            let state_json = serde_json::to_vec(&state)
                .map_err(|e| ConflictableTransactionError::Abort(format!("feed state: {e}")))?;
            tx.feeds
                .insert(source.feed_url.as_bytes(), state_json.as_slice())?;
            Ok((stats, tx.folds.take(), tx.created.take()))
        })?;
        self.count_items(stats.new as i64);
        // Each fold is a transaction of its own: one that fails leaves the
        // two stories as they were, and the document is stored all the same.
        if let Some(n) = near {
            for (from, into, score) in folds {
                match self.fold_stories(from, into, score, n, now) {
                    Ok(true) => stats.folded += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(
                        story = %into,
                        other = %from,
                        error = %e,
                        "could not fold two stories found to be one"
                    ),
                }
            }
            // Links are written after the document, like folds: one that
            // fails leaves two stories unlinked, nothing worse.
            match self.link_across(&created, n, now) {
                Ok(linked) => stats.linked += linked,
                Err(e) => tracing::warn!(
                    feed = %crate::config::redact_str(&source.feed_url),
                    error = %e,
                    "could not link stories across languages"
                ),
            }
        }
        Ok(stats)
    }

    /// Runs `body` in one transaction over the trees an ingest writes
    /// (`Tx`), which sled retries on conflict: `body` may run more than once
    /// and must leave nothing behind outside the transaction.
    pub(super) fn in_ingest_tx<T>(
        &self,
        near: Option<&NearDup>,
        body: impl Fn(&Tx<'_>) -> TxResult<T>,
    ) -> Result<T, StoreError> {
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
            |(items, keys, by_time, by_feed, feeds, seen, seen_by_feed, splits)| {
                body(&Tx {
                    items,
                    keys,
                    by_time,
                    by_feed,
                    feeds,
                    seen,
                    seen_by_feed,
                    splits,
                    seq: &self.seq,
                    key_set: &self.key_set,
                    folds: Default::default(),
                    created: Default::default(),
                    near_state: &self.near,
                    near,
                    priorities: &priorities,
                    caps: &self.caps,
                })
            },
        );
        match result {
            Ok(v) => Ok(v),
            Err(TransactionError::Abort(detail)) => Err(self.corrupt("items", detail)),
            Err(TransactionError::Storage(e)) => Err(self.err(e)),
        }
    }

    /// What can be made of each entry that looks new (its own key is
    /// unknown) before the ingest transaction: its near-duplicate probe,
    /// and the item it would be stored as, encoded. sled runs one
    /// transaction at a time and every ingest waits for it, so what is
    /// done inside holds up every other feed's ingest; at 10,000 feeds
    /// the transaction is held for most of a cold poll. An entry found new
    /// only inside the transaction (another feed stored it meanwhile, or
    /// it lost its key) has its probe read and its item made there.
    fn ahead<'a>(
        &self,
        near: Option<&'a NearDup>,
        source: &'a Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        now: DateTime<Utc>,
    ) -> Result<Vec<Ahead<'a>>, StoreError> {
        if near.is_none() && !self.ids_ahead {
            return Ok(entries.iter().map(|_| Ahead::default()).collect());
        }
        let mut out = Vec::with_capacity(entries.len());
        for (entry, k) in entries.iter().zip(keys) {
            let known = self.key_set.may_hold(&k.local.0)
                && self.keys.contains_key(k.local.0).map_err(|e| self.err(e))?;
            if known {
                out.push(Ahead::default());
                continue;
            }
            let new = self
                .ids_ahead
                .then(|| Prepared::new(&self.seq, source, entry, k, now))
                .transpose()
                .map_err(|e| self.corrupt("items", e))?;
            out.push(Ahead {
                probe: near.map(|n| Probe::new(n, &source.feed_url, entry, now)),
                new,
            });
        }
        Ok(out)
    }

    /// Pruned items recorded as listed by `feed_url` whose keys are not in
    /// this document: the feed has stopped listing them.
    fn seen_not_listed(
        &self,
        feed_url: &str,
        keys: &[ItemKeys],
    ) -> Result<Vec<ItemId>, StoreError> {
        if !self.may_hold_seen.get() {
            return Ok(Vec::new());
        }
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
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

/// What `SledStore::ahead` made of an entry before the transaction.
#[derive(Default)]
pub(super) struct Ahead<'a> {
    probe: Option<Probe<'a>>,
    new: Option<Prepared>,
}

/// A new item, made and encoded before the transaction on the guess that
/// no other item holds its cross-feed keys (the transaction checks, and
/// makes the item again when the guess was wrong). Its id is taken then: a
/// guess that does not hold, or an entry that turns out to be a story
/// already stored, leaves a sequence number unused, which is harmless.
pub(super) struct Prepared {
    id: ItemId,
    sort_time: DateTime<Utc>,
    /// The item, listing all the entry's cross-feed keys, encoded.
    value: sled::IVec,
}

impl Prepared {
    fn new(
        seq: &std::sync::atomic::AtomicU64,
        feed: &Source,
        entry: &Entry,
        k: &ItemKeys,
        now: DateTime<Utc>,
    ) -> Result<Prepared, String> {
        let id = fresh_id(seq, k);
        let shared: Vec<Key> = k.shared().copied().collect();
        let item = new_item(feed, entry, k, id, now, &shared);
        Ok(Prepared {
            id,
            sort_time: item.sort_time(),
            value: super::codec::encode_item(&item)?.into(),
        })
    }
}

/// The item a new entry is stored as, listing its own key and the
/// cross-feed keys `claimed` for it.
fn new_item(
    feed: &Source,
    entry: &Entry,
    k: &ItemKeys,
    id: ItemId,
    now: DateTime<Utc>,
    claimed: &[Key],
) -> Item {
    let copy = OutletCopy::of_entry(entry, &k.revision, Some(hex(&k.local.0)));
    let mut item = Item::of_copy(
        id,
        now,
        Source {
            item_link: entry.link.clone(),
            guid: entry.guid.clone(),
            copy: Some(copy),
            ..feed.clone()
        },
    );
    item.uid = Some(k.new_id());
    push_key(&mut item, &k.local);
    for key in claimed {
        push_key(&mut item, key);
    }
    item
}

/// The id a new item is stored under: the time in milliseconds and a
/// counter (`next_seq`), then half of the local key's digest. Items then
/// go into `items` in the order they arrive, each at the end of the tree,
/// whose pages are in the cache already: with ids at random, each insert
/// read and rewrote a page of other items (on the 10,000-feed farm, a cold
/// poll took 14-18% longer).
///
/// Not sled's `generate_id`: it takes the lock transactions hold. Two ids
/// are the same only if both halves are, and the first never repeats
/// within a process nor, with a clock that does not go back, across
/// processes.
fn fresh_id(seq: &std::sync::atomic::AtomicU64, k: &ItemKeys) -> ItemId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&next_seq(seq).to_be_bytes());
    id[8..].copy_from_slice(&k.new_id().0[..8]);
    ItemId(id)
}

/// Bits of a sequence number below the milliseconds: a million items a
/// millisecond before the counter runs into the next one.
const SEQ_COUNTER_BITS: u32 = 20;

/// The next sequence number after `last`: the clock's milliseconds shifted
/// left by `SEQ_COUNTER_BITS`, or one more than the last number given when
/// that is later. Always greater than the last, from any thread.
pub(super) fn next_seq(last: &std::sync::atomic::AtomicU64) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let floor = (Utc::now().timestamp_millis().max(0) as u64) << SEQ_COUNTER_BITS;
    let mut cur = last.load(Relaxed);
    loop {
        let next = floor.max(cur.saturating_add(1));
        match last.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
            Ok(_) => return next,
            Err(seen) => cur = seen,
        }
    }
}

pub(super) fn load(items: &TransactionalTree, id: ItemId) -> TxResult<Item> {
    let Some(v) = items.get(id.0)? else {
        return Err(ConflictableTransactionError::Abort(format!(
            "key index points at missing item {id}"
        )));
    };
    super::codec::decode_item(&v)
        .map_err(|e| ConflictableTransactionError::Abort(format!("item {id}: {e}")))
}

pub(super) fn save(items: &TransactionalTree, item: &Item) -> TxResult<()> {
    let v = super::codec::encode_item(item).map_err(ConflictableTransactionError::Abort)?;
    items.insert(&item.id.0, v)?;
    Ok(())
}

/// The trees one ingest transaction writes.
pub(super) struct Tx<'a> {
    pub(super) items: &'a TransactionalTree,
    pub(super) keys: &'a TransactionalTree,
    pub(super) by_time: &'a TransactionalTree,
    pub(super) by_feed: &'a TransactionalTree,
    pub(super) feeds: &'a TransactionalTree,
    pub(super) seen: &'a TransactionalTree,
    pub(super) seen_by_feed: &'a TransactionalTree,
    pub(super) splits: &'a TransactionalTree,
    /// The last sequence number `fresh_id` gave (see `next_seq`).
    pub(super) seq: &'a std::sync::atomic::AtomicU64,
    /// Told of every key inserted into `keys` before the insert
    /// (`put_key`).
    pub(super) key_set: &'a super::keyset::KeySet,
    /// Stories a new copy showed to be one (`from`, `into`, the copy's
    /// score), folded once the ingest is committed (`SledStore::fold_stories`).
    pub(super) folds: std::cell::RefCell<Vec<(ItemId, ItemId, f64)>>,
    /// Stories this document began, linked across languages once the
    /// ingest is committed (`SledStore::link_across`).
    pub(super) created: std::cell::RefCell<Vec<ItemId>>,
    pub(super) near_state: &'a std::sync::Mutex<NearState>,
    pub(super) near: Option<&'a NearDup>,
    pub(super) priorities: &'a Priorities,
    /// Told of every feed whose copy a stored item comes to show.
    pub(super) caps: &'a super::retention::FeedCaps,
}

impl Tx<'_> {
    /// Points `key` at `id` in `keys` (see `keyset::insert`).
    pub(super) fn put_key(&self, key: &[u8], id: ItemId) -> TxResult<()> {
        Ok(super::keyset::insert(self.key_set, self.keys, key, id)?)
    }

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
        ahead: &Ahead<'_>,
        now: DateTime<Utc>,
        stats: &mut IngestStats,
    ) -> TxResult<()> {
        let probe = ahead.probe.as_ref();
        let source = Source {
            item_link: entry.link.clone(),
            guid: entry.guid.clone(),
            ..feed.clone()
        };
        let decision = decide::decide_in(self, k, &source.feed_url)?;
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
                self.put_key(&k.local.0, id)?;
                push_key(&mut item, &k.local);
                self.reshow(&mut item, old_time, Some(now))?;
                self.claim_shared_keys(&mut item, k)?;
                save(self.items, &item)?;
                stats.merged += 1;
            }
            Decision::Pruned(id) => self.listed_again(id, &source.feed_url, k, stats)?,
            Decision::New => {
                let read_here;
                let probe = match (probe, self.near) {
                    (Some(p), _) => Some(p),
                    (None, Some(n)) => {
                        read_here = Probe::new(n, &feed.feed_url, entry, now);
                        Some(&read_here)
                    }
                    (None, None) => None,
                };
                if let Some(p) = probe {
                    if let Some((id, score, folds)) = self.near_match(p)? {
                        self.merge_near(id, source, entry, k, score, now)?;
                        self.near_join(p, id);
                        self.folds
                            .borrow_mut()
                            .extend(folds.into_iter().map(|other| (other, id, score)));
                        stats.merged += 1;
                        stats.near_duplicates += 1;
                        return Ok(());
                    }
                }
                let prepared = ahead.new.as_ref();
                let id = prepared.map_or_else(|| fresh_id(self.seq, k), |p| p.id);
                self.put_key(&k.local.0, id)?;
                let claimed = decide::claim_shared(self, k, id)?;
                let sort_time = match prepared.filter(|_| claimed.iter().eq(k.shared())) {
                    Some(p) => {
                        self.items.insert(&id.0, p.value.clone())?;
                        p.sort_time
                    }
                    None => {
                        let item = new_item(feed, entry, k, id, now, &claimed);
                        save(self.items, &item)?;
                        item.sort_time()
                    }
                };
                self.by_time.insert(&time_key(sort_time, id)[..], &[][..])?;
                self.by_feed
                    .insert(&feed_time_key(&feed.feed_url, sort_time, id)[..], &[][..])?;
                self.caps.note(&feed.feed_url);
                if let Some(p) = probe {
                    self.near_insert(p, id);
                }
                self.created.borrow_mut().push(id);
                stats.new += 1;
            }
        }
        Ok(())
    }

    /// Points the item's cross-feed keys at it where `decide` says so, and
    /// lists them on the item.
    pub(super) fn claim_shared_keys(&self, item: &mut Item, k: &ItemKeys) -> TxResult<()> {
        for key in decide::claim_shared(self, k, item.id)? {
            push_key(item, &key);
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
            self.put_key(&k.local.0, id)?;
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
                    self.key_set.note_removed();
                }
            }
        }
        self.seen.remove(&id.0)?;
        Ok(())
    }
}

/// The decision's view of the store, inside the ingest transaction.
impl StoryView for Tx<'_> {
    type Error = ConflictableTransactionError<String>;

    fn owner(&self, key: &Key) -> TxResult<Option<ItemId>> {
        if !self.key_set.may_hold(&key.0) {
            return Ok(None);
        }
        Ok(self.keys.get(key.0)?.and_then(|v| as_id(&v)))
    }

    fn claim(&self, key: &Key, id: ItemId) -> TxResult<()> {
        self.put_key(&key.0, id)
    }

    fn is_stored(&self, id: ItemId) -> TxResult<bool> {
        Ok(self.items.get(id.0)?.is_some())
    }

    fn is_split(&self, id: ItemId, feed_url: &str) -> TxResult<bool> {
        Tx::is_split(self, id, feed_url)
    }

    fn item(&self, id: ItemId) -> TxResult<Option<Item>> {
        Ok(self
            .items
            .get(id.0)?
            .and_then(|v| super::codec::decode_item(&v).ok()))
    }
}

impl Tx<'_> {
    /// Shows the copy `shown` chooses, moving the item in the time indexes
    /// if its date changed (from `old_time`).
    pub(super) fn reshow(
        &self,
        item: &mut Item,
        old_time: DateTime<Utc>,
        now: Option<DateTime<Utc>>,
    ) -> TxResult<()> {
        self.caps.show(item, self.priorities, now);
        self.refresh_translations(item, None)?;
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

impl Tx<'_> {
    /// Brings what the stories in another language record of `item` (its
    /// shown title, link and outlet) up to date, and re-points the records
    /// that named `was` (a story folded into `item`).
    pub(super) fn refresh_translations(&self, item: &Item, was: Option<ItemId>) -> TxResult<()> {
        for t in &item.translations {
            let Some(v) = self.items.get(t.id.0)? else {
                continue; // pruned since
            };
            let Ok(mut other) = super::codec::decode_item(&v) else {
                continue; // `store check` reports damaged items
            };
            let source = item.sources.first().and_then(|s| s.feed_title.clone());
            let mut changed = false;
            for r in other
                .translations
                .iter_mut()
                .filter(|r| r.id == item.id || Some(r.id) == was)
            {
                if (r.id, &r.title, &r.link, &r.source)
                    != (item.id, &item.title, &item.link, &source)
                {
                    r.id = item.id;
                    r.title = item.title.clone();
                    r.link = item.link.clone();
                    r.source = source.clone();
                    changed = true;
                }
            }
            if changed {
                // A fold may leave two records of one story.
                let mut seen = Vec::new();
                other.translations.retain(|r| {
                    let first = !seen.contains(&r.id);
                    seen.push(r.id);
                    first
                });
                save(self.items, &other)?;
            }
        }
        Ok(())
    }
}

impl Item {
    /// A new item of one member, showing its copy.
    pub(crate) fn of_copy(id: ItemId, first_seen: DateTime<Utc>, member: Source) -> Item {
        let mut item = Item {
            id,
            uid: None,
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
            translations: Vec::new(),
        };
        shown::show(&mut item, &Priorities::new(), None);
        item
    }
}

/// The copy of a member joining a story.
pub(super) fn joining_copy(
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
pub(super) fn join(item: &mut Item, source: Source, copy: OutletCopy) {
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

pub(super) fn push_key(item: &mut Item, key: &Key) {
    let h = hex(&key.0);
    if !item.keys.contains(&h) {
        item.keys.push(h);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::dedup::keys::keys_for;
    use crate::store::Retention;

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

    pub(in crate::store) fn entry(guid: &str, link: &str, title: &str, body: &str) -> Entry {
        Entry {
            guid: Some(guid.into()),
            link: Some(link.into()),
            title: Some(title.into()),
            content: Some(body.into()),
            published: Some(Utc::now() - chrono::Duration::hours(1)),
            ..Entry::default()
        }
    }

    pub(in crate::store) fn ingest(
        store: &SledStore,
        feed: &str,
        entries: &[Entry],
    ) -> IngestStats {
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

    /// Every item of `store`, its id (which holds the moment it was
    /// taken) left out.
    fn items_without_ids(store: &SledStore) -> Vec<Item> {
        let mut items = store.newest(100, |_| true).unwrap();
        for item in &mut items {
            item.id = ItemId([0; 16]);
        }
        items.sort_by_key(|i| i.uid.map(|u| u.0));
        items
    }

    #[test]
    fn an_item_made_before_the_transaction_is_the_one_made_inside_it() {
        let (ahead_dir, inside_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ahead = SledStore::open(ahead_dir.path(), "test").unwrap();
        let mut inside = SledStore::open(inside_dir.path(), "test").unwrap();
        inside.ids_ahead = false;
        let mut entries = vec![
            entry(
                "a1",
                "https://a.example/1",
                "جسر جديد",
                "<p>افتتاح جسر جديد فوق الوادي</p>",
            ),
            entry(
                "a2",
                "https://a.example/2",
                "ميناء",
                "توسعة الميناء التجاري",
            ),
        ];
        entries[0].authors = vec![crate::model::Person {
            name: "مراسل".into(),
            email: None,
            uri: None,
        }];
        entries[1].summary = Some("ملخص".into());
        entries[1].language = Some("ar".into());
        let now = Utc::now();
        for store in [&ahead, &inside] {
            for feed in ["https://a.example/feed", "https://b.example/feed"] {
                let keys = keys_for(feed, None, &entries);
                let state = FeedState::default();
                store
                    .ingest_near(&source(feed), &entries, &keys, &state, now, None)
                    .unwrap();
            }
        }
        let made_ahead = items_without_ids(&ahead);
        assert_eq!(made_ahead.len(), 2);
        assert_eq!(made_ahead[0].sources.len(), 2);
        assert_eq!(made_ahead, items_without_ids(&inside));
    }

    #[test]
    fn a_new_item_whose_shared_keys_another_story_holds_lists_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let (a, b) = ("https://a.example/feed", "https://b.example/feed");
        let link = "https://news.example/2026/bridge";
        let body = "افتتحت البلدية جسرا جديدا فوق الوادي بطول أربعمئة متر بعد عامين من الأشغال";
        ingest(&store, a, &[entry("a1", link, "جسر", body)]);
        ingest(&store, b, &[entry("b1", link, "جسر", body)]);
        let story = store.newest(1, |_| true).unwrap().remove(0);
        store.split(story.id, b, Utc::now()).unwrap();
        // B lists the story again under another guid: its link and text
        // lead to the story it was split from, so it is stored new, and
        // the story keeps those keys.
        let again = entry("b2", link, "جسر", body);
        let keys = keys_for(b, None, std::slice::from_ref(&again));
        assert_eq!(ingest(&store, b, std::slice::from_ref(&again)).new, 1);
        let item = store
            .newest(10, |i| i.uid == Some(keys[0].new_id()))
            .unwrap()
            .remove(0);
        assert_eq!(item.keys, vec![hex(&keys[0].local.0)]);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn new_items_are_appended_and_publish_the_digest_of_their_local_key() {
        let feed = "https://a.example/f";
        let entries: Vec<Entry> = (0..40)
            .map(|i| {
                entry(
                    &format!("g{i}"),
                    &format!("https://a.example/news/{i}"),
                    &format!("خبر رقم {i} عن موضوع مختلف"),
                    &format!("نص الخبر {i}: {}", "كلمة ".repeat(i + 3)),
                )
            })
            .collect();
        let keys = keys_for(feed, None, &entries);
        // Two stores given the same entries, one at a time, in opposite orders.
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = SledStore::open(dir_a.path(), "test").unwrap();
        let b = SledStore::open(dir_b.path(), "test").unwrap();
        for e in &entries {
            assert_eq!(ingest(&a, feed, std::slice::from_ref(e)).new, 1);
        }
        for e in entries.iter().rev() {
            assert_eq!(ingest(&b, feed, std::slice::from_ref(e)).new, 1);
        }
        let guids = |store: &SledStore| -> Vec<String> {
            store
                .items
                .iter()
                .values()
                .map(|v| {
                    let item = super::super::codec::decode_item(&v.unwrap()).unwrap();
                    item.sources[0].guid.clone().unwrap()
                })
                .collect()
        };
        // In key order, `items` holds them in the order they came.
        let order: Vec<String> = entries.iter().map(|e| e.guid.clone().unwrap()).collect();
        assert_eq!(guids(&a), order);
        assert_eq!(guids(&b), order.iter().rev().cloned().collect::<Vec<_>>());
        // Each publishes its local key's digest, whichever store holds it,
        // and that id leads to it.
        for (e, k) in entries.iter().zip(&keys) {
            for store in [&a, &b] {
                let id = store.find_item(&k.new_id().urn()).unwrap().unwrap();
                let item = store.item(id).unwrap().unwrap();
                assert_eq!(item.sources[0].guid, e.guid);
                assert_eq!(item.public_id(), k.new_id());
                assert_ne!(item.id, k.new_id());
            }
        }
    }

    #[test]
    fn sequence_numbers_only_grow_from_any_thread() {
        let last = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let floor = (Utc::now().timestamp_millis() as u64) << SEQ_COUNTER_BITS;
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let last = last.clone();
                std::thread::spawn(move || {
                    let got: Vec<u64> = (0..10_000).map(|_| next_seq(&last)).collect();
                    assert!(got.windows(2).all(|w| w[0] < w[1]));
                    got
                })
            })
            .collect();
        let mut all: Vec<u64> = runs.into_iter().flat_map(|r| r.join().unwrap()).collect();
        assert!(all.iter().all(|n| *n >= floor));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 40_000, "a sequence number was given twice");
        // A number given later in the process is greater, even when the
        // clock has not moved on.
        let max = *all.last().unwrap();
        assert!(next_seq(&last) > max);
    }

    #[test]
    fn the_item_count_follows_ingest_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let feed = "https://a.example/f";
        let e = |i: u32| {
            entry(
                &i.to_string(),
                &format!("https://a.example/{i}"),
                &format!("خبر {i}"),
                "<p>نص</p>",
            )
        };
        // Not counted until asked: what must not wait is told nothing.
        ingest(&store, feed, &[e(1)]);
        assert_eq!(store.known_item_count(), None);
        assert_eq!(store.item_count(), 1);
        assert_eq!(store.known_item_count(), Some(1));
        ingest(&store, feed, &[e(1), e(2)]);
        assert_eq!(store.item_count(), 2);
        ingest(&store, feed, &[e(1), e(2), e(3)]);
        assert_eq!(store.item_count(), 3);
        assert_eq!(store.known_item_count(), Some(3));
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
        let store = SledStore::open(dir.path(), "test").unwrap();
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
    fn a_reopened_store_knows_the_keys_written_before_and_since() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("https://a.example/f", "https://b.example/f");
        let first = entry("1", "https://s.example/1", "خبر أول", "<p>نص أول</p>");
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).new, 1);
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path(), "test").unwrap();
        // A store this small has its keys read at open, so the lookups
        // below go through the key set.
        assert!(store.key_set.is_complete());
        // Written before: the same item, and its link from another feed.
        assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).unchanged, 1);
        let mut via_b = first.clone();
        via_b.guid = Some("b-1".into());
        assert_eq!(ingest(&store, b, &[via_b]).merged, 1);
        // Written since.
        let second = entry("2", "https://s.example/2", "خبر ثان", "<p>نص ثان</p>");
        assert_eq!(ingest(&store, a, std::slice::from_ref(&second)).new, 1);
        assert_eq!(
            ingest(&store, a, std::slice::from_ref(&second)).unchanged,
            1
        );
        assert_eq!(store.newest(10, |_| true).unwrap().len(), 2);
    }

    #[test]
    fn a_store_whose_keys_are_still_being_read_finds_them_in_sled() {
        let dir = tempfile::tempdir().unwrap();
        let a = "https://a.example/f";
        let first = entry("1", "https://s.example/1", "خبر أول", "<p>نص أول</p>");
        let mut store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).new, 1);
        // As a store too large for the scan at open is until `fill_key_set`.
        store.key_set = Default::default();
        assert!(!store.key_set.is_complete());
        assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).unchanged, 1);
        let second = entry("2", "https://s.example/2", "خبر ثان", "<p>نص ثان</p>");
        assert_eq!(ingest(&store, a, std::slice::from_ref(&second)).new, 1);
        store.fill_key_set(None).unwrap();
        assert!(store.key_set.is_complete());
        for e in [&first, &second] {
            assert_eq!(ingest(&store, a, std::slice::from_ref(e)).unchanged, 1);
            let mut elsewhere = e.clone();
            elsewhere.guid = Some(format!("b-{}", e.guid.as_deref().unwrap_or_default()));
            assert_eq!(
                ingest(&store, "https://b.example/f", &[elsewhere]).merged,
                1
            );
        }
        assert_eq!(store.newest(10, |_| true).unwrap().len(), 2);
    }

    #[test]
    fn an_imported_store_knows_the_keys_it_imported() {
        let (a, b) = ("https://a.example/f", "https://b.example/f");
        let first = entry("1", "https://s.example/1", "خبر أول", "<p>نص أول</p>");
        let dir = tempfile::tempdir().unwrap();
        let mut exported = Vec::new();
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).new, 1);
            store.export(&mut exported).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert!(store.key_set.is_complete());
        store.import(exported.as_slice()).unwrap();
        assert_eq!(ingest(&store, a, std::slice::from_ref(&first)).unchanged, 1);
        let mut via_b = first.clone();
        via_b.guid = Some("b-1".into());
        assert_eq!(ingest(&store, b, &[via_b]).merged, 1);
    }

    #[test]
    fn same_link_from_two_feeds_is_merged_with_both_sources() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
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
}
