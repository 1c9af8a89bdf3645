//! A compact range covering `[0, size)`: the roots of the perfect subtrees that make up
//! `size`, enough to append leaves and compute the root without rereading history
//! (specs.md §1.8).

use super::{Hash, ProofError, empty_root, node_hash};

/// The right frontier of a tree: its size and the roots of its perfect subtrees, largest
/// (leftmost) first, one per 1-bit of `size` (so at most 64 hashes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Rebuilds a frontier from its parts, checking that there is exactly one hash per
    /// 1-bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Frontier, ProofError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(ProofError::WrongProofLength {
                got: hashes.len(),
                expected,
            });
        }
        Ok(Frontier { size, hashes })
    }

    /// The number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash. Costs one node hash per subtree the leaf completes
    /// (amortised one per leaf).
    ///
    /// Fails with [`ProofError::TreeTooLarge`] only when the tree already has `u64::MAX`
    /// leaves.
    pub fn append(&mut self, leaf: Hash) -> Result<(), ProofError> {
        if self.size == u64::MAX {
            return Err(ProofError::TreeTooLarge { size: self.size });
        }
        let mut h = leaf;
        // Each trailing 1-bit of the old size is a subtree of the new leaf's height that
        // now has a right sibling: merge them.
        for _ in 0..self.size.trailing_ones() {
            // One hash per 1-bit of size, and these are the trailing ones, so the stack
            // holds at least as many entries as we pop.
            let left = self.hashes.pop().unwrap_or_default();
            h = node_hash(&left, &h);
        }
        self.hashes.push(h);
        self.size += 1;
        Ok(())
    }

    /// The RFC 9162 root of the covered tree: the subtree roots folded right to left.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
