//! The Go sumdb/tlog storage model (specs.md §10): every hash of a complete subtree gets a
//! dense "stored hash index" in append order, and proofs are computed against a batched
//! [`HashReader`] with one read of O(log n) hashes.
//!
//! Leaf `n` is stored at its position, followed by the hash of every subtree it completes:
//! `(1, n>>1)`, `(2, n>>2)`, … for each trailing 1-bit of `n`. Level `L`'s `n`th hash
//! therefore comes right after level `L-1`'s `2n+1`th hash.

use super::{Hash, ProofError, empty_root, node_hash};

/// The largest tree size the stored-hash index can address without overflow: every stored
/// index of a tree of `n` leaves is below `2n`, so `n <= 2^62` keeps all of them in `u64`.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Random access to stored hashes by stored-hash index, batched (Go's `HashReader`).
///
/// An implementation returns exactly one hash per index, in the order asked, or an error.
/// Callers check the count and never trust it blindly.
pub trait HashReader {
    /// Reads the hashes at `indexes` (each a [`stored_hash_index`] value).
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(ProofError::HashNotFound { index: i })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        self.as_slice().read_hashes(indexes)
    }
}

/// The stored-hash index of the complete subtree at `level` with index `n` (covering leaves
/// `[n·2^level, (n+1)·2^level)`), as Go's `StoredHashIndex`.
///
/// Defined for subtrees inside the first [`MAX_TREE_SIZE`] leaves and `level < 63`; outside
/// that domain the arithmetic wraps and the result is meaningless (but never panics).
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's nth hash is written right after level L-1's (2n+1)th hash: walk down to
    // the last leaf of the subtree, then add back the levels.
    let mut n = n;
    for _ in 0..level {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    // Leaf n is written at n + n/2 + n/4 + … (one extra hash per completed subtree).
    let mut i: u64 = 0;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(u64::from(level))
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` stored at `index`.
///
/// Defined for `index < stored_hash_count(MAX_TREE_SIZE)`; larger values give a
/// meaningless answer but never panic.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) < 2n, so the leaf whose append wrote `index` is in
    // [index/2, index/2 + log2(index)]: step forward from index/2.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    // At most log2(index) + 1 steps inside the domain; the bound keeps out-of-domain
    // indexes (whose arithmetic wraps) from looping for ever.
    for _ in 0..=64 {
        // Leaf n is followed by the trailing_ones(n) subtree hashes it completes, so leaf
        // n+1 is stored at index_n + 1 + trailing_ones(n) = index_n + 1 + tz(n+1).
        let next = index_n.saturating_add(1 + u64::from((n + 1).trailing_zeros()));
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    // `index` was written with leaf n: it is (0, n), (1, n/2), (2, n/4), …
    let level = index.saturating_sub(index_n) as u32;
    (level, n.checked_shr(level).unwrap_or(0))
}

/// The number of stored hashes for a tree of `size` leaves (Go's `StoredHashCount`).
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let last = size - 1;
    // Everything up to the last leaf, plus the subtrees that leaf completes.
    stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones())
}

/// The hashes that appending leaf `n` (with hash `leaf`) adds to storage, in stored order:
/// the leaf hash, then the root of every subtree it completes. Reads the left siblings it
/// needs from `reader` in one batch.
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, ProofError> {
    if n >= MAX_TREE_SIZE {
        return Err(ProofError::TreeTooLarge { size: n });
    }
    // Each trailing 1-bit of n completes a subtree and consumes the adjacent left sibling
    // (level i, index (n >> i) - 1); indexes are listed in increasing order.
    let m = n.trailing_ones();
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let siblings = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(m as usize + 1);
    let mut h = leaf;
    out.push(h);
    for sibling in siblings.iter().rev() {
        h = node_hash(sibling, &h);
        out.push(h);
    }
    Ok(out)
}

/// The stored-hash indexes [`tree_hash`] reads for a tree of `size` leaves: the roots of
/// the perfect subtrees that make up `size`, largest (leftmost) first.
pub fn tree_hash_indexes(size: u64) -> Result<Vec<u64>, ProofError> {
    check_size(size)?;
    let mut need = Vec::new();
    subtree_indexes(0, size, &mut need);
    Ok(need)
}

/// The root hash of the tree of `size` leaves (RFC 9162 MTH), reading at most
/// `1 + log2(size)` hashes in one batch. The empty tree's root is `SHA-256("")`.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    let indexes = tree_hash_indexes(size)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut hashes = hashes.as_slice();
    Ok(subtree_hash(0, size, &mut hashes))
}

/// The stored-hash indexes [`prove_inclusion`] reads, in the order it reads them.
pub fn inclusion_proof_indexes(size: u64, index: u64) -> Result<Vec<u64>, ProofError> {
    check_size(size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut need = Vec::new();
    leaf_proof_indexes(0, size, index, &mut need);
    Ok(need)
}

/// The RFC 9162 inclusion proof (`PATH`, §2.1.3.1) for leaf `index` in the tree of `size`
/// leaves, leaf to root, from one batched read.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    reader: &R,
) -> Result<Vec<Hash>, ProofError> {
    let indexes = inclusion_proof_indexes(size, index)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut hashes = hashes.as_slice();
    let mut proof = Vec::new();
    leaf_proof(0, size, index, &mut hashes, &mut proof);
    Ok(proof)
}

/// The stored-hash indexes [`prove_consistency`] reads, in the order it reads them.
pub fn consistency_proof_indexes(old: u64, new: u64) -> Result<Vec<u64>, ProofError> {
    check_size(new)?;
    if old > new {
        return Err(ProofError::OldSizeGreater { old, new });
    }
    if old == 0 {
        return Err(ProofError::OldSizeZero);
    }
    let mut need = Vec::new();
    tree_proof_indexes(0, new, old, &mut need);
    Ok(need)
}

/// The RFC 9162 consistency proof (`PROOF`, §2.1.4.1) from `old` to `new` leaves
/// (`0 < old <= new`; empty when `old == new`), from one batched read.
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, ProofError> {
    let indexes = consistency_proof_indexes(old, new)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut hashes = hashes.as_slice();
    let mut proof = Vec::new();
    tree_proof(0, new, old, &mut hashes, &mut proof);
    Ok(proof)
}

fn check_size(size: u64) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::TreeTooLarge { size });
    }
    Ok(())
}

/// Reads and checks that the reader kept its contract (one hash per index).
fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, ProofError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(ProofError::ReaderCount {
            got: hashes.len(),
            want: indexes.len(),
        });
    }
    Ok(hashes)
}

/// The largest power of two strictly less than `n` (`n >= 2`), and its log2:
/// the RFC 9162 split point `k` with `k < n <= 2k`.
fn split_point(n: u64) -> (u64, u32) {
    let level = 63 - (n - 1).leading_zeros();
    (1 << level, level)
}

/// Appends the stored indexes of the perfect subtrees that make up `[lo, hi)`, largest
/// first. `lo` is always aligned to the first (largest) subtree.
fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        // The largest power of two <= hi - lo.
        let (k, level) = split_point(hi - lo + 1);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// Consumes the hashes read for `[lo, hi)` by [`subtree_indexes`] and folds them right to
/// left into MTH(D[lo:hi]).
fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut &[Hash]) -> Hash {
    let mut count = 0;
    while lo < hi {
        let (k, _) = split_point(hi - lo + 1);
        count += 1;
        lo += k;
    }
    // The planning functions asked for exactly these hashes, in this order, and
    // `read_exact` checked the count, so the split cannot fail and `mine` holds
    // `count >= 1` hashes (lo < hi on entry); the default below is never used.
    let (mine, rest) = hashes.split_at(count);
    *hashes = rest;
    let mut iter = mine.iter().rev();
    let mut h = iter.next().copied().unwrap_or_default();
    for left in iter {
        h = node_hash(left, &h);
    }
    h
}

fn leaf_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = split_point(hi - lo);
    if n < lo + k {
        leaf_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        leaf_proof_indexes(lo + k, hi, n, need);
    }
}

/// RFC 9162 `PATH(n, D[lo:hi])`, with hashes consumed in [`leaf_proof_indexes`] order.
fn leaf_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], proof: &mut Vec<Hash>) {
    if lo + 1 == hi {
        return;
    }
    let (k, _) = split_point(hi - lo);
    if n < lo + k {
        leaf_proof(lo, lo + k, n, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        leaf_proof(lo + k, hi, n, hashes, proof);
        proof.push(left);
    }
}

fn tree_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, need);
        }
        return;
    }
    let (k, _) = split_point(hi - lo);
    if n <= lo + k {
        tree_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        tree_proof_indexes(lo + k, hi, n, need);
    }
}

/// RFC 9162 `SUBPROOF(n - lo, D[lo:hi], lo == 0)`, with hashes consumed in
/// [`tree_proof_indexes`] order.
fn tree_proof(lo: u64, hi: u64, n: u64, hashes: &mut &[Hash], proof: &mut Vec<Hash>) {
    if n == hi {
        // At lo == 0 this is the old tree itself, which the verifier already knows.
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let (k, _) = split_point(hi - lo);
    if n <= lo + k {
        tree_proof(lo, lo + k, n, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        tree_proof(lo + k, hi, n, hashes, proof);
        proof.push(left);
    }
}
