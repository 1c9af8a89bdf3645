//! Reading the stored log: hashes out of stored tiles (a
//! [`HashReader`] for the proof functions), entry bundles, proofs.
//!
//! Full tiles are immutable, so they are cached in memory (bounded, at most
//! [`CACHE_TILES`] tiles of 8 KiB); the partial right edge is always read from
//! the store. Cached tiles are shared [`Bytes`]: a hit hands out a reference
//! counted slice, never a copy, and needs no store access, so the HTTP layer
//! answers it without leaving the async runtime ([`LogReader::cached_tile`]).
//!
//! Hashes read for proofs are memoized by stored-hash index ([`NodeMemo`]).
//! A stored hash is the root of a complete subtree, so its value never
//! changes once it exists. A tile holds only every eighth level; a hash in
//! between (say, of 128 leaves) is the fold of up to 128 tile hashes, 127
//! SHA-256 calls. An inclusion proof needs one such hash per level, about
//! 500 SHA-256 calls from tiles alone. Receipts ask for thousands of proofs
//! per second, for leaves next to each other under the same checkpoint, so
//! they share almost all of those hashes: with the memo each one is computed
//! once, from its two memoized children.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;

use crate::merkle::{
    Hash, HashReader, MAX_TREE_SIZE, ProofError, node_hash, prove_consistency, prove_inclusion,
    split_stored_hash_index, stored_hash_count, stored_hash_index, tree_hash,
};
use crate::server::store::{Store, StoreError, TILE_WIDTH, TileKey};
use crate::tiles::{TILE_HEIGHT, encode_bundle};

/// How many full tiles the cache keeps (8 KiB each, so 32 MiB at most).
pub const CACHE_TILES: usize = 4096;

/// How many hashes one generation of the [`NodeMemo`] holds (two
/// generations, so at most twice this many, about 6 MiB with the maps'
/// overhead). A second of receipts at 7,500/s touches about 15,000.
pub const MEMO_GENERATION: usize = 1 << 15;

/// Reads hashes, tiles and bundles from a [`Store`], with a cache of full
/// tiles. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct LogReader {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<HashMap<TileKey, Bytes>>>,
    memo: Arc<Mutex<NodeMemo>>,
}

impl LogReader {
    /// A reader over `store`.
    pub fn new(store: Arc<dyn Store>) -> LogReader {
        LogReader::with_memo(store, MEMO_GENERATION)
    }

    /// A reader over `store` whose hash memo keeps generations of
    /// `generation` hashes (tests use small ones to exercise eviction).
    pub fn with_memo(store: Arc<dyn Store>, generation: usize) -> LogReader {
        LogReader {
            store,
            cache: Arc::new(RwLock::new(HashMap::new())),
            memo: Arc::new(Mutex::new(NodeMemo::new(generation))),
        }
    }

    /// The store read from.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The first `width` hashes of a full hash tile if it is in the cache
    /// (no store access: cheap enough for the async runtime). `None` means
    /// "ask [`LogReader::tile`]", not "absent".
    pub fn cached_tile(&self, level: u8, index: u64, width: u16) -> Option<Bytes> {
        let want = usize::from(width) * 32;
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let full = cache.get(&TileKey { level, index })?;
        // A full tile holds 256 hashes; `width` is at most 256 (tile paths
        // are parsed before they get here), and slicing a `Bytes` shares it.
        (want <= full.len()).then(|| full.slice(..want))
    }

    /// The first `width` hashes of a stored hash tile, if the store has at
    /// least that many (a partial tile of width W is a prefix of every later
    /// version of the tile, so slicing serves `.p/W`).
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Option<Bytes>, StoreError> {
        let want = usize::from(width) * 32;
        Ok(self
            .stored_tile(TileKey { level, index })?
            .filter(|data| data.len() >= want)
            .map(|data| data.slice(..want)))
    }

    /// Every hash the store has of tile `key`, from the cache if it is full.
    fn stored_tile(&self, key: TileKey) -> Result<Option<Bytes>, StoreError> {
        if let Some(hit) = self.cached_tile(key.level, key.index, TILE_WIDTH as u16) {
            return Ok(Some(hit));
        }
        let Some(data) = self.store.tile(key)? else {
            return Ok(None);
        };
        let data = Bytes::from(data);
        if data.len() == TILE_WIDTH * 32 {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_TILES && !cache.contains_key(&key) {
                // Bounded: evict one arbitrary tile (HashMap order is
                // effectively random), so hot tiles mostly stay.
                if let Some(victim) = cache.keys().next().copied() {
                    cache.remove(&victim);
                }
            }
            cache.insert(key, data.clone());
        }
        Ok(Some(data))
    }

    /// The entry bundle for entries `[256·index, 256·index + width)`, if the
    /// tree has them all.
    pub fn bundle(&self, index: u64, width: u16) -> Result<Option<Vec<u8>>, StoreError> {
        let start = index.checked_mul(TILE_WIDTH as u64);
        let end = start.and_then(|s| s.checked_add(u64::from(width)));
        let (Some(start), Some(end)) = (start, end) else {
            return Ok(None);
        };
        if end > self.store.tree_state()?.size {
            return Ok(None);
        }
        let entries = self.store.entries(start, end)?;
        encode_bundle(&entries)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored entry cannot be bundled: {e}")))
    }

    /// The root of the tree of `size` leaves, from stored tiles.
    pub fn tree_hash(&self, size: u64) -> Result<Hash, ProofError> {
        tree_hash(size, self)
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        prove_inclusion(size, index, self)
    }

    /// The RFC 9162 consistency proof from `old` to `new` (`0 < old <= new`).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        prove_consistency(old, new, self)
    }
}

impl HashReader for LogReader {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        // Proofs read a handful of hashes, mostly from the same few tiles:
        // each tile is fetched at most once per call.
        let mut tiles: HashMap<TileKey, Bytes> = HashMap::new();
        indexes
            .iter()
            .map(|&index| {
                if let Some(hash) = self.lock_memo().get(index) {
                    return Ok(hash);
                }
                if index >= stored_hash_count(MAX_TREE_SIZE) {
                    return Err(ProofError::HashNotFound { index });
                }
                let (level, n) = split_stored_hash_index(index);
                self.stored_hash(level, n, &mut tiles)
            })
            .collect()
    }
}

impl LogReader {
    /// The stored hash at Merkle `level`, position `n`: from the memo, else
    /// straight from its tile when `level` is a tile level, else from its
    /// two children (memoized in turn, at most seven levels down). The
    /// memo's lock is not held across store reads.
    fn stored_hash(
        &self,
        level: u32,
        n: u64,
        tiles: &mut HashMap<TileKey, Bytes>,
    ) -> Result<Hash, ProofError> {
        let index = stored_hash_index(level, n);
        if let Some(hash) = self.lock_memo().get(index) {
            return Ok(hash);
        }
        let hash = if level.is_multiple_of(TILE_HEIGHT) {
            self.hash_in_tile(level / TILE_HEIGHT, n, index, tiles)?
        } else {
            // A stored hash is a complete subtree, so both children exist.
            // No overflow: below MAX_TREE_SIZE a hash at `level` has
            // n < 2^(62 - level).
            let left = self.stored_hash(level - 1, 2 * n, tiles)?;
            let right = self.stored_hash(level - 1, 2 * n + 1, tiles)?;
            node_hash(&left, &right)
        };
        self.lock_memo().insert(index, hash);
        Ok(hash)
    }

    /// Hash `n` of tile level `tile_level` (stored index `index`), from
    /// its tile, fetched at most once per `tiles`.
    fn hash_in_tile(
        &self,
        tile_level: u32,
        n: u64,
        index: u64,
        tiles: &mut HashMap<TileKey, Bytes>,
    ) -> Result<Hash, ProofError> {
        let key = TileKey {
            // Below 64 Merkle levels there are at most 8 tile levels.
            level: u8::try_from(tile_level).map_err(|_| ProofError::HashNotFound { index })?,
            index: n >> TILE_HEIGHT,
        };
        let data = match tiles.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(
                self.stored_tile(key)
                    .map_err(|e| ProofError::Reader(e.to_string()))?
                    .ok_or(ProofError::HashNotFound { index })?,
            ),
        };
        let start = (n % TILE_WIDTH as u64) as usize * Hash::LEN;
        data.get(start..start + Hash::LEN)
            .and_then(Hash::from_slice)
            .ok_or(ProofError::HashNotFound { index })
    }

    fn lock_memo(&self) -> std::sync::MutexGuard<'_, NodeMemo> {
        // The memo holds only correct hashes at every point (one insert at a
        // time), so a panic elsewhere while it was held leaves nothing wrong.
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stored hashes by stored-hash index, bounded: inserts go to the young
/// generation; when it is full it becomes the old one and the previous old
/// one is dropped. A hit in the old generation is copied to the young one,
/// so what proofs keep using stays.
pub struct NodeMemo {
    generation: usize,
    young: HashMap<u64, Hash>,
    old: HashMap<u64, Hash>,
}

impl NodeMemo {
    /// An empty memo of two generations of `generation` hashes (at least 1).
    pub fn new(generation: usize) -> NodeMemo {
        NodeMemo {
            generation: generation.max(1),
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    /// The hash memoized for `index`.
    pub fn get(&mut self, index: u64) -> Option<Hash> {
        if let Some(&hash) = self.young.get(&index) {
            return Some(hash);
        }
        let hash = *self.old.get(&index)?;
        self.insert(index, hash);
        Some(hash)
    }

    /// Memoizes `hash` for `index`.
    pub fn insert(&mut self, index: u64, hash: Hash) {
        if self.young.len() >= self.generation {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(index, hash);
    }

    /// How many hashes it holds (both generations; an index can be in both).
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }
}

#[cfg(test)]
mod tests;
