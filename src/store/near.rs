//! Near-duplicates in the store: the in-memory index (`dedup::near`'s
//! `NearState`) rebuilt from the stored items when an ingest first needs
//! it, the search run inside the ingest transaction, and the merge of a new
//! item into the story it repeats.
//!
//! The index is derived data and is not written to sled: the items and the
//! `by_time` tree already hold everything it needs, so rebuilding it costs
//! one range scan over the window, and it can never disagree with the items
//! after a crash.

use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use super::{
    Store, StoreError, TxResult, as_id, join, joining_copy, load, push_key, save, time_key,
};
use crate::dedup::keys::ItemKeys;
use crate::dedup::near::{NearDup, NearState, Probe};
use crate::model::{Entry, Item, ItemId, Source};

/// The time a `by_time` key starts with.
fn time_of_key(k: &[u8]) -> Option<DateTime<Utc>> {
    let ms = u64::from_be_bytes(k.get(..8)?.try_into().ok()?) ^ (1u64 << 63);
    DateTime::from_timestamp_millis(ms as i64)
}

/// Takes the index's lock. A panic while it was held leaves at worst an
/// index missing an item: still usable.
fn locked(state: &std::sync::Mutex<NearState>) -> MutexGuard<'_, NearState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// Builds the index from the items of the window, once.
    pub(super) fn ensure_near_index(
        &self,
        near: &NearDup,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Held while building: concurrent ingests wait for the one index
        // rather than each building their own.
        let mut state = locked(&self.near);
        if state.is_built() {
            return Ok(());
        }
        // The window reaches back from the newest item stored (or from now,
        // if the newest claims a later date): items carry their own dates,
        // and a store of last year's items is still matched against itself.
        let newest = match self.by_time.last().map_err(|e| self.err(e))? {
            Some((k, _)) => time_of_key(&k).unwrap_or(now).min(now),
            None => now,
        };
        let from = time_key(newest - near.window, ItemId([0; 16]));
        let items = self.by_time.range(from..).filter_map(|kv| {
            let (k, _) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Err(self.err(e))),
            };
            let id = k.get(8..24).and_then(as_id)?;
            let v = match self.items.get(id.0) {
                Ok(v) => v?,
                Err(e) => return Some(Err(self.err(e))),
            };
            // `store check` reports damaged items.
            let item = serde_json::from_slice::<Item>(&v).ok()?;
            Some(Ok((id, item)))
        });
        state.rebuild(near, items)
    }

    /// Fingerprints in the index (0 before it is built).
    pub fn near_index_len(&self) -> usize {
        locked(&self.near).len()
    }
}

impl super::Tx<'_> {
    /// The stored story the entry repeats, if any, and the resemblance.
    pub(super) fn near_match(&self, probe: &Probe<'_>) -> TxResult<Option<(ItemId, f64)>> {
        // Held through the comparisons: the index is also the corpus the
        // decision reads.
        let state = locked(self.near_state);
        let found = state.find(probe, self, self.listed)?;
        let feed = probe.feed();
        for m in &found.misfits {
            tracing::debug!(
                feed = %crate::config::redact_str(feed),
                story = %m.story,
                member = %crate::config::redact_str(&m.member),
                conflict = %m.why,
                "resembles a story but contradicts one of its members"
            );
        }
        if let Some((id, score)) = found.story {
            tracing::debug!(
                feed = %crate::config::redact_str(feed),
                story = %id,
                score,
                "the same story as a stored item"
            );
        }
        Ok(found.story)
    }

    /// Remembers a newly stored item in the index.
    pub(super) fn near_insert(&self, probe: Probe<'_>, id: ItemId) {
        locked(self.near_state).insert(probe, id);
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
    use std::collections::HashSet;

    use super::*;
    use crate::dedup::keys::keys_for;
    use crate::dedup::near::Reader;
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
