//! Running the real `claimlog-witness` binary on loopback ([`TestWitness`]):
//! a temp directory with its key (made by `claimlog-witness keygen`), its
//! data directory and its stderr log; start, SIGTERM, SIGKILL, and restart
//! from the same data directory on the same address (the log's policy names
//! the witness by URL, so a restarted witness must come back where it was).
//!
//! Only the stable interface of the binary is used:
//! `keygen --name NAME --out FILE` (prints the vkey) and
//! `serve --data-dir DIR --listen ADDR --key FILE --log ORIGIN=VKEY...`
//! (prints `witness vkey ...`, then `listening on ADDR`).

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use crate::binary::build;
use crate::server::{spawn_announced, terminate_child};

/// The environment variable naming a prebuilt `claimlog-witness` binary.
pub const WITNESS_BIN_ENV: &str = "CLAIMLOG_WITNESS_BIN";

/// How long a witness may take to print its listening address (or to
/// rebind its old port on restart).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the `claimlog-witness` binary, building it on first use
/// (like [`crate::binary::claimlog_binary`]).
///
/// # Panics
/// If the build fails: every test that needs the binary fails loudly.
pub fn witness_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os(WITNESS_BIN_ENV) {
        Some(p) => PathBuf::from(p),
        None => build("claimlog-witness", "claimlog-witness").unwrap_or_else(|e| panic!("{e}")),
    })
}

/// The monitoring path of a log at a witness: `/<hex sha256(origin)>/checkpoint`
/// (tlog-witness §"Monitoring", specs.md §5.4).
pub fn monitoring_path(origin: &str) -> String {
    format!(
        "/{}/checkpoint",
        hex::encode(Sha256::digest(origin.as_bytes()))
    )
}

/// A witness: its files and, while running, its process.
pub struct TestWitness {
    dir: tempfile::TempDir,
    name: String,
    vkey: String,
    logs: Vec<String>,
    addr: Option<SocketAddr>,
    child: Option<Child>,
    starts: u32,
}

impl TestWitness {
    /// A new witness named `name` (its cosigner key name) trusting `logs`,
    /// each `ORIGIN=VKEY`. Generates its key; does not start it.
    pub fn new(name: &str, logs: &[String]) -> anyhow::Result<TestWitness> {
        let dir = tempfile::Builder::new()
            .prefix("claimlog-witness-e2e")
            .tempdir()?;
        let key = dir.path().join("witness.key");
        let out = Command::new(witness_binary())
            .args(["keygen", "--name", name, "--out"])
            .arg(&key)
            .stdin(Stdio::null())
            .output()
            .context("running claimlog-witness keygen")?;
        if !out.status.success() {
            bail!(
                "claimlog-witness keygen failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let vkey = String::from_utf8(out.stdout)?.trim_end().to_owned();
        if vkey.lines().count() != 1 || !vkey.starts_with(&format!("{name}+")) {
            bail!("keygen printed {vkey:?}, not one vkey line");
        }
        Ok(TestWitness {
            dir,
            name: name.to_owned(),
            vkey,
            logs: logs.to_vec(),
            addr: None,
            child: None,
            starts: 0,
        })
    }

    /// The cosigner name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosigner verifier key (type 0x04), as `keygen` printed it.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The data directory (kept across restarts).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The accumulated stderr of every start.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("witness.log")
    }

    /// The last `n` lines of the witness log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        crate::cli::tail_lines(&self.log_path(), n)
    }

    /// The base URL (also its submission and monitoring prefix),
    /// `http://127.0.0.1:<port>`; known once it has started.
    pub fn url(&self) -> anyhow::Result<String> {
        match self.addr {
            Some(a) => Ok(format!("http://{a}")),
            None => bail!("witness {} has never started", self.name),
        }
    }

    /// A tlog-policy line for this witness under the policy-local `name`.
    pub fn policy_line(&self, name: &str) -> anyhow::Result<String> {
        Ok(format!("witness {name} {} {}\n", self.vkey, self.url()?))
    }

    /// Whether the process is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process ID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts `claimlog-witness serve`: on a free port the first time, on
    /// the same address afterwards (retrying while the port is still in
    /// TIME_WAIT or briefly taken), and waits for its start-up lines.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("witness {} is already running", self.name);
        }
        let listen = self
            .addr
            .map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn(&listen) {
                Ok(()) => return Ok(()),
                // The old port may not be bindable yet; try again.
                Err(_) if Instant::now() < deadline && self.addr.is_some() => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(e.context(format!("witness log:\n{}", self.log_tail(30))));
                }
            }
        }
    }

    fn spawn(&mut self, listen: &str) -> anyhow::Result<()> {
        self.starts += 1;
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        writeln!(log, "===== start {} =====", self.starts)?;
        let mut cmd = Command::new(witness_binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen", listen])
            .arg("--key")
            .arg(self.dir.path().join("witness.key"));
        for l in &self.logs {
            cmd.args(["--log", l]);
        }
        cmd.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let (mut child, vkey, addr) = spawn_announced(cmd, "witness vkey ")?;
        if vkey != self.vkey {
            let _ = child.kill();
            let _ = child.wait();
            bail!("witness started with vkey {vkey}, expected {}", self.vkey);
        }
        self.addr = Some(addr);
        self.child = Some(child);
        Ok(())
    }

    /// SIGTERM and wait (at most `timeout`) for the exit status.
    pub fn stop(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let Some(c) = self.child.take() else {
            bail!("witness {} is not running", self.name);
        };
        terminate_child(c, timeout).with_context(|| format!("witness {}", self.name))
    }

    /// SIGKILL and reap (no-op when not running).
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for TestWitness {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `n` witnesses, `witness<i>.example/w`, each trusting the log
/// [`crate::server::ORIGIN`] with key `log_vkey`; returns them and a
/// tlog-policy naming the log, each witness as `w<i>` with its URL, and a
/// quorum of `quorum` of them (a group `quorum-of-n`).
pub fn start_witnesses(
    log_vkey: &str,
    n: usize,
    quorum: usize,
) -> anyhow::Result<(Vec<TestWitness>, String)> {
    let trusted = [format!("{}={log_vkey}", crate::server::ORIGIN)];
    let mut witnesses = Vec::new();
    let mut policy = format!("log {log_vkey}\n");
    let mut names = Vec::new();
    for i in 1..=n {
        let mut w = TestWitness::new(&format!("witness{i}.example/w"), &trusted)?;
        w.start()?;
        policy.push_str(&w.policy_line(&format!("w{i}"))?);
        names.push(format!("w{i}"));
        witnesses.push(w);
    }
    policy.push_str(&format!(
        "group quorum {quorum} {}\nquorum quorum\n",
        names.join(" ")
    ));
    Ok((witnesses, policy))
}
