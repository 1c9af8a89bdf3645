//! Property tests against the naive reference in `reference.rs`: random trees of up to
//! ~3000 leaves; roots, stored hashes and generated proofs must equal the reference, the
//! proofs must verify, and every tampering must be rejected.

use proptest::prelude::*;

use super::reference;
use super::*;

fn leaves(count: u64, seed: u64) -> Vec<Hash> {
    (0..count)
        .map(|i| leaf_hash(format!("{seed}/{i}").as_bytes()))
        .collect()
}

/// A copy of `proof` with one bit flipped, chosen by `pick`.
fn flip(proof: &[Hash], pick: usize) -> Vec<Hash> {
    let mut bad = proof.to_vec();
    let i = pick % bad.len();
    bad[i].0[(pick / 8) % 32] ^= 1 << (pick % 8);
    bad
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tree_hash_and_storage_match_reference(size in 0u64..3000, seed: u64) {
        let all = leaves(size, seed);
        let storage = reference::stored(&all);
        prop_assert_eq!(storage.len() as u64, stored_hash_count(size));
        // stored_hashes reproduces the naive storage, leaf by leaf.
        let mut built: Vec<Hash> = Vec::new();
        for (n, leaf) in all.iter().enumerate() {
            built.extend(stored_hashes(n as u64, *leaf, &built).unwrap());
        }
        prop_assert_eq!(&built, &storage);
        let root = reference::mth(&all);
        prop_assert_eq!(tree_hash(size, &storage).unwrap(), root);
        let mut frontier = Frontier::new();
        for leaf in &all {
            frontier.append(*leaf).unwrap();
        }
        prop_assert_eq!(frontier.size(), size);
        prop_assert!(frontier.hashes().len() <= 64);
        prop_assert_eq!(frontier.root(), root);
    }

    #[test]
    fn inclusion_proofs_match_reference_and_resist_tampering(
        size in 1u64..3000, index_pick: u64, seed: u64, pick: usize, other_pick: u64,
    ) {
        let index = index_pick % size;
        // One extra leaf so that the tree of size + 1 is available for the wrong-size check.
        let all = leaves(size + 1, seed);
        let storage = reference::stored(&all);
        let tree = &all[..size as usize];
        let root = reference::mth(tree);
        let leaf = all[index as usize];

        let proof = prove_inclusion(size, index, &storage).unwrap();
        prop_assert_eq!(&proof, &reference::path(index as usize, tree));
        prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));

        if !proof.is_empty() {
            prop_assert!(verify_inclusion(index, size, &leaf, &flip(&proof, pick), &root).is_err());
            prop_assert!(verify_inclusion(index, size, &leaf, &proof[..proof.len() - 1], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(leaf);
        prop_assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
        let mut bad_leaf = leaf;
        bad_leaf.0[pick % 32] ^= 0x40;
        prop_assert!(verify_inclusion(index, size, &bad_leaf, &proof, &root).is_err());

        // Any other index, with the same proof and root.
        let other = other_pick % (size + 1);
        if other != index {
            prop_assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
        }
        // A wrong size, each with that size's true root: a proof for one tree never proves
        // inclusion in another.
        let bigger = reference::mth(&all);
        prop_assert!(verify_inclusion(index, size + 1, &leaf, &proof, &bigger).is_err());
        if index + 1 < size {
            let smaller = reference::mth(&all[..size as usize - 1]);
            prop_assert!(verify_inclusion(index, size - 1, &leaf, &proof, &smaller).is_err());
        }
    }

    #[test]
    fn consistency_proofs_match_reference_and_resist_tampering(
        new in 1u64..3000, old_pick: u64, seed: u64, pick: usize,
    ) {
        let old = 1 + old_pick % new;
        let all = leaves(new + 1, seed);
        let storage = reference::stored(&all);
        let root = |n: u64| reference::mth(&all[..n as usize]);
        let (old_root, new_root) = (root(old), root(new));

        let proof = prove_consistency(old, new, &storage).unwrap();
        prop_assert_eq!(&proof, &reference::proof(old as usize, &all[..new as usize]));
        prop_assert_eq!(verify_consistency(old, new, &proof, &old_root, &new_root), Ok(()));

        if !proof.is_empty() {
            prop_assert!(verify_consistency(old, new, &flip(&proof, pick), &old_root, &new_root).is_err());
            prop_assert!(verify_consistency(old, new, &proof[..proof.len() - 1], &old_root, &new_root).is_err());
            prop_assert!(verify_consistency(old, new, &proof[1..], &old_root, &new_root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(new_root);
        prop_assert!(verify_consistency(old, new, &longer, &old_root, &new_root).is_err());
        let mut bad_old = old_root;
        bad_old.0[pick % 32] ^= 0x02;
        prop_assert!(verify_consistency(old, new, &proof, &bad_old, &new_root).is_err());
        if old != new {
            prop_assert!(verify_consistency(old, new, &proof, &new_root, &old_root).is_err());
        }
        // Wrong sizes, each with that size's true root.
        prop_assert!(verify_consistency(old, new + 1, &proof, &old_root, &root(new + 1)).is_err());
        if old < new {
            prop_assert!(verify_consistency(old + 1, new, &proof, &root(old + 1), &new_root).is_err());
        }
        if old > 1 {
            prop_assert!(verify_consistency(old - 1, new, &proof, &root(old - 1), &new_root).is_err());
        }
        if new > old {
            prop_assert!(verify_consistency(old, new - 1, &proof, &old_root, &root(new - 1)).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// MTC draft -03 §4.4 generalises both RFC 9162 proofs: for `[0, m)` the subtree
    /// consistency proof is the consistency proof from m, and for `[i, i + 1)` it is the
    /// inclusion proof of leaf i.
    #[test]
    fn subtree_consistency_generalises_rfc_proofs(
        size in 1u64..2000, m_pick: u64, i_pick: u64, seed: u64, pick: usize,
    ) {
        let all = leaves(size, seed);
        let storage = reference::stored(&all);
        let root = reference::mth(&all);
        let m = 1 + m_pick % size;
        let m_root = reference::mth(&all[..m as usize]);
        let proof = prove_consistency(m, size, &storage).unwrap();
        prop_assert_eq!(verify_subtree_consistency(0, m, size, &proof, &m_root, &root), Ok(()));
        if !proof.is_empty() {
            prop_assert!(verify_subtree_consistency(0, m, size, &flip(&proof, pick), &m_root, &root).is_err());
            prop_assert!(verify_subtree_consistency(0, m, size, &proof[1..], &m_root, &root).is_err());
        }

        let i = i_pick % size;
        let leaf = all[i as usize];
        let path = prove_inclusion(size, i, &storage).unwrap();
        prop_assert_eq!(verify_subtree_consistency(i, i + 1, size, &path, &leaf, &root), Ok(()));
        let mut longer = path.clone();
        longer.push(root);
        prop_assert!(verify_subtree_consistency(i, i + 1, size, &longer, &leaf, &root).is_err());
        if !path.is_empty() {
            prop_assert!(verify_subtree_consistency(i, i + 1, size, &flip(&path, pick), &leaf, &root).is_err());
        }
        // A smaller tree, with its true root, does not accept this tree's proof.
        if i + 1 < size {
            let smaller = reference::mth(&all[..size as usize - 1]);
            prop_assert!(verify_subtree_consistency(i, i + 1, size - 1, &path, &leaf, &smaller).is_err());
        }
    }
}
