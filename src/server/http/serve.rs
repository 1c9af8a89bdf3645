//! Serving the API on a listener: the accept loop, one hyper connection per
//! client, graceful shutdown, and the one route answered before routing.
//!
//! Each connection speaks HTTP/1.1 (keep-alive) or, when the client opens
//! with the HTTP/2 connection preface, HTTP/2 over cleartext with prior
//! knowledge (RFC 9113 §3.3). TLS is out of scope: a deployment puts a
//! reverse proxy in front.
//!
//! Why not `axum::serve`: a tile fetcher's request is the hottest path of the
//! log (c2sp.org/tlog-tiles clients fetch tiles, not proofs), and a cached
//! full tile needs no routing, no extractors, no middleware future and no
//! boxed body. Here such a request is answered by
//! [`super::cached_tile_response`] with the bytes shared from the cache;
//! everything else (partial tiles, entry bundles, misses, 404s, every other
//! endpoint) goes through the axum [`Router`] exactly as before. The write
//! path's request, `POST /v1/entries`, also skips the router: it goes
//! straight to [`super::submit::submit_direct`], which answers exactly as the
//! routed handler does. We also set `TCP_NODELAY`, which `axum::serve` does
//! not.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, Request};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::idle::Activity;
use super::submit::{SUBMIT_ROUTE, submit_direct};
use super::{App, cached_tile_response};

/// The largest HTTP/1.1 read buffer per connection (hyper's minimum is its
/// initial 8 KiB; the largest request head accepted is this size).
const HTTP1_MAX_BUF: usize = 16 * 1024;

/// HTTP/2 flow-control windows advertised for every connection and stream:
/// the protocol's initial value (RFC 9113 §6.9.2), so at most this much
/// unread request data is buffered per connection.
const H2_WINDOW: u32 = 65_535;

/// Most concurrent HTTP/2 streams per connection (hyper's default is 200).
const H2_MAX_STREAMS: u32 = 32;

/// Serves `router` (built by [`super::router`] over `app`) on `listener`
/// until `shutdown` completes; then stops accepting, lets every connection
/// finish its in-flight requests (idle keep-alive connections close at
/// once), and returns when all of them are closed, so that every clone of
/// `app` held by a connection is dropped by then.
///
/// At most `max_connections` connections are served at once: the next one is
/// accepted only when a slot is free, so further clients wait in the kernel's
/// accept queue instead of each holding buffers and a request in this process
/// (the memory bound under connection surges, `spec/log-api.md`).
pub async fn serve_http(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(
        max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let client_timeout = app.client_timeout;
    let router = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        // Decided before the future is built, so the tile fast path clones
        // nothing and the future only carries the router's call.
        let answer = if let Some(tile) = cached_tile_response(&app, req.method(), req.uri().path())
        {
            Dispatch::Tile(tile)
        } else if req.method() == Method::POST && req.uri().path() == SUBMIT_ROUTE {
            // The router matches this path as is (no decoding, no trailing
            // slash), so this takes exactly the requests it would route to
            // the submit handler.
            Dispatch::Submit(app.clone(), req)
        } else {
            Dispatch::Routed(router.call(req))
        };
        // The response body is a cached tile's shared bytes or a receipt
        // (one buffer), or whatever the router answered.
        async move {
            match answer {
                Dispatch::Tile(tile) => Ok::<_, Infallible>(tile.map(Either::Left)),
                Dispatch::Submit(app, req) => Ok(submit_direct(&app, req).await),
                Dispatch::Routed(routed) => routed.await.map(|resp| resp.map(Either::Right)),
            }
        }
    });
    // Not `pipeline_flush`: it switches hyper's HTTP/1 writes from vectored
    // (head and the shared tile bytes in one `writev`) to flattened, copying
    // every 8 KiB tile into the write buffer, to benefit only clients that
    // pipeline, which tile fetchers do not.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Per-connection memory (spec/log-api.md "Memory"). HTTP/1.1: hyper's
    // read buffer starts at 8 KiB and doubles while reads fill it, by
    // default up to ~408 KiB, and keeps its size while the connection
    // lives; request heads and bodies never need more than this here
    // (bodies are copied out as they arrive).
    builder.http1().max_buf_size(HTTP1_MAX_BUF);
    // A slot is held as long as its connection is open: a request head must
    // arrive within `client_timeout` of the connection opening or of the
    // previous response (hyper's header read timeout, which starts when it
    // waits for a head), so neither an idle keep-alive client nor one that
    // sends its head a byte at a time keeps a slot (`spec/log-api.md`).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout);
    // HTTP/2: hyper's default 1 MiB windows let one connection make us
    // buffer 1 MiB of request data per stream before a handler reads it,
    // and 200 concurrent streams. The protocol's own 65,535-byte windows
    // (RFC 9113 §6.9.2) are plenty for 64 KiB bodies.
    builder
        .http2()
        .initial_connection_window_size(H2_WINDOW)
        .initial_stream_window_size(H2_WINDOW)
        .max_concurrent_streams(H2_MAX_STREAMS)
        // A peer that stops answering PINGs loses its connection (and slot).
        .timer(TokioTimer::new())
        .keep_alive_interval(client_timeout)
        .keep_alive_timeout(client_timeout);

    // Tells connections to finish what they are doing and close; each holds
    // a receiver until it has closed, so `closed()` waits for all of them.
    let (stopping, _) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A response is written as one vectored write (headers and body),
        // and the next request only comes after it: Nagle's algorithm could
        // only hold back a response's tail waiting for an ACK that the
        // client delays (RFC 9293 §3.7.4).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        let (builder, service) = (builder.clone(), service.clone());
        let mut stopping = stopping.subscribe();
        tokio::spawn(async move {
            // hyper's header read timeout starts once it knows the protocol,
            // which takes the connection's first bytes: a client that never
            // sends them would keep its slot for ever.
            let first_bytes = tokio::time::timeout(client_timeout, protocol_known(&stream));
            tokio::select! {
                known = first_bytes => if !matches!(known, Ok(Ok(true))) {
                    return;
                },
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            // Each request is counted in flight until its response (head and
            // body future) is ready, for closing the connection when idle.
            let activity = Activity::new();
            let counted = {
                let activity = activity.clone();
                hyper::service::service_fn(move |req: Request<Incoming>| {
                    let in_flight = activity.begin();
                    let answer = service.call(req);
                    async move {
                        let response = answer.await;
                        drop(in_flight);
                        response
                    }
                })
            };
            let conn = builder
                .serve_connection(TokioIo::new(stream), counted)
                .into_owned();
            let mut conn = std::pin::pin!(conn);
            // Server shutdown, or no request for `client_timeout` (HTTP/1.1
            // gets there by hyper's header read timeout first; an idle
            // HTTP/2 connection only this way): finish what is in flight and
            // close.
            let close = async {
                tokio::select! {
                    _ = stopping.wait_for(|stop| *stop) => {}
                    () = activity.idle_for(client_timeout) => {}
                }
            };
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = close => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            // The slot is free once the connection is closed; the server's
            // shutdown waits for this receiver to be dropped.
            drop(slot);
            drop(stopping);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    stopping.closed().await;
    Ok(())
}

/// The HTTP/2 connection preface (RFC 9113 §3.4), which hyper's automatic
/// protocol detection looks for.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits until the client has sent enough for hyper to tell HTTP/1.1 from
/// HTTP/2: a first byte that differs from the HTTP/2 preface (an HTTP/1.1
/// request line does within two bytes), or the whole preface. `false` if the
/// client closed the connection first.
async fn protocol_known(stream: &tokio::net::TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(false);
        }
        if n == buf.len() || buf[..n] != H2_PREFACE[..n] {
            return Ok(true);
        }
        // A prefix of the preface: peeking again would return at once with
        // the same bytes, so poll until more arrive (only a client sending
        // the preface in pieces gets here).
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a request is answered by, chosen before its future is built.
enum Dispatch<R> {
    /// A full tile from the cache.
    Tile(axum::http::Response<http_body_util::Full<axum::body::Bytes>>),
    /// `POST /v1/entries`, handled without routing.
    Submit(Arc<App>, Request<Incoming>),
    /// Everything else: the router's future.
    Routed(R),
}

/// A failed `accept`: a connection that died in the backlog is skipped; a
/// resource error (file descriptors exhausted) is logged and retried after
/// a pause instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
