//! Tests for DSSE envelopes.
use super::*;

const CLAIM_EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/examples/claim-example.json"
));

fn example() -> (serde_json::Value, Vec<u8>) {
    let v: serde_json::Value = serde_json::from_str(CLAIM_EXAMPLE).unwrap();
    let env = serde_json::to_vec(&v["envelope"]).unwrap();
    (v, env)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn test_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest([n]).into())
}

fn keys_of(ks: &[&SigningKey]) -> KeySet {
    let mut set = KeySet::new();
    for k in ks {
        assert!(set.insert(k.verifying_key()));
    }
    set
}

fn statement() -> Vec<u8> {
    br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#.to_vec()
}

#[test]
fn claim_example_verifies_with_its_test_key() {
    let (v, env_json) = example();
    let seed: [u8; 32] = unhex(v["testKey"]["seedHex"].as_str().unwrap())
        .try_into()
        .unwrap();
    let sk = SigningKey::from_bytes(&seed);
    let pk = sk.verifying_key();
    assert_eq!(
        STANDARD.encode(pk.as_bytes()),
        v["testKey"]["publicKeyBase64"].as_str().unwrap()
    );
    assert_eq!(keyid(&pk), v["testKey"]["keyid"].as_str().unwrap());

    let env = Envelope::parse(&env_json).unwrap();
    assert_eq!(env.payload_type(), PAYLOAD_TYPE_IN_TOTO);
    env.require_payload_type(PAYLOAD_TYPE_IN_TOTO).unwrap();
    assert_eq!(env.verify(&keys_of(&[&sk])), Ok(0));
    assert_eq!(
        hex_lower(&env.statement_sha256()),
        v["payloadSha256"].as_str().unwrap()
    );
    // The payload is the statement with sorted keys and no whitespace,
    // which is how serde_json (without preserve_order) writes a Value.
    assert_eq!(
        env.payload(),
        serde_json::to_vec(&v["statement"]).unwrap().as_slice()
    );
    // Ed25519 is deterministic: re-signing reproduces the envelope.
    let resigned = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, env.payload(), &sk);
    assert_eq!(resigned, env);
    // Its canonical form is exactly the compact sorted-key JSON here too.
    assert_eq!(env.to_canonical_json(), env_json);
    // A different key does not count, a tampered payload does not verify.
    assert_eq!(
        env.verify(&keys_of(&[&test_key(1)])),
        Err(DsseError::NoTrustedSignature)
    );
    let mut tampered = env.clone();
    let at = tampered.payload_start + 10;
    tampered.pae[at] ^= 1;
    assert_eq!(
        tampered.verify(&keys_of(&[&sk])),
        Err(DsseError::InvalidSignature(0))
    );
}

#[test]
fn pae_matches_the_dsse_spec_example() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("t", b""), b"DSSEv1 1 t 0 ".to_vec());
    // Lengths count bytes, not characters.
    assert_eq!(
        pae("é", b"\xff"),
        "DSSEv1 2 é 1 ".bytes().chain([0xff]).collect::<Vec<_>>()
    );
}

#[test]
fn sign_verify_and_canonical_round_trip() {
    let k = test_key(7);
    let env = Envelope::sign("text/x.\"quoted\"\u{e9}", &statement(), &k);
    assert_eq!(env.verify(&keys_of(&[&k])), Ok(0));
    let canon = env.to_canonical_json();
    let back = Envelope::parse(&canon).unwrap();
    assert_eq!(back, env);
    assert_eq!(back.to_canonical_json(), canon);
    // Whitespace and field order in the input do not change the
    // canonical form; an absent keyid becomes "".
    let sig = STANDARD.encode(env.signatures()[0].sig.to_bytes());
    let loose = format!(
        "{{ \"signatures\" : [ {{ \"sig\": \"{sig}\" }} ],\n \"payloadType\":\"text/x.\\\"quoted\\\"\\u00e9\", \"payload\": \"{}\" }}\n",
        STANDARD.encode(statement())
    );
    let parsed = Envelope::parse(loose.as_bytes()).unwrap();
    assert_eq!(parsed.signatures()[0].keyid, "");
    assert_eq!(parsed.payload_type(), env.payload_type());
    // Without a keyid the signature names no key.
    assert_eq!(
        parsed.verify(&keys_of(&[&k])),
        Err(DsseError::NoTrustedSignature)
    );
    let mut with_id = parsed.clone();
    with_id.signatures[0].keyid = keyid(&k.verifying_key());
    assert_eq!(with_id, env);
}

#[test]
fn multiple_signatures() {
    let (a, b, c) = (test_key(1), test_key(2), test_key(3));
    let mut env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &statement(), &a);
    let other = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &statement(), &b);
    env.signatures.push(other.signatures[0].clone());
    // Unknown signatures are ignored, the first trusted one is reported.
    assert_eq!(env.verify(&keys_of(&[&b])), Ok(1));
    assert_eq!(env.verify(&keys_of(&[&a, &b])), Ok(0));
    assert_eq!(
        env.verify(&keys_of(&[&c])),
        Err(DsseError::NoTrustedSignature)
    );
    // A bad signature under a trusted keyid spoils the envelope even when
    // another trusted signature is good.
    env.signatures[1].sig = env.signatures[0].sig;
    assert_eq!(
        env.verify(&keys_of(&[&a, &b])),
        Err(DsseError::InvalidSignature(1))
    );
    assert_eq!(env.verify(&keys_of(&[&a])), Ok(0));
}

fn sig_b64(k: &SigningKey) -> String {
    STANDARD.encode(Envelope::sign("t", b"x", k).signatures()[0].sig.to_bytes())
}

#[test]
fn every_rejection() {
    let k = test_key(9);
    let sig = sig_b64(&k);
    let p = STANDARD.encode(b"payload");
    let env = |payload: &str, ptype: &str, sigs: &str| {
        format!(r#"{{"payload":"{payload}","payloadType":"{ptype}","signatures":{sigs}}}"#)
    };
    let one = format!(r#"[{{"keyid":"k","sig":"{sig}"}}]"#);
    let ok = env(&p, "t", &one);
    assert!(Envelope::parse(ok.as_bytes()).is_ok());

    let json_err = |s: &str| matches!(Envelope::parse(s.as_bytes()), Err(DsseError::Json(_)));
    // Size cap before anything else, even for non-JSON.
    let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
    assert_eq!(
        Envelope::parse(&big),
        Err(DsseError::TooLarge(MAX_ENVELOPE_BYTES + 1))
    );
    // Shape.
    assert!(json_err(""));
    assert!(json_err("[]"));
    assert!(json_err(&format!("{ok} x")));
    assert!(json_err(&format!("{ok}{ok}")));
    assert!(json_err(&ok.replacen("{", r#"{"extra":1,"#, 1)));
    assert!(json_err(
        &ok.replace(r#""keyid":"k""#, r#""keyid":"k","x":1"#)
    ));
    assert!(json_err(&ok.replacen("{", r#"{"payload":"eA==","#, 1)));
    assert!(json_err(
        &ok.replace(r#""keyid":"k""#, r#""keyid":"k","keyid":"k""#)
    ));
    assert!(json_err(
        &ok.replace(r#""keyid":"k""#, r#""sig":"AA==","keyid":"k""#)
    ));
    assert!(json_err(&ok.replace(r#""keyid":"k""#, r#""keyid":null"#)));
    assert!(json_err(&ok.replace(r#""keyid":"k""#, r#""keyid":5"#)));
    assert!(json_err(&format!(
        r#"{{"payloadType":"t","signatures":{one}}}"#
    )));
    assert!(json_err(&format!(
        r#"{{"payload":"{p}","signatures":{one}}}"#
    )));
    assert!(json_err(&format!(
        r#"{{"payload":"{p}","payloadType":"t"}}"#
    )));
    assert!(json_err(&env(&p, "t", r#"[{"keyid":"k"}]"#)));
    assert!(json_err(&env(&p, "t", "null")));
    // payloadType.
    assert_eq!(
        Envelope::parse(env(&p, "", &one).as_bytes()),
        Err(DsseError::PayloadType)
    );
    assert_eq!(
        Envelope::parse(env(&p, "a\\nb", &one).as_bytes()),
        Err(DsseError::PayloadType)
    );
    let long = "t".repeat(MAX_PAYLOAD_TYPE_BYTES + 1);
    assert_eq!(
        Envelope::parse(env(&p, &long, &one).as_bytes()),
        Err(DsseError::PayloadType)
    );
    // payload base64: non-zero padding bits, missing padding, URL-safe
    // alphabet, whitespace, escaped newline.
    for bad in [
        "eB==", "eA", "-_-_", "eA ==", "eA\\n==", "e===", "====", "eA==eA==",
    ] {
        assert_eq!(
            Envelope::parse(env(bad, "t", &one).as_bytes()),
            Err(DsseError::PayloadBase64),
            "{bad}"
        );
    }
    assert_eq!(
        Envelope::parse(env("", "t", &one).as_bytes()),
        Err(DsseError::EmptyPayload)
    );
    // signatures.
    assert_eq!(
        Envelope::parse(env(&p, "t", "[]").as_bytes()),
        Err(DsseError::NoSignatures)
    );
    let many: Vec<String> = (0..=MAX_SIGNATURES)
        .map(|i| format!(r#"{{"keyid":"{i}","sig":"{sig}"}}"#))
        .collect();
    assert_eq!(
        Envelope::parse(env(&p, "t", &format!("[{}]", many.join(","))).as_bytes()),
        Err(DsseError::TooManySignatures(MAX_SIGNATURES + 1))
    );
    let max = format!("[{}]", many[..MAX_SIGNATURES].join(","));
    assert!(Envelope::parse(env(&p, "t", &max).as_bytes()).is_ok());
    let long_id = "k".repeat(MAX_KEYID_BYTES + 1);
    assert_eq!(
        Envelope::parse(
            ok.replace(r#""keyid":"k""#, &format!(r#""keyid":"{long_id}""#))
                .as_bytes()
        ),
        Err(DsseError::KeyId(0))
    );
    assert_eq!(
        Envelope::parse(
            ok.replace(r#""keyid":"k""#, r#""keyid":"\u0007""#)
                .as_bytes()
        ),
        Err(DsseError::KeyId(0))
    );
    let short = STANDARD.encode([1u8; 63]);
    let long = STANDARD.encode([1u8; 65]);
    let mut noncanon = sig.clone();
    noncanon.replace_range(85..86, "B"); // last char before "==": padding bits set
    for bad in [
        short.as_str(),
        long.as_str(),
        "",
        "AA==",
        &noncanon,
        &sig[..86],
        &sig.replace('+', "-"),
    ] {
        if bad == sig {
            continue;
        }
        let two = format!(r#"[{{"keyid":"k","sig":"{sig}"}},{{"keyid":"k","sig":"{bad}"}}]"#);
        assert_eq!(
            Envelope::parse(env(&p, "t", &two).as_bytes()),
            Err(DsseError::SignatureEncoding(1)),
            "{bad}"
        );
    }
    let dup = format!(r#"[{{"keyid":"k","sig":"{sig}"}},{{"keyid":"k","sig":"{sig}"}}]"#);
    assert_eq!(
        Envelope::parse(env(&p, "t", &dup).as_bytes()),
        Err(DsseError::DuplicateSignature(1))
    );
    // Same sig under another keyid is not a duplicate.
    let two = format!(r#"[{{"keyid":"k","sig":"{sig}"}},{{"keyid":"j","sig":"{sig}"}}]"#);
    assert!(Envelope::parse(env(&p, "t", &two).as_bytes()).is_ok());
    // Payload type requirement.
    let e = Envelope::parse(ok.as_bytes()).unwrap();
    assert_eq!(
        e.require_payload_type(PAYLOAD_TYPE_IN_TOTO),
        Err(DsseError::WrongPayloadType {
            expected: PAYLOAD_TYPE_IN_TOTO.into()
        })
    );
}

#[test]
fn weak_or_torsioned_keys_are_refused() {
    let mut set = KeySet::new();
    // The identity point (y = 1) has small order.
    let identity = VerifyingKey::from_bytes(&{
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    })
    .unwrap();
    assert!(!set.insert(identity));
    assert!(set.is_empty());
    assert!(set.insert(test_key(1).verifying_key()));
    assert_eq!(set.len(), 1);
}

#[test]
fn verify_many_agrees_with_verify() {
    let ks: Vec<SigningKey> = (0..6).map(test_key).collect();
    let trusted = keys_of(&[&ks[0], &ks[1], &ks[2]]);
    let mut envs: Vec<Envelope> = (0..40)
        .map(|i| {
            let payload = format!("{{\"n\":{i}}}");
            Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload.as_bytes(), &ks[i % 3])
        })
        .collect();
    // All good: the batch path.
    let items: Vec<(&Envelope, &KeySet)> = envs.iter().map(|e| (e, &trusted)).collect();
    assert!(verify_many(&items).iter().all(|r| *r == Ok(0)));
    assert!(verify_many(&[]).is_empty());

    // Make some bad: tampered payload, untrusted signer, small-order R.
    let mut longer = Envelope::unsigned(PAYLOAD_TYPE_IN_TOTO, &[envs[3].payload(), b" "].concat());
    longer.signatures = envs[3].signatures.clone();
    envs[3] = longer;
    envs[7] = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"x", &ks[4]);
    let mut r_bad = envs[11].signatures[0].sig.to_bytes();
    r_bad[..32].copy_from_slice(&{
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    });
    envs[11].signatures[0].sig = Signature::from_bytes(&r_bad);
    // Two trusted signatures, the second bad; the first bad; an untrusted
    // one first and a good trusted one after it.
    let two = |n: usize| {
        let mut env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"two", &ks[0]);
        let other = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"two", &ks[n]);
        env.signatures.push(other.signatures[0].clone());
        env
    };
    envs[15] = two(1);
    envs[15].signatures[1].sig = envs[15].signatures[0].sig;
    envs[16] = two(1);
    envs[16].signatures[0].sig = envs[16].signatures[1].sig;
    envs[17] = two(5);
    envs[17].signatures.swap(0, 1);
    envs[18] = two(2);
    let items: Vec<(&Envelope, &KeySet)> = envs.iter().map(|e| (e, &trusted)).collect();
    let got = verify_many(&items);
    for (i, e) in envs.iter().enumerate() {
        assert_eq!(got[i], e.verify(&trusted), "envelope {i}");
    }
    assert_eq!(got[3], Err(DsseError::InvalidSignature(0)));
    assert_eq!(got[7], Err(DsseError::NoTrustedSignature));
    assert_eq!(got[11], Err(DsseError::InvalidSignature(0)));
    assert_eq!(got[12], Ok(0));
    assert_eq!(got[15], Err(DsseError::InvalidSignature(1)));
    assert_eq!(got[16], Err(DsseError::InvalidSignature(0)));
    assert_eq!(got[17], Ok(1));
    assert_eq!(got[18], Ok(0));
    // Finishing one at a time gives the same.
    for (i, e) in envs.iter().enumerate() {
        assert_eq!(
            e.start_verify(&trusted).and_then(|p| p.finish()),
            got[i],
            "envelope {i}"
        );
    }
}

#[test]
fn parse_never_panics_on_mutations() {
    let (_, env_json) = example();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut m = env_json.clone();
        for _ in 0..1 + (state % 4) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pos = (state as usize) % m.len();
            match state % 3 {
                0 => m[pos] = (state >> 32) as u8,
                1 => {
                    m.remove(pos);
                }
                _ => m.insert(pos, (state >> 24) as u8),
            }
        }
        if let Ok(e) = Envelope::parse(&m) {
            // Anything accepted re-encodes to something that parses equal.
            let canonical = e.to_canonical_json();
            assert_eq!(Envelope::parse(&canonical).unwrap(), e);
            assert_eq!(e.is_canonical_json(&m), canonical == m);
            assert_eq!(
                Envelope::parse_checking_canonical(&m),
                Ok((e.clone(), canonical == m))
            );
            assert!(e.is_canonical_json(&canonical));
        }
    }
}

#[test]
fn note_keys_sign_and_verify() {
    use crate::cosignature::CosignerKey;
    use crate::note::{KeyName, KeyType, SignerKey, VerifierKey};
    let name = KeyName::new("vendor.example").unwrap();
    let sk = SignerKey::from_seed(name.clone(), KeyType::Ed25519, [5; 32]).unwrap();
    let env = Envelope::sign_with_note_key(PAYLOAD_TYPE_IN_TOTO, &statement(), &sk).unwrap();
    // Same bytes as signing with the raw Ed25519 key of that seed.
    let raw = SigningKey::from_bytes(&[5; 32]);
    assert_eq!(
        env,
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &statement(), &raw)
    );
    let vkey = VerifierKey::parse(&sk.verifier().to_string()).unwrap();
    let mut set = KeySet::new();
    assert!(set.insert_note_key(&vkey));
    assert_eq!(env.verify(&set), Ok(0));
    // Cosignature (0x04) keys are neither signers nor submitters.
    let cosigner = CosignerKey::from_seed(name, [6; 32]).unwrap();
    assert!(Envelope::sign_with_note_key("t", b"x", cosigner.signer_key()).is_none());
    assert!(!set.insert_note_key(cosigner.verifier().key()));
    assert_eq!(set.len(), 1);
}

/// `is_canonical_json` agrees with comparing against `to_canonical_json`:
/// on the canonical bytes, and on every one-byte change, truncation and
/// extension of them; payloads of every length mod 3 (padding), and longer
/// than one base64 chunk.
#[test]
fn is_canonical_json_matches_the_encoding() {
    let k = test_key(3);
    for len in [1, 2, 3, 4, 5, 767, 768, 769, 1536, 2401] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut env = Envelope::sign("text/\"x\"\\\u{e9}", &payload, &k);
        env.signatures[0].keyid = "id\"\u{e9}/".to_owned();
        let canonical = env.to_canonical_json();
        let parsed = Envelope::parse(&canonical).unwrap();
        assert_eq!(parsed, env);
        assert_eq!(parsed.payload(), payload.as_slice());
        assert_eq!(parsed.pae(), pae("text/\"x\"\\\u{e9}", &payload).as_slice());
        assert!(env.is_canonical_json(&canonical));
        assert_eq!(
            Envelope::parse_checking_canonical(&canonical),
            Ok((env.clone(), true))
        );
        let step = (canonical.len() / 97).max(1);
        for pos in (0..canonical.len()).step_by(step) {
            let mut m = canonical.clone();
            m[pos] ^= 0x20;
            assert!(!env.is_canonical_json(&m), "{len} {pos}");
            if let Ok((e, canonical)) = Envelope::parse_checking_canonical(&m) {
                assert_eq!(canonical, e.to_canonical_json() == m, "{len} {pos}");
            }
            assert!(!env.is_canonical_json(&canonical[..pos]));
        }
        let mut longer = canonical.clone();
        longer.push(b' ');
        assert!(!env.is_canonical_json(&longer));
    }
}

/// The payload is decoded straight into the PAE: its length is right for
/// every padding, and an empty or wrongly padded payload is refused as
/// before.
#[test]
fn payload_decoded_into_the_pae() {
    let k = test_key(4);
    for len in 1..=9 {
        let payload = vec![b'a'; len];
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, &k);
        let back = Envelope::parse(&env.to_canonical_json()).unwrap();
        assert_eq!(back.payload(), payload.as_slice());
        assert_eq!(back.pae(), pae(PAYLOAD_TYPE_IN_TOTO, &payload).as_slice());
        assert_eq!(back.verify(&keys_of(&[&k])), Ok(0));
    }
    let sig = sig_b64(&k);
    for (b64, err) in [
        ("", DsseError::EmptyPayload),
        ("YQ", DsseError::PayloadBase64),
        ("YQ=", DsseError::PayloadBase64),
        ("YR==", DsseError::PayloadBase64),
        ("YWJj=", DsseError::PayloadBase64),
        ("====", DsseError::PayloadBase64),
    ] {
        let json = format!(
            "{{\"payload\":\"{b64}\",\"payloadType\":\"t\",\"signatures\":[{{\"keyid\":\"\",\"sig\":\"{sig}\"}}]}}"
        );
        assert_eq!(Envelope::parse(json.as_bytes()), Err(err), "{b64}");
    }
}

/// A base64 field written with a JSON escape is the same string to the
/// parser, but not the canonical text: accepted, and flagged non-canonical.
#[test]
fn escaped_base64_is_not_canonical() {
    let k = test_key(5);
    let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"escaped", &k);
    let canonical = String::from_utf8(env.to_canonical_json()).unwrap();
    let b64 = STANDARD.encode(b"escaped");
    let sig = STANDARD.encode(env.signatures()[0].sig.to_bytes());
    for escaped in [
        canonical.replacen(
            &b64,
            &format!("\\u00{:x}{}", b64.as_bytes()[0], &b64[1..]),
            1,
        ),
        canonical.replacen(
            &sig,
            &format!("{}\\u00{:x}", &sig[..87], sig.as_bytes()[87]),
            1,
        ),
    ] {
        assert_ne!(escaped, canonical);
        assert_eq!(
            Envelope::parse_checking_canonical(escaped.as_bytes()),
            Ok((env.clone(), false)),
            "{escaped}"
        );
    }
    assert_eq!(env.clone().into_payload(), b"escaped".to_vec());
}

/// The JSON parse and canonical check that `canonical::parse_plain` stands
/// in for.
fn slow_parse(json: &[u8]) -> Result<(Envelope, bool), DsseError> {
    if json.len() > MAX_ENVELOPE_BYTES {
        return Err(DsseError::TooLarge(json.len()));
    }
    let (env, raw) = Envelope::parse_raw(json)?;
    let canonical = env.matches_canonical(json, &raw);
    Ok((env, canonical))
}

/// The fast path against the JSON parse on `json`: whatever it accepts, the
/// JSON parse accepts as the same, canonical envelope; and the public parses
/// (which try it first) answer exactly as the JSON parse does. Returns
/// whether the fast path took it.
fn check_fast_path(json: &[u8]) -> bool {
    let slow = slow_parse(json);
    let fast = canonical::parse_plain(json);
    if let Some(env) = &fast {
        assert_eq!(
            slow,
            Ok((env.clone(), true)),
            "{}",
            String::from_utf8_lossy(json)
        );
        assert_eq!(env.to_canonical_json(), json);
    }
    assert_eq!(Envelope::parse_checking_canonical(json), slow);
    assert_eq!(Envelope::parse(json), slow.map(|(e, _)| e));
    fast.is_some()
}

/// Envelopes whose canonical encoding the fast path should take, and some
/// it must leave to the JSON parse (strings that need escapes).
fn fast_path_corpus() -> Vec<(Vec<u8>, bool)> {
    let keys: Vec<SigningKey> = (0..18).map(test_key).collect();
    let mut out = Vec::new();
    let (_, example_json) = example();
    let example_env = Envelope::parse(&example_json).unwrap();
    out.push((example_env.to_canonical_json(), true));
    for (payload_type, plain) in [
        (PAYLOAD_TYPE_IN_TOTO, true),
        ("t", true),
        ("text/\u{e9}\u{7f}", true),
        ("text/\"x\"", false),
        ("a\\b", false),
        ("tab\there", false),
        ("ctl\u{85}", true), // a C1 control: plain JSON, refused by the field rules
    ] {
        for len in [1, 2, 3, 100, 2401] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 13 % 256) as u8).collect();
            for n in [1, 2, 16, 17] {
                let mut env = Envelope::sign(payload_type, &payload, &keys[0]);
                for k in &keys[1..n] {
                    let more = Envelope::sign(payload_type, &payload, k);
                    env.signatures.push(more.signatures[0].clone());
                }
                out.push((env.to_canonical_json(), plain && n <= MAX_SIGNATURES));
            }
        }
    }
    let mut env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"x", &keys[1]);
    for (keyid, plain) in [
        ("", true),
        ("\u{e9}t\u{e9}", true),
        ("q\"uote", false),
        ("back\\slash", false),
        ("new\nline", false),
        (&"k".repeat(MAX_KEYID_BYTES + 1), false),
    ] {
        env.signatures[0].keyid = keyid.to_owned();
        out.push((
            env.to_canonical_json(),
            plain && keyid.len() <= MAX_KEYID_BYTES,
        ));
    }
    // The same signature twice: plain, but refused (DuplicateSignature).
    let mut env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"x", &keys[2]);
    env.signatures.push(env.signatures[0].clone());
    out.push((env.to_canonical_json(), false));
    out
}

/// The fast path takes the canonical encoding of every valid envelope with
/// plain strings, and agrees with the JSON parse on all of them and on every
/// other envelope of the corpus (escaped strings, control characters, too
/// many or repeated signatures, over-long keyids).
#[test]
fn fast_path_agrees_on_canonical_envelopes() {
    for (json, taken) in fast_path_corpus() {
        let valid = slow_parse(&json).is_ok();
        assert_eq!(
            check_fast_path(&json),
            taken && valid,
            "{}",
            String::from_utf8_lossy(&json)
        );
    }
}

/// Every one-byte change (xor with several masks), deletion and truncation
/// of small canonical envelopes, and insertions at sampled places of large
/// ones: the fast path and the JSON parse agree on each.
#[test]
fn fast_path_agrees_on_every_small_change() {
    let k = test_key(9);
    let mut two = Envelope::sign("t", b"ab", &k);
    two.signatures
        .push(Envelope::sign("t", b"ab", &test_key(10)).signatures[0].clone());
    let inputs = [
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"hello", &k).to_canonical_json(),
        two.to_canonical_json(),
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &[7; 400], &k).to_canonical_json(),
    ];
    let mut taken = 0;
    let mut checked = 0;
    for json in &inputs {
        for pos in 0..json.len() {
            for mask in [
                0x01,
                0x02,
                0x20,
                0x40,
                0x80,
                0x5c ^ json[pos],
                0x22 ^ json[pos],
            ] {
                let mut m = json.clone();
                m[pos] ^= mask;
                taken += usize::from(check_fast_path(&m));
                checked += 1;
            }
            let mut m = json.clone();
            m.remove(pos);
            check_fast_path(&m);
            check_fast_path(&json[..pos]);
            for b in [b'"', b',', b' ', b'A', b'\\', b'}'] {
                let mut m = json.clone();
                m.insert(pos, b);
                check_fast_path(&m);
            }
        }
    }
    // Some changes keep the envelope canonical and valid (another payload
    // or keyid character, a payload type of the same length).
    assert!(taken > 0 && taken < checked, "{taken} of {checked}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

    /// Envelopes with arbitrary payloads, payload types and keyids, and
    /// random bytes spliced into their encoding: the fast path and the JSON
    /// parse agree.
    #[test]
    fn fast_path_agrees_on_generated_envelopes(
        payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        payload_type in "[ -~\u{80}-\u{a0}\u{e9}\t\n]{0,12}",
        keyid in "[ -~\u{85}\u{e9}\n]{0,70}",
        nsig in 1usize..4,
        splice in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        at in 0usize..10_000,
        cut in 0usize..3,
    ) {
        let mut env = Envelope::unsigned(&payload_type, &payload);
        for i in 0..nsig {
            let s = Envelope::sign(&payload_type, &payload, &test_key(i as u8));
            env.signatures.push(EnvelopeSignature { keyid: keyid.clone(), ..s.signatures[0].clone() });
        }
        let json = env.to_canonical_json();
        check_fast_path(&json);
        let at = at % (json.len() + 1);
        let mut m = json[..at].to_vec();
        m.extend_from_slice(&splice);
        m.extend_from_slice(&json[(at + cut).min(json.len())..]);
        check_fast_path(&m);
    }
}

/// `last_index_of` finds what `windows().rposition()` finds: every needle
/// of up to 3 bytes over every haystack of up to 6 bytes from {a, b}, and
/// the two needles the entry and envelope parses use.
#[test]
fn last_index_of_matches_windows() {
    fn words(max: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max {
            let next: Vec<Vec<u8>> = last
                .iter()
                .flat_map(|w: &Vec<u8>| [b'a', b'b'].map(|c| [w.as_slice(), &[c]].concat()))
                .collect();
            out.extend(next.iter().cloned());
            last = next;
        }
        out
    }
    let reference =
        |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).rposition(|w| w == needle);
    for needle in words(3).iter().filter(|n| !n.is_empty()) {
        for hay in words(6) {
            assert_eq!(
                last_index_of(&hay, needle),
                reference(&hay, needle),
                "{hay:?} {needle:?}"
            );
        }
    }
    let json = Envelope::sign("a\",\"payloadType\":\"", b"x", &test_key(1)).to_canonical_json();
    for needle in [
        &b"\",\"payloadType\":\""[..],
        b",\"integratedTime\":",
        b"\"",
    ] {
        assert_eq!(last_index_of(&json, needle), reference(&json, needle));
    }
}
