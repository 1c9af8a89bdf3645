use serde_json::Value;

use super::*;
use crate::checkpoint::{Origin, SignedCheckpoint};
use crate::cosignature::CosignerKey;
use crate::merkle::ProofError;
use crate::note::SignerKey;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/proof/tlog-proof-vectors.json"
));
const INDEX5: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/proof/research-log-index5.tlog-proof"
));
const INDEX0_EXTRA: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/proof/research-log-index0-extra.tlog-proof"
));
const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/cosignature/cosignature-vectors.json"
));
/// A witness of the policy vectors that did not cosign the proof files.
const X1: &str = "research.example/x1+7fe4812b+BHxObXNaXBNPkHvxroLKESMBUQoDai2i9EMEX3BG1oKp";

/// The timestamp both cosignatures in the proof files carry.
const COSIGNED_AT: u64 = 1_700_000_000;

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

/// (log vkey, Ed25519 witness vkey, ML-DSA-44 witness vkey) from the vectors.
fn keys() -> (String, String, String) {
    let doc = vectors();
    let p = &doc["files"][0]["policy"];
    let w = p["witness_vkeys"].as_array().unwrap();
    (
        p["log_vkey"].as_str().unwrap().to_owned(),
        w[0].as_str().unwrap().to_owned(),
        w[1].as_str().unwrap().to_owned(),
    )
}

/// A policy over the vector keys with the given group threshold over the
/// two witnesses, e.g. `any` (1-of-2) or `all` (2-of-2).
fn policy(threshold: &str) -> Policy {
    let (log, ed, ml) = keys();
    let text = format!(
        "log {log}\nwitness ED {ed}\nwitness ML {ml}\ngroup W {threshold} ED ML\nquorum W\n"
    );
    Policy::parse(text.as_bytes()).unwrap()
}

fn mutate(file: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(file).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn vector_files_parse_round_trip_and_verify() {
    let doc = vectors();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        let name = f["file"].as_str().unwrap();
        let bytes = match name {
            "research-log-index5.tlog-proof" => INDEX5,
            "research-log-index0-extra.tlog-proof" => INDEX0_EXTRA,
            other => panic!("unexpected file {other}"),
        };
        let bundle = ProofBundle::parse(bytes).unwrap();
        assert_eq!(bundle.to_bytes(), bytes, "{name}");
        assert_eq!(ProofBundle::parse(&bundle.to_bytes()).unwrap(), bundle);
        assert_eq!(bundle.index(), f["index"].as_u64().unwrap());
        let extra = f["extra_utf8"].as_str().unwrap_or("");
        assert_eq!(bundle.extra(), extra.as_bytes(), "{name}");
        assert_eq!(bundle.checkpoint().size(), 8);
        assert_eq!(bundle.proof().len(), 3);
        let entry = hex::decode(f["leaf_input_hex"].as_str().unwrap()).unwrap();

        // The note module verifies ML-DSA-44 (0x06), so both cosignatures
        // count and even a 2-of-2 quorum holds.
        for threshold in ["any", "all", "1", "2"] {
            let v = bundle.verify_entry(&entry, &policy(threshold)).unwrap();
            assert_eq!(v.index(), bundle.index());
            assert_eq!(v.leaf(), &leaf_hash(&entry));
            let cosigners: Vec<_> = v
                .checkpoint()
                .cosignatures()
                .iter()
                .map(|c| (c.witness().to_string(), c.timestamp()))
                .collect();
            assert_eq!(
                cosigners,
                [
                    ("ED".to_owned(), COSIGNED_AT),
                    ("ML".to_owned(), COSIGNED_AT)
                ]
            );
            assert_eq!(v.checkpoint().log().name().as_str(), "research.example/log");
        }
        // Each witness alone also satisfies a quorum naming just it.
        let (log, ed, ml) = keys();
        for quorum in ["ED", "ML"] {
            let text = format!("log {log}\nwitness ED {ed}\nwitness ML {ml}\nquorum {quorum}\n");
            let p = Policy::parse(text.as_bytes()).unwrap();
            assert!(bundle.verify_entry(&entry, &p).is_ok(), "{name} {quorum}");
        }
        // The wrong entry fails step 4.
        assert_eq!(
            bundle.verify_entry(b"not the entry", &policy("any")),
            Err(ProofBundleError::Inclusion(ProofError::RootMismatch))
        );
    }
}

#[test]
fn extra_is_not_authenticated() {
    // Changing `extra` leaves a valid proof: applications must not trust it.
    let changed = mutate(
        INDEX0_EXTRA,
        "extra YXBwbGljYXRpb24gY29udGV4dCBieXRlcw==",
        "extra Zm9yZ2Vk",
    );
    let bundle = ProofBundle::parse(&changed).unwrap();
    assert_eq!(bundle.extra(), b"forged");
    assert!(bundle.verify_entry(b"", &policy("all")).is_ok());
}

#[test]
fn negative_vectors() {
    let doc = vectors();
    let cases = doc["negative"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    let entry = hex::decode(doc["files"][0]["leaf_input_hex"].as_str().unwrap()).unwrap();
    let (log, ed, ml) = keys();
    for case in cases {
        let mutation = case["mutation"].as_str().unwrap();
        let (file, p, want) = match mutation {
            "change 'index 5' to 'index 4'" => (
                mutate(INDEX5, "index 5\n", "index 4\n"),
                policy("all"),
                ProofBundleError::Inclusion(ProofError::RootMismatch),
            ),
            "drop the last proof line" => (
                mutate(INDEX5, "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=\n", ""),
                policy("all"),
                ProofBundleError::Inclusion(ProofError::WrongProofLength {
                    got: 2,
                    expected: 3,
                }),
            ),
            "remove the log signature line" => {
                let text = std::str::from_utf8(INDEX5).unwrap();
                let kept: String = text
                    .split_inclusive('\n')
                    .filter(|l| !l.starts_with("\u{2014} research.example/log "))
                    .collect();
                assert_eq!(kept.lines().count() + 1, text.lines().count());
                (
                    kept.into_bytes(),
                    policy("all"),
                    ProofBundleError::Policy(PolicyError::NotSignedByLog(
                        "research.example/log".to_owned(),
                    )),
                )
            }
            "verify with a policy requiring a witness whose cosignature is absent" => {
                let text = format!(
                    "log {log}\nwitness ED {ed}\nwitness ML {ml}\nwitness X1 {X1}\ngroup W all ED ML X1\nquorum W\n"
                );
                (
                    INDEX5.to_vec(),
                    Policy::parse(text.as_bytes()).unwrap(),
                    ProofBundleError::Policy(PolicyError::QuorumNotSatisfied),
                )
            }
            other => panic!("unexpected mutation {other}"),
        };
        let bundle = ProofBundle::parse(&file).unwrap();
        assert_eq!(bundle.verify_entry(&entry, &p), Err(want), "{mutation}");
    }
}

#[test]
fn tampered_cosignatures_reject_the_proof() {
    let (_, ed, ml) = keys();
    for (vkey, name) in [(ed, "witness-ed25519"), (ml, "witness-mldsa44")] {
        let text = std::str::from_utf8(INDEX5).unwrap();
        let prefix = format!("\u{2014} research.example/{name} ");
        let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
        // Flip one base64 character inside the signature bytes (past the key
        // ID and timestamp), keeping the encoding canonical.
        let pos = prefix.len() + 40;
        let mut bad = line.to_owned();
        let c = if &line[pos..pos + 1] == "A" { "B" } else { "A" };
        bad.replace_range(pos..pos + 1, c);
        let bundle = ProofBundle::parse(&mutate(INDEX5, line, &bad)).unwrap();
        let key = crate::note::VerifierKey::parse(&vkey).unwrap();
        assert_eq!(
            bundle.verify_entry(&[0x40, 0x41, 0x42, 0x43], &policy("any")),
            Err(ProofBundleError::Policy(PolicyError::Checkpoint(
                CheckpointError::Note(NoteError::InvalidSignature {
                    name: key.name().clone(),
                    key_id: key.key_id(),
                })
            ))),
            "{name}"
        );
    }
}

#[test]
fn c2sp_example_parses_structurally() {
    let doc = vectors();
    let text = doc["c2sp_example_parse_only"]["text"].as_str().unwrap();
    // The spec elides its signatures with "[...]", which is not base64: the
    // header, index, proof and blank line parse, and the note's first
    // signature line is the first thing rejected.
    assert_eq!(
        ProofBundle::parse(text.as_bytes()),
        Err(ProofBundleError::Note(NoteError::MalformedSignatureLine {
            line: 1,
            reason: "signature is not padded base64",
        }))
    );
    // With each elided signature replaced by a well-formed placeholder of
    // the same name, the whole structure parses as the vector describes.
    let placeholder = STANDARD.encode([0u8; 4 + 64]);
    let filled: String = text
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("\u{2014} ") {
            Some(sig) => {
                let name = sig.split(' ').next().unwrap();
                format!("\u{2014} {name} {placeholder}\n")
            }
            None => l.to_owned(),
        })
        .collect();
    let bundle = ProofBundle::parse(filled.as_bytes()).unwrap();
    assert!(
        bundle
            .extra()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")
    );
    assert_eq!(bundle.index(), 73894);
    assert_eq!(bundle.proof().len(), 5);
    assert_eq!(
        bundle.proof()[0].to_base64(),
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
    );
    assert_eq!(
        bundle.checkpoint().origin().as_str(),
        "example.com/fancylog"
    );
    assert_eq!(bundle.checkpoint().size(), 109482);
    let names: Vec<_> = bundle
        .note()
        .signatures()
        .iter()
        .map(|s| s.name().as_str().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "example.com/fancylog",
            "witness1.example",
            "witness2.example",
            "witness3.example"
        ]
    );
    assert_eq!(bundle.to_string(), filled);
}

/// A one-entry log: the proof has no lines, so `index 0` is followed
/// directly by the blank line (specs.md §8).
#[test]
fn size_one_tree_has_no_proof_lines() {
    let cosig: Value = serde_json::from_str(COSIG_VECTORS).unwrap();
    let log_key = SignerKey::parse(cosig["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    let witness =
        CosignerKey::parse(cosig["keys"]["witness_ed25519"]["skey"].as_str().unwrap()).unwrap();
    let entry = b"the only entry";
    let cp = Checkpoint::new(
        Origin::new("research.example/log").unwrap(),
        1,
        leaf_hash(entry),
    );
    let mut signed = SignedCheckpoint::sign(&cp, &log_key).unwrap();
    signed
        .add_signature(witness.sign(&cp, 1_700_000_123).unwrap())
        .unwrap();
    let bundle = ProofBundle::new(Vec::new(), 0, Vec::new(), signed.note().clone()).unwrap();
    let text = bundle.to_string();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\nresearch.example/log\n1\n"));
    let parsed = ProofBundle::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    assert!(parsed.proof().is_empty());
    let v = parsed.verify_entry(entry, &policy("any")).unwrap();
    assert_eq!(v.checkpoint().cosignatures()[0].timestamp(), 1_700_000_123);
    // The ML-DSA witness did not cosign, so 2-of-2 fails at step 3.
    assert_eq!(
        parsed.verify_entry(entry, &policy("all")),
        Err(ProofBundleError::Policy(PolicyError::QuorumNotSatisfied))
    );
    assert_eq!(
        parsed.verify_entry(b"another entry", &policy("any")),
        Err(ProofBundleError::Inclusion(ProofError::RootMismatch))
    );
    let past_end = ProofBundle::new(Vec::new(), 1, Vec::new(), signed.note().clone()).unwrap();
    assert_eq!(
        past_end.verify_entry(entry, &policy("any")),
        Err(ProofBundleError::Inclusion(ProofError::IndexOutOfRange {
            index: 1,
            size: 1
        }))
    );
}

#[test]
fn built_bundles_round_trip() {
    let original = ProofBundle::parse(INDEX0_EXTRA).unwrap();
    let rebuilt = ProofBundle::new(
        original.extra().to_vec(),
        original.index(),
        original.proof().to_vec(),
        original.note().clone(),
    )
    .unwrap();
    assert_eq!(rebuilt, original);
    assert_eq!(rebuilt.to_bytes(), INDEX0_EXTRA);
    // Extra data of every length from 1 to 5 bytes (all padding cases),
    // and at the cap.
    for len in [1, 2, 3, 4, 5, MAX_EXTRA_LEN] {
        let extra: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let b = ProofBundle::new(extra.clone(), 5, vec![], original.note().clone()).unwrap();
        let back = ProofBundle::parse(&b.to_bytes()).unwrap();
        assert_eq!(back.extra(), extra);
        assert_eq!(back, b);
    }
    // The largest proof round-trips too.
    let proof = vec![Hash([9; 32]); MAX_PROOF_LINES];
    let b = ProofBundle::new(vec![], u64::MAX, proof, original.note().clone()).unwrap();
    assert_eq!(ProofBundle::parse(&b.to_bytes()).unwrap(), b);

    assert_eq!(
        ProofBundle::new(
            vec![0; MAX_EXTRA_LEN + 1],
            0,
            vec![],
            original.note().clone()
        ),
        Err(ProofBundleError::InvalidExtra("too long"))
    );
    assert_eq!(
        ProofBundle::new(
            vec![],
            0,
            vec![Hash::default(); MAX_PROOF_LINES + 1],
            original.note().clone()
        ),
        Err(ProofBundleError::TooManyProofLines {
            max: MAX_PROOF_LINES
        })
    );
    let not_checkpoint = Note::new("hello\n", original.note().signatures().to_vec()).unwrap();
    assert_eq!(
        ProofBundle::new(vec![], 0, vec![], not_checkpoint),
        Err(ProofBundleError::Checkpoint(CheckpointError::TooFewLines))
    );
}

#[test]
fn strict_parsing() {
    let text = std::str::from_utf8(INDEX5).unwrap();
    let bad = |from: &str, to: &str| ProofBundle::parse(&mutate(INDEX5, from, to)).unwrap_err();
    let cases: Vec<(&str, &str, ProofBundleError)> = vec![
        (
            "c2sp.org/tlog-proof@v1\n",
            "c2sp.org/tlog-proof@v2\n",
            ProofBundleError::WrongHeader,
        ),
        (
            "c2sp.org/tlog-proof@v1\n",
            "c2sp.org/tlog-proof@v1 \n",
            ProofBundleError::WrongHeader,
        ),
        (
            "c2sp.org/tlog-proof@v1\n",
            "",
            ProofBundleError::WrongHeader,
        ),
        ("index 5\n", "index 05\n", ProofBundleError::InvalidIndex),
        ("index 5\n", "index +5\n", ProofBundleError::InvalidIndex),
        ("index 5\n", "index  5\n", ProofBundleError::InvalidIndex),
        ("index 5\n", "index 5 \n", ProofBundleError::InvalidIndex),
        ("index 5\n", "Index 5\n", ProofBundleError::InvalidIndex),
        (
            "index 5\n",
            "index 18446744073709551616\n",
            ProofBundleError::InvalidIndex,
        ),
        ("index 5\n", "", ProofBundleError::InvalidIndex),
        ("index 5\n", "extra AA==\n", ProofBundleError::InvalidIndex),
        (
            "index 5\n",
            "extra \nindex 5\n",
            ProofBundleError::InvalidExtra("empty"),
        ),
        (
            "index 5\n",
            "extra AB==\nindex 5\n",
            ProofBundleError::InvalidExtra("not canonical padded base64"),
        ),
        (
            "index 5\n",
            "extra AA\nindex 5\n",
            ProofBundleError::InvalidExtra("not canonical padded base64"),
        ),
        (
            "index 5\n",
            "extra AA== \nindex 5\n",
            ProofBundleError::InvalidExtra("not canonical padded base64"),
        ),
        // `extra` must come before `index`.
        (
            "index 5\n",
            "index 5\nextra AA==\n",
            ProofBundleError::InvalidProofLine(1),
        ),
        (
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnmt=",
            ProofBundleError::InvalidProofLine(1),
        ),
        (
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51Zda",
            ProofBundleError::InvalidProofLine(2),
        ),
        (
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            " yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            ProofBundleError::InvalidProofLine(2),
        ),
        // A CR anywhere in the header is not part of the format.
        ("index 5\n", "index 5\r\n", ProofBundleError::InvalidIndex),
    ];
    for (from, to, want) in cases {
        assert_eq!(bad(from, to), want, "{from:?} -> {to:?}");
    }
    // No blank line before the checkpoint: the checkpoint's lines are read
    // as proof lines.
    let no_blank = text.replacen("=\n\nresearch", "=\nresearch", 1);
    assert_eq!(
        ProofBundle::parse(no_blank.as_bytes()),
        Err(ProofBundleError::InvalidProofLine(4))
    );
    // Truncated anywhere before the blank line.
    let blank = text.find("\n\n").unwrap();
    for cut in [0, 5, 23, 30, blank] {
        assert_eq!(
            ProofBundle::parse(&INDEX5[..cut]),
            Err(ProofBundleError::Truncated),
            "{cut}"
        );
    }
    // Truncated inside the note, or with data after it.
    assert!(matches!(
        ProofBundle::parse(&INDEX5[..INDEX5.len() - 1]),
        Err(ProofBundleError::Note(_))
    ));
    let mut trailing = INDEX5.to_vec();
    trailing.extend_from_slice(b"trailing\n");
    assert!(matches!(
        ProofBundle::parse(&trailing),
        Err(ProofBundleError::Note(_))
    ));
    // A note whose text is not a checkpoint.
    assert_eq!(
        ProofBundle::parse(&mutate(INDEX5, "\n8\n", "\n08\n")),
        Err(ProofBundleError::Checkpoint(CheckpointError::InvalidSize(
            "08".to_owned()
        )))
    );
    // 65 proof lines.
    let many = format!(
        "{HEADER}\nindex 0\n{}\n{}",
        format!("{}\n", Hash::default().to_base64()).repeat(MAX_PROOF_LINES + 1),
        &text[blank + 2..]
    );
    assert_eq!(
        ProofBundle::parse(many.as_bytes()),
        Err(ProofBundleError::TooManyProofLines {
            max: MAX_PROOF_LINES
        })
    );
    // Size cap.
    let huge = vec![b'a'; MAX_PROOF_BUNDLE_SIZE + 1];
    assert_eq!(
        ProofBundle::parse(&huge),
        Err(ProofBundleError::TooLarge {
            len: MAX_PROOF_BUNDLE_SIZE + 1,
            max: MAX_PROOF_BUNDLE_SIZE
        })
    );
    // Oversized extra is rejected before decoding.
    let long_extra = format!(
        "{HEADER}\nextra {}\n{}",
        "A".repeat(MAX_EXTRA_LEN.div_ceil(3) * 4 + 4),
        &text[HEADER.len() + 1..]
    );
    assert_eq!(
        ProofBundle::parse(long_extra.as_bytes()),
        Err(ProofBundleError::InvalidExtra("too long"))
    );
}
