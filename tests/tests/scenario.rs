//! The issue-6 end-to-end scenario, with real processes on loopback and only
//! the command-line interfaces of `claimlog` and `claimlog-witness`:
//!
//! - one log in domain admission mode whose checkpoints need a 2-of-3 quorum
//!   of three `claimlog-witness` processes;
//! - two vendors: `chat.example` publishes the WeChat-style series of
//!   `spec/examples` (sequence 2 weakens: retention `PT72H` -> `P30D` and the
//!   metadata claim withdrawn, effective after the notice period; sequence 3
//!   strengthens again), `notes.example` publishes one claim;
//! - a `claimlog monitor --watch chat.example` process that reports
//!   `new_claim`, `claim_weakened` (with the diff), `claim_withdrawn` and
//!   `claim_updated` for chat.example and nothing about notes.example;
//! - a user who verifies the weakened version online, saves an evidence
//!   bundle, and verifies it offline after the log has stopped;
//! - a split-view attack: a second log process with the same key and origin
//!   but its own history. The witnesses refuse its checkpoints (422) and
//!   serve the evidence at `/v1/evidence`, so it never gets a witnessed
//!   checkpoint; shown to a monitor resuming from the honest monitor's saved
//!   state under the 2-of-3 policy, its log-signed checkpoint is caught as
//!   `fork_detected` with both checkpoints, and the monitor's view stays on
//!   the honest tree.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use claimlog_tests::cli::{CliVendor, draft, now, ok, path_str};
use claimlog_tests::client::Client;
use claimlog_tests::keys::{Submitter, envelope_json};
use claimlog_tests::monitor::{Monitor, monitor_once};
use claimlog_tests::poll;
use claimlog_tests::server::TestLog;
use claimlog_tests::witness::{monitoring_path, start_witnesses};

/// The origin `TestLog` configures; the log key is named after it.
const ORIGIN: &str = "example.com/e2e";
/// The watched vendor and the other one.
const CHAT: &str = "chat.example";
const NOTES: &str = "notes.example";

/// A TOML basic string (JSON string syntax is valid TOML for these).
fn toml_str(s: &str) -> anyhow::Result<String> {
    Ok(serde_json::to_string(s)?)
}

/// Publishes `example` (a `spec/examples` file) as `vendor`'s, effective
/// `effective_in` seconds from now (the CLI fills the continuity, lints,
/// signs and submits). Returns the entry's index.
fn publish(
    vendor: &CliVendor,
    log: &str,
    name: &str,
    example: &str,
    effective_in: i64,
) -> anyhow::Result<u64> {
    let mut v = draft(example, now() + effective_in)?;
    if vendor.domain != CHAT {
        let p = v["predicate"]
            .as_object_mut()
            .context("example without a predicate")?;
        p.insert(
            "issuer".into(),
            json!({"domain": vendor.domain, "name": "Example Notes Inc."}),
        );
        p.insert(
            "service".into(),
            json!({"id": "notes", "name": "Example Notes"}),
        );
        p.insert(
            "contact".into(),
            json!(format!("mailto:privacy@{}", vendor.domain)),
        );
    }
    vendor
        .publish(log, name, &v, "signing")?
        .map_err(anyhow::Error::msg)
}

/// A copy of the monitor state directory `from` (only its state file: the
/// lock is per process).
fn copy_state(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::copy(from.join("state.json"), to.join("state.json"))
        .with_context(|| format!("copying {}/state.json", from.display()))?;
    Ok(())
}

/// The size line of a checkpoint note.
fn note_size(note: &str) -> anyhow::Result<u64> {
    Ok(note
        .lines()
        .nth(1)
        .with_context(|| format!("checkpoint without a size: {note}"))?
        .parse()?)
}

/// The log's published checkpoint size (`None`: nothing published yet).
fn published_size(log: &Client) -> anyhow::Result<Option<u64>> {
    let r = log.get("/checkpoint")?;
    if r.status == 404 {
        return Ok(None);
    }
    Ok(Some(note_size(&r.expect(200)?.text())?))
}

/// A metric's value in `/metrics` (0 if absent).
fn metric(log: &Client, line_prefix: &str) -> anyhow::Result<u64> {
    let text = log.get("/metrics")?.expect(200)?.text();
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0))
}

#[test]
fn issue_6_scenario_with_real_processes() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("claimlog-scenario")
        .tempdir()?;
    let d = dir.path();

    // The log's key, made first: the witnesses are told to trust it.
    let key_file = d.join("log.key");
    let log_vkey = ok(&["keygen", "--name", ORIGIN, "--out", path_str(&key_file)?])?
        .trim_end()
        .to_owned();
    let (mut witnesses, policy_text) = start_witnesses(&log_vkey, 3, 2)?;
    let policy = d.join("witnesses.policy");
    std::fs::write(&policy, &policy_text)?;

    // Two vendors, each with its own well-known document server.
    let chat = CliVendor::new(CHAT, &d.join(CHAT), &["signing"])?;
    let notes = CliVendor::new(NOTES, &d.join(NOTES), &["signing"])?;

    // The honest log.
    let witnessed = format!(
        "key_file = {}\nwitness_policy = {}\ncheckpoint_interval_ms = 100\nbatch_interval_ms = 20\n\
         witness_timeout_ms = 5000\nreceipt_timeout_secs = 90\n",
        toml_str(path_str(&key_file)?)?,
        toml_str(path_str(&policy)?)?,
    );
    let domain_mode = format!(
        "admission = \"domain\"\nwell_known_base_urls = {{ {} = {}, {} = {} }}\n",
        toml_str(CHAT)?,
        toml_str(&chat.well_known)?,
        toml_str(NOTES)?,
        toml_str(&notes.well_known)?
    );
    let mut honest = TestLog::new(&[], &format!("{witnessed}{domain_mode}"))?;
    let server = honest.start()?;
    ensure!(server.vkey() == log_vkey, "the log uses the generated key");
    let url = server.url();
    let log = Client::new(&url)?;

    // The monitor, watching chat.example only, from the start.
    let state = d.join("monitor-state");
    let mut monitor = Monitor::start(
        &url,
        &policy,
        &state,
        &["--watch", CHAT, "--interval", "0.2"],
    )?;

    // The vendors publish, interleaved in the log.
    let chat_enroll = chat.enroll(&url, "signing")?;
    let notes_enroll = notes.enroll(&url, "signing")?;
    let chat_v1 = publish(&chat, &url, "v1", "data-handling-1.json", 0)?;
    let notes_v1 = publish(&notes, &url, "v1", "data-handling-1.json", 0)?;
    // Weakening: accepted only with effectiveFrom after the 30-day notice.
    let later = 31 * 86400;
    let chat_v2 = publish(&chat, &url, "v2", "data-handling-2.json", later)?;
    let chat_v3 = publish(&chat, &url, "v3", "data-handling-3.json", later)?;
    ensure!(
        [
            chat_enroll,
            notes_enroll,
            chat_v1,
            notes_v1,
            chat_v2,
            chat_v3
        ] == [0, 1, 2, 3, 4, 5],
        "indexes {:?}",
        [
            chat_enroll,
            notes_enroll,
            chat_v1,
            notes_v1,
            chat_v2,
            chat_v3
        ]
    );

    // The monitor reports chat.example's series, with the weakening's diff.
    monitor.wait_for_entry("vendor_enrolled", chat_enroll)?;
    let new_claim = monitor.wait_for_entry("new_claim", chat_v1)?;
    ensure!(new_claim["entry"]["service"] == "messenger", "{new_claim}");
    let weakened = monitor.wait_for_entry("claim_weakened", chat_v2)?;
    ensure!(
        weakened["previous"] == json!({"sequence": 1, "logIndex": chat_v1}),
        "{weakened}"
    );
    let diff = weakened["diff"].to_string();
    ensure!(
        diff.contains("PT72H") && diff.contains("P30D") && diff.contains("chat-metadata"),
        "the weakening's diff lacks the retention change or the withdrawn claim: {weakened}"
    );
    let withdrawn = monitor.wait_for_entry("claim_withdrawn", chat_v2)?;
    ensure!(withdrawn["claimId"] == "chat-metadata", "{withdrawn}");
    monitor.wait_for_entry("claim_updated", chat_v3)?;
    // Nothing about notes.example, and every entry event is about
    // chat.example.
    let events = monitor.events()?;
    for e in &events {
        ensure!(
            !e.to_string().contains(NOTES),
            "the monitor reported an event about {NOTES}: {e}"
        );
        if let Some(domain) = e["entry"]["domain"].as_str() {
            ensure!(domain == CHAT, "event about {domain}: {e}");
        }
    }
    ensure!(
        events.iter().filter(|e| e["event"] == "new_claim").count() == 1,
        "one new_claim (chat.example's), got {events:?}"
    );
    ensure!(
        !events.iter().any(|e| e["event"] == "fork_detected"),
        "no fork on the honest log: {events:?}"
    );
    drop(monitor);

    // A user checks the weakened version against the log, online.
    poll("a witnessed checkpoint covering every entry", || {
        Ok(published_size(&log)?.filter(|s| *s > chat_v3))
    })?;
    let v2 = chat_v2.to_string();
    let user = d.join("user");
    let online = ok(&[
        "verify",
        "--log",
        &url,
        "--policy",
        path_str(&policy)?,
        "--state",
        path_str(&user)?,
        &v2,
    ])?;
    ensure!(online.contains("VERIFIED"), "{online}");
    // ... by its envelope too.
    let by_envelope = ok(&[
        "verify",
        "--log",
        &url,
        "--policy",
        path_str(&policy)?,
        "--state",
        path_str(&user)?,
        &chat.file("v2.env")?,
    ])?;
    ensure!(by_envelope.contains("VERIFIED"), "{by_envelope}");
    let bundle = d.join("v2.bundle");
    ok(&[
        "bundle",
        "--log",
        &url,
        &v2,
        "-o",
        path_str(&bundle)?,
        "--policy",
        path_str(&policy)?,
    ])?;

    // The honest monitor's final view, for the split-view attack below: a
    // monitor resuming from the saved state sees no fork on the honest log.
    let resumed = d.join("monitor-resumed");
    copy_state(&state, &resumed)?;
    let (events, stderr) = monitor_once(&url, &policy, &resumed, &[])?;
    ensure!(
        events.iter().all(|e| e["event"] != "fork_detected"),
        "a resumed monitor on the honest log: {events:?}\n{stderr}"
    );
    let honest_state = d.join("monitor-honest");
    copy_state(&resumed, &honest_state)?;
    let saved: Value = serde_json::from_slice(&std::fs::read(honest_state.join("state.json"))?)?;
    let honest_checkpoint = saved["checkpoint"]
        .as_str()
        .with_context(|| format!("saved state without a checkpoint: {saved}"))?
        .to_owned();
    let honest_size = note_size(&honest_checkpoint)?;
    ensure!(
        saved["size"] == honest_size && honest_size > chat_v3,
        "the monitor did not verify the whole log: {saved}"
    );

    // The log stops; the bundle verifies offline, naming who claimed what
    // and who witnessed it.
    let status = server.terminate(Duration::from_secs(60))?;
    ensure!(status.success(), "log exited with {status}");
    let offline = ok(&[
        "verify-bundle",
        "--policy",
        path_str(&policy)?,
        path_str(&bundle)?,
    ])?;
    ensure!(offline.contains("VERIFIED"), "{offline}");
    ensure!(offline.contains(CHAT), "{offline}");
    ensure!(offline.contains(&v2), "{offline}");
    ensure!(
        offline.contains("w1") || offline.contains("w2"),
        "{offline}"
    );
    let proven: Value = serde_json::from_str(&ok(&[
        "verify-bundle",
        "--policy",
        path_str(&policy)?,
        path_str(&bundle)?,
        "--json",
    ])?)?;
    ensure!(proven.to_string().contains(CHAT), "{proven}");

    // The split-view attack: same key and origin, its own history, longer
    // than the honest one, submitted to the same witnesses.
    let attacker = Submitter::derive("split-view", 0);
    let mut fork_log = TestLog::new(&[attacker.vkey()], &witnessed)?;
    let fork_server = fork_log.start()?;
    ensure!(
        fork_server.vkey() == log_vkey,
        "the fork signs with the log's key"
    );
    let fork = Client::new(&fork_server.url())?;
    for i in 0..honest_size + 3 {
        fork.post(
            "/v1/entries?wait=sequenced",
            envelope_json(&attacker, "fork", i, 0),
        )?
        .expect(200)?;
    }
    // Every witness refuses it: its consistency proof from the size the
    // witness cosigned does not lead to the fork's root.
    for n in 1..=3 {
        let line = format!(
            "claimlog_witness_requests_total{{witness=\"w{n}\",outcome=\"rejected\",status=\"422\"}}"
        );
        poll(&format!("witness w{n} to refuse the fork"), || {
            Ok((metric(&fork, &line)? > 0).then_some(()))
        })?;
    }
    ensure!(
        fork.get("/checkpoint")?.status == 404,
        "the fork got a witnessed checkpoint"
    );
    for w in &witnesses {
        let client = Client::new(&w.url()?)?;
        let evidence = client.get("/v1/evidence")?.expect(200)?.json()?;
        let records = evidence["evidence"].as_array().context("evidence array")?;
        ensure!(
            records.iter().any(|r| r["origin"] == ORIGIN
                && r["conflicting"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(ORIGIN))),
            "witness {} kept no evidence: {evidence}",
            w.name()
        );
        // And it still vouches for the honest tree.
        let view = client.get(&monitoring_path(ORIGIN))?.expect(200)?.text();
        ensure!(
            note_size(&view)? <= honest_size,
            "witness {} moved to the fork: {view}",
            w.name()
        );
    }
    // The attacker publishes its log-signed checkpoint without witnesses.
    let status = fork_server.terminate(Duration::from_secs(60))?;
    ensure!(status.success(), "fork exited with {status}");
    let config = std::fs::read_to_string(fork_log.config_path())?;
    let unwitnessed: String = config
        .lines()
        .filter(|l| !l.starts_with("witness_policy"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(fork_log.config_path(), unwitnessed)?;
    let fork_server = fork_log.start()?;
    let fork = Client::new(&fork_server.url())?;
    let fork_size = poll("the fork's own checkpoint", || published_size(&fork))?;
    ensure!(fork_size > honest_size, "fork size {fork_size}");

    // A monitor resuming from the honest state under the 2-of-3 policy: the
    // fork's checkpoint has no witness quorum, but its log signature is
    // valid and it is inconsistent with the saved view, so it is evidence of
    // a split view: `fork_detected` with both checkpoints, and the monitor's
    // view does not move.
    let strict = d.join("monitor-strict");
    copy_state(&honest_state, &strict)?;
    let (events, stderr) = monitor_once(&fork_server.url(), &policy, &strict, &[])?;
    ensure!(
        saved_checkpoint(&strict)? == saved_checkpoint(&honest_state)?,
        "the strict monitor's view moved"
    );
    let fork_event = events
        .iter()
        .find(|e| e["event"] == "fork_detected")
        .with_context(|| format!("no fork_detected: {events:?}\n{stderr}"))?;
    ensure!(fork_event["source"] == "log", "{fork_event}");
    ensure!(
        fork_event["ours"] == honest_checkpoint.as_str(),
        "ours is not the honest checkpoint: {fork_event}"
    );
    let theirs = fork_event["theirs"].as_str().context("theirs")?;
    ensure!(note_size(theirs)? == fork_size, "{fork_event}");
    ensure!(
        !events
            .iter()
            .any(|e| e["event"] == "new_claim" || e["event"] == "claim_updated"),
        "the monitor processed the fork's entries: {events:?}"
    );

    fork_server.terminate(Duration::from_secs(60))?;
    for w in &mut witnesses {
        w.stop(Duration::from_secs(30))?;
    }
    drop(honest);
    drop(fork_log);
    Ok(())
}

/// The checkpoint note saved in a monitor's state file.
fn saved_checkpoint(state_dir: &Path) -> anyhow::Result<serde_json::Value> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("state.json"))?)?;
    Ok(state["checkpoint"].clone())
}
