//! Several processes on one database, each with its replica: what the
//! store suite (`store::suite`) cannot show with one. Run when
//! `RAFID_TEST_POSTGRES` is set, like the other PostgreSQL tests.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::model::Entry;
use crate::store::suite::{Fixture, RETOLD, STORY, block_on, fresh_database, near, put};
use crate::store::{Store, StoreError};

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The last record each store applied, once all have applied the same
/// (within 20 s: a notification, else the look every few seconds).
fn settle(stores: &[&Store]) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen: Vec<i64> = stores
            .iter()
            .map(|s| *s.changes().expect("a shared store").borrow())
            .collect();
        if seen.iter().all(|&n| n == seen[0]) && seen[0] > 0 {
            return seen[0];
        }
        assert!(Instant::now() < deadline, "replicas stuck at {seen:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn story(feed: &str, i: usize, shared_link: bool) -> Entry {
    let link = match shared_link {
        true => format!("https://news.example/story/{i}"),
        false => format!("{feed}/own/{i}"),
    };
    Entry {
        guid: Some(format!("{feed}#{i}")),
        link: Some(link),
        title: Some(format!("جسر جديد رقم {i}")),
        content: Some(format!(
            "<p>{} (الرقم {i})</p>",
            if shared_link { STORY } else { RETOLD }
        )),
        published: Some(Utc::now() - chrono::Duration::minutes(i as i64)),
        ..Entry::default()
    }
}

#[test]
fn two_processes_see_one_store() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    let b = Fixture::replica(a.url.as_deref().unwrap());
    let first = put(
        &a.store,
        "https://a.example/f",
        &[story("a", 1, true)],
        now(),
    );
    assert_eq!(first.new, 1);
    // b applies a's record before its own, so it merges into a's story.
    let second = put(
        &b.store,
        "https://b.example/f",
        &[story("b", 1, true)],
        now(),
    );
    assert_eq!(second.merged, 1, "{second:?}");
    settle(&[&a.store, &b.store]);
    assert_eq!(a.store.item_count(), 1);
    assert_eq!(export(&a.store), export(&b.store));
    assert_eq!(a.store.store_id(), b.store.store_id());
}

#[test]
fn copies_of_stories_ingested_at_once_by_three_processes_merge_the_same_everywhere() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    let url = a.url.clone().unwrap();
    let (b, c) = (Fixture::replica(&url), Fixture::replica(&url));
    std::thread::scope(|s| {
        for (name, f) in [("a", &a), ("b", &b), ("c", &c)] {
            s.spawn(move || {
                let feed = format!("https://{name}.example/feed");
                for i in 0..20 {
                    // Half the stories share a link; the other half are
                    // retold under each outlet's own link, found only as
                    // near-duplicates.
                    put(&f.store, &feed, &[story(&feed, i, i % 2 == 0)], now());
                }
            });
        }
    });
    settle(&[&a.store, &b.store, &c.store]);
    let text = export(&a.store);
    assert_eq!(text, export(&b.store));
    assert_eq!(text, export(&c.store));
    // Each story with a shared link is one item of three members; the
    // retold ones were merged as the log ordered them, the same on all.
    let shared = a
        .store
        .newest(100, |i| {
            i.link
                .as_deref()
                .is_some_and(|l| l.starts_with("https://news.example/"))
        })
        .unwrap();
    assert_eq!(shared.len(), 10);
    assert!(shared.iter().all(|i| i.sources.len() == 3), "{shared:#?}");
    for f in [&a, &b, &c] {
        assert!(f.store.check().unwrap().is_empty());
    }
}

#[test]
fn a_new_replica_is_built_from_the_log() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    for i in 0..5 {
        put(
            &a.store,
            "https://a.example/f",
            &[story("a", i, i < 3)],
            now(),
        );
    }
    let first = a.store.newest(1, |_| true).unwrap().remove(0);
    a.store
        .put_feed_state("https://quiet.example/f", &Default::default())
        .unwrap();
    let fresh = Fixture::replica(a.url.as_deref().unwrap());
    assert_eq!(export(&fresh.store), export(&a.store));
    assert_eq!(fresh.store.item(first.id).unwrap(), Some(first));
}

#[test]
fn a_replica_of_another_database_is_refused() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    put(
        &a.store,
        "https://a.example/f",
        &[story("a", 1, true)],
        now(),
    );
    let Fixture { store, dir, .. } = a;
    drop(store);
    let other = fresh_database().unwrap();
    let Err(e) = PgStore::open(dir.path(), &other, "test", 8 << 20, None) else {
        panic!("a replica of another database was opened");
    };
    assert!(matches!(e, StoreError::ReplicaOfOther { .. }), "{e}");
    assert!(e.to_string().contains("replica"), "{e}");
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://rafid:s3cret@127.0.0.1:{port}/feeds");
    let Err(e) = PgStore::open(dir.path(), &url, "test", 8 << 20, None) else {
        panic!("opened a store on a database that is not there");
    };
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}/feeds")), "{msg}");
    assert!(msg.contains("connecting"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn a_lost_connection_is_made_again_and_nothing_is_lost() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    let url = a.url.clone().unwrap();
    put(
        &a.store,
        "https://a.example/f",
        &[story("a", 1, true)],
        now(),
    );
    // The server ends every other session on the database, the applier's
    // among them.
    block_on(async {
        let client = super::connect(&url).await.unwrap();
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
    });
    // Changes fail until the applier is back, then go through.
    let deadline = Instant::now() + Duration::from_secs(30);
    let n = near();
    let entries = [story("a", 2, true)];
    let keys = crate::dedup::keys::keys_for("https://a.example/f", None, &entries);
    let source = crate::model::Source {
        feed_url: "https://a.example/f".into(),
        ..Default::default()
    };
    loop {
        match a.store.ingest_near(
            &source,
            &entries,
            &keys,
            &Default::default(),
            now(),
            Some(&n),
        ) {
            Ok(stats) => {
                assert_eq!(stats.new, 1);
                break;
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        StoreError::DatabaseUnreachable { .. } | StoreError::Postgres { .. }
                    ),
                    "{e}"
                );
                assert!(Instant::now() < deadline, "never reconnected: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    assert_eq!(a.store.item_count(), 2);
    let fresh = Fixture::replica(&url);
    assert_eq!(export(&fresh.store), export(&a.store));
}

#[test]
fn another_process_s_changes_are_told() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    let b = Fixture::replica(a.url.as_deref().unwrap());
    let mut told = b.store.changes().unwrap();
    let before = *told.borrow_and_update();
    put(
        &a.store,
        "https://a.example/f",
        &[story("a", 1, true)],
        now(),
    );
    block_on(async {
        tokio::time::timeout(Duration::from_secs(20), told.changed())
            .await
            .expect("b was told of a's change")
            .unwrap();
    });
    assert!(*told.borrow() > before);
    assert_eq!(b.store.item_count(), 1);
}

#[test]
fn a_store_moved_to_postgres_and_back_exports_the_same() {
    let Some(url) = fresh_database() else {
        return;
    };
    let from = Fixture::sled();
    for i in 0..6 {
        put(
            &from.store,
            "https://a.example/f",
            &[story("a", i, i < 3)],
            now(),
        );
        put(
            &from.store,
            "https://b.example/f",
            &[story("b", i, i < 3)],
            now(),
        );
    }
    let story_id = from
        .store
        .newest(10, |i| i.sources.len() == 2)
        .unwrap()
        .remove(0)
        .id;
    from.store
        .split(story_id, "https://b.example/f", now())
        .unwrap();
    let before = export(&from.store);
    let items = from.store.item_count();
    let Fixture { store, dir, .. } = from;
    drop(store);

    let config = |path: &std::path::Path, backend: &str| {
        let text = format!(
            "[storage]\npath = {:?}\n{backend}",
            path.display().to_string()
        );
        crate::config::parse(&path.join("rafid.toml"), &text).unwrap()
    };
    let sled_config = config(dir.path(), "");
    let n =
        crate::cli::commands::migrate(&sled_config, crate::cli::MigrateTo::Postgres, Some(&url))
            .unwrap();
    assert_eq!(n, items);
    // A second copy into the same database is refused, and adds nothing.
    assert!(
        crate::cli::commands::migrate(&sled_config, crate::cli::MigrateTo::Postgres, Some(&url))
            .is_err()
    );
    let other = Fixture::replica(&url);
    assert_eq!(export(&other.store), before);
    let records = *other.store.changes().unwrap().borrow();
    assert_eq!(records, 1, "the log holds the import alone");
    drop(other);

    let back = tempfile::tempdir().unwrap();
    let pg_config = config(
        back.path(),
        &format!("backend = \"postgres\"\nurl = {url:?}\n"),
    );
    crate::cli::commands::migrate(&pg_config, crate::cli::MigrateTo::Sled, None).unwrap();
    let returned = Store::open(back.path(), "test").unwrap();
    assert_eq!(export(&returned), before);
    assert!(returned.check().unwrap().is_empty());
}

/// The log's first record and the records snapshots were taken after.
fn log_bounds(url: &str) -> (Option<i64>, Vec<i64>) {
    block_on(async {
        let client = super::connect(url).await.unwrap();
        let first: Option<i64> = client
            .query_one("SELECT min(seq) FROM rafid_log", &[])
            .await
            .unwrap()
            .get(0);
        let snapshots = client
            .query("SELECT DISTINCT seq FROM rafid_snapshots ORDER BY seq", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (first, snapshots)
    })
}

#[test]
fn the_log_is_compacted_and_a_new_replica_starts_from_its_snapshot() {
    let Some(a) = Fixture::postgres() else {
        return;
    };
    let url = a.url.clone().unwrap();
    let feed = "https://a.example/f";
    let b = Fixture::replica(&url);
    // Records 1 to 12 (partitions of 8 in tests), a replica that stops at 3.
    for i in 0..3 {
        put(&a.store, feed, &[story("a", i, i % 2 == 0)], now());
    }
    let late = Fixture::replica(&url);
    settle(&[&a.store, &late.store]);
    let Fixture {
        store,
        dir: late_dir,
        ..
    } = late;
    drop(store);
    for i in 3..12 {
        put(&a.store, feed, &[story("a", i, i % 2 == 0)], now());
    }
    assert!(
        a.store.compact_now().unwrap(),
        "a snapshot after 12 records"
    );
    assert!(!a.store.compact_now().unwrap(), "none again so soon");
    assert_eq!(log_bounds(&url), (Some(1), vec![12]));
    for i in 12..30 {
        put(&b.store, feed, &[story("a", i, i % 2 == 0)], now());
    }
    settle(&[&a.store, &b.store]);
    assert!(
        a.store.compact_now().unwrap(),
        "a snapshot after 30 records"
    );
    // Snapshots after 12 and 30 are kept; the partition of records 1-8,
    // all before the older one, is dropped.
    assert_eq!(log_bounds(&url), (Some(9), vec![12, 30]));

    let fresh = Fixture::replica(&url);
    assert_eq!(export(&fresh.store), export(&a.store));
    for f in [&fresh, &b] {
        put(
            &f.store,
            "https://b.example/f",
            &[story("b", 40, true)],
            now(),
        );
    }
    settle(&[&a.store, &b.store, &fresh.store]);
    let text = export(&a.store);
    assert_eq!(export(&b.store), text);
    assert_eq!(export(&fresh.store), text);
    assert!(fresh.store.check().unwrap().is_empty());

    // The replica that stopped at record 3 cannot catch up from the log.
    let Err(e) = PgStore::open(late_dir.path(), &url, "test", 8 << 20, Some(near())) else {
        panic!("a replica behind the log's start was opened");
    };
    assert!(
        matches!(
            e,
            StoreError::ReplicaBehind {
                applied: 3,
                first: 9,
                ..
            }
        ),
        "{e}"
    );
}
