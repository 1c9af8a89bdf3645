//! Evidence tests: a log built in memory from the `spec/examples` key-binding and
//! data-handling series (signed with the examples' test keys), cosigned by test
//! witnesses under a 2-of-3 policy; the round trip; every tampering failing with its
//! named check; strict parsing; a property test of parse(serialize(e)) == e.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use crate::claim::Timestamp;
use crate::cosignature::CosignerKey;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::entry::LogEntry;
use crate::merkle::{leaf_hash, prove_inclusion, stored_hashes, tree_hash};
use crate::note::{KeyName, KeyType, Note, SignerKey};
use crate::policy::Policy;
use crate::proof_bundle::ProofBundle;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");
const ORIGIN: &str = "log.test/evidence";

fn example_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLES}{name}")).unwrap()
}

fn key(name: &str) -> SigningKey {
    let keys: Value = serde_json::from_slice(&example_bytes("test-keys.json")).unwrap();
    let seed = hex::decode(keys["keys"][name]["seedHex"].as_str().unwrap()).unwrap();
    SigningKey::from_bytes(&seed.try_into().unwrap())
}

fn unix(ts: &str) -> u64 {
    Timestamp::parse(ts).unwrap().unix() as u64
}

/// The canonical envelope JSON over `payload`, signed by every key in `signers`.
fn envelope(payload: &[u8], signers: &[&SigningKey]) -> Vec<u8> {
    let sigs: Vec<Value> = signers
        .iter()
        .map(|k| {
            let e = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload, k);
            let s = &e.signatures()[0];
            json!({"keyid": s.keyid, "sig": STANDARD.encode(s.sig.to_bytes())})
        })
        .collect();
    let json = serde_json::to_vec(&json!({
        "payload": STANDARD.encode(payload),
        "payloadType": PAYLOAD_TYPE_IN_TOTO,
        "signatures": sigs,
    }))
    .unwrap();
    Envelope::parse(&json).unwrap().to_canonical_json()
}

fn entry(file: &str, signers: &[&str], time: &str) -> Vec<u8> {
    let keys: Vec<SigningKey> = signers.iter().map(|s| key(s)).collect();
    let refs: Vec<&SigningKey> = keys.iter().collect();
    LogEntry::encode(&envelope(&example_bytes(file), &refs), unix(time)).unwrap()
}

/// Where the examples' `supersedes` put each version.
const KB1: u64 = 3;
const DH1: u64 = 12;
const KB2: u64 = 1100;
const DH2: u64 = 1187;
const KB3: u64 = 1200;
const SIZE: u64 = 1210;

struct Fixture {
    entries: Vec<Vec<u8>>,
    stored: Vec<Hash>,
    witnesses: Vec<CosignerKey>,
    log_key: SignerKey,
    policy: Policy,
}

impl Fixture {
    fn new() -> Fixture {
        let mut entries: Vec<Vec<u8>> = (0..SIZE)
            .map(|i| format!("filler {i}").into_bytes())
            .collect();
        entries[KB1 as usize] = entry(
            "key-binding-1-enroll.json",
            &["root1"],
            "2025-05-20T10:00:00Z",
        );
        entries[DH1 as usize] = entry(
            "data-handling-1.json",
            &["signing1"],
            "2025-06-01T09:00:00Z",
        );
        entries[KB2 as usize] = entry(
            "key-binding-2-rotate.json",
            &["root1", "root2"],
            "2025-12-01T12:00:00Z",
        );
        entries[DH2 as usize] = entry(
            "data-handling-2.json",
            &["signing1"],
            "2025-12-02T08:00:00Z",
        );
        entries[KB3 as usize] = entry(
            "key-binding-3-revoke.json",
            &["root2"],
            "2026-03-01T09:00:00Z",
        );
        let mut stored: Vec<Hash> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let add = stored_hashes(i as u64, leaf_hash(e), &stored).unwrap();
            stored.extend(add);
        }
        let log_key =
            SignerKey::from_seed(KeyName::new(ORIGIN).unwrap(), KeyType::Ed25519, [7; 32]).unwrap();
        let witnesses: Vec<CosignerKey> = (1..=3u8)
            .map(|i| {
                CosignerKey::from_seed(KeyName::new(&format!("w{i}.test")).unwrap(), [i; 32])
                    .unwrap()
            })
            .collect();
        let mut text = format!("log {}\n", log_key.verifier());
        for (i, w) in witnesses.iter().enumerate() {
            text.push_str(&format!("witness W{} {}\n", i + 1, w.verifier().key()));
        }
        text.push_str("group two 2 W1 W2 W3\nquorum two\n");
        let policy = Policy::parse(text.as_bytes()).unwrap();
        Fixture {
            entries,
            stored,
            witnesses,
            log_key,
            policy,
        }
    }

    /// The checkpoint of the first `size` entries, signed, cosigned by `witnesses`.
    fn note(&self, size: u64, witnesses: &[usize]) -> Note {
        let root = tree_hash(size, &self.stored).unwrap();
        let cp = Checkpoint::new(Origin::new(ORIGIN).unwrap(), size, root);
        let signed = SignedCheckpoint::sign(&cp, &self.log_key).unwrap();
        let mut note = signed.note().clone();
        for &w in witnesses {
            let sig = self.witnesses[w]
                .sign(&cp, 1_780_000_000 + w as u64)
                .unwrap();
            note.add_signature(sig).unwrap();
        }
        note
    }

    fn binding(&self, index: u64, size: u64) -> BindingProof {
        BindingProof {
            index,
            entry: self.entries[index as usize].clone(),
            proof: prove_inclusion(size, index, &self.stored).unwrap(),
        }
    }

    /// Evidence for `index` under the checkpoint of `size`, with `bindings`.
    fn evidence(&self, index: u64, bindings: &[u64], size: u64, witnesses: &[usize]) -> Evidence {
        let proof = ProofBundle::new(
            self.entries[index as usize].clone(),
            index,
            prove_inclusion(size, index, &self.stored).unwrap(),
            self.note(size, witnesses),
        )
        .unwrap();
        let bindings = bindings.iter().map(|&b| self.binding(b, size)).collect();
        Evidence::new(bindings, proof).unwrap()
    }

    fn dh2(&self) -> Evidence {
        self.evidence(DH2, &[KB1, KB2], SIZE, &[0, 2])
    }
}

/// Replaces the tlog-proof's entry, keeping everything else.
fn with_entry(ev: &Evidence, entry: Vec<u8>) -> Evidence {
    let p = ev.proof();
    let proof = ProofBundle::new(entry, p.index(), p.proof().to_vec(), p.note().clone()).unwrap();
    Evidence::new(ev.bindings().to_vec(), proof).unwrap()
}

fn check(ev: &Evidence, policy: &Policy) -> &'static str {
    ev.verify(policy).unwrap_err().check()
}

#[test]
fn round_trip_and_verify() {
    let f = Fixture::new();
    let ev = f.dh2();
    let bytes = ev.to_bytes();
    assert_eq!(Evidence::parse(&bytes).unwrap(), ev);
    assert_eq!(Evidence::parse(&bytes).unwrap().to_bytes(), bytes);
    let proven = ev.verify(&f.policy).unwrap();
    assert_eq!(proven.index, DH2);
    assert_eq!(proven.domain.as_str(), "chat.example");
    assert_eq!(proven.signers, vec![key_id("signing1")]);
    assert_eq!(proven.bindings.len(), 2);
    assert_eq!(
        proven.bindings[1].signed_by,
        vec![key_id("root1"), key_id("root2")]
    );
    let witnesses: Vec<String> = proven
        .checkpoint
        .cosignatures()
        .iter()
        .map(|w| w.witness().to_string())
        .collect();
    assert_eq!(witnesses, ["W1", "W3"]);
    let text = proven.transcript();
    assert!(text.contains("ExampleChat"), "{text}");
    assert!(text.contains("logged at index 1187"), "{text}");
    assert!(text.contains("witnessed by W1"), "{text}");
    let j = proven.to_json();
    assert_eq!(j["index"], DH2);
    assert_eq!(j["checkpoint"]["witnesses"].as_array().unwrap().len(), 2);

    // A key binding as the target: the rotation, proven by the enrollment.
    let kb = f.evidence(KB2, &[KB1], SIZE, &[0, 1]);
    let proven = kb.verify(&f.policy).unwrap();
    assert_eq!(proven.signers, vec![key_id("root1"), key_id("root2")]);
    // The enrollment alone.
    assert!(
        f.evidence(KB1, &[], SIZE, &[1, 2])
            .verify(&f.policy)
            .is_ok()
    );
    // A claim before the rotation needs only the enrollment.
    assert!(
        f.evidence(DH1, &[KB1], 100, &[0, 1])
            .verify(&f.policy)
            .is_ok()
    );
}

fn key_id(name: &str) -> crate::claim::Sha256Digest {
    crate::claim::PublicKey(key(name).verifying_key().to_bytes()).keyid()
}

#[test]
fn checkpoint_checks() {
    let f = Fixture::new();
    // Below quorum: one cosignature of a 2-of-3 policy.
    let ev = f.evidence(DH2, &[KB1, KB2], SIZE, &[1]);
    assert_eq!(
        ev.verify(&f.policy),
        Err(EvidenceError::Checkpoint(PolicyError::QuorumNotSatisfied))
    );
    // A log signature that does not verify.
    let good = f.dh2().to_bytes();
    let text = String::from_utf8(good).unwrap();
    let marker = format!("\u{2014} {ORIGIN} ");
    let at = text.rfind(&marker).unwrap() + marker.len();
    let mut bytes = text.into_bytes();
    // Flip a base64 character inside the log's signature (past the 4-byte key id).
    let i = at + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let ev = Evidence::parse(&bytes).unwrap();
    assert_eq!(check(&ev, &f.policy), "checkpoint");
    // Signed by another log key with the same name.
    let other =
        SignerKey::from_seed(KeyName::new(ORIGIN).unwrap(), KeyType::Ed25519, [8; 32]).unwrap();
    let policy =
        Policy::parse(format!("log {}\nquorum none\n", other.verifier()).as_bytes()).unwrap();
    assert_eq!(check(&f.dh2(), &policy), "checkpoint");
}

#[test]
fn inclusion_checks() {
    let f = Fixture::new();
    let ev = f.dh2();
    // One entry byte changed.
    let mut e = ev.entry().to_vec();
    let last = e.len() - 2;
    e[last] ^= 1;
    assert!(matches!(
        with_entry(&ev, e).verify(&f.policy),
        Err(EvidenceError::EntryInclusion { index: DH2, .. })
    ));
    // A proof hash changed.
    let mut proof = ev.proof().proof().to_vec();
    proof[3].0[0] ^= 1;
    let p = ProofBundle::new(ev.entry().to_vec(), DH2, proof, ev.proof().note().clone()).unwrap();
    let tampered = Evidence::new(ev.bindings().to_vec(), p).unwrap();
    assert_eq!(check(&tampered, &f.policy), "inclusion");
    // A binding's proof hash changed.
    let mut bindings = ev.bindings().to_vec();
    bindings[1].proof[0].0[5] ^= 1;
    let tampered = Evidence::new(bindings, ev.proof().clone()).unwrap();
    assert!(matches!(
        tampered.verify(&f.policy),
        Err(EvidenceError::BindingInclusion { index: KB2, .. })
    ));
    // A binding entry byte changed.
    let mut bindings = ev.bindings().to_vec();
    bindings[0].entry[20] ^= 1;
    let tampered = Evidence::new(bindings, ev.proof().clone()).unwrap();
    assert_eq!(check(&tampered, &f.policy), "inclusion");
}

#[test]
fn binding_checks() {
    let f = Fixture::new();
    // A binding swapped for a data-handling entry.
    let ev = f.evidence(DH2, &[KB1, DH1], SIZE, &[0, 1]);
    assert!(matches!(
        ev.verify(&f.policy),
        Err(EvidenceError::BindingChain { index: DH1, .. })
    ));
    // Starting after the enrollment.
    let ev = f.evidence(DH2, &[KB2], SIZE, &[0, 1]);
    assert_eq!(check(&ev, &f.policy), "key-bindings");
    // No binding at all.
    let ev = f.evidence(DH2, &[], SIZE, &[0, 1]);
    assert!(matches!(
        ev.verify(&f.policy),
        Err(EvidenceError::NoBinding { .. })
    ));
    // A filler entry swapped in as a binding: not a log entry.
    let ev = f.evidence(DH2, &[KB1, 5], SIZE, &[0, 1]);
    assert!(matches!(
        ev.verify(&f.policy),
        Err(EvidenceError::Entry { index: 5, .. })
    ));
}

#[test]
fn key_checks() {
    let mut f = Fixture::new();
    // A claim integrated after the revocation of its signing key (signing1 revoked
    // since 2026-02-20 by KB3): wrong key for the domain at that time.
    f.entries.push(entry(
        "data-handling-2.json",
        &["signing1"],
        "2026-03-02T00:00:00Z",
    ));
    let leaf = leaf_hash(f.entries.last().unwrap());
    let add = stored_hashes(SIZE, leaf, &f.stored).unwrap();
    f.stored.extend(add);
    let ev = f.evidence(SIZE, &[KB1, KB2, KB3], SIZE + 1, &[0, 1]);
    assert!(matches!(
        ev.verify(&f.policy),
        Err(EvidenceError::Key {
            error: ClaimError::KeyRevoked { .. },
            ..
        })
    ));
    // Signed by a key that is not a signing key of the domain (a root key).
    f.entries.push(entry(
        "data-handling-2.json",
        &["root2"],
        "2026-01-02T00:00:00Z",
    ));
    let leaf = leaf_hash(f.entries.last().unwrap());
    let add = stored_hashes(SIZE + 1, leaf, &f.stored).unwrap();
    f.stored.extend(add);
    let ev = f.evidence(SIZE + 1, &[KB1, KB2, KB3], SIZE + 2, &[0, 1]);
    assert!(matches!(
        ev.verify(&f.policy),
        Err(EvidenceError::Key {
            error: ClaimError::KeyNotBound { .. },
            ..
        })
    ));
    // A forged signature by a bound key.
    let good = entry(
        "data-handling-2.json",
        &["signing1"],
        "2026-01-02T00:00:00Z",
    );
    let parsed: Value = serde_json::from_slice(&good).unwrap();
    let mut parsed = parsed;
    let sig = parsed["envelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = STANDARD.decode(sig).unwrap();
    raw[0] ^= 1;
    parsed["envelope"]["signatures"][0]["sig"] = json!(STANDARD.encode(raw));
    let env = Envelope::parse(&serde_json::to_vec(&parsed["envelope"]).unwrap()).unwrap();
    f.entries
        .push(LogEntry::encode(&env.to_canonical_json(), unix("2026-01-02T00:00:00Z")).unwrap());
    let leaf = leaf_hash(f.entries.last().unwrap());
    let add = stored_hashes(SIZE + 2, leaf, &f.stored).unwrap();
    f.stored.extend(add);
    let ev = f.evidence(SIZE + 2, &[KB1, KB2, KB3], SIZE + 3, &[0, 1]);
    assert_eq!(check(&ev, &f.policy), "signature");
}

#[test]
fn strict_parsing() {
    let f = Fixture::new();
    let good = String::from_utf8(f.dh2().to_bytes()).unwrap();
    let b64_first = STANDARD.encode(&f.entries[KB1 as usize]);
    let bad = [
        // Trailing data after the note.
        format!("{good}x"),
        format!("{good}\n"),
        // Header.
        good.replacen("claimlog.dev/evidence/v1", "claimlog.dev/evidence/v2", 1),
        good.replacen(
            "claimlog.dev/evidence/v1\n",
            "claimlog.dev/evidence/v1 \n",
            1,
        ),
        // Non-canonical index.
        good.replacen("binding 3 ", "binding 03 ", 1),
        good.replacen("binding 3 ", "binding  3 ", 1),
        // Non-canonical base64: extra padding, a line break inside.
        good.replacen(&b64_first, &format!("{b64_first}="), 1),
        good.replacen(
            &b64_first,
            &format!("{}\n{}", &b64_first[..8], &b64_first[8..]),
            1,
        ),
        // Indexes out of order.
        good.replacen("binding 3 ", "binding 1101 ", 1),
        // Blank line missing.
        good.replacen("\n\nc2sp.org", "\nc2sp.org", 1),
        // A hash line before any binding.
        good.replacen(
            "claimlog.dev/evidence/v1\n",
            &format!("claimlog.dev/evidence/v1\n{}\n", Hash([1; 32]).to_base64()),
            1,
        ),
        // The tlog-proof without the entry.
        {
            let start = good.find("extra ").unwrap();
            let end = start + good[start..].find('\n').unwrap() + 1;
            format!("{}{}", &good[..start], &good[end..])
        },
        // CRLF.
        good.replace('\n', "\r\n"),
    ];
    for (i, b) in bad.iter().enumerate() {
        let Err(err) = Evidence::parse(b.as_bytes()) else {
            panic!("case {i} parsed");
        };
        assert_eq!(err.check(), "format", "case {i}: {err}");
    }
    // Oversized.
    let huge = vec![b'a'; MAX_EVIDENCE_SIZE + 1];
    assert!(matches!(
        Evidence::parse(&huge),
        Err(EvidenceError::TooLarge { .. })
    ));
    // A binding not below the entry's index.
    let ev = f.dh2();
    let p = ev.proof().clone();
    let mut b = ev.bindings().to_vec();
    b[1].index = DH2;
    assert_eq!(Evidence::new(b, p).unwrap_err().check(), "format");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parse_serialize_round_trip(
        bindings in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..300),
             proptest::collection::vec(any::<[u8; 32]>(), 0..5)),
            0..5,
        ),
        entry in proptest::collection::vec(any::<u8>(), 1..300),
        gaps in proptest::collection::vec(1u64..1000, 6),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..8),
    ) {
        let f = FIXED.with(|n| n.clone());
        let mut index = 0;
        let bindings: Vec<BindingProof> = bindings
            .into_iter()
            .zip(&gaps)
            .map(|((entry, proof), gap)| {
                index += gap;
                BindingProof { index, entry, proof: proof.into_iter().map(Hash).collect() }
            })
            .collect();
        let pb = ProofBundle::new(
            entry,
            index + gaps[5],
            proof.into_iter().map(Hash).collect(),
            f,
        ).unwrap();
        let ev = Evidence::new(bindings, pb).unwrap();
        let bytes = ev.to_bytes();
        prop_assert_eq!(Evidence::parse(&bytes).unwrap(), ev);
    }
}

thread_local! {
    /// A signed checkpoint note for the property test (its validity is not the point).
    static FIXED: Note = {
        let key = SignerKey::from_seed(KeyName::new(ORIGIN).unwrap(), KeyType::Ed25519, [9; 32])
            .unwrap();
        let cp = Checkpoint::new(Origin::new(ORIGIN).unwrap(), 5, Hash([2; 32]));
        SignedCheckpoint::sign(&cp, &key).unwrap().note().clone()
    };
}
