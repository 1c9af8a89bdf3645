//! End to end, client-side verification: a real `claimlog serve` in domain admission
//! mode on loopback (the vendor's well-known document served by a test HTTP server), a
//! vendor that enrolls and publishes claims through the CLI, then:
//! - `claimlog verify` by index and by envelope file, with a saved checkpoint view
//!   whose second use checks consistency (computed from tiles) with the first;
//! - `claimlog bundle`, then `claimlog verify-bundle` offline with the server stopped;
//!   a tampered bundle and a policy with another log key fail with the named check;
//! - a second log with the same key and origin but a different history is detected as
//!   a fork, with both checkpoints shown.
//!
//! The policy trusts the log key with `quorum none` (no witnesses run here; witnessed
//! verification is covered by the pure tests in `claimlog::evidence`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use claimlog::checkpoint::Checkpoint;
use claimlog::claim::{Domain, Identifier};
use claimlog::client::{ClientError, LogClient};
use claimlog::merkle::leaf_hash;
use claimlog::note::VerifierKey;
use claimlog_tests::cli::{CliVendor, draft, fails, now, ok};
use claimlog_tests::http_fake::Proxy;
use claimlog_tests::server::{ORIGIN, Server, TestLog, wait_for_checkpoint};

const CHAT: &str = "chat.example";

/// A log in domain mode signing with `key`, with its own data directory.
fn start_log(vendor: &CliVendor, key: &Path) -> anyhow::Result<(TestLog, Server)> {
    let mut log = TestLog::domain(&[(CHAT, &vendor.well_known)], Some(key), "")?;
    let server = log.start()?;
    Ok((log, server))
}

/// The checkpoint saved in the client state directory `state`.
fn saved_view(state: &str) -> anyhow::Result<String> {
    let file = std::fs::read_dir(state)?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".checkpoint"))
        .context("no saved checkpoint")?;
    Ok(std::fs::read_to_string(file.path())?)
}

/// Publishes a first version for `service`, signed with `signing1`; returns
/// the envelope file.
fn publish(vendor: &CliVendor, log: &str, service: &str) -> anyhow::Result<PathBuf> {
    let mut v = draft("data-handling-1.json", now())?;
    v["predicate"]["service"]["id"] = json!(service);
    vendor
        .publish(log, service, &v, "signing1")?
        .map_err(anyhow::Error::msg)?;
    Ok(PathBuf::from(vendor.file(&format!("{service}.env"))?))
}

#[test]
fn verify_bundle_state_and_fork() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let p = |name: &str| dir.join(name).to_str().unwrap_or_default().to_owned();
    let vendor = CliVendor::new(CHAT, &dir.join("chat"), &["signing1"])?;
    let log_vkey = ok(&["keygen", "--name", ORIGIN, "--out", &p("log.key")])?;
    std::fs::write(
        p("policy"),
        format!("log {}\nquorum none\n", log_vkey.trim()),
    )?;
    let state = p("state");

    // Log A: enrollment (0), two services' first versions (1, 2).
    let (_a, log) = start_log(&vendor, &dir.join("log.key"))?;
    let url = log.url();
    ensure!(vendor.enroll(&url, "signing1")? == 0);
    let env_chat = publish(&vendor, &url, "chat")?;
    wait_for_checkpoint(&url, 2)?;

    // By index, JSON, first use of the state directory.
    let out = ok(&verify_args(&url, &p("policy"), &state, &["--json", "1"]))?;
    let j: Value = serde_json::from_str(out.trim())?;
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["index"], 1);
    assert_eq!(j["domain"], "chat.example");
    assert_eq!(j["service"], "chat");
    assert_eq!(j["keyBindings"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["checkpointView"], "first checkpoint seen of this log");

    // The log grows; by envelope file, the view must be proven consistent.
    publish(&vendor, &url, "mail")?;
    wait_for_checkpoint(&url, 3)?;
    let out = ok(&verify_args(
        &url,
        &p("policy"),
        &state,
        &[env_chat.to_str().context("path")?],
    ))?;
    assert!(out.contains("logged at index 1 "), "{out}");
    assert!(out.contains("claims about service chat"), "{out}");
    assert!(
        out.contains("checkpoint view: consistent with the size 2 seen last time (now 3)"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("VERIFIED"), "{out}");
    // The enrollment itself verifies too (a key binding as the target).
    let out = ok(&verify_args(&url, &p("policy"), &state, &["0"]))?;
    assert!(
        out.contains("checkpoint view: same tree as last time"),
        "{out}"
    );

    // A bundle, verified offline once the log is gone.
    ok(&[
        "bundle",
        "--log",
        &url,
        "--policy",
        &p("policy"),
        "2",
        "-o",
        &p("mail.bundle"),
    ])?;
    log.kill()?;
    let out = ok(&["verify-bundle", "--policy", &p("policy"), &p("mail.bundle")])?;
    assert!(out.contains("logged at index 2 "), "{out}");
    assert!(out.contains("claims about service mail"), "{out}");
    let j: Value = serde_json::from_str(
        ok(&[
            "verify-bundle",
            "--policy",
            &p("policy"),
            "--json",
            &p("mail.bundle"),
        ])?
        .trim(),
    )?;
    assert_eq!(j["checkpoint"]["size"], 3);
    assert_eq!(j["checkpoint"]["origin"], ORIGIN);

    // Tampered: one character of the entry (in the tlog-proof's extra line).
    let text = std::fs::read_to_string(p("mail.bundle"))?;
    let at = text.find("\nextra ").context("extra line")? + 20;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(p("tampered.bundle"), &bytes)?;
    let (stdout, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("policy"),
        "--json",
        &p("tampered.bundle"),
    ])?;
    let j: Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(j["verified"], false);
    assert_eq!(j["check"], "inclusion", "{j}");
    assert!(stderr.contains("FAILED check inclusion"), "{stderr}");
    // Trailing data.
    let mut trailing = std::fs::read(p("mail.bundle"))?;
    trailing.extend_from_slice(b"junk");
    std::fs::write(p("trailing.bundle"), &trailing)?;
    let (_, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("policy"),
        &p("trailing.bundle"),
    ])?;
    assert!(stderr.contains("FAILED check format"), "{stderr}");
    // Another log key under the same name.
    let other = ok(&["keygen", "--name", ORIGIN, "--out", &p("other.key")])?;
    std::fs::write(
        p("other.policy"),
        format!("log {}\nquorum none\n", other.trim()),
    )?;
    let (_, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("other.policy"),
        &p("mail.bundle"),
    ])?;
    assert!(stderr.contains("FAILED check checkpoint"), "{stderr}");

    // Log B: same key and origin, another history (and longer). The saved view
    // (size 3 of log A) must reject it as a fork, showing both checkpoints.
    let saved = saved_view(&state)?;
    let (_b, fork) = start_log(&vendor, &dir.join("log.key"))?;
    ensure!(vendor.enroll(&fork.url(), "signing1")? == 0);
    for service in ["video", "voice", "files"] {
        publish(&vendor, &fork.url(), service)?;
    }
    let forked = wait_for_checkpoint(&fork.url(), 4)?;
    let (_, stderr) = fails(&verify_args(&fork.url(), &p("policy"), &state, &["1"]))?;
    assert!(stderr.contains("LOG INCONSISTENCY: fork"), "{stderr}");
    assert!(
        stderr.contains(&saved),
        "saved checkpoint not shown: {stderr}"
    );
    let forked_body = forked.split("\n\n").next().unwrap_or_default();
    assert!(
        stderr.contains(forked_body),
        "new checkpoint not shown: {stderr}"
    );
    // The saved view is unchanged: the fork did not overwrite it.
    let again = saved_view(&state)?;
    assert_eq!(again, saved);
    // A fresh state directory trusts log B on first use.
    ok(&verify_args(
        &fork.url(),
        &p("policy"),
        &p("state2"),
        &["1"],
    ))?;
    Ok(())
}

/// A change to a `history` answer.
type Lie = fn(&mut Value);

/// Flips one byte of `body` at `at`.
fn flip(body: &[u8], at: usize) -> Vec<u8> {
    let mut b = body.to_vec();
    if let Some(x) = b.get_mut(at) {
        *x ^= 1;
    }
    b
}

/// `LogClient::verified_entries`, `vendors`, `history` and `verify_version`
/// against a real log through a proxy: what they return agrees with the
/// tiles, and a proxy that changes one answer makes the call fail with the
/// error naming the check.
#[test]
fn log_client_reads_verify_against_tiles_and_reject_tampering() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let vendor = CliVendor::new(CHAT, &dir.join("chat"), &["signing1"])?;
    let mut log = TestLog::domain(&[(CHAT, &vendor.well_known)], None, "")?;
    let server = log.start()?;
    let url = server.url();
    ensure!(vendor.enroll(&url, "signing1")? == 0);
    let v1 = vendor.publish_example(&url, "v1", "data-handling-1.json", now(), "signing1")?;
    let later = now() + 31 * 86400;
    let v2 = vendor.publish_example(&url, "v2", "data-handling-2.json", later, "signing1")?;
    wait_for_checkpoint(&url, 3)?;
    let proxy = Proxy::start(&url)?;
    let key = VerifierKey::parse(server.vkey())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = LogClient::new(proxy.url())?;
    let cp: Checkpoint = rt
        .block_on(client.checkpoint_with_key(&key))?
        .checkpoint()
        .clone();
    ensure!(cp.size() == 3, "{cp:?}");

    // Entries: all three, and a range, each the leaf the tiles prove.
    let all = rt.block_on(client.verified_entries(&cp, 0, 3))?;
    ensure!(all.len() == 3);
    for (i, entry) in all.iter().enumerate() {
        let proven = rt.block_on(client.entry(&cp, i as u64))?;
        ensure!(&proven.entry == entry, "entry {i}");
    }
    ensure!(rt.block_on(client.verified_entries(&cp, 1, 3))? == all[1..]);
    ensure!(matches!(
        rt.block_on(client.verified_entries(&cp, 2, 4)),
        Err(ClientError::NotInTree { index: 4, size: 3 })
    ));

    // The vendor API: hints that verify against the tiles.
    let domain = Domain::parse(CHAT).map_err(anyhow::Error::msg)?;
    let service = Identifier::parse("messenger").map_err(anyhow::Error::msg)?;
    let page = rt.block_on(client.vendors(None))?;
    ensure!(!page.more && page.vendors.len() == 1, "{page:?}");
    let (d, binding) = &page.vendors[0];
    ensure!(d == &domain && binding.log_index == 0, "{page:?}");
    let proven = rt.block_on(client.verify_version(&cp, binding))?;
    ensure!(leaf_hash(&proven.entry) == binding.leaf_hash);
    let history = rt
        .block_on(client.history(&domain, &service))?
        .context("no history")?;
    let indexes: Vec<(u64, u64)> = history
        .versions
        .iter()
        .map(|v| (v.sequence, v.log_index))
        .collect();
    ensure!(indexes == [(1, v1), (2, v2)], "{history:?}");
    for v in &history.versions {
        let proven = rt.block_on(client.verify_version(&cp, v))?;
        ensure!(proven.entry == all[v.log_index as usize]);
    }
    let unknown = Identifier::parse("nothing").map_err(anyhow::Error::msg)?;
    ensure!(rt.block_on(client.history(&domain, &unknown))?.is_none());

    // Tampering, one answer at a time.
    let tamper = |rule: fn(&str, &[u8]) -> Option<Vec<u8>>| proxy.set_rewrite(Some(Arc::new(rule)));
    // An entry bundle with one byte of entry 1 changed.
    tamper(|path, body| {
        // Entries are length-prefixed (two bytes, big-endian): skip entry 0.
        let first = usize::from(u16::from_be_bytes([body[0], body[1]]));
        path.starts_with("/tile/entries/")
            .then(|| flip(body, 2 + first + 2 + 40))
    });
    let err = rt.block_on(client.verified_entries(&cp, 0, 3)).unwrap_err();
    ensure!(err == ClientError::EntryMismatch { index: 1 }, "{err}");
    // A level-0 hash tile with one byte of a hash changed: the tiles no
    // longer hash to the signed root.
    tamper(|path, body| (path.starts_with("/tile/0/")).then(|| flip(body, 40)));
    let err = rt.block_on(client.verified_entries(&cp, 0, 3)).unwrap_err();
    ensure!(matches!(err, ClientError::Tile(_)), "{err}");
    // history lying about version 2, one field at a time: each is caught
    // by the check of that field against the proven entry.
    let lies: [(&str, Lie); 3] = [
        ("leafHash", |h| {
            h["versions"][1]["leafHash"] = h["versions"][0]["leafHash"].clone()
        }),
        ("statementSha256", |h| {
            h["versions"][1]["statementSha256"] = h["versions"][0]["statementSha256"].clone()
        }),
        ("integratedTime", |h| {
            let t = h["versions"][1]["integratedTime"].as_u64().unwrap_or(0);
            h["versions"][1]["integratedTime"] = json!(t + 1);
        }),
    ];
    for (field, lie) in lies {
        proxy.set_rewrite(Some(Arc::new(move |path: &str, body: &[u8]| {
            let mut h: Value = serde_json::from_slice(body).ok()?;
            path.ends_with("/history").then(|| {
                lie(&mut h);
                h.to_string().into_bytes()
            })
        })));
        let tampered = rt
            .block_on(client.history(&domain, &service))?
            .context("no history")?;
        proxy.set_rewrite(None);
        let err = rt
            .block_on(client.verify_version(&cp, &tampered.versions[1]))
            .unwrap_err();
        ensure!(
            matches!(&err, ClientError::HintMismatch { index, field: f, .. } if *index == v2 && *f == field),
            "{field}: {err}"
        );
    }
    // vendors naming entry 1 as the key binding (its leaf hash unchanged).
    tamper(|path, body| {
        (path == "/v1/vendors").then(|| {
            String::from_utf8_lossy(body)
                .replacen("\"logIndex\":0", "\"logIndex\":1", 1)
                .into_bytes()
        })
    });
    let page = rt.block_on(client.vendors(None))?;
    let err = rt
        .block_on(client.verify_version(&cp, &page.vendors[0].1))
        .unwrap_err();
    ensure!(
        matches!(
            &err,
            ClientError::HintMismatch {
                index: 1,
                field: "leafHash",
                ..
            }
        ),
        "{err}"
    );
    // A leaf hash that is not canonical base64: refused when parsed.
    tamper(|path, body| {
        (path == "/v1/vendors").then(|| {
            let text = String::from_utf8_lossy(body).into_owned();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let hash = v["vendors"][0]["keyBinding"]["leafHash"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            text.replace(&hash, &hash.replace('=', "")).into_bytes()
        })
    });
    let err = rt.block_on(client.vendors(None)).unwrap_err();
    ensure!(
        matches!(&err, ClientError::BadResponse { reason, .. } if reason.contains("leafHash")),
        "{err}"
    );
    proxy.set_rewrite(None);
    Ok(())
}

/// `claimlog verify --log URL --policy POLICY --state STATE ARGS...`.
fn verify_args<'a>(
    url: &'a str,
    policy: &'a str,
    state: &'a str,
    args: &[&'a str],
) -> Vec<&'a str> {
    let mut all = vec!["verify", "--log", url, "--policy", policy, "--state", state];
    all.extend_from_slice(args);
    all
}
