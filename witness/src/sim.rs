//! A minimal in-memory log that signs checkpoints and makes consistency
//! proofs: the counterpart a witness needs in tests, in the load tool, and
//! to simulate a forked log (same key and origin, different history). Not a
//! real log: no persistence, no entries, just the Merkle tree.

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::merkle::{Hash, leaf_hash, prove_consistency, stored_hashes, tree_hash};
use claimlog::note::{KeyName, KeyType, Note, SignerKey};
use claimlog::witness_wire::AddCheckpointRequest;

/// A simulated log: an Ed25519 key, an origin, and the stored hashes of
/// its Merkle tree (Go sumdb layout).
#[derive(Clone, Debug)]
pub struct SimLog {
    key: SignerKey,
    origin: Origin,
    stored: Vec<Hash>,
    size: u64,
}

impl SimLog {
    /// A log named `origin` (also its key name) with the Ed25519 key from
    /// `seed`. Panics on an invalid origin: this is test tooling.
    pub fn new(origin: &str, seed: [u8; 32]) -> SimLog {
        let name = KeyName::new(origin).expect("sim log origin must be a valid key name");
        SimLog {
            key: SignerKey::from_seed(name, KeyType::Ed25519, seed)
                .expect("Ed25519 keys from a seed always build"),
            origin: Origin::new(origin).expect("valid origin"),
            stored: Vec::new(),
            size: 0,
        }
    }

    /// The log's verifier key string.
    pub fn vkey(&self) -> String {
        self.key.verifier().to_string()
    }

    /// The origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one entry.
    pub fn append(&mut self, entry: &[u8]) {
        let hashes = stored_hashes(self.size, leaf_hash(entry), &self.stored)
            .expect("the sim log stores every hash it needs");
        self.stored.extend(hashes);
        self.size += 1;
    }

    /// The root of the tree of `size` leaves (`size <= self.size()`).
    pub fn root(&self, size: u64) -> Hash {
        tree_hash(size, &self.stored).expect("size within the tree")
    }

    /// The signed checkpoint at the current size.
    pub fn checkpoint(&self) -> Note {
        let cp = Checkpoint::new(self.origin.clone(), self.size, self.root(self.size));
        SignedCheckpoint::sign(&cp, &self.key)
            .expect("an Ed25519 log key signs")
            .note()
            .clone()
    }

    /// An add-checkpoint request for the current checkpoint with a proof
    /// from `old` (empty when `old` is 0 or the current size).
    pub fn request(&self, old: u64) -> AddCheckpointRequest {
        let proof = if old == 0 || old >= self.size {
            Vec::new()
        } else {
            prove_consistency(old, self.size, &self.stored).expect("old within the tree")
        };
        AddCheckpointRequest::new(old, proof, self.checkpoint())
            .expect("at most 63 proof hashes for any u64 tree")
    }
}
