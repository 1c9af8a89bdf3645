//! Ed25519 strict verification: ed25519-dalek's `verify_strict` against
//! `claimlog::ed25519::PreparedKey::verify_strict` (same acceptance set), one
//! at a time and with the final comparisons of a batch shared
//! (`PreparedKey::challenge` + `holds_all`, as the log's sequencer does).
//!
//! Besides criterion's figures, it first prints an interleaved comparison
//! (each variant in turn, many rounds, medians), which a shared machine's
//! load affects alike.
//!
//! Run: `cargo bench --no-default-features --bench ed25519`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use claimlog::ed25519::{Challenge, PreparedKey, holds_all};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};

/// The size of the PAE of the monitor benchmark's envelopes.
const MSG_LEN: usize = 2400;

/// Signatures per batch in the batched variant (a sequencing step at the
/// benchmark's rate holds thousands; the saving is per signature).
const BATCH: usize = 256;

fn setup() -> (SigningKey, Vec<u8>, Signature) {
    let sk = SigningKey::from_bytes(&[9; 32]);
    let msg: Vec<u8> = (0..MSG_LEN).map(|i| i as u8).collect();
    let sig = sk.sign(&msg);
    (sk, msg, sig)
}

/// Challenges of `BATCH` signatures, compared at once; true if all hold.
fn batch(prepared: &PreparedKey, msg: &[u8], sig: &Signature) -> bool {
    let challenges: Vec<Challenge> = (0..BATCH)
        .map(|_| prepared.challenge(black_box(msg), black_box(sig)))
        .collect();
    holds_all(&challenges).iter().all(|ok| *ok)
}

/// Median microseconds per verification of each variant, rounds
/// interleaved so that they see the same load.
fn interleaved() {
    let (sk, msg, sig) = setup();
    let vk = sk.verifying_key();
    let prepared = PreparedKey::new(&vk);
    assert!(vk.verify_strict(&msg, &sig).is_ok());
    assert!(prepared.verify_strict(&msg, &sig));
    assert!(batch(&prepared, &msg, &sig));
    const ROUNDS: usize = 41;
    const PER_ROUND: usize = 256;
    // (name, verifications per call, call)
    let variants: [(&str, usize, &dyn Fn() -> bool); 5] = [
        ("dalek verify_strict, key decompressed per call", 1, &|| {
            VerifyingKey::from_bytes(black_box(vk.as_bytes()))
                .is_ok_and(|k| k.verify_strict(black_box(&msg), &sig).is_ok())
        }),
        ("dalek verify_strict, key kept", 1, &|| {
            vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok()
        }),
        ("PreparedKey::verify_strict, one at a time", 1, &|| {
            prepared.verify_strict(black_box(&msg), black_box(&sig))
        }),
        ("PreparedKey::challenge x256 + holds_all", BATCH, &|| {
            batch(&prepared, &msg, &sig)
        }),
        ("SHA-512 of the message alone", 1, &|| {
            black_box(Sha512::digest(black_box(&msg)))[0] != 0
        }),
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, per_call, f)) in variants.iter().enumerate() {
            let calls = PER_ROUND / per_call;
            let start = Instant::now();
            for _ in 0..calls {
                black_box(f());
            }
            times[i].push(start.elapsed().as_secs_f64() * 1e6 / (calls * per_call) as f64);
        }
    }
    println!(
        "interleaved, {ROUNDS} rounds of {PER_ROUND}, {MSG_LEN}-byte message, medians per verification:"
    );
    let base = median(&mut times[1].clone());
    for ((name, _, _), t) in variants.iter().zip(&mut times) {
        let m = median(t);
        println!(
            "  {name:50} {m:7.2} us  ({:+.1}% vs key kept)",
            (m / base - 1.0) * 100.0
        );
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    interleaved();
    let (sk, msg, sig) = setup();
    let vk = sk.verifying_key();
    let prepared = PreparedKey::new(&vk);
    let mut g = c.benchmark_group("ed25519_verify_2400B");
    g.bench_function("dalek_verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok())
    });
    g.bench_function("prepared_key", |b| {
        b.iter(|| prepared.verify_strict(black_box(&msg), black_box(&sig)))
    });
    g.bench_function("prepared_key_batch_of_256", |b| {
        b.iter(|| batch(&prepared, &msg, &sig))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
