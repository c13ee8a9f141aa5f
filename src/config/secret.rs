//! Credentials in the config: a `Secret` never shows in `Debug`, and a value
//! written `env:NAME` or `file:PATH` is read from where it names.

use std::fmt;
use std::path::{Path, PathBuf};

/// A value that must never be logged or shown: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a secret value: `env:NAME`, `file:PATH` (relative paths are read
/// from `$CREDENTIALS_DIRECTORY` when systemd set one), or the literal.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(name) = value.strip_prefix("env:") {
        return std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (or not UTF-8)"));
    }
    if let Some(path) = value.strip_prefix("file:") {
        let mut p = PathBuf::from(path);
        if p.is_relative() {
            if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
                p = Path::new(&dir).join(p);
            }
        }
        return std::fs::read_to_string(&p)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {}: {e}", p.display()));
    }
    Ok(value.to_string())
}
