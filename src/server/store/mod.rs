//! Durable storage for the log, behind the small synchronous [`Store`] trait.
//!
//! What is stored (the tlog-tiles objects are the source of truth, specs.md
//! §10 "Design takeaway"):
//! - entries by index (the exact leaf bytes; entry bundles are assembled from
//!   them on read; [`SledStore`] keeps them 16 to a record),
//! - hash tiles by (level, index): a full tile is immutable; the partial tile
//!   at the right edge of a level is overwritten as it grows, and every older
//!   width is a prefix of the current contents, so `tile/L/N.p/W` is served by
//!   slicing the first `32·W` bytes (c2sp.org/tlog-tiles "Partial tiles"),
//! - the dedup index (SHA-256 of the canonical envelope -> index; every entry
//!   has one, given in the batch that appends it),
//! - the tree state (size + the tiler's opaque edge state),
//! - the published checkpoint, which only moves forward, by compare-and-swap,
//! - secondary indexes (opaque key -> value records, e.g. the claim series
//!   heads of `server::claims`), written in the same atomic batch as the
//!   entries they describe so they can never disagree with the log.
//!
//! Two implementations: [`SledStore`] (on disk) and [`MemoryStore`] (tests,
//! with fault injection). Both pass the same conformance suite.
//!
//! Out of scope: Merkle math and tile contents (the caller computes them), the
//! meaning of entries.

mod memory;
mod prefix_index;
mod sled_store;

use crate::tiles::MAX_ENTRY_LEN;

pub use memory::{Fault, MemoryStore};
pub use sled_store::{DEFAULT_SLED_CACHE_BYTES, SEGMENT_BYTES, STORE_FORMAT, SledStore};

/// A secondary index record: key and value.
pub type IndexRecord = (Vec<u8>, Vec<u8>);

/// The longest secondary index key accepted in a [`CommitBatch`].
pub const MAX_INDEX_KEY: usize = 512;

/// Hashes in a full tile (tile height 8).
pub const TILE_WIDTH: usize = 256;

/// Bytes in one hash.
const HASH_BYTES: usize = 32;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found a different current value: the tree size
    /// (for [`Store::commit_batch`]) or the published checkpoint's size (for
    /// [`Store::publish_checkpoint`]). Nothing was written. Another writer got
    /// there first; the caller must reload its state. (HTTP 503 if surfaced.)
    #[error("conflict: the current size is {current}")]
    Conflict {
        /// The size found in the store.
        current: u64,
    },
    /// The caller asked for something inconsistent (a batch whose sizes do not
    /// add up, a tile that would change a stored prefix, a checkpoint that
    /// goes backwards or beyond the tree). Nothing was written. (HTTP 500.)
    #[error("invalid write: {0}")]
    Invalid(String),
    /// Stored data is malformed. (HTTP 500.)
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The storage backend failed; a write may or may not have happened
    /// (reload state to find out). (HTTP 500.)
    #[error("storage backend: {0}")]
    Backend(String),
    /// Another process holds the data directory.
    #[error("{0}")]
    Locked(String),
    /// The data directory was written in another store format
    /// ([`STORE_FORMAT`] is the one this version reads).
    #[error("{0}")]
    Format(String),
    /// A fault injected by [`MemoryStore::inject`], for tests.
    #[error("injected fault")]
    Injected,
}

/// The tree as the sequencer left it: its size and the tiler's edge state
/// (opaque here; the sequencer serializes and parses it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    /// The number of entries in the tree.
    pub size: u64,
    /// The tile appender's serialized edge state for `size`.
    pub edge: Vec<u8>,
}

/// The address of a hash tile (entry bundles are not stored as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    /// The tile level, 0 for leaf hashes.
    pub level: u8,
    /// The tile index within its level.
    pub index: u64,
}

/// Everything one sequencing step writes, committed atomically by
/// [`Store::commit_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitBatch {
    /// The tree size this batch extends; the commit fails with
    /// [`StoreError::Conflict`] unless it is the stored size.
    pub previous_size: u64,
    /// The new entries, to be stored at `previous_size`, `previous_size + 1`,
    /// ...; each at most [`MAX_ENTRY_LEN`] bytes (the tlog-tiles bundle limit).
    pub entries: Vec<Vec<u8>>,
    /// Hash tiles whose contents changed: full ones and the new right edges.
    /// Each is 1 to 256 hashes, and a stored tile's contents must be a prefix
    /// of the new contents.
    pub tiles: Vec<(TileKey, Vec<u8>)>,
    /// The dedup index's new records: the SHA-256 of each new entry's
    /// canonical envelope, in entry order (exactly one per entry).
    pub envelope_hashes: Vec<[u8; 32]>,
    /// Secondary index records (key -> value), inserted or overwritten in the
    /// same atomic write; applied in order, so a later record for the same key
    /// wins. Keys are 1 to [`MAX_INDEX_KEY`] bytes.
    pub index: Vec<IndexRecord>,
    /// The tree state after the batch; its size must be
    /// `previous_size + entries.len()`.
    pub new_state: TreeState,
}

/// A checkpoint as published at `/checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCheckpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The signed note, verbatim, with every signature line.
    pub note: Vec<u8>,
}

/// The log's storage.
///
/// Contract, for every implementation:
/// - **Durability.** When [`Store::commit_batch`] or
///   [`Store::publish_checkpoint`] returns `Ok`, the write is on stable
///   storage (flushed) and survives a crash. Only then may the log hand out
///   the new indexes or serve the checkpoint.
/// - **Atomicity.** Each of those two writes is all or nothing: after a crash
///   a reader sees either none or all of a batch (entries, tiles, dedup
///   records, secondary index records and tree state together).
/// - **Conflicts.** Both writes are conditional on the state the caller last
///   read. If it changed, nothing is written and the call returns
///   [`StoreError::Conflict`] with the current size. The published checkpoint
///   therefore moves only forward and two writers cannot fork the log.
/// - **Errors after writing.** A `Backend` (or injected) error may leave the
///   write applied; callers reload [`Store::tree_state`] before retrying.
/// - **Reads** see only committed data; a batch becomes visible at once.
pub trait Store: Send + Sync + 'static {
    /// The current tree state (size 0 and an empty edge for a new store).
    fn tree_state(&self) -> Result<TreeState, StoreError>;

    /// The entry at `index`, if the tree has one there.
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The entries in `[start, end)`, all of which must exist
    /// ([`StoreError::Invalid`] if the range goes beyond the tree).
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The current contents of a hash tile (full, or the widest partial).
    fn tile(&self, key: TileKey) -> Result<Option<Vec<u8>>, StoreError>;

    /// The index of the entry with this canonical envelope hash (the lowest,
    /// if batches gave it to several).
    fn dedup(&self, envelope_hash: &[u8; 32]) -> Result<Option<u64>, StoreError>;

    /// The secondary index record at `key`, if any.
    fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` secondary index records whose keys start with `prefix`
    /// and are greater than `after` (if given), in ascending byte order of
    /// their keys (pagination: pass the last key seen as `after`).
    fn index_scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<IndexRecord>, StoreError>;

    /// Atomically and durably applies one sequencing step, if the stored tree
    /// size is still `batch.previous_size`.
    fn commit_batch(&self, batch: &CommitBatch) -> Result<(), StoreError>;

    /// The published checkpoint, if any.
    fn published_checkpoint(&self) -> Result<Option<PublishedCheckpoint>, StoreError>;

    /// Publishes `new` if the published checkpoint's size is still
    /// `expected_size` (`None`: nothing published yet). `new.size` must be at
    /// least `expected_size` and at most the tree size.
    fn publish_checkpoint(
        &self,
        expected_size: Option<u64>,
        new: &PublishedCheckpoint,
    ) -> Result<(), StoreError>;
}

/// Checks a batch against the stored size and its own consistency; shared by
/// the implementations so they agree on every rule.
fn check_batch(batch: &CommitBatch, current_size: u64) -> Result<(), StoreError> {
    if batch.previous_size != current_size {
        return Err(StoreError::Conflict {
            current: current_size,
        });
    }
    let expected = u64::try_from(batch.entries.len())
        .ok()
        .and_then(|n| batch.previous_size.checked_add(n));
    if expected != Some(batch.new_state.size) {
        return Err(StoreError::Invalid(format!(
            "new size {} is not {} + {} entries",
            batch.new_state.size,
            batch.previous_size,
            batch.entries.len()
        )));
    }
    if let Some(e) = batch.entries.iter().find(|e| e.len() > MAX_ENTRY_LEN) {
        return Err(StoreError::Invalid(format!(
            "entry of {} bytes (at most {MAX_ENTRY_LEN})",
            e.len()
        )));
    }
    for (key, data) in &batch.tiles {
        if data.is_empty() || data.len() % HASH_BYTES != 0 || data.len() > TILE_WIDTH * HASH_BYTES {
            return Err(StoreError::Invalid(format!(
                "tile {}/{} has {} bytes",
                key.level,
                key.index,
                data.len()
            )));
        }
    }
    for (key, _) in &batch.index {
        if key.is_empty() || key.len() > MAX_INDEX_KEY {
            return Err(StoreError::Invalid(format!(
                "index key of {} bytes (1 to {MAX_INDEX_KEY} allowed)",
                key.len()
            )));
        }
    }
    if batch.envelope_hashes.len() != batch.entries.len() {
        return Err(StoreError::Invalid(format!(
            "{} envelope hashes for {} entries",
            batch.envelope_hashes.len(),
            batch.entries.len()
        )));
    }
    Ok(())
}

/// Checks that a stored tile may be replaced: the old contents must be a
/// strict or equal prefix of the new (full tiles never change).
fn check_tile_growth(key: TileKey, old: &[u8], new: &[u8]) -> Result<(), StoreError> {
    if new.len() < old.len() || &new[..old.len()] != old {
        return Err(StoreError::Invalid(format!(
            "tile {}/{} would change stored hashes",
            key.level, key.index
        )));
    }
    Ok(())
}

/// Checks a checkpoint publication against the stored one and the tree.
fn check_publish(
    expected_size: Option<u64>,
    current: Option<u64>,
    new: &PublishedCheckpoint,
    tree_size: u64,
) -> Result<(), StoreError> {
    if expected_size != current {
        return Err(StoreError::Conflict {
            current: current.unwrap_or(0),
        });
    }
    if let Some(old) = current
        && new.size < old
    {
        return Err(StoreError::Invalid(format!(
            "checkpoint would go back from {old} to {}",
            new.size
        )));
    }
    if new.size > tree_size {
        return Err(StoreError::Invalid(format!(
            "checkpoint size {} is beyond the tree size {tree_size}",
            new.size
        )));
    }
    Ok(())
}

#[cfg(test)]
mod conformance;
