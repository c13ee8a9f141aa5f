//! The Arabic–English dictionary, read at run time from an installed dictd
//! database (Debian's `dict-freedict-ara-eng`: `NAME.index` and
//! `NAME.dict.dz`). It is GPL text, so it stays where the package put it and
//! is never part of rafid.
//!
//! A dictd index line is `headword TAB offset TAB length`, the numbers in
//! dictd's own base64 (most significant digit first); the entry at that
//! place in the data file is the headword with its pronunciation, then one
//! gloss a line, numbered when there are several. The data file is gzip
//! with dictzip's random-access table in an extra field, which a plain gzip
//! reader passes over: at 2.4 MB it is read whole.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::english;
use crate::text::normalize::normalize_text;

/// Arabic words, and what they mean in English (as English stems).
#[derive(Debug, Default)]
pub struct Dictionary {
    /// Normalized Arabic headword (also without its article) → English
    /// stems, as indexes into `stems`.
    senses: HashMap<String, Vec<u32>, fxhash::FxBuildHasher>,
    stems: HashMap<String, u32, fxhash::FxBuildHasher>,
}

#[derive(Debug, thiserror::Error)]
pub enum DictError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a dictd index line")]
    Index { path: PathBuf, line: usize },
}

impl Dictionary {
    /// Reads the dictd database `prefix` (`prefix.index` with
    /// `prefix.dict.dz` or `prefix.dict`).
    pub fn load(prefix: &Path) -> Result<Dictionary, DictError> {
        let with = |ext: &str| {
            let mut p = prefix.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        };
        let index_path = with(".index");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DictError::Io { path, source }
        };
        let index = std::fs::read_to_string(&index_path).map_err(io(&index_path))?;
        let dz = with(".dict.dz");
        let data = if dz.exists() {
            let file = std::fs::File::open(&dz).map_err(io(&dz))?;
            let mut data = Vec::new();
            flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut data)
                .map_err(io(&dz))?;
            data
        } else {
            let plain = with(".dict");
            std::fs::read(&plain).map_err(io(&plain))?
        };
        let mut dict = Dictionary::default();
        for (n, line) in index.lines().enumerate() {
            let bad = || DictError::Index {
                path: index_path.clone(),
                line: n + 1,
            };
            let mut parts = line.split('\t');
            let (Some(head), Some(off), Some(len)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            // The database's own header entries, and anything not Arabic.
            if !head.chars().any(is_arabic_letter) {
                continue;
            }
            let (Some(off), Some(len)) = (base64(off), base64(len)) else {
                return Err(bad());
            };
            let Some(entry) = data.get(off..off.saturating_add(len)) else {
                return Err(bad());
            };
            let text = String::from_utf8_lossy(entry);
            // The first line is the headword and its pronunciation.
            let glosses = text.split_once('\n').map_or("", |(_, g)| g);
            dict.add_entry(head, glosses);
        }
        Ok(dict)
    }

    /// Adds a headword and its glosses, one a line.
    fn add_entry(&mut self, head: &str, glosses: &str) {
        let mut senses = Vec::new();
        for gloss in glosses.lines() {
            for w in english::content_words(gloss) {
                let id = self.stem_id_or_insert(&w);
                if !senses.contains(&id) {
                    senses.push(id);
                }
            }
        }
        // A phrase's glosses are English words all the same (`stem_id`
        // tells an English word from a name); a token is looked up as a
        // single word.
        if senses.is_empty() || head.contains(' ') {
            return;
        }
        let key = normalize_text(head);
        if let Some(bare) = key.strip_prefix("ال").filter(|b| b.chars().count() >= 2) {
            add(self.senses.entry(bare.to_string()).or_default(), &senses);
        }
        add(self.senses.entry(key).or_default(), &senses);
    }

    /// A dictionary of the given headwords and glosses, for tests that
    /// cannot count on the installed one.
    #[cfg(test)]
    pub(crate) fn of(entries: &[(&str, &str)]) -> Dictionary {
        let mut dict = Dictionary::default();
        for (head, glosses) in entries {
            dict.add_entry(head, glosses);
        }
        dict
    }

    fn stem_id_or_insert(&mut self, stem: &str) -> u32 {
        let next = self.stems.len() as u32;
        *self.stems.entry(stem.to_string()).or_insert(next)
    }

    /// The English stems an Arabic dictionary form means.
    pub(super) fn senses(&self, key: &str) -> &[u32] {
        self.senses.get(key).map_or(&[], Vec::as_slice)
    }

    /// The id of an English stem, if any entry means it: whether it is an
    /// English word rather than a name.
    pub(super) fn stem_id(&self, stem: &str) -> Option<u32> {
        self.stems.get(stem).copied()
    }

    /// Arabic headwords held.
    pub fn len(&self) -> usize {
        self.senses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.senses.is_empty()
    }
}

fn add(to: &mut Vec<u32>, senses: &[u32]) {
    for s in senses {
        if !to.contains(s) {
            to.push(*s);
        }
    }
}

fn is_arabic_letter(c: char) -> bool {
    ('\u{0621}'..='\u{064a}').contains(&c)
}

/// A number in dictd's base64: digits `A-Z a-z 0-9 + /`, most significant
/// first.
fn base64(s: &str) -> Option<usize> {
    s.bytes().try_fold(0usize, |n, b| {
        let d = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        n.checked_mul(64)?.checked_add(d as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictd_numbers_are_base64_most_significant_first() {
        assert_eq!(base64("A"), Some(0));
        assert_eq!(base64("B"), Some(1));
        assert_eq!(base64("BA"), Some(64));
        assert_eq!(base64("b"), Some(27));
        assert_eq!(base64("/"), Some(63));
        assert_eq!(base64("a-"), None);
    }

    #[test]
    fn a_database_is_read_through_its_index() {
        let dir = tempfile::tempdir().unwrap();
        // Our own two-entry database, in the format the package installs.
        let data = "00-database-info\nA test\nوزارة /wizaːra/\nMinistry\nالأمطار /x/\n1. Rains\n2. Downpours\n";
        let at = |needle: &str| data.find(needle).unwrap();
        let b64 = |mut n: usize| {
            const D: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = Vec::new();
            loop {
                s.push(D[n % 64]);
                n /= 64;
                if n == 0 {
                    break;
                }
            }
            s.reverse();
            String::from_utf8(s).unwrap()
        };
        let (w, r) = (at("وزارة"), at("الأمطار"));
        let index = format!(
            "00databaseinfo\t{}\t{}\nالأمطار\t{}\t{}\nوزارة\t{}\t{}\n",
            b64(0),
            b64(w),
            b64(r),
            b64(data.len() - r),
            b64(w),
            b64(r - w)
        );
        let prefix = dir.path().join("test-ara-eng");
        std::fs::write(dir.path().join("test-ara-eng.index"), index).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, data.as_bytes()).unwrap();
        std::fs::write(
            dir.path().join("test-ara-eng.dict.dz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let dict = Dictionary::load(&prefix).unwrap();
        let means = |ar: &str, en: &str| {
            let id = dict.stem_id(&english::stem(en)).unwrap();
            dict.senses(&normalize_text(ar)).contains(&id)
        };
        assert!(means("وزارة", "ministry"));
        assert!(means("الأمطار", "rains"));
        assert!(means("أمطار", "downpour"));
        assert!(!means("وزارة", "rains"));
        // Missing, or not a database: an error naming the file.
        let e = Dictionary::load(&dir.path().join("none")).unwrap_err();
        assert!(e.to_string().contains("none.index"), "{e}");
        std::fs::write(dir.path().join("bad.index"), "just words\n").unwrap();
        std::fs::write(dir.path().join("bad.dict"), "").unwrap();
        let e = Dictionary::load(&dir.path().join("bad")).unwrap_err();
        assert!(e.to_string().contains("bad.index:1"), "{e}");
    }
}
