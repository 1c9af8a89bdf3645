//! The vendor and claim read API (spec/log-api.md "Vendors and claims"),
//! served from the claim indexes ([`super::index`]).
//!
//! Every answer names log entries by index together with their RFC 9162 leaf
//! hash and the tree size the store had when the answer was made, so a client
//! can check each entry against the tiles: fetch `/v1/proof/inclusion?index=
//! &size=` (or a tlog-proof) and a checkpoint of at least that size.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::index::{self, StatementRecord, VersionRecord};
use super::load_key_head;
use crate::claim::{
    DATA_HANDLING_V1, DataHandling, Domain, Identifier, KEY_BINDING_V1, Predicate, Sha256Digest,
    Timestamp, diff,
};
use crate::merkle::leaf_hash;
use crate::server::http::{ApiError, App};
use crate::server::store::Store;

/// Most vendors listed per page of `GET /v1/vendors`.
pub const VENDORS_PAGE: usize = 1000;

/// Most versions (or services) returned for one series (or vendor).
pub const MAX_VERSIONS: usize = 1000;

/// The routes of this API, merged into the server's router.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/vendors", get(vendors))
        .route("/v1/vendors/{domain}", get(vendor))
        .route("/v1/vendors/{domain}/{service}/history", get(history))
        .route("/v1/claims/{sha}", get(claim))
}

/// `GET /v1/vendors[?after=<domain>]`.
async fn vendors(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let after = match query.as_deref().filter(|q| !q.is_empty()) {
        None => None,
        Some(q) => {
            let value = q.strip_prefix("after=").ok_or_else(|| {
                ApiError::BadRequest("the only query parameter is after=<domain>".into())
            })?;
            Some(parse_domain(value)?)
        }
    };
    let store = app.reader.store();
    let tree_size = store.tree_state()?.size;
    let after_key = after.as_ref().map(index::key_head_key);
    let heads = store.index_scan(
        index::KEY_HEAD_PREFIX.as_bytes(),
        after_key.as_deref(),
        VENDORS_PAGE,
    )?;
    let mut out = Vec::with_capacity(heads.len());
    for (key, value) in &heads {
        let record: VersionRecord = index::decode(key, value)?;
        let domain = String::from_utf8_lossy(&key[index::KEY_HEAD_PREFIX.len()..]).into_owned();
        out.push(json!({
            "domain": domain,
            "keyBinding": version_json(&**store, &record)?,
        }));
    }
    Ok(axum::Json(json!({
        "treeSize": tree_size,
        "vendors": out,
        "more": heads.len() == VENDORS_PAGE,
    }))
    .into_response())
}

/// `GET /v1/vendors/<domain>`: keys with their history, and services.
async fn vendor(
    State(app): State<Arc<App>>,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    let domain = parse_domain(&domain)?;
    let store = app.reader.store();
    let tree_size = store.tree_state()?.size;
    let Some(head) = load_key_head(|k| store.index_get(k), |i| store.entry(i), &domain)? else {
        return Err(ApiError::NotFound(format!("{domain} has not enrolled")));
    };
    let head_key = index::key_head_key(&domain);
    let head_record: VersionRecord = match store.index_get(&head_key)? {
        Some(v) => index::decode(&head_key, &v)?,
        None => return Err(ApiError::Internal("key-binding head vanished".into())),
    };
    let now = now()?;
    let kb = &head.binding;
    let mut keys = Vec::new();
    for (role, list) in [("root", &kb.root_keys), ("signing", &kb.signing_keys)] {
        for key in list {
            let revocation = kb.revocation(&key.keyid);
            let status = if revocation.is_some_and(|r| r.compromised_since <= now) {
                "revoked"
            } else if key.valid_from > now {
                "not-yet-valid"
            } else if key.valid_until.is_some_and(|u| u <= now) {
                "expired"
            } else {
                "valid"
            };
            let mut k = json!({
                "keyid": key.keyid,
                "publicKey": key.public_key,
                "role": role,
                "validFrom": key.valid_from,
                "status": status,
            });
            if let Some(u) = key.valid_until {
                k["validUntil"] = json!(u);
            }
            if let Some(r) = revocation {
                k["compromisedSince"] = json!(r.compromised_since);
                if let Some(reason) = &r.reason {
                    k["revocationReason"] = json!(reason);
                }
            }
            keys.push(k);
        }
    }
    let mut history = Vec::new();
    for (key, value) in
        store.index_scan(&index::key_versions_prefix(&domain), None, MAX_VERSIONS)?
    {
        history.push(version_json(&**store, &index::decode(&key, &value)?)?);
    }
    let mut services = Vec::new();
    let prefix = index::series_heads_prefix(&domain);
    for (key, value) in store.index_scan(&prefix, None, MAX_VERSIONS)? {
        let record: VersionRecord = index::decode(&key, &value)?;
        let (_, parsed) = index::load_statement(record.log_index, |i| store.entry(i))?;
        let Predicate::DataHandling(dh) = parsed.predicate else {
            return Err(ApiError::Internal(format!(
                "series head at {} is not data-handling",
                record.log_index
            )));
        };
        services.push(json!({
            "id": dh.service.id,
            "name": dh.service.name,
            "head": version_json(&**store, &record)?,
        }));
    }
    Ok(axum::Json(json!({
        "domain": domain,
        "treeSize": tree_size,
        "at": now,
        "keyBinding": version_json(&**store, &head_record)?,
        "keys": keys,
        "history": history,
        "services": services,
    }))
    .into_response())
}

/// `GET /v1/vendors/<domain>/<service>/history`: every version, oldest
/// first, each with the diff from the one before.
async fn history(
    State(app): State<Arc<App>>,
    Path((domain, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let domain = parse_domain(&domain)?;
    let service =
        Identifier::parse(&service).map_err(|e| ApiError::BadRequest(format!("service: {e}")))?;
    let store = app.reader.store().clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let tree_size = store.tree_state()?.size;
        let records = store.index_scan(
            &index::series_versions_prefix(&domain, &service),
            None,
            MAX_VERSIONS,
        )?;
        if records.is_empty() {
            return Err(ApiError::NotFound(format!(
                "{domain} has no series {service}"
            )));
        }
        let mut versions = Vec::with_capacity(records.len());
        let mut previous: Option<DataHandling> = None;
        for (key, value) in &records {
            let record: VersionRecord = index::decode(key, value)?;
            let (_, parsed) = index::load_statement(record.log_index, |i| store.entry(i))?;
            let Predicate::DataHandling(dh) = parsed.predicate else {
                return Err(ApiError::Internal(format!(
                    "series version at {} is not data-handling",
                    record.log_index
                )));
            };
            let mut v = version_json(&*store, &record)?;
            v["issuedAt"] = json!(dh.issued_at);
            v["effectiveFrom"] = json!(dh.effective_from);
            if let Some(u) = dh.valid_until {
                v["validUntil"] = json!(u);
            }
            match &previous {
                Some(old) => {
                    let d = diff(old, &dh);
                    v["diffText"] = json!(d.render());
                    v["diff"] = json!(d);
                }
                None => v["diff"] = Value::Null,
            }
            versions.push(v);
            previous = Some(dh);
        }
        Ok(json!({
            "domain": domain,
            "service": service,
            "treeSize": tree_size,
            "versions": versions,
        }))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(axum::Json(body).into_response())
}

/// `GET /v1/claims/<statementSha256>`.
async fn claim(State(app): State<Arc<App>>, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let sha = Sha256Digest::parse(&sha).map_err(ApiError::BadRequest)?;
    let store = app.reader.store();
    let tree_size = store.tree_state()?.size;
    let key = index::statement_key(&sha);
    let Some(bytes) = store.index_get(&key)? else {
        return Err(ApiError::NotFound(format!("no statement {sha} in the log")));
    };
    let record: StatementRecord = index::decode(&key, &bytes)?;
    let Some(entry_bytes) = store.entry(record.log_index)? else {
        return Err(ApiError::Internal(format!(
            "statement index points at missing entry {}",
            record.log_index
        )));
    };
    let (entry, parsed) =
        index::load_statement(record.log_index, |_| Ok(Some(entry_bytes.clone())))?;
    if parsed.statement_sha256 != sha {
        return Err(ApiError::Internal(format!(
            "statement index for {sha} points at entry {} holding {}",
            record.log_index, parsed.statement_sha256
        )));
    }
    // What the index does not copy, from the statement itself.
    let (predicate_type, domain, service, sequence) = match &parsed.predicate {
        Predicate::KeyBinding(kb) => (KEY_BINDING_V1, &kb.domain, None, kb.sequence),
        Predicate::DataHandling(dh) => (
            DATA_HANDLING_V1,
            &dh.issuer.domain,
            Some(&dh.service.id),
            dh.sequence,
        ),
    };
    let envelope: Value = serde_json::from_slice(&entry.envelope.to_canonical_json())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let statement: Value = serde_json::from_slice(entry.envelope.payload())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut body = json!({
        "statementSha256": sha,
        "logIndex": record.log_index,
        "leafHash": leaf_hash(&entry_bytes).to_base64(),
        "integratedTime": entry.integrated_time,
        "treeSize": tree_size,
        "predicateType": predicate_type,
        "domain": domain,
        "sequence": sequence,
        "envelope": envelope,
        "statement": statement,
    });
    if let Some(s) = service {
        body["service"] = json!(s);
    }
    Ok(axum::Json(body).into_response())
}

/// A version record with the leaf hash of its entry.
fn version_json(store: &dyn Store, record: &VersionRecord) -> Result<Value, ApiError> {
    let Some(entry) = store.entry(record.log_index)? else {
        return Err(ApiError::Internal(format!(
            "index points at missing entry {}",
            record.log_index
        )));
    };
    Ok(json!({
        "logIndex": record.log_index,
        "leafHash": leaf_hash(&entry).to_base64(),
        "sequence": record.sequence,
        "statementSha256": record.statement_sha256,
        "integratedTime": record.integrated_time,
    }))
}

fn parse_domain(s: &str) -> Result<Domain, ApiError> {
    Domain::parse(s).map_err(|e| ApiError::BadRequest(format!("domain: {e}")))
}

/// The server's clock, for key status in answers (never for admission,
/// which uses the sequencer's integration time).
fn now() -> Result<Timestamp, ApiError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .ok_or_else(|| ApiError::Internal("system clock out of range".into()))
}
