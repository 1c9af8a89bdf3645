//! Support for the Go interop tests: the exchange directory's manifest
//! (`interop.json`, documented in `tests/interop/README.md`), file helpers,
//! and a minimal static HTTP server so `claimlog-interop check-log` can read a
//! directory as a tlog-tiles log.
//!
//! Include it from a test file in the `tests` crate with
//! `#[path = "../interop/exchange.rs"] mod exchange;`.

#![allow(dead_code)] // Each including test uses a different subset.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use claimlog::merkle::Hash;
use serde_json::Value;

/// An exchange directory's manifest (`interop.json`), read strictly enough for
/// a test: every field must be present with the right type.
pub struct Manifest {
    pub vkey: String,
    pub skey: String,
    pub note: String,
    pub size: u64,
    pub roots: BTreeMap<u64, Hash>,
    pub inclusion: Vec<InclusionCase>,
    pub consistency: Vec<ConsistencyCase>,
    pub tiles: Vec<String>,
}

pub struct InclusionCase {
    pub index: u64,
    pub size: u64,
    pub leaf: Hash,
    pub proof: Vec<Hash>,
}

pub struct ConsistencyCase {
    pub old: u64,
    pub new: u64,
    pub proof: Vec<Hash>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Manifest {
        let text = fs::read_to_string(dir.join("interop.json")).expect("read interop.json");
        let v: Value = serde_json::from_str(&text).expect("interop.json is JSON");
        assert_eq!(v["format"], "claimlog-interop/v1");
        let roots = array(&v["roots"])
            .iter()
            .map(|r| (number(&r["size"]), hash(&r["root"])))
            .collect();
        let inclusion = array(&v["inclusion"])
            .iter()
            .map(|c| InclusionCase {
                index: number(&c["index"]),
                size: number(&c["size"]),
                leaf: hash(&c["leaf_hash"]),
                proof: array(&c["proof"]).iter().map(hash).collect(),
            })
            .collect();
        let consistency = array(&v["consistency"])
            .iter()
            .map(|c| ConsistencyCase {
                old: number(&c["old"]),
                new: number(&c["new"]),
                proof: array(&c["proof"]).iter().map(hash).collect(),
            })
            .collect();
        Manifest {
            vkey: string(&v["vkey"]),
            skey: string(&v["skey"]),
            note: string(&v["note"]),
            size: number(&v["size"]),
            roots,
            inclusion,
            consistency,
            tiles: array(&v["tiles"]).iter().map(string).collect(),
        }
    }
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected a u64, got {v}"))
}

fn string(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_owned()
}

fn hash(v: &Value) -> Hash {
    Hash::from_base64(v.as_str().unwrap_or_default())
        .unwrap_or_else(|| panic!("expected a canonical base64 hash, got {v}"))
}

pub fn write_manifest(dir: &Path, manifest: &Value) {
    let text = serde_json::to_string_pretty(manifest).expect("serialize manifest");
    write_file(dir, "interop.json", format!("{text}\n").as_bytes());
}

pub fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let text = fs::read_to_string(dir.join("interop.json")).expect("read manifest");
    let mut v: Value = serde_json::from_str(&text).expect("manifest JSON");
    edit(&mut v);
    write_manifest(dir, &v);
}

pub fn write_file(dir: &Path, rel: &str, data: &[u8]) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("file has a parent")).expect("create dirs");
    fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

pub fn flip_byte(path: &Path, at: usize) {
    let mut data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    data[at] ^= 0x80;
    fs::write(path, data).expect("write");
}

/// Every file under dir/tile, as a slash-separated path relative to dir.
pub fn list_tile_files(dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).expect("read dir") {
            let e = e.expect("dir entry");
            let name = format!("{rel}/{}", e.file_name().to_string_lossy());
            if e.file_type().expect("file type").is_dir() {
                walk(&e.path(), &name, out);
            } else {
                out.insert(name);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&dir.join("tile"), "tile", &mut out);
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for e in fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// A minimal static HTTP/1.1 file server on loopback, enough for
/// `claimlog-interop check-log` to read a tlog-tiles directory. Each
/// connection serves one GET and closes.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    pub fn start(root: &Path) -> StaticServer {
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

    pub fn url(&self) -> String {
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
