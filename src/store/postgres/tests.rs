//! Tests against a real PostgreSQL, run when `RAFID_TEST_POSTGRES` names a
//! database whose user may create databases (`.ci/postgres.sh` starts
//! one). Each test works in a database of its own, made for it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::model::FeedState;

/// `suite::fresh_database`, from an async test.
async fn fresh_database() -> Option<String> {
    tokio::task::spawn_blocking(crate::store::suite::fresh_database)
        .await
        .unwrap()
}

fn feeds(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("http://h{}.test/feed/{i}", i % 7))
        .collect()
}

async fn add(leases: &Leases, urls: &[String]) {
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    leases.add_feeds(&refs).await.unwrap();
}

#[test]
fn the_database_is_named_without_its_user_or_password() {
    let d = describe("postgres://rafid:s3cret@db.internal:6432/feeds?sslmode=disable");
    assert_eq!(d, "postgres://db.internal:6432/feeds");
    assert!(!describe("postgres://u:s3cret@%zz").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pollers_started_together_migrate_once() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move { Leases::connect(&url, &format!("p{i}")).await })
        })
        .collect();
    for s in starts {
        s.await.unwrap().unwrap();
    }
    let client = connect(&url).await.unwrap();
    let rows = client
        .query("SELECT version FROM rafid_schema ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=PG_SCHEMA_VERSION).collect::<Vec<_>>());
    // A later start finds the schema current and changes nothing.
    Leases::connect(&url, "p9").await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM rafid_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, PG_SCHEMA_VERSION as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_a_newer_rafid_migrated_is_refused() {
    let Some(url) = fresh_database().await else {
        return;
    };
    Leases::connect(&url, "p").await.unwrap();
    let client = connect(&url).await.unwrap();
    client
        .execute("INSERT INTO rafid_schema (version) VALUES (99)", &[])
        .await
        .unwrap();
    let Err(e) = Leases::connect(&url, "p").await else {
        panic!("a database at schema version 99 was accepted");
    };
    let msg = e.to_string();
    assert!(
        matches!(e, StoreError::DatabaseSchema { found: 99, .. }),
        "{msg}"
    );
    assert!(msg.contains(&describe(&url)), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pollers_claim_every_due_feed_once() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let all = feeds(1000);
    let first = Leases::connect(&url, "p0").await.unwrap();
    add(&first, &all).await;
    let mut pollers = vec![Arc::new(first)];
    for i in 1..3 {
        pollers.push(Arc::new(
            Leases::connect(&url, &format!("p{i}")).await.unwrap(),
        ));
    }
    let start = Arc::new(tokio::sync::Barrier::new(pollers.len()));
    let runs: Vec<_> = pollers
        .iter()
        .map(|p| {
            let (p, start) = (p.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                loop {
                    let batch = p.claim(37, Duration::from_secs(60)).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|c| c.url));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for r in runs {
        for url in r.await.unwrap() {
            assert!(seen.insert(url.clone()), "{url} was claimed twice");
        }
    }
    assert_eq!(seen, all.into_iter().collect::<HashSet<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_is_taken_over_and_its_old_owner_fenced_off() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let a = Leases::connect(&url, "a").await.unwrap();
    let b = Leases::connect(&url, "b").await.unwrap();
    let all = feeds(5);
    add(&a, &all).await;
    assert_eq!(
        a.claim(100, Duration::from_millis(800))
            .await
            .unwrap()
            .len(),
        5
    );
    assert!(
        b.claim(100, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    // `a` stalls past its lease; `b` takes the feeds over.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let taken = b.claim(100, Duration::from_secs(60)).await.unwrap();
    assert_eq!(taken.len(), 5);
    assert!(taken.iter().all(|c| c.state.is_none()));
    let stale = FeedState {
        etag: Some("\"stale\"".into()),
        ..FeedState::default()
    };
    let due = Utc::now() + chrono::Duration::hours(1);
    assert!(!a.finish(&all[0], &stale, due).await.unwrap());
    assert!(
        a.renew(&[all[0].as_str()], Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    let fresh = FeedState {
        etag: Some("\"fresh\"".into()),
        consecutive_failures: 2,
        ..FeedState::default()
    };
    assert!(b.finish(&all[0], &fresh, due).await.unwrap());
    assert_eq!(a.feed_state(&all[0]).await.unwrap(), Some(fresh.clone()));
    // Finished, the feed is not due again before `due`; released, it is
    // due at once, with the state any poller then reads.
    assert!(b.release(&all[1]).await.unwrap());
    let c = Leases::connect(&url, "c").await.unwrap();
    let again: Vec<String> = c
        .claim(100, Duration::from_secs(60))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.url)
        .collect();
    assert_eq!(again, vec![all[1].clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_lease_is_kept() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let a = Leases::connect(&url, "a").await.unwrap();
    let b = Leases::connect(&url, "b").await.unwrap();
    let all = feeds(3);
    add(&a, &all).await;
    a.claim(100, Duration::from_millis(800)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(
        a.renew(&refs, Duration::from_secs(60)).await.unwrap().len(),
        3
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        b.claim(100, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_holds_across_pollers() {
    let Some(url) = fresh_database().await else {
        return;
    };
    const PER_HOST: i32 = 2;
    let busy = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for p in 0..3 {
        let poller = Arc::new(Leases::connect(&url, &format!("p{p}")).await.unwrap());
        for _ in 0..4 {
            let (poller, busy, most) = (poller.clone(), busy.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..8 {
                    let slot = poller
                        .wait_host_slot("news.test", PER_HOST, Duration::from_secs(60))
                        .await
                        .unwrap();
                    let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    busy.fetch_sub(1, Ordering::SeqCst);
                    poller.free_host_slot(&slot).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), PER_HOST as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_pollers_host_slots_lapse() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let a = Leases::connect(&url, "a").await.unwrap();
    let b = Leases::connect(&url, "b").await.unwrap();
    let short = Duration::from_millis(600);
    for _ in 0..2 {
        assert!(matches!(
            a.take_host_slot("h.test", 2, short).await.unwrap(),
            Slot::Held(_)
        ));
    }
    assert_eq!(
        b.take_host_slot("h.test", 2, short).await.unwrap(),
        Slot::Busy
    );
    // Another host is not held up.
    assert!(matches!(
        b.take_host_slot("other.test", 2, short).await.unwrap(),
        Slot::Held(_)
    ));
    // `a` dies holding both; they lapse.
    drop(a);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(matches!(
        b.take_host_slot("h.test", 2, short).await.unwrap(),
        Slot::Held(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_pauses_the_host_for_every_poller() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let a = Leases::connect(&url, "a").await.unwrap();
    let b = Leases::connect(&url, "b").await.unwrap();
    let until = Utc::now() + chrono::Duration::seconds(30);
    a.pause_host("slow.test", until).await.unwrap();
    // A shorter pause asked later does not shorten it.
    b.pause_host("slow.test", Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let Slot::Paused(got) = b
        .take_host_slot("slow.test", 4, Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("a paused host gave a slot");
    };
    assert!(
        (got - until).num_milliseconds().abs() < 5,
        "{got} vs {until}"
    );
    assert!(matches!(
        b.take_host_slot("fast.test", 4, Duration::from_secs(60))
            .await
            .unwrap(),
        Slot::Held(_)
    ));
    // A pause that has passed holds nobody up.
    a.pause_host("was.test", Utc::now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert!(matches!(
        b.take_host_slot("was.test", 4, Duration::from_secs(60))
            .await
            .unwrap(),
        Slot::Held(_)
    ));
}
