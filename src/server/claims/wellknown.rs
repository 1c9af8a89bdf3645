//! The vendor's well-known document (`spec/vendor.md`):
//! `https://<domain>/.well-known/claimlog.json`, which publishes the root
//! key(s) a domain enrolls with, and the client the log fetches it with.
//!
//! The document is untrusted input from the network: the body is capped at
//! [`MAX_DOCUMENT_BYTES`] while it is read, parsed strictly (unknown fields,
//! repeated keys and malformed keys are rejected) and must name the domain it
//! was fetched for. The fetch uses HTTPS with rustls and the system's root certificates, at most
//! [`MAX_REDIRECTS`] redirects (never to plain HTTP) and a timeout, except for
//! domains the operator maps to a base URL (`well_known_base_urls` in the
//! configuration), which is how local setups and tests serve the document
//! from loopback over plain HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::claim::{Domain, PublicKey, Sha256Digest, StrictMap};

/// The largest well-known document read.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

/// Most redirects followed when fetching the document.
pub const MAX_REDIRECTS: usize = 3;

/// Why a domain's well-known document could not be used (HTTP 403 when an
/// enrollment depends on it: the log cannot confirm the domain's key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WellKnownError {
    /// The fetch failed (connection, TLS, timeout, status, redirects).
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// Why.
        reason: String,
    },
    /// The body is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
    },
    /// The body is not a valid document.
    #[error("{url}: invalid document: {reason}")]
    Invalid {
        /// The URL fetched.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A parsed well-known document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WellKnownDocument {
    /// The domain the document speaks for.
    pub domain: Domain,
    /// The root keys the domain publishes (at least one).
    pub root_keys: Vec<PublicKey>,
}

impl WellKnownDocument {
    /// Parses a document strictly: `{"domain": ..., "rootKeys": [{"keyid":
    /// ..., "publicKey": ...}, ...]}`, nothing else, no repeated key, every
    /// keyid the SHA-256 of its key, at least one key.
    pub fn parse(bytes: &[u8]) -> Result<WellKnownDocument, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Key {
            keyid: Sha256Digest,
            public_key: PublicKey,
        }
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        // StrictMap refuses a repeated key; a serde_json::Value alone would
        // silently keep the last one.
        let top: StrictMap<serde_json::Value> =
            serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        for key in top.0.keys() {
            if key != "domain" && key != "rootKeys" {
                return Err(format!("unknown field {key:?}"));
            }
        }
        let domain: Domain = top
            .0
            .get("domain")
            .ok_or("missing field \"domain\"")
            .and_then(|v| v.as_str().ok_or("domain must be a string"))
            .map_err(str::to_owned)
            .and_then(|s| Domain::parse(s).map_err(|e| format!("domain: {e}")))?;
        // Parse rootKeys from the raw bytes again, each key object through
        // StrictMap, so repeated keys inside them are caught too.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Keys {
            root_keys: Vec<StrictMap<serde_json::Value>>,
        }
        let keys: Keys = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if keys.root_keys.is_empty() {
            return Err("rootKeys must not be empty".into());
        }
        let mut root_keys = Vec::with_capacity(keys.root_keys.len());
        for (i, raw) in keys.root_keys.into_iter().enumerate() {
            let value = serde_json::to_value(raw.0).map_err(|e| e.to_string())?;
            let key: Key =
                serde_json::from_value(value).map_err(|e| format!("rootKeys[{i}]: {e}"))?;
            if key.public_key.keyid() != key.keyid {
                return Err(format!(
                    "rootKeys[{i}]: keyid is not SHA-256 of the public key"
                ));
            }
            root_keys.push(key.public_key);
        }
        Ok(WellKnownDocument { domain, root_keys })
    }
}

/// Fetches well-known documents.
#[derive(Debug, Clone)]
pub struct WellKnownClient {
    https: reqwest::Client,
    plain: reqwest::Client,
    base_urls: BTreeMap<String, String>,
}

impl WellKnownClient {
    /// A client with a total `timeout` per fetch and the operator's
    /// domain -> base URL overrides (for a mapped domain the document is
    /// fetched from `<base>/.well-known/claimlog.json`, over HTTP or HTTPS).
    pub fn new(
        timeout: Duration,
        base_urls: BTreeMap<String, String>,
    ) -> Result<WellKnownClient, String> {
        let build = |https_only: bool| {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
                .https_only(https_only)
                .user_agent(concat!("claimlog/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        };
        for (domain, base) in &base_urls {
            Domain::parse(domain).map_err(|e| format!("well_known_base_urls: {e}"))?;
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(format!(
                    "well_known_base_urls: {domain} maps to {base:?}, not an http(s) URL"
                ));
            }
        }
        Ok(WellKnownClient {
            https: build(true)?,
            plain: build(false)?,
            base_urls,
        })
    }

    /// The URL the document of `domain` is fetched from.
    pub fn url(&self, domain: &Domain) -> String {
        match self.base_urls.get(domain.as_str()) {
            Some(base) => format!("{}/.well-known/claimlog.json", base.trim_end_matches('/')),
            None => crate::claim::well_known_uri(domain),
        }
    }

    /// Fetches and parses the document of `domain`; it must name `domain`.
    pub async fn fetch(&self, domain: &Domain) -> Result<WellKnownDocument, WellKnownError> {
        let url = self.url(domain);
        let client = if self.base_urls.contains_key(domain.as_str()) {
            &self.plain
        } else {
            &self.https
        };
        let fetch_err = |reason: String| WellKnownError::Fetch {
            url: url.clone(),
            reason,
        };
        let mut resp = client
            .get(&url)
            .send()
            .await
            .map_err(|e| fetch_err(error_chain(&e)))?;
        if !resp.status().is_success() {
            return Err(fetch_err(format!("HTTP status {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(WellKnownError::TooLarge { url });
        }
        // The cap applies while reading: a lying or absent Content-Length
        // cannot make the log buffer more.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fetch_err(error_chain(&e)))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(WellKnownError::TooLarge { url });
            }
            body.extend_from_slice(&chunk);
        }
        let doc = WellKnownDocument::parse(&body).map_err(|reason| WellKnownError::Invalid {
            url: url.clone(),
            reason,
        })?;
        if &doc.domain != domain {
            return Err(WellKnownError::Invalid {
                url,
                reason: format!("document is for {}, not {domain}", doc.domain),
            });
        }
        Ok(doc)
    }
}

/// The error and its sources on one line (reqwest's top-level message alone
/// hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    fn doc(body: &str) -> Result<WellKnownDocument, String> {
        WellKnownDocument::parse(body.as_bytes())
    }

    #[test]
    fn parses_strictly() {
        let pk = PublicKey::parse(KEY).unwrap();
        let good = format!(
            r#"{{"domain":"chat.example","rootKeys":[{{"keyid":"{}","publicKey":"{KEY}"}}]}}"#,
            pk.keyid()
        );
        let d = doc(&good).unwrap();
        assert_eq!(d.domain.as_str(), "chat.example");
        assert_eq!(d.root_keys, vec![pk]);
        let bad = [
            good.replace("\"domain\"", "\"domain\":\"x.example\",\"domain\""),
            good.replace("\"keyid\"", "\"publicKey\":\"x\",\"keyid\""),
            good.replace("rootKeys\":[", "rootKeys\":[],\"x\":["),
            good.replace("chat.example", "Chat.Example"),
            good.replace(&pk.keyid().to_string(), &"0".repeat(64)),
            good.replace("}]}", ",\"extra\":1}]}"),
            r#"{"domain":"chat.example","rootKeys":[]}"#.to_owned(),
            r#"{"domain":"chat.example"}"#.to_owned(),
            format!("{good} x"),
            " ".repeat(MAX_DOCUMENT_BYTES + 1),
        ];
        for b in bad {
            assert!(doc(&b).is_err(), "{b}");
        }
    }

    #[test]
    fn urls_and_overrides() {
        let c = WellKnownClient::new(
            Duration::from_secs(1),
            BTreeMap::from([("chat.example".into(), "http://127.0.0.1:9/".into())]),
        )
        .unwrap();
        let d = Domain::parse("chat.example").unwrap();
        assert_eq!(c.url(&d), "http://127.0.0.1:9/.well-known/claimlog.json");
        let other = Domain::parse("other.example").unwrap();
        assert_eq!(
            c.url(&other),
            "https://other.example/.well-known/claimlog.json"
        );
        assert!(
            WellKnownClient::new(
                Duration::from_secs(1),
                BTreeMap::from([("chat.example".into(), "ftp://x".into())])
            )
            .is_err()
        );
    }
}
