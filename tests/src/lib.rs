//! Shared helpers for claimlog's end-to-end tests: locating the built
//! binaries and the repository's test vectors.

use std::path::PathBuf;

/// The repository root (the workspace root, one level above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The directory holding the copied public test vectors (`spec/vectors`).
pub fn vectors_dir() -> PathBuf {
    repo_root().join("spec").join("vectors")
}
