//! The claim commands of the `claimlog` binary: `enroll`, `well-known`,
//! `claim lint`, `claim next`, `history`, `diff` (spec/log-api.md "Command
//! line", spec/vendor.md). The rules are the library's (`claimlog::claim`);
//! this file reads files, talks to a log and prints.

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use claimlog::claim::{
    DataHandling, Predicate, Sha256Digest, Timestamp, diff, parse_statement, validate,
};
use claimlog::note::SignerKey;
use claimlog::server::config::read_signer_key;

/// `claimlog well-known`: the document to publish at
/// `https://<domain>/.well-known/claimlog.json` for a root key.
pub fn well_known(domain: &str, root_key: &Path) -> anyhow::Result<String> {
    let root = read_signer_key(root_key)?;
    let (keyid, public) = key_fields(&root)?;
    Ok(serde_json::to_string_pretty(&json!({
        "domain": domain,
        "rootKeys": [{"keyid": keyid, "publicKey": public}],
    }))?)
}

/// `claimlog enroll`: the enrollment statement (sequence 1: the root key and
/// the signing key, valid from now), signed by the root key, as a DSSE
/// envelope ready for `claimlog submit`.
pub fn enroll(domain: &str, root_key: &Path, signing_key: &Path) -> anyhow::Result<Vec<u8>> {
    let root = read_signer_key(root_key)?;
    let signing = read_signer_key(signing_key)?;
    let (root_id, root_pk) = key_fields(&root)?;
    let (signing_id, signing_pk) = key_fields(&signing)?;
    let now = now()?.to_string();
    let statement = json!({
        "_type": claimlog::claim::STATEMENT_TYPE_V1,
        "subject": [{
            "name": domain,
            "uri": format!("https://{domain}/.well-known/claimlog.json"),
            "digest": {"sha256": root_id},
        }],
        "predicateType": claimlog::claim::KEY_BINDING_V1,
        "predicate": {
            "domain": domain,
            "sequence": 1,
            "issuedAt": now,
            "rootKeys": [{"keyid": root_id, "publicKey": root_pk, "validFrom": now}],
            "signingKeys": [{"keyid": signing_id, "publicKey": signing_pk, "validFrom": now}],
            "revocations": [],
        },
    });
    let payload = serde_json::to_vec(&statement)?;
    // Check it the way the log will before anyone submits it.
    let parsed = parse_statement(&payload)?;
    if let Some(problem) = validate(&parsed).into_iter().next() {
        bail!("enrollment statement: {problem}");
    }
    sign(&payload, &[root])
}

/// Signs `payload` with every key into one DSSE envelope (canonical JSON).
pub fn sign(payload: &[u8], keys: &[SignerKey]) -> anyhow::Result<Vec<u8>> {
    let mut signatures = Vec::new();
    for key in keys {
        let env = claimlog::dsse::Envelope::sign_with_note_key(
            claimlog::dsse::PAYLOAD_TYPE_IN_TOTO,
            payload,
            key,
        )
        .context("the key is not an Ed25519 (type 0x01) signer key")?;
        let v: Value = serde_json::from_slice(&env.to_canonical_json())?;
        signatures.extend(v["signatures"].as_array().cloned().unwrap_or_default());
    }
    let env = json!({
        "payload": base64::engine::general_purpose::STANDARD.encode(payload),
        "payloadType": claimlog::dsse::PAYLOAD_TYPE_IN_TOTO,
        "signatures": signatures,
    });
    // Round-trip through the strict parser: what we print is what the log
    // will accept as an envelope.
    let parsed = claimlog::dsse::Envelope::parse(&serde_json::to_vec(&env)?)?;
    Ok(parsed.to_canonical_json())
}

/// `claimlog claim lint FILE`: every problem, in document order, and how
/// many there are (0: the statement is valid).
pub fn lint(bytes: &[u8]) -> (Vec<String>, usize) {
    let parsed = match parse_statement(bytes) {
        Ok(p) => p,
        Err(e) => return (vec![e.to_string()], 1),
    };
    let problems: Vec<String> = validate(&parsed).iter().map(|e| e.to_string()).collect();
    let n = problems.len();
    (problems, n)
}

/// `claimlog diff A B`: the rendered diff between two versions.
pub fn diff_files(a: &[u8], b: &[u8]) -> anyhow::Result<String> {
    let old = data_handling(a).context("first file")?;
    let new = data_handling(b).context("second file")?;
    let d = diff(&old, &new);
    Ok(if d.is_empty() {
        "no changes\n".to_owned()
    } else {
        d.render()
    })
}

/// `claimlog claim next FILE --log URL`: the draft with `sequence`,
/// `supersedes` and `removedClaimIds` filled from the series head in the log
/// (sequence 1 and no `supersedes` for a new series), pretty-printed.
pub fn next(
    draft: &[u8],
    get: &dyn Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<String> {
    let mut value: Value = serde_json::from_slice(draft).context("the draft is not JSON")?;
    let domain = value["predicate"]["issuer"]["domain"]
        .as_str()
        .context("the draft has no predicate.issuer.domain")?
        .to_owned();
    let service = value["predicate"]["service"]["id"]
        .as_str()
        .context("the draft has no predicate.service.id")?
        .to_owned();
    let head = match get(&format!("/v1/vendors/{domain}/{service}/history"))? {
        None => None,
        Some(text) => {
            let history: Value = serde_json::from_str(&text)?;
            history["versions"]
                .as_array()
                .and_then(|v| v.last())
                .cloned()
        }
    };
    let predicate = value["predicate"]
        .as_object_mut()
        .context("predicate is not an object")?;
    match head {
        None => {
            predicate.insert("sequence".into(), json!(1));
            predicate.remove("supersedes");
            predicate.insert("removedClaimIds".into(), json!([]));
        }
        Some(head) => {
            let sha = head["statementSha256"]
                .as_str()
                .context("head without hash")?;
            let claim = get(&format!("/v1/claims/{sha}"))?
                .with_context(|| format!("the log does not have the head {sha}"))?;
            let claim: Value = serde_json::from_str(&claim)?;
            let head_ids: Vec<String> = claim["statement"]["predicate"]["claims"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let draft_ids: Vec<&str> = predicate
                .get("claims")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(|c| c["id"].as_str()).collect())
                .unwrap_or_default();
            let mut removed: Vec<&String> = head_ids
                .iter()
                .filter(|id| !draft_ids.contains(&id.as_str()))
                .collect();
            removed.sort();
            let sequence = head["sequence"].as_u64().context("head without sequence")?;
            predicate.insert("sequence".into(), json!(sequence + 1));
            predicate.insert(
                "supersedes".into(),
                json!({
                    "sequence": sequence,
                    "logIndex": head["logIndex"],
                    "statementSha256": sha,
                }),
            );
            predicate.insert("removedClaimIds".into(), json!(removed));
        }
    }
    let mut out = serde_json::to_string_pretty(&value)?;
    out.push('\n');
    Ok(out)
}

/// `claimlog history`: a vendor's timeline, one block per version with the
/// rendered diff from the previous one.
pub fn history(vendor: &Value, series: &[(String, Value)]) -> String {
    let mut out = String::new();
    let domain = vendor["domain"].as_str().unwrap_or("?");
    out.push_str(&format!("{domain} (tree size {})\n", vendor["treeSize"]));
    out.push_str("keys:\n");
    for k in vendor["keys"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} {} {} from {}{}{}\n",
            k["role"].as_str().unwrap_or("?"),
            k["keyid"].as_str().unwrap_or("?"),
            k["status"].as_str().unwrap_or("?"),
            k["validFrom"].as_str().unwrap_or("?"),
            k["validUntil"]
                .as_str()
                .map_or_else(String::new, |u| format!(" until {u}")),
            k["compromisedSince"]
                .as_str()
                .map_or_else(String::new, |c| format!(", compromised since {c}")),
        ));
    }
    for (service, h) in series {
        out.push_str(&format!("{service}:\n"));
        for v in h["versions"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  #{} log index {} integrated {} effective {} sha256 {}\n",
                v["sequence"],
                v["logIndex"],
                Timestamp::from_unix(v["integratedTime"].as_i64().unwrap_or(0))
                    .map_or_else(|| "?".to_owned(), |t| t.to_string()),
                v["effectiveFrom"].as_str().unwrap_or("?"),
                v["statementSha256"].as_str().unwrap_or("?"),
            ));
            match v["diffText"].as_str() {
                Some("") => out.push_str("    (no changes)\n"),
                Some(text) => {
                    for line in text.lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
                None => out.push_str("    (first version)\n"),
            }
        }
    }
    out
}

fn data_handling(bytes: &[u8]) -> anyhow::Result<DataHandling> {
    match parse_statement(bytes)?.predicate {
        Predicate::DataHandling(dh) => Ok(dh),
        Predicate::KeyBinding(_) => bail!("a key binding, not a data-handling statement"),
    }
}

fn key_fields(key: &SignerKey) -> anyhow::Result<(String, String)> {
    let public = key.verifier().public_key().to_vec();
    if public.len() != 32 {
        bail!("{} is not an Ed25519 key", key.name().as_str());
    }
    Ok((
        Sha256Digest::of(&public).to_string(),
        base64::engine::general_purpose::STANDARD.encode(&public),
    ))
}

fn now() -> anyhow::Result<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .context("system clock out of range")
}
