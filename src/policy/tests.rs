use serde_json::Value;

use super::*;
use crate::checkpoint::Origin;
use crate::cosignature::CosignerKey;
use crate::merkle::leaf_hash;
use crate::note::{Signature, SignerKey};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/policy/tlog-policy-vectors.json"
));
const EXAMPLE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/policy/tlog-policy-example.txt"
));
const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/cosignature/cosignature-vectors.json"
));

const X1: &str = "research.example/x1+7fe4812b+BHxObXNaXBNPkHvxroLKESMBUQoDai2i9EMEX3BG1oKp";
const X2: &str = "research.example/x2+761bc755+BFPbuo8R8pEx2kyifWn0RsMYKGaS6OhFiBsma9Nz/UpS";
const LOG: &str = "research.example/log+2742cbff+AfgBC0EUa9jUugZ1p6sDBACFIt0FS+UQ0FazL1Lk+Vor";

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn example() -> Policy {
    Policy::parse(EXAMPLE).unwrap()
}

fn name(s: &str) -> Name {
    Name(s.as_bytes().into())
}

fn parse_err(text: &str) -> PolicyError {
    Policy::parse(text.as_bytes()).unwrap_err()
}

/// The witness signing keys of the example policy, from the vectors' seeds.
fn witness_keys() -> Vec<(String, CosignerKey)> {
    let doc = vectors();
    let keys = doc["witness_keys"].as_object().unwrap();
    keys.iter()
        .map(|(label, k)| {
            let vkey = VerifierKey::parse(k["vkey"].as_str().unwrap()).unwrap();
            let seed: [u8; 32] = hex::decode(k["seed_hex"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let signer = CosignerKey::from_seed(vkey.name().clone(), seed).unwrap();
            // The seeds really are the example's witness keys.
            assert_eq!(signer.verifier().key(), &vkey, "{label}");
            (label.clone(), signer)
        })
        .collect()
}

fn log_key() -> SignerKey {
    let doc: Value = serde_json::from_str(COSIG_VECTORS).unwrap();
    SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap()
}

fn checkpoint(origin: &str, size: u64) -> Checkpoint {
    let root = leaf_hash(format!("checkpoint of size {size}").as_bytes());
    Checkpoint::new(Origin::new(origin).unwrap(), size, root)
}

/// A checkpoint of research.example/log signed by the log and cosigned by
/// the named example witnesses, at timestamps 1000, 1001, ...
fn cosigned_note(witnesses: &[&str]) -> Note {
    let cp = checkpoint("research.example/log", 8);
    let mut signed = SignedCheckpoint::sign(&cp, &log_key()).unwrap();
    let keys = witness_keys();
    for (i, w) in witnesses.iter().enumerate() {
        let (_, key) = keys.iter().find(|(l, _)| l == w).unwrap();
        signed
            .add_signature(key.sign(&cp, 1000 + i as u64).unwrap())
            .unwrap();
    }
    signed.note().clone()
}

#[test]
fn example_policy_structure() {
    let p = example();
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].key().to_string(), LOG);
    assert_eq!(p.logs()[0].url(), None);
    let witnesses: Vec<_> = p.witnesses().map(|w| w.name().to_string()).collect();
    assert_eq!(witnesses, ["X1", "X2", "X3", "Y1", "Y2", "Y3"]);
    let doc = vectors();
    for w in p.witnesses() {
        let label = w.name().as_str().unwrap();
        assert_eq!(
            w.key().key().to_string(),
            doc["witness_keys"][label]["vkey"].as_str().unwrap()
        );
    }
    let groups: Vec<_> = p
        .groups()
        .map(|g| {
            (
                g.name().to_string(),
                g.threshold(),
                g.members().iter().map(Name::to_string).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "X-witnesses".to_owned(),
                Threshold::AtLeast(2),
                vec!["X1".to_owned(), "X2".to_owned(), "X3".to_owned()]
            ),
            (
                "Y-witnesses".to_owned(),
                Threshold::Any,
                vec!["Y1".to_owned(), "Y2".to_owned(), "Y3".to_owned()]
            ),
            (
                "X-and-Y".to_owned(),
                Threshold::All,
                vec!["X-witnesses".to_owned(), "Y-witnesses".to_owned()]
            ),
        ]
    );
    assert_eq!(p.quorum(), Some(&name("X-and-Y")));
}

#[test]
fn example_quorum_cases() {
    let p = example();
    let doc = vectors();
    let cases = doc["quorum_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for case in cases {
        let from: Vec<&str> = case["valid_cosignatures_from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let want = case["quorum_satisfied"].as_bool().unwrap();
        assert_eq!(p.quorum_satisfied(&from), Ok(want), "{from:?}");
    }
}

#[test]
fn quorum_rejects_names_that_are_not_witnesses() {
    let p = example();
    assert_eq!(
        p.quorum_satisfied(["X-witnesses"]),
        Err(PolicyError::UnknownWitness(name("X-witnesses")))
    );
    assert_eq!(
        p.quorum_satisfied(["X1", "nobody"]),
        Err(PolicyError::UnknownWitness(name("nobody")))
    );
    // Naming a witness twice does not count it twice.
    assert_eq!(p.quorum_satisfied(["X1", "X1", "Y1"]), Ok(false));
}

#[test]
fn invalid_policy_vectors() {
    let doc = vectors();
    let cases = doc["invalid_policies"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let want = match id {
            "duplicate-witness-key" => PolicyError::DuplicateKey { line: 3, first: 2 },
            "forward-reference" => PolicyError::UndefinedName {
                line: 2,
                name: name("A"),
            },
            "threshold-too-large" => PolicyError::ThresholdOutOfRange {
                line: 3,
                k: 3,
                n: 2,
            },
            "threshold-zero" => PolicyError::ThresholdOutOfRange {
                line: 2,
                k: 0,
                n: 1,
            },
            "member-listed-twice" => PolicyError::DuplicateMember {
                line: 3,
                name: name("A"),
            },
            "none-as-member" => PolicyError::ReservedName { line: 2 },
            "no-quorum" => PolicyError::MissingQuorum,
            "two-quorums" => PolicyError::DuplicateQuorum { line: 3 },
            "duplicate-name" => PolicyError::DuplicateName {
                line: 2,
                name: name("A"),
            },
            "empty-group" => PolicyError::EmptyGroup { line: 2 },
            "control-character" => PolicyError::ControlCharacter {
                line: 1,
                byte: 0x0b,
            },
            other => panic!("unexpected vector {other}"),
        };
        assert_eq!(parse_err(case["policy"].as_str().unwrap()), want, "{id}");
    }
}

#[test]
fn valid_policy_vectors() {
    let doc = vectors();
    let cases = doc["valid_policies"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let p = Policy::parse(case["policy"].as_str().unwrap().as_bytes()).unwrap();
        match id {
            "quorum-none" => {
                assert_eq!(p.logs().len(), 1);
                assert_eq!(p.witnesses().count(), 0);
                assert_eq!(p.quorum(), None);
                assert_eq!(p.quorum_satisfied([] as [&str; 0]), Ok(true));
            }
            "tabs-comments-urls" => {
                assert_eq!(
                    p.logs()[0].url().unwrap().as_str(),
                    Some("https://log.example/")
                );
                let w: Vec<_> = p.witnesses().collect();
                assert_eq!(w.len(), 1);
                assert_eq!(w[0].name(), &name("A"));
                assert_eq!(
                    w[0].url().unwrap().as_str(),
                    Some("https://witness.example/submit")
                );
                assert_eq!(p.quorum(), Some(&name("A")));
                assert_eq!(p.quorum_satisfied(["A"]), Ok(true));
                assert_eq!(p.quorum_satisfied([] as [&str; 0]), Ok(false));
                // The canonical form drops comments and extra whitespace.
                let canonical = format!(
                    "log {LOG} https://log.example/\nwitness A {X1} https://witness.example/submit\nquorum A\n"
                );
                assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), canonical);
            }
            other => panic!("unexpected vector {other}"),
        }
    }
}

#[test]
fn canonical_form_round_trips() {
    let p = example();
    let text = p.to_bytes();
    // The example is already canonical except for its comment and blank
    // lines.
    let without_comments: Vec<u8> = EXAMPLE
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"#") && *l != b"\n")
        .flatten()
        .copied()
        .collect();
    assert_eq!(text, without_comments);
    assert_eq!(Policy::parse(&text).unwrap(), p);
    assert_eq!(Policy::parse(&text).unwrap().to_bytes(), text);
}

#[test]
fn canonical_form_moves_logs_first_and_quorum_last() {
    let text = format!("witness A {X1}\nquorum A\nlog {LOG}\nwitness B {X2}\n");
    let p = Policy::parse(text.as_bytes()).unwrap();
    let canonical = format!("log {LOG}\nwitness A {X1}\nwitness B {X2}\nquorum A\n");
    assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), canonical);
    assert_eq!(Policy::parse(canonical.as_bytes()).unwrap(), p);
}

#[test]
fn syntax_errors() {
    assert_eq!(
        parse_err(&format!("witness A {X1}\nquorum A")),
        PolicyError::Unterminated { line: 2 }
    );
    assert_eq!(parse_err(""), PolicyError::MissingQuorum);
    assert_eq!(parse_err("# only a comment\n"), PolicyError::MissingQuorum);
    assert_eq!(
        parse_err("quorum none\r\n"),
        PolicyError::ControlCharacter {
            line: 1,
            byte: b'\r'
        }
    );
    assert_eq!(
        parse_err("quorum none\n# \x7f\n"),
        PolicyError::ControlCharacter {
            line: 2,
            byte: 0x7f
        }
    );
    // A control character on an unterminated last line is reported as such.
    assert_eq!(
        parse_err("quorum none\n\x00"),
        PolicyError::ControlCharacter { line: 2, byte: 0 }
    );
    assert_eq!(
        parse_err("Quorum none\n"),
        PolicyError::UnknownKeyword { line: 1 }
    );
    assert_eq!(
        parse_err("quorum\n"),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "quorum"
        }
    );
    assert_eq!(
        parse_err("quorum none extra\n"),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "quorum"
        }
    );
    assert_eq!(
        parse_err(&format!("log {LOG} url extra\nquorum none\n")),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "log"
        }
    );
    assert_eq!(
        parse_err("log\nquorum none\n"),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "log"
        }
    );
    assert_eq!(
        parse_err(&format!("witness {X1}\nquorum none\n")),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "witness"
        }
    );
    assert_eq!(
        parse_err(&format!("witness A {X1} url extra\nquorum none\n")),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "witness"
        }
    );
    assert_eq!(
        parse_err("group G\nquorum none\n"),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "group"
        }
    );
    // A `#` after other fields is not a comment (only whole lines are).
    assert_eq!(
        parse_err("quorum none # comment\n"),
        PolicyError::WrongFieldCount {
            line: 1,
            keyword: "quorum"
        }
    );
}

#[test]
fn name_rules() {
    assert_eq!(
        parse_err(&format!("witness none {X1}\nquorum none\n")),
        PolicyError::ReservedName { line: 1 }
    );
    assert_eq!(
        parse_err(&format!("witness A {X1}\ngroup none any A\nquorum none\n")),
        PolicyError::ReservedName { line: 2 }
    );
    // Witnesses and groups share one namespace.
    assert_eq!(
        parse_err(&format!("witness A {X1}\ngroup A any A\nquorum A\n")),
        PolicyError::DuplicateName {
            line: 2,
            name: name("A")
        }
    );
    // A group cannot refer to itself (it is not defined yet).
    assert_eq!(
        parse_err(&format!("witness A {X1}\ngroup G any A G\nquorum G\n")),
        PolicyError::UndefinedName {
            line: 2,
            name: name("G")
        }
    );
    // The quorum must name something defined on an earlier line.
    assert_eq!(
        parse_err(&format!("quorum A\nwitness A {X1}\n")),
        PolicyError::UndefinedName {
            line: 1,
            name: name("A")
        }
    );
    // Names are opaque octets, compared bytewise: K and the Kelvin sign
    // differ, and non-UTF-8 octets are allowed.
    let text = [
        format!("witness K {X1}\nwitness \u{212a} {X2}\n").into_bytes(),
        b"group \xff\xfe all K \xe2\x84\xaa\nquorum \xff\xfe\n".to_vec(),
    ]
    .concat();
    let p = Policy::parse(&text).unwrap();
    assert_eq!(p.quorum().unwrap().as_bytes(), b"\xff\xfe");
    assert_eq!(p.quorum().unwrap().as_str(), None);
    assert_eq!(p.quorum().unwrap().to_string(), "\\xff\\xfe");
    assert_eq!(p.quorum_satisfied(["K"]), Ok(false));
    assert_eq!(p.quorum_satisfied(["K", "\u{212a}"]), Ok(true));
    assert_eq!(p.to_bytes(), text);
    // Keywords are positional, so `all`, `any` and digits can be names.
    let p =
        Policy::parse(format!("witness all {X1}\ngroup 1 1 all\nquorum 1\n").as_bytes()).unwrap();
    assert_eq!(p.quorum_satisfied(["all"]), Ok(true));
}

#[test]
fn threshold_rules() {
    let two = format!("witness A {X1}\nwitness B {X2}\n");
    for (threshold, want) in [
        ("02", PolicyError::InvalidThreshold { line: 3 }),
        ("+1", PolicyError::InvalidThreshold { line: 3 }),
        ("All", PolicyError::InvalidThreshold { line: 3 }),
        ("\u{0661}", PolicyError::InvalidThreshold { line: 3 }),
        (
            "18446744073709551616",
            PolicyError::InvalidThreshold { line: 3 },
        ),
        (
            "18446744073709551615",
            PolicyError::ThresholdOutOfRange {
                line: 3,
                k: u64::MAX,
                n: 2,
            },
        ),
    ] {
        let text = format!("{two}group G {threshold} A B\nquorum G\n");
        assert_eq!(parse_err(&text), want, "{threshold}");
    }
    for (threshold, one, both) in [
        ("1", true, true),
        ("2", false, true),
        ("any", true, true),
        ("all", false, true),
    ] {
        let p =
            Policy::parse(format!("{two}group G {threshold} A B\nquorum G\n").as_bytes()).unwrap();
        assert_eq!(p.quorum_satisfied(["B"]), Ok(one), "{threshold}");
        assert_eq!(p.quorum_satisfied(["A", "B"]), Ok(both), "{threshold}");
        assert_eq!(p.quorum_satisfied([] as [&str; 0]), Ok(false));
    }
}

#[test]
fn key_rules() {
    // A plain Ed25519 (0x01) key cannot be a witness key.
    assert_eq!(
        parse_err(&format!("witness L {LOG}\nquorum none\n")),
        PolicyError::WrongKeyType {
            line: 1,
            key_type: KeyType::Ed25519
        }
    );
    // The same Ed25519 public key as 0x01 and 0x04 is a duplicate, even
    // under another name.
    let log = VerifierKey::parse(LOG).unwrap();
    let log_as_04 = VerifierKey::new(
        KeyName::new("other").unwrap(),
        KeyType::CosignatureV1,
        log.public_key(),
    )
    .unwrap();
    assert_eq!(
        parse_err(&format!("log {LOG}\nwitness L {log_as_04}\nquorum none\n")),
        PolicyError::DuplicateKey { line: 2, first: 1 }
    );
    assert_eq!(
        parse_err(&format!(
            "log {LOG}\n\nlog {LOG} https://mirror/\nquorum none\n"
        )),
        PolicyError::DuplicateKey { line: 3, first: 1 }
    );
    // Witness keys may be logs' keys types too: a 0x04 log key is fine.
    assert!(Policy::parse(format!("log {X1}\nquorum none\n").as_bytes()).is_ok());
    // Bad vkeys are reported with the note module's reason.
    let bad_id = LOG.replace("2742cbff", "2742cbfe");
    assert!(matches!(
        parse_err(&format!("log {bad_id}\nquorum none\n")),
        PolicyError::InvalidKey {
            line: 1,
            error: NoteError::KeyIdMismatch { .. }
        }
    ));
    assert_eq!(
        Policy::parse(b"log \xff\nquorum none\n").unwrap_err(),
        PolicyError::InvalidKey {
            line: 1,
            error: NoteError::MalformedKey("not UTF-8")
        }
    );
}

#[test]
fn limits() {
    let mut rng = rand_core::OsRng;
    let mut text = String::new();
    for i in 0..MAX_WITNESSES {
        let key = CosignerKey::generate(KeyName::new(&format!("w{i}")).unwrap(), &mut rng).unwrap();
        text.push_str(&format!("witness w{i} {}\n", key.verifier().key()));
    }
    for i in 0..MAX_GROUPS {
        text.push_str(&format!("group g{i} any w{i}\n"));
    }
    for i in 0..MAX_LOGS {
        let key = SignerKey::generate(
            KeyName::new(&format!("log{i}")).unwrap(),
            KeyType::Ed25519,
            &mut rng,
        )
        .unwrap();
        text.push_str(&format!("log {}\n", key.verifier()));
    }
    let members: Vec<String> = (0..MAX_GROUPS).map(|i| format!("g{i}")).collect();
    let quorum = format!("group q 100 {}\nquorum q\n", members.join(" "));
    // One more group than the cap is rejected; exactly the cap is fine.
    assert_eq!(
        parse_err(&format!("{text}{quorum}")),
        PolicyError::TooManyGroups { max: MAX_GROUPS }
    );
    let at_cap = format!("{text}quorum g0\n");
    let p = Policy::parse(at_cap.as_bytes()).unwrap();
    assert_eq!(p.witnesses().count(), MAX_WITNESSES);
    assert_eq!(p.logs().len(), MAX_LOGS);
    assert_eq!(Policy::parse(&p.to_bytes()).unwrap(), p);

    let key = CosignerKey::generate(KeyName::new("extra").unwrap(), &mut rng).unwrap();
    assert_eq!(
        parse_err(&format!("{text}witness extra {}\n", key.verifier().key())),
        PolicyError::TooManyWitnesses { max: MAX_WITNESSES }
    );
    assert_eq!(
        parse_err(&format!("{text}log {X1}\n")),
        PolicyError::TooManyLogs { max: MAX_LOGS }
    );
    let huge = vec![b'#'; MAX_POLICY_SIZE + 1];
    assert_eq!(
        Policy::parse(&huge),
        Err(PolicyError::TooLarge {
            len: MAX_POLICY_SIZE + 1,
            max: MAX_POLICY_SIZE
        })
    );
}

#[test]
fn open_checkpoint_reports_cosigners_and_quorum() {
    let p = example();
    let note = cosigned_note(&["X1", "Y1", "X2"]);
    let v = p.verify_checkpoint(&note).unwrap();
    assert!(v.quorum_satisfied());
    assert_eq!(v.log().to_string(), LOG);
    assert_eq!(v.checkpoint().size(), 8);
    let got: Vec<_> = v
        .cosignatures()
        .iter()
        .map(|c| {
            (
                c.witness().to_string(),
                c.key_name().to_string(),
                c.timestamp(),
            )
        })
        .collect();
    // Policy order, with the timestamps each witness signed at.
    assert_eq!(
        got,
        [
            ("X1".to_owned(), "research.example/x1".to_owned(), 1000),
            ("X2".to_owned(), "research.example/x2".to_owned(), 1002),
            ("Y1".to_owned(), "research.example/y1".to_owned(), 1001),
        ]
    );
    assert_eq!(
        v.cosignatures()[0].key_id(),
        VerifierKey::parse(X1).unwrap().key_id()
    );

    // Every quorum case again, this time through real cosignatures.
    for case in vectors()["quorum_cases"].as_array().unwrap() {
        let from: Vec<&str> = case["valid_cosignatures_from"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let want = case["quorum_satisfied"].as_bool().unwrap();
        let v = p.open_checkpoint(&cosigned_note(&from)).unwrap();
        assert_eq!(v.quorum_satisfied(), want, "{from:?}");
        assert_eq!(v.cosignatures().len(), from.len());
        let verified = p.verify_checkpoint(&cosigned_note(&from));
        if want {
            assert!(verified.is_ok());
        } else {
            assert_eq!(verified, Err(PolicyError::QuorumNotSatisfied));
        }
    }
}

#[test]
fn open_checkpoint_uses_the_latest_timestamp_and_ignores_unknown_lines() {
    let p = example();
    let mut note = cosigned_note(&["X1", "X2", "Y1"]);
    let cp = Checkpoint::parse(note.text()).unwrap();
    let keys = witness_keys();
    let x1 = &keys.iter().find(|(l, _)| l == "X1").unwrap().1;
    note.add_signature(x1.sign(&cp, 5000).unwrap()).unwrap();
    // A cosigner the policy does not list is ignored.
    let stranger = CosignerKey::from_seed(KeyName::new("stranger").unwrap(), [7; 32]).unwrap();
    note.add_signature(stranger.sign(&cp, 1).unwrap()).unwrap();
    let v = p.verify_checkpoint(&note).unwrap();
    assert_eq!(v.cosignatures()[0].timestamp(), 5000);
    assert_eq!(v.cosignatures().len(), 3);
    assert_eq!(v.signed().note(), &note);
}

#[test]
fn open_checkpoint_failures() {
    let p = example();
    let keys = witness_keys();
    let x1 = &keys.iter().find(|(l, _)| l == "X1").unwrap().1;

    // An origin no log of the policy is named after.
    let other = checkpoint("research.example/other", 3);
    let note = SignedCheckpoint::sign(&other, &log_key()).unwrap();
    assert_eq!(
        p.open_checkpoint(note.note()),
        Err(PolicyError::UnknownOrigin(
            "research.example/other".to_owned()
        ))
    );

    // The log key name must equal the origin: a policy listing the same key
    // under another name does not accept research.example/log.
    let renamed = VerifierKey::new(
        KeyName::new("elsewhere/log").unwrap(),
        KeyType::Ed25519,
        VerifierKey::parse(LOG).unwrap().public_key(),
    )
    .unwrap();
    let p2 = Policy::parse(format!("log {renamed}\nquorum none\n").as_bytes()).unwrap();
    assert_eq!(
        p2.open_checkpoint(&cosigned_note(&[])),
        Err(PolicyError::UnknownOrigin(
            "research.example/log".to_owned()
        ))
    );

    // Only witness cosignatures, no log signature.
    let cp = checkpoint("research.example/log", 8);
    let only_witness = Note::new(cp.to_string(), vec![x1.sign(&cp, 1).unwrap()]).unwrap();
    assert_eq!(
        p.open_checkpoint(&only_witness),
        Err(PolicyError::NotSignedByLog(
            "research.example/log".to_owned()
        ))
    );
    // Nothing known at all.
    let stranger = CosignerKey::from_seed(KeyName::new("stranger").unwrap(), [7; 32]).unwrap();
    let unknown = Note::new(cp.to_string(), vec![stranger.sign(&cp, 1).unwrap()]).unwrap();
    assert_eq!(
        p.open_checkpoint(&unknown),
        Err(PolicyError::NotSignedByLog(
            "research.example/log".to_owned()
        ))
    );

    // A listed witness's cosignature that does not verify rejects the
    // checkpoint (signed-note §"Verifying").
    let mut note = cosigned_note(&["X1", "X2", "Y1"]);
    let good = x1.sign(&cp, 2000).unwrap();
    let mut bytes = good.signature().to_vec();
    bytes[20] ^= 1;
    let bad = Signature::new(good.name().clone(), good.key_id(), &bytes).unwrap();
    note.add_signature(bad).unwrap();
    assert_eq!(
        p.open_checkpoint(&note),
        Err(PolicyError::Checkpoint(CheckpointError::Note(
            NoteError::InvalidSignature {
                name: x1.name().clone(),
                key_id: x1.key_id(),
            }
        )))
    );

    // A note whose text is not a checkpoint.
    let text_note = Note::sign("hello\n", [&log_key()]).unwrap();
    assert_eq!(
        p.open_checkpoint(&text_note),
        Err(PolicyError::Checkpoint(CheckpointError::TooFewLines))
    );
}

#[test]
fn quorum_none_needs_only_the_log() {
    let p = Policy::parse(format!("log {LOG}\nquorum none\n").as_bytes()).unwrap();
    let v = p.verify_checkpoint(&cosigned_note(&[])).unwrap();
    assert!(v.quorum_satisfied());
    assert!(v.cosignatures().is_empty());
    // A policy with no logs accepts no checkpoint.
    let p = Policy::parse(b"quorum none\n").unwrap();
    assert!(p.logs().is_empty());
    assert_eq!(
        p.open_checkpoint(&cosigned_note(&[])),
        Err(PolicyError::UnknownOrigin(
            "research.example/log".to_owned()
        ))
    );
}
