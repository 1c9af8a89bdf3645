//! The sequencer: a bounded pool of validated submissions, and
//! [`Sequencer::sequence_once`], which turns the pool into one durable batch.
//!
//! `sequence_once` is an ordinary synchronous method so tests drive it by
//! hand (Sunlight's `export_test.go`); the server's interval loop just calls
//! it. Time comes from an injected [`Clock`]. [`check_log`] re-derives the
//! tree from stored entries and tiles and compares (Sunlight `CheckLog`).
//!
//! Out of scope: validating envelopes (the HTTP layer does that before
//! [`Sequencer::submit`]), signing and publishing checkpoints (`publisher`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::merkle::{Hash, leaf_hash};
use crate::server::entry::{EntryError, LogEntry};
use crate::server::store::{CommitBatch, Store, StoreError, TileKey, TreeState};
use crate::tiles::{TileAppender, TileError};

/// The source of time, injected so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: u64) -> ManualClock {
        ManualClock(AtomicU64::new(now))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Limits of the sequencer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Most submissions taken into one batch.
    pub max_batch: usize,
    /// Most submissions waiting in the pool; beyond it [`Sequencer::submit`]
    /// fails with [`SequencerError::PoolFull`].
    pub pool_capacity: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            max_batch: 4096,
            pool_capacity: 65536,
        }
    }
}

/// Where a submitted envelope ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequenced {
    /// Its index in the log.
    pub index: u64,
    /// The RFC 9162 leaf hash of the stored entry.
    pub leaf_hash: Hash,
    /// Whether an identical envelope was already in the log (or earlier in
    /// the same batch), so this is the original's index.
    pub duplicate: bool,
}

/// Why sequencing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequencerError {
    /// The pending pool is full (HTTP 503 with Retry-After).
    #[error("the log is busy: too many pending submissions")]
    PoolFull,
    /// The store failed; the batch was not acknowledged (HTTP 500). A
    /// resubmission finds the entry if the write did happen.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The stored tree state could not be parsed (HTTP 500).
    #[error("tree state: {0}")]
    State(#[from] TileError),
    /// An entry could not be built (HTTP 413).
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The sequencer stopped before handling the submission (HTTP 503).
    #[error("the sequencer shut down")]
    Stopped,
}

/// What one [`Sequencer::sequence_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Submissions taken from the pool.
    pub taken: usize,
    /// New entries appended.
    pub appended: usize,
    /// Tree size after the step.
    pub size: u64,
}

/// A submission waiting in the pool.
struct Pending {
    envelope_hash: [u8; 32],
    envelope_json: Vec<u8>,
    reply: oneshot::Sender<Result<Sequenced, SequencerError>>,
}

/// The sequencer: the pending pool plus the committed tree's right edge.
pub struct Sequencer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: SequencerConfig,
    pool: Mutex<VecDeque<Pending>>,
    /// The committed tree; locked for the whole of a sequencing step, which
    /// also serializes steps.
    tree: Mutex<TileAppender>,
    /// The committed (size, root), updated after each step, so readers never
    /// wait for a step's flush.
    head: Mutex<(u64, Hash)>,
}

impl Sequencer {
    /// Loads the tree state from `store`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: SequencerConfig,
    ) -> Result<Sequencer, SequencerError> {
        let tree = load_tree(&*store)?;
        let head = (tree.size(), tree.root());
        Ok(Sequencer {
            store,
            clock,
            config,
            pool: Mutex::new(VecDeque::new()),
            tree: Mutex::new(tree),
            head: Mutex::new(head),
        })
    }

    /// Queues a validated envelope (its canonical JSON and the SHA-256 of
    /// it). The receiver yields the entry's index once its batch is durable.
    pub fn submit(
        &self,
        envelope_json: Vec<u8>,
        envelope_hash: [u8; 32],
    ) -> Result<oneshot::Receiver<Result<Sequenced, SequencerError>>, SequencerError> {
        let (tx, rx) = oneshot::channel();
        let mut pool = lock(&self.pool);
        if pool.len() >= self.config.pool_capacity {
            return Err(SequencerError::PoolFull);
        }
        pool.push_back(Pending {
            envelope_hash,
            envelope_json,
            reply: tx,
        });
        Ok(rx)
    }

    /// Submissions waiting in the pool.
    pub fn pool_depth(&self) -> usize {
        lock(&self.pool).len()
    }

    /// Whether the pool holds at least a full batch.
    pub fn batch_ready(&self) -> bool {
        self.pool_depth() >= self.config.max_batch
    }

    /// The committed tree's size and root.
    pub fn head(&self) -> (u64, Hash) {
        *lock(&self.head)
    }

    /// Fails every pending submission with [`SequencerError::Stopped`].
    pub fn drain_pool(&self) {
        for p in lock(&self.pool).drain(..) {
            let _ = p.reply.send(Err(SequencerError::Stopped));
        }
    }

    /// Takes up to `max_batch` submissions from the pool and makes them
    /// durable as one batch, then answers their submitters.
    ///
    /// On a store error nobody gets an index: the submitters get the error,
    /// and the in-memory tree is reloaded from the store, which may or may not
    /// hold the batch (a write can fail after reaching the disk). Either way a
    /// resubmission is answered correctly, from the dedup index.
    pub fn sequence_once(&self) -> Result<BatchReport, SequencerError> {
        let mut tree = lock(&self.tree);
        let batch: Vec<Pending> = {
            let mut pool = lock(&self.pool);
            let n = pool.len().min(self.config.max_batch);
            pool.drain(..n).collect()
        };
        if batch.is_empty() {
            return Ok(BatchReport {
                taken: 0,
                appended: 0,
                size: tree.size(),
            });
        }
        let outcome = self.commit(&mut tree, &batch);
        if outcome.is_err() {
            // Resynchronize with whatever the store now holds.
            if let Ok(reloaded) = load_tree(&*self.store) {
                *tree = reloaded;
            }
        }
        *lock(&self.head) = (tree.size(), tree.root());
        match outcome {
            Ok((results, appended)) => {
                let size = tree.size();
                for (p, r) in batch.into_iter().zip(results) {
                    // A submitter that gave up has dropped its receiver.
                    let _ = p.reply.send(Ok(r));
                }
                Ok(BatchReport {
                    taken: appended.1,
                    appended: appended.0,
                    size,
                })
            }
            Err(e) => {
                for p in batch {
                    let _ = p.reply.send(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// The critical section of a step. Returns one result per submission and
    /// (entries appended, submissions taken).
    fn commit(
        &self,
        tree: &mut TileAppender,
        batch: &[Pending],
    ) -> Result<(Vec<Sequenced>, (usize, usize)), SequencerError> {
        let now = self.clock.now();
        let previous_size = tree.size();
        // 1. Dedup against the log and within the batch.
        let mut results: Vec<Sequenced> = Vec::with_capacity(batch.len());
        let mut first_in_batch: HashMap<[u8; 32], usize> = HashMap::new();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut leaves: Vec<Hash> = Vec::new();
        let mut dedup: Vec<([u8; 32], u64)> = Vec::new();
        for p in batch {
            if let Some(index) = self.store.dedup(&p.envelope_hash)? {
                let entry = self.store.entry(index)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("dedup index points at missing entry {index}"))
                })?;
                results.push(Sequenced {
                    index,
                    leaf_hash: leaf_hash(&entry),
                    duplicate: true,
                });
                continue;
            }
            if let Some(&k) = first_in_batch.get(&p.envelope_hash) {
                results.push(Sequenced {
                    index: previous_size + k as u64,
                    leaf_hash: leaves[k],
                    duplicate: true,
                });
                continue;
            }
            // 2. Build the entry with the integration time.
            let entry = LogEntry::encode(&p.envelope_json, now)?;
            let k = entries.len();
            let index = previous_size + k as u64;
            first_in_batch.insert(p.envelope_hash, k);
            leaves.push(leaf_hash(&entry));
            dedup.push((p.envelope_hash, index));
            entries.push(entry);
            results.push(Sequenced {
                index,
                leaf_hash: leaves[k],
                duplicate: false,
            });
        }
        // 3. New tiles, computed on a copy so a failed commit leaves the
        //    in-memory tree untouched.
        let mut next = tree.clone();
        let tiles = next.append(&leaves)?;
        let commit = CommitBatch {
            previous_size,
            entries,
            tiles: tiles
                .into_iter()
                .map(|(t, data)| {
                    (
                        TileKey {
                            level: t.level(),
                            index: t.index(),
                        },
                        data,
                    )
                })
                .collect(),
            dedup,
            new_state: TreeState {
                size: next.size(),
                edge: next.to_bytes(),
            },
        };
        // 4. One atomic, flushed write; only after it returns do the indexes
        //    exist.
        self.store.commit_batch(&commit)?;
        *tree = next;
        Ok((results, (leaves.len(), batch.len())))
    }
}

/// Rebuilds the tile appender from the stored tree state.
pub(crate) fn load_tree(store: &dyn Store) -> Result<TileAppender, SequencerError> {
    let state = store.tree_state()?;
    if state.size == 0 && state.edge.is_empty() {
        return Ok(TileAppender::new());
    }
    let tree = TileAppender::from_bytes(&state.edge)?;
    if tree.size() != state.size {
        return Err(SequencerError::Store(StoreError::Corrupt(format!(
            "tree state says size {} but its edge is for size {}",
            state.size,
            tree.size()
        ))));
    }
    Ok(tree)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here either completes its update or leaves the
    // value as it was (the tree is replaced only after a successful commit),
    // so a poisoned lock still guards consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

mod check;
pub use check::{CheckError, CheckReport, check_log};

#[cfg(test)]
mod tests;
