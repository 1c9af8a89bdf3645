//! Ed25519 strict verification: ed25519-dalek's `verify_strict` against
//! `claimlog::ed25519::PreparedKey::verify_strict` (same acceptance set), and
//! against the same check with a per-key precomputed table
//! (`VartimeEdwardsPrecomputation` of [B, -A]) to see whether tables pay.
//!
//! Besides criterion's figures, it first prints an interleaved comparison
//! (each variant in turn, many rounds, medians), which a shared machine's
//! load affects alike, and the heap cost of one table (RSS growth over 2,000
//! tables, from `/proc/self/statm`).
//!
//! Run: `cargo bench --no-default-features --bench ed25519`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use claimlog::ed25519::PreparedKey;
use criterion::{Criterion, criterion_group, criterion_main};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimePrecomputedMultiscalarMul;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};

/// The size of the PAE of the monitor benchmark's envelopes.
const MSG_LEN: usize = 2400;

/// The same checks as `PreparedKey::verify_strict`, with `[s]B - [k]A`
/// computed from a per-key table of B and -A (NAF width 8 for both).
struct TableKey {
    key: VerifyingKey,
    table: VartimeEdwardsPrecomputation,
    small_order: bool,
}

impl TableKey {
    fn new(key: &VerifyingKey) -> TableKey {
        TableKey {
            key: *key,
            table: VartimeEdwardsPrecomputation::new([ED25519_BASEPOINT_POINT, -key.to_edwards()]),
            small_order: key.is_weak(),
        }
    }

    fn verify_strict(&self, msg: &[u8], sig: &Signature) -> bool {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else {
            return false;
        };
        let r_bytes = sig.r_bytes();
        let high = r_bytes[31] & 0x7f == 0x7f
            && r_bytes[1..31].iter().all(|&b| b == 0xff)
            && r_bytes[0] >= 0xed;
        if high {
            return false;
        }
        let Some(r) = CompressedEdwardsY(*r_bytes).decompress() else {
            return false;
        };
        if self.small_order || r.is_small_order() {
            return false;
        }
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(self.key.as_bytes())
                .chain_update(msg),
        );
        let r_check: EdwardsPoint = self.table.vartime_multiscalar_mul([s, k]);
        r_check == r
    }
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn setup() -> (SigningKey, Vec<u8>, Signature) {
    let sk = SigningKey::from_bytes(&[9; 32]);
    let msg: Vec<u8> = (0..MSG_LEN).map(|i| i as u8).collect();
    let sig = sk.sign(&msg);
    (sk, msg, sig)
}

/// Median microseconds per verification of each variant, rounds
/// interleaved so that they see the same load.
fn interleaved() {
    let (sk, msg, sig) = setup();
    let vk = sk.verifying_key();
    let prepared = PreparedKey::new(&vk);
    let tables = TableKey::new(&vk);
    assert!(vk.verify_strict(&msg, &sig).is_ok());
    assert!(prepared.verify_strict(&msg, &sig));
    assert!(tables.verify_strict(&msg, &sig));
    const ROUNDS: usize = 41;
    const PER_ROUND: u32 = 200;
    let variants: [(&str, &dyn Fn() -> bool); 5] = [
        ("dalek verify_strict, key decompressed per call", &|| {
            VerifyingKey::from_bytes(black_box(vk.as_bytes()))
                .is_ok_and(|k| k.verify_strict(black_box(&msg), &sig).is_ok())
        }),
        ("dalek verify_strict, key kept", &|| {
            vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok()
        }),
        ("PreparedKey, no tables", &|| {
            prepared.verify_strict(black_box(&msg), black_box(&sig))
        }),
        ("PreparedKey + table of [B, -A]", &|| {
            tables.verify_strict(black_box(&msg), black_box(&sig))
        }),
        ("SHA-512 of the message alone", &|| {
            black_box(Sha512::digest(black_box(&msg)))[0] != 0
        }),
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in variants.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                black_box(f());
            }
            times[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(PER_ROUND));
        }
    }
    println!("interleaved, {ROUNDS} rounds of {PER_ROUND}, {MSG_LEN}-byte message, medians:");
    let base = median(&mut times[1].clone());
    for ((name, _), t) in variants.iter().zip(&mut times) {
        let m = median(t);
        println!(
            "  {name:50} {m:7.2} us  ({:+.1}% vs key kept)",
            (m / base - 1.0) * 100.0
        );
    }

    const KEYS: usize = 2000;
    let keys: Vec<VerifyingKey> = (0..KEYS)
        .map(|i| SigningKey::from_bytes(&[(i % 251) as u8 + 1; 32]).verifying_key())
        .collect();
    let before = rss_bytes();
    let tables: Vec<TableKey> = keys.iter().map(TableKey::new).collect();
    let after = rss_bytes();
    black_box(&tables);
    println!(
        "table memory: {} bytes per key (RSS growth over {KEYS} tables); PreparedKey {} bytes inline",
        (after.saturating_sub(before)) / KEYS,
        std::mem::size_of::<PreparedKey>()
    );
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
    let tables = TableKey::new(&vk);
    let mut g = c.benchmark_group("ed25519_verify_2400B");
    g.bench_function("dalek_verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(&msg), black_box(&sig)).is_ok())
    });
    g.bench_function("prepared_key", |b| {
        b.iter(|| prepared.verify_strict(black_box(&msg), black_box(&sig)))
    });
    g.bench_function("prepared_key_with_table", |b| {
        b.iter(|| tables.verify_strict(black_box(&msg), black_box(&sig)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
