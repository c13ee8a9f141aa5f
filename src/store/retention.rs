//! Retention: pruning old items, and every index entry that leads to them,
//! without letting them come back while their feeds still list them.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{
    Seen, SledStore, StoreError, as_id, feed_digest, feed_time_key, seen_feed_key, time_key,
};
use crate::config::StorageConfig;
use crate::model::{Item, ItemId};

/// What to keep. Nothing set: keep everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_items_per_feed: Option<u64>,
    pub max_items: Option<u64>,
}

impl Retention {
    pub fn from_config(c: &StorageConfig) -> Retention {
        Retention {
            max_age: c.max_age,
            max_items_per_feed: c.max_items_per_feed,
            max_items: c.max_items,
        }
    }

    pub fn is_set(&self) -> bool {
        self.max_age.is_some() || self.max_items_per_feed.is_some() || self.max_items.is_some()
    }
}

/// Items pruned per transaction: small enough not to hold up polls.
const PRUNE_BATCH: usize = 256;

impl SledStore {
    /// Prunes the items `policy` does not keep: older than `max_age` (by
    /// their sort time), beyond the newest `max_items_per_feed` of their
    /// first feed, beyond the newest `max_items` overall. Each leaves a
    /// `Seen` record. Returns how many items went.
    pub fn prune(&self, policy: &Retention, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if !policy.is_set() {
            return Ok(0);
        }
        let cutoff = policy
            .max_age
            .and_then(|a| chrono::Duration::from_std(a).ok())
            .map(|a| (now - a).timestamp_millis());
        let mut per_feed: HashMap<String, u64> = HashMap::new();
        let capped = match policy.max_items_per_feed {
            Some(max) => self.listed_by_feeds_over(max)?,
            None => Default::default(),
        };
        // Only what can go is read. With no overall cap and no feed over
        // its own, that is the items older than the cutoff, if there is
        // one: `poll-once` prunes at every run with the default per-feed
        // cap, and walking the whole time index each time read all of it.
        let whole = policy.max_items.is_some() || !capped.is_empty();
        let candidates: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match cutoff {
                _ if whole => Box::new(self.by_time.iter().rev()),
                None => return Ok(0),
                Some(c) => {
                    let t = DateTime::from_timestamp_millis(c).unwrap_or(DateTime::UNIX_EPOCH);
                    Box::new(self.by_time.range(..time_key(t, ItemId([0; 16])).to_vec()))
                }
            };
        let mut victims: Vec<(Vec<u8>, ItemId)> = Vec::new();
        for (position, kv) in candidates.enumerate() {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let (Some(ms), Some(id)) = (
                k.get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(|b: [u8; 8]| (u64::from_be_bytes(b) ^ (1 << 63)) as i64),
                k.get(8..24).and_then(as_id),
            ) else {
                continue;
            };
            let mut prune = policy.max_items.is_some_and(|max| position as u64 >= max)
                || cutoff.is_some_and(|c| ms < c);
            if let Some(max) = policy.max_items_per_feed.filter(|_| capped.contains(&id)) {
                if let Some(item) = self.item(id)? {
                    let feed = item.sources.first().map(|s| s.feed_url.clone());
                    let n = per_feed.entry(feed.unwrap_or_default()).or_default();
                    *n += 1;
                    prune |= *n > max;
                }
            }
            if prune {
                victims.push((k.to_vec(), id));
            }
        }
        self.prune_items(&victims, now)
    }

    /// The items listed by feeds that list more than `max` (`by_feed`, keys
    /// only). An item counts against its first feed's cap, and that feed
    /// lists it: an item outside this set belongs to a feed under its cap,
    /// and need not be read. Without it, every retention run read every
    /// stored item.
    fn listed_by_feeds_over(
        &self,
        max: u64,
    ) -> Result<std::collections::HashSet<ItemId>, StoreError> {
        let mut over: Vec<[u8; 16]> = Vec::new();
        let mut current: Option<([u8; 16], u64)> = None;
        for kv in self.by_feed.iter().keys() {
            let k = kv.map_err(|e| self.err(e))?;
            let Some(digest) = k.get(..16).and_then(|d| <[u8; 16]>::try_from(d).ok()) else {
                continue;
            };
            match &mut current {
                Some((d, n)) if *d == digest => *n += 1,
                _ => current = Some((digest, 1)),
            }
            if let Some((d, n)) = current {
                if n == max + 1 {
                    over.push(d);
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for digest in over {
            for kv in self.by_feed.scan_prefix(digest).keys() {
                let k = kv.map_err(|e| self.err(e))?;
                ids.extend(k.get(24..40).and_then(as_id));
            }
        }
        Ok(ids)
    }

    /// Keeps the newest `max` items `feed_url` lists and prunes the older
    /// ones it carried first (as `prune` counts them): run after an
    /// ingest, so a feed that changes every GUID on every poll stays
    /// bounded between retention runs. Returns how many items went.
    pub fn prune_feed(
        &self,
        feed_url: &str,
        max: u64,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let prefix = feed_time_key(feed_url, DateTime::UNIX_EPOCH, ItemId([0; 16]));
        let listed = || self.by_feed.scan_prefix(&prefix[..16]).rev();
        if !self.feed_over_cap(feed_url, max)? {
            return Ok(0);
        }
        // The newest `max` stay whoever carried them first; of the older
        // ones, those this feed carried first go.
        let mut victims: Vec<(Vec<u8>, ItemId)> = Vec::new();
        for kv in listed().skip(max as usize) {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(24..40).and_then(as_id) else {
                continue;
            };
            let Some(item) = self.item(id)? else { continue };
            if item.sources.first().map(|s| s.feed_url.as_str()) == Some(feed_url) {
                victims.push((k[16..].to_vec(), id));
            }
        }
        self.prune_items(&victims, now)
    }

    /// Whether `feed_url` lists more than `max` items, so that `prune_feed`
    /// may have something to do. Keys only: the usual answer is no.
    pub(super) fn feed_over_cap(&self, feed_url: &str, max: u64) -> Result<bool, StoreError> {
        let mut count = 0u64;
        for kv in self.by_feed.scan_prefix(feed_digest(feed_url)) {
            kv.map_err(|e| self.err(e))?;
            count += 1;
            if count > max {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Prunes `victims` (each its `by_time` key and id) a batch at a time;
    /// the item count is taken again after, unless there were none.
    fn prune_items(
        &self,
        victims: &[(Vec<u8>, ItemId)],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if victims.is_empty() {
            return Ok(0);
        }
        let _recount = self.recount();
        for chunk in victims.chunks(PRUNE_BATCH) {
            self.prune_batch(chunk, now)?;
        }
        Ok(victims.len())
    }

    fn prune_batch(
        &self,
        batch: &[(Vec<u8>, ItemId)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let trees = (
            &self.items,
            &self.by_time,
            &self.by_feed,
            &self.seen,
            &self.seen_by_feed,
        );
        let r = trees.transaction(|(items, by_time, by_feed, seen, seen_by_feed)| {
            for (time_key, id) in batch {
                let Some(v) = items.get(id.0)? else { continue };
                let item: Item = super::codec::decode_item(&v)
                    .map_err(|e| ConflictableTransactionError::Abort(format!("item {id}: {e}")))?;
                let record = Seen {
                    id: *id,
                    feeds: item.sources.iter().map(|s| s.feed_url.clone()).collect(),
                    keys: item.keys.clone(),
                    pruned_at: now,
                };
                let json = serde_json::to_vec(&record)
                    .map_err(|e| ConflictableTransactionError::Abort(format!("seen {id}: {e}")))?;
                for feed in &record.feeds {
                    seen_by_feed.insert(&seen_feed_key(feed, *id)[..], &[][..])?;
                    by_feed.remove(&feed_time_key(feed, item.sort_time(), *id)[..])?;
                }
                seen.insert(&id.0, json)?;
                by_time.remove(time_key.as_slice())?;
                items.remove(&id.0)?;
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(detail)) => Err(self.corrupt("items", detail)),
            Err(TransactionError::Storage(e)) => Err(self.err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shown::tests::{put, story};

    #[test]
    fn a_prune_that_removes_nothing_keeps_the_item_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let feed = "https://a.example/f";
        for n in 1..=3 {
            let e = story(
                &format!("a{n}"),
                &format!("https://a.example/{n}"),
                &format!("خبر رقم {n}"),
                &format!("نص مختلف رقم {n}"),
                n,
            );
            put(&store, feed, &e);
        }
        assert_eq!(store.item_count(), 3);
        for policy in [
            Retention {
                max_items_per_feed: Some(10),
                ..Retention::default()
            },
            Retention {
                max_age: Some(Duration::from_secs(86_400)),
                max_items_per_feed: Some(10),
                ..Retention::default()
            },
        ] {
            assert_eq!(store.prune(&policy, Utc::now()).unwrap(), 0);
            // Nothing went, so nothing needs counting again (a walk of
            // every item on a large store).
            assert_eq!(store.known_item_count(), Some(3));
        }
        let old = Retention {
            max_age: Some(Duration::from_secs(2 * 3600 + 1800)),
            ..Retention::default()
        };
        assert_eq!(store.prune(&old, Utc::now()).unwrap(), 1);
        assert_eq!(store.item_count(), 2);
    }

    #[test]
    fn each_item_counts_against_its_first_feed_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let (a, b) = ("https://a.example/f", "https://b.example/f");
        // b carries a story first; a carries it too, and three of its own.
        let shared = story(
            "b1",
            "https://wire.example/1",
            "وصول الطائرة",
            "نص الخبر",
            1,
        );
        put(&store, b, &shared);
        put(
            &store,
            a,
            &story(
                "a-shared",
                "https://wire.example/1",
                "وصول الطائرة",
                "نص الخبر",
                1,
            ),
        );
        for (n, hours) in [(1, 5), (2, 4), (3, 3)] {
            let e = story(
                &format!("a{n}"),
                &format!("https://a.example/{n}"),
                &format!("خبر رقم {n}"),
                &format!("نص مختلف رقم {n}"),
                hours,
            );
            put(&store, a, &e);
        }
        assert_eq!(store.item_count(), 4);
        let policy = Retention {
            max_items_per_feed: Some(2),
            ..Retention::default()
        };
        // a lists four, but the shared story counts against b: of a's own
        // three, the oldest goes.
        assert_eq!(store.prune(&policy, Utc::now()).unwrap(), 1);
        let left: Vec<String> = store
            .newest(10, |_| true)
            .unwrap()
            .iter()
            .filter_map(|i| i.sources[0].guid.clone())
            .collect();
        assert_eq!(left, vec!["b1", "a3", "a2"]);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }
}
