//! Near-duplicates in the store: the in-memory index (`dedup::near`'s
//! `NearState`) rebuilt from the stored items when an ingest first needs
//! it, the search run inside the ingest transaction, and the merge of a new
//! item into the story it repeats.
//!
//! The index is derived data and is not written to sled: the items and the
//! `by_time` tree already hold everything it needs, so rebuilding it costs
//! one range scan over the window, and it can never disagree with the items
//! after a crash.

use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use sled::transaction::ConflictableTransactionError;

use super::split::{Split, split_key};
use super::{
    SAVED_NEAR_INDEX, SledStore, StoreError, TxResult, as_id, feed_time_key, join, joining_copy,
    load, push_key, save, time_key,
};
use crate::dedup::decide::StoryView;
use crate::dedup::keys::ItemKeys;
use crate::dedup::near::{Index, NearDup, NearState, Probe, persist};
use crate::model::{Entry, Item, ItemId, Joined, Source, unhex};

/// Where the near index a process uses came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearIndexFrom {
    /// It was in memory already.
    Memory,
    /// The copy the last process saved at its clean stop.
    Saved,
    /// Rebuilt from the window's items.
    Items,
}

/// The near index a clean stop saved, read from the state directory but
/// not yet held against the store: reading it can go on while the store
/// opens, and only the open store can say whether it may be used.
pub struct NearAhead {
    read: Result<persist::Saved, persist::Refused>,
    /// How long reading took.
    took: std::time::Duration,
}

impl NearAhead {
    /// Reads the copy saved in the state directory `dir`, if there is one.
    pub fn read(dir: &std::path::Path) -> Option<NearAhead> {
        let path = dir.join(SAVED_NEAR_INDEX);
        let started = std::time::Instant::now();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the saved near-duplicate index; rebuilding it");
                return None;
            }
        };
        Some(NearAhead {
            read: persist::read(&bytes),
            took: started.elapsed(),
        })
    }
}

/// The time a `by_time` key starts with.
fn time_of_key(k: &[u8]) -> Option<DateTime<Utc>> {
    let ms = u64::from_be_bytes(k.get(..8)?.try_into().ok()?) ^ (1u64 << 63);
    DateTime::from_timestamp_millis(ms as i64)
}

/// Takes the index's lock. A panic while it was held leaves at worst an
/// index missing an item: still usable.
fn locked(state: &std::sync::Mutex<NearState>) -> MutexGuard<'_, NearState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl SledStore {
    /// Builds the index from the items of the window, once.
    pub(super) fn ensure_near_index(
        &self,
        near: &NearDup,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.ready_near_index(near, now, None, None).map(|_| ())
    }

    /// Makes the index ready ahead of the first ingest that needs it, so
    /// that ingest waits less or not at all; says where it came from. Ends
    /// early, leaving no index, once `stop` is set. `ahead` is the saved
    /// copy if it was read while the store opened (`NearAhead::read`).
    pub fn prepare_near_index(
        &self,
        near: &NearDup,
        stop: &std::sync::atomic::AtomicBool,
        ahead: Option<NearAhead>,
    ) -> Result<NearIndexFrom, StoreError> {
        self.ready_near_index(near, Utc::now(), Some(stop), ahead)
    }

    fn ready_near_index(
        &self,
        near: &NearDup,
        now: DateTime<Utc>,
        stop: Option<&std::sync::atomic::AtomicBool>,
        ahead: Option<NearAhead>,
    ) -> Result<NearIndexFrom, StoreError> {
        // Held while building: concurrent ingests wait for the one index
        // rather than each building their own.
        let mut state = locked(&self.near);
        if state.is_built() {
            return Ok(NearIndexFrom::Memory);
        }
        // Without the token the file (if any) is stale, and the open
        // removed it: nothing to read.
        let saved = ahead.or_else(|| self.near_token.and_then(|_| NearAhead::read(&self.dir)));
        if let Some(index) = saved.and_then(|s| self.adopt(s, near)) {
            state.set_index(index);
            return Ok(NearIndexFrom::Saved);
        }
        let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
        let items = self.window_items(near.window, now)?.map(|it| {
            if stopped() {
                Err(StoreError::Stopped)
            } else {
                it
            }
        });
        state.rebuild(near, items)?;
        Ok(NearIndexFrom::Items)
    }

    /// The index the last process saved at its clean stop, if nothing
    /// changed the store since (its token came out of the store as it
    /// opened) and it was built under the same settings. The file is
    /// removed either way: from here on the index in memory is the one
    /// kept.
    fn adopt(&self, saved: NearAhead, near: &NearDup) -> Option<Index> {
        let path = self.dir.join(SAVED_NEAR_INDEX);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove the saved near-duplicate index");
            }
        }
        let Some(token) = self.near_token else {
            tracing::info!(
                path = %path.display(),
                "the saved near-duplicate index is older than the store's last change; rebuilding it"
            );
            return None;
        };
        match saved
            .read
            .and_then(|s| s.for_this(&near.index_digest(), &token))
        {
            Ok(index) => {
                tracing::info!(
                    fingerprints = index.len(),
                    took_ms = saved.took.as_millis() as u64,
                    "near-duplicate index read from the copy saved at the last stop"
                );
                Some(index)
            }
            Err(persist::Refused::NotThisOne) => {
                tracing::info!(
                    path = %path.display(),
                    "the saved near-duplicate index is for other [dedup] settings or another state of the store; rebuilding it"
                );
                None
            }
            Err(persist::Refused::Damaged(why)) => {
                tracing::warn!(path = %path.display(), damage = why, "the saved near-duplicate index is damaged; rebuilding it");
                None
            }
        }
    }

    /// Saves the near index for the next process to open the store, if it
    /// was built; says whether it was. Only for a process that writes
    /// nothing more to the store after it (a daemon whose tasks have all
    /// ended, a `poll-once` at its end): the token it leaves in the store
    /// vouches that the index and the items agree. The caller's flush puts
    /// the token on disk.
    pub fn save_near_index(&self, near: &NearDup) -> Result<bool, StoreError> {
        let state = locked(&self.near);
        let Some(index) = state.index() else {
            return Ok(false);
        };
        let token = super::unique_id(&index.len().to_string());
        let bytes = persist::encode(index, &near.index_digest(), &token);
        drop(state);
        let path = self.dir.join(SAVED_NEAR_INDEX);
        let io = |source| StoreError::SaveNearIndex {
            path: path.clone(),
            source,
        };
        crate::fields::write_whole(&self.dir, super::HALF_WRITTEN_NEAR, &path, &bytes)
            .map_err(io)?;
        // The file first, then the token: a crash between the two leaves a
        // file no token vouches for, which is not used.
        self.vouch_for_saved(0, token)?;
        Ok(true)
    }

    /// For a process that only read the store: vouches again for what the
    /// last clean stop saved, which this process's open took away, so that
    /// a `render` or an `export` between two polls does not make the next
    /// one read every key, count every feed and rebuild the near index.
    /// The near index file is still the one saved (nothing here read it,
    /// or it would be built); the key filter, read at open and removed, is
    /// written again from memory; the feeds' cap is what the open read.
    /// Only for a process that wrote nothing to the store; the caller's
    /// flush puts it on disk.
    pub fn hand_on_saved(&self) -> Result<(), StoreError> {
        if let Some(token) = self.near_token {
            let untouched = !locked(&self.near).is_built();
            if untouched && self.dir.join(SAVED_NEAR_INDEX).exists() {
                self.vouch_for_saved(0, token)?;
            }
        }
        self.save_key_set()?;
        self.save_feed_caps()?;
        Ok(())
    }

    /// The stored items of the window the in-memory indexes hold, oldest
    /// first. The window reaches back from the newest item stored (or from
    /// now, if the newest claims a later date): items carry their own
    /// dates, and a store of last year's items is still matched against
    /// itself.
    pub(super) fn window_items(
        &self,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<impl Iterator<Item = Result<(ItemId, Item), StoreError>> + '_, StoreError> {
        let newest = match self.by_time.last().map_err(|e| self.err(e))? {
            Some((k, _)) => time_of_key(&k).unwrap_or(now).min(now),
            None => now,
        };
        let from = time_key(newest - window, ItemId([0; 16]));
        Ok(self.by_time.range(from..).filter_map(|kv| {
            let (k, _) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Err(self.err(e))),
            };
            let id = k.get(8..24).and_then(as_id)?;
            let v = match self.items.get(id.0) {
                Ok(v) => v?,
                Err(e) => return Some(Err(self.err(e))),
            };
            // `store check` reports damaged items.
            let item = super::codec::decode_item(&v).ok()?;
            Some(Ok((id, item)))
        }))
    }

    /// Folds story `from` into story `into`, in a transaction of its own:
    /// a copy just stored into `into` repeats `from` too, and every member
    /// of the one fits every member of the other (`Found::folds`), so they
    /// are one story that began twice. Not done when a member of either was
    /// split off the other (`rafid dedup split` is for good), when either
    /// is gone, or when they no longer fit; says whether it was done.
    pub(super) fn fold_stories(
        &self,
        from: ItemId,
        into: ItemId,
        score: f64,
        near: &NearDup,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let moved_splits = self
            .splits
            .scan_prefix(from.0)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let done = self.in_ingest_tx(Some(near), |tx| {
            tx.fold(from, into, score, &moved_splits, now)
        })?;
        if done {
            self.count_items(-1);
            tracing::debug!(story = %into, folded = %from, "two stored stories found to be one");
        }
        Ok(done)
    }

    /// Fingerprints in the index (0 before it is built).
    pub fn near_index_len(&self) -> usize {
        locked(&self.near).len()
    }
}

impl super::Tx<'_> {
    /// The stored story the entry repeats, if any, the resemblance, and the
    /// other stories it shows to be the same one (`Found::folds`).
    pub(super) fn near_match(
        &self,
        probe: &Probe<'_>,
    ) -> TxResult<Option<(ItemId, f64, Vec<ItemId>)>> {
        // Held through the comparisons: the index is also the corpus the
        // decision reads.
        let state = locked(self.near_state);
        let found = state.find(probe, self)?;
        let feed = probe.feed();
        for m in &found.misfits {
            tracing::debug!(
                feed = %crate::config::redact_str(feed),
                story = %m.story,
                member = %crate::config::redact_str(&m.member),
                conflict = %m.why,
                "resembles a story but contradicts one of its members"
            );
        }
        if let Some((id, score)) = found.story {
            tracing::debug!(
                feed = %crate::config::redact_str(feed),
                story = %id,
                score,
                "the same story as a stored item"
            );
        }
        Ok(found.story.map(|(id, score)| (id, score, found.folds)))
    }

    /// Remembers a newly stored item in the index.
    pub(super) fn near_insert(&self, probe: &Probe<'_>, id: ItemId) {
        locked(self.near_state).insert(probe, id);
    }

    /// Remembers the copy of a member that joined story `id`.
    pub(super) fn near_join(&self, probe: &Probe<'_>, id: ItemId) {
        locked(self.near_state).join(probe, id);
    }

    /// Folds story `from` into story `into` (see `SledStore::fold_stories`):
    /// `from`'s members, keys and split records move to `into`, and `from`
    /// is no more. `moved_splits` are `from`'s records in `splits`, read
    /// before the transaction (a transactional tree cannot be scanned).
    fn fold(
        &self,
        from: ItemId,
        into: ItemId,
        score: f64,
        moved_splits: &[(sled::IVec, sled::IVec)],
        now: DateTime<Utc>,
    ) -> TxResult<bool> {
        if from == into {
            return Ok(false);
        }
        let (Some(mut story), Some(other)) =
            (StoryView::item(self, into)?, StoryView::item(self, from)?)
        else {
            return Ok(false); // pruned or folded since
        };
        for s in &other.sources {
            if self.is_split(into, &s.feed_url)? {
                return Ok(false);
            }
        }
        for s in &story.sources {
            if self.is_split(from, &s.feed_url)? {
                return Ok(false);
            }
        }
        // Checked again, under the index's lock: either story may have
        // gained a member since the copy that bridged them was stored.
        let Some(near) = self.near else {
            return Ok(false);
        };
        let mut state = locked(self.near_state);
        if !near.stories_fit(&story, &other) {
            return Ok(false);
        }
        // The members split off `from` stay out of the story it became.
        for (k, v) in moved_splits {
            let Ok(mut split) = serde_json::from_slice::<Split>(v) else {
                continue; // `store check` reports it
            };
            split.story = into;
            let value = serde_json::to_vec(&split).map_err(|e| {
                ConflictableTransactionError::Abort(format!("split of {from}: {e}"))
            })?;
            self.splits.remove(&k[..])?;
            self.splits
                .insert(&split_key(into, &split.feed_url)[..], value)?;
        }
        // Out of the time indexes under its own id...
        let other_time = other.sort_time();
        self.by_time.remove(&time_key(other_time, from)[..])?;
        for s in &other.sources {
            self.by_feed
                .remove(&feed_time_key(&s.feed_url, other_time, from)[..])?;
        }
        self.items.remove(&from.0)?;
        // ... and in under the story's, with its keys.
        for key in &other.keys {
            if let Some(bytes) = unhex(key) {
                self.put_key(&bytes, into)?;
            }
            if !story.keys.contains(key) {
                story.keys.push(key.clone());
            }
        }
        let old_time = story.sort_time();
        for mut s in other.sources {
            if let Some(c) = s.copy.as_mut() {
                // The member that began `from` joined nothing until now.
                c.joined.get_or_insert(Joined {
                    by: "fold".to_string(),
                    score: Some(score),
                    at: now,
                });
            }
            story.sources.push(s);
        }
        // The links across languages `from` had are the story's now.
        for t in other.translations {
            if !story.translations.iter().any(|x| x.id == t.id) {
                story.translations.push(t);
            }
        }
        self.reshow(&mut story, old_time, Some(now))?;
        self.refresh_translations(&story, Some(from))?;
        save(self.items, &story)?;
        // A retried transaction folds again: a no-op the second time.
        state.fold(from, into);
        Ok(true)
    }

    /// Merges the entry into the stored story `id`: the outlet joins its
    /// members with its own copy, and the story shows the copy `shown`
    /// chooses.
    pub(super) fn merge_near(
        &self,
        id: ItemId,
        source: Source,
        entry: &Entry,
        k: &ItemKeys,
        score: f64,
        now: DateTime<Utc>,
    ) -> TxResult<()> {
        let mut item = load(self.items, id)?;
        let old_time = item.sort_time();
        join(
            &mut item,
            source,
            joining_copy(entry, k, "near", Some(score), now),
        );
        self.put_key(&k.local.0, id)?;
        push_key(&mut item, &k.local);
        self.reshow(&mut item, old_time, Some(now))?;
        self.claim_shared_keys(&mut item, k)?;
        save(self.items, &item)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::shown::tests::ingest_near;

    pub(in crate::store) const FULL: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال بتكلفة 120 مليون ريال \
        في حي النرجس شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
        مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
        على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

    /// A summary that gives no figure.
    pub(super) const SUMMARY: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال \
        في حي النرجس شمال المدينة.";

    fn put(store: &SledStore, url: &str, guid: &str, body: &str) {
        let e = Entry {
            guid: Some(guid.into()),
            link: Some(format!("{url}/{guid}")),
            title: Some("مستشفى جديد للأطفال في الرياض".into()),
            content: Some(format!("<p>{body}</p>")),
            published: Some(Utc::now() - chrono::Duration::hours(1)),
            ..Entry::default()
        };
        ingest_near(store, url, std::slice::from_ref(&e));
    }

    fn near() -> NearDup {
        NearDup {
            reader: crate::dedup::near::Reader::default(),
            threshold: crate::dedup::near::DEFAULT_THRESHOLD,
            window: chrono::Duration::hours(72),
            opted_out: Default::default(),
            cross_language: None,
        }
    }

    fn prepared(store: &SledStore, near: &NearDup) -> NearIndexFrom {
        let stop = std::sync::atomic::AtomicBool::new(false);
        store.prepare_near_index(near, &stop, None).unwrap()
    }

    #[test]
    fn a_process_that_only_read_hands_on_what_the_clean_stop_saved() {
        let dir = tempfile::tempdir().unwrap();
        let n = near();
        let caps = crate::store::Retention {
            max_items_per_feed: Some(100),
            ..Default::default()
        };
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            put(&store, "https://a.example/feed", "a", FULL);
            store.prune(&caps, Utc::now()).unwrap();
            assert!(store.save_near_index(&n).unwrap());
            assert!(store.save_key_set().unwrap());
            assert!(store.save_feed_caps().unwrap());
            store.flush().unwrap();
        }
        for _ in 0..2 {
            // `render`, `export`, `store check`: read, then hand on.
            let store = SledStore::open(dir.path(), "test").unwrap();
            store.export(&mut Vec::new()).unwrap();
            store.hand_on_saved().unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert!(
            !dir.path().join(crate::store::SAVED_KEY_SET).exists(),
            "the key filter was read at open"
        );
        assert!(store.key_set.is_complete());
        store.prune(&caps, Utc::now()).unwrap();
        assert_eq!(store.caps.passes(), 0, "the feeds' cap was handed on");
        assert_eq!(prepared(&store, &n), NearIndexFrom::Saved);
    }

    #[test]
    fn a_clean_stop_hands_its_index_to_the_next_open_and_only_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("https://a.example/feed", "https://b.example/feed");
        let n = near();
        let saved = dir.path().join(SAVED_NEAR_INDEX);
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            put(&store, a, "a", FULL);
            assert!(store.save_near_index(&n).unwrap());
            store.flush().unwrap();
        }
        assert!(saved.exists());
        // The next open reads it back, removes the file, and merges the
        // copy another outlet brings as a rebuilt index would.
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(prepared(&store, &n), NearIndexFrom::Saved);
        assert_eq!(store.near_index_len(), 1);
        assert!(!saved.exists());
        assert_eq!(prepared(&store, &n), NearIndexFrom::Memory);
        put(&store, b, "b", SUMMARY);
        assert_eq!(store.item_count(), 1, "the summary joined the story");
        assert!(store.save_near_index(&n).unwrap());
        store.flush().unwrap();
        drop(store);

        // A process that opened the store in between (and may have changed
        // it) voids the saved copy, even if it leaves the file.
        let keep = std::fs::read(&saved).unwrap();
        drop(SledStore::open(dir.path(), "test").unwrap());
        std::fs::write(&saved, &keep).unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(prepared(&store, &n), NearIndexFrom::Items);
        assert_eq!(store.near_index_len(), 1);
        assert!(!saved.exists(), "a copy that is no good is removed");

        // Other [dedup] settings than the copy's, or a damaged copy: rebuilt.
        assert!(store.save_near_index(&n).unwrap());
        store.flush().unwrap();
        drop(store);
        let store = SledStore::open(dir.path(), "test").unwrap();
        let mut wider = near();
        wider.window = chrono::Duration::hours(96);
        assert_eq!(prepared(&store, &wider), NearIndexFrom::Items);
        assert!(store.save_near_index(&n).unwrap());
        store.flush().unwrap();
        drop(store);
        let mut bytes = std::fs::read(&saved).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&saved, &bytes).unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(prepared(&store, &n), NearIndexFrom::Items);
        assert_eq!(store.near_index_len(), 1);
    }

    #[test]
    fn the_saved_index_can_be_read_while_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let n = near();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let save = || {
            let store = SledStore::open(dir.path(), "test").unwrap();
            put(&store, "https://a.example/feed", "a", FULL);
            store.prepare_near_index(&n, &stop, None).unwrap();
            assert!(store.save_near_index(&n).unwrap());
            store.flush().unwrap();
        };
        save();
        // Read before the open, held against the store after it: the copy
        // read is the one used (the file is gone here, so no other could be).
        let ahead = NearAhead::read(dir.path());
        assert!(ahead.is_some());
        std::fs::remove_file(dir.path().join(SAVED_NEAR_INDEX)).unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(
            store.prepare_near_index(&n, &stop, ahead).unwrap(),
            NearIndexFrom::Saved
        );
        assert_eq!(store.near_index_len(), 1);
        assert!(!dir.path().join(SAVED_NEAR_INDEX).exists());
        drop(store);
        // Read ahead of an open that finds the store changed since the
        // save (another process opened it): not used.
        save();
        let ahead = NearAhead::read(dir.path());
        drop(SledStore::open(dir.path(), "test").unwrap());
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(
            store.prepare_near_index(&n, &stop, ahead).unwrap(),
            NearIndexFrom::Items
        );
        assert!(!dir.path().join(SAVED_NEAR_INDEX).exists());
    }

    #[test]
    fn preparing_the_index_stops_when_asked_and_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        put(&store, "https://a.example/feed", "a", FULL);
        drop(store);
        let store = SledStore::open(dir.path(), "test").unwrap();
        let stop = std::sync::atomic::AtomicBool::new(true);
        assert!(matches!(
            store.prepare_near_index(&near(), &stop, None),
            Err(StoreError::Stopped)
        ));
        assert_eq!(store.near_index_len(), 0);
        assert_eq!(prepared(&store, &near()), NearIndexFrom::Items);
    }

    /// What the second outlet adds to `FULL`: the hospital's departments.
    pub(in crate::store) const EXTRA: &str = "ويضم المستشفى الجديد ثلاثة طوابق تشمل عيادات خارجية لطب الأطفال وقسما \
        لحديثي الولادة وصيدلية تعمل على مدار الساعة، كما خصصت الإدارة جناحا لتأهيل الأطفال \
        المصابين بأمراض مزمنة وقاعات لتدريب الأطباء المقيمين والممرضين الجدد القادمين من \
        الجامعات الحكومية والخاصة في المنطقة الوسطى.";

    #[test]
    fn a_copy_finds_the_story_through_a_member_it_repeats_not_only_the_shown_one() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            "https://a.example/feed",
            "https://b.example/feed",
            "https://c.example/feed",
        );
        // The first outlet is preferred: the story shows its short report.
        let open = || {
            let store = SledStore::open(dir.path(), "test").unwrap();
            store.set_priorities([(a.to_string(), 5)]);
            store
        };
        let store = open();
        put(&store, a, "a", FULL);
        put(&store, b, "b", &format!("{FULL} {EXTRA}"));
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1, "{items:#?}");
        // A third outlet keeps only what the second added, and a line of
        // the rest: it shares too little with the shown copy, and is the
        // second outlet's story all the same.
        let third = format!("{EXTRA} أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال.");
        put(&store, c, "c", &third);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1, "{items:#?}");
        assert_eq!(items[0].sources.len(), 3);
        // The same after a restart, with the index rebuilt from the store.
        drop(store);
        let store = open();
        put(&store, "https://d.example/feed", "d", &third);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1, "{items:#?}");
        assert_eq!(items[0].sources.len(), 4);
    }

    #[test]
    fn a_roundup_that_carries_a_story_stays_its_own_story() {
        let meeting = "وزير الخارجية يستقبل سفير اليابان";
        let hospital = "مستشفى جديد للأطفال في الرياض";
        let roundup = format!(
            "استقبل وزير الخارجية في مكتبه بالرياض اليوم سفير اليابان لدى المملكة، وجرى \
             خلال اللقاء بحث العلاقات الثنائية بين البلدين وسبل تعزيزها في مجالات التجارة \
             والطاقة والتعليم وعدد من القضايا الإقليمية والدولية ذات الاهتمام المشترك. \
             من جهة ثانية، {FULL}"
        );
        let entry = |url: &str, guid: &str, title: &str, body: &str| Entry {
            guid: Some(guid.into()),
            link: Some(format!("{url}/{guid}")),
            title: Some(title.into()),
            content: Some(format!("<p>{body}</p>")),
            published: Some(Utc::now() - chrono::Duration::hours(1)),
            ..Entry::default()
        };
        let ingest = |store: &SledStore, url: &str, entries: &[Entry]| {
            ingest_near(store, url, entries);
        };
        let both_shown = |store: &SledStore| {
            let items = store.newest(10, |_| true).unwrap();
            assert_eq!(items.len(), 2, "{items:#?}");
            for title in [meeting, hospital] {
                assert!(
                    items.iter().any(|i| i.title.as_deref() == Some(title)),
                    "{title}: {items:#?}"
                );
            }
        };
        // One outlet runs the hospital's report, another runs it after
        // the meeting, under the meeting's headline, in either order.
        for order in [["a", "b"], ["b", "a"]] {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path(), "test").unwrap();
            for outlet in order {
                let url = format!("https://{outlet}.example/feed");
                let e = if outlet == "a" {
                    entry(&url, "h", hospital, FULL)
                } else {
                    entry(&url, "m", meeting, &roundup)
                };
                ingest(&store, &url, &[e]);
            }
            both_shown(&store);
        }
        // One outlet lists both pages side by side.
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let url = "https://a.example/feed";
        ingest(
            &store,
            url,
            &[
                entry(url, "h", hospital, FULL),
                entry(url, "m", meeting, &roundup),
            ],
        );
        both_shown(&store);
    }

    #[test]
    fn a_copy_that_fits_the_shown_member_but_contradicts_another_stays_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        // The summary's outlet is preferred, so the story shows the summary.
        store.set_priorities([("https://b.example/feed".to_string(), 5)]);
        put(&store, "https://a.example/feed", "a", FULL);
        put(&store, "https://b.example/feed", "b", SUMMARY);
        let story = store.newest(10, |_| true).unwrap();
        assert_eq!(story.len(), 1, "{story:#?}");
        assert_eq!(story[0].sources.len(), 2);
        // Like the summary, but with another cost than the full report: it
        // must not join through the summary.
        let other = format!(
            "{SUMMARY} وبلغت تكلفة المستشفى 200 مليون ريال موزعة على طوابقه، ويضم قسما للعلاج الطبيعي \
             ومختبرات حديثة وصيدلية تعمل على مدار الساعة، إلى جانب عيادات خارجية تستقبل \
             المراجعين من الأحياء المجاورة وقاعات لتدريب الأطباء المقيمين والممرضين الجدد."
        );
        put(&store, "https://c.example/feed", "c", &other);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 2, "{items:#?}");
        // A copy that fits every member joins.
        put(&store, "https://d.example/feed", "d", FULL);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 2, "{items:#?}");
    }
}
