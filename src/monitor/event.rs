//! The monitor's events (spec/monitor.md): one JSON object per line, each
//! naming the checkpoint it rests on. Entry events come from
//! [`super::MonitorState`]; `fork_detected`, `log_stalled`, `log_unreachable`
//! and `log_recovered` from the driver that talks to the log.

use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::claim::{ClaimError, Diff, Timestamp};

/// One event: what happened and the checkpoint it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitorEvent {
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The verified checkpoint the event rests on: for an entry event, the
    /// checkpoint whose tree contains the entry; for a driver event, the last
    /// checkpoint the monitor verified (`null` before the first).
    pub checkpoint: Option<CheckpointRef>,
}

impl MonitorEvent {
    /// The vendor domain the event is about, if any (for `--watch`).
    pub fn domain(&self) -> Option<&str> {
        match &self.kind {
            EventKind::VendorEnrolled { entry, .. }
            | EventKind::NewClaim { entry, .. }
            | EventKind::ClaimUpdated { entry, .. }
            | EventKind::ClaimWeakened { entry, .. }
            | EventKind::ClaimWithdrawn { entry, .. }
            | EventKind::KeyRotated { entry, .. }
            | EventKind::KeyRevoked { entry, .. } => entry.domain.as_deref(),
            EventKind::SeriesViolation { entry, .. } => entry.domain.as_deref(),
            EventKind::ForkDetected { .. }
            | EventKind::LogStalled { .. }
            | EventKind::LogUnreachable { .. }
            | EventKind::LogRecovered { .. } => None,
        }
    }

    /// Whether a monitor watching `watch` (empty: everything) reports this
    /// event. Events about no particular vendor (forks, outages, entries whose
    /// issuer cannot be read) are always reported.
    pub fn concerns(&self, watch: &[String]) -> bool {
        watch.is_empty()
            || self
                .domain()
                .is_none_or(|d| watch.iter().any(|w| w.eq_ignore_ascii_case(d)))
    }

    /// The event as one line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        // Serializing these types cannot fail: every field is a string, number,
        // list or struct of them, and no map has non-string keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A checkpoint by origin, size and root hash (base64, as in the note).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRef {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash, base64.
    pub root_hash: String,
}

impl CheckpointRef {
    /// The reference to `checkpoint`.
    pub fn of(checkpoint: &Checkpoint) -> CheckpointRef {
        CheckpointRef {
            origin: checkpoint.origin().as_str().to_owned(),
            size: checkpoint.size(),
            root_hash: checkpoint.root().to_base64(),
        }
    }
}

/// The log entry an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryRef {
    /// The entry's index in the log.
    pub log_index: u64,
    /// The log's integration time, POSIX seconds (absent if the entry could
    /// not be parsed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<u64>,
    /// The issuer's (or key binding's) domain, when the statement names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The data-handling series' `service.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The statement's `sequence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Hex SHA-256 of the statement's exact payload bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_sha256: Option<String>,
}

/// A version of a series, by sequence and log index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRef {
    /// Its `sequence`.
    pub sequence: u64,
    /// Its index in the log.
    pub log_index: u64,
}

/// A key added to, or changed in, a domain's bindings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    /// The key id.
    pub keyid: String,
    /// `root` or `signing`.
    pub role: &'static str,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// Which rule an entry the log should have rejected breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// Not a log entry, not a DSSE envelope, or not an in-toto payload.
    Entry,
    /// The statement does not parse or validate (schema, vocabulary, a
    /// self-contradiction).
    Schema,
    /// A signature by a bound key does not verify.
    Signature,
    /// No signature by a key bound to the domain and valid (not expired, not
    /// revoked) at the index; or a key binding without its root signatures.
    KeyNotBound,
    /// `sequence` is not the head's + 1, or the series does not match.
    Sequence,
    /// `supersedes` does not name the series head.
    Supersedes,
    /// `removedClaimIds` is not exactly the ids dropped since the head.
    RemovedClaimIds,
    /// A weakening takes effect before the notice period ends, or
    /// `effectiveFrom` moves backwards.
    Notice,
    /// `issuedAt` too far from the log's integration time.
    Time,
    /// A key binding drops or changes a key or a revocation.
    KeyHistory,
}

impl ViolationKind {
    /// The kind of a claim rule failure.
    pub fn of(e: &ClaimError) -> ViolationKind {
        match e {
            ClaimError::SignatureInvalid { .. } => ViolationKind::Signature,
            ClaimError::KeyNotBound { .. }
            | ClaimError::KeyNotValid { .. }
            | ClaimError::KeyRevoked { .. }
            | ClaimError::NoCurrentRoot { .. }
            | ClaimError::MissingRootSignature { .. } => ViolationKind::KeyNotBound,
            ClaimError::SequenceNotNext { .. }
            | ClaimError::SeriesMismatch { .. }
            | ClaimError::SequenceZero
            | ClaimError::SupersedesOnFirstVersion
            | ClaimError::MissingSupersedes { .. }
            | ClaimError::SupersedesSequence { .. } => ViolationKind::Sequence,
            ClaimError::StaleSupersedes { .. } => ViolationKind::Supersedes,
            ClaimError::RemovedClaimIdsMismatch { .. }
            | ClaimError::RemovalsOnFirstVersion
            | ClaimError::RemovedClaimPresent { .. } => ViolationKind::RemovedClaimIds,
            ClaimError::NoticePeriod { .. } | ClaimError::EffectiveBeforePrevious { .. } => {
                ViolationKind::Notice
            }
            ClaimError::IssuedAtSkew { .. } | ClaimError::TimeOutOfRange { .. } => {
                ViolationKind::Time
            }
            ClaimError::KeyHistoryChanged { .. } | ClaimError::RevocationChanged { .. } => {
                ViolationKind::KeyHistory
            }
            _ => ViolationKind::Schema,
        }
    }
}

/// What happened. Serialized with the tag `event` in snake case and fields in
/// camel case (spec/monitor.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum EventKind {
    /// A domain enrolled (key-binding sequence 1).
    VendorEnrolled {
        /// The entry.
        entry: EntryRef,
        /// The keys bound.
        keys: Vec<KeyChange>,
    },
    /// The first version of a data-handling series.
    NewClaim {
        /// The entry.
        entry: EntryRef,
        /// When it takes effect.
        effective_from: Timestamp,
        /// The ids of its claims.
        claim_ids: Vec<String>,
    },
    /// A later version that weakens nothing (the diff may be empty).
    ClaimUpdated {
        /// The entry.
        entry: EntryRef,
        /// The version it supersedes.
        previous: VersionRef,
        /// When it takes effect.
        effective_from: Timestamp,
        /// The changes from the previous version.
        diff: Diff,
    },
    /// A later version with at least one weakening (weakened or incomparable
    /// change, or a removed claim).
    ClaimWeakened {
        /// The entry.
        entry: EntryRef,
        /// The version it supersedes.
        previous: VersionRef,
        /// When it takes effect (the log enforced the notice period).
        effective_from: Timestamp,
        /// The changes from the previous version.
        diff: Diff,
    },
    /// A claim id dropped by a version (one event per id; the version's own
    /// event is `claim_weakened`).
    ClaimWithdrawn {
        /// The entry.
        entry: EntryRef,
        /// The withdrawn claim's id.
        claim_id: String,
        /// When the withdrawal takes effect.
        effective_from: Timestamp,
    },
    /// A key binding added keys or changed a key's validity (root rotation,
    /// new signing key, retirement).
    KeyRotated {
        /// The entry.
        entry: EntryRef,
        /// Keys new in this version.
        added: Vec<KeyChange>,
        /// Keys whose `validUntil` changed, with the new value.
        changed: Vec<KeyChange>,
    },
    /// A key binding declared a key compromised.
    KeyRevoked {
        /// The entry.
        entry: EntryRef,
        /// The revoked key.
        keyid: String,
        /// From when.
        compromised_since: Timestamp,
        /// The stated reason.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An entry the log should have rejected; the monitor's view of the
    /// series is unchanged by it.
    SeriesViolation {
        /// The entry.
        entry: EntryRef,
        /// Which rule.
        kind: ViolationKind,
        /// The rule's one-line reason.
        reason: String,
    },
    /// Two views of the log that cannot both be true: a checkpoint that is
    /// not consistent with one the monitor verified before (the log went
    /// backwards or forked), or a witness that cosigned an inconsistent tree.
    ForkDetected {
        /// Who showed the other view: `log`, or `witness <name>`.
        source: String,
        /// Why they are inconsistent.
        reason: String,
        /// The checkpoint the monitor verified (signed note text).
        ours: String,
        /// The conflicting checkpoint (signed note text).
        theirs: String,
    },
    /// No new checkpoint within the heartbeat.
    LogStalled {
        /// Seconds since the checkpoint last changed.
        seconds_since_change: u64,
        /// The configured heartbeat.
        heartbeat_seconds: u64,
    },
    /// The log did not answer (once per outage).
    LogUnreachable {
        /// The first error.
        error: String,
    },
    /// The log answers again after `log_unreachable`.
    LogRecovered {
        /// How long it was unreachable, seconds.
        outage_seconds: u64,
    },
}
