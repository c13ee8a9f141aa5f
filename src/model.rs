//! Plain data passed between the pipeline stages: items, their sources, and
//! the per-feed state the scheduler and fetcher keep between polls.
//!
//! Nothing here knows about feed-rs, reqwest or sled; every stage speaks in
//! these types so that a format quirk stays inside the stage that met it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// rafid's own identity of a stored item: 128 bits of a SHA-256 over the
/// item's first identity key (see `normalize::ItemKeys`). It never changes
/// once assigned, whatever the source later does to the item.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub [u8; 16]);

impl ItemId {
    /// The id as published: a `urn:uuid:` so that every feed format and
    /// reader accepts it, independent of where rafid is served from.
    pub fn urn(&self) -> String {
        let mut b = self.0;
        // Mark it as an RFC 9562 version 8 (custom) UUID with the RFC variant,
        // so validators that check UUID syntax accept it.
        b[6] = (b[6] & 0x0f) | 0x80;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(s: &str) -> Option<ItemId> {
        let bytes = unhex(s)?;
        Some(ItemId(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({})", self.to_hex())
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ItemId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ItemId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ItemId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("item id: 32 hex digits"))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    s
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A person as the source named them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Person {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub term: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// One feed that carried an item, and what that feed called it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The feed's URL as configured: the key of its `FeedState`.
    pub feed_url: String,
    /// The feed's own title, as its document gave it when the item arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_title: Option<String>,
    /// The feed's own id (Atom `<id>`), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
    /// The feed's web site (its alternate link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    /// This outlet's own link to the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_link: Option<String>,
    /// This outlet's GUID or Atom id for the item, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// This outlet's own version of the story. `None` for a member merged
    /// by a rafid that kept only the shown text (store schema 1), until
    /// its feed sends the item again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<OutletCopy>,
}

/// One outlet's own version of a story, kept as that outlet sent it.
///
/// A story merged from several outlets shows one member's copy (see
/// `store::shown`); keeping every copy lets the shown one be chosen again
/// when a member joins, is edited or is split off, and lets a member be
/// split off with its own text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutletCopy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// The outlet's byline, tags and attachments go with its text: shown
    /// beside another outlet's text they would be wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Person>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<Enclosure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// What the copy's relative links resolve against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Hash of what the outlet said (see `dedup::ItemKeys::revision`).
    pub revision: String,
    /// Hex of the outlet's local key for the item, which follows the
    /// member when it is split off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<Joined>,
}

/// How a member joined the story, for `dedup explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// `link` (the same canonical link), `text` (the same normalized text)
    /// or `near` (a near-duplicate); `unknown` for a member merged before
    /// rafid kept copies, whose copy was kept from `at` on.
    pub by: String,
    /// The near-duplicate resemblance, for `near`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub at: DateTime<Utc>,
}

impl OutletCopy {
    /// The copy an entry makes.
    pub fn of_entry(entry: &Entry, revision: &str, local_key: Option<String>) -> OutletCopy {
        OutletCopy {
            title: entry.title.clone(),
            link: entry.link.clone(),
            content: entry.content.clone(),
            summary: entry.summary.clone(),
            published: entry.published,
            updated: entry.updated,
            authors: entry.authors.clone(),
            categories: entry.categories.clone(),
            enclosures: entry.enclosures.clone(),
            language: entry.language.clone(),
            base: entry.base.clone(),
            revision: revision.to_string(),
            local_key,
            joined: None,
        }
    }

    /// The copy the item shows now: how a store of schema 1 keeps the
    /// first member's text, which is what its item showed.
    pub fn of_shown(item: &Item) -> OutletCopy {
        OutletCopy {
            title: item.title.clone(),
            link: item.link.clone(),
            content: item.content.clone(),
            summary: item.summary.clone(),
            published: item.published,
            updated: item.updated,
            authors: item.authors.clone(),
            categories: item.categories.clone(),
            enclosures: item.enclosures.clone(),
            language: item.language.clone(),
            base: item.base.clone(),
            revision: item.revision.clone(),
            local_key: None,
            joined: None,
        }
    }
}

/// A parsed item before it is stored: what the source said, in rafid's
/// terms. Text is exactly the characters that came in; only `title` has had
/// markup removed, because feed readers render titles as plain text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The GUID / Atom id / JSON Feed id, when the source gave one.
    pub guid: Option<String>,
    pub title: Option<String>,
    /// The item's own link, absolute.
    pub link: Option<String>,
    /// HTML as the source had it (sanitized when published, not before).
    pub content: Option<String>,
    pub summary: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<Person>,
    pub categories: Vec<Category>,
    pub enclosures: Vec<Enclosure>,
    pub language: Option<String>,
    /// The base URI relative links in the content resolve against.
    pub base: Option<String>,
}

/// Feed-level metadata of one fetched document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedMeta {
    pub id: Option<String>,
    pub title: Option<String>,
    pub site_url: Option<String>,
    pub language: Option<String>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// `sy:updatePeriod` divided by `sy:updateFrequency`.
    pub update_period: Option<std::time::Duration>,
}

/// A parsed document: the feed's metadata and its items in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFeed {
    pub meta: FeedMeta,
    pub entries: Vec<Entry>,
}

/// A stored item: one story, possibly carried by several feeds. Its title,
/// text, link and dates are those of one member's copy (see `OutletCopy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The key the item is stored under. A new item's begins with a
    /// counter, so that new items are appended to the store rather than
    /// inserted at random places in it (see `store`).
    pub id: ItemId,
    /// The id the outputs publish (`urn:uuid:`) when it is not `id`: the
    /// digest of the local key the item was first stored under, which a
    /// store rebuilt from the same feeds gives the item again, so readers
    /// do not see it as new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<ItemId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    /// The source's updated date, or the time rafid saw the item change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Person>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<Enclosure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Every feed that carried the item, the one whose copy is shown first
    /// (see `store::shown`). Never empty.
    pub sources: Vec<Source>,
    /// Hash of the shown copy's title and content (its `revision`).
    pub revision: String,
    /// The identity keys (hex) that point at this item in the key index,
    /// so the index can be checked and cleaned from the item alone.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The same story in another language, linked rather than merged (see
    /// `dedup::near::xling`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<Translation>,
}

/// A story in another language that reports what an item reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub id: ItemId,
    /// "ar" or "en".
    pub lang: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The title of the feed that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The cross-language resemblance, and the names and figures both give.
    pub score: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<String>,
}

impl Item {
    /// The id the outputs publish (see `uid`).
    pub fn public_id(&self) -> ItemId {
        self.uid.unwrap_or(self.id)
    }

    /// The instant the item is ordered by: published, else updated, else
    /// first seen; a date in the future counts as the time rafid first saw
    /// the item, so a wrong clock at the source cannot pin it to the top.
    pub fn sort_time(&self) -> DateTime<Utc> {
        let claimed = self.published.or(self.updated).unwrap_or(self.first_seen);
        if claimed > self.first_seen {
            self.first_seen
        } else {
            claimed
        }
    }

    /// The updated date outputs show: the source's (or the edit's) date,
    /// else the sort time; never a date in the future.
    pub fn updated_shown(&self) -> DateTime<Utc> {
        match self.updated {
            Some(u) if u <= Utc::now() => u.max(self.sort_time()),
            _ => self.sort_time(),
        }
    }

    /// The most recent time anything about the item changed, as far as
    /// rafid knows: what an Atom `<updated>` must say.
    pub fn last_modified(&self) -> DateTime<Utc> {
        let mut t = self.first_seen;
        if let Some(u) = self.updated.filter(|u| *u <= Utc::now()) {
            t = t.max(u);
        }
        t
    }
}

/// What rafid remembers about one feed between polls. Keyed by the feed's
/// configured URL.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FeedState {
    /// The last `ETag` the server sent, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The last `Last-Modified` the server sent, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// SHA-256 (hex) of the last body parsed: an identical body is not parsed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// A `Retry-After` the server asked for; no request before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<DateTime<Utc>>,
    /// The feed's title as its document last gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Items this feed has contributed (new or merged), for health reports.
    #[serde(default)]
    pub items: u64,
    /// The server answered 410 Gone: the feed is not polled any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    /// The URL the feed moved to permanently, adopted after the same
    /// permanent redirect was seen on several polls in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// The permanent redirect seen on the last polls, and on how many in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
    #[serde(default)]
    pub redirect_streak: u32,
    /// What the server and the feed said about how often to poll.
    #[serde(default)]
    pub hints: PollHints,
    /// The interval this feed is polled at, as of its last poll, and why
    /// (see `schedule::effective_interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_reason: Option<String>,
    /// Polls made, and how many were answered 304, for politeness reports.
    #[serde(default)]
    pub polls: u64,
    #[serde(default)]
    pub not_modified: u64,
    /// `Retry-After` answers received; each was honoured (no request before
    /// the time it gave).
    #[serde(default)]
    pub retry_afters: u64,
    /// Fingerprint of the feed rules the last document was judged by: when
    /// the rules change, the next poll fetches and judges the feed again
    /// even if it has not changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// Polls in a row whose document was mostly new items: a feed whose
    /// GUIDs change on every poll, which only the per-feed cap bounds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub churning_polls: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a feed's responses said about its rhythm, kept so the interval can
/// be worked out again under whatever config is in force.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PollHints {
    /// HTTP `Cache-Control: max-age` or `Expires`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_for_secs: Option<u64>,
    /// RSS `<ttl>`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// `sy:updatePeriod` / `sy:updateFrequency`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_period_secs: Option<u64>,
    /// The typical time between the feed's items, from their dates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_gap_secs: Option<u64>,
}
