//! The index as bytes, so that a daemon stopped cleanly can hand it to its
//! next start instead of the next start rebuilding it from every item of
//! the window (tens of seconds for a window of hundreds of thousands).
//!
//! What the bytes hold is the index itself: the word counts, and each
//! story's members with their keys; the postings are derived from the
//! members as they are read back. A header names the settings the index was
//! built under (`NearDup::index_digest`) and a token that the store must
//! hold too (`store::near` keeps that pairing): bytes under other settings,
//! or for a store changed since, are not used. A SHA-256 of the contents
//! closes them.
//!
//! The layout is written by hand ([`crate::fields`]), as `publish::saved`
//! is.

use super::index::{Entry, Index, Key, NO_SLOT};
use crate::fields::{Fields, Unsealed, seal, unseal};
use crate::model::ItemId;

/// The first bytes, with the layout's version.
const MAGIC: &[u8; 13] = b"rafid-near-1\n";

/// Why saved bytes were not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Built under other settings, or for another state of the store.
    NotThisOne,
    /// Cut short, altered, or not an index at all.
    Damaged(&'static str),
}

/// The bytes of `index`, under settings `digest` and store token `token`.
pub fn encode(index: &Index, digest: &[u8; 16], token: &[u8; 16]) -> Vec<u8> {
    let keys: usize = index
        .entries
        .iter()
        .flatten()
        .map(|e| e.anchors.len())
        .sum();
    let mut out =
        Vec::with_capacity(64 + index.words.len() * 8 + index.entries.len() * 40 + keys * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(token);
    out.extend_from_slice(digest);
    out.extend_from_slice(&index.newest.to_le_bytes());
    out.extend_from_slice(&index.docs.to_le_bytes());
    out.extend_from_slice(&(index.words.len() as u64).to_le_bytes());
    for (k, n) in &index.words {
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&(index.slots.len() as u64).to_le_bytes());
    let mut members: Vec<&Entry> = Vec::new();
    for (id, head) in &index.slots {
        members.clear();
        let mut at = *head;
        while let Some(e) = index.entries.get(at as usize).and_then(Option::as_ref) {
            members.push(e);
            if e.next == NO_SLOT {
                break;
            }
            at = e.next;
        }
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&(members.len() as u32).to_le_bytes());
        // Last member first: inserting them in this order rebuilds the
        // list as it was (an insert puts its member at the head).
        for e in members.iter().rev() {
            out.extend_from_slice(&e.member.to_le_bytes());
            out.extend_from_slice(&e.date.to_le_bytes());
            out.extend_from_slice(&e.tokens.to_le_bytes());
            out.extend_from_slice(&(e.anchors.len() as u32).to_le_bytes());
            for k in e.anchors.iter() {
                out.extend_from_slice(&k.to_le_bytes());
            }
        }
    }
    seal(&mut out);
    out
}

/// An index read back, with the settings digest and store token it was
/// saved under, for the caller to hold against its own.
pub struct Saved {
    pub digest: [u8; 16],
    pub token: [u8; 16],
    pub index: Index,
}

impl Saved {
    /// The index, if it was saved under settings `digest` for store token
    /// `token`.
    pub fn for_this(self, digest: &[u8; 16], token: &[u8; 16]) -> Result<Index, Refused> {
        if self.digest == *digest && self.token == *token {
            Ok(self.index)
        } else {
            Err(Refused::NotThisOne)
        }
    }
}

/// The index `bytes` hold, whatever it was saved under.
pub fn read(bytes: &[u8]) -> Result<Saved, Refused> {
    let mut r = unseal(bytes, MAGIC, 32).map_err(|e| {
        Refused::Damaged(match e {
            Unsealed::Foreign => "not a saved index",
            Unsealed::Mismatch => "its checksum does not match",
        })
    })?;
    let short = Refused::Damaged("cut short");
    let token = r.array().ok_or(short)?;
    let digest = r.array().ok_or(short)?;
    let index = read_index(&mut r).ok_or(short)?;
    Ok(Saved {
        digest,
        token,
        index,
    })
}

/// The index `bytes` hold, if they were saved under settings `digest` for
/// store token `token`.
pub fn decode(bytes: &[u8], digest: &[u8; 16], token: &[u8; 16]) -> Result<Index, Refused> {
    read(bytes)?.for_this(digest, token)
}

fn read_index(r: &mut Fields<'_>) -> Option<Index> {
    let mut index = Index {
        newest: i64::from_le_bytes(r.array()?),
        docs: u32::from_le_bytes(r.array()?),
        ..Index::default()
    };
    let words = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
    // Each word takes 8 bytes: a count beyond what is left is damage, and
    // must not reserve memory for it.
    index.words.reserve(words.min(r.0.len() / 8));
    for _ in 0..words {
        let k = Key::from_le_bytes(r.array()?);
        let n = u32::from_le_bytes(r.array()?);
        index.words.insert(k, n);
    }
    let stories = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
    index.slots.reserve(stories.min(r.0.len() / 20));
    for _ in 0..stories {
        let id = ItemId(r.array()?);
        let members = u32::from_le_bytes(r.array()?);
        for _ in 0..members {
            let member = u64::from_le_bytes(r.array()?);
            let date = i64::from_le_bytes(r.array()?);
            let tokens = u32::from_le_bytes(r.array()?);
            let n = u32::from_le_bytes(r.array()?) as usize;
            let raw = r.take(n.checked_mul(4)?)?;
            let keys: Vec<Key> = raw
                .chunks_exact(4)
                .map(|c| Key::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            // Written sorted and without repeats; anything else is damage
            // the postings must not take in.
            if keys.windows(2).any(|w| w[0] >= w[1]) {
                return None;
            }
            index.insert_keys(id, member, date, tokens, &keys);
        }
    }
    r.is_empty().then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::near::{Doc, Reader as TextReader};
    use chrono::{TimeZone, Utc};

    fn doc(n: u64) -> Doc {
        let body: String = (0..60)
            .map(|i| format!("كلمة{} ", (n * 7 + i) % 90))
            .collect();
        TextReader::default().doc(
            Some(&format!("عنوان الخبر رقم {n} عن وزارة الصحة")),
            Some(&body),
        )
    }

    fn index() -> Index {
        let mut ix = Index::default();
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        for n in 0..50u64 {
            let d = doc(n);
            ix.count_words(&d);
            let id = ItemId([n as u8; 16]);
            ix.insert_member(id, 100 + n, t + chrono::Duration::minutes(n as i64), &d);
            // Some stories with a second and third member.
            if n % 5 == 0 {
                ix.insert_member(id, 7, t, &doc(n + 1000));
                ix.insert_member(id, 8, t, &doc(n + 2000));
            }
        }
        ix.remove(ItemId([3; 16]));
        ix
    }

    /// What the index answers and holds, in an order that does not depend
    /// on its tables' layout.
    fn answers(ix: &Index) -> Vec<String> {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let mut out: Vec<String> = (0..60u64)
            .flat_map(|n| [doc(n), doc(n + 1000)])
            .map(|d| format!("{:?}", ix.candidate_members(&d.probe(), 60, t, 86_400)))
            .collect();
        let mut words: Vec<_> = ix.words.iter().map(|(k, n)| (*k, *n)).collect();
        words.sort_unstable();
        out.push(format!("{words:?} {} {} {}", ix.docs, ix.newest, ix.len()));
        out
    }

    #[test]
    fn an_index_read_back_answers_as_the_one_saved() {
        let ix = index();
        let bytes = encode(&ix, &[1; 16], &[2; 16]);
        let back = decode(&bytes, &[1; 16], &[2; 16]).unwrap();
        assert_eq!(answers(&back), answers(&ix));
        assert!(
            answers(&ix).iter().any(|a| a.len() > 2),
            "some lookups find stories"
        );
        // Members come back in their order.
        let members = |ix: &Index| {
            let mut at = ix.slots[&ItemId([5; 16])];
            let mut m = Vec::new();
            while let Some(e) = ix.entries[at as usize].as_ref() {
                m.push(e.member);
                if e.next == NO_SLOT {
                    break;
                }
                at = e.next;
            }
            m
        };
        assert_eq!(members(&back), members(&ix));
        assert_eq!(members(&ix).len(), 3);
    }

    #[test]
    fn other_settings_or_another_store_state_are_refused() {
        let bytes = encode(&index(), &[1; 16], &[2; 16]);
        assert_eq!(
            decode(&bytes, &[9; 16], &[2; 16]).err(),
            Some(Refused::NotThisOne)
        );
        assert_eq!(
            decode(&bytes, &[1; 16], &[9; 16]).err(),
            Some(Refused::NotThisOne)
        );
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let bytes = encode(&index(), &[1; 16], &[2; 16]);
        for cut in [0, 10, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(
                    decode(&bytes[..cut], &[1; 16], &[2; 16]),
                    Err(Refused::Damaged(_))
                ),
                "cut at {cut}"
            );
        }
        for at in [60, bytes.len() / 3, bytes.len() - 40] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(
                matches!(
                    decode(&flipped, &[1; 16], &[2; 16]),
                    Err(Refused::Damaged(_))
                ),
                "flipped at {at}"
            );
        }
    }
}
