//! Proof verification: RFC 9162 §2.1.3.2 (inclusion), §2.1.4.2 (consistency), and subtree
//! inclusion and consistency (specs.md §1.7, draft-ietf-plants-merkle-tree-certs-03 §4.3-4.4).
//!
//! Each verifier first checks that the proof has exactly the length the sizes imply
//! (transparency-dev/merkle's `inner + border` count), so that a wrong length gets a precise
//! error, then runs the RFC algorithm step by step.

use super::{Hash, ProofError, node_hash};

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2). The proof is ordered leaf to root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1: the index must be inside the tree.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose_inclusion(index, size);
    let expected = inner + border;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    // Steps 2-5 of §2.1.3.2.
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                expected,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            // Skip the levels where our node is the unpaired right edge.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of the tree of
/// `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// The RFC precondition is `0 < old < new`. Outside it: `old == new` is accepted iff the
/// proof is empty and the roots are equal; `old == 0` is always an error
/// ([`ProofError::OldSizeZero`]), as in transparency-dev/merkle; `old > new` is an error.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OldSizeGreater { old, new });
    }
    if old == 0 {
        return Err(ProofError::OldSizeZero);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // Expected length: the inclusion path of leaf old-1 in the new tree, minus the levels
    // below the largest perfect subtree ending at old (the verifier starts from that
    // subtree's root), plus that root unless it is the old root itself (old a power of 2).
    let (inner, border) = decompose_inclusion(old - 1, new);
    let shift = old.trailing_zeros() as usize;
    let old_is_pow2 = old.is_power_of_two();
    let expected = usize::from(!old_is_pow2) + (inner - shift) + border;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    // Step 2: if old is a power of two, the old root is the first path element.
    let (seed, rest) = if old_is_pow2 {
        (*old_root, proof)
    } else {
        // `expected >= 1` here, so the proof is not empty.
        (proof[0], &proof[1..])
    };
    // Steps 3-7.
    let mut fnode = old - 1;
    let mut snode = new - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                expected,
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Whether `[start, end)` is a valid subtree: `start < end` and `start` is a multiple of
/// the smallest power of two that is `>= end - start` (specs.md §1.7, MTC draft -03 §4.1).
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    if start == 0 {
        // Zero is a multiple of every power of two, even one beyond u64.
        return true;
    }
    match (end - start).checked_next_power_of_two() {
        Some(p) => start.is_multiple_of(p),
        // end - start > 2^63: no power of two fits in a u64.
        None => false,
    }
}

/// Verifies that `leaf` is at `index` inside the subtree `[start, end)` whose hash is
/// `subtree_root`: an ordinary inclusion proof for `index - start` in a tree of
/// `end - start` leaves, after checking that the subtree is valid.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<(), ProofError> {
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if index < start || index >= end {
        return Err(ProofError::IndexOutOfRange { index, size: end });
    }
    verify_inclusion(index - start, end - start, leaf, proof, subtree_root)
}

/// Verifies that the subtree `[start, end)` with hash `subtree_root` is contained in the tree
/// of `size` leaves with root `root`: a subtree consistency proof as defined in
/// draft-ietf-plants-merkle-tree-certs-03 §4.4 (used by MTC and tlog-witness
/// `sign-subtree`).
///
/// The subtree must be valid ([`is_valid_subtree`], so never empty) and `end <= size`.
/// When `[start, end)` is itself a node of the tree the proof omits its hash and starts
/// from `subtree_root`; otherwise the first proof element is the highest node of the
/// subtree's right edge that is also a node of the tree.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    subtree_root: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1: inputs.
    if !is_valid_subtree(start, end) {
        return Err(ProofError::InvalidSubtree { start, end });
    }
    if end > size {
        return Err(ProofError::SubtreeOutOfRange { end, size });
    }
    let (seeded, steps) = subtree_consistency_shape(start, end, size);
    let expected = usize::from(!seeded) + steps.len();
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    // Steps 5-6: start from the subtree hash itself, or from the first proof element.
    let (seed, rest) = if seeded {
        (*subtree_root, proof)
    } else {
        // `expected >= 1` here, so the proof is not empty.
        (proof[0], &proof[1..])
    };
    // Step 7: `fr` climbs the subtree until its top, `sr` climbs to the tree root.
    let mut fr = seed;
    let mut sr = seed;
    for (p, step) in rest.iter().zip(&steps) {
        match step {
            SubtreeStep::Left { inside_subtree } => {
                if *inside_subtree {
                    fr = node_hash(p, &fr);
                }
                sr = node_hash(p, &sr);
            }
            SubtreeStep::Right => sr = node_hash(&sr, p),
        }
    }
    // Step 8.
    if fr != *subtree_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// One proof element of a subtree consistency proof: a left sibling (also hashed into
/// the subtree hash while still below the subtree's top) or a right sibling.
enum SubtreeStep {
    Left { inside_subtree: bool },
    Right,
}

/// The shape of the §4.4 walk for a valid subtree inside `size` leaves: whether the proof
/// starts from the subtree hash itself (it is a node of the tree), and the kind of each
/// later proof element. Pure bit arithmetic on the paths to the subtree's first leaf
/// (`f`), last leaf (`s`) and the tree's last leaf (`t`); at most 64 steps.
fn subtree_consistency_shape(start: u64, end: u64, size: u64) -> (bool, Vec<SubtreeStep>) {
    let (mut f, mut s, mut t) = (start, end - 1, size - 1);
    // Steps 3-4: skip the levels where the subtree's right edge is also the right edge of
    // a perfect subtree contained in it (or, when both right edges coincide, up to the
    // subtree's top).
    if s == t {
        while f != s {
            (f, s, t) = (f >> 1, s >> 1, t >> 1);
        }
    } else {
        while f != s && s & 1 == 1 {
            (f, s, t) = (f >> 1, s >> 1, t >> 1);
        }
    }
    let seeded = f == s;
    let mut steps = Vec::new();
    while t != 0 {
        if s & 1 == 1 || s == t {
            steps.push(SubtreeStep::Left {
                inside_subtree: f < s,
            });
            // Skip the levels where the node is the unpaired right edge. `s` is not 0
            // here: s == t != 0, or s is odd.
            while s & 1 == 0 {
                (f, s, t) = (f >> 1, s >> 1, t >> 1);
            }
        } else {
            steps.push(SubtreeStep::Right);
        }
        (f, s, t) = (f >> 1, s >> 1, t >> 1);
    }
    (seeded, steps)
}

/// Parses a hash given as raw bytes (e.g. decoded from a wire format), rejecting any length
/// other than 32 with [`ProofError::BadHashLength`].
pub fn hash_from_bytes(bytes: &[u8]) -> Result<Hash, ProofError> {
    Hash::from_slice(bytes).ok_or(ProofError::BadHashLength { got: bytes.len() })
}

/// Parses a proof given as byte strings, rejecting any element that is not 32 bytes long,
/// so that callers holding untrusted byte strings never need to index or panic.
pub fn proof_from_slices<T: AsRef<[u8]>>(proof: &[T]) -> Result<Vec<Hash>, ProofError> {
    proof.iter().map(|p| hash_from_bytes(p.as_ref())).collect()
}

/// transparency-dev/merkle's decomposition of an inclusion path for `index < size`:
/// `inner` levels where the sibling is inside the tree below the split with the right
/// edge, then `border` levels on the right edge where only left siblings exist.
pub(super) fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    // inner may be 64, where a plain shift would overflow; everything is shifted out then.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}
