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
    pub store: Store,
    pub outputs: Arc<Outputs>,
    /// The polls the scheduler has planned, shown by `/status`.
    pub schedule: Arc<Schedule>,
    /// The daemon's poll counters, shown by `/metrics`.
    pub counters: Arc<Counters>,
}
