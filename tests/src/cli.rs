//! The `claimlog` command line as the end-to-end tests drive it: run it,
//! expect success or failure, and the claim drafts they publish (the
//! `spec/examples` series dated now, `claim next` filling the continuity).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use crate::binary::claimlog_binary;
use crate::claims_load::ts;
use crate::repo_root;

/// Runs `claimlog ARGS` (stdin closed).
pub fn run(args: &[&str]) -> anyhow::Result<Output> {
    Command::new(claimlog_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running claimlog {args:?}"))
}

/// Runs `claimlog ARGS`, expecting success; returns stdout.
pub fn ok(args: &[&str]) -> anyhow::Result<String> {
    let out = run(args)?;
    ensure!(
        out.status.success(),
        "claimlog {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Runs `claimlog ARGS`, expecting failure; returns stdout and stderr.
pub fn fails(args: &[&str]) -> anyhow::Result<(String, String)> {
    let out = run(args)?;
    ensure!(
        !out.status.success(),
        "claimlog {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok((
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

/// A path as a command-line argument.
pub fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

/// The current POSIX time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A `spec/examples` file, parsed.
pub fn example(name: &str) -> anyhow::Result<Value> {
    let path = repo_root().join("spec/examples").join(name);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The data-handling example `name` as a first version issued now and
/// effective at `effective` (POSIX seconds), without the continuity fields
/// (`claim next` fills them from the log).
///
/// `issuedAt` is now, but never after `effective`: a caller that passes its
/// own `now()` may have read the clock in the previous second, and a version
/// issued after it takes effect is refused as retroactive.
pub fn draft(name: &str, effective: i64) -> anyhow::Result<Value> {
    let mut v = example(name)?;
    let p = v["predicate"]
        .as_object_mut()
        .with_context(|| format!("{name} has no predicate"))?;
    p.insert("issuedAt".into(), json!(ts(now().min(effective))));
    p.insert("effectiveFrom".into(), json!(ts(effective)));
    p.remove("validUntil");
    p.remove("supersedes");
    p.insert("sequence".into(), json!(1));
    p.insert("removedClaimIds".into(), json!([]));
    Ok(v)
}

/// The `index` of a submission receipt (`claimlog submit` / `enroll` output).
pub fn receipt_index(receipt: &str) -> anyhow::Result<u64> {
    let v: Value = serde_json::from_str(receipt).with_context(|| format!("receipt {receipt}"))?;
    v["index"]
        .as_u64()
        .with_context(|| format!("receipt without an index: {receipt}"))
}

/// A vendor run from a directory of key files: `root` and one or more
/// signing keys (made with `claimlog keygen`), its well-known document
/// served on loopback.
pub struct CliVendor {
    /// The domain.
    pub domain: String,
    /// Where its keys and statements are.
    pub dir: std::path::PathBuf,
    /// The base URL of its well-known document server.
    pub well_known: String,
}

impl CliVendor {
    /// Makes `root` and the `signing` keys in `dir` and serves the
    /// well-known document naming the root key.
    pub fn new(domain: &str, dir: &Path, signing: &[&str]) -> anyhow::Result<CliVendor> {
        std::fs::create_dir_all(dir)?;
        for key in std::iter::once(&"root").chain(signing) {
            let name = format!("{domain}/{key}");
            ok(&[
                "keygen",
                "--name",
                &name,
                "--out",
                path_str(&dir.join(key))?,
            ])?;
        }
        let doc = ok(&[
            "well-known",
            "--domain",
            domain,
            "--root-key",
            path_str(&dir.join("root"))?,
        ])?;
        Ok(CliVendor {
            domain: domain.to_owned(),
            dir: dir.to_owned(),
            well_known: crate::http_fake::serve_well_known(doc)?,
        })
    }

    /// The path of file `name` in the vendor's directory.
    pub fn file(&self, name: &str) -> anyhow::Result<String> {
        Ok(path_str(&self.dir.join(name))?.to_owned())
    }

    /// `claimlog enroll` with the root key and signing key `signing`;
    /// returns the entry's index.
    pub fn enroll(&self, log: &str, signing: &str) -> anyhow::Result<u64> {
        receipt_index(&ok(&[
            "enroll",
            "--log",
            log,
            "--domain",
            &self.domain,
            "--root-key",
            &self.file("root")?,
            "--signing-key",
            &self.file(signing)?,
        ])?)
    }

    /// Writes `draft` as `<name>.draft.json`, fills its continuity with
    /// `claim next`, lints, signs with `key` and submits (waiting until it is
    /// sequenced). Returns the receipt's index, or claimlog's stderr if the
    /// submission was refused.
    pub fn publish(
        &self,
        log: &str,
        name: &str,
        draft: &Value,
        key: &str,
    ) -> anyhow::Result<Result<u64, String>> {
        let draft_file = self.file(&format!("{name}.draft.json"))?;
        std::fs::write(&draft_file, serde_json::to_vec_pretty(draft)?)?;
        let statement = self.file(&format!("{name}.json"))?;
        std::fs::write(
            &statement,
            ok(&["claim", "next", &draft_file, "--log", log])?,
        )?;
        ok(&["claim", "lint", &statement])?;
        let envelope = self.file(&format!("{name}.env"))?;
        std::fs::write(
            &envelope,
            ok(&["sign", "--key", &self.file(key)?, &statement])?,
        )?;
        let out = run(&["submit", "--log", log, "--wait", "sequenced", &envelope])?;
        if out.status.success() {
            Ok(Ok(receipt_index(&String::from_utf8(out.stdout)?)?))
        } else {
            Ok(Err(String::from_utf8(out.stderr)?))
        }
    }

    /// Publishes the data-handling example `example` as version `name`,
    /// effective at `effective` (POSIX seconds), signed with `key`
    /// ([`CliVendor::publish`] of [`draft`]); a refusal is an error. Returns
    /// the entry's index.
    pub fn publish_example(
        &self,
        log: &str,
        name: &str,
        example: &str,
        effective: i64,
        key: &str,
    ) -> anyhow::Result<u64> {
        self.publish(log, name, &draft(example, effective)?, key)?
            .map_err(anyhow::Error::msg)
    }
}

/// The last `n` lines of the text file at `path` (empty if unreadable), for
/// failure messages.
pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
