//! Series rules for data-handling statements (spec/claim.md §6): what the next
//! version of `(issuer.domain, service.id)` must look like given the current head and
//! the log's integration time. Pure: the head and the time are arguments.

use std::collections::BTreeSet;

use super::ClaimError;
use super::data_handling::DataHandling;
use super::diff::{Diff, diff};
use super::time::{IsoDuration, Timestamp};
use super::types::{Identifier, Sha256Digest, Supersedes};

/// Log-side parameters of the series rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPolicy {
    /// The largest accepted distance, either way, between `issuedAt` and the log's
    /// integration time.
    pub max_issued_at_skew_seconds: u64,
}

impl Default for SeriesPolicy {
    /// Ten minutes: room for clock drift and a slow submission, too little to
    /// backdate a version meaningfully.
    fn default() -> Self {
        SeriesPolicy {
            max_issued_at_skew_seconds: 600,
        }
    }
}

/// The current head of a data-handling series, as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesHead {
    /// The head's index in the log.
    pub log_index: u64,
    /// SHA-256 of the head's exact payload bytes.
    pub statement_sha256: Sha256Digest,
    /// The head itself.
    pub predicate: DataHandling,
}

impl SeriesHead {
    /// The `supersedes` value the next version must carry.
    pub fn supersedes(&self) -> Supersedes {
        Supersedes {
            sequence: self.predicate.sequence,
            log_index: self.log_index,
            statement_sha256: self.statement_sha256,
        }
    }
}

/// Every series problem of `next`, integrated at `integrated_at`, after the current
/// head (`None` if the series is new): continuity (`sequence`, `supersedes`, exact
/// `removedClaimIds`), `issuedAt` skew, `effectiveFrom` not before the head's, and
/// the notice rule.
///
/// The notice rule (spec/claim.md §6.3): if the diff from the head weakens anything
/// (a weakened or incomparable change, or a removed claim), `effectiveFrom` must be
/// at least `integrated_at` + the head's `changeNoticePeriod` (zero if the head made
/// no notice claim, so a weakening can never take effect before it is public).
pub fn check_series(
    head: Option<&SeriesHead>,
    next: &DataHandling,
    integrated_at: Timestamp,
    policy: &SeriesPolicy,
) -> Vec<ClaimError> {
    check_series_with_diff(head, next, integrated_at, policy).0
}

/// [`check_series`], also returning the diff from the head to `next` that the
/// notice rule computed (`None` exactly when there is no head), for a caller
/// that reports it (the monitor's events) without computing it twice.
pub fn check_series_with_diff(
    head: Option<&SeriesHead>,
    next: &DataHandling,
    integrated_at: Timestamp,
    policy: &SeriesPolicy,
) -> (Vec<ClaimError>, Option<Diff>) {
    let mut out = Vec::new();
    let Some(head) = head else {
        if next.sequence != 1 {
            out.push(ClaimError::SequenceNotNext {
                expected: 1,
                found: next.sequence,
            });
        }
        out.extend(check_issued_at(next.issued_at, integrated_at, policy));
        return (out, None);
    };
    let prev = &head.predicate;
    // Compared as values; spelled out only for a mismatch.
    let mismatch = |field: &str, expected: &str, found: &str| ClaimError::SeriesMismatch {
        field: field.into(),
        expected: expected.into(),
        found: found.into(),
    };
    if prev.issuer.domain != next.issuer.domain {
        out.push(mismatch(
            "issuer.domain",
            prev.issuer.domain.as_str(),
            next.issuer.domain.as_str(),
        ));
    }
    if prev.service.id != next.service.id {
        out.push(mismatch(
            "service.id",
            prev.service.id.as_str(),
            next.service.id.as_str(),
        ));
    }
    check_continuity(
        prev.sequence,
        head.supersedes(),
        next.sequence,
        next.supersedes,
        &mut out,
    );
    let expected = dropped_ids(prev, next);
    let found: BTreeSet<&str> = next
        .removed_claim_ids
        .iter()
        .map(Identifier::as_str)
        .collect();
    if expected != found {
        out.push(ClaimError::RemovedClaimIdsMismatch {
            expected: expected.iter().map(|s| s.to_string()).collect(),
            found: found.iter().map(|s| s.to_string()).collect(),
        });
    }
    out.extend(check_issued_at(next.issued_at, integrated_at, policy));
    // Without this, a version announcing a weakening with notice could be followed by
    // an identical one (no diff, so no notice) that takes effect at once.
    if next.effective_from < prev.effective_from {
        out.push(ClaimError::EffectiveBeforePrevious {
            previous: prev.effective_from,
            effective_from: next.effective_from,
        });
    }
    let d = diff(prev, next);
    if let Some(change) = d.first_weakening() {
        let period = prev
            .change_notice_period
            .as_ref()
            .map_or(0, IsoDuration::seconds);
        match integrated_at.checked_add_seconds(period) {
            None => out.push(ClaimError::TimeOutOfRange {
                field: "integration time + changeNoticePeriod".into(),
            }),
            Some(earliest) if next.effective_from < earliest => {
                out.push(ClaimError::NoticePeriod {
                    change,
                    earliest,
                    effective_from: next.effective_from,
                })
            }
            Some(_) => {}
        }
    }
    (out, Some(d))
}

/// Fills the continuity fields of `draft` so it can follow `head`: `sequence`,
/// `supersedes` and `removedClaimIds` (what `claimlog claim next` does).
pub fn prepare_next(head: &SeriesHead, draft: &mut DataHandling) {
    draft.sequence = head.predicate.sequence.saturating_add(1);
    draft.supersedes = Some(head.supersedes());
    draft.removed_claim_ids = dropped_ids(&head.predicate, draft)
        .into_iter()
        .filter_map(|id| Identifier::parse(id).ok())
        .collect();
}

/// The continuity rules every series shares (data-handling and key-binding,
/// DESIGN §3): the next version's `sequence` is the head's + 1 and its
/// `supersedes` names the head (`expected`). A missing `supersedes` is left to
/// validation (`MissingSupersedes`).
pub(crate) fn check_continuity(
    head_sequence: u64,
    expected: Supersedes,
    sequence: u64,
    supersedes: Option<Supersedes>,
    out: &mut Vec<ClaimError>,
) {
    // Saturating: a head at u64::MAX cannot be followed, since validation
    // demands supersedes.sequence = sequence - 1, which then cannot name the head.
    if sequence != head_sequence.saturating_add(1) {
        out.push(ClaimError::SequenceNotNext {
            expected: head_sequence.saturating_add(1),
            found: sequence,
        });
    }
    if let Some(found) = supersedes
        && found != expected
    {
        out.push(ClaimError::StaleSupersedes { expected, found });
    }
}

/// `issuedAt` must be within the policy's skew of the integration time.
pub(crate) fn check_issued_at(
    issued_at: Timestamp,
    integrated_at: Timestamp,
    policy: &SeriesPolicy,
) -> Option<ClaimError> {
    let skew = issued_at.seconds_since(integrated_at).unsigned_abs();
    (skew > policy.max_issued_at_skew_seconds).then_some(ClaimError::IssuedAtSkew {
        issued_at,
        integrated_at,
        max_skew_seconds: policy.max_issued_at_skew_seconds,
    })
}

/// Claim ids in `prev` that are not in `next`, sorted.
fn dropped_ids<'a>(prev: &'a DataHandling, next: &DataHandling) -> BTreeSet<&'a str> {
    prev.claims
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| next.claim(id).is_none())
        .collect()
}
