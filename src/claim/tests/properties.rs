//! Diff properties over random valid predicates.

use proptest::collection::btree_set;
use proptest::option;
use proptest::prelude::*;

use super::super::*;

fn terms_of(set: TermSet) -> Vec<String> {
    Vocabulary::v1()
        .terms(set)
        .iter()
        .map(|t| t.term.clone())
        .collect()
}

fn term_list(set: TermSet) -> BoxedStrategy<Option<Vec<Term>>> {
    let all = terms_of(set);
    let n = all.len();
    option::of(btree_set(0..n, 0..4).prop_map(move |idx| {
        idx.into_iter()
            .map(|i| Term::parse(&all[i]).unwrap())
            .collect()
    }))
    .boxed()
}

fn one_term(set: TermSet) -> impl Strategy<Value = Term> {
    let all = terms_of(set);
    (0..all.len()).prop_map(move |i| Term::parse(&all[i]).unwrap())
}

fn duration() -> impl Strategy<Value = IsoDuration> {
    prop_oneof![
        (0u64..200).prop_map(|h| IsoDuration::parse(&format!("PT{h}H")).unwrap()),
        (1u64..400).prop_map(|d| IsoDuration::parse(&format!("P{d}D")).unwrap()),
    ]
}

fn claim(id: &'static str) -> BoxedStrategy<Claim> {
    let a = (
        one_term(TermSet::PersonalData),
        option::of(one_term(TermSet::Scopes)),
        term_list(TermSet::LegalBases),
        option::of(prop_oneof![
            Just(ServerProcessing::None),
            Just(ServerProcessing::Transient),
            Just(ServerProcessing::Retained)
        ]),
        term_list(TermSet::StorageLocations),
        option::of(any::<bool>()),
        option::of(duration()),
        option::of(one_term(TermSet::DeviceRetention)),
    );
    let b = (
        term_list(TermSet::Purposes),
        term_list(TermSet::Purposes),
        term_list(TermSet::Processing),
        term_list(TermSet::Recipients),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        term_list(TermSet::TechnicalMeasures),
        option::of((
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            term_list(TermSet::ExceptionKinds),
        )),
        option::of(one_term(TermSet::AssuranceLevels)),
    );
    (a, b)
        .prop_map(
            move |(
                (term, scope, legal, sp, locations, backups, max, device),
                (permitted, excluded, pexcl, shared, training, e2e, measures, access, level),
            )| Claim {
                id: Identifier::parse(id).unwrap(),
                data_category: DataCategory {
                    term,
                    label: None,
                    store_label_mappings: None,
                },
                scope,
                legal_basis: legal,
                server_processing: sp,
                storage: Some(Storage {
                    locations,
                    server_backups: backups,
                }),
                retention: Some(Retention {
                    server: max.map(|max| ServerRetention {
                        max: Some(max),
                        until: None,
                    }),
                    device,
                }),
                purposes: Some(Purposes {
                    permitted,
                    excluded,
                }),
                processing_excluded: pexcl,
                shared_with: shared,
                used_for_training: training,
                end_to_end_encrypted: e2e,
                technical_measures: measures,
                operator_access: access.map(|(technically_possible, routine, conditions)| {
                    OperatorAccess {
                        technically_possible,
                        routine,
                        conditions,
                    }
                }),
                exceptions: None,
                assurance: level.map(|level| Assurance {
                    level,
                    evidence: None,
                }),
            },
        )
        .boxed()
}

fn predicate() -> BoxedStrategy<DataHandling> {
    let base = super::data_handling(&super::example("data-handling-1.json"));
    (
        claim("alpha"),
        option::of(claim("beta")),
        option::of(claim("gamma")),
        option::of(duration()),
        option::of(0i64..1_000_000_000),
    )
        .prop_map(move |(a, b, c, notice, until)| {
            let mut d = base.clone();
            d.claims = std::iter::once(a).chain(b).chain(c).collect();
            d.change_notice_period = notice;
            d.valid_until =
                until.and_then(|s| Timestamp::from_unix(d.effective_from.unix() + 1 + s));
            d
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn diff_with_itself_is_empty(a in predicate()) {
        prop_assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn swapping_arguments_swaps_directions(a in predicate(), b in predicate()) {
        prop_assert_eq!(diff(&b, &a), diff(&a, &b).reversed());
    }

    #[test]
    fn longer_retention_is_always_caught(a in predicate(), extra in 1u64..10_000) {
        let old = a.claims[0].retention.as_ref().and_then(|r| r.server.as_ref()).and_then(|s| s.max.clone());
        let old_secs = old.as_ref().map_or(0, IsoDuration::seconds);
        let mut b = a.clone();
        let longer = IsoDuration::parse(&format!("PT{}S", old_secs + extra)).unwrap();
        b.claims[0].retention = Some(Retention {
            server: Some(ServerRetention { max: Some(longer), until: None }),
            device: a.claims[0].retention.as_ref().and_then(|r| r.device.clone()),
        });
        let d = diff(&a, &b);
        let change = d.claims.iter().find(|c| c.id == "alpha").and_then(|c| c.changes.iter().find(|f| f.field == "retention.server.max"));
        match old {
            // Longer than before: weakened.
            Some(_) => prop_assert_eq!(change.map(|c| c.direction), Some(Direction::Weakened)),
            // No retention claim before: a new claim, stronger than none.
            None => prop_assert_eq!(change.map(|c| c.direction), Some(Direction::Strengthened)),
        }
        if old.is_some() {
            prop_assert!(d.weakens());
        }
        // Dropping the retention claim altogether is a weakening too.
        let mut c = b.clone();
        c.claims[0].retention = None;
        prop_assert!(diff(&b, &c).weakens());
    }

    #[test]
    fn only_the_changed_claim_is_reported(a in predicate(), c in claim("alpha")) {
        // Unchanged claims are skipped whole (`diff` compares them first);
        // a changed one is always reported, with at least one field.
        let mut b = a.clone();
        b.claims[0] = c;
        let d = diff(&a, &b);
        prop_assert!(d.claims.iter().all(|cc| cc.id == "alpha" && !cc.changes.is_empty()));
        prop_assert_eq!(d.claims.is_empty(), a.claims[0] == b.claims[0]);
    }

    #[test]
    fn removing_a_claim_is_a_weakening(a in predicate()) {
        prop_assume!(a.claims.len() > 1);
        let mut b = a.clone();
        let gone = b.claims.pop().unwrap();
        let d = diff(&a, &b);
        prop_assert_eq!(&d.removed, &vec![gone.id.to_string()]);
        prop_assert!(d.weakens());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Untrusted bytes never panic the parser or the validator: corrupt a valid
    /// statement at random positions and read it again.
    #[test]
    fn corrupted_statements_never_panic(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut bytes = super::example("data-handling-3.json");
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        for candidate in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
            if let Ok(parsed) = parse_statement(candidate) {
                let _ = validate(&parsed);
            }
        }
    }

    /// A generated predicate written as a statement parses back to itself.
    #[test]
    fn statements_round_trip(a in predicate()) {
        let statement = serde_json::json!({
            "_type": STATEMENT_TYPE_V1,
            "subject": [{"name": "policy", "uri": "https://chat.example/p", "digest": {"sha256": "00".repeat(32)}}],
            "predicateType": DATA_HANDLING_V1,
            "predicate": a,
        });
        let bytes = serde_json::to_vec(&statement).unwrap();
        let parsed = parse_statement(&bytes).unwrap();
        prop_assert_eq!(parsed.predicate, Predicate::DataHandling(a));
        prop_assert_eq!(parsed.statement_sha256, Sha256Digest::of(&bytes));
    }
}
