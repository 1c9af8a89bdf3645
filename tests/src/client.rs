//! A small blocking HTTP client for tests: one current-thread Tokio runtime
//! driving a keep-alive `reqwest` client, with response bodies capped.

use std::time::Duration;

use anyhow::{Context as _, bail};

/// The largest response body read (tiles are 8 KiB, bundles ≤ 16 MiB).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A response: status, the headers tests look at, and the body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// All headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("response is not JSON: {}", self.text()))
    }

    /// Fails unless the status is `want`.
    pub fn expect(self, want: u16) -> anyhow::Result<Response> {
        if self.status != want {
            bail!("status {} (wanted {want}): {}", self.status, self.text());
        }
        Ok(self)
    }
}

/// A blocking client for one server's base URL.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:1234`).
    pub fn new(base: &str) -> anyhow::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            runtime,
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs `future` on this client's runtime (e.g. a
    /// [`claimlog::client::LogClient`] call).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// `GET <base><path>`.
    pub fn get(&self, path: &str) -> anyhow::Result<Response> {
        self.send(reqwest::Method::GET, path, None)
    }

    /// `POST <base><path>` with a JSON body.
    pub fn post(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Response> {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    /// Any method, optional body.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Response> {
        let url = format!("{}{path}", self.base);
        self.runtime.block_on(async {
            let mut req = self.http.request(method, &url);
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("requesting {url}"))?;
            read_response(resp).await
        })
    }
}

/// Reads a `reqwest` response into a [`Response`], capping the body.
pub async fn read_response(mut resp: reqwest::Response) -> anyhow::Result<Response> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            bail!("response body larger than {MAX_BODY} bytes");
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}
