//! Running `claimlog serve` as a real process on loopback: a temp data
//! directory and config file ([`TestLog`]), start / SIGKILL / SIGTERM /
//! restart ([`Server`]), with the server's stderr kept in a log file for
//! failure messages.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::binary::claimlog_binary;
use crate::client::Client;

/// The origin of every [`TestLog`] (a log key made for one is named after it).
pub const ORIGIN: &str = "example.com/e2e";

/// How long a server may take to print its listening address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A log's files: a temp directory holding `data/` (the data directory with
/// the log key generated on first start), `config.toml` and `server.log`.
pub struct TestLog {
    dir: tempfile::TempDir,
    starts: u32,
}

impl TestLog {
    /// A new log allowing `submitters` (vkey strings); `extra_toml` is
    /// appended to the config file (e.g. `checkpoint_interval_ms = 100`).
    pub fn new(submitters: &[String], extra_toml: &str) -> anyhow::Result<TestLog> {
        let dir = tempfile::Builder::new().prefix("claimlog-e2e").tempdir()?;
        let data = dir.path().join("data");
        let allow = serde_json::to_string(submitters)?;
        let config = format!(
            "data_dir = {}\norigin = {}\nallow_submitters = {allow}\n{extra_toml}\n",
            toml_string(&data)?,
            serde_json::to_string(ORIGIN)?
        );
        std::fs::write(dir.path().join("config.toml"), config)?;
        Ok(TestLog { dir, starts: 0 })
    }

    /// A log in domain admission mode (spec/vendor.md) fetching each
    /// vendor's well-known document from its `(domain, base URL)`, batching
    /// and publishing fast (20 ms, 50 ms), signing with the key file `key`
    /// (`None`: generated on first start); `extra_toml` is appended.
    pub fn domain(
        vendors: &[(&str, &str)],
        key: Option<&Path>,
        extra_toml: &str,
    ) -> anyhow::Result<TestLog> {
        let map = vendors
            .iter()
            .map(|(d, url)| {
                Ok(format!(
                    "{} = {}",
                    serde_json::to_string(d)?,
                    serde_json::to_string(url)?
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(", ");
        let key_line = match key {
            Some(k) => format!("key_file = {}\n", toml_string(k)?),
            None => String::new(),
        };
        TestLog::new(
            &[],
            &format!(
                "admission = \"domain\"\nwell_known_base_urls = {{ {map} }}\n\
                 batch_interval_ms = 20\ncheckpoint_interval_ms = 50\n{key_line}{extra_toml}"
            ),
        )
    }

    /// The log's signer key file (generated on first start unless the
    /// config names one).
    pub fn key_path(&self) -> PathBuf {
        self.data_dir().join("log.key")
    }

    /// The temp directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// The server's accumulated stderr (every start appends).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The last `n` lines of the server log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        crate::cli::tail_lines(&self.log_path(), n)
    }

    /// Starts `claimlog serve --config <config> --listen 127.0.0.1:0` and
    /// waits for its two start-up lines.
    pub fn start(&mut self) -> anyhow::Result<Server> {
        self.starts += 1;
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        writeln!(log, "===== start {} =====", self.starts)?;
        let mut cmd = Command::new(claimlog_binary());
        cmd.arg("serve")
            .arg("--config")
            .arg(self.config_path())
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let started = Server::spawn(cmd);
        started.with_context(|| format!("server log:\n{}", self.log_tail(30)))
    }
}

/// A TOML basic string for a path.
fn toml_string(p: &Path) -> anyhow::Result<String> {
    let s = p
        .to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))?;
    Ok(serde_json::to_string(s)?)
}

/// A running `claimlog serve` process. Dropping it SIGKILLs it.
pub struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    vkey: String,
}

impl Server {
    /// Spawns `cmd` (stdout piped) and reads `vkey ...` and
    /// `listening on ...` from it; a thread keeps draining stdout so that
    /// the server never writes into a closed pipe.
    pub fn spawn(cmd: Command) -> anyhow::Result<Server> {
        let (child, vkey, addr) = spawn_announced(cmd, "vkey ")?;
        Ok(Server {
            child: Some(child),
            addr,
            vkey,
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The log's verifier key, as printed at start-up.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM (graceful shutdown) and wait for the exit status, at most
    /// `timeout`; a server still running then is killed and reported.
    pub fn terminate(mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let Some(c) = self.child.take() else {
            bail!("server already stopped");
        };
        terminate_child(c, timeout).context("server")
    }
}

/// Polls `<url>/checkpoint` until its tree size is at least `size`, for at
/// most a minute; returns the note.
pub fn wait_for_checkpoint(url: &str, size: u64) -> anyhow::Result<String> {
    let client = Client::new(url)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let r = client.get("/checkpoint")?;
        if r.status == 200 {
            let note = r.text();
            if note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size) {
                return Ok(note);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{url}: no checkpoint of size {size} in time (last: {})",
                r.text()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM `child` (a graceful shutdown) and wait for its exit status, at
/// most `timeout`; a process still running then is killed and reported.
pub fn terminate_child(mut c: Child, timeout: Duration) -> anyhow::Result<ExitStatus> {
    let status = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -TERM failed: {status}");
    }
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = c.try_wait()? {
            return Ok(s);
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            let _ = c.wait();
            bail!("did not exit within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spawns `cmd` (stdout piped) and waits, at most [`START_TIMEOUT`], for the
/// two start-up lines every server in this repository prints (and the Go
/// interop witness copies): `<vkey_prefix><vkey>` and then
/// `listening on <addr>`. A thread keeps draining stdout afterwards so that
/// the process never writes into a closed pipe. Returns the child, the vkey
/// and the address; on failure the child is killed.
pub fn spawn_announced(
    mut cmd: Command,
    vkey_prefix: &str,
) -> anyhow::Result<(Child, String, SocketAddr)> {
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawning {:?}", cmd.get_program()))?;
    let Some(stdout) = child.stdout.take() else {
        bail!("stdout was not piped");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The receiver stops listening after the start-up lines.
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let read = || -> anyhow::Result<(String, SocketAddr)> {
        let mut vkey = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .map_err(|e| anyhow::anyhow!("no start-up line ({e})"))?;
            if let Some(v) = line.strip_prefix(vkey_prefix) {
                vkey = Some(v.to_owned());
            } else if let Some(a) = line.strip_prefix("listening on ") {
                let addr = a.parse::<SocketAddr>().context("listening address")?;
                let vkey = vkey.with_context(|| format!("no {vkey_prefix:?} line"))?;
                return Ok((vkey, addr));
            } else {
                bail!("unexpected start-up line {line:?}");
            }
        }
    };
    match read() {
        Ok((vkey, addr)) => Ok((child, vkey, addr)),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait().ok();
            Err(e.context(format!("process did not start; exit status {status:?}")))
        }
    }
}
