//! Starting and stopping the server: [`serve`] wires the store, sequencer,
//! publisher and HTTP API together on a listener the caller bound (so tests
//! bind port 0 and read the address back), and shuts down gracefully when the
//! `shutdown` future completes: stop accepting, let in-flight requests
//! finish, sequence what is pending, publish, flush, return.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::claim::SeriesPolicy;
use crate::dsse::KeySet;
use crate::server::claims::ClaimAdmission;
use crate::server::claims::wellknown::WellKnownClient;
use crate::server::config::{AdmissionMode, Config, ConfigError, load_or_create_key};
use crate::server::http::{App, router, serve_http};
use crate::server::metrics::Metrics;
use crate::server::publisher::{NoWitnesses, PublishError, PublishOutcome, Publisher, WitnessHook};
use crate::server::reader::LogReader;
use crate::server::sequencer::{Sequencer, SequencerConfig, SequencerError, SystemClock};
use crate::server::store::{SledStore, Store, StoreError};
use crate::server::witnessing::{Setup, Witnessing};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration or the log key is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened (including: another process has it).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored tree state is unusable.
    #[error(transparent)]
    Sequencer(#[from] SequencerError),
    /// The first checkpoint could not be published.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The HTTP server failed.
    #[error("http server: {0}")]
    Http(String),
}

/// Runs the log server on `listener` until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (origin, submitter_keys) = config.validate()?;
    let (log_key, _) = load_or_create_key(&config)?;
    let mut submitters = KeySet::new();
    for k in &submitter_keys {
        if !submitters.insert_note_key(k) {
            return Err(ConfigError::Invalid(format!("submitter key {k} is not usable")).into());
        }
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open_with_cache(
        &config.data_dir,
        config.sled_cache_bytes,
    )?);
    let clock = Arc::new(SystemClock);
    let sequencer = Arc::new(Sequencer::new(
        store.clone(),
        clock.clone(),
        SequencerConfig {
            max_batch: config.max_batch,
            pool_capacity: config.pool_capacity,
            pending_bytes: config.pending_bytes,
        },
    )?);
    let metrics = Arc::new(Metrics::default());
    // With a witness policy, checkpoints are published only once its quorum
    // cosigned them (spec/witnessing.md); the policy is checked here, before
    // anything is served.
    let hook: Arc<dyn WitnessHook> = match &config.witness_policy {
        None => Arc::new(NoWitnesses),
        Some(path) => Arc::new(
            Witnessing::from_policy_file(
                path,
                &log_key.verifier(),
                Setup {
                    reader: LogReader::new(store.clone()),
                    published: store.published_checkpoint()?,
                    clock: clock.clone(),
                    timeout: Duration::from_millis(config.witness_timeout_ms),
                    metrics: metrics.witnesses.clone(),
                    runtime: tokio::runtime::Handle::current(),
                },
            )
            .map_err(|e| ConfigError::Invalid(e.to_string()))?,
        ),
    };
    let publisher = Arc::new(
        Publisher::new(
            store.clone(),
            clock,
            log_key,
            origin,
            hook,
            config.heartbeat_interval_secs,
        )?
        .with_min_interval(Duration::from_millis(config.checkpoint_interval_ms)),
    );
    let claims = match config.admission {
        AdmissionMode::Allowlist => None,
        AdmissionMode::Domain => {
            let client = WellKnownClient::new(
                Duration::from_millis(config.well_known_timeout_ms),
                config.well_known_base_urls.clone(),
            )
            .map_err(ConfigError::Invalid)?;
            let policy = SeriesPolicy {
                max_issued_at_skew_seconds: config.claim_max_skew_secs,
            };
            Some(Arc::new(ClaimAdmission::new(policy, client)))
        }
    };
    let wake = Arc::new(Notify::new());
    let app = Arc::new(App {
        sequencer: sequencer.clone(),
        publisher: publisher.clone(),
        reader: LogReader::new(store.clone()),
        submitters,
        open_submission: config.open_submission,
        claims,
        metrics: metrics.clone(),
        receipt_timeout: Duration::from_secs(config.receipt_timeout_secs),
        client_timeout: Duration::from_millis(config.client_timeout_ms),
        retry_after_secs: 1,
        wake: wake.clone(),
    });

    // Publish at once, so /checkpoint exists from the start (for a new log,
    // the empty tree) and a restart re-signs the committed tree.
    publish_step(&publisher, &sequencer, &metrics).await;
    tracing::info!(size = sequencer.head().0, "log open");

    let (stop_tx, stop_rx) = watch::channel(false);
    // Signalled after every step that appended entries: the publisher then
    // publishes as soon as its minimum interval allows.
    let committed = Arc::new(Notify::new());
    let seq_task = tokio::spawn(sequencing_loop(
        sequencer.clone(),
        metrics.clone(),
        wake,
        committed.clone(),
        Duration::from_millis(config.batch_interval_ms),
        stop_rx.clone(),
    ));
    let pub_task = tokio::spawn(publishing_loop(
        publisher.clone(),
        sequencer.clone(),
        metrics.clone(),
        committed,
        stop_rx,
    ));

    let app_ref = Arc::downgrade(&app);
    let served = serve_http(
        listener,
        app.clone(),
        router(app),
        config.max_connections,
        shutdown,
    )
    .await
    .map_err(|e| ServeError::Http(e.to_string()));
    // Graceful shutdown returns once every connection has been told to close,
    // but a connection task may still be dropping its copy of the router (and
    // with it the store) a moment later. Wait for those, bounded, so that when
    // `serve` returns the store is closed and its lock released.
    for _ in 0..500 {
        if app_ref.strong_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // In-flight requests are done; stop the loops, then sequence and
    // publish whatever is left so nothing acknowledged-to-be-queued is lost.
    let _ = stop_tx.send(true);
    let _ = seq_task.await;
    let _ = pub_task.await;
    while sequencer.pool_depth() > 0 {
        if !sequence_step(&sequencer, &metrics).await {
            break;
        }
    }
    sequencer.drain_pool();
    publish_step(&publisher, &sequencer, &metrics).await;
    tracing::info!(size = sequencer.head().0, "log closed");
    served
}

async fn sequencing_loop(
    sequencer: Arc<Sequencer>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    committed: Arc<Notify>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
        // Group commit: steps run back to back while anything is pending, so
        // each batch holds what arrived during the previous step's flush and
        // a submission waits for at most one flush before its own.
        loop {
            let before = sequencer.head().0;
            let ok = sequence_step(&sequencer, &metrics).await;
            if sequencer.head().0 > before {
                committed.notify_one();
            }
            if !ok || sequencer.pool_depth() == 0 {
                break;
            }
        }
    }
}

/// One sequencing step off the runtime; false if it failed.
async fn sequence_step(sequencer: &Arc<Sequencer>, metrics: &Metrics) -> bool {
    let s = sequencer.clone();
    let start = Instant::now();
    match tokio::task::spawn_blocking(move || s.sequence_once()).await {
        Ok(Ok(report)) => {
            if report.taken > 0 {
                metrics.batch(report.appended, start.elapsed());
            }
            true
        }
        Ok(Err(e)) => {
            metrics.error("sequencing");
            tracing::error!(error = %e, "sequencing step failed");
            false
        }
        Err(e) => {
            metrics.error("sequencing");
            tracing::error!(error = %e, "sequencing task panicked");
            false
        }
    }
}

async fn publishing_loop(
    publisher: Arc<Publisher>,
    sequencer: Arc<Sequencer>,
    metrics: Arc<Metrics>,
    committed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Publish when the publisher says a publication is due (tree grew
        // and the minimum interval passed, or a heartbeat); otherwise sleep
        // until then or until a step commits, and ask again.
        let wait = publisher.next_publication(sequencer.head().0);
        if wait.is_zero() {
            publish_step(&publisher, &sequencer, &metrics).await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = committed.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn publish_step(publisher: &Arc<Publisher>, sequencer: &Arc<Sequencer>, metrics: &Metrics) {
    let (p, s) = (publisher.clone(), sequencer.clone());
    let start = Instant::now();
    match tokio::task::spawn_blocking(move || p.publish_once(s.head())).await {
        Ok(Ok(PublishOutcome::Published(size))) => {
            metrics.publication(start.elapsed());
            tracing::debug!(size, "published checkpoint");
        }
        Ok(Ok(PublishOutcome::Unchanged)) => {}
        // Already logged as a warning and counted by the witness client;
        // the next interval retries.
        Ok(Err(PublishError::Witness(_))) => {}
        Ok(Err(e)) => {
            metrics.error("publishing");
            tracing::error!(error = %e, "publishing failed");
        }
        Err(e) => {
            metrics.error("publishing");
            tracing::error!(error = %e, "publishing task panicked");
        }
    }
}
