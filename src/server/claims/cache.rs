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

use super::index::{VersionRecord, load_statement};
use crate::claim::{
    BoundKey, ClaimError, KeyBindingHead, Predicate, SeriesHead, Sha256Digest, verified_signers,
    verify_signature_with,
};
use crate::dsse::Envelope;
use crate::ed25519::PreparedKey;
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
    decompressed: Vec<(Sha256Digest, Option<PreparedKey>)>,
}

impl BoundKeys {
    /// Decompresses the keys of `head`.
    pub fn new(head: KeyBindingHead) -> BoundKeys {
        let binding = &head.binding;
        let decompressed = binding
            .root_keys
            .iter()
            .chain(&binding.signing_keys)
            .map(|k| (k.keyid, PreparedKey::from_bytes(&k.public_key.0).ok()))
            .collect();
        BoundKeys { head, decompressed }
    }

    /// The head.
    pub fn head(&self) -> &KeyBindingHead {
        &self.head
    }

    /// The decompressed form of `key`, if `key` is bound by this head (same
    /// keyid and same public key bytes) and is a valid point.
    pub fn verifying_key(&self, key: &BoundKey) -> Option<&PreparedKey> {
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
            Predicate::KeyBinding(binding) => {
                CachedHead::Keys(Arc::new(BoundKeys::new(KeyBindingHead {
                    log_index: record.log_index,
                    statement_sha256: record.statement_sha256,
                    binding,
                })))
            }
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::claim::{ClaimError, Domain, KeyBinding, Timestamp, authorize_claim_signers};
    use crate::dsse::{EnvelopeSignature, PAYLOAD_TYPE_IN_TOTO};
    use crate::server::entry::LogEntry;

    const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");

    fn example(name: &str) -> Vec<u8> {
        std::fs::read(format!("{EXAMPLES}{name}")).unwrap()
    }

    fn key(name: &str) -> SigningKey {
        let keys: serde_json::Value = serde_json::from_slice(&example("test-keys.json")).unwrap();
        let seed = hex::decode(keys["keys"][name]["seedHex"].as_str().unwrap()).unwrap();
        SigningKey::from_bytes(&seed.try_into().unwrap())
    }

    fn binding(name: &str) -> KeyBinding {
        match crate::claim::parse_statement(&example(name))
            .unwrap()
            .predicate
        {
            Predicate::KeyBinding(kb) => kb,
            Predicate::DataHandling(_) => panic!("{name} is not a key binding"),
        }
    }

    fn bound(name: &str, log_index: u64) -> BoundKeys {
        BoundKeys::new(KeyBindingHead {
            log_index,
            statement_sha256: Sha256Digest::of(&example(name)),
            binding: binding(name),
        })
    }

    /// A log entry holding `payload`, and the version record naming it at
    /// index `n`.
    fn logged(payload: &[u8], n: u64) -> (Vec<u8>, VersionRecord) {
        let signer = SigningKey::from_bytes(&[9; 32]);
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload, &signer).to_canonical_json();
        let entry = LogEntry::encode(&env, 1_750_000_000).unwrap();
        let record = VersionRecord {
            log_index: n,
            sequence: 1,
            statement_sha256: Sha256Digest::of(payload),
            integrated_time: 1_750_000_000,
        };
        (entry, record)
    }

    fn claim_envelope(signers: &[&SigningKey]) -> Envelope {
        let payload = example("data-handling-1.json");
        let mut sigs: Vec<EnvelopeSignature> = Vec::new();
        for k in signers {
            sigs.extend(
                Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, k)
                    .signatures()
                    .iter()
                    .cloned(),
            );
        }
        envelope_with(&payload, &sigs)
    }

    fn envelope_with(payload: &[u8], sigs: &[EnvelopeSignature]) -> Envelope {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let sigs: Vec<serde_json::Value> = sigs
            .iter()
            .map(|s| serde_json::json!({"keyid": s.keyid, "sig": b64.encode(s.sig.to_bytes())}))
            .collect();
        let json = serde_json::json!({
            "payload": b64.encode(payload),
            "payloadType": PAYLOAD_TYPE_IN_TOTO,
            "signatures": sigs,
        });
        Envelope::parse(&serde_json::to_vec(&json).unwrap()).unwrap()
    }

    fn keyid(k: &SigningKey) -> Sha256Digest {
        Sha256Digest::of(k.verifying_key().as_bytes())
    }

    #[test]
    fn cached_keys_verify_only_what_their_binding_binds() {
        let keys = bound("key-binding-1-enroll.json", 0);
        let (signing1, root1) = (key("signing1"), key("root1"));
        // A claim signed by the bound signing key verifies.
        assert_eq!(
            keys.verified_claim_signers(&claim_envelope(&[&signing1])),
            Ok(vec![keyid(&signing1)])
        );
        // The root key is bound, but not as a claim signer: its signature is
        // ignored, not verified.
        assert_eq!(
            keys.verified_claim_signers(&claim_envelope(&[&root1])),
            Ok(vec![])
        );
        // A key of another domain's binding (signing2 is first bound by the
        // rotation, not by the enrollment) verifies nothing here.
        let signing2 = key("signing2");
        assert_eq!(
            keys.verified_claim_signers(&claim_envelope(&[&signing2])),
            Ok(vec![])
        );
        assert_eq!(
            bound("key-binding-2-rotate.json", 3)
                .verified_claim_signers(&claim_envelope(&[&signing2])),
            Ok(vec![keyid(&signing2)])
        );
        // A key naming a bound keyid with other key bytes gets no cached key.
        let mut impostor = keys.head().binding.signing_keys[0].clone();
        impostor.public_key = crate::claim::PublicKey(*signing2.verifying_key().as_bytes());
        assert!(keys.verifying_key(&impostor).is_none());
        assert!(
            keys.verifying_key(&keys.head().binding.signing_keys[0])
                .is_some()
        );
        // A forged signature under the bound keyid is refused outright.
        let mut forged = claim_envelope(&[&signing1]).signatures()[0].clone();
        forged.sig = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"other", &signing1).signatures()[0].sig;
        let env = envelope_with(&example("data-handling-1.json"), &[forged]);
        assert!(matches!(
            keys.verified_claim_signers(&env),
            Err(ClaimError::SignatureInvalid { index: 0, .. })
        ));
    }

    #[test]
    fn revocation_applies_to_a_cached_key() {
        // The revoking binding still lists signing1 (bindings are
        // append-only), so its signature verifies; the integration-time rule
        // refuses it from the compromise on, and accepts it before.
        let keys = bound("key-binding-3-revoke.json", 9);
        let signing1 = key("signing1");
        let verified = keys
            .verified_claim_signers(&claim_envelope(&[&signing1]))
            .unwrap();
        assert_eq!(verified, vec![keyid(&signing1)]);
        let domain = Domain::parse("chat.example").unwrap();
        let binding = &keys.head().binding;
        let after = Timestamp::parse("2026-03-01T09:00:00Z").unwrap();
        assert!(matches!(
            authorize_claim_signers(Some(binding), &domain, &verified, after),
            Err(ClaimError::KeyRevoked { .. })
        ));
        let before = Timestamp::parse("2025-06-01T09:00:00Z").unwrap();
        assert_eq!(
            authorize_claim_signers(Some(binding), &domain, &verified, before),
            Ok(())
        );
        // And never for another domain.
        let other = Domain::parse("other.example").unwrap();
        assert!(matches!(
            authorize_claim_signers(Some(binding), &other, &verified, before),
            Err(ClaimError::KeyNotBound { .. })
        ));
    }

    #[test]
    fn head_cache_hits_checks_the_digest_and_stays_bounded() {
        let cache = HeadCache::with_capacity(16);
        let (entry, record) = logged(&example("key-binding-1-enroll.json"), 5);
        let reads = Cell::new(0);
        let read = |i: u64| {
            assert_eq!(i, 5);
            reads.set(reads.get() + 1);
            Ok(Some(entry.clone()))
        };
        let first = cache.key_head(&record, read).unwrap();
        let second = cache.key_head(&record, read).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(reads.get(), 1, "the second load is a hit");
        assert_eq!(first.head().log_index, 5);
        assert_eq!(first.head().statement_sha256, record.statement_sha256);

        // Same index, another digest (a failed batch's index reused): never
        // served from the cache; the entry is read and must match.
        let other = VersionRecord {
            statement_sha256: Sha256Digest::of(b"another statement"),
            ..record.clone()
        };
        assert!(matches!(
            cache.key_head(&other, |_| Ok(Some(entry.clone()))),
            Err(StoreError::Corrupt(_))
        ));
        // Same digest, another index: read too.
        let moved = VersionRecord {
            log_index: 6,
            ..record.clone()
        };
        assert!(matches!(
            cache.key_head(&moved, |_| Ok(None)),
            Err(StoreError::Corrupt(_))
        ));
        // A record of the wrong kind is corruption, cached or not.
        assert!(matches!(
            cache.series_head(&record, |_| Ok(Some(entry.clone()))),
            Err(StoreError::Corrupt(_))
        ));
        let (dh_entry, dh_record) = logged(&example("data-handling-1.json"), 7);
        let series = cache
            .series_head(&dh_record, |_| Ok(Some(dh_entry.clone())))
            .unwrap();
        assert_eq!(series.log_index, 7);
        assert!(matches!(
            cache.key_head(&dh_record, |_| Ok(None)),
            Err(StoreError::Corrupt(_))
        ));

        for n in 0..40 {
            let r = VersionRecord {
                log_index: 100 + n,
                ..record.clone()
            };
            cache.key_head(&r, |_| Ok(Some(entry.clone()))).unwrap();
        }
        assert_eq!(cache.len(), 16);
    }

    #[test]
    fn an_admitted_head_replaces_the_one_it_supersedes() {
        let cache = HeadCache::new();
        let (entry, record) = logged(&example("key-binding-1-enroll.json"), 0);
        cache
            .key_head(&record, |_| Ok(Some(entry.clone())))
            .unwrap();
        assert_eq!(cache.len(), 1);
        let next = bound("key-binding-2-rotate.json", 4);
        let at = (4, next.head().statement_sha256);
        cache.replace(
            Some((0, record.statement_sha256)),
            at,
            CachedHead::Keys(Arc::new(next)),
        );
        assert_eq!(cache.len(), 1, "the superseded head is gone");
        let record = VersionRecord {
            log_index: 4,
            sequence: 2,
            statement_sha256: at.1,
            integrated_time: 0,
        };
        let hit = cache
            .key_head(&record, |_| panic!("a hit reads nothing"))
            .unwrap();
        assert_eq!(hit.head().binding.sequence, 2);
    }
}
