//! `claimlog monitor` (spec/monitor.md): reads the policy, builds the
//! configuration and runs [`claimlog::monitor::driver::run`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use super::verify::read_policy;
use claimlog::monitor::driver::{MonitorConfig, run};

/// The flags of `claimlog monitor`.
pub struct MonitorArgs {
    /// `--log`.
    pub log: String,
    /// `--policy`.
    pub policy: PathBuf,
    /// `--state`.
    pub state: PathBuf,
    /// `--watch`, repeatable.
    pub watch: Vec<String>,
    /// `--webhook`.
    pub webhook: Option<String>,
    /// `--once`.
    pub once: bool,
    /// `--interval` seconds.
    pub interval: f64,
    /// `--heartbeat` seconds.
    pub heartbeat: u64,
    /// `--threads`.
    pub threads: Option<usize>,
}

/// Runs the monitor until `--once` completes or the process is stopped.
pub fn monitor(args: MonitorArgs) -> anyhow::Result<()> {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        bail!("--interval must be a positive number of seconds");
    }
    let policy = read_policy(&args.policy)?;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    let config = MonitorConfig {
        log_url: args.log,
        policy,
        state_dir: args.state,
        watch: args.watch,
        webhook: args.webhook,
        once: args.once,
        interval: Duration::from_secs_f64(args.interval),
        heartbeat: Duration::from_secs(args.heartbeat),
        chunk_bundles: 16,
        threads: threads.max(1),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::select! {
            result = run(config) => result.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
