//! The HTTP edge: routes, the one place where statuses are chosen
//! ([`ApiError`]'s `IntoResponse`), and request accounting.
//!
//! Routes (see `spec/witness.md`):
//! - `POST /add-checkpoint` (tlog-witness §"add-checkpoint");
//! - `GET /<hex sha256(origin)>/checkpoint` (monitoring, specs.md §5.4; the
//!   monitoring prefix is the root);
//! - `GET /v1/evidence` (ours: JSON evidence of log misbehaviour);
//! - `GET /metrics`, `GET /healthz`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use claimlog::checkpoint::Origin;
use claimlog::witness_wire::{MAX_REQUEST_SIZE, SIZE_CONTENT_TYPE, WitnessError, format_size_body};

use crate::witness::{ApiError, Witness};

const ROUTE_ADD: &str = "/add-checkpoint";
const ROUTE_CHECKPOINT: &str = "/{origin_hash}/checkpoint";
const ROUTE_EVIDENCE: &str = "/v1/evidence";
const ROUTE_METRICS: &str = "/metrics";
const ROUTE_HEALTHZ: &str = "/healthz";

/// The state shared by the handlers.
struct App {
    witness: Arc<Witness>,
    /// hex(sha256(origin)) -> origin, for the monitoring endpoint.
    by_hash: HashMap<String, Origin>,
}

/// The witness's router.
pub fn router(witness: Arc<Witness>) -> Router {
    let by_hash = witness
        .logs()
        .iter()
        .map(|(origin, _)| (origin_hash(origin), origin.clone()))
        .collect();
    let app = Arc::new(App { witness, by_hash });
    Router::new()
        .route(ROUTE_ADD, post(add_checkpoint))
        .route(ROUTE_CHECKPOINT, get(checkpoint))
        .route(ROUTE_EVIDENCE, get(evidence))
        .route(ROUTE_METRICS, get(metrics))
        .route(ROUTE_HEALTHZ, get(healthz))
        .with_state(app)
}

/// The lowercase hex SHA-256 of an origin (tlog-witness §"Monitoring";
/// not transparency-dev's `sha256("o:" + origin)`).
pub fn origin_hash(origin: &Origin) -> String {
    hex::encode(Sha256::digest(origin.as_str().as_bytes()))
}

async fn add_checkpoint(State(app): State<Arc<App>>, body: Body) -> Response {
    let start = Instant::now();
    // The cap is enforced while reading, before any parsing.
    let result = async {
        match to_bytes(body, MAX_REQUEST_SIZE).await {
            Err(_) => Err(ApiError::BodyTooLarge),
            Ok(bytes) => {
                let witness = app.witness.clone();
                let span = tracing::Span::current();
                // Signature checks, signing and the fsync'ed commit block.
                let task = move || span.in_scope(|| witness.add_checkpoint(&bytes));
                match tokio::task::spawn_blocking(task).await {
                    Ok(result) => result,
                    Err(e) => Err(ApiError::Storage(crate::store::StoreError::Backend(
                        format!("commit task failed: {e}"),
                    ))),
                }
            }
        }
    }
    .instrument(tracing::info_span!("add_checkpoint"))
    .await;
    let response = match result {
        Ok(body) => text(StatusCode::OK, "text/plain; charset=utf-8", body),
        Err(e) => e.into_response(),
    };
    finish(&app, ROUTE_ADD, start, response)
}

async fn checkpoint(State(app): State<Arc<App>>, Path(hash): Path<String>) -> Response {
    let start = Instant::now();
    let response = match app.by_hash.get(&hash) {
        None => not_found(),
        Some(origin) => match app.witness.store().latest(origin) {
            Ok(Some(cosigned)) => text(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                cosigned.note().to_string(),
            ),
            Ok(None) => not_found(),
            Err(e) => ApiError::Storage(e).into_response(),
        },
    };
    finish(&app, ROUTE_CHECKPOINT, start, response)
}

async fn evidence(State(app): State<Arc<App>>) -> Response {
    let start = Instant::now();
    let response = match app.witness.store().evidence() {
        Ok(all) => {
            let body = serde_json::json!({ "evidence": all });
            text(StatusCode::OK, "application/json", body.to_string())
        }
        Err(e) => ApiError::Storage(e).into_response(),
    };
    finish(&app, ROUTE_EVIDENCE, start, response)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let body = app.witness.metrics().render(app.witness.logs().len());
    text(StatusCode::OK, "text/plain; version=0.0.4", body)
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let start = Instant::now();
    let response = text(StatusCode::OK, "text/plain", "ok\n".to_owned());
    finish(&app, ROUTE_HEALTHZ, start, response)
}

fn finish(app: &App, route: &'static str, start: Instant, response: Response) -> Response {
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    app.witness
        .metrics()
        .request(route, response.status().as_u16(), micros);
    response
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "text/plain",
        "not found\n".to_owned(),
    )
}

impl IntoResponse for ApiError {
    /// The one place where statuses are chosen. Protocol errors are echoed
    /// (they describe the client's request); internal ones are logged and
    /// answered with a generic message.
    fn into_response(self) -> Response {
        match self {
            ApiError::Protocol(WitnessError::StaleOldSize { stored, .. }) => text(
                StatusCode::CONFLICT,
                SIZE_CONTENT_TYPE,
                format_size_body(stored),
            ),
            ApiError::Protocol(e @ WitnessError::Configuration(_)) => {
                tracing::error!(error = %e, "configuration error");
                internal()
            }
            ApiError::Protocol(e) => {
                let status =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                tracing::debug!(status = status.as_u16(), error = %e, "rejected");
                text(status, "text/plain; charset=utf-8", format!("{e}\n"))
            }
            ApiError::BodyTooLarge => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                format!("request body larger than {MAX_REQUEST_SIZE} bytes\n"),
            ),
            ApiError::Contention => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "too many concurrent requests for this log; retry\n".to_owned(),
            ),
            e @ (ApiError::Storage(_) | ApiError::Cosign(_)) => {
                tracing::error!(error = %e, "internal error");
                internal()
            }
        }
    }
}

fn internal() -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/plain",
        "internal error\n".to_owned(),
    )
}
