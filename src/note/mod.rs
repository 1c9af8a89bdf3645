//! C2SP signed notes (c2sp.org/signed-note, v1.0.0 plus type 0x06).
//!
//! In scope: key names and IDs, verifier keys (vkeys) and Go-style signer
//! keys ([`keys`]), parsing and formatting notes, signing with Ed25519 (type
//! 0x01), and opening a note against a set of [`NoteVerifier`]s with the
//! spec's rules (specs.md §2.5). Timestamped cosignature types (0x04, 0x06)
//! are verified through [`crate::cosignature`]; checkpoint semantics live in
//! [`crate::checkpoint`]. No I/O, no clock.
//!
//! ## Base64 strictness of signature lines (specs.md §2.5, §11.6)
//!
//! Go's decoder ignores non-zero padding bits; the `base64` crate's strict
//! engine rejects them. We decode signature lines with padding required and
//! trailing bits allowed, and record whether the encoding was canonical.
//! The original text is kept, so a note re-serves byte for byte. When
//! opening, a signature from a *known* key (name and ID match) whose
//! encoding is not canonical is an [`NoteError::InvalidSignature`], exactly
//! like a signature that fails to verify, without trying the cryptography.
//! That gives the spec's "invalid signature" outcome (403 at a witness) for
//! the litewitness step-1 case, while we still never accept a non-canonical
//! encoding. Unknown non-canonical signatures are ignored like any other
//! unknown signature.

mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

pub use keys::{KeyId, KeyName, KeyType, MAX_KEY_NAME_LEN, NoteVerifier, SignerKey, VerifierKey};

/// The largest note accepted, in bytes. 100 ML-DSA-44 signature lines are
/// about 330 KB, so 1 MiB leaves room for the text (Go sumdb also caps notes
/// at 1 MB).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines a note may carry. C2SP requires accepting at
/// least 16; Go rejects more than 100, and so do we.
pub const MAX_SIGNATURES: usize = 100;

/// The prefix of a signature line: U+2014 EM DASH and one space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Padded standard base64 that tolerates non-zero trailing bits, as Go's
/// `base64.StdEncoding` does. Used only for signature lines; see the module
/// docs for why.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Errors from parsing, signing and opening notes and keys.
///
/// A witness maps the malformed variants to 400, [`NoteError::NoVerifiedSignature`]
/// and [`NoteError::InvalidSignature`] to 403 (tlog-witness
/// §"add-checkpoint"), and [`NoteError::AmbiguousKey`] to 500 (it is a
/// configuration error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Malformed (400): the note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The note's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Malformed (400): the note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    InvalidUtf8,
    /// Malformed (400): a control character other than LF.
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    /// Malformed (400): no blank line before a signature block, no signature
    /// lines, or a last line without its LF.
    #[error("note has no terminated signature block after a blank line")]
    MissingSignatureBlock,
    /// Malformed (400): note text that is empty or does not end in LF.
    #[error("note text is empty or does not end in a newline")]
    UnterminatedText,
    /// Malformed (400): a line of the signature block is not
    /// `— <name> <base64>` with at least 5 decoded bytes.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// 1-based index of the line within the signature block.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Malformed (400): more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// Malformed (400): an invalid key name.
    #[error("invalid key name: {0}")]
    InvalidKeyName(&'static str),
    /// Malformed (400): a vkey or skey string that does not parse.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key of a type this crate does not support (for the operation).
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// A key string whose declared ID differs from the recomputed one.
    #[error("key ID {declared} does not match the key (expected {computed})")]
    KeyIdMismatch {
        /// The ID written in the key string.
        declared: KeyId,
        /// `SHA-256(name || 0x0A || type || key)[:4]`.
        computed: KeyId,
    },
    /// A key of the wrong type for the operation (e.g. signing a plain note
    /// with a cosignature key).
    #[error("key has type {actual:?}, expected {expected:?}")]
    WrongKeyType {
        /// The type the operation needs.
        expected: KeyType,
        /// The key's type.
        actual: KeyType,
    },
    /// Signing was asked for with no signers.
    #[error("no signers given")]
    NoSigners,
    /// Configuration (500): two verifiers share this name and key ID and the
    /// note carries a signature for it.
    #[error("ambiguous verifier key {name} {key_id}")]
    AmbiguousKey {
        /// The key name.
        name: KeyName,
        /// The key ID.
        key_id: KeyId,
    },
    /// Unverified (403): no signature from any known key.
    #[error("note has no signature from a known key")]
    NoVerifiedSignature,
    /// Invalid (403): a signature from a known key (name and ID match) does
    /// not verify, or is not canonically encoded; the note is rejected
    /// (signed-note §"Verifying").
    #[error("invalid signature for key {name} {key_id}")]
    InvalidSignature {
        /// The key name.
        name: KeyName,
        /// The key ID.
        key_id: KeyId,
    },
}

/// One signature line: `— <name> <base64(key ID || signature)>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    name: KeyName,
    key_id: KeyId,
    signature: Vec<u8>,
    encoded: String,
    canonical: bool,
}

impl Signature {
    /// Builds a signature from its parts; `signature` excludes the key ID and
    /// must not be empty (Go requires at least 5 decoded bytes).
    pub fn new(name: KeyName, key_id: KeyId, signature: &[u8]) -> Result<Signature, NoteError> {
        if signature.is_empty() {
            return Err(NoteError::MalformedSignatureLine {
                line: 1,
                reason: "empty signature",
            });
        }
        let mut raw = Vec::with_capacity(4 + signature.len());
        raw.extend_from_slice(&key_id.to_bytes());
        raw.extend_from_slice(signature);
        Ok(Signature {
            name,
            key_id,
            signature: signature.to_vec(),
            encoded: STANDARD.encode(raw),
            canonical: true,
        })
    }

    /// Parses one signature line, without its trailing LF.
    pub fn parse_line(line: &str) -> Result<Signature, NoteError> {
        Signature::parse_numbered(line, 1)
    }

    fn parse_numbered(line: &str, index: usize) -> Result<Signature, NoteError> {
        let bad = |reason| NoteError::MalformedSignatureLine {
            line: index,
            reason,
        };
        let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
            return Err(bad("does not start with an em dash and a space"));
        };
        let Some((name, b64)) = rest.split_once(' ') else {
            return Err(bad("no space between name and signature"));
        };
        let name = KeyName::new(name).map_err(|_| bad("invalid key name"))?;
        if b64.len() > MAX_NOTE_SIZE {
            return Err(bad("signature too long"));
        }
        let raw = LENIENT
            .decode(b64)
            .map_err(|_| bad("signature is not padded base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature shorter than 5 bytes"));
        }
        let key_id = KeyId(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]));
        let canonical = STANDARD.encode(&raw) == b64;
        Ok(Signature {
            name,
            key_id,
            signature: raw[4..].to_vec(),
            encoded: b64.to_owned(),
            canonical,
        })
    }

    /// The key name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID (the first four decoded bytes).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The base64 field exactly as received (or as encoded, if built here).
    pub fn base64(&self) -> &str {
        &self.encoded
    }

    /// Whether the base64 is the canonical encoding (zero padding bits).
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }
}

impl fmt::Display for Signature {
    /// Formats the line `— <name> <base64>` without a trailing LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SIG_PREFIX}{} {}", self.name, self.encoded)
    }
}

/// A well-formed signed note: text plus at least one signature line.
///
/// The signatures are not verified; see [`Note::open`]. Identical duplicate
/// signature lines are collapsed (signed-note §"Verifying"), so formatting
/// reproduces the input except for such duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<Signature>,
}

impl Note {
    /// Builds a note from text (ending in LF, no control characters other
    /// than LF) and 1..=[`MAX_SIGNATURES`] signatures.
    pub fn new(text: impl Into<String>, signatures: Vec<Signature>) -> Result<Note, NoteError> {
        let text = text.into();
        check_text(&text)?;
        let mut note = Note {
            text,
            signatures: Vec::new(),
        };
        if signatures.is_empty() {
            return Err(NoteError::MissingSignatureBlock);
        }
        for sig in signatures {
            note.add_signature(sig)?;
        }
        Ok(note)
    }

    /// Parses a note strictly (signed-note §"Format"): size cap, UTF-8, no
    /// control characters but LF, split at the last blank line, every later
    /// line a signature line, at most [`MAX_SIGNATURES`] of them.
    pub fn parse(input: &[u8]) -> Result<Note, NoteError> {
        if input.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                len: input.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let msg = std::str::from_utf8(input).map_err(|_| NoteError::InvalidUtf8)?;
        if msg.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        // Signature lines are non-empty, so the last "\n\n" is the separator
        // even when the text itself contains blank lines.
        let Some(split) = msg.rfind("\n\n") else {
            return Err(NoteError::MissingSignatureBlock);
        };
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MissingSignatureBlock);
        };
        if sigs.is_empty() {
            return Err(NoteError::MissingSignatureBlock);
        }
        let lines: Vec<&str> = sigs.split('\n').collect();
        // Count before collapsing duplicates, as Go does, so the work is
        // bounded by the number of lines actually sent.
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures: Vec<Signature> = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let sig = Signature::parse_numbered(line, i + 1)?;
            if !signatures.contains(&sig) {
                signatures.push(sig);
            }
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Signs `text` with each Ed25519 (type 0x01) signer, in order.
    pub fn sign<'a>(
        text: &str,
        signers: impl IntoIterator<Item = &'a SignerKey>,
    ) -> Result<Note, NoteError> {
        check_text(text)?;
        let mut signatures = Vec::new();
        for signer in signers {
            if signer.key_type() != KeyType::Ed25519 {
                return Err(NoteError::WrongKeyType {
                    expected: KeyType::Ed25519,
                    actual: signer.key_type(),
                });
            }
            let sig = signer.sign_ed25519(text.as_bytes());
            signatures.push(Signature::new(
                signer.name().clone(),
                signer.key_id(),
                &sig,
            )?);
        }
        if signatures.is_empty() {
            return Err(NoteError::NoSigners);
        }
        Note::new(text, signatures)
    }

    /// Verifies the note against `verifiers` (signed-note §"Verifying"):
    /// - a signature belongs to a verifier only if name AND key ID match;
    ///   other signatures are unknown, ignored, and kept;
    /// - every known signature must verify (and be canonically encoded),
    ///   else [`NoteError::InvalidSignature`]. Go checks only the first
    ///   line per (name, ID); we check every distinct line, which matters for
    ///   cosignatures where one witness may add lines with different
    ///   timestamps;
    /// - two verifiers with the same (name, ID) are an error only if a
    ///   signature uses that pair;
    /// - at least one signature must verify, else
    ///   [`NoteError::NoVerifiedSignature`].
    pub fn open<'a, V>(
        &self,
        verifiers: impl IntoIterator<Item = &'a V>,
    ) -> Result<VerifiedNote, NoteError>
    where
        V: NoteVerifier + ?Sized + 'a,
    {
        let mut known: HashMap<(&str, KeyId), Vec<&'a V>> = HashMap::new();
        for v in verifiers {
            known
                .entry((v.name().as_str(), v.key_id()))
                .or_default()
                .push(v);
        }
        let mut verified = Vec::new();
        for (i, sig) in self.signatures.iter().enumerate() {
            let Some(candidates) = known.get(&(sig.name.as_str(), sig.key_id)) else {
                continue;
            };
            let [verifier] = candidates.as_slice() else {
                return Err(NoteError::AmbiguousKey {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            };
            if !sig.canonical || !verifier.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push(i);
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(VerifiedNote {
            note: self.clone(),
            verified,
        })
    }

    /// Appends a signature line. Returns `false` (and changes nothing) if
    /// an identical line is already present.
    pub fn add_signature(&mut self, sig: Signature) -> Result<bool, NoteError> {
        if self.signatures.contains(&sig) {
            return Ok(false);
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        // Text + blank line + each line "— name b64\n".
        let len = self.encoded_len()
            + SIG_PREFIX.len()
            + sig.name.as_str().len()
            + 1
            + sig.encoded.len()
            + 1;
        if len > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                len,
                max: MAX_NOTE_SIZE,
            });
        }
        self.signatures.push(sig);
        Ok(true)
    }

    /// The signed text, through its final LF.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, duplicates collapsed, in order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The formatted note as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    fn encoded_len(&self) -> usize {
        let sigs: usize = self
            .signatures
            .iter()
            .map(|s| SIG_PREFIX.len() + s.name.as_str().len() + 1 + s.encoded.len() + 1)
            .sum();
        self.text.len() + 1 + sigs
    }
}

impl fmt::Display for Note {
    /// Formats the note: text, a blank line, then one line per signature.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{sig}")?;
        }
        Ok(())
    }
}

/// A note with at least one signature verified by a trusted key.
///
/// Only [`Note::open`] makes one. Unknown signatures stay in the note so it
/// can be re-served verbatim; [`VerifiedNote::verified_signatures`] lists
/// those that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<usize>,
}

impl VerifiedNote {
    /// The whole note, unknown signatures included.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The verified text.
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// The signatures that verified, in note order.
    pub fn verified_signatures(&self) -> impl Iterator<Item = &Signature> {
        self.verified.iter().map(|&i| &self.note.signatures[i])
    }

    /// Whether a signature by (`name`, `key_id`) verified.
    pub fn is_verified_by(&self, name: &KeyName, key_id: KeyId) -> bool {
        self.verified_signatures()
            .any(|s| &s.name == name && s.key_id == key_id)
    }

    /// Appends an (unverified) signature line, e.g. a cosignature to be
    /// served along with the note. Returns `false` if it was already there.
    pub fn add_signature(&mut self, sig: Signature) -> Result<bool, NoteError> {
        // Appending keeps the indices in `verified` valid.
        self.note.add_signature(sig)
    }

    /// Gives back the note.
    pub fn into_note(self) -> Note {
        self.note
    }
}

/// Checks note text: non-empty, ends in LF, valid characters, not over the
/// size cap.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::UnterminatedText);
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    if text.len() >= MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            len: text.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    Ok(())
}
