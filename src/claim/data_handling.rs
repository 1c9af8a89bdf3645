//! The data-handling predicate, `https://claimlog.dev/predicate/data-handling/v1`:
//! the typed form of `spec/claim.md` §3. Parsing here is structural (shape, syntax
//! of every value, no unknown fields); vocabulary and consistency are checked by
//! [`super::validate`], series rules by [`super::series`].
//!
//! Every optional field is an `Option`: `None` means "no claim made about this",
//! never "no" (spec/claim.md §2).

use serde::{Deserialize, Serialize};

use super::time::{IsoDuration, Timestamp};
use super::types::{
    Contact, Domain, HttpsUrl, Identifier, Label, LanguageTag, Sha256Digest, StrictMap, Supersedes,
    Term, Text,
};

/// The predicate type URI of the data-handling predicate.
pub const DATA_HANDLING_V1: &str = "https://claimlog.dev/predicate/data-handling/v1";

/// One version of a vendor's data-handling claims for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataHandling {
    /// Who makes the claims; `issuer.domain` is half of the series key.
    pub issuer: Issuer,
    /// What the claims are about; `service.id` is the other half of the series key.
    pub service: Service,
    /// 1 for the first version of a series, then +1 per version.
    pub sequence: u64,
    /// The previous version; required exactly when `sequence > 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Supersedes>,
    /// Exactly the claim ids present in the previous version and absent here.
    pub removed_claim_ids: Vec<Identifier>,
    /// When the issuer made this version; must be near the log's integration time.
    pub issued_at: Timestamp,
    /// When these claims take effect; not before `issued_at`.
    pub effective_from: Timestamp,
    /// When these claims stop applying unless renewed; after `effective_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// The notice the issuer promises before a weakening takes effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_notice_period: Option<IsoDuration>,
    /// The claims in human language, one entry per language.
    pub statement: Vec<LocalizedText>,
    /// The language whose `statement` text prevails; one of `statement[].lang`.
    pub authoritative_language: LanguageTag,
    /// Where to ask about these claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// One claim per data category, each with a stable id.
    pub claims: Vec<Claim>,
}

/// The issuer of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// The domain whose key binding authorizes the signer.
    pub domain: Domain,
    /// The issuer's legal name.
    pub name: Text,
}

/// The service the claims are about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// Stable id, unique within the issuer.
    pub id: Identifier,
    /// Human-readable name.
    pub name: Text,
    /// The service's apps in app stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifiers: Option<Vec<AppIdentifier>>,
}

/// An app in an app store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppIdentifier {
    /// The store (vocabulary set `appStores`).
    pub store: Term,
    /// The app's id in that store.
    pub id: Label,
}

/// Text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    /// BCP 47 language tag.
    pub lang: LanguageTag,
    /// The text.
    pub text: Text,
}

/// Whether the issuer's servers handle the data at all (spec/claim.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerProcessing {
    /// The data never reaches servers under the issuer's control.
    None,
    /// Servers handle it only while performing the requested operation.
    Transient,
    /// Servers store it beyond that.
    Retained,
}

impl ServerProcessing {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerProcessing::None => "none",
            ServerProcessing::Transient => "transient",
            ServerProcessing::Retained => "retained",
        }
    }
}

impl std::fmt::Display for ServerProcessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the issuer claims about one category of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Claim {
    /// Stable id; the same id in two versions is the same claim.
    pub id: Identifier,
    /// The category of personal data.
    pub data_category: DataCategory,
    /// Who the claim binds (vocabulary set `scopes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Term>,
    /// DPV legal bases for processing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<Vec<Term>>,
    /// Whether servers handle the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_processing: Option<ServerProcessing>,
    /// Where the data is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// How long the data is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Purposes the data is, and is not, used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Purposes>,
    /// Processing operations never applied to the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_excluded: Option<Vec<Term>>,
    /// Categories of recipients the data is shared with; `[]` claims "nobody".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<Vec<Term>>,
    /// Whether the data is used to train AI or machine-learning models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_for_training: Option<bool>,
    /// Whether the data is end-to-end encrypted between users' devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_encrypted: Option<bool>,
    /// DPV technical measures applied to the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_measures: Option<Vec<Term>>,
    /// Whether and when the operator can read the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_access: Option<OperatorAccess>,
    /// Declared exceptions to this claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Vec<Exception>>,
    /// How the claim is backed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assurance: Option<Assurance>,
}

/// The data category a claim is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataCategory {
    /// DPV personal-data term (vocabulary set `personalData`).
    pub term: Term,
    /// The issuer's description of the category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Text>,
    /// The matching data type in each app store's privacy label scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_label_mappings: Option<StrictMap<Label>>,
}

/// Where data is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Storage {
    /// Storage locations (vocabulary set `storageLocations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<Term>>,
    /// Whether server-side backups contain the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_backups: Option<bool>,
}

/// How long data is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// On servers under the issuer's control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerRetention>,
    /// On the user's device (vocabulary set `deviceRetention`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Term>,
}

/// Server-side retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerRetention {
    /// The longest any copy is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<IsoDuration>,
    /// The event that ends retention earlier (vocabulary set `serverRetentionEvents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Term>,
}

/// Permitted and excluded purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purposes {
    /// The only purposes the data is used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<Vec<Term>>,
    /// Purposes the data is never used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Vec<Term>>,
}

/// Operator access to the data (spec/claim.md §1, "operator access").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorAccess {
    /// Whether the operator can read the data in plaintext at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technically_possible: Option<bool>,
    /// Whether it does so in the ordinary course of business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine: Option<bool>,
    /// The only conditions under which it does (vocabulary set `exceptionKinds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Term>>,
}

/// A declared exception to a claim.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exception {
    /// The kind (vocabulary set `exceptionKinds`).
    pub kind: Term,
    /// What part of the data or claim it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<Text>,
    /// Where uses of the exception are disclosed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_in: Option<HttpsUrl>,
}

/// How a claim is backed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assurance {
    /// The level (vocabulary set `assuranceLevels`).
    pub level: Term,
    /// Supporting documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Evidence>>,
}

/// A supporting document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The kind (vocabulary set `evidenceKinds`).
    pub kind: Term,
    /// Where it is published.
    pub uri: HttpsUrl,
    /// SHA-256 of the published document, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
}

impl DataHandling {
    /// The claim with id `id`, if present.
    pub fn claim(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == *id)
    }
}
