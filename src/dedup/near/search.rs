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

use super::decision::TOO_LITTLE;
use super::index::{Key, anchor_keys, word_keys};
use super::{Doc, Facts, Index, Reader, may_be_repost, member_key, same_story_in};
use crate::dedup::decide::StoryView;
use crate::model::{Entry, Item, ItemId, OutletCopy};

/// Members of a story a new copy is checked against, at most.
const MAX_MEMBERS_CHECKED: usize = 16;

/// Other stories one entry folds into the story it joins, at most.
const MAX_FOLDS: usize = 2;

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
    /// The dictionary, when stories are linked across languages
    /// (`dedup.cross_language`).
    pub cross_language: Option<std::sync::Arc<super::xling::Dictionary>>,
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
            cross_language: None,
        }
    }

    /// A digest of the settings the index depends on: the boilerplate
    /// (which changes the words read), the window, and the feeds kept out.
    /// An index saved under other settings is rebuilt, not used.
    pub fn index_digest(&self) -> [u8; 16] {
        let mut out: Vec<&str> = self.opted_out.iter().map(String::as_str).collect();
        out.sort_unstable();
        let boilerplate = self.reader.boilerplate.join("\n");
        let window = self.window.num_seconds().to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![boilerplate.as_bytes(), &window];
        parts.extend(out.iter().map(|f| f.as_bytes()));
        crate::text::normalize::digest(&parts)
    }

    fn doc_of_item(&self, item: &Item) -> Doc {
        let body = item.content.as_deref().or(item.summary.as_deref());
        self.reader.doc(item.title.as_deref(), body)
    }

    fn doc_of_copy(&self, copy: &OutletCopy) -> Doc {
        let body = copy.content.as_deref().or(copy.summary.as_deref());
        self.reader.doc(copy.title.as_deref(), body)
    }

    /// The copy of the member indexed under `member` (`member_key`), as a
    /// document; the story's shown copy for a story indexed whole, or a
    /// member no longer there (split off since).
    fn doc_of_member(&self, item: &Item, member: u64) -> Doc {
        item.sources
            .iter()
            .take(MAX_MEMBERS_CHECKED)
            .find(|s| member_key(&s.feed_url) == member)
            .and_then(|s| s.copy.as_ref())
            .map_or_else(|| self.doc_of_item(item), |c| self.doc_of_copy(c))
    }

    /// The first member of `item` whose own copy `doc` contradicts, and
    /// why. At most `MAX_MEMBERS_CHECKED` members are read: a story carried
    /// by more outlets than that has shown what it is.
    fn misfit(&self, facts: &Facts, judged: &Doc, item: &Item) -> Option<(String, String)> {
        if !facts.can_contradict() {
            return None;
        }
        item.sources
            .iter()
            .filter_map(|s| s.copy.as_ref().map(|c| (s, c)))
            .take(MAX_MEMBERS_CHECKED)
            .find_map(|(s, c)| {
                let member = self.doc_of_copy(c);
                // The copy the entry was found to repeat was judged already.
                if member == *judged {
                    return None;
                }
                facts
                    .contradiction(&Facts::of(&member))
                    .map(|why| (s.feed_url.clone(), why))
            })
    }

    /// Whether two stories are one: no outlet in both (a story keeps one
    /// copy per outlet), and no member of one contradicts a member of the
    /// other. Resemblance is not asked of every pair: the entry that
    /// bridges them resembles both.
    pub fn stories_fit(&self, a: &Item, b: &Item) -> bool {
        self.story_fits(a, &self.member_facts(a), b)
    }

    /// `stories_fit`, with `a`'s members read already (`member_facts`): a
    /// search that meets several stories to fold reads its own once.
    fn story_fits(&self, a: &Item, a_facts: &[Facts], b: &Item) -> bool {
        if a.sources
            .iter()
            .any(|s| b.sources.iter().any(|t| t.feed_url == s.feed_url))
        {
            return false;
        }
        if !a_facts.iter().any(Facts::can_contradict) {
            return true;
        }
        let b_facts = self.member_facts(b);
        a_facts
            .iter()
            .all(|x| b_facts.iter().all(|y| x.contradiction(y).is_none()))
    }

    /// The facts of a story's members' copies (up to `MAX_MEMBERS_CHECKED`),
    /// or of the story itself when it was stored before each copy was kept.
    fn member_facts(&self, item: &Item) -> Vec<Facts> {
        let copies: Vec<Facts> = item
            .sources
            .iter()
            .filter_map(|s| s.copy.as_ref())
            .take(MAX_MEMBERS_CHECKED)
            .map(|c| Facts::of(&self.doc_of_copy(c)))
            .collect();
        if copies.is_empty() {
            vec![Facts::of(&self.doc_of_item(item))]
        } else {
            copies
        }
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
pub fn own_date(
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
    /// What the index keeps of the entry once stored (`anchor_keys`), and
    /// the words it counts (`word_keys`): read with the rest of the probe,
    /// before the store's transaction, which holds every other ingest up.
    anchors: Vec<Key>,
    words: Vec<Key>,
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
            anchors: anchor_keys(&doc.anchors()),
            words: word_keys(&doc),
            doc,
            date: own_date(entry.published, entry.updated, now),
        }
    }
}

impl Probe<'_> {
    /// Indexes the entry as story `id`'s member from its feed.
    fn index_into(&self, ix: &mut Index, id: ItemId) {
        let tokens = self.doc.indexed_tokens();
        let (member, date) = (member_key(self.feed), self.date.timestamp());
        ix.insert_keys(id, member, date, tokens, &self.anchors);
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
    /// Other stories the entry fits as wholly as `story`, and whose every
    /// member fits every member of `story`: one story that began twice,
    /// because its first copies shared too little to meet, bridged by this
    /// entry. They are folded into `story`.
    pub folds: Vec<ItemId>,
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

    /// The index, once built.
    pub fn index(&self) -> Option<&Index> {
        self.index.as_ref()
    }

    /// Puts in an index read back from a saved copy (`persist`).
    pub fn set_index(&mut self, index: Index) {
        self.index = Some(index);
        self.inserts = 0;
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
            // The words are counted once a story, as ingest counts them
            // when a story is first stored.
            let doc = near.doc_of_item(&item);
            index.count_words(&doc);
            let copies: Vec<_> = item
                .sources
                .iter()
                .filter_map(|s| s.copy.as_ref().map(|c| (s, c)))
                .take(MAX_MEMBERS_CHECKED)
                .collect();
            if copies.is_empty() {
                // Stored before each outlet's copy was kept.
                let member = item.sources.first().map_or(0, |s| member_key(&s.feed_url));
                index.insert_member(id, member, date, &doc);
            }
            let shown = (
                item.title.as_deref(),
                item.content.as_deref().or(item.summary.as_deref()),
            );
            for (s, c) in copies {
                let date = own_date(c.published, c.updated, item.first_seen);
                // The copy the story shows (the only copy of a story of
                // one outlet) is the text just read: a document is a
                // function of the title and body alone, and reading it
                // again made the rebuild take nearly twice as long.
                let own = (
                    c.title.as_deref(),
                    c.content.as_deref().or(c.summary.as_deref()),
                );
                let copy_doc;
                let doc = if own == shown {
                    &doc
                } else {
                    copy_doc = near.doc_of_copy(c);
                    &copy_doc
                };
                index.insert_member(id, member_key(&s.feed_url), date, doc);
            }
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
    pub fn find<V: StoryView>(&self, probe: &Probe<'_>, view: &V) -> Result<Found, V::Error> {
        let mut found = Found::default();
        if probe.probe.is_empty() {
            return Ok(found);
        }
        // The index is also the corpus the decision tells names from common
        // words by.
        let Some(ix) = &self.index else {
            return Ok(found);
        };
        let candidates = ix.candidate_members(
            &probe.probe,
            probe.doc.indexed_tokens(),
            probe.date,
            probe.near.window.num_seconds(),
        );
        // Stories already settled: joined, or kept apart for a contradiction.
        let mut settled: Vec<ItemId> = Vec::new();
        let mut loaded: Option<(ItemId, Item)> = None;
        // The story joined, once found: the search goes on through the
        // other candidates for a story it bridges to. Its members' copies
        // are read when the first such story turns up.
        let mut joined: Option<Item> = None;
        let mut joined_facts: Option<Vec<Facts>> = None;
        // The entry's facts, read when it first resembles a story.
        let mut own_facts: Option<Facts> = None;
        for (id, member) in candidates {
            if settled.contains(&id) {
                continue;
            }
            // The copies of one story come one after another most of the
            // time: it is read once for them.
            if loaded.as_ref().is_none_or(|(l, _)| *l != id) {
                let Some(item) = view.item(id)? else {
                    settled.push(id);
                    continue; // pruned since it was indexed
                };
                if !probe.near.takes_part(&item) || view.is_split(id, probe.feed)? {
                    // A member split off this story stays out of it.
                    settled.push(id);
                    continue;
                }
                loaded = Some((id, item));
            }
            let Some((_, item)) = loaded.as_ref() else {
                continue;
            };
            let candidate = probe.near.doc_of_member(item, member);
            // The outlet is a member already: a story keeps one copy per
            // outlet, so its new entry joins only as a re-post of that copy
            // (see `may_be_repost`). Joined otherwise, the entry's own
            // story would show nowhere: two entries side by side in one
            // document, or a roundup that carries the story and another.
            if let Some(own) = item
                .sources
                .iter()
                .find(|s| s.feed_url == probe.feed)
                .and_then(|s| s.copy.as_ref())
            {
                if !may_be_repost(&probe.doc, &probe.near.doc_of_copy(own)) {
                    settled.push(id);
                    continue;
                }
            }
            let verdict = same_story_in(&probe.doc, &candidate, probe.near.threshold, ix);
            if verdict.duplicate {
                // The copy must fit the whole story, not just the member
                // it resembles most.
                let facts = own_facts.get_or_insert_with(|| Facts::of(&probe.doc));
                if let Some((member, why)) = probe.near.misfit(facts, &candidate, item) {
                    found.misfits.push(Misfit {
                        story: id,
                        member,
                        why,
                    });
                    settled.push(id);
                    continue;
                }
                settled.push(id);
                match &joined {
                    None => {
                        found.story = Some((id, verdict.score));
                        // Settled now, so not needed as `loaded` again.
                        joined = loaded.take().map(|(_, item)| item);
                    }
                    Some(story) if found.folds.len() < MAX_FOLDS => {
                        let facts =
                            joined_facts.get_or_insert_with(|| probe.near.member_facts(story));
                        if probe.near.story_fits(story, facts, item) {
                            found.folds.push(id);
                        }
                    }
                    Some(_) => {}
                }
                continue;
            }
            // A member it resembles but contradicts keeps it out of the
            // story, whatever another member says; one it merely shares
            // too little with leaves the others to be tried.
            if let Some(why) = verdict.conflict.filter(|c| !c.starts_with(TOO_LITTLE)) {
                let member = item
                    .sources
                    .iter()
                    .find(|s| member_key(&s.feed_url) == member)
                    .map_or_else(String::new, |s| s.feed_url.clone());
                found.misfits.push(Misfit {
                    story: id,
                    member,
                    why,
                });
                settled.push(id);
            }
        }
        Ok(found)
    }

    /// Remembers a newly stored item in the index.
    pub fn insert(&mut self, probe: &Probe<'_>, id: ItemId) {
        let window = probe.near.window;
        let prune = {
            self.inserts += 1;
            self.inserts >= PRUNE_EVERY
        };
        if prune {
            self.inserts = 0;
        }
        if let Some(ix) = self.index.as_mut() {
            ix.count_word_keys(&probe.words);
            probe.index_into(ix, id);
            if prune {
                ix.prune_outside(window.num_seconds());
            }
        }
    }

    /// Story `from` was folded into `into`: its members are found under
    /// `into` from now on.
    pub fn fold(&mut self, from: ItemId, into: ItemId) {
        if let Some(ix) = self.index.as_mut() {
            ix.fold(from, into);
        }
    }

    /// Remembers the copy of a member that joined story `id`: later copies
    /// that repeat its wording find the story through it.
    pub fn join(&mut self, probe: &Probe<'_>, id: ItemId) {
        if let Some(ix) = self.index.as_mut() {
            probe.index_into(ix, id);
        }
    }
}
