//! The versioned vocabulary registry, `spec/vocabulary/v1.json`, embedded at compile
//! time and parsed once.
//!
//! The registry is data, not code: adding a term is a change to the JSON file only.
//! Within v1 it is append-only (terms are never removed, renamed or reordered), so a
//! claim that validated once keeps validating.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use serde::Deserialize;

/// The registry's source text, as published in `spec/vocabulary/v1.json`.
pub const VOCABULARY_V1_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vocabulary/v1.json"
));

/// A named set of terms a predicate field draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TermSet {
    /// W3C DPV personal-data categories (`pd:`).
    PersonalData,
    /// W3C DPV purposes plus `ai:ModelTraining`.
    Purposes,
    /// W3C DPV processing operations plus ours (`ai:ModelTraining`,
    /// `claimlog:Tracking`, `claimlog:Scrape`).
    Processing,
    /// W3C DPV technical measures.
    TechnicalMeasures,
    /// W3C DPV legal bases.
    LegalBases,
    /// W3C DPV recipient categories.
    Recipients,
    /// Storage locations (ours).
    StorageLocations,
    /// The storage locations that are servers under the issuer's control (ours).
    ServerLocations,
    /// Exception kinds and operator-access conditions (ours).
    ExceptionKinds,
    /// Claim scopes, narrowest first (ours).
    Scopes,
    /// Assurance levels, weakest first (ours).
    AssuranceLevels,
    /// Evidence kinds (ours).
    EvidenceKinds,
    /// Device retention values (ours).
    DeviceRetention,
    /// Events that end server retention (ours).
    ServerRetentionEvents,
    /// App stores (ours).
    AppStores,
    /// App-store privacy label schemes (ours).
    StoreLabelSchemes,
}

impl TermSet {
    /// Every set, in registry order.
    pub const ALL: [TermSet; 16] = [
        TermSet::PersonalData,
        TermSet::Purposes,
        TermSet::Processing,
        TermSet::TechnicalMeasures,
        TermSet::LegalBases,
        TermSet::Recipients,
        TermSet::StorageLocations,
        TermSet::ServerLocations,
        TermSet::ExceptionKinds,
        TermSet::Scopes,
        TermSet::AssuranceLevels,
        TermSet::EvidenceKinds,
        TermSet::DeviceRetention,
        TermSet::ServerRetentionEvents,
        TermSet::AppStores,
        TermSet::StoreLabelSchemes,
    ];

    /// The set's key in the registry JSON.
    pub fn key(self) -> &'static str {
        match self {
            TermSet::PersonalData => "personalData",
            TermSet::Purposes => "purposes",
            TermSet::Processing => "processing",
            TermSet::TechnicalMeasures => "technicalMeasures",
            TermSet::LegalBases => "legalBases",
            TermSet::Recipients => "recipients",
            TermSet::StorageLocations => "storageLocations",
            TermSet::ServerLocations => "serverLocations",
            TermSet::ExceptionKinds => "exceptionKinds",
            TermSet::Scopes => "scopes",
            TermSet::AssuranceLevels => "assuranceLevels",
            TermSet::EvidenceKinds => "evidenceKinds",
            TermSet::DeviceRetention => "deviceRetention",
            TermSet::ServerRetentionEvents => "serverRetentionEvents",
            TermSet::AppStores => "appStores",
            TermSet::StoreLabelSchemes => "storeLabelSchemes",
        }
    }
}

/// One registered term.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermInfo {
    /// The term as written in claims.
    pub term: String,
    /// A short human-readable label.
    pub label: String,
    /// Where it is defined: `dpv`, `dpv-pd` or `claimlog`.
    pub source: String,
}

/// The hash of the term indexes (this registry's ranks, and the interner of
/// [`super::term`]): the length and the first and last 8 bytes of the text,
/// mixed. Every term a statement holds is looked up, and hashing every byte
/// (FNV, SipHash) cost more than the rest of the lookup. The table is built
/// once from the compiled-in registry and never grows, so texts chosen to
/// collide can only slow their own lookup (which compares whole texts).
#[derive(Default)]
pub(super) struct TermHasher(u64);

impl Hasher for TermHasher {
    fn write(&mut self, bytes: &[u8]) {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        let n = bytes.len();
        let (first, last) = if n > 8 {
            (word(&bytes[..8]), word(&bytes[n - 8..]))
        } else {
            (word(bytes), 0)
        };
        // Two multiply-rotate rounds, then MurmurHash3's 64-bit finalizer, so
        // that every input bit reaches the bits hashbrown uses (low for the
        // bucket, top for the tag).
        let mut h = (self.0 ^ n as u64 ^ first).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h = (h.rotate_left(29) ^ last).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The parsed registry.
#[derive(Debug)]
pub struct Vocabulary {
    /// The registry version, `v1`.
    pub version: String,
    sets: BTreeMap<TermSet, Vec<TermInfo>>,
    /// Each set's terms by name, to their rank: validation looks up every term of
    /// every statement the log or a monitor reads, and the larger sets (personal
    /// data, purposes) have dozens of terms, too many to scan.
    /// Indexed by `TermSet as usize` (declaration order, which is [`TermSet::ALL`]).
    ranks: Vec<HashMap<String, usize, BuildHasherDefault<TermHasher>>>,
}

impl Vocabulary {
    /// The v1 registry, parsed on first use.
    pub fn v1() -> &'static Vocabulary {
        static V1: OnceLock<Vocabulary> = OnceLock::new();
        V1.get_or_init(|| {
            // The text is compiled in and `vocabulary_is_well_formed` parses it in
            // every test run, so a failure here is a build defect, not bad input.
            Vocabulary::parse(VOCABULARY_V1_JSON).expect("embedded vocabulary v1 is well formed")
        })
    }

    /// Parses a registry document; every [`TermSet`] must be present and each term
    /// must be unique within its set.
    pub fn parse(text: &str) -> Result<Vocabulary, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[allow(dead_code)]
            registry: String,
            version: String,
            #[allow(dead_code)]
            about: String,
            sets: BTreeMap<String, Set>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Set {
            #[allow(dead_code)]
            about: String,
            #[allow(dead_code)]
            ordered: bool,
            terms: Vec<TermInfo>,
        }
        let mut doc: Doc = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut sets = BTreeMap::new();
        for set in TermSet::ALL {
            let terms = doc
                .sets
                .remove(set.key())
                .ok_or_else(|| format!("missing set {}", set.key()))?
                .terms;
            let mut names: Vec<&str> = terms.iter().map(|t| t.term.as_str()).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("repeated term in set {}", set.key()));
            }
            sets.insert(set, terms);
        }
        if let Some(extra) = doc.sets.keys().next() {
            return Err(format!("unknown set {extra}"));
        }
        let ranks = TermSet::ALL
            .iter()
            .map(|set| {
                sets.get(set)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(rank, t)| (t.term.clone(), rank))
                    .collect()
            })
            .collect();
        Ok(Vocabulary {
            version: doc.version,
            sets,
            ranks,
        })
    }

    /// Whether `term` is registered in `set`.
    pub fn contains(&self, set: TermSet, term: &str) -> bool {
        self.rank(set, term).is_some()
    }

    /// The position of `term` in `set` (the order that matters for ordered sets:
    /// scopes narrowest first, assurance levels weakest first).
    pub fn rank(&self, set: TermSet, term: &str) -> Option<usize> {
        self.ranks.get(set as usize)?.get(term).copied()
    }

    /// Every term of `set`, in registry order.
    pub fn terms(&self, set: TermSet) -> &[TermInfo] {
        self.sets.get(&set).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_well_formed() {
        let v = Vocabulary::parse(VOCABULARY_V1_JSON).unwrap();
        assert_eq!(v.version, "v1");
        for set in TermSet::ALL {
            assert!(!v.terms(set).is_empty(), "{}", set.key());
            for t in v.terms(set) {
                assert!(
                    super::super::types::Term::parse(&t.term).is_ok()
                        || set == TermSet::StoreLabelSchemes,
                    "{}",
                    t.term
                );
                assert!(["dpv", "dpv-pd", "claimlog"].contains(&t.source.as_str()));
            }
        }
        // Every server location is a storage location.
        for t in v.terms(TermSet::ServerLocations) {
            assert!(v.contains(TermSet::StorageLocations, &t.term));
        }
    }

    #[test]
    fn lookups() {
        let v = Vocabulary::v1();
        assert!(v.contains(TermSet::PersonalData, "pd:Communication"));
        assert!(v.contains(TermSet::Processing, "ai:ModelTraining"));
        assert!(v.contains(TermSet::Purposes, "ai:ModelTraining"));
        assert!(!v.contains(TermSet::Purposes, "dpv:Analyse"));
        assert!(
            v.rank(TermSet::AssuranceLevels, "self-asserted")
                < v.rank(TermSet::AssuranceLevels, "independently-audited")
        );
        assert!(
            v.rank(TermSet::Scopes, "issuer") < v.rank(TermSet::Scopes, "issuer-and-processors")
        );
        // The index agrees with the registry order, in every set.
        for (i, set) in TermSet::ALL.iter().enumerate() {
            assert_eq!(*set as usize, i);
        }
        for set in TermSet::ALL {
            for (i, t) in v.terms(set).iter().enumerate() {
                assert_eq!(v.rank(set, &t.term), Some(i), "{}", t.term);
            }
            assert_eq!(v.rank(set, "dpv:NoSuchTerm"), None);
        }
    }

    #[test]
    fn broken_registries_are_rejected() {
        assert!(Vocabulary::parse("{}").is_err());
        let missing = VOCABULARY_V1_JSON.replace("\"appStores\"", "\"appStorez\"");
        assert!(Vocabulary::parse(&missing).is_err());
        let repeated = VOCABULARY_V1_JSON.replace(
            "\"term\": \"dpv:Marketing\"",
            "\"term\": \"dpv:Advertising\"",
        );
        assert_eq!(
            Vocabulary::parse(&repeated).unwrap_err(),
            "repeated term in set purposes"
        );
    }
}
