//! One witness's `add-checkpoint` exchange (tlog-witness §"add-checkpoint",
//! specs.md §5.2 and §5.6): build the request from the size the witness last
//! cosigned, post it, read the answer size-capped, retry once from the size
//! in a 409 body, and check the cosignature lines. Every result, good or
//! bad, is an [`Outcome`] and is counted in the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::checkpoint::SignedCheckpoint;
use crate::cosignature::CosignatureVerifier;
use crate::merkle::Hash;
use crate::note::Signature;
use crate::policy::Name;
use crate::server::reader::LogReader;
use crate::server::witnessing::TIMESTAMP_SKEW_SECS;
use crate::server::witnessing::metrics::WitnessMetrics;
use crate::witness_wire::{
    AddCheckpointRequest, MAX_RESPONSE_SIZE, parse_cosignatures, parse_size_body,
};

/// How one witness answered (the last request of its exchange).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with at least one valid cosignature from the witness's key.
    Cosigned {
        /// The valid cosignature lines.
        signatures: Vec<Signature>,
        /// The (latest) verified timestamp.
        timestamp: u64,
    },
    /// 409 that one retry did not resolve, or the witness's size is beyond
    /// the checkpoint (it has cosigned a larger tree for this origin).
    Conflict {
        /// The size the witness reported.
        witness_size: u64,
    },
    /// Any other status: the witness refused (4xx) or failed (5xx).
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The witness did not finish within the timeout.
    Timeout,
    /// Connecting, sending or reading failed.
    Transport(String),
    /// A 200 whose body is malformed or whose cosignature does not verify
    /// for this checkpoint and key, or has an absurd timestamp; also a 409
    /// with a malformed size body.
    BadCosignature(String),
    /// The log could not compute the consistency proof the witness needs.
    Proof(String),
}

impl Outcome {
    /// The metrics label: `cosigned`, `conflict`, `rejected`, `timeout`,
    /// `transport_error`, `bad_cosignature` or `proof_error`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Cosigned { .. } => "cosigned",
            Outcome::Conflict { .. } => "conflict",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Timeout => "timeout",
            Outcome::Transport(_) => "transport_error",
            Outcome::BadCosignature(_) => "bad_cosignature",
            Outcome::Proof(_) => "proof_error",
        }
    }
}

/// A witness of the policy as the log talks to it.
pub(super) struct WitnessClient {
    pub(super) name: Name,
    pub(super) key: CosignatureVerifier,
    pub(super) endpoint: reqwest::Url,
    pub(super) http: reqwest::Client,
    /// The size this witness last cosigned, as far as the log knows
    /// (updated on every cosignature and every 409).
    pub(super) last_size: AtomicU64,
    pub(super) metrics: Arc<WitnessMetrics>,
}

/// One HTTP answer, before interpretation.
enum Answer {
    Status(u16, Vec<u8>),
    Failed(String),
}

impl WitnessClient {
    /// Runs the exchange for `checkpoint` within `timeout`; `now` is the
    /// log's clock for the timestamp check.
    pub(super) async fn exchange(
        &self,
        checkpoint: &SignedCheckpoint,
        reader: &LogReader,
        timeout: Duration,
        now: u64,
    ) -> Outcome {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.attempts(checkpoint, reader, now)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.metrics
                    .request(&self.name, Outcome::Timeout.label(), 0, started.elapsed());
                tracing::warn!(witness = %self.name, ?timeout, "witness timed out");
                Outcome::Timeout
            }
        }
    }

    /// The first request, and the retry after a 409.
    async fn attempts(
        &self,
        checkpoint: &SignedCheckpoint,
        reader: &LogReader,
        now: u64,
    ) -> Outcome {
        let size = checkpoint.checkpoint().size();
        let known = self.last_size.load(Ordering::SeqCst);
        // A remembered size beyond this checkpoint cannot be proven from;
        // probe with 0 and let the witness's 409 say where it stands.
        let mut old = if known > size { 0 } else { known };
        for attempt in 0..2 {
            let outcome = match self.post(checkpoint, reader, old, now).await {
                Posted::Done(outcome) => outcome,
                Posted::Conflict(witness_size) => {
                    self.last_size.store(witness_size, Ordering::SeqCst);
                    if witness_size > size {
                        tracing::warn!(
                            witness = %self.name, witness_size, size,
                            "witness has cosigned a larger tree of this origin: possible fork"
                        );
                        Outcome::Conflict { witness_size }
                    } else if attempt == 0 {
                        old = witness_size;
                        continue;
                    } else {
                        Outcome::Conflict { witness_size }
                    }
                }
            };
            match &outcome {
                Outcome::Cosigned { .. } => self.last_size.store(size, Ordering::SeqCst),
                Outcome::Conflict { .. } => {}
                other => {
                    tracing::warn!(witness = %self.name, outcome = ?other, "witness did not cosign")
                }
            }
            return outcome;
        }
        // The loop returns on its second pass at the latest.
        Outcome::Conflict { witness_size: old }
    }

    /// One request from `old`; counts it in the metrics.
    async fn post(
        &self,
        checkpoint: &SignedCheckpoint,
        reader: &LogReader,
        old: u64,
        now: u64,
    ) -> Posted {
        let size = checkpoint.checkpoint().size();
        let proof = match consistency_proof(reader, old, size) {
            Ok(p) => p,
            Err(e) => {
                self.metrics
                    .request(&self.name, "proof_error", 0, Duration::ZERO);
                return Posted::Done(Outcome::Proof(e));
            }
        };
        let request = match AddCheckpointRequest::new(old, proof, checkpoint.note().clone()) {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .request(&self.name, "proof_error", 0, Duration::ZERO);
                return Posted::Done(Outcome::Proof(e.to_string()));
            }
        };
        let started = Instant::now();
        let answer = self.send(request.to_bytes()).await;
        let took = started.elapsed();
        let (posted, status) = match answer {
            Answer::Failed(e) => (Posted::Done(Outcome::Transport(e)), 0),
            Answer::Status(200, body) => (
                Posted::Done(self.check_cosignatures(checkpoint, &body, now)),
                200,
            ),
            Answer::Status(409, body) => match parse_size_body(&body) {
                Ok(n) => (Posted::Conflict(n), 409),
                Err(e) => (
                    Posted::Done(Outcome::BadCosignature(format!("409 answer: {e}"))),
                    409,
                ),
            },
            Answer::Status(status, _) => (Posted::Done(Outcome::Rejected { status }), status),
        };
        let label = match &posted {
            Posted::Done(o) => o.label(),
            Posted::Conflict(_) => "conflict",
        };
        self.metrics.request(&self.name, label, status, took);
        if let Posted::Done(Outcome::Cosigned { .. }) = &posted {
            self.metrics.cosigned_size(&self.name, size);
        }
        posted
    }

    /// Posts the body and reads the answer, at most [`MAX_RESPONSE_SIZE`]
    /// bytes (checked while reading, so a huge answer is never buffered).
    async fn send(&self, body: Vec<u8>) -> Answer {
        let resp = match self
            .http
            .post(self.endpoint.clone())
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Answer::Failed(error_chain(&e)),
        };
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_SIZE as u64)
        {
            return too_large();
        }
        let mut resp = resp;
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_SIZE {
                        return too_large();
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Answer::Status(status, body),
                Err(e) => return Answer::Failed(error_chain(&e)),
            }
        }
    }

    /// Checks a 200 body: the lines carrying this witness's key name and ID
    /// must all verify over exactly `checkpoint`, with a sane timestamp;
    /// there must be at least one. Other lines are ignored.
    fn check_cosignatures(&self, checkpoint: &SignedCheckpoint, body: &[u8], now: u64) -> Outcome {
        let lines = match parse_cosignatures(body) {
            Ok(l) => l,
            Err(e) => return Outcome::BadCosignature(e.to_string()),
        };
        let key = self.key.key();
        let mut signatures = Vec::new();
        let mut latest = 0;
        for sig in lines {
            if sig.name() != key.name() || sig.key_id() != key.key_id() {
                continue;
            }
            let ts = match self.key.verify(checkpoint.checkpoint(), &sig) {
                Ok(ts) => ts,
                Err(e) => return Outcome::BadCosignature(e.to_string()),
            };
            if ts == 0 || ts.abs_diff(now) > TIMESTAMP_SKEW_SECS {
                return Outcome::BadCosignature(format!(
                    "timestamp {ts} is more than {TIMESTAMP_SKEW_SECS} s from the log's clock ({now})"
                ));
            }
            latest = latest.max(ts);
            signatures.push(sig);
        }
        if signatures.is_empty() {
            return Outcome::BadCosignature("no cosignature line from the witness's key".into());
        }
        Outcome::Cosigned {
            signatures,
            timestamp: latest,
        }
    }
}

/// What one request led to.
enum Posted {
    Done(Outcome),
    /// 409 with the witness's size.
    Conflict(u64),
}

fn too_large() -> Answer {
    Answer::Failed(format!("answer larger than {MAX_RESPONSE_SIZE} bytes"))
}

/// The proof from `old` to `size` out of the log's tiles: empty from the
/// empty tree (the protocol's special case, specs.md §11.15) and between
/// equal sizes (a heartbeat).
fn consistency_proof(reader: &LogReader, old: u64, size: u64) -> Result<Vec<Hash>, String> {
    if old == 0 || old == size {
        return Ok(Vec::new());
    }
    reader
        .consistency_proof(old, size)
        .map_err(|e| format!("consistency proof {old} -> {size}: {e}"))
}

/// An error with its sources, for logs (reqwest's top-level message alone
/// rarely says what went wrong).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
