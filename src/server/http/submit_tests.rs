//! `POST /v1/entries` answered by [`serve_http`]'s direct dispatch
//! ([`super::submit::submit_direct`]) against the same request through the
//! router (`axum::serve`): byte for byte the same answers, counted under the
//! same route.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::tests::{envelope, submitter, test_app};
use super::tile_tests::{Raw, read_response, sequenced_log};
use super::*;

/// Entries in the log before the requests.
const ENTRIES: u64 = 20;

/// Sends `POST path` with `body` (announcing `length` bytes, which may be
/// more than sent) and reads one response, framed by its Content-Length.
async fn raw_post(conn: &mut TcpStream, path: &str, length: usize, body: &[u8]) -> Raw {
    let head = format!("POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    conn.write_all(&request).await.unwrap();
    read_response(conn, false).await
}

/// The count of `claimlog_http_requests_total` for the submit route and
/// `status`, 0 if absent.
fn submit_count(app: &App, status: u16) -> u64 {
    let prefix =
        format!("claimlog_http_requests_total{{route=\"/v1/entries\",status=\"{status}\"}} ");
    app.metrics
        .render(crate::server::metrics::Gauges::default())
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.parse().unwrap()))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_submissions_are_answered_like_routed_ones() {
    // A log of ENTRIES entries by submitter 1, the only allowed submitter,
    // with a published checkpoint so that receipts carry proofs.
    let (store, clock, sequencer) = sequenced_log(ENTRIES).await;
    let key = submitter(1);
    let mut submitters = KeySet::new();
    assert!(submitters.insert_note_key(&key.verifier()));
    let app = test_app(store, clock, sequencer.clone(), submitters, false, 1);
    app.publisher.publish_once(sequencer.head()).unwrap();

    // New submissions are sequenced by a background loop, as in `serve`.
    let stop = Arc::new(AtomicBool::new(false));
    let sequencing = {
        let (s, stop) = (sequencer.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            while !stop.load(Ordering::SeqCst) {
                s.sequence_once().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };

    // Direct dispatch on one listener, the router on another.
    let direct = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let direct_addr = direct.local_addr().unwrap();
    let (stop_direct, stopped) = oneshot::channel::<()>();
    let direct_task = tokio::spawn(serve_http(
        direct,
        app.clone(),
        router(app.clone()),
        64,
        async {
            let _ = stopped.await;
        },
    ));
    let routed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let routed_addr = routed.local_addr().unwrap();
    tokio::spawn(axum::serve(routed, router(app.clone())).into_future());

    let unknown = submitter(2);
    let new_entry = envelope(1000, &key);
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        // Already logged: answered from the dedup index.
        (
            "dup sequenced",
            "/v1/entries?wait=sequenced",
            envelope(3, &key),
            200,
        ),
        // Already logged and published: a receipt with a tlog-proof.
        ("dup published", "/v1/entries", envelope(4, &key), 200),
        // The strict query parser behind the shortcuts.
        (
            "dup both",
            "/v1/entries?wait=published",
            envelope(5, &key),
            200,
        ),
        ("bad wait", "/v1/entries?wait=soon", envelope(5, &key), 400),
        (
            "twice",
            "/v1/entries?wait=sequenced&wait=sequenced",
            envelope(5, &key),
            400,
        ),
        (
            "not json",
            "/v1/entries?wait=sequenced",
            b"{nope".to_vec(),
            400,
        ),
        ("empty", "/v1/entries", Vec::new(), 400),
        (
            "unknown key",
            "/v1/entries?wait=sequenced",
            envelope(6, &unknown),
            403,
        ),
        // New: appended for the first request, a duplicate for the second,
        // with the same index either way.
        ("new", "/v1/entries?wait=sequenced", new_entry, 200),
    ];
    let mut direct_conn = TcpStream::connect(direct_addr).await.unwrap();
    let mut routed_conn = TcpStream::connect(routed_addr).await.unwrap();
    for (name, path, body, status) in &cases {
        let d = raw_post(&mut direct_conn, path, body.len(), body).await;
        let r = raw_post(&mut routed_conn, path, body.len(), body).await;
        assert!(
            d.head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: {d:?}"
        );
        assert_eq!(d, r, "{name}");
        if *status == 200 {
            let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
            assert!(v["index"].as_u64().is_some(), "{name}: {v}");
            assert!(d.head.contains("content-type: application/json"), "{name}");
        }
    }
    assert_eq!(sequencer.head().0, ENTRIES + 1, "one new entry, once");

    // Too large: 413 with `connection: close`, before the body is sent.
    for addr in [direct_addr, routed_addr] {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let raw = raw_post(&mut conn, "/v1/entries", 1 << 20, b"").await;
        assert!(raw.head.starts_with("HTTP/1.1 413 "), "{raw:?}");
        assert!(raw.head.contains("connection: close"), "{raw:?}");
    }

    // Every request was counted under the submit route, direct or routed.
    assert_eq!(submit_count(&app, 200), 2 * 4);
    assert_eq!(submit_count(&app, 400), 2 * 4);
    assert_eq!(submit_count(&app, 403), 2);
    assert_eq!(submit_count(&app, 413), 2);

    stop.store(true, Ordering::SeqCst);
    sequencing.await.unwrap();
    let _ = stop_direct.send(());
    direct_task.await.unwrap().unwrap();
}
