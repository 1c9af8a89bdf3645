//! The key-binding predicate, `https://claimlog.dev/predicate/key-binding/v1`
//! (spec/claim.md §5): one series per domain that binds root keys and signing keys,
//! with validity windows and revocations, plus the rules for who may sign what.
//!
//! Every version is the complete, append-only key history of the domain: keys and
//! revocations are never dropped, so any version answers "was this key good at time
//! t?" by itself. A claim is authorized by the binding that is the series head at
//! the claim's integration time.

use serde::{Deserialize, Serialize};

use super::series::{SeriesPolicy, check_continuity, check_issued_at};
use super::time::Timestamp;
use super::types::{Domain, PublicKey, Sha256Digest, Supersedes, Text};
use super::validate::check_version_fields;
use super::{ClaimError, Subject};

/// The predicate type URI of the key-binding predicate.
pub const KEY_BINDING_V1: &str = "https://claimlog.dev/predicate/key-binding/v1";

/// One version of a domain's key bindings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyBinding {
    /// The domain whose keys these are; the series key.
    pub domain: Domain,
    /// 1 for the enrollment, then +1 per version.
    pub sequence: u64,
    /// The previous version; required exactly when `sequence > 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Supersedes>,
    /// When the domain made this version.
    pub issued_at: Timestamp,
    /// Keys that sign key bindings. Their validity windows never overlap, so at any
    /// instant at most one root is current.
    pub root_keys: Vec<BoundKey>,
    /// Keys that sign data-handling claims for `domain`.
    pub signing_keys: Vec<BoundKey>,
    /// Keys declared compromised; never removed once listed.
    pub revocations: Vec<Revocation>,
}

/// A key with its validity window `[validFrom, validUntil)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BoundKey {
    /// SHA-256 of the raw 32-byte public key, hex (the DSSE keyid).
    pub keyid: Sha256Digest,
    /// The Ed25519 public key, base64.
    pub public_key: PublicKey,
    /// First instant the key is valid.
    pub valid_from: Timestamp,
    /// First instant it is no longer valid; absent means open-ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// A declaration that a key was compromised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Revocation {
    /// The revoked key.
    pub keyid: Sha256Digest,
    /// From this instant on, nothing signed by the key is accepted; entries the log
    /// integrated earlier stay valid.
    pub compromised_since: Timestamp,
    /// Free-text reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
}

/// The current head of a domain's key-binding series, as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBindingHead {
    /// The head's index in the log.
    pub log_index: u64,
    /// SHA-256 of the head's exact payload bytes.
    pub statement_sha256: Sha256Digest,
    /// The head itself.
    pub binding: KeyBinding,
}

impl KeyBindingHead {
    /// The `supersedes` value the next version must carry.
    pub fn supersedes(&self) -> Supersedes {
        Supersedes {
            sequence: self.binding.sequence,
            log_index: self.log_index,
            statement_sha256: self.statement_sha256,
        }
    }
}

impl KeyBinding {
    /// The revocation of `keyid`, if any.
    pub fn revocation(&self, keyid: &Sha256Digest) -> Option<&Revocation> {
        self.revocations.iter().find(|r| &r.keyid == keyid)
    }

    /// Whether `key` is inside its window at `at` and not revoked by then.
    pub fn is_valid_at(&self, key: &BoundKey, at: Timestamp) -> bool {
        key.valid_from <= at
            && key.valid_until.is_none_or(|until| at < until)
            && self
                .revocation(&key.keyid)
                .is_none_or(|r| at < r.compromised_since)
    }

    /// The root key valid at `at`, if any (validation guarantees at most one).
    pub fn current_root(&self, at: Timestamp) -> Option<&BoundKey> {
        self.root_keys.iter().find(|k| self.is_valid_at(k, at))
    }

    /// The root key with the latest `validFrom`: the one the subject names.
    pub fn newest_root(&self) -> Option<&BoundKey> {
        self.root_keys.iter().max_by_key(|k| k.valid_from)
    }
}

/// Where a domain publishes its root key for enrollment.
pub fn well_known_uri(domain: &Domain) -> String {
    format!("https://{domain}/.well-known/claimlog.json")
}

/// Checks one key-binding statement on its own; every problem.
pub(crate) fn validate_key_binding(subject: &[Subject], kb: &KeyBinding) -> Vec<ClaimError> {
    let mut out = Vec::new();
    check_version_fields(kb.sequence, kb.supersedes.as_ref(), &mut out);
    if kb.root_keys.is_empty() {
        out.push(ClaimError::EmptyList {
            field: "rootKeys".into(),
        });
    }
    let mut seen = Vec::new();
    for (list, keys) in [
        ("rootKeys", &kb.root_keys),
        ("signingKeys", &kb.signing_keys),
    ] {
        for (i, key) in keys.iter().enumerate() {
            if key.public_key.keyid() != key.keyid {
                out.push(ClaimError::KeyIdMismatch {
                    field: format!("{list}[{i}]"),
                    keyid: key.keyid.to_string(),
                });
            }
            if key.valid_until.is_some_and(|until| until <= key.valid_from) {
                out.push(ClaimError::EmptyValidity {
                    keyid: key.keyid.to_string(),
                });
            }
            // A key has one role: a root that could also sign claims would make a
            // claim-key compromise a root compromise.
            if seen.contains(&key.keyid) {
                out.push(ClaimError::DuplicateEntry {
                    field: "rootKeys+signingKeys".into(),
                    value: key.keyid.to_string(),
                });
            }
            seen.push(key.keyid);
        }
    }
    for (i, a) in kb.root_keys.iter().enumerate() {
        for b in &kb.root_keys[i + 1..] {
            let a_before_b = a.valid_until.is_some_and(|u| u <= b.valid_from);
            let b_before_a = b.valid_until.is_some_and(|u| u <= a.valid_from);
            if !a_before_b && !b_before_a && a.keyid != b.keyid {
                out.push(ClaimError::RootValidityOverlap {
                    first: a.keyid.to_string(),
                    second: b.keyid.to_string(),
                });
            }
        }
    }
    let mut revoked = Vec::new();
    for r in &kb.revocations {
        if !seen.contains(&r.keyid) {
            out.push(ClaimError::RevocationOfUnknownKey {
                keyid: r.keyid.to_string(),
            });
        }
        if revoked.contains(&r.keyid) {
            out.push(ClaimError::DuplicateEntry {
                field: "revocations".into(),
                value: r.keyid.to_string(),
            });
        }
        revoked.push(r.keyid);
    }
    if kb.sequence == 1 {
        if kb.root_keys.len() != 1 {
            out.push(ClaimError::Enrollment {
                reason: format!(
                    "must bind exactly one root key, found {}",
                    kb.root_keys.len()
                ),
            });
        }
        if !kb.revocations.is_empty() {
            out.push(ClaimError::Enrollment {
                reason: "must not revoke keys".into(),
            });
        }
    }
    match subject {
        [s] => {
            let uri = well_known_uri(&kb.domain);
            if s.name.as_str() != kb.domain.as_str() || s.uri.as_str() != uri {
                out.push(ClaimError::Subject {
                    reason: format!("must be named {} with uri {uri}", kb.domain),
                });
            }
            if let Some(root) = kb.newest_root()
                && s.digest.sha256 != root.keyid
            {
                out.push(ClaimError::Subject {
                    reason: format!("digest.sha256 must be the newest root keyid {}", root.keyid),
                });
            }
        }
        _ => out.push(ClaimError::Subject {
            reason: format!(
                "a key binding has exactly one subject, found {}",
                subject.len()
            ),
        }),
    }
    out
}

/// Series rules for a key binding integrated at `integrated_at`, given the domain's
/// current head (`None` for an enrollment). Every problem.
pub fn check_key_binding_series(
    head: Option<&KeyBindingHead>,
    next: &KeyBinding,
    integrated_at: Timestamp,
    policy: &SeriesPolicy,
) -> Vec<ClaimError> {
    let mut out = Vec::new();
    out.extend(check_issued_at(next.issued_at, integrated_at, policy));
    let Some(head) = head else {
        if next.sequence != 1 {
            out.push(ClaimError::SequenceNotNext {
                expected: 1,
                found: next.sequence,
            });
        }
        if next.current_root(integrated_at).is_none() {
            out.push(no_root(next, integrated_at));
        }
        return out;
    };
    let prev = &head.binding;
    if prev.domain != next.domain {
        out.push(ClaimError::SeriesMismatch {
            field: "domain".into(),
            expected: prev.domain.to_string(),
            found: next.domain.to_string(),
        });
    }
    check_continuity(
        prev.sequence,
        head.supersedes(),
        next.sequence,
        next.supersedes,
        &mut out,
    );
    for (old_list, new_list) in [
        (&prev.root_keys, &next.root_keys),
        (&prev.signing_keys, &next.signing_keys),
    ] {
        for old in old_list {
            match new_list.iter().find(|k| k.keyid == old.keyid) {
                None => out.push(ClaimError::KeyHistoryChanged {
                    keyid: old.keyid.to_string(),
                    reason: "dropped from its list (bindings are append-only)".into(),
                }),
                Some(new)
                    if new.public_key != old.public_key || new.valid_from != old.valid_from =>
                {
                    out.push(ClaimError::KeyHistoryChanged {
                        keyid: old.keyid.to_string(),
                        reason: "publicKey or validFrom changed".into(),
                    });
                }
                Some(_) => {}
            }
        }
    }
    for old in &prev.revocations {
        if next.revocation(&old.keyid) != Some(old) {
            out.push(ClaimError::RevocationChanged {
                keyid: old.keyid.to_string(),
            });
        }
    }
    if prev.current_root(integrated_at).is_none() {
        out.push(no_root(prev, integrated_at));
    } else if next.current_root(integrated_at).is_none() {
        out.push(no_root(next, integrated_at));
    }
    out
}

/// The keys whose signatures a key binding needs when integrated at `at`: the
/// enrolling root for an enrollment (the caller also checks it against the domain's
/// well-known document); otherwise the head's current root, and also the new
/// current root when the version rotates the root.
pub fn required_signers(
    head: Option<&KeyBinding>,
    next: &KeyBinding,
    at: Timestamp,
) -> Result<Vec<PublicKey>, ClaimError> {
    let new_root = next.current_root(at).ok_or_else(|| no_root(next, at))?;
    let Some(head) = head else {
        return Ok(vec![new_root.public_key]);
    };
    let old_root = head.current_root(at).ok_or_else(|| no_root(head, at))?;
    if old_root.keyid == new_root.keyid {
        Ok(vec![old_root.public_key])
    } else {
        Ok(vec![old_root.public_key, new_root.public_key])
    }
}

/// Whether the key `keyid` may sign a data-handling claim of `domain` integrated at
/// `at`, under the domain's key-binding head `binding`: it must be one of its
/// signing keys (root keys sign only bindings), inside its validity window and not
/// revoked at or before `at`.
pub fn authorize_claim_signer<'a>(
    binding: &'a KeyBinding,
    domain: &Domain,
    keyid: &Sha256Digest,
    at: Timestamp,
) -> Result<&'a BoundKey, ClaimError> {
    let not_bound = || ClaimError::KeyNotBound {
        keyid: keyid.to_string(),
        domain: domain.to_string(),
    };
    if &binding.domain != domain {
        return Err(not_bound());
    }
    let key = binding
        .signing_keys
        .iter()
        .find(|k| &k.keyid == keyid)
        .ok_or_else(not_bound)?;
    if let Some(r) = binding.revocation(keyid)
        && r.compromised_since <= at
    {
        return Err(ClaimError::KeyRevoked {
            keyid: keyid.to_string(),
            compromised_since: r.compromised_since,
        });
    }
    if !binding.is_valid_at(key, at) {
        return Err(ClaimError::KeyNotValid {
            keyid: keyid.to_string(),
            at,
        });
    }
    Ok(key)
}

fn no_root(kb: &KeyBinding, at: Timestamp) -> ClaimError {
    ClaimError::NoCurrentRoot {
        domain: kb.domain.to_string(),
        at,
    }
}
