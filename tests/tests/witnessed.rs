//! Witnessed publication with real processes on loopback (issue 5): a
//! `claimlog serve` with a 2-of-3 tlog-policy over three `claimlog-witness`
//! processes. Receipts must verify under the policy (`ProofBundle::verify`);
//! with one witness down the log still publishes; with two down the
//! published checkpoint stops while sequencing goes on, and resumes when one
//! returns; a restarted witness keeps its state; a forked log (same key and
//! origin, another history) is refused by the witnesses, which keep and
//! serve the evidence, while the honest log keeps publishing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, ensure};

use claimlog::merkle::Hash;
use claimlog::note::Note;
use claimlog::policy::Policy;
use claimlog::proof_bundle::ProofBundle;
use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::client::Client;
use claimlog_tests::keys::{Submitter, envelope_json};
use claimlog_tests::poll;
use claimlog_tests::server::{Server, TestLog};
use claimlog_tests::witness::{TestWitness, monitoring_path, start_witnesses};

const ORIGIN: &str = "example.com/e2e";

/// The size of the log's published checkpoint (0 if none yet).
fn published_size(log: &Client) -> anyhow::Result<Option<u64>> {
    let r = log.get("/checkpoint")?;
    if r.status == 404 {
        return Ok(None);
    }
    let r = r.expect(200)?;
    let text = r.text();
    let size = text
        .lines()
        .nth(1)
        .context("checkpoint without a size line")?;
    Ok(Some(size.parse()?))
}

/// A metric's value in the log's `/metrics` (0 if absent).
fn metric(log: &Client, line_prefix: &str) -> anyhow::Result<u64> {
    let text = log.get("/metrics")?.expect(200)?.text();
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0))
}

/// Verifies a tlog-proof text for `leaf` under the policy; returns the
/// names (policy-local) of the witnesses that cosigned.
fn verify_receipt(policy: &Policy, proof: &str, leaf: &Hash) -> anyhow::Result<Vec<String>> {
    let bundle = ProofBundle::parse(proof.as_bytes())
        .with_context(|| format!("receipt proof does not parse: {proof}"))?;
    let verified = bundle
        .verify(leaf, policy)
        .with_context(|| format!("receipt proof does not verify under the policy: {proof}"))?;
    Ok(verified
        .checkpoint()
        .cosignatures()
        .iter()
        .map(|c| c.witness().to_string())
        .collect())
}

/// Submits entry `i` of `run` and waits for its published receipt; returns
/// (index, cosigners).
fn submit_witnessed(
    log: &Client,
    policy: &Policy,
    who: &Submitter,
    run: &str,
    i: u64,
) -> anyhow::Result<(u64, Vec<String>)> {
    let r = log
        .post("/v1/entries", envelope_json(who, run, i, 0))?
        .expect(200)?;
    let receipt = r.json()?;
    let index = receipt["index"].as_u64().context("receipt index")?;
    let leaf = Hash::from_base64(receipt["leafHash"].as_str().context("leafHash")?)
        .context("leafHash base64")?;
    let proof = receipt["proof"]
        .as_str()
        .with_context(|| format!("receipt without a proof: {receipt}"))?;
    let cosigners = verify_receipt(policy, proof, &leaf)?;
    // The proof endpoint serves the same witnessed checkpoint (or a newer one).
    let again = log.get(&format!("/v1/proof/{index}"))?.expect(200)?.text();
    verify_receipt(policy, &again, &leaf)?;
    Ok((index, cosigners))
}

fn sequenced(log: &Client, who: &Submitter, run: &str, i: u64) -> anyhow::Result<(u64, Hash)> {
    let r = log
        .post("/v1/entries?wait=sequenced", envelope_json(who, run, i, 0))?
        .expect(200)?
        .json()?;
    let leaf = Hash::from_base64(r["leafHash"].as_str().context("leafHash")?)
        .context("leafHash base64")?;
    Ok((r["index"].as_u64().context("index")?, leaf))
}

fn keygen(dir: &Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let path = dir.join("log.key");
    let out = Command::new(claimlog_binary())
        .args(["keygen", "--name", ORIGIN, "--out"])
        .arg(&path)
        .output()?;
    ensure!(out.status.success(), "claimlog keygen: {:?}", out);
    Ok((path, String::from_utf8(out.stdout)?.trim_end().to_owned()))
}

fn toml_path(p: &Path) -> anyhow::Result<String> {
    Ok(serde_json::to_string(
        p.to_str().context("path is not UTF-8")?,
    )?)
}

/// Posts a raw add-checkpoint body to a witness: (status, body).
fn add_checkpoint(witness: &TestWitness, body: String) -> anyhow::Result<(u16, String)> {
    let r = Client::new(&witness.url()?)?.post("/add-checkpoint", body.into_bytes())?;
    Ok((r.status, r.text()))
}

#[test]
fn witnessed_publication_with_real_processes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (key_file, log_vkey) = keygen(dir.path())?;
    let (mut ws, policy_text) = start_witnesses(&log_vkey, 3, 2)?;
    // Comments are part of the policy format (C2SP tlog-policy).
    let policy_text = format!("# the e2e log and its witnesses\n{policy_text}");
    let policy_path = dir.path().join("witnesses.policy");
    std::fs::write(&policy_path, &policy_text)?;
    let policy = Policy::parse(policy_text.as_bytes())?;

    let submitter = Submitter::derive("witnessed", 0);
    let extra = format!(
        "key_file = {}\nwitness_policy = {}\ncheckpoint_interval_ms = 100\nwitness_timeout_ms = 3000\nreceipt_timeout_secs = 90\n",
        toml_path(&key_file)?,
        toml_path(&policy_path)?
    );
    let mut test_log = TestLog::new(&[submitter.vkey()], &extra)?;
    let server: Server = test_log.start()?;
    ensure!(server.vkey() == log_vkey, "the log uses the generated key");
    let log = Client::new(&server.url())?;

    // 1. All three up: witnessed receipts, cosigned by all three.
    for i in 0..3 {
        let (index, cosigners) = submit_witnessed(&log, &policy, &submitter, "honest", i)?;
        ensure!(index == i, "index {index} for entry {i}");
        ensure!(cosigners.len() >= 2, "cosigners {cosigners:?}");
    }
    let all = poll("a checkpoint cosigned by all three", || {
        let note = log.get("/checkpoint")?.expect(200)?.body;
        let v = policy.verify_checkpoint(&Note::parse(&note)?)?;
        Ok((v.cosignatures().len() == 3).then_some(v.checkpoint().size()))
    })?;
    ensure!(all >= 3);
    // Each witness serves the cosigned checkpoint at its monitoring path.
    for w in &ws {
        let text = Client::new(&w.url()?)?
            .get(&monitoring_path(ORIGIN))?
            .expect(200)?
            .text();
        ensure!(text.starts_with(&format!("{ORIGIN}\n")), "{text}");
        ensure!(text.contains(&format!("\n— {} ", w.name())), "{text}");
    }

    // 2. One witness down: still published, by the other two.
    ws[2].stop(Duration::from_secs(30))?;
    let (_, cosigners) = submit_witnessed(&log, &policy, &submitter, "honest", 3)?;
    ensure!(cosigners == ["w1", "w2"], "cosigners {cosigners:?}");

    // 3. Two down: sequencing continues, publication stops.
    let w2_size_before = {
        let text = Client::new(&ws[1].url()?)?
            .get(&monitoring_path(ORIGIN))?
            .expect(200)?
            .text();
        text.lines().nth(1).context("size line")?.parse::<u64>()?
    };
    // The tree has not grown since the last receipt, so no round is in
    // flight (rounds run only when the tree grew, or for a heartbeat, every
    // 300 s by default): from here on the published size must not move.
    ws[1].stop(Duration::from_secs(30))?;
    let stuck = poll("the published size", || published_size(&log))?;
    let failures_before = metric(&log, "claimlog_witness_quorum_failures_total")?;
    let (index, leaf) = sequenced(&log, &submitter, "honest", 4)?;
    ensure!(
        index >= stuck,
        "index {index} below the published size {stuck}"
    );
    poll("two more quorum failures", || {
        Ok(
            (metric(&log, "claimlog_witness_quorum_failures_total")? >= failures_before + 2)
                .then_some(()),
        )
    })?;
    ensure!(
        published_size(&log)? == Some(stuck),
        "the published checkpoint moved without a quorum"
    );
    ensure!(
        log.get(&format!("/v1/proof/{index}"))?.status == 404,
        "no proof before a witnessed checkpoint covers the entry"
    );
    ensure!(
        metric(
            &log,
            "claimlog_witness_requests_total{witness=\"w1\",outcome=\"cosigned\",status=\"200\"}"
        )? > 0
    );
    ensure!(
        metric(
            &log,
            "claimlog_witness_requests_total{witness=\"w3\",outcome=\"transport_error\",status=\"\"}"
        )? > 0,
        "a witness that is down is counted"
    );

    // 4. A witness restarted from its data directory keeps its state: it
    // refuses the log's checkpoint from an old size with its stored size.
    ws[1].start()?;
    let current = log.get("/checkpoint")?.expect(200)?.text();
    let (status, body) = add_checkpoint(&ws[1], format!("old 0\n\n{current}"))?;
    ensure!(status == 409, "restarted witness answered {status}: {body}");
    let stored: u64 = body.trim_end().parse().context("409 body")?;
    ensure!(stored >= w2_size_before && stored > 0, "stored {stored}");
    // And publication resumes with it.
    poll("publication to resume", || {
        Ok(published_size(&log)?.filter(|s| *s > index).map(|_| ()))
    })?;
    let proof = log.get(&format!("/v1/proof/{index}"))?.expect(200)?.text();
    let cosigners = verify_receipt(&policy, &proof, &leaf)?;
    ensure!(cosigners == ["w1", "w2"], "cosigners {cosigners:?}");
    ws[2].start()?;

    // 5. A forked log: same key and origin, another history, same policy.
    let honest_size = poll("the honest size", || published_size(&log))?;
    let mut fork_log = TestLog::new(&[submitter.vkey()], &extra)?;
    let fork_server = fork_log.start()?;
    ensure!(fork_server.vkey() == log_vkey);
    let fork = Client::new(&fork_server.url())?;
    for i in 0..honest_size + 3 {
        sequenced(&fork, &submitter, "fork", i)?;
    }
    for n in 1..=3 {
        let line = format!(
            "claimlog_witness_requests_total{{witness=\"w{n}\",outcome=\"rejected\",status=\"422\"}}"
        );
        poll("the witnesses to refuse the fork", || {
            Ok((metric(&fork, &line)? > 0).then_some(()))
        })?;
    }
    ensure!(
        fork.get("/checkpoint")?.status == 404,
        "the fork never got a witnessed checkpoint"
    );
    for w in &ws {
        let evidence = Client::new(&w.url()?)?
            .get("/v1/evidence")?
            .expect(200)?
            .json()?;
        let records = evidence["evidence"].as_array().context("evidence array")?;
        ensure!(
            records.iter().any(|r| r["origin"] == ORIGIN
                && r["conflicting"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(ORIGIN))),
            "witness {} kept no evidence: {evidence}",
            w.name()
        );
    }
    // The honest log goes on publishing witnessed checkpoints.
    let (index, cosigners) = submit_witnessed(&log, &policy, &submitter, "honest", 5)?;
    ensure!(index >= 5 && cosigners.len() >= 2, "{index} {cosigners:?}");

    fork_server.terminate(Duration::from_secs(60))?;
    let status = server.terminate(Duration::from_secs(60))?;
    ensure!(status.success(), "log exited with {status}");
    for w in &mut ws {
        w.stop(Duration::from_secs(30))?;
    }
    drop(test_log);
    drop(fork_log);
    Ok(())
}
