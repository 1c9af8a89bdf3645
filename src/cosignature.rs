//! C2SP cosignatures (c2sp.org/tlog-cosignature v1.0.1, v1.1.0-rc.1).
//!
//! In scope: the Ed25519 `cosignature/v1` signed message (type 0x04),
//! signing with a [`CosignerKey`] at a timestamp the caller passes in,
//! verifying with a [`CosignatureVerifier`] that reports the verified
//! timestamp, and verification (not signing) of ML-DSA-44 `subtree/v1`
//! cosignatures on checkpoints (type 0x06, specs.md §4.2). No clock: "now"
//! is always an argument.
//!
//! A cosignature line is `— <cosigner name> base64(key ID || timestamp u64
//! BE || signature)`. Ed25519 cosignatures do not commit to the cosigner
//! name, so one key must serve one cosigner identity only (specs.md §11.12).

use rand_core::CryptoRngCore;

use crate::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use crate::merkle::Hash;
use crate::note::{
    KeyId, KeyName, KeyType, NoteError, NoteVerifier, Signature, SignerKey, VerifiedNote,
    VerifierKey,
};

/// The largest timestamp allowed: 2^63 - 1 (tlog-cosignature §"Format").
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The first line of the `cosignature/v1` signed message.
const V1_HEADER: &str = "cosignature/v1\n";

/// The 12-byte label that starts a `subtree/v1` message.
const SUBTREE_V1_LABEL: &[u8] = b"subtree/v1\n\0";

/// Errors from cosigning and checking cosignatures.
///
/// A witness never sees these from untrusted input except through
/// [`Note::open`](crate::note::Note::open), which maps a bad cosignature by a
/// known key to [`NoteError::InvalidSignature`] (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The key is not of a cosignature type usable here.
    #[error("key type {0:?} cannot be used for this cosignature operation")]
    WrongKeyType(KeyType),
    /// A timestamp above 2^63 - 1.
    #[error("timestamp {0} is larger than 2^63-1")]
    TimestampTooLarge(u64),
    /// A timestamp further in the future than the caller allows.
    #[error("timestamp {timestamp} is after {now} plus the allowed skew")]
    TimestampInFuture {
        /// The cosignature's timestamp.
        timestamp: u64,
        /// The caller's current time.
        now: u64,
    },
    /// The signature has the wrong length for its key type.
    #[error("cosignature is {actual} bytes after the key ID, expected {expected}")]
    WrongLength {
        /// The length for the key type.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The signature line's name or key ID is not this verifier's.
    #[error("signature is by {name} {key_id}, not by this cosigner")]
    NotThisKey {
        /// The line's key name.
        name: KeyName,
        /// The line's key ID.
        key_id: KeyId,
    },
    /// The signature does not verify (or its base64 is not canonical).
    #[error("cosignature does not verify")]
    InvalidSignature,
    /// A `subtree/v1` field longer than its u8 length prefix allows.
    #[error("{0} is longer than 255 bytes")]
    FieldTooLong(&'static str),
    /// A key or note error.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// The `cosignature/v1` signed message: `cosignature/v1\n`, `time <ts>\n`,
/// then the entire checkpoint text (tlog-cosignature §"cosignature/v1").
pub fn signed_message_v1(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("{V1_HEADER}time {timestamp}\n{checkpoint_text}").into_bytes()
}

/// The ML-DSA-44 `subtree/v1` signed message (tlog-cosignature v1.1
/// §"subtree/v1"): label, u8-prefixed cosigner name, u64 BE timestamp,
/// u8-prefixed origin, u64 BE start and end, then the 32-byte hash. For a
/// checkpoint, `start` is 0 and `end` the tree size.
pub fn subtree_message_v1(
    cosigner: &KeyName,
    timestamp: u64,
    origin: &Origin,
    start: u64,
    end: u64,
    hash: &Hash,
) -> Result<Vec<u8>, CosignatureError> {
    // Key names are capped at 255 bytes; origins are not, so check both.
    let name = u8::try_from(cosigner.as_str().len())
        .map_err(|_| CosignatureError::FieldTooLong("cosigner name"))?;
    let origin_len = u8::try_from(origin.as_str().len())
        .map_err(|_| CosignatureError::FieldTooLong("log origin"))?;
    let mut msg = Vec::with_capacity(12 + 1 + 255 + 8 + 1 + 255 + 16 + 32);
    msg.extend_from_slice(SUBTREE_V1_LABEL);
    msg.push(name);
    msg.extend_from_slice(cosigner.as_str().as_bytes());
    msg.extend_from_slice(&timestamp.to_be_bytes());
    msg.push(origin_len);
    msg.extend_from_slice(origin.as_str().as_bytes());
    msg.extend_from_slice(&start.to_be_bytes());
    msg.extend_from_slice(&end.to_be_bytes());
    msg.extend_from_slice(hash.as_bytes());
    Ok(msg)
}

/// The timestamp of a cosignature line for a key of `key_type`, checking
/// the exact length for the type and the 2^63 - 1 bound. This does not
/// verify the signature: use it on lines that [`crate::note::Note::open`]
/// verified, or for display.
pub fn timestamp(sig: &Signature, key_type: KeyType) -> Result<u64, CosignatureError> {
    parse_timestamp(sig.signature(), key_type)
}

/// Rejects a timestamp more than `max_future_skew` seconds after `now`
/// (tlog-cosignature: verifiers MAY reject future timestamps; specs.md
/// §11.13 suggests a few minutes of tolerance).
pub fn check_not_future(
    timestamp: u64,
    now: u64,
    max_future_skew: u64,
) -> Result<(), CosignatureError> {
    if timestamp > now.saturating_add(max_future_skew) {
        return Err(CosignatureError::TimestampInFuture { timestamp, now });
    }
    Ok(())
}

/// A witness's Ed25519 `cosignature/v1` (type 0x04) signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    key: SignerKey,
}

impl CosignerKey {
    /// Wraps a signer key of type 0x04.
    pub fn new(key: SignerKey) -> Result<CosignerKey, CosignatureError> {
        if key.key_type() != KeyType::CosignatureV1 {
            return Err(CosignatureError::WrongKeyType(key.key_type()));
        }
        Ok(CosignerKey { key })
    }

    /// Parses a Go-style `PRIVATE+KEY+...` string of type 0x04.
    pub fn parse(skey: &str) -> Result<CosignerKey, CosignatureError> {
        CosignerKey::new(SignerKey::parse(skey)?)
    }

    /// Derives the key from a 32-byte Ed25519 seed.
    pub fn from_seed(name: KeyName, seed: [u8; 32]) -> Result<CosignerKey, CosignatureError> {
        CosignerKey::new(SignerKey::from_seed(name, KeyType::CosignatureV1, seed)?)
    }

    /// Generates a fresh key from the caller's cryptographic RNG.
    pub fn generate(
        name: KeyName,
        rng: &mut impl CryptoRngCore,
    ) -> Result<CosignerKey, CosignatureError> {
        CosignerKey::new(SignerKey::generate(name, KeyType::CosignatureV1, rng)?)
    }

    /// The cosigner name.
    pub fn name(&self) -> &KeyName {
        self.key.name()
    }

    /// The key ID (computed with type byte 0x04).
    pub fn key_id(&self) -> KeyId {
        self.key.key_id()
    }

    /// The underlying signer key (for [`SignerKey::to_skey_string`]).
    pub fn signer_key(&self) -> &SignerKey {
        &self.key
    }

    /// The matching type-0x04 verifier key.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            key: self.key.verifier(),
        }
    }

    /// Cosigns `checkpoint` at `timestamp` (POSIX seconds, at most 2^63 - 1),
    /// returning the signature line to append to the checkpoint's note.
    pub fn sign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<Signature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge(timestamp));
        }
        let sig = self
            .key
            .sign_ed25519(&signed_message_v1(timestamp, &checkpoint.to_string()));
        let mut bytes = Vec::with_capacity(8 + 64);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&sig);
        Ok(Signature::new(self.name().clone(), self.key_id(), &bytes)?)
    }
}

/// A cosigner's verifier key (type 0x04 or 0x06). As a [`NoteVerifier`] it
/// can be passed to [`crate::note::Note::open`] alongside log keys; it also
/// reports the timestamp it verified ("witnessed by whom and when").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    key: VerifierKey,
}

impl CosignatureVerifier {
    /// Wraps a verifier key of type 0x04 or 0x06.
    pub fn new(key: VerifierKey) -> Result<CosignatureVerifier, CosignatureError> {
        match key.key_type() {
            KeyType::CosignatureV1 | KeyType::MlDsa44 => Ok(CosignatureVerifier { key }),
            other => Err(CosignatureError::WrongKeyType(other)),
        }
    }

    /// Parses a vkey of type 0x04 or 0x06.
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, CosignatureError> {
        CosignatureVerifier::new(VerifierKey::parse(vkey)?)
    }

    /// The verifier key.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// Verifies one cosignature line on `checkpoint` and returns its
    /// timestamp. The line must carry this key's name and ID and be
    /// canonically encoded.
    pub fn verify(
        &self,
        checkpoint: &Checkpoint,
        sig: &Signature,
    ) -> Result<u64, CosignatureError> {
        if sig.name() != self.key.name() || sig.key_id() != self.key.key_id() {
            return Err(CosignatureError::NotThisKey {
                name: sig.name().clone(),
                key_id: sig.key_id(),
            });
        }
        let ts = parse_timestamp(sig.signature(), self.key.key_type())?;
        if !sig.is_canonical() {
            return Err(CosignatureError::InvalidSignature);
        }
        match verify_cosignature(
            &self.key,
            checkpoint.to_string().as_bytes(),
            sig.signature(),
        ) {
            Some(verified) if verified == ts => Ok(ts),
            _ => Err(CosignatureError::InvalidSignature),
        }
    }

    /// Checks this cosigner's lines on a checkpoint opened with the log's
    /// keys: `Ok(Some(ts))` with the latest timestamp if it cosigned,
    /// `Ok(None)` if no line carries its name and key ID, and an error if
    /// any such line fails (as [`crate::note::Note::open`] would reject it).
    pub fn witnessed(&self, signed: &SignedCheckpoint) -> Result<Option<u64>, CosignatureError> {
        let mut latest = None;
        for sig in signed.note().signatures() {
            if sig.name() == self.key.name() && sig.key_id() == self.key.key_id() {
                let ts = self.verify(signed.checkpoint(), sig)?;
                latest = latest.max(Some(ts));
            }
        }
        Ok(latest)
    }

    /// The latest timestamp among this cosigner's signatures that verified
    /// when `note` was opened (with this verifier among the verifiers), or
    /// `None` if it did not cosign.
    pub fn witnessed_at(&self, note: &VerifiedNote) -> Option<u64> {
        note.verified_signatures()
            .filter(|s| s.name() == self.key.name() && s.key_id() == self.key.key_id())
            .filter_map(|s| parse_timestamp(s.signature(), self.key.key_type()).ok())
            .max()
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &KeyName {
        self.key.name()
    }
    fn key_id(&self) -> KeyId {
        self.key.key_id()
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        verify_cosignature(&self.key, msg, sig).is_some()
    }
}

/// Verifies a timestamped cosignature (types 0x04 and 0x06) over the note
/// text `msg`, returning the verified timestamp. `sig` excludes the key ID.
/// For 0x06 the text must parse as a checkpoint, since `subtree/v1` signs
/// its origin, size and root rather than the text.
pub(crate) fn verify_cosignature(key: &VerifierKey, msg: &[u8], sig: &[u8]) -> Option<u64> {
    let ts = parse_timestamp(sig, key.key_type()).ok()?;
    let (_, raw_sig) = sig.split_at(8);
    match key.key_type() {
        KeyType::CosignatureV1 => {
            let text = std::str::from_utf8(msg).ok()?;
            key.verify_ed25519(&signed_message_v1(ts, text), raw_sig)
                .then_some(ts)
        }
        KeyType::MlDsa44 => {
            let checkpoint = Checkpoint::parse(std::str::from_utf8(msg).ok()?).ok()?;
            let message = subtree_message_v1(
                key.name(),
                ts,
                checkpoint.origin(),
                0,
                checkpoint.size(),
                checkpoint.root(),
            )
            .ok()?;
            key.verify_ml_dsa_44(&message, raw_sig).then_some(ts)
        }
        KeyType::Ed25519 => None,
    }
}

/// Splits off and bounds the timestamp, checking the exact signature length
/// for the key type.
fn parse_timestamp(sig: &[u8], key_type: KeyType) -> Result<u64, CosignatureError> {
    if !matches!(key_type, KeyType::CosignatureV1 | KeyType::MlDsa44) {
        return Err(CosignatureError::WrongKeyType(key_type));
    }
    let expected = key_type.signature_len();
    if sig.len() != expected {
        return Err(CosignatureError::WrongLength {
            expected,
            actual: sig.len(),
        });
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&sig[..8]);
    let ts = u64::from_be_bytes(ts);
    if ts > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge(ts));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests;
