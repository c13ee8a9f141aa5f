//! `[storage]`: where the store lives, how much it keeps, and its cache.

use std::path::PathBuf;
use std::time::Duration;

use super::Validator;
use crate::config::raw::RawStorage;
use crate::config::{
    DEFAULT_CACHE_BYTES, DEFAULT_MAX_ITEMS_PER_FEED, StorageBackend, StorageConfig, parse_size,
};

impl Validator<'_> {
    pub(super) fn storage(&mut self, raw: &RawStorage) -> StorageConfig {
        let storage_path = match std::env::var_os("STATE_DIRECTORY") {
            // Under systemd the unit's StateDirectory= wins; it may list
            // several directories separated by ':', the first is ours.
            Some(dirs) if !dirs.is_empty() => {
                let dirs = dirs.to_string_lossy().into_owned();
                PathBuf::from(dirs.split(':').next().unwrap_or(&dirs))
            }
            _ => PathBuf::from(
                raw.path
                    .as_ref()
                    .map(|p| p.get_ref().as_str())
                    .unwrap_or("data"),
            ),
        };
        let max_age = raw
            .max_age
            .as_ref()
            .map(|_| self.duration("storage.max_age", &raw.max_age, Duration::ZERO));
        let max_items_per_feed = Some(self.count(
            "storage.max_items_per_feed",
            &raw.max_items_per_feed,
            DEFAULT_MAX_ITEMS_PER_FEED,
            1,
        ));
        let max_items = raw
            .max_items
            .as_ref()
            .map(|_| self.count("storage.max_items", &raw.max_items, 0, 1));

        let cache = match &raw.cache {
            None => DEFAULT_CACHE_BYTES,
            Some(v) => match parse_size(v.get_ref()) {
                Some(n) if n >= 1 << 20 => n,
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "storage.cache: {:?} is not a size of 1MiB or more; write e.g. \"64MiB\"",
                            v.get_ref()
                        ),
                    );
                    DEFAULT_CACHE_BYTES
                }
            },
        };
        let backend = self.backend(raw);
        StorageConfig {
            path: storage_path,
            max_age,
            max_items_per_feed,
            max_items,
            cache,
            backend,
        }
    }

    /// `storage.backend` and the `storage.url` that goes with PostgreSQL.
    /// The URL holds the database's password, so no message quotes it.
    fn backend(&mut self, raw: &RawStorage) -> StorageBackend {
        let name = raw
            .backend
            .as_ref()
            .map(|b| (b.get_ref().as_str(), b.span()));
        match name {
            None | Some(("sled", _)) => {
                if let Some(url) = &raw.url {
                    self.error(
                        url.span(),
                        "storage.url: only read with backend = \"postgres\"; set that too, or remove the url".into(),
                    );
                }
                StorageBackend::Sled
            }
            Some(("postgres", span)) => {
                let Some(raw_url) = &raw.url else {
                    self.error(
                        span,
                        "storage.backend = \"postgres\" needs storage.url, the database's URL; write e.g. url = \"env:RAFID_DATABASE_URL\" and set that variable to postgres://USER:PASSWORD@HOST/DATABASE".into(),
                    );
                    return StorageBackend::Sled;
                };
                let before = self.error_count();
                let url = self.secret("storage.url", raw_url);
                if self.error_count() == before && url.0.parse::<tokio_postgres::Config>().is_err()
                {
                    self.error(
                        raw_url.span(),
                        "storage.url: not a PostgreSQL URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE (or key=value pairs)".into(),
                    );
                }
                StorageBackend::Postgres { url }
            }
            Some((other, span)) => {
                self.error(
                    span,
                    format!("storage.backend: {other:?} is not a backend; write \"sled\" (the default) or \"postgres\""),
                );
                StorageBackend::Sled
            }
        }
    }
}
