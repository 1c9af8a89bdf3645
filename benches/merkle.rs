//! Merkle and tile benchmarks (criterion), each also printing its cost relative to the raw
//! SHA-256 rate measured in the same run: `Sha256::digest` of a 64-byte input, the same
//! two compression-function calls as one RFC 9162 node hash (65 bytes + padding).
//!
//! Run: `cargo bench --no-default-features --bench merkle`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use claimlog::merkle::{
    Hash, leaf_hash, prove_consistency, prove_inclusion, stored_hashes, tree_hash,
    verify_consistency, verify_inclusion,
};
use claimlog::tiles::{Tile, TileAppender, TileError, TileHashReader, TileReader};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

const TREE_SIZE: u64 = 1_000_000;
const BATCH: usize = 1000;

/// Cost of `f` relative to raw hashing, robust to a shared, loaded machine: `rounds`
/// times, run `f` once (it does `ops` operations) and then `raw_per_round` raw 64-byte
/// `Sha256::digest`s, back to back, so both see the same load. Returns
/// (ns per operation, ns per raw digest), each averaged over all rounds.
fn vs_raw(rounds: u64, ops: u64, raw_per_round: u64, mut f: impl FnMut(u64)) -> (f64, f64) {
    let mut input = [7u8; 64];
    let (mut total_f, mut total_raw) = (0u128, 0u128);
    for round in 0..rounds {
        let start = Instant::now();
        f(round);
        total_f += start.elapsed().as_nanos();
        let start = Instant::now();
        for i in 0..raw_per_round {
            input[..8].copy_from_slice(&i.to_le_bytes());
            black_box(Sha256::digest(black_box(&input)));
        }
        total_raw += start.elapsed().as_nanos();
    }
    (
        total_f as f64 / (rounds * ops) as f64,
        total_raw as f64 / (rounds * raw_per_round) as f64,
    )
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

/// Node hashes a perfect-edge append of `n` leaves computes: one per internal node of the
/// completed subtrees, i.e. n minus the number of perfect subtrees left on the frontier.
fn nodes_for(n: u64) -> u64 {
    n - u64::from(n.count_ones())
}

struct MemTiles(std::collections::HashMap<(u8, u64), Vec<u8>>);

impl TileReader for MemTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&(t.level(), t.index()))
                    .filter(|d| d.len() >= t.data_len())
                    .map(|d| d[..t.data_len()].to_vec())
                    .ok_or_else(|| TileError::Reader(t.path()))
            })
            .collect()
    }
}

/// Node hashes RFC 9162 §2.1.4.2 computes for a consistency proof from `old` to `new`.
fn consistency_hashes(old: u64, new: u64) -> usize {
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut count = 0;
    while snode != 0 {
        if fnode & 1 == 1 || fnode == snode {
            count += 2;
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            count += 1;
        }
        fnode >>= 1;
        snode >>= 1;
    }
    count
}

fn benches(c: &mut Criterion) {
    let (_, raw) = vs_raw(200, 1, 1000, |_| {});
    println!(
        "raw SHA-256 (64-byte digest): {raw:.1} ns = {:.2} M/s",
        1e3 / raw
    );
    c.bench_function("raw_sha256_64B", |b| {
        let input = [7u8; 64];
        b.iter(|| Sha256::digest(black_box(&input)))
    });

    // Leaf hashing of 1 KiB entries: 1 + 1024 bytes + padding = 17 compressions, against
    // 2 for the raw unit, so about 8.5x is the floor.
    let entry = vec![0x5au8; 1024];
    let (leaf_ns, raw) = vs_raw(2_000, 20, 170, |_| {
        for _ in 0..20 {
            black_box(leaf_hash(black_box(&entry)));
        }
    });
    println!(
        "leaf_hash(1 KiB): {leaf_ns:.0} ns = {:.2}x raw (17 vs 2 compressions: floor 8.5x); {:.0} MB/s",
        leaf_ns / raw,
        1024.0 * 1e3 / leaf_ns
    );
    c.bench_function("leaf_hash_1KiB", |b| {
        b.iter(|| leaf_hash(black_box(&entry)))
    });

    // Appending 10^6 leaf hashes in batches of 1000 with the tile appender, including
    // building every changed tile's bytes.
    let all = leaves(TREE_SIZE);
    let append_all = |all: &[Hash]| {
        let mut a = TileAppender::new();
        let mut bytes = 0usize;
        for batch in all.chunks(BATCH) {
            for (_, data) in a.append(batch).expect("within limits") {
                bytes += data.len();
            }
        }
        (a, bytes)
    };
    let (appender, written) = append_all(&all);
    let nodes = nodes_for(TREE_SIZE);
    let nodes_per_leaf = nodes as f64 / TREE_SIZE as f64;
    // Three passes; each batch is timed next to 1000 raw digests.
    for pass in 1..=3 {
        let mut a = TileAppender::new();
        let mut batches = all.chunks(BATCH);
        let rounds = (TREE_SIZE as usize / BATCH) as u64;
        let (leaf_ns, raw) = vs_raw(rounds, BATCH as u64, 1000, |_| {
            let batch = batches.next().expect("one batch per round");
            black_box(a.append(batch).expect("within limits"));
        });
        assert_eq!(a.root(), appender.root());
        println!(
            "TileAppender pass {pass}: 10^6 leaves in batches of {BATCH}: {:.1} ms, {leaf_ns:.0} ns/leaf; \
             {nodes} node hashes needed = {:.1} ms at the raw rate ({raw:.0} ns); \
             ratio {:.2}x (target <= 1.5x); {} MB of tiles written",
            leaf_ns * TREE_SIZE as f64 / 1e6,
            nodes as f64 * raw / 1e6,
            leaf_ns / (nodes_per_leaf * raw),
            written / 1_000_000
        );
    }
    let mut group = c.benchmark_group("append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("tile_appender_1e6_batches_1000", |b| {
        b.iter(|| append_all(black_box(&all)))
    });
    group.finish();

    // Proofs at tree size 10^6 from Go-style stored hashes in memory.
    let mut storage: Vec<Hash> = Vec::with_capacity(2 * TREE_SIZE as usize);
    for (n, leaf) in all.iter().enumerate() {
        let added = stored_hashes(n as u64, *leaf, &storage).expect("in memory");
        storage.extend(added);
    }
    let root = tree_hash(TREE_SIZE, &storage).expect("stored");
    assert_eq!(root, appender.root());
    let index = 123_457;
    let old = 654_321;
    let old_root = tree_hash(old, &storage).expect("stored");
    let inc = prove_inclusion(TREE_SIZE, index, &storage).expect("in tree");
    let con = prove_consistency(old, TREE_SIZE, &storage).expect("in tree");

    let report = |name: &str, (ns, raw): (f64, f64), hashes: usize| {
        println!(
            "{name}: {ns:.0} ns = {:.1}x raw ({hashes} node hashes inherent: {:.2}x of that)",
            ns / raw,
            ns / (hashes as f64 * raw)
        );
    };
    let (gen_ns, raw) = vs_raw(2_000, 10, 300, |round| {
        for i in 0..10 {
            let leaf = (index + (round * 10 + i) * 7919) % TREE_SIZE;
            black_box(prove_inclusion(TREE_SIZE, leaf, &storage).expect("ok"));
        }
    });
    // Generation hashes only the right-edge folds (at most a few per proof).
    println!(
        "prove_inclusion(10^6, stored hashes): {gen_ns:.0} ns = {:.1}x raw",
        gen_ns / raw
    );
    let ver = vs_raw(2_000, 10, 200, |_| {
        for _ in 0..10 {
            let leaf = &all[index as usize];
            verify_inclusion(index, TREE_SIZE, leaf, black_box(&inc), &root).expect("valid");
        }
    });
    report("verify_inclusion(10^6)", ver, inc.len());
    let (cgen_ns, raw) = vs_raw(2_000, 10, 300, |round| {
        for i in 0..10 {
            let from = 1 + (old + (round * 10 + i) * 7919) % (TREE_SIZE - 1);
            black_box(prove_consistency(from, TREE_SIZE, &storage).expect("ok"));
        }
    });
    println!(
        "prove_consistency(.., 10^6, stored hashes): {cgen_ns:.0} ns = {:.1}x raw",
        cgen_ns / raw
    );
    let cver = vs_raw(2_000, 10, 330, |_| {
        for _ in 0..10 {
            verify_consistency(old, TREE_SIZE, black_box(&con), &old_root, &root).expect("valid");
        }
    });
    // The verifier hashes each proof element into the new root, and the ones on the old
    // tree's path into the old root as well: count them by replaying the RFC loop shape.
    report(
        "verify_consistency(654321 -> 10^6)",
        cver,
        consistency_hashes(old, TREE_SIZE),
    );

    // The same proofs through authenticated tiles (what a client does), tiles in memory.
    let mut tiles = std::collections::HashMap::new();
    let mut a = TileAppender::new();
    for batch in all.chunks(BATCH) {
        for (t, d) in a.append(batch).expect("within limits") {
            tiles.insert((t.level(), t.index()), d);
        }
    }
    let mem = MemTiles(tiles);
    let reader = TileHashReader::new(TREE_SIZE, root, &mem);
    assert_eq!(prove_inclusion(TREE_SIZE, index, &reader).expect("ok"), inc);
    let (tile_ns, raw) = vs_raw(300, 1, 2000, |round| {
        let leaf = (index + round * 7919) % TREE_SIZE;
        black_box(prove_inclusion(TREE_SIZE, leaf, &reader).expect("ok"));
    });
    println!(
        "prove_inclusion(10^6) via TileHashReader (fetch copies + full authentication): {tile_ns:.0} ns = {:.0}x raw",
        tile_ns / raw
    );

    let mut group = c.benchmark_group("proofs_1e6");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    group.bench_function("prove_inclusion_stored", |b| {
        b.iter(|| prove_inclusion(TREE_SIZE, black_box(index), &storage))
    });
    group.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            verify_inclusion(
                index,
                TREE_SIZE,
                &all[index as usize],
                black_box(&inc),
                &root,
            )
        })
    });
    group.bench_function("prove_consistency_stored", |b| {
        b.iter(|| prove_consistency(black_box(old), TREE_SIZE, &storage))
    });
    group.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(old, TREE_SIZE, black_box(&con), &old_root, &root))
    });
    group.bench_function("prove_inclusion_tiles", |b| {
        b.iter_batched(
            || (),
            |_| prove_inclusion(TREE_SIZE, index, &reader),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = merkle;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = benches
}
criterion_main!(merkle);
