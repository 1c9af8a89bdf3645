//! End-to-end tests against a real `claimlog serve` process on loopback
//! with a temp data directory (`spec/log-api.md` is the interface).
//!
//! Everything the server says is checked with our own client code from the
//! log's verifier key alone: checkpoints by signature, entries by re-hashing
//! them into the checkpoint's root, tiles through `claimlog::tiles`'s
//! authenticated `TileHashReader`, proofs with `claimlog::merkle`. The proof
//! API is only compared with those results.

#[path = "../interop/harness.rs"]
mod interop_harness;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use claimlog::checkpoint::Checkpoint;
use claimlog::dsse::Envelope;
use claimlog::merkle::Hash;
use claimlog::note::VerifierKey;
use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::client::{Client, Response, read_response};
use claimlog_tests::keys::{Submitter, envelope_json, padding_for, statement, submitters};
use claimlog_tests::server::{Server, TestLog};
use claimlog_tests::verify::{
    check_consistency, check_every_inclusion, fetch_checkpoint, verify_tlog_proof, verify_tree,
};

/// Entries submitted concurrently in the main test.
const ENTRIES: u64 = 3000;
/// Concurrent requests in flight.
const CONCURRENCY: usize = 200;

fn log_key(server: &Server) -> VerifierKey {
    VerifierKey::parse(server.vkey()).expect("the server prints a valid vkey")
}

/// The stored entry bytes for `envelope` (canonical JSON), minus the
/// integration time: `{"envelope":<canonical>,"integratedTime":`.
fn entry_prefix(canonical: &[u8]) -> Vec<u8> {
    let mut p = b"{\"envelope\":".to_vec();
    p.extend_from_slice(canonical);
    p.extend_from_slice(b",\"integratedTime\":");
    p
}

/// POSTs every body concurrently (at most `concurrency` in flight) to
/// `url`; returns the responses in input order.
fn submit_all(url: &str, bodies: Vec<Vec<u8>>, concurrency: usize) -> Vec<Response> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = Vec::new();
        for body in bodies {
            let (http, url, limit) = (http.clone(), url.to_owned(), limit.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore open");
                let resp = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("POST /v1/entries");
                read_response(resp).await.expect("response body")
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("submit task"));
        }
        out
    })
}

/// Polls `/checkpoint` every 20 ms on a thread until stopped, collecting
/// every distinct verified checkpoint in order of observation.
struct CheckpointWatcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Checkpoint>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CheckpointWatcher {
    fn start(url: String, key: VerifierKey) -> CheckpointWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let client = Client::new(&url).expect("client");
            while !s.load(Ordering::SeqCst) {
                let cp = fetch_checkpoint(&client, &key).expect("published checkpoint verifies");
                let mut seen = v.lock().expect("lock");
                if seen.last() != Some(&cp) {
                    seen.push(cp);
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        CheckpointWatcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<Checkpoint> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("checkpoint watcher panicked");
        }
        self.seen.lock().expect("lock").clone()
    }
}

/// A few thousand envelopes from several allowlisted keys, submitted
/// concurrently with the default wait: every receipt's tlog-proof verifies;
/// the indexes are exactly 0..N; the final tree verifies from bundles and
/// tiles; every inclusion proof computed from tiles verifies and matches the
/// proof API; successive published checkpoints are consistent (from tiles,
/// and the consistency API agrees).
#[test]
fn concurrent_submissions_verify_from_tiles() {
    let keys = submitters("e2e-concurrent", 8);
    let allow: Vec<String> = keys.iter().map(Submitter::vkey).collect();
    let mut log = TestLog::new(
        &allow,
        "checkpoint_interval_ms = 250\nbatch_interval_ms = 50",
    )
    .expect("test log");
    let server = log.start().expect("server starts");
    let key = log_key(&server);
    let client = Client::new(&server.url()).expect("client");

    let padding = padding_for("concurrent", 1024);
    let bodies: Vec<Vec<u8>> = (0..ENTRIES)
        .map(|i| envelope_json(&keys[i as usize % keys.len()], "concurrent", i, padding))
        .collect();
    let watcher = CheckpointWatcher::start(server.url(), key.clone());
    let responses = submit_all(
        &format!("{}/v1/entries", server.url()),
        bodies.clone(),
        CONCURRENCY,
    );
    let mut observed = watcher.finish();

    // Receipts: 200, a proof that verifies under a log-signed checkpoint.
    let mut index_of = Vec::new();
    for (i, resp) in responses.iter().enumerate() {
        assert_eq!(resp.status, 200, "submission {i}: {}", resp.text());
        let r = resp.json().expect("receipt JSON");
        let index = r["index"].as_u64().expect("receipt index");
        let leaf = Hash::from_base64(r["leafHash"].as_str().expect("leafHash")).expect("b64");
        let proof = r["proof"].as_str().expect("receipt proof");
        let cp = verify_tlog_proof(proof, index, &leaf, &key).expect("receipt verifies");
        observed.push(cp);
        index_of.push((index, leaf));
    }
    let distinct: HashSet<u64> = index_of.iter().map(|(i, _)| *i).collect();
    assert_eq!(distinct, (0..ENTRIES).collect(), "indexes are exactly 0..N");

    // The final tree, from bundles and tiles.
    let head = fetch_checkpoint(&client, &key).expect("checkpoint");
    assert_eq!(head.size(), ENTRIES);
    let tree = verify_tree(&client, &head).expect("tree verifies");
    for (i, (index, leaf)) in index_of.iter().enumerate() {
        let entry = &tree.entries[*index as usize];
        let canonical = Envelope::parse(&bodies[i])
            .expect("our envelope parses")
            .to_canonical_json();
        assert!(
            entry.starts_with(&entry_prefix(&canonical)),
            "entry {index} is not submission {i}"
        );
        assert_eq!(
            tree.leaves[*index as usize], *leaf,
            "receipt leafHash {index}"
        );
    }
    check_every_inclusion(&client, &tree).expect("inclusion proofs");

    // Successive checkpoints: sizes never decrease and each is consistent
    // with the next; equal sizes have equal roots.
    let mut by_size: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    for cp in &observed {
        if let Some(prev) = by_size.insert(cp.size(), cp.clone()) {
            assert_eq!(prev.root(), cp.root(), "two roots for size {}", cp.size());
        }
    }
    let watched: Vec<u64> = observed.iter().map(Checkpoint::size).collect();
    assert!(
        by_size.len() >= 3,
        "too few checkpoints observed: {watched:?}"
    );
    let ordered: Vec<&Checkpoint> = by_size.values().collect();
    for pair in ordered.windows(2) {
        check_consistency(&client, pair[0], pair[1]).expect("consistency");
    }

    // GET /v1/proof/<index> is a tlog-proof under the current checkpoint.
    for index in [0, 1, ENTRIES / 2, ENTRIES - 1] {
        let text = client
            .get(&format!("/v1/proof/{index}"))
            .and_then(|r| r.expect(200))
            .expect("proof text")
            .text();
        let cp = verify_tlog_proof(&text, index, &tree.leaves[index as usize], &key)
            .expect("tlog-proof verifies");
        assert_eq!(cp, head);
    }
    drop(server);
}

/// Asserts a rejection: the status, a one-line text/plain reason, and (if
/// given) a word the reason must contain.
fn assert_rejected(resp: &Response, status: u16, needle: &str, what: &str) {
    let text = resp.text();
    assert_eq!(resp.status, status, "{what}: {text}");
    assert!(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{what}: content type {:?}",
        resp.header("content-type")
    );
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1 && text.trim().len() > 3,
        "{what}: not one line: {text:?}"
    );
    assert!(
        text.to_lowercase().contains(&needle.to_lowercase()),
        "{what}: reason {text:?} does not mention {needle:?}"
    );
}

/// Bad envelopes, bad tile paths and bad proof requests are rejected with
/// the documented status and a one-line reason, and nothing gets logged.
#[test]
fn rejections() {
    let keys = submitters("e2e-reject", 2);
    let mut log = TestLog::new(&[keys[0].vkey()], "").expect("test log");
    let server = log.start().expect("server starts");
    let key = log_key(&server);
    let client = Client::new(&server.url()).expect("client");
    let post = |body: Vec<u8>| {
        client
            .post("/v1/entries?wait=sequenced", body)
            .expect("POST")
    };

    // One good entry, so that the proof and tile cases have a tree.
    let good = envelope_json(&keys[0], "reject", 0, 100);
    let ok = post(good.clone());
    assert_eq!(ok.status, 200, "{}", ok.text());

    // Signed by a key that is not on the allowlist.
    let stranger = envelope_json(&keys[1], "reject", 1, 100);
    assert_rejected(&post(stranger), 403, "", "not on the allowlist");

    // Allowlisted key, signature bit flipped.
    let mut env: serde_json::Value = serde_json::from_slice(&good).expect("json");
    let sig = env["signatures"][0]["sig"]
        .as_str()
        .expect("sig")
        .to_owned();
    let mut raw = base64_decode(&sig);
    raw[10] ^= 1;
    env["signatures"][0]["sig"] = base64_encode(&raw).into();
    assert_rejected(
        &post(serde_json::to_vec(&env).expect("json")),
        403,
        "",
        "bad signature",
    );

    // Valid signature, but over a different payloadType.
    let wrong_type = Envelope::sign(
        "application/json",
        &statement("reject", 2, 10),
        keys[0].signing_key(),
    );
    assert_rejected(
        &post(wrong_type.to_canonical_json()),
        400,
        "payloadType",
        "wrong payloadType",
    );

    // Bodies: oversized, malformed, duplicate keys, trailing data, unknown
    // key, not an object.
    assert_rejected(&post(vec![b' '; 70_000]), 413, "", "oversized body");
    let mut big = good.clone();
    big.truncate(good.len() - 1);
    big.extend(std::iter::repeat_n(b' ', 65_600));
    big.push(b'}');
    assert_rejected(&post(big), 413, "", "oversized valid-looking envelope");
    assert_rejected(&post(b"{\"payload\":".to_vec()), 400, "", "malformed JSON");
    let text = String::from_utf8(good.clone()).expect("utf8");
    let dup = text.replacen("{\"payload\":", "{\"payload\":\"AAAA\",\"payload\":", 1);
    assert_rejected(&post(dup.into_bytes()), 400, "", "duplicate key");
    assert_rejected(
        &post(format!("{text}{{}}").into_bytes()),
        400,
        "",
        "trailing data",
    );
    assert_rejected(
        &post(format!("{text} x").into_bytes()),
        400,
        "",
        "trailing garbage",
    );
    let extra = text.replacen("{\"payload\":", "{\"extra\":1,\"payload\":", 1);
    assert_rejected(&post(extra.into_bytes()), 400, "", "unknown key");
    assert_rejected(&post(b"[]".to_vec()), 400, "", "not an object");
    assert_rejected(&post(Vec::new()), 400, "", "empty body");
    assert_rejected(
        &client
            .post("/v1/entries?wait=later", good.clone())
            .expect("POST"),
        400,
        "wait",
        "bad wait",
    );

    // Nothing but the good entry was logged.
    let resp = client.get("/v1/entries/1").expect("GET");
    assert_rejected(&resp, 404, "", "entry 1");

    // Tile paths: non-canonical, out of range, beyond the log.
    for path in [
        "/tile/0/1",
        "/tile/0/0000",
        "/tile/0/x000/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/01",
        "/tile/00/000",
        "/tile/64/000",
        "/tile/0/-01",
        "/tile/0/000.p/2",
        "/tile/0/001",
        "/tile/1/000",
        "/tile/entries/000.p/2",
        "/tile/entries/001",
        "/tile/entries/abc",
        "/tile/",
    ] {
        assert_rejected(&client.get(path).expect("GET"), 404, "", path);
    }
    let one = client.get("/tile/0/000.p/1").expect("GET");
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.body.len(), 32);

    // Proofs out of range or malformed.
    for (path, status) in [
        ("/v1/proof/inclusion?index=1&size=1", 400),
        ("/v1/proof/inclusion?index=0&size=0", 400),
        ("/v1/proof/inclusion?index=0&size=2", 404),
        ("/v1/proof/inclusion?index=01&size=1", 400),
        ("/v1/proof/inclusion?index=0", 400),
        ("/v1/proof/inclusion?index=0&size=1&x=1", 400),
        ("/v1/proof/inclusion?index=0&index=0&size=1", 400),
        ("/v1/proof/inclusion?index=-1&size=1", 400),
        ("/v1/proof/inclusion?index=18446744073709551616&size=1", 400),
        ("/v1/proof/consistency?old=0&new=1", 400),
        ("/v1/proof/consistency?old=2&new=1", 400),
        ("/v1/proof/consistency?old=1&new=2", 404),
        ("/v1/proof/consistency?old=1", 400),
        ("/v1/proof/1", 404),
        ("/v1/proof/01", 400),
        ("/v1/entries/01", 400),
        ("/v1/entries/99999999999", 404),
        ("/v2/anything", 404),
    ] {
        assert_rejected(&client.get(path).expect("GET"), status, "", path);
    }
    let wrong_method = client.get("/v1/entries").expect("GET");
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.text());

    // And the good entry is there, with a verifying proof.
    let head = fetch_checkpoint_covering(&client, &key, 1);
    let tree = verify_tree(&client, &head).expect("tree");
    check_every_inclusion(&client, &tree).expect("inclusion");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Waits (at most 30 s) for a published checkpoint of at least `size`.
fn fetch_checkpoint_covering(client: &Client, key: &VerifierKey, size: u64) -> Checkpoint {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cp = fetch_checkpoint(client, key).expect("checkpoint");
        if cp.size() >= size {
            return cp;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of size {size} within 30 s (have {})",
            cp.size()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `?wait=sequenced` answers with the index and no proof; an identical
/// envelope, however spaced, gets the original index, with either wait, and
/// still after a graceful restart (SIGTERM exits 0).
#[test]
fn resubmission_returns_the_original_index() {
    let keys = submitters("e2e-resubmit", 1);
    let mut log = TestLog::new(&[keys[0].vkey()], "checkpoint_interval_ms = 100").expect("log");
    let server = log.start().expect("server starts");
    let key = log_key(&server);
    let client = Client::new(&server.url()).expect("client");

    let mut indexes = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..5 {
        let body = envelope_json(&keys[0], "resubmit", i, 50);
        let r = client
            .post("/v1/entries?wait=sequenced", body.clone())
            .and_then(|r| r.expect(200))
            .expect("sequenced")
            .json()
            .expect("json");
        assert!(r.get("proof").is_none(), "wait=sequenced has no proof: {r}");
        assert!(r["leafHash"].is_string(), "{r}");
        indexes.push(r["index"].as_u64().expect("index"));
        bodies.push(body);
    }
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);

    // The same envelope pretty-printed, with the default wait.
    let value: serde_json::Value = serde_json::from_slice(&bodies[2]).expect("json");
    let pretty = serde_json::to_vec_pretty(&value).expect("json");
    let r = client
        .post("/v1/entries", pretty)
        .and_then(|r| r.expect(200))
        .expect("resubmit")
        .json()
        .expect("json");
    assert_eq!(r["index"], 2, "{r}");
    let leaf = Hash::from_base64(r["leafHash"].as_str().expect("leafHash")).expect("b64");
    verify_tlog_proof(r["proof"].as_str().expect("proof"), 2, &leaf, &key).expect("receipt");

    // Graceful restart keeps the dedup index.
    let status = server
        .terminate(Duration::from_secs(30))
        .expect("graceful stop");
    assert!(status.success(), "SIGTERM exit status {status}");
    let server = log.start().expect("restart");
    let client = Client::new(&server.url()).expect("client");
    for (i, body) in bodies.iter().enumerate() {
        let r = client
            .post("/v1/entries?wait=sequenced", body.clone())
            .and_then(|r| r.expect(200))
            .expect("resubmit after restart")
            .json()
            .expect("json");
        assert_eq!(r["index"], i as u64, "{r}");
    }
    let head = fetch_checkpoint(&client, &key).expect("checkpoint");
    assert_eq!(head.size(), 5, "resubmissions logged nothing new");
    verify_tree(&client, &head).expect("tree");
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running claimlog")
}

fn describe(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The README walk-through with the real CLI: keygen (log and submitter
/// keys), serve with `--allow-submitter`, sign, submit (both waits), get the
/// proof and the entry; a rejected submission exits non-zero with the
/// server's reason.
#[test]
fn cli_walkthrough() {
    let bin = claimlog_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let origin = "example.com/walkthrough";

    let out = run(Command::new(bin)
        .args(["keygen", "--name", origin, "--out"])
        .arg(d.join("log.key")));
    assert!(out.status.success(), "{}", describe(&out));
    let log_vkey = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    VerifierKey::parse(&log_vkey).expect("keygen prints a vkey");

    let out = run(Command::new(bin)
        .args(["keygen", "--name", "vendor.example", "--out"])
        .arg(d.join("vendor.key")));
    assert!(out.status.success(), "{}", describe(&out));
    let vendor_vkey = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let out = run(Command::new(bin)
        .args(["keygen", "--name", "vendor.example", "--out"])
        .arg(d.join("vendor.key")));
    assert!(!out.status.success(), "keygen must not overwrite a key");

    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(d.join("data"))
        .args(["--listen", "127.0.0.1:0", "--origin", origin, "--key"])
        .arg(d.join("log.key"))
        .args(["--allow-submitter", &vendor_vkey])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let server = Server::spawn(cmd).expect("serve starts");
    assert_eq!(server.vkey(), log_vkey, "serve prints the log key");
    let url = server.url();
    let key = VerifierKey::parse(&log_vkey).expect("vkey");

    for (i, name) in ["first", "second"].iter().enumerate() {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {"sha256": "00".repeat(32)}}],
            "predicateType": "https://claimlog.dev/example/v1",
            "predicate": {"i": i},
        });
        std::fs::write(d.join(format!("{name}.json")), statement.to_string()).expect("write");
        let out = run(Command::new(bin)
            .args(["sign", "--key"])
            .arg(d.join("vendor.key"))
            .arg(d.join(format!("{name}.json"))));
        assert!(out.status.success(), "{}", describe(&out));
        Envelope::parse(out.stdout.trim_ascii_end()).expect("sign prints an envelope");
        std::fs::write(d.join(format!("{name}.env.json")), &out.stdout).expect("write");
    }

    let out = run(Command::new(bin)
        .args(["submit", "--log", &url])
        .arg(d.join("first.env.json")));
    assert!(out.status.success(), "{}", describe(&out));
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).expect("receipt JSON");
    assert_eq!(receipt["index"], 0, "{receipt}");
    let leaf = Hash::from_base64(receipt["leafHash"].as_str().expect("leafHash")).expect("b64");
    verify_tlog_proof(receipt["proof"].as_str().expect("proof"), 0, &leaf, &key)
        .expect("receipt verifies");

    let out = run(Command::new(bin)
        .args(["submit", "--log", &url, "--wait", "sequenced"])
        .arg(d.join("second.env.json")));
    assert!(out.status.success(), "{}", describe(&out));
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).expect("receipt JSON");
    assert_eq!(receipt["index"], 1, "{receipt}");
    let leaf1 = Hash::from_base64(receipt["leafHash"].as_str().expect("leafHash")).expect("b64");

    let client = Client::new(&url).expect("client");
    fetch_checkpoint_covering(&client, &key, 2);
    let out = run(Command::new(bin).args(["get", "--log", &url, "proof", "1"]));
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8(out.stdout).expect("utf8");
    verify_tlog_proof(&text, 1, &leaf1, &key).expect("get proof verifies");

    let out = run(Command::new(bin).args(["get", "--log", &url, "entry", "0"]));
    assert!(out.status.success(), "{}", describe(&out));
    let entry: serde_json::Value = serde_json::from_slice(&out.stdout).expect("entry JSON");
    assert_eq!(entry["index"], 0);
    assert_eq!(entry["statement"]["subject"][0]["name"], "first", "{entry}");

    // Signed by a key the log does not know: non-zero, the server's reason.
    let out = run(Command::new(bin)
        .args(["keygen", "--name", "stranger.example", "--out"])
        .arg(d.join("stranger.key")));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(Command::new(bin)
        .args(["sign", "--key"])
        .arg(d.join("stranger.key"))
        .arg(d.join("first.json")));
    std::fs::write(d.join("stranger.env.json"), &out.stdout).expect("write");
    let out = run(Command::new(bin)
        .args(["submit", "--log", &url])
        .arg(d.join("stranger.env.json")));
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("claimlog: 403: "), "{}", describe(&out));

    // The offline check of the stopped log agrees.
    server
        .terminate(Duration::from_secs(30))
        .expect("graceful stop");
    let out = run(Command::new(bin)
        .args(["check", "--data-dir"])
        .arg(d.join("data")));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ok: size 2 "),
        "{}",
        describe(&out)
    );
}

/// Go's `sumdb/note` and `sumdb/tlog` verify the live server's checkpoint
/// signature, tree hash from tiles and inclusion from entry bundles
/// (`claimlog-interop check-log`). Skips loudly without Go, except under CI.
#[test]
fn go_check_log_against_live_server() {
    let Some(go) = interop_harness::interop_binary() else {
        return;
    };
    let keys = submitters("e2e-go", 3);
    let allow: Vec<String> = keys.iter().map(Submitter::vkey).collect();
    let mut log = TestLog::new(&allow, "checkpoint_interval_ms = 100").expect("log");
    let server = log.start().expect("server starts");
    // 600 entries: two full bundles and tiles plus partial ones.
    let bodies: Vec<Vec<u8>> = (0..600)
        .map(|i| envelope_json(&keys[i as usize % 3], "go", i, 200))
        .collect();
    let responses = submit_all(&format!("{}/v1/entries", server.url()), bodies, 64);
    assert!(responses.iter().all(|r| r.status == 200));
    let out = interop_harness::run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            server.vkey().as_ref(),
        ],
    );
    assert!(out.status.success(), "{}", interop_harness::describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("checkpoint of size 600 verified"),
        "{}",
        interop_harness::describe(&out)
    );
}
