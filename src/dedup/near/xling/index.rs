//! Finding the stories in the other language a new story may report: each
//! story under its anchor keys (the skeletons of its names, its figures;
//! `Arabic::anchor_keys`, `English::anchor_keys`), and the English stories'
//! word counts, which weigh the decision's words by their rarity.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{DocFrequencies, English, Lang};
use crate::model::ItemId;

/// Candidates a new story is compared with, the likeliest first.
pub const MAX_CANDIDATES: usize = 3;

/// A key more stories share than this finds nothing in particular.
const MAX_POSTINGS: usize = 2000;

#[derive(Default)]
pub struct CrossIndex {
    entries: HashMap<ItemId, Entry>,
    /// Anchor key → the stories (of both languages) that give it.
    postings: HashMap<String, Vec<ItemId>>,
    rarity: DocFrequencies,
}

struct Entry {
    lang: Lang,
    date: DateTime<Utc>,
    keys: Vec<String>,
}

impl CrossIndex {
    /// Remembers a story; `english` is its reading when it is in English
    /// (counted for rarity).
    pub fn insert(
        &mut self,
        id: ItemId,
        lang: Lang,
        keys: Vec<String>,
        date: DateTime<Utc>,
        english: Option<&English>,
    ) {
        if self.entries.contains_key(&id) {
            return;
        }
        if let Some(e) = english {
            self.rarity.add(e);
        }
        for k in &keys {
            self.postings.entry(k.clone()).or_default().push(id);
        }
        self.entries.insert(id, Entry { lang, date, keys });
    }

    /// Stories in `lang` within `window` of `date` that share an anchor
    /// with `keys`: those sharing the rarer anchors, and more of them,
    /// first.
    pub fn candidates(
        &self,
        lang: Lang,
        keys: &[String],
        date: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Vec<ItemId> {
        let mut scores: HashMap<ItemId, f64> = HashMap::new();
        for k in keys {
            let Some(ids) = self.postings.get(k) else {
                continue;
            };
            if ids.len() > MAX_POSTINGS {
                continue;
            }
            let weight = 1.0 / (ids.len() as f64).ln_1p();
            for id in ids {
                let Some(e) = self.entries.get(id) else {
                    continue;
                };
                if e.lang == lang && (e.date - date).abs() <= window {
                    *scores.entry(*id).or_default() += weight;
                }
            }
        }
        let mut ranked: Vec<(ItemId, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.0.cmp(&b.0.0)));
        ranked
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|(id, _)| id)
            .collect()
    }

    /// Forgets the stories dated before `oldest`.
    pub fn prune_before(&mut self, oldest: DateTime<Utc>) {
        let gone: Vec<ItemId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.date < oldest)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(e) = self.entries.remove(&id) {
                for k in e.keys {
                    if let Some(ids) = self.postings.get_mut(&k) {
                        ids.retain(|i| *i != id);
                        if ids.is_empty() {
                            self.postings.remove(&k);
                        }
                    }
                }
            }
        }
    }

    /// The English stories' word counts.
    pub fn rarity(&self) -> &DocFrequencies {
        &self.rarity
    }

    /// Stories held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_of_the_other_language_in_the_window_rarer_anchors_first() {
        let now = Utc::now();
        let id = |n: u8| ItemId([n; 16]);
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut ix = CrossIndex::default();
        // Ten Arabic stories give a common name; one gives a rare one too.
        for n in 0..10 {
            ix.insert(id(n), Lang::Arabic, keys(&["slmn"]), now, None);
        }
        ix.insert(
            id(20),
            Lang::Arabic,
            keys(&["slmn", "dln", "#250"]),
            now,
            None,
        );
        ix.insert(id(21), Lang::English, keys(&["dln"]), now, None);
        ix.insert(
            id(22),
            Lang::Arabic,
            keys(&["dln"]),
            now - chrono::Duration::days(10),
            None,
        );
        let window = chrono::Duration::hours(72);
        let found = ix.candidates(Lang::Arabic, &keys(&["dln", "#250", "slmn"]), now, window);
        assert_eq!(found[0], id(20));
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert!(!found.contains(&id(21)), "same language");
        assert!(!found.contains(&id(22)), "outside the window");
        ix.prune_before(now - chrono::Duration::days(5));
        assert_eq!(ix.len(), 12);
    }
}
