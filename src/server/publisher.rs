//! Publishing checkpoints (DESIGN.md §5): sign the committed tree head with
//! the log key, let the witness hook collect cosignatures, and move the
//! published checkpoint forward by compare-and-swap.
//!
//! Publishing is decoupled from sequencing: the server calls
//! [`Publisher::publish_once`] every `checkpoint_interval`; it publishes when
//! the tree grew, or when the heartbeat interval has passed since the last
//! publication (so witnesses and monitors see the log is alive).

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::checkpoint::{Checkpoint, CheckpointError, Origin, SignedCheckpoint};
use crate::merkle::Hash;
use crate::note::SignerKey;
use crate::server::sequencer::Clock;
use crate::server::store::{PublishedCheckpoint, Store, StoreError};

/// Collects witness cosignatures for a freshly signed checkpoint.
///
/// Called once per publication, off the async runtime (it may block on
/// network I/O). The returned checkpoint is what gets published.
pub trait WitnessHook: Send + Sync + 'static {
    /// Returns `checkpoint` with whatever cosignatures the policy needs;
    /// `previous` is the currently published checkpoint (witnesses need a
    /// consistency proof from it).
    fn collect(
        &self,
        checkpoint: SignedCheckpoint,
        previous: Option<&PublishedCheckpoint>,
    ) -> Result<SignedCheckpoint, PublishError>;
}

/// The default hook: no witnesses; the log-signed checkpoint is published.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWitnesses;

impl WitnessHook for NoWitnesses {
    fn collect(
        &self,
        checkpoint: SignedCheckpoint,
        _previous: Option<&PublishedCheckpoint>,
    ) -> Result<SignedCheckpoint, PublishError> {
        Ok(checkpoint)
    }
}

/// Why a publication failed (logged; the next interval retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The store failed or another writer moved the checkpoint.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] CheckpointError),
    /// The witnesses did not provide what the policy requires.
    #[error("witnesses: {0}")]
    Witness(String),
    /// The committed tree is smaller than the published checkpoint.
    #[error("tree size {tree} is below the published size {published}")]
    TreeBehind {
        /// The committed tree size.
        tree: u64,
        /// The published size.
        published: u64,
    },
}

/// What [`Publisher::publish_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// A checkpoint for this size was published.
    Published(u64),
    /// Nothing to do: the tree did not grow and no heartbeat is due.
    Unchanged,
}

/// Signs and publishes checkpoints.
pub struct Publisher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: SignerKey,
    origin: Origin,
    hook: Arc<dyn WitnessHook>,
    heartbeat_secs: u64,
    last_time: Mutex<Option<u64>>,
    watch: watch::Sender<Option<Arc<PublishedCheckpoint>>>,
}

impl Publisher {
    /// A publisher for the log `origin` signing with `key` (type 0x01; its
    /// name should equal the origin, c2sp.org/tlog-checkpoint).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        key: SignerKey,
        origin: Origin,
        hook: Arc<dyn WitnessHook>,
        heartbeat_secs: u64,
    ) -> Result<Publisher, PublishError> {
        let current = store.published_checkpoint()?.map(Arc::new);
        let (watch, _) = watch::channel(current);
        Ok(Publisher {
            store,
            clock,
            key,
            origin,
            hook,
            heartbeat_secs,
            last_time: Mutex::new(None),
            watch,
        })
    }

    /// A receiver that sees every published checkpoint.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<PublishedCheckpoint>>> {
        self.watch.subscribe()
    }

    /// The published checkpoint.
    pub fn current(&self) -> Option<Arc<PublishedCheckpoint>> {
        self.watch.borrow().clone()
    }

    /// Publishes a checkpoint for the committed tree `head` (size, root) if
    /// the tree grew since the last publication or a heartbeat is due.
    pub fn publish_once(&self, head: (u64, Hash)) -> Result<PublishOutcome, PublishError> {
        let (size, root) = head;
        let now = self.clock.now();
        let previous = self.store.published_checkpoint()?;
        let mut last_time = self.last_time.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &previous {
            if size < p.size {
                return Err(PublishError::TreeBehind {
                    tree: size,
                    published: p.size,
                });
            }
            let heartbeat_due =
                last_time.is_none_or(|t| now.saturating_sub(t) >= self.heartbeat_secs);
            if size == p.size && !heartbeat_due {
                return Ok(PublishOutcome::Unchanged);
            }
        }
        let checkpoint = Checkpoint::new(self.origin.clone(), size, root);
        let signed = SignedCheckpoint::sign(&checkpoint, &self.key)?;
        let signed = self.hook.collect(signed, previous.as_ref())?;
        let new = PublishedCheckpoint {
            size,
            note: signed.note().to_bytes(),
        };
        // Compare-and-swap against what we read: if another writer moved the
        // checkpoint meanwhile, this fails and nothing goes backwards.
        self.store
            .publish_checkpoint(previous.as_ref().map(|p| p.size), &new)?;
        *last_time = Some(now);
        self.watch.send_replace(Some(Arc::new(new)));
        Ok(PublishOutcome::Published(size))
    }
}
