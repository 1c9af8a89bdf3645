//! Running `claimlog monitor` as a real process: its stdout events (JSON
//! lines) collected by a thread, its stderr in a file, waiting for events
//! with a deadline; and one-shot runs (`--once`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

use crate::DEADLINE;
use crate::binary::claimlog_binary;
use crate::cli::{path_str, run};

/// A running `claimlog monitor`. Dropping it kills it.
pub struct Monitor {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: PathBuf,
}

impl Monitor {
    /// Starts `claimlog monitor --log LOG --policy POLICY --state STATE
    /// EXTRA...`; its stderr goes to `STATE.stderr`.
    pub fn start(
        log: &str,
        policy: &Path,
        state: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Monitor> {
        let stderr = state.with_extension("stderr");
        let mut child = Command::new(claimlog_binary())
            .args(["monitor", "--log", log, "--policy", path_str(policy)?])
            .args(["--state", path_str(state)?])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .context("spawning claimlog monitor")?;
        let stdout = child.stdout.take().context("stdout was not piped")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        Ok(Monitor {
            child,
            lines,
            stderr,
        })
    }

    /// Every event so far, parsed; a line that is not JSON is an error.
    pub fn events(&self) -> anyhow::Result<Vec<Value>> {
        let lines = self
            .lines
            .lock()
            .map_err(|_| anyhow::anyhow!("monitor output lock poisoned"))?
            .clone();
        parse_events(&lines.join("\n"))
    }

    /// The monitor's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits, at most [`DEADLINE`], until `done` holds for the events
    /// so far; returns them. Fails early if the monitor exits.
    pub fn wait_until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let events = self.events()?;
            if done(&events) {
                return Ok(events);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "monitor exited ({status}) before {what}:\n{}",
                    self.stderr()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out waiting for {what}; events {events:?}\nstderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the first event named `name` matching `pred`; returns it.
    pub fn wait_for(
        &mut self,
        name: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let events =
            self.wait_until(name, |es| es.iter().any(|e| e["event"] == name && pred(e)))?;
        events
            .into_iter()
            .find(|e| e["event"] == name && pred(e))
            .context("event vanished")
    }

    /// Waits for the event `name` about entry `index`.
    pub fn wait_for_entry(&mut self, name: &str, index: u64) -> anyhow::Result<Value> {
        self.wait_for(name, |e| e["entry"]["logIndex"] == index)
    }

    /// SIGKILL and reap (no chance to finish anything: a crash).
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JSON lines, parsed.
fn parse_events(text: &str) -> anyhow::Result<Vec<Value>> {
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("monitor printed {l:?}")))
        .collect()
}

/// `claimlog monitor --once --log LOG --policy POLICY --state STATE EXTRA...`:
/// its events and stderr, expecting exit 0.
pub fn monitor_once(
    log: &str,
    policy: &Path,
    state: &Path,
    extra: &[&str],
) -> anyhow::Result<(Vec<Value>, String)> {
    let mut args = vec![
        "monitor",
        "--once",
        "--log",
        log,
        "--policy",
        path_str(policy)?,
        "--state",
        path_str(state)?,
    ];
    args.extend_from_slice(extra);
    let out = run(&args)?;
    let stdout = String::from_utf8(out.stdout)?;
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(
        out.status.success(),
        "monitor --once failed ({}): {stdout}{stderr}",
        out.status
    );
    Ok((parse_events(&stdout)?, stderr))
}

/// The names of `events`, in order.
pub fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?").to_owned())
        .collect()
}
