//! DSSE v1 envelopes (github.com/secure-systems-lab/dsse, `envelope.md` and
//! `protocol.md`) signed with Ed25519, as used around in-toto Statements.
//!
//! In scope: strict parsing of the JSON envelope
//! `{payloadType, payload, signatures[{keyid, sig}]}`, the pre-authentication
//! encoding (PAE), signing, strict verification over the exact payload bytes
//! (the payload is never re-serialized before verifying), batched verification
//! of many envelopes, the deterministic re-encoding the log stores, and the
//! statement digest (`statementSha256`).
//!
//! Out of scope: what the payload means (the in-toto Statement and the claim
//! predicate are validated elsewhere) and where keys come from.
//!
//! Decisions beyond the DSSE spec, all in the direction of strictness:
//! - The envelope is at most [`MAX_ENVELOPE_BYTES`]; unknown and duplicate
//!   JSON keys are rejected; `keyid` may be absent (treated as `""`) but not
//!   `null`.
//! - `payload` and `sig` are standard padded base64 (RFC 4648 §4) with
//!   canonical padding bits; no URL-safe alphabet, no whitespace.
//! - Only Ed25519 is supported, so every `sig` must decode to 64 bytes.
//! - A signature is matched to a trusted key by its `keyid`, which for our keys
//!   is the lowercase hex SHA-256 of the raw 32-byte public key. A signature
//!   whose keyid is unknown is ignored; one whose keyid is known but which does
//!   not verify makes the whole envelope invalid (the same rule signed notes
//!   use, c2sp.org/signed-note "Verifying").

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ed25519::{Challenge, PreparedKey, holds_all};
use crate::note::{KeyType, SignerKey, VerifierKey};

/// The payload type of an in-toto Statement (in-toto attestation spec, "Envelope").
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// The largest envelope, in bytes of JSON, that [`Envelope::parse`] accepts.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// The most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 16;

/// The longest `payloadType` accepted, in bytes.
pub const MAX_PAYLOAD_TYPE_BYTES: usize = 256;

/// The longest `keyid` accepted, in bytes.
pub const MAX_KEYID_BYTES: usize = 256;

/// Why an envelope was rejected.
///
/// Every variant but [`DsseError::InvalidSignature`] and
/// [`DsseError::NoTrustedSignature`] describes malformed input (HTTP 400, or
/// 413 for [`DsseError::TooLarge`]); those two become 403 at the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// The JSON is longer than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope is {0} bytes, more than the limit of {MAX_ENVELOPE_BYTES}")]
    TooLarge(usize),
    /// The JSON does not have the envelope's shape (syntax error, unknown or
    /// duplicate field, wrong type, trailing data).
    #[error("malformed envelope JSON: {0}")]
    Json(String),
    /// `payloadType` is empty, too long or contains control characters.
    #[error("invalid payloadType")]
    PayloadType,
    /// `payload` is not strict standard base64.
    #[error("payload is not canonical standard base64")]
    PayloadBase64,
    /// `payload` decodes to zero bytes.
    #[error("payload is empty")]
    EmptyPayload,
    /// `signatures` is empty.
    #[error("envelope has no signatures")]
    NoSignatures,
    /// More than [`MAX_SIGNATURES`] signatures.
    #[error("envelope has {0} signatures, more than the limit of {MAX_SIGNATURES}")]
    TooManySignatures(usize),
    /// A `keyid` is too long or contains control characters.
    #[error("signature {0}: invalid keyid")]
    KeyId(usize),
    /// A `sig` is not strict standard base64 of 64 bytes.
    #[error("signature {0}: sig is not canonical base64 of a 64-byte Ed25519 signature")]
    SignatureEncoding(usize),
    /// The same (keyid, sig) pair appears twice.
    #[error("signature {0} duplicates an earlier one")]
    DuplicateSignature(usize),
    /// The payload type is not the one the caller requires.
    #[error("payloadType must be {expected:?}")]
    WrongPayloadType {
        /// The required payload type.
        expected: String,
    },
    /// A signature by a trusted key (matched by keyid) does not verify.
    #[error("signature {0} by a trusted key does not verify")]
    InvalidSignature(usize),
    /// No signature has the keyid of a trusted key.
    #[error("no signature by a trusted key")]
    NoTrustedSignature,
}

/// One signature of an envelope: the unauthenticated `keyid` hint and the
/// Ed25519 signature over the PAE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The keyid hint, `""` when absent. Not covered by the signature.
    pub keyid: String,
    /// The Ed25519 signature over [`pae`] of the envelope.
    pub sig: Signature,
}

/// A DSSE envelope that was well formed when parsed. Its payload is kept as
/// the exact bytes that were signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Borrowed from [`PAYLOAD_TYPE_IN_TOTO`] when it is that type (every
    /// envelope the log accepts): nothing to allocate per envelope.
    payload_type: Cow<'static, str>,
    /// The PAE, built once (the payload is decoded straight into it): every
    /// signature covers it, and the payload is its tail.
    pae: Vec<u8>,
    /// Where the payload starts in `pae`.
    payload_start: usize,
    signatures: Vec<EnvelopeSignature>,
}

/// A set of trusted Ed25519 keys, looked up by DSSE keyid.
///
/// Keys are parsed once and kept prepared ([`PreparedKey`]: decompressed,
/// negated, small order known) so verifying many envelopes does no per-key
/// work.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, PreparedKey>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds a key under its keyid ([`keyid`]). Returns `false`, leaving the
    /// set unchanged, for a weak (small-order) key, which `verify_strict`
    /// would reject anyway, or one with a torsion component, which no honest
    /// key generator produces.
    pub fn insert(&mut self, key: VerifyingKey) -> bool {
        // Under a key with a torsion component, cofactored verifiers (which
        // other implementations may be) and this strict one disagree on
        // some signatures; honest keys never have one.
        if key.is_weak() || !key.to_edwards().is_torsion_free() {
            return false;
        }
        self.keys.insert(keyid(&key), PreparedKey::new(&key));
        true
    }

    /// Adds the Ed25519 key of a note verifier key of type 0x01 (how the
    /// log's submitter allowlist names keys). Returns `false` for other key
    /// types and for keys [`KeySet::insert`] refuses.
    pub fn insert_note_key(&mut self, vkey: &VerifierKey) -> bool {
        if vkey.key_type() != KeyType::Ed25519 {
            return false;
        }
        let Ok(bytes) = <[u8; 32]>::try_from(vkey.public_key()) else {
            return false;
        };
        match VerifyingKey::from_bytes(&bytes) {
            Ok(key) => self.insert(key),
            Err(_) => false,
        }
    }

    /// The key with this keyid.
    pub fn get(&self, keyid: &str) -> Option<&VerifyingKey> {
        self.keys.get(keyid).map(PreparedKey::verifying_key)
    }

    /// The key with this keyid, prepared for verification.
    pub fn get_prepared(&self, keyid: &str) -> Option<&PreparedKey> {
        self.keys.get(keyid)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The DSSE keyid of an Ed25519 key: lowercase hex SHA-256 of the raw
/// 32-byte public key.
pub fn keyid(key: &VerifyingKey) -> String {
    hex_lower(&Sha256::digest(key.as_bytes()))
}

/// The pre-authentication encoding of DSSE v1 (`protocol.md`):
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN is the
/// byte length in ASCII decimal without leading zeros.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = pae_header(payload_type, payload.len(), payload.len());
    out.extend_from_slice(payload);
    out
}

/// The PAE up to the body (`"DSSEv1" SP LEN(type) SP type SP LEN(body) SP`),
/// with room for `room` more bytes (the body, or what a decoder asks for to
/// write it).
fn pae_header(payload_type: &str, body_len: usize, room: usize) -> Vec<u8> {
    // usize has at most 20 decimal digits; the two lengths are written
    // straight into the buffer, not through a `String` each.
    let mut out = Vec::with_capacity(10 + 40 + payload_type.len() + room);
    out.extend_from_slice(b"DSSEv1 ");
    push_decimal(&mut out, payload_type.len());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    push_decimal(&mut out, body_len);
    out.push(b' ');
    out
}

/// Appends `n` in ASCII decimal without leading zeros (as `n.to_string()`).
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    // usize is at most 64 bits on every target Rust supports, so the cast is exact.
    out.extend_from_slice(crate::checkpoint::format_decimal(n as u64, &mut [0; 20]));
}

/// Verifies many envelopes, each against its key set: the same results as
/// [`Envelope::verify`] on each, in order, with the final comparison of every
/// signature done at once ([`PendingVerification::finish_all`]: one field
/// inversion for the lot instead of one per signature).
pub fn verify_many(items: &[(&Envelope, &KeySet)]) -> Vec<Result<usize, DsseError>> {
    let started: Vec<Result<PendingVerification, DsseError>> = items
        .iter()
        .map(|(env, set)| env.start_verify(set))
        .collect();
    PendingVerification::finish_results(
        started
            .iter()
            .map(|r| r.as_ref().map_err(Clone::clone))
            .collect(),
    )
}

/// An envelope's verification ([`Envelope::verify`]) with its costly half
/// done ([`Envelope::start_verify`]): every signature under a trusted key
/// has its `[S]B - [k]A` computed, and only the comparisons with R are left
/// ([`PendingVerification::finish`], or many at once with
/// [`PendingVerification::finish_all`]).
#[derive(Debug, Clone)]
pub struct PendingVerification {
    /// The first signature under a trusted key (the result on success).
    first: usize,
    /// Each signature under a trusted key, in order, with its challenge.
    checks: Vec<(usize, Challenge)>,
}

impl PendingVerification {
    /// The result of [`Envelope::verify`].
    pub fn finish(&self) -> Result<usize, DsseError> {
        let verdicts: Vec<bool> = self.checks.iter().map(|(_, c)| c.holds()).collect();
        self.result(&verdicts)
    }

    /// [`PendingVerification::finish`] of each, in order, with one field
    /// inversion for all their signatures.
    pub fn finish_all(items: &[&PendingVerification]) -> Vec<Result<usize, DsseError>> {
        PendingVerification::finish_results(items.iter().map(|p| Ok(*p)).collect())
    }

    /// [`PendingVerification::finish_all`] with failures already known
    /// passed through in place.
    fn finish_results(
        items: Vec<Result<&PendingVerification, DsseError>>,
    ) -> Vec<Result<usize, DsseError>> {
        let challenges: Vec<Challenge> = items
            .iter()
            .flatten()
            .flat_map(|p| p.checks.iter().map(|(_, c)| *c))
            .collect();
        // One verdict per challenge, in order: each item takes its own.
        let verdicts = holds_all(&challenges);
        let mut rest = verdicts.as_slice();
        items
            .into_iter()
            .map(|item| {
                let p = item?;
                let (mine, tail) = rest.split_at(p.checks.len());
                rest = tail;
                p.result(mine)
            })
            .collect()
    }

    /// The verification's result given each check's verdict: the first
    /// signature that fails, in order, or the first trusted one.
    fn result(&self, verdicts: &[bool]) -> Result<usize, DsseError> {
        match self.checks.iter().zip(verdicts).find(|(_, ok)| !**ok) {
            Some(((j, _), _)) => Err(DsseError::InvalidSignature(*j)),
            None => Ok(self.first),
        }
    }
}

impl Envelope {
    /// Parses an envelope strictly: size cap first, then JSON with no unknown
    /// or duplicate fields, then each field (see the module documentation).
    ///
    /// Input in the canonical encoding with plain strings (what the log
    /// stores) takes a fast path, `canonical::parse_plain`, that gives the
    /// same envelope; anything else, including every input it cannot vouch
    /// for, is parsed as JSON, which also names the fault.
    pub fn parse(json: &[u8]) -> Result<Envelope, DsseError> {
        if let Some(env) = canonical::parse_plain(json) {
            return Ok(env);
        }
        Envelope::parse_raw(json).map(|(env, _)| env)
    }

    /// [`Envelope::parse`], and whether `json` is exactly the canonical
    /// encoding ([`Envelope::to_canonical_json`]), checked without encoding
    /// anything again (the base64 fields are compared as received: see
    /// `matches_canonical`).
    pub fn parse_checking_canonical(json: &[u8]) -> Result<(Envelope, bool), DsseError> {
        // What the fast path accepts is canonical by construction (see
        // `canonical`); everything else is decided by the JSON parse.
        if let Some(env) = canonical::parse_plain(json) {
            return Ok((env, true));
        }
        let (env, raw) = Envelope::parse_raw(json)?;
        let canonical = env.matches_canonical(json, &raw);
        Ok((env, canonical))
    }

    /// The parse, returning the JSON fields as read (the base64 strings are
    /// left in `raw`; the strings moved into the envelope are left empty).
    fn parse_raw(json: &[u8]) -> Result<(Envelope, RawEnvelope<'_>), DsseError> {
        if json.len() > MAX_ENVELOPE_BYTES {
            return Err(DsseError::TooLarge(json.len()));
        }
        // Derived `Deserialize` for a struct reports a field that appears
        // twice ("duplicate field"), which `serde_json::Value` would silently
        // collapse; `deny_unknown_fields` rejects the rest. Tests cover both.
        // The base64 strings are borrowed from `json` when they hold no
        // escape (always, in practice): no copy of the payload text.
        let mut raw: RawEnvelope =
            serde_json::from_slice(json).map_err(|e| DsseError::Json(e.to_string()))?;
        let payload_type = payload_type_of(std::mem::take(&mut raw.payload_type));
        let env = Envelope::from_fields(raw.payload.as_bytes(), payload_type, &mut raw.signatures)?;
        Ok((env, raw))
    }

    /// The checks of every field once the JSON is read, in this order:
    /// `payloadType`, `payload`, the number of signatures, then each
    /// signature's `keyid`, `sig` and uniqueness. Shared by the JSON parse
    /// and the canonical fast path (`canonical::parse_plain`), so both give
    /// the same envelope and the same error. Takes the `keyid`s out of `sigs`.
    fn from_fields(
        payload_b64: &[u8],
        payload_type: Cow<'static, str>,
        sigs: &mut [RawSignature<'_>],
    ) -> Result<Envelope, DsseError> {
        if payload_type.is_empty()
            || payload_type.len() > MAX_PAYLOAD_TYPE_BYTES
            || payload_type.chars().any(char::is_control)
        {
            return Err(DsseError::PayloadType);
        }
        // Decode straight into the PAE, whose header needs the payload's
        // length: for padded base64 (the only kind STANDARD accepts, so a
        // length that is not a multiple of 4 fails to decode) it is 3 bytes
        // per 4 characters less one per `=`. Checked after decoding anyway,
        // so a wrong guess can only refuse, never mis-frame the PAE.
        let b64 = payload_b64;
        let padding = b64.iter().rev().take(2).filter(|&&c| c == b'=').count();
        let payload_len = (b64.len() / 4 * 3).saturating_sub(padding);
        // Room for what `decode_vec` sizes the buffer to (3 bytes per 4
        // characters, padding included) before it truncates to what it wrote:
        // with exactly `payload_len`, it would reallocate (and copy) the PAE.
        let mut pae = pae_header(&payload_type, payload_len, b64.len() / 4 * 3 + 3);
        let payload_start = pae.len();
        STANDARD
            .decode_vec(b64, &mut pae)
            .map_err(|_| DsseError::PayloadBase64)?;
        if pae.len() - payload_start != payload_len {
            return Err(DsseError::PayloadBase64);
        }
        if payload_len == 0 {
            return Err(DsseError::EmptyPayload);
        }
        if sigs.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        if sigs.len() > MAX_SIGNATURES {
            return Err(DsseError::TooManySignatures(sigs.len()));
        }
        let mut signatures: Vec<EnvelopeSignature> = Vec::with_capacity(sigs.len());
        for (i, s) in sigs.iter_mut().enumerate() {
            if s.keyid.len() > MAX_KEYID_BYTES || s.keyid.chars().any(char::is_control) {
                return Err(DsseError::KeyId(i));
            }
            // 88 characters decode to 64 bytes; anything longer that is
            // valid base64 needs more than 66 and fails here.
            let mut bytes = [0u8; 66];
            let n = STANDARD
                .decode_slice(s.sig.as_bytes(), &mut bytes)
                .map_err(|_| DsseError::SignatureEncoding(i))?;
            let bytes: [u8; 64] = bytes[..n]
                .try_into()
                .map_err(|_| DsseError::SignatureEncoding(i))?;
            let sig = EnvelopeSignature {
                keyid: std::mem::take(&mut s.keyid),
                sig: Signature::from_bytes(&bytes),
            };
            if signatures.contains(&sig) {
                return Err(DsseError::DuplicateSignature(i));
            }
            signatures.push(sig);
        }
        Ok(Envelope {
            payload_type,
            pae,
            payload_start,
            signatures,
        })
    }

    /// Signs `payload` with one Ed25519 key; the keyid is [`keyid`] of its
    /// verifying key.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        let mut env = Envelope::unsigned(payload_type, payload);
        let sig = key.sign(env.pae());
        env.signatures.push(EnvelopeSignature {
            keyid: keyid(&key.verifying_key()),
            sig,
        });
        env
    }

    /// Signs `payload` with a note signer key of type 0x01 (the key files
    /// `claimlog keygen` writes); `None` for any other key type.
    pub fn sign_with_note_key(
        payload_type: &str,
        payload: &[u8],
        key: &SignerKey,
    ) -> Option<Envelope> {
        if key.key_type() != KeyType::Ed25519 {
            return None;
        }
        let public: [u8; 32] = key.verifier().public_key().try_into().ok()?;
        let mut env = Envelope::unsigned(payload_type, payload);
        let sig = key.sign_ed25519(env.pae());
        env.signatures.push(EnvelopeSignature {
            keyid: hex_lower(&Sha256::digest(public)),
            sig: Signature::from_bytes(&sig),
        });
        Some(env)
    }

    /// The payload type.
    pub fn payload_type(&self) -> &str {
        self.payload_type.as_ref()
    }

    /// The exact payload bytes that were signed.
    pub fn payload(&self) -> &[u8] {
        &self.pae[self.payload_start..]
    }

    /// The signatures, in envelope order.
    pub fn signatures(&self) -> &[EnvelopeSignature] {
        &self.signatures
    }

    /// Fails unless the payload type is `expected`.
    pub fn require_payload_type(&self, expected: &str) -> Result<(), DsseError> {
        if self.payload_type == expected {
            Ok(())
        } else {
            Err(DsseError::WrongPayloadType {
                expected: expected.to_owned(),
            })
        }
    }

    /// The payload, taking it out of the envelope without copying it to a
    /// new allocation (the PAE's header is cut off in place).
    pub fn into_payload(self) -> Vec<u8> {
        let mut pae = self.pae;
        pae.drain(..self.payload_start);
        pae
    }

    /// The PAE and where the payload starts in it, taken out of the envelope
    /// (for keeping the payload without moving it: see [`Envelope::payload`]).
    pub(crate) fn into_pae(self) -> (Vec<u8>, usize) {
        (self.pae, self.payload_start)
    }

    /// The PAE of this envelope: the bytes every signature covers (built
    /// once, when the envelope was parsed or signed).
    pub fn pae(&self) -> &[u8] {
        &self.pae
    }

    /// Verifies the envelope against trusted keys with `verify_strict`.
    ///
    /// Returns the index of the first signature that verified. Fails with
    /// [`DsseError::InvalidSignature`] if any signature whose keyid names a
    /// trusted key does not verify, and with [`DsseError::NoTrustedSignature`]
    /// if none names a trusted key.
    pub fn verify(&self, keys: &KeySet) -> Result<usize, DsseError> {
        self.start_verify(keys)?.finish()
    }

    /// The costly half of [`Envelope::verify`]: finds the signatures under
    /// trusted keys (failing as `verify` does if there is none, or a keyid
    /// is malformed) and computes each one's challenge; the comparisons are
    /// left to [`PendingVerification::finish`] or
    /// [`PendingVerification::finish_all`].
    pub fn start_verify(&self, keys: &KeySet) -> Result<PendingVerification, DsseError> {
        let matched = self.matching_signatures(keys)?;
        let Some(&(first, _)) = matched.first() else {
            return Err(DsseError::NoTrustedSignature);
        };
        let checks = matched
            .into_iter()
            .map(|(j, key)| (j, key.challenge(&self.pae, &self.signatures[j].sig)))
            .collect();
        Ok(PendingVerification { first, checks })
    }

    /// The deterministic encoding the log stores: JSON with keys in sorted
    /// order (`payload`, `payloadType`, `signatures`; `keyid`, `sig`), no
    /// whitespace, `keyid` always present, strings escaped as serde_json
    /// does. Parsing it gives back an equal envelope.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Enough (one byte more than needed) when the strings need no escape,
        // always the case for the log's envelopes, so the buffer is never
        // grown and copied: the
        // base64 payload, 88 characters per signature, the strings and the
        // fixed JSON around them.
        let len = self.payload().len().div_ceil(3) * 4
            + "{\"payload\":\"\",\"payloadType\":\"\",\"signatures\":[]}".len()
            + self.payload_type.len()
            + self
                .signatures
                .iter()
                .map(|s| "{\"keyid\":\"\",\"sig\":\"\"},".len() + s.keyid.len() + 88)
                .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        if self.write_canonical_json(&mut out, None).is_err() {
            unreachable!("writing to a Vec cannot fail");
        }
        out
    }

    /// Whether `json` is exactly [`Envelope::to_canonical_json`], checked
    /// piece by piece against the same writer, without building a copy.
    pub fn is_canonical_json(&self, json: &[u8]) -> bool {
        let mut matcher = Matcher { rest: json };
        self.write_canonical_json(&mut matcher, None).is_ok() && matcher.rest.is_empty()
    }

    /// Whether `json`, which [`Envelope::parse_raw`] turned into this
    /// envelope and `raw`, is the canonical encoding. `raw`'s base64 strings
    /// stand for encoding the payload and signatures again: the parse
    /// accepted each as strict base64 (canonical padding, no trailing bits),
    /// under which every byte string has exactly one encoding, so encoding
    /// what they decoded to gives them back.
    fn matches_canonical(&self, json: &[u8], raw: &RawEnvelope<'_>) -> bool {
        let mut matcher = Matcher { rest: json };
        self.write_canonical_json(&mut matcher, Some(raw)).is_ok() && matcher.rest.is_empty()
    }

    /// Writes the canonical encoding (see [`Envelope::to_canonical_json`]),
    /// with the base64 strings of `raw` if given (see `matches_canonical`).
    /// Fails only if `out` does.
    fn write_canonical_json(
        &self,
        out: &mut impl Write,
        raw: Option<&RawEnvelope<'_>>,
    ) -> std::io::Result<()> {
        out.write_all(b"{\"payload\":\"")?;
        match raw {
            Some(raw) => out.write_all(raw.payload.as_bytes())?,
            None => write_base64(out, self.payload())?,
        }
        out.write_all(b"\",\"payloadType\":")?;
        // serde_json's string escaping is deterministic (short escapes for
        // the usual characters, \u00XX for other controls, everything else
        // verbatim); it fails only if `out` does.
        serde_json::to_writer(&mut *out, &self.payload_type).map_err(std::io::Error::from)?;
        out.write_all(b",\"signatures\":[")?;
        for (i, s) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(b"{\"keyid\":")?;
            serde_json::to_writer(&mut *out, &s.keyid).map_err(std::io::Error::from)?;
            out.write_all(b",\"sig\":\"")?;
            match raw.and_then(|r| r.signatures.get(i)) {
                Some(r) => out.write_all(r.sig.as_bytes())?,
                None => write_base64(out, &s.sig.to_bytes())?,
            }
            out.write_all(b"\"}")?;
        }
        out.write_all(b"]}")
    }

    /// SHA-256 of the exact payload bytes: the `statementSha256` that later
    /// versions of a claim use to name this one.
    pub fn statement_sha256(&self) -> [u8; 32] {
        Sha256::digest(self.payload()).into()
    }

    /// The signatures whose keyid names a trusted key, with that key.
    fn matching_signatures<'k>(
        &self,
        keys: &'k KeySet,
    ) -> Result<Vec<(usize, &'k PreparedKey)>, DsseError> {
        Ok(self
            .signatures
            .iter()
            .enumerate()
            .filter_map(|(j, s)| keys.get_prepared(&s.keyid).map(|k| (j, k)))
            .collect())
    }

    /// An envelope with no signatures yet (for the signing constructors).
    fn unsigned(payload_type: &str, payload: &[u8]) -> Envelope {
        let mut pae = pae_header(payload_type, payload.len(), payload.len());
        let payload_start = pae.len();
        pae.extend_from_slice(payload);
        Envelope {
            payload_type: payload_type_of(payload_type.to_owned()),
            pae,
            payload_start,
            signatures: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(rename = "payloadType")]
    payload_type: String,
    #[serde(borrow)]
    signatures: Vec<RawSignature<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSignature<'a> {
    #[serde(default)]
    keyid: String,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

/// Standard padded base64 of `bytes`, in chunks of whole 3-byte groups
/// (so the output is that of one pass) through a stack buffer.
fn write_base64(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    const CHUNK: usize = 768;
    let mut buf = [0u8; CHUNK / 3 * 4];
    for chunk in bytes.chunks(CHUNK) {
        // 768 bytes encode to exactly 1,024 characters, so this fits.
        let n = STANDARD
            .encode_slice(chunk, &mut buf)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        out.write_all(&buf[..n])?;
    }
    Ok(())
}

/// A writer that checks what is written against `rest` and consumes it,
/// failing at the first difference.
struct Matcher<'a> {
    rest: &'a [u8],
}

impl Write for Matcher<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) => {
                self.rest = rest;
                Ok(buf.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `payload_type`, borrowed from [`PAYLOAD_TYPE_IN_TOTO`] when it is that
/// type (dropping the copy), owned otherwise.
fn payload_type_of(payload_type: String) -> Cow<'static, str> {
    if payload_type == PAYLOAD_TYPE_IN_TOTO {
        Cow::Borrowed(PAYLOAD_TYPE_IN_TOTO)
    } else {
        Cow::Owned(payload_type)
    }
}

mod canonical;
pub(crate) use canonical::last_index_of;
#[cfg(test)]
mod tests;
