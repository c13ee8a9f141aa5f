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

/// What is known of the per-feed cap, so that retention need not walk
/// every feed's items to learn that none is over it. That walk reads all
/// of `by_feed`, bringing each of its pages through sled's cache: on a
/// 10,000-feed store, most of the memory a `poll-once` that found nothing
/// new used (106 MB peak with the walk, 84-88 without).
///
/// An item counts against the cap of its first feed (`Item::sources`), so
/// a feed's count grows only when an item that feed shows is stored or an
/// item comes to show that feed's copy: those are the places that call
/// `note`. A full pass, or `prune_feed` for one feed, brings counts back
/// within the cap.
#[derive(Debug, Default)]
pub(super) struct FeedCaps {
    state: std::sync::Mutex<CapsState>,
    /// Full passes made (tests read it).
    passes: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct CapsState {
    /// No feed outside `grown` carries first more than this many items.
    held: Option<u64>,
    /// Feeds whose count may have grown since.
    grown: std::collections::HashSet<String>,
    /// Full passes under way: what grows meanwhile must be kept, since
    /// the pass may already have counted that feed.
    passing: u32,
}

impl FeedCaps {
    /// `held` as a clean stop saved it (`saved`), 0 for a store without
    /// items, or nothing known.
    pub(super) fn new(held: Option<u64>) -> FeedCaps {
        FeedCaps {
            state: std::sync::Mutex::new(CapsState {
                held,
                ..CapsState::default()
            }),
            passes: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CapsState> {
        // The state is a few plain fields, whole after any panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `feed` may carry first one item more than it did.
    pub(super) fn note(&self, feed: &str) {
        let mut s = self.state();
        if (s.held.is_some() || s.passing > 0) && !s.grown.contains(feed) {
            s.grown.insert(feed.to_string());
        }
    }

    /// Shows the copy `shown` chooses, noting the feed whose copy the item
    /// comes to show if it is another than before.
    pub(super) fn show(
        &self,
        item: &mut Item,
        priorities: &super::Priorities,
        now: Option<DateTime<Utc>>,
    ) {
        let showed = item.sources.first().map(|s| s.feed_url.clone());
        super::shown::show(item, priorities, now);
        if let Some(first) = item
            .sources
            .first()
            .filter(|f| Some(&f.feed_url) != showed.as_ref())
        {
            self.note(&first.feed_url);
        }
    }

    /// Nothing is known any more (the items were written in bulk).
    pub(super) fn forget(&self) {
        self.state().held = None;
    }

    /// What a clean stop may save: the cap every feed is within, if that
    /// is known of every feed.
    pub(super) fn saved(&self) -> Option<u64> {
        let s = self.state();
        s.held.filter(|_| s.grown.is_empty() && s.passing == 0)
    }

    /// Whether a pass with cap `max` could find a feed over it; if so, the
    /// pass begins (end it with `passed`).
    fn begin_pass(&self, max: u64) -> bool {
        let mut s = self.state();
        if s.held.is_some_and(|h| h <= max) && s.grown.is_empty() {
            return false;
        }
        s.passing += 1;
        s.grown.clear();
        self.passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// A pass begun with `begin_pass` ended: every feed not grown since is
    /// within `max` if it succeeded; nothing is known if it failed.
    fn passed(&self, max: u64, ok: bool) {
        let mut s = self.state();
        s.passing -= 1;
        s.held = ok.then_some(max);
    }

    /// `prune_feed` is about to bring `feed` within `max`.
    fn settling(&self, feed: &str) {
        self.state().grown.remove(feed);
    }

    /// `prune_feed` brought `feed` within `max` (`ok`), or failed to.
    fn settled(&self, feed: &str, max: u64, ok: bool) {
        let mut s = self.state();
        match s.held {
            Some(h) if ok => s.held = Some(h.max(max)),
            Some(_) => {
                s.grown.insert(feed.to_string());
            }
            None => {}
        }
    }

    #[cfg(test)]
    pub(super) fn passes(&self) -> u64 {
        self.passes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl SledStore {
    /// Prunes the items `policy` does not keep: older than `max_age` (by
    /// their sort time), beyond the newest `max_items_per_feed` of their
    /// first feed, beyond the newest `max_items` overall. Each leaves a
    /// `Seen` record. Returns how many items went. Feeds are counted
    /// against their cap only when `FeedCaps` cannot tell that none is
    /// over it, which a `poll-once` that stored nothing never needs.
    pub fn prune(&self, policy: &Retention, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if !policy.is_set() {
            return Ok(0);
        }
        let cutoff = policy
            .max_age
            .and_then(|a| chrono::Duration::from_std(a).ok())
            .map(|a| (now - a).timestamp_millis());
        let pass = policy
            .max_items_per_feed
            .filter(|max| self.caps.begin_pass(*max));
        let r = self.prune_with(policy, pass, cutoff, now);
        if let Some(max) = pass {
            self.caps.passed(max, r.is_ok());
        }
        r
    }

    /// `prune`, with a full pass over the feeds' caps if `pass` is set.
    fn prune_with(
        &self,
        policy: &Retention,
        pass: Option<u64>,
        cutoff: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut per_feed: HashMap<String, u64> = HashMap::new();
        let capped = match pass {
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
        self.caps.settling(feed_url);
        let r = self.prune_feed_now(feed_url, max, now);
        self.caps.settled(feed_url, max, r.is_ok());
        r
    }

    fn prune_feed_now(
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
        self.may_hold_seen.raise();
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

    fn capped(max: u64) -> Retention {
        Retention {
            max_items_per_feed: Some(max),
            ..Retention::default()
        }
    }

    fn own(feed_letter: &str, n: i64) -> crate::model::Entry {
        story(
            &format!("{feed_letter}{n}"),
            &format!("https://{feed_letter}.example/{n}"),
            &format!("خبر {feed_letter} رقم {n}"),
            &format!("نص {feed_letter} المختلف رقم {n}"),
            100 - n,
        )
    }

    /// A story a's feed carries first, which others may carry too.
    fn wire() -> crate::model::Entry {
        story(
            "a-wire",
            "https://wire.example/1",
            "وصول الطائرة",
            "نص الخبر",
            50,
        )
    }

    /// The same story as another feed's item.
    fn wire_as(guid: &str) -> crate::model::Entry {
        crate::model::Entry {
            guid: Some(guid.into()),
            ..wire()
        }
    }

    #[test]
    fn feeds_are_counted_again_only_when_one_may_be_over_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let a = "https://a.example/f";
        for n in 1..=3 {
            put(&store, a, &own("a", n));
        }
        // Nothing known yet: a pass, which finds every feed within 3.
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 0);
        assert_eq!(store.caps.passes(), 1);
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 0);
        assert_eq!(store.prune(&capped(5), Utc::now()).unwrap(), 0);
        assert_eq!(store.caps.passes(), 1);
        // Two more items for a, not pruned at ingest: the pass finds them.
        put(&store, a, &own("a", 4));
        put(&store, a, &own("a", 5));
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 2);
        assert_eq!(store.caps.passes(), 2);
        // A lower cap than the one known: counted again.
        assert_eq!(store.prune(&capped(2), Utc::now()).unwrap(), 1);
        assert_eq!(store.caps.passes(), 3);
        // A feed brought within the cap at ingest needs no pass.
        put(&store, a, &own("a", 6));
        assert_eq!(store.prune_feed(a, 2, Utc::now()).unwrap(), 1);
        assert_eq!(store.prune(&capped(2), Utc::now()).unwrap(), 0);
        assert_eq!(store.caps.passes(), 3);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_story_that_comes_to_show_another_feed_counts_that_feed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let (a, p) = ("https://a.example/f", "https://p.example/f");
        store.set_priorities([(p.to_string(), 5)]);
        // a shows two stories; p one of its own.
        put(&store, a, &wire());
        put(&store, a, &own("a", 1));
        put(&store, p, &own("p", 1));
        assert_eq!(store.prune(&capped(1), Utc::now()).unwrap(), 1);
        assert_eq!(store.caps.passes(), 1);
        // p, preferred, carries a's wire story: the story shows p's copy
        // now and counts against p, which carries two.
        put(&store, p, &wire_as("p-wire"));
        assert_eq!(store.prune(&capped(1), Utc::now()).unwrap(), 1);
        assert_eq!(store.caps.passes(), 2);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_member_split_off_counts_against_its_feed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let (a, b) = ("https://a.example/f", "https://b.example/f");
        put(&store, a, &wire());
        put(&store, b, &own("b", 1));
        put(&store, b, &wire_as("b-wire"));
        assert_eq!(store.prune(&capped(1), Utc::now()).unwrap(), 0);
        // b's copy, split off, is a story of b's own: b carries two.
        let id = store.newest(10, |_| true).unwrap()[0].id;
        store.split(id, b, Utc::now()).unwrap();
        assert_eq!(store.prune(&capped(1), Utc::now()).unwrap(), 1);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn what_a_clean_stop_knew_of_the_caps_serves_the_next_open_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = "https://a.example/f";
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            put(&store, a, &own("a", 1));
            assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 0);
            put(&store, a, &own("a", 2));
            // a may be over: nothing to save until it is counted.
            assert!(!store.save_feed_caps().unwrap());
            assert_eq!(store.prune_feed(a, 3, Utc::now()).unwrap(), 0);
            assert!(store.save_feed_caps().unwrap());
        }
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 0);
            assert_eq!(store.caps.passes(), 0);
            // This process may write anything: it saves nothing.
            for n in 3..=5 {
                put(&store, a, &own("a", n));
            }
        }
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 2);
        assert_eq!(store.caps.passes(), 1);
    }

    #[test]
    fn a_new_store_counts_only_the_feeds_its_ingests_may_have_put_over() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("https://a.example/f", "https://b.example/f");
        let store = SledStore::open(dir.path(), "test").unwrap();
        // As a poll stores a document: the ingest, then the feed's cap.
        for n in 1..=3 {
            put(&store, a, &own("a", n));
        }
        assert_eq!(store.prune_feed(a, 3, Utc::now()).unwrap(), 0);
        // Every feed is known to be within the cap without a pass, and a
        // clean stop can say so.
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 0);
        assert_eq!(store.caps.passes(), 0);
        assert!(store.save_feed_caps().unwrap());
        // A feed its ingests put over the cap, not brought back at once,
        // is still found.
        for n in 1..=4 {
            put(&store, b, &own("b", n));
        }
        assert_eq!(store.prune(&capped(3), Utc::now()).unwrap(), 1);
        assert_eq!(store.caps.passes(), 1);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_import_forgets_what_was_known_of_the_caps() {
        let dir = tempfile::tempdir().unwrap();
        let a = "https://a.example/f";
        let store = SledStore::open(dir.path(), "test").unwrap();
        for n in 1..=3 {
            put(&store, a, &own("a", n));
        }
        let mut export = Vec::new();
        store.export(&mut export).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let other = SledStore::open(empty.path(), "test").unwrap();
        assert_eq!(other.prune(&capped(2), Utc::now()).unwrap(), 0);
        assert_eq!(other.import(&export[..]).unwrap(), 3);
        assert_eq!(other.prune(&capped(2), Utc::now()).unwrap(), 1);
    }
}
