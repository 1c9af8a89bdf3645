//! Tests of how submissions are read: the pending budget (503 before a
//! body is read, given back once answered), bodies without Content-Length
//! read into exactly-sized buffers and capped, and strict Content-Length.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpListener;

use super::submit::announced_length;
use super::tests::test_app;
use super::*;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::server::sequencer::SUBMISSION_OVERHEAD_BYTES;
use crate::server::sequencer::{ManualClock, SequencerConfig};
use crate::server::store::{MemoryStore, Store};

/// POSTs `parts` to `/v1/entries?wait=sequenced` at `addr` as an HTTP/1.1
/// chunked body (no Content-Length), one chunk per part, over a raw
/// connection; returns the status and the raw response.
async fn post_chunked(addr: std::net::SocketAddr, parts: Vec<Vec<u8>>) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut req = b"POST /v1/entries?wait=sequenced HTTP/1.1\r\nHost: x\r\n\
        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for p in parts {
        req.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        req.extend_from_slice(&p);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (413, 503) and close before reading it all.
    let _ = s.write_all(&req).await;
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp).await;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_budget_bounds_bodies_and_is_given_back() {
    // Room for one small submission (overhead + body) but not two, and
    // never for an unannounced (chunked) body, which reserves the limit.
    let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1));
    let key = SigningKey::from_bytes(&[5; 32]);
    let body = |n: u8| {
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &[b'{', b'0' + n, b'}'], &key).to_canonical_json()
    };
    let budget = SUBMISSION_OVERHEAD_BYTES + body(0).len() + 100;
    let sequencer = Arc::new(
        Sequencer::new(
            mem.clone(),
            clock.clone(),
            SequencerConfig {
                pending_bytes: budget,
                ..SequencerConfig::default()
            },
        )
        .unwrap(),
    );
    let app = test_app(mem, clock, sequencer.clone(), KeySet::new(), true, 3);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    tokio::spawn(async move { axum::serve(listener, router(app)).await });
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/entries?wait=sequenced");

    // The first submission waits in the pool (nobody sequences yet),
    // holding its body's share of the budget.
    let first = {
        let (client, url, b) = (client.clone(), url.clone(), body(1));
        tokio::spawn(async move { client.post(url).body(b).send().await.unwrap() })
    };
    while sequencer.pool_depth() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        sequencer.pending_bytes(),
        SUBMISSION_OVERHEAD_BYTES + body(1).len()
    );
    // ... and /metrics shows it.
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let want = format!(
        "claimlog_pending_bytes {}",
        SUBMISSION_OVERHEAD_BYTES + body(1).len()
    );
    assert!(metrics.lines().any(|l| l == want), "{want}:\n{metrics}");
    let resp = client.post(&url).body(body(2)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(resp.text().await.unwrap().lines().count(), 1);

    sequencer.sequence_once().unwrap();
    let resp = first.await.unwrap();
    assert_eq!(resp.status(), 200);
    // Answered: everything is given back.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sequencer.pending_bytes() != 0 {
        assert!(std::time::Instant::now() < deadline, "budget not released");
        tokio::task::yield_now().await;
    }

    // A chunked body (no Content-Length) reserves the whole limit, which
    // this budget cannot hold: 503 before anything is read.
    let (status, text) = post_chunked(addr, vec![body(3)]).await;
    assert_eq!(status, 503, "{text}");
    // Announcing more than the limit is refused before any reservation.
    let resp = client
        .post(&url)
        .body(vec![b' '; BODY_LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // The unread body makes the connection unusable: the client is told.
    assert_eq!(resp.headers()["connection"], "close");
    assert_eq!(sequencer.pending_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_are_read_exactly_and_capped() {
    let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1));
    let sequencer =
        Arc::new(Sequencer::new(mem.clone(), clock.clone(), SequencerConfig::default()).unwrap());
    let app = test_app(mem, clock, sequencer.clone(), KeySet::new(), true, 1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(app)).await });
    // An envelope sent in three chunks without Content-Length.
    let key = SigningKey::from_bytes(&[6; 32]);
    let json = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"{}", &key).to_canonical_json();
    let (a, rest) = json.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    let send = tokio::spawn(post_chunked(addr, vec![a.to_vec(), b.to_vec(), c.to_vec()]));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sequencer.pool_depth() == 0 {
        assert!(std::time::Instant::now() < deadline, "never queued");
        tokio::task::yield_now().await;
    }
    // Read: only the actual size stays reserved, not the 64 KiB limit.
    assert_eq!(
        sequencer.pending_bytes(),
        SUBMISSION_OVERHEAD_BYTES + json.len()
    );
    sequencer.sequence_once().unwrap();
    let (status, text) = send.await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"index\":0"), "{text}");

    // Chunks adding up to one byte over the limit: 413, nothing queued.
    let half = vec![b' '; BODY_LIMIT / 2];
    let (status, text) =
        post_chunked(addr, vec![half.clone(), vec![b' '; BODY_LIMIT / 2 + 1]]).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.ends_with(&format!(
            "\r\n\r\nrequest body larger than {BODY_LIMIT} bytes\n"
        )),
        "{text}"
    );
    // A body exactly at the limit is read (and refused as JSON, not size).
    let (status, text) = post_chunked(addr, vec![half.clone(), half]).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(sequencer.pool_depth(), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sequencer.pending_bytes() != 0 {
        assert!(std::time::Instant::now() < deadline, "budget not released");
        tokio::task::yield_now().await;
    }
}

#[test]
fn content_length_is_canonical_decimal() {
    let headers = |v: &str| {
        let mut h = axum::http::HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_str(v).unwrap());
        h
    };
    assert_eq!(announced_length(&axum::http::HeaderMap::new()), Ok(None));
    assert_eq!(announced_length(&headers("0")), Ok(Some(0)));
    assert_eq!(announced_length(&headers("1030")), Ok(Some(1030)));
    assert_eq!(
        announced_length(&headers("18446744073709551615")),
        Ok(Some(usize::MAX))
    );
    for bad in [
        "",
        "01",
        "+1",
        "-1",
        "1.0",
        " 1",
        "0x10",
        "18446744073709551616",
    ] {
        assert!(announced_length(&headers(bad)).is_err(), "{bad:?}");
    }
}
