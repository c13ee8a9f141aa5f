//! Hot reload of the config file in a running daemon: on SIGHUP, and when
//! the file changes on disk (debounced), the file is read and validated
//! again; a valid config replaces the one in force as a whole, an invalid
//! one is logged with every error and the running config is kept.
//!
//! Settings bound to resources opened at start (the listening socket and
//! its limits, the store, the HTTP client, the WebSub hub) keep their
//! running values; a change to them is logged, by key, as needing a
//! restart. `RESTART_ONLY` lists them, once for both.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{self, Config, ConfigError};

/// How often the config file is looked at.
const FILE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long the file must stay unchanged before it is read: editors write
/// in several steps, and a half-written file must not be judged.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Settings that changed in the file but keep their running value until
    /// a restart, by TOML key.
    pub need_restart: Vec<&'static str>,
}

/// A setting bound to something opened at start, which a reload leaves as
/// it runs.
pub struct RestartOnly {
    /// The TOML key, `table.key`.
    pub key: &'static str,
    /// Whether the setting differs between the old config and the new.
    differs: fn(&Config, &Config) -> bool,
    /// Puts the old config's value into the new one.
    keep: fn(&Config, &mut Config),
}

/// A `RestartOnly` entry for the `Config` field named like its TOML key,
/// so the key and the field cannot disagree.
macro_rules! restart_only {
    ($table:ident . $field:ident, $keep:expr) => {
        RestartOnly {
            key: concat!(stringify!($table), ".", stringify!($field)),
            differs: |old, new| old.$table.$field != new.$table.$field,
            keep: $keep,
        }
    };
    ($table:ident . $field:ident) => {
        RestartOnly {
            key: concat!(stringify!($table), ".", stringify!($field)),
            differs: |old, new| old.$table.$field != new.$table.$field,
            keep: |old, new| new.$table.$field = Clone::clone(&old.$table.$field),
        }
    };
}

/// Every setting only a restart applies: this one table drives both what
/// a reload keeps and what it warns about. The listening socket and its
/// limits, the store and its cache, the HTTP client and the WebSub pinger
/// are all made once, at start.
pub const RESTART_ONLY: &[RestartOnly] = &[
    restart_only!(server.listen, keep_listen),
    restart_only!(server.read_timeout),
    restart_only!(server.idle_timeout),
    restart_only!(server.max_connections),
    restart_only!(storage.path),
    restart_only!(storage.cache),
    restart_only!(storage.backend),
    restart_only!(poll.concurrency),
    restart_only!(poll.per_host),
    restart_only!(poll.connect_timeout),
    restart_only!(poll.timeout),
    restart_only!(poll.user_agent),
    restart_only!(poll.max_body),
    // The pinger tells the hub it was started with: feeds that advertised
    // another would send their readers to a hub that never hears of a change.
    restart_only!(websub.hub),
];

/// Keeps the running address. A `server.base_url` left unset is derived
/// from the address, so it follows the one rafid really listens on.
fn keep_listen(old: &Config, new: &mut Config) {
    if new.server.base_url == config::default_base_url(new.server.listen) {
        new.server.base_url = config::default_base_url(old.server.listen);
    }
    new.server.listen = old.server.listen;
}

/// The settings that only a restart applies, by TOML key, that differ
/// between `old` and `new`.
pub fn restart_only(old: &Config, new: &Config) -> Vec<&'static str> {
    RESTART_ONLY
        .iter()
        .filter(|s| (s.differs)(old, new))
        .map(|s| s.key)
        .collect()
}

/// `new` with the restart-only settings of `old`, so that what the daemon
/// reports and serves is what it runs with.
fn keep_running_values(old: &Config, mut new: Config) -> Config {
    for s in RESTART_ONLY {
        (s.keep)(old, &mut new);
    }
    new
}

/// Compares the feeds of two configs by key.
fn diff_feeds(old: &Config, new: &Config) -> (Vec<String>, Vec<String>, Vec<String>) {
    let shown = |f: &config::FeedConfig| config::redact_url(&f.url);
    let added = new
        .feeds
        .iter()
        .filter(|f| old.feed(f.key()).is_none())
        .map(shown)
        .collect();
    let removed = old
        .feeds
        .iter()
        .filter(|f| new.feed(f.key()).is_none())
        .map(shown)
        .collect();
    let changed = new
        .feeds
        .iter()
        .filter(|f| {
            old.feed(f.key()).is_some_and(|o| {
                o.title != f.title
                    || o.tags != f.tags
                    || o.interval != f.interval
                    || o.enabled != f.enabled
                    || o.headers != f.headers
                    || o.auth != f.auth
            })
        })
        .map(shown)
        .collect();
    (added, removed, changed)
}

/// Reads the config file again and, when it is valid, puts it in force.
/// On error the running config stays and the error is returned.
pub fn reload(tx: &watch::Sender<Arc<Config>>) -> Result<Outcome, ConfigError> {
    let old = tx.borrow().clone();
    let new = config::load(&old.path)?;
    let need_restart = restart_only(&old, &new);
    let new = keep_running_values(&old, new);
    let (added, removed, changed) = diff_feeds(&old, &new);
    tx.send_replace(Arc::new(new));
    Ok(Outcome {
        added,
        removed,
        changed,
        need_restart,
    })
}

/// Reloads and logs what happened, telling systemd around it.
fn reload_and_report(tx: &watch::Sender<Arc<Config>>, why: &str, changed: &Notify) {
    let mut notice = vec![sd_notify::NotifyState::Reloading];
    // systemd 253 and later want the time with RELOADING=1.
    if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
        notice.push(now);
    }
    let _ = sd_notify::notify(&notice);
    let path = tx.borrow().path.clone();
    match reload(tx) {
        Ok(o) => {
            info!(
                config = %path.display(),
                why,
                added = o.added.len(),
                removed = o.removed.len(),
                changed = o.changed.len(),
                "config reloaded"
            );
            for f in &o.added {
                info!(feed = %f, "feed added");
            }
            for f in &o.removed {
                info!(feed = %f, "feed removed; its items stay until retention removes them");
            }
            for f in &o.changed {
                info!(feed = %f, "feed settings changed");
            }
            for key in &o.need_restart {
                warn!(
                    setting = key,
                    "changed in the config; the running value stays until rafid restarts"
                );
            }
            changed.notify_one();
        }
        Err(ConfigError::Invalid(diags)) => {
            error!(
                config = %path.display(),
                why,
                errors = diags.len(),
                "the new config is not valid; keeping the running one"
            );
            for d in &diags {
                error!("{d}");
            }
        }
        Err(e) => {
            error!(
                config = %path.display(),
                why,
                error = %e,
                "cannot read the new config; keeping the running one"
            );
        }
    }
    let cfg = tx.borrow().clone();
    let status = format!(
        "{} feeds enabled",
        cfg.feeds.iter().filter(|f| f.enabled).count()
    );
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&status),
    ]);
}

/// What identifies a version of the file without reading it.
fn stamp(path: &Path) -> Option<(SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Reloads on SIGHUP and on changes to the config file until `token` is
/// cancelled. `changed` is notified after each successful reload so the
/// outputs are rendered again (titles and tags may have changed).
///
/// The file is watched by looking at its modification time, size and inode
/// once a second rather than through inotify: this sees editors' save by
/// rename and edits through symlinks (as ConfigMaps do) alike, costs one
/// `stat` a second, and needs no extra dependency.
pub async fn watch(tx: watch::Sender<Arc<Config>>, token: CancellationToken, changed: Arc<Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGHUP; reloads follow the file only");
            None
        }
    };
    let path: PathBuf = tx.borrow().path.clone();
    let mut seen = stamp(&path);
    let mut tick = tokio::time::interval(FILE_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = hup_recv => {
                seen = stamp(&path);
                reload_and_report(&tx, "SIGHUP", &changed);
            }
            _ = tick.tick() => {
                let now = stamp(&path);
                if now.is_none() || now == seen {
                    continue;
                }
                // Wait until the file stays the same for DEBOUNCE.
                let mut last = now;
                loop {
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(DEBOUNCE) => {}
                    }
                    let again = stamp(&path);
                    if again == last {
                        break;
                    }
                    last = again;
                }
                seen = last;
                reload_and_report(&tx, "the file changed", &changed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        config::parse(Path::new("t.toml"), text).unwrap()
    }

    #[test]
    fn restart_only_settings_are_named() {
        let a = cfg("[server]\nlisten = \"127.0.0.1:8080\"\n[poll]\ninterval = \"1h\"\n");
        let b = cfg(
            "[server]\nlisten = \"127.0.0.1:9090\"\n[poll]\ninterval = \"2h\"\nconcurrency = 4\n",
        );
        assert_eq!(
            restart_only(&a, &b),
            vec!["server.listen", "poll.concurrency"]
        );
        let kept = keep_running_values(&a, b);
        assert_eq!(kept.server.listen, a.server.listen);
        assert_eq!(kept.poll.concurrency, a.poll.concurrency);
        // A setting that applies at once takes its new value.
        assert_eq!(kept.poll.interval, Duration::from_secs(7200));
    }

    /// Each restart-only setting, with two configs that differ in it alone.
    /// Written out here, apart from `RESTART_ONLY`, so that an entry dropped
    /// from the table is caught.
    const CHANGES: &[(&str, &str, &str)] = &[
        (
            "server.listen",
            "[server]\nlisten = \"127.0.0.1:8080\"\n",
            "[server]\nlisten = \"127.0.0.1:9090\"\n",
        ),
        (
            "server.read_timeout",
            "",
            "[server]\nread_timeout = \"3s\"\n",
        ),
        (
            "server.idle_timeout",
            "",
            "[server]\nidle_timeout = \"5m\"\n",
        ),
        (
            "server.max_connections",
            "",
            "[server]\nmax_connections = 8\n",
        ),
        (
            "storage.path",
            "[storage]\npath = \"a\"\n",
            "[storage]\npath = \"b\"\n",
        ),
        ("storage.cache", "", "[storage]\ncache = \"128MiB\"\n"),
        (
            "storage.backend",
            "",
            "[storage]\nbackend = \"postgres\"\nurl = \"postgres://db.test/rafid\"\n",
        ),
        ("poll.concurrency", "", "[poll]\nconcurrency = 4\n"),
        ("poll.per_host", "", "[poll]\nper_host = 1\n"),
        (
            "poll.connect_timeout",
            "",
            "[poll]\nconnect_timeout = \"2s\"\n",
        ),
        ("poll.timeout", "", "[poll]\ntimeout = \"5s\"\n"),
        ("poll.user_agent", "", "[poll]\nuser_agent = \"other/1\"\n"),
        ("poll.max_body", "", "[poll]\nmax_body = \"1MiB\"\n"),
        (
            "websub.hub",
            "[websub]\nhub = \"https://hub.example/\"\n",
            "[websub]\nhub = \"https://other.example/\"\n",
        ),
    ];

    #[test]
    fn a_reload_keeps_and_names_every_restart_only_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rafid.toml");
        let feed = "[[feed]]\nurl = \"https://a.example/f\"\n";
        for (key, before, after) in CHANGES {
            std::fs::write(&path, format!("{before}{feed}")).unwrap();
            let old = config::load(&path).unwrap();
            let running = format!("{old:?}");
            let digest_before = old.text_digest;
            let (tx, rx) = watch::channel(Arc::new(old));
            std::fs::write(&path, format!("{after}{feed}")).unwrap();
            let o = reload(&tx).unwrap();
            assert_eq!(
                o.need_restart,
                vec![*key],
                "the warning after a change to {key}"
            );
            // The config in force is the new text's, whatever settings in
            // it wait for a restart.
            let mut now = (**rx.borrow()).clone();
            assert_ne!(now.text_digest, digest_before);
            now.text_digest = digest_before;
            assert_eq!(format!("{now:?}"), running, "{key} after a reload");
        }
    }

    #[test]
    fn the_shipped_config_marks_exactly_the_restart_only_keys() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rafid.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let mut table = "";
        let mut marked = Vec::new();
        for line in text.lines() {
            let bare = line.trim_start_matches(['#', ' ']);
            if let Some(t) = bare.strip_prefix('[').and_then(|t| t.split(']').next()) {
                table = t;
            } else if let Some((key, _)) = bare.split_once(" = ") {
                if line.contains("(restart)") {
                    marked.push(format!("{table}.{}", key.trim()));
                }
            }
        }
        let mut table: Vec<String> = RESTART_ONLY.iter().map(|s| s.key.to_string()).collect();
        let mut listed: Vec<String> = CHANGES.iter().map(|c| c.0.to_string()).collect();
        marked.sort();
        table.sort();
        listed.sort();
        assert_eq!(marked, table, "keys marked (restart) in config/rafid.toml");
        assert_eq!(listed, table, "restart-only keys the reload test changes");
    }

    #[test]
    fn feeds_are_diffed_by_key() {
        let a = cfg(
            "[[feed]]\nurl = \"https://a.example/f\"\n[[feed]]\nurl = \"https://b.example/f\"\ntags = [\"x\"]\n",
        );
        let b = cfg(
            "[[feed]]\nurl = \"https://b.example/f\"\ntags = [\"y\"]\n[[feed]]\nurl = \"https://c.example/f\"\n",
        );
        let (added, removed, changed) = diff_feeds(&a, &b);
        assert_eq!(added, vec!["https://c.example/f"]);
        assert_eq!(removed, vec!["https://a.example/f"]);
        assert_eq!(changed, vec!["https://b.example/f"]);
    }

    #[test]
    fn an_invalid_file_keeps_the_running_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rafid.toml");
        std::fs::write(&path, "[[feed]]\nurl = \"https://a.example/f\"\n").unwrap();
        let (tx, rx) = watch::channel(Arc::new(config::load(&path).unwrap()));
        std::fs::write(
            &path,
            "[[feed]]\nurl = \"https://a.example/f\"\nbogus = 1\n",
        )
        .unwrap();
        let e = reload(&tx).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        assert_eq!(rx.borrow().feeds.len(), 1);
        std::fs::write(
            &path,
            "[[feed]]\nurl = \"https://a.example/f\"\n[[feed]]\nurl = \"https://b.example/f\"\n",
        )
        .unwrap();
        let o = reload(&tx).unwrap();
        assert_eq!(o.added, vec!["https://b.example/f"]);
        assert_eq!(rx.borrow().feeds.len(), 2);
    }
}
