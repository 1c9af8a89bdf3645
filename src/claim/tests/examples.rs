//! The worked example and the spec/examples series: parsing, series rules, diffs.

use serde_json::Value;

use super::super::*;
use super::{data_handling, example, key_binding, ts, worked_example_payload};

#[test]
fn worked_example_parses_and_validates() {
    let (payload, doc) = worked_example_payload();
    let parsed = parse_and_validate(&payload).unwrap();
    assert_eq!(
        parsed.statement_sha256.to_string(),
        doc["payloadSha256"].as_str().unwrap()
    );
    // The payload is the statement object serialized with sorted keys, no spaces.
    assert_eq!(serde_json::to_vec(&doc["statement"]).unwrap(), payload);
    assert_eq!(parsed.subject.len(), 1);
    assert_eq!(parsed.subject[0].name.as_str(), "privacy-policy");
    let Predicate::DataHandling(d) = parsed.predicate else {
        panic!("wrong predicate")
    };
    assert_eq!(d.issuer.domain.as_str(), "chat.example");
    assert_eq!(d.service.id.as_str(), "messenger");
    assert_eq!(d.sequence, 3);
    assert_eq!(d.supersedes.unwrap().log_index, 1187);
    assert_eq!(
        d.change_notice_period.as_ref().unwrap().seconds(),
        30 * 86_400
    );
    let c = d.claim("chat-content").unwrap();
    assert_eq!(c.server_processing, Some(ServerProcessing::Transient));
    let max = c
        .retention
        .as_ref()
        .unwrap()
        .server
        .as_ref()
        .unwrap()
        .max
        .as_ref()
        .unwrap();
    assert_eq!(max.seconds(), 72 * 3600);
    assert_eq!(c.used_for_training, Some(false));
    assert_eq!(
        c.scope.as_ref().unwrap().as_str(),
        "issuer-affiliates-and-processors"
    );
    assert_eq!(
        c.data_category
            .store_label_mappings
            .as_ref()
            .unwrap()
            .0
            .len(),
        2
    );
    // It is sequence 3: as a first submission it breaks the series rules.
    let problems = check_series(
        None,
        &d,
        ts("2026-01-15T08:01:00Z"),
        &SeriesPolicy::default(),
    );
    assert_eq!(
        problems,
        [ClaimError::SequenceNotNext {
            expected: 1,
            found: 3
        }]
    );
}

#[test]
fn typed_form_round_trips_through_json() {
    let (payload, _) = worked_example_payload();
    let d = data_handling(&payload);
    let doc: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(serde_json::to_value(&d).unwrap(), doc["predicate"]);
    for name in ["key-binding-2-rotate.json", "key-binding-3-revoke.json"] {
        let bytes = example(name);
        let k = key_binding(&bytes);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&k).unwrap(),
            doc["predicate"],
            "{name}"
        );
    }
}

/// The three-version series: every version valid, the hash chain real, the series
/// rules met at plausible integration times, and the diffs as documented.
#[test]
fn data_handling_series_examples() {
    let bytes: Vec<Vec<u8>> = (1..=3)
        .map(|i| example(&format!("data-handling-{i}.json")))
        .collect();
    let versions: Vec<DataHandling> = bytes.iter().map(|b| data_handling(b)).collect();
    let log_index = [12u64, 1187, 2040];
    let policy = SeriesPolicy::default();
    let mut head: Option<SeriesHead> = None;
    for (i, v) in versions.iter().enumerate() {
        let at = Timestamp::from_unix(v.issued_at.unix() + 60).unwrap();
        assert_eq!(
            check_series(head.as_ref(), v, at, &policy),
            [],
            "version {}",
            i + 1
        );
        head = Some(SeriesHead {
            log_index: log_index[i],
            statement_sha256: Sha256Digest::of(&bytes[i]),
            predicate: v.clone(),
        });
    }

    let d12 = diff(&versions[0], &versions[1]);
    assert_eq!(
        d12.claims,
        [ClaimChange {
            id: "chat-content".into(),
            changes: vec![FieldChange {
                field: "retention.server.max".into(),
                old: Some("PT72H".into()),
                new: Some("P30D".into()),
                direction: Direction::Weakened,
            }],
        }]
    );
    assert_eq!(d12.removed, ["chat-metadata"]);
    assert!(d12.added.is_empty());
    assert_eq!(d12.changes.len(), 1);
    assert_eq!(d12.changes[0].field, "statement[en]");
    assert_eq!(d12.changes[0].direction, Direction::Neutral);
    let rendered = d12.render();
    assert!(rendered.contains("chat-content: retention.server.max PT72H -> P30D (weakened)\n"));
    assert!(rendered.contains("chat-metadata: claim removed (weakened)\n"));
    assert_eq!(
        d12.first_weakening().as_deref(),
        Some("chat-content: retention.server.max PT72H -> P30D (weakened)")
    );

    let d23 = diff(&versions[1], &versions[2]);
    // The only weakening: version 3 sets validUntil where version 2 had no end, so it
    // needs the 30-day notice, which its effectiveFrom gives.
    assert_eq!(
        d23.first_weakening().as_deref(),
        Some("validUntil absent -> 2027-02-15T00:00:00Z (weakened)")
    );
    let fields: Vec<(&str, Direction)> = d23.claims[0]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.direction))
        .collect();
    use Direction::{Neutral, Strengthened};
    assert_eq!(
        fields,
        [
            ("dataCategory.storeLabelMappings", Neutral),
            ("scope", Strengthened),
            ("legalBasis", Strengthened),
            ("storage.locations", Strengthened),
            ("storage.serverBackups", Strengthened),
            ("retention.server.max", Strengthened),
            ("purposes.excluded", Strengthened),
            ("processingExcluded", Strengthened),
            ("sharedWith", Strengthened),
            ("exceptions", Strengthened),
        ]
    );
    let rendered = d23.render();
    for line in [
        "chat-content: scope issuer -> issuer-affiliates-and-processors (strengthened)\n",
        "chat-content: processingExcluded [ai:ModelTraining, dpv:Analyse, dpv:Profiling] -> \
         [ai:ModelTraining, dpv:Analyse, dpv:Profiling, dpv:Share] (strengthened)\n",
        "chat-content: sharedWith absent -> [] (strengthened)\n",
        "chat-content: exceptions absent -> [legal-compulsion for \"transient server copies\" \
         disclosed in https://chat.example/transparency-report] (strengthened)\n",
        "authoritativeLanguage en -> zh-CN (neutral)\n",
    ] {
        assert!(rendered.contains(line), "{line}\n{rendered}");
    }
    let top: Vec<&str> = d23.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        top,
        [
            "validUntil",
            "authoritativeLanguage",
            "statement[en]",
            "statement[zh-CN]"
        ]
    );
    assert!(d23.changes[1..].iter().all(|c| c.direction == Neutral));

    // The diff serializes for the API.
    let json = serde_json::to_value(&d12).unwrap();
    assert_eq!(json["claims"][0]["changes"][0]["direction"], "weakened");
    assert_eq!(json["removed"][0], "chat-metadata");
}

#[test]
fn notice_rule_rejects_early_weakening_and_accepts_later() {
    let v1 = data_handling(&example("data-handling-1.json"));
    let v2_bytes = example("data-handling-2.json");
    let head = SeriesHead {
        log_index: 12,
        statement_sha256: Sha256Digest::of(&example("data-handling-1.json")),
        predicate: v1,
    };
    let mut early = data_handling(&v2_bytes);
    early.effective_from = ts("2025-10-15T00:00:00Z");
    let at = ts("2025-10-01T08:01:00Z");
    assert_eq!(
        check_series(Some(&head), &early, at, &SeriesPolicy::default()),
        [ClaimError::NoticePeriod {
            change: "chat-content: retention.server.max PT72H -> P30D (weakened)".into(),
            earliest: ts("2025-10-31T08:01:00Z"),
            effective_from: ts("2025-10-15T00:00:00Z"),
        }]
    );
    // Exactly at the end of the notice period is accepted.
    early.effective_from = ts("2025-10-31T08:01:00Z");
    assert_eq!(
        check_series(Some(&head), &early, at, &SeriesPolicy::default()),
        []
    );
    // Without a notice claim in the head, a weakening still cannot be retroactive.
    let mut head0 = head.clone();
    head0.predicate.change_notice_period = None;
    early.effective_from = ts("2025-10-01T08:00:30Z");
    assert!(matches!(
        check_series(Some(&head0), &early, at, &SeriesPolicy::default())[..],
        [ClaimError::NoticePeriod { earliest, .. }] if earliest == at
    ));
    // A pure strengthening may take effect at once.
    let mut stronger = head.predicate.clone();
    prepare_next(&head, &mut stronger);
    stronger.issued_at = at;
    stronger.effective_from = at;
    stronger.claims[0].used_for_training = Some(false);
    stronger.claims[0].end_to_end_encrypted = None;
    stronger.claims[0].technical_measures =
        Some(vec![Term::parse("dpv:EncryptionInTransfer").unwrap()]);
    assert!(diff(&head.predicate, &stronger).weakens());
    stronger.claims[0].end_to_end_encrypted = Some(false);
    assert!(!diff(&head.predicate, &stronger).weakens());
    assert_eq!(
        check_series(Some(&head), &stronger, at, &SeriesPolicy::default()),
        []
    );
}

#[test]
fn series_continuity_rejections() {
    let v1_bytes = example("data-handling-1.json");
    let head = SeriesHead {
        log_index: 12,
        statement_sha256: Sha256Digest::of(&v1_bytes),
        predicate: data_handling(&v1_bytes),
    };
    let good = data_handling(&example("data-handling-2.json"));
    let at = ts("2025-10-01T08:01:00Z");
    let policy = SeriesPolicy::default();
    let check = |v: &DataHandling| check_series(Some(&head), v, at, &policy);
    assert_eq!(check(&good), []);

    let mut v = good.clone();
    v.sequence = 3;
    assert_eq!(
        check(&v),
        [ClaimError::SequenceNotNext {
            expected: 2,
            found: 3
        }]
    );

    let mut v = good.clone();
    let stale = Supersedes {
        log_index: 11,
        ..v.supersedes.unwrap()
    };
    v.supersedes = Some(stale);
    assert_eq!(
        check(&v),
        [ClaimError::StaleSupersedes {
            expected: head.supersedes(),
            found: stale
        }]
    );

    let mut v = good.clone();
    v.removed_claim_ids.clear();
    assert_eq!(
        check(&v),
        [ClaimError::RemovedClaimIdsMismatch {
            expected: vec!["chat-metadata".into()],
            found: vec![]
        }]
    );
    v.removed_claim_ids = vec![
        Identifier::parse("chat-metadata").unwrap(),
        Identifier::parse("never-existed").unwrap(),
    ];
    assert!(matches!(
        &check(&v)[..],
        [ClaimError::RemovedClaimIdsMismatch { .. }]
    ));

    let mut v = good.clone();
    v.service.id = Identifier::parse("other-app").unwrap();
    assert_eq!(
        check(&v),
        [ClaimError::SeriesMismatch {
            field: "service.id".into(),
            expected: "messenger".into(),
            found: "other-app".into()
        }]
    );

    for (issued, ok) in [
        ("2025-10-01T07:51:00Z", true),
        ("2025-10-01T07:50:59Z", false),
        ("2025-10-01T08:11:00Z", true),
        ("2025-10-01T08:11:01Z", false),
    ] {
        let mut v = good.clone();
        v.issued_at = ts(issued);
        let problems = check(&v);
        assert_eq!(problems.is_empty(), ok, "{issued}: {problems:?}");
        if !ok {
            assert_eq!(
                problems,
                [ClaimError::IssuedAtSkew {
                    issued_at: ts(issued),
                    integrated_at: at,
                    max_skew_seconds: 600
                }]
            );
        }
    }

    // prepare_next fills exactly what the rules demand.
    let mut draft = good.clone();
    draft.sequence = 99;
    draft.supersedes = None;
    draft.removed_claim_ids.clear();
    prepare_next(&head, &mut draft);
    assert_eq!(draft, good);
}

#[test]
fn key_binding_examples() {
    let bytes: Vec<Vec<u8>> = [
        "key-binding-1-enroll.json",
        "key-binding-2-rotate.json",
        "key-binding-3-revoke.json",
    ]
    .iter()
    .map(|n| example(n))
    .collect();
    let kbs: Vec<KeyBinding> = bytes.iter().map(|b| key_binding(b)).collect();
    let keys: Value = serde_json::from_slice(&example("test-keys.json")).unwrap();
    let pk =
        |name: &str| PublicKey::parse(keys["keys"][name]["publicKey"].as_str().unwrap()).unwrap();
    let policy = SeriesPolicy::default();
    let log_index = [3u64, 1100, 2100];
    let mut head: Option<KeyBindingHead> = None;
    let expected_signers = [
        vec![pk("root1")],
        vec![pk("root1"), pk("root2")],
        vec![pk("root2")],
    ];
    for (i, kb) in kbs.iter().enumerate() {
        let at = Timestamp::from_unix(kb.issued_at.unix() + 60).unwrap();
        assert_eq!(
            check_key_binding_series(head.as_ref(), kb, at, &policy),
            [],
            "version {}",
            i + 1
        );
        let prev = head.as_ref().map(|h| &h.binding);
        assert_eq!(
            required_signers(prev, kb, at).unwrap(),
            expected_signers[i],
            "version {}",
            i + 1
        );
        head = Some(KeyBindingHead {
            log_index: log_index[i],
            statement_sha256: Sha256Digest::of(&bytes[i]),
            binding: kb.clone(),
        });
    }

    let domain = Domain::parse("chat.example").unwrap();
    let s1 = pk("signing1").keyid();
    let s2 = pk("signing2").keyid();
    // The worked example was signed with signing1, valid under the enrollment.
    assert!(authorize_claim_signer(&kbs[0], &domain, &s1, ts("2026-01-15T08:01:00Z")).is_ok());
    // Root keys sign bindings, never claims.
    let r1 = pk("root1").keyid();
    assert_eq!(
        authorize_claim_signer(&kbs[0], &domain, &r1, ts("2026-01-15T08:01:00Z")),
        Err(ClaimError::KeyNotBound {
            keyid: r1.to_string(),
            domain: "chat.example".into()
        })
    );
    // After the revocation: signing1 is refused from compromisedSince on, signing2 is fine.
    let revoked = ts("2026-02-20T00:00:00Z");
    assert!(authorize_claim_signer(&kbs[2], &domain, &s1, ts("2026-02-19T23:59:59Z")).is_ok());
    assert_eq!(
        authorize_claim_signer(&kbs[2], &domain, &s1, revoked),
        Err(ClaimError::KeyRevoked {
            keyid: s1.to_string(),
            compromised_since: revoked
        })
    );
    assert!(authorize_claim_signer(&kbs[2], &domain, &s2, ts("2026-03-02T00:00:00Z")).is_ok());
    assert_eq!(
        authorize_claim_signer(&kbs[2], &domain, &s2, ts("2025-11-30T00:00:00Z")),
        Err(ClaimError::KeyNotValid {
            keyid: s2.to_string(),
            at: ts("2025-11-30T00:00:00Z")
        })
    );
    let other = Domain::parse("evil.example").unwrap();
    assert!(matches!(
        authorize_claim_signer(&kbs[2], &other, &s2, ts("2026-03-02T00:00:00Z")),
        Err(ClaimError::KeyNotBound { .. })
    ));
}

#[test]
fn key_binding_series_rejections() {
    let b1 = example("key-binding-1-enroll.json");
    let b2 = example("key-binding-2-rotate.json");
    let head = KeyBindingHead {
        log_index: 3,
        statement_sha256: Sha256Digest::of(&b1),
        binding: key_binding(&b1),
    };
    let next = key_binding(&b2);
    let at = ts("2025-12-01T12:01:00Z");
    let policy = SeriesPolicy::default();

    let mut v = next.clone();
    v.signing_keys.remove(0);
    let dropped = head.binding.signing_keys[0].keyid.to_string();
    assert_eq!(
        check_key_binding_series(Some(&head), &v, at, &policy),
        [ClaimError::KeyHistoryChanged {
            keyid: dropped.clone(),
            reason: "dropped from its list (bindings are append-only)".into()
        }]
    );
    let mut v = next.clone();
    v.signing_keys[0].valid_from = ts("2025-05-21T10:00:00Z");
    assert!(matches!(
        &check_key_binding_series(Some(&head), &v, at, &policy)[..],
        [ClaimError::KeyHistoryChanged { keyid, .. }] if *keyid == dropped
    ));

    // A revocation, once made, stays exactly as made.
    let b3 = example("key-binding-3-revoke.json");
    let head3 = KeyBindingHead {
        log_index: 2100,
        statement_sha256: Sha256Digest::of(&b3),
        binding: key_binding(&b3),
    };
    let mut v4 = head3.binding.clone();
    v4.sequence = 4;
    v4.supersedes = Some(head3.supersedes());
    v4.issued_at = ts("2026-04-01T00:00:00Z");
    let at4 = ts("2026-04-01T00:01:00Z");
    assert_eq!(
        check_key_binding_series(Some(&head3), &v4, at4, &policy),
        []
    );
    v4.revocations[0].compromised_since = ts("2026-02-25T00:00:00Z");
    assert_eq!(
        check_key_binding_series(Some(&head3), &v4, at4, &policy),
        [ClaimError::RevocationChanged {
            keyid: dropped.clone()
        }]
    );
    v4.revocations.clear();
    assert_eq!(
        check_key_binding_series(Some(&head3), &v4, at4, &policy),
        [ClaimError::RevocationChanged { keyid: dropped }]
    );

    // Enrollment must be sequence 1 with a root valid at integration time.
    let mut e = head.binding.clone();
    e.sequence = 2;
    assert_eq!(
        check_key_binding_series(None, &e, ts("2025-05-20T10:01:00Z"), &policy),
        [ClaimError::SequenceNotNext {
            expected: 1,
            found: 2
        }]
    );
    let mut e = head.binding.clone();
    e.issued_at = ts("2025-05-20T09:55:00Z");
    assert_eq!(
        check_key_binding_series(None, &e, ts("2025-05-20T09:59:00Z"), &policy),
        [ClaimError::NoCurrentRoot {
            domain: "chat.example".into(),
            at: ts("2025-05-20T09:59:00Z")
        }]
    );
    assert_eq!(
        required_signers(None, &e, ts("2025-05-20T09:59:00Z")),
        Err(ClaimError::NoCurrentRoot {
            domain: "chat.example".into(),
            at: ts("2025-05-20T09:59:00Z")
        })
    );
    // Wrong domain, sequence and supersedes against the head.
    let mut v = next.clone();
    v.domain = Domain::parse("other.example").unwrap();
    v.sequence = 5;
    let problems = check_key_binding_series(Some(&head), &v, at, &policy);
    assert!(
        matches!(problems[0], ClaimError::SeriesMismatch { .. }),
        "{problems:?}"
    );
    assert_eq!(
        problems[1],
        ClaimError::SequenceNotNext {
            expected: 2,
            found: 5
        }
    );

    // A stale supersedes, a skewed issuedAt.
    let mut v = next.clone();
    let stale = Supersedes {
        log_index: 2,
        ..v.supersedes.unwrap()
    };
    v.supersedes = Some(stale);
    v.issued_at = ts("2025-12-01T11:00:00Z");
    assert_eq!(
        check_key_binding_series(Some(&head), &v, at, &policy),
        [
            ClaimError::IssuedAtSkew {
                issued_at: ts("2025-12-01T11:00:00Z"),
                integrated_at: at,
                max_skew_seconds: 600
            },
            ClaimError::StaleSupersedes {
                expected: head.supersedes(),
                found: stale
            },
        ]
    );

    // A head whose root has lapsed cannot authorize anything: re-enroll.
    let mut lapsed = head.clone();
    lapsed.binding.root_keys[0].valid_until = Some(ts("2025-11-01T00:00:00Z"));
    let no_root = ClaimError::NoCurrentRoot {
        domain: "chat.example".into(),
        at,
    };
    assert_eq!(
        check_key_binding_series(Some(&lapsed), &next, at, &policy),
        std::slice::from_ref(&no_root)
    );
    assert_eq!(
        required_signers(Some(&lapsed.binding), &next, at),
        Err(no_root.clone())
    );
    // ... and neither can a new version that leaves no root current.
    let mut rootless = next.clone();
    rootless.root_keys[1].valid_from = ts("2026-01-01T00:00:00Z");
    assert_eq!(
        check_key_binding_series(Some(&head), &rootless, at, &policy),
        std::slice::from_ref(&no_root)
    );
    assert_eq!(
        required_signers(Some(&head.binding), &rootless, at),
        Err(no_root)
    );
}

/// The loophole the ordering rule closes: version 2 announces a weakening with
/// notice; an identical version 3 (nothing to diff) must not make it effective early.
#[test]
fn announced_weakening_cannot_be_brought_forward() {
    let v2_bytes = example("data-handling-2.json");
    let head = SeriesHead {
        log_index: 1187,
        statement_sha256: Sha256Digest::of(&v2_bytes),
        predicate: data_handling(&v2_bytes),
    };
    let at = ts("2025-10-02T00:00:00Z");
    let mut v3 = head.predicate.clone();
    prepare_next(&head, &mut v3);
    v3.issued_at = at;
    v3.effective_from = at;
    assert!(diff(&head.predicate, &v3).is_empty());
    assert_eq!(
        check_series(Some(&head), &v3, at, &SeriesPolicy::default()),
        [ClaimError::EffectiveBeforePrevious {
            previous: ts("2025-11-05T00:00:00Z"),
            effective_from: at
        }]
    );
    // Taking effect together with version 2 (e.g. to cancel it) is fine.
    v3.effective_from = head.predicate.effective_from;
    assert_eq!(
        check_series(Some(&head), &v3, at, &SeriesPolicy::default()),
        []
    );
}

#[test]
fn notice_period_past_year_9999_is_rejected() {
    let v1_bytes = example("data-handling-1.json");
    let mut head = SeriesHead {
        log_index: 12,
        statement_sha256: Sha256Digest::of(&v1_bytes),
        predicate: data_handling(&v1_bytes),
    };
    head.predicate.change_notice_period = Some(IsoDuration::parse("P3000000D").unwrap());
    let next = data_handling(&example("data-handling-2.json"));
    assert_eq!(
        check_series(
            Some(&head),
            &next,
            ts("2025-10-01T08:01:00Z"),
            &SeriesPolicy::default()
        ),
        [ClaimError::TimeOutOfRange {
            field: "integration time + changeNoticePeriod".into()
        }]
    );
}

/// The JSON Schema's term enums are the registry's sets, in registry order, so the
/// two published artefacts cannot drift apart.
#[test]
fn schema_term_enums_match_the_vocabulary() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/claim.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let defs = schema["$defs"].as_object().unwrap();
    let term_defs = defs.keys().filter(|k| k.starts_with("term.")).count();
    assert_eq!(term_defs, TermSet::ALL.len());
    for set in TermSet::ALL {
        let listed: Vec<&str> = defs[&format!("term.{}", set.key())]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let registered: Vec<&str> = Vocabulary::v1()
            .terms(set)
            .iter()
            .map(|t| t.term.as_str())
            .collect();
        assert_eq!(listed, registered, "{}", set.key());
    }
}

/// Throughput of the log's per-entry claim work on a realistic 3.9 KiB statement.
/// A measurement, not a check: run with
/// `cargo test --release --no-default-features --lib measure_claim_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn measure_claim_throughput() {
    use std::time::Instant;
    let bytes = example("data-handling-3.json");
    let v2_bytes = example("data-handling-2.json");
    let head = SeriesHead {
        log_index: 1187,
        statement_sha256: Sha256Digest::of(&v2_bytes),
        predicate: data_handling(&v2_bytes),
    };
    let at = ts("2026-01-15T08:01:00Z");
    let policy = SeriesPolicy::default();
    let n = 20_000u32;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            serde_json::from_slice::<Value>(std::hint::black_box(&bytes)).unwrap(),
        );
    }
    println!("baseline serde_json Value: {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Sha256Digest::of(std::hint::black_box(&bytes)));
    }
    println!("baseline sha256: {:?}", t.elapsed() / n);
    let (sig_payload, sig_doc) = worked_example_payload();
    let key = ed25519_dalek::VerifyingKey::from_bytes(
        &PublicKey::parse(sig_doc["testKey"]["publicKeyBase64"].as_str().unwrap())
            .unwrap()
            .0,
    )
    .unwrap();
    let sig_bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        sig_doc["envelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&sig_bytes).unwrap();
    let mut pae = format!(
        "DSSEv1 28 application/vnd.in-toto+json {} ",
        sig_payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&sig_payload);
    let t = Instant::now();
    for _ in 0..n {
        key.verify_strict(std::hint::black_box(&pae), &sig).unwrap();
    }
    println!(
        "baseline ed25519 verify_strict of the example envelope: {:?}",
        t.elapsed() / n
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(parse_statement(std::hint::black_box(&bytes)).unwrap());
    }
    println!("parse_statement: {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            super::super::strict_json::check(std::str::from_utf8(&bytes).unwrap()).unwrap(),
        );
    }
    println!("strict_json: {:?}", t.elapsed() / n);
    let parsed = parse_statement(&bytes).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(validate(std::hint::black_box(&parsed)));
    }
    println!("validate: {:?}", t.elapsed() / n);
    let Predicate::DataHandling(d) = parsed.predicate.clone() else {
        panic!()
    };
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(diff(&head.predicate, std::hint::black_box(&d)));
    }
    println!("diff: {:?}", t.elapsed() / n);
    let start = Instant::now();
    for _ in 0..n {
        let parsed = parse_and_validate(std::hint::black_box(&bytes)).unwrap();
        let Predicate::DataHandling(d) = parsed.predicate else {
            panic!("wrong predicate")
        };
        assert!(check_series(Some(&head), &d, at, &policy).is_empty());
    }
    let per_entry = start.elapsed() / n;
    println!(
        "parse + validate + series rules (incl. diff), {} bytes: {per_entry:?} per entry, {:.0} entries/s",
        bytes.len(),
        1.0 / per_entry.as_secs_f64()
    );
}
