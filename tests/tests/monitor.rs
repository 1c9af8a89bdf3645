//! `claimlog monitor` against real `claimlog serve` processes in domain mode
//! on loopback: a vendor enrolls and publishes the WeChat-style series; the
//! monitor (watching the vendor) reports `new_claim` then `claim_weakened`; a
//! restarted monitor reports nothing again; a killed log is
//! `log_unreachable`, its restart `log_recovered`; a second log process with
//! the same key and origin but another history, behind the same URL, is
//! `fork_detected`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use claimlog::claim::Timestamp;
use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::repo_root;
use claimlog_tests::well_known::serve_well_known;

/// Generous: the CI machine is small and busy.
const DEADLINE: Duration = Duration::from_secs(120);

fn cli(args: &[&str]) -> Output {
    Command::new(claimlog_binary()).args(args).output().unwrap()
}

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

/// A webhook receiver on loopback: each POST body on the channel, answered
/// 200 (the first request of each connection only; the monitor's client may
/// reuse connections, so the server reads requests in a loop).
fn webhook() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = receive(stream, &tx);
            });
        }
    });
    (url, rx)
}

fn receive(mut stream: TcpStream, tx: &mpsc::Sender<String>) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut len = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
    }
}

/// A port the OS reports free (the log restarts on it, so the monitor's URL
/// stays valid).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `claimlog serve` process in domain mode.
struct Log {
    child: Child,
    url: String,
    vkey: String,
}

impl Log {
    fn start(dir: &Path, port: u16, key: Option<&Path>, well_known: &str) -> Log {
        let config = dir.join("log.toml");
        let key_line = key.map_or(String::new(), |k| format!("key_file = {k:?}\n"));
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nlisten = \"127.0.0.1:{port}\"\norigin = \"example.com/monitor\"\n\
                 admission = \"domain\"\nbatch_interval_ms = 20\ncheckpoint_interval_ms = 50\n\
                 {key_line}well_known_base_urls = {{ \"chat.example\" = {well_known:?} }}\n",
                dir.join("data"),
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
        let mut vkey = String::new();
        let url = loop {
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(v) = line.strip_prefix("vkey ") {
                vkey = v.to_owned();
            }
            if let Some(addr) = line.strip_prefix("listening on ") {
                break format!("http://{addr}");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Log { child, url, vkey }
    }

    fn kill(mut self) {
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

/// A running `claimlog monitor`, its stdout lines on a channel.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Monitor {
    fn start(url: &str, policy: &Path, state: &Path, extra: &[&str]) -> Monitor {
        let mut child = Command::new(claimlog_binary())
            .args(["monitor", "--log", url, "--policy"])
            .arg(policy)
            .arg("--state")
            .arg(state)
            .args(["--watch", "chat.example", "--interval", "0.2"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Monitor { child, lines }
    }

    /// The next event, within the deadline.
    fn next_event(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("no event from the monitor in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Events until one named `name` (returned), within the deadline.
    fn wait_for(&self, name: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "no {name} event in time");
            let e = self.next_event();
            if e["event"] == name {
                return e;
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `claimlog monitor --once`: its events.
fn monitor_once(url: &str, policy: &Path, state: &Path) -> Vec<Value> {
    let out = Command::new(claimlog_binary())
        .args(["monitor", "--once", "--log", url, "--policy"])
        .arg(policy)
        .arg("--state")
        .arg(state)
        .args(["--watch", "chat.example"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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

/// A data-handling example dated now (`claim next` fills the continuity).
fn draft(name: &str, effective: i64) -> Value {
    let path = repo_root().join("spec/examples").join(name);
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let p = v["predicate"].as_object_mut().unwrap();
    p.insert("issuedAt".into(), json!(ts(now())));
    p.insert("effectiveFrom".into(), json!(ts(effective)));
    p.remove("validUntil");
    p.remove("supersedes");
    p.insert("sequence".into(), json!(1));
    p.insert("removedClaimIds".into(), json!([]));
    v
}

/// Prepares, signs and submits a version of the series (waits for the
/// checkpoint that includes it).
fn publish(dir: &Path, log: &str, name: &str, draft: &Value, key: &str) {
    let d = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    std::fs::write(
        d(&format!("{name}.draft.json")),
        serde_json::to_vec_pretty(draft).unwrap(),
    )
    .unwrap();
    let next = ok(&[
        "claim",
        "next",
        &d(&format!("{name}.draft.json")),
        "--log",
        log,
    ]);
    std::fs::write(d(&format!("{name}.json")), next).unwrap();
    let env = ok(&["sign", "--key", &d(key), &d(&format!("{name}.json"))]);
    std::fs::write(d(&format!("{name}.env")), env).unwrap();
    ok(&["submit", "--log", log, &d(&format!("{name}.env"))]);
}

fn enroll(dir: &Path, log: &str, signing: &str) {
    let d = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let env = ok(&[
        "enroll",
        "--domain",
        "chat.example",
        "--root-key",
        &d("root"),
        "--signing-key",
        &d(signing),
        "--log",
        log,
    ]);
    assert!(env.contains("\"index\":0"), "{env}");
}

#[test]
fn monitor_follows_restarts_outages_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    for key in ["root", "signing1", "signing2"] {
        ok(&["keygen", "--name", key, "--out", &d(key)]);
    }
    let doc = ok(&[
        "well-known",
        "--domain",
        "chat.example",
        "--root-key",
        &d("root"),
    ]);
    let well_known = serve_well_known(doc).unwrap();
    let a_dir = dir.path().join("a");
    std::fs::create_dir(&a_dir).unwrap();
    let port = free_port();
    let log = Log::start(&a_dir, port, None, &well_known);
    let url = log.url.clone();
    let policy = dir.path().join("policy");
    std::fs::write(&policy, format!("log {} {url}\nquorum none\n", log.vkey)).unwrap();
    let state = dir.path().join("state");

    enroll(dir.path(), &url, "signing1");
    let (hook, posted) = webhook();
    let monitor = Monitor::start(&url, &policy, &state, &["--webhook", &hook]);
    let enrolled = monitor.wait_for("vendor_enrolled");
    assert_eq!(enrolled["entry"]["domain"], "chat.example");

    publish(
        dir.path(),
        &url,
        "v1",
        &draft("data-handling-1.json", now()),
        "signing1",
    );
    let new = monitor.wait_for("new_claim");
    assert_eq!(new["entry"]["service"], "messenger");
    assert_eq!(new["entry"]["logIndex"], 1);
    assert!(new["checkpoint"]["size"].as_u64().unwrap() >= 2, "{new}");

    let later = now() + 31 * 86400;
    publish(
        dir.path(),
        &url,
        "v2",
        &draft("data-handling-2.json", later),
        "signing1",
    );
    let weakened = monitor.next_event();
    assert_eq!(weakened["event"], "claim_weakened", "{weakened}");
    assert_eq!(weakened["previous"]["logIndex"], 1);
    let diff = weakened["diff"].to_string();
    assert!(
        diff.contains("retention.server.max") && diff.contains("P30D"),
        "{diff}"
    );
    assert_eq!(monitor.next_event()["event"], "claim_withdrawn");
    // The webhook got the same events, in order.
    let mut names = Vec::new();
    while names.len() < 4 {
        let body = posted.recv_timeout(DEADLINE).expect("webhook POST in time");
        let v: Value = serde_json::from_str(&body).unwrap();
        names.push(v["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        names,
        [
            "vendor_enrolled",
            "new_claim",
            "claim_weakened",
            "claim_withdrawn"
        ]
    );
    drop(monitor);

    // A restart reports nothing it reported before.
    assert_eq!(monitor_once(&url, &policy, &state), Vec::<Value>::new());

    // The log goes down: reported once, then its recovery.
    let monitor = Monitor::start(&url, &policy, &state, &[]);
    log.kill();
    let down = monitor.wait_for("log_unreachable");
    assert_eq!(down["checkpoint"]["size"], 3, "{down}");
    let log = Log::start(&a_dir, port, None, &well_known);
    monitor.wait_for("log_recovered");
    drop(monitor);
    log.kill();

    // Another process with the same key and origin, another history, at the
    // same URL: the monitor's saved checkpoint exposes it.
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&b_dir).unwrap();
    let key = a_dir.join("data").join("log.key");
    let evil = Log::start(&b_dir, port, Some(&key), &well_known);
    assert_eq!(
        evil.vkey,
        std::fs::read_to_string(&policy)
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
    );
    enroll(dir.path(), &url, "signing2");
    // Three versions that change nothing but their dates (no notice needed).
    for name in ["e1", "e2", "e3"] {
        publish(
            dir.path(),
            &url,
            name,
            &draft("data-handling-1.json", now()),
            "signing2",
        );
    }
    let events = monitor_once(&url, &policy, &state);
    assert_eq!(events.len(), 1, "{events:?}");
    let fork = &events[0];
    assert_eq!(fork["event"], "fork_detected", "{fork}");
    assert_eq!(fork["source"], "log");
    assert!(fork["ours"].as_str().unwrap().contains("\n3\n"), "{fork}");
    assert!(fork["theirs"].as_str().unwrap().contains("\n4\n"), "{fork}");
    assert!(
        fork["reason"]
            .as_str()
            .unwrap()
            .contains("not an extension"),
        "{fork}"
    );
    // Reported once: the next run stays quiet.
    assert_eq!(monitor_once(&url, &policy, &state), Vec::<Value>::new());
}
