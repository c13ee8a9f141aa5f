//! Verdicts of rules on stored items, remembered by whoever renders: a river
//! is rendered again after every change to the store, and most of the items
//! it looks at were judged the render before. The memory lives with the
//! renderer (the daemon's `publish::Outputs`), not in the config, which
//! stays plain data.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Rules;
use crate::model::{Item, ItemId};

/// Verdicts remembered at most, over every rule set; past this the memory
/// starts afresh, so it never outgrows what rivers show.
const REMEMBERED_MAX: usize = 100_000;

/// Whether a rule set keeps an item, by the rules' fingerprint and the
/// item's id and revision. Rules that differ have different fingerprints,
/// so a reload that changes a river's rules judges its items afresh, and one
/// that leaves them alone keeps what was judged.
#[derive(Default)]
pub struct Verdicts {
    memory: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    by_rules: HashMap<String, HashMap<(ItemId, String), bool>>,
    count: usize,
}

impl Verdicts {
    /// Whether `rules` keep `item`: remembered for the item's revision.
    pub fn keeps(&self, rules: &Rules, item: &Item) -> bool {
        let key = (item.id, item.revision.clone());
        // A poisoned lock only means a panic elsewhere mid-insert; the map
        // is still a valid memory.
        let remembered = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_rules
            .get(rules.fingerprint())
            .and_then(|m| m.get(&key).copied());
        if let Some(kept) = remembered {
            return kept;
        }
        // Judged without the lock: renders of other rivers go on meanwhile.
        let kept = rules.keeps_item(item);
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if memory.count >= REMEMBERED_MAX {
            memory.by_rules.clear();
            memory.count = 0;
        }
        let fresh = memory
            .by_rules
            .entry(rules.fingerprint().to_string())
            .or_default()
            .insert(key, kept)
            .is_none();
        if fresh {
            memory.count += 1;
        }
        kept
    }

    /// How many verdicts are remembered.
    pub fn remembered(&self) -> usize {
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Field, Kind, Rule};

    fn drop_title(pattern: &str) -> Rules {
        let rule = Rule::new(Kind::Drop, Field::Title, pattern).unwrap();
        Rules::new(Vec::new(), vec![rule], Vec::new()).unwrap()
    }

    fn item(title: &str, revision: &str) -> Item {
        Item {
            id: ItemId([7; 16]),
            uid: None,
            title: Some(title.into()),
            link: None,
            content: None,
            summary: None,
            published: None,
            updated: None,
            first_seen: chrono::Utc::now(),
            authors: vec![],
            categories: vec![],
            enclosures: vec![],
            language: None,
            base: None,
            sources: vec![],
            revision: revision.into(),
            keys: vec![],
            translations: Vec::new(),
        }
    }

    #[test]
    fn stored_items_are_judged_once_per_revision() {
        let v = Verdicts::default();
        let ads = drop_title("إعلان");
        assert!(!v.keeps(&ads, &item("إعلان مدفوع", "r1")));
        // Same revision: the remembered verdict answers, not the title.
        assert!(!v.keeps(&ads, &item("خبر", "r1")));
        assert_eq!(v.remembered(), 1);
        // A new revision is judged again.
        assert!(v.keeps(&ads, &item("خبر", "r2")));
        assert_eq!(v.remembered(), 2);
    }

    #[test]
    fn other_rules_judge_afresh() {
        let v = Verdicts::default();
        let it = item("إعلان مدفوع", "r1");
        assert!(!v.keeps(&drop_title("إعلان"), &it));
        // Rules with the same fingerprint share what was judged.
        assert!(!v.keeps(&drop_title("إعلان"), &item("خبر", "r1")));
        // Rules that differ do not see the other set's verdict.
        assert!(v.keeps(&drop_title("رياضة"), &it));
        assert_eq!(v.remembered(), 2);
    }
}
