//! Witnessed checkpoints, log side (c2sp.org/tlog-witness §"add-checkpoint",
//! specs.md §5.6; DESIGN.md §5): the [`WitnessHook`] that asks the witnesses
//! of a C2SP tlog-policy to cosign each checkpoint before it is published.
//!
//! In scope: loading the policy at start-up (strict, every witness with its
//! submission URL), one concurrent round of `add-checkpoint` requests per
//! publication (shared HTTP client, one deadline per witness, one retry from
//! the witness's size on 409), verifying every returned cosignature,
//! evaluating the quorum, and the per-witness metrics. The request and
//! response formats are [`crate::witness_wire`]'s, shared with the witness
//! server; cosignature checks are [`crate::cosignature`]'s; the quorum is
//! [`Policy::quorum_satisfied`].
//!
//! Out of scope: publishing itself (the [`crate::server::publisher`] moves
//! the published checkpoint by compare-and-swap with what the hook returns)
//! and `sign-subtree` (unstable, specs.md §5.3).
//!
//! Behaviour (also in `spec/witnessing.md`):
//! - Each witness is sent the log-signed checkpoint with `old` = the size it
//!   last cosigned as far as the log knows (initially the published size, 0
//!   for a new log) and a consistency proof from that size, computed from the
//!   log's own tiles. A 409 names the witness's size; the log retries once
//!   from it. A witness whose size is beyond the checkpoint is reported as a
//!   conflict (it has seen a larger tree of this origin: a possible fork).
//! - A cosignature counts only if it carries the witness's key name and ID,
//!   verifies as `cosignature/v1` (or `subtree/v1`) over exactly this
//!   checkpoint, and its timestamp is within [`TIMESTAMP_SKEW_SECS`] of the
//!   log's clock. Other lines in the answer are ignored (spec: ignore unknown
//!   keys); a line under the witness's key that fails makes the answer bad.
//! - The checkpoint is returned with the log's signature first and then every
//!   valid cosignature, in policy order, when the quorum holds; otherwise the
//!   hook fails with [`PublishError::Witness`], nothing is published, the
//!   failure is counted, and the next publication interval tries again.
//! - Witnesses never wait for each other: a slow or dead witness costs at
//!   most its timeout, and the round ends when every witness has answered or
//!   timed out.

mod client;
pub mod metrics;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::checkpoint::SignedCheckpoint;
use crate::note::{Signature, VerifierKey};
use crate::policy::{Name, Policy, PolicyError};
use crate::server::publisher::{PublishError, WitnessHook};
use crate::server::reader::LogReader;
use crate::server::sequencer::Clock;
use crate::server::store::PublishedCheckpoint;

pub use client::Outcome;
use client::WitnessClient;
pub use metrics::WitnessMetrics;

/// How far (seconds) a cosignature timestamp may lie from the log's clock,
/// either way, before the cosignature is refused as absurd
/// (tlog-cosignature: verifiers MAY reject future timestamps; specs.md
/// §11.13 suggests a few minutes of tolerance).
pub const TIMESTAMP_SKEW_SECS: u64 = 600;

/// The largest policy file read (the parser's own limit).
const MAX_POLICY_FILE: u64 = crate::policy::MAX_POLICY_SIZE as u64;

/// Why the witness configuration is unusable (start-up errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessingError {
    /// The policy file could not be read.
    #[error("reading the witness policy {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The policy file is not a valid tlog-policy.
    #[error("witness policy {path}: {error}")]
    Policy {
        /// The file.
        path: String,
        /// The parse error.
        error: PolicyError,
    },
    /// A witness line has no URL: the log cannot reach it.
    #[error("witness {0} has no URL (its tlog-witness submission prefix)")]
    MissingUrl(Name),
    /// A witness URL is not an absolute `http://` or `https://` URL.
    #[error("witness {name}: URL is not an absolute http(s) URL: {reason}")]
    BadUrl {
        /// The witness.
        name: Name,
        /// Why.
        reason: String,
    },
    /// The policy lists logs, but not this log's key (it could never
    /// verify the log's own checkpoints).
    #[error("the policy lists logs but not this log's key {0}")]
    LogNotListed(String),
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// The result of one round: what each witness did and the checkpoint with
/// every valid cosignature appended.
#[derive(Debug, Clone)]
pub struct Round {
    /// The log-signed checkpoint followed by the valid cosignatures, in
    /// policy order.
    pub checkpoint: SignedCheckpoint,
    /// Each witness's final outcome, in policy order.
    pub outcomes: Vec<(Name, Outcome)>,
    /// Whether the valid cosignatures satisfy the policy's quorum.
    pub quorum: bool,
}

/// The log's witness client: a [`WitnessHook`] built from a tlog-policy.
///
/// The hook is called off the async runtime (the publisher runs on a
/// blocking thread); it runs its round on the runtime whose [`Handle`] it
/// was given, so it must not be called from inside an async task.
pub struct Witnessing {
    policy: Policy,
    witnesses: Vec<Arc<WitnessClient>>,
    timeout: Duration,
    reader: LogReader,
    clock: Arc<dyn Clock>,
    metrics: Arc<WitnessMetrics>,
    runtime: Handle,
}

impl Witnessing {
    /// Reads and parses a policy file strictly, then [`Witnessing::new`].
    pub fn from_policy_file(
        path: &Path,
        log_key: &VerifierKey,
        setup: Setup,
    ) -> Result<Witnessing, WitnessingError> {
        let read_err = |reason: String| WitnessingError::Read {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
        if meta.len() > MAX_POLICY_FILE {
            return Err(read_err(format!("larger than {MAX_POLICY_FILE} bytes")));
        }
        let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
        let policy = Policy::parse(&bytes).map_err(|error| WitnessingError::Policy {
            path: path.display().to_string(),
            error,
        })?;
        Witnessing::new(policy, log_key, setup)
    }

    /// A witness client for `policy`. Every witness needs a URL, its
    /// submission prefix (`<url>/add-checkpoint` is posted to); if the
    /// policy has `log` lines, `log_key` must be one of them.
    ///
    /// Each witness starts from the published checkpoint's size (0 if none):
    /// at worst the first request gets a 409 and is retried.
    pub fn new(
        policy: Policy,
        log_key: &VerifierKey,
        setup: Setup,
    ) -> Result<Witnessing, WitnessingError> {
        if !policy.logs().is_empty() && !policy.logs().iter().any(|l| l.key() == log_key) {
            return Err(WitnessingError::LogNotListed(log_key.to_string()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(setup.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WitnessingError::Client(e.to_string()))?;
        let start = setup.published.as_ref().map_or(0, |p| p.size);
        let mut witnesses = Vec::new();
        for w in policy.witnesses() {
            let name = w.name().clone();
            let Some(url) = w.url() else {
                return Err(WitnessingError::MissingUrl(name));
            };
            let endpoint =
                add_checkpoint_url(url.as_bytes()).map_err(|reason| WitnessingError::BadUrl {
                    name: name.clone(),
                    reason,
                })?;
            setup.metrics.register(&name, start);
            witnesses.push(Arc::new(WitnessClient {
                name,
                key: w.key().clone(),
                endpoint,
                http: http.clone(),
                last_size: AtomicU64::new(start),
                metrics: setup.metrics.clone(),
            }));
        }
        Ok(Witnessing {
            policy,
            witnesses,
            timeout: setup.timeout,
            reader: setup.reader,
            clock: setup.clock,
            metrics: setup.metrics,
            runtime: setup.runtime,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The size each witness last cosigned as far as the log knows, in
    /// policy order.
    pub fn witness_sizes(&self) -> Vec<(Name, u64)> {
        self.witnesses
            .iter()
            .map(|w| (w.name.clone(), w.last_size.load(Ordering::SeqCst)))
            .collect()
    }

    /// One round: sends `checkpoint` to every witness concurrently, waits
    /// for all of them (each bounded by the timeout), verifies the answers
    /// and evaluates the quorum. Never fails: every problem is an
    /// [`Outcome`].
    pub async fn round(&self, checkpoint: &SignedCheckpoint) -> Round {
        let now = self.clock.now();
        let mut tasks = JoinSet::new();
        for (i, w) in self.witnesses.iter().enumerate() {
            let (w, cp, reader, timeout) = (
                w.clone(),
                checkpoint.clone(),
                self.reader.clone(),
                self.timeout,
            );
            tasks.spawn(async move { (i, w.exchange(&cp, &reader, timeout, now).await) });
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; self.witnesses.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, outcome)) => outcomes[i] = Some(outcome),
                // A panicking exchange is a bug; the witness counts as
                // failed and the others are unaffected.
                Err(e) => tracing::error!(error = %e, "witness exchange task failed"),
            }
        }
        let mut signed = checkpoint.clone();
        let mut cosigned = Vec::new();
        let mut report = Vec::with_capacity(outcomes.len());
        for (w, outcome) in self.witnesses.iter().zip(outcomes) {
            let outcome =
                outcome.unwrap_or_else(|| Outcome::Transport("exchange task failed".into()));
            if let Outcome::Cosigned { signatures, .. } = &outcome {
                for sig in signatures {
                    add_cosignature(&mut signed, sig.clone());
                }
                cosigned.push(w.name.clone());
            }
            report.push((w.name.clone(), outcome));
        }
        // Every name comes from the policy's own witnesses, so this cannot
        // fail; a failure would count as "not met" anyway.
        let quorum = self
            .policy
            .quorum_satisfied(cosigned.iter().map(Name::as_bytes))
            .unwrap_or(false);
        Round {
            checkpoint: signed,
            outcomes: report,
            quorum,
        }
    }
}

/// What [`Witnessing::new`] needs besides the policy and the log key.
pub struct Setup {
    /// The log's store, read for consistency proofs.
    pub reader: LogReader,
    /// The published checkpoint at start-up (witnesses start from its size).
    pub published: Option<PublishedCheckpoint>,
    /// The log's clock (cosignature timestamps are checked against it).
    pub clock: Arc<dyn Clock>,
    /// One witness's whole exchange, including a retry after 409.
    pub timeout: Duration,
    /// Where the per-witness metrics go.
    pub metrics: Arc<WitnessMetrics>,
    /// The runtime the rounds run on.
    pub runtime: Handle,
}

impl WitnessHook for Witnessing {
    fn collect(
        &self,
        checkpoint: SignedCheckpoint,
        _previous: Option<&PublishedCheckpoint>,
    ) -> Result<SignedCheckpoint, PublishError> {
        let size = checkpoint.checkpoint().size();
        let round = self.runtime.block_on(self.round(&checkpoint));
        if round.quorum {
            return Ok(round.checkpoint);
        }
        self.metrics.quorum_failure();
        let summary = round
            .outcomes
            .iter()
            .map(|(name, outcome)| format!("{name}: {}", outcome.label()))
            .collect::<Vec<_>>()
            .join(", ");
        tracing::warn!(size, witnesses = %summary, "witness quorum not met; not publishing");
        Err(PublishError::Witness(format!(
            "quorum not met for size {size} ({summary})"
        )))
    }
}

/// Appends a cosignature line; a line already present (a witness that
/// answered with the same line twice) is kept once.
fn add_cosignature(signed: &mut SignedCheckpoint, sig: Signature) {
    // The note's signature count is capped; a checkpoint that cannot take
    // another line simply goes without it (the quorum decides).
    if let Err(e) = signed.add_signature(sig) {
        tracing::warn!(error = %e, "cosignature not added to the checkpoint");
    }
}

/// `<prefix>/add-checkpoint` for a witness URL: UTF-8, absolute, `http` or
/// `https`, no query or fragment.
fn add_checkpoint_url(prefix: &[u8]) -> Result<reqwest::Url, String> {
    let text = std::str::from_utf8(prefix).map_err(|_| "not UTF-8".to_owned())?;
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", url.scheme()));
    }
    if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        return Err("a submission prefix has no query or fragment".into());
    }
    let joined = format!("{}/add-checkpoint", text.trim_end_matches('/'));
    reqwest::Url::parse(&joined).map_err(|e| e.to_string())
}
