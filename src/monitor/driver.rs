//! The I/O side of `claimlog monitor` (spec/monitor.md): follows a log from
//! saved state with [`crate::client::LogClient`], feeds [`MonitorState`], and
//! reports events as JSON lines on stdout and to an optional webhook.
//!
//! One step: fetch the checkpoint and verify it against the policy; check it
//! is consistent with the one verified before (backwards or a different tree
//! is `fork_detected`, with both); download the new entries in bundles and
//! feed them to the state a chunk at a time, each chunk's root checked
//! against the checkpoint with a consistency proof from tiles; save the state
//! atomically after each chunk, *then* print its events, so a restart never
//! reports an event twice. Then compare each witness's view (tlog-witness
//! monitoring endpoint, specs.md §5.4) with the log's.
//!
//! Between steps the clock matters: no checkpoint change within the heartbeat
//! is `log_stalled`; a log that does not answer is `log_unreachable` once per
//! outage (with exponential back-off) and `log_recovered` after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{CheckpointRef, EventKind, MonitorError, MonitorEvent, MonitorState};
use crate::checkpoint::Checkpoint;
use crate::claim::SeriesPolicy;
use crate::client::{ClientError, LogClient};
use crate::merkle::verify_consistency;
use crate::note::Note;
use crate::policy::Policy;
use crate::tiles::{Bundle, FULL_WIDTH};

/// Entries per bundle.
const WIDTH: u64 = FULL_WIDTH as u64;
/// The state file in the state directory.
const STATE_FILE: &str = "state.json";
/// The longest back-off between attempts while the log is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long an exiting monitor (`--once`) waits for the webhook queue.
const WEBHOOK_DRAIN: Duration = Duration::from_secs(30);

/// Where and how events are POSTed (spec/monitor.md "Webhook").
#[derive(Debug, Clone)]
struct Webhook {
    url: String,
    /// Events waiting for the webhook; when full, new events are dropped for
    /// the webhook (stdout still has them) so the follow loop never waits on it.
    queue: usize,
    /// Attempts per event.
    attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    first_delay: Duration,
    /// One attempt, connection included.
    timeout: Duration,
}

impl Webhook {
    /// The documented behaviour: a queue of 4,096 events, up to 5 attempts
    /// with back-off from 0.5 s, 10 s per attempt.
    fn new(url: String) -> Webhook {
        Webhook {
            url,
            queue: 4096,
            attempts: 5,
            first_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What `claimlog monitor` was asked to do.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// The log's base URL.
    pub log_url: String,
    /// The trust policy: the log's key and the witnesses (with their URLs).
    pub policy: Policy,
    /// Where the state is kept.
    pub state_dir: PathBuf,
    /// Report only events about these domains (and events about no domain).
    pub watch: Vec<String>,
    /// POST each reported event here.
    pub webhook: Option<String>,
    /// One step, then exit.
    pub once: bool,
    /// Time between steps.
    pub interval: Duration,
    /// `log_stalled` after this long without a new checkpoint.
    pub heartbeat: Duration,
    /// Bundles per chunk (state is saved after each).
    pub chunk_bundles: u64,
    /// Threads that parse and verify entries.
    pub threads: usize,
}

/// Why the monitor stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The state directory or file could not be used.
    #[error("state directory {path}: {message}")]
    StateDir {
        /// The path.
        path: String,
        /// What failed.
        message: String,
    },
    /// The state file is malformed.
    #[error(transparent)]
    State(#[from] MonitorError),
    /// The log URL is not usable.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Why one step did not complete.
enum StepError {
    /// The log did not answer (transport error, 5xx): back off, report once.
    Unreachable(String),
    /// The log answered with something wrong (a checkpoint that does not
    /// verify, tiles that do not authenticate, entries that do not match):
    /// printed on stderr, retried next step.
    Invalid(String),
    /// Our own state could not be saved: stop.
    Fatal(DriverError),
}

/// Runs the monitor until `--once` completes or the process is stopped.
pub async fn run(config: MonitorConfig) -> Result<(), DriverError> {
    let dir_err = |e: std::io::Error| DriverError::StateDir {
        path: config.state_dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&config.state_dir).map_err(dir_err)?;
    // One monitor per state directory: a second would report the same events.
    let lock = std::fs::File::create(config.state_dir.join("lock")).map_err(dir_err)?;
    fs2::FileExt::try_lock_exclusive(&lock).map_err(|e| DriverError::StateDir {
        path: config.state_dir.display().to_string(),
        message: format!("locked by another monitor ({e})"),
    })?;
    let mut state = load_state(&config.state_dir)?;
    let client = Arc::new(LogClient::new(&config.log_url)?);
    let mut out = Reporter::new(
        config.watch.clone(),
        config.webhook.clone().map(Webhook::new),
        Box::new(std::io::stdout()),
    );
    let mut outage: Option<Instant> = None;
    let mut last_change = Instant::now();
    let mut stall_reported = false;
    let mut backoff = config.interval;
    loop {
        match step(&config, &client, &mut state, &mut out).await {
            Ok(changed) => {
                if let Some(since) = outage.take() {
                    out.emit(
                        &state,
                        EventKind::LogRecovered {
                            outage_seconds: since.elapsed().as_secs(),
                        },
                    );
                }
                backoff = config.interval;
                if changed {
                    last_change = Instant::now();
                    stall_reported = false;
                } else if !stall_reported && last_change.elapsed() >= config.heartbeat {
                    stall_reported = true;
                    out.emit(
                        &state,
                        EventKind::LogStalled {
                            seconds_since_change: last_change.elapsed().as_secs(),
                            heartbeat_seconds: config.heartbeat.as_secs(),
                        },
                    );
                }
            }
            Err(StepError::Unreachable(error)) => {
                eprintln!("monitor: log unreachable: {error}");
                if outage.is_none() {
                    outage = Some(Instant::now());
                    out.emit(&state, EventKind::LogUnreachable { error });
                }
                backoff = (backoff * 2).min(MAX_BACKOFF).max(config.interval);
            }
            Err(StepError::Invalid(reason)) => eprintln!("monitor: {reason}"),
            Err(StepError::Fatal(e)) => return Err(e),
        }
        if config.once {
            break;
        }
        tokio::time::sleep(backoff).await;
    }
    out.finish().await;
    Ok(())
}

/// One step (module doc); true if the log's checkpoint changed.
async fn step(
    config: &MonitorConfig,
    client: &Arc<LogClient>,
    state: &mut MonitorState,
    out: &mut Reporter,
) -> Result<bool, StepError> {
    let note = client.checkpoint_note().await.map_err(classify)?;
    // The log's signature alone makes a checkpoint evidence: a validly
    // log-signed checkpoint inconsistent with the saved one proves a split
    // view even when it lacks the witness quorum (a log showing this monitor
    // a private history would not get it cosigned). So consistency is
    // checked first, and the quorum is required only to move forward.
    let opened = config
        .policy
        .open_checkpoint(&note)
        .map_err(|e| StepError::Invalid(format!("log checkpoint rejected: {e}")))?;
    let new = opened.checkpoint().clone();
    let text = note_text(&note)?;
    let changed = state.checkpoint().is_none_or(|(old, _)| old != text);
    if let Some((old_text, old)) = state.checkpoint() {
        let (old_text, old) = (old_text.to_owned(), old.clone());
        if let Some(reason) = inconsistency(client, &old, &new).await? {
            report_fork(config, state, out, "log".into(), reason, old_text, text)?;
            return Ok(false);
        }
    }
    opened
        .require_quorum()
        .map_err(|e| StepError::Invalid(format!("log checkpoint rejected: {e}")))?;
    if new.size() >= state.checkpoint().map_or(0, |(_, c)| c.size()) {
        state
            .set_checkpoint(&text)
            .map_err(|e| StepError::Invalid(e.to_string()))?;
        save_state(&config.state_dir, state).map_err(StepError::Fatal)?;
    }
    catch_up(config, client, state, out, &new).await?;
    check_witnesses(config, client, state, out, &new).await?;
    Ok(changed)
}

/// Downloads and applies the entries from the state's size to `new`'s.
async fn catch_up(
    config: &MonitorConfig,
    client: &Arc<LogClient>,
    state: &mut MonitorState,
    out: &mut Reporter,
    new: &Checkpoint,
) -> Result<(), StepError> {
    let n = new.size();
    let start = (state.size(), Instant::now());
    let anchor = CheckpointRef::of(new);
    while state.size() < n {
        let lo = state.size();
        let hi = n.min((lo / WIDTH + config.chunk_bundles.max(1)) * WIDTH);
        let entries = fetch_entries(client, lo, hi, n).await?;
        // A chunk short of the checkpoint is checked with a consistency proof
        // from its size to the checkpoint's, computed from authenticated tiles.
        let proof = if hi < n {
            Some(client.prove_consistency(hi, new).await.map_err(classify)?)
        } else {
            None
        };
        let root = *new.root();
        let (current, anchor2, threads) = (state.clone(), anchor.clone(), config.threads);
        let result = tokio::task::spawn_blocking(move || {
            current.advance_with(
                lo,
                &entries,
                &anchor2,
                threads,
                |size, computed| match &proof {
                    None if computed == &root => Ok(()),
                    None => Err(MonitorError::RootMismatch {
                        size,
                        expected: root.to_base64(),
                        computed: computed.to_base64(),
                    }),
                    Some(proof) => {
                        verify_consistency(size, n, proof, computed, &root).map_err(|e| {
                            MonitorError::Inconsistent {
                                size,
                                reason: e.to_string(),
                            }
                        })
                    }
                },
            )
        })
        .await
        .map_err(|e| StepError::Invalid(format!("verification task failed: {e}")))?;
        let (next, events) = result.map_err(|e| StepError::Invalid(e.to_string()))?;
        *state = next;
        save_state(&config.state_dir, state).map_err(StepError::Fatal)?;
        for e in events {
            out.report(e);
        }
        let done = state.size() - start.0;
        if n - start.0 > WIDTH * config.chunk_bundles.max(1) {
            let secs = start.1.elapsed().as_secs_f64().max(1e-6);
            eprintln!(
                "monitor: verified {} of {n} entries ({:.0} entries/s, {} behind)",
                state.size(),
                done as f64 / secs,
                n - state.size()
            );
        }
    }
    Ok(())
}

/// The entries `lo..hi` of the tree of size `n`, from entry bundles (not yet
/// authenticated: the state checks them against the checkpoint's root).
async fn fetch_entries(
    client: &Arc<LogClient>,
    lo: u64,
    hi: u64,
    n: u64,
) -> Result<Vec<Vec<u8>>, StepError> {
    let mut tasks = tokio::task::JoinSet::new();
    for b in lo / WIDTH..hi.div_ceil(WIDTH) {
        // A bundle is partial only at the checkpoint's right edge.
        let width = if (b + 1) * WIDTH <= n {
            WIDTH
        } else {
            n % WIDTH
        };
        let bundle = Bundle::new(b, width as u16).map_err(|e| StepError::Invalid(e.to_string()))?;
        let client = Arc::clone(client);
        tasks.spawn(async move { (b, client.entry_bundle(bundle).await) });
    }
    let mut bundles = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (b, result) =
            joined.map_err(|e| StepError::Invalid(format!("bundle task failed: {e}")))?;
        bundles.push((b, result.map_err(classify)?));
    }
    bundles.sort_by_key(|(b, _)| *b);
    let mut entries = Vec::with_capacity((hi - lo) as usize);
    for (b, bundle) in bundles {
        for (i, entry) in bundle.into_iter().enumerate() {
            let index = b * WIDTH + i as u64;
            if (lo..hi).contains(&index) {
                entries.push(entry);
            }
        }
    }
    if entries.len() as u64 != hi - lo {
        return Err(StepError::Invalid(format!(
            "bundles held {} of the entries {lo}..{hi}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// Why `new` cannot follow `old` in the same log, if it cannot: smaller, same
/// size with another root, or a consistency proof (from tiles authenticated
/// against `new`) that fails.
async fn inconsistency(
    client: &LogClient,
    old: &Checkpoint,
    new: &Checkpoint,
) -> Result<Option<String>, StepError> {
    if new.origin() != old.origin() {
        return Ok(Some(format!(
            "origin {} is not {}",
            new.origin(),
            old.origin()
        )));
    }
    if new.size() < old.size() {
        return Ok(Some(format!(
            "tree size went backwards from {} to {}",
            old.size(),
            new.size()
        )));
    }
    if new.size() == old.size() || old.size() == 0 {
        return Ok((new.size() == old.size() && new.root() != old.root())
            .then(|| format!("two roots for tree size {}", new.size())));
    }
    let proof = match client.prove_consistency(old.size(), new).await {
        Ok(p) => p,
        // Tiles that do not authenticate against the log's own signed
        // checkpoint are not evidence of a fork by themselves; retry.
        Err(e) => return Err(classify(e)),
    };
    Ok(
        verify_consistency(old.size(), new.size(), &proof, old.root(), new.root())
            .err()
            .map(|e| {
                format!(
                    "tree of size {} is not an extension of size {}: {e}",
                    new.size(),
                    old.size()
                )
            }),
    )
}

/// Compares each witness's latest cosigned checkpoint with `ours` (the log's,
/// verified and consistent with our history).
async fn check_witnesses(
    config: &MonitorConfig,
    client: &LogClient,
    state: &mut MonitorState,
    out: &mut Reporter,
    ours: &Checkpoint,
) -> Result<(), StepError> {
    let origin_hash = hex::encode(Sha256::digest(ours.origin().as_str().as_bytes()));
    let Some((ours_text, _)) = state.checkpoint() else {
        return Ok(());
    };
    let ours_text = ours_text.to_owned();
    for witness in config.policy.witnesses() {
        let Some(url) = witness.url().and_then(|u| u.as_str()) else {
            continue;
        };
        let name = witness.name().to_string();
        let base = format!("{}/{origin_hash}", url.trim_end_matches('/'));
        let Ok(wclient) = LogClient::new(&base) else {
            eprintln!("monitor: witness {name}: unusable URL {url:?}");
            continue;
        };
        let note = match wclient.checkpoint_note().await {
            Ok(n) => n,
            // 404: the witness never cosigned this log (specs.md §5.4).
            Err(ClientError::Status { status: 404, .. }) => continue,
            Err(e) => {
                eprintln!("monitor: witness {name}: {e}");
                continue;
            }
        };
        // The log's signature must verify; the quorum is not required of one
        // witness's view.
        let theirs = match config.policy.open_checkpoint(&note) {
            Ok(v) => v.checkpoint().clone(),
            Err(e) => {
                eprintln!("monitor: witness {name}: checkpoint rejected: {e}");
                continue;
            }
        };
        let theirs_text = note_text(&note)?;
        let (older, newer) = if theirs.size() <= ours.size() {
            (&theirs, ours)
        } else {
            (ours, &theirs)
        };
        let reason = match inconsistency(client, older, newer).await {
            Ok(r) => r,
            Err(StepError::Invalid(e)) if theirs.size() > ours.size() => Some(format!(
                "the log's tiles do not match the larger tree the witness cosigned: {e}"
            )),
            Err(StepError::Invalid(e)) | Err(StepError::Unreachable(e)) => {
                eprintln!("monitor: witness {name}: {e}");
                continue;
            }
            Err(fatal) => return Err(fatal),
        };
        if let Some(reason) = reason {
            report_fork(
                config,
                state,
                out,
                format!("witness {name}"),
                reason,
                ours_text.clone(),
                theirs_text,
            )?;
        }
    }
    Ok(())
}

/// Reports a fork once per conflicting checkpoint (remembered in the state).
fn report_fork(
    config: &MonitorConfig,
    state: &mut MonitorState,
    out: &mut Reporter,
    source: String,
    reason: String,
    ours: String,
    theirs: String,
) -> Result<(), StepError> {
    eprintln!("monitor: FORK ({source}): {reason}");
    if state.note_fork(&theirs) {
        save_state(&config.state_dir, state).map_err(StepError::Fatal)?;
        out.emit(
            state,
            EventKind::ForkDetected {
                source,
                reason,
                ours,
                theirs,
            },
        );
    }
    Ok(())
}

/// Transport errors and 5xx answers are an unreachable log; anything else
/// is an invalid answer.
fn classify(e: ClientError) -> StepError {
    match &e {
        ClientError::Transport { .. } => StepError::Unreachable(e.to_string()),
        ClientError::Status { status, .. } if *status >= 500 => {
            StepError::Unreachable(e.to_string())
        }
        _ => StepError::Invalid(e.to_string()),
    }
}

fn note_text(note: &Note) -> Result<String, StepError> {
    String::from_utf8(note.to_bytes())
        .map_err(|_| StepError::Invalid("checkpoint note is not UTF-8".into()))
}

/// Loads `state.json`, or a new state if there is none.
fn load_state(dir: &Path) -> Result<MonitorState, DriverError> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(MonitorState::from_bytes(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(MonitorState::new(SeriesPolicy::default()))
        }
        Err(e) => Err(DriverError::StateDir {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Saves the state atomically: write a temporary file, fsync it, rename it
/// over `state.json`, fsync the directory. A crash leaves the old or the new
/// state, never a torn one.
fn save_state(dir: &Path, state: &MonitorState) -> Result<(), DriverError> {
    let err = |e: std::io::Error| DriverError::StateDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(&state.to_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)?;
    Ok(())
}

/// Prints events (filtered by `--watch`) on its output, stdout, and queues
/// them for the webhook.
struct Reporter {
    watch: Vec<String>,
    out: Box<dyn Write + Send>,
    webhook: Option<(mpsc::Sender<String>, tokio::task::JoinHandle<()>)>,
}

impl Reporter {
    fn new(watch: Vec<String>, webhook: Option<Webhook>, out: Box<dyn Write + Send>) -> Reporter {
        let webhook = webhook.map(|hook| {
            let (tx, rx) = mpsc::channel(hook.queue.max(1));
            (tx, tokio::spawn(post_events(hook, rx)))
        });
        Reporter {
            watch,
            out,
            webhook,
        }
    }

    /// A driver event, resting on the state's newest checkpoint.
    fn emit(&mut self, state: &MonitorState, kind: EventKind) {
        let checkpoint = state.checkpoint().map(|(_, c)| CheckpointRef::of(c));
        self.report(MonitorEvent { kind, checkpoint });
    }

    fn report(&mut self, event: MonitorEvent) {
        if !event.concerns(&self.watch) {
            return;
        }
        let line = event.to_json_line();
        // A closed stdout must not stop the monitor; the webhook may still work.
        let _ = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        if let Some((tx, _)) = &self.webhook
            && tx.try_send(line).is_err()
        {
            eprintln!("monitor: webhook queue full or closed; event not posted");
        }
    }

    /// Lets the webhook deliver what is queued, for at most
    /// [`WEBHOOK_DRAIN`]; what is left then is reported on stderr.
    async fn finish(self) {
        if let Some((tx, task)) = self.webhook {
            drop(tx);
            if tokio::time::timeout(WEBHOOK_DRAIN, task).await.is_err() {
                eprintln!("monitor: exiting with webhook deliveries still pending");
            }
        }
    }
}

/// A fresh `Idempotency-Key` field value (draft-ietf-httpapi-idempotency-key-header:
/// a Structured Fields string): 128 random bits in hex, quoted. One per
/// event, repeated on every attempt to post it, so a receiver can tell a
/// retry from a new event even when two events' lines are equal (two
/// outages at the same checkpoint with the same error).
fn idempotency_key(rng: &mut impl rand_core::RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    format!("\"{}\"", hex::encode(bytes))
}

/// POSTs each queued event (JSON body) with retries and exponential back-off;
/// an event that fails every attempt is reported on stderr and dropped.
async fn post_events(hook: Webhook, mut rx: mpsc::Receiver<String>) {
    let http = match reqwest::Client::builder()
        .connect_timeout(hook.timeout.min(Duration::from_secs(5)))
        .timeout(hook.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("monitor: webhook client: {e}");
            return;
        }
    };
    while let Some(body) = rx.recv().await {
        let key = idempotency_key(&mut rand_core::OsRng);
        let mut delay = hook.first_delay;
        for attempt in 1..=hook.attempts {
            let result = http
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("idempotency-key", &key)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => eprintln!("monitor: webhook attempt {attempt}: HTTP {}", r.status()),
                Err(e) => eprintln!("monitor: webhook attempt {attempt}: {e}"),
            }
            if attempt == hook.attempts {
                eprintln!("monitor: webhook gave up on an event after {attempt} attempts");
            } else {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests;
