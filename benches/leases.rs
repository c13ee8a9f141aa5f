//! Lease claims per second on PostgreSQL: how fast pollers sharing one
//! database can hand out 100,000 feeds among themselves.
//!
//! Needs a database whose user may create databases:
//! `RAFID_BENCH_POSTGRES=postgres://… cargo bench --bench leases`, or
//! `benches/leases.sh`, which starts a throwaway cluster first. Without one
//! it says so and measures nothing.
//!
//! In one run it measures, on database `rafid_bench_leases`:
//! - the reference: `SELECT 1` round trips per second on one connection;
//! - every due feed claimed, in batches of 100, by 1, 2, 4 and 8 pollers
//!   (each its own connection), with a check that no feed went twice;
//! - a poll's end (`finish`: state written, lease ended) for 10,000 feeds,
//!   16 at once on one connection.
//!
//! Env: `FEEDS` (default 100000), `BATCH` (default 100).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rafid::model::FeedState;
use rafid::store::postgres::Leases;

const LEASE: Duration = Duration::from_secs(600);

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let Ok(base) = std::env::var("RAFID_BENCH_POSTGRES") else {
        eprintln!(
            "leases: RAFID_BENCH_POSTGRES is not set (see benches/leases.sh); nothing measured"
        );
        return;
    };
    let feeds = env_num("FEEDS", 100_000);
    let batch = env_num("BATCH", 100) as i64;

    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to RAFID_BENCH_POSTGRES");
    tokio::spawn(conn);
    for sql in [
        "DROP DATABASE IF EXISTS rafid_bench_leases",
        "CREATE DATABASE rafid_bench_leases",
    ] {
        admin.batch_execute(sql).await.expect(sql);
    }
    let mut url = url::Url::parse(&base).expect("RAFID_BENCH_POSTGRES is a URL");
    url.set_path("rafid_bench_leases");
    let url = url.to_string();

    // The reference: what one round trip costs here, now.
    let t = Instant::now();
    let mut trips = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        admin.query_one("SELECT 1", &[]).await.expect("SELECT 1");
        trips += 1;
    }
    let trips_per_s = trips as f64 / t.elapsed().as_secs_f64();
    println!("reference: SELECT 1 round trips, one connection: {trips_per_s:.0}/s");

    let seed = Leases::connect(&url, "seed").await.expect("connect");
    let urls: Vec<String> = (0..feeds)
        .map(|i| format!("http://host{}.bench/feed/{i}", i % 50))
        .collect();
    for chunk in urls.chunks(10_000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        seed.add_feeds(&refs).await.expect("add feeds");
    }
    let reset = || async {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        // Apart: a batch is one transaction, which VACUUM may not run in.
        for sql in [
            "UPDATE rafid_feeds SET lease_owner = NULL, lease_until = NULL, due_at = now()",
            "VACUUM ANALYZE rafid_feeds",
        ] {
            c.batch_execute(sql).await.expect(sql);
        }
    };

    println!("claims: {feeds} due feeds, batches of {batch}");
    println!("pollers  seconds  feeds/s  per round trip");
    for pollers in [1usize, 2, 4, 8] {
        reset().await;
        let mut handles = Vec::new();
        for p in 0..pollers {
            handles.push(Arc::new(
                Leases::connect(&url, &format!("bench-{p}"))
                    .await
                    .expect("connect"),
            ));
        }
        let t = Instant::now();
        let tasks: Vec<_> = handles
            .iter()
            .map(|l| {
                let l = l.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = l.claim(batch, LEASE).await.expect("claim");
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|c| c.url));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::with_capacity(feeds);
        for task in tasks {
            for u in task.await.expect("claimer") {
                assert!(seen.insert(u), "a feed was claimed twice");
            }
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(seen.len(), feeds, "every feed claimed");
        let rate = feeds as f64 / secs;
        println!(
            "{pollers:>7}  {secs:>7.2}  {rate:>7.0}  {:>14.1}",
            rate / trips_per_s
        );
    }

    // A poll's end, for part of the feeds: one statement each.
    reset().await;
    let finisher = Arc::new(Leases::connect(&url, "finisher").await.expect("connect"));
    let n = feeds.min(10_000);
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let got = finisher
            .claim(batch.min((n - held.len()) as i64), LEASE)
            .await
            .expect("claim");
        held.extend(got.into_iter().map(|c| c.url));
    }
    let state = FeedState {
        etag: Some("\"bench\"".into()),
        ..FeedState::default()
    };
    let due = chrono::Utc::now() + chrono::Duration::hours(1);
    let t = Instant::now();
    let held = Arc::new(held);
    let tasks: Vec<_> = (0..16)
        .map(|k| {
            let (f, held, state) = (finisher.clone(), held.clone(), state.clone());
            tokio::spawn(async move {
                for u in held.iter().skip(k).step_by(16) {
                    assert!(f.finish(u, &state, due).await.expect("finish"));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("finisher");
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "finish: {n} feeds, 16 at once on one connection: {secs:.2} s, {:.0} feeds/s",
        n as f64 / secs
    );
}
