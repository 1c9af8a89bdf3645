use serde_json::Value;

use super::*;
use crate::checkpoint::SignedCheckpoint;
use crate::note::Note;

const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/cosignature/cosignature-vectors.json"
));
const SIGSUM_SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/witness/litewitness-sigsum-scenario.json"
));

fn doc() -> Value {
    serde_json::from_str(COSIG_VECTORS).unwrap()
}

fn derived(doc: &Value, id: &str) -> Value {
    doc["derived"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap()
        .clone()
}

fn upstream(doc: &Value, id: &str) -> Value {
    doc["upstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap()
        .clone()
}

fn line(v: &Value) -> Signature {
    Signature::parse_line(v["signature_line"].as_str().unwrap().trim_end_matches('\n')).unwrap()
}

fn checkpoint(v: &Value) -> Checkpoint {
    Checkpoint::parse(v["checkpoint_text"].as_str().unwrap()).unwrap()
}

fn witness(doc: &Value) -> CosignerKey {
    CosignerKey::parse(doc["keys"]["witness_ed25519"]["skey"].as_str().unwrap()).unwrap()
}

#[test]
fn test_keys_match_their_vkeys() {
    let doc = doc();
    let w = witness(&doc);
    assert_eq!(
        w.verifier().key().to_string(),
        doc["keys"]["witness_ed25519"]["vkey"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(w.verifier().key().public_key()),
        doc["keys"]["witness_ed25519"]["public_key_hex"]
    );
    assert_eq!(
        w.signer_key().to_skey_string(),
        doc["keys"]["witness_ed25519"]["skey"].as_str().unwrap()
    );
    let seed: [u8; 32] = hex::decode(doc["keys"]["witness_ed25519"]["seed_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(CosignerKey::from_seed(w.name().clone(), seed).unwrap(), w);

    let ml = CosignatureVerifier::parse(doc["keys"]["witness_mldsa44"]["vkey"].as_str().unwrap())
        .unwrap();
    assert_eq!(ml.key().key_type(), KeyType::MlDsa44);
    assert_eq!(ml.key().key_id(), KeyId(0xba0be7fd));
    assert_eq!(
        ml.key().to_string(),
        doc["keys"]["witness_mldsa44"]["vkey"].as_str().unwrap()
    );
    // ML-DSA signing is not implemented: its skey is refused, precisely.
    assert_eq!(
        CosignerKey::parse(doc["keys"]["witness_mldsa44"]["skey"].as_str().unwrap()),
        Err(CosignatureError::Note(NoteError::UnsupportedKeyType(6)))
    );
    // A log key is not a cosigner key, in either direction.
    let log = SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    assert_eq!(
        CosignerKey::new(log.clone()),
        Err(CosignatureError::WrongKeyType(KeyType::Ed25519))
    );
    assert_eq!(
        CosignatureVerifier::new(log.verifier()),
        Err(CosignatureError::WrongKeyType(KeyType::Ed25519))
    );
}

#[test]
fn ed25519_cosignature_size8() {
    let doc = doc();
    let v = derived(&doc, "ed25519-cosig-v1-size8");
    let cp = checkpoint(&v);
    let ts = v["timestamp"].as_u64().unwrap();
    assert_eq!(
        signed_message_v1(ts, &cp.to_string()),
        v["signed_message"].as_str().unwrap().as_bytes()
    );

    // Ed25519 is deterministic: signing reproduces the line.
    let w = witness(&doc);
    let sig = w.sign(&cp, ts).unwrap();
    assert_eq!(format!("{sig}\n"), v["signature_line"].as_str().unwrap());
    assert_eq!(sig, line(&v));
    assert_eq!(timestamp(&sig, KeyType::CosignatureV1), Ok(ts));
    assert_eq!(w.verifier().verify(&cp, &sig), Ok(ts));

    // Whom and when, through Note::open with the log key and the witness.
    let vkeys: Vec<VerifierKey> = v["verifier_vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| VerifierKey::parse(k.as_str().unwrap()).unwrap())
        .collect();
    let wv = CosignatureVerifier::new(vkeys[1].clone()).unwrap();
    let verifiers: [&dyn NoteVerifier; 2] = [&vkeys[0], &wv];
    let cosigned = v["cosigned_checkpoint"].as_str().unwrap().as_bytes();
    let signed = SignedCheckpoint::parse(cosigned, verifiers).unwrap();
    assert_eq!(signed.verified_note().verified_signatures().count(), 2);
    assert_eq!(wv.witnessed_at(signed.verified_note()), Some(ts));
    // A plain VerifierKey of type 0x04 verifies cosignatures too.
    assert_eq!(
        Note::parse(cosigned)
            .unwrap()
            .open(&vkeys)
            .unwrap()
            .verified_signatures()
            .count(),
        2
    );
    // Opened with the log key only, the witness did not (verifiably) cosign
    // at open time, but `witnessed` checks its line afterwards.
    let log_only = SignedCheckpoint::parse(cosigned, [&vkeys[0]]).unwrap();
    assert_eq!(wv.witnessed_at(log_only.verified_note()), None);
    assert_eq!(wv.witnessed(&log_only), Ok(Some(ts)));
    let absent = SignedCheckpoint::sign(
        &cp,
        &SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap(),
    );
    assert_eq!(wv.witnessed(&absent.unwrap()), Ok(None));
}

#[test]
fn ed25519_cosignature_with_extension_line() {
    let doc = doc();
    let v = derived(&doc, "ed25519-cosig-v1-with-extension-line");
    let cp = checkpoint(&v);
    let ts = v["timestamp"].as_u64().unwrap();
    assert_eq!(
        signed_message_v1(ts, &cp.to_string()),
        v["signed_message"].as_str().unwrap().as_bytes()
    );
    let w = witness(&doc);
    assert_eq!(
        format!("{}\n", w.sign(&cp, ts).unwrap()),
        v["signature_line"].as_str().unwrap()
    );
    let verifier = CosignatureVerifier::parse(v["verifier_vkeys"][0].as_str().unwrap()).unwrap();
    assert_eq!(verifier.verify(&cp, &line(&v)), Ok(ts));
    // The extension line is signed: changing it breaks the cosignature.
    let changed = cp
        .clone()
        .with_extensions(vec!["another extension line".into()])
        .unwrap();
    assert_eq!(
        verifier.verify(&changed, &line(&v)),
        Err(CosignatureError::InvalidSignature)
    );
}

#[test]
fn tampered_timestamp_is_rejected() {
    let doc = doc();
    let v = derived(&doc, "ed25519-cosig-v1-wrong-timestamp");
    let cp = checkpoint(&v);
    let sig = line(&v);
    assert_eq!(timestamp(&sig, KeyType::CosignatureV1), Ok(1_700_000_001));
    let verifier = CosignatureVerifier::parse(v["verifier_vkeys"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        verifier.verify(&cp, &sig),
        Err(CosignatureError::InvalidSignature)
    );
    let log = SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    let mut signed = SignedCheckpoint::sign(&cp, &log).unwrap();
    signed.add_signature(sig.clone()).unwrap();
    assert_eq!(
        verifier.witnessed(&signed),
        Err(CosignatureError::InvalidSignature)
    );
    let note = Note::new(cp.to_string(), vec![sig]).unwrap();
    assert_eq!(
        note.open([&verifier]),
        Err(NoteError::InvalidSignature {
            name: verifier.key().name().clone(),
            key_id: verifier.key().key_id()
        })
    );
}

#[test]
fn cosignature_under_plain_ed25519_vkey_is_unknown() {
    let doc = doc();
    let v = derived(&doc, "ed25519-cosig-checked-as-plain-ed25519");
    let plain = VerifierKey::parse(v["verifier_vkeys"][0].as_str().unwrap()).unwrap();
    let w = witness(&doc);
    assert_eq!(plain.key_type(), KeyType::Ed25519);
    assert_eq!(plain.public_key(), w.verifier().key().public_key());
    assert_eq!(
        (plain.key_id(), w.key_id()),
        (KeyId(0xac9c30f3), KeyId(0x1d551a50))
    );
    let note = Note::parse(v["note"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(note.open([&plain]), Err(NoteError::NoVerifiedSignature));
    assert!(CosignatureVerifier::new(plain).is_err());
}

#[test]
fn ml_dsa_44_subtree_cosignature() {
    let doc = doc();
    let v = derived(&doc, "mldsa44-cosig-v1-size8");
    let cp = checkpoint(&v);
    let ts = v["timestamp"].as_u64().unwrap();
    let verifier = CosignatureVerifier::parse(v["verifier_vkeys"][0].as_str().unwrap()).unwrap();
    let msg = subtree_message_v1(
        verifier.key().name(),
        ts,
        cp.origin(),
        0,
        cp.size(),
        cp.root(),
    )
    .unwrap();
    assert_eq!(
        hex::encode(msg),
        v["cosigned_message_hex"].as_str().unwrap()
    );
    let sig = line(&v);
    assert_eq!(sig.signature().len(), 8 + 2420);
    assert_eq!(verifier.verify(&cp, &sig), Ok(ts));

    // Through Note::open, next to the log's signature and the Ed25519 witness.
    let log = SignerKey::parse(doc["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    let w = witness(&doc);
    let mut signed = SignedCheckpoint::sign(&cp, &log).unwrap();
    signed.add_signature(w.sign(&cp, ts).unwrap()).unwrap();
    signed.add_signature(sig.clone()).unwrap();
    let wv = w.verifier();
    let log_v = log.verifier();
    let verifiers: [&dyn NoteVerifier; 3] = [&log_v, &wv, &verifier];
    let opened = SignedCheckpoint::parse(&signed.note().to_bytes(), verifiers).unwrap();
    assert_eq!(opened.verified_note().verified_signatures().count(), 3);
    assert_eq!(verifier.witnessed_at(opened.verified_note()), Some(ts));

    // subtree/v1 signs origin, size and root, not extension lines.
    let other = Checkpoint::new(cp.origin().clone(), 9, *cp.root());
    assert_eq!(
        verifier.verify(&other, &sig),
        Err(CosignatureError::InvalidSignature)
    );
    let with_ext = cp.clone().with_extensions(vec!["x".into()]).unwrap();
    assert_eq!(verifier.verify(&with_ext, &sig), Ok(ts));
    // A flipped signature byte fails.
    let mut bytes = sig.signature().to_vec();
    bytes[100] ^= 1;
    let flipped = Signature::new(sig.name().clone(), sig.key_id(), &bytes).unwrap();
    assert_eq!(
        verifier.verify(&cp, &flipped),
        Err(CosignatureError::InvalidSignature)
    );
    // Note text that is not a checkpoint cannot carry a valid 0x06 cosignature.
    assert!(!NoteVerifier::verify(
        &verifier,
        b"not a checkpoint\n",
        sig.signature()
    ));
}

#[test]
fn c2sp_example_line_parses() {
    let doc = doc();
    let v = upstream(&doc, "c2sp-cosignature-example");
    let sig = Signature::parse_line(v["signature_line"].as_str().unwrap()).unwrap();
    assert_eq!(sig.name().as_str(), "witness.example.com/w1");
    assert_eq!(
        sig.key_id().to_string(),
        v["decoded"]["key_id_hex"].as_str().unwrap()
    );
    assert_eq!(
        timestamp(&sig, KeyType::CosignatureV1),
        Ok(v["decoded"]["timestamp"].as_u64().unwrap())
    );
    assert_eq!(sig.signature().len() - 8, 64);
    let cp = checkpoint(&v);
    assert_eq!(
        signed_message_v1(1_679_315_147, &cp.to_string()),
        v["signed_message_per_spec"].as_str().unwrap().as_bytes()
    );
}

#[test]
fn formats_timestamp_vectors() {
    let doc = doc();
    let ok = upstream(&doc, "formats-cosig-timestamp");
    let sig = Signature::parse_line(&format!(
        "\u{2014} w {}",
        ok["signature_b64"].as_str().unwrap()
    ))
    .unwrap();
    assert_eq!(
        sig.key_id().to_string(),
        ok["decoded"]["key_id_hex"].as_str().unwrap()
    );
    assert_eq!(
        timestamp(&sig, KeyType::CosignatureV1),
        Ok(ok["decoded"]["timestamp"].as_u64().unwrap())
    );
    let short = upstream(&doc, "formats-cosig-timestamp-wrong-type");
    let sig = Signature::parse_line(&format!(
        "\u{2014} w {}",
        short["signature_b64"].as_str().unwrap()
    ))
    .unwrap();
    assert_eq!(sig.signature().len() + 4, 68);
    assert_eq!(
        timestamp(&sig, KeyType::CosignatureV1),
        Err(CosignatureError::WrongLength {
            expected: 72,
            actual: 64
        })
    );
    assert_eq!(
        timestamp(&sig, KeyType::Ed25519),
        Err(CosignatureError::WrongKeyType(KeyType::Ed25519))
    );
}

#[test]
fn azul_subtree_message_layout() {
    let doc = doc();
    let v = upstream(&doc, "azul-subtree-v1-message-layout");
    let hash =
        Hash::from_slice(&hex::decode(v["inputs"]["hash_hex"].as_str().unwrap()).unwrap()).unwrap();
    let msg = subtree_message_v1(
        &KeyName::new("a").unwrap(),
        0x0102030405060708,
        &Origin::new("b").unwrap(),
        0x0910111213141516,
        0x1718191a1b1c1d1e,
        &hash,
    )
    .unwrap();
    assert_eq!(
        hex::encode(msg),
        v["cosigned_message_hex"].as_str().unwrap()
    );
    let long = Origin::new(&"o".repeat(256)).unwrap();
    assert_eq!(
        subtree_message_v1(&KeyName::new("a").unwrap(), 0, &long, 0, 1, &hash),
        Err(CosignatureError::FieldTooLong("log origin"))
    );
}

#[test]
fn sigsum_scenario_witness_key_parses() {
    let doc: Value = serde_json::from_str(SIGSUM_SCENARIO).unwrap();
    let v = CosignatureVerifier::parse(doc["witness"]["vkey_cosignature_v1"].as_str().unwrap())
        .unwrap();
    assert_eq!(v.key().name().as_str(), "example.com/witness");
    assert_eq!(v.key().key_id(), KeyId(0x10a1c019));
}

#[test]
fn timestamps_and_round_trips() {
    let name = KeyName::new("witness.example/w").unwrap();
    let w = CosignerKey::generate(name, &mut rand_core::OsRng).unwrap();
    let cp =
        Checkpoint::parse("example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
            .unwrap();
    for ts in [1, 1_700_000_000, MAX_TIMESTAMP] {
        let sig = w.sign(&cp, ts).unwrap();
        assert_eq!(w.verifier().verify(&cp, &sig), Ok(ts));
        assert_eq!(Signature::parse_line(&sig.to_string()).unwrap(), sig);
    }
    assert_eq!(
        w.sign(&cp, MAX_TIMESTAMP + 1),
        Err(CosignatureError::TimestampTooLarge(MAX_TIMESTAMP + 1))
    );

    // A line claiming a timestamp above 2^63-1 never verifies.
    let mut bytes = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&[0; 64]);
    let big = Signature::new(w.name().clone(), w.key_id(), &bytes).unwrap();
    assert_eq!(
        timestamp(&big, KeyType::CosignatureV1),
        Err(CosignatureError::TimestampTooLarge(1 << 63))
    );
    assert_eq!(
        w.verifier().verify(&cp, &big),
        Err(CosignatureError::TimestampTooLarge(1 << 63))
    );

    // Another key's line is refused as such.
    let other = CosignerKey::from_seed(KeyName::new("other").unwrap(), [3; 32]).unwrap();
    let theirs = other.sign(&cp, 5).unwrap();
    assert_eq!(
        w.verifier().verify(&cp, &theirs),
        Err(CosignatureError::NotThisKey {
            name: other.name().clone(),
            key_id: other.key_id()
        })
    );

    // Future skew is the caller's policy, with "now" passed in.
    assert_eq!(check_not_future(1_000, 1_000, 0), Ok(()));
    assert_eq!(check_not_future(1_300, 1_000, 300), Ok(()));
    assert_eq!(
        check_not_future(1_301, 1_000, 300),
        Err(CosignatureError::TimestampInFuture {
            timestamp: 1_301,
            now: 1_000
        })
    );
    assert_eq!(check_not_future(MAX_TIMESTAMP, u64::MAX, u64::MAX), Ok(()));
}
