//! Evidence bundles (ours, `spec/bundle.md`): one file that proves, offline, that a
//! statement is in a log whose checkpoint a tlog-policy accepts, and that the key that
//! signed it was bound to the issuer's domain at that point of the log.
//!
//! In scope: the format (strict parse with size caps, deterministic serialization) and
//! the verifier ([`Evidence::verify`]), which is also what `claimlog verify` runs on the
//! evidence it assembles from tiles. Out of scope: fetching (the `client` module), the
//! clock (nothing here depends on the current time: keys are judged at the log's
//! integration time), and whether the domain controlled the root key at enrollment
//! (the log checked its well-known document; see `spec/bundle.md` §Trust).
//!
//! Layout (every line LF-terminated, `spec/bundle.md`):
//! ```text
//! claimlog.dev/evidence/v1
//! binding <index> <base64 entry>     0..=64 key-binding entries, indexes increasing,
//! <base64 hash>                      each followed by 0..=64 inclusion-proof lines
//!                                    (empty line)
//! <tlog-proof of the entry>          c2sp.org/tlog-proof@v1 with `extra` = the entry
//! ```

mod verify;

#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::parse_decimal;
use crate::claim::ClaimError;
use crate::dsse::DsseError;
use crate::entry::EntryError;
use crate::merkle::{Hash, ProofError};
use crate::policy::PolicyError;
use crate::proof_bundle::{MAX_PROOF_BUNDLE_SIZE, MAX_PROOF_LINES, ProofBundle, ProofBundleError};
use crate::tiles::MAX_ENTRY_LEN;

pub use verify::{BindingStep, Proven};

/// The first line of an evidence file.
pub const HEADER: &str = "claimlog.dev/evidence/v1";

/// The most key-binding entries in one file (a domain's key history up to the entry).
pub const MAX_BINDINGS: usize = 64;

/// The longest `binding` line: keyword, a 20-digit index, base64 of the largest entry.
const MAX_BINDING_LINE: usize = 8 + 20 + 1 + MAX_ENTRY_LEN.div_ceil(3) * 4;

/// The largest evidence file accepted: the header, [`MAX_BINDINGS`] maximal binding
/// blocks, the blank line and a maximal tlog-proof (about 11 MiB).
pub const MAX_EVIDENCE_SIZE: usize = HEADER.len()
    + 1
    + MAX_BINDINGS * (MAX_BINDING_LINE + 1 + MAX_PROOF_LINES * 45)
    + 1
    + MAX_PROOF_BUNDLE_SIZE;

/// Errors from parsing and verifying evidence. Each variant is one named check
/// ([`EvidenceError::check`]); the verifier stops at the first that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Format: the file is larger than [`MAX_EVIDENCE_SIZE`].
    #[error("evidence is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The file's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Format: the file is not a well-formed evidence file (`line` is 1-based).
    #[error("line {line}: {reason}")]
    Format {
        /// The line.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Format: the tlog-proof part is malformed, or has no entry in `extra`.
    #[error("tlog-proof: {0}")]
    Proof(ProofBundleError),
    /// Checkpoint: no log of the policy signed it, a known signature is invalid, or
    /// the witness quorum is not met.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] PolicyError),
    /// Inclusion: the entry's proof does not lead to the checkpoint's root.
    #[error("entry {index}: inclusion proof does not verify: {error}")]
    EntryInclusion {
        /// The entry's index.
        index: u64,
        /// Why.
        error: ProofError,
    },
    /// Inclusion: a key-binding entry's proof does not lead to the checkpoint's root.
    #[error("key binding {index}: inclusion proof does not verify: {error}")]
    BindingInclusion {
        /// The binding's index.
        index: u64,
        /// Why.
        error: ProofError,
    },
    /// Entry: bytes are not a log entry (envelope plus integration time).
    #[error("entry {index}: {error}")]
    Entry {
        /// The index.
        index: u64,
        /// Why.
        error: EntryError,
    },
    /// Statement: the payload is not a valid claimlog statement.
    #[error("entry {index}: statement: {error}")]
    Statement {
        /// The index.
        index: u64,
        /// Why.
        error: ClaimError,
    },
    /// Key bindings: a binding entry is not a key binding of the issuer's domain, or
    /// the bindings do not form the domain's series from its enrollment (sequence,
    /// supersedes, append-only history) as the log's rules require.
    #[error("key binding {index}: {reason}")]
    BindingChain {
        /// The binding's index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// Key bindings: the issuer's domain has no key binding before the entry.
    #[error("no key binding of {domain} before entry {index}")]
    NoBinding {
        /// The issuer's domain.
        domain: String,
        /// The entry's index.
        index: u64,
    },
    /// Signature: an envelope's signature does not verify, or a required root key
    /// did not sign a key binding.
    #[error("entry {index}: signature: {reason}")]
    Signature {
        /// The index.
        index: u64,
        /// What failed.
        reason: String,
    },
    /// Signature: a signature by a key named in the envelope does not verify.
    #[error("entry {index}: {error}")]
    Envelope {
        /// The index.
        index: u64,
        /// The DSSE error.
        error: DsseError,
    },
    /// Key: the entry's signing key was not a valid signing key of the issuer's domain
    /// at the entry's integration time (unbound, outside its validity, revoked).
    #[error("entry {index}: key: {error}")]
    Key {
        /// The index.
        index: u64,
        /// Why.
        error: ClaimError,
    },
}

impl EvidenceError {
    /// The name of the check that failed: `format`, `checkpoint`, `inclusion`,
    /// `entry`, `statement`, `key-bindings`, `signature` or `key`.
    pub fn check(&self) -> &'static str {
        match self {
            EvidenceError::TooLarge { .. }
            | EvidenceError::Format { .. }
            | EvidenceError::Proof(_) => "format",
            EvidenceError::Checkpoint(_) => "checkpoint",
            EvidenceError::EntryInclusion { .. } | EvidenceError::BindingInclusion { .. } => {
                "inclusion"
            }
            EvidenceError::Entry { .. } => "entry",
            EvidenceError::Statement { .. } => "statement",
            EvidenceError::BindingChain { .. } | EvidenceError::NoBinding { .. } => "key-bindings",
            EvidenceError::Signature { .. } | EvidenceError::Envelope { .. } => "signature",
            EvidenceError::Key { .. } => "key",
        }
    }
}

/// A key-binding entry with its inclusion proof under the evidence's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingProof {
    /// The entry's index.
    pub index: u64,
    /// The entry bytes.
    pub entry: Vec<u8>,
    /// Its inclusion proof, leaf sibling first.
    pub proof: Vec<Hash>,
}

/// A well-formed evidence file: the key-binding entries and the entry's tlog-proof
/// (whose `extra` is the entry). Not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    bindings: Vec<BindingProof>,
    proof: ProofBundle,
}

impl Evidence {
    /// Evidence from its parts: `proof` carries the entry as its `extra`; the bindings
    /// are at most [`MAX_BINDINGS`], with increasing indexes below the entry's, entries
    /// of 1 to 65,535 bytes, and at most [`MAX_PROOF_LINES`] proof hashes each.
    pub fn new(bindings: Vec<BindingProof>, proof: ProofBundle) -> Result<Evidence, EvidenceError> {
        let format = |reason| EvidenceError::Format { line: 0, reason };
        if proof.extra().is_empty() {
            return Err(EvidenceError::Proof(ProofBundleError::InvalidExtra(
                "the entry is missing",
            )));
        }
        if bindings.len() > MAX_BINDINGS {
            return Err(format("too many key bindings"));
        }
        let mut previous = None;
        for b in &bindings {
            if b.entry.is_empty() || b.entry.len() > MAX_ENTRY_LEN {
                return Err(format("a binding entry is empty or too large"));
            }
            if b.proof.len() > MAX_PROOF_LINES {
                return Err(format("too many proof lines"));
            }
            if previous.is_some_and(|p| p >= b.index) || b.index >= proof.index() {
                return Err(format(
                    "binding indexes must increase and be below the entry's",
                ));
            }
            previous = Some(b.index);
        }
        Ok(Evidence { bindings, proof })
    }

    /// Parses an evidence file strictly: size cap, the exact header, binding blocks in
    /// canonical form, a blank line, then a tlog-proof with the entry as `extra`
    /// (parsed by [`ProofBundle::parse`]). Anything not canonical is rejected, so
    /// [`Evidence::to_bytes`] gives back the input.
    pub fn parse(input: &[u8]) -> Result<Evidence, EvidenceError> {
        if input.len() > MAX_EVIDENCE_SIZE {
            return Err(EvidenceError::TooLarge {
                len: input.len(),
                max: MAX_EVIDENCE_SIZE,
            });
        }
        let mut rest = input;
        let mut line_no = 0;
        line_no += 1;
        let (line, n) = next_line(&mut rest, line_no)?;
        if line != HEADER.as_bytes() {
            return Err(EvidenceError::Format {
                line: n,
                reason: "first line is not claimlog.dev/evidence/v1",
            });
        }
        let mut bindings: Vec<BindingProof> = Vec::new();
        loop {
            line_no += 1;
            let (line, n) = next_line(&mut rest, line_no)?;
            if line.is_empty() {
                break;
            }
            let err = |reason| EvidenceError::Format { line: n, reason };
            if let Some(tail) = line.strip_prefix(b"binding ") {
                if bindings.len() == MAX_BINDINGS {
                    return Err(err("too many key bindings"));
                }
                let tail = std::str::from_utf8(tail).map_err(|_| err("not UTF-8"))?;
                let (index, b64) = tail
                    .split_once(' ')
                    .ok_or(err("binding line is not `binding <index> <base64>`"))?;
                let index = parse_decimal(index).ok_or(err("index is not a canonical decimal"))?;
                if b64.len() > MAX_ENTRY_LEN.div_ceil(3) * 4 {
                    return Err(err("binding entry too large"));
                }
                // STANDARD requires padding and zero trailing bits: only the canonical
                // encoding decodes.
                let entry = STANDARD
                    .decode(b64)
                    .map_err(|_| err("binding entry is not canonical padded base64"))?;
                if entry.is_empty() || entry.len() > MAX_ENTRY_LEN {
                    return Err(err("binding entry is empty or too large"));
                }
                if bindings.last().is_some_and(|b| b.index >= index) {
                    return Err(err("binding indexes must increase"));
                }
                bindings.push(BindingProof {
                    index,
                    entry,
                    proof: Vec::new(),
                });
                continue;
            }
            let Some(current) = bindings.last_mut() else {
                return Err(err("expected a binding line or the blank line"));
            };
            if current.proof.len() == MAX_PROOF_LINES {
                return Err(err("too many proof lines"));
            }
            let hash = std::str::from_utf8(line)
                .ok()
                .and_then(Hash::from_base64)
                .ok_or(err("not a binding line, nor canonical base64 of a hash"))?;
            current.proof.push(hash);
        }
        let proof = ProofBundle::parse(rest).map_err(EvidenceError::Proof)?;
        Evidence::new(bindings, proof)
    }

    /// The file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// The key-binding entries.
    pub fn bindings(&self) -> &[BindingProof] {
        &self.bindings
    }

    /// The entry's tlog-proof (its `extra` is the entry).
    pub fn proof(&self) -> &ProofBundle {
        &self.proof
    }

    /// The entry bytes (not yet verified).
    pub fn entry(&self) -> &[u8] {
        self.proof.extra()
    }

    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.proof.index()
    }
}

/// Splits off the next LF-terminated line (without its LF); `line` is its number.
fn next_line<'a>(rest: &mut &'a [u8], line: usize) -> Result<(&'a [u8], usize), EvidenceError> {
    let (text, tail) = crate::lines::split_line(rest).ok_or(EvidenceError::Format {
        line,
        reason: "file ends before the tlog-proof",
    })?;
    *rest = tail;
    Ok((text, line))
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        for b in &self.bindings {
            writeln!(f, "binding {} {}", b.index, STANDARD.encode(&b.entry))?;
            for h in &b.proof {
                writeln!(f, "{}", h.to_base64())?;
            }
        }
        writeln!(f)?;
        fmt::Display::fmt(&self.proof, f)
    }
}
