//! Crash safety: SIGKILL the server again and again while clients submit
//! (half with `?wait=sequenced`, half with the default wait for a published
//! checkpoint), restart it on the same data directory each time, and check
//! that every acknowledged entry is in the log at its index with the same
//! bytes, that the tree verifies from bundles and tiles, and that the
//! published checkpoint never went backwards (every checkpoint ever observed
//! is consistent with the final tree, by proofs computed from tiles).

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use claimlog::checkpoint::Checkpoint;
use claimlog::dsse::Envelope;
use claimlog::merkle::Hash;
use claimlog::note::VerifierKey;
use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::client::{Client, read_response};
use claimlog_tests::keys::{Submitter, envelope_json, submitters};
use claimlog_tests::server::TestLog;
use claimlog_tests::verify::{
    check_consistency, check_every_inclusion, fetch_checkpoint, verify_tlog_proof, verify_tree,
};

/// SIGKILLs.
const ROUNDS: u64 = 22;
/// Concurrent submitting clients.
const CLIENTS: usize = 16;

/// An acknowledged submission: the server answered with this index.
#[derive(Clone)]
struct Acked {
    index: u64,
    leaf: Hash,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    acked: Mutex<Vec<Acked>>,
    /// Checkpoints in receipts.
    receipts: Mutex<Vec<Checkpoint>>,
    /// Every checkpoint the poller saw, in time order (across restarts).
    polled: Mutex<Vec<Checkpoint>>,
    failed_requests: AtomicU64,
}

/// One client: submits fresh envelopes until `stop`, recording every
/// acknowledgement. Connection errors (the server was killed) are counted
/// and retried after a pause: those envelopes were never acknowledged.
async fn client_loop(
    url: String,
    key: Arc<Submitter>,
    next: Arc<AtomicU64>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log_key: VerifierKey,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    while !stop.load(Ordering::SeqCst) {
        let n = next.fetch_add(1, Ordering::SeqCst);
        let body = envelope_json(&key, "crash", n, 300);
        let sequenced = n.is_multiple_of(2);
        let target = if sequenced {
            format!("{url}/v1/entries?wait=sequenced")
        } else {
            format!("{url}/v1/entries")
        };
        let sent = http
            .post(&target)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => read_response(r).await,
            Err(e) => Err(e.into()),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(_) => {
                shared.failed_requests.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        match resp.status {
            200 | 202 => {
                let r = resp.json().expect("receipt JSON");
                let index = r["index"].as_u64().expect("index");
                let leaf = Hash::from_base64(r["leafHash"].as_str().expect("leafHash"))
                    .expect("leafHash base64");
                if resp.status == 200 && !sequenced {
                    let cp = verify_tlog_proof(
                        r["proof"].as_str().expect("proof"),
                        index,
                        &leaf,
                        &log_key,
                    )
                    .expect("receipt verifies");
                    shared.receipts.lock().expect("lock").push(cp);
                }
                shared
                    .acked
                    .lock()
                    .expect("lock")
                    .push(Acked { index, leaf, body });
            }
            // Shutting down or busy: not acknowledged.
            503 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("unexpected status {other}: {}", resp.text()),
        }
    }
}

/// Polls `/checkpoint` until `stop`, recording every verified checkpoint.
async fn checkpoint_loop(
    url: String,
    log_key: VerifierKey,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    while !stop.load(Ordering::SeqCst) {
        if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await
            && let Ok(r) = read_response(r).await
            && r.status == 200
        {
            let signed = claimlog::checkpoint::SignedCheckpoint::parse(&r.body, [&log_key])
                .expect("published checkpoint verifies");
            shared
                .polled
                .lock()
                .expect("lock")
                .push(signed.checkpoint().clone());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn sigkill_while_submitting_loses_nothing_acknowledged() {
    let started = Instant::now();
    let keys: Vec<Arc<Submitter>> = submitters("e2e-crash", 4)
        .into_iter()
        .map(Arc::new)
        .collect();
    let allow: Vec<String> = keys.iter().map(|k| k.vkey()).collect();
    let mut log = TestLog::new(
        &allow,
        "batch_interval_ms = 50\ncheckpoint_interval_ms = 100",
    )
    .expect("test log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let shared = Arc::new(Shared::default());
    let next = Arc::new(AtomicU64::new(0));
    let mut log_key: Option<VerifierKey> = None;

    for round in 0..ROUNDS {
        let server = log.start().expect("server (re)starts");
        let key = VerifierKey::parse(server.vkey()).expect("vkey");
        if let Some(k) = &log_key {
            assert_eq!(k.to_string(), key.to_string(), "log key changed");
        }
        log_key = Some(key.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            tasks.push(runtime.spawn(client_loop(
                server.url(),
                keys[c % keys.len()].clone(),
                next.clone(),
                shared.clone(),
                stop.clone(),
                key.clone(),
            )));
        }
        tasks.push(runtime.spawn(checkpoint_loop(
            server.url(),
            key.clone(),
            shared.clone(),
            stop.clone(),
        )));
        // Kill at a different point of the batch/publish cycle each round.
        std::thread::sleep(Duration::from_millis(150 + (round * 137) % 500));
        server.kill().expect("SIGKILL");
        stop.store(true, Ordering::SeqCst);
        runtime.block_on(async {
            for t in tasks {
                t.await.expect("client task");
            }
        });
    }

    // Restart once more and verify everything from the final checkpoint.
    let server = log.start().expect("final restart");
    let key = log_key.expect("at least one round");
    let client = Client::new(&server.url()).expect("client");
    let head = fetch_checkpoint(&client, &key).expect("checkpoint");
    let tree = verify_tree(&client, &head).expect("final tree verifies from tiles");
    check_every_inclusion(&client, &tree).expect("inclusion proofs");

    let acked = shared.acked.lock().expect("lock").clone();
    let failed = shared.failed_requests.load(Ordering::SeqCst);
    assert!(
        acked.len() >= 500,
        "too few acknowledged submissions ({}) to mean anything",
        acked.len()
    );
    assert!(failed > 0, "no request was ever cut off by a kill");
    for a in &acked {
        assert!(
            a.index < head.size(),
            "acknowledged index {} is beyond the recovered tree of size {}",
            a.index,
            head.size()
        );
        let canonical = Envelope::parse(&a.body).expect("ours").to_canonical_json();
        let mut prefix = b"{\"envelope\":".to_vec();
        prefix.extend_from_slice(&canonical);
        prefix.extend_from_slice(b",\"integratedTime\":");
        assert!(
            tree.entries[a.index as usize].starts_with(&prefix),
            "entry {} is not the acknowledged envelope",
            a.index
        );
        assert_eq!(
            tree.leaves[a.index as usize], a.leaf,
            "leafHash of {}",
            a.index
        );
    }

    // Never backwards: the poller's checkpoints, in time order across all
    // restarts, never shrink; every checkpoint seen (polled or in a receipt)
    // is a prefix of the final tree, by a consistency proof from its tiles.
    let polled = shared.polled.lock().expect("lock").clone();
    for pair in polled.windows(2) {
        assert!(
            pair[0].size() <= pair[1].size(),
            "published checkpoint went backwards: {} then {}",
            pair[0].size(),
            pair[1].size()
        );
    }
    assert!(polled.len() > ROUNDS as usize, "the poller saw too little");
    let mut by_size: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    let receipts = shared.receipts.lock().expect("lock").clone();
    for cp in polled.iter().chain(&receipts) {
        if let Some(prev) = by_size.insert(cp.size(), cp.clone()) {
            assert_eq!(prev.root(), cp.root(), "two roots for size {}", cp.size());
        }
    }
    for cp in by_size.values() {
        assert!(
            cp.size() <= head.size(),
            "a checkpoint beyond the recovered tree"
        );
        check_consistency(&client, cp, &head).expect("observed checkpoint is a prefix");
    }

    // Resubmitting acknowledged envelopes finds them at their index.
    for a in acked.iter().step_by(acked.len().div_ceil(50)) {
        let r = client
            .post("/v1/entries?wait=sequenced", a.body.clone())
            .and_then(|r| r.expect(200))
            .expect("resubmission")
            .json()
            .expect("json");
        assert_eq!(r["index"], a.index, "resubmission of {}", a.index);
    }

    server.kill().expect("SIGKILL");
    let out = Command::new(claimlog_binary())
        .args(["check", "--data-dir"])
        .arg(log.data_dir())
        .output()
        .expect("claimlog check");
    assert!(
        out.status.success(),
        "claimlog check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "crash test: {ROUNDS} SIGKILLs, {} acknowledged, {failed} requests cut off, final size {}, {} checkpoints observed, {:.1} s",
        acked.len(),
        head.size(),
        by_size.len(),
        started.elapsed().as_secs_f64()
    );
}
