//! `claimlog monitor` against real `claimlog serve` processes on loopback,
//! reached through a proxy (`claimlog_tests::http_fake::Proxy`) that records
//! the monitor's polls and can be pointed at a restarted or another log:
//!
//! - a vendor's series is reported (`vendor_enrolled`, `new_claim`,
//!   `claim_weakened` with its diff, `claim_withdrawn`) and POSTed to a
//!   webhook that answers 500, then drops the connection, then accepts: every
//!   event arrives once, in order; a monitor killed and restarted from its
//!   state reports only what is new;
//! - a stopped log is one `log_unreachable` however many polls fail, with the
//!   wait between polls doubling; its restart is one `log_recovered`;
//! - a log whose checkpoint does not change within `--heartbeat` is one
//!   `log_stalled` per quiet spell, re-armed by the next change;
//! - witnesses (fakes serving their tlog-witness monitoring endpoint) whose
//!   log-signed checkpoint contradicts the log's are `fork_detected` naming
//!   the witness, once; agreeing, unsigned and silent witnesses are not;
//! - another log process with the same key and origin (a split view) is
//!   `fork_detected` from the saved checkpoint, once.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::Value;

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::cosignature::CosignerKey;
use claimlog::merkle::leaf_hash;
use claimlog::note::{KeyName, KeyType, Note, SignerKey};
use claimlog_tests::DEADLINE;
use claimlog_tests::cli::{CliVendor, now, path_str};
use claimlog_tests::client::Client;
use claimlog_tests::http_fake::{Proxy, Reply, lock, serve};
use claimlog_tests::keys::{Submitter, envelope_json};
use claimlog_tests::monitor::{Monitor, monitor_once, names};
use claimlog_tests::server::{ORIGIN, Server, TestLog, wait_for_checkpoint};
use claimlog_tests::witness::monitoring_path;

const CHAT: &str = "chat.example";

/// A log in generic admission mode (entries are any signed in-toto
/// statement: the monitor reports each as a `series_violation`), fast
/// publishing, with one allowed submitter.
fn generic_log() -> anyhow::Result<(TestLog, Submitter)> {
    let submitter = Submitter::derive("monitor-test", 0);
    let log = TestLog::new(
        &[submitter.vkey()],
        "batch_interval_ms = 20\ncheckpoint_interval_ms = 50\n",
    )?;
    Ok((log, submitter))
}

/// Submits entries `from..to` of run `run` and waits for a checkpoint
/// covering them.
fn add_entries(
    server: &Server,
    who: &Submitter,
    run: &str,
    from: u64,
    to: u64,
) -> anyhow::Result<String> {
    let client = Client::new(&server.url())?;
    for i in from..to {
        client
            .post("/v1/entries?wait=sequenced", envelope_json(who, run, i, 0))?
            .expect(200)?;
    }
    wait_for_checkpoint(&server.url(), to)
}

/// A policy trusting the log key `vkey`, with `witnesses` (`witness` lines)
/// and no quorum.
fn write_policy(path: &Path, vkey: &str, witnesses: &str) -> anyhow::Result<()> {
    std::fs::write(path, format!("log {vkey}\n{witnesses}quorum none\n"))?;
    Ok(())
}

/// The events named `name`.
fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// Waits until the proxy has seen `n` more `/checkpoint` polls than `before`.
fn wait_for_polls(proxy: &Proxy, before: usize, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    while proxy.times("/checkpoint").len() < before + n {
        ensure!(Instant::now() < deadline, "the monitor stopped polling");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Every POST a webhook got: whether it was accepted, the body, and its
/// `Idempotency-Key` (empty if absent).
type Attempts = Arc<Mutex<Vec<(bool, String, String)>>>;

/// A webhook that answers the first POST 500 and drops the second
/// connection after reading its request, then accepts everything; records
/// (accepted, body, idempotency key) for every attempt.
fn flaky_webhook() -> anyhow::Result<(String, Attempts)> {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&attempts);
    let url = serve(move |r| {
        let mut log = lock(&log);
        let n = log.len();
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let key = r.header("idempotency-key").unwrap_or_default().to_owned();
        log.push((n >= 2, body, key));
        match n {
            0 => Reply::status(500),
            1 => Reply::Drop,
            _ => Reply::ok(Vec::new()),
        }
    })?;
    Ok((format!("{url}/hook"), attempts))
}

#[test]
fn series_webhook_retries_and_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let vendor = CliVendor::new(CHAT, &dir.path().join("chat"), &["signing1"])?;
    let mut log = TestLog::domain(&[(CHAT, &vendor.well_known)], None, "")?;
    let server = log.start()?;
    let url = server.url();
    let policy = dir.path().join("policy");
    write_policy(&policy, server.vkey(), "")?;
    let state = dir.path().join("state");

    ensure!(vendor.enroll(&url, "signing1")? == 0);
    let (hook, attempts) = flaky_webhook()?;
    let extra = ["--watch", CHAT, "--interval", "0.1", "--webhook", &hook];
    let mut monitor = Monitor::start(&url, &policy, &state, &extra)?;
    let enrolled = monitor.wait_for_entry("vendor_enrolled", 0)?;
    ensure!(enrolled["entry"]["domain"] == CHAT, "{enrolled}");

    let v1 = vendor.publish_example(&url, "v1", "data-handling-1.json", now(), "signing1")?;
    let new = monitor.wait_for_entry("new_claim", v1)?;
    ensure!(new["entry"]["service"] == "messenger", "{new}");
    ensure!(new["checkpoint"]["size"].as_u64() > Some(v1), "{new}");
    let later = now() + 31 * 86400;
    let v2 = vendor.publish_example(&url, "v2", "data-handling-2.json", later, "signing1")?;
    let weakened = monitor.wait_for_entry("claim_weakened", v2)?;
    ensure!(weakened["previous"]["logIndex"] == v1, "{weakened}");
    let diff = weakened["diff"].to_string();
    ensure!(
        diff.contains("retention.server.max") && diff.contains("P30D"),
        "{diff}"
    );
    let events = monitor.wait_until("claim_withdrawn", |es| {
        es.iter().any(|e| e["event"] == "claim_withdrawn")
    })?;
    ensure!(
        names(&events)
            == [
                "vendor_enrolled",
                "new_claim",
                "claim_weakened",
                "claim_withdrawn"
            ],
        "{events:?}"
    );

    // The webhook: the first event failed twice (500, dropped connection)
    // and was posted again after each back-off; every event was accepted
    // once, in the order printed (spec/monitor.md "Webhook": delivery is at
    // least once, and only an attempt without a 2xx answer is repeated).
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    let deadline = Instant::now() + DEADLINE;
    let accepted = loop {
        let accepted: Vec<String> = lock(&attempts)
            .iter()
            .filter(|(ok, _, _)| *ok)
            .map(|(_, b, _)| b.clone())
            .collect();
        if accepted.len() >= lines.len() || Instant::now() > deadline {
            break accepted;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let parsed: Vec<Value> = accepted
        .iter()
        .map(|b| serde_json::from_str(b))
        .collect::<Result<_, _>>()?;
    ensure!(parsed == events, "accepted {accepted:?}, printed {lines:?}");
    let all = lock(&attempts).clone();
    ensure!(
        all.len() == lines.len() + 2 && all[..3].iter().all(|(_, b, _)| *b == accepted[0]),
        "attempts {all:?}"
    );
    // Idempotency-Key: a quoted 32-digit hex string, the same on every
    // attempt at one event, different between events.
    let keys: Vec<&str> = all.iter().map(|(_, _, k)| k.as_str()).collect();
    ensure!(
        keys.iter().all(|k| k.len() == 34
            && k.starts_with('"')
            && k.ends_with('"')
            && k[1..33].bytes().all(|b| b.is_ascii_hexdigit())),
        "keys {keys:?}"
    );
    ensure!(keys[0] == keys[1] && keys[1] == keys[2], "keys {keys:?}");
    let distinct: std::collections::BTreeSet<&str> = keys[2..].iter().copied().collect();
    ensure!(distinct.len() == lines.len(), "keys {keys:?}");

    // Killed (no chance to finish) and restarted while the vendor publishes
    // again: only the new version is reported, once.
    monitor.kill()?;
    let v3 = vendor.publish_example(&url, "v3", "data-handling-3.json", later, "signing1")?;
    let mut monitor = Monitor::start(
        &url,
        &policy,
        &state,
        &["--watch", CHAT, "--interval", "0.1"],
    )?;
    let updated = monitor.wait_for_entry("claim_updated", v3)?;
    ensure!(updated["previous"]["logIndex"] == v2, "{updated}");
    let restarted = monitor.events()?;
    monitor.kill()?;
    let (again, stderr) = monitor_once(&url, &policy, &state, &["--watch", CHAT])?;
    let events = [restarted, again].concat();
    ensure!(names(&events) == ["claim_updated"], "{events:?}\n{stderr}");
    Ok(())
}

#[test]
fn outage_is_reported_once_with_back_off_then_recovery() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut log, who) = generic_log()?;
    let server = log.start()?;
    add_entries(&server, &who, "outage", 0, 2)?;
    let proxy = Proxy::start(&server.url())?;
    let policy = dir.path().join("policy");
    write_policy(&policy, server.vkey(), "")?;
    let state = dir.path().join("state");
    let mut monitor = Monitor::start(proxy.url(), &policy, &state, &["--interval", "0.1"])?;
    monitor.wait_until("both entries", |es| {
        named(es, "series_violation").len() == 2
    })?;

    server.kill()?;
    let down = monitor.wait_for("log_unreachable", |_| true)?;
    ensure!(down["checkpoint"]["size"] == 2, "{down}");
    ensure!(
        down["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    // Five more failed polls: still one event, and the waits between them
    // at least double (interval 0.1 s: 0.2, 0.4, 0.8, 1.6 s). Sleeps only
    // ever last longer on a loaded machine, so the lower bounds are exact.
    let first_failure = proxy.times("/checkpoint").len();
    wait_for_polls(&proxy, first_failure, 4)?;
    let times = proxy.times("/checkpoint");
    let tail = &times[first_failure - 1..];
    for (k, pair) in tail.windows(2).take(4).enumerate() {
        let gap = pair[1] - pair[0];
        let floor = Duration::from_millis(100 * (2 << k));
        ensure!(
            gap >= floor.mul_f64(0.95),
            "wait {k} was {gap:?}, not ≥ {floor:?}"
        );
    }
    let events = monitor.events()?;
    ensure!(named(&events, "log_unreachable").len() == 1, "{events:?}");
    ensure!(named(&events, "log_recovered").is_empty(), "{events:?}");

    // The log restarts (another port, same data): one recovery, then the
    // monitor follows it again.
    let server = log.start()?;
    proxy.set_upstream(&server.url());
    let up = monitor.wait_for("log_recovered", |_| true)?;
    ensure!(up["outageSeconds"].as_u64().is_some(), "{up}");
    add_entries(&server, &who, "outage", 2, 3)?;
    let events = monitor.wait_until("entry 2", |es| {
        es.iter()
            .any(|e| e["event"] == "series_violation" && e["entry"]["logIndex"] == 2)
    })?;
    ensure!(
        names(&events)
            == [
                "series_violation",
                "series_violation",
                "log_unreachable",
                "log_recovered",
                "series_violation"
            ],
        "{events:?}"
    );
    Ok(())
}

#[test]
fn stall_is_reported_once_per_quiet_spell() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut log, who) = generic_log()?;
    let server = log.start()?;
    add_entries(&server, &who, "stall", 0, 1)?;
    let proxy = Proxy::start(&server.url())?;
    let policy = dir.path().join("policy");
    write_policy(&policy, server.vkey(), "")?;
    let state = dir.path().join("state");
    let extra = ["--interval", "0.1", "--heartbeat", "1"];
    let mut monitor = Monitor::start(proxy.url(), &policy, &state, &extra)?;

    let stalled = monitor.wait_for("log_stalled", |_| true)?;
    ensure!(stalled["heartbeatSeconds"] == 1, "{stalled}");
    ensure!(
        stalled["secondsSinceChange"].as_u64() >= Some(1),
        "{stalled}"
    );
    ensure!(stalled["checkpoint"]["size"] == 1, "{stalled}");
    // Another heartbeat's worth of unchanged polls (0.1 s apart, so ten of
    // them take at least a second): no second report.
    wait_for_polls(&proxy, proxy.times("/checkpoint").len(), 12)?;
    let events = monitor.events()?;
    ensure!(named(&events, "log_stalled").len() == 1, "{events:?}");

    // The log moves on: the entry is reported, and the next quiet spell is
    // reported again, resting on the new checkpoint.
    add_entries(&server, &who, "stall", 1, 2)?;
    let events = monitor.wait_until("a second stall", |es| named(es, "log_stalled").len() == 2)?;
    ensure!(
        names(&events)
            == [
                "series_violation",
                "log_stalled",
                "series_violation",
                "log_stalled"
            ],
        "{events:?}"
    );
    ensure!(events[3]["checkpoint"]["size"] == 2, "{events:?}");
    wait_for_polls(&proxy, proxy.times("/checkpoint").len(), 12)?;
    ensure!(named(&monitor.events()?, "log_stalled").len() == 2);
    Ok(())
}

/// A note signed by `key` for the log's origin.
fn signed(key: &SignerKey, size: u64, root: claimlog::merkle::Hash) -> anyhow::Result<String> {
    let checkpoint = Checkpoint::new(Origin::new(ORIGIN)?, size, root);
    let note = SignedCheckpoint::sign(&checkpoint, key)?.note().to_bytes();
    Ok(String::from_utf8(note)?)
}

#[test]
fn witness_views_are_compared_with_the_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut log, who) = generic_log()?;
    let server = log.start()?;
    let older = add_entries(&server, &who, "witness", 0, 3)?;
    let current = add_entries(&server, &who, "witness", 3, 5)?;
    let key = SignerKey::parse(std::fs::read_to_string(log.key_path())?.trim())?;
    let parse = |note: &str| -> anyhow::Result<Checkpoint> {
        Ok(Checkpoint::parse(Note::parse(note.as_bytes())?.text())?)
    };
    let (old_cp, cur_cp) = (parse(&older)?, parse(&current)?);
    ensure!((old_cp.size(), cur_cp.size()) == (3, 5), "{older}{current}");
    let forged = leaf_hash(b"not this log's tree");
    // The log's name, another key.
    let impostor = SignerKey::from_seed(KeyName::new(ORIGIN)?, KeyType::Ed25519, [7; 32])?;

    // Each fake witness serves one view at its monitoring endpoint.
    let views: Vec<(&str, Option<String>)> = vec![
        ("same", Some(current.clone())),
        ("behind", Some(older.clone())),
        ("silent", None),
        ("fork-root", Some(signed(&key, 5, forged)?)),
        ("fork-behind", Some(signed(&key, 3, forged)?)),
        ("fork-ahead", Some(signed(&key, 9, forged)?)),
        ("unsigned", Some(signed(&impostor, 5, forged)?)),
    ];
    let path = monitoring_path(ORIGIN);
    let mut witness_lines = String::new();
    for (i, (name, view)) in views.iter().enumerate() {
        let (path, view) = (path.clone(), view.clone());
        let url = serve(move |r| match (&view, r.path == path) {
            (Some(note), true) => Reply::ok(note.clone()),
            _ => Reply::status(404),
        })?;
        let seed = [u8::try_from(i)? + 1; 32];
        let vkey = CosignerKey::from_seed(KeyName::new(&format!("{name}.example/w"))?, seed)?
            .verifier()
            .key()
            .to_string();
        witness_lines.push_str(&format!("witness {name} {vkey} {url}\n"));
    }
    let policy = dir.path().join("policy");
    write_policy(&policy, server.vkey(), &witness_lines)?;
    let state = dir.path().join("state");

    let (events, stderr) = monitor_once(&server.url(), &policy, &state, &[])?;
    ensure!(named(&events, "series_violation").len() == 5, "{events:?}");
    let forks = named(&events, "fork_detected");
    let mut sources: Vec<&str> = forks.iter().filter_map(|e| e["source"].as_str()).collect();
    sources.sort_unstable();
    ensure!(
        sources
            == [
                "witness fork-ahead",
                "witness fork-behind",
                "witness fork-root"
            ],
        "{forks:?}\n{stderr}"
    );
    for f in &forks {
        ensure!(f["ours"] == current.as_str(), "ours is the log's note: {f}");
        ensure!(f["checkpoint"]["size"] == 5, "{f}");
        let theirs = f["theirs"].as_str().context("theirs")?;
        let reason = f["reason"].as_str().context("reason")?;
        let want = match f["source"].as_str() {
            Some("witness fork-root") => "two roots for tree size 5",
            Some("witness fork-behind") => "is not an extension of size 3",
            _ => "tiles do not match the larger tree the witness cosigned",
        };
        ensure!(reason.contains(want), "{f}");
        ensure!(theirs.contains(&forged.to_base64()), "{f}");
    }
    ensure!(
        stderr.contains("witness unsigned: checkpoint rejected"),
        "{stderr}"
    );
    // Reported once per conflicting checkpoint: a second run is silent.
    let (again, stderr) = monitor_once(&server.url(), &policy, &state, &[])?;
    ensure!(again.is_empty(), "{again:?}\n{stderr}");
    Ok(())
}

#[test]
fn split_view_behind_the_same_url_is_a_fork() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut honest, who) = generic_log()?;
    let server = honest.start()?;
    add_entries(&server, &who, "honest", 0, 3)?;
    let proxy = Proxy::start(&server.url())?;
    let policy = dir.path().join("policy");
    write_policy(&policy, server.vkey(), "")?;
    let state = dir.path().join("state");
    let (events, _) = monitor_once(proxy.url(), &policy, &state, &[])?;
    ensure!(named(&events, "series_violation").len() == 3, "{events:?}");

    // Another process with the same key and origin and its own, longer
    // history, behind the same URL.
    let key = honest.key_path();
    let mut evil = TestLog::new(
        &[who.vkey()],
        &format!(
            "key_file = {}\nbatch_interval_ms = 20\ncheckpoint_interval_ms = 50\n",
            serde_json::to_string(path_str(&key)?)?
        ),
    )?;
    let fork = evil.start()?;
    ensure!(fork.vkey() == server.vkey());
    add_entries(&fork, &who, "evil", 0, 4)?;
    proxy.set_upstream(&fork.url());
    let (events, stderr) = monitor_once(proxy.url(), &policy, &state, &[])?;
    ensure!(names(&events) == ["fork_detected"], "{events:?}\n{stderr}");
    let f = &events[0];
    ensure!(f["source"] == "log", "{f}");
    ensure!(
        f["ours"].as_str().is_some_and(|n| n.contains("\n3\n")),
        "{f}"
    );
    ensure!(
        f["theirs"].as_str().is_some_and(|n| n.contains("\n4\n")),
        "{f}"
    );
    ensure!(
        f["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not an extension")),
        "{f}"
    );
    let (again, stderr) = monitor_once(proxy.url(), &policy, &state, &[])?;
    ensure!(again.is_empty(), "{again:?}\n{stderr}");
    Ok(())
}
