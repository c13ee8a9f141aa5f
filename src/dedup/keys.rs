//! Deduplication, first level: the identity keys of an item and the
//! decision whether it is known, the same story as a stored item, or new.
//!
//! Three keys per item:
//! - **local**: the item's identity within its feed: its GUID, else its
//!   canonical link, else its normalized text. Never used across feeds: sites
//!   reuse bare GUIDs ("1", "2", …).
//! - **link**: its canonical link (see `normalize::canonical_link`), unless
//!   the link is a front page or is shared by several different items of the
//!   same document, in which case it identifies nothing.
//! - **text**: a hash of its normalized title and body, when there is enough
//!   text for two unrelated items never to share it.
//!
//! The store looks the keys up inside the transaction that writes the item
//! (see `decide`), so two feeds bringing the same story at once still store
//! it once.

use std::collections::HashMap;

use crate::model::{Entry, ItemId, hex};
use crate::text::normalize::{
    MIN_CONTENT_KEY_CHARS, canonical_link, digest, is_front_page, matching_text,
};

/// What a key identifies, as its first byte in the store's key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Local = b'L' as isize,
    Link = b'K' as isize,
    Text = b'T' as isize,
}

/// One identity key: kind byte + 16 hash bytes, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key(pub [u8; 17]);

impl Key {
    fn new(kind: KeyKind, hash: [u8; 16]) -> Key {
        let mut k = [0u8; 17];
        k[0] = kind as u8;
        k[1..].copy_from_slice(&hash);
        Key(k)
    }

    /// The local key whose digest is `hash`: the key an item's published
    /// id (`Item::uid`) came from.
    pub fn local(hash: [u8; 16]) -> Key {
        Key::new(KeyKind::Local, hash)
    }

    pub fn kind(&self) -> Option<KeyKind> {
        match self.0[0] {
            b'L' => Some(KeyKind::Local),
            b'K' => Some(KeyKind::Link),
            b'T' => Some(KeyKind::Text),
            _ => None,
        }
    }
}

/// The keys of one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemKeys {
    pub local: Key,
    pub link: Option<Key>,
    pub text: Option<Key>,
    /// Hash of what the source said (title, content, summary): a new value
    /// under the same local key is an edit.
    pub revision: String,
}

impl ItemKeys {
    /// The id a new item gets: its local key's hash, so it is the same on
    /// every poll and every machine, and never depends on where rafid runs.
    pub fn new_id(&self) -> ItemId {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.local.0[1..]);
        ItemId(id)
    }

    /// The keys that identify the item across feeds, strongest first.
    pub fn shared(&self) -> impl Iterator<Item = &Key> {
        self.link.iter().chain(self.text.iter())
    }
}

/// Computes the keys of every entry of one document of the feed `feed_url`
/// (its configured URL). `site_url` is the feed's web site: a link to it
/// identifies no item.
pub fn keys_for(feed_url: &str, site_url: Option<&str>, entries: &[Entry]) -> Vec<ItemKeys> {
    let canon: Vec<Option<String>> = entries
        .iter()
        .map(|e| e.link.as_deref().and_then(canonical_link))
        .collect();
    let site = site_url.and_then(canonical_link);

    // A link that several different items share (a front page, a section
    // page) identifies none of them.
    let mut users: HashMap<&str, Vec<&str>> = HashMap::new();
    for (e, c) in entries.iter().zip(&canon) {
        if let Some(c) = c {
            let who = e.guid.as_deref().or(e.title.as_deref()).unwrap_or_default();
            let list = users.entry(c.as_str()).or_default();
            if !list.contains(&who) {
                list.push(who);
            }
        }
    }
    let identifying = |c: &str| {
        users.get(c).is_none_or(|u| u.len() <= 1) && !is_front_page(c) && site.as_deref() != Some(c)
    };

    entries
        .iter()
        .zip(&canon)
        .map(|(e, c)| {
            let link = c.as_deref().filter(|c| identifying(c));
            let body = e.content.as_deref().or(e.summary.as_deref());
            let text = matching_text(e.title.as_deref(), body);
            let local = if let Some(guid) = &e.guid {
                digest(&[b"guid", feed_url.as_bytes(), guid.as_bytes()])
            } else if let Some(link) = link {
                digest(&[b"link", feed_url.as_bytes(), link.as_bytes()])
            } else {
                digest(&[b"text", feed_url.as_bytes(), text.as_bytes()])
            };
            let text_key = (text.chars().count() >= MIN_CONTENT_KEY_CHARS)
                .then(|| Key::new(KeyKind::Text, digest(&[b"text", text.as_bytes()])));
            let revision = digest(&[
                e.title.as_deref().unwrap_or("").as_bytes(),
                e.content.as_deref().unwrap_or("").as_bytes(),
                e.summary.as_deref().unwrap_or("").as_bytes(),
            ]);
            ItemKeys {
                local: Key::new(KeyKind::Local, local),
                link: link.map(|l| Key::new(KeyKind::Link, digest(&[b"link", l.as_bytes()]))),
                text: text_key,
                revision: hex(&revision),
            }
        })
        .collect()
}

/// The cross-feed keys an outlet's copy of a story gives (see `keys_for`),
/// from its own link and text: which of a story's keys go with a member
/// that is split off. Unlike `keys_for` it cannot see the rest of the
/// document, so it may give a link key that `keys_for` withheld; callers
/// only use it among the keys the story holds.
pub fn copy_keys(link: Option<&str>, title: Option<&str>, body: Option<&str>) -> Vec<Key> {
    let mut out = Vec::new();
    if let Some(c) = link.and_then(canonical_link).filter(|c| !is_front_page(c)) {
        out.push(Key::new(KeyKind::Link, digest(&[b"link", c.as_bytes()])));
    }
    let text = matching_text(title, body);
    if text.chars().count() >= MIN_CONTENT_KEY_CHARS {
        out.push(Key::new(KeyKind::Text, digest(&[b"text", text.as_bytes()])));
    }
    out
}

/// The local key an outlet's item had, from its GUID or its link (see
/// `keys_for`): the candidates, strongest first.
pub fn local_key_candidates(feed_url: &str, guid: Option<&str>, link: Option<&str>) -> Vec<Key> {
    let mut out = Vec::new();
    if let Some(guid) = guid {
        out.push(Key::new(
            KeyKind::Local,
            digest(&[b"guid", feed_url.as_bytes(), guid.as_bytes()]),
        ));
    }
    if let Some(c) = link.and_then(canonical_link) {
        out.push(Key::new(
            KeyKind::Local,
            digest(&[b"link", feed_url.as_bytes(), c.as_bytes()]),
        ));
    }
    out
}

/// What to do with an incoming entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// This feed already brought it: update in place if its revision changed.
    Known(ItemId),
    /// Another item (from another feed, or this feed under another GUID) is
    /// the same story: merge into it.
    SameStory(ItemId, KeyKind),
    /// A key led to a story retention pruned, which the feed still lists:
    /// remembered as seen, not stored again. Only `decide::decide_in`, which
    /// can ask the store, says this.
    Pruned(ItemId),
    New,
}

/// Decides with `lookup` answering which stored item a key belongs to.
pub fn decide<E>(
    keys: &ItemKeys,
    mut lookup: impl FnMut(&Key) -> Result<Option<ItemId>, E>,
) -> Result<Decision, E> {
    if let Some(id) = lookup(&keys.local)? {
        return Ok(Decision::Known(id));
    }
    for key in keys.shared() {
        if let Some(id) = lookup(key)? {
            let kind = key.kind().unwrap_or(KeyKind::Link);
            return Ok(Decision::SameStory(id, kind));
        }
    }
    Ok(Decision::New)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(guid: Option<&str>, link: Option<&str>, title: &str) -> Entry {
        Entry {
            guid: guid.map(str::to_string),
            link: link.map(str::to_string),
            title: Some(title.to_string()),
            content: Some(format!(
                "<p>{title} — نص طويل بما يكفي ليكون بصمة مميزة لهذا الخبر وحده</p>"
            )),
            ..Entry::default()
        }
    }

    #[test]
    fn bare_guids_are_local_to_their_feed() {
        let a = keys_for("https://a.example/f", None, &[entry(Some("1"), None, "أ")]);
        let b = keys_for("https://b.example/f", None, &[entry(Some("1"), None, "ب")]);
        assert_ne!(a[0].local, b[0].local);
        assert_ne!(a[0].text, b[0].text);
    }

    #[test]
    fn same_link_in_two_feeds_shares_the_link_key() {
        let a = keys_for(
            "https://a.example/f",
            None,
            &[entry(
                Some("x"),
                Some("https://s.example/n/1?utm_source=a"),
                "خبر",
            )],
        );
        let b = keys_for(
            "https://b.example/f",
            None,
            &[entry(None, Some("http://S.example/n/1#c"), "خبر آخر")],
        );
        assert!(a[0].link.is_some());
        assert_eq!(a[0].link, b[0].link);
        assert_ne!(a[0].local, b[0].local);
    }

    #[test]
    fn a_link_shared_by_several_items_identifies_none() {
        let entries = [
            entry(Some("1"), Some("https://s.example/section"), "خبر أول"),
            entry(Some("2"), Some("https://s.example/section"), "خبر ثان"),
            entry(Some("3"), Some("https://s.example/"), "خبر ثالث"),
            entry(Some("4"), Some("https://s.example/n/4"), "خبر رابع"),
        ];
        let k = keys_for("https://s.example/f", None, &entries);
        assert_eq!(k[0].link, None);
        assert_eq!(k[1].link, None);
        assert_eq!(k[2].link, None, "front page");
        assert!(k[3].link.is_some());
    }

    #[test]
    fn items_without_guid_or_link_are_keyed_by_text() {
        let e = entry(None, None, "خبر بلا رابط");
        let once = keys_for("https://a.example/f", None, std::slice::from_ref(&e));
        let again = keys_for("https://a.example/f", None, &[e]);
        assert_eq!(
            once, again,
            "the same item gets the same keys on every poll"
        );
    }

    #[test]
    fn short_text_gives_no_cross_feed_key() {
        let e = Entry {
            title: Some("Untitled".into()),
            ..Entry::default()
        };
        assert_eq!(keys_for("https://a.example/f", None, &[e])[0].text, None);
    }

    #[test]
    fn decide_prefers_the_local_key() {
        let k = &keys_for(
            "https://a.example/f",
            None,
            &[entry(Some("1"), Some("https://s.example/n/1"), "خبر")],
        )[0];
        let stored = ItemId([7; 16]);
        let d = decide::<()>(k, |key| Ok((key == &k.local).then_some(stored))).unwrap();
        assert_eq!(d, Decision::Known(stored));
        let d = decide::<()>(k, |key| Ok((Some(*key) == k.link).then_some(stored))).unwrap();
        assert_eq!(d, Decision::SameStory(stored, KeyKind::Link));
        let d = decide::<()>(k, |_| Ok(None)).unwrap();
        assert_eq!(d, Decision::New);
    }
}
