//! A client's view of a log: the rule for moving from the newest checkpoint a client
//! verified before to a newer one (as Go's sumdb client does with its saved latest
//! tree): the tree may only grow, and the new tree must be an append-only extension of
//! the old one (RFC 9162 §2.1.4 consistency, specs.md §1.5).
//!
//! Pure: the caller brings both checkpoints (already signature-checked) and the
//! consistency proof, computed from tiles authenticated against the new checkpoint.
//! Storing the view is the client's business (`client::state`).

use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::merkle::{Hash, ProofError, verify_consistency};

/// Why a new checkpoint does not extend the saved one. Every variant means the log
/// (or whoever serves it) showed this client two views that cannot both be honest,
/// except [`ViewError::OriginMismatch`], which is a caller error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The two checkpoints are of different logs.
    #[error("checkpoints of different logs: {saved} and {new}")]
    OriginMismatch {
        /// The saved checkpoint's origin.
        saved: String,
        /// The new checkpoint's origin.
        new: String,
    },
    /// The new tree is smaller than the saved one: the log went backwards.
    #[error("log went backwards: saved size {saved}, now {new}")]
    Rollback {
        /// The saved size.
        saved: u64,
        /// The new size.
        new: u64,
    },
    /// Same size, different root: two different trees of the same size (a fork).
    #[error("fork: size {size} has root {saved} saved and {new} now")]
    SameSizeDifferentRoot {
        /// The size.
        size: u64,
        /// The saved root, base64.
        saved: String,
        /// The new root, base64.
        new: String,
    },
    /// The new tree is not an append-only extension of the saved one (a fork).
    #[error("fork: size {new_size} does not extend saved size {saved_size}: {error}")]
    Inconsistent {
        /// The saved size.
        saved_size: u64,
        /// The new size.
        new_size: u64,
        /// Why the consistency proof failed.
        error: ProofError,
    },
}

/// How the view moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// Nothing was saved for this log: the new checkpoint is trusted on first use.
    First,
    /// The same tree as saved.
    Same,
    /// A larger tree, proven consistent with the saved one.
    Grew {
        /// The saved size.
        from: u64,
        /// The new size.
        to: u64,
    },
}

impl fmt::Display for Advance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Advance::First => f.write_str("first checkpoint seen of this log"),
            Advance::Same => f.write_str("same tree as last time"),
            Advance::Grew { from, to } => {
                write!(
                    f,
                    "consistent with the size {from} seen last time (now {to})"
                )
            }
        }
    }
}

/// Checks that `new` may replace `saved` (`None` if nothing is saved) given `proof`, the
/// consistency proof from `saved.size()` to `new.size()` (ignored when sizes are equal
/// or the saved tree is empty).
pub fn check_advance(
    saved: Option<&Checkpoint>,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<Advance, ViewError> {
    let Some(saved) = saved else {
        return Ok(Advance::First);
    };
    if saved.origin() != new.origin() {
        return Err(ViewError::OriginMismatch {
            saved: saved.origin().to_string(),
            new: new.origin().to_string(),
        });
    }
    let (m, n) = (saved.size(), new.size());
    if n < m {
        return Err(ViewError::Rollback { saved: m, new: n });
    }
    if n == m {
        if saved.root() != new.root() {
            return Err(ViewError::SameSizeDifferentRoot {
                size: m,
                saved: saved.root().to_base64(),
                new: new.root().to_base64(),
            });
        }
        return Ok(Advance::Same);
    }
    if m > 0 {
        verify_consistency(m, n, proof, saved.root(), new.root()).map_err(|error| {
            ViewError::Inconsistent {
                saved_size: m,
                new_size: n,
                error,
            }
        })?;
    }
    Ok(Advance::Grew { from: m, to: n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Origin;
    use crate::merkle::{Frontier, leaf_hash, prove_consistency, stored_hashes};

    fn tree(prefix: &str, n: u64) -> (Vec<Hash>, Checkpoint) {
        let mut f = Frontier::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let l = leaf_hash(format!("{prefix}{i}").as_bytes());
            leaves.push(l);
            f.append(l).unwrap();
        }
        let origin = Origin::new("example.org/log").unwrap();
        (leaves, Checkpoint::new(origin, n, f.root()))
    }

    fn proof(leaves: &[Hash], m: u64, n: u64) -> Vec<Hash> {
        let mut stored: Vec<Hash> = Vec::new();
        for (i, l) in leaves.iter().enumerate() {
            let add = stored_hashes(i as u64, *l, &stored).unwrap();
            stored.extend(add);
        }
        prove_consistency(m, n, &stored).unwrap()
    }

    #[test]
    fn first_same_and_growth() {
        let (leaves, c10) = tree("a", 10);
        let (_, c7) = tree("a", 7);
        let (_, c0) = tree("a", 0);
        assert_eq!(check_advance(None, &c7, &[]), Ok(Advance::First));
        assert_eq!(check_advance(Some(&c7), &c7, &[]), Ok(Advance::Same));
        assert_eq!(
            check_advance(Some(&c7), &c10, &proof(&leaves, 7, 10)),
            Ok(Advance::Grew { from: 7, to: 10 })
        );
        assert_eq!(
            check_advance(Some(&c0), &c10, &[]),
            Ok(Advance::Grew { from: 0, to: 10 })
        );
    }

    #[test]
    fn rollback_fork_and_bad_proof() {
        let (leaves, c10) = tree("a", 10);
        let (_, c7) = tree("a", 7);
        let (_, d10) = tree("b", 10);
        assert_eq!(
            check_advance(Some(&c10), &c7, &[]),
            Err(ViewError::Rollback { saved: 10, new: 7 })
        );
        assert!(matches!(
            check_advance(Some(&c10), &d10, &[]),
            Err(ViewError::SameSizeDifferentRoot { size: 10, .. })
        ));
        let (other, d12) = tree("b", 12);
        // The other history's own proof does not connect to our saved root.
        assert!(matches!(
            check_advance(Some(&c7), &d12, &proof(&other, 7, 12)),
            Err(ViewError::Inconsistent {
                saved_size: 7,
                new_size: 12,
                ..
            })
        ));
        let mut bad = proof(&leaves, 7, 10);
        bad[0].0[0] ^= 1;
        assert!(matches!(
            check_advance(Some(&c7), &c10, &bad),
            Err(ViewError::Inconsistent { .. })
        ));
        let other_origin = Checkpoint::new(Origin::new("other/log").unwrap(), 10, *c10.root());
        assert!(matches!(
            check_advance(Some(&c7), &other_origin, &[]),
            Err(ViewError::OriginMismatch { .. })
        ));
    }
}
