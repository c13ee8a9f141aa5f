//! The commands that need neither the daemon nor its store: `check`,
//! `init`, `rules test`, `dedup eval`, and `import`, which fills an empty
//! store (and refuses to run beside a daemon). Also how every command finds
//! its config (the store is opened by `store::open_store`).

use std::io::Write;

use crate::cli::failure::Failure;
use crate::config::{self, Config, ConfigError};
use crate::ingest::fetch::Fetcher;
use crate::store::{ImportError, open_store};

/// Finds and loads the config for `purpose`.
pub fn load_config(
    explicit: Option<&std::path::Path>,
    purpose: config::Purpose,
) -> Result<Config, Failure> {
    let path = config::locate(explicit)?;
    let cfg = config::load_for(&path, purpose)?;
    Ok(cfg)
}

/// `rafid check`: prints every problem, or a one-line summary.
pub fn check(explicit: Option<&std::path::Path>) -> Result<(), Failure> {
    let path = config::locate(explicit)?;
    match config::load(&path) {
        Ok(cfg) => {
            let enabled = cfg.feeds.iter().filter(|f| f.enabled).count();
            println!(
                "{}: OK ({} feeds, {} enabled; store in {})",
                path.display(),
                cfg.feeds.len(),
                enabled,
                cfg.storage.path.display()
            );
            Ok(())
        }
        Err(ConfigError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            Err(Failure::user(format!(
                "{}: {} error{}",
                path.display(),
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// The config `rafid init` writes: every section, commented, valid as it is.
pub const STARTER_CONFIG: &str = include_str!("../../config/starter.toml");

/// `rafid init [PATH]`: writes the starter config to `path`, else where
/// `-c`/`$RAFID_CONFIG` say, else `./config/rafid.toml`; never over an
/// existing file.
pub fn init(path: Option<&std::path::Path>, out: &mut dyn Write) -> Result<(), Failure> {
    let path = path.unwrap_or(std::path::Path::new(config::DEFAULT_PATHS[0]));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::user(format!("{}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::user(format!(
                "{} already exists; rafid init never overwrites a config (give another PATH)",
                path.display()
            )));
        }
        Err(e) => return Err(Failure::user(format!("{}: {e}", path.display()))),
    };
    file.write_all(STARTER_CONFIG.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Failure::internal(format!("{}: {e}", path.display())))?;
    writeln!(
        out,
        "wrote {}; add feeds with `rafid -c {} feeds add URL`, then `rafid -c {} run`",
        path.display(),
        path.display(),
        path.display()
    )
    .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
}

/// `rafid rules test FILE_OR_URL`: reads one feed document (a file, or an
/// http(s) URL fetched as a poll would, without validators) and reports
/// what the rules would keep and drop. Stores nothing.
pub async fn rules_test(
    config: &Config,
    source: &str,
    feed: Option<&str>,
) -> Result<String, Failure> {
    let configured = |url: &str| {
        config.feed(url).or_else(|| {
            let canon = crate::text::normalize::canonical_link(url)?;
            config.feeds.iter().find(|f| {
                crate::text::normalize::canonical_link(f.key()).as_deref() == Some(&canon)
            })
        })
    };
    let feed_cfg = match feed {
        Some(u) => Some(configured(u).ok_or_else(|| {
            Failure::user(format!(
                "--feed {u}: no such [[feed]] in {}",
                config.path.display()
            ))
        })?),
        None => configured(source),
    };
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let (text, base) = if is_url {
        let url = url::Url::parse(source)
            .map_err(|e| Failure::user(format!("{source}: not a URL: {e}")))?;
        let fetcher = Fetcher::new(&config.poll).map_err(Failure::internal)?;
        let adhoc;
        let fc = match feed_cfg.filter(|f| f.url == url) {
            Some(f) => f,
            None => {
                adhoc = config::FeedConfig::for_url(url.clone());
                &adhoc
            }
        };
        let shown = config::redact_url(&url);
        match fetcher
            .fetch(fc, &url, &crate::ingest::fetch::Validators::default())
            .await
        {
            Ok(crate::ingest::fetch::Fetched::Body(b)) => {
                let d = crate::ingest::fetch::decode_body(&b.bytes, b.content_type.as_deref());
                (d.text, b.final_url)
            }
            Ok(crate::ingest::fetch::Fetched::NotModified { status, .. }) => {
                return Err(Failure::user(format!(
                    "{shown}: HTTP {status} without a body"
                )));
            }
            Err(e) => return Err(Failure::user(e)),
        }
    } else {
        let path = std::path::Path::new(source);
        let bytes = std::fs::read(path).map_err(|e| Failure::user(format!("{source}: {e}")))?;
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = url::Url::from_file_path(&abs)
            .or_else(|_| url::Url::parse("file:///"))
            .map_err(|_| Failure::user(format!("{source}: cannot name the file as a URL")))?;
        (crate::ingest::fetch::decode_body(&bytes, None).text, base)
    };
    let shown = if is_url {
        config::redact_str(source)
    } else {
        source.to_string()
    };
    let doc = crate::ingest::parse::parse(&text, &base, config.poll.max_items_per_fetch)
        .map_err(|e| Failure::user(format!("{shown}: {e}")))?;
    Ok(crate::rules::report::report(config, feed_cfg, &shown, &doc))
}

/// `rafid import FILE`: restores an export into the empty store.
pub fn import(config: &Config, file: &std::path::Path) -> Result<usize, Failure> {
    let input: Box<dyn std::io::BufRead> = if file == std::path::Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::user(format!("{}: {e}", file.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let store = open_store(config, "rafid import")?;
    store.import(input).map_err(|e| match e {
        ImportError::Input { .. } => Failure::user(format!("{}: {e}", file.display())),
        ImportError::NotEmpty { .. } => Failure::user(e),
        other => Failure::internal(other),
    })
}

/// `rafid store migrate --to BACKEND`: copies the store through the export
/// format, which both backends write and read the same, into an empty
/// store of the other backend. The export is spooled to a file in the
/// state directory, so the two stores are never open at once.
pub fn migrate(
    config: &Config,
    to: crate::cli::MigrateTo,
    url: Option<&str>,
) -> Result<usize, Failure> {
    use crate::cli::MigrateTo;
    use crate::config::{Secret, StorageBackend};
    use std::io::{BufReader, BufWriter, Seek};

    let url = match (url, &config.storage.backend) {
        (Some(v), _) => config::resolve_secret(v)
            .map_err(|e| Failure::user(format!("store migrate --url: {e}")))?,
        (None, StorageBackend::Postgres { url }) => url.0.clone(),
        (None, StorageBackend::Sled) => {
            return Err(Failure::user(
                "store migrate: which database? pass --url postgres://USER:PASSWORD@HOST/DATABASE (or --url env:NAME), or set storage.backend = \"postgres\" and storage.url",
            ));
        }
    };
    if url.parse::<tokio_postgres::Config>().is_err() {
        return Err(Failure::user(
            "store migrate --url: not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        ));
    }
    let with = |backend| {
        let mut c = config.clone();
        c.storage.backend = backend;
        c
    };
    let sled = with(StorageBackend::Sled);
    let postgres = with(StorageBackend::Postgres { url: Secret(url) });
    let (from, into) = match to {
        MigrateTo::Postgres => (sled, postgres),
        MigrateTo::Sled => (postgres, sled),
    };
    let dir = &config.storage.path;
    if to == MigrateTo::Postgres && !dir.join("store").exists() {
        return Err(Failure::user(format!(
            "store migrate: no sled store in {} to copy",
            dir.display()
        )));
    }
    let io = |doing: &str, e: std::io::Error| {
        Failure::internal(format!("store migrate: {doing} in {}: {e}", dir.display()))
    };
    let mut spool = tempfile::tempfile_in(dir).map_err(|e| io("making the spool file", e))?;
    {
        let source = open_store(&from, "rafid store migrate")?;
        let mut w = BufWriter::new(&mut spool);
        source.export(&mut w)?;
        std::io::Write::flush(&mut w).map_err(|e| io("writing the spool file", e))?;
    }
    spool
        .rewind()
        .map_err(|e| io("reading the spool file", e))?;
    let into_store = open_store(&into, "rafid store migrate")?;
    let n = into_store
        .import(BufReader::new(spool))
        .map_err(|e| match e {
            ImportError::NotEmpty { .. } => Failure::user(format!(
                "store migrate: {e}; the copy goes into an empty store only"
            )),
            other => Failure::internal(other),
        })?;
    into_store.flush()?;
    Ok(n)
}

/// `rafid dedup eval PAIRS`: predictions on stdout, figures on stderr. The
/// config is read when there is one (for `dedup.threshold` and
/// `dedup.boilerplate`), and needs no feeds; without one the defaults apply.
pub fn dedup_eval(
    explicit: Option<&std::path::Path>,
    pairs: &std::path::Path,
) -> Result<(), Failure> {
    let dedup = match config::locate(explicit) {
        Ok(path) => config::load(&path)?.dedup,
        Err(_) => config::DedupConfig::default(),
    };
    let shown = pairs.display().to_string();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = if shown == "-" {
        crate::dedup::eval::run(&dedup, &shown, std::io::stdin().lock(), &mut out)
    } else {
        let file = std::fs::File::open(pairs)
            .map_err(|e| Failure::user(format!("{shown}: cannot read: {e}")))?;
        crate::dedup::eval::run(&dedup, &shown, std::io::BufReader::new(file), &mut out)
    }
    .map_err(|e| match e {
        crate::dedup::eval::EvalError::Input { .. } => Failure::user(e),
        crate::dedup::eval::EvalError::Io { .. } => Failure::internal(e),
    })?;
    out.flush()
        .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))?;
    eprint!("{}", summary.report());
    Ok(())
}
