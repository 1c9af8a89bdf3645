//! Property tests: appending in random batch splits writes the same tiles and root as
//! appending all at once; roots equal `tree_hash` over Go-style stored hashes; partial
//! tiles are prefixes of their later versions; proofs read through authenticated tiles
//! equal proofs from stored hashes, for every published size.

use std::collections::HashMap;

use proptest::prelude::*;

use super::tests::MapReader;
use super::*;
use crate::merkle::{
    self, Frontier, Hash, leaf_hash, prove_consistency, prove_inclusion, tree_hash,
};

fn leaves(count: usize, seed: u64) -> Vec<Hash> {
    (0..count)
        .map(|i| leaf_hash(format!("{seed}:{i}").as_bytes()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn batch_splits_do_not_matter(
        count in 0usize..3000,
        seed: u64,
        cuts in proptest::collection::vec(0usize..3000, 0..12),
    ) {
        let all = leaves(count, seed);
        let mut whole = TileAppender::new();
        let at_once = whole.append(&all).unwrap();

        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (count + 1)).collect();
        cuts.push(0);
        cuts.push(count);
        cuts.sort_unstable();
        let mut split = TileAppender::new();
        let mut latest: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
        let mut storage: Vec<Hash> = Vec::new();
        let mut frontier = Frontier::new();
        for pair in cuts.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let old = split.size();
            let written = split.append(&all[from..to]).unwrap();
            prop_assert_eq!(split.size(), to as u64);
            // Exactly the tiles Go's NewTiles lists for the growth.
            let listed: Vec<Tile> = written.iter().map(|(t, _)| *t).collect();
            prop_assert_eq!(listed, new_tiles(old, to as u64));
            for (tile, data) in written {
                prop_assert_eq!(data.len(), tile.data_len());
                if let Some(prev) = latest.get(&(tile.level(), tile.index())) {
                    // A tile only grows, and its earlier version is a prefix.
                    prop_assert!(prev.len() < data.len());
                    prop_assert_eq!(&data[..prev.len()], prev.as_slice());
                }
                latest.insert((tile.level(), tile.index()), data);
            }
            for (n, leaf) in all[from..to].iter().enumerate() {
                storage.extend(merkle::stored_hashes((from + n) as u64, *leaf, &storage).unwrap());
                frontier.append(*leaf).unwrap();
            }
            let root = split.root();
            prop_assert_eq!(root, tree_hash(to as u64, &storage).unwrap());
            prop_assert_eq!(root, frontier.root());
            // Restart from serialized state at every step, as the log does.
            split = TileAppender::from_bytes(&split.to_bytes()).unwrap();
        }
        prop_assert_eq!(split.root(), whole.root());
        prop_assert_eq!(&split, &whole);
        let final_tiles: HashMap<(u8, u64), Vec<u8>> =
            at_once.into_iter().map(|(t, d)| ((t.level(), t.index()), d)).collect();
        prop_assert_eq!(latest, final_tiles);
    }

    #[test]
    fn proofs_through_tiles_equal_stored_hash_proofs(
        count in 1usize..3000, seed: u64, size_pick: u64, old_pick: u64, index_pick: u64,
    ) {
        let all = leaves(count, seed);
        let mut a = TileAppender::new();
        let reader = MapReader::from_tiles(a.append(&all).unwrap());
        let mut storage: Vec<Hash> = Vec::new();
        for (n, leaf) in all.iter().enumerate() {
            storage.extend(merkle::stored_hashes(n as u64, *leaf, &storage).unwrap());
        }
        // Any published size up to the latest; the store serves newer tile versions,
        // and the reader asks for the prefix its size implies.
        let size = 1 + size_pick % count as u64;
        let root = tree_hash(size, &storage).unwrap();
        let tiles = TileHashReader::new(size, root, &reader);
        prop_assert_eq!(tree_hash(size, &tiles).unwrap(), root);
        let index = index_pick % size;
        prop_assert_eq!(
            prove_inclusion(size, index, &tiles).unwrap(),
            prove_inclusion(size, index, &storage).unwrap()
        );
        let old = 1 + old_pick % size;
        prop_assert_eq!(
            prove_consistency(old, size, &tiles).unwrap(),
            prove_consistency(old, size, &storage).unwrap()
        );
    }
}
