//! Client-side verification of a live log, trusting only the log's
//! verifier key: the checkpoint's signature, entry bundles re-hashed into the
//! checkpoint's root, tiles authenticated with `claimlog::tiles`'s
//! [`TileHashReader`], and proofs computed from those tiles and checked with
//! `claimlog::merkle`. The server's proof API is compared against these
//! results, never used to derive them.

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{Context as _, bail, ensure};
use claimlog::checkpoint::{Checkpoint, SignedCheckpoint};
use claimlog::merkle::{
    Frontier, Hash, leaf_hash, prove_consistency, prove_inclusion, stored_hash_index, tree_hash,
    verify_consistency, verify_inclusion,
};
use claimlog::note::VerifierKey;
use claimlog::tiles::{Bundle, Tile, TileError, TileHashReader, TileReader, decode_bundle};

use crate::client::Client;

/// Entries per bundle and hashes per tile (tlog-tiles).
const WIDTH: u64 = 256;

/// Fetches `/checkpoint` and opens it with the log's key.
pub fn fetch_checkpoint(client: &Client, log_key: &VerifierKey) -> anyhow::Result<Checkpoint> {
    let resp = client.get("/checkpoint")?.expect(200)?;
    let signed = SignedCheckpoint::parse(&resp.body, [log_key])
        .with_context(|| format!("checkpoint does not verify:\n{}", resp.text()))?;
    Ok(signed.checkpoint().clone())
}

/// A [`TileReader`] over `GET /tile/...`, memoizing responses by path (the
/// [`TileHashReader`] authenticates whatever it is given on every read, so
/// the memo saves requests without trusting anything).
pub struct HttpTiles<'a> {
    client: &'a Client,
    memo: RefCell<HashMap<String, Vec<u8>>>,
}

impl<'a> HttpTiles<'a> {
    /// A reader through `client`.
    pub fn new(client: &'a Client) -> HttpTiles<'a> {
        HttpTiles {
            client,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// Tile requests made so far.
    pub fn fetched(&self) -> usize {
        self.memo.borrow().len()
    }
}

impl TileReader for HttpTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        let mut out = Vec::with_capacity(tiles.len());
        for tile in tiles {
            let path = tile.path();
            if let Some(data) = self.memo.borrow().get(&path) {
                out.push(data.clone());
                continue;
            }
            let resp = self
                .client
                .get(&format!("/{path}"))
                .map_err(|e| TileError::Reader(format!("{path}: {e:#}")))?;
            if resp.status != 200 {
                return Err(TileError::Reader(format!(
                    "{path}: status {}: {}",
                    resp.status,
                    resp.text().trim_end()
                )));
            }
            self.memo.borrow_mut().insert(path, resp.body.clone());
            out.push(resp.body);
        }
        Ok(out)
    }
}

/// Fetches the first `size` entries from entry bundles.
pub fn fetch_entries(client: &Client, size: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut entries = Vec::new();
    for n in 0..size.div_ceil(WIDTH) {
        let width = (size - n * WIDTH).min(WIDTH);
        // width is in 1..=256 here.
        let bundle = Bundle::new(n, u16::try_from(width)?)?;
        let resp = client.get(&format!("/{}", bundle.path()))?.expect(200)?;
        let got = decode_bundle(&resp.body, usize::try_from(width)?)
            .with_context(|| format!("bundle {}", bundle.path()))?;
        entries.extend(got.into_iter().map(<[u8]>::to_vec));
    }
    Ok(entries)
}

/// A tree whose entries and tiles were checked against a signed checkpoint.
pub struct VerifiedTree {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Every entry, in order.
    pub entries: Vec<Vec<u8>>,
    /// Their leaf hashes.
    pub leaves: Vec<Hash>,
}

/// Downloads the whole tree of `checkpoint` and checks it: the entries hash
/// to its root, the tiles' root (through [`TileHashReader`]) equals it, and
/// the tiles' level-0 hashes are the entries' leaf hashes.
pub fn verify_tree(client: &Client, checkpoint: &Checkpoint) -> anyhow::Result<VerifiedTree> {
    let size = checkpoint.size();
    let root = *checkpoint.root();
    let entries = fetch_entries(client, size)?;
    ensure!(
        entries.len() as u64 == size,
        "got {} entries",
        entries.len()
    );
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    let mut frontier = Frontier::new();
    for l in &leaves {
        frontier.append(*l)?;
    }
    ensure!(
        frontier.root() == root,
        "entries of size {size} do not hash to the checkpoint's root"
    );
    let tiles = HttpTiles::new(client);
    let reader = TileHashReader::new(size, root, &tiles);
    ensure!(tree_hash(size, &reader)? == root, "tile root differs");
    if size > 0 {
        let level0: Vec<u64> = (0..size).map(|i| stored_hash_index(0, i)).collect();
        let from_tiles = reader.read_hashes_checked(&level0)?;
        ensure!(
            from_tiles == leaves,
            "level-0 tiles differ from the entries"
        );
    }
    Ok(VerifiedTree {
        checkpoint: checkpoint.clone(),
        entries,
        leaves,
    })
}

/// For every leaf of `tree`: computes its inclusion proof from authenticated
/// tiles, verifies it against the checkpoint's root, and checks that
/// `GET /v1/proof/inclusion` returns the same proof, leaf hash and root.
pub fn check_every_inclusion(client: &Client, tree: &VerifiedTree) -> anyhow::Result<()> {
    let size = tree.checkpoint.size();
    let root = *tree.checkpoint.root();
    let tiles = HttpTiles::new(client);
    let reader = TileHashReader::new(size, root, &tiles);
    for (i, leaf) in tree.leaves.iter().enumerate() {
        let i = i as u64;
        let proof = prove_inclusion(size, i, &reader)?;
        verify_inclusion(i, size, leaf, &proof, &root)
            .with_context(|| format!("inclusion of {i} in {size}"))?;
        let api = client
            .get(&format!("/v1/proof/inclusion?index={i}&size={size}"))?
            .expect(200)?
            .json()?;
        ensure!(api["index"] == i && api["size"] == size, "api echo: {api}");
        ensure!(api["leafHash"] == leaf.to_base64(), "api leaf {i}: {api}");
        ensure!(api["rootHash"] == root.to_base64(), "api root: {api}");
        ensure!(
            api["proof"] == serde_json::json!(hashes_b64(&proof)),
            "api inclusion proof of {i} in {size} differs: {api}"
        );
    }
    Ok(())
}

/// Computes the consistency proof from `old` to `new` from tiles
/// authenticated against `new`, verifies it, and checks that
/// `GET /v1/proof/consistency` agrees.
pub fn check_consistency(
    client: &Client,
    old: &Checkpoint,
    new: &Checkpoint,
) -> anyhow::Result<()> {
    let (m, n) = (old.size(), new.size());
    ensure!(m <= n, "checkpoint went backwards: {m} then {n}");
    if m == 0 {
        // RFC 9162 has no proof from the empty tree; everything extends it.
        return Ok(());
    }
    let tiles = HttpTiles::new(client);
    let reader = TileHashReader::new(n, *new.root(), &tiles);
    let proof = prove_consistency(m, n, &reader)?;
    verify_consistency(m, n, &proof, old.root(), new.root())
        .with_context(|| format!("consistency {m} -> {n}"))?;
    let api = client
        .get(&format!("/v1/proof/consistency?old={m}&new={n}"))?
        .expect(200)?
        .json()?;
    ensure!(api["oldRootHash"] == old.root().to_base64(), "{api}");
    ensure!(api["newRootHash"] == new.root().to_base64(), "{api}");
    ensure!(
        api["proof"] == serde_json::json!(hashes_b64(&proof)),
        "api consistency proof {m} -> {n} differs: {api}"
    );
    Ok(())
}

/// Checks a receipt's C2SP tlog-proof text: the index line, a checkpoint
/// signed by the log covering the entry, and the inclusion proof of `leaf`
/// under it. Returns the checkpoint.
pub fn verify_tlog_proof(
    text: &str,
    index: u64,
    leaf: &Hash,
    log_key: &VerifierKey,
) -> anyhow::Result<Checkpoint> {
    let Some((head, note)) = text.split_once("\n\n") else {
        bail!("tlog-proof without an empty line: {text:?}");
    };
    let mut lines = head.lines();
    ensure!(
        lines.next() == Some("c2sp.org/tlog-proof@v1"),
        "header: {text:?}"
    );
    ensure!(
        lines.next() == Some(format!("index {index}").as_str()),
        "index line: {text:?}"
    );
    let proof = lines
        .map(|l| Hash::from_base64(l).with_context(|| format!("proof line {l:?}")))
        .collect::<anyhow::Result<Vec<Hash>>>()?;
    let signed = SignedCheckpoint::parse(note.as_bytes(), [log_key])
        .with_context(|| format!("receipt checkpoint does not verify: {note:?}"))?;
    let cp = signed.checkpoint();
    verify_inclusion(index, cp.size(), leaf, &proof, cp.root())
        .with_context(|| format!("receipt proof for {index} in {}", cp.size()))?;
    Ok(cp.clone())
}

fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}
