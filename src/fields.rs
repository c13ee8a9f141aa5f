//! The binary files rafid keeps beside its store, written whole and read
//! back field by field, front to back (the saved outputs, the saved
//! near-duplicate index), sealed by a checksum (`seal`, `unseal`). Both are
//! written by hand as a few little-endian fixed-width numbers and
//! length-prefixed byte strings: the bodies they carry are bytes already,
//! and no binary serializer is among the dependencies for so little.
//!
//! Every read says `None` when the bytes end first, so a file cut short is
//! a refusal, never a panic.

use std::io::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

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

/// Ends a file's bytes with the SHA-256 of all before it, which `unseal`
/// checks: a file cut short or altered is refused as a whole.
pub fn seal(out: &mut Vec<u8>) {
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
}

/// Why `unseal` refused a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// It does not start with the expected magic, or is too short to be one.
    Foreign,
    /// Its checksum does not match: cut short or altered.
    Mismatch,
}

/// The fields of a file `seal` ended, after its `magic` and without the
/// checksum, if it has at least `min` bytes of fields and its checksum
/// matches.
pub fn unseal<'a>(bytes: &'a [u8], magic: &[u8], min: usize) -> Result<Fields<'a>, Unsealed> {
    if bytes.len() < magic.len() + min + SUM || !bytes.starts_with(magic) {
        return Err(Unsealed::Foreign);
    }
    let (contents, sum) = bytes.split_at(bytes.len() - SUM);
    if Sha256::digest(contents).as_slice() != sum {
        return Err(Unsealed::Mismatch);
    }
    Ok(Fields(&contents[magic.len()..]))
}

/// Bytes of the checksum `seal` appends.
const SUM: usize = 32;

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

    #[test]
    fn a_sealed_file_opens_whole_and_only_whole() {
        let mut out = b"MAGIC".to_vec();
        put_bytes(&mut out, b"body");
        seal(&mut out);
        let mut f = unseal(&out, b"MAGIC", 8).unwrap();
        assert_eq!(f.bytes(), Some(&b"body"[..]));
        assert!(f.is_empty());
        assert_eq!(unseal(&out, b"OTHER", 8).err(), Some(Unsealed::Foreign));
        assert_eq!(unseal(&out, b"MAGIC", 64).err(), Some(Unsealed::Foreign));
        let mut altered = out.clone();
        altered[7] ^= 1;
        assert_eq!(
            unseal(&altered, b"MAGIC", 8).err(),
            Some(Unsealed::Mismatch)
        );
        assert_eq!(
            unseal(&out[..out.len() - 1], b"MAGIC", 8).err(),
            Some(Unsealed::Mismatch)
        );
    }
}
