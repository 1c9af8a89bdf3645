//! Note keys: names, key IDs, verifier keys (vkeys) and signer keys (skeys).
//!
//! C2SP signed-note §"Verifier keys" defines the vkey text form
//! `<name>+<hex8 key ID>+<base64(type || public key)>` and the key ID
//! `SHA-256(name || 0x0A || type || public key)[:4]`. The signer-key form
//! `PRIVATE+KEY+<name>+<hex8>+<base64(type || 32-byte seed)>` is a Go
//! (golang.org/x/mod/sumdb/note) convention, not part of C2SP.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::NoteError;

/// The longest key name accepted, in bytes. transparency-dev/formats caps
/// names at 255 bytes and ML-DSA `subtree/v1` messages length-prefix the
/// cosigner name with a u8 (specs.md §2.2), so we adopt that cap everywhere.
pub const MAX_KEY_NAME_LEN: usize = 255;

/// The longest vkey or skey string accepted. An ML-DSA-44 vkey is about
/// 1.8 KB; anything much larger is not a key we could parse.
const MAX_KEY_STRING_LEN: usize = 4096;

/// The prefix of Go's signer-key strings.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// A note key name (signed-note §"Signatures"): non-empty, at most
/// [`MAX_KEY_NAME_LEN`] bytes, with no Unicode whitespace, no `+` and no
/// control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Validates `name` as a key name.
    ///
    /// Go's `isValidName` uses `unicode.IsSpace`, which like
    /// [`char::is_whitespace`] follows the Unicode `White_Space` property. We
    /// also reject ASCII control characters, which a note cannot carry
    /// anyway (signed-note §"Format"), so a vkey name is always usable.
    pub fn new(name: &str) -> Result<KeyName, NoteError> {
        if name.is_empty() {
            return Err(NoteError::InvalidKeyName("empty"));
        }
        if name.len() > MAX_KEY_NAME_LEN {
            return Err(NoteError::InvalidKeyName("longer than 255 bytes"));
        }
        if name.contains('+') {
            return Err(NoteError::InvalidKeyName("contains '+'"));
        }
        if name.chars().any(char::is_whitespace) {
            return Err(NoteError::InvalidKeyName("contains whitespace"));
        }
        if name.chars().any(|c| c < ' ') {
            return Err(NoteError::InvalidKeyName("contains a control character"));
        }
        Ok(KeyName(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyName {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyName::new(s)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for KeyName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A 32-bit key ID: the first four bytes of a signature, big-endian, and the
/// hex field of a vkey. Displayed as 8 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl KeyId {
    /// Computes `SHA-256(name || 0x0A || type || public_key)[:4]`
    /// (signed-note §"Verifier keys"; a MUST for types 0x04 and 0x06).
    pub fn compute(name: &KeyName, key_type: KeyType, public_key: &[u8]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_str().as_bytes());
        h.update([b'\n', key_type.byte()]);
        h.update(public_key);
        let digest = h.finalize();
        KeyId(u32::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3],
        ]))
    }

    /// The four big-endian bytes that prefix a signature.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// Parses exactly 8 lowercase hex digits.
    ///
    /// C2SP says the ID is lowercase hex; Go's `ParseUint(_, 16, 32)` also
    /// accepts uppercase. We are strict so that a vkey has one spelling.
    pub fn from_hex(s: &str) -> Result<KeyId, NoteError> {
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if s.len() != 8 || !s.bytes().all(lower_hex) {
            return Err(NoteError::MalformedKey(
                "key ID is not 8 lowercase hex digits",
            ));
        }
        u32::from_str_radix(s, 16)
            .map(KeyId)
            .map_err(|_| NoteError::MalformedKey("key ID is not 8 lowercase hex digits"))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:08x})", self.0)
    }
}

/// The signature types this crate understands (signed-note §"Signature
/// types"). Other types (0x02 ECDSA, 0x05 RFC 6962 STH, ...) are rejected when
/// parsing a key; signatures of those types in a note are simply unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text.
    Ed25519,
    /// 0x04: Ed25519 `cosignature/v1` (c2sp.org/tlog-cosignature), timestamped.
    CosignatureV1,
    /// 0x06: ML-DSA-44 `subtree/v1` cosignature (tlog-cosignature v1.1).
    MlDsa44,
}

impl KeyType {
    /// The type byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::CosignatureV1 => 0x04,
            KeyType::MlDsa44 => 0x06,
        }
    }

    /// The type for a type byte, if supported.
    pub fn from_byte(b: u8) -> Option<KeyType> {
        match b {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::CosignatureV1),
            0x06 => Some(KeyType::MlDsa44),
            _ => None,
        }
    }

    /// The exact public-key length for this type.
    pub fn public_key_len(self) -> usize {
        match self {
            KeyType::Ed25519 | KeyType::CosignatureV1 => 32,
            KeyType::MlDsa44 => 1312,
        }
    }

    /// The exact length of a signature of this type, after the 4-byte key ID
    /// (timestamped types include their 8-byte timestamp).
    pub fn signature_len(self) -> usize {
        match self {
            KeyType::Ed25519 => 64,
            KeyType::CosignatureV1 => 8 + 64,
            KeyType::MlDsa44 => 8 + 2420,
        }
    }
}

/// Something that can check note signatures for one (name, key ID), like
/// Go's `note.Verifier`. [`Note::open`](super::Note::open) gives a signature to
/// a verifier only if both its name and key ID match.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &KeyName;
    /// The key ID.
    fn key_id(&self) -> KeyId;
    /// Whether `sig` (the decoded signature without its 4-byte key ID) is
    /// valid for `msg` (the note text, through its final LF).
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
}

impl<T: NoteVerifier + ?Sized> NoteVerifier for &T {
    fn name(&self) -> &KeyName {
        (**self).name()
    }
    fn key_id(&self) -> KeyId {
        (**self).key_id()
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        (**self).verify(msg, sig)
    }
}

impl<T: NoteVerifier + ?Sized> NoteVerifier for Box<T> {
    fn name(&self) -> &KeyName {
        (**self).name()
    }
    fn key_id(&self) -> KeyId {
        (**self).key_id()
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        (**self).verify(msg, sig)
    }
}

/// A parsed verifier key (vkey) of a supported type.
///
/// As a [`NoteVerifier`] it checks signatures according to its type:
/// 0x01 is Ed25519 over the note text; 0x04 is `cosignature/v1` and 0x06 is
/// ML-DSA-44 `subtree/v1` (both checked by [`crate::cosignature`], which
/// requires the note text to be a checkpoint for 0x06).
#[derive(Clone)]
pub struct VerifierKey {
    name: KeyName,
    id: KeyId,
    key_type: KeyType,
    public_key: Vec<u8>,
    decoded: DecodedKey,
}

/// The public key decoded once at parse time, so verification does not
/// repeat point decompression or ML-DSA matrix expansion.
#[derive(Clone)]
enum DecodedKey {
    Ed25519(VerifyingKey),
    MlDsa44(Box<ml_dsa::VerifyingKey<ml_dsa::MlDsa44>>),
}

impl VerifierKey {
    /// Builds a verifier key from its parts, computing the key ID.
    pub fn new(
        name: KeyName,
        key_type: KeyType,
        public_key: &[u8],
    ) -> Result<VerifierKey, NoteError> {
        if public_key.len() != key_type.public_key_len() {
            return Err(NoteError::MalformedKey(
                "wrong public key length for its type",
            ));
        }
        let decoded = match key_type {
            KeyType::Ed25519 | KeyType::CosignatureV1 => {
                // The length was checked just above.
                let bytes: [u8; 32] = public_key
                    .try_into()
                    .map_err(|_| NoteError::MalformedKey("wrong public key length for its type"))?;
                let vk = VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key"))?;
                DecodedKey::Ed25519(vk)
            }
            KeyType::MlDsa44 => {
                let enc = ml_dsa::EncodedVerifyingKey::<ml_dsa::MlDsa44>::try_from(public_key)
                    .map_err(|_| NoteError::MalformedKey("wrong public key length for its type"))?;
                DecodedKey::MlDsa44(Box::new(ml_dsa::VerifyingKey::decode(&enc)))
            }
        };
        let id = KeyId::compute(&name, key_type, public_key);
        Ok(VerifierKey {
            name,
            id,
            key_type,
            public_key: public_key.to_vec(),
            decoded,
        })
    }

    /// Parses a vkey strictly: split on the first two `+` (the base64 may
    /// contain `+`), validate the name, require 8 lowercase hex digits,
    /// strict padded base64 of a supported type with the exact key length,
    /// and a key ID equal to the recomputed one (specs.md §2.4, §11.9).
    pub fn parse(s: &str) -> Result<VerifierKey, NoteError> {
        if s.len() > MAX_KEY_STRING_LEN {
            return Err(NoteError::MalformedKey("too long"));
        }
        let (name, id, key_type, key) = split_key_string(s)?;
        let vkey = VerifierKey::new(name, key_type, &key)?;
        if vkey.id != id {
            return Err(NoteError::KeyIdMismatch {
                declared: id,
                computed: vkey.id,
            });
        }
        Ok(vkey)
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The raw public key bytes (without the type byte).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Checks a plain Ed25519 signature over `msg` with this key's Ed25519
    /// public key (for types 0x01 and 0x04).
    pub(crate) fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        let DecodedKey::Ed25519(vk) = &self.decoded else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        // `verify`, not `verify_strict`: Go's crypto/ed25519 does the
        // cofactorless RFC 8032 check and accepts small-order keys and `R`
        // values that `verify_strict` would reject.
        vk.verify(msg, &sig).is_ok()
    }

    /// Checks a pure ML-DSA-44 signature (empty context) over `msg`.
    pub(crate) fn verify_ml_dsa_44(&self, msg: &[u8], sig: &[u8]) -> bool {
        let DecodedKey::MlDsa44(vk) = &self.decoded else {
            return false;
        };
        let Ok(sig) = ml_dsa::Signature::<ml_dsa::MlDsa44>::try_from(sig) else {
            return false;
        };
        // specs.md §4.2: the spec names no context; the reference
        // implementation and our vector use the empty one.
        vk.verify_with_context(msg, &[], &sig)
    }
}

impl NoteVerifier for VerifierKey {
    fn name(&self) -> &KeyName {
        &self.name
    }
    fn key_id(&self) -> KeyId {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self.key_type {
            KeyType::Ed25519 => self.verify_ed25519(msg, sig),
            KeyType::CosignatureV1 | KeyType::MlDsa44 => {
                crate::cosignature::verify_cosignature(self, msg, sig).is_some()
            }
        }
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

impl fmt::Display for VerifierKey {
    /// Formats the vkey string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(1 + self.public_key.len());
        raw.push(self.key_type.byte());
        raw.extend_from_slice(&self.public_key);
        write!(f, "{}+{}+{}", self.name, self.id, STANDARD.encode(raw))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierKey")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

impl PartialEq for VerifierKey {
    fn eq(&self, other: &Self) -> bool {
        // The decoded key is a function of the bytes.
        self.name == other.name
            && self.id == other.id
            && self.key_type == other.key_type
            && self.public_key == other.public_key
    }
}

impl Eq for VerifierKey {}

/// An Ed25519 signing key with its note name, in Go's
/// `PRIVATE+KEY+<name>+<hex8>+base64(type || seed)` form.
///
/// Supported types are 0x01 (note signatures, e.g. a log's checkpoint key)
/// and 0x04 (a `cosignature/v1` witness key; sign with
/// [`crate::cosignature::CosignerKey`]). ML-DSA signing is not implemented.
/// `Debug` never prints the seed.
#[derive(Clone)]
pub struct SignerKey {
    name: KeyName,
    id: KeyId,
    key_type: KeyType,
    key: SigningKey,
}

impl SignerKey {
    /// Derives the key from a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(
        name: KeyName,
        key_type: KeyType,
        seed: [u8; 32],
    ) -> Result<SignerKey, NoteError> {
        if !matches!(key_type, KeyType::Ed25519 | KeyType::CosignatureV1) {
            return Err(NoteError::UnsupportedKeyType(key_type.byte()));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = KeyId::compute(&name, key_type, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name,
            id,
            key_type,
            key,
        })
    }

    /// Generates a fresh key from the caller's cryptographic RNG.
    pub fn generate(
        name: KeyName,
        key_type: KeyType,
        rng: &mut impl CryptoRngCore,
    ) -> Result<SignerKey, NoteError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        SignerKey::from_seed(name, key_type, seed)
    }

    /// Parses a Go signer-key string, recomputing and checking the key ID.
    pub fn parse(s: &str) -> Result<SignerKey, NoteError> {
        if s.len() > MAX_KEY_STRING_LEN {
            return Err(NoteError::MalformedKey("too long"));
        }
        let Some(rest) = s.strip_prefix(SKEY_PREFIX) else {
            return Err(NoteError::MalformedKey(
                "signer key does not start with PRIVATE+KEY+",
            ));
        };
        let (name, id, key_type, seed) = split_key_string(rest)?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::MalformedKey("signer key seed is not 32 bytes"))?;
        let key = SignerKey::from_seed(name, key_type, seed)?;
        if key.id != id {
            return Err(NoteError::KeyIdMismatch {
                declared: id,
                computed: key.id,
            });
        }
        Ok(key)
    }

    /// Formats the Go signer-key string. The result is secret.
    pub fn to_skey_string(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.key_type.byte());
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{SKEY_PREFIX}{}+{}+{}",
            self.name,
            self.id,
            STANDARD.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key_type: self.key_type,
            public_key: self.key.verifying_key().as_bytes().to_vec(),
            decoded: DecodedKey::Ed25519(self.key.verifying_key()),
        }
    }

    /// A raw Ed25519 signature over `msg` (deterministic, RFC 8032).
    pub(crate) fn sign_ed25519(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl FromStr for SignerKey {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignerKey::parse(s)
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("key_type", &self.key_type)
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl PartialEq for SignerKey {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.key_type == other.key_type
            && self.key.as_bytes() == other.key.as_bytes()
    }
}

impl Eq for SignerKey {}

/// Splits `<name>+<hex8>+<base64(type || key)>` on its first two `+` and
/// decodes each part strictly. The key bytes are returned without the type.
fn split_key_string(s: &str) -> Result<(KeyName, KeyId, KeyType, Vec<u8>), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey("expected <name>+<hex8>+<base64>"));
    };
    let name = KeyName::new(name)?;
    let id = KeyId::from_hex(id)?;
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| NoteError::MalformedKey("key is not canonical padded base64"))?;
    let Some((&type_byte, key)) = raw.split_first() else {
        return Err(NoteError::MalformedKey("empty key"));
    };
    let key_type = KeyType::from_byte(type_byte).ok_or(NoteError::UnsupportedKeyType(type_byte))?;
    Ok((name, id, key_type, key.to_vec()))
}
