//! What the HTTP handlers share, apart from the router so that the
//! handlers' own files need not import it.

use std::sync::Arc;

use crate::config::Live;
use crate::ingest::counters::Counters;
use crate::ingest::schedule::Schedule;
use crate::publish::Outputs;
use crate::store::Store;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The config in force; a reload swaps it between two requests.
    pub config: Live,
    /// The store, once it has opened: until then the server answers from
    /// the outputs the last run saved.
    pub store: StoreSlot,
    pub outputs: Arc<Outputs>,
    /// The polls the scheduler has planned, shown by `/status`.
    pub schedule: Arc<Schedule>,
    /// The daemon's poll counters, shown by `/metrics`.
    pub counters: Arc<Counters>,
}

/// The store, set once it has opened. A daemon starts serving before its
/// store is open (a large store takes seconds), so handlers that read the
/// store ask for it and answer "try again" while it opens.
#[derive(Clone, Default)]
pub struct StoreSlot(Arc<std::sync::OnceLock<Store>>);

impl StoreSlot {
    /// A slot holding a store already open.
    pub fn ready(store: Store) -> StoreSlot {
        let slot = StoreSlot::default();
        slot.set(store);
        slot
    }

    /// Puts the opened store in; a second store is ignored (there is one
    /// per daemon).
    pub fn set(&self, store: Store) {
        let _ = self.0.set(store);
    }

    pub fn get(&self) -> Option<Store> {
        self.0.get().cloned()
    }
}
