//! The binary files rafid keeps beside its store, written whole and read
//! back field by field, front to back (the saved outputs, the saved near-duplicate index). Both are
//! written by hand as a few little-endian fixed-width numbers and
//! length-prefixed byte strings: the bodies they carry are bytes already,
//! and no binary serializer is among the dependencies for so little.
//!
//! Every read says `None` when the bytes end first, so a file cut short is
//! a refusal, never a panic.

use std::io::Write as _;
use std::path::Path;

/// The bytes not read yet.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// The next `N` bytes, for `from_le_bytes`.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A byte string written as its length (u64) and its bytes.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = u64::from_le_bytes(self.array()?);
        self.take(usize::try_from(n).ok()?)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Puts `bytes` at `path` whole or not at all: written aside in `dir` under
/// `prefix` (removed by the store's open if a crash leaves it), synced, and
/// renamed into place. The file is readable by its owner only.
pub fn write_whole(dir: &Path, prefix: &str, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new().prefix(prefix).tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Appends `b` as `Fields::bytes` reads it.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_back_and_a_short_read_is_none() {
        let mut out = Vec::new();
        out.extend_from_slice(&7u32.to_le_bytes());
        put_bytes(&mut out, "خبر".as_bytes());
        let mut f = Fields(&out);
        assert_eq!(f.array::<4>().map(u32::from_le_bytes), Some(7));
        assert_eq!(f.bytes(), Some("خبر".as_bytes()));
        assert!(f.is_empty());
        assert_eq!(f.take(1), None);
        // A length past the end.
        let mut f = Fields(&out[4..10]);
        assert_eq!(f.bytes(), None);
    }
}
