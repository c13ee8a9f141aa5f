//! Near-duplicates in the store: the in-memory index of recent items'
//! anchors (see `neardup`), rebuilt from the items when the store first
//! needs it, and the merge of a new item into the story it repeats.
//!
//! The index is derived data and is not written to sled: the items and the
//! `by_time` tree already hold everything it needs, so rebuilding it costs
//! one range scan over the window, and it can never disagree with the items
//! after a crash.

use std::collections::HashSet;
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use super::{
    Store, StoreError, TxResult, as_id, join, joining_copy, load, push_key, save, time_key,
};
use crate::config::Config;
use crate::dedup::keys::ItemKeys;
use crate::dedup::near::{Doc, Index, Reader, same_story_in};
use crate::model::{Entry, Item, ItemId, Source};

/// Members of a story a new copy is checked against, at most.
const MAX_MEMBERS_CHECKED: usize = 16;

/// Inserts between two prunings of the index.
const PRUNE_EVERY: u32 = 4096;

/// How near-duplicates are found for one ingest: the config's choices.
#[derive(Debug, Clone)]
pub struct NearDup {
    pub reader: Reader,
    pub threshold: f64,
    pub window: chrono::Duration,
    /// Feeds whose items are neither merged nor merged into (`dedup = false`).
    pub opted_out: HashSet<String>,
}

impl NearDup {
    /// `None` when the config turns detection off.
    pub fn from_config(config: &Config) -> Option<NearDup> {
        let d = &config.dedup;
        if !d.near_duplicates {
            return None;
        }
        Some(NearDup {
            reader: Reader::new(d.boilerplate.iter().map(String::as_str)),
            threshold: d.threshold,
            window: chrono::Duration::from_std(d.window).unwrap_or(chrono::Duration::days(3)),
            opted_out: config
                .feeds
                .iter()
                .filter(|f| !f.dedup)
                .map(|f| f.key().to_string())
                .collect(),
        })
    }

    fn doc_of_item(&self, item: &Item) -> Doc {
        let body = item.content.as_deref().or(item.summary.as_deref());
        self.reader.doc(item.title.as_deref(), body)
    }

    /// The first member of `item` whose own copy `doc` contradicts, and
    /// why. At most `MAX_MEMBERS_CHECKED` members are read: a story carried
    /// by more outlets than that has shown what it is.
    pub(super) fn misfit(
        &self,
        doc: &Doc,
        shown: &Doc,
        item: &Item,
        corpus: &dyn crate::dedup::near::Corpus,
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
                crate::dedup::near::contradiction(doc, &member, corpus)
                    .map(|why| (s.feed_url.clone(), why))
            })
    }

    fn takes_part(&self, item: &Item) -> bool {
        item.sources
            .first()
            .is_none_or(|s| !self.opted_out.contains(&s.feed_url))
    }
}

/// The time a `by_time` key starts with.
fn time_of_key(k: &[u8]) -> Option<DateTime<Utc>> {
    let ms = u64::from_be_bytes(k.get(..8)?.try_into().ok()?) ^ (1u64 << 63);
    DateTime::from_timestamp_millis(ms as i64)
}

/// The index and how many inserts it has had since it was last pruned.
#[derive(Debug, Default)]
pub(super) struct NearState {
    index: Option<Index>,
    inserts: u32,
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

impl Store {
    fn near_state(&self) -> MutexGuard<'_, NearState> {
        // A panic while the lock was held leaves at worst an index missing
        // an item: still usable.
        self.near.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds the index from the items of the window, once.
    pub(super) fn ensure_near_index(
        &self,
        near: &NearDup,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Held while building: concurrent ingests wait for the one index
        // rather than each building their own.
        let mut state = self.near_state();
        if state.index.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut index = Index::default();
        // The window reaches back from the newest item stored (or from now,
        // if the newest claims a later date): items carry their own dates,
        // and a store of last year's items is still matched against itself.
        let newest = match self.by_time.last().map_err(|e| self.err(e))? {
            Some((k, _)) => time_of_key(&k).unwrap_or(now).min(now),
            None => now,
        };
        let from = time_key(newest - near.window, ItemId([0; 16]));
        for kv in self.by_time.range(from..) {
            let (k, _) = kv.map_err(|e| self.err(e))?;
            let Some(id) = k.get(8..24).and_then(as_id) else {
                continue;
            };
            let Some(v) = self.items.get(id.0).map_err(|e| self.err(e))? else {
                continue;
            };
            let Ok(item) = serde_json::from_slice::<Item>(&v) else {
                continue; // `store check` reports damaged items
            };
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
        state.index = Some(index);
        Ok(())
    }

    /// Fingerprints in the index (0 before it is built).
    pub fn near_index_len(&self) -> usize {
        self.near_state().index.as_ref().map_or(0, Index::len)
    }
}

/// What a new entry brings to the near-duplicate search.
pub(super) struct Probe<'a> {
    near: &'a NearDup,
    /// The feed the entry comes from.
    feed: &'a str,
    doc: Doc,
    probe: Vec<u64>,
    date: DateTime<Utc>,
}

impl<'a> Probe<'a> {
    pub(super) fn new(
        near: &'a NearDup,
        feed: &'a str,
        entry: &Entry,
        now: DateTime<Utc>,
    ) -> Probe<'a> {
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

impl super::Tx<'_> {
    /// The stored story the entry repeats, if any, and the resemblance.
    pub(super) fn near_match(&self, probe: &Probe<'_>) -> TxResult<Option<(ItemId, f64)>> {
        if probe.probe.is_empty() {
            return Ok(None);
        }
        // Held through the comparisons: the index is also the corpus the
        // decision tells names from common words by.
        let state = self.near_state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(ix) = &state.index else {
            return Ok(None);
        };
        let candidates = ix.candidates(&probe.probe, probe.date, probe.near.window.num_seconds());
        for id in candidates {
            let Some(v) = self.items.get(id.0)? else {
                continue; // pruned since it was indexed
            };
            let Ok(item) = serde_json::from_slice::<Item>(&v) else {
                continue;
            };
            if !probe.near.takes_part(&item) {
                continue;
            }
            // A member split off this story stays out of it.
            if self.is_split(id, probe.feed)? {
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
                && item.keys.iter().any(|k| self.listed.contains(k))
                && !crate::dedup::near::may_be_repost(&probe.doc, &candidate)
            {
                continue;
            }
            let verdict = same_story_in(&probe.doc, &candidate, probe.near.threshold, ix);
            if verdict.duplicate {
                // The copy must fit the whole story, not just the member
                // it resembles most.
                if let Some((member, why)) = probe.near.misfit(&probe.doc, &candidate, &item, ix) {
                    tracing::debug!(
                        feed = %crate::config::redact_str(probe.feed),
                        story = %id,
                        member = %crate::config::redact_str(&member),
                        conflict = %why,
                        "resembles a story but contradicts one of its members"
                    );
                    continue;
                }
                tracing::debug!(
                    feed = %crate::config::redact_str(probe.feed),
                    story = %id,
                    score = verdict.score,
                    "the same story as a stored item"
                );
                return Ok(Some((id, verdict.score)));
            }
        }
        Ok(None)
    }

    /// Remembers a newly stored item in the index.
    pub(super) fn near_insert(&self, probe: Probe<'_>, id: ItemId) {
        let mut state = self.near_state.lock().unwrap_or_else(|e| e.into_inner());
        let window = probe.near.window;
        let prune = {
            state.inserts += 1;
            state.inserts >= PRUNE_EVERY
        };
        if prune {
            state.inserts = 0;
        }
        if let Some(ix) = state.index.as_mut() {
            ix.count_words(&probe.doc);
            ix.insert(id, probe.date, probe.doc.anchors());
            if prune {
                ix.prune_outside(window.num_seconds());
            }
        }
    }

    /// Merges the entry into the stored story `id`: the outlet joins its
    /// members with its own copy, and the story shows the copy `shown`
    /// chooses.
    pub(super) fn merge_near(
        &self,
        id: ItemId,
        source: Source,
        entry: &Entry,
        k: &ItemKeys,
        score: f64,
        now: DateTime<Utc>,
    ) -> TxResult<()> {
        let mut item = load(self.items, id)?;
        let old_time = item.sort_time();
        join(
            &mut item,
            source,
            joining_copy(entry, k, "near", Some(score), now),
        );
        self.keys.insert(&k.local.0, &id.0)?;
        push_key(&mut item, &k.local);
        self.reshow(&mut item, old_time, Some(now))?;
        self.claim_shared_keys(&mut item, k)?;
        save(self.items, &item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::keys::keys_for;
    use crate::model::FeedState;
    use crate::store::shown::tests::feed;

    pub(super) const FULL: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال بتكلفة 120 مليون ريال \
        في حي النرجس شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
        مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
        على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

    /// A summary that gives no figure.
    pub(super) const SUMMARY: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال \
        في حي النرجس شمال المدينة.";

    fn near() -> NearDup {
        NearDup {
            reader: Reader::default(),
            threshold: crate::dedup::near::DEFAULT_THRESHOLD,
            window: chrono::Duration::days(3),
            opted_out: HashSet::new(),
        }
    }

    fn put(store: &Store, url: &str, guid: &str, body: &str) {
        let e = Entry {
            guid: Some(guid.into()),
            link: Some(format!("{url}/{guid}")),
            title: Some("مستشفى جديد للأطفال في الرياض".into()),
            content: Some(format!("<p>{body}</p>")),
            published: Some(Utc::now() - chrono::Duration::hours(1)),
            ..Entry::default()
        };
        let entries = std::slice::from_ref(&e);
        let keys = keys_for(url, None, entries);
        store
            .ingest_near(
                &feed(url),
                entries,
                &keys,
                &FeedState::default(),
                Utc::now(),
                Some(&near()),
            )
            .unwrap();
    }

    #[test]
    fn a_copy_that_fits_the_shown_member_but_contradicts_another_stays_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        // The summary's outlet is preferred, so the story shows the summary.
        store.set_priorities([("https://b.example/feed".to_string(), 5)]);
        put(&store, "https://a.example/feed", "a", FULL);
        put(&store, "https://b.example/feed", "b", SUMMARY);
        let story = store.newest(10, |_| true).unwrap();
        assert_eq!(story.len(), 1, "{story:#?}");
        assert_eq!(story[0].sources.len(), 2);
        // Like the summary, but with another cost than the full report: it
        // must not join through the summary.
        let other = format!(
            "{SUMMARY} وبلغت تكلفة المستشفى 200 مليون ريال موزعة على طوابقه، ويضم قسما للعلاج الطبيعي \
             ومختبرات حديثة وصيدلية تعمل على مدار الساعة، إلى جانب عيادات خارجية تستقبل \
             المراجعين من الأحياء المجاورة وقاعات لتدريب الأطباء المقيمين والممرضين الجدد."
        );
        put(&store, "https://c.example/feed", "c", &other);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 2, "{items:#?}");
        // A copy that fits every member joins.
        put(&store, "https://d.example/feed", "d", FULL);
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 2, "{items:#?}");
    }
}
