//! C2SP transparency-log trust policies (c2sp.org/tlog-policy, specs.md §6.1).
//!
//! In scope: parsing a policy file strictly ([`Policy::parse`]), writing it
//! in canonical form ([`Policy::to_bytes`]), evaluating the quorum over the
//! set of witnesses whose cosignatures verified
//! ([`Policy::quorum_satisfied`]), and opening a signed checkpoint against
//! the policy ([`Policy::open_checkpoint`], [`Policy::verify_checkpoint`]):
//! a listed log whose key name equals the origin signed it, the listed
//! witnesses' cosignatures (types 0x04 and 0x06) verify, and we report who
//! cosigned, when, and whether the quorum holds. Out of scope: fetching
//! anything, the clock (a caller that wants to reject future timestamps
//! applies [`crate::cosignature::check_not_future`] to the reported ones),
//! and the Sigsum dialect with raw hex keys (we accept the C2SP vkey form
//! only).
//!
//! ## Choices where the spec leaves room
//!
//! - Names and URLs are opaque octet strings (tlog-policy §"Character
//!   set"): octets 0x80-0xFF are allowed and compared bytewise, so a policy
//!   need not be UTF-8. Vkeys must be, since they are signed-note keys.
//! - Every line, the last one included, must end in LF (§"Structure" says
//!   lines are terminated by newline).
//! - A numeric threshold must be canonical decimal (no leading zeros), like
//!   every other number in the C2SP formats (specs.md §11.7).
//! - The spec forbids two log lines, or two witness lines, that wrap the
//!   same public key. We also reject a key that appears on both a log and a
//!   witness line: a log cosigning its own checkpoint adds no independent
//!   witness, and it would make (name, key ID) lookups ambiguous.
//! - Log keys may be of any signature type the [`crate::note`] module
//!   verifies (0x01, and since tlog-checkpoint HEAD the 0x06 ML-DSA-44
//!   cosignature; 0x04 is also a valid note signature). Witness keys must be
//!   a cosignature type, 0x04 or 0x06 (§"Public key representation").
//! - Limits: [`MAX_LOGS`], [`MAX_WITNESSES`], [`MAX_GROUPS`] (the spec
//!   recommends supporting at least 32 of each) and [`MAX_POLICY_SIZE`].

mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::cosignature::CosignatureVerifier;
use crate::note::{KeyId, KeyName, KeyType, Note, NoteError, NoteVerifier, VerifierKey};

/// The largest policy file accepted, in bytes. 256 ML-DSA-44 vkeys (about
/// 1.8 KB each) fit with room to spare.
pub const MAX_POLICY_SIZE: usize = 1 << 20;

/// The most `log` lines a policy may have (the spec recommends supporting
/// at least 32).
pub const MAX_LOGS: usize = 128;

/// The most `witness` lines a policy may have (at least 32 recommended).
pub const MAX_WITNESSES: usize = 128;

/// The most `group` lines a policy may have (at least 32 recommended).
pub const MAX_GROUPS: usize = 128;

/// The reserved name of the empty quorum (tlog-policy §"Defining the
/// quorum").
const NONE: &[u8] = b"none";

/// Errors from parsing a policy, evaluating its quorum and opening
/// checkpoints against it. Line numbers are 1-based.
///
/// A policy is local configuration, so the parse errors are configuration
/// errors; the checkpoint errors mean "not valid under this policy" (a
/// verifier rejects the proof; a server would answer 403 or 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file is larger than [`MAX_POLICY_SIZE`].
    #[error("policy is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The file's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control character other than TAB and LF, or DEL (§"Character set").
    #[error("line {line}: control character 0x{byte:02x}")]
    ControlCharacter {
        /// The line.
        line: usize,
        /// The offending octet.
        byte: u8,
    },
    /// The last line does not end in LF.
    #[error("line {line} is not terminated by a newline")]
    Unterminated {
        /// The line.
        line: usize,
    },
    /// The first field is not `log`, `witness`, `group` or `quorum`.
    #[error("line {line}: unknown keyword")]
    UnknownKeyword {
        /// The line.
        line: usize,
    },
    /// A line has too few or too many fields for its keyword.
    #[error("line {line}: wrong number of fields for {keyword}")]
    WrongFieldCount {
        /// The line.
        line: usize,
        /// The line's keyword.
        keyword: &'static str,
    },
    /// A vkey that does not parse (or is not UTF-8).
    #[error("line {line}: invalid vkey: {error}")]
    InvalidKey {
        /// The line.
        line: usize,
        /// Why the vkey was rejected.
        error: NoteError,
    },
    /// A witness key that is not a cosignature type (0x04 or 0x06).
    #[error("line {line}: witness key has type {key_type:?}, expected a cosignature type")]
    WrongKeyType {
        /// The line.
        line: usize,
        /// The key's type.
        key_type: KeyType,
    },
    /// Two log or witness lines wrap the same public key (§"Public key
    /// representation"), even under different names, IDs or types.
    #[error("line {line}: same public key as line {first}")]
    DuplicateKey {
        /// The later line.
        line: usize,
        /// The line that first used the key.
        first: usize,
    },
    /// A witness or group name defined twice (they share one namespace).
    #[error("line {line}: name {name} is already defined")]
    DuplicateName {
        /// The line.
        line: usize,
        /// The name.
        name: Name,
    },
    /// `none` defined as a witness or group, or listed as a group member.
    #[error("line {line}: the name none is reserved for the quorum line")]
    ReservedName {
        /// The line.
        line: usize,
    },
    /// A group member or the quorum names nothing defined on an earlier
    /// line.
    #[error("line {line}: name {name} is not defined on an earlier line")]
    UndefinedName {
        /// The line.
        line: usize,
        /// The name.
        name: Name,
    },
    /// A group lists the same member twice.
    #[error("line {line}: {name} is listed twice in the group")]
    DuplicateMember {
        /// The line.
        line: usize,
        /// The member.
        name: Name,
    },
    /// A group without members.
    #[error("line {line}: a group needs at least one member")]
    EmptyGroup {
        /// The line.
        line: usize,
    },
    /// A threshold that is not `all`, `any` or a canonical decimal.
    #[error("line {line}: threshold is not all, any or a decimal without leading zeros")]
    InvalidThreshold {
        /// The line.
        line: usize,
    },
    /// A numeric threshold outside `1..=n`.
    #[error("line {line}: threshold {k} is not between 1 and the {n} members")]
    ThresholdOutOfRange {
        /// The line.
        line: usize,
        /// The threshold.
        k: u64,
        /// The number of members.
        n: usize,
    },
    /// No quorum line.
    #[error("policy has no quorum line")]
    MissingQuorum,
    /// A second quorum line.
    #[error("line {line}: second quorum line")]
    DuplicateQuorum {
        /// The line.
        line: usize,
    },
    /// More log lines than [`MAX_LOGS`].
    #[error("more than {max} logs")]
    TooManyLogs {
        /// The limit.
        max: usize,
    },
    /// More witness lines than [`MAX_WITNESSES`].
    #[error("more than {max} witnesses")]
    TooManyWitnesses {
        /// The limit.
        max: usize,
    },
    /// More group lines than [`MAX_GROUPS`].
    #[error("more than {max} groups")]
    TooManyGroups {
        /// The limit.
        max: usize,
    },
    /// A name given to [`Policy::quorum_satisfied`] is not a witness of the
    /// policy.
    #[error("{0} is not a witness of this policy")]
    UnknownWitness(Name),
    /// No log of the policy has a key named after the checkpoint's origin.
    #[error("no log in the policy for origin {0:?}")]
    UnknownOrigin(String),
    /// No listed log key for the origin produced a valid signature.
    #[error("checkpoint for {0:?} is not signed by a log of the policy")]
    NotSignedByLog(String),
    /// The verified cosignatures do not satisfy the quorum.
    #[error("the witness quorum is not satisfied")]
    QuorumNotSatisfied,
    /// The checkpoint is malformed, or a known key's signature on it does
    /// not verify (signed-note: the note is then rejected as a whole).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// A witness or group name: an opaque octet string without whitespace or
/// control characters, compared bytewise (tlog-policy §"Character set").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

impl Name {
    /// The name's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as a string, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Display for Name {
    /// The name with non-ASCII octets escaped as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.escape_ascii(), f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name(\"{self}\")")
    }
}

/// The optional URL of a log or witness line: opaque, application-specific
/// octets (for a witness, recommended to be its tlog-witness submission
/// prefix).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url(Box<[u8]>);

impl Url {
    /// The URL's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The URL as a string, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url(\"{}\")", self.0.escape_ascii())
    }
}

/// A `log <vkey> [<url>]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    key: VerifierKey,
    url: Option<Url>,
}

impl Log {
    /// The log's key; its name is the log's origin.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// The URL, if given.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }
}

/// A `witness <name> <vkey> [<url>]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    name: Name,
    key: CosignatureVerifier,
    url: Option<Url>,
}

impl Witness {
    /// The policy-local name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The cosignature verifier key (type 0x04 or 0x06).
    pub fn key(&self) -> &CosignatureVerifier {
        &self.key
    }

    /// The URL, if given.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }
}

/// How many members of a group must have witnessed a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// `all`: k = n.
    All,
    /// `any`: k = 1.
    Any,
    /// A numeric k, 1 <= k <= n.
    AtLeast(usize),
}

impl Threshold {
    /// The number of members required out of `n`.
    pub fn required(self, n: usize) -> usize {
        match self {
            Threshold::All => n,
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::All => f.write_str("all"),
            Threshold::Any => f.write_str("any"),
            Threshold::AtLeast(k) => write!(f, "{k}"),
        }
    }
}

/// A `group <name> all|any|<k> <member>...` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    name: Name,
    threshold: Threshold,
    members: Vec<Name>,
    /// Positions of the members in [`Policy::entries`], all earlier than
    /// this group's own position.
    member_entries: Vec<usize>,
}

impl Group {
    /// The policy-local name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The threshold as written.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The member names (witnesses or earlier groups), in order.
    pub fn members(&self) -> &[Name] {
        &self.members
    }
}

/// A parsed, well-formed tlog-policy.
///
/// It exists only if the text obeyed every rule of the spec (and the
/// limits of this module); see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<Log>,
    /// Witnesses and groups in definition order; a group refers only to
    /// earlier entries, so evaluating in order never looks ahead.
    entries: Vec<Entry>,
    /// The entry the quorum names, or `None` for `quorum none`.
    quorum: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    // Boxed: a witness key (with a decoded ML-DSA key) is much larger than
    // a group.
    Witness(Box<Witness>),
    Group(Group),
}

impl Entry {
    fn name(&self) -> &Name {
        match self {
            Entry::Witness(w) => &w.name,
            Entry::Group(g) => &g.name,
        }
    }
}

impl Policy {
    /// Parses a policy file strictly (tlog-policy §"Policy file syntax and
    /// structure"): size cap; only TAB, LF, 0x20-0x7E and 0x80-0xFF; every
    /// line terminated by LF; fields separated by runs of spaces and tabs;
    /// blank and `#` comment lines ignored; names defined before use in one
    /// namespace with `none` reserved; no duplicate keys; `1 <= k <= n`;
    /// exactly one quorum line.
    pub fn parse(input: &[u8]) -> Result<Policy, PolicyError> {
        if input.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge {
                len: input.len(),
                max: MAX_POLICY_SIZE,
            });
        }
        let mut parser = parse::Parser::default();
        let mut lines = input.split(|&b| b == b'\n').enumerate().peekable();
        while let Some((i, line)) = lines.next() {
            let number = i + 1;
            if lines.peek().is_none() {
                // `split` yields what follows the last LF: empty when the
                // file is properly terminated.
                if line.is_empty() {
                    break;
                }
                parse::check_octets(line, number)?;
                return Err(PolicyError::Unterminated { line: number });
            }
            parse::check_octets(line, number)?;
            parser.line(line, number)?;
        }
        parser.finish()
    }

    /// The canonical text: the log lines, then the witness and group lines
    /// in their definition order, then the quorum line; single spaces, no
    /// comments. [`Policy::parse`] reads it back to an equal policy.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for log in &self.logs {
            out.extend_from_slice(b"log ");
            out.extend_from_slice(log.key.to_string().as_bytes());
            push_url(&mut out, log.url.as_ref());
        }
        for entry in &self.entries {
            match entry {
                Entry::Witness(w) => {
                    out.extend_from_slice(b"witness ");
                    out.extend_from_slice(w.name.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(w.key.key().to_string().as_bytes());
                    push_url(&mut out, w.url.as_ref());
                }
                Entry::Group(g) => {
                    out.extend_from_slice(b"group ");
                    out.extend_from_slice(g.name.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(g.threshold.to_string().as_bytes());
                    for m in &g.members {
                        out.push(b' ');
                        out.extend_from_slice(m.as_bytes());
                    }
                    out.push(b'\n');
                }
            }
        }
        out.extend_from_slice(b"quorum ");
        match self.quorum {
            Some(i) => out.extend_from_slice(self.entries[i].name().as_bytes()),
            None => out.extend_from_slice(NONE),
        }
        out.push(b'\n');
        out
    }

    /// The log lines, in file order.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// The witness lines, in file order.
    pub fn witnesses(&self) -> impl Iterator<Item = &Witness> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Witness(w) => Some(&**w),
            Entry::Group(_) => None,
        })
    }

    /// The group lines, in file order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Group(g) => Some(g),
            Entry::Witness(_) => None,
        })
    }

    /// The name on the quorum line, or `None` for `quorum none`.
    pub fn quorum(&self) -> Option<&Name> {
        self.quorum.map(|i| self.entries[i].name())
    }

    /// Evaluates the quorum given the (policy-local) names of the witnesses
    /// whose cosignatures verified. Duplicates are harmless; a name that is
    /// not a witness of this policy (a group, or unknown) is an error.
    pub fn quorum_satisfied<N: AsRef<[u8]>>(
        &self,
        cosigned: impl IntoIterator<Item = N>,
    ) -> Result<bool, PolicyError> {
        let mut witnessed = vec![false; self.entries.len()];
        for name in cosigned {
            let name = name.as_ref();
            let found = self
                .entries
                .iter()
                .position(|e| matches!(e, Entry::Witness(w) if w.name.as_bytes() == name));
            let Some(i) = found else {
                return Err(PolicyError::UnknownWitness(Name(name.into())));
            };
            witnessed[i] = true;
        }
        Ok(self.evaluate(&witnessed))
    }

    /// Opens a signed checkpoint against the policy and reports who cosigned
    /// it, without requiring the quorum (see [`Policy::verify_checkpoint`]):
    /// - the text must be a well-formed checkpoint;
    /// - only logs whose key name equals the origin are considered
    ///   (tlog-policy §"Defining a log"), and one of them must have signed;
    /// - the note is opened with those log keys and every witness key, with
    ///   the signed-note rules: unknown signatures are ignored, and a known
    ///   key's signature that does not verify rejects the checkpoint;
    /// - each witness with a verified cosignature is reported with its
    ///   latest verified timestamp.
    pub fn open_checkpoint(&self, note: &Note) -> Result<VerifiedCheckpoint, PolicyError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        let origin = checkpoint.origin().as_str();
        let logs: Vec<&Log> = self
            .logs
            .iter()
            .filter(|l| l.key.name().as_str() == origin)
            .collect();
        if logs.is_empty() {
            return Err(PolicyError::UnknownOrigin(origin.to_owned()));
        }
        let mut verifiers: Vec<&dyn NoteVerifier> = logs.iter().map(|l| &l.key as _).collect();
        verifiers.extend(self.witnesses().map(|w| &w.key as &dyn NoteVerifier));
        let signed = match SignedCheckpoint::open(note, verifiers) {
            Ok(signed) => signed,
            Err(CheckpointError::Note(NoteError::NoVerifiedSignature)) => {
                return Err(PolicyError::NotSignedByLog(origin.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let verified = signed.verified_note();
        let Some(log) = logs
            .iter()
            .find(|l| verified.is_verified_by(l.key.name(), l.key.key_id()))
        else {
            return Err(PolicyError::NotSignedByLog(origin.to_owned()));
        };
        let mut witnessed = vec![false; self.entries.len()];
        let mut cosignatures = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let Entry::Witness(w) = entry else { continue };
            if let Some(timestamp) = w.key.witnessed_at(verified) {
                witnessed[i] = true;
                cosignatures.push(WitnessCosignature {
                    witness: w.name.clone(),
                    key_name: w.key.key().name().clone(),
                    key_id: w.key.key().key_id(),
                    timestamp,
                });
            }
        }
        Ok(VerifiedCheckpoint {
            log: log.key.clone(),
            quorum_satisfied: self.evaluate(&witnessed),
            cosignatures,
            signed,
        })
    }

    /// [`Policy::open_checkpoint`], then requires the quorum: the checkpoint
    /// is valid under the policy (tlog-policy §"What is a policy").
    pub fn verify_checkpoint(&self, note: &Note) -> Result<VerifiedCheckpoint, PolicyError> {
        self.open_checkpoint(note)?.require_quorum()
    }

    /// Evaluates every entry in definition order; `witnessed[i]` says
    /// whether entry `i` (if a witness) cosigned.
    fn evaluate(&self, witnessed: &[bool]) -> bool {
        let mut value = vec![false; self.entries.len()];
        for (i, entry) in self.entries.iter().enumerate() {
            value[i] = match entry {
                Entry::Witness(_) => witnessed[i],
                Entry::Group(g) => {
                    let yes = g.member_entries.iter().filter(|&&m| value[m]).count();
                    yes >= g.threshold.required(g.members.len())
                }
            };
        }
        self.quorum.is_none_or(|q| value[q])
    }
}

/// A checkpoint signed by a log of a [`Policy`], with the policy's witnesses
/// whose cosignatures verified. Only [`Policy::open_checkpoint`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    signed: SignedCheckpoint,
    log: VerifierKey,
    cosignatures: Vec<WitnessCosignature>,
    quorum_satisfied: bool,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        self.signed.checkpoint()
    }

    /// The signed checkpoint, every signature line kept.
    pub fn signed(&self) -> &SignedCheckpoint {
        &self.signed
    }

    /// The log key whose signature verified.
    pub fn log(&self) -> &VerifierKey {
        &self.log
    }

    /// The witnesses whose cosignatures verified, in policy order.
    pub fn cosignatures(&self) -> &[WitnessCosignature] {
        &self.cosignatures
    }

    /// Whether the policy's quorum holds over [`Self::cosignatures`].
    pub fn quorum_satisfied(&self) -> bool {
        self.quorum_satisfied
    }

    /// `self` if the quorum holds, else [`PolicyError::QuorumNotSatisfied`].
    pub fn require_quorum(self) -> Result<VerifiedCheckpoint, PolicyError> {
        if !self.quorum_satisfied {
            return Err(PolicyError::QuorumNotSatisfied);
        }
        Ok(self)
    }
}

/// A verified cosignature: which witness cosigned, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessCosignature {
    witness: Name,
    key_name: KeyName,
    key_id: KeyId,
    timestamp: u64,
}

impl WitnessCosignature {
    /// The witness's policy-local name.
    pub fn witness(&self) -> &Name {
        &self.witness
    }

    /// The cosigner's key name (as on the signature line).
    pub fn key_name(&self) -> &KeyName {
        &self.key_name
    }

    /// The cosigner's key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The cosignature timestamp (POSIX seconds); the latest one if the
    /// witness cosigned more than once.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// Appends ` <url>` if present, then the line's LF.
fn push_url(out: &mut Vec<u8>, url: Option<&Url>) {
    if let Some(url) = url {
        out.push(b' ');
        out.extend_from_slice(url.as_bytes());
    }
    out.push(b'\n');
}
