use proptest::prelude::*;
use serde_json::Value;

use super::*;

const NOTE_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/note/signed-note-vectors.json"
));
const VKEY_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/note/vkeys.json"
));
const SIGSUM_SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/litewitness-sigsum-scenario.json"
));

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

fn vector_bytes(v: &Value) -> Vec<u8> {
    match (v.get("note"), v.get("note_hex")) {
        (Some(n), _) => n.as_str().unwrap().as_bytes().to_vec(),
        (None, Some(h)) => hex::decode(h.as_str().unwrap()).unwrap(),
        _ => panic!("vector {} has no note", v["id"]),
    }
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The exact outcome each rejecting vector must produce. An unlisted id
/// fails the test, so a new vector cannot be skipped silently.
fn expected_rejection(id: &str) -> NoteError {
    match id {
        "c2sp-signed-note-intro-example" | "go-open-none-known" => NoteError::NoVerifiedSignature,
        "go-open-invalid-signature-known-key" => NoteError::InvalidSignature {
            name: name("PeterNeumann"),
            key_id: KeyId(0xc74f20a3),
        },
        "go-open-too-many-signatures" => NoteError::TooManySignatures { max: 100 },
        "go-open-malformed-0"
        | "go-open-malformed-1"
        | "go-open-malformed-2"
        | "go-open-malformed-4" => NoteError::MissingSignatureBlock,
        "go-open-malformed-3" => NoteError::ControlCharacter,
        "go-open-malformed-5" => NoteError::MalformedSignatureLine {
            line: 2,
            reason: "does not start with an em dash and a space",
        },
        "go-open-malformed-invalid-utf8" => NoteError::InvalidUtf8,
        other => panic!("no expectation recorded for rejecting vector {other}"),
    }
}

#[test]
fn signed_note_vectors() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 19);
    let (mut valid, mut rejected) = (0, 0);
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = vector_bytes(v);
        let verifiers: Vec<VerifierKey> = strings(v, "verifiers")
            .iter()
            .map(|k| VerifierKey::parse(k).unwrap())
            .collect();
        let result = Note::parse(&bytes).and_then(|n| n.open(&verifiers).map(|vn| (n, vn)));
        if v["expect"].as_str().unwrap() == "valid" {
            valid += 1;
            let (note, opened) = result.unwrap_or_else(|e| panic!("{id}: {e}"));
            let got: Vec<&str> = opened
                .verified_signatures()
                .map(|s| s.name().as_str())
                .collect();
            assert_eq!(got, strings(v, "verified_signers"), "{id}");
            for unverified in strings(v, "unverified_signers") {
                assert!(
                    note.signatures()
                        .iter()
                        .any(|s| s.name().as_str() == unverified),
                    "{id}"
                );
                assert!(!got.contains(&unverified.as_str()), "{id}");
            }
            if let Some(text) = v.get("text") {
                assert_eq!(opened.text(), text.as_str().unwrap(), "{id}");
            }
            // Re-serving is byte-exact unless identical lines were collapsed.
            if id != "go-open-duplicate-and-corrupt-unknown" {
                assert_eq!(note.to_bytes(), bytes, "{id}");
            }
        } else {
            rejected += 1;
            assert_eq!(result.unwrap_err(), expected_rejection(id), "{id}");
        }
    }
    assert_eq!((valid, rejected), (8, 11));
}

#[test]
fn intro_example_splits_at_last_blank_line() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let v = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "c2sp-signed-note-intro-example")
        .unwrap();
    let note = Note::parse(&vector_bytes(v)).unwrap();
    assert_eq!(note.text(), v["text"].as_str().unwrap());
    assert_eq!(note.signatures().len(), 1);
    assert_eq!(
        note.signatures()[0].name().as_str(),
        "quasimodo.example/salvatore"
    );
}

#[test]
fn duplicates_collapse_and_corrupt_unknown_is_kept() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let v = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "go-open-duplicate-and-corrupt-unknown")
        .unwrap();
    let note = Note::parse(&vector_bytes(v)).unwrap();
    // 5 lines: Peter twice, Enoch twice, and a corrupt Enoch.
    assert_eq!(note.signatures().len(), 3);
    let peter = VerifierKey::parse(PETER_VKEY).unwrap();
    let opened = note.open([&peter]).unwrap();
    assert_eq!(opened.verified_signatures().count(), 1);
    assert!(opened.is_verified_by(&name("PeterNeumann"), KeyId(0xc74f20a3)));
    assert!(!opened.is_verified_by(&name("EnochRoot"), KeyId(0xaf0cfe78)));
}

#[test]
fn go_sign_reproduces_note_byte_for_byte() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let v = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "go-sign-peter")
        .unwrap();
    let signer = SignerKey::parse(v["signer_skey"].as_str().unwrap()).unwrap();
    assert_eq!(signer.verifier().to_string(), PETER_VKEY);
    assert_eq!(signer.to_skey_string(), PETER_SKEY);
    let note = Note::sign(v["text"].as_str().unwrap(), [&signer]).unwrap();
    assert_eq!(note.to_string(), v["note"].as_str().unwrap());
}

fn vkey_rejection(expect: &str) -> NoteError {
    let table: [(&str, NoteError); 10] = [
        (
            "ML-DSA-44",
            NoteError::KeyIdMismatch {
                declared: KeyId(0x5893dc2c),
                computed: KeyId(0x31236897),
            },
        ),
        // Go's lenient decoder reaches the length check; this base64
        // ("...BADKEY==") also has non-zero padding bits, which we reject first.
        (
            "wrong public key length",
            NoteError::MalformedKey("key is not canonical padded base64"),
        ),
        ("type byte 0x65", NoteError::UnsupportedKeyType(0x65)),
        (
            "last hex digit changed",
            NoteError::KeyIdMismatch {
                declared: KeyId(0xc74f20a4),
                computed: KeyId(0xc74f20a3),
            },
        ),
        (
            "upper-case hex",
            NoteError::MalformedKey("key ID is not 8 lowercase hex digits"),
        ),
        (
            "number of '+'",
            NoteError::MalformedKey("expected <name>+<hex8>+<base64>"),
        ),
        (
            "invalid base64",
            NoteError::MalformedKey("key is not canonical padded base64"),
        ),
        ("type 0x03", NoteError::UnsupportedKeyType(0x03)),
        ("type 0x02", NoteError::UnsupportedKeyType(0x02)),
        (
            "contains a space",
            NoteError::InvalidKeyName("contains whitespace"),
        ),
    ];
    let mut hits = table.into_iter().filter(|(k, _)| expect.contains(k));
    let (_, err) = hits
        .next()
        .unwrap_or_else(|| panic!("no expectation for {expect}"));
    assert!(hits.next().is_none(), "ambiguous expectation for {expect}");
    err
}

#[test]
fn vkey_vectors() {
    let doc: Value = serde_json::from_str(VKEY_VECTORS).unwrap();
    let (mut valid, mut rejected) = (0, 0);
    for v in doc["vkeys"].as_array().unwrap() {
        let s = v["vkey"].as_str().unwrap();
        let expect = v["expect"].as_str().unwrap();
        if expect.starts_with("valid") {
            valid += 1;
            let key = VerifierKey::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(key.name().as_str(), v["name"].as_str().unwrap());
            assert_eq!(key.key_id().to_string(), v["key_id_hex"].as_str().unwrap());
            assert_eq!(
                u64::from(key.key_type().byte()),
                v["sig_type"].as_u64().unwrap()
            );
            assert_eq!(
                hex::encode(key.public_key()),
                v["public_key_hex"].as_str().unwrap()
            );
            assert_eq!(key.to_string(), s);
            assert_eq!(s.parse::<VerifierKey>().unwrap(), key);
        } else {
            rejected += 1;
            assert_eq!(
                VerifierKey::parse(s).unwrap_err(),
                vkey_rejection(expect),
                "{s}"
            );
        }
    }
    assert_eq!((valid, rejected), (8, 10));
}

/// specs.md §2.5, §11.6: litewitness scenario step 1 carries a known-key
/// signature whose base64 has non-zero padding bits. It must be an invalid
/// signature (403), not a malformed note (400).
#[test]
fn non_canonical_known_signature_is_invalid_not_malformed() {
    let doc: Value = serde_json::from_str(SIGSUM_SCENARIO).unwrap();
    let log = VerifierKey::parse(doc["log"]["vkey"].as_str().unwrap()).unwrap();
    let step = &doc["steps"][1];
    assert_eq!(step["spec_status"], 403);
    let body = step["request_body"].as_str().unwrap();
    let (_, note) = body.split_once("\n\n").unwrap();
    let note = Note::parse(note.as_bytes()).unwrap();
    assert!(!note.signatures()[0].is_canonical());
    assert_eq!(
        note.open([&log]).unwrap_err(),
        NoteError::InvalidSignature {
            name: log.name().clone(),
            key_id: log.key_id()
        }
    );
    // The non-canonical text is kept, so the note re-serves verbatim.
    assert_eq!(note.to_string(), body.split_once("\n\n").unwrap().1);
    // Step 0 has a canonical, valid signature from the same key.
    let (_, ok) = doc["steps"][0]["request_body"]
        .as_str()
        .unwrap()
        .split_once("\n\n")
        .unwrap();
    assert!(Note::parse(ok.as_bytes()).unwrap().open([&log]).is_ok());
}

/// Changing only padding bits keeps the decoded bytes (so the Ed25519
/// signature itself is still valid) but we still reject: the accepted
/// encodings stay canonical.
#[test]
fn non_canonical_encoding_of_a_valid_signature_is_rejected() {
    let signer = SignerKey::parse(PETER_SKEY).unwrap();
    let good = Note::sign(PETER_TEXT, [&signer]).unwrap().to_string();
    // The 68-byte payload encodes to 92 chars ending "AM=": 'M' carries 2
    // padding bits, so 'N' decodes to the same bytes.
    assert!(good.ends_with("AM=\n"));
    let bad = format!("{}N=\n", &good[..good.len() - 3]);
    let note = Note::parse(bad.as_bytes()).unwrap();
    assert_eq!(
        note.signatures()[0].signature(),
        Note::parse(good.as_bytes()).unwrap().signatures()[0].signature()
    );
    assert!(matches!(
        note.open([&signer.verifier()]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // An unknown key's non-canonical line is ignored like any unknown line.
    let other = SignerKey::from_seed(name("other"), KeyType::Ed25519, [7; 32]).unwrap();
    let mut mixed = Note::sign(PETER_TEXT, [&other]).unwrap();
    mixed.add_signature(note.signatures()[0].clone()).unwrap();
    let opened = Note::parse(&mixed.to_bytes())
        .unwrap()
        .open([&other.verifier()])
        .unwrap();
    assert_eq!(opened.note().signatures().len(), 2);
}

#[test]
fn signature_line_strictness() {
    let ok = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
    let sig = Signature::parse_line(ok).unwrap();
    assert_eq!(sig.key_id(), KeyId(0xc74f20a3));
    assert_eq!(sig.signature().len(), 64);
    assert_eq!(sig.to_string(), ok);
    let bad = |line: &str, reason: &'static str| {
        assert_eq!(
            Signature::parse_line(line),
            Err(NoteError::MalformedSignatureLine { line: 1, reason }),
            "{line}"
        );
    };
    bad(
        &ok.replace('\u{2014}', "-"),
        "does not start with an em dash and a space",
    );
    bad(&ok[..ok.len() - 1], "signature is not padded base64");
    bad(&format!("{ok} "), "signature is not padded base64");
    bad(
        &ok.replace("x08go", "x08 go"),
        "signature is not padded base64",
    );
    bad(
        "\u{2014} PeterNeumann",
        "no space between name and signature",
    );
    bad("\u{2014} PeterNeumann ", "signature shorter than 5 bytes");
    bad(
        "\u{2014} PeterNeumann AAAAAA==",
        "signature shorter than 5 bytes",
    );
    bad("\u{2014} Peter+Neumann AAAAAAA=", "invalid key name");
    bad("\u{2014}  AAAAAAA=", "invalid key name");
    // Five bytes is the minimum Go accepts.
    assert_eq!(
        Signature::parse_line("\u{2014} a AAAAAAA=")
            .unwrap()
            .signature(),
        &[0]
    );
}

#[test]
fn key_names() {
    assert!(KeyName::new(&"a".repeat(255)).is_ok());
    assert_eq!(
        KeyName::new(&"a".repeat(256)),
        Err(NoteError::InvalidKeyName("longer than 255 bytes"))
    );
    assert_eq!(KeyName::new(""), Err(NoteError::InvalidKeyName("empty")));
    assert_eq!(
        KeyName::new("a+b"),
        Err(NoteError::InvalidKeyName("contains '+'"))
    );
    // U+2003 EM SPACE and U+0085 NEXT LINE are Unicode whitespace (Go's unicode.IsSpace).
    assert_eq!(
        KeyName::new("a\u{2003}b"),
        Err(NoteError::InvalidKeyName("contains whitespace"))
    );
    assert_eq!(
        KeyName::new("a\u{85}b"),
        Err(NoteError::InvalidKeyName("contains whitespace"))
    );
    assert_eq!(
        KeyName::new("a\u{1}b"),
        Err(NoteError::InvalidKeyName("contains a control character"))
    );
    assert_eq!(
        KeyName::new("example.com/log-1").unwrap().to_string(),
        "example.com/log-1"
    );
    // Canonical base64 of a 33-byte Ed25519 key: the length check itself.
    let long = format!(
        "a+00000000+{}",
        STANDARD.encode([[1u8].as_slice(), &[0u8; 33]].concat())
    );
    assert_eq!(
        VerifierKey::parse(&long),
        Err(NoteError::MalformedKey(
            "wrong public key length for its type"
        ))
    );
    assert_eq!(
        VerifierKey::new(name("a"), KeyType::MlDsa44, &[0; 32]),
        Err(NoteError::MalformedKey(
            "wrong public key length for its type"
        ))
    );
}

#[test]
fn signer_keys() {
    let key = SignerKey::generate(
        name("example.com/log"),
        KeyType::Ed25519,
        &mut rand_core::OsRng,
    )
    .unwrap();
    let s = key.to_skey_string();
    assert_eq!(SignerKey::parse(&s).unwrap(), key);
    assert_eq!(
        VerifierKey::parse(&key.verifier().to_string()).unwrap(),
        key.verifier()
    );
    let dbg = format!("{key:?}");
    // PRIVATE+KEY+<name>+<id>+<base64 key data>: the key data may itself
    // contain '+', so split off exactly four fields.
    let key_data = s.splitn(5, '+').nth(4).unwrap();
    assert!(key_data.len() > 40, "{s}");
    assert!(
        dbg.contains("<redacted>") && !dbg.contains(key_data),
        "{dbg}"
    );
    // A wrong ID, a missing prefix and an unsupported type are all refused.
    let wrong_id = s.replacen(&key.key_id().to_string(), "00000000", 1);
    assert!(matches!(
        SignerKey::parse(&wrong_id),
        Err(NoteError::KeyIdMismatch { .. })
    ));
    assert!(matches!(
        SignerKey::parse(&s["PRIVATE+".len()..]),
        Err(NoteError::MalformedKey(_))
    ));
    assert_eq!(
        SignerKey::from_seed(name("w"), KeyType::MlDsa44, [0; 32]).unwrap_err(),
        NoteError::UnsupportedKeyType(6)
    );
    // The same seed under type 0x04 is a different key ID (specs.md §4.1).
    let seed = [9u8; 32];
    let plain = SignerKey::from_seed(name("w"), KeyType::Ed25519, seed).unwrap();
    let cosig = SignerKey::from_seed(name("w"), KeyType::CosignatureV1, seed).unwrap();
    assert_ne!(plain.key_id(), cosig.key_id());
    assert_eq!(plain.verifier().public_key(), cosig.verifier().public_key());
    assert_eq!(
        Note::sign("x\n", [&cosig]).unwrap_err(),
        NoteError::WrongKeyType {
            expected: KeyType::Ed25519,
            actual: KeyType::CosignatureV1
        }
    );
}

#[test]
fn sign_and_open_rules() {
    let a = SignerKey::from_seed(name("a.example"), KeyType::Ed25519, [1; 32]).unwrap();
    let b = SignerKey::from_seed(name("b.example"), KeyType::Ed25519, [2; 32]).unwrap();
    let text = "hello\n\nworld\n";
    let note = Note::sign(text, [&a, &b]).unwrap();
    let parsed = Note::parse(&note.to_bytes()).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(parsed.text(), text);

    // Only b known: a's signature is unknown, ignored, and kept.
    let opened = parsed.open([&b.verifier()]).unwrap();
    assert_eq!(
        opened
            .verified_signatures()
            .map(|s| s.name().as_str())
            .collect::<Vec<_>>(),
        ["b.example"]
    );
    assert_eq!(opened.note().signatures().len(), 2);

    // Mixed verifier types through trait objects.
    let verifiers: Vec<Box<dyn NoteVerifier>> =
        vec![Box::new(a.verifier()), Box::new(b.verifier())];
    assert_eq!(
        parsed
            .open(&verifiers)
            .unwrap()
            .verified_signatures()
            .count(),
        2
    );

    // Same name, different key: the ID differs, so the signature is unknown.
    let a2 = SignerKey::from_seed(name("a.example"), KeyType::Ed25519, [3; 32]).unwrap();
    assert_eq!(
        Note::sign(text, [&a2])
            .unwrap()
            .open([&a.verifier()])
            .unwrap_err(),
        NoteError::NoVerifiedSignature
    );

    // Same ID, different name: unknown too.
    let renamed = Signature::new(
        name("c.example"),
        a.key_id(),
        note.signatures()[0].signature(),
    )
    .unwrap();
    let n = Note::new(text, vec![renamed]).unwrap();
    assert_eq!(
        n.open([&a.verifier()]).unwrap_err(),
        NoteError::NoVerifiedSignature
    );

    // A known key's signature over other text is fatal even when another verifies.
    let forged = Note::sign("other\n", [&a]).unwrap().signatures()[0].clone();
    let mut mixed = Note::sign(text, [&b]).unwrap();
    mixed.add_signature(forged).unwrap();
    assert_eq!(
        mixed.open([&a.verifier(), &b.verifier()]).unwrap_err(),
        NoteError::InvalidSignature {
            name: a.name().clone(),
            key_id: a.key_id()
        }
    );
    // ... but ignored when that key is not trusted.
    assert!(mixed.open([&b.verifier()]).is_ok());

    // Ambiguous (name, ID) is an error only when the note uses it.
    let dup = [a.verifier(), a.verifier(), b.verifier()];
    assert_eq!(
        note.open(&dup).unwrap_err(),
        NoteError::AmbiguousKey {
            name: a.name().clone(),
            key_id: a.key_id()
        }
    );
    assert!(Note::sign(text, [&b]).unwrap().open(&dup).is_ok());
}

#[test]
fn note_construction_limits() {
    let a = SignerKey::from_seed(name("a"), KeyType::Ed25519, [1; 32]).unwrap();
    assert_eq!(
        Note::sign("no newline", [&a]).unwrap_err(),
        NoteError::UnterminatedText
    );
    assert_eq!(
        Note::sign("", [&a]).unwrap_err(),
        NoteError::UnterminatedText
    );
    assert_eq!(
        Note::sign("tab\there\n", [&a]).unwrap_err(),
        NoteError::ControlCharacter
    );
    assert_eq!(
        Note::sign("cr\r\n", [&a]).unwrap_err(),
        NoteError::ControlCharacter
    );
    assert_eq!(Note::sign("x\n", []).unwrap_err(), NoteError::NoSigners);
    assert_eq!(
        Note::new("x\n", vec![]).unwrap_err(),
        NoteError::MissingSignatureBlock
    );
    // A text of only "\n" and texts ending in blank lines round-trip.
    for text in ["\n", "a\n\n", "a\n\n\n"] {
        let n = Note::sign(text, [&a]).unwrap();
        assert_eq!(Note::parse(&n.to_bytes()).unwrap(), n, "{text:?}");
    }
    // 100 distinct signatures are fine, the 101st is refused.
    let mut n = Note::sign("x\n", [&a]).unwrap();
    for i in 1..MAX_SIGNATURES as u32 {
        assert!(
            n.add_signature(Signature::new(name("w"), KeyId(i), &[1, 2, 3]).unwrap())
                .unwrap()
        );
    }
    assert!(Note::parse(&n.to_bytes()).is_ok());
    let extra = Signature::new(name("w"), KeyId(0xffff_ffff), &[1]).unwrap();
    assert_eq!(
        n.add_signature(extra),
        Err(NoteError::TooManySignatures { max: 100 })
    );
    // Re-adding an identical line is a no-op.
    assert!(!n.add_signature(n.signatures()[0].clone()).unwrap());
    // Size cap.
    let big = vec![b'a'; MAX_NOTE_SIZE + 1];
    assert_eq!(
        Note::parse(&big),
        Err(NoteError::TooLarge {
            len: MAX_NOTE_SIZE + 1,
            max: MAX_NOTE_SIZE
        })
    );
}

fn arb_signature() -> impl Strategy<Value = Signature> {
    (
        "[a-zA-Z0-9./_-]{1,24}",
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 1..80),
    )
        .prop_map(|(n, id, bytes)| Signature::new(name(&n), KeyId(id), &bytes).unwrap())
}

fn arb_note() -> impl Strategy<Value = Note> {
    (
        proptest::collection::vec("[^\\x00-\\x1f]{0,16}", 1..6),
        proptest::collection::vec(arb_signature(), 1..6),
    )
        .prop_map(|(lines, sigs)| Note::new(format!("{}\n", lines.join("\n")), sigs).unwrap())
}

proptest! {
    #[test]
    fn parse_format_round_trip(note in arb_note()) {
        prop_assert_eq!(Note::parse(&note.to_bytes()).unwrap(), note);
    }

    #[test]
    fn mutations_never_panic(
        note in arb_note(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let signer = SignerKey::from_seed(name("m"), KeyType::Ed25519, [5; 32]).unwrap();
        let mut bytes = Note::sign(note.text(), [&signer]).unwrap().to_bytes();
        for sig in note.signatures() {
            bytes.extend_from_slice(format!("{sig}\n").as_bytes());
        }
        for (at, byte, op) in edits {
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
            if bytes.is_empty() { break; }
        }
        if let Ok(n) = Note::parse(&bytes) {
            let _ = n.open([&signer.verifier()]);
            prop_assert_eq!(Note::parse(&n.to_bytes()).unwrap(), n);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Note::parse(&bytes);
        let _ = std::str::from_utf8(&bytes).map(VerifierKey::parse);
        let _ = std::str::from_utf8(&bytes).map(SignerKey::parse);
    }
}
