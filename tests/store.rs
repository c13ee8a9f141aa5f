//! The store over time: retention without resurrection, export and import,
//! index checks, and errors that name the path.

mod common;

use chrono::{Duration, Utc};
use common::rss::{Feed, Item};
use common::{FeedServer, serve_standard, write_config};
use rafid::cli::poll::poll_once;
use rafid::config::{self, Config};
use rafid::store::Store;

fn load(path: &std::path::Path) -> Config {
    config::load(path).unwrap()
}

fn feed_doc(items: &[u32]) -> String {
    let now = Utc::now();
    Feed::new("أرشيف")
        .link("https://arch.example/")
        .items(items.iter().map(|i| {
            Item::new(
                &format!("g{i}"),
                &format!("الخبر رقم {i}"),
                &format!("https://arch.example/n/{i}"),
            )
            .body(&format!("نص الخبر رقم {i} كما نشره الموقع"))
            .date(now - Duration::days(i64::from(100 - i)))
        }))
        .rss()
}

fn stored_guids(cfg: &Config) -> Vec<String> {
    let store = Store::open(&cfg.storage.path, "test").unwrap();
    let mut v: Vec<String> = store
        .newest(1000, |_| true)
        .unwrap()
        .into_iter()
        .map(|i| i.sources[0].guid.clone().unwrap())
        .collect();
    v.sort();
    v
}

fn export_text(cfg: &Config) -> String {
    let store = Store::open(&cfg.storage.path, "test").unwrap();
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_items_do_not_come_back_while_their_feed_lists_them() {
    let server = FeedServer::start().await;
    server.put("/a.xml", feed_doc(&[1, 2, 3, 4, 5]), "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/a.xml");
    let cfg = load(&write_config(
        dir.path(),
        &[(url.as_str(), &[])],
        "[storage]\nmax_items_per_feed = 2\n",
    ));
    // write_config puts [storage] path first; the extra table adds to it.
    let first = poll_once(cfg.clone()).await.unwrap();
    assert_eq!((first.stats.new, first.pruned), (5, 3));
    assert_eq!(stored_guids(&cfg), vec!["g4", "g5"]);

    // The feed changes (a new item) but still lists the pruned ones: they
    // are recognised, not stored again.
    server.put(
        "/a.xml",
        feed_doc(&[1, 2, 3, 4, 5, 6]),
        "application/rss+xml",
    );
    let second = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(second.stats.new, 1, "{second:?}");
    assert_eq!(second.stats.pruned_seen, 3);
    assert_eq!(stored_guids(&cfg), vec!["g5", "g6"]);
    assert_eq!(export_text(&cfg).matches("\"kind\":\"seen\"").count(), 4);

    // Once the feed stops listing them, the seen records go.
    server.put("/a.xml", feed_doc(&[5, 6]), "application/rss+xml");
    poll_once(cfg.clone()).await.unwrap();
    assert_eq!(export_text(&cfg).matches("\"kind\":\"seen\"").count(), 0);

    let store = Store::open(&cfg.storage.path, "test").unwrap();
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_and_max_items_prune() {
    let server = FeedServer::start().await;
    server.put(
        "/a.xml",
        feed_doc(&[10, 50, 90, 95, 99]),
        "application/rss+xml",
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/a.xml");
    let cfg = load(&write_config(
        dir.path(),
        &[(url.as_str(), &[])],
        "[storage]\nmax_age = \"30d\"\n",
    ));
    let s = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(s.pruned, 2, "items 90, 60 days old go");
    assert_eq!(stored_guids(&cfg), vec!["g90", "g95", "g99"]);

    let dir2 = tempfile::tempdir().unwrap();
    let cfg2 = load(&write_config(
        dir2.path(),
        &[(url.as_str(), &[])],
        "[storage]\nmax_items = 1\n",
    ));
    poll_once(cfg2.clone()).await.unwrap();
    assert_eq!(stored_guids(&cfg2), vec!["g99"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_export_is_identical() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &[][..])).collect();
    let cfg = load(&write_config(dir.path(), &feeds, ""));
    poll_once(cfg.clone()).await.unwrap();
    let exported = export_text(&cfg);
    assert!(exported.starts_with("{\"kind\":\"store\""));
    assert_eq!(
        exported.matches("\"kind\":\"item\"").count(),
        common::STANDARD_UNIQUE_ITEMS
    );
    assert_eq!(exported.matches("\"kind\":\"feed\"").count(), 4);

    let dir2 = tempfile::tempdir().unwrap();
    let cfg2 = load(&write_config(dir2.path(), &feeds, ""));
    {
        let store = Store::open(&cfg2.storage.path, "test").unwrap();
        let n = store.import(exported.as_bytes()).unwrap();
        assert_eq!(n, common::STANDARD_UNIQUE_ITEMS);
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
        // Importing twice is refused: the store is no longer empty.
        assert!(store.import(exported.as_bytes()).is_err());
    }
    assert_eq!(export_text(&cfg2), exported);
    // The restored store renders the same feed, ids included.
    let render = |c: &Config| {
        let store = Store::open(&c.storage.path, "test").unwrap();
        rafid::publish::render_from_store(
            &store,
            c,
            &rafid::publish::Scope::All,
            rafid::publish::Format::Atom,
            100,
        )
        .unwrap()
        .body
    };
    assert_eq!(render(&cfg), render(&cfg2));
    // And a restarted poll finds nothing new.
    let again = poll_once(cfg2.clone()).await.unwrap();
    assert_eq!(again.stats.new, 0);
}

#[test]
fn a_bad_import_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let err = store
        .import("{\"kind\":\"store\",\"schema_version\":1,\"store_id\":\"00112233445566778899aabbccddeeff\"}\nnot json\n".as_bytes())
        .unwrap_err();
    assert!(err.to_string().starts_with("line 2: "), "{err}");
}

#[test]
fn an_unusable_store_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file.join("data"), "test")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&file.join("data").display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_feeds_read_the_per_feed_indexes_in_the_same_order() {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = vec![
        (urls[0].as_str(), &["ar"][..]),
        (urls[1].as_str(), &["en"][..]),
        (urls[2].as_str(), &["ar"][..]),
        (urls[3].as_str(), &["ar", "en"][..]),
    ];
    let cfg = load(&write_config(dir.path(), &feeds, ""));
    poll_once(cfg.clone()).await.unwrap();
    let store = Store::open(&cfg.storage.path, "test").unwrap();
    for tag in ["ar", "en"] {
        let scope = rafid::publish::Scope::Tag(tag.into());
        let want: Vec<_> = store
            .newest(1000, |i| rafid::publish::in_scope(&cfg, &scope, i))
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        let tag_feeds: Vec<&str> = cfg.feeds_tagged(tag).map(|f| f.key()).collect();
        let got: Vec<_> = store
            .newest_in_feeds(&tag_feeds, 1000)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "{tag}");
        let two: Vec<_> = store
            .newest_in_feeds(&tag_feeds, 2)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(two, want[..2].to_vec(), "{tag}: limit");
    }
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

/// Unpacks the store the previous schema's rafid wrote (see
/// tests/fixtures/store-v1/README.md) into the state directory `dir`.
fn unpack_store_v1(dir: &std::path::Path) {
    use std::io::Read;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name == "conf" || name.starts_with("snap.") {
            std::fs::copy(&path, store.join(&name)).unwrap();
        }
    }
    let mut db = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture.join("db.gz")).unwrap())
        .read_to_end(&mut db)
        .unwrap();
    std::fs::write(store.join("db"), db).unwrap();
}

fn check_upgraded(store: &Store) {
    let items = store.newest(10, |_| true).unwrap();
    assert_eq!(items.len(), 2);
    for item in &items {
        let first = item.sources[0]
            .copy
            .as_ref()
            .expect("the shown member's copy");
        assert_eq!(first.title, item.title);
        assert_eq!(first.summary, item.summary);
        assert_eq!(first.revision, item.revision);
        let local = first.local_key.as_ref().expect("its local key");
        assert!(item.keys.contains(local), "{item:#?}");
        // The other members' text was never kept.
        assert!(item.sources[1..].iter().all(|s| s.copy.is_none()));
    }
    let merged = items.iter().find(|i| i.sources.len() == 2).unwrap();
    assert_eq!(
        merged.title.as_deref(),
        Some("وصول الطائرة السادسة إلى عدن")
    );
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

#[test]
fn a_store_of_schema_version_1_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    unpack_store_v1(dir.path());
    let export = {
        let store = Store::open(dir.path(), "test").unwrap();
        assert_eq!(store.schema_version().unwrap().as_deref(), Some("4"));
        check_upgraded(&store);
        let mut out = Vec::new();
        store.export(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("{\"kind\":\"store\",\"schema_version\":2,"),
            "{text}"
        );
        assert_eq!(text.matches("\"copy\":").count(), 2, "{text}");
        // An upgrade cut short before the version was written runs again.
        store.stamp_schema_version("1").unwrap();
        store.flush().unwrap();
        text
    };
    let store = Store::open(dir.path(), "test").unwrap();
    check_upgraded(&store);
    let mut again = Vec::new();
    store.export(&mut again).unwrap();
    assert_eq!(String::from_utf8(again).unwrap(), export);

    // The previous release's export imports, and gives the same store.
    let fresh = tempfile::tempdir().unwrap();
    let imported = Store::open(fresh.path(), "test").unwrap();
    let old_export = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/store-v1/export.jsonl"),
    )
    .unwrap();
    assert_eq!(imported.import(&old_export[..]).unwrap(), 2);
    check_upgraded(&imported);
    let mut reexport = Vec::new();
    imported.export(&mut reexport).unwrap();
    assert_eq!(String::from_utf8(reexport).unwrap(), export);
}

/// An export of the standard feeds, and the feeds it came from.
async fn standard_export() -> (String, Vec<String>, FeedServer) {
    let server = FeedServer::start().await;
    let urls = serve_standard(&server);
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(&str, &[&str])> = urls.iter().map(|u| (u.as_str(), &[][..])).collect();
    let cfg = load(&write_config(dir.path(), &feeds, ""));
    poll_once(cfg.clone()).await.unwrap();
    (export_text(&cfg), urls, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_imports_nothing_and_the_good_file_is_then_accepted() {
    let (good, _urls, _server) = standard_export().await;
    let mut lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() > 5 && lines[3].contains("\"kind\":\"item\""));
    lines[3] = "{\"kind\":\"item\",\"id\":\"not an item\"}";
    let bad = lines.join("\n") + "\n";

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let err = store.import(bad.as_bytes()).unwrap_err().to_string();
    assert!(err.starts_with("line 4: "), "{err}");
    let mut after = Vec::new();
    store.export(&mut after).unwrap();
    let after = String::from_utf8(after).unwrap();
    assert_eq!(after.lines().count(), 1, "only the store line: {after}");
    assert_eq!(
        store.import(good.as_bytes()).unwrap(),
        common::STANDARD_UNIQUE_ITEMS
    );
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_with_an_item_twice_is_refused_naming_the_line() {
    let (good, _urls, _server) = standard_export().await;
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines[1].contains("\"kind\":\"item\""));
    let twice = format!("{good}{}\n", lines[1]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let err = store.import(twice.as_bytes()).unwrap_err().to_string();
    let last = lines.len() + 1;
    assert!(
        err.starts_with(&format!("line {last}: item ")) && err.contains("already on line 2"),
        "{err}"
    );
    let mut after = Vec::new();
    store.export(&mut after).unwrap();
    assert_eq!(String::from_utf8(after).unwrap().lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_changes_every_guid_stays_under_its_cap() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/churn.xml");
    let cfg = load(&write_config(
        dir.path(),
        &[(url.as_str(), &[])],
        "[storage]\nmax_items_per_feed = 15\n",
    ));
    rafid::ingest::fetch::install_tls_provider();
    let store = Store::open(&cfg.storage.path, "test").unwrap();
    let fetcher = std::sync::Arc::new(rafid::ingest::fetch::Fetcher::new(&cfg.poll).unwrap());
    let poller =
        rafid::ingest::poll::Poller::new(std::sync::Arc::new(cfg.clone()), store.clone(), fetcher);
    let token = tokio_util::sync::CancellationToken::new();
    // Each poll, twelve items never seen before; no retention run between.
    for round in 0..4u32 {
        let guids: Vec<u32> = (round * 12 + 1..=round * 12 + 12).collect();
        server.put("/churn.xml", feed_doc(&guids), "application/rss+xml");
        let report = poller.poll(&cfg.feeds[0], &token).await;
        assert!(
            report.changed_store(),
            "round {round}: {:?}",
            report.outcome
        );
        let stored = store.newest(1000, |_| true).unwrap();
        assert!(stored.len() <= 15, "round {round}: {} items", stored.len());
        // The newest stay.
        let newest = format!("g{}", round * 12 + 12);
        assert!(
            stored
                .iter()
                .any(|i| i.sources[0].guid.as_deref() == Some(&newest))
        );
        let states = store.feed_states().unwrap();
        assert_eq!(states[0].1.churning_polls, round + 1, "round {round}");
    }
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
    // A document with nothing new ends the streak.
    server.put("/churn.xml", feed_doc(&[40, 41]), "application/rss+xml");
    poller.poll(&cfg.feeds[0], &token).await;
    assert_eq!(store.feed_states().unwrap()[0].1.churning_polls, 0);
    // Without the key, the cap is 10000.
    let default = config::parse(std::path::Path::new("t.toml"), "").unwrap();
    assert_eq!(default.storage.max_items_per_feed, Some(10_000));
}
