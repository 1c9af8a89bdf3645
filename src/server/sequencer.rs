//! The sequencer: a bounded pool of validated submissions, and
//! [`Sequencer::sequence_once`], which turns the pool into one durable batch.
//!
//! `sequence_once` is an ordinary synchronous method so tests drive it by
//! hand (Sunlight's `export_test.go`); the server's interval loop just calls
//! it. Time comes from an injected [`Clock`]. [`check_log`] re-derives the
//! tree from stored entries and tiles and compares (Sunlight `CheckLog`).
//!
//! Out of scope: validating envelopes (the HTTP layer does that before
//! [`Sequencer::submit`], except for the last, cheap half of the signature
//! check, which [`Sequencer::submit_verifying`] leaves to the step so that
//! the whole batch shares one field inversion), signing and publishing
//! checkpoints (`publisher`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::dsse::{DsseError, PendingVerification};
use crate::merkle::{Hash, leaf_hash};
use crate::server::entry::{EntryError, LogEntry};
use crate::server::store::{CommitBatch, IndexRecord, Store, StoreError, TileKey, TreeState};
use crate::tiles::{TileAppender, TileError};

/// The source of time, injected so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;

    /// Milliseconds since the Unix epoch (for scheduling publications);
    /// by default the seconds of [`Clock::now`] in milliseconds.
    fn now_millis(&self) -> u64 {
        self.now().saturating_mul(1000)
    }
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

    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to, for tests (millisecond
/// resolution).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now` seconds.
    pub fn new(now: u64) -> ManualClock {
        ManualClock(AtomicU64::new(now.saturating_mul(1000)))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.advance_millis(secs.saturating_mul(1000));
    }

    /// Moves the clock forward by `millis` milliseconds.
    pub fn advance_millis(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst) / 1000
    }

    fn now_millis(&self) -> u64 {
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
    /// Most bytes held at once by submissions in flight, as reserved with
    /// [`Sequencer::reserve`]; beyond it `reserve` fails with
    /// [`SequencerError::PoolFull`]. This, not `pool_capacity`, bounds the
    /// memory of pending submissions (an envelope may be 64 KiB).
    pub pending_bytes: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            max_batch: 4096,
            pool_capacity: 65536,
            pending_bytes: DEFAULT_PENDING_BYTES,
        }
    }
}

/// The default [`SequencerConfig::pending_bytes`]: 16 MiB, about 3,200
/// submissions of 1 KiB in flight (each also pays
/// [`SUBMISSION_OVERHEAD_BYTES`]) or 240 of the largest envelopes.
pub const DEFAULT_PENDING_BYTES: usize = 16 * 1024 * 1024;

/// What a submission in flight costs besides its body, charged to
/// [`SequencerConfig::pending_bytes`] from before its body is read until it
/// is answered: its request and handler state (measured at about 3-4 KiB per
/// request in BENCHMARKS.md "Memory bound"). So the pending budget also
/// bounds how many submissions can wait for their receipts at once, over
/// however many connections and HTTP/2 streams.
pub const SUBMISSION_OVERHEAD_BYTES: usize = 4 * 1024;

/// Bytes of [`SequencerConfig::pending_bytes`] held by one submission; given
/// back when dropped.
#[derive(Debug)]
pub struct Reservation {
    used: Arc<AtomicUsize>,
    bytes: usize,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Gives back all but `bytes` (no-op if it holds no more than that):
    /// once a body is read its actual size replaces the announced or
    /// maximal one, and once it is sequenced only the overhead remains.
    pub fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.bytes {
            self.used.fetch_sub(self.bytes - bytes, Ordering::AcqRel);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::AcqRel);
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
    /// The submission's signature, whose check
    /// [`Sequencer::submit_verifying`] left to the step, does not verify;
    /// it was not appended (HTTP 403, as when the check is done up front).
    #[error(transparent)]
    Signature(DsseError),
    /// The submission's [`CommitCheck`] refused it at integration time; it
    /// was not appended (the status is the rejection's).
    #[error(transparent)]
    Rejected(#[from] Rejection),
}

/// A check that must hold when an entry is integrated, not merely when it
/// was submitted: run inside the commit critical section, in log order, with
/// the integration time and a view of the store that includes the earlier
/// entries and index records of the same batch. It either vetoes the entry or
/// returns the secondary index records to write with it (in the same atomic
/// batch). The claim series rules use it so that of two racing versions of a
/// series exactly one is appended (spec/claim.md §6.1).
pub trait CommitCheck: Send + 'static {
    /// Checks the submission as entry `index`, integrated at
    /// `integrated_time` (POSIX seconds).
    fn check(
        &self,
        view: &BatchView<'_>,
        index: u64,
        integrated_time: u64,
    ) -> Result<Vec<IndexRecord>, Rejection>;
}

/// The store as a [`CommitCheck`] sees it: committed data plus what the
/// batch being built has added so far.
pub struct BatchView<'a> {
    store: &'a dyn Store,
    previous_size: u64,
    entries: &'a [Vec<u8>],
    index: &'a BTreeMap<Vec<u8>, Vec<u8>>,
}

impl BatchView<'_> {
    /// The secondary index record at `key`, the batch's own first.
    pub fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.index.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None => self.store.index_get(key),
        }
    }

    /// The entry at `index`, committed or earlier in this batch.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match index.checked_sub(self.previous_size) {
            Some(k) => Ok(usize::try_from(k)
                .ok()
                .and_then(|k| self.entries.get(k))
                .cloned()),
            None => self.store.entry(index),
        }
    }
}

/// Why a [`CommitCheck`] refused an entry: a one-line reason, the HTTP
/// status it becomes, and optionally a JSON body detail (for 409, the
/// current head of the series, so the client can rebase).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    /// The HTTP status (a 4xx).
    pub status: u16,
    /// The one-line reason.
    pub reason: String,
    /// Extra JSON for the answer body (serialized), if any.
    pub detail: Option<String>,
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
    check: Option<Box<dyn CommitCheck>>,
    /// A signature check to finish before the entry is considered.
    signature: Option<PendingVerification>,
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
    /// Bytes reserved by submissions in flight ([`Sequencer::reserve`]).
    pending: Arc<AtomicUsize>,
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
            pending: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Queues a validated envelope (its canonical JSON and the SHA-256 of
    /// it). The receiver yields the entry's index once its batch is durable.
    pub fn submit(
        &self,
        envelope_json: Vec<u8>,
        envelope_hash: [u8; 32],
    ) -> Result<oneshot::Receiver<Result<Sequenced, SequencerError>>, SequencerError> {
        self.submit_checked(envelope_json, envelope_hash, None)
    }

    /// [`Sequencer::submit`] with a [`CommitCheck`] to run when the entry is
    /// integrated; if it refuses, the receiver yields
    /// [`SequencerError::Rejected`] and nothing is appended. A resubmission of
    /// an envelope already in the log is answered from the dedup index
    /// without running the check.
    pub fn submit_checked(
        &self,
        envelope_json: Vec<u8>,
        envelope_hash: [u8; 32],
        check: Option<Box<dyn CommitCheck>>,
    ) -> Result<oneshot::Receiver<Result<Sequenced, SequencerError>>, SequencerError> {
        self.enqueue(envelope_json, envelope_hash, check, None)
    }

    /// [`Sequencer::submit`] for an envelope whose signature check is half
    /// done ([`crate::dsse::Envelope::start_verify`]). The step finishes the
    /// checks of all its submissions at once
    /// ([`PendingVerification::finish_all`]); a submission whose signature
    /// fails gets [`SequencerError::Signature`], before any dedup lookup,
    /// exactly as if the HTTP layer had refused it, and nothing is appended.
    pub fn submit_verifying(
        &self,
        envelope_json: Vec<u8>,
        envelope_hash: [u8; 32],
        signature: PendingVerification,
    ) -> Result<oneshot::Receiver<Result<Sequenced, SequencerError>>, SequencerError> {
        self.enqueue(envelope_json, envelope_hash, None, Some(signature))
    }

    fn enqueue(
        &self,
        envelope_json: Vec<u8>,
        envelope_hash: [u8; 32],
        check: Option<Box<dyn CommitCheck>>,
        signature: Option<PendingVerification>,
    ) -> Result<oneshot::Receiver<Result<Sequenced, SequencerError>>, SequencerError> {
        let (tx, rx) = oneshot::channel();
        let mut pool = lock(&self.pool);
        if pool.len() >= self.config.pool_capacity {
            return Err(SequencerError::PoolFull);
        }
        pool.push_back(Pending {
            envelope_hash,
            envelope_json,
            check,
            signature,
            reply: tx,
        });
        Ok(rx)
    }

    /// Reserves `bytes` of the pending budget for a submission about to be
    /// read, or fails with [`SequencerError::PoolFull`] if that would exceed
    /// [`SequencerConfig::pending_bytes`] (nothing is reserved then). The
    /// HTTP layer calls it before reading a body, so that bodies being read,
    /// envelopes in the pool and submitters waiting for receipts together
    /// stay within the budget whatever the number of connections.
    pub fn reserve(&self, bytes: usize) -> Result<Reservation, SequencerError> {
        let limit = self.config.pending_bytes;
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= limit)
            })
            .map_err(|_| SequencerError::PoolFull)?;
        Ok(Reservation {
            used: self.pending.clone(),
            bytes,
        })
    }

    /// Bytes of the pending budget reserved now.
    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::Acquire)
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
        let taken = batch.len();
        let batch = finish_signatures(batch);
        if batch.is_empty() {
            return Ok(BatchReport {
                taken,
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
                    let _ = p.reply.send(r);
                }
                Ok(BatchReport {
                    taken,
                    appended,
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
    /// the number of entries appended.
    #[allow(clippy::type_complexity)]
    fn commit(
        &self,
        tree: &mut TileAppender,
        batch: &[Pending],
    ) -> Result<(Vec<Result<Sequenced, SequencerError>>, usize), SequencerError> {
        let now = self.clock.now();
        let previous_size = tree.size();
        // 1. Dedup against the log and within the batch.
        let mut results: Vec<Result<Sequenced, SequencerError>> = Vec::with_capacity(batch.len());
        // Sized for the whole batch up front: almost every submission is new.
        let mut first_in_batch: HashMap<[u8; 32], usize> = HashMap::with_capacity(batch.len());
        let mut entries: Vec<Vec<u8>> = Vec::with_capacity(batch.len());
        let mut leaves: Vec<Hash> = Vec::with_capacity(batch.len());
        let mut envelope_hashes: Vec<[u8; 32]> = Vec::with_capacity(batch.len());
        let mut index_overlay: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut index_records: Vec<IndexRecord> = Vec::new();
        for p in batch {
            if let Some(index) = self.store.dedup(&p.envelope_hash)? {
                let entry = self.store.entry(index)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("dedup index points at missing entry {index}"))
                })?;
                results.push(Ok(Sequenced {
                    index,
                    leaf_hash: leaf_hash(&entry),
                    duplicate: true,
                }));
                continue;
            }
            if let Some(&k) = first_in_batch.get(&p.envelope_hash) {
                results.push(Ok(Sequenced {
                    index: previous_size + k as u64,
                    leaf_hash: leaves[k],
                    duplicate: true,
                }));
                continue;
            }
            let k = entries.len();
            let index = previous_size + k as u64;
            // 2. Integration-time checks against the store as this batch has
            //    left it so far: of two racing submissions the later one sees
            //    the earlier one's index records and can be refused.
            if let Some(check) = &p.check {
                let view = BatchView {
                    store: &*self.store,
                    previous_size,
                    entries: &entries,
                    index: &index_overlay,
                };
                match check.check(&view, index, now) {
                    Ok(records) => {
                        for (key, value) in records {
                            index_overlay.insert(key.clone(), value.clone());
                            index_records.push((key, value));
                        }
                    }
                    Err(rejection) => {
                        results.push(Err(SequencerError::Rejected(rejection)));
                        continue;
                    }
                }
            }
            // 3. Build the entry with the integration time.
            let entry = LogEntry::encode(&p.envelope_json, now)?;
            first_in_batch.insert(p.envelope_hash, k);
            leaves.push(leaf_hash(&entry));
            envelope_hashes.push(p.envelope_hash);
            entries.push(entry);
            results.push(Ok(Sequenced {
                index,
                leaf_hash: leaves[k],
                duplicate: false,
            }));
        }
        // 4. New tiles, computed on a copy so a failed commit leaves the
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
            envelope_hashes,
            index: index_records,
            new_state: TreeState {
                size: next.size(),
                edge: next.to_bytes(),
            },
        };
        // 5. One atomic, flushed write (entries and index records together); only after it returns do the indexes
        //    exist.
        self.store.commit_batch(&commit)?;
        *tree = next;
        Ok((results, leaves.len()))
    }
}

/// Finishes the deferred signature checks of a batch at once, answers the
/// submissions whose signature fails, and returns the others in order.
fn finish_signatures(batch: Vec<Pending>) -> Vec<Pending> {
    let pending: Vec<&PendingVerification> =
        batch.iter().filter_map(|p| p.signature.as_ref()).collect();
    if pending.is_empty() {
        return batch;
    }
    let mut verdicts = PendingVerification::finish_all(&pending).into_iter();
    let mut kept = Vec::with_capacity(batch.len());
    for p in batch {
        let verdict = match &p.signature {
            None => Ok(0),
            // `finish_all` gives one verdict per check; `finish` is the same
            // check alone.
            Some(signature) => verdicts.next().unwrap_or_else(|| signature.finish()),
        };
        match verdict {
            Ok(_) => kept.push(p),
            Err(e) => {
                let _ = p.reply.send(Err(SequencerError::Signature(e)));
            }
        }
    }
    kept
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
