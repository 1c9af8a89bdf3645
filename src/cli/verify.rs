//! `claimlog verify`, `claimlog bundle` and `claimlog verify-bundle`: the client never
//! trusts the log's answers. Online verification assembles the same evidence a bundle
//! holds (from tiles, under the log's current checkpoint) and runs the same pure
//! verifier ([`Evidence::verify`]); it also moves the saved checkpoint view forward,
//! proven consistent from tiles, and fails loudly on a rollback or fork.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::json;

use claimlog::client::LogClient;
use claimlog::client::state::{CheckpointStore, StateError};
use claimlog::dsse::Envelope;
use claimlog::evidence::{Evidence, EvidenceError, MAX_EVIDENCE_SIZE};
use claimlog::policy::{MAX_POLICY_SIZE, Policy};

/// What `verify` was asked about.
enum Target {
    Index(u64),
    Envelope(Envelope),
}

/// `claimlog verify`.
pub fn verify(
    log: &str,
    policy: &Path,
    target: &str,
    json_out: bool,
    state: Option<PathBuf>,
) -> anyhow::Result<()> {
    let policy = read_policy(policy)?;
    // All digits is an index (canonical decimal); anything else is a file.
    let all_digits = !target.is_empty() && target.bytes().all(|b| b.is_ascii_digit());
    let target = match all_digits {
        true => {
            if target.len() > 1 && target.starts_with('0') {
                bail!("index {target:?} has leading zeros");
            }
            Target::Index(target.parse().context("index out of range")?)
        }
        false => {
            let bytes = read_capped(Path::new(target), claimlog::dsse::MAX_ENVELOPE_BYTES)?;
            Target::Envelope(
                Envelope::parse(&bytes).with_context(|| format!("{target} is not an envelope"))?,
            )
        }
    };
    let state_dir = match state {
        Some(d) => d,
        None => CheckpointStore::default_dir()
            .context("no --state given and neither XDG_STATE_HOME nor HOME is set")?,
    };
    let store = CheckpointStore::open(&state_dir)?;
    let client = LogClient::new(log)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let checkpoint = client
            .checkpoint(&policy)
            .await
            .context("the log's checkpoint is not valid under the policy")?;
        let note = checkpoint.signed().note().clone();
        let advance = match store.advance(&client, &note, checkpoint.checkpoint()).await {
            Ok(a) => a,
            Err(StateError::Fork { error, saved, new }) => bail!(
                "LOG INCONSISTENCY: {error}\n\
                 The log showed this client two views that cannot both be honest.\n\
                 --- checkpoint saved earlier ---\n{saved}\
                 --- checkpoint now ---\n{new}"
            ),
            Err(e) => return Err(e.into()),
        };
        let index = match &target {
            Target::Index(i) => *i,
            Target::Envelope(env) => {
                let sha = claimlog::claim::Sha256Digest(env.statement_sha256());
                let info = client
                    .claim(&sha)
                    .await?
                    .with_context(|| format!("the log has no statement {sha}"))?;
                info.log_index
            }
        };
        let evidence = client.evidence(&note, index).await?;
        if let Target::Envelope(env) = &target {
            // The lookup is a hint: the entry it named must carry this statement.
            let logged = claimlog::entry::LogEntry::parse(evidence.entry())
                .map(|e| e.envelope.payload() == env.payload())
                .unwrap_or(false);
            if !logged {
                bail!("entry {index} does not carry the envelope's statement");
            }
        }
        report(
            evidence.verify(&policy),
            json_out,
            Some(advance.to_string()),
        )
    })
}

/// `claimlog bundle`.
pub fn bundle(log: &str, index: u64, out: &Path, policy: Option<&Path>) -> anyhow::Result<()> {
    let policy = policy.map(read_policy).transpose()?;
    let client = LogClient::new(log)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let evidence = runtime.block_on(async {
        let note = client.checkpoint_note().await?;
        if let Some(p) = &policy {
            p.verify_checkpoint(&note)
                .context("the log's checkpoint is not valid under the policy")?;
        }
        anyhow::Ok(client.evidence(&note, index).await?)
    })?;
    if let Some(p) = &policy {
        evidence
            .verify(p)
            .map_err(|e| anyhow::anyhow!("check {} failed: {e}", e.check()))?;
    }
    write_atomically(out, &evidence.to_bytes())?;
    eprintln!(
        "wrote {} ({} bytes): entry {}, {} key-binding entries, checkpoint size {}",
        out.display(),
        evidence.to_bytes().len(),
        evidence.index(),
        evidence.bindings().len(),
        evidence.proof().checkpoint().size()
    );
    Ok(())
}

/// `claimlog verify-bundle`: offline.
pub fn verify_bundle(policy: &Path, bundle: &Path, json_out: bool) -> anyhow::Result<()> {
    let policy = read_policy(policy)?;
    let bytes = read_capped(bundle, MAX_EVIDENCE_SIZE)?;
    let result = Evidence::parse(&bytes).and_then(|e| e.verify(&policy));
    report(result, json_out, None)
}

/// Prints what was proven, or which check failed (then fails).
fn report(
    result: Result<claimlog::evidence::Proven, EvidenceError>,
    json_out: bool,
    view: Option<String>,
) -> anyhow::Result<()> {
    match result {
        Ok(proven) => {
            if json_out {
                let mut j = proven.to_json();
                if let Some(v) = view {
                    j["checkpointView"] = json!(v);
                }
                println!("{j}");
            } else {
                print!("{}", proven.transcript());
                if let Some(v) = view {
                    println!("checkpoint view: {v}");
                }
                println!("VERIFIED");
            }
            Ok(())
        }
        Err(e) => {
            if json_out {
                println!(
                    "{}",
                    json!({"verified": false, "check": e.check(), "error": e.to_string()})
                );
            }
            bail!("FAILED check {}: {e}", e.check())
        }
    }
}

pub(crate) fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let bytes = read_capped(path, MAX_POLICY_SIZE)?;
    Policy::parse(&bytes).with_context(|| format!("policy {}", path.display()))
}

fn read_capped(path: &Path, max: usize) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        bail!("{} is larger than {max} bytes", path.display());
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".claimlog-bundle-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
