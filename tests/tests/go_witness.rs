//! Witnessing across implementations (issue 5, "Interop"), with the Go
//! program in `tests/interop/go` built on `golang.org/x/mod/sumdb/note` and
//! `sumdb/tlog`:
//! - our witness (`claimlog-witness`, real process) cosigns a log that is not
//!   ours: Go's `foreign-log run` drives it through every tlog-witness
//!   outcome and verifies each cosignature itself;
//! - a witness that is not ours (Go's `witness`) cosigns our log: checkpoints
//!   and consistency proofs from a real `claimlog serve`, sent as
//!   `witness_wire::AddCheckpointRequest`s, answers checked with
//!   `witness_wire` and `CosignatureVerifier`;
//! - our log collects that foreign witness's cosignature itself:
//!   `claimlog serve --witness-policy` with a tlog-policy naming the Go
//!   witness, receipts verified under the policy.
//!
//! Like `go_interop.rs`, the tests skip loudly without Go and fail when `CI`
//! is set.

use std::ffi::OsStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::cosignature::CosignatureVerifier;
use claimlog::merkle::{Hash, verify_consistency};
use claimlog::note::{Note, Signature, SignerKey, VerifierKey};
use claimlog::policy::Policy;
use claimlog::proof_bundle::ProofBundle;
use claimlog::witness_wire::{
    AddCheckpointRequest, SIZE_CONTENT_TYPE, parse_cosignatures, parse_size_body,
};
use claimlog_tests::client::{Client, Response};
use claimlog_tests::go::{describe, interop_binary, run_interop};
use claimlog_tests::keys::{Submitter, envelope_json, submitters};
use claimlog_tests::server::{Server, TestLog};
use claimlog_tests::witness_process::WitnessProcess;
use sha2::{Digest as _, Sha256};

/// The size of the foreign log after `foreign-log run` (foreignlog.go).
const FOREIGN_FINAL_SIZE: u64 = 2000;

/// How long a published checkpoint may take to cover a new entry.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// How far a cosignature's timestamp may be from this machine's clock.
const CLOCK_SLACK_SECS: u64 = 600;

/// Our log's configuration for these tests: publish quickly.
const LOG_TOML: &str = "checkpoint_interval_ms = 100\nbatch_interval_ms = 20\n";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the Go program and requires success; returns stdout.
fn go_ok(go: &std::path::Path, args: &[&OsStr]) -> String {
    let out = run_interop(go, args);
    assert!(
        out.status.success(),
        "Go program failed:\n{}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the first stdout line starting with `prefix`.
fn line_value<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{stdout}"))
}

/// Our witness cosigns a log that is not ours: Go's foreign log gets every
/// status the spec names from `claimlog-witness`, verifies all its
/// cosignatures in Go, and our witness serves the last cosigned checkpoint
/// (log signature and cosignature) and keeps evidence of the fork Go showed
/// it.
#[test]
fn our_witness_cosigns_a_foreign_log() {
    let Some(go) = interop_binary() else { return };
    let key = go_ok(go, &[OsStr::new("foreign-log"), OsStr::new("key")]);
    let origin = line_value(&key, "origin ").to_owned();
    let log_vkey = line_value(&key, "vkey ").to_owned();
    let log_key = VerifierKey::parse(&log_vkey).expect("Go's log vkey parses");
    assert_eq!(log_key.name().as_str(), origin);

    let dir = tempfile::tempdir().expect("temp dir");
    let witness = WitnessProcess::start_claimlog(
        dir.path(),
        "witness.test.claimlog.dev/interop",
        &[(origin.clone(), log_vkey.clone())],
    )
    .expect("claimlog-witness starts");
    let witness_vkey = witness.vkey().key().to_string();

    let out = run_interop(
        go,
        &[
            OsStr::new("foreign-log"),
            OsStr::new("run"),
            OsStr::new(witness.url()),
            OsStr::new(&witness_vkey),
        ],
    );
    assert!(
        out.status.success(),
        "foreign-log against claimlog-witness failed:\n{}\nwitness log:\n{}",
        describe(&out),
        witness.log_text()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Our witness follows the spec at HEAD exactly, where the Go client
    // also tolerates older behaviour (403 for an unknown origin).
    for expected in [
        "ok: unknown origin: 404",
        "ok: log signature that fails: 403",
        "ok: same size, different root: 422",
        "ok: stale old 0: 409",
        "ok: retry from the witness's size 300 -> 1000: 200",
        "ok: bad proof: proof with a flipped byte: 422",
        "ok: foreign log ",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    let final_line = line_value(&stdout, "final ");
    let (size, root) = final_line.split_once(' ').expect("final <size> <root>");
    assert_eq!(size, FOREIGN_FINAL_SIZE.to_string());
    let root = Hash::from_base64(root).expect("final root");

    // The monitoring endpoint: the full last cosigned checkpoint.
    let client = Client::new(witness.url()).expect("client");
    let hash = hex::encode(Sha256::digest(origin.as_bytes()));
    let resp = client
        .get(&format!("/{hash}/checkpoint"))
        .expect("GET checkpoint")
        .expect(200)
        .expect("monitoring endpoint answers 200");
    let signed = SignedCheckpoint::parse(&resp.body, [&log_key])
        .expect("the stored checkpoint opens under the Go log's key");
    assert_eq!(signed.checkpoint().size(), FOREIGN_FINAL_SIZE);
    assert_eq!(signed.checkpoint().root(), &root);
    let ts = witness
        .vkey()
        .witnessed(&signed)
        .expect("the stored cosignature verifies")
        .expect("the stored checkpoint carries our witness's cosignature");
    assert_timestamp_now(ts);

    // Evidence: Go showed a validly signed fork at size 1000 and a proof
    // that fails; both are kept with complete notes.
    let evidence = client
        .get("/v1/evidence")
        .expect("GET evidence")
        .expect(200)
        .expect("evidence endpoint")
        .json()
        .expect("evidence JSON");
    let records = evidence["evidence"].as_array().expect("evidence array");
    let fork = records
        .iter()
        .find(|r| r["kind"] == "same-size-different-root")
        .unwrap_or_else(|| panic!("no fork evidence: {evidence}"));
    assert_eq!(fork["origin"], origin.as_str());
    for field in ["cosigned", "conflicting"] {
        let note = fork[field].as_str().expect("note text");
        let cp = SignedCheckpoint::parse(note.as_bytes(), [&log_key])
            .unwrap_or_else(|e| panic!("evidence {field} does not open: {e}"));
        assert_eq!(cp.checkpoint().size(), 1000, "{field}");
    }
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "consistency-proof-failed" && r["origin"] == origin.as_str()),
        "no failed-proof evidence: {evidence}"
    );

    // The Go client's own cosignature check is not a formality: against a
    // fresh witness whose key is not the one it is told to expect, it
    // fails at the first 200.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = WitnessProcess::start_claimlog(
        other_dir.path(),
        "witness.test.claimlog.dev/interop",
        &[(origin.clone(), log_vkey.clone())],
    )
    .expect("second claimlog-witness starts");
    assert_ne!(other.vkey(), witness.vkey());
    let out = run_interop(
        go,
        &[
            OsStr::new("foreign-log"),
            OsStr::new("run"),
            OsStr::new(other.url()),
            OsStr::new(&witness_vkey),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("first checkpoint")
            && stderr.contains("no cosignature by"),
        "foreign-log accepted cosignatures from an unexpected key:\n{}",
        describe(&out)
    );
}

/// Our log, seen by a witness that is not ours.
struct LogUnderTest {
    log: TestLog,
    server: Server,
    client: Client,
    key: VerifierKey,
    submitter: Submitter,
    submitted: u64,
}

impl LogUnderTest {
    fn start() -> LogUnderTest {
        let submitter = submitters("go-witness", 1).remove(0);
        let mut log = TestLog::new(&[submitter.vkey()], LOG_TOML).expect("test log");
        let server = log.start().expect("claimlog serve starts");
        let client = Client::new(&server.url()).expect("client");
        let key = VerifierKey::parse(server.vkey()).expect("log vkey");
        LogUnderTest {
            log,
            server,
            client,
            key,
            submitter,
            submitted: 0,
        }
    }

    /// Submits `n` entries, then waits for a published checkpoint covering
    /// all of them; returns its note and checkpoint.
    fn grow(&mut self, n: u64) -> (Note, Checkpoint) {
        for _ in 0..n {
            let body = envelope_json(&self.submitter, "go-witness", self.submitted, 32);
            let resp = self
                .client
                .post("/v1/entries?wait=sequenced", body)
                .expect("POST /v1/entries");
            assert_eq!(resp.status, 200, "submission: {}", resp.text());
            self.submitted += 1;
        }
        let deadline = Instant::now() + PUBLISH_TIMEOUT;
        loop {
            let resp = self
                .client
                .get("/checkpoint")
                .expect("GET /checkpoint")
                .expect(200)
                .expect("checkpoint");
            let signed =
                SignedCheckpoint::parse(&resp.body, [&self.key]).expect("checkpoint verifies");
            if signed.checkpoint().size() >= self.submitted {
                return (signed.note().clone(), signed.checkpoint().clone());
            }
            assert!(
                Instant::now() < deadline,
                "no checkpoint covering {} entries within {PUBLISH_TIMEOUT:?}; log:\n{}",
                self.submitted,
                self.log.log_tail(30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log's consistency proof between two of its checkpoints, checked
    /// here against both roots before use.
    fn consistency(&self, old: &Checkpoint, new: &Checkpoint) -> Vec<Hash> {
        let (m, n) = (old.size(), new.size());
        let json = self
            .client
            .get(&format!("/v1/proof/consistency?old={m}&new={n}"))
            .expect("GET consistency")
            .expect(200)
            .expect("consistency proof")
            .json()
            .expect("JSON");
        let proof: Vec<Hash> = json["proof"]
            .as_array()
            .expect("proof array")
            .iter()
            .map(|h| Hash::from_base64(h.as_str().expect("string")).expect("base64 hash"))
            .collect();
        verify_consistency(m, n, &proof, old.root(), new.root())
            .expect("the log's consistency proof verifies");
        proof
    }

    /// The log's signer key, from its data directory (to sign a fork).
    fn signer_key(&self) -> SignerKey {
        let text =
            std::fs::read_to_string(self.log.data_dir().join("log.key")).expect("read log.key");
        SignerKey::parse(text.trim_end()).expect("log.key parses")
    }
}

/// POSTs an add-checkpoint request.
fn add_checkpoint(witness: &Client, request: &AddCheckpointRequest) -> Response {
    witness
        .post("/add-checkpoint", request.to_bytes())
        .expect("POST /add-checkpoint")
}

/// Requires a 200 whose cosignatures verify with `witness_key` over
/// `checkpoint` and, appended to the log's note, open with the log's key.
/// Returns the cosignature's timestamp.
fn expect_cosigned(
    resp: &Response,
    witness_key: &CosignatureVerifier,
    log_key: &VerifierKey,
    note: &Note,
    checkpoint: &Checkpoint,
) -> u64 {
    assert_eq!(resp.status, 200, "witness answered: {}", resp.text());
    let sigs: Vec<Signature> = parse_cosignatures(&resp.body).expect("cosignature lines");
    assert_eq!(sigs.len(), 1, "one cosignature line: {}", resp.text());
    let ts = witness_key
        .verify(checkpoint, &sigs[0])
        .expect("the Go witness's cosignature verifies with CosignatureVerifier");
    assert_timestamp_now(ts);
    let mut signed = SignedCheckpoint::open(note, [log_key]).expect("log note opens");
    signed
        .add_signature(sigs[0].clone())
        .expect("append cosignature");
    let reopened = SignedCheckpoint::parse(signed.to_string().as_bytes(), [log_key])
        .expect("cosigned note parses and opens");
    assert_eq!(witness_key.witnessed(&reopened), Ok(Some(ts)));
    ts
}

fn assert_timestamp_now(ts: u64) {
    let t = now();
    assert!(
        ts + CLOCK_SLACK_SECS >= t && ts <= t + CLOCK_SLACK_SECS,
        "cosignature timestamp {ts} is not near now ({t})"
    );
}

/// Requires a 409 naming `size` in a `text/x.tlog.size` body.
fn expect_conflict(resp: &Response, size: u64) {
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some(SIZE_CONTENT_TYPE));
    assert_eq!(parse_size_body(&resp.body), Ok(size));
}

/// A witness that is not ours (Go) cosigns our log: the first checkpoint
/// from 0, growth with the log's consistency proofs, a stale `old` answered
/// 409 and retried from the size in the body, a bad proof and a signed fork
/// refused with 422, and state that survives a restart of the witness.
#[test]
fn foreign_witness_cosigns_our_log() {
    let Some(go) = interop_binary() else { return };
    let mut ours = LogUnderTest::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let witness = WitnessProcess::start_go(go, dir.path(), &[ours.server.vkey().to_owned()])
        .expect("Go witness starts");
    let wkey = witness.vkey().clone();
    let wclient = Client::new(witness.url()).expect("witness client");

    // First checkpoint: old 0, no proof.
    let (note1, cp1) = ours.grow(3);
    let req = AddCheckpointRequest::new(0, vec![], note1.clone()).expect("request");
    let resp = add_checkpoint(&wclient, &req);
    expect_cosigned(&resp, &wkey, &ours.key, &note1, &cp1);

    // Growth with the log's consistency proof.
    let (note2, cp2) = ours.grow(5);
    let proof = ours.consistency(&cp1, &cp2);
    let req = AddCheckpointRequest::new(cp1.size(), proof, note2.clone()).expect("request");
    expect_cosigned(
        &add_checkpoint(&wclient, &req),
        &wkey,
        &ours.key,
        &note2,
        &cp2,
    );

    // A client that does not know the witness's size sends old 0 and gets
    // 409 with it; so does one with a stale size. It retries from the size
    // in the body (specs.md §5.6 step 3).
    let (note3, cp3) = ours.grow(20);
    for stale in [0, cp1.size()] {
        let proof = if stale == 0 {
            vec![]
        } else {
            ours.consistency(&cp1, &cp3)
        };
        let req = AddCheckpointRequest::new(stale, proof, note3.clone()).expect("request");
        expect_conflict(&add_checkpoint(&wclient, &req), cp2.size());
    }
    let resp = add_checkpoint(
        &wclient,
        &AddCheckpointRequest::new(0, vec![], note3.clone()).expect("request"),
    );
    let retry_from = parse_size_body(&resp.body).expect("409 body");
    assert_eq!(retry_from, cp2.size());
    let proof = ours.consistency(&cp2, &cp3);
    let req = AddCheckpointRequest::new(retry_from, proof, note3.clone()).expect("request");
    expect_cosigned(
        &add_checkpoint(&wclient, &req),
        &wkey,
        &ours.key,
        &note3,
        &cp3,
    );

    // A bad proof: one flipped bit, then a truncated one: 422; the good one
    // is still accepted afterwards (nothing was stored).
    let (note4, cp4) = ours.grow(40);
    let good = ours.consistency(&cp3, &cp4);
    assert!(
        !good.is_empty(),
        "{} -> {} needs a proof",
        cp3.size(),
        cp4.size()
    );
    let mut flipped = good.clone();
    flipped[0].0[7] ^= 0x10;
    for bad in [flipped, good[..good.len() - 1].to_vec()] {
        let req = AddCheckpointRequest::new(cp3.size(), bad, note4.clone()).expect("request");
        let resp = add_checkpoint(&wclient, &req);
        assert_eq!(resp.status, 422, "bad proof: {}", resp.text());
    }
    let req = AddCheckpointRequest::new(cp3.size(), good, note4.clone()).expect("request");
    expect_cosigned(
        &add_checkpoint(&wclient, &req),
        &wkey,
        &ours.key,
        &note4,
        &cp4,
    );

    // A fork: the log's own key signs another root at the cosigned size:
    // 422 (spec HEAD); a log signature that fails: 403.
    let forked = Checkpoint::new(
        Origin::new(cp4.origin().as_str()).expect("origin"),
        cp4.size(),
        Hash(Sha256::digest(b"a different history").into()),
    );
    let fork = SignedCheckpoint::sign(&forked, &ours.signer_key()).expect("sign fork");
    let req = AddCheckpointRequest::new(cp4.size(), vec![], fork.note().clone()).expect("request");
    let resp = add_checkpoint(&wclient, &req);
    assert_eq!(resp.status, 422, "fork: {}", resp.text());
    let mut tampered = note4.to_string().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = Note::parse(&tampered).expect("still a note");
    let req = AddCheckpointRequest::new(cp4.size(), vec![], tampered).expect("request");
    let resp = add_checkpoint(&wclient, &req);
    assert_eq!(resp.status, 403, "bad log signature: {}", resp.text());

    // The witness persisted its state: killed and restarted from its state
    // directory, it still knows cp4's size and keeps its key.
    witness.kill().expect("kill Go witness");
    let witness = WitnessProcess::start_go(go, dir.path(), &[ours.server.vkey().to_owned()])
        .expect("Go witness restarts");
    assert_eq!(witness.vkey(), &wkey, "the Go witness kept its key");
    let wclient = Client::new(witness.url()).expect("witness client");
    let (note5, cp5) = ours.grow(1);
    let req = AddCheckpointRequest::new(0, vec![], note5.clone()).expect("request");
    expect_conflict(&add_checkpoint(&wclient, &req), cp4.size());
    let proof = ours.consistency(&cp4, &cp5);
    let req = AddCheckpointRequest::new(cp4.size(), proof, note5.clone()).expect("request");
    expect_cosigned(
        &add_checkpoint(&wclient, &req),
        &wkey,
        &ours.key,
        &note5,
        &cp5,
    );
}

/// Our log's own witnessing (`claimlog serve --witness-policy`) with a
/// witness that is not ours: the policy names only the Go witness (quorum
/// 1), so every published checkpoint and every receipt must carry its
/// cosignature and verify under the policy, and the Go witness's state
/// follows the log.
#[test]
fn our_log_publishes_with_a_foreign_witness_in_its_policy() {
    let Some(go) = interop_binary() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    // The log key first, so the Go witness can be told which log it serves.
    let key_path = dir.path().join("log.key");
    let out = std::process::Command::new(claimlog_tests::binary::claimlog_binary())
        .args(["keygen", "--name", "example.com/e2e", "--out"])
        .arg(&key_path)
        .output()
        .expect("claimlog keygen runs");
    assert!(out.status.success(), "claimlog keygen: {out:?}");
    let log_vkey = String::from_utf8(out.stdout)
        .expect("UTF-8 vkey")
        .trim_end()
        .to_owned();

    let witness =
        WitnessProcess::start_go(go, &dir.path().join("gow"), std::slice::from_ref(&log_vkey))
            .expect("Go witness starts");
    let policy_text = format!(
        "log {log_vkey}\nwitness gow {} {}\nquorum gow\n",
        witness.vkey().key(),
        witness.url()
    );
    let policy_path = dir.path().join("witnesses.policy");
    std::fs::write(&policy_path, &policy_text).expect("write policy");
    let policy = Policy::parse(policy_text.as_bytes()).expect("policy parses");

    let submitter = submitters("go-witness-policy", 1).remove(0);
    let toml_path = |p: &std::path::Path| serde_json::to_string(p.to_str().expect("UTF-8 path"));
    let extra = format!(
        "{LOG_TOML}key_file = {}\nwitness_policy = {}\nwitness_timeout_ms = 5000\nreceipt_timeout_secs = 90\n",
        toml_path(&key_path).expect("toml"),
        toml_path(&policy_path).expect("toml"),
    );
    let mut log = TestLog::new(&[submitter.vkey()], &extra).expect("test log");
    let server = log.start().expect("claimlog serve starts with the policy");
    assert_eq!(server.vkey(), log_vkey, "the log uses the generated key");
    let client = Client::new(&server.url()).expect("client");

    for i in 0..4 {
        let resp = client
            .post(
                "/v1/entries",
                envelope_json(&submitter, "go-witness-policy", i, 16),
            )
            .expect("POST /v1/entries");
        assert_eq!(
            resp.status,
            200,
            "submission: {}\n{}",
            resp.text(),
            log.log_tail(30)
        );
        let receipt = resp.json().expect("receipt JSON");
        let leaf = Hash::from_base64(receipt["leafHash"].as_str().expect("leafHash"))
            .expect("leafHash base64");
        let proof = receipt["proof"].as_str().expect("receipt proof");
        let bundle = ProofBundle::parse(proof.as_bytes()).expect("tlog-proof parses");
        let verified = bundle
            .verify(&leaf, &policy)
            .unwrap_or_else(|e| panic!("receipt does not verify under the policy: {e}\n{proof}"));
        let cosigners: Vec<String> = verified
            .checkpoint()
            .cosignatures()
            .iter()
            .map(|c| c.witness().to_string())
            .collect();
        assert_eq!(cosigners, ["gow"], "receipt {i} cosigners");
        assert_eq!(verified.index(), receipt["index"].as_u64().expect("index"));
    }

    // The published checkpoint meets the policy, and the Go witness's state
    // (its file, written before it answered) is at least as far: it cosigned
    // before the log published.
    let note = client
        .get("/checkpoint")
        .expect("GET /checkpoint")
        .expect(200)
        .expect("checkpoint");
    let note = Note::parse(&note.body).expect("checkpoint note");
    let published = policy
        .verify_checkpoint(&note)
        .expect("the published checkpoint meets the policy");
    assert!(published.checkpoint().size() >= 4);
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("gow").join("state").join("state.json"))
            .expect("Go witness state file"),
    )
    .expect("Go witness state JSON");
    let witnessed = state["logs"]["example.com/e2e"]["size"]
        .as_u64()
        .unwrap_or_else(|| panic!("no size for our origin in {state}"));
    assert!(
        witnessed >= published.checkpoint().size(),
        "Go witness at {witnessed}, log published {}",
        published.checkpoint().size()
    );
    server
        .terminate(Duration::from_secs(30))
        .expect("claimlog serve stops");
    witness.kill().expect("Go witness stops");
}
