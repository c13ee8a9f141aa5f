//! The daemon's lifecycle: open the store, bind the port, start the
//! scheduler, the publisher (which renders the outputs first) and the
//! server, which answers while that first render runs, tell systemd we are ready, and
//! on SIGTERM/SIGINT stop polling, let in-flight writes and requests finish,
//! flush the store and return.
//!
//! Reloads (SIGHUP, or the config file changing) swap the config every
//! part reads through a [`Live`] handle; see [`crate::daemon::reload`]. While the
//! daemon runs, the commands that read the store reach it through the
//! control socket ([`crate::daemon::control`]).
//!
//! Stop order: the token is cancelled; pollers stop at their next await
//! without waiting for a parse on its blocking thread (the parse stops at
//! its next look at the token; a document already being stored is stored
//! in one transaction, all or nothing, even if the process exits first);
//! the server stops accepting and finishes its requests; the publisher
//! exits (a WebSub ping in flight gets a short while of its own to end);
//! then the store is flushed. Tasks get `GRACE` to finish before the flush
//! happens anyway. A stop is clean, and [`serve`] returns `Ok`, only when
//! every task ended in time and the flush succeeded: otherwise what the last
//! polls stored may not be on disk, and the exit code must say so.

pub mod control;
pub mod reload;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{Config, Live};
use crate::ingest::fetch::Fetcher;
use crate::ingest::poll::Poller;
use crate::ingest::scheduler;
use crate::publish::websub;
use crate::publish::{Format, Outputs, Scope};
use crate::server::{self, AppState};
use crate::store::Store;

/// How long tasks get to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(5);

/// How often, at most, the publisher saves the outputs for the next start
/// (they are saved at every clean stop too).
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// How long the publisher waits after a change for more changes, so a
/// burst of polls renders once.
const PUBLISH_DEBOUNCE: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source} (set server.listen in {config})")]
    Bind {
        addr: std::net::SocketAddr,
        config: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] crate::ingest::fetch::ClientError),
    #[error("the store could not be opened: {0}")]
    Opening(String),
    #[error("cannot flush the store in {dir} at stop; the last changes may be lost: {source}")]
    Flush {
        dir: std::path::PathBuf,
        source: crate::store::StoreError,
    },
    #[error(
        "{count} task(s) still running {grace:?} after the stop signal; the store was flushed without waiting for them"
    )]
    Stuck { count: usize, grace: Duration },
}

/// What a test changes about the daemon it drives.
#[derive(Default)]
struct Seams {
    /// The rendered outputs, so a test can hold up the first render.
    outputs: Arc<Outputs>,
    /// Makes the final flush fail as an I/O error (a full disk) would.
    #[cfg(test)]
    flush_fails: bool,
}

impl Seams {
    // Outside tests `outputs` is the only field.
    #[cfg_attr(not(test), allow(clippy::needless_update))]
    fn with_outputs(outputs: Arc<Outputs>) -> Seams {
        Seams {
            outputs,
            ..Seams::default()
        }
    }
}

/// Runs the daemon until a stop signal.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    // Signal handlers first: a SIGTERM that arrives while the store opens
    // must stop the daemon cleanly, not kill it.
    let signals = Signals::install();
    let config = Arc::new(config);
    // The outputs the last run saved are read before the store opens, which
    // removes them, and served while it opens.
    let outputs = Arc::new(Outputs::default());
    restore_saved(&config, &outputs);
    let opening = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || crate::store::open_store(&config, "rafid run"))
    };
    let near = config.dedup.near_duplicates.then(|| {
        let dir = config.storage.path.clone();
        tokio::task::spawn_blocking(move || crate::store::NearAhead::read(&dir))
    });
    let listener = match TcpListener::bind(config.server.listen).await {
        Ok(l) => l,
        Err(source) => {
            // A second daemon on this store usually holds the port too:
            // the store's lock then says more (who holds it).
            if let Ok(Err(e)) = opening.await {
                return Err(e.into());
            }
            return Err(DaemonError::Bind {
                addr: config.server.listen,
                config: config.path.display().to_string(),
                source,
            });
        }
    };
    let token = CancellationToken::new();
    let seams = Seams::with_outputs(outputs);
    serve_with(
        config,
        Opening::Pending {
            store: opening,
            near,
        },
        listener,
        token.clone(),
        async move {
            signals.recv().await;
            info!("stop signal received");
        },
        seams,
    )
    .await
}

/// Puts the outputs the last run saved into `outputs`, if they were
/// rendered under this very config text. A file that cannot be used is
/// logged and left: the daemon then renders from the store as usual.
fn restore_saved(config: &Config, outputs: &Outputs) {
    let dir = &config.storage.path;
    match crate::publish::saved::load(dir, &config.text_digest) {
        Ok(Some(saved)) => {
            info!(
                outputs = saved.len(),
                "serving the outputs saved at the last stop while the store opens"
            );
            outputs.replace_all(saved);
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "the saved outputs are not used"),
    }
}

/// Saves the outputs held for the next start (`publish::saved`).
async fn save_outputs(dir: std::path::PathBuf, digest: [u8; 16], outputs: Arc<Outputs>) {
    if outputs.is_empty() {
        return;
    }
    match tokio::task::spawn_blocking(move || crate::publish::saved::save(&dir, &digest, &outputs))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => warn!(error = %e, "the next start will not serve before its store opens"),
        Err(e) => warn!(error = %e, "saving the outputs failed"),
    }
}

/// Saves the outputs after the first render and then at most every
/// `SAVE_EVERY` (`last` is when they were last saved): not on every render,
/// yet a daemon that is killed, not stopped, still starts with recent ones.
async fn save_if_due(
    last: &mut Option<std::time::Instant>,
    store: &Store,
    digest: [u8; 16],
    outputs: &Arc<Outputs>,
) {
    if last.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
        *last = Some(std::time::Instant::now());
        save_outputs(store.dir().to_path_buf(), digest, outputs.clone()).await;
    }
}

/// The store `serve_with` is given: open already, or opening on a
/// blocking thread while the server answers from the saved outputs.
enum Opening {
    Open(Box<Store>),
    Pending {
        store: tokio::task::JoinHandle<Result<Store, crate::store::StoreError>>,
        /// The near index a clean stop saved, read meanwhile on another
        /// thread; held against the store once it is open.
        near: Option<tokio::task::JoinHandle<Option<crate::store::NearAhead>>>,
    },
}

/// The daemon with its parts passed in, so tests can drive it: it stops when
/// `stop` completes (or `token` is cancelled).
pub async fn serve(
    config: Arc<Config>,
    store: Store,
    listener: TcpListener,
    token: CancellationToken,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    serve_with(
        config,
        Opening::Open(Box::new(store)),
        listener,
        token,
        stop,
        Seams::default(),
    )
    .await
}

async fn serve_with(
    config: Arc<Config>,
    store: Opening,
    listener: TcpListener,
    token: CancellationToken,
    stop: impl std::future::Future<Output = ()>,
    seams: Seams,
) -> Result<(), DaemonError> {
    let outputs = seams.outputs.clone();
    let fetcher = Arc::new(Fetcher::new(&config.poll)?);
    let changed = Arc::new(Notify::new());
    let tasks = TaskTracker::new();
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.server.listen.to_string());
    let (reloads, live) = watch::channel(config.clone());
    // One set of poll counters, written by the poller, shown by /metrics.
    let counters = Arc::new(crate::ingest::counters::Counters::default());
    let schedule = Arc::new(crate::ingest::schedule::Schedule::default());
    // The server starts first: while the store opens it serves what the
    // last run saved, and asks for the rest to be asked again.
    let slot = server::StoreSlot::default();
    let state = AppState {
        config: live.clone(),
        store: slot.clone(),
        outputs: outputs.clone(),
        schedule: schedule.clone(),
        counters: counters.clone(),
    };
    tasks.spawn(server::run(listener, state, token.clone()));
    tokio::pin!(stop);
    let mut near_ahead = None;
    let store = match store {
        Opening::Open(store) => *store,
        Opening::Pending {
            store: mut opening,
            near,
        } => {
            near_ahead = near;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status("opening the store")]);
            info!(listen = %bound, "opening the store; answering from the saved outputs meanwhile");
            let opened = tokio::select! {
                r = &mut opening => Some(r),
                _ = &mut stop => None,
                _ = token.cancelled() => None,
            };
            let result = match opened {
                Some(Ok(Ok(store))) => Ok(store),
                Some(Ok(Err(e))) => Err(Some(DaemonError::Store(e))),
                Some(Err(e)) => Err(Some(DaemonError::Opening(e.to_string()))),
                None => {
                    // Stopped while opening: the open runs to its end, and
                    // the store is closed before the daemon returns. It was
                    // not changed, so what was served is saved again.
                    if let Ok(Ok(store)) = opening.await {
                        let digest = live.borrow().text_digest;
                        save_outputs(store.dir().to_path_buf(), digest, outputs.clone()).await;
                    }
                    Err(None)
                }
            };
            match result {
                Ok(store) => store,
                Err(failure) => {
                    token.cancel();
                    tasks.close();
                    let _ = tokio::time::timeout(GRACE, tasks.wait()).await;
                    return failure.map_or(Ok(()), Err);
                }
            }
        }
    };
    slot.set(store.clone());
    let mut poller =
        Poller::new(config.clone(), store.clone(), fetcher).counting_into(counters.clone());
    poller.schedule = schedule;
    // Other processes may poll the same store: the feeds' leases and the
    // hosts' slots are then shared with them.
    poller.pollers = match crate::store::pollers(&config).await {
        Ok(p) => p,
        Err(e) => {
            token.cancel();
            return Err(e.into());
        }
    };
    let control_poller = poller.clone();
    tasks.spawn(scheduler::run(
        poller,
        live.clone(),
        token.clone(),
        changed.clone(),
    ));
    tasks.spawn(publisher(
        store.clone(),
        live.clone(),
        outputs.clone(),
        changed.clone(),
        token.clone(),
        tasks.clone(),
    ));
    tasks.spawn(forget_outputs_on_reload(
        live.clone(),
        outputs.clone(),
        token.clone(),
    ));
    // The near index first: the first ingest waits for it, while lookups
    // only read sled until the keys are read (the two side by side slowed
    // the index's read on two cores).
    let near = config
        .dedup
        .near_duplicates
        .then(|| config.near_dup().clone());
    let (s, t) = (store.clone(), token.clone());
    tasks.spawn(async move {
        if let Some(near) = near {
            prepare_near_index(s.clone(), near, near_ahead, t.clone()).await;
        }
        if !t.is_cancelled() {
            fill_key_set(s, t).await;
        }
    });
    if let Some(changes) = store.changes() {
        tasks.spawn(follow_others(
            store.clone(),
            changes,
            live.clone(),
            changed.clone(),
            token.clone(),
        ));
    }
    tasks.spawn(retention(
        store.clone(),
        live.clone(),
        changed.clone(),
        token.clone(),
    ));
    tasks.spawn(crate::daemon::reload::watch(
        reloads,
        token.clone(),
        changed.clone(),
    ));
    match crate::daemon::control::Server::bind(store.dir(), bound.clone()) {
        Ok(control) => {
            tasks.spawn(control.run(
                live.clone(),
                store.clone(),
                control_poller,
                changed.clone(),
                token.clone(),
            ));
        }
        Err(e) => warn!(
            error = %e,
            "no control socket: render, export, store check, feeds list and dedup explain/split cannot reach this daemon"
        ),
    }
    if let Some(period) = sd_notify::watchdog_enabled() {
        tasks.spawn(watchdog(period, store.clone(), token.clone()));
    }
    tasks.close();

    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        // Not held up by the first count of the items: the publisher's
        // first render counts them, on a blocking thread.
        sd_notify::NotifyState::Status(&status_line(&config, store.known_item_count())),
    ]);
    // Said once everything runs: the store is open, the control socket
    // bound (scripts wait for this line).
    info!(listen = %bound, "serving");

    tokio::select! {
        _ = &mut stop => {}
        _ = token.cancelled() => {}
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    token.cancel();
    let stuck = match tokio::time::timeout(GRACE, tasks.wait()).await {
        Ok(()) => 0,
        Err(_) => {
            let count = tasks.len();
            error!(
                tasks = count,
                "tasks still running after {GRACE:?}; flushing anyway"
            );
            count
        }
    };
    // What the server showed last, for the next start to show at once.
    let in_force = live.borrow().clone();
    save_outputs(
        store.dir().to_path_buf(),
        in_force.text_digest,
        outputs.clone(),
    )
    .await;
    // The near index, the key filter and the feeds' cap too, unless a task
    // that may still store is running: what is saved must agree with the
    // items.
    if stuck == 0 {
        let near = in_force
            .dedup
            .near_duplicates
            .then(|| in_force.near_dup().clone());
        let s = store.clone();
        let saved = tokio::task::spawn_blocking(move || s.save_for_next_start(near.as_ref()));
        if let Err(e) = saved.await {
            warn!(error = %e, "saving what the next start can start from failed");
        }
    }
    if let Err(source) = final_flush(&store, &seams).await {
        error!(error = %source, "final flush failed");
        return Err(DaemonError::Flush {
            dir: store.dir().to_path_buf(),
            source,
        });
    }
    if stuck > 0 {
        return Err(DaemonError::Stuck {
            count: stuck,
            grace: GRACE,
        });
    }
    info!("store flushed; stopped");
    Ok(())
}

/// For a store other processes change too (`Backend::changes`): has the
/// outputs rendered again after each change any of them makes, and keeps
/// the store's `[dedup]` settings those of the config in force.
async fn follow_others(
    store: Store,
    mut changes: watch::Receiver<i64>,
    mut config: Live,
    changed: Arc<Notify>,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            r = changes.changed() => {
                if r.is_err() {
                    return;
                }
                changed.notify_one();
            }
            r = config.changed() => {
                if r.is_err() {
                    return;
                }
                let cfg = config.borrow_and_update().clone();
                if cfg.dedup.near_duplicates {
                    store.set_near_dup(cfg.near_dup());
                }
            }
        }
    }
}

/// The flush at stop, which a test can make fail.
async fn final_flush(store: &Store, seams: &Seams) -> Result<(), crate::store::StoreError> {
    #[cfg(test)]
    if seams.flush_fails {
        return Err(crate::store::StoreError::disk_full(store.dir()));
    }
    #[cfg(not(test))]
    let _ = seams;
    store.flush_async().await
}

/// Re-renders the outputs after changes, at most once per debounce period.
async fn publisher(
    store: Store,
    config: Live,
    outputs: Arc<Outputs>,
    changed: Arc<Notify>,
    token: CancellationToken,
    tasks: TaskTracker,
) {
    // The hub is read once: changing it takes a restart.
    let websub = match websub::Pinger::from_config(&config.borrow()) {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "WebSub disabled");
            None
        }
    };
    // The outputs as the store holds them at start. The server is up
    // already: until this is done, requests render what they ask for (or
    // get what the last run saved).
    let mut last_saved: Option<std::time::Instant> = None;
    let etag = |o: &Outputs| o.get(&Scope::All, Format::Atom).map(|r| r.etag.clone());
    // What subscribers last saw: the outputs the last run saved, served
    // until the first render replaces them (none on a first start).
    let saved = etag(&outputs);
    {
        let cfg = config.borrow().clone();
        let (s, c, o) = (store.clone(), cfg.clone(), outputs.clone());
        tokio::select! {
            _ = token.cancelled() => return,
            r = tokio::task::spawn_blocking(move || render(&o, &s, &c)) => match r {
                Ok(Ok(status)) => {
                    save_if_due(&mut last_saved, &store, cfg.text_digest, &outputs).await;
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);
                }
                Ok(Err(e)) => warn!(error = %e, "cannot render the merged feed at start"),
                Err(e) => warn!(error = %e, "render task failed"),
            },
        }
    }
    // The main feed as last published: the hub hears of changes to it only.
    let mut published = etag(&outputs);
    // Items stored while the daemon was down, or by a poll that ended
    // before the first render read the store, are in that render, and no
    // later one changes the feed for them: the hub hears of them now,
    // unless the feed is what the last run published.
    if let Some(p) = &websub {
        if published.is_some()
            && published != saved
            && store.known_item_count().is_some_and(|n| n > 0)
        {
            p.spawn_ping(&tasks, websub::topics(&config.borrow()), token.clone());
        }
    }
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = changed.notified() => {}
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(PUBLISH_DEBOUNCE) => {}
        }
        // What the outputs show must be on disk first: one flush for
        // everything the polls of the last moments stored.
        if let Err(e) = store.flush_async().await {
            warn!(error = %e, "cannot flush the store; the outputs keep what they had");
            continue;
        }
        let cfg = config.borrow().clone();
        let (s, c, o) = (store.clone(), cfg.clone(), outputs.clone());
        match tokio::task::spawn_blocking(move || render(&o, &s, &c)).await {
            Ok(Ok(status)) => {
                save_if_due(&mut last_saved, &store, cfg.text_digest, &outputs).await;
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);
                let now = etag(&outputs);
                let was = std::mem::replace(&mut published, now.clone());
                if let Some(p) = &websub {
                    if now != was {
                        p.spawn_ping(&tasks, websub::topics(&cfg), token.clone());
                    }
                }
            }
            Ok(Err(e)) => warn!(error = %e, "cannot render the merged feed"),
            Err(e) => warn!(error = %e, "render task failed"),
        }
    }
}

/// Drops the cached outputs as soon as a reload puts a new config in force:
/// it may change what any of them says (titles, the tokens in a private
/// river's links, which scopes a page names). Until the publisher renders
/// them again, each is rendered on its first request.
async fn forget_outputs_on_reload(
    mut config: Live,
    outputs: Arc<Outputs>,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            r = config.changed() => if r.is_err() { return },
        }
        outputs.clear();
    }
}

/// Makes the near-duplicate index ready (read back, or rebuilt from the
/// window's items) as soon as the store is open, rather than in the first
/// ingest that needs it; that ingest then waits for what remains, if any.
async fn prepare_near_index(
    store: Store,
    near: crate::dedup::near::NearDup,
    ahead: Option<tokio::task::JoinHandle<Option<crate::store::NearAhead>>>,
    token: CancellationToken,
) {
    let ahead = match ahead {
        Some(read) => tokio::select! {
            r = read => r.ok().flatten(),
            _ = token.cancelled() => return,
        },
        None => None,
    };
    let done = stoppable(token, move |stop| {
        store.prepare_near_index(&near, stop, ahead)
    })
    .await;
    match done {
        Ok(Ok(_)) | Ok(Err(crate::store::StoreError::Stopped)) => {}
        Ok(Err(e)) => {
            warn!(error = %e, "cannot build the near-duplicate index; the first ingest tries again")
        }
        Err(e) => warn!(error = %e, "near-duplicate index task failed"),
    }
}

/// Reads a large store's keys into its key set once it is open, so that
/// ingests stop reading sled for keys it does not hold; they read it
/// meanwhile.
async fn fill_key_set(store: Store, token: CancellationToken) {
    match stoppable(token, move |stop| store.fill_key_set(Some(stop))).await {
        Ok(Ok(())) | Ok(Err(crate::store::StoreError::Stopped)) => {}
        Ok(Err(e)) => warn!(error = %e, "cannot read the store's keys; lookups read the store"),
        Err(e) => warn!(error = %e, "key set task failed"),
    }
}

/// Runs `job` on a blocking thread, telling it through its flag to give up
/// when `token` is cancelled, and waits for it to end either way.
async fn stoppable<R: Send + 'static>(
    token: CancellationToken,
    job: impl FnOnce(&std::sync::atomic::AtomicBool) -> R + Send + 'static,
) -> Result<R, tokio::task::JoinError> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let mut work = tokio::task::spawn_blocking(move || job(&flag));
    tokio::select! {
        r = &mut work => r,
        _ = token.cancelled() => {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            work.await
        }
    }
}

/// How often retention runs while the daemon does.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Prunes what `[storage]` retention does not keep: a minute after start,
/// then every `RETENTION_EVERY`.
async fn retention(store: Store, config: Live, changed: Arc<Notify>, token: CancellationToken) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = RETENTION_EVERY;
        // The policy in force now: a reload may have set or changed it.
        let policy = crate::store::Retention::from_config(&config.borrow().storage);
        if !policy.is_set() {
            continue;
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.prune(&policy, chrono::Utc::now())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                info!(pruned = n, "retention pruned old items");
                changed.notify_one();
            }
            Ok(Err(e)) => warn!(error = %e, "retention failed"),
            Err(e) => warn!(error = %e, "retention task failed"),
        }
    }
}

/// The STATUS= line systemd shows: what the daemon carries.
/// Renders the outputs from the store; gives the status line, whose count
/// of the items may walk the store the first time (so this runs on a
/// blocking thread).
fn render(
    outputs: &Outputs,
    store: &Store,
    config: &Config,
) -> Result<String, crate::store::StoreError> {
    outputs.refresh(store, config)?;
    Ok(status_line(config, Some(store.item_count())))
}

/// What systemd shows as the daemon's status; `items` when counted.
fn status_line(config: &Config, items: Option<usize>) -> String {
    let enabled = config.feeds.iter().filter(|f| f.enabled).count();
    match items {
        Some(n) => format!("{enabled} feeds, {n} items"),
        None => format!("{enabled} feeds"),
    }
}

/// Tells systemd's watchdog the daemon is alive, twice per `period`. A tick
/// also reads the store, so a store that hangs stops the ticks and systemd
/// restarts the service.
async fn watchdog(period: Duration, store: Store, token: CancellationToken) {
    let mut tick = tokio::time::interval(period / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = store.clone();
        if let Ok(Ok(_)) = tokio::task::spawn_blocking(move || s.feed_states()).await {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }
}

/// SIGTERM and SIGINT, registered once.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    async fn recv(mut self) {
        match (self.term.as_mut(), self.int.as_mut()) {
            (Some(term), Some(int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            // Without handlers, Ctrl-C still works through this.
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // Holding the cache lock across the request is the point: it keeps the
    // first render from finishing; only a blocking thread waits on it.
    #[allow(clippy::await_holding_lock)]
    async fn health_is_answered_before_the_first_render_ends() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[storage]\npath = {:?}\n", dir.path().join("data"));
        let config = crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap();
        let store = Store::open(&config.storage.path, "test").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let outputs = Arc::new(Outputs::default());
        // The first render cannot finish while this is held.
        let held = outputs.hold_for_test();
        let token = CancellationToken::new();
        let seams = Seams {
            outputs: outputs.clone(),
            ..Seams::default()
        };
        let daemon = tokio::spawn(serve_with(
            Arc::new(config),
            Opening::Open(Box::new(store)),
            listener,
            token.clone(),
            std::future::pending(),
            seams,
        ));
        let ask = async {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            String::from_utf8_lossy(&out).into_owned()
        };
        let got = tokio::time::timeout(Duration::from_secs(20), ask)
            .await
            .expect("/healthz answered while the first render is held up");
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(outputs.get(&Scope::All, Format::Atom).is_none());
        drop(held);
        token.cancel();
        daemon.await.unwrap().unwrap();
    }

    /// GETs `path` from `addr`: status, Retry-After, ETag and body.
    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head[9..12].parse().unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        (
            status,
            header("retry-after"),
            header("etag"),
            body.to_string(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_serves_the_saved_feed_before_the_store_opens() {
        use crate::dedup::keys::keys_for;
        use crate::model::{Entry, FeedState, Source};
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let text = format!(
            "[storage]\npath = {data:?}\n[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"news\"]\n"
        );
        let config = Arc::new(crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap());
        let entries = vec![Entry {
            guid: Some("g1".into()),
            link: Some("https://a.example/1".into()),
            title: Some("وزارة الصحة تفتتح مستشفى جديدا في جدة".into()),
            ..Entry::default()
        }];
        let source = Source {
            feed_url: "https://a.example/f".into(),
            ..Source::default()
        };
        {
            let store = Store::open(&config.storage.path, "test").unwrap();
            let keys = keys_for(&source.feed_url, None, &entries);
            let now = chrono::Utc::now();
            store
                .ingest(&source, &entries, &keys, &FeedState::default(), now)
                .unwrap();
        }

        // A first run renders, serves and, at its stop, saves.
        let store = Store::open(&config.storage.path, "test").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancellationToken::new();
        let daemon = tokio::spawn(serve(
            config.clone(),
            store,
            listener,
            token.clone(),
            std::future::pending(),
        ));
        let mut first = get(addr, "/feed.atom").await;
        for _ in 0..200 {
            if first.3.contains("مستشفى") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            first = get(addr, "/feed.atom").await;
        }
        assert_eq!(first.0, 200);
        assert!(first.3.contains("مستشفى"), "{}", first.3);
        token.cancel();
        daemon.await.unwrap().unwrap();
        let saved = crate::publish::saved::path_in(&data);
        assert!(saved.exists(), "the stop saves the outputs");

        // The second run's store is slow to open: until it is, the feed
        // comes from the saved file, byte for byte; what needs the store
        // is asked again later.
        let outputs = Arc::new(Outputs::default());
        restore_saved(&config, &outputs);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let path = config.storage.path.clone();
        let opening = tokio::task::spawn_blocking(move || {
            let _ = wait.blocking_recv();
            Store::open(&path, "test")
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancellationToken::new();
        let seams = Seams {
            outputs,
            ..Seams::default()
        };
        let daemon = tokio::spawn(serve_with(
            config.clone(),
            Opening::Pending {
                store: opening,
                near: None,
            },
            listener,
            token.clone(),
            std::future::pending(),
            seams,
        ));
        let early = get(addr, "/feed.atom").await;
        assert_eq!((early.0, &early.2, &early.3), (200, &first.2, &first.3));
        for path in ["/tags/news.atom", "/status", "/opml", "/feed.atom?before=x"] {
            let (status, retry, _, _) = get(addr, path).await;
            if path.contains("before") {
                assert_eq!(status, 400, "{path}");
                continue;
            }
            assert_eq!((status, retry.as_str()), (503, "2"), "{path}");
        }
        assert_eq!(get(addr, "/healthz").await.0, 200);
        release.send(()).unwrap();
        let mut tag = get(addr, "/tags/news.atom").await;
        for _ in 0..200 {
            if tag.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            tag = get(addr, "/tags/news.atom").await;
        }
        assert_eq!(tag.0, 200);
        assert!(tag.3.contains("مستشفى"));
        token.cancel();
        daemon.await.unwrap().unwrap();

        // Another config text: the saved outputs are not its own.
        let changed = format!("{text}title = \"another\"\n");
        let other = crate::config::parse(&dir.path().join("rafid.toml"), &changed).unwrap();
        let outputs = Outputs::default();
        restore_saved(&other, &outputs);
        assert!(outputs.is_empty());
        restore_saved(&config, &outputs);
        assert!(!outputs.is_empty());

        // Whoever opens the store removes them: it may change what they show.
        drop(Store::open(&config.storage.path, "test").unwrap());
        assert!(!saved.exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_final_flush_fails_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[storage]\npath = {:?}\n", dir.path().join("data"));
        let config = crate::config::parse(&dir.path().join("rafid.toml"), &text).unwrap();
        let store = Store::open(&config.storage.path, "test").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token = CancellationToken::new();
        let seams = Seams {
            flush_fails: true,
            ..Seams::default()
        };
        token.cancel();
        let done = tokio::time::timeout(
            GRACE * 2,
            serve_with(
                Arc::new(config),
                Opening::Open(Box::new(store)),
                listener,
                token,
                std::future::pending(),
                seams,
            ),
        )
        .await
        .expect("the daemon stops");
        let e = done.expect_err("a stop whose flush failed is no clean stop");
        assert!(matches!(e, DaemonError::Flush { .. }), "{e:?}");
        let shown = e.to_string();
        let data = dir.path().join("data");
        assert!(shown.contains(&data.display().to_string()), "{shown}");
        assert!(shown.contains("No space left on device"), "{shown}");
    }
}
