//! What several rafid processes polling one store share besides its
//! records: which of them polls which feed when, and how many requests a
//! host is sent at once by all of them together.
//!
//! Only a store in PostgreSQL is shared (`postgres::Leases` keeps the
//! leases); with the sled store there is one poller, and its own limits
//! are all there is. The scheduler and the poller hold an
//! `Option<Arc<Pollers>>` and do not learn more.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::StoreError;
use super::postgres::{HostSlot, Leases};
use crate::config::{Config, StorageBackend};

pub use super::postgres::Claimed;

/// This process's handle on the pollers' shared leases.
pub struct Pollers {
    leases: Arc<Leases>,
}

impl std::fmt::Debug for Pollers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pollers")
            .field("owner", &self.leases.owner())
            .finish()
    }
}

/// The pollers' leases of the store `config` names, when other processes
/// may poll it too; None for a store only this process polls.
pub async fn pollers(config: &Config) -> Result<Option<Arc<Pollers>>, StoreError> {
    match &config.storage.backend {
        StorageBackend::Sled => Ok(None),
        StorageBackend::Postgres { url } => {
            let leases = Leases::connect(&url.0, &super::postgres::process_name()).await?;
            Ok(Some(Arc::new(Pollers {
                leases: Arc::new(leases),
            })))
        }
    }
}

impl Pollers {
    /// Makes sure the feeds have a lease row, due at once if new.
    pub async fn add_feeds(&self, urls: &[&str]) -> Result<(), StoreError> {
        self.leases.add_feeds(urls).await.map(|_| ())
    }

    /// Takes the feed for a poll of at most `lease` (renewed meanwhile), or
    /// says when to ask again.
    pub async fn claim(&self, url: &str, lease: Duration) -> Result<Claimed, StoreError> {
        self.leases.claim_feed(url, lease).await
    }

    /// Extends this process's lease on `url`; false when another took it.
    pub async fn renew(&self, url: &str, lease: Duration) -> Result<bool, StoreError> {
        Ok(!self.leases.renew(&[url], lease).await?.is_empty())
    }

    /// Ends the lease after a poll, the feed due again at `due`.
    pub async fn finish(&self, url: &str, due: DateTime<Utc>) -> Result<bool, StoreError> {
        self.leases.finish_feed(url, due).await
    }

    /// Waits for one of `host`'s `per_host` request slots, held by all
    /// pollers together, and for a pause any of them recorded to end. The
    /// slot lapses after `lease` if it is not freed.
    pub async fn host_slot(
        &self,
        host: &str,
        per_host: usize,
        lease: Duration,
    ) -> Result<HostPermit, StoreError> {
        let per_host = i32::try_from(per_host).unwrap_or(i32::MAX);
        let slot = self.leases.wait_host_slot(host, per_host, lease).await?;
        Ok(HostPermit {
            slot: Some(slot),
            leases: self.leases.clone(),
        })
    }

    /// Asks every poller to send `host` nothing before `until`.
    pub async fn pause_host(&self, host: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.leases.pause_host(host, until).await
    }
}

/// A request slot of a host, freed when dropped (or at its lease's end if
/// the process dies first).
pub struct HostPermit {
    slot: Option<HostSlot>,
    leases: Arc<Leases>,
}

impl Drop for HostPermit {
    /// Frees the slot on a task of its own: a drop cannot wait. Outside a
    /// runtime the slot lapses at its lease's end instead.
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let leases = self.leases.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = leases.free_host_slot(&slot).await {
                    tracing::debug!(host = %slot.host, error = %e, "a host's request slot is left to lapse");
                }
            });
        }
    }
}
