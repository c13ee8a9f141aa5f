//! What the `keys` tree certainly does not hold, known without reading it.
//!
//! Nearly every key an ingest looks up belongs to an item not stored yet:
//! each entry's own key before its probe is made, then its own, link and
//! text keys in the decision. A lookup of a key that is not there still
//! brings the tree's leaf in from disk once the tree outgrows sled's cache,
//! and on a cold poll of the 10,000-feed farm those reads were a third of
//! the pages the store read. `KeySet` is a Bloom filter over every key the
//! tree may hold: a key it has never seen is answered without sled.
//!
//! It is complete or it is not used: every insert into `keys` adds its key
//! first (an insert that is then rolled back leaves a key that answers
//! "maybe", which only costs a read), and until a scan of the tree has
//! added what was there before this process, every lookup goes to sled.
//! Removals are not taken back; the filter is rebuilt at every open.
//!
//! Written here rather than taken from a Bloom filter crate: the keys are
//! SHA-256 digests already, so their own bits place them, where the crates
//! hash their input again; and this one grows by layers as the store does.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// Keys the first layer is sized for; each next layer holds twice as many.
const FIRST_LAYER_KEYS: usize = 1 << 16;

/// Filter bits per key a layer is sized for. With `PROBES` bits set per
/// key inside one 512-bit block, about one absent key in a hundred is
/// answered "maybe" by a full layer.
const BITS_PER_KEY: usize = 10;

const PROBES: u32 = 7;

/// Keys the scan at open reads before it leaves the rest to `fill` (run
/// later, off the path of the first ingest): a store this small is read in
/// a fraction of a second.
pub(super) const OPEN_SCAN_KEYS: usize = 200_000;

type Block = [u64; 8];

struct Layer {
    blocks: Vec<Block>,
    capacity: usize,
    added: usize,
}

impl Layer {
    fn with_capacity(capacity: usize) -> Layer {
        let blocks = (capacity * BITS_PER_KEY).div_ceil(512).max(1);
        Layer {
            blocks: vec![[0; 8]; blocks],
            capacity,
            added: 0,
        }
    }

    /// The block and the bits within it of the key whose hashes are `h`.
    fn place(&self, (block, bits): (u64, u64)) -> (usize, impl Iterator<Item = usize> + use<>) {
        // Lemire's multiply-shift: the top bits of the product pick the
        // block without a division.
        let at = ((u128::from(block) * self.blocks.len() as u128) >> 64) as usize;
        (
            at,
            (0..PROBES).map(move |i| ((bits >> (9 * i)) & 511) as usize),
        )
    }

    fn insert(&mut self, h: (u64, u64)) {
        let (at, bits) = self.place(h);
        let block = &mut self.blocks[at];
        for b in bits {
            block[b / 64] |= 1 << (b % 64);
        }
        self.added += 1;
    }

    fn contains(&self, h: (u64, u64)) -> bool {
        let (at, mut bits) = self.place(h);
        let block = &self.blocks[at];
        bits.all(|b| block[b / 64] & (1 << (b % 64)) != 0)
    }
}

/// The filter's two hashes of a `keys` key: its digest bytes, mixed with
/// the kind byte (two kinds of key over one digest are two keys).
fn hashes(key: &[u8]) -> (u64, u64) {
    let kind = u64::from(key.first().copied().unwrap_or(0));
    // Every key written is a kind byte and a 16-byte digest; any other
    // still gets a place, from a digest of its whole bytes.
    let digest = key
        .get(1..)
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .unwrap_or_else(|| crate::text::normalize::digest(&[key]));
    let [a, b] = [&digest[..8], &digest[8..]]
        .map(|half| <[u8; 8]>::try_from(half).map_or(0, u64::from_le_bytes));
    (mix(a ^ kind.rotate_left(56)), mix(b ^ kind))
}

/// A bijective mix (splitmix64's finalizer): the bits it takes are spread
/// whatever regularity the input has.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Default)]
pub(super) struct KeySet {
    layers: RwLock<Vec<Layer>>,
    /// Set once every key stored before this process has been added.
    complete: AtomicBool,
    /// The last key a scan that stopped short added: the next scan goes on
    /// after it rather than reading the same keys again.
    scanned_to: Mutex<Option<sled::IVec>>,
}

impl KeySet {
    /// Whether `key` may be in the tree: `false` only when it certainly
    /// is not.
    pub(super) fn may_hold(&self, key: &[u8]) -> bool {
        if !self.complete.load(Ordering::Acquire) {
            return true;
        }
        let h = hashes(key);
        let layers = self.layers.read().unwrap_or_else(|p| p.into_inner());
        layers.iter().any(|l| l.contains(h))
    }

    /// Records a key about to be inserted into the tree.
    pub(super) fn add(&self, key: &[u8]) {
        self.add_all(std::iter::once(key));
    }

    fn add_all<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut layers = self.layers.write().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            let full = layers.last().is_none_or(|l| l.added >= l.capacity);
            if full {
                let capacity = layers.last().map_or(FIRST_LAYER_KEYS, |l| l.capacity * 2);
                layers.push(Layer::with_capacity(capacity));
            }
            if let Some(layer) = layers.last_mut() {
                layer.insert(hashes(key));
            }
        }
    }

    pub(super) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Adds every key of `tree`, at most `limit` of them: the set is
    /// complete (and used) once a scan reaches the end. Keys inserted
    /// meanwhile are added by their writers, so the scan need not see
    /// them. Returns whether the set is complete.
    pub(super) fn fill(
        &self,
        tree: &sled::Tree,
        limit: Option<usize>,
        stop: Option<&AtomicBool>,
    ) -> Result<bool, sled::Error> {
        if self.is_complete() {
            return Ok(true);
        }
        let mut scanned_to = self.scanned_to.lock().unwrap_or_else(|p| p.into_inner());
        let from = scanned_to.clone().map_or(Bound::Unbounded, Bound::Excluded);
        let mut batch: Vec<sled::IVec> = Vec::with_capacity(4096);
        for (n, key) in tree.range((from, Bound::Unbounded)).keys().enumerate() {
            batch.push(key?);
            let full = batch.len() == batch.capacity();
            let stopped = full && stop.is_some_and(|s| s.load(Ordering::Relaxed));
            let enough = limit.is_some_and(|l| n + 1 >= l);
            if full || enough {
                self.add_all(batch.iter().map(|k| &k[..]));
                *scanned_to = batch.pop();
                batch.clear();
            }
            if stopped || enough {
                return Ok(false);
            }
        }
        self.add_all(batch.iter().map(|k| &k[..]));
        self.complete.store(true, Ordering::Release);
        Ok(true)
    }

    /// Bytes the filter's bits take.
    pub(super) fn bytes(&self) -> usize {
        let layers = self.layers.read().unwrap_or_else(|p| p.into_inner());
        layers.iter().map(|l| l.blocks.len() * 64).sum()
    }
}

/// Inserts `key` (pointing at `id`) into the `keys` tree of a transaction,
/// telling `set` first: the one way a transaction writes a key.
pub(super) fn insert(
    set: &KeySet,
    keys: &sled::transaction::TransactionalTree,
    key: &[u8],
    id: crate::model::ItemId,
) -> Result<(), sled::transaction::UnabortableTransactionError> {
    set.add(key);
    keys.insert(key, &id.0)?;
    Ok(())
}

impl super::SledStore {
    /// Reads the keys of a store too large for the scan at open into the
    /// key set, after which lookups of new keys no longer read sled. Until
    /// it ends every lookup reads sled as before, so it may run beside
    /// ingests; `stop` gives it up.
    pub fn fill_key_set(&self, stop: Option<&AtomicBool>) -> Result<(), super::StoreError> {
        if self.key_set.is_complete() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        if self
            .key_set
            .fill(&self.keys, None, stop)
            .map_err(|e| self.err(e))?
        {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                filter_bytes = self.key_set.bytes(),
                "read the store's keys"
            );
            Ok(())
        } else {
            Err(super::StoreError::Stopped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: u8, n: u64) -> [u8; 17] {
        let d = crate::text::normalize::digest(&[&n.to_le_bytes()]);
        let mut k = [kind; 17];
        k[1..].copy_from_slice(&d);
        k
    }

    #[test]
    fn an_incomplete_set_answers_maybe() {
        let set = KeySet::default();
        assert!(set.may_hold(&key(b'L', 1)));
    }

    #[test]
    fn every_key_added_is_held_as_the_layers_grow_and_few_others_are() {
        let set = KeySet::default();
        set.complete.store(true, Ordering::Release);
        let n = 5 * FIRST_LAYER_KEYS as u64;
        for i in 0..n {
            set.add(&key(b'L', i));
        }
        assert!((0..n).all(|i| set.may_hold(&key(b'L', i))));
        // Three layers (1, 2 and 4 times the first) hold five times its keys.
        assert_eq!(set.layers.read().unwrap().len(), 3);
        let tried = 100_000u64;
        let maybe = (n..n + tried)
            .filter(|i| set.may_hold(&key(b'L', *i)))
            .count();
        // Each layer answers "maybe" for about 1% of absent keys.
        assert!(maybe < tried as usize * 4 / 100, "{maybe} of {tried}");
        // The same digest under another kind is another key.
        let other = (0..tried).filter(|i| set.may_hold(&key(b'K', *i))).count();
        assert!(other < tried as usize * 4 / 100, "{other} of {tried}");
    }

    #[test]
    fn a_scan_completes_the_set_only_when_it_reaches_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("keys").unwrap();
        let n = 10_000;
        for i in 0..n {
            tree.insert(key(b'T', i), &[0u8; 16]).unwrap();
        }
        let set = KeySet::default();
        assert!(!set.fill(&tree, Some(500), None).unwrap());
        assert!(set.may_hold(&key(b'T', 10 * n)), "not complete: maybe");
        let stop = AtomicBool::new(true);
        assert!(!set.fill(&tree, None, Some(&stop)).unwrap());
        assert!(!set.is_complete());
        assert!(set.fill(&tree, None, None).unwrap());
        assert!((0..n).all(|i| set.may_hold(&key(b'T', i))));
        let absent = (n..2 * n).filter(|i| set.may_hold(&key(b'T', *i))).count();
        assert!(absent < 200, "{absent}");
    }
}
