//! HTTP API tests against a real server on 127.0.0.1:0 (no sleeps for
//! start-up: the listener is bound before `serve` runs).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::merkle::{verify_consistency, verify_inclusion};
use crate::note::{KeyName, KeyType, Note, SignerKey, VerifierKey};
use crate::server::config::{Config, load_or_create_key};
use crate::server::entry::envelope_hash;
use crate::server::sequencer::{ManualClock, SequencerConfig, check_log};
use crate::server::store::{MemoryStore, SledStore, Store};
use crate::tiles::decode_bundle;

pub(super) struct Running {
    pub(super) base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), crate::server::ServeError>>,
    dir: tempfile::TempDir,
    config: Config,
}

impl Running {
    pub(super) async fn stop(mut self) -> (tempfile::TempDir, Config) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.unwrap().unwrap();
        (self.dir, self.config)
    }
}

pub(super) fn submitter(n: u8) -> SignerKey {
    SignerKey::from_seed(
        KeyName::new(&format!("submitter{n}.example")).unwrap(),
        KeyType::Ed25519,
        [n; 32],
    )
    .unwrap()
}

pub(super) fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        origin: "test.example/log".into(),
        allow_submitters: vec![submitter(1).verifier().to_string()],
        batch_interval_ms: 20,
        checkpoint_interval_ms: 50,
        ..Config::default()
    }
}

pub(super) async fn start(config: Config, dir: tempfile::TempDir) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::server::serve(config.clone(), listener, async {
        let _ = rx.await;
    }));
    Running {
        base,
        client: reqwest::Client::new(),
        stop: Some(tx),
        task,
        dir,
        config,
    }
}
/// An [`App`] over `store` whose `sequencer` the test drives: a publisher
/// signing as origin `l` with no witnesses, the given admission, no claims,
/// a 100 ms receipt timeout and `retry_after_secs` on 503s.
pub(super) fn test_app(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    sequencer: Arc<Sequencer>,
    submitters: KeySet,
    open_submission: bool,
    retry_after_secs: u64,
) -> Arc<App> {
    let log_key =
        SignerKey::from_seed(KeyName::new("l").unwrap(), KeyType::Ed25519, [3; 32]).unwrap();
    let publisher = Arc::new(
        Publisher::new(
            store.clone(),
            clock,
            log_key,
            crate::checkpoint::Origin::new("l").unwrap(),
            Arc::new(crate::server::publisher::NoWitnesses),
            60,
        )
        .unwrap(),
    );
    Arc::new(App {
        sequencer,
        publisher,
        reader: LogReader::new(store),
        submitters,
        open_submission,
        claims: None,
        metrics: Arc::new(Metrics::default()),
        receipt_timeout: Duration::from_millis(100),
        client_timeout: Duration::from_secs(30),
        retry_after_secs,
        wake: Arc::new(tokio::sync::Notify::new()),
    })
}

pub(super) fn envelope(n: u64, key: &SignerKey) -> Vec<u8> {
    let payload = format!("{{\"_type\":\"https://in-toto.io/Statement/v1\",\"n\":{n}}}");
    Envelope::sign_with_note_key(PAYLOAD_TYPE_IN_TOTO, payload.as_bytes(), key)
        .unwrap()
        .to_canonical_json()
}

async fn post(r: &Running, query: &str, body: Vec<u8>) -> (u16, String) {
    let resp = r
        .client
        .post(format!("{}/v1/entries{query}", r.base))
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn get(r: &Running, path: &str) -> reqwest::Response {
    r.client
        .get(format!("{}{path}", r.base))
        .send()
        .await
        .unwrap()
}

pub(super) async fn get_ok(r: &Running, path: &str) -> Vec<u8> {
    let resp = get(r, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.bytes().await.unwrap().to_vec()
}

async fn expect_status(r: &Running, path: &str, status: u16) -> String {
    let resp = get(r, path).await;
    assert_eq!(resp.status().as_u16(), status, "{path}");
    let text = resp.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{path}: {text:?}");
    text
}

fn log_vkey(config: &Config) -> VerifierKey {
    load_or_create_key(config).unwrap().0.verifier()
}

async fn checkpoint(r: &Running) -> Checkpoint {
    let note = get_ok(r, "/checkpoint").await;
    SignedCheckpoint::parse(&note, [&log_vkey(&r.config)])
        .unwrap()
        .checkpoint()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_receipts_reads_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(test_config(dir.path()), dir).await;
    let key = submitter(1);

    // The empty tree is published at start-up.
    let cp = checkpoint(&r).await;
    assert_eq!((cp.size(), *cp.root()), (0, crate::merkle::empty_root()));

    // Concurrent submissions all get receipts with tlog-proofs.
    let mut handles = Vec::new();
    for n in 0..40u64 {
        let (client, base, body) = (r.client.clone(), r.base.clone(), envelope(n, &key));
        handles.push(tokio::spawn(async move {
            let resp = client
                .post(format!("{base}/v1/entries"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            serde_json::from_slice::<serde_json::Value>(&resp.bytes().await.unwrap()).unwrap()
        }));
    }
    let mut indexes = Vec::new();
    let vkey = log_vkey(&r.config);
    for h in handles {
        let receipt = h.await.unwrap();
        let index = receipt["index"].as_u64().unwrap();
        indexes.push(index);
        let leaf = Hash::from_base64(receipt["leafHash"].as_str().unwrap()).unwrap();
        let proof_text = receipt["proof"].as_str().unwrap();
        // Parse the tlog-proof: header, index, hashes, blank, note.
        let (head, note) = proof_text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        assert_eq!(lines.next(), Some(format!("index {index}").as_str()));
        let proof: Vec<Hash> = lines.map(|l| Hash::from_base64(l).unwrap()).collect();
        let signed = SignedCheckpoint::parse(note.as_bytes(), [&vkey]).unwrap();
        let cp = signed.checkpoint();
        verify_inclusion(index, cp.size(), &leaf, &proof, cp.root()).unwrap();
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (0..40).collect::<Vec<_>>());

    // Identical resubmission (even re-spaced) returns the original index.
    let body = envelope(7, &key);
    let (status, first) = post(&r, "?wait=sequenced", body.clone()).await;
    assert_eq!(status, 200);
    let spaced = String::from_utf8(body).unwrap().replace(',', " ,\n ");
    let (status, again) = post(&r, "", spaced.into_bytes()).await;
    assert_eq!(status, 200);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&again).unwrap(),
    );
    assert_eq!(a["index"], b["index"]);
    assert!(a.get("proof").is_none());
    assert!(b.get("proof").is_some());

    // Rejections, each with a one-line reason.
    let cases: Vec<(Vec<u8>, &str, u16)> = vec![
        (envelope(100, &submitter(2)), "", 403),
        (b"not json".to_vec(), "", 400),
        (b"{}".to_vec(), "", 400),
        (
            Envelope::sign_with_note_key("text/plain", b"x", &key)
                .unwrap()
                .to_canonical_json(),
            "",
            400,
        ),
        (vec![b' '; BODY_LIMIT + 1], "", 413),
        (envelope(101, &key), "?wait=forever", 400),
        (envelope(101, &key), "?other=1", 400),
        (envelope(101, &key), "?wait=sequenced&wait=sequenced", 400),
    ];
    for (body, query, want) in cases {
        let (status, text) = post(&r, query, body).await;
        assert_eq!(status, want, "{query} {text}");
        assert_eq!(text.lines().count(), 1, "{text:?}");
    }
    let mut tampered: serde_json::Value = serde_json::from_slice(&envelope(102, &key)).unwrap();
    tampered["payload"] = serde_json::json!("eyJ4IjoxfQ==");
    let (status, text) = post(&r, "", serde_json::to_vec(&tampered).unwrap()).await;
    assert_eq!(
        (status, text.as_str()),
        (403, "signature 0 by a trusted key does not verify\n")
    );

    // Read endpoints.
    let cp = checkpoint(&r).await;
    assert_eq!(cp.size(), 40);
    let resp = get(&r, "/checkpoint").await;
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    let entry: serde_json::Value =
        serde_json::from_slice(&get_ok(&r, "/v1/entries/3").await).unwrap();
    assert_eq!(entry["index"], 3);
    assert_eq!(
        entry["statement"]["_type"],
        "https://in-toto.io/Statement/v1"
    );
    assert!(entry["integratedTime"].as_u64().unwrap() > 1_700_000_000);
    expect_status(&r, "/v1/entries/40", 404).await;
    expect_status(&r, "/v1/entries/03", 400).await;
    expect_status(&r, "/v1/entries/-1", 400).await;

    let tile = get(&r, "/tile/0/000.p/40").await;
    assert_eq!(tile.status(), 200);
    assert_eq!(tile.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        tile.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let hashes = tile.bytes().await.unwrap();
    assert_eq!(hashes.len(), 40 * 32);
    let bundle = get_ok(&r, "/tile/entries/000.p/40").await;
    let entries = decode_bundle(&bundle, 40).unwrap();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(leaf_hash(e).as_bytes(), &hashes[i * 32..(i + 1) * 32]);
    }
    // Narrower partials are prefixes; wider, full or malformed are 404.
    assert_eq!(get_ok(&r, "/tile/0/000.p/3").await, hashes[..96].to_vec());
    for path in [
        "/tile/0/000.p/41",
        "/tile/0/000",
        "/tile/0/001.p/1",
        "/tile/1/000.p/1",
        "/tile/entries/000.p/41",
        "/tile/0/0.p/1",
        "/tile/0/000.p/01",
        "/tile/64/000",
        "/tile/x",
    ] {
        expect_status(&r, path, 404).await;
    }

    let incl: serde_json::Value =
        serde_json::from_slice(&get_ok(&r, "/v1/proof/inclusion?index=5&size=40").await).unwrap();
    let proof: Vec<Hash> = incl["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let leaf = Hash::from_base64(incl["leafHash"].as_str().unwrap()).unwrap();
    verify_inclusion(5, 40, &leaf, &proof, cp.root()).unwrap();
    let cons: serde_json::Value =
        serde_json::from_slice(&get_ok(&r, "/v1/proof/consistency?old=13&new=40").await).unwrap();
    let proof: Vec<Hash> = cons["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let old_root = Hash::from_base64(cons["oldRootHash"].as_str().unwrap()).unwrap();
    verify_consistency(13, 40, &proof, &old_root, cp.root()).unwrap();
    for (path, status) in [
        ("/v1/proof/inclusion?index=40&size=40", 400),
        ("/v1/proof/inclusion?index=0&size=41", 404),
        ("/v1/proof/inclusion?index=0", 400),
        ("/v1/proof/inclusion?index=0&size=1&x=2", 400),
        ("/v1/proof/inclusion?index=+1&size=2", 400),
        ("/v1/proof/consistency?old=0&new=5", 400),
        ("/v1/proof/consistency?old=6&new=5", 400),
        ("/v1/proof/consistency?old=1&new=41", 404),
        ("/v1/proof/40", 404),
        ("/v1/proof/x", 400),
        ("/nope", 404),
    ] {
        expect_status(&r, path, status).await;
    }
    let text = String::from_utf8(get_ok(&r, "/v1/proof/39").await).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 39\n"));
    assert_eq!(get_ok(&r, "/healthz").await, b"ok\n");
    let metrics = String::from_utf8(get_ok(&r, "/metrics").await).unwrap();
    assert!(metrics.contains("claimlog_tree_size 40"), "{metrics}");
    assert!(metrics.contains("claimlog_submissions_total{outcome=\"bad_signature\"} 2"));
    assert!(metrics.contains("route=\"/v1/entries/{index}\",status=\"404\""));

    // A second server on the same data directory is refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    match crate::server::serve(r.config.clone(), listener, async {}).await {
        Err(crate::server::ServeError::Store(StoreError::Locked(msg))) => {
            assert!(msg.contains("in use"), "{msg}")
        }
        other => panic!("second server: {other:?}"),
    }

    // Graceful shutdown, then everything is still there and consistent.
    let (dir, config) = r.stop().await;
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&config.data_dir).unwrap());
        let report = check_log(&store, Some(&log_vkey(&config))).unwrap();
        assert_eq!((report.size, report.published), (40, Some(40)));
    }
    let r = start(config, dir).await;
    assert_eq!(checkpoint(&r).await, cp);
    let (status, text) = post(&r, "?wait=sequenced", envelope(1000, &key)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"index\":40"), "{text}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pool_answers_503_with_retry_after() {
    // An App whose sequencer nobody drives: the first submission waits in
    // the pool, the second finds it full.
    let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1));
    let sequencer = Arc::new(
        Sequencer::new(
            mem.clone(),
            clock.clone(),
            SequencerConfig {
                max_batch: 1,
                pool_capacity: 1,
                ..SequencerConfig::default()
            },
        )
        .unwrap(),
    );
    let app = test_app(mem, clock, sequencer.clone(), KeySet::new(), true, 2);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(app)).await });
    let client = reqwest::Client::new();
    let key = SigningKey::from_bytes(&[4; 32]);
    let body = |n: u8| {
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &[b'{', b'0' + n, b'}'], &key).to_canonical_json()
    };
    let first = {
        let (client, base, b) = (client.clone(), base.clone(), body(1));
        tokio::spawn(async move {
            client
                .post(format!("{base}/v1/entries"))
                .body(b)
                .send()
                .await
                .unwrap()
        })
    };
    while sequencer.pool_depth() == 0 {
        tokio::task::yield_now().await;
    }
    let resp = client
        .post(format!("{base}/v1/entries"))
        .body(body(2))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    // Open mode accepted the unlisted key; sequencing answers the first, and
    // with no publication in time it gets 202 with its index.
    sequencer.sequence_once().unwrap();
    let resp = first.await.unwrap();
    assert_eq!(resp.status(), 202);
    let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(v["index"], 0);
}

#[test]
fn query_parsing() {
    let q = parse_query(Some("a=1&b=x"), &["a", "b"]).unwrap();
    assert_eq!((q["a"], q["b"]), ("1", "x"));
    assert!(parse_query(None, &[]).unwrap().is_empty());
    assert!(parse_query(Some(""), &[]).unwrap().is_empty());
    for bad in ["a", "a=1&a=2", "c=1", "a=1&", "&a=1", "=1"] {
        assert!(parse_query(Some(bad), &["a"]).is_err(), "{bad}");
    }
    assert!(parse_query(Some(&"a=1&".repeat(100)), &["a"]).is_err());
    assert_eq!(decimal("n", "0"), Ok(0));
    for bad in ["", "01", "+1", "-1", "1.0", " 1", "18446744073709551616"] {
        assert!(decimal("n", bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn handler_parsers_never_panic(s in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_query(Some(&s), &["index", "size", "wait"]);
        let _ = decimal("n", &s);
        let _ = parse_tile_path(&format!("tile/{s}"));
        let _ = Envelope::parse(&bytes);
        let _ = LogEntry::parse(&bytes);
        let _ = Note::parse(&bytes);
    }
}

/// A store whose batch commits become visible (applied to the inner store)
/// and then wait for the test to open a gate before returning, as a sled
/// batch is readable while its flush is still running.
struct FlushGate {
    inner: MemoryStore,
    /// Whether commits may return; guarded with `opened`.
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
    /// Commits applied and now waiting at the gate.
    waiting: std::sync::atomic::AtomicUsize,
}

impl FlushGate {
    fn set(&self, open: bool) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = open;
        self.opened.notify_all();
    }
}

/// Opens the gate when dropped, so a failing test unwinds instead of
/// leaving a blocking task waiting forever.
struct OpenOnDrop(Arc<FlushGate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

impl Store for FlushGate {
    fn tree_state(&self) -> Result<crate::server::store::TreeState, StoreError> {
        self.inner.tree_state()
    }
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.entry(index)
    }
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.entries(start, end)
    }
    fn tile(&self, key: crate::server::store::TileKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.tile(key)
    }
    fn dedup(&self, hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        self.inner.dedup(hash)
    }
    fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.index_get(key)
    }
    fn index_scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<crate::server::store::IndexRecord>, StoreError> {
        self.inner.index_scan(prefix, after, limit)
    }
    fn commit_batch(&self, batch: &crate::server::store::CommitBatch) -> Result<(), StoreError> {
        self.inner.commit_batch(batch)?;
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        self.waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    fn published_checkpoint(&self) -> Result<Option<PublishedCheckpoint>, StoreError> {
        self.inner.published_checkpoint()
    }
    fn publish_checkpoint(
        &self,
        expected: Option<u64>,
        new: &PublishedCheckpoint,
    ) -> Result<(), StoreError> {
        self.inner.publish_checkpoint(expected, new)
    }
}

/// Polls `cond` until it holds, failing after a generous deadline.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmissions_are_answered_by_the_sequencer_after_the_flush() {
    // Commit 8544876: while a step's batch is readable but not yet durable
    // (its flush has not returned), a resubmission of one of its envelopes
    // must not be acknowledged from the dedup index; it waits for the
    // sequencer, which answers after the flush.
    let gate = Arc::new(FlushGate {
        inner: MemoryStore::new(),
        open: std::sync::Mutex::new(false),
        opened: std::sync::Condvar::new(),
        waiting: std::sync::atomic::AtomicUsize::new(0),
    });
    let _open_on_drop = OpenOnDrop(gate.clone());
    let store: Arc<dyn Store> = gate.clone();
    let clock = Arc::new(ManualClock::new(1));
    let sequencer =
        Arc::new(Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap());
    let key = submitter(1);
    let mut submitters = KeySet::new();
    assert!(submitters.insert_note_key(&key.verifier()));
    let app = test_app(
        store.clone(),
        clock,
        sequencer.clone(),
        submitters,
        false,
        1,
    );
    let body = Bytes::from(envelope(7, &key));
    let submit = |app: Arc<App>, body: Bytes| {
        tokio::spawn(async move {
            use http_body_util::BodyExt as _;
            let request = axum::http::Request::post("/v1/entries?wait=sequenced")
                .body(Full::new(body))
                .unwrap();
            let r = super::submit::submit_direct(&app, request).await;
            let status = r.status();
            let body = r.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (status, v["index"].as_u64())
        })
    };
    let first = submit(app.clone(), body.clone());
    until("first submission queued", || sequencer.pool_depth() == 1).await;
    let step = {
        let s = sequencer.clone();
        tokio::task::spawn_blocking(move || s.sequence_once())
    };
    until("batch applied, flush pending", || {
        gate.waiting.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    // The entry is readable and indexed, but not durable: head is still 0.
    let hash = envelope_hash(&body);
    assert_eq!(store.dedup(&hash).unwrap(), Some(0));
    assert_eq!(sequencer.head().0, 0);
    let second = submit(app.clone(), body.clone());
    // The resubmission goes to the pool instead of being answered.
    until("resubmission queued or answered", || {
        sequencer.pool_depth() == 1 || second.is_finished()
    })
    .await;
    assert!(
        !second.is_finished(),
        "a resubmission was answered from the dedup index before the flush"
    );
    assert!(!first.is_finished());

    gate.set(true);
    let report = step.await.unwrap().unwrap();
    assert_eq!((report.appended, report.size), (1, 1));
    assert_eq!(first.await.unwrap(), (StatusCode::OK, Some(0)));
    assert!(!second.is_finished(), "answered before its own step");
    let report = sequencer.sequence_once().unwrap();
    assert_eq!((report.taken, report.appended, report.size), (1, 0, 1));
    assert_eq!(second.await.unwrap(), (StatusCode::OK, Some(0)));

    // Below the head too, a resubmission is answered by the sequencer's
    // next step (from the dedup index), which appends nothing.
    let third = submit(app.clone(), body.clone());
    until("third submission queued", || sequencer.pool_depth() == 1).await;
    assert!(!third.is_finished(), "answered before the sequencer saw it");
    let report = sequencer.sequence_once().unwrap();
    assert_eq!((report.taken, report.appended, report.size), (1, 0, 1));
    assert_eq!(third.await.unwrap(), (StatusCode::OK, Some(0)));
    assert_eq!(sequencer.pool_depth(), 0);
    assert_eq!(check_log(&store, None).unwrap().size, 1);
}
