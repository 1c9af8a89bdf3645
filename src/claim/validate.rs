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
            v.term_in_list(
                ("service.appIdentifiers", i, "store"),
                TermSet::AppStores,
                &app.store,
            );
        }
        // Reported as "store id", the pair that must not repeat.
        let pairs: Vec<_> = apps.iter().map(|a| (&a.store, &a.id)).collect();
        for i in repeated(&pairs) {
            v.out.push(ClaimError::DuplicateEntry {
                field: v.field("service.appIdentifiers"),
                value: format!("{} {}", apps[i].store, apps[i].id),
            });
        }
    }
    if d.claims.is_empty() {
        v.out.push(ClaimError::EmptyList {
            field: "claims".into(),
        });
    }
    let ids: Vec<&str> = d.claims.iter().map(|c| c.id.as_str()).collect();
    for i in repeated(&ids) {
        v.out.push(ClaimError::DuplicateClaimId {
            id: ids[i].to_owned(),
        });
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

/// The positions of the values equal to an earlier one, in order: compared
/// pairwise in short lists (no allocation), through a set in long ones.
fn repeated<T: Ord>(values: &[T]) -> Vec<usize> {
    if values.len() <= PAIRWISE_MAX {
        (0..values.len())
            .filter(|&i| values[..i].contains(&values[i]))
            .collect()
    } else {
        let mut seen = BTreeSet::new();
        (0..values.len())
            .filter(|&i| !seen.insert(&values[i]))
            .collect()
    }
}

impl Checker {
    fn field(&self, name: &str) -> String {
        match self.claim {
            Some(i) => format!("claims[{i}].{name}"),
            None => name.to_owned(),
        }
    }

    fn term(&mut self, field: &str, set: TermSet, term: &Term) {
        if !term.is_in(self.vocab, set) {
            self.out.push(ClaimError::UnknownTerm {
                field: self.field(field),
                term: term.to_string(),
            });
        }
    }

    /// [`Checker::term`] for the field `rest` of element `i` of the list `list`
    /// (`list[i].rest`); the path is spelled out only for a problem.
    fn term_in_list(&mut self, (list, i, rest): (&str, usize, &str), set: TermSet, term: &Term) {
        if !term.is_in(self.vocab, set) {
            self.out.push(ClaimError::UnknownTerm {
                field: self.field(&format!("{list}[{i}].{rest}")),
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
                self.term_in_list(("exceptions", i, "kind"), TermSet::ExceptionKinds, &e.kind);
            }
            if !repeated(exceptions).is_empty() {
                self.out.push(ClaimError::DuplicateEntry {
                    field: self.field("exceptions"),
                    value: "an identical exception".into(),
                });
            }
        }
        if let Some(a) = &c.assurance {
            self.term("assurance.level", TermSet::AssuranceLevels, &a.level);
            for (i, e) in a.evidence.iter().flatten().enumerate() {
                self.term_in_list(
                    ("assurance.evidence", i, "kind"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_in_short_and_long_lists() {
        assert_eq!(repeated::<u32>(&[]), Vec::<usize>::new());
        assert_eq!(repeated(&[1, 2, 1, 1, 3, 2]), vec![2, 3, 5]);
        for len in [
            PAIRWISE_MAX - 1,
            PAIRWISE_MAX,
            PAIRWISE_MAX + 1,
            3 * PAIRWISE_MAX,
        ] {
            let mut values: Vec<usize> = (0..len).collect();
            assert!(repeated(&values).is_empty(), "{len}");
            values.push(0);
            values.push(len - 1);
            assert_eq!(repeated(&values), vec![len, len + 1], "{len}");
        }
    }

    #[test]
    fn unique_reports_each_repeat_across_the_pairwise_limit() {
        for len in [
            PAIRWISE_MAX - 1,
            PAIRWISE_MAX,
            PAIRWISE_MAX + 1,
            3 * PAIRWISE_MAX,
        ] {
            let mut values: Vec<String> = (0..len).map(|i| format!("v{i}")).collect();
            values.push("v0".into());
            values.push(format!("v{}", len - 1));
            values.push("v0".into());
            let mut checker = Checker {
                vocab: Vocabulary::v1(),
                out: Vec::new(),
                claim: Some(2),
            };
            checker.unique("list", values.iter().map(String::as_str));
            let found: Vec<_> = checker
                .out
                .iter()
                .map(|e| match e {
                    ClaimError::DuplicateEntry { field, value } => (field.as_str(), value.clone()),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                found,
                vec![
                    ("claims[2].list", "v0".to_owned()),
                    ("claims[2].list", format!("v{}", len - 1)),
                    ("claims[2].list", "v0".to_owned()),
                ],
                "{len}"
            );
        }
    }
}
