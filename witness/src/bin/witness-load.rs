//! `witness-load`: add-checkpoint requests per second for one witness
//! serving many logs, durably (sled, flushed before every 200).
//!
//! It starts a witness in-process on 127.0.0.1:0 with a fresh data
//! directory, simulates `--logs` logs that each grow by one entry per round
//! for `--rounds` rounds, pre-builds every request (signed checkpoint plus
//! consistency proof from the previous size), then sends them over HTTP
//! with `--concurrency` client tasks, each owning a subset of the logs and
//! sending that subset's requests in order. Every answer must be a 200;
//! all cosignatures are verified after the clock stops.
//!
//! Usage: `cargo run --release -p claimlog-witness --bin witness-load --
//! [--logs 100] [--rounds 40] [--concurrency 50]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;

use claimlog::checkpoint::Checkpoint;
use claimlog::cosignature::CosignerKey;
use claimlog::note::KeyName;
use claimlog::witness_wire::parse_cosignatures;
use claimlog_witness::sim::SimLog;
use claimlog_witness::{LogSet, ServeConfig, serve};

#[derive(Parser)]
#[command(about = "Measure add-checkpoint requests/s for one witness serving many logs")]
struct Args {
    /// Number of logs the witness serves.
    #[arg(long, default_value_t = 100)]
    logs: usize,
    /// Checkpoints per log.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.logs > 0 && args.rounds > 0 && args.concurrency > 0,
        "all counts must be > 0"
    );
    let data_dir = std::env::temp_dir().join(format!(
        "witness-load-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let key = CosignerKey::from_seed(KeyName::new("load.example/witness")?, [9; 32])?;
    let verifier = key.verifier();

    // Build every request up front so the timed part is the witness.
    let mut logs = LogSet::new();
    let mut per_log: Vec<Vec<Vec<u8>>> = Vec::with_capacity(args.logs);
    let mut checkpoints: Vec<Vec<Checkpoint>> = Vec::with_capacity(args.logs);
    for i in 0..args.logs {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let mut log = SimLog::new(&format!("load.example/log{i}"), seed);
        logs.add(None, &log.vkey())?;
        let mut reqs = Vec::with_capacity(args.rounds);
        let mut cps = Vec::with_capacity(args.rounds);
        for r in 0..args.rounds {
            let old = log.size();
            log.append(format!("log {i} entry {r}").as_bytes());
            let req = log.request(old);
            reqs.push(req.to_bytes());
            cps.push(req.checkpoint().clone());
        }
        per_log.push(reqs);
        checkpoints.push(cps);
    }
    let total = args.logs * args.rounds;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (elapsed, mut latencies, answers) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/add-checkpoint", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = ServeConfig {
            logs,
            key,
            data_dir: data_dir.clone(),
        };
        let server = tokio::spawn(serve(config, listener, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?;
        // Worker w owns logs w, w + c, w + 2c, ... and sends them round by
        // round, so each log's requests arrive in order.
        let per_log = Arc::new(per_log);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..args.concurrency.min(args.logs) {
            let (client, url, per_log) = (client.clone(), url.clone(), per_log.clone());
            let c = args.concurrency;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut answers = Vec::new();
                for r in 0..per_log[0].len() {
                    for (i, reqs) in per_log.iter().enumerate().skip(w).step_by(c) {
                        let t = Instant::now();
                        let resp = client.post(&url).body(reqs[r].clone()).send().await?;
                        let status = resp.status();
                        let body = resp.bytes().await?;
                        lat.push(t.elapsed());
                        if !status.is_success() {
                            bail!(
                                "log {i} round {r}: {status}: {}",
                                String::from_utf8_lossy(&body)
                            );
                        }
                        answers.push((i, r, body));
                    }
                }
                anyhow::Ok((lat, answers))
            }));
        }
        let mut latencies: Vec<Duration> = Vec::with_capacity(total);
        let mut answers = Vec::with_capacity(total);
        for t in tasks {
            let (lat, ans) = t.await??;
            latencies.extend(lat);
            answers.extend(ans);
        }
        let elapsed = start.elapsed();
        let _ = stop.send(());
        server.await??;
        anyhow::Ok((elapsed, latencies, answers))
    })?;

    ensure!(
        answers.len() == total,
        "{} answers for {total} requests",
        answers.len()
    );
    for (i, r, body) in &answers {
        let sigs = parse_cosignatures(body).context("parsing a cosignature response")?;
        ensure!(sigs.len() == 1, "log {i} round {r}: {} lines", sigs.len());
        verifier
            .verify(&checkpoints[*i][*r], &sigs[0])
            .with_context(|| format!("log {i} round {r}: cosignature does not verify"))?;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "witness-load: {} logs x {} rounds = {total} add-checkpoint requests, concurrency {}",
        args.logs, args.rounds, args.concurrency
    );
    println!(
        "  {:.0} requests/s ({:.2} s); latency p50 {:.2} ms, p99 {:.2} ms; all 200, all cosignatures verified",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
