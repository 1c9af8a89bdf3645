//! A client-side authenticated [`HashReader`] over fetched tiles (Go's `TileHashReader`,
//! specs.md §7.6): every tile is checked against a trusted `(size, root)` before any hash
//! from it is used, so proofs computed through it can be trusted.
//!
//! How: the tiles on the right edge that hold the roots of the tree's perfect subtrees are
//! fetched and must hash to the trusted root; every other tile is full and is checked
//! against the hash its parent tile holds for it, parents first.

use std::collections::HashMap;

use super::layout::{fold, hash_from_tile, tile_for_stored_hash_index, tile_in_tree};
use super::{TILE_HEIGHT, Tile, TileError};
use crate::merkle::{
    Hash, HashReader, ProofError, consistency_proof_indexes, inclusion_proof_indexes, node_hash,
    stored_hash_count, stored_hash_index, tree_hash_indexes,
};

/// Fetches tiles. Pure code asks; the caller does the I/O.
///
/// An implementation returns one byte vector per requested tile, in order, each exactly
/// `tile.data_len()` bytes (the data of the requested width: a full tile, or the partial
/// tile of that width, or the first `32 × width` bytes of a wider version of it).
pub trait TileReader {
    /// Reads the data of `tiles`.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError>;
}

/// A [`HashReader`] whose hashes come from tiles authenticated against a trusted tree.
pub struct TileHashReader<'a, R: TileReader + ?Sized> {
    size: u64,
    root: Hash,
    reader: &'a R,
}

impl<'a, R: TileReader + ?Sized> TileHashReader<'a, R> {
    /// A reader for the tree of `size` leaves with root `root` (from a verified
    /// checkpoint), fetching through `reader`.
    pub fn new(size: u64, root: Hash, reader: &'a R) -> Self {
        TileHashReader { size, root, reader }
    }

    /// Reads the stored hashes at `indexes` with one batched tile read, failing with
    /// [`TileError::InconsistentTile`] if the tiles do not match the trusted root.
    pub fn read_hashes_checked(&self, indexes: &[u64]) -> Result<Vec<Hash>, TileError> {
        let plan = plan(self.size, indexes)?;
        let data = self.reader.read_tiles(&plan.tiles)?;
        if data.len() != plan.tiles.len() {
            return Err(TileError::ReaderCount {
                got: data.len(),
                want: plan.tiles.len(),
            });
        }
        for (tile, bytes) in plan.tiles.iter().zip(&data) {
            if bytes.len() != tile.data_len() {
                return Err(TileError::BadTileData {
                    path: tile.path(),
                    got: bytes.len(),
                    expected: tile.data_len(),
                });
            }
        }

        // 1. The right-edge tiles must hash to the trusted root (largest subtree first,
        //    folded right to left, as RFC 9162 MTH).
        let mut subtree_roots = Vec::with_capacity(plan.stx.len());
        for (&x, &j) in plan.stx.iter().zip(&plan.stx_tile) {
            subtree_roots.push(hash_from_tile(&plan.tiles[j], &data[j], x)?);
        }
        let mut iter = subtree_roots.iter().rev();
        let Some(last) = iter.next() else {
            // plan() rejects size 0 (there is no stored hash to read), so stx is not empty.
            return Err(TileError::IndexNotInTree { index: 0, size: 0 });
        };
        let root = iter.fold(*last, |acc, left| node_hash(left, &acc));
        if root != self.root {
            return Err(TileError::InconsistentTile);
        }

        // 2. Every other tile is full and was planned after its parent: check it against
        //    the hash of it that the (already authenticated) parent holds. Go's reader
        //    starts this loop at the number of edge *indexes*, which can exceed the number
        //    of edge *tiles* and skip a tile; we start at the number of edge tiles.
        for i in plan.edge_tiles..plan.tiles.len() {
            let tile = plan.tiles[i];
            let parent = parent_in_tree(self.size, &tile, 1).ok_or(TileError::InconsistentTile)?;
            let &j = plan.order.get(&parent).ok_or(TileError::InconsistentTile)?;
            let level = u32::from(parent.level()) * TILE_HEIGHT;
            let expected =
                hash_from_tile(&parent, &data[j], stored_hash_index(level, tile.index()))?;
            if fold(&data[i]) != expected {
                return Err(TileError::InconsistentTile);
            }
        }

        // 3. All tiles are authenticated: read the hashes asked for.
        indexes
            .iter()
            .zip(&plan.index_tile)
            .map(|(&x, &j)| hash_from_tile(&plan.tiles[j], &data[j], x))
            .collect()
    }
}

impl<R: TileReader + ?Sized> HashReader for TileHashReader<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        self.read_hashes_checked(indexes).map_err(|e| match e {
            TileError::Proof(p) => p,
            other => ProofError::Reader(other.to_string()),
        })
    }
}

/// The tiles [`TileHashReader`] fetches to compute and authenticate the root of a tree of
/// `size` leaves (its right-edge tiles).
pub fn tiles_for_tree_hash(size: u64) -> Result<Vec<Tile>, TileError> {
    Ok(plan(size, &[])?.tiles)
}

/// The tiles [`TileHashReader`] fetches to compute and authenticate the inclusion proof of
/// leaf `index` in the tree of `size` leaves.
pub fn tiles_for_inclusion(size: u64, index: u64) -> Result<Vec<Tile>, TileError> {
    Ok(plan(size, &inclusion_proof_indexes(size, index)?)?.tiles)
}

/// The tiles [`TileHashReader`] fetches, authenticated against the *new* tree, to compute
/// the consistency proof from `old` to `new` leaves.
pub fn tiles_for_consistency(old: u64, new: u64) -> Result<Vec<Tile>, TileError> {
    Ok(plan(new, &consistency_proof_indexes(old, new)?)?.tiles)
}

/// Which tiles to fetch, in an order where every tile comes after the tile that
/// authenticates it, and where each needed hash is.
struct Plan {
    tiles: Vec<Tile>,
    order: HashMap<Tile, usize>,
    /// Stored indexes of the tree's perfect-subtree roots and the tile of each.
    stx: Vec<u64>,
    stx_tile: Vec<usize>,
    /// Number of tiles holding `stx` (they come first in `tiles`).
    edge_tiles: usize,
    /// The tile of each requested index.
    index_tile: Vec<usize>,
}

fn plan(size: u64, indexes: &[u64]) -> Result<Plan, TileError> {
    if size == 0 {
        return Err(TileError::IndexNotInTree {
            index: indexes.first().copied().unwrap_or(0),
            size,
        });
    }
    let stx = tree_hash_indexes(size)?;
    let mut p = Plan {
        tiles: Vec::new(),
        order: HashMap::new(),
        stx_tile: Vec::with_capacity(stx.len()),
        stx,
        edge_tiles: 0,
        index_tile: Vec::with_capacity(indexes.len()),
    };
    for &x in &p.stx {
        let tile = tile_containing(size, x)?;
        let j = *p.order.entry(tile).or_insert_with(|| {
            p.tiles.push(tile);
            p.tiles.len() - 1
        });
        p.stx_tile.push(j);
    }
    p.edge_tiles = p.tiles.len();

    let limit = stored_hash_count(size);
    for &x in indexes {
        if x >= limit {
            return Err(TileError::IndexNotInTree { index: x, size });
        }
        let tile = tile_containing(size, x)?;
        // Walk up until a tile already planned (at the latest, the top edge tile).
        let mut k = 0u8;
        let found = loop {
            let parent = parent_in_tree(size, &tile, k)
                .ok_or(TileError::IndexNotInTree { index: x, size })?;
            if let Some(&j) = p.order.get(&parent) {
                break j;
            }
            k += 1;
        };
        if k == 0 {
            p.index_tile.push(found);
            continue;
        }
        // Then plan the missing tiles top-down, so parents come before children. Only
        // full tiles have a tile above them in the tree.
        for up in (0..k).rev() {
            let t = parent_in_tree(size, &tile, up)
                .ok_or(TileError::IndexNotInTree { index: x, size })?;
            if !t.is_full() {
                return Err(TileError::IndexNotInTree { index: x, size });
            }
            p.order.insert(t, p.tiles.len());
            p.tiles.push(t);
        }
        p.index_tile.push(p.tiles.len() - 1);
    }
    Ok(p)
}

/// The tile of the tree of `size` leaves that holds stored hash `x` (at the width the tree
/// serves).
fn tile_containing(size: u64, x: u64) -> Result<Tile, TileError> {
    let t = tile_for_stored_hash_index(x)?;
    tile_in_tree(size, t.level(), t.index()).ok_or(TileError::IndexNotInTree { index: x, size })
}

/// The tile `k` tile levels above `tile` in the tree of `size` leaves.
fn parent_in_tree(size: u64, tile: &Tile, k: u8) -> Option<Tile> {
    let level = tile.level().checked_add(k)?;
    let index = tile
        .index()
        .checked_shr(TILE_HEIGHT * u32::from(k))
        .unwrap_or(0);
    tile_in_tree(size, level, index)
}
