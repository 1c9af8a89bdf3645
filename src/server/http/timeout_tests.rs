//! `client_timeout_ms`: idle and slow clients lose their connection, and
//! with it their `max_connections` slot; a body that does not arrive in time
//! gets 408. A real server (`crate::server::serve`) on loopback, raw TCP.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tests::{Running, get_ok, start, test_config};

/// Far beyond the 300 ms timeout: only a server that never closes the
/// connection runs into it.
const PATIENCE: Duration = Duration::from_secs(20);

async fn server(client_timeout_ms: u64) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.client_timeout_ms = client_timeout_ms;
    start(config, dir).await
}

async fn connect(r: &Running) -> TcpStream {
    TcpStream::connect(r.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection; `None` if it
/// is still open after [`PATIENCE`].
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.ok()?;
    Some(got)
}

/// `GET /healthz` over a new HTTP/1.1 connection with `headers` added:
/// answered `ok`, and the connection closed (`what` if it stays open).
async fn healthz(r: &Running, headers: &str, what: &str) {
    let mut stream = connect(r).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let got = until_closed(&mut stream).await.expect(what);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nok\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_clients_lose_their_connection() {
    let r = server(300).await;

    // Connected, never sends anything.
    let mut idle = connect(&r).await;
    assert!(
        until_closed(&mut idle).await.is_some(),
        "idle connection kept"
    );

    // Starts the HTTP/2 preface and stops (before hyper knows the protocol).
    let mut preface = connect(&r).await;
    preface.write_all(b"PRI * HT").await.unwrap();
    assert!(
        until_closed(&mut preface).await.is_some(),
        "slow preface kept"
    );

    // Sends half a request head and stops.
    let mut slow = connect(&r).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let got = until_closed(&mut slow).await.expect("slow head kept");
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A prompt request is answered; the connection is then idle, and closed.
    healthz(&r, "", "idle keep-alive kept").await;

    // A submission whose body stops short: 408 with the reason, then closed.
    let mut trickle = connect(&r).await;
    trickle
        .write_all(
            b"POST /v1/entries HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"payload\":",
        )
        .await
        .unwrap();
    let got = until_closed(&mut trickle).await.expect("slow body kept");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nthe request body did not arrive within 300 ms\n"),
        "{text}"
    );
    // Its share of `pending_bytes` is back: the pool is empty again.
    let metrics = String::from_utf8(get_ok(&r, "/metrics").await).unwrap();
    assert!(
        metrics.contains("\nclaimlog_pending_bytes 0\n"),
        "{metrics}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_gives_its_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.client_timeout_ms = 300;
    config.max_connections = 1;
    let r = start(config, dir).await;
    // An HTTP/2 client that answers PINGs and keeps its connection in its
    // pool (reqwest's default idle time is 90 s) holds the only slot ...
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get(format!("{}/healthz", r.base)).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    // ... until it has been idle for `client_timeout_ms`: then an HTTP/1.1
    // client is served.
    healthz(
        &r,
        "Connection: close\r\n",
        "no answer while the HTTP/2 client idles",
    )
    .await;
    // The HTTP/2 client still works: it reconnects.
    let resp = h2.get(format!("{}/healthz", r.base)).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    drop(h2);
    r.stop().await;
}
