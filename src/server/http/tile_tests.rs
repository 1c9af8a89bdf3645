//! Tests of the tile read path: the cached-tile fast path answers with the
//! same bytes as the router (status line and headers byte for byte, body),
//! everything it declines is routed as before, HTTP/2 with prior knowledge
//! serves the same tiles, and shutdown does not wait for idle connections.
//! Also: submissions larger than HTTP/2's flow-control window and HTTP/1.1's
//! capped read buffer are read whole through [`serve_http`].

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::tests::{envelope, submitter, test_app};
use super::*;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::server::entry::envelope_hash;
use crate::server::sequencer::{ManualClock, SequencerConfig};
use crate::server::store::{MemoryStore, Store};

/// Entries in the test log: one full level-0 tile and a partial one.
const ENTRIES: u64 = 300;

/// An [`App`] over a memory store holding [`ENTRIES`] entries, sequenced
/// by hand; nothing has read a tile yet, so the tile cache is empty.
async fn app_with_entries() -> Arc<App> {
    let (store, clock, sequencer) = sequenced_log(ENTRIES).await;
    assert_eq!(sequencer.head().0, ENTRIES);
    test_app(store, clock, sequencer, KeySet::new(), false, 1)
}

/// A memory store holding `entries` envelopes by submitter 1, sequenced by
/// hand, with its clock and sequencer.
pub(super) async fn sequenced_log(
    entries: u64,
) -> (Arc<dyn Store>, Arc<ManualClock>, Arc<Sequencer>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let sequencer =
        Arc::new(Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap());
    let key = submitter(1);
    let mut replies = Vec::new();
    for n in 0..entries {
        let body = envelope(n, &key);
        let hash = envelope_hash(&body);
        replies.push(sequencer.submit(body, hash).unwrap());
    }
    while sequencer.pool_depth() > 0 {
        sequencer.sequence_once().unwrap();
    }
    for r in replies {
        r.await.unwrap().unwrap();
    }
    (store, clock, sequencer)
}

/// A running [`serve_http`] on 127.0.0.1:0.
struct Served {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(app: &Arc<App>) -> Served {
    serve_limited(app, 4096).await
}

async fn serve_limited(app: &Arc<App>, max_connections: usize) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_http(
        listener,
        app.clone(),
        router(app.clone()),
        max_connections,
        async {
            let _ = stopped.await;
        },
    ));
    Served { addr, stop, task }
}

/// One response read off a raw HTTP/1.1 connection: the head with the
/// `date` value blanked (it is the only header that varies), and the body.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Raw {
    pub(super) head: String,
    pub(super) body: Vec<u8>,
}

/// Sends `GET path` on a keep-alive connection and reads exactly one
/// response (framed by its Content-Length).
async fn raw_get(conn: &mut TcpStream, path: &str) -> Raw {
    raw_request(conn, "GET", path).await
}

async fn raw_request(conn: &mut TcpStream, method: &str, path: &str) -> Raw {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    read_response(conn, method == "HEAD").await
}

/// Reads exactly one response off `conn`, framed by its Content-Length
/// (no body after the head when `head_only`, as for `HEAD`).
pub(super) async fn read_response(conn: &mut TcpStream, head_only: bool) -> Raw {
    let mut buf = Vec::new();
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_len].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.parse().unwrap());
    let body_len = if head_only { 0 } else { length };
    while buf.len() < head_len + body_len {
        let mut chunk = [0u8; 16384];
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(buf.len(), head_len + body_len, "bytes after the response");
    let head = head
        .lines()
        .map(|l| match l.strip_prefix("date: ") {
            Some(_) => "date: <date>",
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    Raw {
        head,
        body: buf[head_len..].to_vec(),
    }
}

/// The exact head of a tile response of `len` bytes.
fn tile_head(len: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
         cache-control: public, max-age=31536000, immutable\r\n\
         content-length: {len}\r\ndate: <date>\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tiles_are_answered_byte_for_byte_like_routed_ones() {
    let app = app_with_entries().await;
    let served = serve(&app).await;
    let mut conn = TcpStream::connect(served.addr).await.unwrap();

    // Nothing cached: the first request is routed, and caches the tile.
    assert!(cached_tile_response(&app, &Method::GET, "/tile/0/000").is_none());
    let routed = raw_get(&mut conn, "/tile/0/000").await;
    assert_eq!(routed.head, tile_head(8192));
    assert_eq!(routed.body.len(), 8192);
    let stored = app.reader.tile(0, 0, 256).unwrap().unwrap();
    assert_eq!(routed.body, stored.to_vec());

    // Now the fast path answers it, on the same keep-alive connection.
    assert_eq!(app.metrics.cached_tiles(), 0);
    let cached = raw_get(&mut conn, "/tile/0/000").await;
    assert_eq!(app.metrics.cached_tiles(), 1, "not answered from the cache");
    assert_eq!(cached, routed);

    // A partial view of a cached full tile is a prefix, same headers.
    let prefix = raw_get(&mut conn, "/tile/0/000.p/5").await;
    assert_eq!(prefix.head, tile_head(160));
    assert_eq!(prefix.body, routed.body[..160].to_vec());
    assert_eq!(app.metrics.cached_tiles(), 2, "not answered from the cache");

    // The right edge (partial tile, never cached) is routed, same headers.
    let edge = raw_get(&mut conn, "/tile/0/001.p/44").await;
    assert!(cached_tile_response(&app, &Method::GET, "/tile/0/001.p/44").is_none());
    assert_eq!(edge.head, tile_head(44 * 32));

    // Entry bundles are routed (never from the hash-tile cache).
    let bundle = raw_get(&mut conn, "/tile/entries/000").await;
    assert!(cached_tile_response(&app, &Method::GET, "/tile/entries/000").is_none());
    assert!(bundle.head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(
        crate::tiles::decode_bundle(&bundle.body, 256)
            .unwrap()
            .len(),
        256
    );

    // Every request was counted under the tile route, routed or not.
    assert_eq!(app.metrics.cached_tiles(), 2);
    let metrics = app.metrics.render(Gauges::default());
    assert!(
        metrics
            .lines()
            .any(|l| l == "claimlog_http_requests_total{route=\"/tile/{*path}\",status=\"200\"} 5"),
        "{metrics}"
    );

    let _ = served.stop.send(());
    served.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_declines_everything_but_a_get_of_a_cached_tile() {
    let app = app_with_entries().await;
    // Cache tile 0/000 (and only it).
    app.reader.tile(0, 0, 256).unwrap().unwrap();
    assert!(cached_tile_response(&app, &Method::GET, "/tile/0/000").is_some());
    for (method, path) in [
        (Method::HEAD, "/tile/0/000"),
        (Method::POST, "/tile/0/000"),
        // Not canonical tile paths (the router answers 404 or decodes).
        (Method::GET, "/tile/0/%30%30%30"),
        (Method::GET, "/tile/0/0"),
        (Method::GET, "/tile/0/000/"),
        (Method::GET, "/tile/0/x000"),
        (Method::GET, "/tile/00/000"),
        (Method::GET, "/tile/0/000.p/0"),
        (Method::GET, "/tile/0/000.p/256"),
        (Method::GET, "/tile/0/000.p/05"),
        (Method::GET, "tile/0/000"),
        (Method::GET, "//tile/0/000"),
        (Method::GET, "/tiles/0/000"),
        (Method::GET, "/tile/"),
        (Method::GET, ""),
        // Not cached: another tile, a level with no full tile, bundles.
        (Method::GET, "/tile/0/001"),
        (Method::GET, "/tile/1/000"),
        (Method::GET, "/tile/entries/000"),
    ] {
        assert!(
            cached_tile_response(&app, &method, path).is_none(),
            "{method} {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tile_errors_and_head_requests_are_routed_as_before() {
    let app = app_with_entries().await;
    app.reader.tile(0, 0, 256).unwrap().unwrap();
    let served = serve(&app).await;
    let mut conn = TcpStream::connect(served.addr).await.unwrap();
    // HEAD of a cached tile: routed (axum answers HEAD for GET routes),
    // same head, no body.
    let head = raw_request(&mut conn, "HEAD", "/tile/0/000").await;
    assert_eq!(head.head, tile_head(8192));
    assert!(head.body.is_empty());
    // Missing and malformed tiles: 404 with a one-line reason.
    for path in [
        "/tile/0/002",
        "/tile/0/001",
        "/tile/0/001.p/45",
        "/tile/1/000",
        "/tile/entries/001",
        "/tile/0/000.p/256",
        "/tile/0/0",
        "/tile/0/000.p/05",
        "/tile/x",
    ] {
        let resp = raw_get(&mut conn, path).await;
        assert!(
            resp.head.starts_with(
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\n"
            ),
            "{path}: {}",
            resp.head
        );
        let text = String::from_utf8(resp.body).unwrap();
        assert_eq!(text.lines().count(), 1, "{path}: {text:?}");
    }
    // A bad request outside the tiles is still a 400 from the router.
    let resp = raw_get(&mut conn, "/v1/entries/01").await;
    assert!(
        resp.head.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{}",
        resp.head
    );
    let _ = served.stop.send(());
    served.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_serves_the_same_tiles() {
    let app = app_with_entries().await;
    let served = serve(&app).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let base = format!("http://{}", served.addr);
    let mut bodies = Vec::new();
    // Routed (uncached), then from the cache; then a partial tile.
    for path in ["/tile/0/000", "/tile/0/000", "/tile/0/001.p/44"] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "{path}");
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/octet-stream");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        bodies.push(resp.bytes().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0].len(), 8192);
    assert_eq!(bodies[2].len(), 44 * 32);
    let resp = client
        .get(format!("{base}/tile/0/002"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // HTTP/1.1 still works on the same listener.
    let mut conn = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(raw_get(&mut conn, "/tile/0/000").await.body, bodies[0]);
    let _ = served.stop.send(());
    served.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_drops_every_app_clone() {
    let app = app_with_entries().await;
    let served = serve(&app).await;
    // An idle keep-alive connection after one answered request.
    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    raw_get(&mut idle, "/tile/0/000").await;
    let _ = served.stop.send(());
    tokio::time::timeout(Duration::from_secs(60), served.task)
        .await
        .expect("serve_http did not return with an idle connection open")
        .unwrap()
        .unwrap();
    // The connection was closed by the server, and no connection task
    // still holds the app.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(60), idle.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(Arc::strong_count(&app), 1);
}

#[tokio::test]
async fn at_most_max_connections_are_served_at_once() {
    let app = app_with_entries().await;
    let served = serve_limited(&app, 2).await;
    let mut first = TcpStream::connect(served.addr).await.unwrap();
    let mut second = TcpStream::connect(served.addr).await.unwrap();
    assert!(
        raw_get(&mut first, "/healthz")
            .await
            .head
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        raw_get(&mut second, "/healthz")
            .await
            .head
            .starts_with("HTTP/1.1 200")
    );
    // Both slots are taken: the third connection waits in the accept
    // queue and its request is not answered...
    let mut third = TcpStream::connect(served.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(early.is_err(), "a third connection was served");
    // ...until one of the first two closes; then it is.
    drop(first);
    let mut rest = Vec::new();
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        let mut chunk = [0u8; 1024];
        while !rest.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = third.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed");
            rest.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(answered.is_ok(), "the third connection was never served");
    assert!(rest.starts_with(b"HTTP/1.1 200"));
    drop((second, third));
    served.stop.send(()).unwrap();
    served.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_submissions_pass_the_h2_window_and_the_h1_buffer_cap() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let sequencer =
        Arc::new(Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap());
    let app = test_app(
        store.clone(),
        clock,
        sequencer.clone(),
        KeySet::new(),
        true,
        1,
    );
    let served = serve(&app).await;
    let url = format!("http://{}/v1/entries?wait=sequenced", served.addr);
    let key = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    // ~59 KB of canonical JSON: more than the 65,535-byte HTTP/2 window
    // minus what a first request may send, and than the 16 KiB HTTP/1.1
    // read buffer, below the 64 KiB body limit.
    let big = |tag: char| {
        let payload = format!(
            "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"pad\":\"{}\"}}",
            tag.to_string().repeat(44_000)
        );
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload.as_bytes(), &key).to_canonical_json()
    };
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let h1 = reqwest::Client::new();
    for (i, (client, body)) in [(h2, big('a')), (h1, big('b'))].into_iter().enumerate() {
        assert!(
            body.len() > 58_000 && body.len() < BODY_LIMIT,
            "{}",
            body.len()
        );
        let want = body.clone();
        let send = {
            let url = url.clone();
            tokio::spawn(async move { client.post(url).body(body).send().await.unwrap() })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while sequencer.pool_depth() == 0 {
            assert!(std::time::Instant::now() < deadline, "never queued");
            tokio::task::yield_now().await;
        }
        sequencer.sequence_once().unwrap();
        let resp = send.await.unwrap();
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(v["index"], i as u64);
        // The stored entry holds exactly the envelope that was sent.
        let entry = store.entry(i as u64).unwrap().unwrap();
        assert!(
            entry.windows(want.len()).any(|w| w == want.as_slice()),
            "entry {i} does not hold the envelope"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sequencer.pending_bytes() != 0 {
        assert!(std::time::Instant::now() < deadline, "budget not released");
        tokio::task::yield_now().await;
    }
    let _ = served.stop.send(());
    served.task.await.unwrap().unwrap();
}
