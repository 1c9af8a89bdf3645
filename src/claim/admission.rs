//! Who may sign a statement at integration time (spec/claim.md §5-6): the
//! signature and key rules the log applies when it admits an entry, as pure
//! functions, so that a monitor re-verifying the log's entries applies exactly
//! the same rules from the log's own data.
//!
//! In scope: which signatures of an envelope verify with keys bound to the
//! issuer ([`verified_signers`]), whether one of them may sign a claim
//! ([`authorize_claim_signers`]), whether a key binding carries the root
//! signatures it needs ([`check_root_signatures`]).
//! Out of scope: finding the heads (the log's store, the monitor's state) and
//! the enrollment's well-known document (fetched by the log at submission).

use super::ClaimError;
use super::key_binding::{BoundKey, KeyBinding, authorize_claim_signer, required_signers};
use super::time::Timestamp;
use super::types::{Domain, PublicKey, Sha256Digest};
use crate::dsse::Envelope;
use crate::ed25519::PreparedKey;

/// Verifies every signature of `envelope` whose keyid names one of `keys`,
/// using `verify(signature position, key)`; returns the keyids that verified,
/// without repeats. Signatures naming other keys are ignored; a signature that
/// names one of `keys` and fails is [`ClaimError::SignatureInvalid`]: an
/// envelope carrying a forged signature is refused outright.
///
/// `verify` is a parameter so that a caller that verified signatures in bulk
/// (the monitor, in parallel) applies the same rule to its results; the log
/// passes [`verify_signature`].
pub fn verified_signers(
    envelope: &Envelope,
    keys: &[BoundKey],
    mut verify: impl FnMut(usize, &BoundKey) -> bool,
) -> Result<Vec<Sha256Digest>, ClaimError> {
    let mut verified = Vec::new();
    for (j, sig) in envelope.signatures().iter().enumerate() {
        // A keyid is only ever written as 64 lowercase hex digits, so a
        // keyid that does not parse names none of `keys`; parsing once per
        // signature replaces a hex string per key and comparison.
        let Ok(named) = Sha256Digest::parse(&sig.keyid) else {
            continue;
        };
        let Some(key) = keys.iter().find(|k| k.keyid == named) else {
            continue;
        };
        if !verify(j, key) {
            return Err(ClaimError::SignatureInvalid {
                index: j,
                keyid: key.keyid.to_string(),
            });
        }
        if !verified.contains(&key.keyid) {
            verified.push(key.keyid);
        }
    }
    Ok(verified)
}

/// Whether signature `index` of `envelope` verifies (Ed25519 `verify_strict`
/// over the DSSE PAE) with `key`. False for an index out of range or a key
/// that is not a valid point.
pub fn verify_signature(envelope: &Envelope, index: usize, key: &PublicKey) -> bool {
    PreparedKey::from_bytes(&key.0).is_ok_and(|k| verify_signature_with(envelope, index, &k))
}

/// [`verify_signature`] with a key already prepared, for callers that keep
/// the prepared keys of a binding (decompression is a field square root, a
/// sizeable share of one verification). The PAE is the envelope's own, built
/// once per envelope. False for an index out of range.
pub fn verify_signature_with(envelope: &Envelope, index: usize, key: &PreparedKey) -> bool {
    let Some(sig) = envelope.signatures().get(index) else {
        return false;
    };
    key.verify_strict(envelope.pae(), &sig.sig)
}

/// Whether a data-handling claim of `domain`, whose signatures by the keys in
/// `verified` verified, may be admitted at `at` under the domain's key-binding
/// head `keys` (`None`: the domain never enrolled). One verified signature by a
/// key valid at `at` suffices; if none is, the first key's reason is returned
/// ([`ClaimError::KeyNotBound`], `KeyNotValid` or `KeyRevoked`).
pub fn authorize_claim_signers(
    keys: Option<&KeyBinding>,
    domain: &Domain,
    verified: &[Sha256Digest],
    at: Timestamp,
) -> Result<(), ClaimError> {
    let not_bound = || ClaimError::KeyNotBound {
        keyid: verified.first().map(|k| k.to_string()).unwrap_or_default(),
        domain: domain.to_string(),
    };
    let Some(keys) = keys else {
        return Err(not_bound());
    };
    let mut first_error = None;
    for keyid in verified {
        match authorize_claim_signer(keys, domain, keyid, at) {
            Ok(_) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(not_bound))
}

/// Whether a key binding whose signatures by `verified` verified carries every
/// root signature it needs at `at` ([`required_signers`]): the enrolling root,
/// or the head's current root and, for a rotation, the new one too.
pub fn check_root_signatures(
    head: Option<&KeyBinding>,
    next: &KeyBinding,
    verified: &[Sha256Digest],
    at: Timestamp,
) -> Result<(), ClaimError> {
    for key in required_signers(head, next, at)? {
        let keyid = key.keyid();
        if !verified.contains(&keyid) {
            return Err(ClaimError::MissingRootSignature {
                keyid: keyid.to_string(),
            });
        }
    }
    Ok(())
}
