//! The witness core: one `add-checkpoint` request from body to answer,
//! with the protocol decision from [`claimlog::witness_wire`], then
//! cosigning, the compare-and-swap commit, and evidence.
//!
//! Blocking (signature checks, sled writes and fsync): the HTTP layer runs
//! [`Witness::add_checkpoint`] on the blocking pool.

use std::sync::Arc;

use claimlog::cosignature::{CosignatureError, CosignerKey};
use claimlog::note::{Note, Signature};
use claimlog::witness_wire::{
    AddCheckpointRequest, WitnessError, check_add_checkpoint, format_cosignatures,
};

use crate::config::LogSet;
use crate::metrics::Metrics;
use crate::store::{Cosigned, Evidence, EvidenceOutcome, Store, StoreError};

/// How many times a request re-checks after losing a compare-and-swap
/// before giving up with [`ApiError::Contention`]. Each lost race means
/// another request for the same log committed, so this bounds work, not
/// correctness.
const MAX_ATTEMPTS: usize = 16;

/// A source of POSIX seconds (injected so tests control time).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Why a request failed. The HTTP layer maps each variant to its status
/// (`crate::http`); only protocol errors are echoed to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The tlog-witness answer (status per [`WitnessError::status`]).
    #[error(transparent)]
    Protocol(#[from] WitnessError),
    /// 413: the body is over the cap (checked before reading it all).
    #[error("request body too large")]
    BodyTooLarge,
    /// 500: storage failed; nothing was cosigned.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// 500: cosigning failed (e.g. a clock before 1970 or past 2^63-1).
    #[error("cosigning: {0}")]
    Cosign(#[from] CosignatureError),
    /// 503: too many concurrent commits for one log; retry.
    #[error("too much contention on this log; retry")]
    Contention,
}

/// A witness: its trusted logs, its key, its store.
pub struct Witness {
    logs: LogSet,
    key: CosignerKey,
    store: Arc<dyn Store>,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// Test-only: every request's first commit attempt waits here after the
    /// check and before the compare-and-swap.
    #[cfg(test)]
    pub(crate) commit_hook: Option<Arc<std::sync::Barrier>>,
}

impl Witness {
    /// A witness over `store`, cosigning with `key`, trusting `logs`.
    pub fn new(logs: LogSet, key: CosignerKey, store: Arc<dyn Store>, clock: Clock) -> Witness {
        Witness {
            logs,
            key,
            store,
            clock,
            metrics: Arc::new(Metrics::new()),
            #[cfg(test)]
            commit_hook: None,
        }
    }

    /// The trusted logs.
    pub fn logs(&self) -> &LogSet {
        &self.logs
    }

    /// The cosigner key.
    pub fn key(&self) -> &CosignerKey {
        &self.key
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// This instance's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Handles one `add-checkpoint` body (tlog-witness §"add-checkpoint"):
    /// parse, decide against the stored state, cosign, commit by
    /// compare-and-swap (durable), and only then return the 200 body. A
    /// lost race re-runs the decision against the new state, so concurrent
    /// requests can never roll the state back.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, ApiError> {
        let request = AddCheckpointRequest::parse(body)?;
        let origin = request.checkpoint().origin();
        let keys = self.logs.keys(origin);
        for attempt in 0..MAX_ATTEMPTS {
            let current = self.store.latest(origin)?;
            let state = current.as_ref().map(|c| *c.state());
            let signed = match check_add_checkpoint(keys, state.as_ref(), &request) {
                Ok(signed) => signed,
                Err(e) => {
                    if let (true, Some(cosigned)) = (e.is_evidence(), &current) {
                        // The client still gets its 422 if the evidence
                        // cannot be stored; the failure is logged.
                        if let Err(store_error) = self.keep_evidence(cosigned, &request, &e) {
                            tracing::error!(error = %store_error, "could not store evidence");
                        }
                    }
                    return Err(e.into());
                }
            };
            #[cfg(test)]
            if let (0, Some(barrier)) = (attempt, &self.commit_hook) {
                barrier.wait();
            }
            // The spec wants a non-zero timestamp; a clock at 0 is broken.
            let now = (self.clock)().max(1);
            let cosignature = self.key.sign(request.checkpoint(), now)?;
            // Store what §5.4 serves: the log signatures we verified plus
            // our cosignature; unknown lines from the request are dropped.
            let mut lines: Vec<Signature> = signed
                .verified_note()
                .verified_signatures()
                .cloned()
                .collect();
            lines.push(cosignature.clone());
            let note = Note::new(signed.note().text(), lines)
                .map_err(|e| ApiError::Cosign(CosignatureError::Note(e)))?;
            let new = Cosigned::new(note)?;
            match self.store.compare_and_swap(origin, current.as_ref(), &new) {
                Ok(()) => {
                    self.metrics.cosigned();
                    return Ok(format_cosignatures(&[cosignature]));
                }
                Err(StoreError::Conflict { current }) => {
                    self.metrics.conflict();
                    tracing::debug!(%origin, attempt, ?current, "lost compare-and-swap; re-checking");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::Contention)
    }

    /// Keeps a validly signed checkpoint that contradicts the cosigned one
    /// (split-view alarm) and logs a warning.
    fn keep_evidence(
        &self,
        cosigned: &Cosigned,
        request: &AddCheckpointRequest,
        error: &WitnessError,
    ) -> Result<(), StoreError> {
        let kind = match error {
            WitnessError::RootMismatch { .. } => "same-size-different-root",
            _ => "consistency-proof-failed",
        };
        let evidence = Evidence {
            kind: kind.to_owned(),
            origin: request.checkpoint().origin().to_string(),
            observed_at: (self.clock)(),
            cosigned: cosigned.note().to_string(),
            conflicting: request.note().to_string(),
            old: request.old(),
            proof: request.proof().iter().map(|h| h.to_base64()).collect(),
        };
        let outcome = self.store.add_evidence(&evidence)?;
        self.metrics.evidence(outcome);
        if outcome != EvidenceOutcome::Duplicate {
            tracing::warn!(
                origin = %evidence.origin,
                kind,
                cosigned_size = cosigned.state().size,
                conflicting_size = request.checkpoint().size(),
                stored = ?outcome,
                "log misbehaviour: validly signed checkpoint contradicts the cosigned one"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
