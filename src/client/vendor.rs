//! The vendor and claim read API (spec/log-api.md "Vendors and claims") as typed,
//! untrusted hints: which entries to fetch and verify from tiles.
//!
//! Only the fields a verifier needs are read; other fields are ignored so that the
//! server can add some. Every read field is checked (types, canonical base64 hashes,
//! lowercase hex digests, domain syntax) and the body is size-capped first.

use serde::Deserialize;

use super::{ClientError, LogClient, MAX_JSON_BYTES, ProvenEntry};
use crate::checkpoint::Checkpoint;
use crate::claim::{Domain, Identifier, Sha256Digest};
use crate::entry::LogEntry;
use crate::merkle::{Hash, leaf_hash};

/// One version of a series as the API names it: an entry index with its leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    /// The entry's index.
    pub log_index: u64,
    /// The RFC 9162 leaf hash the log claims for it.
    pub leaf_hash: Hash,
    /// The version's `sequence`.
    pub sequence: u64,
    /// SHA-256 of the statement's payload bytes.
    pub statement_sha256: Sha256Digest,
    /// The log's integration time, POSIX seconds.
    pub integrated_time: u64,
}

/// `GET /v1/vendors/<domain>`: the domain's key-binding versions and services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorInfo {
    /// The domain.
    pub domain: Domain,
    /// The store's tree size when the answer was made.
    pub tree_size: u64,
    /// The key-binding head.
    pub key_binding: VersionRef,
    /// Every key-binding version, oldest first.
    pub history: Vec<VersionRef>,
    /// The domain's data-handling series.
    pub services: Vec<ServiceInfo>,
}

/// A data-handling series of a vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The service id.
    pub id: Identifier,
    /// The series head.
    pub head: VersionRef,
}

/// `GET /v1/claims/<statementSha256>`: where a statement is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimInfo {
    /// SHA-256 of the statement's payload bytes.
    pub statement_sha256: Sha256Digest,
    /// The entry's index.
    pub log_index: u64,
    /// The RFC 9162 leaf hash the log claims for it.
    pub leaf_hash: Hash,
    /// The log's integration time.
    pub integrated_time: u64,
    /// The store's tree size when the answer was made.
    pub tree_size: u64,
}

/// `GET /v1/vendors[?after=]`: one page of enrolled domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorsPage {
    /// The store's tree size when the answer was made.
    pub tree_size: u64,
    /// Each domain with its key-binding head.
    pub vendors: Vec<(Domain, VersionRef)>,
    /// Whether another page follows (ask again with `after` = the last domain).
    pub more: bool,
}

/// `GET /v1/vendors/<domain>/<service>/history`: every version of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryInfo {
    /// The store's tree size when the answer was made.
    pub tree_size: u64,
    /// Every version, oldest first.
    pub versions: Vec<VersionRef>,
}

impl LogClient {
    /// The vendor record of `domain`, or `None` if it has not enrolled.
    pub async fn vendor(&self, domain: &Domain) -> Result<Option<VendorInfo>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            domain: Domain,
            tree_size: u64,
            key_binding: RawVersion,
            history: Vec<RawVersion>,
            services: Vec<RawService>,
        }
        #[derive(Deserialize)]
        struct RawService {
            id: Identifier,
            head: RawVersion,
        }
        let path = format!("/v1/vendors/{domain}");
        let Some(raw) = self.get_json::<Raw>(&path).await? else {
            return Ok(None);
        };
        let url = format!("{}{path}", self.base);
        if &raw.domain != domain {
            return Err(bad(&url, format!("answer is about {}", raw.domain)));
        }
        Ok(Some(VendorInfo {
            domain: raw.domain,
            tree_size: raw.tree_size,
            key_binding: raw.key_binding.check(&url)?,
            history: raw
                .history
                .into_iter()
                .map(|v| v.check(&url))
                .collect::<Result<_, _>>()?,
            services: raw
                .services
                .into_iter()
                .map(|s| {
                    Ok(ServiceInfo {
                        id: s.id,
                        head: s.head.check(&url)?,
                    })
                })
                .collect::<Result<_, ClientError>>()?,
        }))
    }

    /// Where the statement with SHA-256 `sha` is, or `None` if the log does not have it.
    pub async fn claim(&self, sha: &Sha256Digest) -> Result<Option<ClaimInfo>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            statement_sha256: Sha256Digest,
            log_index: u64,
            leaf_hash: String,
            integrated_time: u64,
            tree_size: u64,
        }
        let path = format!("/v1/claims/{sha}");
        let Some(raw) = self.get_json::<Raw>(&path).await? else {
            return Ok(None);
        };
        let url = format!("{}{path}", self.base);
        if &raw.statement_sha256 != sha {
            return Err(bad(
                &url,
                format!("answer is about {}", raw.statement_sha256),
            ));
        }
        Ok(Some(ClaimInfo {
            statement_sha256: raw.statement_sha256,
            log_index: raw.log_index,
            leaf_hash: parse_hash(&url, &raw.leaf_hash)?,
            integrated_time: raw.integrated_time,
            tree_size: raw.tree_size,
        }))
    }

    /// One page of enrolled vendors, starting after `after`.
    pub async fn vendors(&self, after: Option<&Domain>) -> Result<VendorsPage, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            tree_size: u64,
            vendors: Vec<RawVendor>,
            more: bool,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct RawVendor {
            domain: Domain,
            key_binding: RawVersion,
        }
        let path = match after {
            Some(d) => format!("/v1/vendors?after={d}"),
            None => "/v1/vendors".to_owned(),
        };
        let url = format!("{}{path}", self.base);
        let raw = self
            .get_json::<Raw>(&path)
            .await?
            .ok_or_else(|| self.not_found(&path))?;
        Ok(VendorsPage {
            tree_size: raw.tree_size,
            vendors: raw
                .vendors
                .into_iter()
                .map(|v| Ok((v.domain, v.key_binding.check(&url)?)))
                .collect::<Result<_, ClientError>>()?,
            more: raw.more,
        })
    }

    /// Every version of the series `(domain, service)`, or `None` if there is none.
    pub async fn history(
        &self,
        domain: &Domain,
        service: &Identifier,
    ) -> Result<Option<HistoryInfo>, ClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            tree_size: u64,
            versions: Vec<RawVersion>,
        }
        let path = format!("/v1/vendors/{domain}/{service}/history");
        let url = format!("{}{path}", self.base);
        let Some(raw) = self.get_json::<Raw>(&path).await? else {
            return Ok(None);
        };
        Ok(Some(HistoryInfo {
            tree_size: raw.tree_size,
            versions: raw
                .versions
                .into_iter()
                .map(|v| v.check(&url))
                .collect::<Result<_, _>>()?,
        }))
    }

    /// The entry `version` names, proven in `checkpoint`'s tree from tiles
    /// ([`LogClient::entry`]), after checking that the answer told the truth about
    /// it: its leaf hash, the SHA-256 of its statement and its integration time. The
    /// vendor API is a hint; this turns one of its answers into a verified entry.
    pub async fn verify_version(
        &self,
        checkpoint: &Checkpoint,
        version: &VersionRef,
    ) -> Result<ProvenEntry, ClientError> {
        let index = version.log_index;
        let proven = self.entry(checkpoint, index).await?;
        let mismatch = |field, claimed: String, actual: String| ClientError::HintMismatch {
            index,
            field,
            claimed,
            actual,
        };
        let leaf = leaf_hash(&proven.entry);
        if leaf != version.leaf_hash {
            return Err(mismatch(
                "leafHash",
                version.leaf_hash.to_base64(),
                leaf.to_base64(),
            ));
        }
        // The leaf hash matched, so the log committed to these bytes; a log entry
        // that does not parse is reported as the statement it cannot be.
        let (sha, time) = match LogEntry::parse(&proven.entry) {
            Ok(e) => (
                Sha256Digest::of(e.envelope.payload()).to_string(),
                e.integrated_time.to_string(),
            ),
            Err(e) => (format!("no statement ({e})"), "none".to_owned()),
        };
        if sha != version.statement_sha256.to_string() {
            let claimed = version.statement_sha256.to_string();
            return Err(mismatch("statementSha256", claimed, sha));
        }
        if time != version.integrated_time.to_string() {
            let claimed = version.integrated_time.to_string();
            return Err(mismatch("integratedTime", claimed, time));
        }
        Ok(proven)
    }

    /// `GET` a JSON answer (capped at [`MAX_JSON_BYTES`]); `None` for a 404.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ClientError> {
        let Some(body) = self.get_optional(path, MAX_JSON_BYTES).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| bad(&format!("{}{path}", self.base), e.to_string()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVersion {
    log_index: u64,
    leaf_hash: String,
    sequence: u64,
    statement_sha256: Sha256Digest,
    integrated_time: u64,
}

impl RawVersion {
    fn check(self, url: &str) -> Result<VersionRef, ClientError> {
        Ok(VersionRef {
            log_index: self.log_index,
            leaf_hash: parse_hash(url, &self.leaf_hash)?,
            sequence: self.sequence,
            statement_sha256: self.statement_sha256,
            integrated_time: self.integrated_time,
        })
    }
}

fn parse_hash(url: &str, b64: &str) -> Result<Hash, ClientError> {
    Hash::from_base64(b64).ok_or_else(|| bad(url, format!("leafHash {b64:?} is not a hash")))
}

fn bad(url: &str, reason: String) -> ClientError {
    ClientError::BadResponse {
        url: url.to_owned(),
        reason,
    }
}
