//! C2SP offline inclusion proofs (c2sp.org/tlog-proof, `c2sp.org/tlog-proof@v1`,
//! specs.md §8), also called "spicy signatures".
//!
//! In scope: parsing a `.tlog-proof` file strictly, formatting it, and
//! verifying it against an entry's leaf hash and a [`Policy`] with the
//! spec's four steps. Out of scope: computing the leaf hash for an
//! application's entry (step 1 is application-specific; for tlog-tiles
//! entries it is [`crate::merkle::leaf_hash`], see
//! [`ProofBundle::verify_entry`]) and trusting the `extra` data, which is
//! unauthenticated (specs.md §11.11). No I/O, no clock.
//!
//! Layout, every line LF-terminated:
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]          optional, unauthenticated, non-empty
//! index <decimal>           no leading zeros
//! <base64 hash>             0..=64 inclusion-proof lines, leaf sibling first
//!                           (empty line)
//! <checkpoint note>         verbatim, with its signatures and cosignatures
//! ```

#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{Checkpoint, CheckpointError, parse_decimal};
use crate::lines::{ProofLinesError, parse_proof_lines, split_line};
use crate::merkle::{Hash, ProofError, leaf_hash, verify_inclusion};
use crate::note::{MAX_NOTE_SIZE, Note, NoteError};
use crate::policy::{Policy, PolicyError, VerifiedCheckpoint};

/// The first line of a tlog-proof file.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most inclusion-proof lines: a tree of at most 2^64 - 1 leaves has
/// proofs of at most 64 hashes.
pub const MAX_PROOF_LINES: usize = 64;

/// The largest `extra` payload accepted, decoded (64 KiB, the size of the
/// largest tlog-tiles entry, which is what an application might need to
/// rebuild a leaf).
pub const MAX_EXTRA_LEN: usize = 1 << 16;

/// The largest proof file accepted: a maximal note plus the header, a
/// maximal base64 `extra` line, the index line and 64 proof lines.
pub const MAX_PROOF_BUNDLE_SIZE: usize =
    MAX_NOTE_SIZE + HEADER.len() + 1 + 6 + MAX_EXTRA_LEN.div_ceil(3) * 4 + 1 + 27 + 64 * 45 + 1;

/// Errors from parsing, building and verifying proof bundles.
///
/// The parse variants mean a malformed file; [`ProofBundleError::Policy`]
/// and [`ProofBundleError::Inclusion`] mean a well-formed proof that does
/// not verify (steps 2-3 and step 4 of the spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofBundleError {
    /// The file is larger than [`MAX_PROOF_BUNDLE_SIZE`].
    #[error("proof is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The file's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first line is not [`HEADER`].
    #[error("first line is not {HEADER}")]
    WrongHeader,
    /// The file ends inside the header lines (a line without its LF, or no
    /// blank line before the checkpoint).
    #[error("proof ends before the blank line that precedes the checkpoint")]
    Truncated,
    /// The `extra` line is not `extra <canonical padded base64>` of 1 to
    /// [`MAX_EXTRA_LEN`] bytes.
    #[error("invalid extra line: {0}")]
    InvalidExtra(&'static str),
    /// The index line is missing or not `index <canonical decimal>`.
    #[error("invalid index line")]
    InvalidIndex,
    /// A proof line is not canonical base64 of a 32-byte hash (1-based
    /// index among the proof lines).
    #[error("proof line {0} is not canonical base64 of 32 bytes")]
    InvalidProofLine(usize),
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {max} proof lines")]
    TooManyProofLines {
        /// The limit.
        max: usize,
    },
    /// The checkpoint note is malformed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note's text is not a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Steps 2-3: the checkpoint is not signed by a log of the policy, a
    /// known signature is invalid, or the witness quorum is not met.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Step 4: the inclusion proof does not verify.
    #[error("inclusion proof does not verify: {0}")]
    Inclusion(#[from] ProofError),
}

/// A well-formed tlog-proof: extra data, leaf index, inclusion proof and
/// the (unverified) signed checkpoint.
///
/// Formatting reproduces the parsed file byte for byte, except that
/// identical duplicate signature lines in the note are collapsed
/// (see [`Note`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    extra: Vec<u8>,
    index: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl ProofBundle {
    /// Builds a proof bundle. `extra` may be empty (no `extra` line) and
    /// is at most [`MAX_EXTRA_LEN`] bytes; the proof has at most
    /// [`MAX_PROOF_LINES`] hashes; the note's text must be a checkpoint.
    pub fn new(
        extra: Vec<u8>,
        index: u64,
        proof: Vec<Hash>,
        note: Note,
    ) -> Result<ProofBundle, ProofBundleError> {
        if extra.len() > MAX_EXTRA_LEN {
            return Err(ProofBundleError::InvalidExtra("too long"));
        }
        if proof.len() > MAX_PROOF_LINES {
            return Err(ProofBundleError::TooManyProofLines {
                max: MAX_PROOF_LINES,
            });
        }
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(ProofBundle {
            extra,
            index,
            proof,
            note,
            checkpoint,
        })
    }

    /// Parses a tlog-proof file strictly: size cap, the exact header line,
    /// an optional non-empty `extra` line in canonical padded base64, the
    /// index in canonical decimal, up to [`MAX_PROOF_LINES`] canonical
    /// base64 hashes, a blank line, then a signed note whose text is a
    /// checkpoint (parsed with the note and checkpoint modules' rules).
    pub fn parse(input: &[u8]) -> Result<ProofBundle, ProofBundleError> {
        if input.len() > MAX_PROOF_BUNDLE_SIZE {
            return Err(ProofBundleError::TooLarge {
                len: input.len(),
                max: MAX_PROOF_BUNDLE_SIZE,
            });
        }
        let mut rest = input;
        if next_line(&mut rest)? != HEADER.as_bytes() {
            return Err(ProofBundleError::WrongHeader);
        }
        let mut line = next_line(&mut rest)?;
        let mut extra = Vec::new();
        if let Some(b64) = line.strip_prefix(b"extra ") {
            extra = decode_extra(b64)?;
            line = next_line(&mut rest)?;
        }
        let index = line
            .strip_prefix(b"index ")
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(parse_decimal)
            .ok_or(ProofBundleError::InvalidIndex)?;
        let proof = parse_proof_lines(&mut rest, MAX_PROOF_LINES).map_err(|e| match e {
            ProofLinesError::Unterminated => ProofBundleError::Truncated,
            ProofLinesError::TooMany => ProofBundleError::TooManyProofLines {
                max: MAX_PROOF_LINES,
            },
            ProofLinesError::Invalid(n) => ProofBundleError::InvalidProofLine(n),
        })?;
        ProofBundle::new(extra, index, proof, Note::parse(rest)?)
    }

    /// The formatted file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The `extra` data (empty if absent). It is NOT authenticated: anyone
    /// can change it without invalidating the proof (tlog-proof §"Format").
    pub fn extra(&self) -> &[u8] {
        &self.extra
    }

    /// The leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof, leaf sibling first.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint note, not yet verified.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint body, not yet verified.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Verifies the proof for the entry whose leaf hash is `leaf` (step 1,
    /// done by the caller), in the spec's order:
    /// 2. a log of `policy` named after the origin signed the checkpoint;
    /// 3. the policy's witnesses' cosignatures verify and meet the quorum;
    /// 4. `leaf` is at [`Self::index`] in the checkpoint's tree.
    ///
    /// Cosignature timestamps are only used to check the signatures; they
    /// are reported, and it is up to the application to apply rules to them.
    pub fn verify(&self, leaf: &Hash, policy: &Policy) -> Result<VerifiedProof, ProofBundleError> {
        let checkpoint = policy.verify_checkpoint(&self.note)?;
        let cp = checkpoint.checkpoint();
        verify_inclusion(self.index, cp.size(), leaf, &self.proof, cp.root())?;
        Ok(VerifiedProof {
            index: self.index,
            leaf: *leaf,
            checkpoint,
        })
    }

    /// [`ProofBundle::verify`] for a tlog-tiles entry: the leaf hash is the
    /// RFC 6962 hash of the entry bytes.
    pub fn verify_entry(
        &self,
        entry: &[u8],
        policy: &Policy,
    ) -> Result<VerifiedProof, ProofBundleError> {
        self.verify(&leaf_hash(entry), policy)
    }
}

impl fmt::Display for ProofBundle {
    /// The file: header, optional extra, index, proof lines, a blank line,
    /// and the note.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        if !self.extra.is_empty() {
            writeln!(f, "extra {}", STANDARD.encode(&self.extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.proof {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        fmt::Display::fmt(&self.note, f)
    }
}

/// A proof that verified: the leaf is in a checkpoint that is valid under
/// the policy. Only [`ProofBundle::verify`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    index: u64,
    leaf: Hash,
    checkpoint: VerifiedCheckpoint,
}

impl VerifiedProof {
    /// The leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The leaf hash that was proven.
    pub fn leaf(&self) -> &Hash {
        &self.leaf
    }

    /// The checkpoint, with the log that signed it and the witnesses that
    /// cosigned it (and when).
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

/// Splits off the next LF-terminated line (without its LF).
fn next_line<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], ProofBundleError> {
    let (line, tail) = split_line(rest).ok_or(ProofBundleError::Truncated)?;
    *rest = tail;
    Ok(line)
}

/// Decodes the `extra` payload: canonical padded base64, 1 to
/// [`MAX_EXTRA_LEN`] bytes (an absent extra is written by omitting the
/// line, so `extra ` with nothing after it is not canonical).
fn decode_extra(b64: &[u8]) -> Result<Vec<u8>, ProofBundleError> {
    if b64.is_empty() {
        return Err(ProofBundleError::InvalidExtra("empty"));
    }
    if b64.len() > MAX_EXTRA_LEN.div_ceil(3) * 4 {
        return Err(ProofBundleError::InvalidExtra("too long"));
    }
    // The STANDARD engine requires padding and zero trailing bits, and
    // rejects whitespace: only the canonical encoding decodes.
    let extra = STANDARD
        .decode(b64)
        .map_err(|_| ProofBundleError::InvalidExtra("not canonical padded base64"))?;
    if extra.len() > MAX_EXTRA_LEN {
        return Err(ProofBundleError::InvalidExtra("too long"));
    }
    Ok(extra)
}
