//! `rafid dedup split`: a member taken out of a story for good.
//!
//! The member becomes an item of its own (its copy, its local key, the
//! cross-feed keys only it gave), and a record in the `splits` tree keeps
//! it out of that story from then on: an identity key it brings later does
//! not merge it back, and near-duplicate detection skips the story for it.
//! Everything happens in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{SledStore, StoreError, TxResult, feed_digest, feed_time_key, load, save, time_key};
use crate::dedup::keys::{Key, copy_keys, local_key_candidates};
use crate::model::{Item, ItemId, hex, unhex};

/// A member split off a story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The story it was taken out of.
    pub story: ItemId,
    /// The member's feed, as configured.
    pub feed_url: String,
    /// The item it became.
    pub item: ItemId,
    pub at: DateTime<Utc>,
}

/// The record's key in `splits`.
pub(crate) fn split_key(story: ItemId, feed_url: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&story.0);
    k[16..].copy_from_slice(&feed_digest(feed_url));
    k
}

/// Why a split was refused.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("no stored item {0}")]
    NoItem(String),
    #[error(
        "item {item} has no member {member}; its members are: {members} (give a feed URL or a member's link)"
    )]
    NoMember {
        item: ItemId,
        member: String,
        members: String,
    },
    #[error("item {0} has a single member: there is nothing to split")]
    Single(ItemId),
    #[error(
        "the member {member} of item {item} was merged before rafid kept each outlet's copy, so its own text is not stored; it is kept once its feed lists the item again, then split it"
    )]
    NoCopy { item: ItemId, member: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The member's local key (hex): the one its copy recorded, else the one
/// its GUID or link gives, else the only local key of a single-member
/// item; only a key the item holds.
pub(crate) fn member_local_key(item: &Item, m: usize) -> Option<String> {
    let s = item.sources.get(m)?;
    if let Some(k) = s.copy.as_ref().and_then(|c| c.local_key.clone()) {
        return Some(k);
    }
    let link = s
        .item_link
        .as_deref()
        .or_else(|| s.copy.as_ref().and_then(|c| c.link.as_deref()));
    let held = |k: &Key| item.keys.contains(&hex(&k.0));
    if let Some(k) = local_key_candidates(&s.feed_url, s.guid.as_deref(), link)
        .iter()
        .find(|k| held(k))
    {
        return Some(hex(&k.0));
    }
    let locals: Vec<&String> = item
        .keys
        .iter()
        .filter(|k| k.starts_with(&hex(b"L")))
        .collect();
    match (item.sources.len(), locals.as_slice()) {
        (1, [only]) => Some((*only).clone()),
        _ => None,
    }
}

/// Which member `spec` names: its feed URL as configured (compared as
/// given, then as a parsed URL), or its own link.
fn find_member(item: &Item, spec: &str) -> Option<usize> {
    let parsed = url::Url::parse(spec).ok().map(|u| u.to_string());
    let canon = crate::text::normalize::canonical_link(spec);
    let by_feed = item
        .sources
        .iter()
        .position(|s| s.feed_url == spec || parsed.as_deref() == Some(s.feed_url.as_str()));
    by_feed.or_else(|| {
        item.sources.iter().position(|s| {
            let own = [
                s.item_link.as_deref(),
                s.copy.as_ref().and_then(|c| c.link.as_deref()),
            ];
            own.iter().flatten().any(|l| {
                *l == spec
                    || (canon.is_some() && crate::text::normalize::canonical_link(l) == canon)
            })
        })
    })
}

impl SledStore {
    fn retype_error(
        &self,
    ) -> impl Fn(ConflictableTransactionError<String>) -> ConflictableTransactionError<SplitError> + '_
    {
        move |e| match e {
            ConflictableTransactionError::Abort(d) => {
                ConflictableTransactionError::Abort(SplitError::Store(self.corrupt("items", d)))
            }
            ConflictableTransactionError::Storage(e) => ConflictableTransactionError::Storage(e),
            ConflictableTransactionError::Conflict => ConflictableTransactionError::Conflict,
        }
    }
}

impl super::Tx<'_> {
    /// Whether the member of `feed_url` was split off the story `id`.
    pub(super) fn is_split(&self, id: ItemId, feed_url: &str) -> TxResult<bool> {
        Ok(self.splits.get(split_key(id, feed_url))?.is_some())
    }
}

impl SledStore {
    /// Takes the member `member` (its feed URL or its link) out of the
    /// story `story` for good; returns the item it became.
    pub fn split(
        &self,
        story: ItemId,
        member: &str,
        now: DateTime<Utc>,
    ) -> Result<ItemId, SplitError> {
        let priorities = self.priorities();
        let retype = self.retype_error();
        let trees = (
            &self.items,
            &self.keys,
            &self.by_time,
            &self.by_feed,
            &self.splits,
        );
        let result = trees.transaction(|(items, keys, by_time, by_feed, splits)| {
            let refuse = |e: SplitError| ConflictableTransactionError::Abort(e);
            let Some(_) = items.get(story.0)? else {
                return Err(refuse(SplitError::NoItem(story.to_string())));
            };
            let mut item = load(items, story).map_err(&retype)?;
            let Some(m) = find_member(&item, member) else {
                let members = item
                    .sources
                    .iter()
                    .map(|s| s.feed_url.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(refuse(SplitError::NoMember {
                    item: story,
                    member: member.to_string(),
                    members,
                }));
            };
            if item.sources.len() < 2 {
                return Err(refuse(SplitError::Single(story)));
            }
            let feed_url = item.sources[m].feed_url.clone();
            let Some(copy) = item.sources[m].copy.clone() else {
                return Err(refuse(SplitError::NoCopy {
                    item: story,
                    member: feed_url,
                }));
            };
            let local = member_local_key(&item, m);
            let old_time = item.sort_time();
            let mut gone = item.sources.remove(m);
            by_feed.remove(&feed_time_key(&feed_url, old_time, story)[..])?;

            // Its own id: derived from the story and the member, never the
            // story's own (which came from the first member's local key).
            let seed = local.clone().unwrap_or_else(|| feed_url.clone());
            let id = ItemId(crate::text::normalize::digest(&[
                b"split",
                &story.0,
                seed.as_bytes(),
            ]));
            gone.copy = Some(crate::model::OutletCopy {
                local_key: local.clone(),
                ..copy.clone()
            });
            let first_seen = copy.joined.as_ref().map_or(item.first_seen, |j| j.at);
            let mut own = Item::of_copy(id, first_seen, gone);

            // Its keys: its local key, and the cross-feed keys its copy gives
            // that no remaining member's copy gives too.
            let body = copy.content.as_deref().or(copy.summary.as_deref());
            let remaining: Vec<Key> = item
                .sources
                .iter()
                .filter_map(|s| s.copy.as_ref())
                .flat_map(|c| {
                    copy_keys(
                        c.link.as_deref(),
                        c.title.as_deref(),
                        c.content.as_deref().or(c.summary.as_deref()),
                    )
                })
                .collect();
            let mut moving: Vec<String> =
                copy_keys(copy.link.as_deref(), copy.title.as_deref(), body)
                    .into_iter()
                    .filter(|k| !remaining.contains(k))
                    .map(|k| hex(&k.0))
                    .collect();
            moving.extend(local);
            for key in moving {
                if !item.keys.contains(&key) {
                    continue;
                }
                let Some(bytes) = unhex(&key) else { continue };
                item.keys.retain(|k| *k != key);
                super::keyset::insert(&self.key_set, keys, &bytes, id)?;
                own.keys.push(key);
            }

            self.caps.show(&mut item, &priorities, Some(now));
            let new_time = item.sort_time();
            if new_time != old_time {
                by_time.remove(&time_key(old_time, story)[..])?;
                by_time.insert(&time_key(new_time, story)[..], &[][..])?;
                for s in &item.sources {
                    by_feed.remove(&feed_time_key(&s.feed_url, old_time, story)[..])?;
                    by_feed.insert(&feed_time_key(&s.feed_url, new_time, story)[..], &[][..])?;
                }
            }
            save(items, &item).map_err(&retype)?;

            by_time.insert(&time_key(own.sort_time(), id)[..], &[][..])?;
            by_feed.insert(&feed_time_key(&feed_url, own.sort_time(), id)[..], &[][..])?;
            save(items, &own).map_err(&retype)?;
            self.caps.note(&feed_url);

            let record = Split {
                story,
                feed_url: feed_url.clone(),
                item: id,
                at: now,
            };
            let v = serde_json::to_vec(&record)
                .map_err(|e| refuse(SplitError::Store(self.corrupt("splits", e.to_string()))))?;
            splits.insert(&split_key(story, &feed_url)[..], v)?;
            Ok(id)
        });
        let id = match result {
            Ok(id) => id,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(self.err(e).into()),
        };
        self.count_items(1);
        self.flush()?;
        Ok(id)
    }

    /// Every split record, in key order, with its key.
    pub fn split_records(&self) -> Result<Vec<(Vec<u8>, Split)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.splits.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let split: Split = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("splits", format!("{}: {e}", hex(&k))))?;
            out.push((k.to_vec(), split));
        }
        Ok(out)
    }

    /// The split records of the story `story`.
    pub fn splits_of(&self, story: ItemId) -> Result<Vec<Split>, StoreError> {
        let mut out = Vec::new();
        for kv in self.splits.scan_prefix(story.0) {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let split: Split = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("splits", format!("{}: {e}", hex(&k))))?;
            out.push(split);
        }
        Ok(out)
    }

    /// Restores a split record (for `import`).
    pub(super) fn put_split(&self, split: &Split) -> Result<(), StoreError> {
        let v = serde_json::to_vec(split).map_err(|e| self.corrupt("splits", e.to_string()))?;
        self.splits
            .insert(&split_key(split.story, &split.feed_url)[..], v)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The stored item `spec` names: its id in hex (as exports write it),
    /// its `urn:uuid:` (as the outputs publish it), or a member's link.
    pub fn find_item(&self, spec: &str) -> Result<Option<ItemId>, StoreError> {
        let spec = spec.trim();
        // An id the store holds an item under, or the id an item publishes
        // (`Item::uid`): the digest of its local key, which leads to it.
        let present = |id: ItemId| -> Result<Option<ItemId>, StoreError> {
            if self.items.contains_key(id.0).map_err(|e| self.err(e))? {
                return Ok(Some(id));
            }
            let Some(v) = self.keys.get(Key::local(id.0).0).map_err(|e| self.err(e))? else {
                return Ok(None);
            };
            match super::as_id(&v) {
                Some(stored) if self.items.contains_key(stored.0).map_err(|e| self.err(e))? => {
                    Ok(Some(stored))
                }
                _ => Ok(None),
            }
        };
        if let Some(id) = ItemId::from_hex(&spec.to_ascii_lowercase()) {
            if let Some(id) = present(id)? {
                return Ok(Some(id));
            }
        }
        if let Some(uuid) = spec.strip_prefix("urn:uuid:") {
            // The urn overwrites the version and variant bits: try what
            // they may have been.
            let Some(mut id) = ItemId::from_hex(&uuid.replace('-', "").to_ascii_lowercase()) else {
                return Ok(None);
            };
            let (b6, b8) = (id.0[6] & 0x0f, id.0[8] & 0x3f);
            for hi in 0..16u8 {
                for top in 0..4u8 {
                    id.0[6] = (hi << 4) | b6;
                    id.0[8] = (top << 6) | b8;
                    if let Some(id) = present(id)? {
                        return Ok(Some(id));
                    }
                }
            }
            return Ok(None);
        }
        // A link: through its link key, else by looking at every member.
        for key in copy_keys(Some(spec), None, None) {
            if let Some(v) = self.keys.get(key.0).map_err(|e| self.err(e))? {
                if let Some(id) = super::as_id(&v) {
                    if let Some(id) = present(id)? {
                        return Ok(Some(id));
                    }
                }
            }
        }
        let canon = crate::text::normalize::canonical_link(spec);
        for kv in self.items.iter() {
            let (_, v) = kv.map_err(|e| self.err(e))?;
            let Ok(item) = super::codec::decode_item(&v) else {
                continue;
            };
            if item.link.as_deref() == Some(spec) || find_member(&item, spec).is_some() {
                return Ok(Some(item.id));
            }
            if canon.is_some()
                && item
                    .link
                    .as_deref()
                    .is_some_and(|l| crate::text::normalize::canonical_link(l) == canon)
            {
                return Ok(Some(item.id));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;
    use crate::store::shown::tests::{ingest_near, only_item, put, story};

    const X: &str = "https://x.example/feed";
    const LEGIT: &str = "https://legit.example/feed";

    fn x_copy(guid: &str) -> Entry {
        story(
            guid,
            "https://legit.example/story/1?utm_source=x",
            "خبر آخر نشره الناقل تحت الرابط نفسه",
            "نص مختلف تماما عن خبر آخر لا علاقة له بالأصل",
            1,
        )
    }

    fn legit_copy() -> Entry {
        story(
            "legit-1",
            "https://legit.example/story/1",
            "العنوان الأصلي كما كتبه المحرر",
            "النص الأصلي كما نشره الموقع صاحب الخبر",
            2,
        )
    }

    fn stories(store: &SledStore) -> Vec<Item> {
        store.newest(10, |_| true).unwrap()
    }

    fn story_of(store: &SledStore, feed_url: &str) -> Item {
        stories(store)
            .into_iter()
            .find(|i| i.sources.iter().any(|s| s.feed_url == feed_url))
            .unwrap()
    }

    #[test]
    fn a_split_member_stays_apart_across_polls_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let legit_id = {
            let store = SledStore::open(dir.path(), "test").unwrap();
            put(&store, LEGIT, &legit_copy());
            assert_eq!(put(&store, X, &x_copy("x-1")).merged, 1);
            let merged = only_item(&store);
            assert_eq!(merged.sources.len(), 2);

            let id = store.find_item("https://legit.example/story/1").unwrap();
            assert_eq!(id, Some(merged.id));
            assert_eq!(store.find_item(&merged.id.urn()).unwrap(), Some(merged.id));
            let own = store.split(merged.id, X, Utc::now()).unwrap();
            assert_ne!(own, merged.id);

            let after = stories(&store);
            assert_eq!(after.len(), 2);
            let story = store.item(merged.id).unwrap().unwrap();
            assert_eq!(story.sources.len(), 1);
            assert_eq!(story.title, legit_copy().title);
            let x = store.item(own).unwrap().unwrap();
            assert_eq!(x.title, x_copy("x-1").title);
            assert_eq!(x.sources[0].feed_url, X);
            assert_eq!(store.item_count(), 2);
            assert_eq!(store.check().unwrap(), Vec::<String>::new());

            // Polled again: the same document, then the story under a new
            // identity that carries the story's link.
            assert_eq!(put(&store, X, &x_copy("x-1")).unchanged, 1);
            assert_eq!(put(&store, X, &x_copy("x-2")).merged, 0);
            assert_eq!(store.item(merged.id).unwrap().unwrap().sources.len(), 1);
            merged.id
        };
        // After a restart too.
        let store = SledStore::open(dir.path(), "test").unwrap();
        let mut edited = x_copy("x-1");
        edited.title = Some("عنوان الناقل بعد التعديل".into());
        put(&store, X, &edited);
        put(&store, X, &x_copy("x-3"));
        let story = store.item(legit_id).unwrap().unwrap();
        assert_eq!(story.sources.len(), 1, "{story:#?}");
        assert_eq!(story.title, legit_copy().title);
        assert_eq!(store.splits_of(legit_id).unwrap().len(), 1);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());

        // Export and import carry the record.
        let mut out = Vec::new();
        store.export(&mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("\"kind\":\"split\""));
        let other = tempfile::tempdir().unwrap();
        let copy = SledStore::open(other.path(), "test").unwrap();
        copy.import(&out[..]).unwrap();
        assert_eq!(copy.splits_of(legit_id).unwrap().len(), 1);
        put(&copy, X, &x_copy("x-4"));
        assert_eq!(copy.item(legit_id).unwrap().unwrap().sources.len(), 1);
        assert_eq!(copy.check().unwrap(), Vec::<String>::new());
    }

    const BODY: &str = "أعلن مركز الملك سلمان للإغاثة والأعمال الإنسانية اليوم وصول الطائرة \
        السادسة إلى مطار عدن الدولي محملة بأحد عشر طنا من المواد الغذائية والطبية، ضمن \
        الجسر الجوي الذي أقامه المركز لإغاثة المتضررين في المحافظات اليمنية، وأوضح المركز \
        أن الشحنة ستوزع على المستشفيات والمراكز الصحية في عدن ولحج وأبين خلال الأيام المقبلة";

    fn near_copy(guid: &str, link: &str, title: &str, extra: &str) -> Entry {
        story(guid, link, title, &format!("{BODY} {extra}"), 3)
    }

    fn put_near(store: &SledStore, url: &str, e: &Entry) -> crate::store::IngestStats {
        ingest_near(store, url, std::slice::from_ref(e))
    }

    #[test]
    fn a_near_duplicate_split_off_is_not_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        let a = "https://a.example/feed";
        let b = "https://b.example/feed";
        put_near(
            &store,
            a,
            &near_copy(
                "a1",
                "https://a.example/n/1",
                "وصول الطائرة السادسة إلى عدن",
                "",
            ),
        );
        let stats = put_near(
            &store,
            b,
            &near_copy(
                "b1",
                "https://b.example/n/7",
                "الطائرة السادسة تصل عدن",
                "(واس)",
            ),
        );
        assert_eq!(stats.near_duplicates, 1, "the test needs a near-duplicate");
        let story = story_of(&store, a);
        let joined = story.sources[1]
            .copy
            .as_ref()
            .unwrap()
            .joined
            .clone()
            .unwrap();
        assert_eq!(joined.by, "near");
        assert!(joined.score.is_some());
        let explained = crate::store::explain::explain(
            &story,
            Vec::new(),
            &crate::config::DedupConfig::default(),
            &Default::default(),
        );
        let b_member = &explained.members[1];
        assert_eq!(b_member.joined_by, "near");
        let recheck = b_member
            .against_shown
            .as_ref()
            .expect("checked against the shown copy");
        assert!(recheck.duplicate, "{recheck:?}");
        assert!(recheck.shared_words >= 30, "{recheck:?}");
        let text = explained.text();
        assert!(text.contains("joined: near-duplicate, score "), "{text}");
        assert!(text.contains("shared text ("), "{text}");

        store
            .split(story.id, "https://b.example/n/7", Utc::now())
            .unwrap();
        assert_eq!(store.item(story.id).unwrap().unwrap().sources.len(), 1);
        // The outlet sends it again under a new identity and link: near
        // detection would find the story, but the split keeps it out.
        let again = put_near(
            &store,
            b,
            &near_copy(
                "b2",
                "https://b.example/n/8",
                "الطائرة السادسة تصل عدن",
                "(واس) تحديث",
            ),
        );
        assert_eq!(again.near_duplicates, 0, "{again:?}");
        assert_eq!(store.item(story.id).unwrap().unwrap().sources.len(), 1);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_split_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        put(&store, LEGIT, &legit_copy());
        let id = only_item(&store).id;
        let single = store.split(id, LEGIT, Utc::now()).unwrap_err();
        assert!(single.to_string().contains("single member"), "{single}");
        put(&store, X, &x_copy("x-1"));
        let nobody = store
            .split(id, "https://nobody.example/f", Utc::now())
            .unwrap_err();
        let msg = nobody.to_string();
        assert!(msg.contains(X) && msg.contains(LEGIT), "{msg}");
    }
}
