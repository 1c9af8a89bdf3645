//! An in-memory membership filter over the dedup index's envelope hashes,
//! so that a submission that is certainly new skips the index lookup (a
//! random-key read that usually pages a leaf in from disk once the index
//! outgrows the store's cache; BENCHMARKS.md "Dedup index, session 12").
//!
//! It answers "certainly absent" or "maybe present" and never gives a false
//! "absent": every inserted key sets all of its bits, and bits are never
//! cleared. A false "maybe" only costs the lookup the filter would have
//! saved.
//!
//! It is a scalable Bloom filter (Almeida, Baquero, Preguiça, Hutchison,
//! "Scalable Bloom Filters", Information Processing Letters 101(6), 2007): a
//! chain of classic Bloom filters (Bloom 1970), each sized for a capacity and
//! a false-positive target. When the newest stage holds its capacity, a new
//! stage of twice the capacity and half the target is added, so however far
//! the set grows the false-positive rate of the chain stays below
//! `p0 · (1 + 1/2 + 1/4 + …) = 2·p0` ([`DedupFilter::false_positive_bound`])
//! and the memory per key grows only by ~1.44 bits per doubling.
//!
//! Pure: no I/O, no clock, no randomness.

/// The false-positive target of a filter's first stage; the whole chain
/// stays below twice this (1/1024).
pub const FIRST_STAGE_FP: f64 = 1.0 / 2048.0;

/// The smallest first-stage capacity [`DedupFilter::with_capacity`] uses.
pub const MIN_CAPACITY: u64 = 1 << 16;

/// A scalable Bloom filter over 32-byte keys (see the module doc).
#[derive(Debug, Clone)]
pub struct DedupFilter {
    /// Oldest first; only the last one receives inserts.
    stages: Vec<Stage>,
    /// Keys inserted (counting repeats).
    len: u64,
}

/// One classic Bloom filter of the chain.
#[derive(Debug, Clone)]
struct Stage {
    bits: Vec<u64>,
    /// `bits.len() · 64`.
    m: u64,
    /// Bits set per key.
    k: u32,
    /// Keys it was sized for.
    capacity: u64,
    /// Keys inserted into it.
    count: u64,
    /// Its false-positive target at `capacity` keys.
    fp: f64,
}

impl Stage {
    fn new(capacity: u64, fp: f64) -> Stage {
        let capacity = capacity.max(1);
        // The optimal sizing of a Bloom filter for n keys at rate p:
        // m = -n·ln p / (ln 2)², k = log2(1/p) (Bloom filter folklore; e.g.
        // Broder and Mitzenmacher, "Network Applications of Bloom Filters").
        let ln2 = std::f64::consts::LN_2;
        let bits = (capacity as f64) * -fp.ln() / (ln2 * ln2);
        let words = ((bits / 64.0).ceil() as u64).max(1);
        let k = (-fp.log2()).ceil().max(1.0) as u32;
        // A word count is at most capacity · 0.3 or so: it fits a usize on
        // any platform whose memory could hold it.
        let len = usize::try_from(words).unwrap_or(usize::MAX);
        Stage {
            bits: vec![0; len],
            m: words * 64,
            k,
            capacity,
            count: 0,
            fp,
        }
    }

    fn insert(&mut self, h: (u64, u64)) {
        for i in 0..self.k {
            let p = position(h, i, self.m);
            // `p < m = 64 · bits.len()`.
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.count += 1;
    }

    fn may_contain(&self, h: (u64, u64)) -> bool {
        (0..self.k).all(|i| {
            let p = position(h, i, self.m);
            self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0
        })
    }
}

/// The `i`-th bit position of a key in an array of `m` bits, by double
/// hashing (Kirsch and Mitzenmacher, "Less Hashing, Same Performance: Building
/// a Better Bloom Filter", 2006): `h1 + i·h2`, mapped onto `[0, m)` by a
/// multiply-shift (Lemire's "fast range") instead of a division.
fn position((h1, h2): (u64, u64), i: u32, m: u64) -> u64 {
    let g = h1.wrapping_add(u64::from(i).wrapping_mul(h2));
    ((u128::from(g) * u128::from(m)) >> 64) as u64
}

/// The two 64-bit hashes a key's bit positions derive from. The keys are
/// SHA-256 digests in the log, but the filter does not rely on it: all 32
/// bytes are mixed, so structured keys (as in tests) spread as well.
fn hashes(key: &[u8; 32]) -> (u64, u64) {
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&key[8 * i..8 * i + 8]);
        u64::from_le_bytes(b)
    };
    // Each of the two halves folds two words; both hashes depend on both
    // halves, so a key that differs from another in any byte gets unrelated
    // positions.
    let a = mix(w(0) ^ mix(w(1) ^ 0x9e37_79b9_7f4a_7c15));
    let b = mix(w(2) ^ mix(w(3) ^ 0xc2b2_ae3d_27d4_eb4f));
    let h1 = mix(a ^ b.rotate_left(32));
    // Odd, so that `h1 + i·h2` visits distinct values for every i < 2^64.
    let h2 = mix(b ^ a.rotate_left(17) ^ 0x1656_67b1_9e37_79f9) | 1;
    (h1, h2)
}

/// SplitMix64's finalizer (Steele, Lea, Flood, "Fast Splittable
/// Pseudorandom Number Generators", 2014): a bijection that spreads every
/// input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl DedupFilter {
    /// An empty filter whose first stage holds `expected` keys (at least
    /// [`MIN_CAPACITY`]) at [`FIRST_STAGE_FP`]: about 16 bits, 2 bytes, per
    /// key. More keys than that add stages (see the module doc).
    pub fn with_capacity(expected: u64) -> DedupFilter {
        DedupFilter::with_first_stage(expected.max(MIN_CAPACITY))
    }

    /// An empty filter whose first stage holds exactly `capacity` keys (at
    /// least 1); tests use small ones to exercise growth.
    fn with_first_stage(capacity: u64) -> DedupFilter {
        DedupFilter {
            stages: vec![Stage::new(capacity, FIRST_STAGE_FP)],
            len: 0,
        }
    }

    /// Adds a key.
    pub fn insert(&mut self, key: &[u8; 32]) {
        let h = hashes(key);
        // The chain is never empty: constructed with one stage, only ever
        // extended.
        let full = self.stages.last().is_none_or(|s| s.count >= s.capacity);
        if full {
            let (capacity, fp) = self
                .stages
                .last()
                .map_or((MIN_CAPACITY, FIRST_STAGE_FP), |s| {
                    (s.capacity.saturating_mul(2), s.fp / 2.0)
                });
            self.stages.push(Stage::new(capacity, fp));
        }
        if let Some(stage) = self.stages.last_mut() {
            stage.insert(h);
        }
        self.len += 1;
    }

    /// `false` if `key` was certainly never inserted; `true` if it may have
    /// been (always, if it was).
    pub fn may_contain(&self, key: &[u8; 32]) -> bool {
        let h = hashes(key);
        self.stages.iter().any(|s| s.may_contain(h))
    }

    /// Keys inserted (repeats counted).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stages in the chain (1 until the first stage's capacity is used up).
    pub fn stages(&self) -> usize {
        self.stages.len()
    }

    /// Heap bytes held by the bit arrays.
    pub fn memory_bytes(&self) -> usize {
        self.stages.iter().map(|s| s.bits.len() * 8).sum()
    }

    /// An upper bound on the probability that [`DedupFilter::may_contain`]
    /// says "maybe" for a key never inserted: the sum of the stages' targets,
    /// below `2 · FIRST_STAGE_FP` however many stages there are.
    pub fn false_positive_bound(&self) -> f64 {
        self.stages.iter().map(|s| s.fp).sum()
    }
}

#[cfg(test)]
mod tests;
