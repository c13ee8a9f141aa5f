//! Opening the store: the state directory and its mode, sled's lock and
//! the holder file that names who has it, the page cache's size, and the
//! upgrade of a store an older rafid wrote.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_CACHE_BYTES, HALF_WRITTEN_KEY_SET, HALF_WRITTEN_NEAR, HALF_WRITTEN_OUTPUTS,
    SAVED_NEAR_INDEX, SAVED_OUTPUTS, SAVED_TOKENS, SCHEMA_VERSION, SledStore, Store, StoreError,
    UNCOUNTED, codec, keyset, split,
};
use crate::config::{Config, StorageBackend};
use crate::model::{Item, OutletCopy, hex};

/// Opens the store the config names, with its cache size.
pub fn open_store(config: &Config, command: &str) -> Result<Store, StoreError> {
    let s = &config.storage;
    match &s.backend {
        StorageBackend::Sled => Store::open_with(&s.path, command, s.cache),
        StorageBackend::Postgres { url } => {
            let near = config
                .dedup
                .near_duplicates
                .then(|| config.near_dup().clone());
            super::postgres::PgStore::open(&s.path, &url.0, command, s.cache, near).map(Store::new)
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store in the state directory `dir`.
    /// `command` names this process in the holder file (e.g. "rafid run").
    pub fn open(dir: &Path, command: &str) -> Result<Store, StoreError> {
        SledStore::open(dir, command).map(Store::new)
    }

    /// `open` with the backend's cache bounded to `cache_bytes`.
    pub fn open_with(dir: &Path, command: &str, cache_bytes: u64) -> Result<Store, StoreError> {
        SledStore::open_with(dir, command, cache_bytes).map(Store::new)
    }
}

/// Who holds the store: written to `rafid.pid` once the lock is ours.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    started: DateTime<Utc>,
}

/// Takes group and other permissions off `path` and everything under it.
/// Best effort: a file rafid cannot chmod is one it does not own, and its
/// owner chose its mode.
fn owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700));
    }
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                owner_only(&e.path());
            }
        }
    }
}

impl SledStore {
    /// Opens (creating if needed) the store in the state directory `dir`.
    /// `command` names this process in the holder file (e.g. "rafid run").
    pub fn open(dir: &Path, command: &str) -> Result<SledStore, StoreError> {
        SledStore::open_with(dir, command, DEFAULT_CACHE_BYTES)
    }

    /// `open` with sled's page cache bounded to `cache_bytes`.
    pub fn open_with(dir: &Path, command: &str, cache_bytes: u64) -> Result<SledStore, StoreError> {
        // sled releases its file lock from a background thread shortly after
        // the last handle is dropped, so this very process may still hold it
        // for a moment after closing the store. Only then is it worth waiting.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match SledStore::open_once(dir, command, cache_bytes) {
                Err(StoreError::Locked { .. })
                    if held_by_us(dir) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_once(dir: &Path, command: &str, cache_bytes: u64) -> Result<SledStore, StoreError> {
        // The store holds feed URLs with their secrets: only its owner may
        // look in. (systemd makes StateDirectory= so already.)
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        let db_path = dir.join("store");
        let db = sled::Config::new()
            .path(&db_path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(200))
            .open()
            .map_err(|e| {
                if is_lock_error(&e) {
                    StoreError::Locked {
                        path: db_path.clone(),
                        holder: describe_holder(dir),
                    }
                } else {
                    StoreError::Sled {
                        path: db_path.clone(),
                        source: e,
                    }
                }
            })?;
        // sled creates its files with the process umask (0644 with the
        // usual 022); the files it makes later (snapshots, blobs) sit in
        // these directories, which only the owner can enter.
        owner_only(&db_path);
        let sled_err = |source| StoreError::Sled {
            path: db_path.clone(),
            source,
        };
        let meta = db.open_tree("meta").map_err(sled_err)?;
        match meta.get("schema_version").map_err(sled_err)? {
            None => {
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(sled_err)?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_string().as_bytes() => {}
            // Version 4 only adds what version 3 lacks (new items' `uid`):
            // a version-3 store is a version-4 store as it stands. The
            // version is raised so that an older rafid, which would publish
            // new items under the ids they are stored under, refuses it.
            Some(v) if v.as_ref() == b"3" => {
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(sled_err)?;
                tracing::info!(
                    path = %db_path.display(),
                    "store upgraded from schema version 3 to {SCHEMA_VERSION}"
                );
            }
            Some(v) if v.as_ref() == b"1" || v.as_ref() == b"2" => {
                let from = if v.as_ref() == b"1" { 1 } else { 2 };
                let items = db.open_tree("items").map_err(sled_err)?;
                let started = std::time::Instant::now();
                let rewritten =
                    upgrade_items(&items, from).map_err(|detail| StoreError::Corrupt {
                        path: db_path.clone(),
                        tree: "items",
                        detail,
                    })?;
                // The version goes last: a crash before it runs the
                // upgrade again, which skips the items already done.
                db.flush().map_err(sled_err)?;
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(sled_err)?;
                db.flush().map_err(sled_err)?;
                tracing::info!(
                    path = %db_path.display(),
                    items = rewritten,
                    took_ms = started.elapsed().as_millis() as u64,
                    "store upgraded from schema version {from} to {SCHEMA_VERSION}"
                );
            }
            Some(v) => {
                let found = String::from_utf8_lossy(&v).into_owned();
                let newer = found.parse::<u32>().is_ok_and(|n| n > SCHEMA_VERSION);
                return Err(StoreError::Schema {
                    path: db_path,
                    found,
                    expected: SCHEMA_VERSION,
                    hint: if newer {
                        "it was written by a newer rafid: run that version, or export with it and import here"
                    } else {
                        "export it with the rafid that wrote it (rafid export) and import it here (rafid import)"
                    },
                });
            }
        }
        let store_id = match meta.get("store_id").map_err(sled_err)? {
            Some(v) if v.len() == 16 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&v);
                id
            }
            _ => {
                let id = super::unique_id(&dir.display().to_string());
                meta.insert("store_id", &id[..]).map_err(sled_err)?;
                id
            }
        };
        if meta.get("created").map_err(sled_err)?.is_none() {
            let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            meta.insert("created", now.as_bytes()).map_err(sled_err)?;
        }
        // The near index, the key filter and the feeds' cap a clean stop
        // saved are good for this open only: their tokens go, so that
        // after whatever this process writes, the next one rebuilds them
        // unless it too saves at a clean stop. The flush puts the removal
        // on disk before anything this process writes.
        let [near_token, key_set_token, caps] = match meta.remove(SAVED_TOKENS).map_err(sled_err)? {
            Some(v) => {
                db.flush().map_err(sled_err)?;
                super::saved_tokens(&v)
            }
            None => Default::default(),
        };
        let tree = |name: &str| db.open_tree(name).map_err(sled_err);
        let items = tree("items")?;
        let last_item = keyset::last_item_key(&items).map_err(sled_err)?;
        let key_set = keyset::read_saved(dir, key_set_token, &last_item).unwrap_or_default();
        let dropped = tree("dropped")?;
        let seen = tree("seen")?;
        let seen_by_feed = tree("seen_by_feed")?;
        // A `seen` record is written with its feeds' `seen_by_feed` keys,
        // and an ingest that lists a pruned item again writes those only
        // when the record is there.
        let may_hold_seen = super::MayHold::of(&seen_by_feed).map_err(sled_err)?;
        if !may_hold_seen.get() && seen.first().map_err(sled_err)?.is_some() {
            may_hold_seen.raise();
        }
        let store = SledStore {
            may_hold_drops: super::MayHold::of(&dropped).map_err(sled_err)?,
            may_hold_seen,
            ids_ahead: true,
            items,
            keys: tree("keys")?,
            by_time: tree("by_time")?,
            by_feed: tree("by_feed")?,
            feeds: tree("feeds")?,
            seen,
            seen_by_feed,
            dropped,
            splits: tree("splits")?,
            priorities: Default::default(),
            meta,
            db: db.clone(),
            dir: dir.to_path_buf(),
            store_id,
            key_set: std::sync::Arc::new(key_set),
            near: Default::default(),
            near_token,
            // A store without items has no feed over any cap: from here
            // on, what the ingests note is all a pass would have to count,
            // and the first poll of a new store ends without reading all
            // of `by_feed` to learn that.
            caps: std::sync::Arc::new(super::retention::FeedCaps::new(if last_item.is_empty() {
                Some(0)
            } else {
                caps.and_then(super::cap_of_slot)
            })),
            xling: Default::default(),
            items_counted: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(UNCOUNTED)),
            seq: Default::default(),
        };
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            started: Utc::now(),
        };
        // Best effort: the file only improves a message for others.
        if let Ok(json) = serde_json::to_vec(&holder) {
            let _ = std::fs::write(dir.join("rafid.pid"), json);
        }
        forget_half_written(dir);
        // Unless a clean stop saved them, a small store's keys are read
        // now; a large one's by `fill_key_set`, which the daemon runs off
        // the first ingest's path.
        store
            .key_set
            .fill(&store.keys, Some(keyset::OPEN_SCAN_KEYS), None)
            .map_err(|e| store.err(e))?;
        // Whoever opens the store may change it, after which the outputs
        // the daemon saved no longer show it. The daemon reads them before
        // it opens the store, and saves them again once it has rendered.
        // A near index no token vouches for can never be used either.
        let mut stale = vec![SAVED_OUTPUTS];
        if store.near_token.is_none() {
            stale.push(SAVED_NEAR_INDEX);
        }
        for name in stale {
            match std::fs::remove_file(dir.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    path = %dir.join(name).display(),
                    error = %e,
                    "cannot remove a file that no longer matches the store; the next start may read it"
                ),
            }
        }
        Ok(store)
    }
}

/// Removes what a process killed while saving its outputs or its near
/// index left behind: the files are written aside under these prefixes and
/// renamed into place only once whole. The store's lock is held, so no
/// other process is writing one.
fn forget_half_written(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if [
            HALF_WRITTEN_NEAR,
            HALF_WRITTEN_OUTPUTS,
            HALF_WRITTEN_KEY_SET,
        ]
        .iter()
        .any(|p| name.starts_with(p))
        {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(path = %e.path().display(), error = %err, "cannot remove a half-written file");
            }
        }
    }
}

/// Upgrades the items of a store of schema version `from`, returning how
/// many were rewritten. Version 1 kept only the text an item shows: each
/// item gets its first source's copy, which is what it shows (the other
/// members' text was not kept). Versions 1 and 2 stored items as plain
/// JSON: each is stored compressed (`codec`). Items already upgraded are
/// left alone, so a pass cut short is simply run again.
fn upgrade_items(items: &sled::Tree, from: u32) -> Result<u64, String> {
    let mut rewritten = 0u64;
    for kv in items.iter() {
        let (k, v) = kv.map_err(|e| e.to_string())?;
        let json = codec::item_json(&v).map_err(|e| format!("{}: {e}", hex(&k)))?;
        let new = if from == 1 {
            let mut item: Item =
                serde_json::from_slice(&json).map_err(|e| format!("{}: {e}", hex(&k)))?;
            if !upgrade_item(&mut item) && codec::is_current(&v) {
                continue;
            }
            codec::encode_item(&item)?
        } else if codec::is_current(&v) {
            continue;
        } else {
            // The JSON is kept byte for byte: only its packing changes.
            codec::encode_json(&json)
        };
        items.insert(k, new).map_err(|e| e.to_string())?;
        rewritten += 1;
        if rewritten % 100_000 == 0 {
            tracing::info!(items = rewritten, "upgrading the store's items");
        }
    }
    Ok(rewritten)
}

/// Gives a schema-1 item its first source's copy; false when it has one.
pub(crate) fn upgrade_item(item: &mut Item) -> bool {
    if item.sources.first().is_none_or(|s| s.copy.is_some()) {
        return false;
    }
    let local_key = split::member_local_key(item, 0);
    let mut copy = OutletCopy::of_shown(item);
    copy.local_key = local_key;
    item.sources[0].copy = Some(copy);
    true
}

fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn read_holder(dir: &Path) -> Option<Holder> {
    let bytes = std::fs::read(dir.join("rafid.pid")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn held_by_us(dir: &Path) -> bool {
    read_holder(dir).is_some_and(|h| h.pid == std::process::id())
}

fn describe_holder(dir: &Path) -> String {
    let Ok(bytes) = std::fs::read(dir.join("rafid.pid")) else {
        return "another process".into();
    };
    match serde_json::from_slice::<Holder>(&bytes) {
        Ok(h) => format!(
            "`{}` (pid {}, started {})",
            h.command,
            h.pid,
            h.started.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Err(_) => "another process".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_can_read_a_new_store() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let store = SledStore::open(&dir, "test").unwrap();
        store.flush().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let mut seen = 0;
        let mut stack = vec![dir.join("store")];
        while let Some(p) = stack.pop() {
            seen += 1;
            assert_eq!(mode(&p) & 0o077, 0, "{} is {:o}", p.display(), mode(&p));
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
        assert!(seen > 2, "sled made no files?");
    }

    #[test]
    fn opening_clears_what_a_killed_save_left_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        drop(SledStore::open(&dir, "test").unwrap());
        let left = [".near.a1B2c3", ".outputs.Xy9z"];
        for f in left {
            std::fs::write(dir.join(f), b"half").unwrap();
        }
        std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
        drop(SledStore::open(&dir, "test").unwrap());
        for f in left {
            assert!(!dir.join(f).exists(), "{f} is still there");
        }
        assert!(dir.join("notes.txt").exists());
    }

    #[test]
    fn second_open_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _store = SledStore::open(dir.path(), "rafid run").unwrap();
        // The message a second process gets is checked by an integration
        // test with two processes. Here: the holder file names us.
        let text = describe_holder(dir.path());
        assert!(text.contains("rafid run"), "{text}");
        assert!(text.contains(&std::process::id().to_string()));
    }

    #[test]
    fn a_store_of_schema_version_2_is_packed_in_place_and_exports_the_same() {
        use crate::store::shown::tests::{ingest_near, story};
        let dir = tempfile::tempdir().unwrap();
        let export = |store: &SledStore| {
            let mut out = Vec::new();
            store.export(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let before = {
            let store = SledStore::open(dir.path(), "test").unwrap();
            let body = "وصلت إلى مطار عدن الدولي اليوم طائرة الإغاثة الرابعة محملة بالأدوية";
            ingest_near(
                &store,
                "https://a.example/f",
                &[
                    story(
                        "a1",
                        "https://a.example/1",
                        "وصول طائرة الإغاثة الرابعة إلى عدن",
                        body,
                        2,
                    ),
                    story(
                        "a2",
                        "https://a.example/2",
                        "افتتاح مستشفى جديد في الرياض",
                        "افتتح اليوم",
                        1,
                    ),
                ],
            );
            ingest_near(
                &store,
                "https://b.example/f",
                &[story(
                    "b1",
                    "https://b.example/1",
                    "طائرة الإغاثة الرابعة تصل عدن",
                    body,
                    2,
                )],
            );
            // As schema version 2 left them: plain JSON.
            for kv in store.items.iter() {
                let (k, v) = kv.unwrap();
                assert!(codec::is_current(&v));
                let item = codec::decode_item(&v).unwrap();
                store
                    .items
                    .insert(k, serde_json::to_vec(&item).unwrap())
                    .unwrap();
            }
            store.stamp_schema_version("2").unwrap();
            store.flush().unwrap();
            export(&store)
        };
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(store.schema_version().unwrap().as_deref(), Some("4"));
        assert_eq!(store.items.len(), 2);
        for kv in store.items.iter() {
            assert!(codec::is_current(&kv.unwrap().1));
        }
        assert_eq!(export(&store), before);
        assert!(before.starts_with("{\"kind\":\"store\",\"schema_version\":2,"));
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_store_of_schema_version_3_opens_as_version_4_unchanged() {
        use crate::store::ingest::tests::{entry, ingest};
        let dir = tempfile::tempdir().unwrap();
        let feed = "https://a.example/f";
        let before = {
            let store = SledStore::open(dir.path(), "test").unwrap();
            ingest(
                &store,
                feed,
                &[entry("1", "https://a.example/1", "خبر", "نص")],
            );
            store.stamp_schema_version("3").unwrap();
            store.flush().unwrap();
            let mut out = Vec::new();
            store.export(&mut out).unwrap();
            out
        };
        let store = SledStore::open(dir.path(), "test").unwrap();
        assert_eq!(store.schema_version().unwrap().as_deref(), Some("4"));
        let mut after = Vec::new();
        store.export(&mut after).unwrap();
        assert_eq!(after, before);
        // An item stored now is stored the version-4 way beside it.
        ingest(
            &store,
            feed,
            &[entry("2", "https://a.example/2", "خبر آخر", "نص آخر")],
        );
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
        assert_eq!(store.items.len(), 2);
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), "test").unwrap();
            store.stamp_schema_version("7").unwrap();
            store.flush().unwrap();
        }
        let err = SledStore::open(dir.path(), "test").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("schema version 7"), "{msg}");
        assert!(msg.contains("newer rafid"), "{msg}");
    }
}
