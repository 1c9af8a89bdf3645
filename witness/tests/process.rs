//! Real-process tests: the built `claimlog-witness` binary on loopback.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use claimlog::checkpoint::{Checkpoint, Origin};
use claimlog::cosignature::CosignatureVerifier;
use claimlog::note::Note;
use claimlog::witness_wire::{SIZE_CONTENT_TYPE, parse_cosignatures};
use claimlog_witness::http::origin_hash;
use claimlog_witness::sim::SimLog;

const BIN: &str = env!("CARGO_BIN_EXE_claimlog-witness");

/// A running witness process and what it printed on start-up.
struct Running {
    child: Child,
    url: String,
    vkey: CosignatureVerifier,
}

impl Running {
    fn start(dir: &Path, log: &SimLog) -> Running {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--name",
                "test.example/witness",
            ])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--key")
            .arg(dir.join("witness.key"))
            .arg("--log")
            .arg(format!("{}={}", log.origin(), log.vkey()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let vkey = lines.next().unwrap().unwrap();
        let vkey = vkey.strip_prefix("witness vkey ").unwrap();
        let addr = lines.next().unwrap().unwrap();
        let addr = addr.strip_prefix("listening on ").unwrap();
        Running {
            child,
            url: format!("http://{addr}"),
            vkey: CosignatureVerifier::parse(vkey).unwrap(),
        }
    }

    /// Graceful stop (SIGTERM) and wait for a clean exit.
    fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "witness exited with {exit}");
    }

    /// Hard stop (SIGKILL): acknowledged state must survive.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn add(&self, body: Vec<u8>) -> (u16, String, String) {
        let resp = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ctype, resp.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Sends the log's current checkpoint from `old` and checks the
    /// cosignature it gets back.
    async fn cosign(&self, log: &SimLog, old: u64) {
        let req = log.request(old);
        let (status, _, body) = self.add(req.to_bytes()).await;
        assert_eq!(status, 200, "{body}");
        let sigs = parse_cosignatures(body.as_bytes()).unwrap();
        let ts = self.vkey.verify(req.checkpoint(), &sigs[0]).unwrap();
        assert!(ts > 1_600_000_000, "timestamp {ts}");
    }
}

fn grow(log: &mut SimLog, to: u64, tag: &str) {
    while log.size() < to {
        log.append(format!("{tag} {}", log.size()).as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn witness_process_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SimLog::new("process.example/log", [1; 32]);
    let w = Running::start(dir.path(), &log);
    assert_eq!(w.get("/healthz").await, (200, "ok\n".to_owned()));
    let monitor = format!("/{}/checkpoint", origin_hash(log.origin()));
    assert_eq!(w.get(&monitor).await.0, 404, "never cosigned yet");

    // Cosign a sequence: 3, 5, 9.
    grow(&mut log, 3, "honest");
    w.cosign(&log, 0).await;
    grow(&mut log, 5, "honest");
    w.cosign(&log, 3).await;
    grow(&mut log, 9, "honest");
    w.cosign(&log, 5).await;

    // A client that does not know the witness's size: 409, then retry.
    grow(&mut log, 12, "honest");
    let (status, ctype, body) = w.add(log.request(0).to_bytes()).await;
    assert_eq!(
        (status, ctype.as_str(), body.as_str()),
        (409, SIZE_CONTENT_TYPE, "9\n")
    );
    w.cosign(&log, 9).await;

    // The monitoring endpoint serves the full cosigned checkpoint.
    let (status, text) = w.get(&monitor).await;
    assert_eq!(status, 200);
    let note = Note::parse(text.as_bytes()).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    assert_eq!(cp.size(), 12);
    assert_eq!(note.signatures().len(), 2, "log signature + cosignature");
    w.vkey.verify(&cp, &note.signatures()[1]).unwrap();
    let other = origin_hash(&Origin::new("unknown.example/log").unwrap());
    assert_eq!(w.get(&format!("/{other}/checkpoint")).await.0, 404);
    assert_eq!(w.get("/not-hex/checkpoint").await.0, 404);

    // Unknown origin, garbage body, oversize body.
    let stranger = SimLog::new("unknown.example/log", [2; 32]);
    let mut stranger = stranger;
    stranger.append(b"x");
    assert_eq!(w.add(stranger.request(0).to_bytes()).await.0, 404);
    assert_eq!(w.add(b"old 01\n\n".to_vec()).await.0, 400);
    assert_eq!(w.add(vec![b'a'; (1 << 20) + (64 << 10) + 1]).await.0, 413);

    // Graceful restart keeps the state.
    w.terminate();
    let w = Running::start(dir.path(), &log);
    let (status, _, body) = w.add(log.request(0).to_bytes()).await;
    assert_eq!((status, body.as_str()), (409, "12\n"));
    grow(&mut log, 13, "honest");
    w.cosign(&log, 12).await;

    // SIGKILL right after an acknowledged cosignature: it survives.
    w.kill();
    let w = Running::start(dir.path(), &log);
    assert_eq!(w.get(&monitor).await.0, 200);
    let (status, _, body) = w.add(log.request(0).to_bytes()).await;
    assert_eq!((status, body.as_str()), (409, "13\n"));

    // A forked log (same key and origin, different history) is refused and
    // the evidence is served.
    let mut fork = SimLog::new("process.example/log", [1; 32]);
    grow(&mut fork, 13, "forked");
    let (status, _, body) = w.add(fork.request(0).to_bytes()).await;
    assert_eq!((status, body.as_str()), (409, "13\n"));
    assert_eq!(w.add(fork.request(13).to_bytes()).await.0, 422);
    grow(&mut fork, 20, "forked");
    assert_eq!(w.add(fork.request(13).to_bytes()).await.0, 422);
    let (status, json) = w.get("/v1/evidence").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let evidence = json["evidence"].as_array().unwrap();
    let kinds: Vec<&str> = evidence
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["same-size-different-root", "consistency-proof-failed"]
    );
    for e in evidence {
        assert_eq!(e["origin"], "process.example/log");
        // Both notes are kept whole and carry the log's signature.
        for field in ["cosigned", "conflicting"] {
            let note = Note::parse(e[field].as_str().unwrap().as_bytes()).unwrap();
            assert_eq!(note.signatures()[0].name().as_str(), "process.example/log");
        }
    }
    // The cosigned state did not move.
    let (_, text) = w.get(&monitor).await;
    let note = Note::parse(text.as_bytes()).unwrap();
    assert_eq!(Checkpoint::parse(note.text()).unwrap().size(), 13);

    let (status, metrics) = w.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("witness_http_requests_total{route=\"/add-checkpoint\",status=\"422\"} 2")
    );
    assert!(metrics.contains("witness_evidence_total{outcome=\"added\"} 2"));
    w.terminate();
}

#[test]
fn keygen_add_log_and_list_logs() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("w.key");
    let out = Command::new(BIN)
        .args(["keygen", "--name", "keygen.example/w1", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let vkey = stdout.strip_suffix('\n').unwrap();
    assert!(!vkey.contains('\n'), "prints only the vkey");
    let parsed = CosignatureVerifier::parse(vkey).unwrap();
    assert_eq!(parsed.key().name().as_str(), "keygen.example/w1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwrites a key.
    let again = Command::new(BIN)
        .args(["keygen", "--name", "keygen.example/w1", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let config = dir.path().join("witness.toml");
    let log = SimLog::new("listed.example/log", [3; 32]);
    let add = |vkey: &str| {
        Command::new(BIN)
            .args(["add-log", "--vkey", vkey, "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    assert!(add(&log.vkey()).status.success());
    assert!(!add(&log.vkey()).status.success(), "duplicate key refused");
    assert!(!add("not a vkey").status.success());
    let list = Command::new(BIN)
        .args(["list-logs", "--config"])
        .arg(&config)
        .arg("--log-list")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../spec/vectors/witness/witness-network-testing-log-list.txt"
        ))
        .output()
        .unwrap();
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).unwrap();
    assert_eq!(text.lines().count(), 10);
    assert!(text.contains("listed.example/log\t"));
    assert!(text.contains("vindex.gopherwatch.org\taf4f4f3a\tvindex.gopherwatch.org+af4f4f3a+"));
}
