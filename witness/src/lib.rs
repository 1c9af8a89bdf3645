//! claimlog-witness: a C2SP tlog-witness server (c2sp.org/tlog-witness at
//! HEAD, 2026-07; see `spec/witness.md` for our choices).
//!
//! It cosigns checkpoints of the logs it trusts, by origin and verifier key,
//! after checking the log signature and a consistency proof from the last
//! checkpoint it cosigned; it persists the new state atomically (a
//! compare-and-swap, flushed) before answering, never rolls back, keeps and
//! serves evidence of split views, and serves its latest cosigned checkpoint
//! per log. The protocol itself (wire format and decision) lives in
//! [`claimlog::witness_wire`], shared with the log's witness client.
//!
//! Out of scope: `sign-subtree` (unstable), rate limiting by `qpd`, HTTPS
//! (run it behind a TLS proxy or a bastion).

#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod metrics;
pub mod sim;
pub mod store;
pub mod witness;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;

use claimlog::cosignature::CosignerKey;

pub use config::LogSet;
pub use store::{SledStore, Store};
pub use witness::{ApiError, Clock, Witness};

/// What [`serve`] needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The trusted logs.
    pub logs: LogSet,
    /// The witness's cosigner key.
    pub key: CosignerKey,
    /// The sled state directory.
    pub data_dir: PathBuf,
}

/// Errors that stop [`serve`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened or flushed.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The HTTP server failed.
    #[error("http server: {0}")]
    Io(#[from] std::io::Error),
}

/// The system clock in POSIX seconds (0 if before 1970).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// Serves the witness on `listener` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish, and flushes the store.
/// Tests bind `127.0.0.1:0` and pass the listener in.
pub async fn serve(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = Arc::new(SledStore::open(&config.data_dir)?);
    let witness = Arc::new(Witness::new(
        config.logs,
        config.key,
        store.clone(),
        system_clock(),
    ));
    axum::serve(listener, http::router(witness))
        .with_graceful_shutdown(shutdown)
        .await?;
    store.flush()?;
    Ok(())
}
