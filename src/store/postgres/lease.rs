//! Leases on feeds and on hosts' request slots, shared by every poller of
//! one database.
//!
//! A poller claims due feeds in batches: each claim is one statement that
//! locks the rows it takes (`FOR UPDATE SKIP LOCKED`), so two pollers never
//! claim one feed and neither waits for the other. The lease names its
//! owner and lapses at `lease_until`; the owner renews it while it polls.
//! A lease moves the feed's `due_at` to its end as well: the feeds held
//! leave the front of the due index, which a claim would otherwise step
//! over one by one (claiming 100,000 feeds took 7 times as long), and a feed
//! whose lease lapses falls due again by itself.
//! Writing the feed's new state ends the lease, and only the owner can
//! write it: a poller that stalled past its lease, whose feeds another has
//! taken over, is told so instead of overwriting the newer state.
//!
//! `per_host` holds across pollers through `rafid_host_slots`: a request
//! to a host first takes one of that host's numbered slots, itself a lease
//! (a poller that dies frees its slots when they lapse). A `Retry-After`
//! pauses the host for every poller (`rafid_host_pauses`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::{connect, describe, schema};
use crate::model::FeedState;
use crate::store::StoreError;

/// One poller's handle on the database's leases.
pub struct Leases {
    client: Client,
    /// Names this poller in every lease it holds; unique per process.
    owner: String,
    database: String,
    /// Hosts (with their `per_host`) whose slot rows this poller made sure
    /// of, so that a request costs one round trip, not two.
    slots_made: std::sync::Mutex<std::collections::HashSet<(String, i32)>>,
}

/// A feed this poller now holds, with the state the last poller left.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub url: String,
    pub state: Option<FeedState>,
}

/// A request slot of one host, held until released or lapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSlot {
    pub host: String,
    pub slot: i32,
}

/// What asking for one feed's lease gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    Yours,
    /// Not due yet, or held by another poller: ask again after this long.
    NotBefore(Duration),
}

/// What asking for a host's request slot gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Held(HostSlot),
    /// All of the host's `per_host` slots are held by some poller.
    Busy,
    /// The host asked, through some poller, for no request before then.
    Paused(DateTime<Utc>),
}

/// `Duration` as the seconds PostgreSQL's `make_interval` takes.
fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Leases {
    /// Connects to `url`, migrates its schema, and names this poller
    /// `owner` (say, host name and process id: it shows in the database).
    pub async fn connect(url: &str, owner: &str) -> Result<Leases, StoreError> {
        let mut client = connect(url).await?;
        schema::migrate(&mut client, url).await?;
        Ok(Leases {
            client,
            owner: owner.to_string(),
            database: describe(url),
            slots_made: Default::default(),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn failed(&self, doing: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
        super::failed(&self.database, doing)
    }

    /// A feed's state that does not read (or write) as JSON.
    fn damaged(&self, url: &str, e: serde_json::Error) -> StoreError {
        StoreError::DatabaseRecord {
            database: self.database.clone(),
            table: "rafid_feeds",
            detail: format!("{}: {e}", crate::config::redact_str(url)),
        }
    }

    /// Makes every feed in `urls` known to the database, due at once when
    /// it is new; feeds already there keep their state and schedule.
    pub async fn add_feeds(&self, urls: &[&str]) -> Result<u64, StoreError> {
        self.client
            .execute(
                "INSERT INTO rafid_feeds (url) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                &[&urls],
            )
            .await
            .map_err(self.failed("adding feeds"))
    }

    /// Takes up to `limit` due feeds that no lease holds (or whose lease
    /// lapsed), oldest due first, for `lease`.
    pub async fn claim(&self, limit: i64, lease: Duration) -> Result<Vec<Claim>, StoreError> {
        let rows = self
            .client
            .query(
                "WITH due AS (
                     SELECT url FROM rafid_feeds
                     WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY due_at
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE rafid_feeds f
                 SET lease_owner = $1, lease_until = now() + make_interval(secs => $3),
                     due_at = now() + make_interval(secs => $3)
                 FROM due WHERE f.url = due.url
                 RETURNING f.url, f.state",
                &[&self.owner, &limit, &secs(lease)],
            )
            .await
            .map_err(self.failed("claiming due feeds"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let url: String = row.get(0);
            let state: Option<String> = row.get(1);
            let state = match state {
                None => None,
                Some(json) => Some(serde_json::from_str(&json).map_err(|e| self.damaged(&url, e))?),
            };
            out.push(Claim { url, state });
        }
        Ok(out)
    }

    /// Extends the leases this poller holds on `urls` by `lease` from now.
    /// Returns the feeds it still held; the others were taken over.
    pub async fn renew(&self, urls: &[&str], lease: Duration) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client
            .query(
                "UPDATE rafid_feeds
                 SET lease_until = now() + make_interval(secs => $3),
                     due_at = now() + make_interval(secs => $3)
                 WHERE lease_owner = $1 AND url = ANY($2)
                 RETURNING url",
                &[&self.owner, &urls, &secs(lease)],
            )
            .await
            .map_err(self.failed("renewing leases"))?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Records a feed's state after a poll, makes it due again at `due`,
    /// and ends the lease. False, and nothing written, when this poller no
    /// longer held the lease.
    pub async fn finish(
        &self,
        url: &str,
        state: &FeedState,
        due: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(state).map_err(|e| self.damaged(url, e))?;
        let n = self
            .client
            .execute(
                "UPDATE rafid_feeds
                 SET state = $3, due_at = $4, lease_owner = NULL, lease_until = NULL
                 WHERE url = $1 AND lease_owner = $2",
                &[&url, &self.owner, &json, &due],
            )
            .await
            .map_err(self.failed("recording a feed's state"))?;
        Ok(n == 1)
    }

    /// Gives up a lease without polling: the feed is due again at once.
    pub async fn release(&self, url: &str) -> Result<bool, StoreError> {
        let n = self
            .client
            .execute(
                "UPDATE rafid_feeds SET lease_owner = NULL, lease_until = NULL, due_at = now()
                 WHERE url = $1 AND lease_owner = $2",
                &[&url, &self.owner],
            )
            .await
            .map_err(self.failed("releasing a lease"))?;
        Ok(n == 1)
    }

    /// The state the database holds for a feed.
    pub async fn feed_state(&self, url: &str) -> Result<Option<FeedState>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT state FROM rafid_feeds WHERE url = $1", &[&url])
            .await
            .map_err(self.failed("reading a feed's state"))?;
        let Some(json) = row.and_then(|r| r.get::<_, Option<String>>(0)) else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| self.damaged(url, e))
    }

    /// Takes one of `host`'s first `per_host` request slots for `lease`,
    /// unless all are held or the host is paused.
    pub async fn take_host_slot(
        &self,
        host: &str,
        per_host: i32,
        lease: Duration,
    ) -> Result<Slot, StoreError> {
        // The slots are rows made on first use; a larger `per_host` later
        // adds the missing ones.
        let key = (host.to_string(), per_host);
        let made = self
            .slots_made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key);
        if !made {
            self.client
                .execute(
                    "INSERT INTO rafid_host_slots (host, slot)
                     SELECT $1, generate_series(0, $2 - 1) ON CONFLICT DO NOTHING",
                    &[&host, &per_host],
                )
                .await
                .map_err(self.failed("making a host's request slots"))?;
            self.slots_made
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
        let row = self
            .client
            .query_one(
                "WITH pause AS (
                     SELECT not_before FROM rafid_host_pauses
                     WHERE host = $1 AND not_before > now()
                 ), free AS (
                     SELECT host, slot FROM rafid_host_slots
                     WHERE host = $1 AND slot < $2 AND (owner IS NULL OR until < now())
                       AND NOT EXISTS (SELECT 1 FROM pause)
                     ORDER BY slot
                     LIMIT 1
                     FOR UPDATE SKIP LOCKED
                 ), taken AS (
                     UPDATE rafid_host_slots s
                     SET owner = $3, until = now() + make_interval(secs => $4)
                     FROM free WHERE s.host = free.host AND s.slot = free.slot
                     RETURNING s.slot
                 )
                 SELECT (SELECT slot FROM taken), (SELECT not_before FROM pause)",
                &[&host, &per_host, &self.owner, &secs(lease)],
            )
            .await
            .map_err(self.failed("taking a host's request slot"))?;
        let slot: Option<i32> = row.get(0);
        let paused: Option<DateTime<Utc>> = row.get(1);
        Ok(match (slot, paused) {
            (Some(slot), _) => Slot::Held(HostSlot {
                host: host.to_string(),
                slot,
            }),
            (None, Some(until)) => Slot::Paused(until),
            (None, None) => Slot::Busy,
        })
    }

    /// Takes one of `host`'s request slots, waiting while all are held
    /// (20 ms doubling to 320 ms between tries) and until a pause ends.
    pub async fn wait_host_slot(
        &self,
        host: &str,
        per_host: i32,
        lease: Duration,
    ) -> Result<HostSlot, StoreError> {
        let mut wait = Duration::from_millis(20);
        loop {
            match self.take_host_slot(host, per_host, lease).await? {
                Slot::Held(slot) => return Ok(slot),
                Slot::Busy => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(320));
                }
                Slot::Paused(until) => {
                    let left = (until - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(left.max(Duration::from_millis(20))).await;
                }
            }
        }
    }

    /// Takes the lease on the one feed `url` for `lease` if it is due and
    /// no other poller holds it; otherwise says how long until it may be
    /// (by the database's clock, so a poller's drifting clock does not
    /// make it ask early again and again). A feed not added yet is added,
    /// due at once.
    pub async fn claim_feed(&self, url: &str, lease: Duration) -> Result<Claimed, StoreError> {
        let row = self
            .client
            .query_one(
                "WITH taken AS (
                     UPDATE rafid_feeds
                     SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
                         due_at = now() + make_interval(secs => $3)
                     WHERE url = $1 AND due_at <= now()
                       AND (lease_until IS NULL OR lease_until < now())
                     RETURNING 1
                 )
                 SELECT EXISTS (SELECT 1 FROM taken),
                        (SELECT extract(epoch FROM greatest(due_at, coalesce(lease_until, due_at)) - now())::float8
                         FROM rafid_feeds WHERE url = $1)",
                &[&url, &self.owner, &secs(lease)],
            )
            .await
            .map_err(self.failed("claiming a feed"))?;
        if row.get::<_, bool>(0) {
            return Ok(Claimed::Yours);
        }
        match row.get::<_, Option<f64>>(1) {
            Some(wait) => Ok(Claimed::NotBefore(Duration::from_secs_f64(wait.max(0.0)))),
            None => {
                self.add_feeds(&[url]).await?;
                Ok(Claimed::NotBefore(Duration::ZERO))
            }
        }
    }

    /// Ends this poller's lease on `url` after a poll, the feed due again
    /// at `due`. False when the lease had lapsed and another poller took
    /// the feed: its due time stands.
    pub async fn finish_feed(&self, url: &str, due: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self
            .client
            .execute(
                "UPDATE rafid_feeds SET due_at = $3, lease_owner = NULL, lease_until = NULL
                 WHERE url = $1 AND lease_owner = $2",
                &[&url, &self.owner, &due],
            )
            .await
            .map_err(self.failed("ending a feed's lease"))?;
        Ok(n == 1)
    }

    /// Frees a request slot this poller holds.
    pub async fn free_host_slot(&self, slot: &HostSlot) -> Result<(), StoreError> {
        self.client
            .execute(
                "UPDATE rafid_host_slots SET owner = NULL, until = NULL
                 WHERE host = $1 AND slot = $2 AND owner = $3",
                &[&slot.host, &slot.slot, &self.owner],
            )
            .await
            .map_err(self.failed("freeing a host's request slot"))?;
        Ok(())
    }

    /// Asks every poller to send `host` no request before `until` (a
    /// `Retry-After`); a later pause already recorded stays.
    pub async fn pause_host(&self, host: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .execute(
                "INSERT INTO rafid_host_pauses (host, not_before) VALUES ($1, $2)
                 ON CONFLICT (host) DO UPDATE
                 SET not_before = greatest(rafid_host_pauses.not_before, excluded.not_before)",
                &[&host, &until],
            )
            .await
            .map_err(self.failed("pausing a host"))?;
        Ok(())
    }
}
