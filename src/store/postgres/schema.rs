//! The database's schema and its migrations.
//!
//! Each migration is one transaction, recorded in `rafid_schema` with its
//! version. Every poller migrates at connect, holding a transaction-scoped
//! advisory lock, so pollers started together apply each migration once.
//! A database migrated by a newer rafid is refused, not written.

use tokio_postgres::Client;

use super::describe;
use crate::store::StoreError;

/// The schema version this rafid writes.
pub const SCHEMA_VERSION: i32 = 2;

/// The advisory lock taken while migrating: a constant of rafid's own (the
/// first eight bytes of "rafid-sc" as an integer).
const MIGRATION_LOCK: i64 = 0x7261_6669_642d_7363;

/// The migrations, in order: `MIGRATIONS[n - 1]` takes the schema from
/// version `n - 1` to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the feeds with their leases and states, and the hosts' request
    // slots and pauses.
    "CREATE TABLE rafid_feeds (
         url text PRIMARY KEY,
         -- model::FeedState as JSON; null until the feed is first polled
         state text,
         due_at timestamptz NOT NULL DEFAULT now(),
         lease_owner text,
         lease_until timestamptz
     );
     CREATE INDEX rafid_feeds_due ON rafid_feeds (due_at);
     CREATE TABLE rafid_host_slots (
         host text NOT NULL,
         slot integer NOT NULL,
         owner text,
         until timestamptz,
         PRIMARY KEY (host, slot)
     );
     CREATE TABLE rafid_host_pauses (
         host text PRIMARY KEY,
         not_before timestamptz NOT NULL
     );",
    // 2: the store's identity, its log (`log`) and the log's snapshots
    // (`compact`). `seq` is given under the log's append lock, not by a
    // sequence, so that numbers follow commits; the log is partitioned by
    // it, `log::PARTITION` records a partition, made as appends need them.
    // Records and snapshots are LZ4-compressed already: PostgreSQL's own
    // compression would only cost CPU.
    "CREATE TABLE rafid_meta (
         name text PRIMARY KEY,
         value text NOT NULL
     );
     INSERT INTO rafid_meta (name, value) VALUES
         ('store_id', replace(gen_random_uuid()::text, '-', '')),
         ('created', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'));
     CREATE TABLE rafid_log (
         seq bigint NOT NULL PRIMARY KEY,
         at timestamptz NOT NULL DEFAULT now(),
         poller text NOT NULL,
         -- log::Record, JSON compressed with LZ4
         record bytea NOT NULL
     ) PARTITION BY RANGE (seq);
     ALTER TABLE rafid_log ALTER COLUMN record SET STORAGE EXTERNAL;
     CREATE TABLE rafid_snapshots (
         seq bigint NOT NULL,
         part integer NOT NULL,
         -- a piece of the store's export at record seq, compressed with LZ4
         bytes bytea NOT NULL,
         PRIMARY KEY (seq, part)
     );
     ALTER TABLE rafid_snapshots ALTER COLUMN bytes SET STORAGE EXTERNAL;",
];

/// Brings the database at `url` (connected as `client`) to
/// `SCHEMA_VERSION`. Returns the version it found.
pub(crate) async fn migrate(client: &mut Client, url: &str) -> Result<i32, StoreError> {
    let database = describe(url);
    let failed = |doing| super::failed(&database, doing);
    let tx = client
        .transaction()
        .await
        .map_err(failed("starting the migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed("waiting for another poller's migration"))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS rafid_schema (
             version integer PRIMARY KEY,
             applied timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(failed("creating the schema table"))?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM rafid_schema", &[])
        .await
        .map_err(failed("reading the schema version"))?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::DatabaseSchema {
            database,
            found,
            expected: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(failed("applying a schema migration"))?;
        tx.execute(
            "INSERT INTO rafid_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(failed("recording a schema migration"))?;
        tracing::info!(database = %database, version, "migrated the database's schema");
    }
    tx.commit()
        .await
        .map_err(failed("committing the migration"))?;
    Ok(found)
}
