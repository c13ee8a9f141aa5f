//! The outputs as last rendered, kept in the state directory so that a
//! restarting daemon serves its feeds at once, before the store has opened
//! (a large store takes seconds to open, and feed readers polling at that
//! moment would otherwise see errors).
//!
//! A saved set is served only by a daemon whose config text is the one it
//! was rendered under, and only until the first render from the store
//! replaces it. Opening the store removes the file (`store::SAVED_OUTPUTS`):
//! a command that changed the store while the daemon was stopped leaves no
//! stale copy behind.
//!
//! The format is a few fields written by hand ([`crate::fields`]): the
//! bodies are bytes already compressed, which a text format would have to
//! escape. A SHA-256 of the contents closes the file; a file that does not
//! check out is ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::DateTime;

use super::cache::{Outputs, Rendered};
use super::scope::{Format, Scope};
use crate::fields::{Fields, Unsealed, put_bytes, seal, unseal, write_whole};
use crate::store::SAVED_OUTPUTS;

/// The first bytes of the file, with its format's version.
const MAGIC: &[u8; 12] = b"rafid-out-1\n";

/// Why a saved set was not used (for the log: the daemon then starts as if
/// none had been saved).
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({detail}); ignored")]
    Damaged { path: PathBuf, detail: &'static str },
    #[error("cannot save the outputs to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A saved set: the first page of each scope and format.
pub type Saved = HashMap<(Scope, Format), Rendered>;

/// The path of the saved outputs in the state directory `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(SAVED_OUTPUTS)
}

/// Writes the first pages `outputs` holds to `dir`, for a daemon whose
/// config text has digest `digest`. The file is replaced whole (written
/// aside, synced, renamed), so a crash leaves the old set or the new.
pub fn save(dir: &Path, digest: &[u8; 16], outputs: &Outputs) -> Result<usize, SavedError> {
    let path = path_in(dir);
    let werr = |source| SavedError::Write {
        path: path.clone(),
        source,
    };
    let held = outputs.first_pages();
    let mut buf = Vec::with_capacity(
        held.iter()
            .map(|(_, r)| r.body.len() + r.gzip.len() + r.br.len() + 64)
            .sum::<usize>()
            + 64,
    );
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(digest);
    buf.extend_from_slice(&(held.len() as u32).to_le_bytes());
    for ((scope, format), r) in &held {
        let (kind, name) = match scope {
            Scope::All => (0u8, ""),
            Scope::Tag(t) => (1, t.as_str()),
            Scope::River(r) => (2, r.as_str()),
        };
        buf.push(kind);
        put_bytes(&mut buf, name.as_bytes());
        buf.push(format_code(*format));
        buf.extend_from_slice(&r.last_modified.timestamp_millis().to_le_bytes());
        put_bytes(&mut buf, r.etag.as_bytes());
        put_bytes(&mut buf, &r.body);
        put_bytes(&mut buf, &r.gzip);
        put_bytes(&mut buf, &r.br);
    }
    seal(&mut buf);
    // Readable by its owner only: a private river's output is as private
    // here as in the store.
    write_whole(dir, crate::store::HALF_WRITTEN_OUTPUTS, &path, &buf).map_err(werr)?;
    Ok(held.len())
}

/// The outputs saved in `dir` under config text `digest`: `Ok(None)` when
/// there are none, or they were rendered under another config.
pub fn load(dir: &Path, digest: &[u8; 16]) -> Result<Option<Saved>, SavedError> {
    let path = path_in(dir);
    let buf = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SavedError::Read { path, source }),
    };
    let damaged = |detail| SavedError::Damaged {
        path: path.clone(),
        detail,
    };
    let mut r = unseal(&buf, MAGIC, 16 + 4).map_err(|e| {
        damaged(match e {
            Unsealed::Foreign => "not a saved set of outputs",
            Unsealed::Mismatch => "its checksum does not match",
        })
    })?;
    if r.take(16).ok_or_else(|| damaged("truncated"))? != digest {
        return Ok(None);
    }
    parse(&mut r).map(Some).ok_or_else(|| damaged("truncated"))
}

/// The entries after the header; `None` if the file ends early or holds
/// what no version wrote.
fn parse(r: &mut Fields<'_>) -> Option<Saved> {
    let n = u32::from_le_bytes(r.array()?);
    let mut out = HashMap::new();
    for _ in 0..n {
        let [kind] = r.array()?;
        let name = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        let scope = match kind {
            0 => Scope::All,
            1 => Scope::Tag(name),
            2 => Scope::River(name),
            _ => return None,
        };
        let [code] = r.array()?;
        let format = format_of(code)?;
        let millis = i64::from_le_bytes(r.array()?);
        let last_modified = DateTime::from_timestamp_millis(millis)?;
        let etag = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        let body = Bytes::copy_from_slice(r.bytes()?);
        let gzip = Bytes::copy_from_slice(r.bytes()?);
        let br = Bytes::copy_from_slice(r.bytes()?);
        out.insert(
            (scope, format),
            Rendered {
                body,
                gzip,
                br,
                etag,
                last_modified,
                content_type: format.content_type(),
            },
        );
    }
    r.is_empty().then_some(out)
}

fn format_code(f: Format) -> u8 {
    match f {
        Format::Atom => 0,
        Format::Rss => 1,
        Format::Json => 2,
        Format::Html => 3,
    }
}

fn format_of(code: u8) -> Option<Format> {
    Format::ALL.into_iter().find(|f| format_code(*f) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> Outputs {
        let o = Outputs::default();
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        o.put(
            Scope::All,
            Format::Atom,
            Rendered::new("<feed>خبر</feed>".into(), t, Format::Atom),
        );
        o.put(
            Scope::Tag("اقتصاد".into()),
            Format::Json,
            Rendered::new(b"{\"items\":[]}".to_vec(), t, Format::Json),
        );
        o.put(
            Scope::River("desk".into()),
            Format::Html,
            Rendered::new(b"<html></html>".to_vec(), t, Format::Html),
        );
        o
    }

    #[test]
    fn a_saved_set_comes_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let o = outputs();
        assert_eq!(save(dir.path(), &[7; 16], &o).unwrap(), 3);
        let back = load(dir.path(), &[7; 16]).unwrap().unwrap();
        assert_eq!(back.len(), 3);
        for (key, r) in o.first_pages() {
            let b = &back[&key];
            assert_eq!(b.body, r.body);
            assert_eq!(b.gzip, r.gzip);
            assert_eq!(b.br, r.br);
            assert_eq!(b.etag, r.etag);
            assert_eq!(b.last_modified, r.last_modified);
            assert_eq!(b.content_type, r.content_type);
        }
    }

    #[test]
    fn another_config_or_no_file_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), &[7; 16]).unwrap().is_none());
        save(dir.path(), &[7; 16], &outputs()).unwrap();
        assert!(load(dir.path(), &[8; 16]).unwrap().is_none());
    }

    #[test]
    fn a_damaged_file_is_refused_not_served() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &[7; 16], &outputs()).unwrap();
        let path = path_in(dir.path());
        let good = std::fs::read(&path).unwrap();
        // One flipped byte in a body, and a file cut short.
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(
            load(dir.path(), &[7; 16]),
            Err(SavedError::Damaged { .. })
        ));
        std::fs::write(&path, &good[..good.len() - 40]).unwrap();
        assert!(matches!(
            load(dir.path(), &[7; 16]),
            Err(SavedError::Damaged { .. })
        ));
        std::fs::write(&path, b"").unwrap();
        assert!(load(dir.path(), &[7; 16]).is_err());
    }

    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &[7; 16], &outputs()).unwrap();
        let mode = std::fs::metadata(path_in(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
}
