//! `check_log`: re-derive the whole tree from stored entries and compare it
//! with every stored tile, the stored edge state, the dedup index and the
//! published checkpoint (Sunlight `CheckLog`, tessera `cmd/fsck`). O(n); for
//! tests and operators, not for the request path.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::checkpoint::SignedCheckpoint;
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note::VerifierKey;
use crate::server::entry::{LogEntry, envelope_hash};
use crate::server::reader::LogReader;
use crate::server::store::{Store, StoreError, TileKey};
use crate::tiles::TileAppender;

use super::load_tree;

/// What [`check_log`] verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The stored tree size.
    pub size: u64,
    /// Its root, as re-derived from the entries.
    pub root: Hash,
    /// The published checkpoint's size, if one is published.
    pub published: Option<u64>,
}

/// A discrepancy found by [`check_log`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Reading the store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The stored data disagrees with itself.
    #[error("inconsistent log: {0}")]
    Inconsistent(String),
}

/// Checks the stored log. With `log_key`, the published checkpoint's
/// signature is verified too.
pub fn check_log(
    store: &Arc<dyn Store>,
    log_key: Option<&VerifierKey>,
) -> Result<CheckReport, CheckError> {
    let bad = |msg: String| CheckError::Inconsistent(msg);
    let tree = load_tree(&**store).map_err(|e| bad(format!("tree state: {e}")))?;
    let size = tree.size();
    let published = store.published_checkpoint()?;
    let published_size = published.as_ref().map(|p| p.size);

    // Replay every entry through a fresh appender and a plain frontier.
    let mut replay = TileAppender::new();
    let mut frontier = Frontier::new();
    let mut expected_tiles: BTreeMap<TileKey, Vec<u8>> = BTreeMap::new();
    let mut root_at_published = None;
    if published_size == Some(0) {
        root_at_published = Some(frontier.root());
    }
    let mut start = 0u64;
    while start < size {
        let end = (start + 256).min(size);
        let entries = store.entries(start, end)?;
        let mut leaves = Vec::with_capacity(entries.len());
        for (k, entry) in entries.iter().enumerate() {
            let index = start + k as u64;
            let parsed = LogEntry::parse(entry).map_err(|e| bad(format!("entry {index}: {e}")))?;
            let hash = envelope_hash(&parsed.envelope.to_canonical_json());
            if store.dedup(&hash)? != Some(index) {
                return Err(bad(format!("dedup index does not point at entry {index}")));
            }
            let leaf = leaf_hash(entry);
            frontier
                .append(leaf)
                .map_err(|e| bad(format!("frontier: {e}")))?;
            if published_size == Some(index + 1) {
                root_at_published = Some(frontier.root());
            }
            leaves.push(leaf);
        }
        let tiles = replay
            .append(&leaves)
            .map_err(|e| bad(format!("replay: {e}")))?;
        for (t, data) in tiles {
            expected_tiles.insert(
                TileKey {
                    level: t.level(),
                    index: t.index(),
                },
                data,
            );
        }
        start = end;
    }

    let root = frontier.root();
    if tree.root() != root || replay.root() != root {
        return Err(bad(format!(
            "stored edge root {:?} differs from re-derived root {root:?}",
            tree.root()
        )));
    }
    if replay.to_bytes() != tree.to_bytes() {
        return Err(bad("stored edge state differs from the replay".into()));
    }
    for (key, data) in &expected_tiles {
        if store.tile(*key)?.as_ref() != Some(data) {
            return Err(bad(format!("tile {}/{} differs", key.level, key.index)));
        }
    }
    let reader = LogReader::new(store.clone());
    let from_tiles = reader
        .tree_hash(size)
        .map_err(|e| bad(format!("root from tiles: {e}")))?;
    if from_tiles != root {
        return Err(bad("root computed from tiles differs".into()));
    }

    if let Some(p) = &published {
        let Some(expected_root) = root_at_published else {
            return Err(bad(format!(
                "published checkpoint size {} is beyond the tree size {size}",
                p.size
            )));
        };
        let note = crate::note::Note::parse(&p.note)
            .map_err(|e| bad(format!("published checkpoint: {e}")))?;
        let cp = match log_key {
            Some(key) => SignedCheckpoint::open(&note, [key])
                .map_err(|e| bad(format!("published checkpoint: {e}")))?
                .checkpoint()
                .clone(),
            None => crate::checkpoint::Checkpoint::parse(note.text())
                .map_err(|e| bad(format!("published checkpoint: {e}")))?,
        };
        if cp.size() != p.size || *cp.root() != expected_root {
            return Err(bad("published checkpoint does not match the entries".into()));
        }
    }
    Ok(CheckReport {
        size,
        root,
        published: published_size,
    })
}
