//! Cross-cutting tests: the worked example, `spec/examples`, every rejection path
//! with its named reason, and diff properties.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::*;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLES}{name}")).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn data_handling(bytes: &[u8]) -> DataHandling {
    match parse_and_validate(bytes).unwrap().predicate {
        Predicate::DataHandling(d) => d,
        Predicate::KeyBinding(_) => panic!("not a data-handling statement"),
    }
}

fn key_binding(bytes: &[u8]) -> KeyBinding {
    match parse_and_validate(bytes).unwrap().predicate {
        Predicate::KeyBinding(k) => k,
        Predicate::DataHandling(_) => panic!("not a key-binding statement"),
    }
}

/// The payload bytes of the worked example's DSSE envelope.
fn worked_example_payload() -> (Vec<u8>, Value) {
    let doc: Value = serde_json::from_slice(&example("claim-example.json")).unwrap();
    let payload = STANDARD
        .decode(doc["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    (payload, doc)
}

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
    assert!(!d23.weakens(), "{}", d23.render());
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
    assert!(d23.changes.iter().all(|c| c.direction == Neutral));

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
}

// ---- Rejection paths of parsing and validation, each with its named reason. ----

/// The first version of the example series as a JSON value, to mutate.
fn v1_value() -> Value {
    serde_json::from_slice(&example("data-handling-1.json")).unwrap()
}

fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Every problem `validate` finds in `v` (which must parse).
fn problems(v: &Value) -> Vec<ClaimError> {
    validate(&parse_statement(&bytes_of(v)).unwrap())
}

fn with(f: impl FnOnce(&mut Value)) -> Value {
    let mut v = v1_value();
    f(&mut v);
    v
}

#[test]
fn examples_have_no_problems() {
    for name in [
        "data-handling-1.json",
        "data-handling-2.json",
        "data-handling-3.json",
        "key-binding-1-enroll.json",
        "key-binding-2-rotate.json",
        "key-binding-3-revoke.json",
    ] {
        let parsed = parse_statement(&example(name)).unwrap();
        assert_eq!(validate(&parsed), [], "{name}");
    }
}

#[test]
fn parse_rejections() {
    let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
    assert_eq!(
        parse_statement(&big),
        Err(ClaimError::TooLarge {
            size: MAX_STATEMENT_BYTES + 1,
            max: MAX_STATEMENT_BYTES
        })
    );
    let mut bad_utf8 = example("data-handling-1.json");
    bad_utf8[10] = 0xff;
    assert_eq!(
        parse_statement(&bad_utf8),
        Err(ClaimError::InvalidUtf8 { offset: 10 })
    );

    let text = String::from_utf8(example("data-handling-1.json")).unwrap();
    let dup = text.replacen("\"sequence\": 1,", "\"sequence\": 1, \"sequence\": 1,", 1);
    assert_eq!(
        parse_statement(dup.as_bytes()),
        Err(ClaimError::DuplicateKey {
            path: "predicate".into(),
            key: "sequence".into()
        })
    );
    let dup_map = text.replacen("\"sha256\": \"", "\"sha256\": \"00\", \"sha256\": \"", 1);
    assert_eq!(
        parse_statement(dup_map.as_bytes()),
        Err(ClaimError::DuplicateKey {
            path: "subject[0].digest".into(),
            key: "sha256".into()
        })
    );
    let float = text.replacen("\"sequence\": 1,", "\"sequence\": 1.0,", 1);
    assert_eq!(
        parse_statement(float.as_bytes()),
        Err(ClaimError::NonIntegerNumber {
            path: "predicate.sequence".into()
        })
    );
    let null = text.replacen(
        "\"contact\": \"mailto:privacy@chat.example\"",
        "\"contact\": null",
        1,
    );
    assert_eq!(
        parse_statement(null.as_bytes()),
        Err(ClaimError::Null {
            path: "predicate.contact".into()
        })
    );
    assert!(matches!(
        parse_statement(format!("{text}x").as_bytes()),
        Err(ClaimError::Json { .. })
    ));

    let t = with(|v| v["_type"] = json!("https://in-toto.io/Statement/v0.1"));
    assert_eq!(
        parse_statement(&bytes_of(&t)),
        Err(ClaimError::StatementType {
            found: "https://in-toto.io/Statement/v0.1".into()
        })
    );
    let t = with(|v| v["predicateType"] = json!("https://slsa.dev/provenance/v1"));
    assert_eq!(
        parse_statement(&bytes_of(&t)),
        Err(ClaimError::PredicateType {
            found: "https://slsa.dev/provenance/v1".into()
        })
    );
}

#[test]
fn schema_rejections_name_the_path() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(|v| v["predicate"]["claims"][0]["colour"] = json!("blue")),
            "predicate.claims[0].colour",
            "unknown field `colour`",
        ),
        (
            with(|v| v["extra"] = json!(1)),
            "extra",
            "unknown field `extra`",
        ),
        (
            with(|v| v["subject"][0]["digest"]["md5"] = json!("00")),
            "subject[0].digest",
            "unsupported digest algorithm",
        ),
        (
            with(|v| {
                v["subject"][0]["digest"] = json!({});
            }),
            "subject[0].digest",
            "digest needs sha256",
        ),
        (
            with(|v| {
                v["predicate"].as_object_mut().unwrap().remove("issuer");
            }),
            "predicate",
            "missing field `issuer`",
        ),
        (
            with(|v| v["predicate"]["issuedAt"] = json!("2025-06-01T09:00:00+00:00")),
            "predicate.issuedAt",
            "invalid timestamp",
        ),
        (
            with(|v| v["predicate"]["changeNoticePeriod"] = json!("P1M")),
            "predicate.changeNoticePeriod",
            "years and months",
        ),
        (
            with(|v| v["predicate"]["claims"][0]["retention"]["server"]["max"] = json!("72h")),
            "predicate.claims[0].retention.server.max",
            "invalid duration",
        ),
        (
            with(|v| v["predicate"]["claims"][0]["serverProcessing"] = json!("sometimes")),
            "predicate.claims[0].serverProcessing",
            "unknown variant",
        ),
        (
            with(|v| v["predicate"]["claims"][0]["id"] = json!("Chat Content")),
            "predicate.claims[0].id",
            "invalid identifier",
        ),
        (
            with(|v| v["predicate"]["issuer"]["domain"] = json!("Chat.Example")),
            "predicate.issuer.domain",
            "invalid domain",
        ),
        (
            with(|v| v["predicate"]["claims"][0]["usedForTraining"] = json!("no")),
            "predicate.claims[0].usedForTraining",
            "invalid type",
        ),
        (
            with(|v| v["predicate"]["sequence"] = json!(-1)),
            "predicate.sequence",
            "invalid value",
        ),
        (
            with(|v| v["predicate"]["claims"][0]["purposes"]["permitted"][0] = json!("dpv: X")),
            "predicate.claims[0].purposes.permitted[0]",
            "invalid term",
        ),
        (
            with(|v| v["subject"][0]["uri"] = json!("http://chat.example/p")),
            "subject[0].uri",
            "invalid URL",
        ),
        (
            with(|v| v["predicate"]["statement"][0]["text"] = json!(" padded")),
            "predicate.statement[0].text",
            "invalid text",
        ),
    ];
    for (value, path, message) in cases {
        match parse_statement(&bytes_of(&value)) {
            Err(ClaimError::Schema {
                path: p,
                message: m,
            }) => {
                assert_eq!(p, path, "{m}");
                assert!(m.contains(message), "{path}: {m}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn vocabulary_rejections_name_field_and_term() {
    let v = with(|v| {
        v["predicate"]["claims"][0]["purposes"]["permitted"] =
            json!(["dpv:ServiceProvision", "dpv:MindReading"]);
        v["predicate"]["claims"][0]["dataCategory"]["term"] = json!("pd:Thoughts");
        v["predicate"]["claims"][1]["storage"]["locations"] = json!(["moon-base"]);
        v["predicate"]["claims"][0]["dataCategory"]["storeLabelMappings"] = json!({"amazon": "x"});
        v["predicate"]["service"]["appIdentifiers"][0]["store"] = json!("nokia-store");
        v["predicate"]["claims"][0]["assurance"]["level"] = json!("pinky-promise");
    });
    let unknown = |field: &str, term: &str| ClaimError::UnknownTerm {
        field: field.into(),
        term: term.into(),
    };
    assert_eq!(
        problems(&v),
        [
            unknown("service.appIdentifiers[0].store", "nokia-store"),
            unknown("claims[0].dataCategory.term", "pd:Thoughts"),
            unknown("claims[0].dataCategory.storeLabelMappings", "amazon"),
            unknown("claims[0].purposes.permitted", "dpv:MindReading"),
            unknown("claims[0].assurance.level", "pinky-promise"),
            unknown("claims[1].storage.locations", "moon-base"),
            // An unknown location is not a server, so "retained" now lacks one.
            ClaimError::RetainedWithoutServerLocation {
                claim: "chat-metadata".into()
            },
        ]
    );
    // Each vocabulary-backed field is checked.
    let fields: [(&str, Value, &str); 12] = [
        ("scope", json!("everyone"), "claims[0].scope"),
        ("legalBasis", json!(["dpv:Whim"]), "claims[0].legalBasis"),
        (
            "processingExcluded",
            json!(["dpv:Juggle"]),
            "claims[0].processingExcluded",
        ),
        (
            "sharedWith",
            json!(["dpv:Everyone"]),
            "claims[0].sharedWith",
        ),
        (
            "technicalMeasures",
            json!(["dpv:Hope"]),
            "claims[0].technicalMeasures",
        ),
        (
            "operatorAccess",
            json!({"conditions": ["whenever"]}),
            "claims[0].operatorAccess.conditions",
        ),
        (
            "exceptions",
            json!([{"kind": "whenever"}]),
            "claims[0].exceptions[0].kind",
        ),
        (
            "retention",
            json!({"device": "forever"}),
            "claims[0].retention.device",
        ),
        (
            "retention",
            json!({"server": {"until": "heat-death"}}),
            "claims[0].retention.server.until",
        ),
        (
            "assurance",
            json!({"level": "self-asserted", "evidence": [{"kind": "rumour", "uri": "https://x.example/"}]}),
            "claims[0].assurance.evidence[0].kind",
        ),
        (
            "purposes",
            json!({"excluded": ["dpv:Nothing"]}),
            "claims[0].purposes.excluded",
        ),
        (
            "storage",
            json!({"locations": ["cloud-nine"]}),
            "claims[0].storage.locations",
        ),
    ];
    for (key, value, field) in fields {
        let v = with(|v| v["predicate"]["claims"][0][key] = value.clone());
        let got = problems(&v);
        assert!(
            matches!(&got[..], [ClaimError::UnknownTerm { field: f, .. }] if f == field),
            "{field}: {got:?}"
        );
    }
}

#[test]
fn structural_validation_rejections() {
    let cases: Vec<(Value, Vec<ClaimError>)> = vec![
        (
            with(|v| v["predicate"]["claims"][1]["id"] = json!("chat-content")),
            vec![ClaimError::DuplicateClaimId {
                id: "chat-content".into(),
            }],
        ),
        (
            with(|v| v["predicate"]["claims"] = json!([])),
            vec![ClaimError::EmptyList {
                field: "claims".into(),
            }],
        ),
        (
            with(|v| v["subject"] = json!([])),
            vec![ClaimError::EmptyList {
                field: "subject".into(),
            }],
        ),
        (
            with(|v| {
                v["predicate"]["claims"][0]["purposes"]["excluded"] =
                    json!(["dpv:Marketing", "dpv:Marketing"])
            }),
            vec![ClaimError::DuplicateEntry {
                field: "claims[0].purposes.excluded".into(),
                value: "dpv:Marketing".into(),
            }],
        ),
        (
            with(|v| v["predicate"]["authoritativeLanguage"] = json!("fr")),
            vec![ClaimError::AuthoritativeLanguageMissing { lang: "fr".into() }],
        ),
        (
            with(|v| v["predicate"]["sequence"] = json!(0)),
            vec![ClaimError::SequenceZero],
        ),
        (
            with(|v| {
                v["predicate"]["supersedes"] =
                    json!({"sequence": 0, "logIndex": 1, "statementSha256": "00".repeat(32)})
            }),
            vec![ClaimError::SupersedesOnFirstVersion],
        ),
        (
            with(|v| v["predicate"]["sequence"] = json!(2)),
            vec![ClaimError::MissingSupersedes { sequence: 2 }],
        ),
        (
            with(|v| {
                v["predicate"]["sequence"] = json!(3);
                v["predicate"]["supersedes"] =
                    json!({"sequence": 1, "logIndex": 1, "statementSha256": "00".repeat(32)});
            }),
            vec![ClaimError::SupersedesSequence {
                expected: 2,
                found: 1,
            }],
        ),
        (
            with(|v| v["predicate"]["removedClaimIds"] = json!(["old-claim"])),
            vec![ClaimError::RemovalsOnFirstVersion],
        ),
        (
            with(|v| {
                v["predicate"]["sequence"] = json!(2);
                v["predicate"]["supersedes"] =
                    json!({"sequence": 1, "logIndex": 1, "statementSha256": "00".repeat(32)});
                v["predicate"]["removedClaimIds"] = json!(["chat-metadata"]);
            }),
            vec![ClaimError::RemovedClaimPresent {
                id: "chat-metadata".into(),
            }],
        ),
        (
            with(|v| v["predicate"]["effectiveFrom"] = json!("2025-06-01T08:59:59Z")),
            vec![ClaimError::EffectiveBeforeIssued {
                issued_at: ts("2025-06-01T09:00:00Z"),
                effective_from: ts("2025-06-01T08:59:59Z"),
            }],
        ),
        (
            with(|v| v["predicate"]["validUntil"] = json!("2025-06-01T09:00:00Z")),
            vec![ClaimError::ValidUntilNotAfterEffective {
                effective_from: ts("2025-06-01T09:00:00Z"),
                valid_until: ts("2025-06-01T09:00:00Z"),
            }],
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(problems(&value), expected);
    }
}

#[test]
fn contradiction_rejections() {
    let claim = |f: fn(&mut Value)| problems(&with(|v| f(&mut v["predicate"]["claims"][0])));
    let id = || "chat-content".to_string();
    assert_eq!(
        claim(|c| c["purposes"]["permitted"] = json!(["dpv:ServiceProvision", "dpv:Marketing"])),
        [ClaimError::PurposePermittedAndExcluded {
            claim: id(),
            purpose: "dpv:Marketing".into()
        }]
    );
    assert_eq!(
        claim(|c| c["purposes"]["permitted"] = json!(["ai:ModelTraining"])),
        [ClaimError::TrainingDeniedButPermitted { claim: id() }]
    );
    assert_eq!(
        claim(|c| c["usedForTraining"] = json!(true)),
        [ClaimError::TrainingClaimedButExcluded {
            claim: id(),
            field: "processingExcluded".into()
        }]
    );
    assert_eq!(
        claim(|c| {
            c["usedForTraining"] = json!(true);
            c["purposes"]["excluded"] = json!(["ai:ModelTraining"]);
            c["processingExcluded"] = json!([]);
        }),
        [ClaimError::TrainingClaimedButExcluded {
            claim: id(),
            field: "purposes.excluded".into()
        }]
    );
    let server_fact = |field: &str| ClaimError::ServerFactWithoutServerProcessing {
        claim: id(),
        field: field.into(),
    };
    assert_eq!(
        claim(|c| {
            c["serverProcessing"] = json!("none");
            c["storage"] =
                json!({"locations": ["user-device", "issuer-servers"], "serverBackups": true});
        }),
        [
            server_fact("retention.server"),
            server_fact("storage.serverBackups"),
            server_fact("storage.locations")
        ]
    );
    assert_eq!(
        claim(|c| c["storage"] = json!({"serverBackups": true})),
        [ClaimError::TransientWithBackups { claim: id() }]
    );
    assert_eq!(
        claim(|c| {
            c["serverProcessing"] = json!("retained");
            c["storage"] = json!({"locations": ["user-device"]});
        }),
        [ClaimError::RetainedWithoutServerLocation { claim: id() }]
    );
    assert_eq!(
        claim(|c| c["endToEndEncrypted"] = json!(true)),
        [ClaimError::EncryptedButOperatorAccess { claim: id() }]
    );
    assert_eq!(
        claim(|c| c["operatorAccess"] = json!({"technicallyPossible": false, "routine": true})),
        [ClaimError::RoutineAccessImpossible { claim: id() }]
    );
    assert_eq!(
        claim(|c| {
            c["processingExcluded"] = json!(["dpv:Share"]);
            c["sharedWith"] = json!(["dpv:DataProcessor"]);
        }),
        [ClaimError::SharedButShareExcluded { claim: id() }]
    );
    // Consistent combinations are not flagged.
    assert_eq!(
        claim(|c| {
            c["serverProcessing"] = json!("none");
            c.as_object_mut().unwrap().remove("retention");
            c["endToEndEncrypted"] = json!(true);
            c["operatorAccess"] = json!({"technicallyPossible": false, "routine": false});
            c["sharedWith"] = json!([]);
            c["processingExcluded"] = json!(["dpv:Share"]);
        }),
        []
    );
    // All problems are collected, in document order; the log takes the first.
    let many = with(|v| {
        v["predicate"]["claims"][0]["endToEndEncrypted"] = json!(true);
        v["predicate"]["claims"][1]["dataCategory"]["term"] = json!("pd:Nope");
        v["predicate"]["effectiveFrom"] = json!("2025-01-01T00:00:00Z");
    });
    let all = problems(&many);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(matches!(all[0], ClaimError::EffectiveBeforeIssued { .. }));
    assert_eq!(parse_and_validate(&bytes_of(&many)), Err(all[0].clone()));
}

#[test]
fn key_binding_validation_rejections() {
    let base: Value = serde_json::from_slice(&example("key-binding-2-rotate.json")).unwrap();
    let kb = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        problems(&v)
    };
    let keys: Value = serde_json::from_slice(&example("test-keys.json")).unwrap();
    let s2 = keys["keys"]["signing2"].clone();
    let r1 = keys["keys"]["root1"]["keyid"].as_str().unwrap().to_owned();
    let r2 = keys["keys"]["root2"]["keyid"].as_str().unwrap().to_owned();

    assert_eq!(
        kb(&|v| v["predicate"]["signingKeys"][0]["keyid"] = s2["keyid"].clone()),
        [
            ClaimError::KeyIdMismatch {
                field: "signingKeys[0]".into(),
                keyid: s2["keyid"].as_str().unwrap().into()
            },
            ClaimError::DuplicateEntry {
                field: "rootKeys+signingKeys".into(),
                value: s2["keyid"].as_str().unwrap().into()
            },
        ]
    );
    assert_eq!(
        kb(&|v| v["predicate"]["signingKeys"][1]["validUntil"] = json!("2025-12-01T12:00:00Z")),
        [ClaimError::EmptyValidity {
            keyid: s2["keyid"].as_str().unwrap().into()
        }]
    );
    assert_eq!(
        kb(&|v| {
            v["predicate"]["rootKeys"][0]
                .as_object_mut()
                .unwrap()
                .remove("validUntil");
        }),
        [ClaimError::RootValidityOverlap {
            first: r1.clone(),
            second: r2.clone()
        }]
    );
    assert_eq!(
        kb(&|v| v["predicate"]["revocations"] =
            json!([{"keyid": "ab".repeat(32), "compromisedSince": "2025-01-01T00:00:00Z"}])),
        [ClaimError::RevocationOfUnknownKey {
            keyid: "ab".repeat(32)
        }]
    );
    assert_eq!(
        kb(&|v| v["predicate"]["rootKeys"] = json!([])),
        [ClaimError::EmptyList {
            field: "rootKeys".into()
        },]
    );
    assert_eq!(
        kb(&|v| v["subject"][0]["digest"]["sha256"] = json!(r1.clone())),
        [ClaimError::Subject {
            reason: format!("digest.sha256 must be the newest root keyid {r2}")
        }]
    );
    assert_eq!(
        kb(&|v| v["subject"][0]["name"] = json!("evil.example")),
        [ClaimError::Subject {
            reason:
                "must be named chat.example with uri https://chat.example/.well-known/claimlog.json"
                    .into()
        }]
    );
    // An enrollment binds exactly one root and revokes nothing.
    assert_eq!(
        kb(&|v| {
            v["predicate"]["sequence"] = json!(1);
            v["predicate"].as_object_mut().unwrap().remove("supersedes");
            v["predicate"]["revocations"] =
                json!([{"keyid": r1.clone(), "compromisedSince": "2025-01-01T00:00:00Z"}]);
        }),
        [
            ClaimError::Enrollment {
                reason: "must bind exactly one root key, found 2".into()
            },
            ClaimError::Enrollment {
                reason: "must not revoke keys".into()
            },
        ]
    );
    // Keys must be real, canonical Ed25519 keys.
    let mut v = base.clone();
    v["predicate"]["signingKeys"][0]["publicKey"] =
        json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert!(matches!(
        parse_statement(&bytes_of(&v)),
        Err(ClaimError::Schema { path, .. }) if path == "predicate.signingKeys[0].publicKey"
    ));
}

// ---- Diff properties over random valid predicates. ----

mod properties {
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
        )
            .prop_map(move |(a, b, c, notice)| {
                let mut d = base.clone();
                d.claims = std::iter::once(a).chain(b).chain(c).collect();
                d.change_notice_period = notice;
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
        fn removing_a_claim_is_a_weakening(a in predicate()) {
            prop_assume!(a.claims.len() > 1);
            let mut b = a.clone();
            let gone = b.claims.pop().unwrap();
            let d = diff(&a, &b);
            prop_assert_eq!(&d.removed, &vec![gone.id.to_string()]);
            prop_assert!(d.weakens());
        }
    }
}
