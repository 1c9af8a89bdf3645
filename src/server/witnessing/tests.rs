//! The witness client against fake witnesses: small axum servers on
//! loopback that run the shared protocol check ([`check_add_checkpoint`])
//! and can be told to misbehave (stall, refuse, sign wrongly). The log side
//! is a real sequencer and publisher over the memory store, driven by hand
//! on a manual clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ed25519_dalek::SigningKey;

use super::*;
use crate::checkpoint::{Checkpoint, Origin};
use crate::cosignature::CosignerKey;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::note::{KeyName, KeyType, Note, SignerKey};
use crate::server::entry::envelope_hash;
use crate::server::publisher::{PublishOutcome, Publisher};
use crate::server::sequencer::{ManualClock, Sequencer, SequencerConfig};
use crate::server::store::{MemoryStore, Store};
use crate::witness_wire::{
    AddCheckpointRequest, SIZE_CONTENT_TYPE, TreeState, WitnessError, check_add_checkpoint,
    format_cosignatures, format_size_body,
};

const NOW: u64 = 1_760_000_000;
const ORIGIN: &str = "witnessing.test/log";

/// How a fake witness behaves.
#[derive(Clone, Debug)]
enum Mode {
    Honest,
    /// Stall this long before answering.
    Slow(Duration),
    /// Answer with this status and no cosignature.
    Status(u16),
    /// Sign with a different key under the right name and key ID.
    WrongKey,
    /// Sign a different checkpoint (another size).
    OtherCheckpoint,
    /// Sign with a timestamp an hour in the future.
    FutureTimestamp,
}

struct Fake {
    key: CosignerKey,
    log_keys: Vec<VerifierKey>,
    state: Mutex<Option<TreeState>>,
    mode: Mutex<Mode>,
    clock: Arc<ManualClock>,
    /// (old, proof length) of every request.
    seen: Mutex<Vec<(u64, usize)>>,
}

struct FakeWitness {
    fake: Arc<Fake>,
    url: String,
}

impl FakeWitness {
    async fn start(n: u8, log_key: &VerifierKey, clock: &Arc<ManualClock>) -> FakeWitness {
        let key = CosignerKey::from_seed(
            KeyName::new(&format!("fake.test/w{n}")).unwrap(),
            [100 + n; 32],
        )
        .unwrap();
        let fake = Arc::new(Fake {
            key,
            log_keys: vec![log_key.clone()],
            state: Mutex::new(None),
            mode: Mutex::new(Mode::Honest),
            clock: clock.clone(),
            seen: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeWitness { fake, url }
    }

    fn set_mode(&self, mode: Mode) {
        *self.fake.mode.lock().unwrap() = mode;
    }

    fn vkey(&self) -> String {
        self.fake.key.verifier().key().to_string()
    }

    fn seen(&self) -> Vec<(u64, usize)> {
        self.fake.seen.lock().unwrap().clone()
    }

    fn stored_size(&self) -> Option<u64> {
        self.fake.state.lock().unwrap().map(|s| s.size)
    }
}

async fn add_checkpoint(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    let mode = fake.mode.lock().unwrap().clone();
    if let Mode::Slow(d) = mode {
        tokio::time::sleep(d).await;
    }
    if let Mode::Status(s) = mode {
        return StatusCode::from_u16(s).unwrap().into_response();
    }
    let request = match AddCheckpointRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    fake.seen
        .lock()
        .unwrap()
        .push((request.old(), request.proof().len()));
    let mut state = fake.state.lock().unwrap();
    match check_add_checkpoint(Some(&fake.log_keys), state.as_ref(), &request) {
        Err(WitnessError::StaleOldSize { stored, .. }) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format_size_body(stored),
        )
            .into_response(),
        Err(e) => (StatusCode::from_u16(e.status()).unwrap(), e.to_string()).into_response(),
        Ok(signed) => {
            *state = Some(TreeState::of(signed.checkpoint()));
            let now = fake.clock.now();
            let cp = signed.checkpoint();
            let sig = match mode {
                Mode::WrongKey => CosignerKey::from_seed(fake.key.name().clone(), [7; 32])
                    .unwrap()
                    .sign(cp, now),
                Mode::OtherCheckpoint => {
                    let other = Checkpoint::new(cp.origin().clone(), cp.size() + 1, *cp.root());
                    fake.key.sign(&other, now)
                }
                Mode::FutureTimestamp => fake.key.sign(cp, now + 3600),
                _ => fake.key.sign(cp, now),
            }
            .unwrap();
            // An unrelated line first: the client must ignore it.
            let stranger = CosignerKey::from_seed(KeyName::new("stranger.test").unwrap(), [3; 32])
                .unwrap()
                .sign(cp, now)
                .unwrap();
            format_cosignatures(&[stranger, sig]).into_response()
        }
    }
}

struct Log {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    seq: Sequencer,
    key: SignerKey,
    next: u64,
}

impl Log {
    fn new() -> Log {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(NOW));
        let seq = Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap();
        let key =
            SignerKey::from_seed(KeyName::new(ORIGIN).unwrap(), KeyType::Ed25519, [9; 32]).unwrap();
        Log {
            store,
            clock,
            seq,
            key,
            next: 0,
        }
    }

    fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let payload = format!(
                "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"n\":{}}}",
                self.next
            );
            self.next += 1;
            let json = Envelope::sign(
                PAYLOAD_TYPE_IN_TOTO,
                payload.as_bytes(),
                &SigningKey::from_bytes(&[1; 32]),
            )
            .to_canonical_json();
            drop(self.seq.submit(json.clone(), envelope_hash(&json)).unwrap());
        }
        self.seq.sequence_once().unwrap();
    }

    fn signed(&self) -> SignedCheckpoint {
        let (size, root) = self.seq.head();
        SignedCheckpoint::sign(
            &Checkpoint::new(Origin::new(ORIGIN).unwrap(), size, root),
            &self.key,
        )
        .unwrap()
    }

    fn policy(&self, witnesses: &[&FakeWitness], quorum: &str) -> Policy {
        let mut text = format!("log {}\n", self.key.verifier());
        for (i, w) in witnesses.iter().enumerate() {
            text.push_str(&format!("witness w{} {} {}\n", i + 1, w.vkey(), w.url));
        }
        text.push_str(quorum);
        Policy::parse(text.as_bytes()).unwrap()
    }

    fn witnessing(
        &self,
        policy: Policy,
        timeout: Duration,
    ) -> (Arc<Witnessing>, Arc<WitnessMetrics>) {
        let metrics = Arc::new(WitnessMetrics::default());
        let w = Witnessing::new(
            policy,
            &self.key.verifier(),
            Setup {
                reader: LogReader::new(self.store.clone()),
                published: self.store.published_checkpoint().unwrap(),
                clock: self.clock.clone(),
                timeout,
                metrics: metrics.clone(),
                runtime: Handle::current(),
            },
        )
        .unwrap();
        (Arc::new(w), metrics)
    }

    fn publisher(&self, hook: Arc<Witnessing>) -> Arc<Publisher> {
        Arc::new(
            Publisher::new(
                self.store.clone(),
                self.clock.clone(),
                self.key.clone(),
                Origin::new(ORIGIN).unwrap(),
                hook,
                60,
            )
            .unwrap(),
        )
    }

    /// `publish_once` on a blocking thread, as the server runs it.
    async fn publish(&self, p: &Arc<Publisher>) -> Result<PublishOutcome, PublishError> {
        let (p, head) = (p.clone(), self.seq.head());
        tokio::task::spawn_blocking(move || p.publish_once(head))
            .await
            .unwrap()
    }
}

async fn three(log: &Log) -> [FakeWitness; 3] {
    let k = log.key.verifier();
    [
        FakeWitness::start(1, &k, &log.clock).await,
        FakeWitness::start(2, &k, &log.clock).await,
        FakeWitness::start(3, &k, &log.clock).await,
    ]
}

const TWO_OF_THREE: &str = "group all-of-them 2 w1 w2 w3\nquorum all-of-them\n";

fn cosigners(policy: &Policy, note: &[u8]) -> Vec<String> {
    let v = policy
        .verify_checkpoint(&Note::parse(note).unwrap())
        .unwrap();
    v.cosignatures()
        .iter()
        .map(|c| c.witness().to_string())
        .collect()
}

fn outcome_labels(round: &Round) -> Vec<&'static str> {
    round.outcomes.iter().map(|(_, o)| o.label()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_met_publishes_with_every_valid_cosignature() {
    let mut log = Log::new();
    let ws = three(&log).await;
    let policy = log.policy(&[&ws[0], &ws[1], &ws[2]], TWO_OF_THREE);
    let (hook, metrics) = log.witnessing(policy.clone(), Duration::from_secs(30));
    let p = log.publisher(hook.clone());
    // The empty tree first (old 0, size 0), then growth with proofs.
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(0)));
    log.grow(5);
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(5)));
    log.grow(300);
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(305)));
    let note = log.store.published_checkpoint().unwrap().unwrap().note;
    assert_eq!(cosigners(&policy, &note), ["w1", "w2", "w3"]);
    // The log's own signature comes first, then the cosignatures in policy
    // order; the stranger's lines are not carried.
    let parsed = Note::parse(&note).unwrap();
    let names: Vec<&str> = parsed
        .signatures()
        .iter()
        .map(|s| s.name().as_str())
        .collect();
    assert_eq!(
        names,
        [ORIGIN, "fake.test/w1", "fake.test/w2", "fake.test/w3"]
    );
    for w in &ws {
        assert_eq!(w.seen(), [(0, 0), (0, 0), (5, w.seen()[2].1)]);
        assert!(w.seen()[2].1 > 0, "a real consistency proof 5 -> 305");
        assert_eq!(w.stored_size(), Some(305));
    }
    assert!(hook.witness_sizes().iter().all(|(_, s)| *s == 305));
    assert_metric_lines(
        &metrics,
        &[
            "claimlog_witness_requests_total{witness=\"w1\",outcome=\"cosigned\",status=\"200\"} 3",
            "claimlog_witness_cosigned_size{witness=\"w3\"} 305",
            "claimlog_witness_request_seconds_count{witness=\"w2\"} 3",
            "claimlog_witness_quorum_failures_total 0",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_not_met_publishes_nothing_and_the_next_interval_retries() {
    let mut log = Log::new();
    let ws = three(&log).await;
    let policy = log.policy(&[&ws[0], &ws[1], &ws[2]], TWO_OF_THREE);
    let (hook, metrics) = log.witnessing(policy.clone(), Duration::from_secs(30));
    let p = log.publisher(hook.clone());
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(0)));
    log.grow(3);
    ws[1].set_mode(Mode::Status(503));
    ws[2].set_mode(Mode::Status(403));
    let err = log.publish(&p).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Witness(m) if m.contains("quorum not met")),
        "{err}"
    );
    assert_eq!(log.store.published_checkpoint().unwrap().unwrap().size, 0);
    assert_eq!(p.current().unwrap().size, 0);
    assert_eq!(metrics.quorum_failures(), 1);
    // w1 did cosign size 3; the log remembers it.
    assert_eq!(ws[0].stored_size(), Some(3));
    // Sequencing goes on; one witness comes back: the retry publishes the
    // newest tree, and w1 is asked from 3, not from the published 0.
    log.grow(2);
    ws[2].set_mode(Mode::Honest);
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(5)));
    assert_eq!(ws[0].seen().last().map(|s| s.0), Some(3));
    let note = log.store.published_checkpoint().unwrap().unwrap().note;
    assert_eq!(cosigners(&policy, &note), ["w1", "w3"]);
    assert_metric_lines(
        &metrics,
        &[
            "claimlog_witness_requests_total{witness=\"w2\",outcome=\"rejected\",status=\"503\"} 2",
            "claimlog_witness_requests_total{witness=\"w3\",outcome=\"rejected\",status=\"403\"} 1",
            "claimlog_witness_quorum_failures_total 1",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_is_retried_once_from_the_witness_size() {
    let mut log = Log::new();
    let ws = three(&log).await;
    log.grow(7);
    // w1 has already cosigned size 4 of this log (say, before a restart of
    // the log that lost nothing but its memory of w1).
    let reader = LogReader::new(log.store.clone());
    *ws[0].fake.state.lock().unwrap() = Some(TreeState {
        size: 4,
        root: reader.tree_hash(4).unwrap(),
    });
    let policy = log.policy(&[&ws[0], &ws[1], &ws[2]], "quorum w1\n");
    let (hook, metrics) = log.witnessing(policy, Duration::from_secs(30));
    let round = hook.round(&log.signed()).await;
    assert!(round.quorum, "{:?}", round.outcomes);
    assert_eq!(outcome_labels(&round), ["cosigned"; 3]);
    let seen = ws[0].seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (0, 0));
    assert_eq!(seen[1].0, 4);
    assert!(seen[1].1 > 0);
    assert_metric_lines(
        &metrics,
        &["claimlog_witness_requests_total{witness=\"w1\",outcome=\"conflict\",status=\"409\"} 1"],
    );
    // A witness whose size is beyond the checkpoint is a conflict, not
    // retried (a proof cannot go backwards), and does not block the others.
    *ws[1].fake.state.lock().unwrap() = Some(TreeState {
        size: 100,
        root: reader.tree_hash(7).unwrap(),
    });
    let round = hook.round(&log.signed()).await;
    assert_eq!(round.outcomes[1].1, Outcome::Conflict { witness_size: 100 });
    assert_eq!(outcome_labels(&round), ["cosigned", "conflict", "cosigned"]);
    assert_eq!(ws[1].seen().len(), 2, "one request and no retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cosignatures_are_ignored() {
    let mut log = Log::new();
    log.grow(2);
    let k = log.key.verifier();
    let ws = [
        FakeWitness::start(1, &k, &log.clock).await,
        FakeWitness::start(2, &k, &log.clock).await,
        FakeWitness::start(3, &k, &log.clock).await,
        FakeWitness::start(4, &k, &log.clock).await,
        FakeWitness::start(5, &k, &log.clock).await,
    ];
    ws[1].set_mode(Mode::WrongKey);
    ws[2].set_mode(Mode::OtherCheckpoint);
    ws[3].set_mode(Mode::FutureTimestamp);
    let policy = log.policy(
        &[&ws[0], &ws[1], &ws[2], &ws[3], &ws[4]],
        "group g 2 w1 w2 w3 w4 w5\nquorum g\n",
    );
    let (hook, _) = log.witnessing(policy.clone(), Duration::from_secs(30));
    let round = hook.round(&log.signed()).await;
    assert_eq!(
        outcome_labels(&round),
        [
            "cosigned",
            "bad_cosignature",
            "bad_cosignature",
            "bad_cosignature",
            "cosigned"
        ]
    );
    assert!(round.quorum);
    assert_eq!(
        cosigners(&policy, &round.checkpoint.note().to_bytes()),
        ["w1", "w5"]
    );
    // With only one good witness left the quorum fails.
    ws[4].set_mode(Mode::WrongKey);
    let round = hook.round(&log.signed()).await;
    assert!(!round.quorum);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_dead_witness_does_not_block_the_others() {
    let mut log = Log::new();
    log.grow(3);
    let ws = three(&log).await;
    ws[0].set_mode(Mode::Slow(Duration::from_secs(60)));
    // A witness that is down: a port that nothing listens on any more.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let text = format!(
        "witness slow {} {}\nwitness dead {} {dead}\nwitness ok {} {}\nquorum ok\n",
        ws[0].vkey(),
        ws[0].url,
        ws[1].vkey(),
        ws[2].vkey(),
        ws[2].url
    );
    let policy = Policy::parse(text.as_bytes()).unwrap();
    let (hook, metrics) = log.witnessing(policy, Duration::from_millis(1500));
    let p = log.publisher(hook);
    let started = Instant::now();
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(3)));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_metric_lines(
        &metrics,
        &[
            "claimlog_witness_requests_total{witness=\"slow\",outcome=\"timeout\",status=\"\"} 1",
            "claimlog_witness_requests_total{witness=\"dead\",outcome=\"transport_error\",status=\"\"} 1",
            "claimlog_witness_requests_total{witness=\"ok\",outcome=\"cosigned\",status=\"200\"} 1",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_cosigned_with_an_empty_proof() {
    let mut log = Log::new();
    let ws = three(&log).await;
    let policy = log.policy(&[&ws[0], &ws[1], &ws[2]], TWO_OF_THREE);
    let (hook, _) = log.witnessing(policy.clone(), Duration::from_secs(30));
    let p = log.publisher(hook);
    log.grow(4);
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(4)));
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Unchanged));
    log.clock.advance(61);
    assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(4)));
    for w in &ws {
        assert_eq!(w.seen().last(), Some(&(4, 0)), "old == size, no proof");
    }
    let note = log.store.published_checkpoint().unwrap().unwrap().note;
    let v = policy
        .verify_checkpoint(&Note::parse(&note).unwrap())
        .unwrap();
    assert!(v.cosignatures().iter().all(|c| c.timestamp() == NOW + 61));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witnesses_start_from_the_published_size() {
    let mut log = Log::new();
    let ws = three(&log).await;
    let policy = log.policy(&[&ws[0], &ws[1], &ws[2]], TWO_OF_THREE);
    {
        let (hook, _) = log.witnessing(policy.clone(), Duration::from_secs(30));
        let p = log.publisher(hook);
        log.grow(6);
        assert_eq!(log.publish(&p).await, Ok(PublishOutcome::Published(6)));
    }
    // A restarted log: a new client, which knows only the published size.
    log.grow(2);
    let (hook, _) = log.witnessing(policy, Duration::from_secs(30));
    assert!(hook.witness_sizes().iter().all(|(_, s)| *s == 6));
    let round = hook.round(&log.signed()).await;
    assert!(round.quorum);
    for w in &ws {
        assert_eq!(w.seen().len(), 2, "no 409: {:?}", w.seen());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_is_strict() {
    let log = Log::new();
    let w = FakeWitness::start(1, &log.key.verifier(), &log.clock).await;
    let setup = |log: &Log| Setup {
        reader: LogReader::new(log.store.clone()),
        published: None,
        clock: log.clock.clone(),
        timeout: Duration::from_secs(1),
        metrics: Arc::new(WitnessMetrics::default()),
        runtime: Handle::current(),
    };
    let make = |text: String| {
        Witnessing::new(
            Policy::parse(text.as_bytes()).unwrap(),
            &log.key.verifier(),
            setup(&log),
        )
        .map(|_| ())
    };
    assert_eq!(
        make(format!("witness w1 {} {}\nquorum w1\n", w.vkey(), w.url)),
        Ok(())
    );
    assert!(matches!(
        make(format!("witness w1 {}\nquorum w1\n", w.vkey())),
        Err(WitnessingError::MissingUrl(n)) if n.as_bytes() == b"w1"
    ));
    for bad in [
        "ftp://x.test/",
        "not-a-url",
        "http://x.test/?q=1",
        "mailto:a@b",
    ] {
        assert!(
            matches!(
                make(format!("witness w1 {} {bad}\nquorum w1\n", w.vkey())),
                Err(WitnessingError::BadUrl { .. })
            ),
            "{bad}"
        );
    }
    let other = SignerKey::from_seed(
        KeyName::new("other.test/log").unwrap(),
        KeyType::Ed25519,
        [5; 32],
    )
    .unwrap();
    assert_eq!(
        make(format!(
            "log {}\nwitness w1 {} {}\nquorum w1\n",
            other.verifier(),
            w.vkey(),
            w.url
        )),
        Err(WitnessingError::LogNotListed(
            log.key.verifier().to_string()
        ))
    );
    // From a file: read errors and strict parsing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy");
    let from_file = |log: &Log| {
        Witnessing::from_policy_file(&path, &log.key.verifier(), setup(log)).map(|_| ())
    };
    assert!(matches!(from_file(&log), Err(WitnessingError::Read { .. })));
    std::fs::write(
        &path,
        format!("witness w1 {} {}\nquorum w1", w.vkey(), w.url),
    )
    .unwrap();
    assert!(matches!(
        from_file(&log),
        Err(WitnessingError::Policy {
            error: PolicyError::Unterminated { line: 2 },
            ..
        })
    ));
    std::fs::write(
        &path,
        format!("witness w1 {} {}\nquorum w1\n", w.vkey(), w.url),
    )
    .unwrap();
    assert_eq!(from_file(&log), Ok(()));
    // The URL may carry a path prefix, with or without a trailing slash.
    assert_eq!(
        add_checkpoint_url(b"https://w.test/prefix/")
            .unwrap()
            .as_str(),
        "https://w.test/prefix/add-checkpoint"
    );
    assert_eq!(
        add_checkpoint_url(b"http://127.0.0.1:7380")
            .unwrap()
            .as_str(),
        "http://127.0.0.1:7380/add-checkpoint"
    );
}

/// Asserts that the rendered `metrics` hold each of `lines` exactly.
fn assert_metric_lines(metrics: &WitnessMetrics, lines: &[&str]) {
    let mut text = String::new();
    metrics.render(&mut text);
    for line in lines {
        assert!(text.lines().any(|l| l == *line), "missing {line}:\n{text}");
    }
}
