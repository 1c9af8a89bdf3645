use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

/// A SHA-256 digest, as the log's keys are.
fn key(i: u64) -> [u8; 32] {
    Sha256::digest(i.to_le_bytes()).into()
}

/// The share of `queries` keys, none of them inserted, that the filter
/// calls "maybe".
fn fp_rate(f: &DedupFilter, queries: impl Iterator<Item = [u8; 32]>) -> f64 {
    let (mut n, mut hits) = (0u64, 0u64);
    for q in queries {
        n += 1;
        hits += u64::from(f.may_contain(&q));
    }
    hits as f64 / n as f64
}

#[test]
fn an_empty_filter_contains_nothing() {
    let f = DedupFilter::with_capacity(0);
    assert!(f.is_empty());
    assert!((0..10_000).all(|i| !f.may_contain(&key(i))));
    assert!(!f.may_contain(&[0; 32]));
}

#[test]
fn inserted_keys_are_always_maybe_across_stages() {
    let mut f = DedupFilter::with_capacity(0);
    let n = MIN_CAPACITY * 5;
    for i in 0..n {
        f.insert(&key(i));
    }
    assert_eq!(f.len(), n);
    // 64k + 128k + 256k hold 448k keys: 5·64k needs a third stage.
    assert_eq!(f.stages(), 3);
    assert!((0..n).all(|i| f.may_contain(&key(i))));
}

#[test]
fn first_stage_meets_its_false_positive_target() {
    let mut f = DedupFilter::with_capacity(MIN_CAPACITY);
    for i in 0..MIN_CAPACITY {
        f.insert(&key(i));
    }
    assert_eq!(f.stages(), 1);
    assert_eq!(f.false_positive_bound(), FIRST_STAGE_FP);
    // 400,000 queries at 1/2048 expect ~195 hits (standard deviation ~14):
    // 1.25 times the target is ~3.5 deviations above.
    let rate = fp_rate(&f, (1 << 40..(1 << 40) + 400_000).map(key));
    assert!(rate <= FIRST_STAGE_FP * 1.25, "false-positive rate {rate}");
    // And the filter is not trivially "no": a realistic rate is near the
    // target, not zero.
    assert!(rate >= FIRST_STAGE_FP * 0.5, "false-positive rate {rate}");
}

#[test]
fn growth_keeps_the_false_positive_rate_within_the_bound() {
    let mut f = DedupFilter::with_capacity(0);
    // Eight times the first stage's capacity: four stages.
    let n = MIN_CAPACITY * 8;
    for i in 0..n {
        f.insert(&key(i));
    }
    assert_eq!(f.stages(), 4);
    let bound = f.false_positive_bound();
    assert!(bound < 2.0 * FIRST_STAGE_FP);
    let rate = fp_rate(&f, (1 << 40..(1 << 40) + 400_000).map(key));
    assert!(rate <= bound, "false-positive rate {rate} above {bound}");
}

#[test]
fn structured_keys_spread_like_digests() {
    // Keys that differ in one byte, or only in the last word: the filter
    // mixes all 32 bytes, so these do not pile onto the same bits.
    let structured = |i: u64| {
        let mut k = [0u8; 32];
        k[24..].copy_from_slice(&i.to_be_bytes());
        k
    };
    let mut f = DedupFilter::with_capacity(MIN_CAPACITY);
    for i in 0..MIN_CAPACITY {
        f.insert(&structured(i));
    }
    assert!((0..MIN_CAPACITY).all(|i| f.may_contain(&structured(i))));
    let rate = fp_rate(&f, (MIN_CAPACITY..MIN_CAPACITY + 400_000).map(structured));
    assert!(rate <= FIRST_STAGE_FP * 1.25, "false-positive rate {rate}");
}

#[test]
fn memory_is_about_two_bytes_per_key() {
    let f = DedupFilter::with_capacity(1_000_000);
    let bytes = f.memory_bytes();
    // -ln(1/2048) / (ln 2)^2 = 15.9 bits per key.
    assert!((1_900_000..=2_100_000).contains(&bytes), "{bytes} bytes");
    assert_eq!(
        DedupFilter::with_capacity(1).memory_bytes(),
        DedupFilter::with_capacity(MIN_CAPACITY).memory_bytes()
    );
}

proptest! {
    #[test]
    fn never_a_false_no(
        keys in prop::collection::vec(any::<[u8; 32]>(), 0..2000),
        capacity in 1u64..100,
    ) {
        // Tiny first stages, so that most cases grow the chain.
        let mut f = DedupFilter::with_first_stage(capacity);
        for (i, k) in keys.iter().enumerate() {
            f.insert(k);
            // The key itself, and a sample of the earlier ones.
            prop_assert!(f.may_contain(k));
            prop_assert!(f.may_contain(&keys[i / 2]));
        }
        prop_assert!(keys.iter().all(|k| f.may_contain(k)));
        prop_assert_eq!(f.len(), keys.len() as u64);
    }
}
