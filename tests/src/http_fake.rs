//! A tiny HTTP/1.1 server on loopback whose every answer is decided by the
//! test: fakes (a vendor's well-known document, a witness's monitoring
//! endpoint, a webhook that fails on purpose) and a forwarding proxy in
//! front of a real log that can rewrite, refuse or count what passes
//! ([`forward`]).
//!
//! One request per connection (`Connection: close`), bodies by
//! `Content-Length` only: enough for `reqwest` and the log, and simple enough
//! that a fault (a dropped connection) is exactly what the test asked for.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The largest request or forwarded response body read (entry bundles are up
/// to 16 MiB).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long one exchange may take.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with its query, e.g. `/tile/0/000`.
    pub path: String,
    /// The header fields, names lowercased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for a GET).
    pub body: Vec<u8>,
}

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and body.
    Answer {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
    /// Close the connection without answering (the request was read).
    Drop,
}

impl Request {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Reply {
    /// `200` with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Answer {
            status: 200,
            body: body.into(),
        }
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::Answer {
            status,
            body: Vec::new(),
        }
    }
}

/// A handler: decides the reply to each request (called from the
/// connection's thread; it may block, e.g. to hold a request back).
pub type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// Serves `handler` on a free loopback port from threads that live as long
/// as the test process; returns the base URL (`http://127.0.0.1:<port>`).
pub fn serve(
    handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let handler: Arc<Handler> = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || {
                // A failed exchange fails the client's request, which the
                // test sees.
                let _ = exchange(stream, &*handler);
            });
        }
    });
    Ok(base)
}

/// Serves `body` as `/.well-known/claimlog.json` (anything else: 404): a
/// vendor's document standing in for `https://<domain>` (the log maps the
/// domain to this base URL with `well_known_base_urls`, spec/vendor.md).
pub fn serve_well_known(body: String) -> anyhow::Result<String> {
    serve(move |r| match r.path.as_str() {
        "/.well-known/claimlog.json" if r.method == "GET" => Reply::ok(body.clone()),
        _ => Reply::status(404),
    })
}

fn exchange(mut stream: TcpStream, handler: &Handler) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let (method, path, headers, body) = {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            bail!("bad request line {line:?}");
        };
        let (method, path) = (method.to_owned(), path.to_owned());
        let mut headers = Vec::new();
        let len = read_headers(&mut reader, &mut headers)?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        (method, path, headers, body)
    };
    match handler(&Request {
        method,
        path,
        headers,
        body,
    }) {
        Reply::Drop => Ok(()),
        Reply::Answer { status, body } => {
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
            Ok(stream.flush()?)
        }
    }
}

/// Reads header lines up to the blank line into `headers` (name
/// lowercased, value trimmed); returns the `Content-Length`.
fn read_headers(
    reader: &mut impl std::io::BufRead,
    headers: &mut Vec<(String, String)>,
) -> anyhow::Result<usize> {
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            return Ok(len);
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().context("content-length")?;
            if len > MAX_BODY {
                bail!("body of {len} bytes");
            }
        }
        if lower.starts_with("transfer-encoding:") {
            bail!("chunked bodies are not supported");
        }
    }
}

/// Sends `request` to `upstream` (`http://host:port`) and returns its answer;
/// a connection refused or broken upstream is [`Reply::Drop`] (the client
/// sees a transport error, as it would without the proxy).
pub fn forward(upstream: &str, request: &Request) -> Reply {
    forward_checked(upstream, request).unwrap_or(Reply::Drop)
}

fn forward_checked(upstream: &str, request: &Request) -> anyhow::Result<Reply> {
    let host = upstream
        .strip_prefix("http://")
        .with_context(|| format!("not an http URL: {upstream}"))?
        .trim_end_matches('/');
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(
        s,
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\
         Content-Type: application/json\r\n\r\n",
        request.method,
        request.path,
        request.body.len()
    )?;
    s.write_all(&request.body)?;
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("status line {status_line:?}"))?;
    let len = read_headers(&mut reader, &mut Vec::new())?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Reply::Answer { status, body })
}

/// A rewrite rule of a [`Proxy`]: given the request path and the upstream's
/// 200 body, the body to answer instead (`None`: unchanged).
pub type Rewrite = dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync;

/// A forwarding proxy in front of a log: its upstream can be switched (a
/// restarted log on another port, or another log process), the requests
/// that passed are recorded with their time, and 200 answers can be
/// rewritten (a log that lies).
pub struct Proxy {
    url: String,
    upstream: Arc<std::sync::Mutex<String>>,
    seen: Arc<std::sync::Mutex<Vec<(std::time::Instant, String)>>>,
    rewrite: Arc<std::sync::Mutex<Option<Arc<Rewrite>>>>,
}

impl Proxy {
    /// A proxy forwarding to `upstream`.
    pub fn start(upstream: &str) -> anyhow::Result<Proxy> {
        let upstream = Arc::new(std::sync::Mutex::new(upstream.to_owned()));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let rewrite: Arc<std::sync::Mutex<Option<Arc<Rewrite>>>> =
            Arc::new(std::sync::Mutex::new(None));
        let (u, s, rw) = (upstream.clone(), seen.clone(), rewrite.clone());
        let url = serve(move |r| {
            lock(&s).push((std::time::Instant::now(), r.path.clone()));
            let target = lock(&u).clone();
            let rule = lock(&rw).clone();
            match (forward(&target, r), rule) {
                (Reply::Answer { status: 200, body }, Some(rule)) => {
                    Reply::ok(rule(&r.path, &body).unwrap_or(body))
                }
                (reply, _) => reply,
            }
        })?;
        Ok(Proxy {
            url,
            upstream,
            seen,
            rewrite,
        })
    }

    /// The proxy's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Forwards to `upstream` from now on.
    pub fn set_upstream(&self, upstream: &str) {
        *lock(&self.upstream) = upstream.to_owned();
    }

    /// Rewrites 200 answers with `rule` from now on (`None`: stop).
    pub fn set_rewrite(&self, rule: Option<Arc<Rewrite>>) {
        *lock(&self.rewrite) = rule;
    }

    /// When each request for exactly `path` arrived, oldest first.
    pub fn times(&self, path: &str) -> Vec<std::time::Instant> {
        lock(&self.seen)
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(t, _)| *t)
            .collect()
    }
}

/// Locks `m`, also when a panicking handler poisoned it (every update is a
/// single assignment or push, so the data is whole).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
