//! The in-memory half of [`super::SledStore`]'s dedup index: the first 8
//! bytes of every committed envelope hash, with the entry index it belongs
//! to. A lookup yields candidate indexes; the store confirms a candidate
//! against the full hash it keeps on disk, so a prefix collision costs one
//! extra read and never a wrong answer.
//!
//! Why in memory: envelope hashes are uniformly random, so an on-disk
//! hash-keyed index (store format 2's `d` records) makes every new entry
//! rewrite one random B-tree leaf. At 500k entries that was ~20-25 µs of
//! CPU per entry, 13-15% of the submit path (BENCHMARKS.md, "Dedup index,
//! session 12"). Here an append is one in-memory insert, and the disk keeps
//! the hashes in index order, 256 to a record, like the entries.
//!
//! Layout: a sorted `Vec` of (prefix, index) pairs plus a small ordered
//! set of the latest pairs, merged into the vector once the set reaches an
//! eighth of it (at least [`MIN_MERGE`]). Memory is 16 bytes per entry plus
//! the set; the merges copy each pair O(log n) times in all, amortized
//! O(1) per append with a constant near 8.
//!
//! Pure: no I/O, no clock.

use std::collections::BTreeSet;

/// The set size below which no merge happens.
const MIN_MERGE: usize = 16 * 1024;

/// The first 8 bytes of a hash, big-endian: the lookup key.
pub(super) fn prefix(hash: &[u8; 32]) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(p)
}

/// Hash prefixes to entry indexes; see the module doc.
#[derive(Debug, Default)]
pub(super) struct PrefixIndex {
    /// Sorted by (prefix, index).
    base: Vec<(u64, u64)>,
    /// Pairs not yet merged into `base`.
    recent: BTreeSet<(u64, u64)>,
}

impl PrefixIndex {
    /// An index of `pairs` (any order).
    pub(super) fn from_pairs(mut pairs: Vec<(u64, u64)>) -> PrefixIndex {
        pairs.sort_unstable();
        PrefixIndex {
            base: pairs,
            recent: BTreeSet::new(),
        }
    }

    /// Number of pairs held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.base.len() + self.recent.len()
    }

    /// Adds `index` under `prefix`.
    pub(super) fn insert(&mut self, prefix: u64, index: u64) {
        self.recent.insert((prefix, index));
        if self.recent.len() >= MIN_MERGE.max(self.base.len() / 8) {
            self.merge();
        }
    }

    /// Every index held under `prefix`, ascending.
    pub(super) fn candidates(&self, prefix: u64) -> Vec<u64> {
        let start = self.base.partition_point(|&(p, _)| p < prefix);
        let mut out: Vec<u64> = self.base[start..]
            .iter()
            .take_while(|&&(p, _)| p == prefix)
            .map(|&(_, i)| i)
            .collect();
        let from_recent = self.recent.range((prefix, 0)..=(prefix, u64::MAX));
        out.extend(from_recent.map(|&(_, i)| i));
        out.sort_unstable();
        out
    }

    /// Folds `recent` into `base`: a merge of two sorted runs from the back,
    /// in `base`'s own buffer, so the only extra memory is the buffer's
    /// growth (which the allocator may do in place) and not a second copy
    /// of the index.
    fn merge(&mut self) {
        let recent = std::mem::take(&mut self.recent);
        let mut old = self.base.len();
        self.base.resize(old + recent.len(), (0, 0));
        let mut write = self.base.len();
        for r in recent.into_iter().rev() {
            while old > 0 && self.base[old - 1] > r {
                old -= 1;
                write -= 1;
                self.base[write] = self.base[old];
            }
            write -= 1;
            self.base[write] = r;
        }
        // What is left of the old run, `base[..old]`, is already in place
        // (`write == old` here).
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prefix_is_the_first_eight_bytes_big_endian() {
        let mut h = [0xffu8; 32];
        h[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(prefix(&h), 0x0102_0304_0506_0708);
    }

    #[test]
    fn merges_keep_every_pair_in_order() {
        // Enough inserts for several merges, with colliding prefixes.
        let mut ix = PrefixIndex::default();
        let n = 5 * MIN_MERGE as u64;
        for i in 0..n {
            ix.insert((i * 7919) % 1000, i);
        }
        assert_eq!(ix.len(), n as usize);
        assert!(ix.recent.len() < MIN_MERGE, "a merge ran");
        assert!(ix.base.windows(2).all(|w| w[0] < w[1]), "base sorted");
        let c = ix.candidates(0);
        // 7919 is prime to 1000: prefix 0 is every multiple of 1000.
        assert_eq!(c, (0..n).step_by(1000).collect::<Vec<_>>());
        assert!(ix.candidates(1000).is_empty());
    }

    #[test]
    fn a_merge_interleaves_the_runs() {
        let mut ix = PrefixIndex::from_pairs(vec![(1, 0), (5, 1), (9, 2)]);
        for p in [0, 5, 6, 10] {
            ix.recent.insert((p, 3));
        }
        ix.merge();
        assert_eq!(
            ix.base,
            vec![(0, 3), (1, 0), (5, 1), (5, 3), (6, 3), (9, 2), (10, 3)]
        );
        assert!(ix.recent.is_empty());
    }

    proptest! {
        #[test]
        fn agrees_with_a_map(
            initial in proptest::collection::vec((0u64..64, 0u64..1_000_000), 0..200),
            added in proptest::collection::vec((0u64..64, 0u64..1_000_000), 0..200),
            probes in proptest::collection::vec(0u64..70, 1..20),
            merged in any::<bool>(),
        ) {
            let mut model: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for &(p, i) in initial.iter().chain(&added) {
                model.entry(p).or_default().push(i);
            }
            let mut ix = PrefixIndex::from_pairs(initial);
            for &(p, i) in &added {
                ix.insert(p, i);
            }
            if merged {
                ix.merge();
                prop_assert!(ix.base.windows(2).all(|w| w[0] <= w[1]));
            }
            for p in probes {
                let mut want = model.get(&p).cloned().unwrap_or_default();
                want.sort_unstable();
                // The set drops an exact repeat of a pair still unmerged;
                // a store never inserts one index twice.
                let mut got = ix.candidates(p);
                got.dedup();
                want.dedup();
                prop_assert_eq!(got, want);
            }
        }
    }
}
