//! Domain admission over HTTP on loopback, with the sequencer on a manual
//! clock so the `spec/examples` series runs at its own dates: enrollment
//! against a well-known document served by a test server, the three
//! data-handling versions (with a weakening refused for the notice period,
//! then accepted later), root rotation, revocation; the vendor, history and
//! claim API; every rejection path leaves the log unchanged; racing versions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::wellknown::WellKnownClient;
use super::*;
use crate::dsse::{Envelope, EnvelopeSignature, KeySet, PAYLOAD_TYPE_IN_TOTO};
use crate::note::{KeyName, KeyType, SignerKey};
use crate::server::http::{App, router};
use crate::server::metrics::Metrics;
use crate::server::publisher::{NoWitnesses, Publisher};
use crate::server::reader::LogReader;
use crate::server::sequencer::{Clock, ManualClock, Sequencer, SequencerConfig, SequencerError};
use crate::server::store::MemoryStore;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");

fn example(name: &str) -> Value {
    let bytes = std::fs::read(format!("{EXAMPLES}{name}")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn unix(ts: &str) -> u64 {
    Timestamp::parse(ts).unwrap().unix() as u64
}

fn key(name: &str) -> SigningKey {
    let keys = example("test-keys.json");
    let seed = hex::decode(keys["keys"][name]["seedHex"].as_str().unwrap()).unwrap();
    SigningKey::from_bytes(&seed.try_into().unwrap())
}

fn keyid(k: &SigningKey) -> String {
    crate::dsse::keyid(&k.verifying_key())
}

/// A DSSE envelope over `payload` signed by `signers` (keyid hints set).
fn envelope(payload: &[u8], signers: &[&SigningKey]) -> Vec<u8> {
    let mut sigs = Vec::new();
    for k in signers {
        let e = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload, k);
        sigs.push(e.signatures()[0].clone());
    }
    envelope_with(payload, sigs)
}

fn envelope_with(payload: &[u8], sigs: Vec<EnvelopeSignature>) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sigs: Vec<Value> = sigs
        .iter()
        .map(|s| json!({"keyid": s.keyid, "sig": b64.encode(s.sig.to_bytes())}))
        .collect();
    serde_json::to_vec(&json!({
        "payload": b64.encode(payload),
        "payloadType": PAYLOAD_TYPE_IN_TOTO,
        "signatures": sigs,
    }))
    .unwrap()
}

/// Sets `predicate.supersedes` to the given head (as `claimlog claim next`).
fn supersede(stmt: &mut Value, head: &Value) {
    stmt["predicate"]["supersedes"] = json!({
        "sequence": head["sequence"],
        "logIndex": head["logIndex"],
        "statementSha256": head["statementSha256"],
    });
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

struct Log {
    base: String,
    clock: Arc<ManualClock>,
    sequencer: Arc<Sequencer>,
    client: reqwest::Client,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Log {
    async fn start(well_known: Value) -> Log {
        // The vendor's web server, serving the well-known document.
        let doc = well_known.to_string();
        let wk = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let wk_base = format!("http://{}", wk.local_addr().unwrap());
        let wk_app = axum::Router::new().route(
            "/.well-known/claimlog.json",
            get(move || {
                let doc = doc.clone();
                async move { doc }
            }),
        );
        tokio::spawn(async move { axum::serve(wk, wk_app).await });

        let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(unix("2025-05-20T10:00:00Z")));
        let sequencer = Arc::new(
            Sequencer::new(mem.clone(), clock.clone(), SequencerConfig::default()).unwrap(),
        );
        let log_key =
            SignerKey::from_seed(KeyName::new("l").unwrap(), KeyType::Ed25519, [3; 32]).unwrap();
        let publisher = Arc::new(
            Publisher::new(
                mem.clone(),
                clock.clone(),
                log_key,
                crate::checkpoint::Origin::new("l").unwrap(),
                Arc::new(NoWitnesses),
                60,
            )
            .unwrap(),
        );
        let client = WellKnownClient::new(
            Duration::from_secs(5),
            BTreeMap::from([("chat.example".to_owned(), wk_base)]),
        )
        .unwrap();
        let app = Arc::new(App {
            sequencer: sequencer.clone(),
            publisher,
            reader: LogReader::new(mem),
            submitters: KeySet::new(),
            open_submission: false,
            claims: Some(Arc::new(ClaimAdmission::new(
                SeriesPolicy::default(),
                client,
            ))),
            metrics: Arc::new(Metrics::default()),
            receipt_timeout: Duration::from_millis(10),
            client_timeout: Duration::from_secs(30),
            retry_after_secs: 1,
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(app)).await });
        // The sequencing loop, by hand.
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let seq = sequencer.clone();
        tokio::spawn(async move {
            loop {
                let _ = seq.sequence_once();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Log {
            base,
            clock,
            sequencer,
            client: reqwest::Client::new(),
            stop,
        }
    }

    fn at(&self, ts: &str) {
        let target = unix(ts);
        let now = self.clock.now();
        assert!(target >= now, "the clock only moves forward");
        self.clock.advance(target - now);
    }

    async fn submit(&self, body: Vec<u8>) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}/v1/entries?wait=sequenced", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Submits and expects acceptance; returns the new entry's index.
    async fn accept(&self, body: Vec<u8>) -> u64 {
        let (status, text) = self.submit(body).await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["index"].as_u64().unwrap()
    }

    /// Submits and expects a rejection with `status` whose body contains
    /// `reason`; checks that the log did not change.
    async fn reject(&self, body: Vec<u8>, status: u16, reason: &str) -> String {
        let before = self.sequencer.head();
        let (got, text) = self.submit(body).await;
        assert_eq!(got, status, "{text}");
        assert!(text.contains(reason), "{reason:?} not in {text}");
        // Let any batch in flight finish, then compare.
        self.sequencer.sequence_once().unwrap();
        assert_eq!(self.sequencer.head(), before, "a rejection changed the log");
        text
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn well_known(root: &str) -> Value {
    let k = key(root);
    json!({
        "domain": "chat.example",
        "rootKeys": [{
            "keyid": keyid(&k),
            "publicKey": base64_key(&k),
        }],
    })
}

fn base64_key(k: &SigningKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_lifecycle_over_http() {
    let log = Log::start(well_known("root1")).await;
    let (root1, root2, signing1, signing2) =
        (key("root1"), key("root2"), key("signing1"), key("signing2"));
    let (signing1_id, signing2_id) = (keyid(&signing1), keyid(&signing2));

    // Not enrolled: a claim is refused.
    log.at("2025-05-20T10:00:00Z");
    let dh1 = example("data-handling-1.json");
    log.reject(
        envelope(&bytes(&dh1), &[&signing1]),
        403,
        "is not a signing key of chat.example",
    )
    .await;

    // Enrollment with a root key the domain does not publish is refused...
    let kb1 = example("key-binding-1-enroll.json");
    let mut wrong_root = kb1.clone();
    let other = SigningKey::from_bytes(&[9; 32]);
    let other_id = keyid(&other);
    wrong_root["predicate"]["rootKeys"][0]["keyid"] = json!(other_id);
    wrong_root["predicate"]["rootKeys"][0]["publicKey"] = json!(base64_key(&other));
    wrong_root["subject"][0]["digest"]["sha256"] = json!(other_id);
    log.reject(
        envelope(&bytes(&wrong_root), &[&other]),
        403,
        "is not published at",
    )
    .await;
    // ... as is one not signed by its root.
    log.reject(
        envelope(&bytes(&kb1), &[&signing1]),
        403,
        "must be signed by root key",
    )
    .await;
    // The real enrollment.
    let kb1_index = log.accept(envelope(&bytes(&kb1), &[&root1])).await;
    assert_eq!(kb1_index, 0);
    // The same envelope again is answered from the dedup index; another
    // enrollment of the domain is a stale series.
    assert_eq!(
        log.accept(envelope(&bytes(&kb1), &[&root1])).await,
        kb1_index
    );
    let mut again = kb1.clone();
    again["predicate"]["issuedAt"] = json!("2025-05-20T10:00:01Z");
    log.reject(
        envelope(&bytes(&again), &[&root1]),
        409,
        "sequence is 1, want 2",
    )
    .await;

    // Sequence 1 of the series.
    log.at("2025-06-01T09:00:00Z");
    let dh1_index = log.accept(envelope(&bytes(&dh1), &[&signing1])).await;
    let (status, claim1) = log
        .get(&format!("/v1/claims/{}", Sha256Digest::of(&bytes(&dh1))))
        .await;
    assert_eq!(status, 200);
    assert_eq!(claim1["logIndex"], dh1_index);
    assert_eq!(claim1["service"], "messenger");
    assert_eq!(claim1["statement"]["predicate"]["sequence"], 1);
    // The fields the statement index no longer copies, read from the entry.
    let mut fields: Vec<&str> = claim1.as_object().unwrap().keys().map(|k| &**k).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "domain",
            "envelope",
            "integratedTime",
            "leafHash",
            "logIndex",
            "predicateType",
            "sequence",
            "service",
            "statement",
            "statementSha256",
            "treeSize"
        ]
    );
    assert_eq!(claim1["predicateType"], crate::claim::DATA_HANDLING_V1);
    assert_eq!(claim1["domain"], "chat.example");
    assert_eq!(claim1["sequence"], 1);
    assert_eq!(claim1["integratedTime"], unix("2025-06-01T09:00:00Z"));
    let (status, enrollment) = log
        .get(&format!("/v1/claims/{}", Sha256Digest::of(&bytes(&kb1))))
        .await;
    assert_eq!(status, 200);
    assert_eq!(enrollment["logIndex"], kb1_index);
    assert_eq!(enrollment["predicateType"], crate::claim::KEY_BINDING_V1);
    assert_eq!(enrollment["domain"], "chat.example");
    assert_eq!(enrollment["sequence"], 1);
    assert_eq!(enrollment["integratedTime"], unix("2025-05-20T10:00:00Z"));
    assert!(enrollment.get("service").is_none());
    let head1 = json!({
        "sequence": 1, "logIndex": dh1_index,
        "statementSha256": claim1["statementSha256"],
    });

    // Sequence 2 weakens (retention PT72H -> P30D, a claim removed); taking
    // effect before the 30-day notice is refused, and the log is unchanged.
    log.at("2025-10-01T08:00:00Z");
    let mut dh2 = example("data-handling-2.json");
    supersede(&mut dh2, &head1);
    let mut too_soon = dh2.clone();
    too_soon["predicate"]["effectiveFrom"] = json!("2025-10-15T00:00:00Z");
    log.reject(
        envelope(&bytes(&too_soon), &[&signing1]),
        400,
        "weakens the claims, so effectiveFrom must be at least 2025-10-31T08:00:00Z",
    )
    .await;
    let dh2_index = log.accept(envelope(&bytes(&dh2), &[&signing1])).await;

    // Root rotation at 2025-12-01T12:00:00Z, signed by both roots; one
    // signature is not enough.
    log.at("2025-12-01T12:00:00Z");
    let mut kb2 = example("key-binding-2-rotate.json");
    supersede(
        &mut kb2,
        &json!({"sequence": 1, "logIndex": kb1_index,
                "statementSha256": Sha256Digest::of(&bytes(&kb1)).to_string()}),
    );
    log.reject(
        envelope(&bytes(&kb2), &[&root1]),
        403,
        "must be signed by root key",
    )
    .await;
    let kb2_index = log.accept(envelope(&bytes(&kb2), &[&root1, &root2])).await;

    // Sequence 3, signed with the new signing key.
    log.at("2026-01-15T08:00:00Z");
    let mut dh3 = example("data-handling-3.json");
    supersede(
        &mut dh3,
        &json!({"sequence": 2, "logIndex": dh2_index,
                "statementSha256": Sha256Digest::of(&bytes(&dh2)).to_string()}),
    );
    let dh3_index = log.accept(envelope(&bytes(&dh3), &[&signing2])).await;

    // Revocation of signing1, signed by the current root only.
    log.at("2026-03-01T09:00:00Z");
    let mut kb3 = example("key-binding-3-revoke.json");
    supersede(
        &mut kb3,
        &json!({"sequence": 2, "logIndex": kb2_index,
                "statementSha256": Sha256Digest::of(&bytes(&kb2)).to_string()}),
    );
    log.reject(
        envelope(&bytes(&kb3), &[&root1]),
        403,
        "must be signed by root key",
    )
    .await;
    log.accept(envelope(&bytes(&kb3), &[&root2])).await;

    // A version signed with the revoked key is refused.
    log.at("2026-03-02T09:00:00Z");
    let mut dh4 = dh3.clone();
    supersede(
        &mut dh4,
        &json!({"sequence": 3, "logIndex": dh3_index,
                "statementSha256": Sha256Digest::of(&bytes(&dh3)).to_string()}),
    );
    dh4["predicate"]["sequence"] = json!(4);
    dh4["predicate"]["issuedAt"] = json!("2026-03-02T09:00:00Z");
    dh4["predicate"]["effectiveFrom"] = json!("2026-03-02T09:00:00Z");
    log.reject(
        envelope(&bytes(&dh4), &[&signing1]),
        403,
        &format!("key {signing1_id} is revoked as compromised since 2026-02-20T00:00:00Z"),
    )
    .await;

    // The vendor: keys with status and history, and its service.
    let (status, v) = log.get("/v1/vendors/chat.example").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["keyBinding"]["sequence"], 3);
    assert_eq!(v["history"].as_array().unwrap().len(), 3);
    let keys = v["keys"].as_array().unwrap();
    let status_of = |id: &str| {
        keys.iter()
            .find(|k| k["keyid"] == id)
            .map(|k| k["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status_of(&signing1_id), "revoked");
    assert_eq!(status_of(&signing2_id), "valid");
    assert_eq!(status_of(&keyid(&root1)), "expired");
    assert_eq!(v["services"][0]["id"], "messenger");
    assert_eq!(v["services"][0]["head"]["logIndex"], dh3_index);
    let size = v["treeSize"].as_u64().unwrap();
    assert_eq!(size, log.sequencer.head().0);

    let (_, list) = log.get("/v1/vendors").await;
    assert_eq!(list["vendors"][0]["domain"], "chat.example");
    assert_eq!(list["vendors"].as_array().unwrap().len(), 1);

    // History: three versions with the diffs between them.
    let (status, h) = log.get("/v1/vendors/chat.example/messenger/history").await;
    assert_eq!(status, 200, "{h}");
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0]["diff"], Value::Null);
    assert_eq!(
        [
            &versions[0]["logIndex"],
            &versions[1]["logIndex"],
            &versions[2]["logIndex"]
        ],
        [&json!(dh1_index), &json!(dh2_index), &json!(dh3_index)]
    );
    let text2 = versions[1]["diffText"].as_str().unwrap();
    assert!(
        text2.contains("chat-content: retention.server.max PT72H -> P30D (weakened)"),
        "{text2}"
    );
    assert!(
        text2.contains("chat-metadata: claim removed (weakened)"),
        "{text2}"
    );
    assert_eq!(versions[1]["diff"]["removed"], json!(["chat-metadata"]));
    let text3 = versions[2]["diffText"].as_str().unwrap();
    assert!(
        text3.contains("chat-content: retention.server.max P30D -> PT72H (strengthened)"),
        "{text3}"
    );
    // Setting validUntil is the one weakening of sequence 3; it is effective
    // more than the 30-day notice after it was logged, so it was accepted.
    assert!(
        text3.contains("validUntil absent -> 2027-02-15T00:00:00Z (weakened)"),
        "{text3}"
    );
    // Each answer verifies against the log: the leaf hash is the entry's.
    for v in versions {
        let (_, e) = log.get(&format!("/v1/entries/{}", v["logIndex"])).await;
        assert_eq!(e["leafHash"], v["leafHash"]);
        assert_eq!(e["statementSha256"], v["statementSha256"]);
    }

    // Not found and malformed paths.
    assert_eq!(log.get("/v1/vendors/other.example").await.0, 404);
    assert_eq!(log.get("/v1/vendors/Bad_Domain").await.0, 400);
    assert_eq!(
        log.get("/v1/vendors/chat.example/nothing/history").await.0,
        404
    );
    assert_eq!(
        log.get(&format!("/v1/claims/{}", "0".repeat(64))).await.0,
        404
    );
    assert_eq!(log.get("/v1/claims/xyz").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_names_its_reason_and_changes_nothing() {
    let log = Log::start(well_known("root1")).await;
    let (root1, signing1) = (key("root1"), key("signing1"));
    log.at("2025-05-20T10:00:00Z");
    let kb1 = example("key-binding-1-enroll.json");
    log.accept(envelope(&bytes(&kb1), &[&root1])).await;
    log.at("2025-06-01T09:00:00Z");
    let dh1 = example("data-handling-1.json");
    let dh1_index = log.accept(envelope(&bytes(&dh1), &[&signing1])).await;
    let head = json!({"sequence": 1, "logIndex": dh1_index,
                      "statementSha256": Sha256Digest::of(&bytes(&dh1)).to_string()});
    let mut next = dh1.clone();
    supersede(&mut next, &head);
    next["predicate"]["sequence"] = json!(2);
    let ok = bytes(&next);

    // Bad signature: the right keyid, a signature over something else.
    let mut forged =
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"other", &signing1).signatures()[0].clone();
    forged.keyid = keyid(&signing1);
    log.reject(envelope_with(&ok, vec![forged]), 403, "does not verify")
        .await;
    // Wrong key: signed by a key the domain did not bind (the root key).
    log.reject(
        envelope(&ok, &[&root1]),
        403,
        "is not a signing key of chat.example",
    )
    .await;
    // Unknown term.
    let mut unknown = next.clone();
    unknown["predicate"]["claims"][0]["purposes"]["excluded"] = json!(["dpv:NoSuchPurpose"]);
    log.reject(
        envelope(&bytes(&unknown), &[&signing1]),
        400,
        "unknown term \"dpv:NoSuchPurpose\"",
    )
    .await;
    // Self-contradiction.
    let mut contradiction = next.clone();
    contradiction["predicate"]["claims"][0]["endToEndEncrypted"] = json!(true);
    contradiction["predicate"]["claims"][0]["operatorAccess"] =
        json!({"technicallyPossible": true});
    log.reject(
        envelope(&bytes(&contradiction), &[&signing1]),
        400,
        "endToEndEncrypted is true but operatorAccess.technicallyPossible is true",
    )
    .await;
    // Stale supersedes: 409 with the current head in the body.
    let mut stale = next.clone();
    stale["predicate"]["supersedes"]["logIndex"] = json!(dh1_index + 7);
    let text = log
        .reject(envelope(&bytes(&stale), &[&signing1]), 409, "supersedes is")
        .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["head"], head);
    // Duplicate key in JSON.
    let text = String::from_utf8(ok.clone()).unwrap();
    let dup = text.replacen("\"sequence\": 2", "\"sequence\": 2, \"sequence\": 2", 1);
    assert_ne!(dup, text);
    log.reject(
        envelope(dup.as_bytes(), &[&signing1]),
        400,
        "duplicate JSON key \"sequence\"",
    )
    .await;
    // Oversized body.
    log.reject(
        vec![b' '; crate::dsse::MAX_ENVELOPE_BYTES + 1],
        413,
        "larger than",
    )
    .await;
    // issuedAt too far from the log's clock.
    let mut skewed = next.clone();
    skewed["predicate"]["issuedAt"] = json!("2025-06-01T07:00:00Z");
    log.reject(
        envelope(&bytes(&skewed), &[&signing1]),
        400,
        "is more than 600 s from log time",
    )
    .await;
    // Not a statement at all.
    log.reject(envelope(b"{}", &[&signing1]), 400, "").await;

    // The unchanged log still takes the valid version.
    log.accept(envelope(&ok, &[&signing1])).await;
}

/// Two versions of the same series in one batch: exactly one is appended,
/// the other gets 409 with the winner as head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_versions_exactly_one_wins() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(unix("2025-05-20T10:00:00Z")));
    let sequencer =
        Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap();
    let admission = ClaimAdmission::new(
        SeriesPolicy::default(),
        WellKnownClient::new(Duration::from_secs(1), BTreeMap::new()).unwrap(),
    );
    let (root1, signing1) = (key("root1"), key("signing1"));
    // Enroll by hand (no well-known fetch here: build the check directly).
    let kb1 = bytes(&example("key-binding-1-enroll.json"));
    let check = ClaimCheck::new(
        parse_and_validate(&kb1).unwrap(),
        vec![Sha256Digest::parse(&keyid(&root1)).unwrap()],
        true,
        SeriesPolicy::default(),
        Arc::new(super::cache::HeadCache::new()),
    );
    let env = Envelope::parse(&envelope(&kb1, &[&root1])).unwrap();
    let json = env.to_canonical_json();
    let rx = sequencer
        .submit_checked(
            json.clone(),
            crate::server::entry::envelope_hash(&json),
            Some(Box::new(check)),
        )
        .unwrap();
    sequencer.sequence_once().unwrap();
    rx.await.unwrap().unwrap();

    clock.advance(unix("2025-06-01T09:00:00Z") - unix("2025-05-20T10:00:00Z"));
    let dh1 = example("data-handling-1.json");
    let mut a = dh1.clone();
    let mut b = dh1.clone();
    b["predicate"]["statement"][0]["text"] = json!("A different first version.");
    a["predicate"]["statement"][0]["text"] = json!("One first version.");
    let mut receivers = Vec::new();
    for v in [&a, &b] {
        let body = envelope(&bytes(v), &[&signing1]);
        let env = Envelope::parse(&body).unwrap();
        let check = admission.admit(&*store, &env).await.unwrap();
        let json = env.to_canonical_json();
        let hash = crate::server::entry::envelope_hash(&json);
        receivers.push(sequencer.submit_checked(json, hash, Some(check)).unwrap());
    }
    let report = sequencer.sequence_once().unwrap();
    assert_eq!((report.taken, report.appended, report.size), (2, 1, 2));
    let first = receivers.remove(0).await.unwrap().unwrap();
    assert_eq!(first.index, 1);
    match receivers.remove(0).await.unwrap() {
        Err(SequencerError::Rejected(r)) => {
            assert_eq!(r.status, 409);
            assert_eq!(r.reason, "sequence is 1, want 2");
            let detail: Value = serde_json::from_str(r.detail.as_deref().unwrap()).unwrap();
            assert_eq!(detail["head"]["logIndex"], 1);
            assert_eq!(
                detail["head"]["statementSha256"],
                Sha256Digest::of(&bytes(&a)).to_string()
            );
        }
        other => panic!("{other:?}"),
    }
    // The indexes were written with the winning entry and only it.
    let head = store
        .index_get(&index::series_head_key(
            &crate::claim::Domain::parse("chat.example").unwrap(),
            &crate::claim::Identifier::parse("messenger").unwrap(),
        ))
        .unwrap()
        .unwrap();
    let head: VersionRecord = index::decode(b"h", &head).unwrap();
    assert_eq!(head.log_index, 1);
    assert!(
        store
            .index_get(&index::statement_key(&Sha256Digest::of(&bytes(&b))))
            .unwrap()
            .is_none()
    );
}
