//! The duplicate decision as it is made while an item is stored: what it
//! reads (the key index, whether a story is still stored, whether a member
//! was split off it) and what it claims (the item's cross-feed keys).
//!
//! The store runs it inside the transaction that writes the item, through
//! [`StoryView`], so two feeds bringing the same story at once still store
//! it once: the reads and the writes they lead to are one atomic step. The
//! store decides nothing itself; it only says what it holds.

use super::keys::{Decision, ItemKeys, Key, decide};
use crate::model::{Item, ItemId};

/// What the decision needs from the store, read (and, for keys, written)
/// within one transaction.
pub trait StoryView {
    type Error;

    /// The stored item the key belongs to, if any.
    fn owner(&self, key: &Key) -> Result<Option<ItemId>, Self::Error>;

    /// Points `key` at the item `id`.
    fn claim(&self, key: &Key, id: ItemId) -> Result<(), Self::Error>;

    /// Whether the item `id` is still stored: retention prunes an item but
    /// leaves its keys behind.
    fn is_stored(&self, id: ItemId) -> Result<bool, Self::Error>;

    /// Whether the member of `feed_url` was split off the story `id`: it
    /// stays out of it, whatever key it brings next.
    fn is_split(&self, id: ItemId, feed_url: &str) -> Result<bool, Self::Error>;

    /// The stored item `id`; `None` when it is gone or cannot be read (the
    /// store's own check reports damaged items).
    fn item(&self, id: ItemId) -> Result<Option<Item>, Self::Error>;
}

/// What to do with an entry of `feed_url` with the keys `keys`, given what
/// the store holds: `decide`, then a story retention pruned is
/// [`Decision::Pruned`], and a story the feed's member was split off is
/// [`Decision::New`] for it.
pub fn decide_in<V: StoryView>(
    view: &V,
    keys: &ItemKeys,
    feed_url: &str,
) -> Result<Decision, V::Error> {
    let decision = decide(keys, |key| view.owner(key))?;
    match decision {
        Decision::Known(id) | Decision::SameStory(id, _) if !view.is_stored(id)? => {
            Ok(Decision::Pruned(id))
        }
        Decision::SameStory(id, _) if view.is_split(id, feed_url)? => Ok(Decision::New),
        other => Ok(other),
    }
}

/// Points the item `id`'s cross-feed keys at it, where no other item has
/// them (a key already taken belongs to another story). Returns the keys
/// claimed, strongest first, for the item to list.
pub fn claim_shared<V: StoryView>(
    view: &V,
    keys: &ItemKeys,
    id: ItemId,
) -> Result<Vec<Key>, V::Error> {
    let mut claimed = Vec::new();
    for key in keys.shared() {
        if view.owner(key)?.is_none() {
            view.claim(key, id)?;
            claimed.push(*key);
        }
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::dedup::keys::{KeyKind, keys_for};
    use crate::model::Entry;

    /// A store in memory, as the decision sees one.
    #[derive(Default)]
    struct Held {
        keys: RefCell<HashMap<Key, ItemId>>,
        stored: HashSet<ItemId>,
        splits: HashSet<(ItemId, String)>,
    }

    impl StoryView for Held {
        type Error = ();
        fn owner(&self, key: &Key) -> Result<Option<ItemId>, ()> {
            Ok(self.keys.borrow().get(key).copied())
        }
        fn claim(&self, key: &Key, id: ItemId) -> Result<(), ()> {
            self.keys.borrow_mut().insert(*key, id);
            Ok(())
        }
        fn is_stored(&self, id: ItemId) -> Result<bool, ()> {
            Ok(self.stored.contains(&id))
        }
        fn is_split(&self, id: ItemId, feed_url: &str) -> Result<bool, ()> {
            Ok(self.splits.contains(&(id, feed_url.to_string())))
        }
        fn item(&self, _id: ItemId) -> Result<Option<Item>, ()> {
            Ok(None)
        }
    }

    const FEED: &str = "https://b.example/f";

    fn keys() -> ItemKeys {
        let e = Entry {
            guid: Some("1".into()),
            link: Some("https://s.example/n/1".into()),
            title: Some("خبر".into()),
            content: Some("<p>نص طويل بما يكفي ليكون بصمة مميزة لهذا الخبر وحده</p>".into()),
            ..Entry::default()
        };
        keys_for(FEED, None, &[e]).remove(0)
    }

    #[test]
    fn a_pruned_or_split_story_is_not_merged_into() {
        let k = keys();
        let story = ItemId([7; 16]);
        let mut held = Held::default();
        held.keys.borrow_mut().insert(k.link.unwrap(), story);
        // The story is gone: the entry is remembered, not stored again.
        assert_eq!(decide_in(&held, &k, FEED), Ok(Decision::Pruned(story)));
        held.stored.insert(story);
        assert_eq!(
            decide_in(&held, &k, FEED),
            Ok(Decision::SameStory(story, KeyKind::Link))
        );
        held.splits.insert((story, FEED.to_string()));
        assert_eq!(decide_in(&held, &k, FEED), Ok(Decision::New));
        assert_eq!(
            decide_in(&held, &k, "https://c.example/f"),
            Ok(Decision::SameStory(story, KeyKind::Link))
        );
    }

    #[test]
    fn only_free_shared_keys_are_claimed() {
        let k = keys();
        let (mine, other) = (ItemId([1; 16]), ItemId([2; 16]));
        let held = Held::default();
        held.keys.borrow_mut().insert(k.link.unwrap(), other);
        let claimed = claim_shared(&held, &k, mine).unwrap();
        assert_eq!(claimed, vec![k.text.unwrap()]);
        assert_eq!(held.owner(&k.link.unwrap()), Ok(Some(other)));
        assert_eq!(held.owner(&k.text.unwrap()), Ok(Some(mine)));
        assert_eq!(
            held.owner(&k.local),
            Ok(None),
            "the local key is not shared"
        );
    }
}
