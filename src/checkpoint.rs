//! C2SP checkpoints (c2sp.org/tlog-checkpoint v1.0.0).
//!
//! In scope: the checkpoint body (origin, tree size, root hash, extension
//! lines), strict parsing and formatting, and [`SignedCheckpoint`]: a
//! checkpoint whose note verified against the log's keys, with every
//! signature line kept for re-serving and cosigning. Out of scope: whether
//! two checkpoints are consistent (see [`crate::merkle`]) and which keys to
//! trust (the caller's configuration). No I/O, no clock.

use std::fmt;

use crate::merkle::Hash;
use crate::note::{KeyType, Note, NoteError, NoteVerifier, Signature, SignerKey, VerifiedNote};

/// Errors from parsing, signing and opening checkpoints.
///
/// A witness answers 400 for the malformed variants; [`CheckpointError::Note`]
/// carries the note error, whose own docs give its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Malformed (400): the text is larger than [`crate::note::MAX_NOTE_SIZE`].
    #[error("checkpoint text is too large")]
    TooLarge,
    /// Malformed (400): the text does not end in LF.
    #[error("checkpoint text does not end in a newline")]
    Unterminated,
    /// Malformed (400): fewer than three lines.
    #[error("checkpoint has fewer than three lines")]
    TooFewLines,
    /// Malformed (400): the origin line is empty or has control characters.
    #[error("invalid checkpoint origin: {0}")]
    InvalidOrigin(&'static str),
    /// Malformed (400): the size is not a canonical decimal u64.
    #[error("tree size is not a canonical decimal: {0:?}")]
    InvalidSize(String),
    /// Malformed (400): the root is not canonical base64 of 32 bytes.
    #[error("root hash is not canonical base64 of 32 bytes")]
    InvalidRoot,
    /// Malformed (400): an extension line is empty or has control characters
    /// (1-based index among the extension lines).
    #[error("extension line {0} is empty or has control characters")]
    InvalidExtension(usize),
    /// Signing a checkpoint needs an Ed25519 (type 0x01) log key.
    #[error("log key has type {0:?}, expected Ed25519 (0x01)")]
    WrongKeyType(KeyType),
    /// The signed note failed to parse or verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log origin: the first checkpoint line, the log's unique identity.
///
/// Non-empty, no control characters. tlog-checkpoint only RECOMMENDS a
/// scheme-less URL without spaces or `+` (sum.golang.org uses
/// `go.sum database tree`), so those are accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

impl Origin {
    /// Validates an origin line (without its LF).
    pub fn new(origin: &str) -> Result<Origin, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::InvalidOrigin("empty"));
        }
        if origin.chars().any(|c| c < ' ') {
            return Err(CheckpointError::InvalidOrigin(
                "contains a control character",
            ));
        }
        if origin.len() > crate::note::MAX_NOTE_SIZE {
            return Err(CheckpointError::TooLarge);
        }
        Ok(Origin(origin.to_owned()))
    }

    /// The origin as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A checkpoint body. It exists only if well formed; its text form
/// ([`fmt::Display`]) is the exact text that was parsed, since parsing
/// accepts only the canonical spelling of every field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: Origin,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: Origin, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin,
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Adds extension lines (each non-empty, no control characters). They
    /// are NOT RECOMMENDED: nothing audits them (specs.md §3, §11.11).
    pub fn with_extensions(
        mut self,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, CheckpointError> {
        for (i, ext) in extensions.iter().enumerate() {
            if ext.is_empty() || ext.chars().any(|c| c < ' ') {
                return Err(CheckpointError::InvalidExtension(i + 1));
            }
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// Parses note text as a checkpoint (tlog-checkpoint §"Note text"):
    /// at least three LF-terminated lines; a valid origin; the size in
    /// decimal without leading zeros (`0` alone is allowed); the root as
    /// canonical padded base64 of 32 bytes; non-empty extension lines.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        if text.len() > crate::note::MAX_NOTE_SIZE {
            return Err(CheckpointError::TooLarge);
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(CheckpointError::Unterminated);
        };
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines);
        };
        let origin = Origin::new(origin)?;
        let size =
            parse_decimal(size).ok_or_else(|| CheckpointError::InvalidSize(size.to_owned()))?;
        // `Hash::from_base64` is strict: canonical padding bits, no
        // whitespace, exactly 32 bytes.
        let root = Hash::from_base64(root).ok_or(CheckpointError::InvalidRoot)?;
        let extensions = lines.map(str::to_owned).collect();
        Checkpoint::new(origin, size, root).with_extensions(extensions)
    }

    /// The log origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree of that size.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without their LFs.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl fmt::Display for Checkpoint {
    /// The note text: one LF-terminated line per field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.origin)?;
        writeln!(f, "{}", self.size)?;
        writeln!(f, "{}", self.root.to_base64())?;
        for ext in &self.extensions {
            writeln!(f, "{ext}")?;
        }
        Ok(())
    }
}

/// A checkpoint whose note carries at least one valid signature from the
/// verifiers it was opened with (normally the log's keys).
///
/// All signature lines are kept, known or not, so the note can be re-served
/// and cosigned as received; cosignatures can be appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: VerifiedNote,
}

impl SignedCheckpoint {
    /// Parses the note's text as a checkpoint, then opens the note with
    /// `verifiers` (see [`Note::open`] for the rules). The text is parsed
    /// first so that a malformed checkpoint is reported as such even when
    /// its signature is also bad.
    ///
    /// Any one verifier's valid signature opens the note, so pass only the
    /// log's keys here, and check cosigners afterwards with
    /// [`crate::cosignature::CosignatureVerifier::witnessed`].
    pub fn open<'a, V>(
        note: &Note,
        verifiers: impl IntoIterator<Item = &'a V>,
    ) -> Result<SignedCheckpoint, CheckpointError>
    where
        V: NoteVerifier + ?Sized + 'a,
    {
        let checkpoint = Checkpoint::parse(note.text())?;
        let note = note.open(verifiers)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Parses a signed-note byte string and opens it as a checkpoint.
    pub fn parse<'a, V>(
        input: &[u8],
        verifiers: impl IntoIterator<Item = &'a V>,
    ) -> Result<SignedCheckpoint, CheckpointError>
    where
        V: NoteVerifier + ?Sized + 'a,
    {
        SignedCheckpoint::open(&Note::parse(input)?, verifiers)
    }

    /// Signs `checkpoint` with the log's Ed25519 (type 0x01) key.
    pub fn sign(
        checkpoint: &Checkpoint,
        log_key: &SignerKey,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        if log_key.key_type() != KeyType::Ed25519 {
            return Err(CheckpointError::WrongKeyType(log_key.key_type()));
        }
        let note = Note::sign(&checkpoint.to_string(), [log_key])?;
        // Opening our own signature costs one verification and means a
        // `VerifiedNote` is only ever made by `Note::open`.
        let note = note.open([&log_key.verifier()])?;
        Ok(SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note with all its signature lines.
    pub fn note(&self) -> &Note {
        self.note.note()
    }

    /// The note together with which signatures verified when it was opened.
    pub fn verified_note(&self) -> &VerifiedNote {
        &self.note
    }

    /// Appends a signature line (e.g. a witness cosignature) without
    /// verifying it. Returns `false` if the identical line was already
    /// there.
    pub fn add_signature(&mut self, sig: Signature) -> Result<bool, CheckpointError> {
        Ok(self.note.add_signature(sig)?)
    }
}

impl fmt::Display for SignedCheckpoint {
    /// The signed note.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.note.note(), f)
    }
}

/// Parses a canonical decimal u64: ASCII digits only, no sign, no leading
/// zero except for `0` itself (specs.md §11.7), as checkpoint sizes and the
/// other numbers of the C2SP text formats are written.
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `n` in canonical decimal (as `n.to_string()`, what [`parse_decimal`]
/// reads back), written at the end of `buf` (a u64 has at most 20 digits)
/// so that callers need no `String`.
pub(crate) fn format_decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        // n % 10 < 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests;
