//! The store's behaviour through `Backend`, run against every backend: the
//! sled store always, the PostgreSQL store when `RAFID_TEST_POSTGRES` names
//! a server whose user may create databases (`.ci/postgres.sh` starts one).
//! Each test is written once, below, and listed in `both!`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};

use super::{Dropped, Retention, Store};
use crate::dedup::keys::keys_for;
use crate::dedup::near::NearDup;
use crate::model::{Entry, FeedState, Source};

/// A store of one backend, in a directory (and for PostgreSQL a database)
/// of its own.
pub(super) struct Fixture {
    pub(super) store: Store,
    pub(super) dir: tempfile::TempDir,
    /// The database, for PostgreSQL.
    pub(super) url: Option<String>,
}

impl Fixture {
    pub(super) fn sled() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        Fixture {
            store,
            dir,
            url: None,
        }
    }

    /// A store in a new database; None when no server is given.
    pub(super) fn postgres() -> Option<Fixture> {
        let url = fresh_database()?;
        Some(Fixture::replica(&url))
    }

    /// Another process's store on the database `url`: a replica of its own.
    pub(super) fn replica(url: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = super::postgres::PgStore::open(dir.path(), url, "test", 8 << 20, Some(near()))
            .map(Store::new)
            .unwrap();
        Fixture {
            store,
            dir,
            url: Some(url.to_string()),
        }
    }

    /// The same store, closed and opened again (as after a restart), with
    /// `near` as the `[dedup]` settings a shared store applies records with.
    pub(super) fn reopen(self, near: NearDup) -> Fixture {
        let Fixture { store, dir, url } = self;
        drop(store);
        let store = match &url {
            None => Store::open(dir.path(), "test").unwrap(),
            Some(url) => Store::new(
                super::postgres::PgStore::open(dir.path(), url, "test", 8 << 20, Some(near))
                    .unwrap(),
            ),
        };
        Fixture { store, dir, url }
    }

    /// An empty store of the same backend.
    pub(super) fn empty_like(&self) -> Fixture {
        match self.url {
            None => Fixture::sled(),
            Some(_) => Fixture::postgres().unwrap(),
        }
    }
}

/// A new empty database on the server `RAFID_TEST_POSTGRES` names, and its
/// URL; None (and the test passes vacuously, saying so) when unset.
pub(super) fn fresh_database() -> Option<String> {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let Ok(base) = std::env::var("RAFID_TEST_POSTGRES") else {
        eprintln!("RAFID_TEST_POSTGRES is not set: a PostgreSQL store test was not run");
        return None;
    };
    let db = format!(
        "rafid_s{}_{}",
        MADE.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    block_on(async {
        let client = super::postgres::connect(&base)
            .await
            .expect("connect to RAFID_TEST_POSTGRES");
        // Two statements: a batch would run them as one transaction,
        // which neither may run in.
        for sql in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            client
                .batch_execute(&sql)
                .await
                .expect("make a test database");
        }
    });
    let mut url = url::Url::parse(&base).expect("RAFID_TEST_POSTGRES is a URL");
    url.set_path(&db);
    Some(url.to_string())
}

/// Runs `f` to its end on a runtime of its own: for tests outside one.
pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub(super) fn near() -> NearDup {
    NearDup {
        reader: crate::dedup::near::Reader::default(),
        threshold: crate::dedup::near::DEFAULT_THRESHOLD,
        window: Duration::hours(72),
        opted_out: Default::default(),
        cross_language: None,
    }
}

fn source(url: &str) -> Source {
    Source {
        feed_url: url.into(),
        feed_title: Some(format!("title of {url}")),
        ..Source::default()
    }
}

/// A fixed hour, so that two stores fed the same entries hold the same.
fn at(hour: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000 + hour * 3600, 0).unwrap()
}

fn entry(guid: &str, link: &str, title: &str, body: &str, hour: i64) -> Entry {
    Entry {
        guid: Some(guid.into()),
        link: Some(link.into()),
        title: Some(title.into()),
        content: Some(format!("<p>{body}</p>")),
        published: Some(at(hour)),
        ..Entry::default()
    }
}

/// Stores `entries` as one document of `feed`, polled at `now`.
pub(super) fn put(
    store: &Store,
    feed: &str,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> super::IngestStats {
    put_with(store, feed, entries, now, &near())
}

/// `put` under the `[dedup]` settings `near` (which a shared store must
/// have been given: `Backend::set_near_dup`).
fn put_with(
    store: &Store,
    feed: &str,
    entries: &[Entry],
    now: DateTime<Utc>,
    near: &NearDup,
) -> super::IngestStats {
    let keys = keys_for(feed, None, entries);
    let state = FeedState {
        etag: Some(format!("\"{}\"", entries.len())),
        ..FeedState::default()
    };
    store
        .ingest_near(&source(feed), entries, &keys, &state, now, Some(near))
        .unwrap()
}

/// `n` entries of feed A, the i-th published at hour i, their guids
/// beginning with `prefix`.
fn numbered(prefix: &str, n: i64) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            entry(
                &format!("{prefix}{i}"),
                &format!("https://a.example/{prefix}/{i}"),
                &format!("خبر {i}"),
                &format!("نص {i}"),
                i,
            )
        })
        .collect()
}

/// The local key of an advertisement in feed A, and the record of a rule
/// dropping it at `hour`.
fn an_ad_dropped(hour: i64) -> (crate::dedup::keys::Key, Dropped) {
    let e = entry("x", "https://a.example/x", "إعلان", "نص", 1);
    let key = keys_for(A, None, std::slice::from_ref(&e))[0].local;
    let why = Dropped {
        rule: "drop.title \"إعلان\"".into(),
        keep: None,
        title: Some("إعلان".into()),
        link: e.link.clone(),
        at: at(hour),
    };
    (key, why)
}

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// A story of the kind most of rafid's feeds carry, and a shorter retelling
/// of it another outlet might run.
pub(super) const STORY: &str = "افتتحت بلدية مدينة صفاقس صباح اليوم جسراً جديداً فوق وادي الزيتون \
    بطول أربعمئة متر، بعد عامين من الأشغال وبكلفة بلغت خمسة وثلاثين مليون دينار، وقال رئيس البلدية \
    إن الجسر سيخفف الازدحام على الطريق الساحلية ويختصر الرحلة بين الحي الجامعي ووسط المدينة إلى \
    عشر دقائق، على أن تفتح الممرات المخصصة للدراجات الشهر المقبل.";
pub(super) const RETOLD: &str = "افتتحت بلدية مدينة صفاقس صباح اليوم جسراً جديداً فوق وادي الزيتون \
    بطول أربعمئة متر، وقال رئيس البلدية إن الجسر سيخفف الازدحام على الطريق الساحلية ويختصر الرحلة \
    بين الحي الجامعي ووسط المدينة.";

const A: &str = "https://a.example/feed";
const B: &str = "https://b.example/feed";

fn same_link_from_two_feeds_is_one_story(f: Fixture) {
    let s = &f.store;
    let link = "https://news.example/2026/bridge";
    let first = put(s, A, &[entry("a1", link, "جسر جديد", STORY, 1)], at(2));
    assert_eq!(first.new, 1);
    let second = put(
        s,
        B,
        &[entry("b1", link, "جسر جديد في صفاقس", STORY, 1)],
        at(3),
    );
    assert_eq!(second.merged, 1);
    assert_eq!(s.item_count(), 1);
    let items = s.newest(10, |_| true).unwrap();
    assert_eq!(items[0].sources.len(), 2);
}

fn an_edit_updates_in_place_and_a_repeat_changes_nothing(f: Fixture) {
    let s = &f.store;
    let e = entry("a1", "https://a.example/1", "عنوان", "نص أول", 1);
    assert_eq!(put(s, A, std::slice::from_ref(&e), at(2)).new, 1);
    assert_eq!(put(s, A, std::slice::from_ref(&e), at(3)).unchanged, 1);
    let mut edited = e.clone();
    edited.content = Some("<p>نص مصحح</p>".into());
    assert_eq!(put(s, A, &[edited], at(4)).updated, 1);
    let items = s.newest(10, |_| true).unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].content.as_deref().unwrap().contains("مصحح"));
}

fn a_retold_story_joins_the_first(f: Fixture) {
    let s = &f.store;
    put(
        s,
        A,
        &[entry("a1", "https://a.example/1", "جسر جديد", STORY, 1)],
        at(2),
    );
    let stats = put(
        s,
        B,
        &[entry("b1", "https://b.example/9", "جسر جديد", RETOLD, 1)],
        at(3),
    );
    assert_eq!(stats.near_duplicates, 1, "{stats:?}");
    assert_eq!(s.item_count(), 1);
}

fn feed_states_are_kept(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.feed_state(A).unwrap(), None);
    let state = FeedState {
        etag: Some("\"v1\"".into()),
        consecutive_failures: 2,
        ..FeedState::default()
    };
    s.put_feed_state(A, &state).unwrap();
    assert_eq!(s.feed_state(A).unwrap(), Some(state.clone()));
    put(
        s,
        B,
        &[entry("b1", "https://b.example/1", "t", "x", 1)],
        at(2),
    );
    let all: Vec<String> = s
        .feed_states()
        .unwrap()
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(all, vec![A.to_string(), B.to_string()]);
    assert_eq!(
        s.feed_state(B).unwrap().unwrap().etag.as_deref(),
        Some("\"1\"")
    );
}

fn the_newest_come_first_and_are_found_by_their_published_id(f: Fixture) {
    let s = &f.store;
    let entries: Vec<Entry> = (0..12)
        .map(|i| {
            entry(
                &format!("g{i}"),
                &format!("https://a.example/{i}"),
                &format!("خبر {i}"),
                &format!("نص الخبر رقم {i}"),
                i,
            )
        })
        .collect();
    put(s, A, &entries, at(20));
    let newest = s.newest(5, |_| true).unwrap();
    let titles: Vec<&str> = newest.iter().filter_map(|i| i.title.as_deref()).collect();
    assert_eq!(titles, ["خبر 11", "خبر 10", "خبر 9", "خبر 8", "خبر 7"]);
    let last = newest.last().unwrap();
    let older = s
        .newest_before(Some((last.sort_time(), last.id)), 3, |_| true)
        .unwrap();
    assert_eq!(older[0].title.as_deref(), Some("خبر 6"));
    let urn = format!("urn:uuid:{}", newest[0].public_id());
    assert_eq!(s.find_item(&urn).unwrap(), Some(newest[0].id));
    assert_eq!(s.newest_in_feeds(&[B], 5).unwrap().len(), 0);
    assert_eq!(s.newest_in_feeds(&[A], 5).unwrap().len(), 5);
}

fn a_split_member_stays_out(f: Fixture) {
    let s = &f.store;
    let link = "https://news.example/2026/bridge";
    put(s, A, &[entry("a1", link, "جسر", STORY, 1)], at(2));
    put(s, B, &[entry("b1", link, "جسر", STORY, 1)], at(3));
    let story = s.newest(1, |_| true).unwrap().remove(0);
    let new = s.split(story.id, B, at(4)).unwrap();
    assert_ne!(new, story.id);
    assert_eq!(s.item_count(), 2);
    assert_eq!(s.splits_of(story.id).unwrap().len(), 1);
    // B's copy comes again: it stays in its own story.
    put(s, B, &[entry("b1", link, "جسر", STORY, 1)], at(5));
    assert_eq!(s.item_count(), 2);
    assert!(matches!(
        s.split(story.id, B, at(6)),
        Err(super::SplitError::NoMember { .. } | super::SplitError::Single(_))
    ));
}

fn pruned_items_stay_gone_while_listed(f: Fixture) {
    let s = &f.store;
    let old = entry("old", "https://a.example/old", "قديم", "نص قديم", 0);
    let new = entry("new", "https://a.example/new", "جديد", "نص جديد", 100);
    put(s, A, &[old.clone(), new.clone()], at(101));
    let policy = Retention {
        max_age: Some(std::time::Duration::from_secs(24 * 3600)),
        ..Retention::default()
    };
    assert_eq!(s.prune(&policy, at(102)).unwrap(), 1);
    assert_eq!(s.item_count(), 1);
    let again = put(s, A, &[old, new], at(103));
    assert_eq!(again.pruned_seen, 1);
    assert_eq!(s.item_count(), 1);
    assert_eq!(s.prune_feed(A, 1, at(104)).unwrap(), 0);
}

fn a_feed_is_kept_to_its_cap(f: Fixture) {
    let s = &f.store;
    let entries = numbered("c", 5);
    put(s, A, &entries, at(10));
    assert_eq!(s.prune_feed(A, 5, at(11)).unwrap(), 0);
    assert_eq!(s.prune_feed(A, 2, at(11)).unwrap(), 3);
    let kept: Vec<_> = s
        .newest(10, |_| true)
        .unwrap()
        .into_iter()
        .filter_map(|i| i.title)
        .collect();
    assert_eq!(kept, ["خبر 4", "خبر 3"]);
}

fn dropped_items_are_noted_and_forgotten(f: Fixture) {
    let s = &f.store;
    let (key, why) = an_ad_dropped(2);
    let listed: HashSet<_> = [key].into();
    s.note_dropped(A, &[(key, why.clone())], &[], &listed)
        .unwrap();
    assert_eq!(s.dropped(A, &key).unwrap(), Some(why));
    assert_eq!(s.dropped_of_feed(A).unwrap().len(), 1);
    s.note_dropped(A, &[], &[], &HashSet::new()).unwrap();
    assert_eq!(s.dropped(A, &key).unwrap(), None);
}

fn an_ingest_saves_the_feed_state_with_its_items_counted(f: Fixture) {
    let s = &f.store;
    let link = "https://news.example/2026/bridge";
    let ingest = |feed: &str, entries: &[Entry], items: u64, hour: i64| {
        let keys = keys_for(feed, None, entries);
        let state = FeedState {
            etag: Some(format!("\"{hour}\"")),
            items,
            ..FeedState::default()
        };
        s.ingest_near(
            &source(feed),
            entries,
            &keys,
            &state,
            at(hour),
            Some(&near()),
        )
        .unwrap();
        s.feed_state(feed).unwrap().unwrap()
    };
    let a = [
        entry("a1", link, "جسر جديد", STORY, 1),
        entry("a2", "https://a.example/2", "طريق", "نص آخر", 1),
    ];
    let saved = ingest(A, &a, 7, 2);
    assert_eq!((saved.items, saved.etag.as_deref()), (9, Some("\"2\"")));
    // One merged into A's story, one new.
    let b = [
        entry("b1", link, "جسر جديد في صفاقس", STORY, 1),
        entry("b2", "https://b.example/2", "ميناء", "نص ثالث", 1),
    ];
    assert_eq!(ingest(B, &b, 0, 3).items, 2);
    // Nothing new: the count stays as given.
    assert_eq!(ingest(A, &a, 9, 4).items, 9);
}

fn seen_and_dropped_records_are_forgotten_whenever_they_were_made(f: Fixture) {
    let s = &f.store;
    let entries = numbered("s", 4);
    put(s, A, &entries, at(10));
    // Pruned in this process, from a store that held no seen record.
    assert_eq!(s.prune_feed(A, 2, at(11)).unwrap(), 2);
    let seen = |s: &Store| export(s).matches("\"kind\":\"seen\"").count();
    assert_eq!(seen(s), 2);
    put(s, A, &entries[2..], at(12));
    assert_eq!(seen(s), 0, "the feed no longer lists them");

    // A drop noted in this process, and forgotten in the next.
    let (key, why) = an_ad_dropped(13);
    s.note_dropped(A, &[(key, why)], &[], &[key].into())
        .unwrap();
    let f = f.reopen(near());
    let s = &f.store;
    assert_eq!(s.dropped_of_feed(A).unwrap().len(), 1);
    s.note_dropped(A, &[], &[], &HashSet::new()).unwrap();
    assert_eq!(s.dropped_of_feed(A).unwrap().len(), 0);
}

fn an_export_imports_into_an_empty_store_unchanged(f: Fixture) {
    let s = &f.store;
    let link = "https://news.example/2026/bridge";
    put(s, A, &[entry("a1", link, "جسر", STORY, 1)], at(2));
    put(s, B, &[entry("b1", link, "جسر", STORY, 1)], at(3));
    put(
        s,
        B,
        &[entry("b2", "https://b.example/2", "آخر", "خبر آخر", 2)],
        at(4),
    );
    let story = s.newest(5, |i| i.sources.len() == 2).unwrap().remove(0);
    s.split(story.id, B, at(5)).unwrap();
    let text = export(s);
    let other = f.empty_like();
    assert_eq!(other.store.import(text.as_bytes()).unwrap(), 3);
    assert_eq!(export(&other.store), text);
    assert_eq!(other.store.store_id(), s.store_id());
    assert!(other.store.check().unwrap().is_empty());
    // Only into an empty store.
    assert!(matches!(
        other.store.import(text.as_bytes()),
        Err(super::ImportError::NotEmpty { .. })
    ));
}

fn the_store_checks_clean_after_all_of_it(f: Fixture) {
    let s = &f.store;
    for hour in 0..6 {
        let entries: Vec<Entry> = (0..4)
            .map(|i| {
                entry(
                    &format!("{hour}-{i}"),
                    &format!("https://news.example/{hour}/{i}"),
                    &format!("خبر {hour} {i}"),
                    &format!("{STORY} {hour} {i}"),
                    hour,
                )
            })
            .collect();
        put(s, if hour % 2 == 0 { A } else { B }, &entries, at(hour + 1));
    }
    assert!(s.check().unwrap().is_empty());
    assert!(s.item_count() > 0);
}

/// One report of the hospital story of `near::tests` (`FULL`, `EXTRA`),
/// as `feed`'s document.
fn hospital(s: &Store, feed: &str, guid: &str, body: &str) {
    let e = Entry {
        guid: Some(guid.into()),
        link: Some(format!("{feed}/{guid}")),
        title: Some("مستشفى جديد للأطفال في الرياض".into()),
        content: Some(format!("<p>{body}</p>")),
        published: Some(Utc::now() - Duration::hours(1)),
        ..Entry::default()
    };
    put(s, feed, &[e], Utc::now());
}

fn a_copy_that_bridges_two_stories_makes_them_one(f: Fixture) {
    use super::near::tests::{EXTRA, FULL};
    let (a, b, c) = (
        "https://a.example/feed",
        "https://b.example/feed",
        "https://c.example/feed",
    );
    // Two outlets each carry one half of the report: nothing shared, two
    // stories.
    hospital(&f.store, a, "a", FULL);
    hospital(&f.store, b, "b", EXTRA);
    assert_eq!(f.store.newest(10, |_| true).unwrap().len(), 2);
    // A third carries all of it: the two were one story.
    hospital(&f.store, c, "c", &format!("{FULL} {EXTRA}"));
    let items = f.store.newest(10, |_| true).unwrap();
    assert_eq!(items.len(), 1, "{items:#?}");
    let feeds: Vec<&str> = items[0]
        .sources
        .iter()
        .map(|s| s.feed_url.as_str())
        .collect();
    assert_eq!(feeds.len(), 3, "{feeds:?}");
    for feed in [a, b, c] {
        assert!(feeds.contains(&feed), "{feed}: {feeds:?}");
    }
    assert_eq!(f.store.item_count(), 1);
    let report = f.store.check().unwrap();
    assert!(report.is_empty(), "{report:?}");
    // Another copy of the second half finds the one story, in memory and
    // after a restart.
    hospital(&f.store, "https://d.example/feed", "d", EXTRA);
    assert_eq!(f.store.newest(10, |_| true).unwrap().len(), 1);
    let f = f.reopen(near());
    hospital(&f.store, "https://e.example/feed", "e", EXTRA);
    let items = f.store.newest(10, |_| true).unwrap();
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0].sources.len(), 5);
}

/// `[dedup]` with stories linked across languages, on a small dictionary.
fn cross_language() -> NearDup {
    let mut near = NearDup::new(
        crate::dedup::near::DEFAULT_BOILERPLATE.iter().copied(),
        crate::dedup::near::DEFAULT_THRESHOLD,
        std::time::Duration::from_secs(72 * 3600),
        Vec::new(),
    );
    near.cross_language = Some(std::sync::Arc::new(
        crate::dedup::near::xling::Dictionary::of(&[
            ("افتتاح", "Opening\nInauguration"),
            ("جسر", "Bridge"),
            ("طريق", "Road"),
            ("بطول", "Length"),
            ("متر", "Metre\nMeter"),
            ("تكلفة", "Cost"),
            ("مليون", "Million"),
            ("ريال", "Riyal"),
            ("الازدحام", "Congestion"),
            ("الشاحنات", "Lorries\nTrucks"),
            ("الميناء", "Port"),
            ("مسارات", "Lanes"),
            ("اتجاه", "Direction\nWay"),
            ("المنطقة", "Province\nRegion"),
            ("الشرقية", "Eastern"),
            ("أمير", "Governor\nPrince"),
        ]),
    ));
    near
}

/// The English report of the Arabic bridge story.
const REPORT: &str = "DAMMAM - The governor of the Eastern Province on Sunday opened a new \
    900-metre bridge on King Fahd Road in Dammam, built at a cost of 120 million riyals to \
    ease congestion at junctions and speed lorries coming from the port. The bridge carries \
    three lanes each way.";

fn an_arabic_story_and_its_english_report_link_to_each_other_and_stay_two(f: Fixture) {
    const AR: &str = "https://ar.example/feed";
    const EN: &str = "https://en.example/feed";
    let xl = cross_language();
    f.store.set_near_dup(&xl);
    let report = |s: &Store, url: &str, guid: &str, title: &str, body: &str| {
        let e = Entry {
            guid: Some(guid.into()),
            link: Some(format!("{url}/{guid}")),
            title: Some(title.into()),
            content: Some(format!("<p>{body}</p>")),
            published: Some(Utc::now() - Duration::hours(1)),
            ..Entry::default()
        };
        put_with(s, url, &[e], Utc::now(), &xl)
    };
    let s = report(
        &f.store,
        AR,
        "a1",
        "افتتاح جسر جديد على طريق الملك فهد في الدمام بطول 900 متر",
        "افتتح أمير المنطقة الشرقية اليوم جسرا جديدا على طريق الملك فهد في مدينة الدمام \
         بطول 900 متر وبتكلفة بلغت 120 مليون ريال، ويهدف المشروع إلى تخفيف الازدحام عند \
         التقاطعات وتسهيل حركة الشاحنات القادمة من الميناء، ويضم الجسر ثلاثة مسارات في كل اتجاه.",
    );
    assert_eq!((s.new, s.linked), (1, 0));
    // An English story of something else, with a name in common.
    let other = report(
        &f.store,
        EN,
        "e0",
        "King Fahd University announces new scholarships",
        "King Fahd University of Petroleum and Minerals said on Sunday it would offer \
         forty scholarships to students from abroad in engineering and computer science, \
         starting with the autumn term at its campus in the city.",
    );
    assert_eq!(other.linked, 0);
    let s = report(
        &f.store,
        EN,
        "e1",
        "New 900-metre bridge opens on King Fahd Road in Dammam",
        REPORT,
    );
    assert_eq!((s.new, s.linked), (1, 1));
    let items = f.store.newest(10, |_| true).unwrap();
    assert_eq!(items.len(), 3, "linked, not merged");
    let by_title = |t: &str| {
        items
            .iter()
            .find(|i| i.title.as_deref().is_some_and(|x| x.contains(t)))
            .unwrap()
    };
    let (ar, en, unrelated) = (
        by_title("الدمام"),
        by_title("bridge"),
        by_title("scholarships"),
    );
    assert_eq!(ar.translations.len(), 1, "{:?}", ar.translations);
    assert_eq!(ar.translations[0].id, en.id);
    assert_eq!(ar.translations[0].lang, "en");
    assert_eq!(
        ar.translations[0].link.as_deref(),
        Some("https://en.example/feed/e1")
    );
    assert_eq!(en.translations.len(), 1);
    assert_eq!(en.translations[0].id, ar.id);
    assert_eq!(en.translations[0].lang, "ar");
    assert!(unrelated.translations.is_empty());
    let explained = crate::store::explain::explain(
        ar,
        Vec::new(),
        &crate::config::DedupConfig::default(),
        &Default::default(),
    )
    .text();
    assert!(
        explained.contains("another language") && explained.contains("fahd"),
        "{explained}"
    );
    // The English outlet edits its headline: the Arabic story's record of
    // it follows.
    let (ar_id, en_id) = (ar.id, en.id);
    report(
        &f.store,
        EN,
        "e1",
        "Dammam bridge opens on King Fahd Road",
        REPORT,
    );
    let ar = f.store.item(ar_id).unwrap().unwrap();
    assert_eq!(ar.translations.len(), 1);
    assert_eq!(ar.translations[0].id, en_id);
    assert_eq!(
        ar.translations[0].title.as_deref(),
        Some("Dammam bridge opens on King Fahd Road")
    );
    // Opened again, the index is rebuilt from the store and a second
    // report links too.
    drop(items);
    let f = f.reopen(cross_language());
    let s = report(
        &f.store,
        "https://en2.example/feed",
        "e2",
        "Dammam gets 900-metre bridge over King Fahd Road",
        "The Eastern Province governor opened a 900-metre bridge on King Fahd Road in \
         Dammam on Sunday. It cost 120 million riyals and is meant to ease congestion for \
         lorries from the port, with three lanes each way.",
    );
    assert_eq!(s.linked, 1);
}

/// Runs each test on the sled store, and on the PostgreSQL store when
/// there is a server.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(#[test] fn $name() { super::$name(super::Fixture::sled()) })*
        }
        mod on_postgres {
            $(#[test] fn $name() {
                if let Some(f) = super::Fixture::postgres() {
                    super::$name(f)
                }
            })*
        }
    };
}

both!(
    same_link_from_two_feeds_is_one_story,
    an_edit_updates_in_place_and_a_repeat_changes_nothing,
    a_retold_story_joins_the_first,
    feed_states_are_kept,
    the_newest_come_first_and_are_found_by_their_published_id,
    a_split_member_stays_out,
    pruned_items_stay_gone_while_listed,
    a_feed_is_kept_to_its_cap,
    dropped_items_are_noted_and_forgotten,
    an_ingest_saves_the_feed_state_with_its_items_counted,
    seen_and_dropped_records_are_forgotten_whenever_they_were_made,
    an_export_imports_into_an_empty_store_unchanged,
    the_store_checks_clean_after_all_of_it,
    a_copy_that_bridges_two_stories_makes_them_one,
    an_arabic_story_and_its_english_report_link_to_each_other_and_stay_two,
);
