//! `rafid store check`: every index verified against the items.

use std::collections::HashSet;

use super::{Seen, SledStore, StoreError, as_id, feed_digest, feed_time_key, time_key};
use crate::model::{FeedState, Item, ItemId, hex, unhex};

impl SledStore {
    /// Every inconsistency between the items and their indexes, described.
    /// Empty when the store is sound.
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut item_ids: HashSet<ItemId> = HashSet::new();
        let mut seen_ids: HashSet<ItemId> = HashSet::new();

        for kv in self.seen.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let Some(id) = as_id(&k) else {
                problems.push(format!("seen: malformed key {}", hex(&k)));
                continue;
            };
            match serde_json::from_slice::<Seen>(&v) {
                Ok(seen) => {
                    for feed in &seen.feeds {
                        let mut key = feed_digest(feed).to_vec();
                        key.extend_from_slice(&id.0);
                        if !self
                            .seen_by_feed
                            .contains_key(&key)
                            .map_err(|e| self.err(e))?
                        {
                            problems.push(format!("seen {id}: no seen_by_feed entry for {feed}"));
                        }
                    }
                    seen_ids.insert(id);
                }
                Err(e) => problems.push(format!("seen {id}: unreadable: {e}")),
            }
        }

        for kv in self.items.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let Some(id) = as_id(&k) else {
                problems.push(format!("items: malformed key {}", hex(&k)));
                continue;
            };
            let item: Item = match super::codec::decode_item(&v) {
                Ok(i) => i,
                Err(e) => {
                    problems.push(format!("item {id}: unreadable: {e}"));
                    continue;
                }
            };
            if item.id != id {
                problems.push(format!("item {id}: record says id {}", item.id));
            }
            if item.sources.is_empty() {
                problems.push(format!("item {id}: no source feed"));
            }
            let tk = time_key(item.sort_time(), id);
            if !self.by_time.contains_key(tk).map_err(|e| self.err(e))? {
                problems.push(format!("item {id}: missing from the time index"));
            }
            for s in &item.sources {
                let fk = feed_time_key(&s.feed_url, item.sort_time(), id);
                if !self.by_feed.contains_key(fk).map_err(|e| self.err(e))? {
                    problems.push(format!(
                        "item {id}: missing from the index of feed {}",
                        s.feed_url
                    ));
                }
            }
            for key in &item.keys {
                let target = unhex(key)
                    .map(|b| self.keys.get(b))
                    .transpose()
                    .map_err(|e| self.err(e))?
                    .flatten();
                if target.as_deref() != Some(&id.0[..]) {
                    problems.push(format!("item {id}: key {key} does not point at it"));
                }
            }
            for s in &item.sources {
                let Some(local) = s.copy.as_ref().and_then(|c| c.local_key.as_ref()) else {
                    continue;
                };
                if !item.keys.contains(local) {
                    problems.push(format!(
                        "item {id}: the copy of {} names local key {local}, which the item does not hold",
                        s.feed_url
                    ));
                }
            }
            if item.sources.first().is_some_and(|s| s.copy.is_none()) {
                problems.push(format!("item {id}: its shown member has no copy"));
            }
            if seen_ids.contains(&id) {
                problems.push(format!("item {id}: stored and also recorded as pruned"));
            }
            item_ids.insert(id);
        }

        for kv in self.splits.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            match serde_json::from_slice::<super::Split>(&v) {
                Ok(split) => {
                    if super::split::split_key(split.story, &split.feed_url)[..] != k[..] {
                        problems.push(format!(
                            "splits: record {} is filed under another key",
                            split.story
                        ));
                    }
                }
                Err(e) => problems.push(format!("splits {}: unreadable: {e}", hex(&k))),
            }
        }

        for kv in self.by_time.iter() {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(8..24).and_then(as_id).filter(|_| k.len() == 24) else {
                problems.push(format!("by_time: malformed key {}", hex(&k)));
                continue;
            };
            if !item_ids.contains(&id) {
                problems.push(format!("by_time: entry for missing item {id}"));
            } else if let Some(item) = self.item(id)? {
                if time_key(item.sort_time(), id)[..] != k[..] {
                    problems.push(format!("by_time: stale entry for item {id}"));
                }
            }
        }

        for kv in self.by_feed.iter() {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(24..40).and_then(as_id).filter(|_| k.len() == 40) else {
                problems.push(format!("by_feed: malformed key {}", hex(&k)));
                continue;
            };
            let listed = match self.item(id) {
                Ok(Some(item)) => item
                    .sources
                    .iter()
                    .any(|s| feed_time_key(&s.feed_url, item.sort_time(), id)[..] == k[..]),
                _ => false,
            };
            if !listed {
                problems.push(format!("by_feed: stale or dangling entry for item {id}"));
            }
        }

        for kv in self.keys.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            match as_id(&v) {
                Some(id) if item_ids.contains(&id) || seen_ids.contains(&id) => {}
                Some(id) => problems.push(format!("keys: {} points at missing item {id}", hex(&k))),
                None => problems.push(format!("keys: {} has a malformed value", hex(&k))),
            }
        }

        for kv in self.seen_by_feed.iter() {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            match k.get(16..32).and_then(as_id) {
                Some(id) if seen_ids.contains(&id) => {}
                _ => problems.push(format!("seen_by_feed: dangling entry {}", hex(&k))),
            }
        }

        for kv in self.feeds.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            if let Err(e) = serde_json::from_slice::<FeedState>(&v) {
                problems.push(format!(
                    "feed {}: unreadable state: {e}",
                    String::from_utf8_lossy(&k)
                ));
            }
        }
        self.check_dropped(&mut problems)?;
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::keys::keys_for;
    use crate::model::{Entry, Source};
    use chrono::Utc;

    fn store_with_items(dir: &std::path::Path) -> SledStore {
        let store = SledStore::open(dir, "test").unwrap();
        let entries: Vec<Entry> = (0..3)
            .map(|i| Entry {
                guid: Some(format!("g{i}")),
                link: Some(format!("https://c.example/{i}")),
                title: Some(format!("خبر {i}")),
                ..Entry::default()
            })
            .collect();
        let keys = keys_for("https://c.example/f", None, &entries);
        let source = Source {
            feed_url: "https://c.example/f".into(),
            feed_title: None,
            feed_id: None,
            site_url: None,
            item_link: None,
            guid: None,
            copy: None,
        };
        store
            .ingest(&source, &entries, &keys, &FeedState::default(), Utc::now())
            .unwrap();
        store
    }

    #[test]
    fn a_sound_store_has_no_problems() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_items(dir.path());
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn every_kind_of_damage_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_items(dir.path());
        // A time-index entry lost, a key pointing nowhere, an item unreadable.
        let (k, _) = store.by_time.iter().next().unwrap().unwrap();
        store.by_time.remove(k).unwrap();
        store.keys.insert([b'K'; 17], &[9u8; 16]).unwrap();
        let (id, _) = store.items.iter().nth(1).unwrap().unwrap();
        store.items.insert(id, &b"{not json"[..]).unwrap();
        // A split record filed under another story, one unreadable, and a
        // copy naming a local key its item does not hold.
        let split = super::super::Split {
            story: ItemId([1; 16]),
            feed_url: "https://c.example/f".into(),
            item: ItemId([2; 16]),
            at: Utc::now(),
        };
        let filed = super::super::split::split_key(ItemId([3; 16]), &split.feed_url);
        store
            .splits
            .insert(filed, serde_json::to_vec(&split).unwrap())
            .unwrap();
        store.splits.insert([7u8; 32], &b"[]"[..]).unwrap();
        let (id, v) = store.items.iter().next().unwrap().unwrap();
        let mut item: Item = super::super::codec::decode_item(&v).unwrap();
        item.sources[0].copy.as_mut().unwrap().local_key = Some("4c00".into());
        store
            .items
            .insert(id, super::super::codec::encode_item(&item).unwrap())
            .unwrap();
        let problems = store.check().unwrap();
        let all = problems.join("\n");
        assert!(all.contains("missing from the time index"), "{all}");
        assert!(all.contains("points at missing item"), "{all}");
        assert!(all.contains("unreadable"), "{all}");
        assert!(all.contains("filed under another key"), "{all}");
        assert!(
            all.contains(&format!("splits {}: unreadable", hex(&[7u8; 32]))),
            "{all}"
        );
        assert!(all.contains("names local key 4c00"), "{all}");
    }
}
