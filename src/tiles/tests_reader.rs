//! The authenticated reader on a tree with three tile levels, including a forgery that
//! only a reader authenticating *every* non-edge tile catches.

use super::tests::MapReader;
use super::*;
use crate::merkle::{
    self, Hash, leaf_hash, node_hash, prove_consistency, prove_inclusion, tree_hash,
    verify_inclusion,
};

/// 65539 = 65536 + 2 + 1: the tree's perfect subtrees are (16, 0), (1, 32768) and
/// (0, 65538). The first lives in tile 2/000.p/1, the other two both in tile
/// 0/x256... i.e. 0/256.p/3: three edge indexes but only two edge tiles.
const SIZE: u64 = 65_539;

fn tree() -> (Vec<Hash>, MapReader, Hash) {
    let leaves: Vec<Hash> = (0..SIZE).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut a = TileAppender::new();
    let tiles = a.append(&leaves).unwrap();
    assert_eq!(tiles.len(), new_tiles(0, SIZE).len());
    (leaves, MapReader::from_tiles(tiles), a.root())
}

#[test]
fn proofs_through_three_tile_levels() {
    let (leaves, reader, root) = tree();
    let mut storage = Vec::new();
    for (n, leaf) in leaves.iter().enumerate() {
        storage.extend(merkle::stored_hashes(n as u64, *leaf, &storage).unwrap());
    }
    assert_eq!(tree_hash(SIZE, &storage).unwrap(), root);
    assert_eq!(
        tiles_for_tree_hash(SIZE)
            .unwrap()
            .iter()
            .map(|t| t.path())
            .collect::<Vec<_>>(),
        vec!["tile/2/000.p/1", "tile/0/256.p/3"]
    );
    let tiles = TileHashReader::new(SIZE, root, &reader);
    assert_eq!(tree_hash(SIZE, &tiles).unwrap(), root);
    for index in [0, 1280, 65_535, 65_536, 65_538] {
        let proof = prove_inclusion(SIZE, index, &tiles).unwrap();
        assert_eq!(proof, prove_inclusion(SIZE, index, &storage).unwrap());
        assert_eq!(
            verify_inclusion(index, SIZE, &leaves[index as usize], &proof, &root),
            Ok(())
        );
    }
    for old in [1, 255, 256, 65_536, 65_537] {
        assert_eq!(
            prove_consistency(old, SIZE, &tiles).unwrap(),
            prove_consistency(old, SIZE, &storage).unwrap()
        );
    }
    // The plan for leaf 1280 adds the full tiles 1/000 and 0/005 below the edge tiles.
    assert_eq!(
        tiles_for_inclusion(SIZE, 1280)
            .unwrap()
            .iter()
            .map(|t| t.path())
            .collect::<Vec<_>>(),
        vec![
            "tile/2/000.p/1",
            "tile/0/256.p/3",
            "tile/1/000",
            "tile/0/005"
        ]
    );
}

#[test]
fn forged_leaf_with_matching_parent_tile_is_rejected() {
    let (_, reader, root) = tree();
    // Forge leaf 1280 and make tile 1/000 agree with the forged tile 0/005. Only the check
    // of 1/000 against 2/000.p/1 (and so against the root) can catch this; a reader that
    // started authenticating at the number of edge *indexes* (3) instead of edge *tiles*
    // (2) would skip 1/000, the third planned tile.
    let mut forged = MapReader(reader.0.clone());
    let fake = leaf_hash(b"forged");
    let t005 = forged.0.get_mut(&(0, 5)).unwrap();
    t005[..32].copy_from_slice(fake.as_bytes());
    let t005_root = fold_tile(t005);
    let t1 = forged.0.get_mut(&(1, 0)).unwrap();
    t1[5 * 32..6 * 32].copy_from_slice(t005_root.as_bytes());

    let tiles = TileHashReader::new(SIZE, root, &forged);
    let leaf_index = merkle::stored_hash_index(0, 1280);
    assert_eq!(
        tiles.read_hashes_checked(&[leaf_index]),
        Err(TileError::InconsistentTile)
    );
    // Untouched parts of the tree still read fine through the forged store.
    let other = merkle::stored_hash_index(0, 65_538);
    assert!(tiles.read_hashes_checked(&[other]).is_ok());
}

fn fold_tile(data: &[u8]) -> Hash {
    let mut level: Vec<Hash> = data
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}
