//! Publishing checkpoints (DESIGN.md §5): sign the committed tree head with
//! the log key, let the witness hook collect cosignatures, and move the
//! published checkpoint forward by compare-and-swap.
//!
//! Publishing is decoupled from sequencing: the server calls
//! [`Publisher::publish_once`] when [`Publisher::next_publication`] says so:
//! as soon as a sequencing step committed new entries, unless the previous
//! attempt was less than the minimum interval (`checkpoint_interval_ms`) ago,
//! in which case when that interval ends. So a receipt waits for at most one
//! interval plus a publication, and witnesses get at most one add-checkpoint
//! request per interval. With an unchanged tree it publishes again when the
//! heartbeat interval has passed since the last publication (so witnesses
//! and monitors see the log is alive).

use std::sync::{Arc, Mutex};
use std::time::Duration;

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

#[derive(Debug, Default, Clone, Copy)]
struct Times {
    published: Option<u64>,
    attempted: Option<u64>,
}

/// Signs and publishes checkpoints.
pub struct Publisher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: SignerKey,
    origin: Origin,
    hook: Arc<dyn WitnessHook>,
    heartbeat_secs: u64,
    /// Least time between two publication attempts.
    min_interval: Duration,
    /// When (Unix milliseconds) the last publication succeeded and the last
    /// one was attempted, by this process.
    last: Mutex<Times>,
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
            min_interval: Duration::ZERO,
            last: Mutex::new(Times::default()),
            watch,
        })
    }

    /// Sets the least time between two publication attempts (the
    /// `checkpoint_interval_ms` setting; zero if never set).
    pub fn with_min_interval(mut self, min_interval: Duration) -> Publisher {
        self.min_interval = min_interval;
        self
    }

    /// How long from now until [`Publisher::publish_once`] is worth calling
    /// for a committed tree of `size` (zero: now). If the tree grew beyond
    /// the published checkpoint, that is when the minimum interval since the
    /// last attempt has passed; otherwise when the heartbeat is due (and at
    /// least the minimum interval). The server waits this long or until a
    /// sequencing step commits, whichever comes first, then asks again.
    pub fn next_publication(&self, size: u64) -> Duration {
        let now = self.clock.now_millis();
        let last = *self.lock_times();
        let since = |t: Option<u64>| t.map(|t| Duration::from_millis(now.saturating_sub(t)));
        let min_wait =
            since(last.attempted).map_or(Duration::ZERO, |d| self.min_interval.saturating_sub(d));
        let grew = self.current().is_none_or(|p| size > p.size);
        if grew {
            return min_wait;
        }
        let heartbeat = Duration::from_secs(self.heartbeat_secs);
        let heartbeat_wait =
            since(last.published).map_or(Duration::ZERO, |d| heartbeat.saturating_sub(d));
        heartbeat_wait.max(min_wait)
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
        let now = self.clock.now_millis();
        let mut last = self.lock_times();
        // An attempt, successful or not, starts the minimum interval: a
        // failing store or witness is not asked again before it ends.
        let previous_attempt = last.attempted.replace(now);
        let previous = self.store.published_checkpoint()?;
        if let Some(p) = &previous {
            if size < p.size {
                return Err(PublishError::TreeBehind {
                    tree: size,
                    published: p.size,
                });
            }
            let heartbeat_due = last
                .published
                .is_none_or(|t| now.saturating_sub(t) >= self.heartbeat_secs.saturating_mul(1000));
            if size == p.size && !heartbeat_due {
                // Nothing was attempted.
                last.attempted = previous_attempt;
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
        last.published = Some(now);
        self.watch.send_replace(Some(Arc::new(new)));
        Ok(PublishOutcome::Published(size))
    }

    fn lock_times(&self) -> std::sync::MutexGuard<'_, Times> {
        // Two plain timestamps, each written in one step: a poisoned lock
        // still guards consistent data.
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}
