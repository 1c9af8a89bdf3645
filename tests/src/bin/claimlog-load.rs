//! `claimlog-load`: a load generator for `claimlog serve`.
//!
//! - `claimlog-load allowlist --keys K --seed S` prints the TOML
//!   `allow_submitters = [...]` line for the deterministic key set, to append
//!   to the server's config file.
//! - `claimlog-load submit --url URL ...` pre-signs N envelopes (about
//!   `--size` bytes each) with those K keys, submits them over HTTP/1.1
//!   keep-alive with C concurrent connections (optionally paced to
//!   `--rate` per second), polls `/checkpoint`, and prints entries/s,
//!   latency percentiles to sequenced and to published, the server's RSS
//!   and CPU time (`--server-pid`), bytes on disk per entry
//!   (`--data-dir`), and its own CPU per entry.
//! - `claimlog-load tiles --url URL ...` measures `GET /tile/...` requests/s
//!   over the log's full level-0 tiles, with a lean HTTP/1.1 keep-alive
//!   client or (`--protocol h2c`) HTTP/2 with prior knowledge, and reports
//!   its own CPU per request beside the server's.
//! - `claimlog-load claims-config --vendors V --run R --well-known ADDR`
//!   prints the TOML lines (domain admission, well-known base URLs on
//!   loopback) for a log to take the run's vendors; `claimlog-load claims
//!   ...` then serves the vendors' well-known documents at ADDR, enrolls
//!   them, and submits ~3 KiB data-handling statements across
//!   vendors × services series, each version continuing its series, with
//!   the same report as `submit`.
//!
//! The exact commands and figures are in `BENCHMARKS.md`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use claimlog_tests::claims_load::{ClaimsRun, Vendor, Version, config_toml, serve_well_known};
use claimlog_tests::keys::{envelope_json, padding_for, submitters};
use claimlog_tests::tile_load::{self, Fetched, H2Conn, Http1Conn};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "claimlog-load", about = "Load generator for claimlog serve")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Wait {
    /// `?wait=sequenced`: the answer comes when the entry is durable;
    /// publication is observed by polling `/checkpoint`.
    Sequenced,
    /// The default: the answer (receipt) comes once a published checkpoint
    /// covers the entry.
    Published,
}

/// How `tiles` talks to the log.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// HTTP/1.1 keep-alive, one connection per concurrent request.
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3).
    H2c,
}

/// How `submit` and `claims` send their submissions.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Client {
    /// One lean HTTP/1.1 keep-alive connection per concurrent request
    /// (`tile_load::Http1Conn`): the generator shares the server's cores.
    Lean,
    /// reqwest with a connection pool (the client of the figures in
    /// BENCHMARKS.md taken before the lean one).
    Reqwest,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the `allow_submitters = [...]` TOML line for the key set.
    Allowlist {
        /// Number of submitter keys.
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Seed of the deterministic key set.
        #[arg(long, default_value = "claimlog-load")]
        seed: String,
    },
    /// Pre-sign and submit envelopes; report throughput and latency.
    Submit {
        /// The log's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Envelopes to submit.
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Concurrent requests (connections).
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Number of submitter keys (as given to `allowlist`).
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Seed of the key set (as given to `allowlist`).
        #[arg(long, default_value = "claimlog-load")]
        seed: String,
        /// Approximate envelope size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// What each request waits for.
        #[arg(long, value_enum, default_value_t = Wait::Sequenced)]
        wait: Wait,
        /// The HTTP client submissions go through.
        #[arg(long, value_enum, default_value_t = Client::Lean)]
        client: Client,
        /// Target submissions per second (open loop); 0 means as fast as
        /// the connections allow.
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// A name that makes this run's envelopes unique (default: the time).
        #[arg(long)]
        run: Option<String>,
        /// The server's process ID, to report its RSS and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// The server's data directory, to report bytes on disk per entry.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Tokio worker threads of the generator. One is enough for the
        /// pre-signed envelopes (~0.35 of a core at 14,000/s) and leaves
        /// the server more of the shared cores: with two, the generator
        /// spent ~27 µs per entry instead of ~24 (more wake-ups and
        /// cross-thread handoffs).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Print the config lines for a claims run (domain admission).
    ClaimsConfig {
        /// Number of vendors (domains).
        #[arg(long, default_value_t = 200)]
        vendors: usize,
        /// The run's name (vendors' domains and keys derive from it).
        #[arg(long)]
        run: String,
        /// Where `claims` will serve the well-known documents.
        #[arg(long, default_value = "127.0.0.1:18081")]
        well_known: String,
    },
    /// Enroll vendors, then submit series of data-handling statements.
    Claims {
        /// The log's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Statements to submit (enrollments not counted).
        #[arg(long, default_value_t = 50_000)]
        entries: u64,
        /// Concurrent requests (connections); at most vendors × services.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Number of vendors (as given to `claims-config`).
        #[arg(long, default_value_t = 200)]
        vendors: usize,
        /// Services (series) per vendor.
        #[arg(long, default_value_t = 10)]
        services: usize,
        /// The run's name (as given to `claims-config`).
        #[arg(long)]
        run: String,
        /// Address to serve the well-known documents on.
        #[arg(long, default_value = "127.0.0.1:18081")]
        well_known: String,
        /// What each request waits for.
        #[arg(long, value_enum, default_value_t = Wait::Sequenced)]
        wait: Wait,
        /// The HTTP client submissions go through.
        #[arg(long, value_enum, default_value_t = Client::Lean)]
        client: Client,
        /// The server's process ID, to report its RSS and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// The server's data directory, to report bytes on disk per entry.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Tokio worker threads of the generator.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Measure `GET /tile/<0>/<N>` requests per second.
    Tiles {
        /// The log's base URL (`http://host:port`).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Requests to make.
        #[arg(long, default_value_t = 400_000)]
        requests: u64,
        /// Concurrent requests: HTTP/1.1 connections, or HTTP/2 streams
        /// spread over `--connections`.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The protocol.
        #[arg(long, value_enum, default_value_t = Protocol::Http1)]
        protocol: Protocol,
        /// HTTP/2 connections (`--protocol h2c` only).
        #[arg(long, default_value_t = 2)]
        connections: usize,
        /// The server's process ID, to report its RSS and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Tokio worker threads of the generator.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Allowlist { keys, seed } => {
            let vkeys: Vec<String> = submitters(&seed, keys).iter().map(|k| k.vkey()).collect();
            println!("allow_submitters = {}", serde_json::to_string(&vkeys)?);
            Ok(())
        }
        Cmd::Submit {
            url,
            entries,
            concurrency,
            keys,
            seed,
            size,
            wait,
            client,
            rate,
            run,
            server_pid,
            data_dir,
            threads,
        } => {
            let run = run.unwrap_or_else(|| {
                format!(
                    "run-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                )
            });
            let bodies = presign(&seed, keys, &run, entries, size);
            let runtime = runtime(threads)?;
            let setup = SubmitSetup {
                url: url.trim_end_matches('/').to_owned(),
                concurrency,
                wait,
                client,
                rate,
                server_pid,
                data_dir,
            };
            runtime.block_on(submit(setup, Source::Presigned(bodies)))
        }
        Cmd::ClaimsConfig {
            vendors,
            run,
            well_known,
        } => {
            let vendors: Vec<Vendor> = (0..vendors).map(|i| Vendor::derive(&run, i)).collect();
            print!("{}", config_toml(&vendors, &format!("http://{well_known}")));
            Ok(())
        }
        Cmd::Claims {
            url,
            entries,
            concurrency,
            vendors,
            services,
            run,
            well_known,
            wait,
            client,
            server_pid,
            data_dir,
            threads,
        } => {
            if vendors * services < concurrency {
                bail!("need at least as many series (vendors × services) as connections");
            }
            let vendors: Vec<Vendor> = (0..vendors).map(|i| Vendor::derive(&run, i)).collect();
            let setup = SubmitSetup {
                url: url.trim_end_matches('/').to_owned(),
                concurrency,
                wait,
                client,
                rate: 0,
                server_pid,
                data_dir,
            };
            runtime(threads)?.block_on(async {
                serve_well_known(&vendors, &well_known).await?;
                enroll(&setup.url, &vendors).await?;
                let claims = ClaimsRun::new(vendors, services, entries);
                submit(setup, Source::Claims(claims)).await
            })
        }
        Cmd::Tiles {
            url,
            requests,
            concurrency,
            protocol,
            connections,
            server_pid,
            threads,
        } => runtime(threads)?.block_on(tiles(TilesSetup {
            url: url.trim_end_matches('/').to_owned(),
            requests,
            concurrency,
            protocol,
            connections,
            server_pid,
            threads,
        })),
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// Signs `n` envelopes on every core before the clock starts.
fn presign(seed: &str, keys: usize, run: &str, n: u64, size: usize) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let keys = submitters(seed, keys.max(1));
    let padding = padding_for(run, size);
    let threads = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let chunk = n.div_ceil(threads).max(1);
    let bodies: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let keys = &keys;
                s.spawn(move || {
                    let lo = (t * chunk).min(n);
                    let hi = ((t + 1) * chunk).min(n);
                    (lo..hi)
                        .map(|i| envelope_json(&keys[i as usize % keys.len()], run, i, padding))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let avg = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len().max(1);
    eprintln!(
        "pre-signed {} envelopes (avg {avg} bytes) in {:.1} s",
        bodies.len(),
        start.elapsed().as_secs_f64()
    );
    bodies
}

struct SubmitSetup {
    url: String,
    concurrency: usize,
    wait: Wait,
    client: Client,
    rate: u64,
    server_pid: Option<u32>,
    data_dir: Option<PathBuf>,
}

/// One acknowledged submission.
struct Ack {
    index: u64,
    sent: Instant,
    answered: Instant,
}

#[derive(Default)]
struct Outcomes {
    acks: Vec<Ack>,
    busy: u64,
    errors: Vec<String>,
}

/// What `submit` sends.
enum Source {
    /// Pre-signed envelopes, in order.
    Presigned(Vec<Vec<u8>>),
    /// Statements built and signed as their series advance.
    Claims(ClaimsRun),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Presigned(b) => b.len(),
            Source::Claims(c) => c.entries() as usize,
        }
    }

    /// The body of request `i` from `worker`: the series it advances (for
    /// claims) and the envelope with its statement digest.
    fn body(&self, i: usize, worker: usize, round: usize, concurrency: usize) -> Body {
        match self {
            Source::Presigned(b) => Body {
                series: None,
                envelope: b[i].clone(),
            },
            Source::Claims(c) => {
                let (series, envelope) = c.next_version(worker, round, concurrency, unix_now());
                Body {
                    series: Some(series),
                    envelope,
                }
            }
        }
    }

    /// Records that the body's statement is now its series' head.
    fn advanced(&self, body: Body, index: u64) {
        if let (Source::Claims(c), Some(series)) = (self, body.series) {
            c.advanced(series, index);
        }
    }
}

/// One request body.
struct Body {
    /// For claims: the version it is.
    series: Option<Version>,
    envelope: Vec<u8>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Enrolls every vendor (before the clock starts), 32 at a time.
async fn enroll(url: &str, vendors: &[Vendor]) -> anyhow::Result<()> {
    let start = Instant::now();
    let http = http_client(32)?;
    let target = format!("{url}/v1/entries?wait=sequenced");
    let now = unix_now();
    for chunk in vendors.chunks(32) {
        let mut tasks = Vec::new();
        for v in chunk {
            let (http, target, body) = (http.clone(), target.clone(), v.enrollment(now, now - 60));
            let domain = v.domain.clone();
            tasks.push(tokio::spawn(async move {
                post(&http, &target, body)
                    .await
                    .with_context(|| format!("enrolling {domain}"))
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    eprintln!(
        "enrolled {} vendors in {:.1} s",
        vendors.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn submit(setup: SubmitSetup, source: Source) -> anyhow::Result<()> {
    let http = http_client(setup.concurrency)?;
    let source = Arc::new(source);
    let n = source.len();
    let load_before = load_average();
    let own_before = server_cpu(std::process::id());
    let machine_before = machine_ticks();
    let cpu_before = setup.server_pid.and_then(server_cpu);

    // The checkpoint poller: (first seen, size) for every new size.
    let published: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicU64::new(0));
    let poller = tokio::spawn(poll_checkpoints(
        http.clone(),
        setup.url.clone(),
        published.clone(),
        stop.clone(),
    ));

    let next = Arc::new(AtomicUsize::new(0));
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let path = match setup.wait {
        Wait::Sequenced => "/v1/entries?wait=sequenced",
        Wait::Published => "/v1/entries",
    };
    let concurrency = setup.concurrency;
    // Lean connections are opened before the clock starts (reqwest opens
    // its pool's connections on first use).
    let mut posters = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        posters.push(match setup.client {
            Client::Lean => {
                let authority = tile_load::authority(&setup.url)?.to_owned();
                let conn = Http1Conn::connect(&authority).await?;
                Poster::Lean(authority, Some(conn))
            }
            Client::Reqwest => Poster::Reqwest(http.clone(), format!("{}{path}", setup.url)),
        });
    }
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for (worker, mut poster) in posters.into_iter().enumerate() {
        let (source, next, outcomes) = (source.clone(), next.clone(), outcomes.clone());
        let rate = setup.rate;
        workers.push(tokio::spawn(async move {
            for round in 0.. {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                // At a target rate, latency counts from when the submission
                // was due, not from when a connection was free to send it:
                // a server that holds every connection cannot hide the wait
                // it causes (no coordinated omission).
                let due = (rate > 0).then(|| t0 + Duration::from_secs_f64(i as f64 / rate as f64));
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let body = source.body(i, worker, round, concurrency);
                let sent = due.unwrap_or_else(Instant::now);
                loop {
                    let result = poster.post(path, &body.envelope).await;
                    let acked = {
                        let mut o = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                        match result {
                            Ok(Posted::Index(index)) => {
                                o.acks.push(Ack {
                                    index,
                                    sent,
                                    answered: Instant::now(),
                                });
                                Some(Some(index))
                            }
                            Ok(Posted::Busy) => {
                                o.busy += 1;
                                None
                            }
                            Err(e) => {
                                o.errors.push(format!("{e:#}"));
                                Some(None)
                            }
                        }
                    };
                    match acked {
                        Some(Some(index)) => {
                            source.advanced(body, index);
                            break;
                        }
                        // A failed version leaves its series head unknown;
                        // this worker stops (the report shows the error).
                        Some(None) if matches!(*source, Source::Claims(_)) => return,
                        Some(None) => break,
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let done = Instant::now();
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|e| e.into_inner()));
    let cpu_after = setup.server_pid.and_then(server_cpu);
    let own_after = server_cpu(std::process::id());
    let machine_after = machine_ticks();

    // Wait (at most 30 s) for a checkpoint covering everything acknowledged.
    let want = outcomes.acks.iter().map(|a| a.index + 1).max().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while published_size(&published) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(1, Ordering::SeqCst);
    poller.await?;

    let ok = outcomes.acks.len();
    let first = outcomes.acks.iter().map(|a| a.sent).min().unwrap_or(t0);
    let last = outcomes
        .acks
        .iter()
        .map(|a| a.answered)
        .max()
        .unwrap_or(done);
    let secs = last.duration_since(first).as_secs_f64().max(1e-9);
    println!(
        "submitted {n}: {ok} acknowledged, {} errors, {} busy (503) retries",
        outcomes.errors.len(),
        outcomes.busy
    );
    if let Source::Claims(c) = &*source {
        println!("{}", c.summary());
    }
    for e in outcomes.errors.iter().take(5) {
        println!("  error: {e}");
    }
    println!(
        "throughput: {:.0} entries/s acknowledged ({ok} in {secs:.2} s, concurrency {}, target rate {})",
        ok as f64 / secs,
        setup.concurrency,
        if setup.rate == 0 {
            "unlimited".to_owned()
        } else {
            format!("{}/s", setup.rate)
        }
    );
    let answered: Vec<Duration> = outcomes
        .acks
        .iter()
        .map(|a| a.answered.duration_since(a.sent))
        .collect();
    if setup.rate > 0 {
        println!("latencies count from each submission's scheduled time");
    }
    let label = match setup.wait {
        Wait::Sequenced => "submit -> sequenced (response)",
        Wait::Published => "submit -> receipt (response)",
    };
    print_latency(label, answered);
    let published = published.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let to_published: Vec<Duration> = outcomes
        .acks
        .iter()
        .filter_map(|a| {
            // The first observed checkpoint covering the entry.
            let k = published.partition_point(|&(_, size)| size <= a.index);
            published
                .get(k)
                .map(|&(t, _)| t.saturating_duration_since(a.sent))
        })
        .collect();
    if to_published.len() < ok {
        println!(
            "  {} acknowledged entries were not covered by an observed checkpoint",
            ok - to_published.len()
        );
    }
    print_latency("submit -> published (checkpoint poll, 5 ms)", to_published);
    let (run_secs, acked) = (done.duration_since(t0).as_secs_f64(), ok as u64);
    if let Some(pid) = setup.server_pid {
        print_cpu(
            "server", cpu_before, cpu_after, acked, "entry", run_secs, "",
        );
        print_rss(pid);
    }
    // Building and signing claims happens inside the run; the generic
    // mode's envelopes were signed before it.
    print_cpu(
        "generator",
        own_before,
        own_after,
        acked,
        "entry",
        run_secs,
        "",
    );
    if let (Some(before), Some(after)) = (machine_before, machine_after) {
        let (busy, idle) = (after.0 - before.0, after.1 - before.1);
        println!(
            "machine: {:.1}% idle during the run ({} cores); load average (1, 5, 15 min): before {load_before}, after {}",
            100.0 * idle as f64 / (busy + idle).max(1) as f64,
            std::thread::available_parallelism().map_or(1, usize::from),
            load_average()
        );
    }
    let size = published_size_now(&http, &setup.url).await;
    if let (Some(dir), Some(size)) = (&setup.data_dir, size) {
        let bytes = dir_bytes(dir)?;
        println!(
            "disk: {} bytes in {} for {size} entries: {:.0} bytes/entry",
            bytes,
            dir.display(),
            bytes as f64 / size.max(1) as f64
        );
    }
    Ok(())
}

enum Posted {
    Index(u64),
    Busy,
}

/// One worker's way of submitting.
enum Poster {
    /// A lean connection to `host:port`; `None` after an error made it
    /// unusable (the next request reconnects).
    Lean(String, Option<Http1Conn>),
    /// The shared reqwest client and the full submission URL.
    Reqwest(reqwest::Client, String),
}

impl Poster {
    /// Submits `body` to `path` (the origin-form submission path).
    async fn post(&mut self, path: &str, body: &[u8]) -> anyhow::Result<Posted> {
        match self {
            Poster::Reqwest(http, url) => post(http, url, body.to_vec()).await,
            Poster::Lean(authority, slot) => {
                let conn = match slot {
                    Some(conn) => conn,
                    None => slot.insert(Http1Conn::connect(authority).await?),
                };
                let answer = conn
                    .post(path, "application/json", body)
                    .await
                    .and_then(|(status, body)| answer(status, body));
                if answer.is_err() {
                    *slot = None;
                }
                answer
            }
        }
    }
}

/// A submission's answer: the index of a 200/202, or a 503 to retry.
fn answer(status: u16, body: &[u8]) -> anyhow::Result<Posted> {
    match status {
        200 | 202 => {
            let v: serde_json::Value = serde_json::from_slice(body)?;
            let index = v["index"].as_u64().context("receipt without index")?;
            Ok(Posted::Index(index))
        }
        503 => Ok(Posted::Busy),
        other => bail!(
            "status {other}: {}",
            String::from_utf8_lossy(body).trim_end()
        ),
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<Posted> {
    let resp = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    answer(status, &bytes)
}

/// The size line of a checkpoint note (the second line); the load generator
/// measures and does not verify (the tests do).
fn checkpoint_size(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.lines().nth(1)?.parse().ok()
}

async fn poll_checkpoints(
    http: reqwest::Client,
    url: String,
    out: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: Arc<AtomicU64>,
) {
    let mut last = None;
    while stop.load(Ordering::SeqCst) == 0 {
        if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await
            && let Ok(body) = r.bytes().await
            && let Some(size) = checkpoint_size(&body)
            && last != Some(size)
        {
            last = Some(size);
            out.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), size));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn published_size(p: &Mutex<Vec<(Instant, u64)>>) -> u64 {
    p.lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .map_or(0, |&(_, s)| s)
}

async fn published_size_now(http: &reqwest::Client, url: &str) -> Option<u64> {
    let r = http.get(format!("{url}/checkpoint")).send().await.ok()?;
    checkpoint_size(&r.bytes().await.ok()?)
}

fn print_latency(label: &str, mut d: Vec<Duration>) {
    if d.is_empty() {
        println!("{label}: no samples");
        return;
    }
    d.sort();
    let pct = |p: f64| {
        let k = ((d.len() as f64 * p).ceil() as usize).clamp(1, d.len()) - 1;
        d[k].as_secs_f64() * 1e3
    };
    println!(
        "{label}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        d.len()
    );
}

/// The server's user + system CPU seconds, from `/proc/<pid>/stat`.
fn server_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesized command name; utime and stime are
    // fields 14 and 15 (1-based), i.e. 12 and 13 after the name.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks as f64 / 100.0)
}

/// Prints a process's CPU time between two [`server_cpu`] readings (nothing
/// if either is missing): seconds, per unit of work, and cores busy over
/// `secs` of wall time.
fn print_cpu(
    who: &str,
    before: Option<f64>,
    after: Option<f64>,
    count: u64,
    unit: &str,
    secs: f64,
    suffix: &str,
) {
    if let (Some(before), Some(after)) = (before, after) {
        let cpu = after - before;
        println!(
            "{who} CPU: {cpu:.2} s during the run, {:.1} µs/{unit}, {:.2} cores{suffix}",
            cpu / count.max(1) as f64 * 1e6,
            cpu / secs.max(1e-9)
        );
    }
}

fn print_rss(pid: u32) {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => {
            let get = |k: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(k))
                    .map(|l| l[k.len()..].trim().to_owned())
                    .unwrap_or_else(|| "?".to_owned())
            };
            println!(
                "server memory: VmRSS {}, VmHWM (peak) {}",
                get("VmRSS:"),
                get("VmHWM:")
            );
        }
        Err(e) => println!("server memory: cannot read /proc/{pid}/status: {e}"),
    }
}

fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let meta = e.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&e.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

struct TilesSetup {
    url: String,
    requests: u64,
    concurrency: usize,
    protocol: Protocol,
    connections: usize,
    server_pid: Option<u32>,
    threads: usize,
}

/// One worker's connection.
enum TileConn {
    Http1(Http1Conn),
    H2c(H2Conn),
}

impl TileConn {
    async fn get(&mut self, path: &str) -> anyhow::Result<Fetched> {
        match self {
            TileConn::Http1(c) => c.get(path).await,
            TileConn::H2c(c) => c.get(path).await,
        }
    }
}

async fn tiles(setup: TilesSetup) -> anyhow::Result<()> {
    let TilesSetup {
        url,
        requests,
        concurrency,
        protocol,
        connections,
        server_pid,
        threads,
    } = setup;
    let authority = tile_load::authority(&url)?.to_owned();
    let size = published_size_now(&http_client(1)?, &url)
        .await
        .context("fetching /checkpoint")?;
    let full = size / 256;
    if full == 0 {
        bail!("the log has no full tile yet (size {size})");
    }
    let paths: Arc<Vec<String>> = Arc::new(
        (0..full)
            .map(|n| claimlog::tiles::Tile::new(0, n, 256).map(|t| format!("/{}", t.path())))
            .collect::<Result<_, _>>()?,
    );
    // Connections are opened before the clock starts.
    let concurrency = concurrency.max(1);
    let mut conns = Vec::with_capacity(concurrency);
    match protocol {
        Protocol::Http1 => {
            for _ in 0..concurrency {
                conns.push(TileConn::Http1(Http1Conn::connect(&authority).await?));
            }
        }
        Protocol::H2c => {
            let mut shared = Vec::new();
            for _ in 0..connections.clamp(1, concurrency) {
                shared.push(H2Conn::connect(&authority).await?);
            }
            for i in 0..concurrency {
                conns.push(TileConn::H2c(shared[i % shared.len()].clone()));
            }
        }
    }
    let load_before = load_average();
    let own = std::process::id();
    let own_before = server_cpu(own);
    let cpu_before = server_pid.and_then(server_cpu);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let first_failure: Arc<Mutex<Option<String>>> = Arc::default();
    let bytes = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for mut conn in conns {
        let (paths, next, failures, first_failure, bytes, latencies) = (
            paths.clone(),
            next.clone(),
            failures.clone(),
            first_failure.clone(),
            bytes.clone(),
            latencies.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                // Spread requests over the tiles (a multiplicative hash).
                let k = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % paths.len() as u64;
                let start = Instant::now();
                let outcome = conn.get(&paths[k as usize]).await;
                mine.push(start.elapsed());
                let failure = match outcome {
                    Ok(Fetched {
                        status: 200,
                        body_len: 8192,
                    }) => {
                        bytes.fetch_add(8192, Ordering::Relaxed);
                        continue;
                    }
                    Ok(f) => format!("status {}, {} body bytes", f.status, f.body_len),
                    Err(e) => format!("{e:#}"),
                };
                failures.fetch_add(1, Ordering::Relaxed);
                first_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(failure);
                // An HTTP/1.1 connection is unusable after an error; this
                // worker stops rather than miscount.
                if matches!(conn, TileConn::Http1(_)) {
                    break;
                }
            }
            latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(mine);
        }));
    }
    for w in workers {
        w.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_after = server_pid.and_then(server_cpu);
    let own_after = server_cpu(own);
    let lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    let done = lat.len() as u64;
    println!(
        "GET /tile/0/<N> ({}): {done} requests over {} tiles in {secs:.2} s: {:.0} requests/s, {:.1} MB/s, {} failures",
        match protocol {
            Protocol::Http1 => format!("HTTP/1.1, {concurrency} connections"),
            Protocol::H2c => format!(
                "h2c, {concurrency} streams on {} connections",
                connections.clamp(1, concurrency)
            ),
        },
        paths.len(),
        done as f64 / secs,
        bytes.load(Ordering::Relaxed) as f64 / secs / 1e6,
        failures.load(Ordering::Relaxed)
    );
    if let Some(f) = first_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        println!("  first failure: {f}");
    }
    print_latency("tile request latency", lat);
    let threads = format!(" ({threads} runtime threads)");
    print_cpu(
        "generator",
        own_before,
        own_after,
        done,
        "request",
        secs,
        &threads,
    );
    if let Some(pid) = server_pid {
        print_cpu("server", cpu_before, cpu_after, done, "request", secs, "");
        print_rss(pid);
    }
    println!(
        "load average (1, 5, 15 min): before {load_before}, after {}",
        load_average()
    );
    Ok(())
}

/// The machine's (busy, idle + iowait) CPU ticks since boot, from the first
/// line of `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...; guest time is
    // already counted in user.
    let idle = ticks.get(3)? + ticks.get(4)?;
    let busy = ticks.iter().take(8).sum::<u64>() - idle;
    Some((busy, idle))
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}
