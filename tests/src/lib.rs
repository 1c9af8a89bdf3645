//! Shared helpers for claimlog's end-to-end tests and the `claimlog-load`
//! generator: locating (building) the `claimlog` binary, running it as a real
//! server process on loopback, a small HTTP client, deterministic submitter
//! keys and envelopes, and client-side verification of a live log from its
//! tiles (never trusting the server's proof API).
//!
//! How the tests find the binary: a workspace test cannot use
//! `CARGO_BIN_EXE_*` for another package's binary, and Cargo does not build
//! the binaries of dependencies. [`binary::claimlog_binary`] therefore runs
//! `cargo build -p claimlog --bin claimlog` once per test process (guarded by
//! a `OnceLock`), into the same target directory and profile as the running
//! test executable, so the compiled dependencies are shared and the build is a
//! no-op when the binary is fresh. `CLAIMLOG_BIN=/path/to/claimlog` skips the
//! build and uses that binary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub mod binary;
pub mod claims_load;
pub mod cli;
pub mod client;
pub mod go;
pub mod http_fake;
pub mod keys;
pub mod monitor;
pub mod server;
pub mod tile_load;
pub mod verify;
pub mod witness;
pub mod witness_process;

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

/// How long the end-to-end tests wait for something to happen (a loaded
/// 2-core CI machine).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Polls `f` every 100 ms until it returns `Some`, or fails after
/// [`DEADLINE`] naming `what`.
pub fn poll<T>(what: &str, mut f: impl FnMut() -> anyhow::Result<Option<T>>) -> anyhow::Result<T> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
