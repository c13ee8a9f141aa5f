//! The search for the stored story a new entry repeats: the settings it
//! runs with ([`NearDup`]), what an entry brings to it ([`Probe`]), and the
//! in-memory index of recent stories it searches ([`NearState`]).
//!
//! The index is derived data: the store keeps the items, and hands them
//! over to [`NearState::rebuild`] when an ingest first needs the index, so
//! it can never disagree with them after a crash. The store runs the search
//! inside its ingest transaction, reading stories through
//! [`StoryView`](crate::dedup::decide::StoryView).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Corpus, Doc, Index, Reader, contradiction, may_be_repost, same_story_in};
use crate::dedup::decide::StoryView;
use crate::model::{Entry, Item, ItemId};

/// Members of a story a new copy is checked against, at most.
const MAX_MEMBERS_CHECKED: usize = 16;

/// Inserts between two prunings of the index.
const PRUNE_EVERY: u32 = 4096;

/// How near-duplicates are found for one ingest: the `dedup` settings in
/// force.
#[derive(Debug, Clone)]
pub struct NearDup {
    pub reader: Reader,
    pub threshold: f64,
    pub window: chrono::Duration,
    /// Feeds whose items are neither merged nor merged into (`dedup = false`).
    pub opted_out: HashSet<String>,
}

impl NearDup {
    /// From the settings `dedup.boilerplate`, `dedup.threshold` and
    /// `dedup.window`, and the feeds that opt out.
    pub fn new<'a>(
        boilerplate: impl IntoIterator<Item = &'a str>,
        threshold: f64,
        window: std::time::Duration,
        opted_out: impl IntoIterator<Item = String>,
    ) -> NearDup {
        NearDup {
            reader: Reader::new(boilerplate),
            threshold,
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(3)),
            opted_out: opted_out.into_iter().collect(),
        }
    }

    fn doc_of_item(&self, item: &Item) -> Doc {
        let body = item.content.as_deref().or(item.summary.as_deref());
        self.reader.doc(item.title.as_deref(), body)
    }

    /// The first member of `item` whose own copy `doc` contradicts, and
    /// why. At most `MAX_MEMBERS_CHECKED` members are read: a story carried
    /// by more outlets than that has shown what it is.
    fn misfit(
        &self,
        doc: &Doc,
        shown: &Doc,
        item: &Item,
        corpus: &dyn Corpus,
    ) -> Option<(String, String)> {
        item.sources
            .iter()
            .filter_map(|s| s.copy.as_ref().map(|c| (s, c)))
            .take(MAX_MEMBERS_CHECKED)
            .find_map(|(s, c)| {
                let body = c.content.as_deref().or(c.summary.as_deref());
                let member = self.reader.doc(c.title.as_deref(), body);
                // The copy the story shows was judged already.
                if member == *shown {
                    return None;
                }
                contradiction(doc, &member, corpus).map(|why| (s.feed_url.clone(), why))
            })
    }

    /// Whether the story takes part in detection: its first outlet has not
    /// opted out.
    pub fn takes_part(&self, item: &Item) -> bool {
        item.sources
            .first()
            .is_none_or(|s| !self.opted_out.contains(&s.feed_url))
    }
}

/// The date an item counts from in the window: its own, unless it claims
/// the future.
fn own_date(
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    seen: DateTime<Utc>,
) -> DateTime<Utc> {
    let claimed = published.or(updated).unwrap_or(seen);
    claimed.min(seen)
}

/// What a new entry brings to the near-duplicate search.
pub struct Probe<'a> {
    near: &'a NearDup,
    /// The feed the entry comes from.
    feed: &'a str,
    doc: Doc,
    probe: Vec<u64>,
    date: DateTime<Utc>,
}

impl<'a> Probe<'a> {
    /// The feed the entry comes from.
    pub fn feed(&self) -> &'a str {
        self.feed
    }

    pub fn new(near: &'a NearDup, feed: &'a str, entry: &Entry, now: DateTime<Utc>) -> Probe<'a> {
        let body = entry.content.as_deref().or(entry.summary.as_deref());
        let doc = near.reader.doc(entry.title.as_deref(), body);
        Probe {
            near,
            feed,
            probe: doc.probe(),
            doc,
            date: own_date(entry.published, entry.updated, now),
        }
    }
}

/// A stored story that resembled the entry but contradicts one of its
/// members: kept apart, and told so the store can log it.
#[derive(Debug)]
pub struct Misfit {
    pub story: ItemId,
    /// The feed of the member the entry contradicts.
    pub member: String,
    pub why: String,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    /// The story the entry repeats, and the resemblance.
    pub story: Option<(ItemId, f64)>,
    /// Stories passed over on the way, each for a member it contradicts.
    pub misfits: Vec<Misfit>,
}

/// The index, once built, and how many inserts it has had since it was
/// last pruned.
#[derive(Debug, Default)]
pub struct NearState {
    index: Option<Index>,
    inserts: u32,
}

impl NearState {
    pub fn is_built(&self) -> bool {
        self.index.is_some()
    }

    /// Fingerprints in the index (0 before it is built).
    pub fn len(&self) -> usize {
        self.index.as_ref().map_or(0, Index::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds the index from `items`, the stored items of the window; the
    /// first error ends it, leaving no index.
    pub fn rebuild<E>(
        &mut self,
        near: &NearDup,
        items: impl IntoIterator<Item = Result<(ItemId, Item), E>>,
    ) -> Result<(), E> {
        let started = std::time::Instant::now();
        let mut index = Index::default();
        for it in items {
            let (id, item) = it?;
            if !near.takes_part(&item) {
                continue;
            }
            let date = own_date(item.published, item.updated, item.first_seen);
            let doc = near.doc_of_item(&item);
            index.count_words(&doc);
            index.insert(id, date, doc.anchors());
        }
        tracing::info!(
            fingerprints = index.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "near-duplicate index built from the stored items"
        );
        self.index = Some(index);
        Ok(())
    }

    /// The stored story the entry repeats, if any, read through `view`.
    /// `listed` holds the hex local keys of every entry of the document
    /// being stored.
    pub fn find<V: StoryView>(
        &self,
        probe: &Probe<'_>,
        view: &V,
        listed: &HashSet<String>,
    ) -> Result<Found, V::Error> {
        let mut found = Found::default();
        if probe.probe.is_empty() {
            return Ok(found);
        }
        // The index is also the corpus the decision tells names from common
        // words by.
        let Some(ix) = &self.index else {
            return Ok(found);
        };
        let candidates = ix.candidates(&probe.probe, probe.date, probe.near.window.num_seconds());
        for id in candidates {
            let Some(item) = view.item(id)? else {
                continue; // pruned since it was indexed
            };
            if !probe.near.takes_part(&item) {
                continue;
            }
            // A member split off this story stays out of it.
            if view.is_split(id, probe.feed)? {
                continue;
            }
            let candidate = probe.near.doc_of_item(&item);
            // Two entries one document lists side by side, both in this
            // outlet's own words, are two items unless they look like a
            // re-post (see `may_be_repost`).
            let own_text = item
                .sources
                .first()
                .is_some_and(|s| s.feed_url == probe.feed);
            if own_text
                && item.keys.iter().any(|k| listed.contains(k))
                && !may_be_repost(&probe.doc, &candidate)
            {
                continue;
            }
            let verdict = same_story_in(&probe.doc, &candidate, probe.near.threshold, ix);
            if verdict.duplicate {
                // The copy must fit the whole story, not just the member
                // it resembles most.
                if let Some((member, why)) = probe.near.misfit(&probe.doc, &candidate, &item, ix) {
                    found.misfits.push(Misfit {
                        story: id,
                        member,
                        why,
                    });
                    continue;
                }
                found.story = Some((id, verdict.score));
                return Ok(found);
            }
        }
        Ok(found)
    }

    /// Remembers a newly stored item in the index.
    pub fn insert(&mut self, probe: Probe<'_>, id: ItemId) {
        let window = probe.near.window;
        let prune = {
            self.inserts += 1;
            self.inserts >= PRUNE_EVERY
        };
        if prune {
            self.inserts = 0;
        }
        if let Some(ix) = self.index.as_mut() {
            ix.count_words(&probe.doc);
            ix.insert(id, probe.date, probe.doc.anchors());
            if prune {
                ix.prune_outside(window.num_seconds());
            }
        }
    }
}
