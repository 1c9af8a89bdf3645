//! Realistic claim traffic for `claimlog-load claims`: deterministic vendors
//! (a domain, a root key and a signing key each), their well-known documents
//! and enrollments (key-binding sequence 1, spec/claim.md §5.2), and
//! data-handling statements of about 3 KiB (three claims, modelled on
//! `spec/examples/data-handling-1.json`) that continue their series: each
//! version after the first carries `supersedes` = the head the log returned
//! for the previous one, so the log's series rules (§6) accept it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use claimlog::claim::Timestamp;
use claimlog::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO, keyid};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The statement every version starts from (the worked example).
const TEMPLATE: &str = include_str!("../../spec/examples/data-handling-1.json");

/// A vendor of the load run.
pub struct Vendor {
    /// Its domain, `v<i>.<run>.load.example`.
    pub domain: String,
    root: SigningKey,
    signing: SigningKey,
}

/// Where a series stands: what the next version must supersede.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesHead {
    /// The head's `sequence`.
    pub sequence: u64,
    /// The head's log index.
    pub log_index: u64,
    /// Hex SHA-256 of the head's statement bytes.
    pub statement_sha256: String,
}

/// A domain label made of `run`: lowercase ASCII letters and digits only.
pub fn run_label(run: &str) -> String {
    let label: String = run
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(40)
        .collect();
    if label.is_empty() {
        "run".to_owned()
    } else {
        label
    }
}

impl Vendor {
    /// Vendor `i` of the run named `run` (keys derived from both).
    pub fn derive(run: &str, i: usize) -> Vendor {
        let key = |role: &str| {
            let mut h = Sha256::new();
            h.update(b"claimlog-load-vendor\0");
            h.update(run.as_bytes());
            h.update(b"\0");
            h.update(i.to_string().as_bytes());
            h.update(b"\0");
            h.update(role.as_bytes());
            SigningKey::from_bytes(&h.finalize().into())
        };
        Vendor {
            domain: format!("v{i}.{}.load.example", run_label(run)),
            root: key("root"),
            signing: key("signing"),
        }
    }

    /// The vendor's `/.well-known/claimlog.json` (spec/vendor.md).
    pub fn well_known(&self) -> Vec<u8> {
        let root = self.root.verifying_key();
        json!({
            "domain": self.domain,
            "rootKeys": [{
                "keyid": keyid(&root),
                "publicKey": STANDARD.encode(root.as_bytes()),
            }],
        })
        .to_string()
        .into_bytes()
    }

    /// The enrollment envelope (canonical JSON): key binding sequence 1,
    /// signed by the root key, binding the signing key from `valid_from`.
    pub fn enrollment(&self, issued_at: i64, valid_from: i64) -> Vec<u8> {
        let bound = |k: &SigningKey| {
            let vk = k.verifying_key();
            json!({
                "keyid": keyid(&vk),
                "publicKey": STANDARD.encode(vk.as_bytes()),
                "validFrom": ts(valid_from),
            })
        };
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": "https://claimlog.dev/predicate/key-binding/v1",
            "subject": [{
                "digest": {"sha256": keyid(&self.root.verifying_key())},
                "name": self.domain,
                "uri": format!("https://{}/.well-known/claimlog.json", self.domain),
            }],
            "predicate": {
                "domain": self.domain,
                "issuedAt": ts(issued_at),
                "revocations": [],
                "rootKeys": [bound(&self.root)],
                "sequence": 1,
                "signingKeys": [bound(&self.signing)],
            },
        });
        Envelope::sign(
            PAYLOAD_TYPE_IN_TOTO,
            statement.to_string().as_bytes(),
            &self.root,
        )
        .to_canonical_json()
    }

    /// The next version of the vendor's series `service` after `head`
    /// (`None`: version 1), issued and effective at `now`, signed by the
    /// signing key: the envelope (canonical JSON) and the statement's hex
    /// SHA-256. The claims do not change between versions, so the notice
    /// rule never applies.
    pub fn claim(&self, service: &str, head: Option<&SeriesHead>, now: i64) -> (Vec<u8>, String) {
        let payload = self.statement(service, head, now).to_string().into_bytes();
        self.sign(&payload)
    }

    /// Signs the statement `payload`: the envelope (canonical JSON) and the
    /// statement's hex SHA-256.
    fn sign(&self, payload: &[u8]) -> (Vec<u8>, String) {
        let sha = hex::encode(Sha256::digest(payload));
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload, &self.signing);
        (env.to_canonical_json(), sha)
    }

    /// The vendor's series `service`, pre-rendered (see [`SeriesTemplate`]).
    pub fn series_template(&self, service: &str) -> SeriesTemplate {
        let head = SeriesHead {
            sequence: MARK_NUM,
            log_index: MARK_NUM + 1,
            statement_sha256: MARK_SHA.to_owned(),
        };
        let render = |head: Option<&SeriesHead>| {
            let mut v = self.statement(service, head, 0);
            let p = &mut v["predicate"];
            p["issuedAt"] = json!(MARK_TIME);
            p["effectiveFrom"] = json!(MARK_TIME);
            p["sequence"] = json!(MARK_NUM + 2);
            split_marks(&v.to_string())
        };
        SeriesTemplate {
            first: render(None),
            later: render(Some(&head)),
        }
    }

    fn statement(&self, service: &str, head: Option<&SeriesHead>, now: i64) -> Value {
        // The template is a fixed, valid example file of this repository;
        // parsed once per process (the generator's own cost per request
        // competes with the server for the same cores).
        static PARSED: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        let mut v = PARSED
            .get_or_init(|| serde_json::from_str(TEMPLATE).unwrap_or(Value::Null))
            .clone();
        let domain = &self.domain;
        v["subject"][0]["uri"] = json!(format!("https://{domain}/legal/privacy/{service}.html"));
        let p = &mut v["predicate"];
        p["issuer"] = json!({"domain": domain, "name": format!("Vendor {domain}")});
        p["contact"] = json!(format!("mailto:privacy@{domain}"));
        p["service"]["id"] = json!(service);
        p["service"]["name"] = json!(format!("{service} by {domain}"));
        p["service"]["appIdentifiers"][1]["id"] =
            json!(format!("example.{}.{service}", domain.replace('.', "")).replace('-', ""));
        p["issuedAt"] = json!(ts(now));
        p["effectiveFrom"] = json!(ts(now));
        p["sequence"] = json!(head.map_or(1, |h| h.sequence + 1));
        p["removedClaimIds"] = json!([]);
        if let Some(h) = head {
            p["supersedes"] = json!({
                "logIndex": h.log_index,
                "sequence": h.sequence,
                "statementSha256": h.statement_sha256,
            });
        }
        if let Some(claims) = p["claims"].as_array_mut() {
            claims.push(json!({
                "assurance": {"level": "self-asserted"},
                "dataCategory": {
                    "label": "Address book entries the user chooses to upload for finding friends",
                    "term": "pd:Contact",
                },
                "id": "contact-discovery",
                "processingExcluded": ["dpv:Profiling", "ai:ModelTraining"],
                "purposes": {
                    "excluded": ["dpv:Marketing", "dpv:PersonalisedAdvertising"],
                    "permitted": ["dpv:ServiceProvision"],
                },
                "retention": {"server": {"max": "P30D"}},
                "scope": "issuer",
                "serverProcessing": "retained",
                "storage": {"locations": ["issuer-servers"], "serverBackups": false},
                "usedForTraining": false,
            }));
        }
        p["statement"][0]["text"] = json!(format!(
            "{domain} servers hold a chat message only until it is delivered (at most 72 \
             hours). Chat content is never used for advertising, profiling or AI model \
             training. Messaging metadata is kept for up to 90 days to run and protect the \
             service. Contacts uploaded for friend discovery are kept for at most 30 days, \
             are never used for marketing, advertising, profiling or model training, and \
             are not included in server backups."
        ));
        v
    }
}

/// Marks of the fields that change between versions, rendered into a
/// series' statement once and split out: two strings (rendered quoted) and
/// three numbers no real field takes (`u64::MAX - 2 ..= u64::MAX`).
const MARK_TIME: &str = "@@time@@";
const MARK_SHA: &str = "@@sha256@@";
const MARK_NUM: u64 = u64::MAX - 2;

/// A field that changes between versions of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// `issuedAt` and `effectiveFrom` (a JSON string).
    Time,
    /// The version's `sequence`.
    Sequence,
    /// `supersedes.sequence`.
    HeadSequence,
    /// `supersedes.logIndex`.
    HeadIndex,
    /// `supersedes.statementSha256` (a JSON string).
    HeadSha,
}

/// A statement's text split at its slots: `(text before, slot)` pairs,
/// then the text after the last slot.
#[derive(Debug, Clone)]
struct Split {
    parts: Vec<(String, Slot)>,
    tail: String,
}

/// Splits `text` (a statement rendered with the marks) at every mark.
fn split_marks(text: &str) -> Split {
    let marks = [
        (format!("\"{MARK_TIME}\""), Slot::Time),
        (format!("\"{MARK_SHA}\""), Slot::HeadSha),
        (MARK_NUM.to_string(), Slot::HeadSequence),
        ((MARK_NUM + 1).to_string(), Slot::HeadIndex),
        ((MARK_NUM + 2).to_string(), Slot::Sequence),
    ];
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some((at, mark, slot)) = marks
        .iter()
        .filter_map(|(m, slot)| rest.find(m.as_str()).map(|at| (at, m, *slot)))
        .min_by_key(|&(at, _, _)| at)
    {
        parts.push((rest[..at].to_owned(), slot));
        rest = &rest[at + mark.len()..];
    }
    Split {
        parts,
        tail: rest.to_owned(),
    }
}

/// One series' statement pre-rendered: the JSON text of a version with
/// the fields that change between versions (times, sequence, `supersedes`)
/// left as slots, so that a version costs string concatenation instead of
/// building and serializing a JSON tree (the generator shares the server's
/// cores). Renders exactly the bytes [`Vendor::claim`] signs.
#[derive(Debug, Clone)]
pub struct SeriesTemplate {
    /// Version 1 (no `supersedes`).
    first: Split,
    /// Later versions.
    later: Split,
}

impl SeriesTemplate {
    /// The statement after `head` (`None`: version 1), issued and
    /// effective at `time` (RFC 3339, as [`ts`] writes it).
    pub fn render(&self, head: Option<&SeriesHead>, time: &str) -> Vec<u8> {
        let split = if head.is_some() {
            &self.later
        } else {
            &self.first
        };
        let mut out = String::with_capacity(split.tail.len() + 3_200);
        for (text, slot) in &split.parts {
            out.push_str(text);
            match (slot, head) {
                (Slot::Time, _) => {
                    out.push('"');
                    out.push_str(time);
                    out.push('"');
                }
                (Slot::Sequence, h) => {
                    out.push_str(&h.map_or(1, |h| h.sequence + 1).to_string());
                }
                (Slot::HeadSequence, Some(h)) => out.push_str(&h.sequence.to_string()),
                (Slot::HeadIndex, Some(h)) => out.push_str(&h.log_index.to_string()),
                (Slot::HeadSha, Some(h)) => {
                    out.push('"');
                    out.push_str(&h.statement_sha256);
                    out.push('"');
                }
                // Version 1's text has no `supersedes` slots.
                (Slot::HeadSequence | Slot::HeadIndex | Slot::HeadSha, None) => {}
            }
        }
        out.push_str(&split.tail);
        out.into_bytes()
    }
}

/// RFC 3339 UTC seconds, as the claim format writes times.
pub fn ts(unix: i64) -> String {
    Timestamp::from_unix(unix).map_or_else(String::new, |t| t.to_string())
}

/// The TOML lines configuring a log for the run: domain admission, and
/// every vendor's well-known document at `<base>/<domain>`.
pub fn config_toml(vendors: &[Vendor], base: &str) -> String {
    let map: Vec<String> = vendors
        .iter()
        .map(|v| format!("{:?} = {:?}", v.domain, format!("{base}/{}", v.domain)))
        .collect();
    format!(
        "admission = \"domain\"\nwell_known_base_urls = {{ {} }}\n",
        map.join(", ")
    )
}

/// One version sent: its series, sequence and statement digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    series: usize,
    sequence: u64,
    statement_sha256: String,
}

/// The series of a claims run: vendors × services, series `s` being service
/// `svc-<s / vendors>` of vendor `s % vendors`. With C concurrent workers,
/// series `s` belongs to worker `s % C` alone, so versions of one series are
/// sent one after the other, each once the previous one's index is known.
pub struct ClaimsRun {
    vendors: Vec<Vendor>,
    templates: Vec<SeriesTemplate>,
    heads: Vec<Mutex<Option<SeriesHead>>>,
    entries: u64,
    /// Versions built, envelope bytes and statement bytes, for the report.
    sizes: Mutex<(u64, u64, u64)>,
}

impl ClaimsRun {
    /// `entries` statements over `vendors` × `services` series (every
    /// series' statement pre-rendered here, before any clock starts).
    pub fn new(vendors: Vec<Vendor>, services: usize, entries: u64) -> ClaimsRun {
        let series = vendors.len() * services;
        let templates = (0..series)
            .map(|s| vendors[s % vendors.len()].series_template(&service_name(s, vendors.len())))
            .collect();
        let heads = (0..series).map(|_| Mutex::new(None)).collect();
        ClaimsRun {
            vendors,
            templates,
            heads,
            entries,
            sizes: Mutex::new((0, 0, 0)),
        }
    }

    /// Statements to send.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The next version of `worker`'s `round`-th series (its series taken in
    /// turn), issued at `now`: what it is and its envelope. There must be at
    /// least `concurrency` series.
    pub fn next_version(
        &self,
        worker: usize,
        round: usize,
        concurrency: usize,
        now: i64,
    ) -> (Version, Vec<u8>) {
        let mine = self
            .heads
            .len()
            .saturating_sub(worker)
            .div_ceil(concurrency)
            .max(1);
        let s = worker + (round % mine) * concurrency;
        let vendor = &self.vendors[s % self.vendors.len()];
        let head = lock(&self.heads[s]).clone();
        let sequence = head.as_ref().map_or(1, |h| h.sequence + 1);
        let statement = self.templates[s].render(head.as_ref(), &ts(now));
        let (envelope, sha) = vendor.sign(&statement);
        let mut sizes = lock(&self.sizes);
        sizes.0 += 1;
        sizes.1 += envelope.len() as u64;
        sizes.2 += statement.len() as u64;
        let version = Version {
            series: s,
            sequence,
            statement_sha256: sha,
        };
        (version, envelope)
    }

    /// Records that `version` was logged at `index`: it is its series' head.
    pub fn advanced(&self, version: Version, index: u64) {
        *lock(&self.heads[version.series]) = Some(SeriesHead {
            sequence: version.sequence,
            log_index: index,
            statement_sha256: version.statement_sha256,
        });
    }

    /// One line for the report: series, vendors, average sizes.
    pub fn summary(&self) -> String {
        let (n, env, statement) = *lock(&self.sizes);
        let n = n.max(1);
        let longest = self
            .heads
            .iter()
            .filter_map(|h| lock(h).as_ref().map(|h| h.sequence))
            .max()
            .unwrap_or(0);
        format!(
            "claims: {} series of {} vendors (longest series {longest} versions); average envelope {} bytes, statement {} bytes",
            self.heads.len(),
            self.vendors.len(),
            env / n,
            statement / n
        )
    }
}

/// Series `s`'s service: `svc-<s / vendors>`.
fn service_name(s: usize, vendors: usize) -> String {
    format!("svc-{}", s / vendors.max(1))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data; a panicked worker cannot leave it half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves every vendor's well-known document at
/// `http://<addr>/<domain>/.well-known/claimlog.json`, in the background
/// (the base URLs [`config_toml`] maps the domains to).
pub async fn serve_well_known(vendors: &[Vendor], addr: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use axum::extract::Path as UrlPath;
    let docs: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        vendors
            .iter()
            .map(|v| (v.domain.clone(), v.well_known()))
            .collect(),
    );
    let app = axum::Router::new().route(
        "/{domain}/.well-known/claimlog.json",
        axum::routing::get(move |UrlPath(domain): UrlPath<String>| {
            let docs = docs.clone();
            async move {
                match docs.get(&domain) {
                    Some(d) => Ok(([("content-type", "application/json")], d.clone())),
                    None => Err(axum::http::StatusCode::NOT_FOUND),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the well-known server to {addr}"))?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

#[cfg(test)]
mod tests {
    use claimlog::claim::{Predicate, parse_and_validate};
    use claimlog::server::claims::wellknown::WellKnownDocument;

    use super::*;

    fn payload(envelope: &[u8]) -> Vec<u8> {
        Envelope::parse(envelope).unwrap().payload().to_vec()
    }

    #[test]
    fn enrollment_and_versions_validate_and_chain() {
        let v = Vendor::derive("Run 7!", 3);
        assert_eq!(v.domain, "v3.run7.load.example");
        let doc = WellKnownDocument::parse(&v.well_known()).unwrap();
        assert_eq!(doc.domain.as_str(), v.domain);

        let parsed =
            parse_and_validate(&payload(&v.enrollment(1_750_000_000, 1_749_999_000))).unwrap();
        let Predicate::KeyBinding(kb) = parsed.predicate else {
            panic!("not a key binding")
        };
        assert_eq!(kb.root_keys[0].public_key, doc.root_keys[0]);

        let (first, sha1) = v.claim("svc-1", None, 1_750_000_100);
        let statement = payload(&first);
        assert!(
            (2_800..4_096).contains(&statement.len()),
            "{}",
            statement.len()
        );
        let p1 = parse_and_validate(&statement).unwrap();
        assert_eq!(p1.statement_sha256.to_string(), sha1);
        let head = SeriesHead {
            sequence: 1,
            log_index: 41,
            statement_sha256: sha1,
        };
        let (second, sha2) = v.claim("svc-1", Some(&head), 1_750_000_200);
        let p2 = parse_and_validate(&payload(&second)).unwrap();
        assert_eq!(p2.statement_sha256.to_string(), sha2);
        let Predicate::DataHandling(dh) = p2.predicate else {
            panic!("not a data-handling statement")
        };
        assert_eq!(dh.sequence, 2);
        let s = dh.supersedes.unwrap();
        assert_eq!((s.sequence, s.log_index), (1, 41));
        assert_eq!(s.statement_sha256, p1.statement_sha256);
    }

    #[test]
    fn templates_render_the_statements_claim_signs() {
        let v = Vendor::derive("t", 5);
        let t = v.series_template("svc-3");
        let now = 1_750_000_123;
        let (first, _) = v.claim("svc-3", None, now);
        assert_eq!(t.render(None, &ts(now)), payload(&first));
        let head = SeriesHead {
            sequence: 41,
            log_index: 9_876_543,
            statement_sha256: "ab".repeat(32),
        };
        let (later, _) = v.claim("svc-3", Some(&head), now + 7);
        let rendered = t.render(Some(&head), &ts(now + 7));
        assert_eq!(rendered, payload(&later));
        // Every mark was split out: none is left in the text.
        let text = String::from_utf8(rendered).unwrap();
        for mark in [MARK_TIME, MARK_SHA, "1844674407370955161"] {
            assert!(!text.contains(mark), "{mark}");
        }
        assert_eq!(t.first.parts.len(), 3);
        assert_eq!(t.later.parts.len(), 6);
    }

    #[test]
    fn each_worker_advances_only_its_own_series() {
        let vendors = (0..3).map(|i| Vendor::derive("w", i)).collect();
        let run = ClaimsRun::new(vendors, 2, 10);
        // 6 series, 4 workers: worker 1 owns series 1 and 5, in turn.
        let (a, _) = run.next_version(1, 0, 4, 1_750_000_000);
        let (b, _) = run.next_version(1, 1, 4, 1_750_000_000);
        let (c, _) = run.next_version(1, 2, 4, 1_750_000_000);
        assert_eq!((a.series, b.series, c.series), (1, 5, 1));
        assert_eq!((a.sequence, c.sequence), (1, 1));
        run.advanced(a, 17);
        let (d, env) = run.next_version(1, 2, 4, 1_750_000_000);
        assert_eq!((d.series, d.sequence), (1, 2));
        let p = parse_and_validate(&payload(&env)).unwrap();
        let Predicate::DataHandling(dh) = p.predicate else {
            panic!("not a data-handling statement")
        };
        assert_eq!(dh.supersedes.unwrap().log_index, 17);
        assert_eq!(dh.issuer.domain.as_str(), "v1.w.load.example");
        assert_eq!(dh.service.id.as_str(), "svc-0");
        assert!(run.summary().starts_with("claims: 6 series of 3 vendors"));
    }

    #[test]
    fn config_maps_every_domain() {
        let vendors: Vec<Vendor> = (0..3).map(|i| Vendor::derive("r", i)).collect();
        let toml = config_toml(&vendors, "http://127.0.0.1:9");
        assert!(toml.starts_with("admission = \"domain\"\n"));
        assert!(toml.contains("\"v2.r.load.example\" = \"http://127.0.0.1:9/v2.r.load.example\""));
    }
}
