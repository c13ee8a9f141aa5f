//! A store kept in PostgreSQL (`[storage] backend = "postgres"`): the
//! database's log (`log`) and this process's replica of it.
//!
//! Every change goes to the log first; a thread of the store's own (the
//! applier) applies the log, in order, to a sled store in
//! `storage.path/replica`, and every read is served from there. A change
//! returns once the applier has applied it, with what applying it did, so a
//! process reads its own writes. Records other processes append reach the
//! applier by `LISTEN`/`NOTIFY`, and by a look at the log every few seconds
//! in case a notification was lost with a connection.
//!
//! Applying is deterministic: the time, the priorities and the feed's
//! state travel in the record, and the ids of new items are numbered from
//! the record's place in the log, not from the clock. Every replica of one
//! log holds the same items under the same ids, and publishes the same
//! bytes. What each process needs the same is its `[dedup]` settings,
//! which the records do not carry.
//!
//! The replica is derived data: it records the log's store id and the last
//! record it applied, and a replica that is removed is built again from the
//! log. A record is applied at least once: after a crash between applying
//! a record and recording it, it is applied again, which ingest, states,
//! rules and retention take as a repeat; a split applied twice finds the
//! member gone and changes nothing.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::compact;
use super::log::{self, Record};
use super::{describe, schema};
use crate::dedup::keys::{ItemKeys, Key};
use crate::dedup::near::NearDup;
use crate::model::{Entry, FeedState, Item, ItemId, Source, hex};
use crate::store::backend::{Backend, Flushing, Keep};
use crate::store::{
    Dropped, ImportError, IngestStats, NearAhead, NearIndexFrom, Priorities, Retention, SledStore,
    Split, SplitError, StoreError,
};

/// How often the applier looks at the log when no notification came. The
/// tests look only when told, so that they show the notifications work.
const LOOK_EVERY: Duration = Duration::from_secs(if cfg!(test) { 3600 } else { 5 });

/// Records read from the log at a time.
const READ_BATCH: i64 = 256;

/// The replica's directory under `storage.path`.
const REPLICA_DIR: &str = "replica";

/// The sequence number (`ingest::next_seq`) the ids of the items record
/// `seq` creates begin after: the record's number above bit 43. It is
/// above what the clock gives `next_seq` until the year 2248, so the ids
/// follow from the log alone, the same on every replica.
fn id_base(seq: i64) -> u64 {
    ((1u64 << 43) | seq as u64) << 20
}

/// What applying one record did, for the process that appended it.
enum Outcome {
    Ingest(IngestStats),
    Split(Result<ItemId, SplitError>),
    Count(usize),
    Import(Result<usize, ImportError>),
    Done,
}

enum Request {
    /// Append the record (`bytes` encoded, by the caller's thread), apply
    /// the log up to it, reply with what it did.
    Append {
        record: Box<Record>,
        bytes: Vec<u8>,
        reply: Reply,
    },
    /// Write a snapshot now if one is due (`compact`): for tests, which
    /// do not wait for the applier's look at the log.
    #[cfg(test)]
    Compact {
        reply: std::sync::mpsc::SyncSender<Result<bool, StoreError>>,
    },
}

type Reply = std::sync::mpsc::SyncSender<Result<Outcome, StoreError>>;

/// Appends the applier takes at once, in one transaction.
const APPEND_BATCH: usize = 128;

/// What the caller and the applier share.
struct Shared {
    local: SledStore,
    database: String,
    /// The `[dedup]` settings records asking for near-duplicate merging are
    /// applied with.
    near: Mutex<Option<Arc<NearDup>>>,
    /// The last record applied.
    applied: watch::Sender<i64>,
    /// Set once a record asked for near-duplicate merging before any
    /// settings were given, so that it is said once.
    warned_near: AtomicBool,
}

/// A store whose records are in PostgreSQL, read from a replica here.
pub struct PgStore {
    /// The state directory (`storage.path`), where the daemon keeps its
    /// socket and saved outputs; the replica is in a directory below.
    dir: std::path::PathBuf,
    shared: Arc<Shared>,
    priorities: RwLock<Arc<Priorities>>,
    requests: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    applier: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.shared.database)
            .field("replica", &self.shared.local.dir())
            .finish()
    }
}

impl PgStore {
    /// Opens the replica in `dir/replica`, connects to `url`, migrates its
    /// schema, and applies the log to its end before returning. `command`
    /// names this process in the replica's holder file; `near` is the
    /// `[dedup]` settings records are applied with (`set_near_dup` changes
    /// them).
    pub fn open(
        dir: &Path,
        url: &str,
        command: &str,
        cache: u64,
        near: Option<NearDup>,
    ) -> Result<PgStore, StoreError> {
        let mut local = SledStore::open_with(&dir.join(REPLICA_DIR), command, cache)?;
        local.ids_ahead = false;
        let applied = local
            .meta
            .get("log_applied")
            .map_err(|e| local.err(e))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, i64::from_be_bytes);
        let shared = Arc::new(Shared {
            local,
            database: describe(url),
            near: Mutex::new(near.map(Arc::new)),
            applied: watch::Sender::new(applied),
            warned_near: AtomicBool::new(false),
        });
        let (requests, inbox) = mpsc::unbounded_channel();
        let (ready, started) = std::sync::mpsc::sync_channel(1);
        let applier = {
            let (shared, url) = (shared.clone(), url.to_string());
            let database = shared.database.clone();
            let poller = super::process_name();
            std::thread::Builder::new()
                .name("rafid-log".into())
                .spawn(move || applier(shared, url, poller, inbox, ready))
                .map_err(|e| unreachable(&database, format!("cannot start a thread: {e}")))?
        };
        // As a sled store's open does: the outputs the daemon saved no
        // longer show a store others may have changed since.
        let _ = std::fs::remove_file(dir.join(crate::store::SAVED_OUTPUTS));
        let store = PgStore {
            dir: dir.to_path_buf(),
            shared,
            priorities: Default::default(),
            requests: Mutex::new(Some(requests)),
            applier: Mutex::new(Some(applier)),
        };
        match started.recv() {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unreachable(
                &store.shared.database,
                "the log's thread ended while starting".into(),
            )),
        }
    }

    /// Appends `record` and waits until it is applied here.
    fn append(&self, record: Record) -> Result<Outcome, StoreError> {
        let bytes = record
            .encode()
            .map_err(|detail| StoreError::DatabaseRecord {
                database: self.shared.database.clone(),
                table: "rafid_log",
                detail,
            })?;
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let request = Request::Append {
            record: Box::new(record),
            bytes,
            reply,
        };
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|r| r.send(request).is_ok());
        if !sent {
            return Err(unreachable(
                &self.shared.database,
                "the store is closed".into(),
            ));
        }
        answer.recv().unwrap_or_else(|_| {
            Err(unreachable(
                &self.shared.database,
                "the log's thread ended".into(),
            ))
        })
    }

    fn priorities(&self) -> Arc<Priorities> {
        self.priorities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_near(&self, near: &NearDup) {
        *self.shared.near.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(near.clone()));
    }
}

impl Drop for PgStore {
    /// Closes the request channel, which ends the applier, and waits for it
    /// so that the replica is closed when the store is.
    fn drop(&mut self) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = self
            .applier
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = t.join();
        }
    }
}

fn unreachable(database: &str, detail: String) -> StoreError {
    StoreError::DatabaseUnreachable {
        database: database.to_string(),
        detail,
    }
}

/// The applier's thread: keeps a session with the database, appends what
/// it is asked to, and applies the log. Says on `ready` whether the first
/// session started (and the log was applied to its end); later sessions
/// that fail are retried, and appends meanwhile fail.
fn applier(
    shared: Arc<Shared>,
    url: String,
    poller: String,
    mut inbox: mpsc::UnboundedReceiver<Request>,
    ready: std::sync::mpsc::SyncSender<Result<(), StoreError>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(unreachable(
                &shared.database,
                format!("cannot start the log's runtime: {e}"),
            )));
            return;
        }
    };
    rt.block_on(async move {
        let mut ready = Some(ready);
        let mut wait = Duration::from_secs(1);
        loop {
            match Session::start(&shared, &url).await {
                Ok(mut session) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Ok(()));
                    }
                    wait = Duration::from_secs(1);
                    if session.serve(&poller, &mut inbox).await.is_break() {
                        return;
                    }
                }
                Err(e) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(e));
                        return;
                    }
                    tracing::warn!(
                        database = %shared.database,
                        error = %e,
                        retry_in = ?wait,
                        "cannot reach the database; changes fail until it is back"
                    );
                    let detail = e.to_string();
                    let until = tokio::time::sleep(wait);
                    tokio::pin!(until);
                    loop {
                        tokio::select! {
                            _ = &mut until => break,
                            r = inbox.recv() => match r {
                                None => return,
                                Some(Request::Append { reply, .. }) => {
                                    let _ = reply.send(Err(unreachable(&shared.database, detail.clone())));
                                }
                                #[cfg(test)]
                                Some(Request::Compact { reply }) => {
                                    let _ = reply.send(Err(unreachable(&shared.database, detail.clone())));
                                }
                            },
                        }
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    });
}

/// One connection to the database, listening to the log's channel.
struct Session<'a> {
    shared: &'a Shared,
    client: tokio_postgres::Client,
    notes: mpsc::UnboundedReceiver<()>,
    /// The highest partition of the log known to exist (`log::append`).
    made: i64,
}

impl<'a> Session<'a> {
    /// Connects, migrates, checks that the replica is this database's, and
    /// applies the log to its end. The channel is listened to before the
    /// log is read, so nothing appended meanwhile goes unseen.
    async fn start(shared: &'a Shared, url: &str) -> Result<Session<'a>, StoreError> {
        let (mut client, notes) = super::connect_listening(url).await?;
        schema::migrate(&mut client, url).await?;
        client
            .batch_execute(&format!("LISTEN {}", log::CHANNEL))
            .await
            .map_err(super::failed(&shared.database, "listening to the log"))?;
        let (id, created) = log::identity(&client, &shared.database).await?;
        shared.adopt(id, created)?;
        shared.start_from_snapshot(&client).await?;
        let session = Session {
            shared,
            client,
            notes,
            made: -1,
        };
        if let (_, Some(e)) = session.catch_up(HashMap::new()).await {
            return Err(e);
        }
        Ok(session)
    }

    /// Serves appends and applies what others append until the connection
    /// is lost (`Continue`) or the store is closed (`Break`).
    async fn serve(
        &mut self,
        poller: &str,
        inbox: &mut mpsc::UnboundedReceiver<Request>,
    ) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        // The session's start read the log to its end: the first look is
        // one period away.
        let mut look =
            tokio::time::interval_at(tokio::time::Instant::now() + LOOK_EVERY, LOOK_EVERY);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = inbox.recv() => match r {
                    None => return Break(()),
                    Some(first) => {
                        // Whatever else is waiting goes in the same
                        // transaction: under load, one commit and one read
                        // of the log serve many polls.
                        let mut batch = Vec::new();
                        let mut next = Some(first);
                        while let Some(request) = next.take() {
                            match request {
                                Request::Append { record, bytes, reply } => batch.push((record, bytes, reply)),
                                #[cfg(test)]
                                Request::Compact { reply } => {
                                    let _ = reply.send(self.compact().await);
                                }
                            }
                            if batch.len() < APPEND_BATCH {
                                next = inbox.try_recv().ok();
                            }
                        }
                        if !batch.is_empty() {
                            self.append(poller, batch).await;
                        }
                    }
                },
                n = self.notes.recv() => {
                    if n.is_none() {
                        tracing::warn!(database = %self.shared.database, "the connection to the database was lost; reconnecting");
                        return Continue(());
                    }
                    while self.notes.try_recv().is_ok() {}
                    self.catch_up_logged().await;
                }
                _ = look.tick() => {
                    self.catch_up_logged().await;
                    if let Err(e) = self.compact().await {
                        tracing::warn!(database = %self.shared.database, error = %e, "cannot write a snapshot of the store; the log keeps growing until one is written");
                    }
                }
            }
            if self.client.is_closed() {
                return Continue(());
            }
        }
    }

    /// Writes a snapshot of the replica when the log has grown enough
    /// since the last one (`compact`). The applier applies nothing
    /// meanwhile, so the snapshot is of one point of the log.
    async fn compact(&mut self) -> Result<bool, StoreError> {
        let applied = *self.shared.applied.borrow();
        let last = compact::latest(&self.client, &self.shared.database)
            .await?
            .unwrap_or(0);
        if applied - last < compact::SNAPSHOT_EVERY {
            return Ok(false);
        }
        let local = &self.shared.local;
        compact::snapshot(
            &mut self.client,
            &self.shared.database,
            local,
            applied,
            local.dir(),
        )
        .await
    }

    /// Appends the batch's records, applies the log up to them, and
    /// answers each request with what its record did.
    async fn append(&mut self, poller: &str, batch: Vec<(Box<Record>, Vec<u8>, Reply)>) {
        let bytes: Vec<&[u8]> = batch.iter().map(|(_, b, _)| b.as_slice()).collect();
        let appended = log::append(
            &mut self.client,
            &self.shared.database,
            poller,
            &bytes,
            &mut self.made,
        )
        .await;
        let seqs = match appended {
            Ok(seqs) => seqs,
            Err(e) => {
                let detail = e.to_string();
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(unreachable(&self.shared.database, detail.clone())));
                }
                return;
            }
        };
        let mut mine = HashMap::new();
        let mut replies = Vec::with_capacity(batch.len());
        for (seq, (record, _, reply)) in seqs.into_iter().zip(batch) {
            mine.insert(seq, *record);
            replies.push((seq, reply));
        }
        let (mut outcomes, failed) = self.catch_up(mine).await;
        for (seq, reply) in replies {
            let answer = match outcomes.remove(&seq) {
                Some(outcome) => Ok(outcome),
                None => Err(unreachable(
                    &self.shared.database,
                    match &failed {
                        Some(e) => format!("record {seq} is logged but not applied here yet: {e}"),
                        None => format!("record {seq} was appended but not read back"),
                    },
                )),
            };
            let _ = reply.send(answer);
        }
    }

    async fn catch_up_logged(&self) {
        if let (_, Some(e)) = self.catch_up(HashMap::new()).await {
            tracing::warn!(
                database = %self.shared.database,
                replica = %self.shared.local.dir().display(),
                error = %e,
                "cannot apply the database's log here; serving what was applied, trying again"
            );
        }
    }

    /// Applies every record after the last one applied. `mine` holds the
    /// records this process just appended, by number: they are not read
    /// back, and what applying each did is returned. Stops at the first
    /// error, which is returned beside what was applied before it.
    async fn catch_up(
        &self,
        mut mine: HashMap<i64, Record>,
    ) -> (HashMap<i64, Outcome>, Option<StoreError>) {
        let mut outcomes = HashMap::new();
        loop {
            let after = *self.shared.applied.borrow();
            let known: Vec<i64> = mine.keys().copied().collect();
            let rows = match log::read_after(
                &self.client,
                &self.shared.database,
                after,
                READ_BATCH,
                &known,
            )
            .await
            {
                Ok(rows) if rows.is_empty() => return (outcomes, None),
                Ok(rows) => rows,
                Err(e) => return (outcomes, Some(e)),
            };
            for (seq, bytes) in rows {
                let record = match (mine.remove(&seq), bytes) {
                    (Some(record), _) => record,
                    (None, Some(bytes)) => match Record::decode(&bytes) {
                        Ok(r) => r,
                        Err(e) => {
                            let e = StoreError::DatabaseRecord {
                                database: self.shared.database.clone(),
                                table: "rafid_log",
                                detail: format!("record {seq} (written by a newer rafid?): {e}"),
                            };
                            return (outcomes, Some(e));
                        }
                    },
                    (None, None) => {
                        let e = unreachable(
                            &self.shared.database,
                            format!("record {seq} was not read"),
                        );
                        return (outcomes, Some(e));
                    }
                };
                let applied = self
                    .shared
                    .apply(seq, record)
                    .and_then(|o| self.shared.mark_applied(seq).map(|_| o));
                match applied {
                    Ok(outcome) => {
                        outcomes.insert(seq, outcome);
                    }
                    Err(e) => return (outcomes, Some(e)),
                }
            }
        }
    }
}

impl Shared {
    /// Starts a new replica from the database's newest snapshot when the
    /// log no longer holds the records after what the replica applied; a
    /// replica that applied some, but not up to the log's start, cannot
    /// go on and is named.
    async fn start_from_snapshot(&self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        let applied = *self.applied.borrow();
        let oldest = compact::oldest(client, &self.database).await?;
        let newest = compact::latest(client, &self.database).await?;
        let behind = match (oldest, newest) {
            (Some(first), _) => first > applied + 1,
            (None, Some(snapshot)) => snapshot > applied,
            (None, None) => false,
        };
        if !behind {
            return Ok(());
        }
        let local = &self.local;
        let empty = local.items.is_empty() && local.feeds.is_empty() && local.seen.is_empty();
        match newest {
            Some(snapshot) if applied == 0 && empty => {
                compact::restore(client, &self.database, local, snapshot, local.dir()).await?;
                self.mark_applied(snapshot)
            }
            _ => Err(StoreError::ReplicaBehind {
                path: local.dir().to_path_buf(),
                database: self.database.clone(),
                applied,
                first: oldest.unwrap_or_default(),
            }),
        }
    }

    /// Makes the replica this database's: a new replica takes the store's
    /// id and date; one of another database is refused, since what it
    /// holds would mix two stores.
    fn adopt(&self, id: [u8; 16], created: DateTime<Utc>) -> Result<(), StoreError> {
        let local = &self.local;
        let err = |e| local.err(e);
        match local.meta.get("replica_of").map_err(err)? {
            Some(v) if v.as_ref() == id => Ok(()),
            Some(v) => Err(StoreError::ReplicaOfOther {
                path: local.dir().to_path_buf(),
                database: self.database.clone(),
                detail: format!(
                    "it holds store {}, the database store {}",
                    hex(&v),
                    hex(&id)
                ),
            }),
            None => {
                if !local.items.is_empty() || !local.feeds.is_empty() {
                    return Err(StoreError::ReplicaOfOther {
                        path: local.dir().to_path_buf(),
                        database: self.database.clone(),
                        detail: "it holds items of no database".into(),
                    });
                }
                let created = created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                local.meta.insert("store_id", &id[..]).map_err(err)?;
                local
                    .meta
                    .insert("created", created.as_bytes())
                    .map_err(err)?;
                local.meta.insert("replica_of", &id[..]).map_err(err)?;
                local.flush()
            }
        }
    }

    fn mark_applied(&self, seq: i64) -> Result<(), StoreError> {
        self.local
            .meta
            .insert("log_applied", &seq.to_be_bytes()[..])
            .map_err(|e| self.local.err(e))?;
        self.applied.send_replace(seq);
        Ok(())
    }

    /// Applies one record to the replica. An error is the replica's (its
    /// disk): the record is applied again later. What the record itself
    /// is refused for (a split of a member that is not there, an import
    /// into a store that is not empty) is its outcome, the same on every
    /// replica.
    fn apply(&self, seq: i64, record: Record) -> Result<Outcome, StoreError> {
        let local = &self.local;
        local.seq.store(id_base(seq), Ordering::Relaxed);
        Ok(match record {
            Record::Ingest {
                source,
                entries,
                keys,
                state,
                now,
                near,
                priorities,
            } => {
                local.set_priorities(priorities);
                let settings = near
                    .then(|| self.near.lock().unwrap_or_else(|e| e.into_inner()).clone())
                    .flatten();
                if near && settings.is_none() && !self.warned_near.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        database = %self.database,
                        "records ask for near-duplicate merging but this process has no [dedup] settings; applying them without"
                    );
                }
                let stats = local.ingest_near(
                    &source,
                    &entries,
                    &keys,
                    &state,
                    now,
                    settings.as_deref(),
                )?;
                Outcome::Ingest(stats)
            }
            Record::FeedState { feed_url, state } => {
                local.put_feed_state(&feed_url, &state)?;
                Outcome::Done
            }
            Record::Dropped {
                feed_url,
                add,
                remove,
                listed,
            } => {
                local.note_dropped(&feed_url, &add, &remove, &listed.into_iter().collect())?;
                Outcome::Done
            }
            Record::Split { story, member, now } => match local.split(story, &member, now) {
                Err(SplitError::Store(e)) => return Err(e),
                r => Outcome::Split(r),
            },
            Record::Prune { policy, now } => Outcome::Count(local.prune(&policy, now)?),
            Record::PruneFeed { feed_url, max, now } => {
                Outcome::Count(local.prune_feed(&feed_url, max, now)?)
            }
            Record::Import { export } => match local.import(export.as_bytes()) {
                Err(ImportError::Store(e)) => return Err(e),
                r => Outcome::Import(r),
            },
        })
    }
}

/// An outcome that is not the one `record` gives: a bug, said as such.
fn mismatch(database: &str) -> StoreError {
    StoreError::DatabaseRecord {
        database: database.to_string(),
        table: "rafid_log",
        detail: "a record's outcome is not of its kind".into(),
    }
}

impl Backend for PgStore {
    fn dir(&self) -> &Path {
        &self.dir
    }

    fn describe(&self) -> String {
        format!(
            "{} (replica at {})",
            self.shared.database,
            self.shared.local.dir().join("store").display()
        )
    }

    fn store_id(&self) -> [u8; 16] {
        self.shared.local.store_id()
    }

    fn created(&self) -> DateTime<Utc> {
        self.shared.local.created()
    }

    fn set_priorities(&self, priorities: Priorities) {
        *self.priorities.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(priorities);
    }

    fn set_near_dup(&self, near: &NearDup) {
        self.set_near(near)
    }

    fn changes(&self) -> Option<watch::Receiver<i64>> {
        Some(self.shared.applied.subscribe())
    }

    fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        self.shared.local.feed_state(feed_url)
    }

    fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        self.append(Record::FeedState {
            feed_url: feed_url.to_string(),
            state: Box::new(state.clone()),
        })
        .map(|_| ())
    }

    fn feed_states(&self) -> Result<Vec<(String, FeedState)>, StoreError> {
        self.shared.local.feed_states()
    }

    fn ingest_near(
        &self,
        source: &Source,
        entries: &[Entry],
        keys: &[ItemKeys],
        state: &FeedState,
        now: DateTime<Utc>,
        near: Option<&NearDup>,
    ) -> Result<IngestStats, StoreError> {
        if let Some(n) = near {
            let mut slot = self.shared.near.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(Arc::new(n.clone()));
            }
        }
        let record = Record::Ingest {
            source: Box::new(source.clone()),
            entries: entries.to_vec(),
            keys: keys.to_vec(),
            state: Box::new(state.clone()),
            now,
            near: near.is_some(),
            priorities: (*self.priorities()).clone(),
        };
        match self.append(record)? {
            Outcome::Ingest(stats) => Ok(stats),
            _ => Err(mismatch(&self.shared.database)),
        }
    }

    fn item_count(&self) -> usize {
        self.shared.local.item_count()
    }

    fn known_item_count(&self) -> Option<usize> {
        self.shared.local.known_item_count()
    }

    fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError> {
        self.shared.local.item(id)
    }

    fn newest_before(
        &self,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError> {
        self.shared.local.newest_before(before, limit, keep)
    }

    fn newest_in_feeds_before(
        &self,
        feed_urls: &[&str],
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.shared
            .local
            .newest_in_feeds_before(feed_urls, before, limit)
    }

    fn newest_matching(
        &self,
        feeds: Option<&[&str]>,
        before: Option<(DateTime<Utc>, ItemId)>,
        limit: usize,
        max_scan: usize,
        keep: Keep<'_>,
    ) -> Result<Vec<Item>, StoreError> {
        self.shared
            .local
            .newest_matching(feeds, before, limit, max_scan, keep)
    }

    fn find_item(&self, spec: &str) -> Result<Option<ItemId>, StoreError> {
        self.shared.local.find_item(spec)
    }

    fn dropped(&self, feed_url: &str, local: &Key) -> Result<Option<Dropped>, StoreError> {
        self.shared.local.dropped(feed_url, local)
    }

    fn knows_key(&self, key: &Key) -> Result<bool, StoreError> {
        self.shared.local.knows_key(key)
    }

    fn note_dropped(
        &self,
        feed_url: &str,
        add: &[(Key, Dropped)],
        remove: &[Key],
        listed: &std::collections::HashSet<Key>,
    ) -> Result<(), StoreError> {
        // Most polls of most feeds have nothing to record or forget: they
        // add nothing to the log.
        if add.is_empty()
            && remove.is_empty()
            && self
                .shared
                .local
                .unlisted_dropped(feed_url, listed)?
                .is_empty()
        {
            return Ok(());
        }
        self.append(Record::Dropped {
            feed_url: feed_url.to_string(),
            add: add.to_vec(),
            remove: remove.to_vec(),
            listed: listed.iter().copied().collect(),
        })
        .map(|_| ())
    }

    fn dropped_of_feed(&self, feed_url: &str) -> Result<Vec<(String, Dropped)>, StoreError> {
        self.shared.local.dropped_of_feed(feed_url)
    }

    fn split(&self, story: ItemId, member: &str, now: DateTime<Utc>) -> Result<ItemId, SplitError> {
        let record = Record::Split {
            story,
            member: member.to_string(),
            now,
        };
        match self.append(record)? {
            Outcome::Split(r) => r,
            _ => Err(mismatch(&self.shared.database).into()),
        }
    }

    fn split_records(&self) -> Result<Vec<(Vec<u8>, Split)>, StoreError> {
        self.shared.local.split_records()
    }

    fn splits_of(&self, story: ItemId) -> Result<Vec<Split>, StoreError> {
        self.shared.local.splits_of(story)
    }

    fn prune(&self, policy: &Retention, now: DateTime<Utc>) -> Result<usize, StoreError> {
        match self.append(Record::Prune {
            policy: *policy,
            now,
        })? {
            Outcome::Count(n) => Ok(n),
            _ => Err(mismatch(&self.shared.database)),
        }
    }

    fn prune_feed(
        &self,
        feed_url: &str,
        max: u64,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        // After most polls the feed is under its cap: nothing to log.
        if !self.shared.local.feed_over_cap(feed_url, max)? {
            return Ok(0);
        }
        let record = Record::PruneFeed {
            feed_url: feed_url.to_string(),
            max,
            now,
        };
        match self.append(record)? {
            Outcome::Count(n) => Ok(n),
            _ => Err(mismatch(&self.shared.database)),
        }
    }

    fn prepare_near_index(
        &self,
        near: &NearDup,
        stop: &AtomicBool,
        ahead: Option<NearAhead>,
    ) -> Result<NearIndexFrom, StoreError> {
        self.set_near(near);
        self.shared.local.prepare_near_index(near, stop, ahead)
    }

    fn save_near_index(&self, near: &NearDup) -> Result<bool, StoreError> {
        self.shared.local.save_near_index(near)
    }

    fn save_key_set(&self) -> Result<bool, StoreError> {
        self.shared.local.save_key_set()
    }

    fn save_feed_caps(&self) -> Result<bool, StoreError> {
        self.shared.local.save_feed_caps()
    }

    fn hand_on_saved(&self) -> Result<(), StoreError> {
        // A replica brought itself up to date with the database's log as
        // it opened: it wrote, and what it saved no longer holds.
        Ok(())
    }

    fn near_index_len(&self) -> usize {
        self.shared.local.near_index_len()
    }

    fn fill_key_set(&self, stop: Option<&AtomicBool>) -> Result<(), StoreError> {
        self.shared.local.fill_key_set(stop)
    }

    fn export(&self, mut out: &mut dyn Write) -> Result<(), StoreError> {
        self.shared.local.export(&mut out)
    }

    /// The export goes into the log whole, as one record: every replica
    /// restores it. Like the sled store's, it is refused unless the store
    /// is empty; it is read and checked first, so that a refused import
    /// leaves nothing in the log.
    fn import(&self, input: &mut dyn BufRead) -> Result<usize, ImportError> {
        let mut export = String::new();
        input
            .read_to_string(&mut export)
            .map_err(ImportError::Read)?;
        self.shared.local.refuse_unless_empty()?;
        crate::store::backup::check_export(export.as_bytes())?;
        match self.append(Record::Import { export })? {
            Outcome::Import(r) => r,
            _ => Err(mismatch(&self.shared.database).into()),
        }
    }

    fn check(&self) -> Result<Vec<String>, StoreError> {
        self.shared.local.check()
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.shared.local.size_on_disk()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.shared.local.flush()
    }

    fn flush_async(&self) -> Flushing<'_> {
        Box::pin(self.shared.local.flush_async())
    }

    fn schema_version(&self) -> Result<Option<String>, StoreError> {
        self.shared.local.schema_version()
    }

    fn stamp_schema_version(&self, version: &str) -> Result<(), StoreError> {
        self.shared.local.stamp_schema_version(version)
    }

    /// Writes a snapshot now if one is due (see `compact`).
    #[cfg(test)]
    fn compact_now(&self) -> Result<bool, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|r| r.send(Request::Compact { reply }).is_ok());
        assert!(sent, "the store is open");
        answer.recv().expect("the log's thread answers")
    }
}
