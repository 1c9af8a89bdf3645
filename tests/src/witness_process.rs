//! Witness processes on loopback: the real `claimlog-witness` binary and the
//! Go interop program's `witness` (a witness that is not ours). Both print
//! `witness vkey <cosigner vkey>` and then `listening on <addr>` on start-up,
//! so one type runs either.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use claimlog::cosignature::CosignatureVerifier;

use crate::server::spawn_announced;

/// The `claimlog-witness` binary (see [`crate::witness::witness_binary`]:
/// built once, or taken from `CLAIMLOG_WITNESS_BIN`).
///
/// # Panics
/// If the build fails (the message holds Cargo's output).
pub fn claimlog_witness_binary() -> &'static Path {
    crate::witness::witness_binary()
}

/// A running witness process. Dropping it SIGKILLs it.
pub struct WitnessProcess {
    child: Option<Child>,
    url: String,
    vkey: CosignatureVerifier,
    log_path: PathBuf,
}

impl WitnessProcess {
    /// Starts `claimlog-witness serve` on a free loopback port with its key
    /// (`dir/witness.key`, generated on first start under `name`) and data
    /// directory (`dir/data`) in `dir`, trusting `logs` (origin, log vkey).
    /// Stderr goes to `dir/witness.log`.
    pub fn start_claimlog(
        dir: &Path,
        name: &str,
        logs: &[(String, String)],
    ) -> anyhow::Result<WitnessProcess> {
        let mut cmd = Command::new(claimlog_witness_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--name", name])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--key")
            .arg(dir.join("witness.key"))
            .env("RUST_LOG", "warn");
        for (origin, vkey) in logs {
            cmd.arg("--log").arg(format!("{origin}={vkey}"));
        }
        WitnessProcess::spawn(cmd, dir)
    }

    /// Starts the Go program's `witness` (`claimlog-interop` at `go`) on a
    /// free loopback port with its state (cosigner key and `state.json`) in
    /// `dir/state`, trusting the logs `log_vkeys` (their names are the
    /// origins). Stderr goes to `dir/witness.log`.
    pub fn start_go(go: &Path, dir: &Path, log_vkeys: &[String]) -> anyhow::Result<WitnessProcess> {
        let mut cmd = Command::new(go);
        cmd.args(["witness", "-listen", "127.0.0.1:0", "-state"])
            .arg(dir.join("state"));
        for vkey in log_vkeys {
            cmd.arg("-log").arg(vkey);
        }
        WitnessProcess::spawn(cmd, dir)
    }

    fn spawn(mut cmd: Command, dir: &Path) -> anyhow::Result<WitnessProcess> {
        std::fs::create_dir_all(dir)?;
        let log_path = dir.join("witness.log");
        let log = File::options().create(true).append(true).open(&log_path)?;
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        let tail = |e: anyhow::Error| {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            e.context(format!("witness log:\n{text}"))
        };
        let (mut child, vkey, addr) = spawn_announced(cmd, "witness vkey ").map_err(tail)?;
        let vkey = match CosignatureVerifier::parse(&vkey) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(tail(anyhow::anyhow!(
                    "witness printed an invalid vkey {vkey:?}: {e}"
                )));
            }
        };
        Ok(WitnessProcess {
            child: Some(child),
            url: format!("http://{addr}"),
            vkey,
            log_path,
        })
    }

    /// The base URL (submission and monitoring prefix), `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The witness's cosigner key, as printed at start-up.
    pub fn vkey(&self) -> &CosignatureVerifier {
        &self.vkey
    }

    /// The witness's stderr so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL and reap: state the witness acknowledged must survive this.
    pub fn kill(mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
