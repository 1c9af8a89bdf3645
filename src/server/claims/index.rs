//! The claim indexes: record types and key layout of the secondary index
//! records written in the same store batch as the entries they describe
//! ([`crate::server::store::CommitBatch::index`]), so that they never
//! disagree with the log.
//!
//! Key layout (ASCII; domains and service ids cannot contain `/`, and
//! sequences are zero-padded to 20 digits so byte order is numeric order):
//! - `kb/h/<domain>` → [`VersionRecord`]: the head of the domain's key-binding
//!   series (one record per enrolled vendor, so a scan of `kb/h/` lists them);
//! - `kb/v/<domain>/<sequence>` → [`VersionRecord`]: every key-binding version;
//! - `dh/h/<domain>/<service>` → [`VersionRecord`]: the head of a
//!   data-handling series;
//! - `dh/v/<domain>/<service>/<sequence>` → [`VersionRecord`]: every version;
//! - `st/<statementSha256>` → [`StatementRecord`]: where a statement is.
//!
//! Values are JSON. Statements themselves are not copied: a head's predicate
//! is read back from its log entry ([`load_statement`]).

use serde::{Deserialize, Serialize};

use crate::claim::{Domain, Identifier, ParsedStatement, Sha256Digest, parse_statement};
use crate::server::entry::LogEntry;
use crate::server::store::StoreError;

/// Prefix of the key-binding heads (one per enrolled domain).
pub const KEY_HEAD_PREFIX: &str = "kb/h/";

/// One version of a series as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VersionRecord {
    /// The entry's index in the log.
    pub log_index: u64,
    /// The version's `sequence`.
    pub sequence: u64,
    /// SHA-256 of the exact payload bytes.
    pub statement_sha256: Sha256Digest,
    /// The log's integration time, POSIX seconds.
    pub integrated_time: u64,
}

/// Where a statement is, by `statementSha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatementRecord {
    /// The entry's index in the log.
    pub log_index: u64,
    /// The statement's predicate type URI.
    pub predicate_type: String,
    /// `issuer.domain` or the key binding's `domain`.
    pub domain: Domain,
    /// `service.id`, for a data-handling statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Identifier>,
    /// The version's `sequence`.
    pub sequence: u64,
    /// The log's integration time, POSIX seconds.
    pub integrated_time: u64,
}

/// `kb/h/<domain>`.
pub fn key_head_key(domain: &Domain) -> Vec<u8> {
    format!("{KEY_HEAD_PREFIX}{domain}").into_bytes()
}

/// `kb/v/<domain>/`: the prefix of a domain's key-binding versions.
pub fn key_versions_prefix(domain: &Domain) -> Vec<u8> {
    format!("kb/v/{domain}/").into_bytes()
}

/// `kb/v/<domain>/<sequence>`.
pub fn key_version_key(domain: &Domain, sequence: u64) -> Vec<u8> {
    format!("kb/v/{domain}/{sequence:020}").into_bytes()
}

/// `dh/h/<domain>/`: the prefix of a domain's data-handling series heads.
pub fn series_heads_prefix(domain: &Domain) -> Vec<u8> {
    format!("dh/h/{domain}/").into_bytes()
}

/// `dh/h/<domain>/<service>`.
pub fn series_head_key(domain: &Domain, service: &Identifier) -> Vec<u8> {
    format!("dh/h/{domain}/{service}").into_bytes()
}

/// `dh/v/<domain>/<service>/`: the prefix of a series' versions.
pub fn series_versions_prefix(domain: &Domain, service: &Identifier) -> Vec<u8> {
    format!("dh/v/{domain}/{service}/").into_bytes()
}

/// `dh/v/<domain>/<service>/<sequence>`.
pub fn series_version_key(domain: &Domain, service: &Identifier, sequence: u64) -> Vec<u8> {
    format!("dh/v/{domain}/{service}/{sequence:020}").into_bytes()
}

/// `st/<statementSha256>`.
pub fn statement_key(sha: &Sha256Digest) -> Vec<u8> {
    format!("st/{sha}").into_bytes()
}

/// Serializes an index value.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs (strings and integers) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Parses an index value written by [`encode`].
pub fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Corrupt(format!(
            "index record {}: {e}",
            String::from_utf8_lossy(key)
        ))
    })
}

/// Reads and parses the statement in the log entry at `log_index`, using
/// `entry` to fetch the entry bytes. The entry was admitted, so a failure
/// here means the store is corrupt.
pub fn load_statement(
    log_index: u64,
    entry: impl FnOnce(u64) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<(LogEntry, ParsedStatement), StoreError> {
    let corrupt = |m: String| StoreError::Corrupt(format!("indexed entry {log_index}: {m}"));
    let bytes = entry(log_index)?.ok_or_else(|| corrupt("missing".into()))?;
    let entry = LogEntry::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let parsed = parse_statement(entry.envelope.payload()).map_err(|e| corrupt(e.to_string()))?;
    Ok((entry, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_sequence_and_do_not_collide() {
        let d = Domain::parse("chat.example").unwrap();
        let s = Identifier::parse("messenger").unwrap();
        assert_eq!(key_head_key(&d), b"kb/h/chat.example");
        assert!(series_version_key(&d, &s, 9) < series_version_key(&d, &s, 10));
        assert!(key_version_key(&d, 2).starts_with(&key_versions_prefix(&d)));
        // A domain that extends another is not under its prefix.
        let longer = Domain::parse("chat.example.org").unwrap();
        assert!(!series_head_key(&longer, &s).starts_with(&series_heads_prefix(&d)));
    }

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let r = VersionRecord {
            log_index: 7,
            sequence: 2,
            statement_sha256: Sha256Digest::of(b"x"),
            integrated_time: 1_700_000_000,
        };
        assert_eq!(decode::<VersionRecord>(b"k", &encode(&r)).unwrap(), r);
        assert!(matches!(
            decode::<VersionRecord>(b"k", b"{\"logIndex\":1}"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
