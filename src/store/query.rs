//! Reads: items by id, and the newest items, of the whole store or of a
//! set of feeds, a page at a time.

use chrono::{DateTime, Utc};

use super::{SledStore, StoreError, as_id, feed_digest, time_key};
use crate::model::{Item, ItemId, hex};

impl SledStore {
    /// The newest `limit` items carried by any of `feed_urls` older than
    /// `before` (the sort time and id of the last item already shown),
    /// newest first (ties by id): the per-feed time indexes merged, so the
    /// cost depends on `limit` and the number of feeds, not on the size of
    /// the store.
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

    /// `Store::newest`, for this store's tests.
    #[cfg(test)]
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
            let item: Item = super::codec::decode_item(&v)
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
            Some(v) => super::codec::decode_item(&v)
                .map(Some)
                .map_err(|e| self.corrupt("items", format!("{id}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ingest::tests::{entry, ingest};
    use super::*;

    #[test]
    fn newest_is_ordered_by_date_then_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
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
