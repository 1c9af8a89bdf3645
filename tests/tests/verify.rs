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

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use claimlog::claim::Timestamp;
use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::http_fake::serve_well_known;
use claimlog_tests::repo_root;

const ORIGIN: &str = "verify.test/log";

/// Runs `claimlog ARGS`.
fn cli(args: &[&str]) -> Output {
    Command::new(claimlog_binary()).args(args).output().unwrap()
}

/// Runs `claimlog ARGS`, expects success, returns stdout.
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

/// Runs `claimlog ARGS`, expects failure, returns stdout and stderr.
fn fails(args: &[&str]) -> (String, String) {
    let out = cli(args);
    assert!(
        !out.status.success(),
        "claimlog {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A `claimlog serve` process with its own data directory.
struct Log {
    child: Child,
    url: String,
}

impl Log {
    fn start(dir: &Path, log_key: &Path, well_known_base: &str) -> Log {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("log.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\norigin = {ORIGIN:?}\nkey_file = {:?}\n\
                 admission = \"domain\"\nbatch_interval_ms = 20\ncheckpoint_interval_ms = 50\n\
                 well_known_base_urls = {{ \"chat.example\" = {:?} }}\n",
                dir.join("data"),
                log_key,
                well_known_base
            ),
        )
        .unwrap();
        let mut child = Command::new(claimlog_binary())
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

    /// Waits (with a generous deadline) until the published checkpoint has `size`.
    fn wait_for_size(&self, size: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(note) = http_get(&format!("{}/checkpoint", self.url))
                && note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size)
            {
                return note;
            }
            assert!(Instant::now() < deadline, "checkpoint never reached {size}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP GET: the body of a 200, `None` otherwise.
fn http_get(url: &str) -> Option<String> {
    use std::io::Read as _;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A first version of a data-handling series for `service`, dated now.
fn draft(service: &str) -> Value {
    let path = repo_root().join("spec/examples/data-handling-1.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let t = Timestamp::from_unix(now()).unwrap().to_string();
    let p = v["predicate"].as_object_mut().unwrap();
    p.insert("issuedAt".into(), json!(t));
    p.insert("effectiveFrom".into(), json!(t));
    p.remove("validUntil");
    p.remove("supersedes");
    p.insert("sequence".into(), json!(1));
    p.insert("removedClaimIds".into(), json!([]));
    p.get_mut("service").unwrap()["id"] = json!(service);
    v
}

/// Signs and submits a first version for `service`; returns the envelope file.
fn publish(dir: &Path, log: &Log, service: &str, key: &Path) -> PathBuf {
    let stmt = dir.join(format!("{service}.json"));
    std::fs::write(&stmt, serde_json::to_vec_pretty(&draft(service)).unwrap()).unwrap();
    let env = ok(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        stmt.to_str().unwrap(),
    ]);
    let env_path = dir.join(format!("{service}.env"));
    std::fs::write(&env_path, env).unwrap();
    ok(&[
        "submit",
        "--log",
        &log.url,
        "--wait",
        "sequenced",
        env_path.to_str().unwrap(),
    ]);
    env_path
}

#[test]
fn verify_bundle_state_and_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    for key in ["root", "signing1"] {
        ok(&["keygen", "--name", key, "--out", &p(key)]);
    }
    let log_vkey = ok(&["keygen", "--name", ORIGIN, "--out", &p("log.key")]);
    let doc = ok(&[
        "well-known",
        "--domain",
        "chat.example",
        "--root-key",
        &p("root"),
    ]);
    let wk = serve_well_known(doc).unwrap();
    std::fs::write(
        p("policy"),
        format!("log {}\nquorum none\n", log_vkey.trim()),
    )
    .unwrap();
    let state = p("state");

    // Log A: enrollment (0), two services' first versions (1, 2).
    let log = Log::start(&dir.join("a"), &dir.join("log.key"), &wk);
    ok(&[
        "enroll",
        "--log",
        &log.url,
        "--domain",
        "chat.example",
        "--root-key",
        &p("root"),
        "--signing-key",
        &p("signing1"),
    ]);
    let env_chat = publish(dir, &log, "chat", &dir.join("signing1"));
    log.wait_for_size(2);

    // By index, JSON, first use of the state directory.
    let out = ok(&[
        "verify",
        "--log",
        &log.url,
        "--policy",
        &p("policy"),
        "--state",
        &state,
        "--json",
        "1",
    ]);
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["index"], 1);
    assert_eq!(j["domain"], "chat.example");
    assert_eq!(j["service"], "chat");
    assert_eq!(j["keyBindings"].as_array().unwrap().len(), 1);
    assert_eq!(j["checkpointView"], "first checkpoint seen of this log");

    // The log grows; by envelope file, the view must be proven consistent.
    publish(dir, &log, "mail", &dir.join("signing1"));
    log.wait_for_size(3);
    let out = ok(&[
        "verify",
        "--log",
        &log.url,
        "--policy",
        &p("policy"),
        "--state",
        &state,
        env_chat.to_str().unwrap(),
    ]);
    assert!(out.contains("logged at index 1 "), "{out}");
    assert!(out.contains("claims about service chat"), "{out}");
    assert!(
        out.contains("checkpoint view: consistent with the size 2 seen last time (now 3)"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("VERIFIED"), "{out}");
    // The enrollment itself verifies too (a key binding as the target).
    let out = ok(&[
        "verify",
        "--log",
        &log.url,
        "--policy",
        &p("policy"),
        "--state",
        &state,
        "0",
    ]);
    assert!(
        out.contains("checkpoint view: same tree as last time"),
        "{out}"
    );

    // A bundle, verified offline once the log is gone.
    ok(&[
        "bundle",
        "--log",
        &log.url,
        "--policy",
        &p("policy"),
        "2",
        "-o",
        &p("mail.bundle"),
    ]);
    log.stop();
    let out = ok(&["verify-bundle", "--policy", &p("policy"), &p("mail.bundle")]);
    assert!(out.contains("logged at index 2 "), "{out}");
    assert!(out.contains("claims about service mail"), "{out}");
    let j: Value = serde_json::from_str(
        ok(&[
            "verify-bundle",
            "--policy",
            &p("policy"),
            "--json",
            &p("mail.bundle"),
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(j["checkpoint"]["size"], 3);
    assert_eq!(j["checkpoint"]["origin"], ORIGIN);

    // Tampered: one character of the entry (in the tlog-proof's extra line).
    let text = std::fs::read_to_string(p("mail.bundle")).unwrap();
    let at = text.find("\nextra ").unwrap() + 20;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(p("tampered.bundle"), &bytes).unwrap();
    let (stdout, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("policy"),
        "--json",
        &p("tampered.bundle"),
    ]);
    let j: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(j["verified"], false);
    assert_eq!(j["check"], "inclusion", "{j}");
    assert!(stderr.contains("FAILED check inclusion"), "{stderr}");
    // Trailing data.
    let mut trailing = std::fs::read(p("mail.bundle")).unwrap();
    trailing.extend_from_slice(b"junk");
    std::fs::write(p("trailing.bundle"), &trailing).unwrap();
    let (_, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("policy"),
        &p("trailing.bundle"),
    ]);
    assert!(stderr.contains("FAILED check format"), "{stderr}");
    // Another log key under the same name.
    let other = ok(&["keygen", "--name", ORIGIN, "--out", &p("other.key")]);
    std::fs::write(
        p("other.policy"),
        format!("log {}\nquorum none\n", other.trim()),
    )
    .unwrap();
    let (_, stderr) = fails(&[
        "verify-bundle",
        "--policy",
        &p("other.policy"),
        &p("mail.bundle"),
    ]);
    assert!(stderr.contains("FAILED check checkpoint"), "{stderr}");

    // Log B: same key and origin, another history (and longer). The saved view
    // (size 3 of log A) must reject it as a fork, showing both checkpoints.
    let saved = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".checkpoint"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    let fork = Log::start(&dir.join("b"), &dir.join("log.key"), &wk);
    ok(&[
        "enroll",
        "--log",
        &fork.url,
        "--domain",
        "chat.example",
        "--root-key",
        &p("root"),
        "--signing-key",
        &p("signing1"),
    ]);
    for service in ["video", "voice", "files"] {
        publish(dir, &fork, service, &dir.join("signing1"));
    }
    let forked = fork.wait_for_size(4);
    let (_, stderr) = fails(&[
        "verify",
        "--log",
        &fork.url,
        "--policy",
        &p("policy"),
        "--state",
        &state,
        "1",
    ]);
    assert!(stderr.contains("LOG INCONSISTENCY: fork"), "{stderr}");
    assert!(
        stderr.contains(&saved),
        "saved checkpoint not shown: {stderr}"
    );
    let forked_body = forked.split("\n\n").next().unwrap();
    assert!(
        stderr.contains(forked_body),
        "new checkpoint not shown: {stderr}"
    );
    // The saved view is unchanged: the fork did not overwrite it.
    let again = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".checkpoint"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert_eq!(again, saved);
    // A fresh state directory trusts log B on first use.
    ok(&[
        "verify",
        "--log",
        &fork.url,
        "--policy",
        &p("policy"),
        "--state",
        &p("state2"),
        "1",
    ]);
}
