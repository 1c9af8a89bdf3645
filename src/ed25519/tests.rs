use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha512};

use super::*;
use crate::note::{KeyType, Signature as NoteSignature, VerifierKey};

const NOTE_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vectors/note/signed-note-vectors.json"
));

/// The group order l, little endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// p = 2^255 - 19, little endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Both verifiers' answers, asserted equal: `None` when the key does not
/// decode (asserted for both), else whether the signature verifies.
fn same(key: &[u8; 32], msg: &[u8], sig: &Signature) -> Option<bool> {
    let dalek = VerifyingKey::from_bytes(key).map(|k| k.verify_strict(msg, sig).is_ok());
    let ours = PreparedKey::from_bytes(key).map(|k| {
        let verdict = k.verify_strict(msg, sig);
        // The two halves, alone and in a batch, say the same.
        let challenge = k.challenge(msg, sig);
        assert_eq!(challenge.holds(), verdict);
        assert_eq!(
            holds_all(&[challenge, Challenge::FAILED, challenge]),
            [verdict, false, verdict]
        );
        verdict
    });
    assert_eq!(
        dalek.ok(),
        ours.ok(),
        "key {} sig {}",
        hex::encode(key),
        hex::encode(sig.to_bytes())
    );
    ours.ok()
}

fn sig_from(r: &[u8; 32], s: &[u8; 32]) -> Signature {
    Signature::from_components(*r, *s)
}

/// `a + b` as 256-bit little-endian integers, `None` on overflow.
fn add_256(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    (carry == 0).then_some(out)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The challenge `k = SHA-512(R || A || M) mod l`.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

#[test]
fn valid_signatures_verify() {
    for seed in 0..8 {
        let sk = key(seed);
        let msg = vec![seed; usize::from(seed) * 100];
        let sig = sk.sign(&msg);
        assert_eq!(same(sk.verifying_key().as_bytes(), &msg, &sig), Some(true));
        let prepared = PreparedKey::new(&sk.verifying_key());
        assert_eq!(prepared.as_bytes(), sk.verifying_key().as_bytes());
        assert_eq!(prepared.verifying_key(), &sk.verifying_key());
        assert!(!prepared.is_weak());
        assert!(!prepared.verify_strict(b"other", &sig));
    }
}

#[test]
fn s_out_of_range_is_rejected() {
    let sk = key(1);
    let a = sk.verifying_key().to_bytes();
    let sig = sk.sign(b"m");
    let r = *sig.r_bytes();
    // S = l, S = 2^256 - 1, and the valid S plus l (the same value mod l).
    let plus_l = add_256(sig.s_bytes(), &L).expect("S < l, so S + l < 2^254");
    for s in [L, [0xff; 32], plus_l] {
        assert_eq!(same(&a, b"m", &sig_from(&r, &s)), Some(false));
    }
    // S = l - 1 is canonical: checked (and false) on the equation alone.
    let mut l_minus_1 = L;
    l_minus_1[0] -= 1;
    assert_eq!(same(&a, b"m", &sig_from(&r, &l_minus_1)), Some(false));
}

#[test]
fn small_order_table_is_the_eight_torsion() {
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        assert_eq!(SMALL_ORDER[i], t.compress().to_bytes(), "point {i}");
        assert!(t.is_small_order());
    }
}

#[test]
fn r_not_on_the_curve_is_rejected() {
    let sk = key(2);
    let a = sk.verifying_key().to_bytes();
    let sig = sk.sign(b"m");
    let mut tried = 0;
    for y in 2u8..=255 {
        let mut r = [0u8; 32];
        r[0] = y;
        if CompressedEdwardsY(r).decompress().is_some() {
            continue;
        }
        tried += 1;
        assert_eq!(same(&a, b"m", &sig_from(&r, sig.s_bytes())), Some(false));
    }
    assert!(tried > 50, "{tried}");
}

#[test]
fn r_with_non_canonical_y_is_rejected() {
    let sk = key(3);
    let a = sk.verifying_key().to_bytes();
    let sig = sk.sign(b"m");
    // y = p + t for t in 0..19: every value of y >= p, with both sign bits;
    // those that decode are valid points written non-canonically.
    let mut decoded = 0;
    for t in 0u8..19 {
        for sign in [0, 0x80] {
            let mut r = P;
            r[0] += t;
            r[31] |= sign;
            decoded += usize::from(CompressedEdwardsY(r).decompress().is_some());
            assert_eq!(same(&a, b"m", &sig_from(&r, sig.s_bytes())), Some(false));
        }
    }
    assert!(decoded > 0);
    // The valid R with its sign bit flipped is a different (valid) point.
    let mut r = *sig.r_bytes();
    r[31] ^= 0x80;
    assert_eq!(same(&a, b"m", &sig_from(&r, sig.s_bytes())), Some(false));
}

#[test]
fn small_order_r_is_rejected_even_when_the_equation_holds() {
    // A = identity, R = identity, S = 0: [0]B - [k]A = identity = R, so the
    // unchecked equation holds; strict verification must refuse on the small
    // order (of R and A). Also with the identity's non-canonical encodings.
    let identity = EdwardsPoint::default().compress().to_bytes();
    let mut identity_signed = identity;
    identity_signed[31] |= 0x80;
    let mut identity_p_plus_1 = P;
    identity_p_plus_1[0] += 1;
    for a in [identity, identity_signed, identity_p_plus_1] {
        for r in [identity, identity_signed, identity_p_plus_1] {
            let sig = sig_from(&r, &[0; 32]);
            assert_eq!(same(&a, b"m", &sig), Some(false));
            // The non-strict check accepts the canonical R (it compares
            // bytes with the canonical compression): the case is meaningful.
            let vk = VerifyingKey::from_bytes(&a).unwrap();
            assert_eq!(vk.verify(b"m", &sig).is_ok(), r == identity);
            assert!(PreparedKey::from_bytes(&a).unwrap().is_weak());
        }
    }
    // Every torsion point as R under a good key, with the good S.
    let sk = key(4);
    let sig = sk.sign(b"m");
    let with_r = |r: &[u8; 32]| {
        same(
            sk.verifying_key().as_bytes(),
            b"m",
            &sig_from(r, sig.s_bytes()),
        )
    };
    for t in EIGHT_TORSION {
        let mut r = t.compress().to_bytes();
        assert_eq!(with_r(&r), Some(false));
        // The x = 0 points (y = 1, y = -1) with the sign bit set.
        if t.compress().to_bytes()[31] & 0x80 == 0 {
            r[31] |= 0x80;
            assert_eq!(with_r(&r), Some(false));
        }
    }
}

#[test]
fn identity_r_under_a_good_key_is_rejected_though_the_equation_holds() {
    // With the secret scalar a, S = k * a makes [S]B - [k]A the identity,
    // so R = identity satisfies the equation under a key of full order:
    // only the small-order rule on R refuses it.
    let sk = key(6);
    let a_bytes = sk.verifying_key().to_bytes();
    let a = Scalar::from_bytes_mod_order(sk.to_scalar().to_bytes());
    let r = EdwardsPoint::default().compress().to_bytes();
    let s = challenge(&r, &a_bytes, b"m") * a;
    let sig = sig_from(&r, &s.to_bytes());
    // The non-strict check accepts it: the case is meaningful.
    assert!(sk.verifying_key().verify(b"m", &sig).is_ok());
    assert_eq!(same(&a_bytes, b"m", &sig), Some(false));
}

#[test]
fn mixed_order_r_under_a_good_key_is_rejected() {
    let sk = key(5);
    let a = sk.verifying_key().to_bytes();
    let sig = sk.sign(b"m");
    let r = CompressedEdwardsY(*sig.r_bytes()).decompress().unwrap();
    for t in &EIGHT_TORSION[1..] {
        let mixed = (r + t).compress().to_bytes();
        assert_eq!(
            same(&a, b"m", &sig_from(&mixed, sig.s_bytes())),
            Some(false)
        );
    }
}

#[test]
fn small_order_keys_reject_everything() {
    for t in EIGHT_TORSION {
        let a = t.compress().to_bytes();
        // R = -[k]A for S = 0 makes the equation hold when R's challenge
        // happens to give it; try every torsion R.
        for r in EIGHT_TORSION {
            let sig = sig_from(&r.compress().to_bytes(), &[0; 32]);
            assert_eq!(same(&a, b"m", &sig), Some(false));
        }
        assert!(PreparedKey::from_bytes(&a).unwrap().is_weak());
    }
}

/// A key with a torsion component, A = [a]B + T_A, and signatures made with
/// its secret scalar: `R = [r]B + T_R`, `S = r + k a`. Then
/// `[S]B - [k]A = [r]B - [k]T_A`, which equals R exactly when
/// `-[k]T_A = T_R`. dalek's `verify_strict` checks neither A nor R for
/// torsion (only small order), so it accepts those and rejects the rest;
/// ours must do the same, case by case.
#[test]
fn mixed_order_key_matches_dalek_case_by_case() {
    let secret = Scalar::from_bytes_mod_order([7; 32]);
    let (mut accepted, mut rejected) = (0, 0);
    for (ti, t_a) in EIGHT_TORSION.iter().enumerate().skip(1) {
        let a_point = ED25519_BASEPOINT_POINT * secret + t_a;
        let a = a_point.compress().to_bytes();
        for i in 0u8..24 {
            let nonce = Scalar::from_bytes_mod_order([i.wrapping_add(ti as u8 * 31); 32]);
            let t_r = EIGHT_TORSION[usize::from(i) % 8];
            let r = (ED25519_BASEPOINT_POINT * nonce + t_r)
                .compress()
                .to_bytes();
            let msg = [i, ti as u8];
            let k = challenge(&r, &a, &msg);
            let s = nonce + k * secret;
            let sig = sig_from(&r, s.as_bytes());
            let expected = -(t_a * k) == t_r;
            assert_eq!(same(&a, &msg, &sig), Some(expected), "T_A {ti}, i {i}");
            if expected {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
    }
    assert!(accepted > 0 && rejected > 0, "{accepted} {rejected}");
}

#[test]
fn non_canonical_key_encodings_agree() {
    // Every y >= p with both sign bits: some decode (valid points written
    // non-canonically), some do not; both sides must agree on which, and
    // on every signature.
    let sig = key(6).sign(b"m");
    let mut decoded = 0;
    for t in 0u8..19 {
        for sign in [0, 0x80] {
            let mut a = P;
            a[0] += t;
            a[31] |= sign;
            if same(&a, b"m", &sig).is_some() {
                decoded += 1;
            }
            let r = EdwardsPoint::default().compress().to_bytes();
            same(&a, b"m", &sig_from(&r, &[0; 32]));
        }
    }
    assert!(decoded > 0);
    assert_eq!(PreparedKey::from_bytes(&[2; 32]).err(), {
        VerifyingKey::from_bytes(&[2; 32])
            .err()
            .map(|_| Ed25519Error::InvalidKey)
    });
}

/// RFC 8032 §7.1, TEST 1 to TEST 3.
#[test]
fn rfc8032_vectors() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
             18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    for (secret, public, msg, sig) in cases {
        let sk = SigningKey::from_bytes(&hex::decode(secret).unwrap().try_into().unwrap());
        let public: [u8; 32] = hex::decode(public).unwrap().try_into().unwrap();
        assert_eq!(sk.verifying_key().to_bytes(), public);
        let msg = hex::decode(msg).unwrap();
        let sig_bytes: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
        let sig = Signature::from_bytes(&sig_bytes);
        assert_eq!(sk.sign(&msg), sig);
        assert_eq!(same(&public, &msg, &sig), Some(true));
        let mut forged = sig_bytes;
        forged[63] ^= 0x01;
        assert_eq!(
            same(&public, &msg, &Signature::from_bytes(&forged)),
            Some(false)
        );
    }
}

/// Every Ed25519 (type 0x01) signature line of the signed-note vectors whose
/// name and key ID match one of the vector's verifier keys: both verifiers
/// agree, the vector's `verified_signers` verify, and the one known-bad
/// signature does not.
#[test]
fn signed_note_vectors() {
    let doc: Value = serde_json::from_str(NOTE_VECTORS).unwrap();
    let (mut good, mut bad, mut other) = (0, 0, 0);
    for v in doc["vectors"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        let Some(note) = v.get("note").and_then(Value::as_str) else {
            continue; // the invalid-UTF-8 vector: no signature is reached
        };
        let Some(split) = note.rfind("\n\n") else {
            continue; // malformed: no signature block
        };
        let (text, block) = (&note[..split + 1], &note[split + 2..]);
        let verifiers: Vec<VerifierKey> = v["verifiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| VerifierKey::parse(k.as_str().unwrap()).unwrap())
            .filter(|k| k.key_type() == KeyType::Ed25519)
            .collect();
        let expected_good: Vec<&str> = v
            .get("verified_signers")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
            .unwrap_or_default();
        for line in block.lines() {
            let Ok(sig) = NoteSignature::parse_line(line) else {
                continue;
            };
            let Some(vk) = verifiers
                .iter()
                .find(|k| k.name() == sig.name() && k.key_id() == sig.key_id())
            else {
                continue;
            };
            let public: [u8; 32] = vk.public_key().try_into().unwrap();
            // Not 64 bytes (the corrupted vector is 67): no Ed25519
            // signature at all, rejected before any verifier runs.
            let ok = match <[u8; 64]>::try_from(sig.signature()) {
                Ok(b) => same(&public, text.as_bytes(), &Signature::from_bytes(&b)),
                Err(_) => Some(false),
            };
            if expected_good.contains(&sig.name().as_str()) {
                assert_eq!(ok, Some(true), "{id}: {line}");
                good += 1;
            } else if id == "go-open-invalid-signature-known-key" {
                assert_eq!(ok, Some(false), "{id}");
                bad += 1;
            } else {
                // Malformed notes (text altered around a valid signature):
                // no expected verdict, only agreement (checked by `same`).
                other += 1;
            }
        }
    }
    // C2SP example, Peter (x4 vectors), Enoch, two sum.golang.org heads,
    // four signers of one head.
    assert!(good >= 10, "{good}");
    assert_eq!(bad, 1, "good {good} other {other}");
    assert!(other > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Valid signatures, and the same with one bit flipped in R, in S or in
    /// the message: our answer is dalek's every time.
    #[test]
    fn differential_against_dalek(
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..300),
        flip in 0usize..(512 + 8 * 300),
    ) {
        let sk = SigningKey::from_bytes(&seed);
        let a = sk.verifying_key().to_bytes();
        let sig = sk.sign(&msg);
        prop_assert_eq!(same(&a, &msg, &sig), Some(true));
        let mut sig_bytes = sig.to_bytes();
        let mut msg2 = msg.clone();
        if flip < 512 {
            sig_bytes[flip / 8] ^= 1 << (flip % 8);
        } else if !msg.is_empty() {
            let bit = (flip - 512) % (8 * msg.len());
            msg2[bit / 8] ^= 1 << (bit % 8);
        } else {
            sig_bytes[0] ^= 1;
        }
        prop_assert_eq!(same(&a, &msg2, &Signature::from_bytes(&sig_bytes)), Some(false));
    }

    /// Arbitrary key and signature bytes: both sides agree on the key and on
    /// the verdict.
    #[test]
    fn arbitrary_bytes_agree(
        a in any::<[u8; 32]>(),
        r in any::<[u8; 32]>(),
        s in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        same(&a, &msg, &sig_from(&r, &s));
    }

    /// A batch of valid and corrupted signatures under several keys:
    /// `holds_all` gives, in order, exactly dalek's verdict on each.
    #[test]
    fn holds_all_matches_dalek_per_signature(
        cases in proptest::collection::vec((0u8..4, any::<bool>(), 0usize..512), 0..40),
    ) {
        let msg = b"batch";
        let mut challenges = Vec::new();
        let mut expected = Vec::new();
        for (seed, corrupt, bit) in cases {
            let sk = key(seed);
            let mut bytes = sk.sign(msg).to_bytes();
            if corrupt {
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            let sig = Signature::from_bytes(&bytes);
            let prepared = PreparedKey::new(&sk.verifying_key());
            challenges.push(prepared.challenge(msg, &sig));
            expected.push(sk.verifying_key().verify_strict(msg, &sig).is_ok());
        }
        prop_assert_eq!(holds_all(&challenges), expected);
    }
}
