//! `claimlog verify-bundle` throughput: the pure work of one offline verification, i.e.
//! parsing an evidence file and running every check of `Evidence::verify` (log
//! signature, 2 of 3 witness cosignatures, the entry's and two key bindings' inclusion
//! proofs in a tree of 10^5 leaves, strict statement parsing and validation, key-binding
//! replay, DSSE signatures). Prints bundles/s. Process start-up and file reading, which
//! the command adds, are not included.
//!
//! The evidence is built from the `spec/examples` series (enrollment, rotation signed by
//! both roots, a claim signed by the first signing key) with the examples' test keys.
//!
//! Run: `cargo bench --no-default-features --bench verify_bundle`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::claim::Timestamp;
use claimlog::cosignature::CosignerKey;
use claimlog::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use claimlog::entry::LogEntry;
use claimlog::evidence::{BindingProof, Evidence};
use claimlog::merkle::{Hash, leaf_hash, prove_inclusion, stored_hashes, tree_hash};
use claimlog::note::{KeyName, KeyType, SignerKey};
use claimlog::policy::Policy;
use claimlog::proof_bundle::ProofBundle;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");
const SIZE: u64 = 100_000;
const ORIGIN: &str = "bench.test/log";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLES}{name}")).expect("spec/examples file")
}

fn test_key(name: &str) -> SigningKey {
    let keys: Value = serde_json::from_slice(&read("test-keys.json")).expect("test-keys.json");
    let seed = hex::decode(keys["keys"][name]["seedHex"].as_str().expect("seed")).expect("hex");
    SigningKey::from_bytes(&seed.try_into().expect("32 bytes"))
}

/// A log entry holding `file` signed by `signers`, integrated at `time`.
fn log_entry(file: &str, signers: &[&str], time: &str) -> Vec<u8> {
    let payload = read(file);
    let sigs: Vec<Value> = signers
        .iter()
        .map(|s| {
            let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, &test_key(s));
            let sig = &env.signatures()[0];
            json!({"keyid": sig.keyid, "sig": STANDARD.encode(sig.sig.to_bytes())})
        })
        .collect();
    let json = serde_json::to_vec(&json!({
        "payload": STANDARD.encode(&payload),
        "payloadType": PAYLOAD_TYPE_IN_TOTO,
        "signatures": sigs,
    }))
    .expect("json");
    let canonical = Envelope::parse(&json)
        .expect("envelope")
        .to_canonical_json();
    let at = Timestamp::parse(time).expect("time").unix() as u64;
    LogEntry::encode(&canonical, at).expect("entry")
}

/// The evidence file for the second data-handling version (index 1187 as its
/// example's `supersedes` chain requires) and the policy that accepts it.
fn fixture() -> (Vec<u8>, Policy) {
    let mut entries: Vec<Vec<u8>> = (0..SIZE).map(|i| i.to_le_bytes().to_vec()).collect();
    entries[3] = log_entry(
        "key-binding-1-enroll.json",
        &["root1"],
        "2025-05-20T10:00:00Z",
    );
    entries[1100] = log_entry(
        "key-binding-2-rotate.json",
        &["root1", "root2"],
        "2025-12-01T12:00:00Z",
    );
    entries[1187] = log_entry(
        "data-handling-2.json",
        &["signing1"],
        "2025-12-02T08:00:00Z",
    );
    let mut stored: Vec<Hash> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let add = stored_hashes(i as u64, leaf_hash(e), &stored).expect("append");
        stored.extend(add);
    }
    let log_key = SignerKey::from_seed(
        KeyName::new(ORIGIN).expect("name"),
        KeyType::Ed25519,
        [7; 32],
    )
    .expect("log key");
    let witnesses: Vec<CosignerKey> = (1..=3u8)
        .map(|i| {
            CosignerKey::from_seed(KeyName::new(&format!("w{i}.test")).expect("name"), [i; 32])
                .expect("witness key")
        })
        .collect();
    let mut policy = format!("log {}\n", log_key.verifier());
    for (i, w) in witnesses.iter().enumerate() {
        policy.push_str(&format!("witness W{} {}\n", i + 1, w.verifier().key()));
    }
    policy.push_str("group two 2 W1 W2 W3\nquorum two\n");
    let policy = Policy::parse(policy.as_bytes()).expect("policy");

    let root = tree_hash(SIZE, &stored).expect("root");
    let cp = Checkpoint::new(Origin::new(ORIGIN).expect("origin"), SIZE, root);
    let mut note = SignedCheckpoint::sign(&cp, &log_key)
        .expect("sign")
        .note()
        .clone();
    for w in &witnesses[..2] {
        note.add_signature(w.sign(&cp, 1_780_000_000).expect("cosign"))
            .expect("add");
    }
    let prove = |i: u64| prove_inclusion(SIZE, i, &stored).expect("proof");
    let bindings = [3u64, 1100]
        .iter()
        .map(|&i| BindingProof {
            index: i,
            entry: entries[i as usize].clone(),
            proof: prove(i),
        })
        .collect();
    let proof =
        ProofBundle::new(entries[1187].clone(), 1187, prove(1187), note).expect("tlog-proof");
    let evidence = Evidence::new(bindings, proof).expect("evidence");
    evidence.verify(&policy).expect("the fixture verifies");
    (evidence.to_bytes(), policy)
}

fn bench(c: &mut Criterion) {
    let (bytes, policy) = fixture();
    println!("evidence file: {} bytes", bytes.len());
    c.bench_function("verify_bundle/parse+verify", |b| {
        b.iter(|| {
            let ev = Evidence::parse(black_box(&bytes)).expect("parse");
            black_box(ev.verify(&policy).expect("verify"));
        });
    });
    // A plain rate over a fixed count, for BENCHMARKS.md, in wall-clock time and in
    // this process's CPU time (the latter is what matters on a shared, loaded machine).
    let n = 2000u32;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for _ in 0..n {
        let ev = Evidence::parse(black_box(&bytes)).expect("parse");
        black_box(ev.verify(&policy).expect("verify"));
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    println!(
        "verify_bundle: {n} bundles in {secs:.3} s wall = {:.0} bundles/s; CPU {}",
        f64::from(n) / secs,
        cpu.map_or_else(
            || "unknown".to_owned(),
            |c| format!("{c:.2} s = {:.0} bundles per CPU-second", f64::from(n) / c)
        )
    );
}

/// User + system CPU time of this process, from `/proc/self/stat` (Linux; 100 Hz ticks).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
