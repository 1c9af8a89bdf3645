use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::note::{KeyId, KeyName, VerifierKey};

const NOTE_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/note/signed-note-vectors.json"
));
const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/cosignature/cosignature-vectors.json"
));
const WITNESS_CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/add-checkpoint-cases.json"
));

const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SPEC_EXAMPLE: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const ROOT8: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

fn cosig_doc() -> Value {
    serde_json::from_str(COSIG_VECTORS).unwrap()
}

#[test]
fn spec_example_parses_and_round_trips() {
    let c = Checkpoint::parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(c.origin().as_str(), "example.com/behind-the-sofa");
    assert_eq!(c.size(), 20852163);
    assert_eq!(
        c.root().to_base64(),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(c.extensions().is_empty());
    assert_eq!(c.to_string(), SPEC_EXAMPLE);
}

#[test]
fn real_sumdb_tree_heads_open() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let key = VerifierKey::parse(SUMDB_VKEY).unwrap();
    let mut seen = 0;
    for v in doc["vectors"].as_array().unwrap() {
        if !v["id"].as_str().unwrap().starts_with("real-sumdb") {
            continue;
        }
        seen += 1;
        let note = v["note"].as_str().unwrap();
        let signed = SignedCheckpoint::parse(note.as_bytes(), [&key]).unwrap();
        // sumdb predates "key name SHOULD equal origin".
        assert_eq!(
            signed.checkpoint().origin().as_str(),
            "go.sum database tree"
        );
        assert!(
            signed
                .verified_note()
                .is_verified_by(key.name(), key.key_id())
        );
        // All signature lines are kept for re-serving, known or not.
        assert_eq!(signed.to_string(), note);
    }
    assert_eq!(seen, 3);
    let doc_sizes: Vec<u64> = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["id"].as_str().unwrap().starts_with("real-sumdb-tree"))
        .map(|v| {
            SignedCheckpoint::parse(v["note"].as_str().unwrap().as_bytes(), [&key])
                .unwrap()
                .checkpoint()
                .size()
        })
        .collect();
    assert_eq!(doc_sizes, [6476701, 35225469]);
}

#[test]
fn log_signature_is_reproduced_and_cosignature_appended() {
    let doc = cosig_doc();
    let log = SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    assert_eq!(
        log.verifier().to_string(),
        doc["keys"]["log"]["vkey"].as_str().unwrap()
    );
    let v = &doc["derived"][0];
    assert_eq!(v["id"], "ed25519-cosig-v1-size8");
    let checkpoint = Checkpoint::parse(v["checkpoint_text"].as_str().unwrap()).unwrap();
    assert_eq!(
        (checkpoint.size(), checkpoint.root().to_base64().as_str()),
        (8, ROOT8)
    );

    let mut signed = SignedCheckpoint::sign(&checkpoint, &log).unwrap();
    let cosigned = v["cosigned_checkpoint"].as_str().unwrap();
    // Ed25519 is deterministic: our log line equals the vector's.
    assert!(cosigned.starts_with(&signed.to_string()));
    let line = v["signature_line"].as_str().unwrap().trim_end_matches('\n');
    assert!(
        signed
            .add_signature(Signature::parse_line(line).unwrap())
            .unwrap()
    );
    assert_eq!(signed.to_string(), cosigned);
    // The appended line is not marked verified.
    assert_eq!(signed.verified_note().verified_signatures().count(), 1);

    // Opening the cosigned note with the log key alone ignores the cosignature.
    let opened = SignedCheckpoint::parse(cosigned.as_bytes(), [&log.verifier()]).unwrap();
    assert_eq!(opened.note().signatures().len(), 2);
    assert_eq!(opened.checkpoint(), &checkpoint);

    assert_eq!(
        SignedCheckpoint::sign(
            &checkpoint,
            &SignerKey::from_seed(log.name().clone(), KeyType::CosignatureV1, [1; 32]).unwrap()
        ),
        Err(CheckpointError::WrongKeyType(KeyType::CosignatureV1))
    );
}

/// Every checkpoint in the witness cases either opens under the log key
/// (and then re-signing reproduces the note exactly) or fails with the
/// note error the case describes.
#[test]
fn witness_case_checkpoints() {
    let doc: Value = serde_json::from_str(WITNESS_CASES).unwrap();
    let key = VerifierKey::parse(doc["log_vkey"].as_str().unwrap()).unwrap();
    let skey = SignerKey::parse(cosig_doc()["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    assert_eq!(skey.verifier(), key);
    let mut opened = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let (_, note) = case["request_body"]
            .as_str()
            .unwrap()
            .split_once("\n\n")
            .unwrap();
        let result = SignedCheckpoint::parse(note.as_bytes(), [&key]);
        match id {
            "unknown-origin" | "no-trusted-signature" => {
                assert_eq!(
                    result,
                    Err(CheckpointError::Note(NoteError::NoVerifiedSignature)),
                    "{id}"
                )
            }
            "trusted-key-bad-signature" => assert_eq!(
                result,
                Err(CheckpointError::Note(NoteError::InvalidSignature {
                    name: key.name().clone(),
                    key_id: key.key_id()
                })),
                "{id}"
            ),
            _ => {
                let signed = result.unwrap_or_else(|e| panic!("{id}: {e}"));
                let again = SignedCheckpoint::sign(signed.checkpoint(), &skey).unwrap();
                assert_eq!(again.to_string(), note, "{id}");
                opened += 1;
            }
        }
    }
    assert_eq!(opened, 13);
}

#[test]
fn extension_lines() {
    let text = format!("research.example/log\n8\n{ROOT8}\nan extension line\n");
    let c = Checkpoint::parse(&text).unwrap();
    assert_eq!(c.extensions(), ["an extension line"]);
    assert_eq!(c.to_string(), text);
    let built = Checkpoint::new(c.origin().clone(), 8, *c.root())
        .with_extensions(vec!["an extension line".into()]);
    assert_eq!(built.unwrap(), c);
    assert_eq!(
        Checkpoint::new(c.origin().clone(), 8, *c.root())
            .with_extensions(vec!["ok".into(), String::new()]),
        Err(CheckpointError::InvalidExtension(2))
    );
    assert_eq!(
        Checkpoint::new(c.origin().clone(), 8, *c.root()).with_extensions(vec!["a\nb".into()]),
        Err(CheckpointError::InvalidExtension(1))
    );
}

#[test]
fn strict_parsing() {
    let with = |origin: &str, size: &str, root: &str| format!("{origin}\n{size}\n{root}\n");
    let ok = with("o", "8", ROOT8);
    assert!(Checkpoint::parse(&ok).is_ok());
    assert_eq!(Checkpoint::parse(&with("o", "0", ROOT8)).unwrap().size(), 0);
    assert_eq!(
        Checkpoint::parse(&with("o", "18446744073709551615", ROOT8))
            .unwrap()
            .size(),
        u64::MAX
    );
    for size in [
        "007",
        "00",
        "+7",
        "-1",
        " 7",
        "7 ",
        "",
        "0x10",
        "18446744073709551616",
        "1e3",
        "٣",
    ] {
        assert_eq!(
            Checkpoint::parse(&with("o", size, ROOT8)),
            Err(CheckpointError::InvalidSize(size.to_owned())),
            "{size:?}"
        );
    }
    // Non-zero padding bits ('g' -> 'h'), missing padding, whitespace, wrong length.
    let bad_roots = [
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg",
        " XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==",
        "",
    ];
    for root in bad_roots {
        assert_eq!(
            Checkpoint::parse(&with("o", "8", root)),
            Err(CheckpointError::InvalidRoot),
            "{root:?}"
        );
    }
    assert_eq!(
        Checkpoint::parse(&with("", "8", ROOT8)),
        Err(CheckpointError::InvalidOrigin("empty"))
    );
    assert_eq!(
        Checkpoint::parse(&with("o\u{1}", "8", ROOT8)),
        Err(CheckpointError::InvalidOrigin(
            "contains a control character"
        ))
    );
    assert_eq!(
        Checkpoint::parse(&ok[..ok.len() - 1]),
        Err(CheckpointError::Unterminated)
    );
    assert_eq!(
        Checkpoint::parse("o\n8\n"),
        Err(CheckpointError::TooFewLines)
    );
    assert_eq!(Checkpoint::parse(""), Err(CheckpointError::Unterminated));
    assert_eq!(
        Checkpoint::parse(&format!("{ok}\n")),
        Err(CheckpointError::InvalidExtension(1))
    );
    // sumdb's origin has spaces; that is allowed.
    assert!(Checkpoint::parse(&with("go.sum database tree", "1", ROOT8)).is_ok());
}

#[test]
fn malformed_checkpoint_is_reported_before_signature() {
    let key = SignerKey::from_seed(
        KeyName::new("example.com/log").unwrap(),
        KeyType::Ed25519,
        [4; 32],
    )
    .unwrap();
    let note = Note::sign("example.com/log\n007\nroot\n", [&key]).unwrap();
    assert_eq!(
        SignedCheckpoint::open(&note, [&key.verifier()]),
        Err(CheckpointError::InvalidSize("007".into()))
    );
    let other = SignerKey::from_seed(
        KeyName::new("example.com/log").unwrap(),
        KeyType::Ed25519,
        [5; 32],
    )
    .unwrap();
    let good = SignedCheckpoint::sign(
        &Checkpoint::parse(&format!("example.com/log\n8\n{ROOT8}\n")).unwrap(),
        &key,
    )
    .unwrap();
    assert_eq!(
        SignedCheckpoint::open(good.note(), [&other.verifier()]),
        Err(CheckpointError::Note(NoteError::NoVerifiedSignature))
    );
    assert_ne!(key.key_id(), KeyId(0));
}

fn arb_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        "[^\\x00-\\x1f]{1,40}",
        any::<u64>(),
        any::<[u8; 32]>(),
        proptest::collection::vec("[^\\x00-\\x1f]{1,20}", 0..3),
    )
        .prop_map(|(origin, size, root, ext)| {
            Checkpoint::new(Origin::new(&origin).unwrap(), size, Hash(root))
                .with_extensions(ext)
                .unwrap()
        })
}

proptest! {
    #[test]
    fn parse_format_round_trip(c in arb_checkpoint()) {
        prop_assert_eq!(Checkpoint::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn mutations_never_panic(c in arb_checkpoint(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = c.to_string().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(parsed) = Checkpoint::parse(text)
        {
            // Whatever parses re-formats to exactly the same text.
            prop_assert_eq!(parsed.to_string(), text);
        }
    }
}

#[test]
fn format_decimal_writes_what_parse_decimal_reads() {
    for n in [
        0,
        1,
        9,
        10,
        99,
        100,
        12_345,
        u64::from(u32::MAX),
        u64::MAX - 1,
        u64::MAX,
    ] {
        let mut buf = [0; 20];
        let text = format_decimal(n, &mut buf);
        assert_eq!(text, n.to_string().as_bytes());
        assert_eq!(parse_decimal(std::str::from_utf8(text).unwrap()), Some(n));
    }
}
