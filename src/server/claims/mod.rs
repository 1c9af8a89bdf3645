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
pub mod index;
pub mod wellknown;

use std::sync::Arc;

use serde_json::json;

use crate::claim::{
    BoundKey, ClaimError, DATA_HANDLING_V1, KEY_BINDING_V1, KeyBinding, KeyBindingHead,
    ParsedStatement, Predicate, SeriesHead, SeriesPolicy, Sha256Digest, Timestamp,
    authorize_claim_signers, check_key_binding_series, check_root_signatures, check_series,
    parse_and_validate, verified_signers, verify_signature,
};
use crate::dsse::Envelope;
use crate::server::sequencer::{BatchView, CommitCheck, Rejection};
use crate::server::store::{IndexRecord, Store, StoreError};
use index::{StatementRecord, VersionRecord};
use wellknown::WellKnownClient;

/// The domain admission policy and the well-known client.
#[derive(Debug)]
pub struct ClaimAdmission {
    policy: SeriesPolicy,
    well_known: WellKnownClient,
}

impl ClaimAdmission {
    /// Admission with these series rules' parameters and well-known client.
    pub fn new(policy: SeriesPolicy, well_known: WellKnownClient) -> ClaimAdmission {
        ClaimAdmission { policy, well_known }
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
                let Some(head) = load_key_head(|k| store.index_get(k), |i| store.entry(i), domain)
                    .map_err(internal)?
                else {
                    return Err(not_bound());
                };
                let verified = verify_signatures(envelope, &head.binding.signing_keys)?;
                if verified.is_empty() {
                    return Err(not_bound());
                }
                (verified, false)
            }
        };
        Ok(Box::new(ClaimCheck {
            parsed: Arc::new(parsed),
            verified,
            enrollment_confirmed,
            policy: self.policy,
        }))
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
    parsed: Arc<ParsedStatement>,
    /// Keys whose signatures verified at submission.
    verified: Vec<Sha256Digest>,
    /// Whether submission confirmed the well-known document (enrollments).
    enrollment_confirmed: bool,
    policy: SeriesPolicy,
}

impl CommitCheck for ClaimCheck {
    fn check(
        &self,
        view: &BatchView<'_>,
        log_index: u64,
        integrated_time: u64,
    ) -> Result<Vec<IndexRecord>, Rejection> {
        let at = i64::try_from(integrated_time)
            .ok()
            .and_then(Timestamp::from_unix)
            .ok_or_else(|| rejection(500, "integration time out of range".into()))?;
        let sha = self.parsed.statement_sha256;
        match &self.parsed.predicate {
            Predicate::KeyBinding(kb) => {
                let head = load_key_head(|k| view.index_get(k), |i| view.entry(i), &kb.domain)
                    .map_err(internal)?;
                if let Some(e) = check_key_binding_series(head.as_ref(), kb, at, &self.policy)
                    .into_iter()
                    .next()
                {
                    let current = head.as_ref().map(KeyBindingHead::supersedes);
                    return Err(series_rejection(e, current.map(|s| json!(s))));
                }
                if head.is_none() && !self.enrollment_confirmed {
                    return Err(rejection(
                        409,
                        format!("{} was enrolled while this enrollment waited", kb.domain),
                    ));
                }
                check_root_signatures(head.as_ref().map(|h| &h.binding), kb, &self.verified, at)
                    .map_err(claim_rejection)?;
                let version = VersionRecord {
                    log_index,
                    sequence: kb.sequence,
                    statement_sha256: sha,
                    integrated_time,
                };
                Ok(vec![
                    (index::key_head_key(&kb.domain), index::encode(&version)),
                    (
                        index::key_version_key(&kb.domain, kb.sequence),
                        index::encode(&version),
                    ),
                    statement_record(&sha, KEY_BINDING_V1, kb.domain.clone(), None, &version),
                ])
            }
            Predicate::DataHandling(dh) => {
                let domain = &dh.issuer.domain;
                let keys = load_key_head(|k| view.index_get(k), |i| view.entry(i), domain)
                    .map_err(internal)?;
                authorize_claim_signers(
                    keys.as_ref().map(|h| &h.binding),
                    domain,
                    &self.verified,
                    at,
                )
                .map_err(claim_rejection)?;
                let head = load_series_head(view, dh)?;
                if let Some(e) = check_series(head.as_ref(), dh, at, &self.policy)
                    .into_iter()
                    .next()
                {
                    let current = head.as_ref().map(SeriesHead::supersedes);
                    return Err(series_rejection(e, current.map(|s| json!(s))));
                }
                let version = VersionRecord {
                    log_index,
                    sequence: dh.sequence,
                    statement_sha256: sha,
                    integrated_time,
                };
                let service = &dh.service.id;
                Ok(vec![
                    (
                        index::series_head_key(domain, service),
                        index::encode(&version),
                    ),
                    (
                        index::series_version_key(domain, service, dh.sequence),
                        index::encode(&version),
                    ),
                    statement_record(
                        &sha,
                        DATA_HANDLING_V1,
                        domain.clone(),
                        Some(service.clone()),
                        &version,
                    ),
                ])
            }
        }
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
/// `index_get` and `entry` (the store, or a batch view).
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
        Predicate::KeyBinding(binding) => Ok(Some(KeyBindingHead {
            log_index: record.log_index,
            statement_sha256: parsed.statement_sha256,
            binding,
        })),
        Predicate::DataHandling(_) => Err(StoreError::Corrupt(format!(
            "key-binding head of {domain} is a data-handling statement"
        ))),
    }
}

fn load_series_head(
    view: &BatchView<'_>,
    dh: &crate::claim::DataHandling,
) -> Result<Option<SeriesHead>, Rejection> {
    let key = index::series_head_key(&dh.issuer.domain, &dh.service.id);
    let Some(bytes) = view.index_get(&key).map_err(internal)? else {
        return Ok(None);
    };
    let record: VersionRecord = index::decode(&key, &bytes).map_err(internal)?;
    let (_, parsed) =
        index::load_statement(record.log_index, |i| view.entry(i)).map_err(internal)?;
    match parsed.predicate {
        Predicate::DataHandling(predicate) => Ok(Some(SeriesHead {
            log_index: record.log_index,
            statement_sha256: parsed.statement_sha256,
            predicate,
        })),
        Predicate::KeyBinding(_) => Err(internal(StoreError::Corrupt(
            "series head is a key binding".into(),
        ))),
    }
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

fn statement_record(
    sha: &Sha256Digest,
    predicate_type: &str,
    domain: crate::claim::Domain,
    service: Option<crate::claim::Identifier>,
    version: &VersionRecord,
) -> (Vec<u8>, Vec<u8>) {
    (
        index::statement_key(sha),
        index::encode(&StatementRecord {
            log_index: version.log_index,
            predicate_type: predicate_type.to_owned(),
            domain,
            service,
            sequence: version.sequence,
            integrated_time: version.integrated_time,
        }),
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
