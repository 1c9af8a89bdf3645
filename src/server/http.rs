//! The HTTP API (axum), as specified in `spec/log-api.md`.
//!
//! Handlers are thin: parse, call the core, return `Result<_, ApiError>`.
//! [`ApiError`] is the one place where status codes are chosen; every client
//! error carries a one-line reason, internal errors are logged and answered
//! with a generic line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::Full;
use serde_json::json;

use crate::checkpoint::parse_decimal;
use crate::dsse::{DsseError, KeySet};
use crate::merkle::{Hash, ProofError, leaf_hash};
use crate::note::Note;
use crate::proof_bundle::ProofBundle;
use crate::server::claims::ClaimAdmission;
use crate::server::entry::{EntryError, LogEntry};
use crate::server::metrics::{Gauges, Metrics, TILE_ROUTE};
use crate::server::publisher::Publisher;
use crate::server::reader::LogReader;
use crate::server::sequencer::{Rejection, Sequencer, SequencerError};
use crate::server::store::{PublishedCheckpoint, StoreError};
use crate::tiles::{TilePath, parse_tile_path};

mod idle;
mod serve;
mod submit;

pub use serve::serve_http;

/// Request bodies larger than this are refused (413) before parsing. The
/// envelope limit itself is [`crate::dsse::MAX_ENVELOPE_BYTES`].
const BODY_LIMIT: usize = crate::dsse::MAX_ENVELOPE_BYTES;

/// Shared state of the HTTP handlers.
pub struct App {
    /// The sequencer (pool and committed tree).
    pub sequencer: Arc<Sequencer>,
    /// The checkpoint publisher.
    pub publisher: Arc<Publisher>,
    /// Reads from the store.
    pub reader: LogReader,
    /// The submitter allowlist, parsed once.
    pub submitters: KeySet,
    /// Accept envelopes without checking signatures.
    pub open_submission: bool,
    /// Domain admission (`admission = "domain"`): when set, it replaces the
    /// allowlist and `open_submission`.
    pub claims: Option<Arc<ClaimAdmission>>,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// How long a submission waits for its receipt.
    pub receipt_timeout: Duration,
    /// How long a client may take to send a request's head (HTTP/1.1) and a
    /// submission's body (`client_timeout_ms`).
    pub client_timeout: Duration,
    /// Seconds to suggest in `Retry-After` when the pool is full.
    pub retry_after_secs: u64,
    /// Wakes the sequencing loop when a submission is queued.
    pub wake: Arc<tokio::sync::Notify>,
}

/// An error answer. Each variant names its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the envelope's signature is not acceptable.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing there (yet).
    #[error("{0}")]
    NotFound(String),
    /// 413: the body or the entry is too large.
    #[error("{0}")]
    TooLarge(String),
    /// 408: the request's body did not arrive in time (`client_timeout_ms`).
    #[error("{0}")]
    Timeout(String),
    /// 503 with `Retry-After`: the pool is full or the server is stopping.
    #[error("{reason}")]
    Unavailable {
        /// Why.
        reason: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 500: an internal failure, logged; the client sees a generic line.
    #[error("internal error")]
    Internal(String),
    /// A submission refused by domain admission, with the status it chose
    /// (spec/claim.md §9). A 409 answers a JSON body with the reason and the
    /// current series head; other statuses the one-line reason.
    #[error("{0}")]
    Rejected(Rejection),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Rejected(r) = &self {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return ApiError::Internal(r.reason.clone()).into_response();
            }
            if let Some(detail) = r
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            {
                let mut body = json!({ "error": r.reason });
                if let (Some(b), Some(d)) = (body.as_object_mut(), detail.as_object()) {
                    b.extend(d.clone());
                }
                return (status, axum::Json(body)).into_response();
            }
            let body = format!("{}\n", r.reason.replace(['\r', '\n'], " "));
            return (status, text_plain(), body).into_response();
        }
        let (status, line) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            ApiError::Timeout(m) => (StatusCode::REQUEST_TIMEOUT, m.clone()),
            ApiError::Unavailable { reason, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, reason.clone())
            }
            ApiError::Rejected(r) => (StatusCode::BAD_REQUEST, r.reason.clone()),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log".to_owned(),
                )
            }
        };
        // One line, whatever the message contained.
        let body = format!("{}\n", line.replace(['\r', '\n'], " "));
        let mut resp = (status, text_plain(), body).into_response();
        if let ApiError::Unavailable { retry_after, .. } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if let ApiError::TooLarge(_) | ApiError::Timeout(_) = self {
            // The rest of the body is never read, so this connection cannot
            // carry another request: say so (RFC 9112 §9.6), or a client
            // reusing it writes into a socket we are closing. (HTTP/2
            // strips the header; its streams are reset instead.)
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl From<DsseError> for ApiError {
    fn from(e: DsseError) -> ApiError {
        match e {
            DsseError::TooLarge(_) => ApiError::TooLarge(e.to_string()),
            DsseError::InvalidSignature(_) | DsseError::NoTrustedSignature => {
                ApiError::Forbidden(e.to_string())
            }
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<SequencerError> for ApiError {
    fn from(e: SequencerError) -> ApiError {
        match e {
            SequencerError::PoolFull | SequencerError::Stopped => ApiError::Unavailable {
                reason: e.to_string(),
                retry_after: 1,
            },
            SequencerError::Entry(EntryError::TooLarge(_)) => ApiError::TooLarge(e.to_string()),
            SequencerError::Rejected(r) => ApiError::Rejected(r),
            SequencerError::Signature(e) => ApiError::from(e),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

/// The router with every endpoint, body limits and request metrics.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(submit::SUBMIT_ROUTE, post(submit::submit))
        .route("/v1/entries/{index}", get(get_entry))
        .route("/v1/proof/inclusion", get(inclusion_proof))
        .route("/v1/proof/consistency", get(consistency_proof))
        .route("/v1/proof/{index}", get(tlog_proof))
        .route("/checkpoint", get(checkpoint))
        .route(TILE_ROUTE, get(tile))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::server::claims::api::routes())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}

async fn count_requests(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    // MatchedPath is a cheap clone (shared string); no allocation per request.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    app.metrics.request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        resp.status().as_u16(),
    );
    resp
}

/// The C2SP tlog-proof text for `index` under a published checkpoint.
fn tlog_proof_text(
    reader: &LogReader,
    index: u64,
    published: &PublishedCheckpoint,
) -> Result<String, ApiError> {
    let proof = reader
        .inclusion_proof(index, published.size)
        .map_err(|e| ApiError::Internal(format!("inclusion proof: {e}")))?;
    let note = Note::parse(&published.note)
        .map_err(|e| ApiError::Internal(format!("published checkpoint: {e}")))?;
    let bundle = ProofBundle::new(Vec::new(), index, proof, note)
        .map_err(|e| ApiError::Internal(format!("tlog-proof: {e}")))?;
    Ok(bundle.to_string())
}

/// `GET /v1/entries/<index>`.
async fn get_entry(
    State(app): State<Arc<App>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let Some(bytes) = app.reader.store().entry(index)? else {
        return Err(ApiError::NotFound(format!("no entry {index}")));
    };
    let entry = LogEntry::parse(&bytes)
        .map_err(|e| ApiError::Internal(format!("stored entry {index}: {e}")))?;
    let envelope: serde_json::Value =
        serde_json::from_slice(&entry.envelope.to_canonical_json())
            .map_err(|e| ApiError::Internal(format!("stored entry {index}: {e}")))?;
    // The decoded statement, when the payload is JSON (it is untrusted data
    // either way; verifiers check the envelope's signature themselves).
    let statement: serde_json::Value =
        serde_json::from_slice(entry.envelope.payload()).unwrap_or(serde_json::Value::Null);
    let body = json!({
        "index": index,
        "leafHash": leaf_hash(&bytes).to_base64(),
        "integratedTime": entry.integrated_time,
        "statementSha256": hex_lower(&entry.envelope.statement_sha256()),
        "envelope": envelope,
        "statement": statement,
    });
    Ok(immutable(axum::Json(body).into_response()))
}

/// `GET /v1/proof/inclusion?index=&size=`.
async fn inclusion_proof(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = parse_query(query.as_deref(), &["index", "size"])?;
    let index = decimal("index", required(&params, "index")?)?;
    let size = decimal("size", required(&params, "size")?)?;
    let tree = app.sequencer.head().0;
    if size > tree {
        return Err(ApiError::NotFound(format!(
            "size {size} is beyond the tree size {tree}"
        )));
    }
    if index >= size {
        return Err(ApiError::BadRequest(format!(
            "index {index} is not below size {size}"
        )));
    }
    let reader = app.reader.clone();
    let (proof, root, leaf) = tokio::task::spawn_blocking(move || {
        let proof = reader.inclusion_proof(index, size)?;
        let root = reader.tree_hash(size)?;
        let entry = reader
            .store()
            .entry(index)
            .map_err(|e| ProofError::Reader(e.to_string()))?
            .ok_or(ProofError::HashNotFound { index })?;
        Ok::<_, ProofError>((proof, root, leaf_hash(&entry)))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("inclusion proof: {e}")))?;
    Ok(axum::Json(json!({
        "index": index,
        "size": size,
        "leafHash": leaf.to_base64(),
        "rootHash": root.to_base64(),
        "proof": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /v1/proof/consistency?old=&new=`.
async fn consistency_proof(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = parse_query(query.as_deref(), &["old", "new"])?;
    let old = decimal("old", required(&params, "old")?)?;
    let new = decimal("new", required(&params, "new")?)?;
    let tree = app.sequencer.head().0;
    if new > tree {
        return Err(ApiError::NotFound(format!(
            "size {new} is beyond the tree size {tree}"
        )));
    }
    if old == 0 || old > new {
        return Err(ApiError::BadRequest(format!(
            "need 0 < old <= new (RFC 9162 §2.1.4), got old {old}, new {new}"
        )));
    }
    let reader = app.reader.clone();
    let (proof, old_root, new_root) = tokio::task::spawn_blocking(move || {
        Ok::<_, ProofError>((
            reader.consistency_proof(old, new)?,
            reader.tree_hash(old)?,
            reader.tree_hash(new)?,
        ))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("consistency proof: {e}")))?;
    Ok(axum::Json(json!({
        "old": old,
        "new": new,
        "oldRootHash": old_root.to_base64(),
        "newRootHash": new_root.to_base64(),
        "proof": proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /v1/proof/<index>`: tlog-proof text under the published checkpoint.
async fn tlog_proof(
    State(app): State<Arc<App>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &index)?;
    let Some(published) = app.publisher.current() else {
        return Err(ApiError::NotFound("no checkpoint published yet".into()));
    };
    if index >= published.size {
        return Err(ApiError::NotFound(format!(
            "entry {index} is not covered by the published checkpoint (size {})",
            published.size
        )));
    }
    let reader = app.reader.clone();
    let text = tokio::task::spawn_blocking(move || tlog_proof_text(&reader, index, &published))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        text_plain(),
        text,
    )
        .into_response())
}

/// `GET /checkpoint` (c2sp.org/tlog-tiles: mutable, short-lived caching).
async fn checkpoint(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let Some(published) = app.publisher.current() else {
        return Err(ApiError::NotFound("no checkpoint published yet".into()));
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        text_plain(),
        published.note.clone(),
    )
        .into_response())
}

/// `GET /tile/<L>/<N>[.p/<W>]` and `GET /tile/entries/<N>[.p/<W>]`.
async fn tile(State(app): State<Arc<App>>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let parsed =
        parse_tile_path(&format!("tile/{path}")).map_err(|e| ApiError::NotFound(e.to_string()))?;
    // Full hash tiles are immutable and cached: a hit is a shared slice,
    // answered here without a trip to the blocking pool.
    if let TilePath::Hashes(t) = &parsed
        && let Some(data) = app.reader.cached_tile(t.level(), t.index(), t.width())
    {
        return Ok(tile_response(data));
    }
    let reader = app.reader.clone();
    let data = tokio::task::spawn_blocking(move || match parsed {
        TilePath::Hashes(t) => reader.tile(t.level(), t.index(), t.width()),
        TilePath::Entries(b) => reader
            .bundle(b.index(), b.width())
            .map(|b| b.map(Bytes::from)),
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let Some(data) = data else {
        return Err(ApiError::NotFound(format!(
            "tile/{path} does not exist (yet)"
        )));
    };
    Ok(tile_response(data))
}

/// A tile or entry bundle: immutable bytes (c2sp.org/tlog-tiles: tiles,
/// full or partial, never change once served).
fn tile_response(data: Bytes) -> Response {
    immutable(([(header::CONTENT_TYPE, OCTET_STREAM)], data).into_response())
}

/// Answers `GET /tile/<L>/<N>[.p/<W>]` from the cache of full hash tiles,
/// before routing (see [`serve_http`]): the same status, headers and bytes
/// as the [`tile`] handler, counted under the same route in the metrics.
///
/// `None` means "route it": not a GET, not a tile path in canonical form
/// (percent-encoded or malformed paths go to the router, which decodes and
/// answers 404 exactly as before), an entry bundle, or a tile not cached.
/// A canonical tile path has no `%`, so the router would have parsed the
/// same path.
fn cached_tile_response(
    app: &App,
    method: &Method,
    path: &str,
) -> Option<axum::http::Response<Full<Bytes>>> {
    if method != Method::GET || !path.starts_with("/tile/") {
        return None;
    }
    let TilePath::Hashes(t) = parse_tile_path(&path[1..]).ok()? else {
        return None;
    };
    let data = app.reader.cached_tile(t.level(), t.index(), t.width())?;
    app.metrics.cached_tile();
    let mut resp = axum::http::Response::new(Full::new(data));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, OCTET_STREAM);
    headers.insert(header::CACHE_CONTROL, IMMUTABLE);
    Some(resp)
}

async fn healthz(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    app.reader.store().tree_state()?;
    Ok((text_plain(), "ok\n").into_response())
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let gauges = Gauges {
        pool_depth: app.sequencer.pool_depth(),
        pending_bytes: app.sequencer.pending_bytes(),
        tree_size: app.sequencer.head().0,
        published_size: app.publisher.current().map_or(0, |p| p.size),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(gauges),
    )
        .into_response()
}

fn text_plain() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    )]
}

/// `Content-Type` of tiles and entry bundles (c2sp.org/tlog-tiles).
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// `Cache-Control` of immutable resources: tiles, bundles, entries.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

fn immutable(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, IMMUTABLE);
    resp
}

/// Parses `a=1&b=2` strictly: only `allowed` keys, each at most once, no
/// empty pairs, no percent-encoding (none of our values need it).
fn parse_query<'a>(
    query: Option<&'a str>,
    allowed: &[&str],
) -> Result<HashMap<&'a str, &'a str>, ApiError> {
    let mut out = HashMap::new();
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(out);
    };
    if query.len() > 256 {
        return Err(ApiError::BadRequest("query string too long".into()));
    }
    for pair in query.split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(ApiError::BadRequest(format!(
                "malformed query parameter {pair:?}"
            )));
        };
        if !allowed.contains(&k) {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {k:?}"
            )));
        }
        if out.insert(k, v).is_some() {
            return Err(ApiError::BadRequest(format!(
                "query parameter {k:?} given twice"
            )));
        }
    }
    Ok(out)
}

fn required<'a>(params: &HashMap<&str, &'a str>, key: &str) -> Result<&'a str, ApiError> {
    params
        .get(key)
        .copied()
        .ok_or_else(|| ApiError::BadRequest(format!("missing query parameter {key:?}")))
}

fn decimal(name: &str, s: &str) -> Result<u64, ApiError> {
    parse_decimal(s).ok_or_else(|| {
        ApiError::BadRequest(format!("{name} must be a canonical decimal, not {s:?}"))
    })
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tile_tests;

#[cfg(test)]
mod body_tests;

#[cfg(test)]
mod submit_tests;

#[cfg(test)]
mod timeout_tests;
