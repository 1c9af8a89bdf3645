//! The parallel half of applying entries: parsing each entry and its
//! statement, and verifying the signatures whose keys can be found without
//! knowing the order of entries. Threads share it; the rules that depend on
//! order run in [`super::MonitorState`] on the calling thread, in index order,
//! while the other threads prepare the entries that follow (a pipeline: the
//! ordered part no longer waits for the whole batch to be parsed).
//!
//! A signature is verified here against the key its keyid names, found in the
//! state's [`KeyCache`] (keys bound before the batch) or among the keys of the
//! key bindings already parsed in this batch; the result is recorded with the
//! public key it was checked against. Whether that key was bound to the issuer
//! at the entry's index is decided later, in order, by the claim rules
//! (`crate::claim::verified_signers`), which use a recorded result only if it
//! was checked against exactly the bound key, and verify afresh otherwise.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, RwLock};

use ed25519_dalek::Signature;

use super::event::ViolationKind;
use crate::claim::{
    BoundKey, ParsedStatement, Predicate, PublicKey, Sha256Digest, Timestamp, parse_and_validate,
};
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::ed25519::PreparedKey;
use crate::entry::LogEntry;
use crate::merkle::{Hash, leaf_hash};

/// Entries per unit of work handed to a thread: small enough that the
/// ordered part starts early and threads finish together, large enough that
/// handing out work costs nothing next to parsing and verifying.
const BLOCK: usize = 32;

/// Prepared Ed25519 public keys ([`PreparedKey`]) by keyid, so that a
/// signer's key is decompressed (a square root in the field) once, not on
/// every signature.
///
/// The cache only saves work: a lookup names the exact public key bytes it
/// wants and gets a cached key only if its bytes are those, so a cache entry
/// can never make a signature verify under a key other than the one asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyCache {
    keys: HashMap<Sha256Digest, PreparedKey>,
}

impl KeyCache {
    /// Caches `key` under `keyid` if it is a valid point, replacing whatever
    /// the keyid held. Keys that do not decompress are not cached (every
    /// signature checked against them fails, as [`PreparedKey::from_bytes`]
    /// fails).
    pub(crate) fn insert(&mut self, keyid: Sha256Digest, key: &PublicKey) {
        if self
            .keys
            .get(&keyid)
            .is_some_and(|k| k.as_bytes() == &key.0)
        {
            return;
        }
        if let Ok(k) = PreparedKey::from_bytes(&key.0) {
            self.keys.insert(keyid, k);
        }
    }

    /// Caches an already prepared key under `keyid`.
    pub(crate) fn insert_decompressed(&mut self, keyid: Sha256Digest, key: PreparedKey) {
        self.keys.insert(keyid, key);
    }

    /// The cached key for `keyid`, whatever its bytes.
    pub(crate) fn get(&self, keyid: &Sha256Digest) -> Option<&PreparedKey> {
        self.keys.get(keyid)
    }

    /// How many keys are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether `sig` verifies (Ed25519 `verify_strict`) over `pae` with
    /// exactly `key`: the cached form when the cache holds these bytes under
    /// `keyid`, else `key` decompressed now. Same result as
    /// `crate::claim::verify_signature`.
    pub(crate) fn verify(
        &self,
        pae: &[u8],
        sig: &Signature,
        keyid: &Sha256Digest,
        key: &PublicKey,
    ) -> bool {
        match self.keys.get(keyid) {
            Some(k) if k.as_bytes() == &key.0 => k.verify_strict(pae, sig),
            _ => PreparedKey::from_bytes(&key.0).is_ok_and(|k| k.verify_strict(pae, sig)),
        }
    }
}

/// One entry after the order-independent checks.
pub(crate) struct PreparedEntry {
    /// Its index in the log.
    pub index: u64,
    /// Its Merkle leaf hash.
    pub leaf: Hash,
    /// The log's integration time, if the entry framing parsed.
    pub integrated_time: Option<u64>,
    /// The parsed entry, or the violation that makes it unusable.
    pub outcome: Result<Prepared, (ViolationKind, String)>,
}

/// A signature verified ahead of the rules, and the key it was checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignatureCheck {
    /// The public key the signature was checked against.
    pub public_key: PublicKey,
    /// Whether it verified.
    pub verified: bool,
}

/// A well-formed entry holding a valid statement.
pub(crate) struct Prepared {
    /// The envelope.
    pub envelope: Envelope,
    /// The statement, parsed and validated.
    pub statement: ParsedStatement,
    /// The integration time.
    pub at: Timestamp,
    /// Per signature: the check made ahead, if the keyid named a key found
    /// then (see the module doc).
    pub signatures: Vec<Option<SignatureCheck>>,
    /// For a key binding: its keys that are valid points, prepared.
    pub bound_keys: Vec<(Sha256Digest, PreparedKey)>,
}

/// Whether signature `index` of `envelope` verifies with `key`, bound to the
/// signer at the entry's index: `checks[index]` (the check made ahead) if it
/// was made against exactly this key, else a check now (through `cache`).
/// This is the `verify` argument of `crate::claim::verified_signers`.
pub(crate) fn signature_verifies(
    envelope: &Envelope,
    checks: &[Option<SignatureCheck>],
    cache: &KeyCache,
    index: usize,
    key: &BoundKey,
) -> bool {
    match checks.get(index) {
        Some(Some(c)) if c.public_key == key.public_key => c.verified,
        _ => envelope
            .signatures()
            .get(index)
            .is_some_and(|sig| cache.verify(envelope.pae(), &sig.sig, &key.keyid, &key.public_key)),
    }
}

/// What the threads share while preparing one batch.
struct Batch<'a, E> {
    first: u64,
    entries: &'a [E],
    /// Keys bound before the batch.
    cache: &'a KeyCache,
    /// Keys of the key bindings parsed so far in this batch (not yet known to
    /// be accepted: only used to check signatures ahead, see the module doc).
    fresh: RwLock<HashMap<Sha256Digest, PreparedKey>>,
    /// The next block no thread has taken.
    next_block: AtomicUsize,
    /// Set when the ordered part stopped early: nobody wants more blocks.
    stop: AtomicBool,
    /// Prepared blocks not yet consumed, by block number; a panic in a thread
    /// is carried to the caller.
    done: Mutex<Vec<Option<std::thread::Result<Vec<PreparedEntry>>>>>,
    /// Signalled when a block is done.
    ready: Condvar,
}

impl<E: AsRef<[u8]> + Sync> Batch<'_, E> {
    fn blocks(&self) -> usize {
        self.entries.len().div_ceil(BLOCK)
    }

    /// Takes the next block nobody has taken, if any is left.
    fn take(&self) -> Option<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let b = self.next_block.fetch_add(1, Ordering::Relaxed);
        (b < self.blocks()).then_some(b)
    }

    fn prepare_block(&self, b: usize) -> std::thread::Result<Vec<PreparedEntry>> {
        catch_unwind(AssertUnwindSafe(|| {
            let start = b * BLOCK;
            let end = (start + BLOCK).min(self.entries.len());
            (start..end)
                .map(|i| self.prepare(self.first + i as u64, self.entries[i].as_ref()))
                .collect()
        }))
    }

    fn finish(&self, b: usize, block: std::thread::Result<Vec<PreparedEntry>>) {
        // No code panics while holding the lock, so poisoning cannot happen;
        // recovering the guard is still correct if it did.
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        done[b] = Some(block);
        self.ready.notify_all();
    }

    /// A helper thread: prepares blocks until none is left.
    fn work(&self) {
        while let Some(b) = self.take() {
            let block = self.prepare_block(b);
            self.finish(b, block);
        }
    }

    /// Block `b`, in order: taken if done, else prepared here if some block
    /// is still free (this thread helps rather than waits), else waited for.
    fn wait_for(&self, b: usize) -> Vec<PreparedEntry> {
        loop {
            {
                let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(block) = done[b].take() {
                    return block.unwrap_or_else(|p| resume_unwind(p));
                }
                if self.next_block.load(Ordering::Relaxed) >= self.blocks() {
                    // Every block is taken and `b` is not done: wait for it.
                    while done[b].is_none() {
                        done = self
                            .ready
                            .wait(done)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    continue;
                }
            }
            if let Some(c) = self.take() {
                let block = self.prepare_block(c);
                if c == b {
                    return block.unwrap_or_else(|p| resume_unwind(p));
                }
                self.finish(c, block);
            }
        }
    }

    /// The order-independent checks of one entry: the entry framing, the DSSE
    /// envelope, the payload type, the statement's strict parse and
    /// validation, the integration time as a timestamp, and the signatures
    /// whose keys are found (see the module doc).
    fn prepare(&self, index: u64, bytes: &[u8]) -> PreparedEntry {
        let leaf = leaf_hash(bytes);
        let entry = match LogEntry::parse(bytes) {
            Ok(e) => e,
            Err(e) => {
                return PreparedEntry {
                    index,
                    leaf,
                    integrated_time: None,
                    outcome: Err((ViolationKind::Entry, e.to_string())),
                };
            }
        };
        let integrated_time = Some(entry.integrated_time);
        let outcome = (|| {
            entry
                .envelope
                .require_payload_type(PAYLOAD_TYPE_IN_TOTO)
                .map_err(|e| (ViolationKind::Entry, e.to_string()))?;
            let at = i64::try_from(entry.integrated_time)
                .ok()
                .and_then(Timestamp::from_unix)
                .ok_or((
                    ViolationKind::Time,
                    "integratedTime is out of range".to_owned(),
                ))?;
            let statement = parse_and_validate(entry.envelope.payload())
                .map_err(|e| (ViolationKind::of(&e), e.to_string()))?;
            let mut prepared = Prepared {
                envelope: entry.envelope,
                statement,
                at,
                signatures: Vec::new(),
                bound_keys: Vec::new(),
            };
            self.check_signatures(&mut prepared);
            Ok(prepared)
        })();
        PreparedEntry {
            index,
            leaf,
            integrated_time,
            outcome,
        }
    }

    /// Verifies ahead each signature whose keyid names a key found now: for a
    /// key binding, one of its own root keys (the only keys its signatures are
    /// checked against); for a claim, a key bound before the batch or by a key
    /// binding parsed earlier in it.
    fn check_signatures(&self, p: &mut Prepared) {
        if let Predicate::KeyBinding(kb) = &p.statement.predicate {
            p.bound_keys = kb
                .root_keys
                .iter()
                .chain(&kb.signing_keys)
                .filter_map(|k| Some((k.keyid, PreparedKey::from_bytes(&k.public_key.0).ok()?)))
                .collect();
            if !p.bound_keys.is_empty() {
                let mut fresh = self.fresh.write().unwrap_or_else(PoisonError::into_inner);
                for (keyid, key) in &p.bound_keys {
                    fresh.entry(*keyid).or_insert(*key);
                }
            }
        }
        let sigs = p.envelope.signatures();
        let mut checks = Vec::with_capacity(sigs.len());
        for sig in sigs {
            let Ok(keyid) = Sha256Digest::parse(&sig.keyid) else {
                checks.push(None);
                continue;
            };
            let key = match &p.statement.predicate {
                Predicate::KeyBinding(kb) => kb
                    .root_keys
                    .iter()
                    .any(|k| k.keyid == keyid)
                    .then(|| p.bound_keys.iter().find(|(id, _)| *id == keyid))
                    .flatten()
                    .map(|(_, k)| *k),
                Predicate::DataHandling(_) => self.cache.get(&keyid).copied().or_else(|| {
                    self.fresh
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&keyid)
                        .copied()
                }),
            };
            checks.push(key.map(|k| SignatureCheck {
                public_key: PublicKey(*k.as_bytes()),
                verified: k.verify_strict(p.envelope.pae(), &sig.sig),
            }));
        }
        p.signatures = checks;
    }
}

/// Prepares `entries` (indexes from `first`) on `threads` threads (at least
/// 1, the calling thread included) and hands each to `consume` in index
/// order on the calling thread, as soon as it and those before it are ready.
/// Stops at the first error `consume` returns. `cache` holds the keys bound
/// before the batch.
pub(crate) fn prepare_in_order<E, F, X>(
    first: u64,
    entries: &[E],
    cache: &KeyCache,
    threads: usize,
    mut consume: F,
) -> Result<(), X>
where
    E: AsRef<[u8]> + Sync,
    F: FnMut(PreparedEntry) -> Result<(), X>,
{
    let batch = Batch {
        first,
        entries,
        cache,
        fresh: RwLock::new(HashMap::new()),
        next_block: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        done: Mutex::new((0..entries.len().div_ceil(BLOCK)).map(|_| None).collect()),
        ready: Condvar::new(),
    };
    let batch = &batch;
    let helpers = threads.max(1).min(batch.blocks()).saturating_sub(1);
    std::thread::scope(|s| {
        for _ in 0..helpers {
            s.spawn(move || batch.work());
        }
        let result = (|| {
            for b in 0..batch.blocks() {
                for p in batch.wait_for(b) {
                    consume(p)?;
                }
            }
            Ok(())
        })();
        batch.stop.store(true, Ordering::Relaxed);
        result
    })
}
