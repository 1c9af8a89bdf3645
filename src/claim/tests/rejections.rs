//! Rejection paths of parsing and validation, each with its named reason.

use serde_json::{Value, json};

use super::super::*;
use super::{example, ts};

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
            with(|v| {
                v["predicate"]["claims"][1]["dataCategory"]["term"] = json!("pd:Communication")
            }),
            vec![ClaimError::DuplicateEntry {
                field: "claims[].dataCategory.term".into(),
                value: "pd:Communication".into(),
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
        kb(&|v| {
            let r = json!({"keyid": r1.clone(), "compromisedSince": "2025-01-01T00:00:00Z"});
            v["predicate"]["revocations"] = json!([r.clone(), r]);
        }),
        [ClaimError::DuplicateEntry {
            field: "revocations".into(),
            value: r1.clone()
        }]
    );
    assert_eq!(
        kb(&|v| v["subject"] = json!([])),
        [ClaimError::Subject {
            reason: "a key binding has exactly one subject, found 0".into()
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
