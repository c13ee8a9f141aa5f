//! Keeping the log bounded: snapshots of the store, and the partitions of
//! the log they make unneeded dropped.
//!
//! Once the log has grown by `SNAPSHOT_EVERY` records since the last
//! snapshot, one process (whichever takes the lock) writes its replica's
//! export, as it stands after record n, into `rafid_snapshots`, in
//! compressed pieces. Two snapshots are kept: the newest and the one
//! before, and the partitions of the log holding only records up to the
//! one before are dropped. A replica that is at least as far as the older
//! snapshot catches up from the log as before; a new replica starts from
//! the newest snapshot and applies the log after it.

use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use tokio_postgres::Client;

use super::failed;
use super::log::PARTITION;
use crate::store::{ImportError, SledStore, StoreError};

/// Records between snapshots. A small number in tests, so that they
/// compact.
pub(crate) const SNAPSHOT_EVERY: i64 = if cfg!(test) { 10 } else { 200_000 };

/// The lock held while a snapshot is written: a constant of rafid's own
/// (the bytes of "rafid-sn" as an integer).
const SNAPSHOT_LOCK: i64 = 0x7261_6669_642d_736e;

/// Bytes of export in one piece of a snapshot (before compression), far
/// under PostgreSQL's limit of a value.
const PIECE: usize = 16 << 20;

fn spool_error(dir: &Path, doing: &str, e: std::io::Error) -> StoreError {
    StoreError::Corrupt {
        path: dir.to_path_buf(),
        tree: "snapshot",
        detail: format!("{doing}: {e}"),
    }
}

/// The record the newest snapshot was taken after, if there is one.
pub(crate) async fn latest(client: &Client, database: &str) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_one("SELECT max(seq) FROM rafid_snapshots", &[])
        .await
        .map_err(failed(database, "reading the snapshots"))?
        .get(0))
}

/// The oldest record the log still holds, if it holds any.
pub(crate) async fn oldest(client: &Client, database: &str) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_one("SELECT min(seq) FROM rafid_log", &[])
        .await
        .map_err(failed(database, "reading the log's start"))?
        .get(0))
}

/// Writes a snapshot of `local`, which has applied the log up to `seq` and
/// no further, then drops what the snapshot before it makes unneeded.
/// `spool` is a directory for the export on its way. Returns false, having
/// done nothing, when another process is writing one or one as new exists.
pub(crate) async fn snapshot(
    client: &mut Client,
    database: &str,
    local: &SledStore,
    seq: i64,
    spool: &Path,
) -> Result<bool, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(failed(database, "starting a snapshot"))?;
    let ours: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SNAPSHOT_LOCK])
        .await
        .map_err(failed(database, "taking the snapshot lock"))?
        .get(0);
    if !ours {
        return Ok(false);
    }
    let before: i64 = tx
        .query_one("SELECT coalesce(max(seq), 0) FROM rafid_snapshots", &[])
        .await
        .map_err(failed(database, "reading the snapshots"))?
        .get(0);
    if before >= seq {
        return Ok(false);
    }
    let mut file =
        tempfile::tempfile_in(spool).map_err(|e| spool_error(spool, "making a spool file", e))?;
    {
        let mut w = BufWriter::new(&mut file);
        local.export(&mut w)?;
        w.flush()
            .map_err(|e| spool_error(spool, "writing the spool file", e))?;
    }
    file.rewind()
        .map_err(|e| spool_error(spool, "reading the spool file", e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut part = 0i32;
    loop {
        let mut piece = Vec::with_capacity(PIECE);
        (&mut reader)
            .take(PIECE as u64)
            .read_to_end(&mut piece)
            .map_err(|e| spool_error(spool, "reading the spool file", e))?;
        if piece.is_empty() && part > 0 {
            break;
        }
        let bytes = lz4_flex::compress_prepend_size(&piece);
        tx.execute(
            "INSERT INTO rafid_snapshots (seq, part, bytes) VALUES ($1, $2, $3)",
            &[&seq, &part, &bytes],
        )
        .await
        .map_err(failed(database, "writing a snapshot"))?;
        part += 1;
        if piece.len() < PIECE {
            break;
        }
    }
    // The snapshot before this one stays, for replicas between the two;
    // what is older goes, and the log up to it.
    tx.execute("DELETE FROM rafid_snapshots WHERE seq < $1", &[&before])
        .await
        .map_err(failed(database, "removing old snapshots"))?;
    let partitions = tx
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'rafid_log'::regclass",
            &[],
        )
        .await
        .map_err(failed(database, "listing the log's partitions"))?;
    let mut dropped = 0;
    for row in partitions {
        let name: String = row.get(0);
        let Some(k) = name
            .strip_prefix("rafid_log_")
            .and_then(|k| k.parse::<i64>().ok())
        else {
            continue;
        };
        // Every record of partition k is at most (k + 1) * PARTITION.
        if before > 0 && (k + 1) * PARTITION <= before {
            tx.batch_execute(&format!("DROP TABLE {name}"))
                .await
                .map_err(failed(database, "dropping a partition of the log"))?;
            dropped += 1;
        }
    }
    tx.commit()
        .await
        .map_err(failed(database, "committing a snapshot"))?;
    tracing::info!(
        database = %database,
        record = seq,
        pieces = part,
        partitions_dropped = dropped,
        "wrote a snapshot of the store; the log before the previous one is dropped"
    );
    Ok(true)
}

/// Restores the snapshot taken after record `seq` into the empty replica
/// `local`; `spool` is a directory for the export on its way.
pub(crate) async fn restore(
    client: &Client,
    database: &str,
    local: &SledStore,
    seq: i64,
    spool: &Path,
) -> Result<(), StoreError> {
    let damaged = |detail: String| StoreError::DatabaseRecord {
        database: database.to_string(),
        table: "rafid_snapshots",
        detail: format!("snapshot after record {seq}: {detail}"),
    };
    let mut file =
        tempfile::tempfile_in(spool).map_err(|e| spool_error(spool, "making a spool file", e))?;
    let parts: i64 = client
        .query_one(
            "SELECT count(*) FROM rafid_snapshots WHERE seq = $1",
            &[&seq],
        )
        .await
        .map_err(failed(database, "reading a snapshot"))?
        .get(0);
    {
        let mut w = BufWriter::new(&mut file);
        // A piece at a time, so that a large snapshot is never all in
        // memory.
        for part in 0..parts as i32 {
            let row = client
                .query_one(
                    "SELECT bytes FROM rafid_snapshots WHERE seq = $1 AND part = $2",
                    &[&seq, &part],
                )
                .await
                .map_err(failed(database, "reading a snapshot"))?;
            let bytes: Vec<u8> = row.get(0);
            let piece = lz4_flex::decompress_size_prepended(&bytes)
                .map_err(|e| damaged(format!("piece {part}: {e}")))?;
            w.write_all(&piece)
                .map_err(|e| spool_error(spool, "writing the spool file", e))?;
        }
        w.flush()
            .map_err(|e| spool_error(spool, "writing the spool file", e))?;
    }
    file.rewind()
        .map_err(|e| spool_error(spool, "reading the spool file", e))?;
    let input: Box<dyn BufRead> = Box::new(BufReader::new(file));
    match local.import(input) {
        Ok(n) => {
            tracing::info!(database = %database, record = seq, items = n, "replica started from the database's snapshot");
            Ok(())
        }
        Err(ImportError::Store(e)) => Err(e),
        Err(e) => Err(damaged(e.to_string())),
    }
}
