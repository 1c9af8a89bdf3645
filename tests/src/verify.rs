//! Client-side verification of a live log, trusting only the log's
//! verifier key, through [`claimlog::client::LogClient`]: the checkpoint's
//! signature, entries read from entry bundles and authenticated against
//! tiles, proofs computed from authenticated tiles. The server's proof API is
//! compared against these results, never used to derive them.

use anyhow::{Context as _, ensure};
use claimlog::checkpoint::{Checkpoint, SignedCheckpoint};
use claimlog::client::LogClient;
use claimlog::merkle::{Frontier, Hash, leaf_hash, verify_inclusion};
use claimlog::note::VerifierKey;
use claimlog::proof_bundle::ProofBundle;

use crate::client::Client;

/// The [`LogClient`] of the log `client` talks to.
fn log_client(client: &Client) -> anyhow::Result<LogClient> {
    Ok(LogClient::new(client.base())?)
}

/// Fetches `/checkpoint` and opens it with the log's key.
pub fn fetch_checkpoint(client: &Client, log_key: &VerifierKey) -> anyhow::Result<Checkpoint> {
    let signed = client
        .block_on(log_client(client)?.checkpoint_with_key(log_key))
        .context("checkpoint does not verify")?;
    Ok(signed.checkpoint().clone())
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

/// Downloads the whole tree of `checkpoint` and checks it: the entries are
/// the level-0 hashes of tiles authenticated against its root
/// ([`LogClient::verified_entries`]), and, independently, they hash to that
/// root.
pub fn verify_tree(client: &Client, checkpoint: &Checkpoint) -> anyhow::Result<VerifiedTree> {
    let size = checkpoint.size();
    let entries = client.block_on(log_client(client)?.verified_entries(checkpoint, 0, size))?;
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
        frontier.root() == *checkpoint.root(),
        "entries of size {size} do not hash to the checkpoint's root"
    );
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
    let log = log_client(client)?;
    for (i, leaf) in tree.leaves.iter().enumerate() {
        let i = i as u64;
        let proof = client.block_on(log.inclusion_proof(&tree.checkpoint, i))?;
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
    let proof = client
        .block_on(log_client(client)?.consistency_proof(old, new))
        .with_context(|| format!("consistency {m} -> {n}"))?;
    if m == 0 || m == n {
        // No proof from the empty tree, nor between equal sizes (RFC 9162).
        return Ok(());
    }
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

/// Checks a receipt's C2SP tlog-proof text: the index, a checkpoint signed
/// by the log covering the entry, and the inclusion proof of `leaf` under
/// it. Returns the checkpoint.
pub fn verify_tlog_proof(
    text: &str,
    index: u64,
    leaf: &Hash,
    log_key: &VerifierKey,
) -> anyhow::Result<Checkpoint> {
    let bundle =
        ProofBundle::parse(text.as_bytes()).with_context(|| format!("tlog-proof {text:?}"))?;
    ensure!(bundle.index() == index, "index line: {text:?}");
    let signed = SignedCheckpoint::open(bundle.note(), [log_key])
        .with_context(|| format!("receipt checkpoint does not verify: {text:?}"))?;
    let cp = signed.checkpoint();
    verify_inclusion(index, cp.size(), leaf, bundle.proof(), cp.root())
        .with_context(|| format!("receipt proof for {index} in {}", cp.size()))?;
    Ok(cp.clone())
}

fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}
