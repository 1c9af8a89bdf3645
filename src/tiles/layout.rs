//! Where hashes live in tiles (specs.md §7.2, §7.6, §10): which tiles a tree of a given
//! size has, which tiles growing the tree writes, which tile holds a stored hash, and how
//! to read (fold) a hash out of tile data.

use super::{FULL_WIDTH, TILE_HEIGHT, Tile, TileError};
use crate::merkle::{Hash, MAX_TREE_SIZE, node_hash, split_stored_hash_index, stored_hash_count};

/// The tiles of one level of a tree: `full_tiles` full tiles (indexes `0..full_tiles`)
/// followed, when `partial_width > 0`, by one partial tile of that width.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LevelInventory {
    /// The tile level.
    pub level: u8,
    /// Number of full tiles.
    pub full_tiles: u64,
    /// Width of the rightmost partial tile, 0 when there is none.
    pub partial_width: u16,
}

impl LevelInventory {
    /// The last full tile of the level, if any.
    pub fn rightmost_full_tile(&self) -> Option<Tile> {
        let index = self.full_tiles.checked_sub(1)?;
        Some(Tile {
            level: self.level,
            index,
            width: FULL_WIDTH,
        })
    }

    /// The partial tile of the level, if any.
    pub fn partial_tile(&self) -> Option<Tile> {
        (self.partial_width > 0).then_some(Tile {
            level: self.level,
            index: self.full_tiles,
            width: self.partial_width,
        })
    }
}

/// The tiles a tree of `size` leaves has, level by level from 0 up to the highest
/// non-empty level. Level `l` holds `size >> 8l` hashes (specs.md §7.2).
pub fn tile_inventory(size: u64) -> Vec<LevelInventory> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let hashes = hashes_at_level(size, level);
        if hashes == 0 {
            return out;
        }
        out.push(LevelInventory {
            level,
            full_tiles: hashes >> TILE_HEIGHT,
            // Masked to 0..=255.
            partial_width: (hashes & 0xff) as u16,
        });
        level += 1;
    }
}

/// The tiles to write when the tree grows from `old` to `new` leaves (Go's `NewTiles`):
/// for every level whose hash count changed, each tile that became full and the new
/// partial tile, ordered by level then index. Empty when `old >= new`. The list has about
/// `(new - old) / 256` entries, so callers bound the growth they ask about.
pub fn new_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if old >= new {
        return out;
    }
    let mut level = 0u8;
    loop {
        let new_n = hashes_at_level(new, level);
        if new_n == 0 {
            return out;
        }
        let old_n = hashes_at_level(old, level);
        if old_n != new_n {
            // Tiles that were partial or absent at `old` and are full at `new`.
            for index in (old_n >> TILE_HEIGHT)..(new_n >> TILE_HEIGHT) {
                out.push(Tile {
                    level,
                    index,
                    width: FULL_WIDTH,
                });
            }
            let width = (new_n & 0xff) as u16;
            if width > 0 {
                out.push(Tile {
                    level,
                    index: new_n >> TILE_HEIGHT,
                    width,
                });
            }
        }
        level += 1;
    }
}

/// The version of tile `(level, index)` that a tree of `size` leaves serves: full, or
/// partial with the width the size implies; `None` if the tree has no such tile.
pub fn tile_in_tree(size: u64, level: u8, index: u64) -> Option<Tile> {
    let hashes = hashes_at_level(size, level);
    let start = index.checked_mul(u64::from(FULL_WIDTH))?;
    if hashes <= start || level > super::MAX_LEVEL {
        return None;
    }
    let width = (hashes - start).min(u64::from(FULL_WIDTH)) as u16;
    Some(Tile {
        level,
        index,
        width,
    })
}

/// The tile holding stored hash `index` (Go's `tileForIndex`), with the smallest width
/// that contains it. A hash at Merkle level `8·L + r` with `r > 0` is not stored in any
/// tile; it is the fold of `2^r` consecutive hashes of tile level `L`.
pub fn tile_for_stored_hash_index(index: u64) -> Result<Tile, TileError> {
    locate(index).map(|(tile, _)| tile)
}

/// The hash at stored index `index`, read from the data of `tile`: one hash, or the fold of
/// `2^r` hashes for Merkle levels between tile levels (specs.md §7.6). `data` must be
/// exactly `tile.data_len()` bytes.
pub fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Result<Hash, TileError> {
    if data.len() != tile.data_len() {
        return Err(TileError::BadTileData {
            path: tile.path(),
            got: data.len(),
            expected: tile.data_len(),
        });
    }
    let (home, range) = locate(index)?;
    if home.level != tile.level || home.index != tile.index || home.width > tile.width {
        return Err(TileError::HashNotInTile {
            index,
            path: tile.path(),
        });
    }
    let bytes = &data[range.0 * Hash::LEN..range.1 * Hash::LEN];
    Ok(fold(bytes))
}

/// Number of hashes at tile level `level` of a tree of `size` leaves.
pub(super) fn hashes_at_level(size: u64, level: u8) -> u64 {
    size.checked_shr(TILE_HEIGHT * u32::from(level))
        .unwrap_or(0)
}

/// The tile (smallest width) holding a stored hash and the range of hash positions in
/// the tile that fold to it.
fn locate(index: u64) -> Result<(Tile, (usize, usize)), TileError> {
    if index >= stored_hash_count(MAX_TREE_SIZE) {
        return Err(TileError::IndexNotInTree {
            index,
            size: MAX_TREE_SIZE,
        });
    }
    let (level, n) = split_stored_hash_index(index);
    let tile_level = level / TILE_HEIGHT;
    let r = level % TILE_HEIGHT;
    // Position of the subtree's first hash at tile level `tile_level`; n << r stays below
    // 2^62 for stored hashes of trees within MAX_TREE_SIZE.
    let first = n << r;
    let start = (first & 0xff) as usize;
    let end = start + (1usize << r);
    let tile = Tile {
        level: tile_level as u8,
        index: first >> TILE_HEIGHT,
        width: end as u16,
    };
    Ok((tile, (start, end)))
}

/// The Merkle root of a power-of-two run of hashes (given as bytes).
pub(super) fn fold(bytes: &[u8]) -> Hash {
    if bytes.len() <= Hash::LEN {
        // Callers pass whole hashes; a shorter slice cannot occur.
        return Hash::from_slice(bytes).unwrap_or_default();
    }
    let (left, right) = bytes.split_at(bytes.len() / 2);
    node_hash(&fold(left), &fold(right))
}
