//! `[storage]`: where the store lives, how much it keeps, and its cache.

use std::path::PathBuf;
use std::time::Duration;

use super::Validator;
use crate::config::raw::RawStorage;
use crate::config::{DEFAULT_CACHE_BYTES, DEFAULT_MAX_ITEMS_PER_FEED, StorageConfig, parse_size};

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
        StorageConfig {
            path: storage_path,
            max_age,
            max_items_per_feed,
            max_items,
            cache,
        }
    }
}
