//! C2SP tlog-tiles (v0.1.0 + HEAD, specs.md §7) with the fixed height 8: tile coordinates and
//! paths, which tiles exist and which a proof needs, reading hashes out of tiles, an
//! authenticated client-side [`HashReader`](crate::merkle::HashReader) over fetched tiles,
//! the server-side incremental [`TileAppender`], and entry bundles.
//!
//! Everything here is pure: fetching and storing tiles is the caller's business, through
//! [`TileReader`] or by writing what [`TileAppender::append`] returns.
//!
//! Out of scope: the Go sumdb path layout with a height segment (`tile/<H>/<L>/<N>`),
//! static-ct-api data tiles (`tile/data/<N>`), pruning policy, and HTTP concerns.

mod appender;
mod bundle;
mod layout;
mod reader;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_reader;

pub use appender::TileAppender;
pub use bundle::{MAX_ENTRY_LEN, decode_bundle, encode_bundle};
pub use layout::{
    LevelInventory, hash_from_tile, new_tiles, tile_for_stored_hash_index, tile_in_tree,
    tile_inventory,
};
pub use reader::{
    TileHashReader, TileReader, tiles_for_consistency, tiles_for_inclusion, tiles_for_tree_hash,
};

use std::fmt;

/// Merkle levels per tile: a full tile holds `2^8 = 256` hashes.
pub const TILE_HEIGHT: u32 = 8;

/// Hashes in a full tile.
pub const FULL_WIDTH: u16 = 256;

/// The highest tile level a path may name (`<L>` is 0–63, specs.md §7.2).
pub const MAX_LEVEL: u8 = 63;

/// Longest accepted tile path: `tile/entries/` + 7 index groups + `.p/255` is 52 bytes.
const MAX_PATH_LEN: usize = 64;

/// A hash tile: `width` consecutive hashes at tile `level`, tile `index`.
///
/// A tile of width 256 is full and immutable. A partial tile (width 1..=255) exists for a
/// tree whose size leaves that many hashes in the rightmost tile of its level; it is a
/// prefix of every later version of the same tile (same level and index, larger width),
/// because the tree is append-only and the hashes it holds are of complete subtrees.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

/// An entry bundle: the entries of the leaves hashed in the level-0 tile with the same
/// index and width (specs.md §7.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Bundle {
    index: u64,
    width: u16,
}

/// What a tile path names: a hash tile or an entry bundle.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(Bundle),
}

/// Errors from tile paths, tile data, the authenticated reader, the appender and bundles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A tile level above 63 or a width outside 1..=256 (HTTP 404 for a path).
    #[error("invalid tile: level {level}, width {width}")]
    InvalidTile {
        /// The level asked for.
        level: u64,
        /// The width asked for.
        width: u64,
    },
    /// A string that is not a canonical tlog-tiles path (HTTP 404).
    #[error("not a canonical tile path: {reason}")]
    BadPath {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Tile data whose length is not `32 × width` (or too short for the hash asked for).
    #[error("tile {path} has {got} bytes, expected {expected}")]
    BadTileData {
        /// The tile's path.
        path: String,
        /// Bytes received.
        got: usize,
        /// Bytes required.
        expected: usize,
    },
    /// A stored hash that the given tile does not contain.
    #[error("stored hash {index} is not in tile {path}")]
    HashNotInTile {
        /// The stored-hash index.
        index: u64,
        /// The tile's path.
        path: String,
    },
    /// A stored hash that is not part of the tree of the given size.
    #[error("stored hash {index} is not in a tree of size {size}")]
    IndexNotInTree {
        /// The stored-hash index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Fetched tiles do not hash up to the trusted root: at least one is wrong
    /// (a misbehaving log or mirror; clients should alert).
    #[error("downloaded tiles are inconsistent with the trusted tree")]
    InconsistentTile,
    /// A [`TileReader`] returned a different number of tiles than were asked for.
    #[error("tile reader returned {got} tiles for {want}")]
    ReaderCount {
        /// Tiles returned.
        got: usize,
        /// Tiles asked for.
        want: usize,
    },
    /// A [`TileReader`] failed (network, storage, not found).
    #[error("tile reader failed: {0}")]
    Reader(String),
    /// Planning a read or proof failed (sizes out of range, index not in tree).
    #[error(transparent)]
    Proof(#[from] crate::merkle::ProofError),
    /// An entry longer than 65,535 bytes cannot be length-prefixed in a bundle.
    #[error("entry {index} is {len} bytes, more than 65535")]
    EntryTooLarge {
        /// Position of the entry in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A bundle must hold 1..=256 entries.
    #[error("a bundle holds 1 to 256 entries, not {count}")]
    BadEntryCount {
        /// The count given.
        count: usize,
    },
    /// A bundle ends inside an entry's length prefix or body.
    #[error("bundle truncated in entry {index}")]
    BundleTruncated {
        /// The entry being read.
        index: usize,
    },
    /// A bundle has bytes after its last expected entry.
    #[error("bundle has {extra} bytes after entry {count}")]
    BundleTrailingData {
        /// Entries read.
        count: usize,
        /// Bytes left over.
        extra: usize,
    },
    /// A serialized [`TileAppender`] state is malformed.
    #[error("bad tile appender state: {reason}")]
    BadState {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The tree cannot grow any further ([`crate::merkle::MAX_TREE_SIZE`]).
    #[error("tree size limit reached")]
    TreeFull,
}

impl Tile {
    /// A tile, checking `level <= 63` and `1 <= width <= 256`.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Tile, TileError> {
        if level > MAX_LEVEL || width == 0 || width > FULL_WIDTH {
            return Err(TileError::InvalidTile {
                level: level.into(),
                width: width.into(),
            });
        }
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// The tile level (0 holds leaf hashes; level `l+1` holds roots of level-`l` tiles).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes, 1..=256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a full (256-hash, immutable) tile.
    pub fn is_full(&self) -> bool {
        self.width == FULL_WIDTH
    }

    /// The exact size of this tile's data: 32 bytes per hash.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * crate::merkle::Hash::LEN
    }

    /// The entry bundle of a level-0 tile (same index and width); `None` above level 0.
    pub fn bundle(&self) -> Option<Bundle> {
        (self.level == 0).then_some(Bundle {
            index: self.index,
            width: self.width,
        })
    }

    /// The tlog-tiles path, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile/{}/", self.level)?;
        write_index_and_width(f, self.index, self.width)
    }
}

impl Bundle {
    /// A bundle, checking `1 <= width <= 256`.
    pub fn new(index: u64, width: u16) -> Result<Bundle, TileError> {
        Tile::new(0, index, width).map(|t| Bundle {
            index: t.index,
            width: t.width,
        })
    }

    /// The bundle index (equal to its level-0 tile's index).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of entries, 1..=256.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// The level-0 hash tile holding the leaf hashes of these entries.
    pub fn tile(&self) -> Tile {
        Tile {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// The tlog-tiles path, `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tile/entries/")?;
        write_index_and_width(f, self.index, self.width)
    }
}

/// `<N>[.p/<W>]`: N in 3-digit groups, all but the last prefixed with `x` (specs.md §7.2).
fn write_index_and_width(f: &mut fmt::Formatter<'_>, index: u64, width: u16) -> fmt::Result {
    let mut groups = Vec::with_capacity(7);
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    if width != FULL_WIDTH {
        write!(f, ".p/{width}")?;
    }
    Ok(())
}

/// Parses a tlog-tiles path strictly: every non-canonical spelling (missing zero padding,
/// leading zeros in `<L>` or `<W>`, a redundant leading `x000` group, `.p/0`, `.p/256`,
/// level above 63, anything trailing) is rejected, so that each tile has exactly one path.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TileError> {
    let bad = |reason| Err(TileError::BadPath { reason });
    if path.len() > MAX_PATH_LEN {
        return bad("too long");
    }
    let Some(rest) = path.strip_prefix("tile/") else {
        return bad("does not start with tile/");
    };
    let Some((first, rest)) = rest.split_once('/') else {
        return bad("missing tile index");
    };
    let level = if first == "entries" {
        None
    } else {
        let level = parse_canonical_decimal(first).ok_or(TileError::BadPath {
            reason: "level is not a canonical decimal",
        })?;
        if level > u64::from(MAX_LEVEL) {
            return bad("level above 63");
        }
        Some(level as u8)
    };
    let (index_part, width) = match rest.split_once(".p/") {
        Some((index_part, w)) => {
            let w = parse_canonical_decimal(w).ok_or(TileError::BadPath {
                reason: "width is not a canonical decimal",
            })?;
            if w == 0 || w >= u64::from(FULL_WIDTH) {
                return bad("partial width outside 1..=255");
            }
            (index_part, w as u16)
        }
        None => (rest, FULL_WIDTH),
    };
    let groups: Vec<&str> = index_part.split('/').collect();
    let mut index: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            *group
        } else {
            group.strip_prefix('x').ok_or(TileError::BadPath {
                reason: "index group before the last lacks the x prefix",
            })?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return bad("index group is not exactly 3 digits");
        }
        if i == 0 && !last && digits == "000" {
            return bad("redundant leading x000 index group");
        }
        // Three ASCII digits checked above.
        let value: u64 = digits
            .bytes()
            .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
        index = index
            .checked_mul(1000)
            .and_then(|n| n.checked_add(value))
            .ok_or(TileError::BadPath {
                reason: "index does not fit in 64 bits",
            })?;
    }
    let parsed = match level {
        Some(level) => TilePath::Hashes(Tile::new(level, index, width)?),
        None => TilePath::Entries(Bundle::new(index, width)?),
    };
    // Belt and braces: the canonical form must re-format to the input.
    let again = match parsed {
        TilePath::Hashes(t) => t.path(),
        TilePath::Entries(b) => b.path(),
    };
    if again != path {
        return bad("not in canonical form");
    }
    Ok(parsed)
}

/// A decimal with no sign, no leading zeros (except "0" itself), at most 19 digits.
fn parse_canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}
