//! Interop with Go's reference implementation (`golang.org/x/mod/sumdb/note`
//! and `sumdb/tlog`) through the `claimlog-interop` program in
//! `tests/interop/go`: Go's notes, checkpoints, tiles and proofs are checked
//! with claimlog's modules, and claimlog's are checked by Go. The exchange
//! format is documented in `tests/interop/README.md`.

#[path = "../interop/harness.rs"]
mod interop_harness;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use interop_harness::{describe, interop_binary, run_interop};

/// Go's `gen` output is accepted by Go's own `check` and `check-log`: the
/// harness agrees with itself, so its rejections below mean something.
#[test]
fn go_harness_accepts_its_own_output() {
    let Some(go) = interop_binary() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let gen_out = run_interop(go, &[OsStr::new("gen"), dir.path().as_os_str()]);
    assert!(
        gen_out.status.success(),
        "gen failed:\n{}",
        describe(&gen_out)
    );
    let vkey = String::from_utf8(gen_out.stdout.clone()).expect("vkey is UTF-8");
    let vkey = vkey.trim_end();

    let check = run_interop(go, &[OsStr::new("check"), dir.path().as_os_str()]);
    assert!(
        check.status.success(),
        "check of Go's own output failed:\n{}",
        describe(&check)
    );

    let server = StaticServer::start(dir.path());
    let out = run_interop(
        go,
        &[
            OsStr::new("check-log"),
            server.url().as_ref(),
            vkey.as_ref(),
        ],
    );
    assert!(
        out.status.success(),
        "check-log over HTTP failed:\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("checkpoint of size 70000 verified"),
        "{}",
        describe(&out)
    );
}

/// A minimal static HTTP/1.1 file server on loopback, enough for
/// `claimlog-interop check-log` to read a tlog-tiles directory. Each
/// connection serves one GET and closes.
struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // A broken connection only fails that request; the Go
                    // side reports it.
                    let _ = serve_one(stream, &root);
                }
            }
        });
        StaticServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let file = (method == "GET").then(|| resolve(root, target)).flatten();
    let mut stream = stream;
    match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        None => {
            stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
        }
    }
    stream.flush()
}

/// Maps a request target to a file under root, refusing anything but plain
/// relative components.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let rel = Path::new(target.strip_prefix('/')?);
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        let path = root.join(rel);
        path.is_file().then_some(path)
    } else {
        None
    }
}
