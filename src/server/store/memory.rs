//! An in-memory [`Store`] that can inject faults, for tests (Sunlight's
//! `MemoryBackend`). Its "durability" is the lifetime of the value.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::{
    CommitBatch, IndexRecord, PublishedCheckpoint, Store, StoreError, TileKey, TreeState,
    check_batch, check_publish, check_tile_growth,
};

/// A fault for the next write ([`Store::commit_batch`] or
/// [`Store::publish_checkpoint`]) to suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail with [`StoreError::Injected`] before writing anything.
    FailBeforeCommit,
    /// Apply the write, then report [`StoreError::Injected`] (as a crash or
    /// I/O error after the data reached the disk would).
    FailAfterCommit,
}

/// A [`Store`] in memory. Safe to share between threads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: TreeState,
    entries: Vec<Vec<u8>>,
    tiles: BTreeMap<TileKey, Vec<u8>>,
    dedup: HashMap<[u8; 32], u64>,
    index: BTreeMap<Vec<u8>, Vec<u8>>,
    checkpoint: Option<PublishedCheckpoint>,
    faults: VecDeque<Fault>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Queues a fault; each write takes the oldest queued fault, if any.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock can only come from a bug in this
        // file; the data is still consistent because every write is applied
        // only after all checks, so recover the guard.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn tree_state(&self) -> Result<TreeState, StoreError> {
        Ok(self.lock().state.clone())
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.lock();
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| inner.entries.get(i))
            .cloned())
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let inner = self.lock();
        if start > end || end > inner.state.size {
            return Err(StoreError::Invalid(format!(
                "entries [{start}, {end}) beyond the tree size {}",
                inner.state.size
            )));
        }
        // Both bounds are at most the tree size, which is the length of
        // `entries`, a usize.
        Ok(inner.entries[start as usize..end as usize].to_vec())
    }

    fn tile(&self, key: TileKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().tiles.get(&key).cloned())
    }

    fn dedup(&self, envelope_hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().dedup.get(envelope_hash).copied())
    }

    fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().index.get(key).cloned())
    }

    fn index_scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<IndexRecord>, StoreError> {
        let inner = self.lock();
        let start = match after {
            Some(a) if a >= prefix => std::ops::Bound::Excluded(a.to_vec()),
            _ => std::ops::Bound::Included(prefix.to_vec()),
        };
        Ok(inner
            .index
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit_batch(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let fault = inner.faults.pop_front();
        if fault == Some(Fault::FailBeforeCommit) {
            return Err(StoreError::Injected);
        }
        check_batch(batch, inner.state.size)?;
        for (key, data) in &batch.tiles {
            if let Some(old) = inner.tiles.get(key) {
                check_tile_growth(*key, old, data)?;
            }
        }
        inner.entries.extend(batch.entries.iter().cloned());
        for (key, data) in &batch.tiles {
            inner.tiles.insert(*key, data.clone());
        }
        for (index, hash) in (batch.previous_size..).zip(&batch.envelope_hashes) {
            inner.dedup.entry(*hash).or_insert(index);
        }
        for (key, value) in &batch.index {
            inner.index.insert(key.clone(), value.clone());
        }
        inner.state = batch.new_state.clone();
        match fault {
            Some(Fault::FailAfterCommit) => Err(StoreError::Injected),
            _ => Ok(()),
        }
    }

    fn published_checkpoint(&self) -> Result<Option<PublishedCheckpoint>, StoreError> {
        Ok(self.lock().checkpoint.clone())
    }

    fn publish_checkpoint(
        &self,
        expected_size: Option<u64>,
        new: &PublishedCheckpoint,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let fault = inner.faults.pop_front();
        if fault == Some(Fault::FailBeforeCommit) {
            return Err(StoreError::Injected);
        }
        let current = inner.checkpoint.as_ref().map(|c| c.size);
        check_publish(expected_size, current, new, inner.state.size)?;
        inner.checkpoint = Some(new.clone());
        match fault {
            Some(Fault::FailAfterCommit) => Err(StoreError::Injected),
            _ => Ok(()),
        }
    }
}
