//! The witness's durable state: per origin, the latest cosigned checkpoint;
//! and the evidence of log misbehaviour it was shown.
//!
//! [`Store`] is the small trait the witness needs; [`SledStore`] is the
//! durable implementation and [`MemoryStore`] a test double that can inject
//! write failures. Both run the same conformance tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use claimlog::checkpoint::{Checkpoint, Origin};
use claimlog::merkle::Hash;
use claimlog::note::Note;
use claimlog::witness_wire::TreeState;

/// At most this many evidence records are kept; later ones are dropped
/// (and counted) so a log replaying signed checkpoints cannot fill the
/// disk.
pub const MAX_EVIDENCE: usize = 10_000;

/// Storage errors. The witness answers 500 for all of them and logs the
/// details; clients never see them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The compare-and-swap lost: the stored record is no longer the one
    /// the caller checked against. `current` is the size stored now
    /// (`None`: no record).
    #[error("stored state changed concurrently (now {current:?})")]
    Conflict {
        /// The stored size now.
        current: Option<u64>,
    },
    /// A stored record does not decode.
    #[error("corrupt stored record: {0}")]
    Corrupt(&'static str),
    /// The backend failed (I/O, or an injected fault).
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// The latest cosigned checkpoint of one log: its note carries the log
/// signature(s) the witness verified and the witness's own cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    state: TreeState,
    note: Note,
}

impl Cosigned {
    /// Wraps a cosigned checkpoint note; its text must be a checkpoint.
    pub fn new(note: Note) -> Result<Cosigned, StoreError> {
        let checkpoint = Checkpoint::parse(note.text())
            .map_err(|_| StoreError::Corrupt("note text is not a checkpoint"))?;
        Ok(Cosigned {
            state: TreeState::of(&checkpoint),
            note,
        })
    }

    /// The (size, root) cosigned.
    pub fn state(&self) -> &TreeState {
        &self.state
    }

    /// The cosigned note.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The stored encoding: size (u64 BE), root (32 bytes), then the note.
    /// Size and root are redundant with the note but let a reader check
    /// the state without parsing it.
    fn encode(&self) -> Vec<u8> {
        let note = self.note.to_bytes();
        let mut out = Vec::with_capacity(40 + note.len());
        out.extend_from_slice(&self.state.size.to_be_bytes());
        out.extend_from_slice(self.state.root.as_bytes());
        out.extend_from_slice(&note);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Cosigned, StoreError> {
        if bytes.len() < 40 {
            return Err(StoreError::Corrupt("record shorter than 40 bytes"));
        }
        let (head, note) = bytes.split_at(40);
        let note = Note::parse(note).map_err(|_| StoreError::Corrupt("stored note"))?;
        let cosigned = Cosigned::new(note)?;
        let mut size = [0u8; 8];
        size.copy_from_slice(&head[..8]);
        let state = TreeState {
            size: u64::from_be_bytes(size),
            root: Hash::from_slice(&head[8..]).ok_or(StoreError::Corrupt("root"))?,
        };
        if state != cosigned.state {
            return Err(StoreError::Corrupt("header does not match the note"));
        }
        Ok(cosigned)
    }
}

/// Evidence of log misbehaviour: two validly log-signed checkpoints that
/// cannot both be true (see `spec/witness.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `same-size-different-root` (conclusive) or
    /// `consistency-proof-failed` (the log's own proof does not link the
    /// two; a monitor confirms from the log's tiles).
    pub kind: String,
    /// The log origin.
    pub origin: String,
    /// When the witness saw it (POSIX seconds).
    pub observed_at: u64,
    /// The checkpoint the witness had cosigned (the full note).
    pub cosigned: String,
    /// The conflicting checkpoint as received (the full note).
    pub conflicting: String,
    /// The request's `old` size.
    pub old: u64,
    /// The request's consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

impl Evidence {
    /// The identity of a record: the same pair of notes and proof is kept
    /// once, whenever and however often it is replayed.
    fn id(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [&self.kind, &self.origin, &self.cosigned, &self.conflicting] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.update(self.old.to_be_bytes());
        for p in &self.proof {
            h.update(p.as_bytes());
        }
        h.finalize().into()
    }
}

/// What [`Store::add_evidence`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceOutcome {
    /// Stored (durably).
    Added,
    /// The identical record was already stored.
    Duplicate,
    /// Dropped: [`MAX_EVIDENCE`] records are stored.
    Full,
}

/// The witness's storage.
///
/// - [`Store::latest`] reads the current record.
/// - [`Store::compare_and_swap`] replaces the record for an origin only if
///   the stored one is still exactly `expected` (`None`: no record), as one
///   atomic step; on success the new record is durable (flushed) before it
///   returns, so a 200 is never answered for a state that a crash could
///   lose. On a lost race it returns [`StoreError::Conflict`] and changes
///   nothing; the caller re-checks against the new state. Records are never
///   deleted, so the stored size never goes back.
/// - [`Store::add_evidence`] is durable on return and de-duplicated.
pub trait Store: Send + Sync {
    /// The latest cosigned checkpoint for `origin`.
    fn latest(&self, origin: &Origin) -> Result<Option<Cosigned>, StoreError>;
    /// Atomically replaces `expected` by `new` and flushes (see the trait
    /// docs).
    fn compare_and_swap(
        &self,
        origin: &Origin,
        expected: Option<&Cosigned>,
        new: &Cosigned,
    ) -> Result<(), StoreError>;
    /// Stores an evidence record durably, once.
    fn add_evidence(&self, evidence: &Evidence) -> Result<EvidenceOutcome, StoreError>;
    /// Every evidence record, oldest first.
    fn evidence(&self) -> Result<Vec<Evidence>, StoreError>;
}

/// The sled store: tree `cosigned` (origin -> record), tree `evidence`
/// (sequence number -> JSON) and tree `evidence_ids` (id -> sequence).
pub struct SledStore {
    db: sled::Db,
    cosigned: sled::Tree,
    evidence: sled::Tree,
    evidence_ids: sled::Tree,
    // Serialises evidence inserts so the count check and the insert agree.
    evidence_lock: Mutex<()>,
    group: GroupCommit,
}

/// Group commit: callers whose writes are already applied wait for one
/// `flush` (one fsync) that started after their write, so concurrent
/// requests share fsyncs instead of queueing one each.
#[derive(Default)]
struct GroupCommit {
    state: Mutex<GroupState>,
    flushed_cv: Condvar,
}

#[derive(Default)]
struct GroupState {
    /// Tickets handed out (one per durable write).
    requested: u64,
    /// Every ticket up to this one is durable.
    flushed: u64,
    /// Whether a caller is flushing now.
    flushing: bool,
}

impl GroupCommit {
    /// Returns once a flush that started after this call's write is done.
    /// The caller's write is applied before it takes a ticket, and a flush
    /// covers every ticket handed out before it started, so the write is
    /// in that flush.
    fn durable(&self, db: &sled::Db) -> Result<(), StoreError> {
        let lock_err = |_| StoreError::Backend("group commit lock poisoned".to_owned());
        let mut s = self.state.lock().map_err(lock_err)?;
        s.requested += 1;
        let ticket = s.requested;
        loop {
            if s.flushed >= ticket {
                return Ok(());
            }
            if !s.flushing {
                s.flushing = true;
                let target = s.requested;
                drop(s);
                let result = db.flush();
                s = self.state.lock().map_err(lock_err)?;
                s.flushing = false;
                if result.is_ok() {
                    s.flushed = s.flushed.max(target);
                }
                self.flushed_cv.notify_all();
                // On failure the waiters retry the flush themselves.
                result.map_err(backend)?;
                continue;
            }
            s = self.flushed_cv.wait(s).map_err(lock_err)?;
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new().path(dir).open().map_err(backend)?;
        Ok(SledStore {
            cosigned: db.open_tree("cosigned").map_err(backend)?,
            evidence: db.open_tree("evidence").map_err(backend)?,
            evidence_ids: db.open_tree("evidence_ids").map_err(backend)?,
            db,
            evidence_lock: Mutex::new(()),
            group: GroupCommit::default(),
        })
    }

    /// Flushes everything (on shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(backend)
    }
}

impl Store for SledStore {
    fn latest(&self, origin: &Origin) -> Result<Option<Cosigned>, StoreError> {
        match self.cosigned.get(origin.as_str()).map_err(backend)? {
            Some(bytes) => Ok(Some(Cosigned::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn compare_and_swap(
        &self,
        origin: &Origin,
        expected: Option<&Cosigned>,
        new: &Cosigned,
    ) -> Result<(), StoreError> {
        let old = expected.map(Cosigned::encode);
        // sled compares the whole stored value, which includes the size:
        // stronger than comparing the size alone, and the retry on conflict
        // makes the difference invisible to clients.
        let swapped = self
            .cosigned
            .compare_and_swap(origin.as_str(), old, Some(new.encode()))
            .map_err(backend)?;
        if let Err(e) = swapped {
            let current = match e.current {
                Some(bytes) => Some(Cosigned::decode(&bytes)?.state.size),
                None => None,
            };
            return Err(StoreError::Conflict { current });
        }
        // Durable before the caller answers 200; concurrent commits share
        // one fsync.
        self.group.durable(&self.db)
    }

    fn add_evidence(&self, evidence: &Evidence) -> Result<EvidenceOutcome, StoreError> {
        let _guard = self
            .evidence_lock
            .lock()
            .map_err(|_| StoreError::Backend("evidence lock poisoned".to_owned()))?;
        let id = evidence.id();
        if self.evidence_ids.contains_key(id).map_err(backend)? {
            return Ok(EvidenceOutcome::Duplicate);
        }
        if self.evidence.len() >= MAX_EVIDENCE {
            return Ok(EvidenceOutcome::Full);
        }
        let seq = self.db.generate_id().map_err(backend)?;
        let json = serde_json::to_vec(evidence)
            .map_err(|e| StoreError::Backend(format!("encoding evidence: {e}")))?;
        self.evidence
            .insert(seq.to_be_bytes(), json)
            .map_err(backend)?;
        self.evidence_ids
            .insert(id, &seq.to_be_bytes())
            .map_err(backend)?;
        self.group.durable(&self.db)?;
        Ok(EvidenceOutcome::Added)
    }

    fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        self.evidence
            .iter()
            .map(|item| {
                let (_, json) = item.map_err(backend)?;
                serde_json::from_slice(&json).map_err(|_| StoreError::Corrupt("evidence record"))
            })
            .collect()
    }
}

/// An in-memory store for tests; [`MemoryStore::fail_writes`] makes every
/// write fail, to check that nothing is answered that was not stored.
#[derive(Default)]
pub struct MemoryStore {
    cosigned: Mutex<BTreeMap<Origin, Vec<u8>>>,
    evidence: Mutex<Vec<Evidence>>,
    fail: AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Makes writes fail (`true`) or succeed again (`false`).
    pub fn fail_writes(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check_fault(&self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected write failure".to_owned()));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn latest(&self, origin: &Origin) -> Result<Option<Cosigned>, StoreError> {
        let map = self.cosigned.lock().map_err(poisoned)?;
        map.get(origin).map(|b| Cosigned::decode(b)).transpose()
    }

    fn compare_and_swap(
        &self,
        origin: &Origin,
        expected: Option<&Cosigned>,
        new: &Cosigned,
    ) -> Result<(), StoreError> {
        let mut map = self.cosigned.lock().map_err(poisoned)?;
        let current = map.get(origin);
        if current.map(Vec::as_slice) != expected.map(Cosigned::encode).as_deref() {
            let current = current.map(|b| Cosigned::decode(b)).transpose()?;
            return Err(StoreError::Conflict {
                current: current.map(|c| c.state.size),
            });
        }
        self.check_fault()?;
        map.insert(origin.clone(), new.encode());
        Ok(())
    }

    fn add_evidence(&self, evidence: &Evidence) -> Result<EvidenceOutcome, StoreError> {
        let mut all = self.evidence.lock().map_err(poisoned)?;
        if all.iter().any(|e| e.id() == evidence.id()) {
            return Ok(EvidenceOutcome::Duplicate);
        }
        if all.len() >= MAX_EVIDENCE {
            return Ok(EvidenceOutcome::Full);
        }
        self.check_fault()?;
        all.push(evidence.clone());
        Ok(EvidenceOutcome::Added)
    }

    fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        Ok(self.evidence.lock().map_err(poisoned)?.clone())
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("store lock poisoned".to_owned())
}

#[cfg(test)]
mod tests {
    use claimlog::checkpoint::SignedCheckpoint;
    use claimlog::note::{KeyName, KeyType, SignerKey};

    use super::*;

    fn cosigned(size: u64, root: u8) -> Cosigned {
        let key = SignerKey::from_seed(
            KeyName::new("store.example/log").unwrap(),
            KeyType::Ed25519,
            [1; 32],
        )
        .unwrap();
        let cp = Checkpoint::new(
            Origin::new("store.example/log").unwrap(),
            size,
            Hash([root; 32]),
        );
        Cosigned::new(SignedCheckpoint::sign(&cp, &key).unwrap().note().clone()).unwrap()
    }

    fn evidence(n: u64) -> Evidence {
        Evidence {
            kind: "same-size-different-root".to_owned(),
            origin: "store.example/log".to_owned(),
            observed_at: n,
            cosigned: cosigned(n, 1).note().to_string(),
            conflicting: cosigned(n, 2).note().to_string(),
            old: n,
            proof: vec![],
        }
    }

    /// The conformance suite every [`Store`] passes.
    fn conformance(store: &dyn Store) {
        let origin = Origin::new("store.example/log").unwrap();
        let other = Origin::new("store.example/other").unwrap();
        assert_eq!(store.latest(&origin), Ok(None));
        let (c5, c8, c9) = (cosigned(5, 5), cosigned(8, 8), cosigned(9, 9));
        // A first record needs expected = None.
        assert_eq!(
            store.compare_and_swap(&origin, Some(&c5), &c8),
            Err(StoreError::Conflict { current: None })
        );
        store.compare_and_swap(&origin, None, &c5).unwrap();
        assert_eq!(store.latest(&origin), Ok(Some(c5.clone())));
        assert_eq!(store.latest(&other), Ok(None));
        // A second writer that checked against "no record" loses.
        assert_eq!(
            store.compare_and_swap(&origin, None, &c9),
            Err(StoreError::Conflict { current: Some(5) })
        );
        store.compare_and_swap(&origin, Some(&c5), &c8).unwrap();
        // A writer that checked against the old record loses too.
        assert_eq!(
            store.compare_and_swap(&origin, Some(&c5), &c9),
            Err(StoreError::Conflict { current: Some(8) })
        );
        assert_eq!(store.latest(&origin), Ok(Some(c8)));
        // Evidence: stored once, in order.
        assert_eq!(store.add_evidence(&evidence(1)), Ok(EvidenceOutcome::Added));
        assert_eq!(store.add_evidence(&evidence(2)), Ok(EvidenceOutcome::Added));
        assert_eq!(
            store.add_evidence(&evidence(1)),
            Ok(EvidenceOutcome::Duplicate)
        );
        assert_eq!(store.evidence(), Ok(vec![evidence(1), evidence(2)]));
    }

    #[test]
    fn memory_store_conformance() {
        conformance(&MemoryStore::new());
    }

    #[test]
    fn sled_store_conformance_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            conformance(&store);
        }
        let store = SledStore::open(dir.path()).unwrap();
        let origin = Origin::new("store.example/log").unwrap();
        assert_eq!(store.latest(&origin).unwrap().unwrap().state().size, 8);
        assert_eq!(store.evidence().unwrap().len(), 2);
    }

    #[test]
    fn memory_store_injected_failure_changes_nothing() {
        let store = MemoryStore::new();
        let origin = Origin::new("store.example/log").unwrap();
        store.fail_writes(true);
        assert!(matches!(
            store.compare_and_swap(&origin, None, &cosigned(1, 1)),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            store.add_evidence(&evidence(1)),
            Err(StoreError::Backend(_))
        ));
        assert_eq!(store.latest(&origin), Ok(None));
        store.fail_writes(false);
        store
            .compare_and_swap(&origin, None, &cosigned(1, 1))
            .unwrap();
    }

    #[test]
    fn corrupt_records_are_errors() {
        assert!(Cosigned::decode(&[0; 39]).is_err());
        let mut bytes = cosigned(5, 5).encode();
        bytes[7] = 6;
        assert_eq!(
            Cosigned::decode(&bytes),
            Err(StoreError::Corrupt("header does not match the note"))
        );
        bytes.truncate(60);
        assert!(Cosigned::decode(&bytes).is_err());
    }
}
