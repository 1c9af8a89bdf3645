//! The server-side incremental tiler (specs.md §7.7): appends leaf hashes and returns the
//! tiles whose contents changed, holding only the rightmost (partial) tile of each level,
//! so appending costs O(batch + log n) hashes and never rereads history.

use super::{FULL_WIDTH, TILE_HEIGHT, Tile, TileError};
use crate::merkle::{Hash, MAX_TREE_SIZE, empty_root, node_hash};

/// Serialization format version of [`TileAppender::to_bytes`].
const STATE_VERSION: u8 = 1;

/// The right edge of a tiled tree: its size and, for each tile level, the hashes of the
/// rightmost partial tile (0..=255 of them; a level whose last tile is full keeps none).
///
/// Each level also keeps the binary frontier of its partial tile (the roots of the
/// perfect subtrees of those hashes, at most 8), so that every node hash of the tree is
/// computed exactly once, and the root is a fold of those frontiers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TileAppender {
    size: u64,
    levels: Vec<EdgeLevel>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct EdgeLevel {
    /// The hashes of the level's rightmost partial tile, in order.
    hashes: Vec<Hash>,
    /// Perfect-subtree roots of `hashes`, largest first (one per 1-bit of the count).
    frontier: Vec<Hash>,
}

impl TileAppender {
    /// The appender of the empty tree.
    pub fn new() -> TileAppender {
        TileAppender::default()
    }

    /// Rebuilds an appender from the tree size and the hashes of each level's rightmost
    /// partial tile (level 0 first), e.g. read back from stored partial tiles. The number
    /// of hashes per level must be exactly what `size` implies (`(size >> 8l) mod 256`).
    pub fn from_edge(size: u64, edge: Vec<Vec<Hash>>) -> Result<TileAppender, TileError> {
        if size > MAX_TREE_SIZE {
            return Err(TileError::BadState {
                reason: "size above the supported maximum",
            });
        }
        let levels_needed = super::tile_inventory(size).len();
        if edge.len() != levels_needed {
            return Err(TileError::BadState {
                reason: "wrong number of levels for the size",
            });
        }
        let mut levels = Vec::with_capacity(edge.len());
        for (level, hashes) in edge.into_iter().enumerate() {
            let want = (super::layout::hashes_at_level(size, level as u8) & 0xff) as usize;
            if hashes.len() != want {
                return Err(TileError::BadState {
                    reason: "wrong number of hashes for the size",
                });
            }
            let mut e = EdgeLevel::default();
            for h in hashes {
                e.push(h);
            }
            levels.push(e);
        }
        Ok(TileAppender { size, levels })
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of each level's rightmost partial tile, level 0 first.
    pub fn edge(&self) -> Vec<&[Hash]> {
        self.levels.iter().map(|e| e.hashes.as_slice()).collect()
    }

    /// Appends leaf hashes and returns every tile whose contents changed, with its data,
    /// ordered by level then index: each tile that became full, and the new partial tile
    /// of every level that grew. The result lists the same tiles as
    /// [`new_tiles(old, new)`](super::new_tiles).
    ///
    /// Each returned partial tile of width `W` is a prefix of every later version of that
    /// tile, so writing them in any order never serves inconsistent data.
    pub fn append(&mut self, leaves: &[Hash]) -> Result<Vec<(Tile, Vec<u8>)>, TileError> {
        let new_size = self
            .size
            .checked_add(leaves.len() as u64)
            .filter(|&s| s <= MAX_TREE_SIZE)
            .ok_or(TileError::TreeFull)?;
        let mut out = Vec::new();
        let mut grew = vec![false; self.levels.len()];
        for leaf in leaves {
            self.size += 1;
            let mut h = *leaf;
            let mut level = 0usize;
            // Push into level 0; when a tile fills, emit it and push its root one level up.
            loop {
                if self.levels.len() == level {
                    self.levels.push(EdgeLevel::default());
                    grew.push(false);
                }
                let e = &mut self.levels[level];
                e.push(h);
                if e.hashes.len() < usize::from(FULL_WIDTH) {
                    grew[level] = true;
                    break;
                }
                // Full: the frontier has folded down to the tile's root.
                let root = e.frontier.pop().unwrap_or_default();
                let data = hashes_to_bytes(&e.hashes);
                e.hashes.clear();
                e.frontier.clear();
                grew[level] = false;
                let count = super::layout::hashes_at_level(self.size, level as u8);
                out.push((
                    Tile {
                        level: level as u8,
                        index: (count >> TILE_HEIGHT) - 1,
                        width: FULL_WIDTH,
                    },
                    data,
                ));
                h = root;
                level += 1;
            }
        }
        debug_assert_eq!(self.size, new_size);
        for (level, e) in self.levels.iter().enumerate() {
            if grew[level] && !e.hashes.is_empty() {
                let count = super::layout::hashes_at_level(self.size, level as u8);
                out.push((
                    Tile {
                        level: level as u8,
                        index: count >> TILE_HEIGHT,
                        width: e.hashes.len() as u16,
                    },
                    hashes_to_bytes(&e.hashes),
                ));
            }
        }
        out.sort_by_key(|(t, _)| (t.level(), t.index()));
        Ok(out)
    }

    /// The RFC 9162 root of the tree, from the edge: the perfect-subtree roots of every
    /// level's partial tile, top level first, folded right to left. At most ~64 hashes.
    pub fn root(&self) -> Hash {
        let mut subtrees = self
            .levels
            .iter()
            .rev()
            .flat_map(|e| e.frontier.iter())
            .rev();
        let Some(last) = subtrees.next() else {
            return empty_root();
        };
        subtrees.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Serializes the state: version byte 1, the size as 8 bytes big-endian, then the
    /// edge hashes of level 0, 1, … (their counts are implied by the size).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(9 + 32 * self.levels.iter().map(|e| e.hashes.len()).sum::<usize>());
        out.push(STATE_VERSION);
        out.extend_from_slice(&self.size.to_be_bytes());
        for e in &self.levels {
            for h in &e.hashes {
                out.extend_from_slice(h.as_bytes());
            }
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes) output strictly: known version, exact length
    /// for the size, no trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<TileAppender, TileError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(TileError::BadState { reason: "empty" });
        };
        if version != STATE_VERSION {
            return Err(TileError::BadState {
                reason: "unknown version",
            });
        }
        let Some((size_bytes, mut rest)) = rest.split_first_chunk::<8>() else {
            return Err(TileError::BadState {
                reason: "truncated size",
            });
        };
        let size = u64::from_be_bytes(*size_bytes);
        if size > MAX_TREE_SIZE {
            return Err(TileError::BadState {
                reason: "size above the supported maximum",
            });
        }
        let mut edge = Vec::new();
        for inv in super::tile_inventory(size) {
            let n = usize::from(inv.partial_width) * Hash::LEN;
            if rest.len() < n {
                return Err(TileError::BadState {
                    reason: "truncated edge hashes",
                });
            }
            let (mine, more) = rest.split_at(n);
            rest = more;
            // Chunks of exactly 32 bytes.
            edge.push(
                mine.chunks_exact(Hash::LEN)
                    .filter_map(Hash::from_slice)
                    .collect(),
            );
        }
        if !rest.is_empty() {
            return Err(TileError::BadState {
                reason: "trailing bytes",
            });
        }
        TileAppender::from_edge(size, edge)
    }
}

impl EdgeLevel {
    /// Adds a hash to the partial tile, merging the frontier once per subtree completed
    /// (the node hashes a full-tile fold would compute, each computed once).
    fn push(&mut self, h: Hash) {
        let mut x = h;
        for _ in 0..self.hashes.len().trailing_ones() {
            // One frontier entry per 1-bit of the count, so there is one to pop.
            let left = self.frontier.pop().unwrap_or_default();
            x = node_hash(&left, &x);
        }
        self.frontier.push(x);
        self.hashes.push(h);
    }
}

fn hashes_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * Hash::LEN);
    for h in hashes {
        out.extend_from_slice(h.as_bytes());
    }
    out
}
