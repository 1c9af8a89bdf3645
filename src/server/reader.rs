//! Reading the stored log: hashes out of stored tiles (a
//! [`HashReader`] for the proof functions), entry bundles, proofs.
//!
//! Full tiles are immutable, so they are cached in memory (bounded, at most
//! [`CACHE_TILES`] tiles of 8 KiB); the partial right edge is always read from
//! the store. Cached tiles are shared [`Bytes`]: a hit hands out a reference
//! counted slice, never a copy, and needs no store access, so the HTTP layer
//! answers it without leaving the async runtime ([`LogReader::cached_tile`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;

use crate::merkle::{Hash, HashReader, ProofError, prove_consistency, prove_inclusion, tree_hash};
use crate::server::store::{Store, StoreError, TILE_WIDTH, TileKey};
use crate::tiles::{Tile, encode_bundle, hash_from_tile, tile_for_stored_hash_index};

/// How many full tiles the cache keeps (8 KiB each, so 32 MiB at most).
pub const CACHE_TILES: usize = 4096;

/// Reads hashes, tiles and bundles from a [`Store`], with a cache of full
/// tiles. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct LogReader {
    store: Arc<dyn Store>,
    cache: Arc<RwLock<HashMap<TileKey, Bytes>>>,
}

impl LogReader {
    /// A reader over `store`.
    pub fn new(store: Arc<dyn Store>) -> LogReader {
        LogReader {
            store,
            cache: Arc::new(RwLock::new(HashMap::new())),
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
        if let Some(hit) = self.cached_tile(level, index, width) {
            return Ok(Some(hit));
        }
        let key = TileKey { level, index };
        let want = usize::from(width) * 32;
        let Some(data) = self.store.tile(key)? else {
            return Ok(None);
        };
        if data.len() < want {
            return Ok(None);
        }
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
        Ok(Some(data.slice(..want)))
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
        // Proofs read a handful of hashes, mostly from the same few tiles.
        let mut tiles: HashMap<Tile, Bytes> = HashMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let tile =
                tile_for_stored_hash_index(index).map_err(|e| ProofError::Reader(e.to_string()))?;
            let data = match tiles.entry(tile) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(
                    self.tile(tile.level(), tile.index(), tile.width())
                        .map_err(|e| ProofError::Reader(e.to_string()))?
                        .ok_or(ProofError::HashNotFound { index })?,
                ),
            };
            out.push(
                hash_from_tile(&tile, data, index)
                    .map_err(|e| ProofError::Reader(e.to_string()))?,
            );
        }
        Ok(out)
    }
}
