//! Builds and runs the Go interop program `claimlog-interop` (`tests/interop/go`)
//! from Rust tests (`go_interop.rs`, `go_witness.rs`).
//!
//! The Go program is built once per test process, offline, against Debian's
//! `golang-golang-x-mod-dev` (see `tests/interop/README.md`). When `go` or that
//! package is missing, [`interop_binary`] panics with a clear message if the
//! `CI` environment variable is set (so CI never passes without the check) and
//! otherwise prints a loud warning and returns `None` so the caller can skip.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The Go module holding `claimlog-interop`.
pub const GO_SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/go");

/// Where Debian's `golang-golang-x-mod-dev` puts `golang.org/x/mod`, the target
/// of the `replace` directive in `go.mod`.
pub const X_MOD_DIR: &str = "/usr/share/gocode/src/golang.org/x/mod";

/// True when running under CI (`CI` set to anything but empty, `0` or `false`),
/// where a missing prerequisite is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The built `claimlog-interop` binary, or `None` (after a loud warning on
/// stderr) when Go is unavailable outside CI.
///
/// # Panics
/// When the prerequisites are missing under CI, or when `go build` fails.
pub fn interop_binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY.get_or_init(build).as_deref()
}

/// Runs `claimlog-interop` with `args` and returns its output (it is not
/// checked: callers assert on success or failure).
pub fn run_interop(binary: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
}

/// Both streams of `output`, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn build() -> Option<PathBuf> {
    let missing = if Command::new("go").arg("version").output().is_err() {
        Some("`go` is not on PATH")
    } else if !Path::new(X_MOD_DIR).join("sumdb/tlog/tlog.go").is_file() {
        Some("golang.org/x/mod is not installed under /usr/share/gocode")
    } else {
        None
    };
    if let Some(what) = missing {
        let help = "install the Debian packages golang-go and golang-golang-x-mod-dev \
                    (bash .ci/run does this)";
        if in_ci() {
            panic!("Go interop test: {what}; {help}. CI is set, so this is a failure.");
        }
        // Written to the process's stderr directly, not with eprintln!, which
        // the test harness captures and hides for a passing test.
        let bar = "!".repeat(72);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!!! SKIPPING the Go interop test: {what}.\n\
             !!! To run it, {help}.\n\
             !!! Under CI (CI=true) this is a failure, not a skip.\n{bar}\n"
        );
        return None;
    }

    // One output path per process: test binaries run concurrently and must
    // not overwrite each other's executable.
    let tmp = crate::binary::target_tmp_dir();
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        panic!("creating {}: {e}", tmp.display());
    }
    let out = tmp.join(format!("claimlog-interop-{}", std::process::id()));
    let mut cmd = Command::new("go");
    cmd.current_dir(GO_SOURCE_DIR)
        .args(["build", "-trimpath", "-o"])
        .arg(&out)
        .arg(".")
        // Offline and hermetic: no module downloads, no toolchain switch, no
        // workspace or user flags, no C compiler (tests/interop/README.md).
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOWORK", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0");
    if std::env::var_os("GOCACHE").is_none() {
        cmd.env("GOCACHE", tmp.join("go-build-cache"));
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run go build: {e}"));
    assert!(
        output.status.success(),
        "go build of {GO_SOURCE_DIR} failed:\n{}",
        describe(&output)
    );
    Some(out)
}
