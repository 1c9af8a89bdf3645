//! Known-answer tests: `spec/vectors/tiles/tile-paths.json` and
//! `spec/vectors/tiles/synthetic-tiled-log-1000.json`, every case; bundles; appender state.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;
use crate::merkle::{
    self, Hash, leaf_hash, prove_consistency, prove_inclusion, tree_hash, verify_consistency,
    verify_inclusion,
};

pub(super) fn load(rel: &str) -> Value {
    let path = format!("{}/spec/vectors/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().expect("unsigned integer")
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("string"))
        .expect("base64")
}

fn b64_hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_slice(&b64(h)).unwrap())
        .collect()
}

/// Serves the latest version of each tile; a request for a narrower width gets the
/// prefix, as a log serving a partial tile of an older size would.
pub(super) struct MapReader(pub HashMap<(u8, u64), Vec<u8>>);

impl MapReader {
    pub(super) fn from_tiles(tiles: impl IntoIterator<Item = (Tile, Vec<u8>)>) -> MapReader {
        MapReader(
            tiles
                .into_iter()
                .map(|(t, d)| ((t.level(), t.index()), d))
                .collect(),
        )
    }
}

impl TileReader for MapReader {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        tiles
            .iter()
            .map(|t| match self.0.get(&(t.level(), t.index())) {
                Some(d) if d.len() >= t.data_len() => Ok(d[..t.data_len()].to_vec()),
                _ => Err(TileError::Reader(format!("{} not found", t.path()))),
            })
            .collect()
    }
}

#[test]
fn tile_paths_vectors() {
    let doc = load("tiles/tile-paths.json");
    let valid = doc["tlog_tiles_paths"].as_array().unwrap();
    assert_eq!(valid.len(), 10);
    for v in valid {
        let tile = Tile::new(u(&v["level"]) as u8, u(&v["index"]), u(&v["width"]) as u16).unwrap();
        let path = v["path"].as_str().unwrap();
        assert_eq!(tile.path(), path);
        assert_eq!(parse_tile_path(path), Ok(TilePath::Hashes(tile)));
        match v["entries_path"].as_str() {
            Some(entries) => {
                let bundle = tile.bundle().expect("level 0");
                assert_eq!(bundle.path(), entries);
                assert_eq!(bundle.tile(), tile);
                assert_eq!(parse_tile_path(entries), Ok(TilePath::Entries(bundle)));
            }
            None => assert_eq!(tile.bundle(), None),
        }
    }
    let invalid = doc["invalid_tlog_tiles_paths"].as_array().unwrap();
    assert_eq!(invalid.len(), 10);
    for v in invalid {
        let path = v.as_str().unwrap();
        assert!(
            matches!(parse_tile_path(path), Err(TileError::BadPath { .. })),
            "{path}"
        );
        // The same spellings under entries/ are rejected too (except the level ones).
        if let Some(rest) = path.strip_prefix("tile/0/") {
            let entries = format!("tile/entries/{rest}");
            assert!(parse_tile_path(&entries).is_err(), "{entries}");
        }
    }
    // Go sumdb paths carry a height segment: never valid tlog-tiles paths.
    let go = doc["go_sumdb_paths"].as_array().unwrap();
    assert_eq!(go.len(), 8);
    for v in go {
        let path = v["path"].as_str().unwrap();
        assert!(parse_tile_path(path).is_err(), "{path}");
    }
}

#[test]
fn tile_path_edge_cases() {
    for bad in [
        "",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile/0/000/",
        "tile/0/000.p/",
        "tile/0/000.p/1/",
        "tile/0/000.p/+1",
        "tile/0/000.p/ 1",
        "tile/0/x001",
        "tile/0/x001/",
        "tile/0/y001/000",
        "tile/0/x001/x002",
        "tile/0/00a",
        "tile/0/000.p/1.p/2",
        "tile/+1/000",
        "tile/1 /000",
        "/tile/0/000",
        "tile/0/000\n",
        "tile/entries/000.p/256",
        "tile/entries/x000/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/99999999999999999999/000",
        "tile/0/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/x001/001",
    ] {
        assert!(parse_tile_path(bad).is_err(), "{bad:?}");
    }
    let max = Tile::new(0, u64::MAX, 256).unwrap();
    assert_eq!(max.path(), "tile/0/x018/x446/x744/x073/x709/x551/615");
    assert_eq!(parse_tile_path(&max.path()), Ok(TilePath::Hashes(max)));
    assert!(Tile::new(64, 0, 1).is_err());
    assert!(Tile::new(0, 0, 0).is_err());
    assert!(Tile::new(0, 0, 257).is_err());
    assert!(Bundle::new(0, 0).is_err());
}

#[test]
fn tile_inventory_vectors() {
    let doc = load("tiles/tile-paths.json");
    let sizes = doc["tile_inventory_by_tree_size"].as_array().unwrap();
    assert_eq!(sizes.len(), 10);
    for v in sizes {
        let size = u(&v["tree_size"]);
        let inv = tile_inventory(size);
        let want = v["levels"].as_array().unwrap();
        assert_eq!(inv.len(), want.len(), "size {size}");
        let mut all = Vec::new();
        for (got, w) in inv.iter().zip(want) {
            assert_eq!(u64::from(got.level), u(&w["level"]));
            assert_eq!(got.full_tiles, u(&w["full_tiles"]));
            assert_eq!(u64::from(got.partial_width), u(&w["partial_width"]));
            assert_eq!(
                got.rightmost_full_tile().map(|t| t.path()).as_deref(),
                w["rightmost_full_tile"].as_str()
            );
            assert_eq!(
                got.partial_tile().map(|t| t.path()).as_deref(),
                w["partial_tile"].as_str()
            );
            for index in 0..got.full_tiles {
                all.push(Tile::new(got.level, index, FULL_WIDTH).unwrap());
            }
            all.extend(got.partial_tile());
        }
        // Growing from empty writes exactly the tiles that exist.
        assert_eq!(new_tiles(0, size), all, "size {size}");
        // And tile_in_tree agrees on every one of them.
        for t in &all {
            assert_eq!(tile_in_tree(size, t.level(), t.index()), Some(*t));
        }
        let top = inv.last().unwrap();
        assert_eq!(tile_in_tree(size, top.level + 1, 0), None);
    }
}

fn synthetic_entries() -> Vec<Vec<u8>> {
    (0..1000)
        .map(|i| format!("entry {i}").into_bytes())
        .collect()
}

#[test]
fn synthetic_log_regenerated_byte_for_byte() {
    let doc = load("tiles/synthetic-tiled-log-1000.json");
    let entries = synthetic_entries();
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let mut appender = TileAppender::new();
    let written = appender.append(&leaves).unwrap();
    let root = Hash::from_base64(doc["root_hash_b64"].as_str().unwrap()).unwrap();
    assert_eq!(u(&doc["tree_size"]), 1000);
    assert_eq!(appender.root(), root);

    let want_tiles = doc["tiles"].as_array().unwrap();
    assert_eq!(written.len(), want_tiles.len());
    assert_eq!(
        written.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        new_tiles(0, 1000)
    );
    for ((tile, data), w) in written.iter().zip(want_tiles) {
        assert_eq!(tile.path(), w["path"].as_str().unwrap());
        assert_eq!(u64::from(tile.level()), u(&w["level"]));
        assert_eq!(tile.index(), u(&w["index"]));
        assert_eq!(u64::from(tile.width()), u(&w["width"]));
        assert_eq!(*data, b64(&w["body_b64"]), "{}", tile.path());
        assert_eq!(
            hex::encode(Sha256::digest(data)),
            w["sha256_of_body"].as_str().unwrap()
        );
    }

    let want_bundles = doc["entry_bundles"].as_array().unwrap();
    assert_eq!(want_bundles.len(), 4);
    for (chunk_index, (chunk, w)) in entries.chunks(256).zip(want_bundles).enumerate() {
        let bundle = Bundle::new(chunk_index as u64, chunk.len() as u16).unwrap();
        assert_eq!(bundle.path(), w["path"].as_str().unwrap());
        assert_eq!(chunk.len() as u64, u(&w["count"]));
        let body = encode_bundle(chunk).unwrap();
        assert_eq!(body, b64(&w["body_b64"]));
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            w["sha256_of_body"].as_str().unwrap()
        );
        let decoded = decode_bundle(&body, chunk.len()).unwrap();
        assert_eq!(
            decoded,
            chunk.iter().map(|e| e.as_slice()).collect::<Vec<_>>()
        );
        // The bundle's entries hash to its level-0 tile.
        let (_, tile_data) = &written[chunk_index];
        let hashes: Vec<u8> = decoded.iter().flat_map(|e| leaf_hash(e).0).collect();
        assert_eq!(&hashes, tile_data);
    }

    let mini = &doc["bundle_encoding_mini_example"];
    let mini_entries: Vec<Vec<u8>> = mini["entries_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex::decode(e.as_str().unwrap()).unwrap())
        .collect();
    let mini_body = hex::decode(mini["bundle_hex"].as_str().unwrap()).unwrap();
    assert_eq!(encode_bundle(&mini_entries).unwrap(), mini_body);
    assert_eq!(
        decode_bundle(&mini_body, 3).unwrap(),
        mini_entries
            .iter()
            .map(|e| e.as_slice())
            .collect::<Vec<_>>()
    );
}

#[test]
fn synthetic_log_proofs_through_authenticated_tiles() {
    let doc = load("tiles/synthetic-tiled-log-1000.json");
    let root = Hash::from_base64(doc["root_hash_b64"].as_str().unwrap()).unwrap();
    // Serve exactly the vector's tile bodies, not our own.
    let reader = MapReader::from_tiles(doc["tiles"].as_array().unwrap().iter().map(|w| {
        let t = Tile::new(u(&w["level"]) as u8, u(&w["index"]), u(&w["width"]) as u16).unwrap();
        (t, b64(&w["body_b64"]))
    }));
    let hashes = TileHashReader::new(1000, root, &reader);
    assert_eq!(tree_hash(1000, &hashes).unwrap(), root);

    let inc = &doc["inclusion_example"];
    let index = u(&inc["index"]);
    let leaf = Hash::from_slice(&b64(&inc["leaf_hash_b64"])).unwrap();
    assert_eq!(leaf, leaf_hash(format!("entry {index}").as_bytes()));
    let want = b64_hashes(&inc["proof_b64"]);
    assert_eq!(verify_inclusion(index, 1000, &leaf, &want, &root), Ok(()));
    assert_eq!(prove_inclusion(1000, index, &hashes).unwrap(), want);
    let leaf_index = merkle::stored_hash_index(0, index);
    assert_eq!(
        hashes.read_hashes_checked(&[leaf_index]).unwrap(),
        vec![leaf]
    );

    let con = &doc["consistency_example"];
    let (old, new) = (u(&con["size1"]), u(&con["size2"]));
    let old_root = Hash::from_slice(&b64(&con["root1_b64"])).unwrap();
    let want = b64_hashes(&con["proof_b64"]);
    assert_eq!(
        verify_consistency(old, new, &want, &old_root, &root),
        Ok(())
    );
    assert_eq!(prove_consistency(old, new, &hashes).unwrap(), want);
    // The old root, read through tiles authenticated against the new tree.
    assert_eq!(tree_hash(old, &hashes).unwrap(), old_root);

    // Wrong trusted root: nothing is read.
    let mut wrong = root;
    wrong.0[0] ^= 1;
    let untrusted = TileHashReader::new(1000, wrong, &reader);
    assert_eq!(
        untrusted.read_hashes_checked(&[leaf_index]),
        Err(TileError::InconsistentTile)
    );
    assert!(matches!(
        prove_inclusion(1000, index, &untrusted),
        Err(merkle::ProofError::Reader(_))
    ));
    // Out of the tree.
    assert_eq!(
        hashes.read_hashes_checked(&[merkle::stored_hash_count(1000)]),
        Err(TileError::IndexNotInTree {
            index: merkle::stored_hash_count(1000),
            size: 1000
        })
    );
}

#[test]
fn corrupting_any_byte_of_any_fetched_tile_is_detected() {
    let entries = synthetic_entries();
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let mut appender = TileAppender::new();
    let good = MapReader::from_tiles(appender.append(&leaves).unwrap());
    let root = appender.root();
    for (size, index) in [(1000, 300), (1000, 999), (700, 5), (256, 255)] {
        let size_root = tree_hash(size, &TileHashReader::new(1000, root, &good)).unwrap();
        let needed = tiles_for_inclusion(size, index).unwrap();
        let want =
            prove_inclusion(size, index, &TileHashReader::new(size, size_root, &good)).unwrap();
        assert_eq!(
            verify_inclusion(index, size, &leaves[index as usize], &want, &size_root),
            Ok(())
        );
        for tile in &needed {
            for byte in [0, tile.data_len() / 2, tile.data_len() - 1] {
                let mut bad = MapReader(good.0.clone());
                let data = bad.0.get_mut(&(tile.level(), tile.index())).unwrap();
                data[byte] ^= 0x10;
                let reader = TileHashReader::new(size, size_root, &bad);
                let leaf_index = merkle::stored_hash_index(0, index);
                let mut asked = merkle::inclusion_proof_indexes(size, index).unwrap();
                asked.push(leaf_index);
                assert_eq!(
                    reader.read_hashes_checked(&asked),
                    Err(TileError::InconsistentTile),
                    "{} byte {byte}",
                    tile.path()
                );
            }
        }
    }
}

#[test]
fn tile_for_stored_hash_index_and_hash_from_tile() {
    // Leaf 300 is hash 44 of tile 0/001; the level-8 node 3 is hash 3 of tile 1/000.
    let t = tile_for_stored_hash_index(merkle::stored_hash_index(0, 300)).unwrap();
    assert_eq!((t.level(), t.index(), t.width()), (0, 1, 45));
    let t = tile_for_stored_hash_index(merkle::stored_hash_index(8, 3)).unwrap();
    assert_eq!((t.level(), t.index(), t.width()), (1, 0, 4));
    // Level 3 node 40 (leaves 320..328) folds hashes 64..72 of tile 0/001.
    let t = tile_for_stored_hash_index(merkle::stored_hash_index(3, 40)).unwrap();
    assert_eq!((t.level(), t.index(), t.width()), (0, 1, 72));

    let leaves: Vec<Hash> = synthetic_entries().iter().map(|e| leaf_hash(e)).collect();
    let mut storage = Vec::new();
    for (n, leaf) in leaves.iter().enumerate() {
        storage.extend(merkle::stored_hashes(n as u64, *leaf, &storage).unwrap());
    }
    let tiles: HashMap<Tile, Vec<u8>> = TileAppender::new()
        .append(&leaves)
        .unwrap()
        .into_iter()
        .collect();
    // Every stored hash of the 1000-leaf tree is readable from the tile that holds it.
    for (x, want) in storage.iter().enumerate() {
        let home = tile_for_stored_hash_index(x as u64).unwrap();
        let served = tile_in_tree(1000, home.level(), home.index()).unwrap();
        let data = &tiles[&served];
        assert_eq!(
            hash_from_tile(&served, data, x as u64).unwrap(),
            *want,
            "stored {x}"
        );
    }
    let t0 = Tile::new(0, 0, 256).unwrap();
    let data = &tiles[&t0];
    assert!(matches!(
        hash_from_tile(&t0, &data[1..], 0),
        Err(TileError::BadTileData { .. })
    ));
    assert!(matches!(
        hash_from_tile(&t0, data, merkle::stored_hash_index(0, 256)),
        Err(TileError::HashNotInTile { .. })
    ));
    let narrow = Tile::new(0, 0, 10).unwrap();
    assert!(matches!(
        hash_from_tile(&narrow, &data[..320], merkle::stored_hash_index(0, 10)),
        Err(TileError::HashNotInTile { .. })
    ));
    assert!(tile_for_stored_hash_index(u64::MAX).is_err());
}

#[test]
fn bundles_reject_malformed_input() {
    let entries: Vec<&[u8]> = vec![b"", b"a", b"bc"];
    let body = encode_bundle(&entries).unwrap();
    assert_eq!(body, b"\x00\x00\x00\x01a\x00\x02bc");
    assert_eq!(decode_bundle(&body, 3).unwrap(), entries);
    assert_eq!(
        decode_bundle(&body[..body.len() - 1], 3),
        Err(TileError::BundleTruncated { index: 2 })
    );
    assert_eq!(
        decode_bundle(&body[..5], 3),
        Err(TileError::BundleTruncated { index: 2 })
    );
    assert_eq!(
        decode_bundle(&body[..6], 3),
        Err(TileError::BundleTruncated { index: 2 })
    );
    assert_eq!(
        decode_bundle(&body, 2),
        Err(TileError::BundleTrailingData { count: 2, extra: 4 })
    );
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        decode_bundle(&longer, 3),
        Err(TileError::BundleTrailingData { count: 3, extra: 1 })
    );
    assert_eq!(
        decode_bundle(&[], 1),
        Err(TileError::BundleTruncated { index: 0 })
    );
    assert_eq!(
        decode_bundle(&body, 0),
        Err(TileError::BadEntryCount { count: 0 })
    );
    assert_eq!(
        decode_bundle(&body, 257),
        Err(TileError::BadEntryCount { count: 257 })
    );

    let many = vec![b"x".as_slice(); 257];
    assert_eq!(
        encode_bundle(&many),
        Err(TileError::BadEntryCount { count: 257 })
    );
    assert_eq!(
        encode_bundle::<&[u8]>(&[]),
        Err(TileError::BadEntryCount { count: 0 })
    );
    let full = vec![b"x".as_slice(); 256];
    assert_eq!(
        decode_bundle(&encode_bundle(&full).unwrap(), 256)
            .unwrap()
            .len(),
        256
    );

    let max = vec![7u8; MAX_ENTRY_LEN];
    let body = encode_bundle(&[&max]).unwrap();
    assert_eq!(&body[..2], b"\xff\xff");
    assert_eq!(decode_bundle(&body, 1).unwrap(), vec![max.as_slice()]);
    let too_big = vec![7u8; MAX_ENTRY_LEN + 1];
    assert_eq!(
        encode_bundle(&[b"ok".as_slice(), &too_big]),
        Err(TileError::EntryTooLarge {
            index: 1,
            len: MAX_ENTRY_LEN + 1
        })
    );
}

#[test]
fn appender_state_round_trips_strictly() {
    let leaves: Vec<Hash> = (0..70_000u32)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect();
    let mut a = TileAppender::new();
    assert_eq!(TileAppender::from_bytes(&a.to_bytes()).unwrap(), a);
    a.append(&leaves).unwrap();
    let bytes = a.to_bytes();
    // 70000 = 1·65536 + 17·256 + 112: edge widths 112, 17, 1.
    assert_eq!(bytes.len(), 9 + 32 * (112 + 17 + 1));
    assert_eq!(
        a.edge().iter().map(|e| e.len()).collect::<Vec<_>>(),
        vec![112, 17, 1]
    );
    let b = TileAppender::from_bytes(&bytes).unwrap();
    assert_eq!(b, a);
    assert_eq!(b.root(), a.root());
    assert_eq!(b.size(), 70_000);

    let reject = |bytes: &[u8]| {
        assert!(matches!(
            TileAppender::from_bytes(bytes),
            Err(TileError::BadState { .. })
        ))
    };
    reject(&[]);
    reject(&bytes[..5]);
    reject(&bytes[..bytes.len() - 1]);
    let mut extra = bytes.clone();
    extra.push(0);
    reject(&extra);
    let mut version = bytes.clone();
    version[0] = 2;
    reject(&version);
    let mut huge = vec![1u8];
    huge.extend_from_slice(&(merkle::MAX_TREE_SIZE + 1).to_be_bytes());
    reject(&huge);
    assert!(TileAppender::from_edge(3, vec![vec![Hash::default(); 2]]).is_err());
    assert!(TileAppender::from_edge(256, vec![vec![]]).is_err());
    assert!(TileAppender::from_edge(256, vec![vec![], vec![Hash::default()]]).is_ok());

    let mut full = TileAppender::from_bytes(&{
        let mut s = vec![1u8];
        s.extend_from_slice(&merkle::MAX_TREE_SIZE.to_be_bytes());
        // MAX_TREE_SIZE = 2^62 = 64 · 256^7: 64 hashes at level 7, none below.
        s.extend_from_slice(&[0u8; 32 * 64]);
        s
    })
    .unwrap();
    assert_eq!(full.append(&[Hash::default()]), Err(TileError::TreeFull));
    assert_eq!(full.size(), merkle::MAX_TREE_SIZE);
}
