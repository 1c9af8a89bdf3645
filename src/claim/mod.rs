//! claim: the in-toto Statements claimlog accepts, their validation, series rules
//! and diffs (spec/claim.md).
//!
//! In scope, all pure (no I/O, no clock; the log's integration time is an argument):
//! - strict parsing of the exact payload bytes of a DSSE envelope into a
//!   [`ParsedStatement`] (in-toto Statement v1 carrying one of our two predicates),
//!   with `statementSha256` = SHA-256 of those bytes ([`parse_statement`]);
//! - the data-handling predicate ([`DataHandling`]) and the key-binding predicate
//!   ([`KeyBinding`]), the vocabulary registry they draw terms from ([`Vocabulary`]);
//! - validation that collects every problem ([`validate`]), for `claim lint`, while
//!   the log uses the first ([`parse_and_validate`]);
//! - series rules given the current head ([`check_series`], [`check_key_binding_series`],
//!   [`authorize_claim_signer`]);
//! - diffs between two versions ([`diff`]).
//!
//! - who may sign at integration time, shared by the log's admission and the
//!   monitor's re-verification ([`verified_signers`], [`authorize_claim_signers`],
//!   [`check_root_signatures`]).
//!
//! Out of scope: DSSE envelopes and signature checks (`crate::dsse`), fetching the
//! well-known document, storage of heads and indexes (the server).

mod admission;
mod data_handling;
mod diff;
mod digest_set;
mod key_binding;
mod series;
mod small_str;
mod strict_json;
mod strict_typed;
mod term;
mod time;
mod types;
mod validate;
mod vocab;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use admission::{
    authorize_claim_signers, check_root_signatures, verified_signers, verify_signature,
    verify_signature_with,
};
pub use data_handling::{
    AppIdentifier, Assurance, Claim, DATA_HANDLING_V1, DataCategory, DataHandling, Evidence,
    Exception, Issuer, LocalizedText, OperatorAccess, Purposes, Retention, ServerProcessing,
    ServerRetention, Service, Storage,
};
pub use diff::{ClaimChange, Diff, Direction, FieldChange, diff};
pub use digest_set::DigestSet;
pub use key_binding::{
    BoundKey, KEY_BINDING_V1, KeyBinding, KeyBindingHead, Revocation, authorize_claim_signer,
    check_key_binding_series, required_signers, well_known_uri,
};
pub use series::{SeriesHead, SeriesPolicy, check_series, check_series_with_diff, prepare_next};
pub use time::{IsoDuration, Timestamp};
pub use types::{
    Contact, Domain, HttpsUrl, Identifier, Label, LanguageTag, PublicKey, Sha256Digest, StrictMap,
    Supersedes, Term, Text,
};
pub use validate::validate;
pub use vocab::{TermInfo, TermSet, VOCABULARY_V1_JSON, Vocabulary};

/// The in-toto Statement type we accept (in-toto attestation framework, Statement v1).
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";

/// The largest payload accepted, in bytes. A log entry is at most 65,535 bytes
/// (tlog-tiles entry bundles use a u16 length) and holds the base64 payload
/// (4/3 expansion) plus the envelope around it, so 48 KiB leaves room for both.
pub const MAX_STATEMENT_BYTES: usize = 48 * 1024;

/// Everything that can be wrong with a statement. Each variant is a one-line reason
/// suitable as the body of a 4xx response; the doc of each says which status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    // ---- Parsing: 400, except TooLarge (413). ----
    /// 413: the payload is larger than [`MAX_STATEMENT_BYTES`].
    #[error("statement is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// 400: the payload is not UTF-8.
    #[error("statement is not valid UTF-8 (from byte {offset})")]
    InvalidUtf8 {
        /// Length of the valid prefix.
        offset: usize,
    },
    /// 400: the payload is not JSON (syntax, lone surrogate, trailing data).
    #[error("statement is not valid JSON: {message}")]
    Json {
        /// The parser's message, with line and column.
        message: String,
    },
    /// 400: an object repeats a key.
    #[error("duplicate JSON key {key:?} in {path}")]
    DuplicateKey {
        /// JSON path of the object.
        path: String,
        /// The repeated key.
        key: String,
    },
    /// 400: a number has a fraction or exponent, is `-0`, or exceeds 64 bits.
    #[error("{path}: number is not a 64-bit integer")]
    NonIntegerNumber {
        /// JSON path of the number.
        path: String,
    },
    /// 400: a value is `null` (absence is written by omitting the field).
    #[error("{path}: null is not allowed; omit the field to make no claim")]
    Null {
        /// JSON path of the value.
        path: String,
    },
    /// 400: `_type` is not in-toto Statement v1.
    #[error("_type must be {STATEMENT_TYPE_V1}, got {found:?}")]
    StatementType {
        /// The `_type` found.
        found: String,
    },
    /// 400: `predicateType` is not one of ours.
    #[error("unknown predicateType {found:?}")]
    PredicateType {
        /// The `predicateType` found.
        found: String,
    },
    /// 400: a field is missing, unknown, of the wrong type or badly spelled.
    #[error("{path}: {message}")]
    Schema {
        /// JSON path of the field.
        path: String,
        /// What is wrong.
        message: String,
    },

    // ---- Validation of one statement: 400. ----
    /// 400: a term is not in the vocabulary set the field draws from.
    #[error("{field}: unknown term {term:?}")]
    UnknownTerm {
        /// JSON path of the field.
        field: String,
        /// The term.
        term: String,
    },
    /// 400: a list that is a set repeats a value.
    #[error("{field}: {value:?} is listed twice")]
    DuplicateEntry {
        /// JSON path of the list.
        field: String,
        /// The repeated value.
        value: String,
    },
    /// 400: two claims share an id.
    #[error("claims: id {id:?} is used twice")]
    DuplicateClaimId {
        /// The id.
        id: String,
    },
    /// 400: a list that must not be empty is.
    #[error("{field}: must not be empty")]
    EmptyList {
        /// JSON path of the list.
        field: String,
    },
    /// 400: `authoritativeLanguage` has no `statement` entry.
    #[error("authoritativeLanguage {lang:?} has no statement text")]
    AuthoritativeLanguageMissing {
        /// The language.
        lang: String,
    },
    /// 400: the subject does not describe what this predicate requires.
    #[error("subject: {reason}")]
    Subject {
        /// What is wrong.
        reason: String,
    },
    /// 400: `sequence` is 0.
    #[error("sequence must be at least 1")]
    SequenceZero,
    /// 400: the first version of a series has `supersedes`.
    #[error("sequence 1 must not have supersedes")]
    SupersedesOnFirstVersion,
    /// 400: a later version has no `supersedes`.
    #[error("sequence {sequence} needs supersedes")]
    MissingSupersedes {
        /// The version's sequence.
        sequence: u64,
    },
    /// 400: `supersedes.sequence` is not `sequence - 1`.
    #[error("supersedes.sequence is {found}, want {expected}")]
    SupersedesSequence {
        /// `sequence - 1`.
        expected: u64,
        /// What was given.
        found: u64,
    },
    /// 400: the first version lists removed claim ids.
    #[error("sequence 1 cannot remove claims, removedClaimIds must be []")]
    RemovalsOnFirstVersion,
    /// 400: an id is both removed and present.
    #[error("removedClaimIds: {id:?} is still in claims")]
    RemovedClaimPresent {
        /// The id.
        id: String,
    },
    /// 400: `effectiveFrom` is before `issuedAt` (no retroactive claims).
    #[error("effectiveFrom {effective_from} is before issuedAt {issued_at}")]
    EffectiveBeforeIssued {
        /// `issuedAt`.
        issued_at: Timestamp,
        /// `effectiveFrom`.
        effective_from: Timestamp,
    },
    /// 400: `validUntil` is not after `effectiveFrom`.
    #[error("validUntil {valid_until} is not after effectiveFrom {effective_from}")]
    ValidUntilNotAfterEffective {
        /// `effectiveFrom`.
        effective_from: Timestamp,
        /// `validUntil`.
        valid_until: Timestamp,
    },
    /// 400: a purpose is both permitted and excluded.
    #[error("claim {claim}: purpose {purpose} is both permitted and excluded")]
    PurposePermittedAndExcluded {
        /// Claim id.
        claim: String,
        /// The purpose.
        purpose: String,
    },
    /// 400: `usedForTraining: false` while `ai:ModelTraining` is a permitted purpose.
    #[error("claim {claim}: usedForTraining is false but ai:ModelTraining is a permitted purpose")]
    TrainingDeniedButPermitted {
        /// Claim id.
        claim: String,
    },
    /// 400: `usedForTraining: true` while `ai:ModelTraining` is excluded.
    #[error("claim {claim}: usedForTraining is true but {field} excludes ai:ModelTraining")]
    TrainingClaimedButExcluded {
        /// Claim id.
        claim: String,
        /// `purposes.excluded` or `processingExcluded`.
        field: String,
    },
    /// 400: `serverProcessing: none` with a server-side fact (retention, backups,
    /// server storage location).
    #[error("claim {claim}: serverProcessing is none but {field} implies server handling")]
    ServerFactWithoutServerProcessing {
        /// Claim id.
        claim: String,
        /// The contradicting field.
        field: String,
    },
    /// 400: `serverProcessing: transient` with `storage.serverBackups: true`.
    #[error("claim {claim}: serverProcessing is transient but storage.serverBackups is true")]
    TransientWithBackups {
        /// Claim id.
        claim: String,
    },
    /// 400: `serverProcessing: retained` while `storage.locations` names no server.
    #[error("claim {claim}: serverProcessing is retained but storage.locations names no server")]
    RetainedWithoutServerLocation {
        /// Claim id.
        claim: String,
    },
    /// 400: `endToEndEncrypted: true` with `operatorAccess.technicallyPossible: true`.
    #[error(
        "claim {claim}: endToEndEncrypted is true but operatorAccess.technicallyPossible is true"
    )]
    EncryptedButOperatorAccess {
        /// Claim id.
        claim: String,
    },
    /// 400: routine operator access that is technically impossible.
    #[error("claim {claim}: operatorAccess.routine is true but technicallyPossible is false")]
    RoutineAccessImpossible {
        /// Claim id.
        claim: String,
    },
    /// 400: recipients listed while sharing is an excluded processing.
    #[error("claim {claim}: sharedWith is not empty but processingExcluded has dpv:Share")]
    SharedButShareExcluded {
        /// Claim id.
        claim: String,
    },
    /// 400: a key id is not the SHA-256 of its public key.
    #[error("{field}: keyid {keyid} is not SHA-256 of the public key")]
    KeyIdMismatch {
        /// JSON path of the key.
        field: String,
        /// The declared key id.
        keyid: String,
    },
    /// 400: a key's `validUntil` is not after its `validFrom`.
    #[error("key {keyid}: validUntil is not after validFrom")]
    EmptyValidity {
        /// The key id.
        keyid: String,
    },
    /// 400: two root keys are valid at the same instant.
    #[error("root keys {first} and {second} have overlapping validity")]
    RootValidityOverlap {
        /// One key id.
        first: String,
        /// The other.
        second: String,
    },
    /// 400: a revocation names a key that is not bound.
    #[error("revocations: key {keyid} is not bound")]
    RevocationOfUnknownKey {
        /// The key id.
        keyid: String,
    },
    /// 400: an enrollment (sequence 1) is not exactly one root key and no revocations.
    #[error("enrollment: {reason}")]
    Enrollment {
        /// What is wrong.
        reason: String,
    },

    // ---- Series rules against the current head. ----
    /// 409: the head belongs to another series (a caller bug, or a stale lookup).
    #[error("{field} is {found:?} but the series head has {expected:?}")]
    SeriesMismatch {
        /// `issuer.domain`, `service.id` or `domain`.
        field: String,
        /// The head's value.
        expected: String,
        /// This version's value.
        found: String,
    },
    /// 409: `sequence` is not the head's + 1 (or 1 for a new series).
    #[error("sequence is {found}, want {expected}")]
    SequenceNotNext {
        /// Head + 1.
        expected: u64,
        /// What was given.
        found: u64,
    },
    /// 409: `supersedes` does not name the current head.
    #[error("supersedes is {found}, want the current head {expected}")]
    StaleSupersedes {
        /// The current head.
        expected: Supersedes,
        /// What was given.
        found: Supersedes,
    },
    /// 400: `removedClaimIds` is not exactly the ids dropped since the head.
    #[error("removedClaimIds is {found:?}, want exactly {expected:?}")]
    RemovedClaimIdsMismatch {
        /// The ids dropped, sorted.
        expected: Vec<String>,
        /// The ids listed, sorted.
        found: Vec<String>,
    },
    /// 400: `issuedAt` is too far from the log's integration time.
    #[error("issuedAt {issued_at} is more than {max_skew_seconds} s from log time {integrated_at}")]
    IssuedAtSkew {
        /// `issuedAt`.
        issued_at: Timestamp,
        /// The log's integration time.
        integrated_at: Timestamp,
        /// The allowed skew.
        max_skew_seconds: u64,
    },
    /// 400: a weakening takes effect before the previous version's notice period ends.
    #[error(
        "{change} weakens the claims, so effectiveFrom must be at least {earliest}, got {effective_from}"
    )]
    NoticePeriod {
        /// The first weakening change, rendered.
        change: String,
        /// Integration time + the previous `changeNoticePeriod`.
        earliest: Timestamp,
        /// `effectiveFrom`.
        effective_from: Timestamp,
    },
    /// 400: `effectiveFrom` is before the head's: versions take effect in order, so a
    /// version cannot bring forward a change its predecessor announced with notice.
    #[error("effectiveFrom {effective_from} is before the previous version's {previous}")]
    EffectiveBeforePrevious {
        /// The head's `effectiveFrom`.
        previous: Timestamp,
        /// This version's `effectiveFrom`.
        effective_from: Timestamp,
    },
    /// 400: a time computation passed year 9999.
    #[error("{field}: time out of range")]
    TimeOutOfRange {
        /// What was being computed.
        field: String,
    },
    /// 400: a key binding drops or alters a key bound earlier (bindings are append-only).
    #[error("key {keyid}: {reason}")]
    KeyHistoryChanged {
        /// The key id.
        keyid: String,
        /// What changed.
        reason: String,
    },
    /// 400: a key binding drops or alters an earlier revocation.
    #[error("revocation of {keyid} was dropped or changed")]
    RevocationChanged {
        /// The key id.
        keyid: String,
    },
    /// 403: no root key is valid at integration time; the domain must re-enroll.
    #[error("domain {domain} has no valid root key at {at}")]
    NoCurrentRoot {
        /// The domain.
        domain: String,
        /// Integration time.
        at: Timestamp,
    },

    // ---- Who may sign: 403. ----
    /// 403: the signing key is not bound to the issuer's domain.
    #[error("key {keyid} is not a signing key of {domain}")]
    KeyNotBound {
        /// The key id.
        keyid: String,
        /// The issuer's domain.
        domain: String,
    },
    /// 403: the signing key is outside its validity at integration time.
    #[error("key {keyid} is not valid at {at}")]
    KeyNotValid {
        /// The key id.
        keyid: String,
        /// Integration time.
        at: Timestamp,
    },
    /// 403: a signature names a bound key but does not verify with it.
    #[error("signature {index} by key {keyid} does not verify")]
    SignatureInvalid {
        /// Position of the signature in the envelope.
        index: usize,
        /// The key id it names.
        keyid: String,
    },
    /// 403: a key binding lacks the signature of a root key it needs.
    #[error("key binding must be signed by root key {keyid}")]
    MissingRootSignature {
        /// The root key's id.
        keyid: String,
    },
    /// 403: the signing key was revoked as compromised at or before integration time.
    #[error("key {keyid} is revoked as compromised since {compromised_since}")]
    KeyRevoked {
        /// The key id.
        keyid: String,
        /// From the revocation.
        compromised_since: Timestamp,
    },
}

/// A statement whose bytes parsed strictly: the subject, one of our predicates, and
/// the hash that identifies it in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStatement {
    /// The in-toto subjects.
    pub subject: Vec<Subject>,
    /// The predicate, by type.
    pub predicate: Predicate,
    /// Hex SHA-256 of the exact payload bytes.
    pub statement_sha256: Sha256Digest,
}

/// One of the predicates claimlog accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `https://claimlog.dev/predicate/data-handling/v1`.
    DataHandling(DataHandling),
    /// `https://claimlog.dev/predicate/key-binding/v1`.
    KeyBinding(KeyBinding),
}

/// An in-toto ResourceDescriptor, restricted to what our predicates use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subject {
    /// A name for the resource.
    pub name: Text,
    /// Where it is published.
    pub uri: HttpsUrl,
    /// Its digests; `sha256` is required.
    pub digest: DigestSet,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Label>,
}

/// Parses the exact payload bytes: size cap, UTF-8, strict JSON (no duplicate keys,
/// integers only, no null), in-toto Statement v1 with one of our predicate types,
/// no unknown fields anywhere. Returns the first problem.
pub fn parse_statement(bytes: &[u8]) -> Result<ParsedStatement, ClaimError> {
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(ClaimError::TooLarge {
            size: bytes.len(),
            max: MAX_STATEMENT_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ClaimError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    match parse_statement_single_pass(text) {
        Some(parsed) => Ok(parsed),
        None => parse_statement_two_pass(text),
    }
}

/// [`parse_statement`] after the size and UTF-8 checks: the strict pass over
/// the whole document, then the typed parse; the first problem, precisely.
fn parse_statement_two_pass(text: &str) -> Result<ParsedStatement, ClaimError> {
    let predicate_type = strict_json::check(text)?;

    // The strict pass found predicateType; parse the whole statement once, typed
    // for that predicate.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawStatement<P> {
        #[serde(rename = "_type")]
        type_: String,
        subject: Vec<Subject>,
        // Already read by the strict pass; listed so that it is not an unknown field.
        #[serde(rename = "predicateType")]
        _predicate_type: serde::de::IgnoredAny,
        predicate: P,
    }
    fn typed<'a, P: Deserialize<'a>>(text: &'a str) -> Result<(Vec<Subject>, P), ClaimError> {
        // Path tracking costs about as much as the parse itself, so it is paid only
        // to explain a failure.
        let raw: RawStatement<P> = match serde_json::from_str(text) {
            Ok(raw) => raw,
            Err(_) => {
                // Same text, same types: the tracked parse fails too, now with a path.
                return Err(serde_path_to_error::deserialize::<_, RawStatement<P>>(
                    &mut serde_json::Deserializer::from_str(text),
                )
                .err()
                .map_or_else(
                    || ClaimError::Json {
                        message: "inconsistent parse".into(),
                    },
                    schema_error,
                ));
            }
        };
        if raw.type_ != STATEMENT_TYPE_V1 {
            return Err(ClaimError::StatementType { found: raw.type_ });
        }
        Ok((raw.subject, raw.predicate))
    }
    let (subject, predicate) = match predicate_type.as_deref() {
        Some(DATA_HANDLING_V1) => {
            let (subject, p) = typed(text)?;
            (subject, Predicate::DataHandling(p))
        }
        Some(KEY_BINDING_V1) => {
            let (subject, p) = typed(text)?;
            (subject, Predicate::KeyBinding(p))
        }
        Some(other) => {
            return Err(ClaimError::PredicateType {
                found: other.to_owned(),
            });
        }
        None => {
            return Err(ClaimError::Schema {
                path: "predicateType".into(),
                message: "missing, or not a string, at the top level of a statement object".into(),
            });
        }
    };
    Ok(ParsedStatement {
        subject,
        predicate,
        statement_sha256: Sha256Digest::of(text.as_bytes()),
    })
}

/// The common case of [`parse_statement`] in one pass over `text` (already
/// size-checked UTF-8): the strict rules enforced while parsing typed
/// (`strict_typed`), for the predicate type the text most likely has. `None`
/// whenever it cannot vouch for the statement, for whatever reason; the
/// two-pass parse then gives the verdict and the exact error, so this changes
/// neither.
fn parse_statement_single_pass(text: &str) -> Option<ParsedStatement> {
    // The two type URIs are only compared: borrowed from the text (owned
    // only if written with escapes), not copied.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Statement<'a, P> {
        #[serde(rename = "_type", borrow)]
        type_: std::borrow::Cow<'a, str>,
        subject: Vec<Subject>,
        #[serde(rename = "predicateType", borrow)]
        predicate_type: std::borrow::Cow<'a, str>,
        predicate: P,
    }
    fn typed<'a, P: Deserialize<'a>>(
        text: &'a str,
        predicate_type: &str,
    ) -> Option<(Vec<Subject>, P)> {
        let s: Statement<'a, P> = strict_typed::from_str(text)?;
        (s.type_ == STATEMENT_TYPE_V1 && s.predicate_type == predicate_type)
            .then_some((s.subject, s.predicate))
    }
    // A guess only chooses which parse to try: the parsed predicateType must
    // then be exactly that type.
    let (subject, predicate) = if guess_predicate_type(text) == Some(KEY_BINDING_V1) {
        let (subject, p) = typed(text, KEY_BINDING_V1)?;
        (subject, Predicate::KeyBinding(p))
    } else {
        let (subject, p) = typed(text, DATA_HANDLING_V1)?;
        (subject, Predicate::DataHandling(p))
    };
    Some(ParsedStatement {
        subject,
        predicate,
        statement_sha256: Sha256Digest::of(text.as_bytes()),
    })
}

/// Which of our predicate types `text` most likely has, read from the last
/// `"predicateType"` in it, without parsing. Only a guess for
/// [`parse_statement_single_pass`], which then checks the parsed type. Searching
/// from the end is what makes it cheap: signers write canonical JSON with sorted
/// keys, where `predicateType` follows the predicate and only `subject` comes after.
fn guess_predicate_type(text: &str) -> Option<&'static str> {
    let key = "\"predicateType\"";
    let rest = &text[text.rfind(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    [KEY_BINDING_V1, DATA_HANDLING_V1]
        .into_iter()
        .find(|t| value.strip_prefix(t).is_some_and(|r| r.starts_with('"')))
}

/// [`parse_statement`], then [`validate`]; the first problem, if any. This is what the
/// log runs before the series rules.
pub fn parse_and_validate(bytes: &[u8]) -> Result<ParsedStatement, ClaimError> {
    let parsed = parse_statement(bytes)?;
    match validate(&parsed).into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(parsed),
    }
}

/// Turns a typed-parsing error into [`ClaimError::Schema`] with the full JSON path.
fn schema_error(e: serde_path_to_error::Error<serde_json::Error>) -> ClaimError {
    let path = e.path().to_string();
    ClaimError::Schema {
        path: if path == "." {
            "(root)".to_owned()
        } else {
            path
        },
        message: e.into_inner().to_string(),
    }
}
