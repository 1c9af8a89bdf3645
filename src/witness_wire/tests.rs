use serde_json::Value;

use super::*;
use crate::cosignature::CosignerKey;
use crate::merkle::{Hash, empty_root};
use crate::note::{KeyName, SignerKey};

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/add-checkpoint-cases.json"
));
const SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/litewitness-sigsum-scenario.json"
));
const SPEC_EXAMPLES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/c2sp-witness-spec-examples.json"
));
const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/cosignature/cosignature-vectors.json"
));

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn log_signer() -> SignerKey {
    let doc = json(COSIG_VECTORS);
    SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap()
}

fn witness_key() -> CosignerKey {
    let doc = json(COSIG_VECTORS);
    CosignerKey::parse(doc["keys"]["witness_ed25519"]["skey"].as_str().unwrap()).unwrap()
}

fn state_of(v: &Value) -> Option<TreeState> {
    let size = v["latest_cosigned_size"].as_u64().unwrap();
    let root = v["latest_root"].as_str()?;
    Some(TreeState {
        size,
        root: Hash::from_base64(root).unwrap(),
    })
}

/// What a witness does with one request: parse, decide, and on success
/// cosign and move to the new state. Returns the status and the new state.
fn run(
    keys: &[(Origin, VerifierKey)],
    state: Option<TreeState>,
    body: &[u8],
) -> (
    u16,
    Option<TreeState>,
    Result<SignedCheckpoint, WitnessError>,
) {
    let outcome = AddCheckpointRequest::parse(body).and_then(|req| {
        let origin_keys: Vec<VerifierKey> = keys
            .iter()
            .filter(|(o, _)| o == req.checkpoint().origin())
            .map(|(_, k)| k.clone())
            .collect();
        check_add_checkpoint(Some(&origin_keys), state.as_ref(), &req)
    });
    match &outcome {
        Ok(signed) => (200, Some(TreeState::of(signed.checkpoint())), outcome),
        Err(e) => (e.status(), state, outcome),
    }
}

/// A cosignature by the test witness over an accepted checkpoint must
/// round-trip through the 200 body and verify.
fn assert_cosignable(signed: &SignedCheckpoint) {
    let key = witness_key();
    let sig = key.sign(signed.checkpoint(), 1_700_000_000).unwrap();
    let body = format_cosignatures(std::slice::from_ref(&sig));
    let parsed = parse_cosignatures(body.as_bytes()).unwrap();
    assert_eq!(parsed, vec![sig]);
    assert_eq!(
        key.verifier().verify(signed.checkpoint(), &parsed[0]),
        Ok(1_700_000_000)
    );
}

#[test]
fn add_checkpoint_cases() {
    let doc = json(CASES);
    let vkey = VerifierKey::parse(doc["log_vkey"].as_str().unwrap()).unwrap();
    let keys: Vec<(Origin, VerifierKey)> = doc["trusted_origins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (Origin::new(o.as_str().unwrap()).unwrap(), vkey.clone()))
        .collect();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    let mut statuses = std::collections::BTreeMap::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let body = case["request_body"].as_str().unwrap().as_bytes();
        let before = state_of(&case["state_before"]);
        let (status, after, outcome) = run(&keys, before, body);
        let want = case["expect_status"].as_u64().unwrap() as u16;
        assert_eq!(status, want, "{id}: {outcome:?}");
        assert_eq!(after, state_of(&case["state_after"]), "{id}");
        *statuses.entry(status).or_insert(0) += 1;
        match outcome {
            Ok(signed) => {
                assert_cosignable(&signed);
                // Parse and format round-trip exactly.
                let req = AddCheckpointRequest::parse(body).unwrap();
                assert_eq!(req.to_bytes(), body, "{id}");
            }
            Err(e @ WitnessError::StaleOldSize { stored, .. }) => {
                assert_eq!(case["expect_content_type"], SIZE_CONTENT_TYPE, "{id}");
                assert_eq!(
                    format_size_body(stored),
                    case["expect_body"].as_str().unwrap(),
                    "{id}"
                );
                assert!(!e.is_evidence());
            }
            Err(e) => {
                // Exactly the two fork-like rejections are evidence.
                let evidence = matches!(id, "same-size-different-root" | "bad-proof");
                assert_eq!(e.is_evidence(), evidence, "{id}: {e:?}");
            }
        }
    }
    assert_eq!(
        statuses,
        [(200, 4), (400, 3), (403, 2), (404, 1), (409, 2), (422, 4)].into()
    );
}

#[test]
fn add_checkpoint_cases_precise_errors() {
    let doc = json(CASES);
    let vkey = VerifierKey::parse(doc["log_vkey"].as_str().unwrap()).unwrap();
    let origin = Origin::new("research.example/log").unwrap();
    let keys = [(origin, vkey)];
    let case = |id: &str| {
        let c = doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone();
        let before = state_of(&c["state_before"]);
        run(
            &keys,
            before,
            c["request_body"].as_str().unwrap().as_bytes(),
        )
        .2
    };
    assert_eq!(
        case("stale-old-size"),
        Err(WitnessError::StaleOldSize { old: 5, stored: 8 })
    );
    assert_eq!(
        case("old-greater-than-new"),
        Err(WitnessError::OldSizeTooLarge { old: 8, size: 5 })
    );
    assert_eq!(
        case("same-size-different-root"),
        Err(WitnessError::RootMismatch { size: 8 })
    );
    assert_eq!(
        case("old-zero-nonempty-proof"),
        Err(WitnessError::ProofAtOldZero)
    );
    assert_eq!(
        case("size-zero-wrong-root"),
        Err(WitnessError::BadEmptyTreeRoot)
    );
    assert_eq!(
        case("too-many-proof-lines"),
        Err(WitnessError::TooManyProofLines)
    );
    assert_eq!(
        case("malformed-old-line"),
        Err(WitnessError::MalformedOldLine)
    );
    assert!(matches!(
        case("unknown-origin"),
        Err(WitnessError::UnknownOrigin(_))
    ));
    assert!(matches!(
        case("no-trusted-signature"),
        Err(WitnessError::LogSignature(NoteError::NoVerifiedSignature))
    ));
    assert!(matches!(
        case("trusted-key-bad-signature"),
        Err(WitnessError::LogSignature(
            NoteError::InvalidSignature { .. }
        ))
    ));
    assert!(matches!(
        case("bad-proof"),
        Err(WitnessError::InconsistentProof {
            old: 5,
            size: 8,
            ..
        })
    ));
}

#[test]
fn litewitness_sigsum_scenario() {
    let doc = json(SCENARIO);
    let vkey = VerifierKey::parse(doc["log"]["vkey"].as_str().unwrap()).unwrap();
    let origin = Origin::new(doc["log"]["origin"].as_str().unwrap()).unwrap();
    let keys = [(origin, vkey)];
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9);
    let mut state = None;
    let mut sizes = Vec::new();
    for step in steps {
        let n = step["step"].as_u64().unwrap();
        let body = step["request_body"].as_str().unwrap().as_bytes();
        let (status, after, outcome) = run(&keys, state, body);
        assert_eq!(
            u64::from(status),
            step["spec_status"].as_u64().unwrap(),
            "step {n}: {outcome:?}"
        );
        match &outcome {
            Ok(signed) => assert_cosignable(signed),
            Err(WitnessError::StaleOldSize { stored, .. }) => {
                let want = step["litewitness_assert"].as_str().unwrap();
                assert!(want.contains(&format!("{stored}\\n")), "step {n}: {want}");
            }
            Err(_) => assert_eq!(after, state, "step {n}: state must not move"),
        }
        state = after;
        sizes.push(state.map(|s| s.size));
    }
    // Step 1: a known key with non-canonical base64 is 403, not 400.
    let step1 = steps[1]["request_body"].as_str().unwrap().as_bytes();
    assert!(matches!(
        run(
            &keys,
            Some(TreeState {
                size: 1,
                root: Hash([0x2a; 32])
            }),
            step1
        )
        .2,
        Err(WitnessError::LogSignature(
            NoteError::InvalidSignature { .. }
        ))
    ));
    let roots = &doc["log"]["root_by_size"];
    assert_eq!(
        state.unwrap().root,
        Hash::from_base64(roots["5"].as_str().unwrap()).unwrap()
    );
    assert_eq!(
        sizes,
        [1, 1, 1, 1, 1, 3, 3, 5, 5].map(Some).to_vec(),
        "the stored size only grows"
    );
}

#[test]
fn c2sp_spec_examples_parse() {
    let doc = json(SPEC_EXAMPLES);
    let body = doc["add_checkpoint_request"].as_str().unwrap();
    let want = &doc["add_checkpoint_request_parsed"];
    let req = AddCheckpointRequest::parse(body.as_bytes()).unwrap();
    assert_eq!(req.old(), want["old"].as_u64().unwrap());
    assert_eq!(
        req.proof().len() as u64,
        want["proof_lines"].as_u64().unwrap()
    );
    assert_eq!(
        req.checkpoint().origin().as_str(),
        want["checkpoint_origin"].as_str().unwrap()
    );
    assert_eq!(
        req.checkpoint().size(),
        want["checkpoint_size"].as_u64().unwrap()
    );
    // Two signature lines with the same key name, both kept.
    assert_eq!(req.note().signatures().len(), 2);
    assert_eq!(req.to_string(), body);

    let response = doc["add_checkpoint_response"].as_str().unwrap();
    let sigs = parse_cosignatures(response.as_bytes()).unwrap();
    let names: Vec<&str> = sigs.iter().map(|s| s.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "witness.example/w1",
            "witness.example/w1",
            "witness.example/w2"
        ]
    );
    assert_eq!(format_cosignatures(&sigs), response);

    // A sign-subtree body is not an add-checkpoint body.
    let subtree = doc["sign_subtree_request"].as_str().unwrap();
    assert_eq!(
        AddCheckpointRequest::parse(subtree.as_bytes()),
        Err(WitnessError::MalformedOldLine)
    );
}

/// A signed checkpoint of the reference tree of `size` leaves is not
/// needed here: any root will do for the parsing and ordering tests.
fn signed_note(size: u64, root: Hash) -> Note {
    let origin = Origin::new("research.example/log").unwrap();
    let cp = Checkpoint::new(origin, size, root);
    SignedCheckpoint::sign(&cp, &log_signer())
        .unwrap()
        .note()
        .clone()
}

fn body(old: &str, proof: &[&str], note: &Note) -> Vec<u8> {
    let mut s = format!("old {old}\n");
    for p in proof {
        s.push_str(p);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&note.to_string());
    s.into_bytes()
}

#[test]
fn request_parse_rejects_malformed_bodies() {
    let note = signed_note(3, Hash([7; 32]));
    let h = Hash([1; 32]).to_base64();
    let ok = body("0", &[], &note);
    assert!(AddCheckpointRequest::parse(&ok).is_ok());
    for old in [
        "",
        "00",
        "01",
        "+1",
        "-1",
        " 1",
        "1 ",
        "18446744073709551616",
        "x",
    ] {
        assert_eq!(
            AddCheckpointRequest::parse(&body(old, &[], &note)),
            Err(WitnessError::MalformedOldLine),
            "{old:?}"
        );
    }
    assert_eq!(
        AddCheckpointRequest::parse(b"old 1"),
        Err(WitnessError::MalformedOldLine)
    );
    assert_eq!(
        AddCheckpointRequest::parse(b"Old 1\n\n"),
        Err(WitnessError::MalformedOldLine)
    );
    assert_eq!(
        AddCheckpointRequest::parse(b"old 1\r\n\n"),
        Err(WitnessError::MalformedOldLine)
    );
    assert_eq!(
        AddCheckpointRequest::parse(format!("old 1\n{h}\n").as_bytes()),
        Err(WitnessError::MissingSeparator)
    );
    // Non-canonical trailing bits, wrong length, whitespace, not UTF-8.
    let noncanonical = format!("{}B=", &h[..h.len() - 2]);
    for bad in [
        noncanonical.as_str(),
        "AAAA",
        &format!(" {h}"),
        &format!("{h} "),
    ] {
        assert_eq!(
            AddCheckpointRequest::parse(&body("1", &[&h, bad], &note)),
            Err(WitnessError::MalformedProofLine(2)),
            "{bad:?}"
        );
    }
    let mut invalid = body("1", &[], &note);
    invalid.splice(6..6, [0xff, b'\n']);
    assert_eq!(
        AddCheckpointRequest::parse(&invalid),
        Err(WitnessError::MalformedProofLine(1))
    );
    // 63 proof lines parse; 64 do not, nor can a client build them.
    let proof63 = vec![h.as_str(); 63];
    let req = AddCheckpointRequest::parse(&body("1", &proof63, &note)).unwrap();
    assert_eq!(req.proof().len(), 63);
    let proof64 = vec![h.as_str(); 64];
    assert_eq!(
        AddCheckpointRequest::parse(&body("1", &proof64, &note)),
        Err(WitnessError::TooManyProofLines)
    );
    assert_eq!(
        AddCheckpointRequest::new(1, vec![Hash([1; 32]); 64], note.clone()),
        Err(WitnessError::TooManyProofLines)
    );
    // Trailing data after the note, a note that is not a checkpoint, and
    // an oversized body.
    let mut trailing = ok.clone();
    trailing.extend_from_slice(b"junk\n");
    assert!(matches!(
        AddCheckpointRequest::parse(&trailing),
        Err(WitnessError::MalformedNote(_))
    ));
    let not_cp = Note::sign("just text\n", [&log_signer()]).unwrap();
    assert!(matches!(
        AddCheckpointRequest::parse(&body("0", &[], &not_cp)),
        Err(WitnessError::MalformedCheckpoint(
            CheckpointError::TooFewLines
        ))
    ));
    assert!(matches!(
        AddCheckpointRequest::new(0, vec![], not_cp),
        Err(WitnessError::MalformedCheckpoint(_))
    ));
    let huge = vec![b'a'; MAX_REQUEST_SIZE + 1];
    assert_eq!(
        AddCheckpointRequest::parse(&huge),
        Err(WitnessError::TooLarge {
            len: MAX_REQUEST_SIZE + 1,
            max: MAX_REQUEST_SIZE
        })
    );
}

#[test]
fn request_built_by_client_round_trips() {
    let note = signed_note(8, Hash([9; 32]));
    let req = AddCheckpointRequest::new(5, vec![Hash([1; 32]), Hash([2; 32])], note).unwrap();
    let parsed = AddCheckpointRequest::parse(&req.to_bytes()).unwrap();
    assert_eq!(parsed, req);
    assert_eq!(parsed.checkpoint().size(), 8);
}

#[test]
fn decision_edge_cases() {
    let signer = log_signer();
    let keys = [signer.verifier()];
    let root8 = Hash([8; 32]);
    let stored8 = TreeState {
        size: 8,
        root: root8,
    };
    let req = |old, proof: Vec<Hash>, size, root| {
        AddCheckpointRequest::new(old, proof, signed_note(size, root)).unwrap()
    };
    // Unknown origin: no keys or an empty key list.
    let r = req(0, vec![], 8, root8);
    assert!(matches!(
        check_add_checkpoint(None, None, &r),
        Err(WitnessError::UnknownOrigin(_))
    ));
    assert!(matches!(
        check_add_checkpoint(Some(&[]), None, &r),
        Err(WitnessError::UnknownOrigin(_))
    ));
    // Same size, same root: re-cosignable; with proof lines attached: 422.
    assert!(check_add_checkpoint(Some(&keys), Some(&stored8), &req(8, vec![], 8, root8)).is_ok());
    let extra = check_add_checkpoint(Some(&keys), Some(&stored8), &req(8, vec![root8], 8, root8));
    assert!(matches!(extra, Err(WitnessError::InconsistentProof { .. })));
    assert!(!extra.unwrap_err().is_evidence());
    // A proof of the wrong length is a client error, not evidence; one of
    // the right length (1 for 8 -> 12) that does not reproduce the roots
    // is evidence.
    let short = check_add_checkpoint(Some(&keys), Some(&stored8), &req(8, vec![], 12, root8));
    assert!(matches!(
        short,
        Err(WitnessError::InconsistentProof {
            reason: ProofError::WrongProofLength { .. },
            ..
        })
    ));
    assert!(!short.unwrap_err().is_evidence());
    let wrong = check_add_checkpoint(Some(&keys), Some(&stored8), &req(8, vec![root8], 12, root8));
    assert!(wrong.unwrap_err().is_evidence());
    // A fork is reported as such even with junk proof lines.
    assert_eq!(
        check_add_checkpoint(
            Some(&keys),
            Some(&stored8),
            &req(8, vec![root8], 8, Hash([1; 32]))
        ),
        Err(WitnessError::RootMismatch { size: 8 })
    );
    // A smaller checkpoint never rolls back: 400 or 409.
    assert_eq!(
        check_add_checkpoint(Some(&keys), Some(&stored8), &req(8, vec![], 5, root8)),
        Err(WitnessError::OldSizeTooLarge { old: 8, size: 5 })
    );
    assert_eq!(
        check_add_checkpoint(Some(&keys), Some(&stored8), &req(5, vec![], 5, root8)),
        Err(WitnessError::StaleOldSize { old: 5, stored: 8 })
    );
    // A cosigned empty tree is state size 0: old 0 moves on without proof.
    let empty = TreeState {
        size: 0,
        root: empty_root(),
    };
    assert!(check_add_checkpoint(Some(&keys), Some(&empty), &req(0, vec![], 8, root8)).is_ok());
    // Two configured keys with the same name and ID: a configuration error.
    let twice = [signer.verifier(), signer.verifier()];
    assert!(matches!(
        check_add_checkpoint(Some(&twice), None, &r),
        Err(WitnessError::Configuration(NoteError::AmbiguousKey { .. }))
    ));
    // The log signature is checked before the sizes: a bad signature with a
    // stale old size is 403, not 409.
    let other = SignerKey::from_seed(
        KeyName::new("research.example/log").unwrap(),
        crate::note::KeyType::Ed25519,
        [3; 32],
    )
    .unwrap();
    assert!(matches!(
        check_add_checkpoint(
            Some(&[other.verifier()]),
            Some(&stored8),
            &req(1, vec![], 8, root8)
        ),
        Err(WitnessError::LogSignature(NoteError::NoVerifiedSignature))
    ));
}

#[test]
fn size_body() {
    assert_eq!(format_size_body(8), "8\n");
    assert_eq!(parse_size_body(b"8\n"), Ok(8));
    assert_eq!(parse_size_body(b"0\n"), Ok(0));
    assert_eq!(parse_size_body(b"18446744073709551615\n"), Ok(u64::MAX));
    for bad in [
        &b""[..],
        b"\n",
        b"8",
        b"08\n",
        b"8\n\n",
        b" 8\n",
        b"8 \n",
        b"-1\n",
        b"+1\n",
        b"8\r\n",
        b"18446744073709551616\n",
        b"000000000000000000008\n",
    ] {
        assert_eq!(
            parse_size_body(bad),
            Err(WitnessError::MalformedSizeBody),
            "{bad:?}"
        );
    }
}

#[test]
fn cosignature_response_rejects_malformed_bodies() {
    let sig = witness_key()
        .sign(
            &Checkpoint::new(Origin::new("o").unwrap(), 1, Hash([0; 32])),
            1,
        )
        .unwrap();
    let line = format!("{sig}\n");
    assert_eq!(parse_cosignatures(line.as_bytes()).unwrap(), vec![sig]);
    let too_many = line.repeat(MAX_SIGNATURES + 1);
    for bad in [
        String::new(),
        "\n".to_owned(),
        line.trim_end().to_owned(),
        format!("{line}\n"),
        format!("\n{line}"),
        format!("{line}not a signature\n"),
        line.replace('\n', "\r\n"),
        too_many,
        "a".repeat(MAX_RESPONSE_SIZE + 1),
    ] {
        assert!(
            matches!(
                parse_cosignatures(bad.as_bytes()),
                Err(WitnessError::MalformedResponse(_))
            ),
            "{bad:?}"
        );
    }
    assert!(parse_cosignatures(&[0xff, b'\n']).is_err());
}

#[test]
fn statuses_of_every_variant() {
    let origin = Origin::new("o").unwrap();
    let cases = [
        (WitnessError::TooLarge { len: 2, max: 1 }, 400),
        (WitnessError::MalformedOldLine, 400),
        (WitnessError::MalformedProofLine(1), 400),
        (WitnessError::TooManyProofLines, 400),
        (WitnessError::MissingSeparator, 400),
        (WitnessError::MalformedNote(NoteError::InvalidUtf8), 400),
        (
            WitnessError::MalformedCheckpoint(CheckpointError::TooFewLines),
            400,
        ),
        (WitnessError::OldSizeTooLarge { old: 2, size: 1 }, 400),
        (
            WitnessError::LogSignature(NoteError::NoVerifiedSignature),
            403,
        ),
        (WitnessError::UnknownOrigin(origin), 404),
        (WitnessError::StaleOldSize { old: 1, stored: 2 }, 409),
        (WitnessError::BadEmptyTreeRoot, 422),
        (WitnessError::ProofAtOldZero, 422),
        (
            WitnessError::InconsistentProof {
                old: 1,
                size: 2,
                reason: ProofError::RootMismatch,
            },
            422,
        ),
        (WitnessError::RootMismatch { size: 1 }, 422),
        (WitnessError::Configuration(NoteError::NoSigners), 500),
        (WitnessError::MalformedResponse("x"), 502),
        (WitnessError::MalformedSizeBody, 502),
    ];
    for (err, status) in cases {
        assert_eq!(err.status(), status, "{err:?}");
    }
}
