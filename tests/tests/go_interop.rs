//! Interop with Go's reference implementation (`golang.org/x/mod/sumdb/note`
//! and `sumdb/tlog`) through the `claimlog-interop` program in
//! `tests/interop/go`, both ways:
//! - Go writes a signed note, a checkpoint, a 70,000-entry tiled log and
//!   proofs; claimlog's `note`, `checkpoint`, `merkle` and `tiles` modules must
//!   accept them and reproduce every byte;
//! - claimlog writes the same kind of directory for a 100,000-entry log; Go must
//!   accept it (`check`, and `check-log` over loopback HTTP) and must reject
//!   each of a list of tampered copies, naming the failure.
//!
//! The exchange format is documented in `tests/interop/README.md`.

#[path = "../interop/exchange.rs"]
mod exchange;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::merkle::{self, Frontier, Hash};
use claimlog::note::{KeyName, KeyType, Note, SignerKey, VerifierKey};
use claimlog::tiles::{self, Tile, TileAppender, TileError, TileHashReader, TilePath, TileReader};
use serde_json::{Value, json};

use claimlog_tests::go::{describe, interop_binary, run_interop};
use exchange::{
    Manifest, StaticServer, copy_dir, edit_manifest, flip_byte, list_tile_files, write_file,
    write_manifest,
};

/// The size of the log Go's `gen` writes (tests/interop/go/gen.go).
const GO_SIZE: u64 = 70_000;
/// The text of the plain note Go's `gen` signs.
const GO_NOTE_TEXT: &str = "claimlog interop: a note signed by Go's sumdb/note\nsecond line\n";

/// The size of the log written here: partial tiles of width 160 at level 0,
/// 134 at level 1 and 1 at level 2.
const RUST_SIZE: u64 = 100_000;
/// The name of the Rust side's test key, also its checkpoint origin.
const RUST_KEY_NAME: &str = "rust.interop.claimlog.dev/log";
/// The Rust side's Ed25519 seed: these 32 ASCII bytes. Public test material.
const RUST_SEED: &[u8; 32] = b"claimlog interop test key: rust!";
/// Another seed, for a key Go must not accept.
const OTHER_SEED: &[u8; 32] = b"claimlog interop: some other key";
/// The text of the plain note signed here.
const RUST_NOTE_TEXT: &str =
    "claimlog interop: a note signed by claimlog's note module\nsecond line\n";
/// (index, size) pairs of the inclusion proofs written here.
const RUST_INCLUSION: &[(u64, u64)] = &[
    (0, 1),
    (1, 3),
    (6, 7),
    (255, 256),
    (256, RUST_SIZE),
    (511, 512),
    (1000, 65_537),
    (4095, 4096),
    (54_321, RUST_SIZE),
    (65_535, 65_536),
    (65_536, RUST_SIZE),
    (RUST_SIZE - 1, RUST_SIZE),
];
/// (old, new) pairs of the consistency proofs written here.
const RUST_CONSISTENCY: &[(u64, u64)] = &[
    (1, RUST_SIZE),
    (2, 3),
    (7, 8),
    (256, 512),
    (257, RUST_SIZE),
    (4096, 65_536),
    (12_345, 54_321),
    (65_535, 65_537),
    (RUST_SIZE - 1, RUST_SIZE),
    (RUST_SIZE, RUST_SIZE),
];
/// Batch sizes fed to the tile appender in turn, so that tiles are completed
/// across batch boundaries and partial tiles are rewritten many times.
const APPEND_BATCHES: &[usize] = &[1, 2, 255, 256, 257, 1000, 3, 4093];

/// Go's `gen` output is accepted by Go's own `check` and `check-log`: the
/// harness agrees with itself, so its rejections below mean something.
#[test]
fn go_harness_accepts_its_own_output() {
    let Some(go) = interop_binary() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let vkey = go_gen(go, dir.path());

    let check = run_interop(go, &[OsStr::new("check"), dir.path().as_os_str()]);
    assert!(
        check.status.success(),
        "check of Go's own output failed:\n{}",
        describe(&check)
    );

    let server = StaticServer::start(dir.path());
    let out = run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            vkey.as_ref(),
        ],
    );
    assert!(
        out.status.success(),
        "check-log over HTTP failed:\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("checkpoint of size {GO_SIZE} verified")),
        "{}",
        describe(&out)
    );
}

/// Go's keys, note, checkpoint, tiles, bundles, roots and proofs are accepted
/// by claimlog, and claimlog reproduces each of them byte for byte.
#[test]
fn go_output_verifies_with_claimlog() {
    let Some(go) = interop_binary() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let printed_vkey = go_gen(go, dir.path());
    let m = Manifest::read(dir.path());
    assert_eq!(
        printed_vkey, m.vkey,
        "gen printed a different vkey than it wrote"
    );
    assert_eq!(m.size, GO_SIZE);

    // Keys: claimlog parses Go's vkey and skey and derives the same strings.
    let vkey = VerifierKey::parse(&m.vkey).expect("claimlog parses Go's vkey");
    let skey = SignerKey::parse(&m.skey).expect("claimlog parses Go's skey");
    assert_eq!(vkey.to_string(), m.vkey);
    assert_eq!(skey.verifier(), vkey);
    assert_eq!(skey.to_skey_string(), m.skey);
    let other = other_key().verifier();

    // The plain note: opens under Go's key only, and claimlog's signature of
    // the same text is byte-identical (Ed25519 is deterministic).
    let note = Note::parse(m.note.as_bytes()).expect("claimlog parses Go's note");
    let opened = note
        .open([&vkey])
        .expect("Go's note verifies with claimlog");
    assert_eq!(opened.text(), GO_NOTE_TEXT);
    assert!(
        note.open([&other]).is_err(),
        "Go's note opened under an unrelated key"
    );
    let resigned = Note::sign(GO_NOTE_TEXT, [&skey]).expect("sign");
    assert_eq!(
        resigned.to_bytes(),
        m.note.as_bytes(),
        "claimlog's signature differs from Go's"
    );
    let forged = m.note.replacen("second line", "second lime", 1);
    assert!(
        Note::parse(forged.as_bytes())
            .and_then(|n| n.open([&vkey]))
            .is_err(),
        "a note with altered text still verified"
    );

    // The checkpoint.
    let cp_bytes = fs::read(dir.path().join("checkpoint")).expect("read checkpoint");
    let signed = SignedCheckpoint::parse(&cp_bytes, [&vkey]).expect("Go's checkpoint opens");
    let cp = signed.checkpoint();
    assert_eq!(cp.origin().as_str(), vkey.name().as_str());
    assert_eq!(cp.size(), GO_SIZE);
    assert!(cp.extensions().is_empty());
    let resigned = SignedCheckpoint::sign(cp, &skey).expect("sign checkpoint");
    assert_eq!(
        resigned.to_string().as_bytes(),
        &cp_bytes[..],
        "checkpoint bytes differ"
    );
    assert!(SignedCheckpoint::parse(&cp_bytes, [&other]).is_err());

    check_go_log(dir.path(), &m, *cp.root());
}

/// claimlog's output passes every check of Go's `check` and `check-log`, and
/// Go rejects tampered copies of it, naming the first failure.
#[test]
fn claimlog_output_verifies_with_go() {
    let Some(go) = interop_binary() else { return };
    let base = tempfile::tempdir().expect("temp dir");
    let dir = base.path().join("rust");
    let vkey = write_claimlog_exchange(&dir);

    let out = run_interop(go, &[OsStr::new("check"), dir.as_os_str()]);
    assert!(
        out.status.success(),
        "Go rejected claimlog's output:\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("ok: rust log of size {RUST_SIZE}")),
        "unexpected check output:\n{}",
        describe(&out)
    );

    for (i, case) in tamper_cases().iter().enumerate() {
        let copy = base.path().join(format!("tampered-{i}"));
        copy_dir(&dir, &copy);
        (case.apply)(&copy);
        let out = run_interop(go, &[OsStr::new("check"), copy.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(case.expect),
            "tampering ({}): Go's check should fail with {:?}:\n{}",
            case.what,
            case.expect,
            describe(&out)
        );
        fs::remove_dir_all(&copy).expect("remove copy");
    }

    // check-log: the directory is a static tlog-tiles log, served over HTTP.
    let server = StaticServer::start(&dir);
    let out = run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            vkey.as_ref(),
        ],
    );
    assert!(
        out.status.success(),
        "check-log rejected claimlog's log:\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("checkpoint of size {RUST_SIZE} verified")),
        "{}",
        describe(&out)
    );

    let wrong_key = other_key().verifier().to_string();
    let out = run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            wrong_key.as_ref(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("note.Open(checkpoint)"),
        "check-log accepted a checkpoint under the wrong key:\n{}",
        describe(&out)
    );
    drop(server);

    let tampered = base.path().join("tampered-http");
    copy_dir(&dir, &tampered);
    flip_byte(&tampered.join(level0_partial(RUST_SIZE).path()), 7);
    let server = StaticServer::start(&tampered);
    let out = run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            vkey.as_ref(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("via TileHashReader"),
        "check-log accepted a tampered tile:\n{}",
        describe(&out)
    );
}

/// Runs Go's `gen` into dir and returns the vkey it printed.
fn go_gen(go: &Path, dir: &Path) -> String {
    let out = run_interop(go, &[OsStr::new("gen"), dir.as_os_str()]);
    assert!(out.status.success(), "gen failed:\n{}", describe(&out));
    String::from_utf8(out.stdout)
        .expect("vkey is UTF-8")
        .trim_end()
        .to_owned()
}

/// The contents of entry `i` in both logs.
fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn rust_key() -> SignerKey {
    let name = KeyName::new(RUST_KEY_NAME).expect("valid key name");
    SignerKey::from_seed(name, KeyType::Ed25519, *RUST_SEED).expect("signer key")
}

/// A key with the same name as [`rust_key`] but another secret.
fn other_key() -> SignerKey {
    let name = KeyName::new(RUST_KEY_NAME).expect("valid key name");
    SignerKey::from_seed(name, KeyType::Ed25519, *OTHER_SEED).expect("signer key")
}

/// Checks Go's tiled log with claimlog: the file set, every tile and bundle
/// regenerated by the tile appender, roots, and every proof verified and
/// regenerated (from stored hashes and from authenticated tiles).
fn check_go_log(dir: &Path, m: &Manifest, root: Hash) {
    let size = m.size;

    // The exact set of files a log of this size serves, per claimlog.
    let expected: BTreeSet<String> = tiles_of(size)
        .iter()
        .flat_map(|t| {
            let bundle = t.bundle().map(|b| b.path());
            std::iter::once(t.path()).chain(bundle)
        })
        .collect();
    assert_eq!(
        list_tile_files(dir),
        expected,
        "Go's tile files differ from claimlog's tile set"
    );
    assert_eq!(m.tiles.iter().cloned().collect::<BTreeSet<_>>(), expected);
    for path in &m.tiles {
        let formatted = match tiles::parse_tile_path(path) {
            Ok(TilePath::Hashes(t)) => t.path(),
            Ok(TilePath::Entries(b)) => b.path(),
            Err(e) => panic!("claimlog rejects Go's tile path {path}: {e}"),
        };
        assert_eq!(&formatted, path);
    }

    // Entries from the bundles, strictly decoded.
    let mut leaves = Vec::with_capacity(size as usize);
    for tile in tiles_of(size).iter().filter(|t| t.level() == 0) {
        let bundle = tile.bundle().expect("level-0 tile has a bundle");
        let bytes = fs::read(dir.join(bundle.path())).expect("read bundle");
        let entries = tiles::decode_bundle(&bytes, usize::from(bundle.width()))
            .unwrap_or_else(|e| panic!("claimlog rejects Go's bundle {}: {e}", bundle.path()));
        for (i, e) in entries.iter().enumerate() {
            let index = tile.index() * 256 + i as u64;
            assert_eq!(*e, entry(index).as_slice(), "entry {index}");
            leaves.push(merkle::leaf_hash(e));
        }
        assert_eq!(
            tiles::encode_bundle(&entries).expect("encode bundle"),
            bytes,
            "bundle {} re-encodes differently",
            bundle.path()
        );
    }
    assert_eq!(leaves.len() as u64, size);

    // Every tile, regenerated incrementally by claimlog's appender.
    let (appended, appender_root) = append_in_batches(&leaves);
    assert_eq!(
        appender_root, root,
        "appender root differs from Go's checkpoint"
    );
    assert_eq!(appended.len(), tiles_of(size).len(), "appender tile count");
    for tile in tiles_of(size) {
        let (got_tile, data) = &appended[&(tile.level(), tile.index())];
        assert_eq!(
            *got_tile,
            tile,
            "appender's final version of {}",
            tile.path()
        );
        let go_data = fs::read(dir.join(tile.path())).expect("read tile");
        assert!(*data == go_data, "tile {} differs from Go's", tile.path());
    }
    let mut frontier = Frontier::new();
    for leaf in &leaves {
        frontier.append(*leaf).expect("frontier append");
    }
    assert_eq!(frontier.root(), root, "frontier root");

    // Roots and proofs from stored hashes, and from tiles authenticated
    // against the checkpoint.
    let stored = stored_hashes(&leaves);
    for (&n, r) in &m.roots {
        assert_eq!(
            merkle::tree_hash(n, &stored).expect("tree hash"),
            *r,
            "root at {n}"
        );
    }
    assert_eq!(m.roots.get(&size), Some(&root));
    let files = DirTiles { dir, flip: None };
    let authenticated = TileHashReader::new(size, root, &files);
    assert_eq!(
        merkle::tree_hash(size, &authenticated).expect("tree hash from tiles"),
        root
    );

    for c in &m.inclusion {
        let what = format!("inclusion of {} in {}", c.index, c.size);
        let r = m.roots[&c.size];
        assert_eq!(
            c.leaf,
            merkle::leaf_hash(&entry(c.index)),
            "{what}: leaf hash"
        );
        merkle::verify_inclusion(c.index, c.size, &c.leaf, &c.proof, &r)
            .unwrap_or_else(|e| panic!("{what}: claimlog rejects Go's proof: {e}"));
        let ours = merkle::prove_inclusion(c.size, c.index, &stored).expect("prove");
        assert_eq!(ours, c.proof, "{what}: proof differs from Go's");
        if c.size == size {
            let from_tiles = merkle::prove_inclusion(c.size, c.index, &authenticated);
            assert_eq!(
                from_tiles.expect("prove from tiles"),
                c.proof,
                "{what}: from tiles"
            );
        }
        if let Some(bad) = flip_first(&c.proof) {
            assert!(
                merkle::verify_inclusion(c.index, c.size, &c.leaf, &bad, &r).is_err(),
                "{what}: bit flip"
            );
        }
    }
    for c in &m.consistency {
        let what = format!("consistency {} -> {}", c.old, c.new);
        let (old_root, new_root) = (m.roots[&c.old], m.roots[&c.new]);
        merkle::verify_consistency(c.old, c.new, &c.proof, &old_root, &new_root)
            .unwrap_or_else(|e| panic!("{what}: claimlog rejects Go's proof: {e}"));
        let ours = merkle::prove_consistency(c.old, c.new, &stored).expect("prove");
        assert_eq!(ours, c.proof, "{what}: proof differs from Go's");
        if c.new == size {
            let from_tiles = merkle::prove_consistency(c.old, c.new, &authenticated);
            assert_eq!(
                from_tiles.expect("prove from tiles"),
                c.proof,
                "{what}: from tiles"
            );
        }
        if let Some(bad) = flip_first(&c.proof) {
            assert!(
                merkle::verify_consistency(c.old, c.new, &bad, &old_root, &new_root).is_err(),
                "{what}: bit flip"
            );
        }
    }

    // A tampered tile on the right edge is caught by the authenticated reader.
    let tampered = DirTiles {
        dir,
        flip: Some(level0_partial(size)),
    };
    let reader = TileHashReader::new(size, root, &tampered);
    let indexes = merkle::tree_hash_indexes(size).expect("tree hash indexes");
    assert_eq!(
        reader.read_hashes_checked(&indexes),
        Err(TileError::InconsistentTile),
        "a tampered tile was not detected"
    );
}

/// Writes claimlog's side of the exchange into dir and returns its vkey.
fn write_claimlog_exchange(dir: &Path) -> String {
    let skey = rust_key();
    let vkey = skey.verifier().to_string();
    let note = Note::sign(RUST_NOTE_TEXT, [&skey]).expect("sign note");

    let entries: Vec<Vec<u8>> = (0..RUST_SIZE).map(entry).collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let (appended, root) = append_in_batches(&leaves);
    let mut written = Vec::new();
    for (tile, data) in appended.values() {
        write_file(dir, &tile.path(), data);
        written.push(tile.path());
        if let Some(bundle) = tile.bundle() {
            let start = (bundle.index() * 256) as usize;
            let end = start + usize::from(bundle.width());
            let bytes = tiles::encode_bundle(&entries[start..end]).expect("encode bundle");
            write_file(dir, &bundle.path(), &bytes);
            written.push(bundle.path());
        }
    }

    let stored = stored_hashes(&leaves);
    assert_eq!(
        merkle::tree_hash(RUST_SIZE, &stored).expect("tree hash"),
        root
    );
    let origin = Origin::new(RUST_KEY_NAME).expect("origin");
    let checkpoint = SignedCheckpoint::sign(&Checkpoint::new(origin, RUST_SIZE, root), &skey)
        .expect("sign checkpoint");
    write_file(dir, "checkpoint", checkpoint.to_string().as_bytes());

    let mut sizes = BTreeSet::from([RUST_SIZE]);
    sizes.extend(RUST_INCLUSION.iter().map(|&(_, n)| n));
    sizes.extend(RUST_CONSISTENCY.iter().flat_map(|&(a, b)| [a, b]));
    let roots: Vec<Value> = sizes
        .iter()
        .map(|&n| {
            let r = merkle::tree_hash(n, &stored).expect("tree hash");
            json!({ "size": n, "root": r.to_base64() })
        })
        .collect();
    let inclusion: Vec<Value> = RUST_INCLUSION
        .iter()
        .map(|&(index, size)| {
            let proof = merkle::prove_inclusion(size, index, &stored).expect("prove inclusion");
            json!({
                "index": index,
                "size": size,
                "leaf_hash": leaves[index as usize].to_base64(),
                "proof": base64_list(&proof),
            })
        })
        .collect();
    let consistency: Vec<Value> = RUST_CONSISTENCY
        .iter()
        .map(|&(old, new)| {
            let proof = merkle::prove_consistency(old, new, &stored).expect("prove consistency");
            json!({ "old": old, "new": new, "proof": base64_list(&proof) })
        })
        .collect();
    let manifest = json!({
        "format": "claimlog-interop/v1",
        "producer": "rust",
        "vkey": vkey,
        "skey": skey.to_skey_string(),
        "note": String::from_utf8(note.to_bytes()).expect("note is UTF-8"),
        "size": RUST_SIZE,
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
        "tiles": written,
    });
    write_manifest(dir, &manifest);
    vkey
}

/// A way to corrupt claimlog's output, and the failure Go must report.
struct TamperCase {
    what: &'static str,
    apply: fn(&Path),
    expect: &'static str,
}

fn tamper_cases() -> Vec<TamperCase> {
    vec![
        TamperCase {
            what: "a byte of the level-0 partial tile (on the right edge)",
            apply: |d| flip_byte(&d.join(level0_partial(RUST_SIZE).path()), 100),
            expect: "via TileHashReader: downloaded inconsistent tile",
        },
        TamperCase {
            what: "a byte of a full level-1 tile",
            apply: |d| flip_byte(&d.join("tile/1/000"), 4000),
            expect: "tile tile/1/000 differs from Go's",
        },
        TamperCase {
            what: "a level-2 tile removed",
            apply: |d| fs::remove_file(d.join("tile/2/000.p/1")).expect("remove"),
            expect: "tile/2/000.p/1",
        },
        TamperCase {
            what: "a stale narrower partial tile left behind",
            apply: |d| {
                let wider = level0_partial(RUST_SIZE);
                let narrower = Tile::new(0, wider.index(), wider.width() - 1).expect("tile");
                let data = fs::read(d.join(wider.path())).expect("read");
                write_file(d, &narrower.path(), &data[..narrower.data_len()]);
            },
            expect: "unexpected tile file tile/0/390.p/159",
        },
        TamperCase {
            what: "an entry changed inside a bundle",
            apply: |d| {
                let mut entries: Vec<Vec<u8>> = (0..256).map(entry).collect();
                entries[5] = b"entry 5x".to_vec();
                let bytes = tiles::encode_bundle(&entries).expect("encode");
                write_file(d, "tile/entries/000", &bytes);
            },
            expect: "entry bundle tile/entries/000: entry 5",
        },
        TamperCase {
            what: "a bundle with trailing bytes",
            apply: |d| {
                let path = d.join("tile/entries/001");
                let mut bytes = fs::read(&path).expect("read");
                bytes.push(0);
                fs::write(&path, bytes).expect("write");
            },
            expect: "entry bundle tile/entries/001",
        },
        TamperCase {
            what: "the checkpoint size changed after signing",
            apply: |d| {
                let path = d.join("checkpoint");
                let text = fs::read_to_string(&path).expect("read");
                let forged = text.replacen("\n100000\n", "\n100001\n", 1);
                assert_ne!(text, forged);
                fs::write(&path, forged).expect("write");
            },
            expect: "note.Open(checkpoint): invalid signature",
        },
        TamperCase {
            what: "the note text changed after signing",
            apply: |d| {
                edit_manifest(d, |m| {
                    let note = m["note"]
                        .as_str()
                        .expect("note")
                        .replacen("second", "Second", 1);
                    m["note"] = json!(note);
                })
            },
            expect: "note.Open(note): invalid signature",
        },
        TamperCase {
            what: "the skey of another key",
            apply: |d| edit_manifest(d, |m| m["skey"] = json!(other_key().to_skey_string())),
            expect: "does not match the vkey",
        },
        TamperCase {
            what: "a root changed",
            apply: |d| {
                edit_manifest(d, |m| {
                    m["roots"][0]["root"] = json!(merkle::leaf_hash(b"not a root").to_base64());
                })
            },
            expect: "root at size 1 is",
        },
        TamperCase {
            what: "an inclusion proof hash changed",
            apply: |d| {
                edit_manifest(d, |m| {
                    m["inclusion"][4]["proof"][3] = json!(merkle::leaf_hash(b"x").to_base64());
                })
            },
            expect: "inclusion proof index 256 size 100000: CheckRecord",
        },
        TamperCase {
            what: "a consistency proof truncated",
            apply: |d| {
                edit_manifest(d, |m| {
                    let proof = m["consistency"][0]["proof"].as_array_mut().expect("proof");
                    proof.pop();
                })
            },
            expect: "consistency proof 1 -> 100000: CheckTree",
        },
    ]
}

/// The latest version of each tile, keyed by (level, index).
type LatestTiles = BTreeMap<(u8, u64), (Tile, Vec<u8>)>;

/// Appends leaves with claimlog's tile appender in uneven batches and returns
/// the last version of every tile, keyed by (level, index), and the root.
fn append_in_batches(leaves: &[Hash]) -> (LatestTiles, Hash) {
    let mut appender = TileAppender::new();
    let mut latest = BTreeMap::new();
    let mut rest = leaves;
    for &n in APPEND_BATCHES.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        for (tile, data) in appender.append(batch).expect("append") {
            latest.insert((tile.level(), tile.index()), (tile, data));
        }
    }
    assert_eq!(appender.size(), leaves.len() as u64);
    (latest, appender.root())
}

/// Go's stored hashes (specs.md §10) for leaves, built with claimlog.
fn stored_hashes(leaves: &[Hash]) -> Vec<Hash> {
    let mut stored = Vec::with_capacity(leaves.len() * 2);
    for (n, leaf) in leaves.iter().enumerate() {
        let new = merkle::stored_hashes(n as u64, *leaf, &stored).expect("stored hashes");
        stored.extend(new);
    }
    stored
}

/// Every hash tile a tree of `size` serves: full tiles and the partial tile of
/// each level.
fn tiles_of(size: u64) -> Vec<Tile> {
    tiles::tile_inventory(size)
        .iter()
        .flat_map(|level| {
            let full = (0..level.full_tiles).map(|i| Tile::new(level.level, i, 256).expect("tile"));
            full.chain(level.partial_tile())
        })
        .collect()
}

/// The partial level-0 tile of a tree whose size is not a multiple of 256.
fn level0_partial(size: u64) -> Tile {
    tiles::tile_inventory(size)[0]
        .partial_tile()
        .expect("size leaves a partial tile")
}

/// A claimlog [`TileReader`] over tile files in a directory, optionally
/// corrupting one tile.
struct DirTiles<'a> {
    dir: &'a Path,
    flip: Option<Tile>,
}

impl TileReader for DirTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        tiles
            .iter()
            .map(|t| {
                let mut data = fs::read(self.dir.join(t.path()))
                    .map_err(|e| TileError::Reader(format!("{}: {e}", t.path())))?;
                if self.flip == Some(*t) {
                    data[0] ^= 1;
                }
                Ok(data)
            })
            .collect()
    }
}

/// The proof with the lowest bit of its first hash flipped; `None` if empty.
fn flip_first(proof: &[Hash]) -> Option<Vec<Hash>> {
    let mut bad = proof.to_vec();
    bad.first_mut()?.0[0] ^= 1;
    Some(bad)
}

fn base64_list(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(Hash::to_base64).collect()
}
