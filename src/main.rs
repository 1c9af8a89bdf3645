//! The `claimlog` command: run the log server and talk to it.
//!
//! The flags documented in `spec/log-api.md` ("Command line") are a stable
//! interface for scripts and tests.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use claimlog::note::{KeyName, KeyType, SignerKey};
use claimlog::server::config::{Config, load_or_create_key, read_signer_key, write_secret_file};
use claimlog::server::sequencer::check_log;
use claimlog::server::store::{SledStore, Store};

mod cli;

/// jemalloc, with its defaults (no runtime configuration): against glibc
/// malloc it took 12-15% off the server's CPU per claim and the monitor's per
/// entry, and gives memory back after a surge where glibc keeps it, at about
/// the same peak; mimalloc peaked above the margin under the 256 MiB bound
/// (BENCHMARKS.md "Global allocator (session 11)").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The largest statement or envelope file read.
const MAX_INPUT: u64 = 64 * 1024;
/// The largest server response read.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "claimlog",
    version,
    about = "A transparency log for verifiable privacy claims"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 signer key (Go note format, file mode 0600) and
    /// print only its verifier key.
    Keygen {
        /// The key name (for a log key: its origin).
        #[arg(long)]
        name: String,
        /// Where to write the secret key; must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the log server.
    Serve {
        /// Data directory (default ./claimlog-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Listen address (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Log origin (default localhost/claimlog).
        #[arg(long)]
        origin: Option<String>,
        /// Log signer key file (default <data-dir>/log.key, created if missing).
        #[arg(long)]
        key: Option<PathBuf>,
        /// A submitter's verifier key; repeatable; adds to the config file's list.
        #[arg(long = "allow-submitter", value_name = "VKEY")]
        allow_submitter: Vec<String>,
        /// TOML configuration file; flags override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A C2SP tlog-policy file: publish only checkpoints its witnesses
        /// cosigned (overrides `witness_policy` in the config file).
        #[arg(long, value_name = "FILE")]
        witness_policy: Option<PathBuf>,
    },
    /// Sign an in-toto Statement (JSON) into a DSSE envelope on stdout.
    Sign {
        /// Signer key file (from `claimlog keygen`); repeat to sign with
        /// several keys (a root rotation needs both roots).
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// The statement file.
        statement: PathBuf,
    },
    /// Submit an envelope; prints the receipt JSON.
    Submit {
        /// The log's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        log: String,
        /// The envelope file.
        envelope: PathBuf,
        /// Return once the entry is durable (`sequenced`) instead of waiting
        /// for a published checkpoint.
        #[arg(long, value_parser = ["sequenced", "published"])]
        wait: Option<String>,
    },
    /// Fetch an entry (JSON) or its tlog-proof (text).
    Get {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        #[command(subcommand)]
        what: GetWhat,
    },
    /// Print the well-known document (spec/vendor.md) that publishes a
    /// domain's root key, to serve at
    /// https://<domain>/.well-known/claimlog.json.
    WellKnown {
        /// The vendor's domain.
        #[arg(long)]
        domain: String,
        /// The root key file (from `claimlog keygen`).
        #[arg(long)]
        root_key: PathBuf,
    },
    /// Enroll a domain: build its first key binding (root key and signing
    /// key, valid from now), sign it with the root key and submit it. The
    /// root key must be published in the domain's well-known document.
    Enroll {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        /// The vendor's domain.
        #[arg(long)]
        domain: String,
        /// The root key file.
        #[arg(long)]
        root_key: PathBuf,
        /// The signing key file (signs data-handling claims).
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// Work with claim statements.
    Claim {
        #[command(subcommand)]
        what: ClaimWhat,
    },
    /// A vendor's keys and the timeline of its services' claims, with
    /// human-readable diffs.
    History {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        /// The vendor's domain.
        domain: String,
        /// Only this service (default: every service).
        service: Option<String>,
    },
    /// The changes from one data-handling statement file to another.
    Diff {
        /// The older version.
        a: PathBuf,
        /// The newer version.
        b: PathBuf,
    },
    /// Verify an entry (by index, or the envelope file of a statement) against
    /// the log, trusting only the policy: checkpoint signature and witness
    /// quorum, inclusion computed from tiles, the envelope's signature, and the
    /// signing key's binding to the issuer's domain at that index. Saves the
    /// checkpoint and checks consistency with the one saved last time.
    Verify {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        /// The tlog-policy file (logs, witnesses, quorum).
        #[arg(long)]
        policy: PathBuf,
        /// An entry index, or the path of a DSSE envelope file.
        target: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// State directory for saved checkpoints (default
        /// $XDG_STATE_HOME/claimlog or ~/.local/state/claimlog).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Write an evidence bundle (spec/bundle.md) for the entry at INDEX.
    Bundle {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        /// Entry index.
        index: u64,
        /// Output file.
        #[arg(short, long)]
        out: PathBuf,
        /// Verify the bundle under this policy before writing it.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Verify an evidence bundle offline against a tlog-policy.
    VerifyBundle {
        /// The tlog-policy file.
        #[arg(long)]
        policy: PathBuf,
        /// The bundle file.
        bundle: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow a log from saved state, re-verify every entry and print events
    /// as JSON lines (spec/monitor.md).
    Monitor {
        /// The log's base URL.
        #[arg(long)]
        log: String,
        /// The tlog-policy file (the log's key, witnesses with their URLs).
        #[arg(long)]
        policy: PathBuf,
        /// State directory (created if missing; one monitor at a time).
        #[arg(long)]
        state: PathBuf,
        /// Report only events about this vendor domain; repeatable.
        #[arg(long)]
        watch: Vec<String>,
        /// POST each reported event (JSON) to this URL, with retries.
        #[arg(long)]
        webhook: Option<String>,
        /// Do one step (catch up, compare with witnesses) and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between steps.
        #[arg(long, default_value_t = 10.0)]
        interval: f64,
        /// Report `log_stalled` after this many seconds without a new checkpoint.
        #[arg(long, default_value_t = 3600)]
        heartbeat: u64,
        /// Threads verifying entries (default: the machine's parallelism).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check a stopped log's data directory: re-derive the tree from the
    /// entries and compare with tiles, dedup index and checkpoint.
    Check {
        /// Data directory.
        #[arg(long, default_value = claimlog::server::config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ClaimWhat {
    /// Validate a statement offline and print every problem.
    Lint {
        /// The statement file (payload JSON).
        file: PathBuf,
    },
    /// Print FILE with sequence, supersedes and removedClaimIds filled from
    /// the series head in the log.
    Next {
        /// The draft statement file.
        file: PathBuf,
        /// The log's base URL.
        #[arg(long)]
        log: String,
    },
}

#[derive(Subcommand)]
enum GetWhat {
    /// The entry at INDEX.
    Entry {
        /// Entry index.
        index: u64,
    },
    /// The tlog-proof of the entry at INDEX under the published checkpoint.
    Proof {
        /// Entry index.
        index: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("claimlog: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen { name, out } => {
            let name = KeyName::new(&name).context("invalid key name")?;
            let key = SignerKey::generate(name, KeyType::Ed25519, &mut rand_core::OsRng)?;
            write_secret_file(&out, &key.to_skey_string())?;
            println!("{}", key.verifier());
            Ok(())
        }
        Command::Serve {
            data_dir,
            listen,
            origin,
            key,
            allow_submitter,
            config,
            witness_policy,
        } => {
            let mut cfg = match &config {
                Some(path) => Config::from_file(path)?,
                None => Config::default(),
            };
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(o) = origin {
                cfg.origin = o;
            }
            if let Some(k) = key {
                cfg.key_file = Some(k);
            }
            cfg.allow_submitters.extend(allow_submitter);
            if let Some(p) = witness_policy {
                cfg.witness_policy = Some(p);
            }
            serve(cfg)
        }
        Command::Sign { key, statement } => {
            let keys = key
                .iter()
                .map(|k| read_signer_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            let bytes = read_capped(&statement)?;
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).context("statement is not JSON")?;
            if !value.is_object() {
                bail!("statement must be a JSON object");
            }
            // The payload is the statement with sorted keys and no whitespace
            // (serde_json's map is ordered), as in spec/examples.
            let payload = serde_json::to_vec(&value)?;
            let env = cli::claims::sign(&payload, &keys)?;
            println!("{}", String::from_utf8(env)?);
            Ok(())
        }
        Command::Submit {
            log,
            envelope,
            wait,
        } => {
            let body = read_capped(&envelope)?;
            let mut url = format!("{}/v1/entries", log.trim_end_matches('/'));
            if let Some(w) = wait {
                url.push_str(&format!("?wait={w}"));
            }
            let text = http(reqwest::Method::POST, &url, Some(body))?;
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::Get { log, what } => {
            let base = log.trim_end_matches('/');
            let url = match what {
                GetWhat::Entry { index } => format!("{base}/v1/entries/{index}"),
                GetWhat::Proof { index } => format!("{base}/v1/proof/{index}"),
            };
            let text = http(reqwest::Method::GET, &url, None)?;
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::WellKnown { domain, root_key } => {
            println!("{}", cli::claims::well_known(&domain, &root_key)?);
            Ok(())
        }
        Command::Enroll {
            log,
            domain,
            root_key,
            signing_key,
        } => {
            let env = cli::claims::enroll(&domain, &root_key, &signing_key)?;
            let url = format!("{}/v1/entries?wait=sequenced", log.trim_end_matches('/'));
            let text = http(reqwest::Method::POST, &url, Some(env))?;
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::Claim {
            what: ClaimWhat::Lint { file },
        } => {
            let (problems, n) = cli::claims::lint(&read_capped(&file)?);
            for p in &problems {
                println!("{}: {p}", file.display());
            }
            if n > 0 {
                bail!("{n} problem(s)");
            }
            println!("{}: ok", file.display());
            Ok(())
        }
        Command::Claim {
            what: ClaimWhat::Next { file, log },
        } => {
            let base = log.trim_end_matches('/').to_owned();
            let get = |path: &str| http_optional(&format!("{base}{path}"));
            print!("{}", cli::claims::next(&read_capped(&file)?, &get)?);
            Ok(())
        }
        Command::History {
            log,
            domain,
            service,
        } => {
            let base = log.trim_end_matches('/');
            let vendor: serde_json::Value = serde_json::from_str(
                &http_optional(&format!("{base}/v1/vendors/{domain}"))?
                    .with_context(|| format!("{domain} has not enrolled in {base}"))?,
            )?;
            let services: Vec<String> = match service {
                Some(s) => vec![s],
                None => vendor["services"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["id"].as_str().map(str::to_owned))
                    .collect(),
            };
            let mut series = Vec::new();
            for s in services {
                let text = http_optional(&format!("{base}/v1/vendors/{domain}/{s}/history"))?
                    .with_context(|| format!("{domain} has no service {s}"))?;
                series.push((s, serde_json::from_str(&text)?));
            }
            print!("{}", cli::claims::history(&vendor, &series));
            Ok(())
        }
        Command::Diff { a, b } => {
            print!(
                "{}",
                cli::claims::diff_files(&read_capped(&a)?, &read_capped(&b)?)?
            );
            Ok(())
        }
        Command::Verify {
            log,
            policy,
            target,
            json,
            state,
        } => cli::verify::verify(&log, &policy, &target, json, state),
        Command::Bundle {
            log,
            index,
            out,
            policy,
        } => cli::verify::bundle(&log, index, &out, policy.as_deref()),
        Command::VerifyBundle {
            policy,
            bundle,
            json,
        } => cli::verify::verify_bundle(&policy, &bundle, json),
        Command::Monitor {
            log,
            policy,
            state,
            watch,
            webhook,
            once,
            interval,
            heartbeat,
            threads,
        } => cli::monitor::monitor(cli::monitor::MonitorArgs {
            log,
            policy,
            state,
            watch,
            webhook,
            once,
            interval,
            heartbeat,
            threads,
        }),
        Command::Check { data_dir } => {
            let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SledStore::open(&data_dir)?);
            let report = check_log(&store, None)?;
            println!(
                "ok: size {} root {} published {}",
                report.size,
                report.root.to_base64(),
                report
                    .published
                    .map_or_else(|| "none".to_owned(), |s| s.to_string())
            );
            Ok(())
        }
    }
}

/// The cap on `claimlog serve`'s blocking pool (tokio's default is 512).
/// It runs the sequencing and publishing steps and the tile, entry and proof
/// reads, all short and mostly served from sled's cache. With the default, a
/// burst of 64 tile readers left ~40 idle threads behind; the sequencing
/// steps then rotated through all of them, and the memory their allocator
/// caches held raised the peak RSS of the receipt runs that followed from
/// ~150 MiB to 257-381 MiB (BENCHMARKS.md, session 14).
const SERVE_BLOCKING_THREADS: usize = 8;

fn serve(cfg: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    cfg.validate()?;
    let (key, created) = load_or_create_key(&cfg)?;
    if created {
        eprintln!("claimlog: generated log key {}", cfg.key_path().display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(SERVE_BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("listening on {}", cfg.listen))?;
        // Scripts and tests read these two lines.
        println!("vkey {}", key.verifier());
        println!("listening on {}", listener.local_addr()?);
        claimlog::server::serve(cfg, listener, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

fn read_capped(path: &Path) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        bail!("{} is larger than {MAX_INPUT} bytes", path.display());
    }
    Ok(bytes)
}

/// A GET whose 404 is an answer (`None`), not an error.
fn http_optional(url: &str) -> anyhow::Result<Option<String>> {
    match http(reqwest::Method::GET, url, None) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.to_string().starts_with("404:") => Ok(None),
        Err(e) => Err(e),
    }
}

/// One request; the body of a 2xx response, or an error with the server's
/// one-line reason.
fn http(method: reqwest::Method, url: &str, body: Option<Vec<u8>>) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        let mut req = client.request(method, url);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let mut resp = req
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_RESPONSE {
                bail!("response from {url} is larger than {MAX_RESPONSE} bytes");
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() {
            bail!("{}: {}", status.as_u16(), text.trim_end());
        }
        Ok(text)
    })
}
