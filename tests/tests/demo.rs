//! The one-command demo (`scripts/demo.sh`, issue 6 "Demo") runs to the end:
//! with `CLAIMLOG_BIN_DIR` naming the binaries this test crate builds, it
//! exits 0, prints every command it runs, shows the refused and then the
//! accepted weakening in `claimlog history`, and verifies the evidence
//! bundle offline (and refuses a tampered one). It also leaves no process
//! behind.

use std::process::Command;

use anyhow::{Context as _, ensure};

use claimlog_tests::binary::claimlog_binary;
use claimlog_tests::repo_root;
use claimlog_tests::witness::witness_binary;

#[test]
fn demo_script_runs_end_to_end() -> anyhow::Result<()> {
    let bin_dir = claimlog_binary()
        .parent()
        .context("the claimlog binary has no directory")?
        .to_path_buf();
    // Builds claimlog-witness into the same directory.
    let witness = witness_binary();
    ensure!(
        witness.parent() == Some(bin_dir.as_path()),
        "claimlog-witness ({}) is not next to claimlog ({})",
        witness.display(),
        bin_dir.display()
    );
    let tmp = tempfile::tempdir()?;
    let out = Command::new("bash")
        .arg(repo_root().join("scripts").join("demo.sh"))
        .env("CLAIMLOG_BIN_DIR", &bin_dir)
        // The demo's temp directory goes under ours, so that the test can
        // check it was removed.
        .env("TMPDIR", tmp.path())
        .env("CLAIMLOG_DEMO_START_TIMEOUT", "120")
        .env_remove("CLAIMLOG_DEMO_KEEP")
        .output()
        .context("running scripts/demo.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "demo.sh failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let expect = |what: &str| -> anyhow::Result<()> {
        ensure!(
            stdout.contains(what),
            "demo output lacks {what:?}:\n{stdout}\n--- stderr\n{stderr}"
        );
        Ok(())
    };
    // Every step prints its command.
    for command in [
        "$ claimlog keygen --name demo.claimlog.example/log",
        "$ claimlog-witness serve --data-dir witness1/data",
        "$ claimlog serve --config log/log.toml --listen 127.0.0.1:0 --witness-policy witnesses.policy &",
        "$ claimlog enroll --log http://127.0.0.1:",
        "$ claimlog sign --key vendor/signing.key vendor/v2.json > vendor/v2.env",
        "$ claimlog history --log http://127.0.0.1:",
        "$ claimlog bundle --log http://127.0.0.1:",
        "$ claimlog verify-bundle --policy witnesses.policy user/claim.bundle",
    ] {
        expect(command)?;
    }
    // The 2-of-3 policy.
    expect("group two-of-three 2 w1 w2 w3\nquorum two-of-three\n")?;
    // The weakening without notice is refused, with the reason.
    ensure!(
        stderr.contains("weakens the claims, so effectiveFrom must be at least"),
        "no notice-period refusal:\n{stderr}"
    );
    expect("(refused, as it should be)")?;
    // History shows the weakening.
    expect("chat-content: retention.server.max PT72H -> P30D (weakened)")?;
    expect("chat-metadata: claim removed (weakened)")?;
    // The bundle verifies offline, after the servers stopped; the tampered
    // one does not, naming the failed check.
    let stopped = stdout
        .find("(log, witnesses and vendor web server stopped)")
        .context("the demo did not stop its servers")?;
    let verified = stdout[stopped..]
        .find("\nVERIFIED\n")
        .context("no VERIFIED after the servers stopped")?;
    ensure!(verified > 0);
    ensure!(
        stderr.contains("FAILED check inclusion"),
        "the tampered bundle was not refused by the inclusion check:\n{stderr}"
    );
    expect("Done: the demo verified a witnessed, weakened claim offline.")?;
    // The demo removed its temp directory.
    let left: Vec<_> = std::fs::read_dir(tmp.path())?.collect();
    ensure!(left.is_empty(), "the demo left {left:?} behind");
    // And it stopped every process it started: the servers ran in the
    // demo's work directory under `tmp`, so no process may still have its
    // working directory there (the script waited for them, so they are not
    // even zombies).
    let mut left = Vec::new();
    for proc_entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(cwd) = std::fs::read_link(proc_entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(tmp.path()) {
            let cmdline = std::fs::read(proc_entry.path().join("cmdline")).unwrap_or_default();
            left.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    ensure!(left.is_empty(), "the demo left processes running: {left:?}");
    Ok(())
}
