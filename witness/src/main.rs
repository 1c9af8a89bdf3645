//! The `claimlog-witness` command: `keygen`, `add-log`, `list-logs`,
//! `serve`.
//!
//! Stable interface for scripts:
//! - `claimlog-witness keygen --name NAME --out FILE` prints only the
//!   verifier key (type 0x04 cosigner vkey);
//! - `claimlog-witness serve --data-dir DIR --listen ADDR --key FILE
//!   --log ORIGIN=VKEY...` prints `listening on ADDR` once bound.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rand_core::OsRng;

use claimlog::cosignature::CosignerKey;
use claimlog::note::KeyName;
use claimlog_witness::config::{ConfigFile, LogEntry, LogSet, read_capped};
use claimlog_witness::{ServeConfig, serve};

#[derive(Parser)]
#[command(name = "claimlog-witness", version, about = "A C2SP tlog-witness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a cosigner key (type 0x04); print its verifier key.
    Keygen {
        /// The cosigner name, e.g. witness.example.org/w1.
        #[arg(long)]
        name: String,
        /// Where to write the private key (created 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a trusted log to a TOML configuration file.
    AddLog {
        /// The configuration file (created if missing).
        #[arg(long)]
        config: PathBuf,
        /// The log's verifier key.
        #[arg(long)]
        vkey: String,
        /// The log's origin (default: the vkey's name).
        #[arg(long)]
        origin: Option<String>,
    },
    /// List the trusted logs: origin, key ID and vkey, one per line.
    ListLogs(LogArgs),
    /// Run the witness.
    Serve(ServeArgs),
}

#[derive(Args)]
struct LogArgs {
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A trusted log, ORIGIN=VKEY (repeatable).
    #[arg(long = "log")]
    logs: Vec<String>,
    /// A witness-network logs/v0 list whose logs are trusted (repeatable).
    #[arg(long = "log-list")]
    log_lists: Vec<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    logs: LogArgs,
    /// The state directory [default: ./claimlog-witness-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The listen address [default: 127.0.0.1:7380].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The cosigner key file [default: <data-dir>/witness.key]; generated
    /// on first start if missing.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The cosigner name for a key generated on first start
    /// [default: claimlog-witness/<random>].
    #[arg(long)]
    name: Option<String>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Keygen { name, out } => {
            let key = generate_key(&name, &out)?;
            println!("{}", key.verifier().key());
        }
        Command::AddLog {
            config,
            vkey,
            origin,
        } => add_log(&config, vkey, origin)?,
        Command::ListLogs(args) => {
            let file = load_config(args.config.as_deref())?;
            for (origin, keys) in load_logs(&file, &args)?.iter() {
                for key in keys {
                    println!("{origin}\t{}\t{key}", key.key_id());
                }
            }
        }
        Command::Serve(args) => run(args)?,
    }
    Ok(())
}

fn run(args: ServeArgs) -> Result<()> {
    let file = load_config(args.logs.config.as_deref())?;
    let logs = load_logs(&file, &args.logs)?;
    if logs.is_empty() {
        bail!("no logs configured: pass --log ORIGIN=VKEY, --log-list or --config");
    }
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("claimlog-witness-data"));
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7380)));
    let key_path = args
        .key
        .or(file.key_file)
        .unwrap_or_else(|| data_dir.join("witness.key"));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = if key_path.exists() {
        let text = read_capped(&key_path)?;
        CosignerKey::parse(text.trim_end_matches('\n'))
            .with_context(|| format!("reading the key in {}", key_path.display()))?
    } else {
        let name = args.name.or(file.name).unwrap_or_else(|| {
            format!(
                "claimlog-witness/{:08x}",
                rand_core::RngCore::next_u32(&mut OsRng)
            )
        });
        let key = generate_key(&name, &key_path)?;
        eprintln!("generated a new witness key in {}", key_path.display());
        key
    };
    println!("witness vkey {}", key.verifier().key());
    tracing::info!(logs = logs.len(), data_dir = %data_dir.display(), "starting");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        println!("listening on {}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let config = ServeConfig {
            logs,
            key,
            data_dir,
        };
        serve(config, listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
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
        () = ctrl_c => {}
        () = term => {}
    }
}

fn load_config(path: Option<&Path>) -> Result<ConfigFile> {
    Ok(match path {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    })
}

/// The logs from the file's `[[log]]` and `log_lists`, then the flags.
fn load_logs(file: &ConfigFile, args: &LogArgs) -> Result<LogSet> {
    let mut logs = LogSet::new();
    logs.add_entries(&file.logs)?;
    for list in file.log_lists.iter().chain(&args.log_lists) {
        logs.add_log_list(&read_capped(list)?)
            .with_context(|| format!("in {}", list.display()))?;
    }
    for flag in &args.logs {
        logs.add_flag(flag)?;
    }
    Ok(logs)
}

/// Generates a 0x04 key and writes it to a new file, mode 0600.
fn generate_key(name: &str, out: &Path) -> Result<CosignerKey> {
    let name = KeyName::new(name).context("invalid cosigner name")?;
    let key = CosignerKey::generate(name, &mut OsRng)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(out)
        .with_context(|| format!("creating {} (it must not exist)", out.display()))?;
    writeln!(f, "{}", key.signer_key().to_skey_string())?;
    f.sync_all()?;
    Ok(key)
}

/// Appends a log to the TOML file after checking that the result loads.
fn add_log(path: &Path, vkey: String, origin: Option<String>) -> Result<()> {
    let mut file = if path.exists() {
        ConfigFile::load(path)?
    } else {
        ConfigFile::default()
    };
    file.logs.push(LogEntry { origin, vkey });
    LogSet::new().add_entries(&file.logs)?;
    // Write a sibling and rename, so a crash never leaves half a file.
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, file.to_toml())?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
