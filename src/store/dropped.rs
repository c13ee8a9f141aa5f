//! Items a feed's rules dropped, remembered per feed with the rule that
//! dropped them, and the bounded scan that fills a named river.
//!
//! Tree `dropped`: key = SHA-256 of the feed's configured URL (16 bytes) +
//! the item's local key (17 bytes); value = `Dropped` as JSON. Only items
//! the feed still lists are remembered: a record goes when the feed stops
//! listing its item, so the tree never outgrows the feeds' documents.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{SledStore, StoreError, feed_digest, time_key};
use crate::dedup::keys::Key;
use crate::model::{Item, ItemId, hex};

/// Why an item of a feed was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The label of the drop rule (`drop.title "إعلان"`), or `keep` /
    /// `lang` when no keep rule matched or the language was not wanted.
    pub rule: String,
    /// For `keep` and `lang`: the fingerprint of the keep rules and
    /// languages then in force; the item is judged again when they change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub at: DateTime<Utc>,
}

fn dropped_key(feed_url: &str, local: &Key) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[..16].copy_from_slice(&feed_digest(feed_url));
    k[16..].copy_from_slice(&local.0);
    k
}

/// How far a river's scan of the time index goes for one render: a river
/// whose rules match rarely shows the matches among this many of the newest
/// items of its feeds, not the whole store.
pub fn river_scan_bound(limit: usize) -> usize {
    limit.saturating_mul(50).max(5000)
}

impl SledStore {
    /// What is remembered about `local` of `feed_url` having been dropped.
    pub fn dropped(&self, feed_url: &str, local: &Key) -> Result<Option<Dropped>, StoreError> {
        match self
            .dropped
            .get(dropped_key(feed_url, local))
            .map_err(|e| self.err(e))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| {
                self.corrupt(
                    "dropped",
                    format!("{}: {e}", crate::config::redact_str(feed_url)),
                )
            }),
        }
    }

    /// Whether the store knows an item by this key (stored, or pruned and
    /// still remembered): rules judge only items it does not know.
    pub fn knows_key(&self, key: &Key) -> Result<bool, StoreError> {
        self.keys.contains_key(key.0).map_err(|e| self.err(e))
    }

    /// Records the items of one document of `feed_url` that were dropped
    /// (`add`), forgets `remove`, and forgets every record of an item the
    /// document no longer lists. One atomic batch.
    pub fn note_dropped(
        &self,
        feed_url: &str,
        add: &[(Key, Dropped)],
        remove: &[Key],
        listed: &HashSet<Key>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut any = false;
        for k in self.unlisted_dropped(feed_url, listed)? {
            batch.remove(k);
            any = true;
        }
        for k in remove {
            batch.remove(&dropped_key(feed_url, k)[..]);
            any = true;
        }
        for (k, d) in add {
            let v = serde_json::to_vec(d).map_err(|e| self.corrupt("dropped", e.to_string()))?;
            batch.insert(&dropped_key(feed_url, k)[..], v);
            any = true;
        }
        if any {
            self.may_hold_drops.raise();
            self.dropped.apply_batch(batch).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The record keys of `feed_url`'s drops whose item is not in `listed`
    /// (the feed no longer lists it): what `note_dropped` forgets. Keys
    /// only.
    pub(super) fn unlisted_dropped(
        &self,
        feed_url: &str,
        listed: &HashSet<Key>,
    ) -> Result<Vec<sled::IVec>, StoreError> {
        let mut out = Vec::new();
        if !self.may_hold_drops.get() {
            return Ok(out);
        }
        for kv in self.dropped.scan_prefix(feed_digest(feed_url)) {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let still = k
                .get(16..33)
                .and_then(|b| <[u8; 17]>::try_from(b).ok())
                .is_some_and(|b| listed.contains(&Key(b)));
            if !still {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// Every remembered drop of `feed_url`, with the item's local key (hex).
    pub fn dropped_of_feed(&self, feed_url: &str) -> Result<Vec<(String, Dropped)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.dropped.scan_prefix(feed_digest(feed_url)) {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let d = serde_json::from_slice(&v).map_err(|e| {
                self.corrupt(
                    "dropped",
                    format!("{}: {e}", crate::config::redact_str(feed_url)),
                )
            })?;
            out.push((hex(&k[16..]), d));
        }
        Ok(out)
    }

    /// Every record with its raw key, in key order, for `export`.
    pub(super) fn dropped_records(&self) -> Result<Vec<(Vec<u8>, Dropped)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.dropped.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let d = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("dropped", format!("{}: {e}", hex(&k))))?;
            out.push((k.to_vec(), d));
        }
        Ok(out)
    }

    /// Puts back one exported record; the error says what is wrong with it.
    pub(super) fn put_dropped_raw(&self, key: &[u8], d: &Dropped) -> Result<(), String> {
        if key.len() != 33 {
            return Err(format!("dropped key {}: 33 bytes expected", hex(key)));
        }
        let v = serde_json::to_vec(d).map_err(|e| e.to_string())?;
        self.may_hold_drops.raise();
        self.dropped
            .insert(key, v)
            .map(|_| ())
            .map_err(|e| self.err(e).to_string())
    }

    /// Problems in the `dropped` tree, for `store check`.
    pub(super) fn check_dropped(&self, problems: &mut Vec<String>) -> Result<(), StoreError> {
        for kv in self.dropped.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            if k.len() != 33 {
                problems.push(format!("dropped: malformed key {}", hex(&k)));
                continue;
            }
            if let Err(e) = serde_json::from_slice::<Dropped>(&v) {
                problems.push(format!("dropped {}: unreadable: {e}", hex(&k)));
            }
        }
        Ok(())
    }

    /// The newest `limit` items that `keep` accepts among the items of
    /// `feeds` (all feeds when `None`), newest first, looking at no more than
    /// `max_scan` candidates: what a named river shows.
    pub fn newest_matching(
        &self,
        feeds: Option<&[&str]>,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        max_scan: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut scanned = 0usize;
        match feeds {
            None => {
                let mut out = Vec::with_capacity(limit.min(1024));
                let range = match before {
                    None => self.by_time.iter(),
                    Some((t, id)) => self.by_time.range(..time_key(t, id)),
                };
                for kv in range.rev() {
                    if out.len() >= limit || scanned >= max_scan {
                        break;
                    }
                    scanned += 1;
                    let (k, _) = kv.map_err(|e| self.err(e))?;
                    let Some(id) = k.get(8..24) else {
                        return Err(self.corrupt("by_time", format!("short key {}", hex(&k))));
                    };
                    let Some(v) = self.items.get(id).map_err(|e| self.err(e))? else {
                        return Err(
                            self.corrupt("by_time", format!("entry for missing item {}", hex(id)))
                        );
                    };
                    let item: Item = super::codec::decode_item(&v)
                        .map_err(|e| self.corrupt("items", format!("{}: {e}", hex(id))))?;
                    if keep(&item) {
                        out.push(item);
                    }
                }
                Ok(out)
            }
            Some(feeds) => {
                // Candidates come from the per-feed indexes in batches, so
                // a river over a few feeds never walks the whole store.
                let mut batch = limit.max(64);
                loop {
                    let want = batch.min(max_scan);
                    let candidates = self.newest_in_feeds_before(feeds, before, want)?;
                    let exhausted = candidates.len() < want || want >= max_scan;
                    let out: Vec<Item> = candidates
                        .into_iter()
                        .filter(|i| keep(i))
                        .take(limit)
                        .collect();
                    if out.len() >= limit || exhausted {
                        return Ok(out);
                    }
                    batch = batch.saturating_mul(4);
                }
            }
        }
    }
}
