//! Store benchmarks: `cargo bench --bench store`.
//!
//! In one run:
//! - **ingest**: items stored per second through `Store::ingest_near` with
//!   near-duplicate detection on, as the default config runs it (every index,
//!   one transaction per document of 20 entries, as one feed document); the
//!   same with detection off (`store_ingest_20_exact_only`) as a reference;
//!   beside raw sled: the same items' serialized bytes
//!   (`serde_json::to_vec(&item)`) put into one plain sled tree, 20 at a time
//!   with `apply_batch`, on a sled configured as the store configures it. All
//!   store into a growing database.
//!   `dedup::keys_for` (computed outside the timed part of ingest) is timed on its own;
//! - **bytes on disk per item** after a flush (the store directory's files,
//!   apparent size and blocks allocated), for the stores built here;
//! - **render**: `publish::render_from_store` of the newest 100 items as Atom,
//!   from a store of 10k items and from one of 1M items. Both are built once
//!   per run in a temporary directory with bulk ingest (1000 entries per
//!   `ingest` call); the build time, size on disk and the process's RSS (VmRSS,
//!   and the peak VmHWM) after the build are printed, and a fresh process
//!   (this binary again, with `RAFID_BENCH_REOPEN=DIR`) opens the store and
//!   renders from it, printing the time to open and its RSS: what a daemon
//!   restarting on such a store needs;
//! - **ingest into the big store**: after the 1M-item store is reopened,
//!   300 documents of 20 new items with near-duplicates on go into it, and
//!   the same into an empty store right after: the two rates, and how long
//!   the first document into each took (it waits for the near-duplicate
//!   index).
//!
//! The entries are news items with Arabic (60%) or English titles and HTML
//! bodies of about 2 KB, one author, two categories, and dates spread over a
//! year. After criterion's own report, a summary prints the mean of every
//! timed iteration (warm-up included) and the ratios.
//!
//! Environment:
//! - `RAFID_BENCH_1M=0` skips the 1M-item store (the rest takes ~2 minutes);
//! - `RAFID_BENCH_BIG=N` builds a store of N items instead of 1M;
//! - `RAFID_BENCH_DIR=PATH` puts the temporary stores under PATH (default: the
//!   system temp dir; the 1M store needs some GB).
//! - `RAFID_BENCH_KEEP=1` keeps the big store (its path is printed), for
//!   `benches/restart.sh` to start a daemon on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rafid::dedup::keys::keys_for;
use rafid::dedup::near::NearDup;
use rafid::model::{Entry, FeedState, Item};
use rafid::publish::{Format, Scope, render_from_store};
use rafid::store::Store;

/// Entries per `ingest` call in the ingest benchmark: one feed document.
const DOC: usize = 20;
/// Entries per `ingest` call when building the render stores.
const BULK: usize = 1000;
/// Feeds the items are spread over.
const FEEDS: u64 = 200;
/// sled's page cache for the raw tree: what `Store::open` gives its database.
const CACHE_BYTES: u64 = 64 << 20;

mod items;

use items::{Doc, doc, entry, epoch, feed_url, item_as_stored};

// ---------------------------------------------------------------------------
// Measuring around criterion: every timed iteration is also added here, so the
// summary can print means and ratios.

static TIMINGS: Mutex<BTreeMap<String, (Duration, u64)>> = Mutex::new(BTreeMap::new());
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(name: &str, took: Duration, iters: u64) {
    let mut t = TIMINGS.lock().unwrap();
    let e = t.entry(name.to_string()).or_default();
    e.0 += took;
    e.1 += iters;
}

fn mean(name: &str) -> Option<Duration> {
    let t = TIMINGS.lock().unwrap();
    t.get(name)
        .filter(|(_, n)| *n > 0)
        .map(|(d, n)| d.div_f64(*n as f64))
}

fn note(s: String) {
    eprintln!("{s}");
    NOTES.lock().unwrap().push(s);
}

/// (apparent bytes, allocated bytes) of every file under `dir`.
fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                let (a, b) = disk_usage(&e.path());
                total.0 += a;
                total.1 += b;
            } else {
                total.0 += m.len();
                total.1 += m.blocks() * 512;
            }
        }
    }
    total
}

/// VmRSS and VmHWM of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn disk_note(label: &str, dir: &Path, items: usize) {
    if items == 0 {
        return; // the benchmark was filtered out
    }
    let (apparent, allocated) = disk_usage(dir);
    note(format!(
        "{label}: {items} items, on disk {:.1} MiB apparent / {:.1} MiB allocated = {:.0} / {:.0} bytes per item",
        mib(apparent),
        mib(allocated),
        apparent as f64 / items.max(1) as f64,
        allocated as f64 / items.max(1) as f64,
    ));
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    match std::env::var_os("RAFID_BENCH_DIR") {
        Some(d) => b.tempdir_in(d),
        None => b.tempdir(),
    }
    .expect("a temporary directory")
}

// ---------------------------------------------------------------------------
// Benchmarks

/// One ingest benchmark into a store of its own, growing as it runs; `near`
/// is the near-duplicate detection given to `Store::ingest_near` (`None`:
/// off).
fn ingest_variant(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    disk_label: &str,
    near: Option<&NearDup>,
) {
    let now = epoch();
    let state = FeedState::default();
    let dir = temp_dir("rafid-bench-ingest");
    let store = Store::open(dir.path(), "bench").expect("store");
    let mut next = 0u64;
    let (mut merged, mut stored) = (0usize, 0usize);
    let timing = format!("ingest/{name}");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let d = doc(next, DOC);
                next += DOC as u64;
                let t = Instant::now();
                let stats = store
                    .ingest_near(&d.source, &d.entries, &d.keys, &state, now, near)
                    .expect("ingest");
                took += t.elapsed();
                // With detection on, an entry may join a stored story
                // instead of making an item: either way it is stored.
                assert_eq!(stats.new + stats.merged, DOC, "every entry is stored");
                merged += stats.merged;
                stored += DOC;
            }
            record(&timing, took, iters);
            took
        })
    });
    note(format!(
        "{name}: {merged} of {stored} entries merged into a stored story"
    ));
    store.flush().expect("flush");
    disk_note(disk_label, dir.path(), store.item_count());
}

fn bench_ingest(c: &mut Criterion) {
    let now = epoch();
    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(DOC as u64));

    // Through the store as the daemon runs it by default: every index, one
    // transaction per document, and near-duplicate detection on (the
    // default config's `NearDup`), so each new item is also looked up in
    // the in-memory index of the window's items.
    let config = rafid::config::parse(Path::new("b.toml"), "").expect("the default config");
    assert!(
        config.dedup.near_duplicates,
        "near-duplicates are on by default"
    );
    let near = Some(config.near_dup().clone());
    ingest_variant(
        &mut group,
        "store_ingest_20",
        "store after the ingest benchmark (documents of 20)",
        near.as_ref(),
    );
    // The same with near-duplicates off (`[dedup] near_duplicates = false`):
    // the reference that shows what the detection costs.
    ingest_variant(
        &mut group,
        "store_ingest_20_exact_only",
        "store after the exact-only ingest benchmark (documents of 20)",
        None,
    );

    // Raw sled: the same serialized items into one tree, 20 per batch.
    let raw_dir = temp_dir("rafid-bench-raw");
    let db = sled::Config::new()
        .path(raw_dir.path().join("store"))
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(Some(200))
        .open()
        .expect("sled");
    let tree = db.open_tree("items").expect("tree");
    let mut next = 0u64;
    let (mut value_bytes, mut values_made) = (0u64, 0u64);
    group.bench_function("raw_sled_batch_20", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let d = doc(next, DOC);
                next += DOC as u64;
                let values: Vec<(Item, Vec<u8>)> = (0..DOC)
                    .map(|i| {
                        let item = item_as_stored(&d, i, now);
                        let v = serde_json::to_vec(&item).expect("json");
                        (item, v)
                    })
                    .collect();
                value_bytes += values.iter().map(|(_, v)| v.len() as u64).sum::<u64>();
                values_made += DOC as u64;
                let t = Instant::now();
                let mut batch = sled::Batch::default();
                for (item, v) in &values {
                    batch.insert(&item.id.0, v.as_slice());
                }
                tree.apply_batch(batch).expect("apply_batch");
                took += t.elapsed();
            }
            record("ingest/raw_sled_batch_20", took, iters);
            took
        })
    });
    db.flush().expect("flush");
    if values_made > 0 {
        note(format!(
            "an item serialized (serde_json::to_vec(&item)): {:.0} bytes on average",
            value_bytes as f64 / values_made as f64
        ));
    }
    disk_note(
        "raw sled tree after its benchmark (batches of 20)",
        raw_dir.path(),
        tree.len(),
    );
    drop(tree);
    drop(db);

    // The keys the store is given, computed outside the timed part above.
    let mut next = 0u64;
    group.bench_function("keys_for_20", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let feed = feed_url((next / DOC as u64) % FEEDS);
                let entries: Vec<Entry> = (next..next + DOC as u64).map(entry).collect();
                next += DOC as u64;
                let t = Instant::now();
                std::hint::black_box(keys_for(&feed, None, &entries));
                took += t.elapsed();
            }
            record("ingest/keys_for_20", took, iters);
            took
        })
    });
    group.finish();
}

/// Builds a store of `n` items with bulk ingest (1000 entries per call); the
/// documents are made on another thread while the store writes.
fn build_store(dir: &Path, n: u64) -> (Store, Duration) {
    let store = Store::open(dir, "bench").expect("store");
    let now = epoch();
    let state = FeedState::default();
    let t = Instant::now();
    let (tx, rx) = sync_channel::<Doc>(4);
    let producer = std::thread::spawn(move || {
        let mut first = 0;
        while first < n {
            let len = (n - first).min(BULK as u64) as usize;
            if tx.send(doc(first, len)).is_err() {
                return;
            }
            first += len as u64;
        }
    });
    let mut stored = 0usize;
    let mut last_report = Instant::now();
    for d in rx {
        let stats = store
            .ingest(&d.source, &d.entries, &d.keys, &state, now)
            .expect("ingest");
        stored += stats.new;
        if n >= 100_000 && last_report.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "   ... {stored} items in {:.0} s",
                t.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    producer.join().expect("producer");
    store.flush().expect("flush");
    assert_eq!(stored as u64, n, "every item is new");
    (store, t.elapsed())
}

fn label(n: u64) -> String {
    if n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// Runs this bench binary again with `RAFID_BENCH_REOPEN=dir`; returns the line it prints.
fn reopen_in_child(dir: &Path) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .env("RAFID_BENCH_REOPEN", dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The child of `reopen_in_child`: open the store, render the newest 100
/// (the first time, then 20 times more), print the times and the RSS.
fn reopen_child(dir: &Path) {
    let config = rafid::config::parse(Path::new("b.toml"), "").expect("the default config");
    let (rss0, _) = rss_kib();
    // The parent has just closed the store; sled lets its lock go from a
    // background thread, a moment later.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (store, opened) = loop {
        let t = Instant::now();
        match Store::open(dir, "bench") {
            Ok(store) => break (store, t.elapsed()),
            Err(rafid::store::StoreError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("reopen: {e}"),
        }
    };
    let (rss_open, _) = rss_kib();
    let t = Instant::now();
    let first = render_from_store(&store, &config, &Scope::All, Format::Atom, 100).expect("render");
    let first_render = t.elapsed();
    for _ in 0..20 {
        std::hint::black_box(
            render_from_store(&store, &config, &Scope::All, Format::Atom, 100).expect("render"),
        );
    }
    let (rss, hwm) = rss_kib();
    println!(
        "opened in {:.0} ms (RSS {:.0} MiB, {:.0} MiB before), first render of 100 in {:.1} ms \
         ({} KiB of Atom); RSS after 21 renders {:.0} MiB, peak {:.0} MiB",
        opened.as_secs_f64() * 1e3,
        rss_open as f64 / 1024.0,
        rss0 as f64 / 1024.0,
        first_render.as_secs_f64() * 1e3,
        first.body.len() / 1024,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );
}

/// Documents ingested into the big store and into an empty one, to compare.
const BIG_INGEST_DOCS: u64 = 300;

/// Ingests `BIG_INGEST_DOCS` documents of `DOC` new items, near-duplicates
/// on as by default, into `store` (`n` items, just reopened, as after a
/// daemon's restart) and the same documents into an empty store, one after
/// the other in this run, and notes both rates and how long each first
/// document took (it waits for the near-duplicate index to be ready).
fn ingest_into_big(store: &Store, n: u64) {
    let config = rafid::config::parse(Path::new("b.toml"), "").expect("the default config");
    let near = config.near_dup().clone();
    let state = FeedState::default();
    let run = |store: &Store| -> (Duration, Duration, usize) {
        let mut first_doc = Duration::ZERO;
        let mut rest = Duration::ZERO;
        let mut stored = 0;
        for i in 0..BIG_INGEST_DOCS {
            // Numbered past the big store's items: new to both stores.
            let d = doc(n + i * DOC as u64, DOC);
            let t = Instant::now();
            let stats = store
                .ingest_near(&d.source, &d.entries, &d.keys, &state, epoch(), Some(&near))
                .expect("ingest");
            let took = t.elapsed();
            assert_eq!(stats.new + stats.merged, DOC, "every entry is stored");
            stored += DOC;
            if i == 0 {
                first_doc = took;
            } else {
                rest += took;
            }
        }
        (first_doc, rest, stored - DOC)
    };
    let (big_first, big_rest, counted) = run(store);
    let empty_dir = temp_dir("rafid-bench-empty");
    let empty = Store::open(empty_dir.path(), "bench").expect("store");
    let (empty_first, empty_rest, _) = run(&empty);
    let rate = |d: Duration| counted as f64 / d.as_secs_f64();
    note(format!(
        "ingest into the store of {} items after it reopened, near-duplicates on, \
         {BIG_INGEST_DOCS} documents of {DOC}: {:.0} items/s, against {:.0} items/s into an \
         empty store in the same run ({:.0}%); the first document took {:.0} ms there \
         (the near-duplicate index made ready), {:.0} ms into the empty store",
        label(n),
        rate(big_rest),
        rate(empty_rest),
        100.0 * rate(big_rest) / rate(empty_rest),
        big_first.as_secs_f64() * 1e3,
        empty_first.as_secs_f64() * 1e3,
    ));
}

fn bench_render(c: &mut Criterion) {
    let config = rafid::config::parse(Path::new("b.toml"), "").expect("the default config");
    // `cargo test --benches` runs each benchmark once, without `--bench`:
    // no big store then.
    let benching = std::env::args().any(|a| a == "--bench");
    let big = match std::env::var("RAFID_BENCH_1M").as_deref() {
        _ if !benching => None,
        Ok("0") => None,
        _ => Some(
            std::env::var("RAFID_BENCH_BIG")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1_000_000),
        ),
    };
    let mut group = c.benchmark_group("render_newest_100");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    let mut sizes = vec![10_000u64];
    sizes.extend(big);
    // The big store first, so the RSS printed for it is not the leftovers of
    // the other benchmarks.
    sizes.reverse();
    for n in sizes {
        let name = label(n);
        let dir = temp_dir(&format!("rafid-bench-{name}"));
        let (rss0, _) = rss_kib();
        eprintln!(
            "building a store of {n} items in {} ...",
            dir.path().display()
        );
        let (store, took) = build_store(dir.path(), n);
        let (rss, hwm) = rss_kib();
        note(format!(
            "store of {name} items: built in {:.1} s ({:.0} items/s, bulk ingest of {BULK} per call); \
             RSS after build {:.0} MiB (peak {:.0} MiB; {:.0} MiB before)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            rss0 as f64 / 1024.0,
        ));
        disk_note(&format!("store of {name} items"), dir.path(), n as usize);
        drop(store);
        // What a process opening this store needs (a daemon restarting on
        // it): measured in a fresh process, free of this one's leftovers.
        match reopen_in_child(dir.path()) {
            Ok(line) => note(format!("store of {name} items, in a fresh process: {line}")),
            Err(e) => note(format!(
                "store of {name} items: the fresh-process measure failed: {e}"
            )),
        }
        let store = Store::open(dir.path(), "bench").expect("reopen");
        if Some(n) == big {
            ingest_into_big(&store, n);
        }
        group.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let r = render_from_store(&store, &config, &Scope::All, Format::Atom, 100)
                        .expect("render");
                    std::hint::black_box(r);
                }
                let took = t.elapsed();
                record(&format!("render_newest_100/{name}"), took, iters);
                took
            })
        });
        drop(store);
        if n == big.unwrap_or(0) && std::env::var_os("RAFID_BENCH_KEEP").is_some() {
            let kept = dir.keep();
            note(format!(
                "store of {name} items kept in {} (the state directory: `[storage] path`)",
                kept.display()
            ));
            continue;
        }
        let t = Instant::now();
        drop(dir);
        eprintln!(
            "removed the {name} store in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    group.finish();
}

fn summary() {
    eprintln!();
    eprintln!("== summary (means over every timed iteration, warm-up included)");
    for n in NOTES.lock().unwrap().iter() {
        eprintln!("{n}");
    }
    let per_item = |name: &str| mean(name).map(|d| d.as_secs_f64() / DOC as f64);
    let store = per_item("ingest/store_ingest_20");
    let exact_only = per_item("ingest/store_ingest_20_exact_only");
    let raw = per_item("ingest/raw_sled_batch_20");
    let keys = per_item("ingest/keys_for_20");
    if let Some(s) = store {
        eprintln!(
            "Store::ingest, documents of {DOC}, near-duplicates on (the default): {:.0} items/s ({:.1} µs per item)",
            1.0 / s,
            s * 1e6
        );
    }
    if let Some(e) = exact_only {
        eprintln!(
            "Store::ingest, documents of {DOC}, near-duplicates off: {:.0} items/s ({:.1} µs per item)",
            1.0 / e,
            e * 1e6
        );
    }
    if let Some(r) = raw {
        eprintln!(
            "raw sled apply_batch of {DOC} serialized items: {:.0} items/s ({:.1} µs per item)",
            1.0 / r,
            r * 1e6
        );
    }
    if let (Some(s), Some(r)) = (store, raw) {
        eprintln!(
            "ratio: the store ingests at 1/{:.1} of raw sled's rate",
            s / r
        );
    }
    if let Some(k) = keys {
        eprintln!(
            "dedup::keys_for (not in the ingest figure): {:.1} µs per item",
            k * 1e6
        );
    }
    let t = TIMINGS.lock().unwrap();
    let renders: Vec<(String, Duration)> = t
        .iter()
        .filter(|(k, (_, n))| k.starts_with("render_newest_100/") && *n > 0)
        .map(|(k, (d, n))| {
            (
                k["render_newest_100/".len()..].to_string(),
                *d / (*n as u32).max(1),
            )
        })
        .collect();
    drop(t);
    for (name, d) in &renders {
        eprintln!(
            "render newest 100 (Atom) from {name} items: {:.2} ms",
            d.as_secs_f64() * 1e3
        );
    }
    let small = renders.iter().find(|(n, _)| n == "10k").map(|(_, d)| *d);
    for (name, d) in renders.iter().filter(|(n, _)| n != "10k") {
        if let Some(s) = small {
            eprintln!(
                "ratio: render from {name} / from 10k = {:.2}",
                d.as_secs_f64() / s.as_secs_f64()
            );
        }
    }
}

fn main() {
    if let Some(dir) = std::env::var_os("RAFID_BENCH_REOPEN") {
        reopen_child(Path::new(&dir));
        return;
    }
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    bench_render(&mut c);
    bench_ingest(&mut c);
    c.final_summary();
    summary();
}
