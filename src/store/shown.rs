//! Which member's copy a merged story shows.
//!
//! Every member of a story keeps its own copy (`model::OutletCopy`); the
//! item's own title, text, link and dates are one member's copy, chosen by
//! who the story belongs to rather than by who was polled first, so that a
//! feed republishing another outlet's story cannot take it over:
//! 1. an outlet linking to its own site (the feed's host and the host of
//!    its link to the item are one site) over one that links elsewhere,
//!    which republishes;
//! 2. then the feed with the higher `priority` (`[[feed]]`);
//! 3. then the earliest published, then the member that came first.
//!
//! The choice is made again whenever a member joins, is edited or is split
//! off, and the shown member is kept first in `Item::sources`, which is
//! where the outputs look for the story's outlet ("also reported by" lists
//! the others).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Item, OutletCopy, Source};

/// Feeds' `priority`, by configured URL; a feed not listed has 0.
pub type Priorities = HashMap<String, i32>;

/// Why the shown member was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Why {
    /// The only member with a copy.
    Only,
    /// Its feed and its link are on one site.
    Host,
    /// Its feed has the higher `priority`.
    Priority,
    /// Published first (or, with equal dates, came first).
    Earliest,
}

impl Why {
    pub fn describe(self) -> &'static str {
        match self {
            Why::Only => "the only member with its own copy",
            Why::Host => "its feed is on the site its link points to (the original outlet)",
            Why::Priority => "its feed has the highest priority",
            Why::Earliest => "published first (or, at the same date, merged first)",
        }
    }
}

/// The host of a URL, lower case, without a leading `www.`.
fn host_of(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    Some(host.strip_prefix("www.").unwrap_or(host).to_string())
}

/// Second-level labels under which country domains register names
/// (`bbc.co.uk`, `spa.gov.sa`): the registrable domain is then three
/// labels, not two.
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gov", "mil", "net", "news", "nic", "org", "sch",
];

/// The registrable part of a host (`feeds.example.com` → `example.com`),
/// without the public suffix list: the last two labels, or three under a
/// second-level label of a country domain. An IP address is itself.
fn registrable(host: &str) -> &str {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let take = if n >= 3 && labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    if n <= take {
        return host;
    }
    let start: usize = labels[..n - take].iter().map(|l| l.len() + 1).sum();
    &host[start..]
}

/// Whether two URLs are on one site: the same host, or hosts under the
/// same registrable domain (`feeds.example.com`, `www.example.com`).
pub fn same_site(a: &str, b: &str) -> bool {
    match (host_of(a), host_of(b)) {
        (Some(a), Some(b)) => a == b || registrable(&a) == registrable(&b),
        _ => false,
    }
}

/// The member's own link to the story: its copy's, else its source's.
fn own_link(s: &Source) -> Option<&str> {
    s.copy
        .as_ref()
        .and_then(|c| c.link.as_deref())
        .or(s.item_link.as_deref())
}

/// Whether the member is an outlet linking to its own site.
pub fn links_home(s: &Source) -> bool {
    own_link(s).is_some_and(|l| same_site(&s.feed_url, l))
}

/// The member to show and why; `None` when no member has a copy.
pub fn choose(item: &Item, priorities: &Priorities) -> Option<(usize, Why)> {
    let rank = |i: usize| {
        let s = &item.sources[i];
        let c = s.copy.as_ref()?;
        let prio = priorities.get(&s.feed_url).copied().unwrap_or(0);
        // Undated copies count as published last.
        let published = c.published.unwrap_or(DateTime::<Utc>::MAX_UTC);
        Some((links_home(s), prio, published, i))
    };
    let mut ranked: Vec<_> = (0..item.sources.len()).filter_map(rank).collect();
    // Best first: links home, higher priority, earlier, came first.
    ranked.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    let best = *ranked.first()?;
    let why = match ranked.get(1) {
        None => Why::Only,
        Some(next) if best.0 != next.0 => Why::Host,
        Some(next) if best.1 != next.1 => Why::Priority,
        Some(_) => Why::Earliest,
    };
    Some((best.3, why))
}

/// Shows the chosen member's copy: moves it first and copies its fields
/// into the item. Returns whether the shown text changed (its revision);
/// then, given `now`, the item's updated date moves as for an edit: to the
/// copy's own date when it is newer and not in the future, else to now.
pub fn show(item: &mut Item, priorities: &Priorities, now: Option<DateTime<Utc>>) -> bool {
    let Some((i, _)) = choose(item, priorities) else {
        return false;
    };
    if i != 0 {
        let member = item.sources.remove(i);
        item.sources.insert(0, member);
    }
    let Some(c) = item.sources[0].copy.clone() else {
        return false;
    };
    let changed = item.revision != c.revision;
    let old_updated = item.updated;
    apply_copy(item, c);
    if changed {
        if let Some(now) = now {
            item.updated = match item.updated {
                Some(u) if old_updated.is_none_or(|old| u > old) && u <= now => Some(u),
                _ => Some(now),
            };
        }
    }
    changed
}

fn apply_copy(item: &mut Item, c: OutletCopy) {
    item.title = c.title;
    item.link = c.link;
    item.content = c.content;
    item.summary = c.summary;
    item.published = c.published;
    item.updated = c.updated;
    item.authors = c.authors;
    item.categories = c.categories;
    item.enclosures = c.enclosures;
    item.language = c.language;
    item.base = c.base;
    item.revision = c.revision;
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::dedup::keys::keys_for;
    use crate::model::{Entry, FeedState};
    use crate::store::SledStore;

    pub(in crate::store) fn feed(url: &str) -> Source {
        Source {
            feed_url: url.into(),
            feed_title: Some(format!("title of {url}")),
            feed_id: None,
            site_url: None,
            item_link: None,
            guid: None,
            copy: None,
        }
    }

    /// Stores `entries` as `url`'s document with near-duplicate detection
    /// on, as the daemon's defaults have it (a 72 h window).
    pub(in crate::store) fn ingest_near(
        store: &SledStore,
        url: &str,
        entries: &[Entry],
    ) -> crate::store::IngestStats {
        let near = crate::dedup::near::NearDup {
            reader: crate::dedup::near::Reader::default(),
            threshold: crate::dedup::near::DEFAULT_THRESHOLD,
            window: chrono::Duration::hours(72),
            opted_out: Default::default(),
            cross_language: None,
        };
        ingest_with(store, url, entries, &near)
    }

    /// `ingest_near` with the given near-duplicate settings.
    pub(in crate::store) fn ingest_with(
        store: &SledStore,
        url: &str,
        entries: &[Entry],
        near: &crate::dedup::near::NearDup,
    ) -> crate::store::IngestStats {
        let keys = keys_for(url, None, entries);
        store
            .ingest_near(
                &feed(url),
                entries,
                &keys,
                &FeedState::default(),
                Utc::now(),
                Some(near),
            )
            .unwrap()
    }

    pub(in crate::store) fn story(
        guid: &str,
        link: &str,
        title: &str,
        body: &str,
        hours_ago: i64,
    ) -> Entry {
        Entry {
            guid: Some(guid.into()),
            link: Some(link.into()),
            title: Some(title.into()),
            content: Some(format!("<p>{body}</p>")),
            published: Some(Utc::now() - chrono::Duration::hours(hours_ago)),
            ..Entry::default()
        }
    }

    pub(in crate::store) fn put(
        store: &SledStore,
        url: &str,
        e: &Entry,
    ) -> crate::store::IngestStats {
        let entries = std::slice::from_ref(e);
        let keys = keys_for(url, None, entries);
        store
            .ingest(
                &feed(url),
                entries,
                &keys,
                &FeedState::default(),
                Utc::now(),
            )
            .unwrap()
    }

    pub(in crate::store) fn only_item(store: &SledStore) -> Item {
        let items = store.newest(10, |_| true).unwrap();
        assert_eq!(items.len(), 1, "{items:#?}");
        items.into_iter().next().unwrap()
    }

    const X: &str = "https://x.example/feed";
    const LEGIT: &str = "https://legit.example/feed";

    fn x_copy() -> Entry {
        story(
            "x-1",
            "https://LEGIT.example/story/1?utm_source=x",
            "عنوان منقول بتصرف من موقع آخر",
            "نص منقول أعاد الموقع الناقل صياغته",
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

    #[test]
    fn the_original_outlet_is_shown_whichever_feed_comes_first() {
        for x_first in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path(), "test").unwrap();
            if x_first {
                assert_eq!(put(&store, X, &x_copy()).new, 1);
                assert_eq!(put(&store, LEGIT, &legit_copy()).merged, 1);
            } else {
                assert_eq!(put(&store, LEGIT, &legit_copy()).new, 1);
                assert_eq!(put(&store, X, &x_copy()).merged, 1);
            }
            let item = only_item(&store);
            assert_eq!(item.title, legit_copy().title, "x first: {x_first}");
            assert_eq!(item.content, legit_copy().content);
            assert_eq!(item.link, legit_copy().link);
            assert_eq!(item.sources[0].feed_url, LEGIT, "shown member first");
            assert_eq!(item.sources[1].feed_url, X);
            assert_eq!(choose(&item, &Priorities::new()), Some((0, Why::Host)));

            // X edits its copy: only its copy changes.
            let mut edited = x_copy();
            edited.title = Some("عنوان الناقل بعد التعديل".into());
            edited.content = Some("<p>نص الناقل بعد التعديل</p>".into());
            assert_eq!(put(&store, X, &edited).updated, 1);
            let after = only_item(&store);
            assert_eq!(after.title, legit_copy().title);
            assert_eq!(after.content, legit_copy().content);
            assert_eq!(after.revision, item.revision);
            let x = after.sources.iter().find(|s| s.feed_url == X).unwrap();
            let x_copy = x.copy.as_ref().unwrap();
            assert_eq!(x_copy.title, edited.title);
            assert_eq!(x_copy.content, edited.content);
            let legit = after.sources[0].copy.as_ref().unwrap();
            assert_eq!(legit.title, legit_copy().title);

            // The original outlet's own edit is what the story shows.
            let mut fixed = legit_copy();
            fixed.title = Some("العنوان الأصلي بعد التصحيح".into());
            assert_eq!(put(&store, LEGIT, &fixed).updated, 1);
            let fixed_item = only_item(&store);
            assert_eq!(fixed_item.title, fixed.title);
            assert!(fixed_item.updated.is_some());
            assert!(store.check().unwrap().is_empty());
        }
    }

    #[test]
    fn a_second_identity_of_an_outlets_item_does_not_swap_its_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        put(&store, X, &x_copy());
        let mut renamed = x_copy();
        renamed.guid = Some("x-1-v2".into());
        renamed.title = Some("عنوان الهوية الثانية".into());
        assert_eq!(put(&store, X, &renamed).merged, 1);
        assert_eq!(only_item(&store).title, x_copy().title);
        // Both listed again, one after the other, poll after poll.
        let mut edited = renamed.clone();
        edited.title = Some("عنوان الهوية الثانية بعد التعديل".into());
        for _ in 0..2 {
            assert_eq!(put(&store, X, &x_copy()).unchanged, 1);
            assert_eq!(put(&store, X, &edited).unchanged, 1);
        }
        assert_eq!(only_item(&store).title, x_copy().title);
        // The identity the copy came under still edits it.
        let mut fixed = x_copy();
        fixed.title = Some("عنوان الهوية الأولى بعد التعديل".into());
        assert_eq!(put(&store, X, &fixed).updated, 1);
        let item = only_item(&store);
        assert_eq!(item.title, fixed.title);
        assert_eq!(item.sources.len(), 1);
        assert!(store.check().unwrap().is_empty());
    }

    /// Two outlets republishing an agency's story: neither links home.
    fn agency(guid: &str, title: &str, hours_ago: i64) -> Entry {
        story(
            guid,
            "https://agency.example/n/5",
            title,
            "نص الوكالة كما ورد",
            hours_ago,
        )
    }

    #[test]
    fn a_higher_priority_wins_over_the_earlier_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        store.set_priorities([("https://p.example/feed".to_string(), 5)]);
        put(
            &store,
            "https://a.example/feed",
            &agency("a", "نسخة الصحيفة أ", 5),
        );
        put(
            &store,
            "https://p.example/feed",
            &agency("p", "نسخة الصحيفة المفضلة", 1),
        );
        let item = only_item(&store);
        assert_eq!(item.title.as_deref(), Some("نسخة الصحيفة المفضلة"));
        assert_eq!(
            choose(&item, store.priorities().as_ref()),
            Some((0, Why::Priority))
        );
    }

    #[test]
    fn else_the_earliest_published_copy_is_shown() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), "test").unwrap();
        put(
            &store,
            "https://late.example/feed",
            &agency("l", "النسخة المتأخرة", 1),
        );
        put(
            &store,
            "https://early.example/feed",
            &agency("e", "النسخة الأسبق", 9),
        );
        let item = only_item(&store);
        assert_eq!(item.title.as_deref(), Some("النسخة الأسبق"));
        assert_eq!(item.sources[0].feed_url, "https://early.example/feed");
        assert_eq!(choose(&item, &Priorities::new()), Some((0, Why::Earliest)));
        assert!(store.check().unwrap().is_empty());
    }

    #[test]
    fn one_site_allows_www_and_subdomains() {
        assert!(same_site(
            "https://feeds.example.com/rss",
            "https://www.example.com/n/1"
        ));
        assert!(same_site(
            "https://LEGIT.example/feed",
            "https://legit.example/s/1"
        ));
        assert!(same_site(
            "https://feeds.bbc.co.uk/arabic/rss.xml",
            "https://www.bbc.co.uk/arabic/1"
        ));
        assert!(!same_site(
            "https://x.example/feed",
            "https://legit.example/s/1"
        ));
        assert!(!same_site("https://a.co.uk/feed", "https://b.co.uk/s/1"));
        assert!(!same_site("http://127.0.0.1:8/f", "http://127.0.0.2:8/s"));
    }
}
