//! Lean tile-fetching clients for `claimlog-load tiles`.
//!
//! The load generator shares the server's 2 cores, so every microsecond it
//! spends per request is one the server does not get. reqwest (connection
//! pool, per-request futures, header maps, body streams) costs more per
//! request than the server's cached-tile path; these clients do the least a
//! correct client does:
//!
//! - [`Http1Conn`]: one HTTP/1.1 keep-alive connection (RFC 9112), one
//!   request at a time (`GET`, or a `POST` with a `Content-Length` body, as
//!   `claimlog-load submit` and `claims` send): one `write` of the request, then reads into one
//!   reused buffer until the response head (parsed with `httparse`) and its
//!   `Content-Length` body are complete. Responses without a
//!   `Content-Length` (chunked, or close-delimited) are refused: the tile
//!   endpoints always send one.
//! - [`H2Conn`]: one HTTP/2 connection over cleartext with prior knowledge
//!   (RFC 9113 §3.3), hyper's client; clone it to run several streams on it.
//!
//! Both only count body bytes; checking what they contain is the end-to-end
//! tests' job.

use std::io;

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Response heads larger than this are refused (ours are ~150 bytes).
const MAX_HEAD: usize = 16 * 1024;

/// Bodies larger than this are refused (a tile is at most 8 KiB, a bundle
/// of 256 entries of at most 64 KiB each about 16 MiB).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// What a GET answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// Bytes in the body.
    pub body_len: usize,
}

/// `host:port` of an `http://host:port[/]` base URL.
pub fn authority(url: &str) -> anyhow::Result<&str> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("{url}: only http:// URLs are supported");
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        bail!("{url}: expected http://host:port with no path");
    }
    Ok(authority)
}

/// One HTTP/1.1 keep-alive connection, one request at a time.
pub struct Http1Conn {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Http1Conn {
    /// Connects to `authority` (`host:port`), with `TCP_NODELAY` (a request
    /// is one write; nothing to coalesce).
    pub async fn connect(authority: &str) -> io::Result<Http1Conn> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Http1Conn {
            stream,
            host: authority.to_owned(),
            request: Vec::with_capacity(128),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// `GET path` (an origin-form path, `/tile/...`) and reads the whole
    /// response. An error leaves the connection unusable.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Fetched> {
        self.request.clear();
        for part in ["GET ", path, " HTTP/1.1\r\nHost: ", &self.host, "\r\n\r\n"] {
            self.request.extend_from_slice(part.as_bytes());
        }
        let head = self.exchange().await?;
        Ok(Fetched {
            status: head.status,
            body_len: head.content_length,
        })
    }

    /// `POST path` with `body` (of type `content_type`), in one write;
    /// returns the status and the response body. An error leaves the
    /// connection unusable.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, &[u8])> {
        self.request.clear();
        let length = body.len().to_string();
        for part in [
            "POST ",
            path,
            " HTTP/1.1\r\nHost: ",
            &self.host,
            "\r\nContent-Type: ",
            content_type,
            "\r\nContent-Length: ",
            &length,
            "\r\n\r\n",
        ] {
            self.request.extend_from_slice(part.as_bytes());
        }
        self.request.extend_from_slice(body);
        let head = self.exchange().await?;
        Ok((head.status, &self.buf[head.len..]))
    }

    /// Writes the request in `self.request` and reads the whole response
    /// into `self.buf` (its head, then exactly `Content-Length` bytes).
    async fn exchange(&mut self) -> anyhow::Result<Head> {
        self.stream.write_all(&self.request).await?;
        // One request in flight, so the buffer starts empty: whatever the
        // previous response left would be a protocol error, caught below.
        self.buf.clear();
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.read_more().await?;
        };
        let total = head.len + head.content_length;
        while self.buf.len() < total {
            self.read_more().await?;
        }
        if self.buf.len() > total {
            bail!("{} bytes after the response", self.buf.len() - total);
        }
        if head.close {
            bail!("the server closed the connection (Connection: close)");
        }
        Ok(head)
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        self.buf.reserve(16 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("connection closed mid-response");
        }
        Ok(())
    }
}

/// A parsed HTTP/1.1 response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Bytes of the head, up to and including the blank line.
    pub len: usize,
    /// The body's length, from `Content-Length`.
    pub content_length: usize,
    /// `Connection: close` was sent.
    pub close: bool,
}

/// Parses a response head from the start of `buf`: `Ok(None)` if it is
/// not complete yet. Refuses heads over [`MAX_HEAD`], responses framed any
/// other way than by one valid `Content-Length` (RFC 9112 §6.3), and bodies
/// over [`MAX_BODY`].
pub fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf).context("malformed response head")? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial if buf.len() > MAX_HEAD => {
            bail!("response head larger than {MAX_HEAD} bytes")
        }
        httparse::Status::Partial => return Ok(None),
    };
    if resp.version != Some(1) {
        bail!("not an HTTP/1.1 response");
    }
    let status = resp.code.context("response without a status")?;
    let mut content_length = None;
    let mut close = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .context("invalid Content-Length")?;
            if content_length.replace(v).is_some() {
                bail!("more than one Content-Length");
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("Transfer-Encoding in a response (only Content-Length is supported)");
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h
                .value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    let content_length = content_length.context("response without Content-Length")?;
    if content_length > MAX_BODY {
        bail!("body of {content_length} bytes is over {MAX_BODY}");
    }
    Ok(Some(Head {
        status,
        len,
        content_length,
        close,
    }))
}

/// One HTTP/2 connection (h2c, prior knowledge). Clones share the
/// connection; each clone runs one stream at a time.
#[derive(Clone)]
pub struct H2Conn {
    send: http2::SendRequest<Empty<Bytes>>,
    base: String,
}

impl H2Conn {
    /// Connects to `authority` (`host:port`) and does the HTTP/2 handshake;
    /// the connection is driven by a spawned task.
    pub async fn connect(authority: &str) -> anyhow::Result<H2Conn> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let (send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .context("HTTP/2 handshake")?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("h2c connection: {e}");
            }
        });
        Ok(H2Conn {
            send,
            base: format!("http://{authority}"),
        })
    }

    /// `GET path` on a new stream, reading the whole body.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Fetched> {
        self.send.ready().await?;
        let req = hyper::Request::get(format!("{}{path}", self.base)).body(Empty::new())?;
        let resp = self.send.send_request(req).await?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut body_len = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                body_len += data.len();
                if body_len > MAX_BODY {
                    bail!("body over {MAX_BODY} bytes");
                }
            }
        }
        Ok(Fetched { status, body_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
        cache-control: public, max-age=31536000, immutable\r\ncontent-length: 8192\r\n\
        date: Sun, 29 Nov 2026 18:31:41 GMT\r\n\r\n";

    #[test]
    fn parses_a_complete_head_and_waits_for_a_partial_one() {
        let head = parse_head(OK).unwrap().unwrap();
        assert_eq!(
            head,
            Head {
                status: 200,
                len: OK.len(),
                content_length: 8192,
                close: false
            }
        );
        let mut with_body = OK.to_vec();
        with_body.extend_from_slice(&[7; 100]);
        assert_eq!(parse_head(&with_body).unwrap(), Some(head));
        for cut in [0, 1, 10, OK.len() - 1] {
            assert_eq!(parse_head(&OK[..cut]).unwrap(), None, "cut at {cut}");
        }
        let close =
            b"HTTP/1.1 404 Not Found\r\nConnection: keep-alive, Close\r\ncontent-length: 3\r\n\r\n";
        let head = parse_head(close).unwrap().unwrap();
        assert_eq!(
            (head.status, head.content_length, head.close),
            (404, 3, true)
        );
    }

    #[test]
    fn refuses_framing_it_does_not_support() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: +1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n",
            b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\ncontent-length: 1\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut huge = b"HTTP/1.1 200 OK\r\nx: ".to_vec();
        huge.resize(MAX_HEAD + 1, b'a');
        assert!(parse_head(&huge).is_err());
    }

    #[test]
    fn authority_of_base_urls() {
        assert_eq!(
            authority("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            authority("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        for bad in ["https://x:1", "http://", "http://x:1/log", "x:1"] {
            assert!(authority(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn posts_in_one_request_and_reads_the_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let body = b"{\"payload\":\"x\"}".to_vec();
        let expected = format!(
            "POST /v1/entries?wait=sequenced HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            String::from_utf8_lossy(&body)
        );
        let want = expected.len();
        // Answers two requests on one connection: a 200 with a body, then a
        // 503 (keep-alive holds across both).
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            for answer in [
                &b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"index\":7}"[..],
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy",
            ] {
                let mut request = vec![0; want];
                s.read_exact(&mut request).await.unwrap();
                seen.push(request);
                s.write_all(answer).await.unwrap();
            }
            seen
        });
        let mut conn = Http1Conn::connect(&addr).await.unwrap();
        let path = "/v1/entries?wait=sequenced";
        let (status, answer) = conn.post(path, "application/json", &body).await.unwrap();
        assert_eq!((status, answer), (200, &b"{\"index\":7}"[..]));
        let (status, answer) = conn.post(path, "application/json", &body).await.unwrap();
        assert_eq!((status, answer), (503, &b"busy"[..]));
        for request in server.await.unwrap() {
            assert_eq!(String::from_utf8(request).unwrap(), expected);
        }
    }
}
