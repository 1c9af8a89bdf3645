//! Validation of one statement on its own (spec/claim.md §4): vocabulary, version
//! fields, and self-contradictions. Every problem is collected, in document order,
//! so `claim lint` can print them all; the log rejects with the first.

use std::collections::BTreeSet;

use super::data_handling::{Claim, DataHandling, ServerProcessing};
use super::key_binding::validate_key_binding;
use super::types::{Supersedes, Term};
use super::vocab::{TermSet, Vocabulary};
use super::{ClaimError, ParsedStatement, Predicate, Subject};

/// The training term that several contradiction rules look for.
const MODEL_TRAINING: &str = "ai:ModelTraining";
/// The DPV processing operation "share".
const SHARE: &str = "dpv:Share";

/// Every problem with a parsed statement, in document order; empty if it is valid.
pub fn validate(statement: &ParsedStatement) -> Vec<ClaimError> {
    match &statement.predicate {
        Predicate::DataHandling(d) => validate_data_handling(&statement.subject, d),
        Predicate::KeyBinding(k) => validate_key_binding(&statement.subject, k),
    }
}

/// The rules on `sequence` and `supersedes` both predicates share.
pub(crate) fn check_version_fields(
    sequence: u64,
    supersedes: Option<&Supersedes>,
    out: &mut Vec<ClaimError>,
) {
    match (sequence, supersedes) {
        (0, _) => out.push(ClaimError::SequenceZero),
        (1, Some(_)) => out.push(ClaimError::SupersedesOnFirstVersion),
        (1, None) => {}
        (n, None) => out.push(ClaimError::MissingSupersedes { sequence: n }),
        (n, Some(s)) if s.sequence != n - 1 => out.push(ClaimError::SupersedesSequence {
            expected: n - 1,
            found: s.sequence,
        }),
        (_, Some(_)) => {}
    }
}

fn validate_data_handling(subject: &[Subject], d: &DataHandling) -> Vec<ClaimError> {
    let mut v = Checker {
        vocab: Vocabulary::v1(),
        out: Vec::new(),
        claim: None,
    };
    if subject.is_empty() {
        v.out.push(ClaimError::EmptyList {
            field: "subject".into(),
        });
    }
    check_version_fields(d.sequence, d.supersedes.as_ref(), &mut v.out);
    v.unique(
        "removedClaimIds",
        d.removed_claim_ids.iter().map(|i| i.as_str()),
    );
    if d.sequence == 1 && !d.removed_claim_ids.is_empty() {
        v.out.push(ClaimError::RemovalsOnFirstVersion);
    }
    for id in &d.removed_claim_ids {
        if d.claim(id.as_str()).is_some() {
            v.out
                .push(ClaimError::RemovedClaimPresent { id: id.to_string() });
        }
    }
    if d.effective_from < d.issued_at {
        v.out.push(ClaimError::EffectiveBeforeIssued {
            issued_at: d.issued_at,
            effective_from: d.effective_from,
        });
    }
    if let Some(valid_until) = d.valid_until
        && valid_until <= d.effective_from
    {
        v.out.push(ClaimError::ValidUntilNotAfterEffective {
            effective_from: d.effective_from,
            valid_until,
        });
    }
    if d.statement.is_empty() {
        v.out.push(ClaimError::EmptyList {
            field: "statement".into(),
        });
    }
    v.unique("statement", d.statement.iter().map(|s| s.lang.as_str()));
    if !d
        .statement
        .iter()
        .any(|s| s.lang == d.authoritative_language)
    {
        v.out.push(ClaimError::AuthoritativeLanguageMissing {
            lang: d.authoritative_language.to_string(),
        });
    }
    if let Some(apps) = &d.service.app_identifiers {
        for (i, app) in apps.iter().enumerate() {
            v.term(
                &format!("service.appIdentifiers[{i}].store"),
                TermSet::AppStores,
                &app.store,
            );
        }
        let keys: Vec<String> = apps
            .iter()
            .map(|a| format!("{} {}", a.store, a.id))
            .collect();
        v.unique("service.appIdentifiers", keys.iter().map(String::as_str));
    }
    if d.claims.is_empty() {
        v.out.push(ClaimError::EmptyList {
            field: "claims".into(),
        });
    }
    let mut ids = BTreeSet::new();
    for claim in &d.claims {
        if !ids.insert(claim.id.as_str()) {
            v.out.push(ClaimError::DuplicateClaimId {
                id: claim.id.to_string(),
            });
        }
    }
    // One claim per data category (DESIGN §2): two claims about the same category
    // could promise different things about the same data.
    v.unique(
        "claims[].dataCategory.term",
        d.claims.iter().map(|c| c.data_category.term.as_str()),
    );
    for (i, claim) in d.claims.iter().enumerate() {
        v.claim = Some(i);
        v.claim_terms(claim);
        contradictions(claim, v.vocab, &mut v.out);
    }
    v.out
}

/// Collects vocabulary problems. Field paths are spelled out only for a problem,
/// so checking a valid statement allocates nothing per field.
struct Checker {
    vocab: &'static Vocabulary,
    out: Vec<ClaimError>,
    /// The index of the claim being checked (paths start `claims[i].`), or `None`
    /// for the predicate's top level.
    claim: Option<usize>,
}

/// Lists up to this long are checked for repeats pairwise (no allocation); longer
/// ones through a set, so a hostile list stays O(n log n).
const PAIRWISE_MAX: usize = 32;

impl Checker {
    fn field(&self, name: &str) -> String {
        match self.claim {
            Some(i) => format!("claims[{i}].{name}"),
            None => name.to_owned(),
        }
    }

    fn term(&mut self, field: &str, set: TermSet, term: &Term) {
        if !self.vocab.contains(set, term.as_str()) {
            self.out.push(ClaimError::UnknownTerm {
                field: self.field(field),
                term: term.to_string(),
            });
        }
    }

    /// Checks a list that is a set of terms: each known, none repeated.
    fn terms(&mut self, field: &str, set: TermSet, terms: Option<&Vec<Term>>) {
        let Some(terms) = terms else { return };
        for t in terms {
            self.term(field, set, t);
        }
        self.unique(field, terms.iter().map(Term::as_str));
    }

    /// Reports every value equal to an earlier one, in order.
    fn unique<'a>(&mut self, field: &str, values: impl Iterator<Item = &'a str>) {
        let mut small: [&str; PAIRWISE_MAX] = [""; PAIRWISE_MAX];
        let mut len = 0;
        let mut large = BTreeSet::new();
        for value in values {
            let repeated = if len < PAIRWISE_MAX {
                let repeated = small[..len].contains(&value);
                small[len] = value;
                len += 1;
                repeated
            } else {
                if large.is_empty() {
                    large.extend(small.iter().copied());
                }
                !large.insert(value)
            };
            if repeated {
                self.out.push(ClaimError::DuplicateEntry {
                    field: self.field(field),
                    value: value.to_owned(),
                });
            }
        }
    }

    fn claim_terms(&mut self, c: &Claim) {
        self.term(
            "dataCategory.term",
            TermSet::PersonalData,
            &c.data_category.term,
        );
        if let Some(map) = &c.data_category.store_label_mappings {
            for scheme in map.0.keys() {
                if !self.vocab.contains(TermSet::StoreLabelSchemes, scheme) {
                    self.out.push(ClaimError::UnknownTerm {
                        field: self.field("dataCategory.storeLabelMappings"),
                        term: scheme.clone(),
                    });
                }
            }
        }
        if let Some(scope) = &c.scope {
            self.term("scope", TermSet::Scopes, scope);
        }
        self.terms("legalBasis", TermSet::LegalBases, c.legal_basis.as_ref());
        if let Some(storage) = &c.storage {
            self.terms(
                "storage.locations",
                TermSet::StorageLocations,
                storage.locations.as_ref(),
            );
        }
        if let Some(retention) = &c.retention {
            if let Some(device) = &retention.device {
                self.term("retention.device", TermSet::DeviceRetention, device);
            }
            if let Some(until) = retention.server.as_ref().and_then(|s| s.until.as_ref()) {
                self.term(
                    "retention.server.until",
                    TermSet::ServerRetentionEvents,
                    until,
                );
            }
        }
        if let Some(p) = &c.purposes {
            self.terms(
                "purposes.permitted",
                TermSet::Purposes,
                p.permitted.as_ref(),
            );
            self.terms("purposes.excluded", TermSet::Purposes, p.excluded.as_ref());
        }
        self.terms(
            "processingExcluded",
            TermSet::Processing,
            c.processing_excluded.as_ref(),
        );
        self.terms("sharedWith", TermSet::Recipients, c.shared_with.as_ref());
        self.terms(
            "technicalMeasures",
            TermSet::TechnicalMeasures,
            c.technical_measures.as_ref(),
        );
        if let Some(access) = &c.operator_access {
            self.terms(
                "operatorAccess.conditions",
                TermSet::ExceptionKinds,
                access.conditions.as_ref(),
            );
        }
        if let Some(exceptions) = &c.exceptions {
            for (i, e) in exceptions.iter().enumerate() {
                self.term(
                    &format!("exceptions[{i}].kind"),
                    TermSet::ExceptionKinds,
                    &e.kind,
                );
            }
            let repeated = if exceptions.len() <= PAIRWISE_MAX {
                exceptions
                    .iter()
                    .enumerate()
                    .any(|(i, e)| exceptions[..i].contains(e))
            } else {
                exceptions.iter().collect::<BTreeSet<_>>().len() != exceptions.len()
            };
            if repeated {
                self.out.push(ClaimError::DuplicateEntry {
                    field: self.field("exceptions"),
                    value: "an identical exception".into(),
                });
            }
        }
        if let Some(a) = &c.assurance {
            self.term("assurance.level", TermSet::AssuranceLevels, &a.level);
            for (i, e) in a.evidence.iter().flatten().enumerate() {
                self.term(
                    &format!("assurance.evidence[{i}].kind"),
                    TermSet::EvidenceKinds,
                    &e.kind,
                );
            }
            self.unique(
                "assurance.evidence",
                a.evidence.iter().flatten().map(|e| e.uri.as_str()),
            );
        }
    }
}

/// The self-contradiction rules of spec/claim.md §4.2 for one claim.
fn contradictions(c: &Claim, vocab: &Vocabulary, out: &mut Vec<ClaimError>) {
    let claim = || c.id.to_string();
    let has = |list: Option<&Vec<Term>>, term: &str| {
        list.is_some_and(|l| l.iter().any(|t| t.as_str() == term))
    };
    let permitted = c.purposes.as_ref().and_then(|p| p.permitted.as_ref());
    let excluded = c.purposes.as_ref().and_then(|p| p.excluded.as_ref());
    for p in permitted.into_iter().flatten() {
        if has(excluded, p.as_str()) {
            out.push(ClaimError::PurposePermittedAndExcluded {
                claim: claim(),
                purpose: p.to_string(),
            });
        }
    }
    match c.used_for_training {
        Some(false) if has(permitted, MODEL_TRAINING) => {
            out.push(ClaimError::TrainingDeniedButPermitted { claim: claim() });
        }
        Some(true) => {
            for (field, list) in [
                ("purposes.excluded", excluded),
                ("processingExcluded", c.processing_excluded.as_ref()),
            ] {
                if has(list, MODEL_TRAINING) {
                    out.push(ClaimError::TrainingClaimedButExcluded {
                        claim: claim(),
                        field: field.into(),
                    });
                }
            }
        }
        _ => {}
    }
    let backups = c.storage.as_ref().and_then(|s| s.server_backups);
    let locations = c.storage.as_ref().and_then(|s| s.locations.as_ref());
    let server_location = locations.map(|l| {
        l.iter()
            .any(|t| vocab.contains(TermSet::ServerLocations, t.as_str()))
    });
    match c.server_processing {
        Some(ServerProcessing::None) => {
            let server_retention = c.retention.as_ref().is_some_and(|r| r.server.is_some());
            for (field, contradicts) in [
                ("retention.server", server_retention),
                ("storage.serverBackups", backups == Some(true)),
                ("storage.locations", server_location == Some(true)),
            ] {
                if contradicts {
                    out.push(ClaimError::ServerFactWithoutServerProcessing {
                        claim: claim(),
                        field: field.into(),
                    });
                }
            }
        }
        Some(ServerProcessing::Transient) if backups == Some(true) => {
            out.push(ClaimError::TransientWithBackups { claim: claim() });
        }
        Some(ServerProcessing::Retained) if server_location == Some(false) => {
            out.push(ClaimError::RetainedWithoutServerLocation { claim: claim() });
        }
        _ => {}
    }
    if let Some(access) = &c.operator_access {
        if c.end_to_end_encrypted == Some(true) && access.technically_possible == Some(true) {
            out.push(ClaimError::EncryptedButOperatorAccess { claim: claim() });
        }
        if access.technically_possible == Some(false) && access.routine == Some(true) {
            out.push(ClaimError::RoutineAccessImpossible { claim: claim() });
        }
    }
    if c.shared_with.as_ref().is_some_and(|s| !s.is_empty())
        && has(c.processing_excluded.as_ref(), SHARE)
    {
        out.push(ClaimError::SharedButShareExcluded { claim: claim() });
    }
}
