//! `rafid export` / `rafid import`: the whole store as JSON Lines, one
//! object a line with a `"kind"`: `store` (first; schema version and store
//! id), then every `item`, every `seen` record of a pruned item, and every
//! `feed` state, then every `dropped` record of an item a feed rule kept out
//! (see `dropped`), then every `split` record of a member taken out of a
//! story (see `split`), each in key order, so the same store always exports the
//! same bytes and export → import → export is identical.
//!
//! An export of schema version 1 (items without their members' copies)
//! still imports: its items are upgraded as the store upgrades them.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Seen, SledStore, StoreError, feed_time_key, seen_feed_key, time_key};
use crate::model::{FeedState, Item, hex, unhex};

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Record {
    Store(StoreRecord),
    Item(Box<Item>),
    Seen(Seen),
    Feed(Box<FeedRecord>),
    Dropped(Box<DroppedRecord>),
    Split(super::Split),
}

#[derive(Serialize, Deserialize)]
struct DroppedRecord {
    /// The record's key in the `dropped` tree, hex.
    key: String,
    #[serde(flatten)]
    dropped: super::Dropped,
}

/// The version of the export format. It names the records' shape, not the
/// store's layout on disk: store schema 3 packed items differently but
/// exports them as schema 2 did, so the two write the same export.
/// Exports of version 1 (items without their outlets' copies) are read too.
const EXPORT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct StoreRecord {
    schema_version: u32,
    store_id: String,
}

#[derive(Serialize, Deserialize)]
struct FeedRecord {
    url: String,
    #[serde(flatten)]
    state: FeedState,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Input { line: usize, message: String },
    #[error(
        "the store at {path} is not empty ({items} items, {feeds} feeds); import restores into an empty store only"
    )]
    NotEmpty {
        path: String,
        items: usize,
        feeds: usize,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the input: {0}")]
    Read(std::io::Error),
}

impl SledStore {
    /// Writes the whole store to `out`.
    pub fn export(&self, out: &mut impl Write) -> Result<(), StoreError> {
        let io = |e: std::io::Error| self.corrupt("export", format!("writing: {e}"));
        let mut line = |r: &Record| -> Result<(), StoreError> {
            serde_json::to_writer(&mut *out, r)
                .map_err(|e| self.corrupt("export", e.to_string()))?;
            out.write_all(b"\n").map_err(io)
        };
        line(&Record::Store(StoreRecord {
            schema_version: EXPORT_VERSION,
            store_id: hex(&self.store_id()),
        }))?;
        for kv in self.items.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let item: Item = super::codec::decode_item(&v)
                .map_err(|e| self.corrupt("items", format!("{}: {e}", hex(&k))))?;
            line(&Record::Item(Box::new(item)))?;
        }
        for kv in self.seen.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            let seen: Seen = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt("seen", format!("{}: {e}", hex(&k))))?;
            line(&Record::Seen(seen))?;
        }
        for (url, state) in self.feed_states()? {
            line(&Record::Feed(Box::new(FeedRecord { url, state })))?;
        }
        for (key, dropped) in self.dropped_records()? {
            line(&Record::Dropped(Box::new(DroppedRecord {
                key: hex(&key),
                dropped,
            })))?;
        }
        for (_, split) in self.split_records()? {
            line(&Record::Split(split))?;
        }
        out.flush().map_err(io)
    }

    /// Restores an export into this store, which must be empty; every index
    /// is rebuilt from the records. The whole input is read and checked
    /// first, so a bad line changes nothing; a write that fails part way
    /// leaves the store empty again. Returns the number of items restored.
    pub fn import(&self, input: impl BufRead) -> Result<usize, ImportError> {
        let _recount = self.recount();
        // What was known of the feeds' counts is not of these items.
        self.caps.forget();
        self.refuse_unless_empty()?;
        let records = read_records(input)?;
        let old_id = self.meta.get("store_id").map_err(|e| self.err(e))?;
        match self.apply(&records) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.clear_import(old_id);
                Err(e)
            }
        }
    }

    /// An import restores into an empty store only.
    pub(super) fn refuse_unless_empty(&self) -> Result<(), ImportError> {
        let (items, feeds) = (self.items.len(), self.feeds.len());
        if items > 0 || feeds > 0 || !self.seen.is_empty() {
            return Err(ImportError::NotEmpty {
                path: self.dir.display().to_string(),
                items,
                feeds,
            });
        }
        Ok(())
    }

    fn apply(&self, records: &[(usize, Record)]) -> Result<usize, ImportError> {
        let bad = |line: usize, message: String| ImportError::Input { line, message };
        let mut restored = 0;
        for (n, record) in records {
            let n = *n;
            match record {
                Record::Store(s) => {
                    if !(1..=EXPORT_VERSION).contains(&s.schema_version) {
                        return Err(bad(
                            n,
                            format!(
                                "exported with schema version {}, this rafid reads {EXPORT_VERSION}",
                                s.schema_version
                            ),
                        ));
                    }
                    let id = unhex(&s.store_id)
                        .ok_or_else(|| bad(n, "store_id: 32 hex digits expected".into()))?;
                    self.meta.insert("store_id", id).map_err(|e| self.err(e))?;
                }
                Record::Item(item) => {
                    let mut item = item.as_ref().clone();
                    super::upgrade_item(&mut item);
                    let v = super::codec::encode_item(&item).map_err(|e| bad(n, e))?;
                    for key in &item.keys {
                        let k = unhex(key).ok_or_else(|| bad(n, format!("key {key}: not hex")))?;
                        self.key_set.add(&k);
                        self.keys.insert(k, &item.id.0).map_err(|e| self.err(e))?;
                    }
                    self.by_time
                        .insert(time_key(item.sort_time(), item.id), &[][..])
                        .map_err(|e| self.err(e))?;
                    for s in &item.sources {
                        self.by_feed
                            .insert(
                                feed_time_key(&s.feed_url, item.sort_time(), item.id),
                                &[][..],
                            )
                            .map_err(|e| self.err(e))?;
                    }
                    self.items.insert(item.id.0, v).map_err(|e| self.err(e))?;
                    restored += 1;
                }
                Record::Seen(seen) => {
                    for key in &seen.keys {
                        let k = unhex(key).ok_or_else(|| bad(n, format!("key {key}: not hex")))?;
                        self.key_set.add(&k);
                        self.keys.insert(k, &seen.id.0).map_err(|e| self.err(e))?;
                    }
                    self.may_hold_seen.raise();
                    for feed in &seen.feeds {
                        self.seen_by_feed
                            .insert(seen_feed_key(feed, seen.id), &[][..])
                            .map_err(|e| self.err(e))?;
                    }
                    let v = serde_json::to_vec(&seen).map_err(|e| bad(n, e.to_string()))?;
                    self.seen.insert(seen.id.0, v).map_err(|e| self.err(e))?;
                }
                Record::Feed(f) => self.put_feed_state(&f.url, &f.state)?,
                Record::Split(split) => self.put_split(split)?,
                Record::Dropped(d) => {
                    let key = unhex(&d.key)
                        .ok_or_else(|| bad(n, format!("dropped key {}: not hex", d.key)))?;
                    self.put_dropped_raw(&key, &d.dropped)
                        .map_err(|msg| bad(n, msg))?;
                }
            }
        }
        self.flush()?;
        Ok(restored)
    }

    /// Undoes a failed import: the store was empty before it.
    fn clear_import(&self, old_id: Option<sled::IVec>) {
        for tree in [
            &self.items,
            &self.keys,
            &self.by_time,
            &self.by_feed,
            &self.feeds,
            &self.seen,
            &self.seen_by_feed,
            &self.dropped,
            &self.splits,
        ] {
            let _ = tree.clear();
        }
        if let Some(id) = old_id {
            let _ = self.meta.insert("store_id", id);
        }
        let _ = self.flush();
    }
}

/// Reads and checks an export without restoring it: for a backend that
/// must refuse a bad one before it records the import.
pub(super) fn check_export(input: impl BufRead) -> Result<(), ImportError> {
    read_records(input).map(|_| ())
}

/// Reads every record of an export and checks everything `apply` relies
/// on: each line a record, the schema version, hex keys, and each item,
/// pruned item and feed once.
fn read_records(input: impl BufRead) -> Result<Vec<(usize, Record)>, ImportError> {
    let bad = |line: usize, message: String| ImportError::Input { line, message };
    let hex_keys = |n: usize, keys: &[String]| -> Result<(), ImportError> {
        match keys.iter().find(|k| unhex(k).is_none()) {
            Some(k) => Err(bad(n, format!("key {k}: not hex"))),
            None => Ok(()),
        }
    };
    let mut records = Vec::new();
    let mut ids: HashMap<[u8; 16], (usize, &'static str)> = HashMap::new();
    let mut feeds: HashMap<String, usize> = HashMap::new();
    let mut once = |n: usize, id: [u8; 16], what: &'static str| match ids.insert(id, (n, what)) {
        None => Ok(()),
        Some((first, was)) => Err(bad(
            n,
            format!(
                "{what} {} is already on line {first} (as {was}); an export names each item once",
                hex(&id)
            ),
        )),
    };
    for (i, text) in input.lines().enumerate() {
        let n = i + 1;
        let text = text.map_err(ImportError::Read)?;
        if text.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&text)
            .map_err(|e| bad(n, format!("not a rafid export record: {e}")))?;
        match &record {
            Record::Store(s) => {
                if !(1..=EXPORT_VERSION).contains(&s.schema_version) {
                    return Err(bad(
                        n,
                        format!(
                            "exported with schema version {}, this rafid reads {EXPORT_VERSION}",
                            s.schema_version
                        ),
                    ));
                }
                if unhex(&s.store_id).is_none_or(|b| b.len() != 16) {
                    return Err(bad(n, "store_id: 32 hex digits expected".into()));
                }
            }
            Record::Item(item) => {
                hex_keys(n, &item.keys)?;
                once(n, item.id.0, "item")?;
            }
            Record::Seen(seen) => {
                hex_keys(n, &seen.keys)?;
                once(n, seen.id.0, "pruned item")?;
            }
            Record::Feed(f) => {
                if let Some(first) = feeds.insert(f.url.clone(), n) {
                    return Err(bad(
                        n,
                        format!(
                            "feed {} is already on line {first}",
                            crate::config::redact_str(&f.url)
                        ),
                    ));
                }
            }
            Record::Dropped(d) => match unhex(&d.key) {
                Some(k) if k.len() == 33 => {}
                Some(_) => return Err(bad(n, format!("dropped key {}: 33 bytes expected", d.key))),
                None => return Err(bad(n, format!("dropped key {}: not hex", d.key))),
            },
            Record::Split(_) => {}
        }
        records.push((n, record));
    }
    Ok(records)
}
