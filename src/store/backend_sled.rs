//! The sled store as a `Backend`: each method is the sled store's own,
//! found in the module that keeps that kind of record.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::backend::{Backend, Flushing, Keep};
use super::{
    Dropped, ImportError, IngestStats, NearAhead, NearIndexFrom, Priorities, Retention, SledStore,
    Split, SplitError, StoreError,
};
use crate::dedup::keys::{ItemKeys, Key};
use crate::dedup::near::NearDup;
use crate::model::{Entry, FeedState, Item, ItemId, Source};

impl Backend for SledStore {
    fn dir(&self) -> &Path {
        SledStore::dir(self)
    }

    fn store_id(&self) -> [u8; 16] {
        SledStore::store_id(self)
    }

    fn created(&self) -> DateTime<Utc> {
        SledStore::created(self)
    }

    fn set_priorities(&self, priorities: Priorities) {
        SledStore::set_priorities(self, priorities)
    }

    fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        SledStore::feed_state(self, feed_url)
    }

    fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        SledStore::put_feed_state(self, feed_url, state)
    }

    fn feed_states(&self) -> Result<Vec<(String, FeedState)>, StoreError> {
        SledStore::feed_states(self)
    }

    fn ingest_near(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
        near: Option<&NearDup>,
    ) -> Result<IngestStats, StoreError> {
        SledStore::ingest_near(self, source, entries, keys, state, now, near)
    }

    fn item_count(&self) -> usize {
        SledStore::item_count(self)
    }

    fn known_item_count(&self) -> Option<usize> {
        SledStore::known_item_count(self)
    }

    fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        SledStore::item(self, id)
    }

    fn newest_before(
        &self,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError> {
        SledStore::newest_before(self, before, limit, keep)
    }

    fn newest_in_feeds_before(
        &self,
        feed_urls: &[&str],
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        SledStore::newest_in_feeds_before(self, feed_urls, before, limit)
    }

    fn newest_matching(
        &self,
        feeds: Option<&[&str]>,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        max_scan: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError> {
        SledStore::newest_matching(self, feeds, before, limit, max_scan, keep)
    }

    fn find_item(&self, spec: &str) -> Result<Option<ItemId>, StoreError> {
        SledStore::find_item(self, spec)
    }

    fn dropped(&self, feed_url: &str, local: &Key) -> Result<Option<Dropped>, StoreError> {
        SledStore::dropped(self, feed_url, local)
    }

    fn knows_key(&self, key: &Key) -> Result<bool, StoreError> {
        SledStore::knows_key(self, key)
    }

    fn note_dropped(
        &self,
        feed_url: &str,
        add: &[(Key, Dropped)],
        remove: &[Key],
        listed: &std::collections::HashSet<Key>,
    ) -> Result<(), StoreError> {
        SledStore::note_dropped(self, feed_url, add, remove, listed)
    }

    fn dropped_of_feed(&self, feed_url: &str) -> Result<Vec<(String, Dropped)>, StoreError> {
        SledStore::dropped_of_feed(self, feed_url)
    }

    fn split(&self, story: ItemId, member: &str, now: DateTime<Utc>) -> Result<ItemId, SplitError> {
        SledStore::split(self, story, member, now)
    }

    fn split_records(&self) -> Result<Vec<(Vec<u8>, Split)>, StoreError> {
        SledStore::split_records(self)
    }

    fn splits_of(&self, story: ItemId) -> Result<Vec<Split>, StoreError> {
        SledStore::splits_of(self, story)
    }

    fn prune(&self, policy: &Retention, now: DateTime<Utc>) -> Result<usize, StoreError> {
        SledStore::prune(self, policy, now)
    }

    fn prune_feed(
        &self,
        feed_url: &str,
        max: u64,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        SledStore::prune_feed(self, feed_url, max, now)
    }

    fn prepare_near_index(
        &self,
        near: &NearDup,
        stop: &AtomicBool,
        ahead: Option<NearAhead>,
    ) -> Result<NearIndexFrom, StoreError> {
        SledStore::prepare_near_index(self, near, stop, ahead)
    }

    fn save_near_index(&self, near: &NearDup) -> Result<bool, StoreError> {
        SledStore::save_near_index(self, near)
    }

    fn save_key_set(&self) -> Result<bool, StoreError> {
        SledStore::save_key_set(self)
    }

    fn save_feed_caps(&self) -> Result<bool, StoreError> {
        SledStore::save_feed_caps(self)
    }

    fn hand_on_saved(&self) -> Result<(), StoreError> {
        SledStore::hand_on_saved(self)?;
        self.flush()
    }

    fn near_index_len(&self) -> usize {
        SledStore::near_index_len(self)
    }

    fn fill_key_set(&self, stop: Option<&AtomicBool>) -> Result<(), StoreError> {
        SledStore::fill_key_set(self, stop)
    }

    fn export(&self, mut out: &mut dyn Write) -> Result<(), StoreError> {
        SledStore::export(self, &mut out)
    }

    fn import(&self, input: &mut dyn BufRead) -> Result<usize, ImportError> {
        SledStore::import(self, input)
    }

    fn check(&self) -> Result<Vec<String>, StoreError> {
        SledStore::check(self)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        SledStore::size_on_disk(self)
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }

    fn flush_async(&self) -> Flushing<'_> {
        Box::pin(SledStore::flush_async(self))
    }

    fn schema_version(&self) -> Result<Option<String>, StoreError> {
        SledStore::schema_version(self)
    }

    fn stamp_schema_version(&self, version: &str) -> Result<(), StoreError> {
        SledStore::stamp_schema_version(self, version)
    }
}
