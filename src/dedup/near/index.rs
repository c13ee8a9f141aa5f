//! The in-memory inverted index over anchor shingles, with the word
//! counts that tell names from common words (`Corpus`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::doc::{Doc, HashSet64, Prehashed, hash_of};
use super::words::{Corpus, light_stem};
use super::{MAX_CANDIDATES, MAX_POSTINGS};
use crate::model::ItemId;

/// One indexed item.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) id: ItemId,
    pub(super) date: i64,
    pub(super) anchors: Box<[u64]>,
}

pub(super) type PrehashedMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<Prehashed>>;

/// The in-memory index of recent items' anchors.
///
/// Most anchors belong to one item only, so postings live in two maps: one
/// slot inline for those, a vector only for anchors several items share.
/// That halves the memory of the index against a vector per anchor.
#[derive(Debug, Default)]
pub struct Index {
    /// The newest item date held (seconds): the window is counted back
    /// from it, not from the clock, since items carry their own dates.
    pub(super) newest: i64,
    pub(super) single: PrehashedMap<u32>,
    pub(super) multi: PrehashedMap<Vec<u32>>,
    pub(super) entries: Vec<Option<Entry>>,
    pub(super) slots: HashMap<ItemId, u32>,
    pub(super) free: Vec<u32>,
    /// The corpus statistics names are read by: in how many documents each
    /// word (the hash of its stem) occurred, over the items counted since
    /// the index was built. Not taken back when an item leaves the window:
    /// how rare a word is changes slowly, and keeping each item's words to
    /// take them back would cost more than the index itself.
    pub(super) words: PrehashedMap<u32>,
    pub(super) docs: u32,
}

/// A word that occurs in at most this many documents is rare whatever the
/// corpus size...
pub(super) const RARE_DOCS: u32 = 2;

/// ... and so is one that occurs in at most one document in this many.
pub(super) const RARE_SHARE: u64 = 400;

/// A word in at most this many documents, or one in this many, is uncommon.
pub(super) const UNCOMMON_DOCS: u32 = 5;

pub(super) const UNCOMMON_SHARE: u64 = 100;

impl Index {
    fn doc_freq(&self, word: &str) -> u32 {
        self.words.get(&hash_of(word)).copied().unwrap_or(0)
    }
}

impl Corpus for Index {
    fn rare(&self, word: &str) -> bool {
        let df = self.doc_freq(word);
        df <= RARE_DOCS || u64::from(df) * RARE_SHARE <= u64::from(self.docs)
    }

    fn uncommon(&self, word: &str) -> bool {
        let df = self.doc_freq(word);
        df <= UNCOMMON_DOCS || u64::from(df) * UNCOMMON_SHARE <= u64::from(self.docs)
    }
}

impl Index {
    /// Counts the words of a document into the corpus statistics.
    pub fn count_words(&mut self, doc: &Doc) {
        let mut seen: HashSet64 = HashSet64::default();
        for w in doc.title.iter().chain(&doc.body) {
            if w.chars().count() >= 3 {
                seen.insert(hash_of(light_stem(w)));
            }
        }
        for h in seen {
            *self.words.entry(h).or_insert(0) += 1;
        }
        self.docs = self.docs.saturating_add(1);
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds (or replaces) an item under its stored anchors (`Doc::anchors`).
    pub fn insert(&mut self, id: ItemId, date: DateTime<Utc>, anchors: Vec<u64>) {
        self.remove(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                // More than 4 billion items in a window is beyond any store
                // rafid keeps; saturating keeps this from panicking.
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        for a in &anchors {
            if let Some(p) = self.multi.get_mut(a) {
                p.push(slot);
            } else if let Some(first) = self.single.remove(a) {
                self.multi.insert(*a, vec![first, slot]);
            } else {
                self.single.insert(*a, slot);
            }
        }
        self.newest = self.newest.max(date.timestamp());
        if let Some(e) = self.entries.get_mut(slot as usize) {
            *e = Some(Entry {
                id,
                date: date.timestamp(),
                anchors: anchors.into_boxed_slice(),
            });
        }
        self.slots.insert(id, slot);
    }

    pub fn remove(&mut self, id: ItemId) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        if let Some(e) = self.entries.get_mut(slot as usize).and_then(Option::take) {
            for a in e.anchors.iter() {
                if self.single.get(a) == Some(&slot) {
                    self.single.remove(a);
                } else if let Some(p) = self.multi.get_mut(a) {
                    p.retain(|s| *s != slot);
                    match p.len() {
                        0 => {
                            self.multi.remove(a);
                        }
                        1 => {
                            let last = p[0];
                            self.multi.remove(a);
                            self.single.insert(*a, last);
                        }
                        _ => {}
                    }
                }
            }
        }
        self.free.push(slot);
    }

    /// Items dated within `window_secs` of `date` sharing anchors with
    /// `probe` (`Doc::probe`), most shared first, at most `MAX_CANDIDATES`.
    pub fn candidates(&self, probe: &[u64], date: DateTime<Utc>, window_secs: i64) -> Vec<ItemId> {
        let mut hits: Vec<u32> = Vec::new();
        for a in probe {
            if let Some(s) = self.single.get(a) {
                hits.push(*s);
            } else if let Some(p) = self.multi.get(a) {
                if p.len() <= MAX_POSTINGS {
                    hits.extend_from_slice(p);
                }
            }
        }
        hits.sort_unstable();
        let counts = hits.chunk_by(|x, y| x == y).map(|run| (run[0], run.len()));
        let t = date.timestamp();
        let mut found: Vec<(usize, ItemId)> = counts
            .filter_map(|(s, n)| {
                let e = self.entries.get(s as usize)?.as_ref()?;
                ((e.date - t).abs() <= window_secs).then_some((n, e.id))
            })
            .collect();
        found.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.0.cmp(&y.1.0)));
        found.truncate(MAX_CANDIDATES);
        found.into_iter().map(|(_, id)| id).collect()
    }

    /// Drops items dated more than `window_secs` before the newest one.
    pub fn prune_outside(&mut self, window_secs: i64) {
        let t = self.newest.saturating_sub(window_secs);
        let old: Vec<ItemId> = self
            .entries
            .iter()
            .flatten()
            .filter(|e| e.date < t)
            .map(|e| e.id)
            .collect();
        for id in old {
            self.remove(id);
        }
    }

    /// Bytes the index holds, estimated from its tables' capacities (hash
    /// tables: a control byte and the slot per bucket), for the memory
    /// figure per fingerprint. The allocator's own overhead is not counted.
    pub fn approx_bytes(&self) -> usize {
        fn table<K, V>(cap: usize) -> usize {
            cap * (std::mem::size_of::<(K, V)>() + 1)
        }
        let single = table::<u64, u32>(self.single.capacity());
        let multi = table::<u64, Vec<u32>>(self.multi.capacity())
            + self.multi.values().map(|p| p.capacity() * 4).sum::<usize>();
        let entries = self.entries.capacity() * std::mem::size_of::<Option<Entry>>()
            + self
                .entries
                .iter()
                .flatten()
                .map(|e| e.anchors.len() * 8)
                .sum::<usize>();
        let slots = table::<ItemId, u32>(self.slots.capacity()) + self.free.capacity() * 4;
        single + multi + entries + slots
    }
}
