//! The PostgreSQL store (`[storage] backend = "postgres"`): what lets
//! several rafid processes share one store.
//!
//! - `log`: every change to the store, as records numbered in the order
//!   they commit; `replica`: the backend itself, which appends to the log
//!   and applies it, in order, to a sled store of this process's own,
//!   which serves every read; `compact`: snapshots that bound the log;
//! - `schema`: the versioned schema, migrated at connect under a lock, so
//!   pollers started together migrate once;
//! - `lease`: which poller polls which feed (a lease with an owner and an
//!   expiry, renewed while polling, taken over once it lapses), and the
//!   per-host request slots and `Retry-After` pauses that hold across all
//!   pollers together (`store::shared` is what the scheduler sees of
//!   them). The scheduler takes one feed's lease at a time
//!   (`Leases::claim_feed`) and keeps the feed's state in the log; the
//!   batch claims that carry a state beside the lease (`Leases::claim`,
//!   `finish`) are for a poller that claims feeds by the hundred, and are
//!   what `benches/leases.rs` measures.
//!
//! Time is the database's (`now()`), never a poller's: pollers on several
//! machines agree on when a lease lapses however their clocks drift.

mod compact;
mod lease;
mod log;
mod replica;
mod schema;

pub use lease::{Claim, Claimed, HostSlot, Leases, Slot};
pub use replica::PgStore;
pub use schema::SCHEMA_VERSION as PG_SCHEMA_VERSION;

use super::StoreError;

/// The database a URL names, for messages: host, port and database, never
/// the user or the password.
pub fn describe(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return "the PostgreSQL database (its URL does not parse)".into();
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(default)");
    format!("postgres://{host}:{port}/{db}")
}

/// This process, as the log's `poller` column and the leases' owner name
/// it: the machine's name and the process id.
pub(crate) fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// The error of a statement that failed while `doing` something, on the
/// database `database` (as `describe` gives it).
pub(crate) fn failed(
    database: &str,
    doing: &'static str,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    let database = database.to_string();
    move |source| StoreError::Postgres {
        database,
        doing,
        source,
    }
}

/// Connects to `url` without TLS (a database on loopback or a private
/// network; TLS to the database is not offered yet) and keeps the
/// connection running on the current tokio runtime.
pub(crate) async fn connect(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let database = describe(url);
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(failed(&database, "connecting"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(database = %database, error = %e, "the connection to the database ended");
        }
    });
    Ok(client)
}

/// `connect`, with the notifications the connection receives (`LISTEN`)
/// sent on the channel returned, which closes when the connection ends.
pub(crate) async fn connect_listening(
    url: &str,
) -> Result<
    (
        tokio_postgres::Client,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ),
    StoreError,
> {
    let database = describe(url);
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(failed(&database, "connecting"))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                    let _ = tx.send(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(database = %database, error = %e, "the connection to the database ended");
                    break;
                }
                None => break,
            }
        }
    });
    Ok((client, rx))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_replica;
