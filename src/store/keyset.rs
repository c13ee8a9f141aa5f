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
//! Removals are not taken back, only counted.
//!
//! A process that stops cleanly saves the filter (`SledStore::save_key_set`)
//! for the next open, which then reads no key at all: the scan at open
//! brought every leaf of the tree through sled's cache, which on the
//! 10,000-feed farm was half the memory a poll where every feed answered
//! 304 took. The saved filter is used on the terms of the saved near index
//! (`near`): a token in the store vouches for it, and the open that takes
//! the token out of the store is the only one that may use it. It is not
//! saved once more than half the keys it holds were removed since it was
//! last built: the next open builds it afresh from the tree.
//!
//! Written here rather than taken from a Bloom filter crate: the keys are
//! SHA-256 digests already, so their own bits place them, where the crates
//! hash their input again; and this one grows by layers as the store does.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        Layer {
            blocks: vec![[0; 8]; Layer::with_capacity_blocks(capacity)],
            capacity,
            added: 0,
        }
    }

    /// The blocks of a layer sized for `capacity` keys.
    fn with_capacity_blocks(capacity: usize) -> usize {
        capacity.saturating_mul(BITS_PER_KEY).div_ceil(512).max(1)
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
    /// Keys removed from the tree since the filter was last built from it,
    /// still answered "maybe".
    removed: AtomicU64,
}

/// What a saved filter file starts with.
const MAGIC: &[u8] = b"rafid key set 1\n";

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

    /// Records a key removed from the tree.
    pub(super) fn note_removed(&self) {
        self.removed.fetch_add(1, Ordering::Relaxed);
    }

    /// The filter as a file's bytes, vouched for by `token` and tied to
    /// the store whose last item is `last_item`; `None` if it is not
    /// complete or not worth keeping (see the module doc).
    fn encode(&self, token: &[u8; 16], last_item: &[u8]) -> Option<Vec<u8>> {
        let layers = self.layers.read().unwrap_or_else(|p| p.into_inner());
        let added: u64 = layers.iter().map(|l| l.added as u64).sum();
        let removed = self.removed.load(Ordering::Relaxed);
        if !self.is_complete() || removed.saturating_mul(2) > added {
            return None;
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(token);
        crate::fields::put_bytes(&mut out, last_item);
        out.extend_from_slice(&removed.to_le_bytes());
        out.extend_from_slice(&(layers.len() as u64).to_le_bytes());
        for l in layers.iter() {
            out.extend_from_slice(&(l.capacity as u64).to_le_bytes());
            out.extend_from_slice(&(l.added as u64).to_le_bytes());
            out.extend_from_slice(&(l.blocks.len() as u64).to_le_bytes());
            for word in l.blocks.iter().flatten() {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        crate::fields::seal(&mut out);
        Some(out)
    }

    /// The filter a file saved, if it is whole, `token` vouches for it and
    /// it was saved for a store whose last item is `last_item`.
    fn decode(bytes: &[u8], token: &[u8; 16], last_item: &[u8]) -> Result<KeySet, &'static str> {
        let mut f = crate::fields::unseal(bytes, MAGIC, 16).map_err(|e| match e {
            crate::fields::Unsealed::Foreign => "not a saved key set",
            crate::fields::Unsealed::Mismatch => "cut short or altered",
        })?;
        let short = "cut short";
        let u64_of =
            |f: &mut crate::fields::Fields<'_>| f.array().map(u64::from_le_bytes).ok_or(short);
        if f.array::<16>().ok_or(short)? != *token {
            return Err("saved for another state of the store");
        }
        if f.bytes().ok_or(short)? != last_item {
            return Err("saved for a store with other items");
        }
        let removed = u64_of(&mut f)?;
        let count = u64_of(&mut f)?;
        let mut layers = Vec::new();
        for _ in 0..count {
            let capacity = usize::try_from(u64_of(&mut f)?).map_err(|_| "a layer too large")?;
            let added = usize::try_from(u64_of(&mut f)?).map_err(|_| "a layer too large")?;
            let blocks = usize::try_from(u64_of(&mut f)?).map_err(|_| "a layer too large")?;
            let words = f
                .take(blocks.checked_mul(64).ok_or("a layer too large")?)
                .ok_or(short)?;
            if blocks != Layer::with_capacity_blocks(capacity) {
                return Err("a layer of the wrong size");
            }
            let mut layer = Layer {
                blocks: Vec::with_capacity(blocks),
                capacity,
                added,
            };
            for block in words.chunks_exact(64) {
                let mut b: Block = [0; 8];
                for (w, bytes) in b.iter_mut().zip(block.chunks_exact(8)) {
                    *w = u64::from_le_bytes(bytes.try_into().map_err(|_| short)?);
                }
                layer.blocks.push(b);
            }
            layers.push(layer);
        }
        if !f.is_empty() {
            return Err("bytes after the last layer");
        }
        Ok(KeySet {
            layers: RwLock::new(layers),
            complete: AtomicBool::new(true),
            scanned_to: Mutex::new(None),
            removed: AtomicU64::new(removed),
        })
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

/// The filter the last process saved at its clean stop, if `token` (taken
/// out of the store as it opened) vouches for it and the store's last item
/// is still `last_item`. The file is removed either way: from here on the
/// filter in memory is the one kept.
pub(super) fn read_saved(
    dir: &std::path::Path,
    token: Option<[u8; 16]>,
    last_item: &[u8],
) -> Option<KeySet> {
    let path = dir.join(super::SAVED_KEY_SET);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the saved filter of the store's keys; reading the keys");
            return None;
        }
    };
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove the saved filter of the store's keys");
    }
    let Some(token) = token else {
        tracing::info!(path = %path.display(), "the saved filter of the store's keys is older than the store's last change; reading the keys");
        return None;
    };
    match KeySet::decode(&bytes, &token, last_item) {
        Ok(set) => {
            tracing::info!(
                filter_bytes = set.bytes(),
                "filter of the store's keys read from the copy saved at the last stop"
            );
            Some(set)
        }
        Err(why) => {
            tracing::warn!(path = %path.display(), why, "the saved filter of the store's keys is not used; reading the keys");
            None
        }
    }
}

/// The key of the newest item stored (empty in an empty store), which a
/// saved filter is tied to: a process that stores an item without knowing
/// of the saved filter, and so without removing its token, changes it.
pub(super) fn last_item_key(items: &sled::Tree) -> sled::Result<Vec<u8>> {
    Ok(items.last()?.map(|(k, _)| k.to_vec()).unwrap_or_default())
}

impl super::SledStore {
    /// Saves the filter of the store's keys for the next process to open
    /// it; says whether it did (not before every key was read into it, nor
    /// once too many of its keys were removed). As `save_near_index`: only
    /// for a process that writes nothing more to the store after it, and
    /// the caller's flush puts the token on disk.
    pub fn save_key_set(&self) -> Result<bool, super::StoreError> {
        let token = super::unique_id("key set");
        let last_item = last_item_key(&self.items).map_err(|e| self.err(e))?;
        let Some(bytes) = self.key_set.encode(&token, &last_item) else {
            return Ok(false);
        };
        let path = self.dir.join(super::SAVED_KEY_SET);
        crate::fields::write_whole(&self.dir, super::HALF_WRITTEN_KEY_SET, &path, &bytes).map_err(
            |source| super::StoreError::SaveKeySet {
                path: path.clone(),
                source,
            },
        )?;
        // The file first, then the token: a crash between the two leaves a
        // file no token vouches for, which is not used.
        self.vouch_for_saved(1, token)?;
        Ok(true)
    }

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

    /// A set complete with the first `n` local keys.
    fn complete_with(n: u64) -> KeySet {
        let set = KeySet::default();
        set.complete.store(true, Ordering::Release);
        for i in 0..n {
            set.add(&key(b'L', i));
        }
        set
    }

    #[test]
    fn an_incomplete_set_answers_maybe() {
        let set = KeySet::default();
        assert!(set.may_hold(&key(b'L', 1)));
    }

    #[test]
    fn every_key_added_is_held_as_the_layers_grow_and_few_others_are() {
        let n = 5 * FIRST_LAYER_KEYS as u64;
        let set = complete_with(n);
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

    #[test]
    fn a_saved_filter_answers_as_the_one_saved_and_a_damaged_one_is_refused() {
        let n = 3 * FIRST_LAYER_KEYS as u64;
        let set = complete_with(n);
        let (token, last) = ([7u8; 16], b"last item".as_slice());
        let bytes = set.encode(&token, last).unwrap();
        let read = KeySet::decode(&bytes, &token, last).unwrap();
        assert!(read.is_complete());
        assert_eq!(read.layers.read().unwrap().len(), 2);
        assert!((0..2 * n).all(|i| read.may_hold(&key(b'L', i)) == set.may_hold(&key(b'L', i))));
        assert!(KeySet::decode(&bytes, &[8u8; 16], last).is_err());
        assert!(KeySet::decode(&bytes, &token, b"another").is_err());
        assert!(KeySet::decode(&bytes[..bytes.len() - 1], &token, last).is_err());
        let mut altered = bytes.clone();
        altered[MAGIC.len() + 40] ^= 1;
        assert!(KeySet::decode(&altered, &token, last).is_err());
    }

    #[test]
    fn a_filter_is_not_saved_before_it_is_complete_nor_once_half_its_keys_went() {
        let set = KeySet::default();
        for i in 0..10 {
            set.add(&key(b'L', i));
        }
        assert!(set.encode(&[0; 16], b"").is_none(), "incomplete");
        set.complete.store(true, Ordering::Release);
        for _ in 0..5 {
            set.note_removed();
        }
        assert!(set.encode(&[0; 16], b"").is_some());
        set.note_removed();
        assert!(set.encode(&[0; 16], b"").is_none(), "6 of 10 removed");
    }

    mod saved {
        use super::key;
        use crate::store::ingest::tests::{entry, ingest};
        use crate::store::{SAVED_KEY_SET, SledStore};

        const FEED: &str = "https://a.example/f";

        /// A key the filter holds though the tree does not, as one removed
        /// from the tree since would be: only a filter read from the saved
        /// file says "maybe" for it once the store is reopened.
        fn phantom(store: &SledStore) -> [u8; 17] {
            let k = key(b'L', 7);
            assert!(!store.key_set.may_hold(&k), "a scan finds it absent");
            store.key_set.add(&k);
            k
        }

        fn saved_at_stop(store: &SledStore) {
            assert!(store.save_key_set().unwrap());
            store.flush().unwrap();
        }

        #[test]
        fn the_next_open_uses_the_filter_a_clean_stop_saved_and_only_that_open() {
            let dir = tempfile::tempdir().unwrap();
            let first = entry("1", "https://s.example/1", "خبر أول", "<p>نص أول</p>");
            let k = {
                let store = SledStore::open(dir.path(), "test").unwrap();
                ingest(&store, FEED, std::slice::from_ref(&first));
                let k = phantom(&store);
                saved_at_stop(&store);
                k
            };
            {
                let store = SledStore::open(dir.path(), "test").unwrap();
                assert!(store.key_set.is_complete());
                assert!(store.key_set.may_hold(&k), "the saved filter is used");
                assert!(!dir.path().join(SAVED_KEY_SET).exists());
                assert_eq!(
                    ingest(&store, FEED, std::slice::from_ref(&first)).unchanged,
                    1
                );
                // Stopped without saving.
            }
            let store = SledStore::open(dir.path(), "test").unwrap();
            assert!(!store.key_set.may_hold(&k), "the keys were read again");
            assert_eq!(ingest(&store, FEED, &[first]).unchanged, 1);
        }

        #[test]
        fn a_filter_saved_before_the_store_changed_or_damaged_is_not_used() {
            let dir = tempfile::tempdir().unwrap();
            let first = entry("1", "https://s.example/1", "خبر أول", "<p>نص أول</p>");
            let second = entry("2", "https://s.example/2", "خبر ثان", "<p>نص ثان</p>");
            {
                let store = SledStore::open(dir.path(), "test").unwrap();
                ingest(&store, FEED, &[first]);
                phantom(&store);
                saved_at_stop(&store);
                // Stored by a process that does not know of the saved
                // filter: the token stays, the filter lacks the new keys.
                ingest(&store, FEED, std::slice::from_ref(&second));
                store.flush().unwrap();
            }
            {
                let store = SledStore::open(dir.path(), "test").unwrap();
                assert!(!store.key_set.may_hold(&key(b'L', 7)), "not used");
                assert_eq!(
                    ingest(&store, FEED, std::slice::from_ref(&second)).unchanged,
                    1
                );
                phantom(&store);
                saved_at_stop(&store);
            }
            let path = dir.path().join(SAVED_KEY_SET);
            let mut bytes = std::fs::read(&path).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x40;
            std::fs::write(&path, bytes).unwrap();
            let store = SledStore::open(dir.path(), "test").unwrap();
            assert!(!store.key_set.may_hold(&key(b'L', 7)), "damaged: not used");
            assert!(!path.exists());
            assert_eq!(ingest(&store, FEED, &[second]).unchanged, 1);
        }
    }
}
