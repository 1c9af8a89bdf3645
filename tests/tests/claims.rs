//! End to end: a real `claimlog serve` in domain admission mode on loopback,
//! driven only through the `claimlog` command line, with the vendor's
//! well-known document served by a test HTTP server. A vendor enrolls,
//! publishes three versions of the WeChat-style series (`spec/examples`, with
//! the dates moved to now), has a weakening refused for the notice period and
//! then accepted with a later `effectiveFrom`, adds a signing key, revokes the
//! old one; `history`, `diff`, `claim lint` and `claim next` print what they
//! should. Also: our DSSE envelopes verify with Python `securesystemslib`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use claimlog::claim::Timestamp;
use claimlog_tests::http_fake::serve_well_known;
use claimlog_tests::repo_root;

/// The `claimlog` binary, built once with Cargo into this test's target
/// directory and profile (test executables live in `target/<profile>/deps`).
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CLAIMLOG_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().unwrap();
        let mut dir = exe.parent().unwrap().to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(repo_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "claimlog",
                "--bin",
                "claimlog",
                "--profile",
            ])
            .arg(&profile)
            .arg("--target-dir")
            .arg(dir.parent().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building claimlog: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("claimlog")
    })
}

/// Runs `claimlog ARGS`; returns its output.
fn cli(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

/// Runs `claimlog ARGS` and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = cli(args);
    assert!(
        out.status.success(),
        "claimlog {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `claimlog ARGS` and expects failure; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = cli(args);
    assert!(!out.status.success(), "claimlog {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

struct Log {
    child: Child,
    url: String,
}

impl Log {
    fn start(dir: &Path, well_known_base: &str) -> Log {
        let config = dir.join("log.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nadmission = \"domain\"\n\
                 batch_interval_ms = 20\ncheckpoint_interval_ms = 50\n\
                 well_known_base_urls = {{ \"chat.example\" = {:?} }}\n",
                dir.join("data"),
                well_known_base
            ),
        )
        .unwrap();
        let mut child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                break format!("http://{addr}");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Log { child, url }
    }

    fn get(&self, path: &str) -> Value {
        let resp = http_get(&format!("{}{path}", self.url));
        serde_json::from_str(&resp).unwrap()
    }

    fn size(&self) -> u64 {
        self.get("/v1/vendors/chat.example")["treeSize"]
            .as_u64()
            .unwrap()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP GET (the test uses no async runtime).
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{url}: {head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    body.to_owned()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ts(unix: i64) -> String {
    Timestamp::from_unix(unix).unwrap().to_string()
}

fn example(name: &str) -> Value {
    let path = repo_root().join("spec/examples").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// A data-handling example dated now (effective now unless told otherwise),
/// without continuity fields (`claim next` fills them).
fn draft(name: &str, effective: i64) -> Value {
    let mut v = example(name);
    let p = v["predicate"].as_object_mut().unwrap();
    p.insert("issuedAt".into(), json!(ts(now())));
    p.insert("effectiveFrom".into(), json!(ts(effective)));
    p.remove("validUntil");
    p.remove("supersedes");
    p.insert("sequence".into(), json!(1));
    p.insert("removedClaimIds".into(), json!([]));
    v
}

#[test]
fn vendor_enrolls_publishes_rotates_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    for key in ["root", "signing1", "signing2"] {
        ok(&["keygen", "--name", key, "--out", &d(key)]);
    }
    // The vendor publishes its root key at the well-known location.
    let doc = ok(&[
        "well-known",
        "--domain",
        "chat.example",
        "--root-key",
        &d("root"),
    ]);
    let log = Log::start(dir.path(), &serve_well_known(doc).unwrap());

    // Enrollment.
    let receipt = ok(&[
        "enroll",
        "--log",
        &log.url,
        "--domain",
        "chat.example",
        "--root-key",
        &d("root"),
        "--signing-key",
        &d("signing1"),
    ]);
    assert!(receipt.contains("\"index\":0"), "{receipt}");

    // Publishes sequence 1, prepared by `claim next` and linted.
    let publish = |name: &str, draft: &Value, key: &str| -> Result<String, String> {
        write_json(&dir.path().join(format!("{name}.draft.json")), draft);
        let next = ok(&[
            "claim",
            "next",
            &d(&format!("{name}.draft.json")),
            "--log",
            &log.url,
        ]);
        std::fs::write(d(&format!("{name}.json")), &next).unwrap();
        ok(&["claim", "lint", &d(&format!("{name}.json"))]);
        let env = ok(&["sign", "--key", &d(key), &d(&format!("{name}.json"))]);
        std::fs::write(d(&format!("{name}.env")), env).unwrap();
        let out = cli(&[
            "submit",
            "--log",
            &log.url,
            "--wait",
            "sequenced",
            &d(&format!("{name}.env")),
        ]);
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(String::from_utf8(out.stderr).unwrap())
        }
    };
    publish("v1", &draft("data-handling-1.json", now()), "signing1").unwrap();

    // Sequence 2 weakens: effective at once it is refused, and the log does
    // not change; with effectiveFrom after the 30-day notice it is accepted.
    let size = log.size();
    let err = publish("v2", &draft("data-handling-2.json", now()), "signing1").unwrap_err();
    assert!(err.contains("400"), "{err}");
    assert!(
        err.contains("weakens the claims, so effectiveFrom must be at least"),
        "{err}"
    );
    assert_eq!(log.size(), size);
    let later = now() + 31 * 86400;
    publish("v2", &draft("data-handling-2.json", later), "signing1").unwrap();

    // A second signing key, then sequence 3 signed with it.
    let vendor = log.get("/v1/vendors/chat.example");
    let kb1 = log.get(&format!(
        "/v1/claims/{}",
        vendor["keyBinding"]["statementSha256"].as_str().unwrap()
    ))["statement"]
        .clone();
    let signing2_pk = {
        let wk: Value = serde_json::from_str(&ok(&[
            "well-known",
            "--domain",
            "chat.example",
            "--root-key",
            &d("signing2"),
        ]))
        .unwrap();
        wk["rootKeys"][0].clone()
    };
    let mut kb2 = kb1.clone();
    kb2["predicate"]["sequence"] = json!(2);
    kb2["predicate"]["issuedAt"] = json!(ts(now()));
    kb2["predicate"]["supersedes"] = json!({
        "sequence": 1,
        "logIndex": vendor["keyBinding"]["logIndex"],
        "statementSha256": vendor["keyBinding"]["statementSha256"],
    });
    kb2["predicate"]["signingKeys"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "keyid": signing2_pk["keyid"],
            "publicKey": signing2_pk["publicKey"],
            "validFrom": ts(now() - 5),
        }));
    write_json(&dir.path().join("kb2.json"), &kb2);
    // Signed by a signing key instead of the root: refused.
    let env = ok(&["sign", "--key", &d("signing1"), &d("kb2.json")]);
    std::fs::write(d("kb2-bad.env"), env).unwrap();
    let err = fails(&["submit", "--log", &log.url, &d("kb2-bad.env")]);
    assert!(err.contains("403"), "{err}");
    let env = ok(&["sign", "--key", &d("root"), &d("kb2.json")]);
    std::fs::write(d("kb2.env"), env).unwrap();
    ok(&[
        "submit",
        "--log",
        &log.url,
        "--wait",
        "sequenced",
        &d("kb2.env"),
    ]);
    let kb2_head = log.get("/v1/vendors/chat.example")["keyBinding"].clone();
    assert_eq!(kb2_head["sequence"], 2);
    // Sequence 3 only strengthens; it may not take effect before sequence 2.
    publish("v3", &draft("data-handling-3.json", later), "signing2").unwrap();

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
    write_json(&dir.path().join("kb3.json"), &kb3);
    let env = ok(&["sign", "--key", &d("root"), &d("kb3.json")]);
    std::fs::write(d("kb3.env"), env).unwrap();
    ok(&[
        "submit",
        "--log",
        &log.url,
        "--wait",
        "sequenced",
        &d("kb3.env"),
    ]);
    let size = log.size();
    let err = publish("v4", &draft("data-handling-3.json", later), "signing1").unwrap_err();
    assert!(
        err.contains("403") && err.contains("is revoked as compromised"),
        "{err}"
    );
    assert_eq!(log.size(), size);

    // History: keys with status, three versions with readable diffs.
    let history = ok(&["history", "--log", &log.url, "chat.example"]);
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
    let diff = ok(&["diff", &d("v1.json"), &d("v2.json")]);
    assert!(
        diff.contains("chat-content: retention.server.max PT72H -> P30D (weakened)"),
        "{diff}"
    );

    // DSSE interop: an envelope we made verifies with securesystemslib.
    python_verifies(&d("v3.env"), &signing2_pk);
}

#[test]
fn lint_prints_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = example("data-handling-1.json");
    v["predicate"]["claims"][0]["purposes"]["excluded"] = json!(["dpv:NoSuchPurpose"]);
    v["predicate"]["claims"][0]["endToEndEncrypted"] = json!(true);
    v["predicate"]["claims"][0]["operatorAccess"] = json!({"technicallyPossible": true});
    let path = dir.path().join("bad.json");
    write_json(&path, &v);
    let out = cli(&["claim", "lint", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("unknown term \"dpv:NoSuchPurpose\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("endToEndEncrypted is true but operatorAccess.technicallyPossible is true"),
        "{stdout}"
    );
    let good = repo_root().join("spec/examples/data-handling-3.json");
    assert!(ok(&["claim", "lint", good.to_str().unwrap()]).contains(": ok"));
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
