//! C2SP tlog-witness wire format and protocol decision (c2sp.org/tlog-witness
//! v1.0.0 plus HEAD as of 2026-07, specs.md §5.2 and §11.1).
//!
//! In scope, shared by the log's witness client and the witness server so the
//! two cannot drift:
//! - the `add-checkpoint` request body ([`AddCheckpointRequest`]): parse
//!   (size-capped, strict) and format;
//! - the response bodies: cosignature lines on 200
//!   ([`parse_cosignatures`], [`format_cosignatures`]) and the 409
//!   `text/x.tlog.size` body ([`parse_size_body`], [`format_size_body`]);
//! - the protocol state machine as a pure function,
//!   [`check_add_checkpoint`]: given the configured log keys for the origin,
//!   the stored state and a parsed request, either the verified checkpoint to
//!   cosign or a [`WitnessError`] naming the HTTP status.
//!
//! Out of scope: storage, the compare-and-swap that must follow a successful
//! check (the server's job, spec §"add-checkpoint": check and persist
//! atomically, never roll back), cosigning itself ([`crate::cosignature`]),
//! the clock, and `sign-subtree` (unstable, specs.md §5.3).
//!
//! Statuses follow the spec at HEAD, not v1.0.0: same size with a different
//! root, a non-empty proof at `old 0`, and a size-0 checkpoint whose root is
//! not `SHA-256("")` are 422 (2026-07-06, C2SP #280). A signature from a
//! configured key that does not verify, also when its base64 is not
//! canonical, is 403 (see [`crate::note`] for the base64 rule).

use std::fmt;

use crate::checkpoint::{Checkpoint, CheckpointError, Origin, SignedCheckpoint, parse_decimal};
use crate::lines::{ProofLinesError, parse_proof_lines, split_line};
use crate::merkle::{Hash, ProofError, empty_root, verify_consistency};
use crate::note::{MAX_SIGNATURES, Note, NoteError, Signature, VerifierKey};

/// The most consistency-proof lines a request may carry (spec: a client
/// MUST NOT send more than 63).
pub const MAX_PROOF_LINES: usize = 63;

/// The largest `add-checkpoint` request body accepted: 1 MiB + 64 KiB, azul's
/// figure. It holds a note of [`crate::note::MAX_NOTE_SIZE`] plus 63 proof lines of 45
/// bytes and the `old` line (specs.md §5.5).
pub const MAX_REQUEST_SIZE: usize = (1 << 20) + (64 << 10);

/// The largest 200 response body a client accepts: [`MAX_SIGNATURES`]
/// ML-DSA-44 cosignature lines of about 3.3 KB each fit in 512 KiB.
pub const MAX_RESPONSE_SIZE: usize = 512 << 10;

/// The largest 409 body: 20 digits of a u64 and the LF.
pub const MAX_SIZE_BODY: usize = 21;

/// The media type of the 409 body (spec §"add-checkpoint").
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Errors of the witness protocol, each naming the HTTP status the witness
/// answers with. The client-side parse errors (response bodies) never come
/// from a witness; [`WitnessError::status`] maps them to 502.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// 400: the request body is larger than [`MAX_REQUEST_SIZE`] (checked
    /// before any parsing).
    #[error("request body is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// 400: the first line is not `old <canonical decimal>`.
    #[error("first line is not \"old <size>\" with a canonical decimal size")]
    MalformedOldLine,
    /// 400: a proof line is not canonical padded base64 of 32 bytes (1-based
    /// index among the proof lines).
    #[error("consistency proof line {0} is not canonical base64 of 32 bytes")]
    MalformedProofLine(usize),
    /// 400: more than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// 400: no blank line ends the proof section.
    #[error("no blank line between the proof and the checkpoint")]
    MissingSeparator,
    /// 400: the checkpoint is not a well-formed signed note.
    #[error("malformed checkpoint note: {0}")]
    MalformedNote(NoteError),
    /// 400: the note text is not a well-formed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(CheckpointError),
    /// 404: the checkpoint's origin is not a configured log.
    #[error("unknown log origin {0}")]
    UnknownOrigin(Origin),
    /// 403: no signature from a configured log key verifies, or a signature
    /// from a configured key (name and key ID match) is invalid or not
    /// canonically encoded.
    #[error("log signature not accepted: {0}")]
    LogSignature(NoteError),
    /// 500: the configuration holds two log keys with the same name and key
    /// ID, and the note uses that pair.
    #[error("witness configuration error: {0}")]
    Configuration(NoteError),
    /// 400: `old` is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 409: `old` is not the size the witness last cosigned (0 if never);
    /// the body is [`format_size_body`] of `stored`, with content type
    /// [`SIZE_CONTENT_TYPE`].
    #[error("old size {old} does not match the latest cosigned size {stored}")]
    StaleOldSize {
        /// The request's old size.
        old: u64,
        /// The witness's latest cosigned size.
        stored: u64,
    },
    /// 422: a size-0 checkpoint whose root is not `SHA-256("")`.
    #[error("size-0 checkpoint does not carry the empty-tree root")]
    BadEmptyTreeRoot,
    /// 422: `old` is 0 but the proof is not empty.
    #[error("old size 0 requires an empty consistency proof")]
    ProofAtOldZero,
    /// 422: the consistency proof from the stored tree to the checkpoint
    /// does not verify (a possible split view: kept as evidence).
    #[error("consistency proof {old} -> {size} does not verify: {reason}")]
    InconsistentProof {
        /// The stored (old) size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What the verifier found.
        reason: ProofError,
    },
    /// 422: same size as the stored tree but a different root (409 in
    /// v1.0.0, 422 since 2026-07-06). Two validly signed checkpoints that
    /// cannot both be true: kept as evidence.
    #[error("checkpoint of size {size} has a different root than the one cosigned")]
    RootMismatch {
        /// The tree size.
        size: u64,
    },
    /// 502 (client side): a 200 body that is not one or more cosignature
    /// lines.
    #[error("malformed cosignature response: {0}")]
    MalformedResponse(&'static str),
    /// 502 (client side): a 409 body that is not `<canonical decimal>\n`.
    #[error("malformed text/x.tlog.size body")]
    MalformedSizeBody,
}

impl WitnessError {
    /// The HTTP status a witness answers with (or, for the client-side
    /// variants, 502: the upstream witness answered garbage).
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::TooLarge { .. }
            | WitnessError::MalformedOldLine
            | WitnessError::MalformedProofLine(_)
            | WitnessError::TooManyProofLines
            | WitnessError::MissingSeparator
            | WitnessError::MalformedNote(_)
            | WitnessError::MalformedCheckpoint(_)
            | WitnessError::OldSizeTooLarge { .. } => 400,
            WitnessError::LogSignature(_) => 403,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::StaleOldSize { .. } => 409,
            WitnessError::BadEmptyTreeRoot
            | WitnessError::ProofAtOldZero
            | WitnessError::InconsistentProof { .. }
            | WitnessError::RootMismatch { .. } => 422,
            WitnessError::Configuration(_) => 500,
            WitnessError::MalformedResponse(_) | WitnessError::MalformedSizeBody => 502,
        }
    }

    /// Whether this rejection, together with the stored checkpoint, is
    /// evidence of log misbehaviour worth keeping (spec: the witness MAY keep
    /// failed requests with a valid signature). Only raised after the log
    /// signature verified. [`WitnessError::RootMismatch`] is conclusive;
    /// an [`WitnessError::InconsistentProof`] between different sizes whose
    /// hashes (of the right number) do not reproduce the roots means the log
    /// signed a checkpoint it cannot link to the cosigned one, which a
    /// monitor confirms or dismisses from the log's tiles. A proof of the
    /// wrong length, or proof lines at equal sizes with equal roots, is a
    /// client error, not evidence.
    pub fn is_evidence(&self) -> bool {
        match self {
            WitnessError::RootMismatch { .. } => true,
            WitnessError::InconsistentProof { old, size, reason } => {
                old != size
                    && matches!(
                        reason,
                        ProofError::RootMismatch | ProofError::OldRootMismatch
                    )
            }
            _ => false,
        }
    }
}

/// The latest (size, root) a witness cosigned for one origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeState {
    /// The tree size.
    pub size: u64,
    /// The root hash of the tree of that size.
    pub root: Hash,
}

impl TreeState {
    /// The state a checkpoint describes.
    pub fn of(checkpoint: &Checkpoint) -> TreeState {
        TreeState {
            size: checkpoint.size(),
            root: *checkpoint.root(),
        }
    }
}

/// A parsed `add-checkpoint` request (spec §"add-checkpoint"):
/// `old <size>`, 0..=63 proof lines, a blank line, the signed checkpoint.
///
/// The checkpoint text is parsed, but its signatures are not verified: that
/// is [`check_add_checkpoint`]'s job, once the origin's keys are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    old: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl AddCheckpointRequest {
    /// Builds a request (client side). The note's text must be a checkpoint
    /// and the proof at most [`MAX_PROOF_LINES`] hashes.
    pub fn new(
        old: u64,
        proof: Vec<Hash>,
        note: Note,
    ) -> Result<AddCheckpointRequest, WitnessError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(WitnessError::TooManyProofLines);
        }
        let checkpoint =
            Checkpoint::parse(note.text()).map_err(WitnessError::MalformedCheckpoint)?;
        Ok(AddCheckpointRequest {
            old,
            proof,
            note,
            checkpoint,
        })
    }

    /// Parses a request body strictly: the size cap first, then a canonical
    /// `old` line, canonical base64 proof lines (at most 63), a blank line,
    /// and a well-formed signed note whose text is a checkpoint, with no
    /// trailing data.
    pub fn parse(body: &[u8]) -> Result<AddCheckpointRequest, WitnessError> {
        if body.len() > MAX_REQUEST_SIZE {
            return Err(WitnessError::TooLarge {
                len: body.len(),
                max: MAX_REQUEST_SIZE,
            });
        }
        let (first, mut rest) = split_line(body).ok_or(WitnessError::MalformedOldLine)?;
        let old = first
            .strip_prefix(b"old ")
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(parse_decimal)
            .ok_or(WitnessError::MalformedOldLine)?;
        let proof = parse_proof_lines(&mut rest, MAX_PROOF_LINES).map_err(|e| match e {
            ProofLinesError::Unterminated => WitnessError::MissingSeparator,
            ProofLinesError::TooMany => WitnessError::TooManyProofLines,
            ProofLinesError::Invalid(n) => WitnessError::MalformedProofLine(n),
        })?;
        let note = Note::parse(rest).map_err(WitnessError::MalformedNote)?;
        AddCheckpointRequest::new(old, proof, note)
    }

    /// The size the client believes the witness last cosigned.
    pub fn old(&self) -> u64 {
        self.old
    }

    /// The consistency proof from `old` to the checkpoint's size.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed note, all signature lines included (not yet verified).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint in the note's text (not yet verified).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The formatted body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for AddCheckpointRequest {
    /// Formats the request body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "old {}", self.old)?;
        for hash in &self.proof {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        fmt::Display::fmt(&self.note, f)
    }
}

/// The protocol decision for one request (spec §"add-checkpoint", checks in
/// the order of specs.md §5.2).
///
/// `log_keys` are the configured keys for the request's origin (`None` or
/// empty: the origin is not configured); `stored` is the latest cosigned
/// state for that origin (`None`: never cosigned, size 0). On success the
/// caller must persist the returned checkpoint with a compare-and-swap that
/// expects exactly `stored` (re-running this check if it lost the race),
/// and only then answer with its cosignature.
pub fn check_add_checkpoint(
    log_keys: Option<&[VerifierKey]>,
    stored: Option<&TreeState>,
    request: &AddCheckpointRequest,
) -> Result<SignedCheckpoint, WitnessError> {
    let checkpoint = request.checkpoint();
    // 1. Unknown origin: 404.
    let log_keys = match log_keys {
        Some(keys) if !keys.is_empty() => keys,
        _ => return Err(WitnessError::UnknownOrigin(checkpoint.origin().clone())),
    };
    // 2. The log's signature: 403 (or 500 for an ambiguous configuration).
    let signed = SignedCheckpoint::open(request.note(), log_keys).map_err(|e| match e {
        CheckpointError::Note(e @ NoteError::AmbiguousKey { .. }) => WitnessError::Configuration(e),
        CheckpointError::Note(e) => WitnessError::LogSignature(e),
        // The text was parsed when the request was; kept for completeness.
        other => WitnessError::MalformedCheckpoint(other),
    })?;
    let (old, size) = (request.old(), checkpoint.size());
    // 3. old > size: 400.
    if old > size {
        return Err(WitnessError::OldSizeTooLarge { old, size });
    }
    // 4. old must be the stored size: 409 with the stored size.
    let stored_size = stored.map_or(0, |s| s.size);
    if old != stored_size {
        return Err(WitnessError::StaleOldSize {
            old,
            stored: stored_size,
        });
    }
    // 5. A size-0 checkpoint must carry the empty-tree root: 422.
    if size == 0 && *checkpoint.root() != empty_root() {
        return Err(WitnessError::BadEmptyTreeRoot);
    }
    // 6. Consistency proofs from the empty tree are undefined (RFC 9162
    // §2.1.4): at old 0 the proof must be empty: 422.
    if old == 0 {
        if !request.proof().is_empty() {
            return Err(WitnessError::ProofAtOldZero);
        }
        return Ok(signed);
    }
    // `old == stored_size > 0`, so a state was stored.
    let Some(stored) = stored else {
        return Err(WitnessError::StaleOldSize { old, stored: 0 });
    };
    // 8. Same size: the roots must match (checked before the proof so a
    // fork is reported as such even with junk proof lines attached).
    if old == size && checkpoint.root() != &stored.root {
        return Err(WitnessError::RootMismatch { size });
    }
    // 7. The RFC 9162 §2.1.4.2 consistency proof (empty when old == size).
    verify_consistency(old, size, request.proof(), &stored.root, checkpoint.root())
        .map_err(|reason| WitnessError::InconsistentProof { old, size, reason })?;
    Ok(signed)
}

/// Formats a 200 body: one `— <name> <base64>` line per cosignature.
pub fn format_cosignatures(cosignatures: &[Signature]) -> String {
    let mut out = String::new();
    for sig in cosignatures {
        out.push_str(&sig.to_string());
        out.push('\n');
    }
    out
}

/// Parses a 200 body (client side): one or more signature lines, each
/// ending in LF, at most [`MAX_SIGNATURES`], in at most
/// [`MAX_RESPONSE_SIZE`] bytes. The signatures are not verified: append them
/// to the checkpoint and open it with the witness keys you trust.
pub fn parse_cosignatures(body: &[u8]) -> Result<Vec<Signature>, WitnessError> {
    if body.len() > MAX_RESPONSE_SIZE {
        return Err(WitnessError::MalformedResponse("body too large"));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| WitnessError::MalformedResponse("body is not UTF-8"))?;
    let Some(lines) = text.strip_suffix('\n') else {
        return Err(WitnessError::MalformedResponse(
            "body is empty or does not end in a newline",
        ));
    };
    let mut sigs = Vec::new();
    for line in lines.split('\n') {
        if sigs.len() == MAX_SIGNATURES {
            return Err(WitnessError::MalformedResponse("too many signature lines"));
        }
        let sig = Signature::parse_line(line)
            .map_err(|_| WitnessError::MalformedResponse("a line is not a signature line"))?;
        sigs.push(sig);
    }
    Ok(sigs)
}

/// Formats a 409 body: the size in decimal and LF.
pub fn format_size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Parses a 409 `text/x.tlog.size` body (client side): a canonical decimal
/// and LF, nothing else.
pub fn parse_size_body(body: &[u8]) -> Result<u64, WitnessError> {
    if body.len() > MAX_SIZE_BODY {
        return Err(WitnessError::MalformedSizeBody);
    }
    body.strip_suffix(b"\n")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(parse_decimal)
        .ok_or(WitnessError::MalformedSizeBody)
}

#[cfg(test)]
mod tests;
