//! RFC 9162 Merkle tree hashing, proof generation and proof verification (SHA-256).
//!
//! In scope:
//! - hashing: leaf hash `SHA-256(0x00 || entry)`, node hash `SHA-256(0x01 || l || r)`,
//!   empty root `SHA-256("")` (RFC 9162 §2.1.1);
//! - verification of inclusion proofs (§2.1.3.2), consistency proofs (§2.1.4.2), and
//!   subtree inclusion and consistency proofs (draft-ietf-plants-merkle-tree-certs-03
//!   §4.3-4.4, specs.md §1.7);
//! - the Go sumdb/tlog storage model (specs.md §10): a dense [`stored_hash_index`] for
//!   every complete subtree, a batched [`HashReader`], and proof generation with one
//!   batched read;
//! - a [`Frontier`] (compact range) for appending without rereading history.
//!
//! Out of scope: the witness protocol's special case "old size 0 with an empty proof is
//! accepted" (a protocol rule, handled by the witness), tiles (see [`crate::tiles`]), and any
//! I/O. Tree sizes and leaf indexes are plain `u64` throughout, as in RFC 9162 and Go.

mod frontier;
mod storage;
mod verify;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

pub use frontier::Frontier;
pub use storage::{
    HashReader, MAX_TREE_SIZE, consistency_proof_indexes, inclusion_proof_indexes,
    prove_consistency, prove_inclusion, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, tree_hash, tree_hash_indexes,
};
pub use verify::{
    hash_from_bytes, is_valid_subtree, proof_from_slices, verify_consistency, verify_inclusion,
    verify_subtree_consistency, verify_subtree_inclusion,
};

/// A SHA-256 hash: a Merkle tree node, leaf or root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The size of a hash in bytes.
    pub const LEN: usize = 32;

    /// Parses standard padded base64 of exactly 32 bytes, strictly
    /// (canonical padding bits, no whitespace).
    pub fn from_base64(s: &str) -> Option<Hash> {
        let bytes = STANDARD.decode(s).ok()?;
        Hash::from_slice(&bytes)
    }

    /// Copies a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a proof could not be generated or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree (or subtree).
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency proof was asked for from a larger tree to a smaller one.
    #[error("old tree size {old} is greater than new tree size {new}")]
    OldSizeGreater {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// RFC 9162 §2.1.4 defines consistency proofs only for `0 < old`; the witness
    /// protocol's "old 0" rule is handled by the witness, not here.
    #[error("consistency proofs from the empty tree are not defined")]
    OldSizeZero,
    /// The proof does not have the number of hashes the sizes imply.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongProofLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes required by the tree shape.
        expected: usize,
    },
    /// The root recomputed from the proof differs from the expected (new) root.
    #[error("recomputed root does not match the expected root")]
    RootMismatch,
    /// The old root recomputed from a consistency proof differs from the given old root.
    #[error("recomputed old root does not match the expected old root")]
    OldRootMismatch,
    /// A hash (in a proof, or a root or leaf given as bytes) is not 32 bytes long.
    #[error("hash is {got} bytes long, expected 32")]
    BadHashLength {
        /// The length found.
        got: usize,
    },
    /// `[start, end)` is not a valid subtree (specs.md §1.7).
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree {
        /// Subtree start.
        start: u64,
        /// Subtree end (exclusive).
        end: u64,
    },
    /// A subtree ends beyond the tree it is claimed to be consistent with.
    #[error("subtree ending at {end} is not inside a tree of size {size}")]
    SubtreeOutOfRange {
        /// Subtree end (exclusive).
        end: u64,
        /// Tree size.
        size: u64,
    },
    /// The tree size is beyond what the stored-hash index can address ([`MAX_TREE_SIZE`]).
    #[error("tree size {size} is larger than the supported maximum")]
    TreeTooLarge {
        /// The tree size given.
        size: u64,
    },
    /// A [`HashReader`] has no hash at this stored-hash index.
    #[error("stored hash {index} is not available")]
    HashNotFound {
        /// The stored-hash index asked for.
        index: u64,
    },
    /// A [`HashReader`] returned a different number of hashes than were asked for.
    #[error("hash reader returned {got} hashes for {want} indexes")]
    ReaderCount {
        /// Hashes returned.
        got: usize,
        /// Indexes asked for.
        want: usize,
    },
    /// A [`HashReader`] failed for another reason (storage, fetching, authentication).
    #[error("hash reader failed: {0}")]
    Reader(String),
}

/// The RFC 9162 leaf hash of an entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// The RFC 9162 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous 65-byte input and a single digest call.
    let mut input = [0u8; 65];
    input[0] = 1;
    input[1..33].copy_from_slice(&left.0);
    input[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(input).into())
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}
