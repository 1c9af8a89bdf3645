//! End to end: a real `claimlog serve` in domain admission mode on loopback,
//! driven only through the `claimlog` command line, with the vendor's
//! well-known document served by a test HTTP server. A vendor enrolls,
//! publishes three versions of the WeChat-style series (`spec/examples`, with
//! the dates moved to now), has a weakening refused for the notice period and
//! then accepted with a later `effectiveFrom`, adds a signing key, revokes the
//! old one; `history`, `diff`, `claim lint` and `claim next` print what they
//! should. Also: our DSSE envelopes verify with Python `securesystemslib`.

use std::process::Command;

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use claimlog_tests::claims_load::ts;
use claimlog_tests::cli::{CliVendor, draft, example, fails, now, ok, path_str, run};
use claimlog_tests::client::Client;
use claimlog_tests::repo_root;
use claimlog_tests::server::TestLog;

fn write_json(path: &std::path::Path, v: &Value) -> anyhow::Result<()> {
    Ok(std::fs::write(path, serde_json::to_vec_pretty(v)?)?)
}

/// A JSON answer of the log, which must be 200 and not chunked.
fn get(log: &Client, path: &str) -> anyhow::Result<Value> {
    let r = log.get(path)?.expect(200)?;
    ensure!(r.header("transfer-encoding").is_none(), "{path}: chunked");
    r.json()
}

/// The log's tree size according to the vendor API.
fn tree_size(log: &Client) -> anyhow::Result<u64> {
    get(log, "/v1/vendors/chat.example")?["treeSize"]
        .as_u64()
        .context("treeSize")
}

#[test]
fn vendor_enrolls_publishes_rotates_and_revokes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = |name: &str| {
        dir.path()
            .join(name)
            .to_str()
            .unwrap_or_default()
            .to_owned()
    };
    // The vendor publishes its root key at the well-known location.
    let vendor = CliVendor::new("chat.example", dir.path(), &["signing1", "signing2"])?;
    let mut test_log = TestLog::domain(&[("chat.example", &vendor.well_known)], None, "")?;
    let server = test_log.start()?;
    let url = server.url();
    let log = Client::new(&url)?;

    // Enrollment.
    ensure!(vendor.enroll(&url, "signing1")? == 0);

    // Publishes a version, prepared by `claim next` and linted; Err is the
    // refusal.
    let publish = |name: &str, draft: &Value, key: &str| vendor.publish(&url, name, draft, key);
    publish("v1", &draft("data-handling-1.json", now())?, "signing1")?
        .map_err(anyhow::Error::msg)?;

    // Sequence 2 weakens: effective at once it is refused, and the log does
    // not change; with effectiveFrom after the 30-day notice it is accepted.
    let size = tree_size(&log)?;
    let err = publish("v2", &draft("data-handling-2.json", now())?, "signing1")?.unwrap_err();
    assert!(err.contains("400"), "{err}");
    assert!(
        err.contains("weakens the claims, so effectiveFrom must be at least"),
        "{err}"
    );
    assert_eq!(tree_size(&log)?, size);
    let later = now() + 31 * 86400;
    publish("v2", &draft("data-handling-2.json", later)?, "signing1")?
        .map_err(anyhow::Error::msg)?;

    // A second signing key, then sequence 3 signed with it.
    let vendor_record = get(&log, "/v1/vendors/chat.example")?;
    let kb1 = get(
        &log,
        &format!(
            "/v1/claims/{}",
            vendor_record["keyBinding"]["statementSha256"]
                .as_str()
                .context("statementSha256")?
        ),
    )?["statement"]
        .clone();
    let signing2_pk = {
        let wk: Value = serde_json::from_str(&ok(&[
            "well-known",
            "--domain",
            "chat.example",
            "--root-key",
            &d("signing2"),
        ])?)?;
        wk["rootKeys"][0].clone()
    };
    let mut kb2 = kb1.clone();
    kb2["predicate"]["sequence"] = json!(2);
    kb2["predicate"]["issuedAt"] = json!(ts(now()));
    kb2["predicate"]["supersedes"] = json!({
        "sequence": 1,
        "logIndex": vendor_record["keyBinding"]["logIndex"],
        "statementSha256": vendor_record["keyBinding"]["statementSha256"],
    });
    kb2["predicate"]["signingKeys"]
        .as_array_mut()
        .context("signingKeys")?
        .push(json!({
            "keyid": signing2_pk["keyid"],
            "publicKey": signing2_pk["publicKey"],
            "validFrom": ts(now() - 5),
        }));
    write_json(&dir.path().join("kb2.json"), &kb2)?;
    // Signed by a signing key instead of the root: refused.
    let env = ok(&["sign", "--key", &d("signing1"), &d("kb2.json")])?;
    std::fs::write(d("kb2-bad.env"), env)?;
    let (_, err) = fails(&["submit", "--log", &url, &d("kb2-bad.env")])?;
    assert!(err.contains("403"), "{err}");
    let env = ok(&["sign", "--key", &d("root"), &d("kb2.json")])?;
    std::fs::write(d("kb2.env"), env)?;
    ok(&[
        "submit",
        "--log",
        &url,
        "--wait",
        "sequenced",
        &d("kb2.env"),
    ])?;
    let kb2_head = get(&log, "/v1/vendors/chat.example")?["keyBinding"].clone();
    assert_eq!(kb2_head["sequence"], 2);
    // Sequence 3 only strengthens; it may not take effect before sequence 2.
    publish("v3", &draft("data-handling-3.json", later)?, "signing2")?
        .map_err(anyhow::Error::msg)?;

    // Revoke signing1 (compromised a minute ago); claims signed with it are
    // refused from then on.
    let signing1_id = kb1["predicate"]["signingKeys"][0]["keyid"].clone();
    let mut kb3 = kb2.clone();
    kb3["predicate"]["sequence"] = json!(3);
    kb3["predicate"]["issuedAt"] = json!(ts(now()));
    kb3["predicate"]["supersedes"] = json!({
        "sequence": 2,
        "logIndex": kb2_head["logIndex"],
        "statementSha256": kb2_head["statementSha256"],
    });
    kb3["predicate"]["revocations"] = json!([{
        "keyid": signing1_id,
        "compromisedSince": ts(now() - 60),
        "reason": "Laptop holding the key was stolen",
    }]);
    write_json(&dir.path().join("kb3.json"), &kb3)?;
    let env = ok(&["sign", "--key", &d("root"), &d("kb3.json")])?;
    std::fs::write(d("kb3.env"), env)?;
    ok(&[
        "submit",
        "--log",
        &url,
        "--wait",
        "sequenced",
        &d("kb3.env"),
    ])?;
    let size = tree_size(&log)?;
    let err = publish("v4", &draft("data-handling-3.json", later)?, "signing1")?.unwrap_err();
    assert!(
        err.contains("403") && err.contains("is revoked as compromised"),
        "{err}"
    );
    assert_eq!(tree_size(&log)?, size);

    // History: keys with status, three versions with readable diffs.
    let history = ok(&["history", "--log", &url, "chat.example"])?;
    assert!(history.contains("revoked"), "{history}");
    assert!(history.contains("messenger:"), "{history}");
    assert!(history.contains("#1 log index"), "{history}");
    assert!(history.contains("#3 log index"), "{history}");
    assert!(
        history.contains("chat-content: retention.server.max PT72H -> P30D (weakened)"),
        "{history}"
    );
    assert!(
        history.contains("chat-metadata: claim removed (weakened)"),
        "{history}"
    );
    assert!(
        history.contains("chat-content: retention.server.max P30D -> PT72H (strengthened)"),
        "{history}"
    );

    // `diff` on the files themselves gives the same lines.
    let diff = ok(&["diff", &d("v1.json"), &d("v2.json")])?;
    assert!(
        diff.contains("chat-content: retention.server.max PT72H -> P30D (weakened)"),
        "{diff}"
    );

    // DSSE interop: an envelope we made verifies with securesystemslib.
    python_verifies(&d("v3.env"), &signing2_pk);
    Ok(())
}

#[test]
fn lint_prints_every_problem() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut v = example("data-handling-1.json")?;
    v["predicate"]["claims"][0]["purposes"]["excluded"] = json!(["dpv:NoSuchPurpose"]);
    v["predicate"]["claims"][0]["endToEndEncrypted"] = json!(true);
    v["predicate"]["claims"][0]["operatorAccess"] = json!({"technicallyPossible": true});
    let path = dir.path().join("bad.json");
    write_json(&path, &v)?;
    let out = run(&["claim", "lint", path_str(&path)?])?;
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout)?;
    assert!(
        stdout.contains("unknown term \"dpv:NoSuchPurpose\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("endToEndEncrypted is true but operatorAccess.technicallyPossible is true"),
        "{stdout}"
    );
    let good = repo_root().join("spec/examples/data-handling-3.json");
    assert!(ok(&["claim", "lint", path_str(&good)?])?.contains(": ok"));
    Ok(())
}

/// Verifies a DSSE envelope file with Python securesystemslib. Skips with a
/// warning when it is not installed, unless `CI` is set (then it fails).
fn python_verifies(envelope: &str, key: &Value) {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import securesystemslib.dsse, securesystemslib.signer",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with securesystemslib is required under CI (pip install securesystemslib)"
        );
        eprintln!("warning: skipping the securesystemslib DSSE interop check (not installed)");
        return;
    }
    let script = r#"
import base64, json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
env = Envelope.from_dict(json.load(open(sys.argv[1])))
key = SSlibKey(sys.argv[2], "ed25519", "ed25519", {"public": base64.b64decode(sys.argv[3]).hex()})
verified = env.verify([key], 1)
assert sys.argv[2] in verified, verified
print("verified", env.payload_type)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            envelope,
            key["keyid"].as_str().unwrap(),
            key["publicKey"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "securesystemslib rejected our envelope: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified application/vnd.in-toto+json"));
}
