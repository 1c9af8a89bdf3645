//! Finding the `claimlog` binary: built once per test process with Cargo,
//! into the running test's own target directory and profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming a prebuilt `claimlog` binary to use
/// instead of building one.
pub const BIN_ENV: &str = "CLAIMLOG_BIN";

/// The path of the `claimlog` binary, building it on first use.
///
/// # Panics
/// If the build fails (the panic message holds Cargo's output): every test
/// that needs the binary fails loudly rather than skipping.
pub fn claimlog_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os(BIN_ENV) {
        Some(p) => PathBuf::from(p),
        None => build("claimlog", "claimlog").unwrap_or_else(|e| panic!("{e}")),
    })
}

/// Where the running executable's profile directory is (`target/<profile>`),
/// and the Cargo profile name for it. Test executables live in
/// `target/<profile>/deps/`, binaries in `target/<profile>/`.
fn profile_dir() -> Result<(PathBuf, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("cannot tell the profile of {}", dir.display()))?;
    // Cargo names the dev and test profiles' directory `debug`.
    let profile = match name {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    Ok((dir, profile))
}

/// A scratch directory for build outputs of the tests (`target/tmp`, like
/// Cargo's `CARGO_TARGET_TMPDIR`, which only integration tests get): the
/// target directory of the running executable, or `target/` under the
/// repository root when that cannot be told.
pub fn target_tmp_dir() -> PathBuf {
    profile_dir()
        .ok()
        .and_then(|(dir, _)| dir.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| crate::repo_root().join("target"))
        .join("tmp")
}

/// Builds binary `bin` of package `package` with Cargo into the running
/// executable's target directory and profile; returns its path.
pub fn build(package: &str, bin: &str) -> Result<PathBuf, String> {
    let (dir, profile) = profile_dir()?;
    let target_dir = dir
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", dir.display()))?;
    // Cargo sets CARGO for the processes it runs; fall back to the one that
    // compiled this crate, then to PATH.
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    // Cargo sets these for the running test, not for a build started from a
    // shell; build scripts that watch them (ring's reruns when
    // CARGO_MANIFEST_DIR changes) would otherwise be dirty here and again in
    // the next `cargo test`, rebuilding the TLS stack and claimlog in every
    // test process (minutes each on a small machine).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR")
            || name == "RUST_RECURSION_COUNT"
        {
            command.env_remove(&*name);
        }
    }
    let out = command
        .current_dir(crate::repo_root())
        .args(["build", "--quiet", "--locked", "-p", package, "--bin", bin])
        .arg("--profile")
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .output()
        .map_err(|e| format!("running {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p {package} --bin {bin} --profile {profile} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        return Err(format!(
            "cargo built {bin} but {} is missing",
            path.display()
        ));
    }
    Ok(path)
}
