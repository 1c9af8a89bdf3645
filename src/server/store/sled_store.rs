//! The on-disk [`Store`]: one sled tree with prefixed keys, one sled `Batch`
//! per write (sled applies a batch atomically), then `flush()` (which fsyncs)
//! before returning. A lock file in the data directory keeps a second process
//! out.
//!
//! Key layout (all integers big-endian, so sled's byte order is index order):
//! - `e` ‖ index u64 → entry bytes
//! - `t` ‖ level u8 ‖ index u64 → tile bytes
//! - `d` ‖ envelope hash (32) → index u64
//! - `x` ‖ secondary index key → value
//! - `mstate` → size u64 ‖ edge bytes
//! - `mcheckpoint` → size u64 ‖ note bytes

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fs2::FileExt as _;

use super::{
    CommitBatch, IndexRecord, PublishedCheckpoint, Store, StoreError, TileKey, TreeState,
    check_batch, check_publish, check_tile_growth,
};

const STATE_KEY: &[u8] = b"mstate";
const CHECKPOINT_KEY: &[u8] = b"mcheckpoint";

/// A [`Store`] on sled in a data directory that this process owns
/// exclusively while the value lives.
pub struct SledStore {
    db: sled::Db,
    /// Serializes the conditional writes: check, then apply. Other processes
    /// are kept out by `_lock`, so check-then-apply is atomic.
    write: Mutex<()>,
    /// Holds the exclusive lock on `<dir>/LOCK` until dropped.
    _lock: File,
    dir: PathBuf,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish()
    }
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir`, taking an exclusive
    /// lock on `dir/LOCK`. Fails with [`StoreError::Locked`] if another
    /// process has the directory open.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", lock_path.display())))?;
        if lock.try_lock_exclusive().is_err() {
            return Err(StoreError::Locked(format!(
                "data directory {} is in use by another claimlog process (lock {} is held)",
                dir.display(),
                lock_path.display()
            )));
        }
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(64 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(backend)?;
        Ok(SledStore {
            db,
            write: Mutex::new(()),
            _lock: lock,
            dir: dir.to_path_buf(),
        })
    }

    /// Bytes sled reports using on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded value is `()`: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn published_size(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.published_checkpoint()?.map(|c| c.size))
    }
}

impl Store for SledStore {
    fn tree_state(&self) -> Result<TreeState, StoreError> {
        let Some(v) = self.db.get(STATE_KEY).map_err(backend)? else {
            return Ok(TreeState::default());
        };
        let (size, edge) = split_u64(&v).ok_or_else(|| corrupt("tree state"))?;
        Ok(TreeState {
            size,
            edge: edge.to_vec(),
        })
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(entry_key(index))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let size = self.tree_state()?.size;
        if start > end || end > size {
            return Err(StoreError::Invalid(format!(
                "entries [{start}, {end}) beyond the tree size {size}"
            )));
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        for item in self.db.range(entry_key(start)..entry_key(end)) {
            let (_, v) = item.map_err(backend)?;
            out.push(v.to_vec());
        }
        if out.len() as u64 != end - start {
            return Err(corrupt("missing entries"));
        }
        Ok(out)
    }

    fn tile(&self, key: TileKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(tile_key(key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn dedup(&self, envelope_hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        let Some(v) = self.db.get(dedup_key(envelope_hash)).map_err(backend)? else {
            return Ok(None);
        };
        match split_u64(&v) {
            Some((index, [])) => Ok(Some(index)),
            _ => Err(corrupt("dedup record")),
        }
    }

    fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(index_key(key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn index_scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<IndexRecord>, StoreError> {
        let full_prefix = index_key(prefix);
        // Start just after `after` (its key followed by a zero byte is the
        // next possible key), or at the prefix.
        let start = match after {
            Some(a) if a >= prefix => {
                let mut s = index_key(a);
                s.push(0);
                s
            }
            _ => full_prefix.clone(),
        };
        let mut out = Vec::new();
        for item in self.db.range(start..) {
            let (k, v) = item.map_err(backend)?;
            if !k.starts_with(&full_prefix) || out.len() >= limit {
                break;
            }
            // Every key in this range starts with the one-byte `x` tag.
            out.push((k[1..].to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn commit_batch(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let guard = self.lock_writes();
        check_batch(batch, self.tree_state()?.size)?;
        let mut b = sled::Batch::default();
        for (key, data) in &batch.tiles {
            if let Some(old) = self.db.get(tile_key(*key)).map_err(backend)? {
                check_tile_growth(*key, &old, data)?;
            }
            b.insert(&tile_key(*key)[..], data.as_slice());
        }
        for (i, entry) in batch.entries.iter().enumerate() {
            b.insert(
                &entry_key(batch.previous_size + i as u64)[..],
                entry.as_slice(),
            );
        }
        for (hash, index) in &batch.dedup {
            b.insert(&dedup_key(hash)[..], &index.to_be_bytes()[..]);
        }
        for (key, value) in &batch.index {
            b.insert(index_key(key), value.as_slice());
        }
        let mut state = Vec::with_capacity(8 + batch.new_state.edge.len());
        state.extend_from_slice(&batch.new_state.size.to_be_bytes());
        state.extend_from_slice(&batch.new_state.edge);
        b.insert(STATE_KEY, state);
        // One batch: sled makes it visible and recovers it all or nothing.
        self.db.apply_batch(b).map_err(backend)?;
        // The conditional part is done; flush without holding the write
        // lock, so a checkpoint publication does not queue behind this fsync
        // (and vice versa). sled's log is recovered as a prefix, and a flush
        // covers everything applied before it, so a later write never
        // becomes durable without this one.
        drop(guard);
        // Durability rule: nothing is acknowledged before this returns.
        self.db.flush().map_err(backend)?;
        Ok(())
    }

    fn published_checkpoint(&self) -> Result<Option<PublishedCheckpoint>, StoreError> {
        let Some(v) = self.db.get(CHECKPOINT_KEY).map_err(backend)? else {
            return Ok(None);
        };
        let (size, note) = split_u64(&v).ok_or_else(|| corrupt("checkpoint"))?;
        Ok(Some(PublishedCheckpoint {
            size,
            note: note.to_vec(),
        }))
    }

    fn publish_checkpoint(
        &self,
        expected_size: Option<u64>,
        new: &PublishedCheckpoint,
    ) -> Result<(), StoreError> {
        let guard = self.lock_writes();
        check_publish(
            expected_size,
            self.published_size()?,
            new,
            self.tree_state()?.size,
        )?;
        let mut v = Vec::with_capacity(8 + new.note.len());
        v.extend_from_slice(&new.size.to_be_bytes());
        v.extend_from_slice(&new.note);
        self.db.insert(CHECKPOINT_KEY, v).map_err(backend)?;
        // As in `commit_batch`: flush outside the write lock, so the
        // sequencer's next batch is not held up by this fsync.
        drop(guard);
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed {what} record"))
}

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [b'e'; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn tile_key(key: TileKey) -> [u8; 10] {
    let mut k = [b't'; 10];
    k[1] = key.level;
    k[2..].copy_from_slice(&key.index.to_be_bytes());
    k
}

fn dedup_key(hash: &[u8; 32]) -> [u8; 33] {
    let mut k = [b'd'; 33];
    k[1..].copy_from_slice(hash);
    k
}

fn index_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(b'x');
    k.extend_from_slice(key);
    k
}

/// Splits a big-endian u64 off the front of a record.
fn split_u64(v: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = v.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}
