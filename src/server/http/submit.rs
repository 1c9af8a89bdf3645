//! `POST /v1/entries`: reading a submission under the pending budget,
//! admitting it, waiting for its index (and receipt), and rendering the
//! answer (`spec/log-api.md` "Submitting").
//!
//! A submission is answered the same way whether it came through the axum
//! [`Router`](axum::Router) ([`submit`], used by tests and as the route of
//! record) or through [`serve_http`](super::serve_http)'s direct dispatch
//! ([`submit_direct`]), which skips routing, the extractors and the metrics
//! middleware: on the write path those cost about 25 heap allocations per
//! request (boxed service clones, the matched-path and URL-parameter
//! extensions, boxed bodies; BENCHMARKS.md "Write path, session 11"), a third
//! of all the allocations of a submission.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full};

use super::{ApiError, App, BODY_LIMIT, parse_query, tlog_proof_text};
use crate::checkpoint::parse_decimal;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::merkle::Hash;
use crate::server::entry::envelope_hash;
use crate::server::sequencer::{Reservation, SUBMISSION_OVERHEAD_BYTES, Sequenced, SequencerError};

/// The route template of submissions, as the metrics name it.
pub(super) const SUBMIT_ROUTE: &str = "/v1/entries";

/// `Content-Type` of receipts.
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A successful answer: the status and the receipt's JSON.
struct Receipt {
    status: StatusCode,
    json: Vec<u8>,
}

impl IntoResponse for Receipt {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, APPLICATION_JSON)],
            Bytes::from(self.json),
        )
            .into_response()
    }
}

/// `POST /v1/entries[?wait=sequenced]`, through the router.
pub(super) async fn submit(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let result = submit_counted(&app, query.as_deref(), &parts.headers, body).await;
    result.map(IntoResponse::into_response)
}

/// `POST /v1/entries[?wait=sequenced]` dispatched by
/// [`serve_http`](super::serve_http) before routing: the same answer as
/// [`submit`] (status, headers, body) and the same request metric, with a
/// receipt's body as one buffer and no boxed body.
pub(super) async fn submit_direct<B>(
    app: &App,
    request: axum::http::Request<B>,
) -> axum::http::Response<http_body_util::Either<Full<Bytes>, axum::body::Body>>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    use http_body_util::Either;
    let (parts, body) = request.into_parts();
    let result = submit_counted(app, parts.uri.query(), &parts.headers, body).await;
    let resp = match result {
        Ok(receipt) => {
            let mut resp = axum::http::Response::new(Full::new(Bytes::from(receipt.json)));
            *resp.status_mut() = receipt.status;
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, APPLICATION_JSON);
            resp.map(Either::Left)
        }
        Err(e) => e.into_response().map(Either::Right),
    };
    app.metrics.request(SUBMIT_ROUTE, resp.status().as_u16());
    resp
}

/// [`submit_inner`], counting a failure by its kind.
async fn submit_counted<B>(
    app: &App,
    query: Option<&str>,
    headers: &HeaderMap,
    body: B,
) -> Result<Receipt, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let result = submit_inner(app, query, headers, body).await;
    if let Err(e) = &result {
        app.metrics.submission(match e {
            ApiError::BadRequest(_) => "malformed",
            ApiError::Forbidden(_) => "bad_signature",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Unavailable { .. } => "busy",
            ApiError::Rejected(_) => "rejected",
            _ => "error",
        });
    }
    result
}

/// The body size a request announces in `Content-Length`, if it does:
/// canonical decimal only; anything else is refused (hyper has already
/// refused a malformed or repeated header on HTTP/1.1).
pub(super) fn announced_length(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest("bad Content-Length".into());
    let n = parse_decimal(v.to_str().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// 503 with `Retry-After`: the pending pool or budget is full.
fn busy(app: &App) -> ApiError {
    ApiError::Unavailable {
        reason: SequencerError::PoolFull.to_string(),
        retry_after: app.retry_after_secs,
    }
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!("request body larger than {BODY_LIMIT} bytes"))
}

/// Reads a submission's body into a buffer of exactly its size (at most
/// [`BODY_LIMIT`]), charging it to the sequencer's pending budget first.
///
/// Why not axum's `Bytes` extractor: it returns a slice of hyper's read
/// buffer, which would keep that whole buffer (8 KiB or more, grown for
/// large bodies) alive for as long as the submission waits, while hyper
/// allocates a new one for the connection; and nothing would bound how many
/// bodies are held at once. Here each frame is copied and dropped at once,
/// and a body is read only under a [`Reservation`] of its size, so bodies
/// being read, envelopes in the pool and submitters waiting for receipts
/// stay within `pending_bytes` whatever the number of connections
/// (`spec/log-api.md` "Memory").
async fn read_body<B>(
    app: &App,
    headers: &HeaderMap,
    mut body: B,
) -> Result<(Vec<u8>, Reservation), ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let announced = announced_length(headers)?;
    if announced.is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large());
    }
    // Without Content-Length (chunked, or HTTP/2 without the header) the
    // size is known only at the end: reserve the limit, then give back.
    let want = announced.unwrap_or(BODY_LIMIT);
    let mut reservation = match app.sequencer.reserve(SUBMISSION_OVERHEAD_BYTES + want) {
        Err(SequencerError::PoolFull) => {
            drain(body).await;
            return Err(busy(app));
        }
        other => other?,
    };
    let mut buf = Vec::with_capacity(want);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > want {
                // More than announced is a framing error hyper reports
                // itself; more than the limit is ours to refuse.
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    if buf.len() < buf.capacity() {
        buf.shrink_to_fit();
    }
    reservation.shrink_to(SUBMISSION_OVERHEAD_BYTES + buf.len());
    Ok((buf, reservation))
}

/// The `wait` parameter: `published` (the default) or `sequenced`.
fn parse_wait(query: Option<&str>) -> Result<bool, ApiError> {
    // The two forms clients send, answered without building the map; any
    // other query goes through the strict parser.
    match query {
        None | Some("") | Some("wait=published") => return Ok(true),
        Some("wait=sequenced") => return Ok(false),
        Some(_) => {}
    }
    let params = parse_query(query, &["wait"])?;
    match params.get("wait").copied() {
        None | Some("published") => Ok(true),
        Some("sequenced") => Ok(false),
        Some(other) => Err(ApiError::BadRequest(format!(
            "wait must be sequenced or published, not {other:?}"
        ))),
    }
}

/// Reads and discards a body we refuse before reading it (bad query, busy),
/// up to [`BODY_LIMIT`] bytes, holding no more than one frame at a time.
///
/// Why: answering and closing a connection whose request body is still
/// unread makes the kernel reset it (RFC 1122 §4.2.2.13: a close with
/// received data pending sends a RST), and the client may then lose our
/// answer. A body over the
/// limit is not drained: that connection is closed after the 413.
async fn drain<B>(mut body: B)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > BODY_LIMIT {
                return;
            }
        }
    }
}

async fn submit_inner<B>(
    app: &App,
    query: Option<&str>,
    headers: &HeaderMap,
    body: B,
) -> Result<Receipt, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let wait_published = match parse_wait(query) {
        Ok(w) => w,
        Err(e) => {
            drain(body).await;
            return Err(e);
        }
    };
    // A body that trickles in would hold its connection's slot and its
    // share of `pending_bytes` for as long as the client likes.
    let (body, mut reservation) =
        tokio::time::timeout(app.client_timeout, read_body(app, headers, body))
            .await
            .map_err(|_| {
                ApiError::Timeout(format!(
                    "the request body did not arrive within {} ms",
                    app.client_timeout.as_millis()
                ))
            })??;
    let envelope = Envelope::parse(&body)?;
    // The parsed envelope holds the payload; the raw body is not needed.
    drop(body);
    envelope.require_payload_type(PAYLOAD_TYPE_IN_TOTO)?;
    // Claims are checked whole here; an allowlisted submitter's signature
    // only up to its last comparison, which the sequencing step does for
    // its whole batch at once (`Sequencer::submit_verifying`).
    let (check, signature) = match &app.claims {
        Some(claims) => (
            Some(
                claims
                    .admit(&**app.reader.store(), &envelope)
                    .await
                    .map_err(ApiError::Rejected)?,
            ),
            None,
        ),
        None if app.open_submission => (None, None),
        None => (None, Some(envelope.start_verify(&app.submitters)?)),
    };
    let canonical = envelope.to_canonical_json();
    // Nothing but the canonical JSON (moved into the pool) is kept while
    // the submission waits.
    drop(envelope);
    let hash = envelope_hash(&canonical);

    // Queued whether or not it is already logged: the sequencer looks every
    // submission up in the dedup index anyway (a hit is answered with the
    // original index and appends nothing), so a lookup here too would cost
    // every new submission a second random read of the index (about 15 µs
    // of server CPU per entry, BENCHMARKS.md "Write path, session 11"), to
    // spare a rare resubmission the wait for one step. It also keeps durability simple: only the sequencer answers,
    // after the flush of the step that holds the entry.
    let queued = match signature {
        Some(signature) => app.sequencer.submit_verifying(canonical, hash, signature),
        None => app.sequencer.submit_checked(canonical, hash, check),
    };
    let rx = match queued {
        Err(SequencerError::PoolFull) => return Err(busy(app)),
        other => other?,
    };
    // Group commit: wake the sequencer now; whatever arrives while its step
    // is flushing goes into the next step.
    app.wake.notify_one();
    let sequenced = rx.await.map_err(|_| SequencerError::Stopped)??;
    // Sequenced: the body's share of the budget is free again; the
    // overhead stays until the answer, so waiting receipts are bounded too.
    reservation.shrink_to(SUBMISSION_OVERHEAD_BYTES);
    app.metrics.submission(if sequenced.duplicate {
        "duplicate"
    } else {
        "new"
    });
    let Sequenced {
        index, leaf_hash, ..
    } = sequenced;
    if !wait_published {
        return Ok(receipt(StatusCode::OK, index, &leaf_hash, None));
    }
    // Wait until a published checkpoint covers the entry.
    let mut watch = app.publisher.subscribe();
    let covered = tokio::time::timeout(
        app.receipt_timeout,
        watch.wait_for(|p| p.as_ref().is_some_and(|p| p.size > index)),
    )
    .await;
    let published = match covered {
        Ok(Ok(p)) => p.clone(),
        // Timed out, or the publisher is gone: the entry is durable, so say
        // so with its index; the proof can be fetched later.
        _ => None,
    };
    let Some(published) = published else {
        return Ok(receipt(StatusCode::ACCEPTED, index, &leaf_hash, None));
    };
    let proof = tlog_proof_text(&app.reader, index, &published)?;
    Ok(receipt(StatusCode::OK, index, &leaf_hash, Some(&proof)))
}

/// `{"index":N,"leafHash":"<base64>"[,"proof":"<tlog-proof text>"]}`, the
/// keys in the order `serde_json` wrote them before (sorted), rendered into
/// one buffer: the index is decimal digits and standard base64 needs no
/// escaping; the proof text is escaped by `serde_json`.
fn receipt(status: StatusCode, index: u64, leaf: &Hash, proof: Option<&str>) -> Receipt {
    use std::io::Write as _;
    let mut json = Vec::with_capacity(80 + proof.map_or(0, |p| p.len() + p.len() / 8 + 12));
    // Writing into a Vec cannot fail.
    let _ = write!(json, "{{\"index\":{index},\"leafHash\":\"");
    // Standard padded base64 of 32 bytes is 44 bytes (as `Hash::to_base64`),
    // encoded in place rather than into a String of its own.
    let mut b64 = [0u8; 44];
    match STANDARD.encode_slice(leaf.as_bytes(), &mut b64) {
        Ok(44) => json.extend_from_slice(&b64),
        _ => json.extend_from_slice(leaf.to_base64().as_bytes()),
    }
    json.push(b'"');
    if let Some(p) = proof {
        json.extend_from_slice(b",\"proof\":");
        // Serializing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut json, p);
    }
    json.push(b'}');
    Receipt { status, json }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_render_as_serde_json_did() {
        let leaf = Hash([7; 32]);
        let proof = "c2sp.org/tlog-proof@v1\nindex 5\n\"quoted\" \\ \u{1}\n";
        for (proof, index) in [(None, 0u64), (None, u64::MAX), (Some(proof), 5)] {
            let mut expected = serde_json::json!({ "index": index, "leafHash": leaf.to_base64() });
            if let Some(p) = proof {
                expected["proof"] = serde_json::json!(p);
            }
            let got = receipt(StatusCode::OK, index, &leaf, proof);
            assert_eq!(got.json, serde_json::to_vec(&expected).unwrap());
            let value: serde_json::Value = serde_json::from_slice(&got.json).unwrap();
            assert_eq!(value, expected);
        }
    }

    #[test]
    fn the_wait_shortcuts_agree_with_the_strict_parser() {
        assert_eq!(parse_wait(None), Ok(true));
        assert_eq!(parse_wait(Some("")), Ok(true));
        assert_eq!(parse_wait(Some("wait=published")), Ok(true));
        assert_eq!(parse_wait(Some("wait=sequenced")), Ok(false));
        for bad in [
            "wait=sequenced&wait=sequenced",
            "wait=Sequenced",
            "wait",
            "wait=",
            "x=1",
            "wait=sequenced&",
            "&wait=sequenced",
        ] {
            assert!(
                matches!(parse_wait(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }
}
