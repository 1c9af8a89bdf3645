//! Series and key-binding heads kept parsed in memory, so that admitting the
//! next version neither re-reads and re-parses the head's 3-4 KiB statement
//! nor decompresses its bound keys on every submission.
//!
//! In scope: the cache ([`HeadCache`]) and a key-binding head with its keys
//! decompressed ([`BoundKeys`]). Out of scope: which head a submission needs
//! (the index records, [`super::index`]) and the rules themselves
//! (`crate::claim`).
//!
//! Soundness. An entry is keyed by the index record's `(logIndex,
//! statementSha256)`: the record and the entry are written in one atomic
//! batch, so the pair names the exact statement bytes, even if a failed
//! batch's index is later reused by another entry (whose record carries its
//! own digest). A value is either parsed from those bytes or is the parsed
//! statement the log admitted as that entry (inserted by the integration
//! check, [`HeadCache::replace`]); parsing is deterministic, so both are the
//! same value. A cached key therefore only ever serves the binding, and so
//! the domain, whose head record names it; revocations and validity windows
//! are still applied to that binding at integration time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use ed25519_dalek::VerifyingKey;

use super::index::{VersionRecord, load_statement};
use crate::claim::{
    BoundKey, ClaimError, KeyBindingHead, Predicate, SeriesHead, Sha256Digest, verified_signers,
    verify_signature_with,
};
use crate::dsse::Envelope;
use crate::server::store::StoreError;

/// How many heads a [`HeadCache`] keeps by default: every live head of a log
/// with a few thousand series and vendors (each head replaces the one it
/// supersedes, so stale heads do not accumulate).
pub const HEAD_CACHE_ENTRIES: usize = 8192;

/// A domain's key-binding head with every bound key decompressed once.
#[derive(Debug)]
pub struct BoundKeys {
    head: KeyBindingHead,
    /// `(keyid, key)` for every root and signing key of `head`; `None` where
    /// the bytes are not a valid point (such a key verifies nothing, as with
    /// [`crate::claim::verify_signature`]).
    decompressed: Vec<(Sha256Digest, Option<VerifyingKey>)>,
}

impl BoundKeys {
    /// Decompresses the keys of `head`.
    pub fn new(head: KeyBindingHead) -> BoundKeys {
        let binding = &head.binding;
        let decompressed = binding
            .root_keys
            .iter()
            .chain(&binding.signing_keys)
            .map(|k| (k.keyid, VerifyingKey::from_bytes(&k.public_key.0).ok()))
            .collect();
        BoundKeys { head, decompressed }
    }

    /// The head.
    pub fn head(&self) -> &KeyBindingHead {
        &self.head
    }

    /// The decompressed form of `key`, if `key` is bound by this head (same
    /// keyid and same public key bytes) and is a valid point.
    pub fn verifying_key(&self, key: &BoundKey) -> Option<&VerifyingKey> {
        self.decompressed
            .iter()
            .find(|(keyid, _)| *keyid == key.keyid)
            .and_then(|(_, vk)| vk.as_ref())
            .filter(|vk| vk.as_bytes() == &key.public_key.0)
    }

    /// [`verified_signers`] of `envelope` among the head's signing keys (the
    /// keys that may sign data-handling claims), with the decompressed keys.
    pub fn verified_claim_signers(
        &self,
        envelope: &Envelope,
    ) -> Result<Vec<Sha256Digest>, ClaimError> {
        verified_signers(envelope, &self.head.binding.signing_keys, |j, key| {
            self.verifying_key(key)
                .is_some_and(|vk| verify_signature_with(envelope, j, vk))
        })
    }
}

/// A cached head.
#[derive(Debug, Clone)]
pub enum CachedHead {
    /// A key-binding head.
    Keys(Arc<BoundKeys>),
    /// A data-handling series head.
    Series(Arc<SeriesHead>),
}

/// Parsed heads by `(logIndex, statementSha256)` (see the module doc for why
/// the pair is a sound key). Bounded; thread-safe.
#[derive(Debug)]
pub struct HeadCache {
    map: Mutex<HashMap<(u64, Sha256Digest), CachedHead>>,
    capacity: usize,
}

impl Default for HeadCache {
    fn default() -> Self {
        HeadCache::with_capacity(HEAD_CACHE_ENTRIES)
    }
}

impl HeadCache {
    /// An empty cache of [`HEAD_CACHE_ENTRIES`].
    pub fn new() -> HeadCache {
        HeadCache::default()
    }

    /// An empty cache keeping at most `capacity` heads (at least one).
    pub fn with_capacity(capacity: usize) -> HeadCache {
        HeadCache {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The key-binding head `record` points at: from the cache, or read
    /// through `entry`, parsed, checked against the record's digest, its keys
    /// decompressed, and cached. A record pointing at anything but a key
    /// binding means the store is corrupt.
    pub fn key_head(
        &self,
        record: &VersionRecord,
        entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<Arc<BoundKeys>, StoreError> {
        match self.load(record, entry)? {
            CachedHead::Keys(keys) => Ok(keys),
            CachedHead::Series(_) => Err(corrupt(record, "a key-binding head", "data-handling")),
        }
    }

    /// The data-handling series head `record` points at, as
    /// [`HeadCache::key_head`] does for key bindings.
    pub fn series_head(
        &self,
        record: &VersionRecord,
        entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<Arc<SeriesHead>, StoreError> {
        match self.load(record, entry)? {
            CachedHead::Series(head) => Ok(head),
            CachedHead::Keys(_) => Err(corrupt(record, "a series head", "key-binding")),
        }
    }

    /// Caches `head`, the statement just admitted as entry `at`, and drops
    /// `superseded` (the head it replaces), which no admission needs again.
    pub fn replace(
        &self,
        superseded: Option<(u64, Sha256Digest)>,
        at: (u64, Sha256Digest),
        head: CachedHead,
    ) {
        let mut map = self.lock();
        if let Some(old) = superseded {
            map.remove(&old);
        }
        self.insert(&mut map, at, head);
    }

    /// Heads cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn load(
        &self,
        record: &VersionRecord,
        entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<CachedHead, StoreError> {
        let key = (record.log_index, record.statement_sha256);
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.clone());
        }
        // Parsed outside the lock: admissions of other series go on meanwhile.
        let (_, parsed) = load_statement(record.log_index, entry)?;
        if parsed.statement_sha256 != record.statement_sha256 {
            return Err(StoreError::Corrupt(format!(
                "indexed entry {} has statement {}, its index record says {}",
                record.log_index, parsed.statement_sha256, record.statement_sha256
            )));
        }
        let head = match parsed.predicate {
            Predicate::KeyBinding(binding) => CachedHead::Keys(Arc::new(BoundKeys::new(
                KeyBindingHead {
                    log_index: record.log_index,
                    statement_sha256: record.statement_sha256,
                    binding,
                },
            ))),
            Predicate::DataHandling(predicate) => CachedHead::Series(Arc::new(SeriesHead {
                log_index: record.log_index,
                statement_sha256: record.statement_sha256,
                predicate,
            })),
        };
        self.insert(&mut self.lock(), key, head.clone());
        Ok(head)
    }

    fn insert(
        &self,
        map: &mut HashMap<(u64, Sha256Digest), CachedHead>,
        key: (u64, Sha256Digest),
        head: CachedHead,
    ) {
        if map.len() >= self.capacity && !map.contains_key(&key) {
            // Bounded: evict one arbitrary head (a head in active use comes
            // back on its next read).
            if let Some(victim) = map.keys().next().copied() {
                map.remove(&victim);
            }
        }
        map.insert(key, head);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(u64, Sha256Digest), CachedHead>> {
        // Values are immutable parsed heads; a poisoned lock cannot leave the
        // map inconsistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn corrupt(record: &VersionRecord, wanted: &str, found: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "entry {} is indexed as {wanted} but is a {found} statement",
        record.log_index
    ))
}
