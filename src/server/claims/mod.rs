//! Domain admission (spec/claim.md §5-6, spec/vendor.md): the log accepts
//! only claimlog statements, signed by keys the issuer's domain bound, that
//! continue their series; and it keeps the indexes that answer the vendor and
//! claim API ([`api`]).
//!
//! Admission runs in two stages:
//! 1. at submission ([`ClaimAdmission::admit`], async, before the pool):
//!    strict parsing and validation of the payload, signature verification
//!    against the keys the statement can be signed with, and for an
//!    enrollment the fetch of the domain's well-known document. These do not
//!    depend on the log's order, or only on append-only state (a bound key's
//!    public key never changes), so checking them early is sound;
//! 2. at integration ([`ClaimCheck`], a [`CommitCheck`] run inside the
//!    sequencer's commit with the integration time): everything that depends
//!    on the series head and on time: continuity, `issuedAt` skew, the notice
//!    rule, the signer's validity and revocation, root rotation signatures.
//!    The head is read from the store plus the batch being built, so of two
//!    racing versions of a series exactly one is appended and the other gets
//!    409 with the head that won.
//!
//! Out of scope: the pure rules themselves (`crate::claim`), the HTTP framing
//! (`crate::server::http`).

pub mod api;
pub mod cache;
pub mod index;
pub mod wellknown;

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::claim::{
    BoundKey, ClaimError, DataHandling, KeyBinding, KeyBindingHead, ParsedStatement, Predicate,
    SeriesHead, SeriesPolicy, Sha256Digest, Timestamp, authorize_claim_signers,
    check_key_binding_series, check_root_signatures, check_series, parse_and_validate,
    verified_signers, verify_signature,
};
use crate::dsse::Envelope;
use crate::server::sequencer::{BatchView, CommitCheck, Rejection};
use crate::server::store::{IndexRecord, Store, StoreError};
use cache::{BoundKeys, CachedHead, HeadCache};
use index::{StatementRecord, VersionRecord};
use wellknown::WellKnownClient;

/// The domain admission policy and the well-known client.
#[derive(Debug)]
pub struct ClaimAdmission {
    policy: SeriesPolicy,
    well_known: WellKnownClient,
    /// Parsed heads, shared with the integration-time checks.
    cache: Arc<HeadCache>,
}

impl ClaimAdmission {
    /// Admission with these series rules' parameters and well-known client.
    pub fn new(policy: SeriesPolicy, well_known: WellKnownClient) -> ClaimAdmission {
        ClaimAdmission {
            policy,
            well_known,
            cache: Arc::new(HeadCache::new()),
        }
    }

    /// Submission-time checks of `envelope` (stage 1 in the module doc).
    /// Returns the integration-time check to queue with it, or why it is
    /// refused (status and one-line reason).
    pub async fn admit(
        &self,
        store: &dyn Store,
        envelope: &Envelope,
    ) -> Result<Box<dyn CommitCheck>, Rejection> {
        let parsed = parse_and_validate(envelope.payload()).map_err(claim_rejection)?;
        let (verified, enrollment_confirmed) = match &parsed.predicate {
            Predicate::KeyBinding(kb) => {
                // A valid next version lists every key of the head again
                // (append-only), so its own root keys are all the keys that
                // can be required to sign it.
                let verified = verify_signatures(envelope, &kb.root_keys)?;
                let enrolled = store
                    .index_get(&index::key_head_key(&kb.domain))
                    .map_err(internal)?
                    .is_some();
                let confirmed = !enrolled && kb.sequence == 1;
                if confirmed {
                    self.confirm_enrollment(kb).await?;
                }
                (verified, confirmed)
            }
            Predicate::DataHandling(dh) => {
                let domain = &dh.issuer.domain;
                let first_keyid = envelope
                    .signatures()
                    .first()
                    .map_or_else(String::new, |s| s.keyid.clone());
                let not_bound = || {
                    claim_rejection(ClaimError::KeyNotBound {
                        keyid: first_keyid.clone(),
                        domain: domain.to_string(),
                    })
                };
                let Some(keys) = cached_key_head(
                    |k| store.index_get(k),
                    |i| store.entry(i),
                    domain,
                    &self.cache,
                )
                .map_err(internal)?
                else {
                    return Err(not_bound());
                };
                let verified = keys
                    .verified_claim_signers(envelope)
                    .map_err(claim_rejection)?;
                if verified.is_empty() {
                    return Err(not_bound());
                }
                (verified, false)
            }
        };
        Ok(Box::new(ClaimCheck::new(
            parsed,
            verified,
            enrollment_confirmed,
            self.policy,
            self.cache.clone(),
        )))
    }

    /// An enrollment's root key must be published in the domain's
    /// well-known document (spec/claim.md §5.2, spec/vendor.md).
    async fn confirm_enrollment(&self, kb: &KeyBinding) -> Result<(), Rejection> {
        let doc = self
            .well_known
            .fetch(&kb.domain)
            .await
            .map_err(|e| rejection(403, format!("enrollment of {}: {e}", kb.domain)))?;
        // Validation guarantees exactly one root key in an enrollment.
        let Some(root) = kb.root_keys.first() else {
            return Err(rejection(400, "enrollment: no root key".into()));
        };
        if !doc.root_keys.contains(&root.public_key) {
            return Err(rejection(
                403,
                format!(
                    "enrollment of {}: root key {} is not published at {}",
                    kb.domain,
                    root.keyid,
                    self.well_known.url(&kb.domain)
                ),
            ));
        }
        Ok(())
    }
}

/// The integration-time check of one admitted statement (stage 2 in the
/// module doc). On success it returns the index records of the entry.
pub struct ClaimCheck {
    statement_sha256: Sha256Digest,
    /// The admitted predicate. Taken (moved into the head cache as the new
    /// head, no copy) when the check passes; the sequencer checks a
    /// submission once.
    next: Mutex<Option<Predicate>>,
    /// Keys whose signatures verified at submission.
    verified: Vec<Sha256Digest>,
    /// Whether submission confirmed the well-known document (enrollments).
    enrollment_confirmed: bool,
    policy: SeriesPolicy,
    cache: Arc<HeadCache>,
}

impl ClaimCheck {
    fn new(
        parsed: ParsedStatement,
        verified: Vec<Sha256Digest>,
        enrollment_confirmed: bool,
        policy: SeriesPolicy,
        cache: Arc<HeadCache>,
    ) -> ClaimCheck {
        ClaimCheck {
            statement_sha256: parsed.statement_sha256,
            next: Mutex::new(Some(parsed.predicate)),
            verified,
            enrollment_confirmed,
            policy,
            cache,
        }
    }
}

impl CommitCheck for ClaimCheck {
    fn check(
        &self,
        view: &BatchView<'_>,
        log_index: u64,
        integrated_time: u64,
    ) -> Result<Vec<IndexRecord>, Rejection> {
        // Only this check uses the slot, so the lock is never contended;
        // poisoning would need a panic inside this function.
        let mut slot = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let Some(next) = slot.as_ref() else {
            return Err(rejection(500, "claim check run twice".into()));
        };
        let at = i64::try_from(integrated_time)
            .ok()
            .and_then(Timestamp::from_unix)
            .ok_or_else(|| rejection(500, "integration time out of range".into()))?;
        let sha = self.statement_sha256;
        // The rules, against the heads; on success the records to write and
        // the head this entry replaces.
        let (records, superseded) = match next {
            Predicate::KeyBinding(kb) => {
                let keys = cached_key_head(
                    |k| view.index_get(k),
                    |i| view.entry(i),
                    &kb.domain,
                    &self.cache,
                )
                .map_err(internal)?;
                let head = keys.as_deref().map(BoundKeys::head);
                self.check_key_binding(head, kb, at)?;
                let version = VersionRecord {
                    log_index,
                    sequence: kb.sequence,
                    statement_sha256: sha,
                    integrated_time,
                };
                let records = vec![
                    (index::key_head_key(&kb.domain), index::encode(&version)),
                    (
                        index::key_version_key(&kb.domain, kb.sequence),
                        index::encode(&version),
                    ),
                    statement_record(&sha, log_index),
                ];
                (records, head.map(|h| (h.log_index, h.statement_sha256)))
            }
            Predicate::DataHandling(dh) => {
                let head = self.check_data_handling(view, dh, at)?;
                let version = VersionRecord {
                    log_index,
                    sequence: dh.sequence,
                    statement_sha256: sha,
                    integrated_time,
                };
                let (domain, service) = (&dh.issuer.domain, &dh.service.id);
                let records = vec![
                    (
                        index::series_head_key(domain, service),
                        index::encode(&version),
                    ),
                    (
                        index::series_version_key(domain, service, dh.sequence),
                        index::encode(&version),
                    ),
                    statement_record(&sha, log_index),
                ];
                (records, head.map(|h| (h.log_index, h.statement_sha256)))
            }
        };
        // This entry is now its series' head (for the rest of this batch and,
        // once the batch is written, for good): cache it so the next version
        // is checked without reading it back. If the batch fails, the cached
        // pair names no index record and is never looked up (module doc of
        // [`cache`]).
        let head = match slot.take() {
            Some(Predicate::KeyBinding(binding)) => {
                CachedHead::Keys(Arc::new(BoundKeys::new(KeyBindingHead {
                    log_index,
                    statement_sha256: sha,
                    binding,
                })))
            }
            Some(Predicate::DataHandling(predicate)) => CachedHead::Series(Arc::new(SeriesHead {
                log_index,
                statement_sha256: sha,
                predicate,
            })),
            // Checked to be Some above, under the same guard.
            None => return Ok(records),
        };
        self.cache.replace(superseded, (log_index, sha), head);
        Ok(records)
    }
}

impl ClaimCheck {
    /// Series and root-signature rules of key binding `kb` after `head`.
    fn check_key_binding(
        &self,
        head: Option<&KeyBindingHead>,
        kb: &KeyBinding,
        at: Timestamp,
    ) -> Result<(), Rejection> {
        if let Some(e) = check_key_binding_series(head, kb, at, &self.policy)
            .into_iter()
            .next()
        {
            let current = head.map(KeyBindingHead::supersedes);
            return Err(series_rejection(e, current.map(|s| json!(s))));
        }
        if head.is_none() && !self.enrollment_confirmed {
            return Err(rejection(
                409,
                format!("{} was enrolled while this enrollment waited", kb.domain),
            ));
        }
        check_root_signatures(head.map(|h| &h.binding), kb, &self.verified, at)
            .map_err(claim_rejection)
    }

    /// Signer and series rules of data-handling claim `dh`; returns the
    /// series head it follows.
    fn check_data_handling(
        &self,
        view: &BatchView<'_>,
        dh: &DataHandling,
        at: Timestamp,
    ) -> Result<Option<Arc<SeriesHead>>, Rejection> {
        let domain = &dh.issuer.domain;
        let keys = cached_key_head(
            |k| view.index_get(k),
            |i| view.entry(i),
            domain,
            &self.cache,
        )
        .map_err(internal)?;
        authorize_claim_signers(
            keys.as_deref().map(|k| &k.head().binding),
            domain,
            &self.verified,
            at,
        )
        .map_err(claim_rejection)?;
        let head = load_series_head(view, dh, &self.cache)?;
        if let Some(e) = check_series(head.as_deref(), dh, at, &self.policy)
            .into_iter()
            .next()
        {
            let current = head.as_deref().map(SeriesHead::supersedes);
            return Err(series_rejection(e, current.map(|s| json!(s))));
        }
        Ok(head)
    }
}

/// The HTTP status of a claim rejection (spec/claim.md §9).
pub fn claim_status(e: &ClaimError) -> u16 {
    match e {
        ClaimError::TooLarge { .. } => 413,
        ClaimError::SequenceNotNext { .. }
        | ClaimError::StaleSupersedes { .. }
        | ClaimError::SeriesMismatch { .. } => 409,
        ClaimError::KeyNotBound { .. }
        | ClaimError::KeyNotValid { .. }
        | ClaimError::KeyRevoked { .. }
        | ClaimError::SignatureInvalid { .. }
        | ClaimError::MissingRootSignature { .. }
        | ClaimError::NoCurrentRoot { .. } => 403,
        _ => 400,
    }
}

/// The current key-binding head of `domain`, if it enrolled, read through
/// `index_get` and `entry` (uncached: for the read API).
pub fn load_key_head(
    index_get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
    entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
    domain: &crate::claim::Domain,
) -> Result<Option<KeyBindingHead>, StoreError> {
    let key = index::key_head_key(domain);
    let Some(bytes) = index_get(&key)? else {
        return Ok(None);
    };
    let record: VersionRecord = index::decode(&key, &bytes)?;
    let (_, parsed) = index::load_statement(record.log_index, entry)?;
    match parsed.predicate {
        Predicate::KeyBinding(binding) if binding.domain == *domain => Ok(Some(KeyBindingHead {
            log_index: record.log_index,
            statement_sha256: parsed.statement_sha256,
            binding,
        })),
        _ => Err(StoreError::Corrupt(format!(
            "key-binding head of {domain} is not a key binding of {domain}"
        ))),
    }
}

/// The current key-binding head of `domain` with its keys decompressed, if
/// it enrolled, through `cache`. The head must bind `domain`: its keys never
/// serve another domain.
fn cached_key_head(
    index_get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
    entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
    domain: &crate::claim::Domain,
    cache: &HeadCache,
) -> Result<Option<Arc<BoundKeys>>, StoreError> {
    let key = index::key_head_key(domain);
    let Some(bytes) = index_get(&key)? else {
        return Ok(None);
    };
    let record: VersionRecord = index::decode(&key, &bytes)?;
    let keys = cache.key_head(&record, entry)?;
    if keys.head().binding.domain != *domain {
        return Err(StoreError::Corrupt(format!(
            "key-binding head of {domain} binds {}",
            keys.head().binding.domain
        )));
    }
    Ok(Some(keys))
}

fn load_series_head(
    view: &BatchView<'_>,
    dh: &DataHandling,
    cache: &HeadCache,
) -> Result<Option<Arc<SeriesHead>>, Rejection> {
    let key = index::series_head_key(&dh.issuer.domain, &dh.service.id);
    let Some(bytes) = view.index_get(&key).map_err(internal)? else {
        return Ok(None);
    };
    let record: VersionRecord = index::decode(&key, &bytes).map_err(internal)?;
    cache
        .series_head(&record, |i| view.entry(i))
        .map(Some)
        .map_err(internal)
}

/// Verifies every signature whose keyid names one of `keys`
/// ([`verified_signers`] with `verify_strict`); returns the keyids that
/// verified.
fn verify_signatures(
    envelope: &Envelope,
    keys: &[BoundKey],
) -> Result<Vec<Sha256Digest>, Rejection> {
    verified_signers(envelope, keys, |j, key| {
        verify_signature(envelope, j, &key.public_key)
    })
    .map_err(claim_rejection)
}

/// `st/<sha>`: where the statement is (the rest is read from the entry).
fn statement_record(sha: &Sha256Digest, log_index: u64) -> (Vec<u8>, Vec<u8>) {
    (
        index::statement_key(sha),
        index::encode(&StatementRecord { log_index }),
    )
}

fn rejection(status: u16, reason: String) -> Rejection {
    Rejection {
        status,
        reason,
        detail: None,
    }
}

/// A [`ClaimError`] as a rejection with its §9 status.
pub fn claim_rejection(e: ClaimError) -> Rejection {
    rejection(claim_status(&e), e.to_string())
}

/// A series-rule failure; a 409 carries the current head (`null` for none).
fn series_rejection(e: ClaimError, head: Option<serde_json::Value>) -> Rejection {
    let mut r = claim_rejection(e);
    if r.status == 409 {
        r.detail = Some(json!({ "head": head }).to_string());
    }
    r
}

fn internal(e: StoreError) -> Rejection {
    tracing::error!(error = %e, "claim admission");
    rejection(500, "internal error; see the server log".into())
}

#[cfg(test)]
mod tests;
