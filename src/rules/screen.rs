//! A feed's rules applied to a fetched document before anything is stored,
//! with the memory of what they dropped.
//!
//! An item the rules drop is remembered (store tree `dropped`) with the
//! rule that dropped it. On later polls it stays out while that rule is in
//! the config, even if the source edits the item so that the rule no longer
//! matches; once the rule is gone, the item is judged afresh and comes in if
//! the rules now let it. Items the store already knows are not judged: a
//! rule added later stops new items, it never deletes or freezes stored ones.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Doc, Rules, Verdict};
use crate::dedup::keys::{ItemKeys, Key};
use crate::model::Entry;
use crate::store::{Dropped, Store, StoreError};

/// A document's entries after the feed's rules, and what they dropped.
#[derive(Debug, Default)]
pub struct Screened {
    pub entries: Vec<Entry>,
    pub keys: Vec<ItemKeys>,
    /// Items dropped on this poll (newly or as remembered).
    pub dropped: usize,
}

/// Whether a remembered drop still holds under `rules`.
fn still_holds(rules: &Rules, d: &Dropped) -> bool {
    match d.rule.as_str() {
        "keep" | "lang" => d.keep.as_deref() == Some(rules.keep_fingerprint().as_str()),
        label => rules.has_drop_rule(label),
    }
}

/// Why `verdict` drops an item, as remembered; `None` when it keeps it.
fn remembered(
    rules: &Rules,
    verdict: &Verdict,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Option<Dropped> {
    let (rule, keep) = match verdict {
        Verdict::Keep(_) => return None,
        Verdict::Dropped(i) => (rules.rules()[*i].label(), None),
        Verdict::NoKeepMatched => ("keep".to_string(), Some(rules.keep_fingerprint())),
        Verdict::Language(_) => ("lang".to_string(), Some(rules.keep_fingerprint())),
    };
    Some(Dropped {
        rule,
        keep,
        title: entry.title.clone(),
        link: entry.link.clone(),
        at: now,
    })
}

/// Applies `rules` (none: every item passes) to one document of
/// `feed_url`, records what they drop, and returns what is left to store.
pub fn screen(
    store: &Store,
    feed_url: &str,
    rules: Option<&Rules>,
    entries: Vec<Entry>,
    keys: Vec<ItemKeys>,
    now: DateTime<Utc>,
) -> Result<Screened, StoreError> {
    let rules = rules.filter(|r| !r.is_empty());
    // Without rules nothing stays dropped: every record of the feed goes.
    let listed: HashSet<Key> = match rules {
        Some(_) => keys.iter().map(|k| k.local).collect(),
        None => HashSet::new(),
    };
    let mut out = Screened::default();
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for (entry, k) in entries.into_iter().zip(keys) {
        let Some(rules) = rules else {
            out.entries.push(entry);
            out.keys.push(k);
            continue;
        };
        if store.knows_key(&k.local)? {
            out.entries.push(entry);
            out.keys.push(k);
            continue;
        }
        if let Some(d) = store.dropped(feed_url, &k.local)? {
            if still_holds(rules, &d) {
                out.dropped += 1;
                continue;
            }
            remove.push(k.local);
        }
        let verdict = rules.judge(&Doc::of_entry(&entry));
        match remembered(rules, &verdict, &entry, now) {
            Some(d) => {
                tracing::debug!(rule = %d.rule, title = ?d.title, "dropped by a feed rule");
                add.push((k.local, d));
                out.dropped += 1;
            }
            None => {
                out.entries.push(entry);
                out.keys.push(k);
            }
        }
    }
    store.note_dropped(feed_url, &add, &remove, &listed)?;
    Ok(out)
}
