//! Stories told in Arabic and in English, linked (`[dedup] cross_language`):
//! after a document is stored, each new story is compared with the stories
//! of the other language in the window that share a name or a figure with
//! it, and each pair found to be one story links to the other
//! (`Item::translations`); neither is merged into the other.
//!
//! The candidates come from an in-memory index, derived from the items as
//! the near-duplicate index is (rebuilt from the window at first use, never
//! written to sled): each story under its anchor keys (`xling::Arabic::
//! anchor_keys`), and the English stories' word counts, which weigh the
//! words of the decision by their rarity.

use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use super::{SledStore, StoreError, load, save};
use crate::dedup::near::xling::{
    self, Arabic, CrossIndex, DEFAULT_XLING_THRESHOLD, English, Lang, Link,
};
use crate::dedup::near::{NearDup, own_date};
use crate::model::{Item, ItemId, Translation};

/// Stories of one language indexed between two prunings of those outside
/// the window.
const PRUNE_EVERY: usize = 4096;

#[derive(Default)]
pub(super) struct XlingState {
    built: bool,
    index: CrossIndex,
    inserts: usize,
}

/// An item as the cross-language decision reads it.
enum Reading {
    Arabic(Arabic),
    English(English),
}

impl Reading {
    fn lang(&self) -> Lang {
        match self {
            Reading::Arabic(_) => Lang::Arabic,
            Reading::English(_) => Lang::English,
        }
    }

    fn anchor_keys(&self) -> Vec<String> {
        match self {
            Reading::Arabic(a) => a.anchor_keys(),
            Reading::English(e) => e.anchor_keys(),
        }
    }

    fn index(&self, ix: &mut CrossIndex, id: ItemId, date: DateTime<Utc>) {
        let english = match self {
            Reading::English(e) => Some(e),
            Reading::Arabic(_) => None,
        };
        ix.insert(id, self.lang(), self.anchor_keys(), date, english);
    }
}

/// Reads an item, if it is in Arabic or in English (by its letters; a
/// declared language other than these two rules it out).
fn read(item: &Item, near: &NearDup, dict: &xling::Dictionary) -> Option<Reading> {
    if let Some(l) = &item.language {
        let l = l.to_ascii_lowercase();
        if !(l.starts_with("ar") || l.starts_with("en")) {
            return None;
        }
    }
    let title = crate::text::html_to_text(item.title.as_deref().unwrap_or(""));
    let body = crate::text::html_to_text(
        item.content
            .as_deref()
            .or(item.summary.as_deref())
            .unwrap_or(""),
    );
    match xling::language_of(&format!("{title} {body}"))? {
        Lang::Arabic => {
            let doc = near.reader.doc(
                item.title.as_deref(),
                item.content.as_deref().or(item.summary.as_deref()),
            );
            Some(Reading::Arabic(Arabic::read(&doc, dict)))
        }
        Lang::English => Some(Reading::English(English::read(&title, &body))),
    }
}

fn locked(state: &std::sync::Mutex<XlingState>) -> MutexGuard<'_, XlingState> {
    // A panic while it was held leaves at worst a story missing: usable.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl SledStore {
    /// Builds the index from the items of the window, once, but for
    /// `pending`: the stories about to be linked, which are indexed once
    /// they have been.
    fn ensure_xling_index(
        &self,
        near: &NearDup,
        dict: &xling::Dictionary,
        now: DateTime<Utc>,
        pending: &[ItemId],
    ) -> Result<(), StoreError> {
        let mut state = locked(&self.xling);
        if state.built {
            return Ok(());
        }
        let started = std::time::Instant::now();
        for it in self.window_items(near.window, now)? {
            let (id, item) = it?;
            if pending.contains(&id) {
                continue;
            }
            if let Some(r) = read(&item, near, dict) {
                let date = own_date(item.published, item.updated, item.first_seen);
                r.index(&mut state.index, id, date);
            }
        }
        state.built = true;
        tracing::info!(
            stories = state.index.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "cross-language index built from the stored items"
        );
        Ok(())
    }

    /// Links each of `ids` (stories just stored) to the stories in the
    /// other language that report it. Says how many links were made.
    pub(super) fn link_across(
        &self,
        ids: &[ItemId],
        near: &NearDup,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let Some(dict) = near.cross_language.as_deref() else {
            return Ok(0);
        };
        self.ensure_xling_index(near, dict, now, ids)?;
        let mut linked = 0;
        for id in ids {
            let Some(item) = self.item(*id)? else {
                continue;
            };
            let Some(reading) = read(&item, near, dict) else {
                continue;
            };
            let date = own_date(item.published, item.updated, item.first_seen);
            let candidates = {
                let mut state = locked(&self.xling);
                state.inserts += 1;
                if state.inserts >= PRUNE_EVERY {
                    state.inserts = 0;
                    state.index.prune_before(now - near.window);
                }
                state.index.candidates(
                    reading.lang().other(),
                    &reading.anchor_keys(),
                    date,
                    near.window,
                )
            };
            for other_id in candidates {
                let Some(other) = self.item(other_id)? else {
                    continue;
                };
                let Some(other_reading) = read(&other, near, dict) else {
                    continue;
                };
                let link = {
                    let state = locked(&self.xling);
                    let (ar, en) = match (&reading, &other_reading) {
                        (Reading::Arabic(a), Reading::English(e))
                        | (Reading::English(e), Reading::Arabic(a)) => (a, e),
                        _ => continue,
                    };
                    xling::same_story_across(
                        ar,
                        en,
                        dict,
                        state.index.rarity(),
                        DEFAULT_XLING_THRESHOLD,
                    )
                };
                tracing::debug!(
                    story = %id,
                    other = %other_id,
                    score = link.score,
                    conflict = link.conflict.as_deref().unwrap_or(""),
                    "compared across languages"
                );
                if link.linked {
                    self.link_pair(*id, reading.lang(), other_id, other_reading.lang(), &link)?;
                    linked += 1;
                }
            }
            reading.index(&mut locked(&self.xling).index, *id, date);
        }
        Ok(linked)
    }

    /// Writes the link on both stories, in one transaction.
    fn link_pair(
        &self,
        a: ItemId,
        a_lang: Lang,
        b: ItemId,
        b_lang: Lang,
        link: &Link,
    ) -> Result<(), StoreError> {
        self.in_ingest_tx(None, |tx| {
            let (mut x, mut y) = (load(tx.items, a)?, load(tx.items, b)?);
            let to = |item: &Item, lang: Lang| Translation {
                id: item.id,
                lang: lang.code().to_string(),
                title: item.title.clone(),
                link: item.link.clone(),
                source: item.sources.first().and_then(|s| s.feed_title.clone()),
                score: (link.score * 1000.0).round() / 1000.0,
                anchors: link.anchors.clone(),
            };
            let (on_x, on_y) = (to(&y, b_lang), to(&x, a_lang));
            x.translations.retain(|t| t.id != b);
            x.translations.push(on_x);
            y.translations.retain(|t| t.id != a);
            y.translations.push(on_y);
            save(tx.items, &x)?;
            save(tx.items, &y)
        })
    }
}
