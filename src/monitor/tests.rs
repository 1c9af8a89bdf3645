//! The monitor's state on the `spec/examples` series (enrollment, the
//! WeChat-style claim in three versions, root rotation, revocation): the
//! events of each step, every series violation kind, transactional steps and
//! the state file round trip.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

use super::prepare::{KeyCache, SignatureCheck, signature_verifies};
use super::*;
use crate::claim::{PublicKey, SeriesPolicy, Sha256Digest, Timestamp};
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO, pae};
use crate::entry::LogEntry;
use crate::merkle::{Frontier, Hash, leaf_hash};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");

/// A change applied to a test log before following it.
type LogMutation = Box<dyn FnOnce(&mut Log)>;
/// A change applied to a saved state file's JSON.
type JsonMutation = Box<dyn Fn(&mut Value)>;

fn example(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(format!("{EXAMPLES}{name}")).unwrap()).unwrap()
}

fn key(name: &str) -> SigningKey {
    let keys = example("test-keys.json");
    let seed = hex::decode(keys["keys"][name]["seedHex"].as_str().unwrap()).unwrap();
    SigningKey::from_bytes(&seed.try_into().unwrap())
}

fn unix(ts: &str) -> u64 {
    Timestamp::parse(ts).unwrap().unix() as u64
}

/// A DSSE envelope (canonical JSON) over `payload` signed by `signers`.
fn envelope(payload: &[u8], signers: &[&SigningKey]) -> Vec<u8> {
    let msg = pae(PAYLOAD_TYPE_IN_TOTO, payload);
    let sigs: Vec<Value> = signers
        .iter()
        .map(|k| {
            json!({
                "keyid": crate::dsse::keyid(&k.verifying_key()),
                "sig": STANDARD.encode(k.sign(&msg).to_bytes()),
            })
        })
        .collect();
    let json = serde_json::to_vec(&json!({
        "payload": STANDARD.encode(payload),
        "payloadType": PAYLOAD_TYPE_IN_TOTO,
        "signatures": sigs,
    }))
    .unwrap();
    Envelope::parse(&json).unwrap().to_canonical_json()
}

/// A log under construction: entries, and the monitor following it.
struct Log {
    entries: Vec<Vec<u8>>,
    state: MonitorState,
}

impl Log {
    fn new() -> Log {
        Log {
            entries: Vec::new(),
            state: MonitorState::new(SeriesPolicy::default()),
        }
    }

    /// Appends a raw entry; returns its index.
    fn push_raw(&mut self, entry: Vec<u8>) -> u64 {
        self.entries.push(entry);
        self.entries.len() as u64 - 1
    }

    /// chat.example enrolls (the example key binding, signed by root1).
    fn enroll(&mut self) -> u64 {
        self.push(
            &example("key-binding-1-enroll.json"),
            &["root1"],
            unix("2025-05-20T10:00:00Z"),
        )
    }

    /// A log holding the enrollment and the example series' first version
    /// (indexes 0 and 1), not yet followed.
    fn with_v1() -> Log {
        let mut log = Log::new();
        log.enroll();
        log.push(
            &example("data-handling-1.json"),
            &["signing1"],
            unix("2025-06-01T09:00:00Z"),
        );
        log
    }

    /// Appends `statement` signed by `signers`, integrated at `time`.
    fn push(&mut self, statement: &Value, signers: &[&str], time: u64) -> u64 {
        let payload = serde_json::to_vec_pretty(statement).unwrap();
        let keys: Vec<SigningKey> = signers.iter().map(|n| key(n)).collect();
        let refs: Vec<&SigningKey> = keys.iter().collect();
        self.push_raw(LogEntry::encode(&envelope(&payload, &refs), time).unwrap())
    }

    fn root(&self) -> Hash {
        let mut f = Frontier::new();
        for e in &self.entries {
            f.append(leaf_hash(e)).unwrap();
        }
        f.root()
    }

    fn anchor(&self) -> CheckpointRef {
        CheckpointRef {
            origin: "example.com/monitor-test".into(),
            size: self.entries.len() as u64,
            root_hash: self.root().to_base64(),
        }
    }

    /// Feeds the monitor every entry it has not seen; returns the events.
    fn follow(&mut self) -> Vec<MonitorEvent> {
        let first = self.state.size();
        let (next, events) = self
            .state
            .advance(
                first,
                &self.entries[first as usize..],
                &self.root(),
                &self.anchor(),
                2,
            )
            .unwrap();
        self.state = next;
        events
    }

    /// The payload's `statementSha256` and index of entry `i`, as `supersedes`.
    fn supersedes(&self, i: u64, sequence: u64) -> Value {
        let entry = LogEntry::parse(&self.entries[i as usize]).unwrap();
        json!({
            "sequence": sequence,
            "logIndex": i,
            "statementSha256": Sha256Digest::of(entry.envelope.payload()).to_string(),
        })
    }
}

fn kinds(events: &[MonitorEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The example series up to the revocation, as in spec/examples/README.md,
/// with `supersedes` pointing at this log's indexes. Returns the log and the
/// events of each step.
fn example_series() -> (Log, Vec<Vec<MonitorEvent>>) {
    let mut log = Log::new();
    let mut steps = Vec::new();
    let kb1 = example("key-binding-1-enroll.json");
    log.push(&kb1, &["root1"], unix("2025-05-20T10:00:00Z"));
    steps.push(log.follow());

    let dh1 = example("data-handling-1.json");
    let dh1_at = log.push(&dh1, &["signing1"], unix("2025-06-01T09:00:00Z"));
    steps.push(log.follow());

    let mut dh2 = example("data-handling-2.json");
    dh2["predicate"]["supersedes"] = log.supersedes(dh1_at, 1);
    let dh2_at = log.push(&dh2, &["signing1"], unix("2025-10-01T08:00:00Z"));
    steps.push(log.follow());

    let mut kb2 = example("key-binding-2-rotate.json");
    kb2["predicate"]["supersedes"] = log.supersedes(0, 1);
    let kb2_at = log.push(&kb2, &["root1", "root2"], unix("2025-12-01T12:00:00Z"));
    steps.push(log.follow());

    let mut dh3 = example("data-handling-3.json");
    dh3["predicate"]["supersedes"] = log.supersedes(dh2_at, 2);
    log.push(&dh3, &["signing2"], unix("2026-01-15T08:00:00Z"));
    steps.push(log.follow());

    let mut kb3 = example("key-binding-3-revoke.json");
    kb3["predicate"]["supersedes"] = log.supersedes(kb2_at, 2);
    log.push(&kb3, &["root2"], unix("2026-03-01T09:00:00Z"));
    steps.push(log.follow());
    (log, steps)
}

#[test]
fn example_series_events() {
    let (log, steps) = example_series();
    let all: Vec<Vec<String>> = steps.iter().map(|s| kinds(s)).collect();
    assert_eq!(
        all,
        vec![
            vec!["vendor_enrolled"],
            vec!["new_claim"],
            vec!["claim_weakened", "claim_withdrawn"],
            vec!["key_rotated"],
            vec!["claim_weakened"],
            vec!["key_rotated", "key_revoked"],
        ]
    );
    let v = |i: usize, j: usize| serde_json::to_value(&steps[i][j]).unwrap();

    let enrolled = v(0, 0);
    assert_eq!(enrolled["entry"]["domain"], "chat.example");
    assert_eq!(enrolled["entry"]["logIndex"], 0);
    assert_eq!(enrolled["keys"].as_array().unwrap().len(), 2);
    assert_eq!(enrolled["checkpoint"]["size"], 1);

    let new = v(1, 0);
    assert_eq!(new["entry"]["service"], "messenger");
    assert_eq!(new["entry"]["sequence"], 1);
    assert_eq!(new["claimIds"], json!(["chat-content", "chat-metadata"]));
    assert_eq!(new["checkpoint"]["size"], 2);
    assert_eq!(new["checkpoint"]["origin"], "example.com/monitor-test");

    // The weakening, with the diff as the history API shows it.
    let weakened = v(2, 0);
    assert_eq!(weakened["previous"], json!({"sequence": 1, "logIndex": 1}));
    assert_eq!(weakened["effectiveFrom"], "2025-11-05T00:00:00Z");
    let changes = &weakened["diff"]["claims"][0];
    assert_eq!(changes["id"], "chat-content");
    assert!(
        changes["changes"].as_array().unwrap().contains(&json!({
            "field": "retention.server.max", "old": "PT72H", "new": "P30D", "direction": "weakened"
        })),
        "{changes}"
    );
    assert_eq!(weakened["diff"]["removed"], json!(["chat-metadata"]));
    let withdrawn = v(2, 1);
    assert_eq!(withdrawn["claimId"], "chat-metadata");
    assert_eq!(withdrawn["entry"]["logIndex"], 2);

    // Rotation: root2 and signing2 added, root1's validity ended.
    let rotated = v(3, 0);
    let added: Vec<(&str, &str)> = rotated["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["role"].as_str().unwrap(),
                &k["keyid"].as_str().unwrap()[..8],
            )
        })
        .collect();
    assert_eq!(added, vec![("root", "db08e81e"), ("signing", "70247bf6")]);
    assert_eq!(
        rotated["changed"][0]["keyid"].as_str().unwrap()[..8],
        *"31a637a5"
    );
    assert_eq!(rotated["changed"][0]["validUntil"], "2025-12-01T12:00:00Z");

    // Sequence 3 only strengthens.
    let updated = v(4, 0);
    assert!(
        !updated["diff"]["claims"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["direction"] == "weakened")
    );

    let revoked = v(5, 1);
    assert_eq!(&revoked["keyid"].as_str().unwrap()[..8], "b29ec60c");
    assert_eq!(revoked["compromisedSince"], "2026-02-20T00:00:00Z");
    assert_eq!(revoked["reason"], "Laptop holding the key was stolen");

    assert_eq!(log.state.size(), 6);
    assert_eq!(
        log.state.key_head("chat.example").unwrap().binding.sequence,
        3
    );
    assert_eq!(
        log.state
            .series_head("chat.example", "messenger")
            .unwrap()
            .predicate
            .sequence,
        3
    );
}

#[test]
fn watch_filter() {
    let (_, steps) = example_series();
    let event = &steps[1][0];
    assert!(event.concerns(&[]));
    assert!(event.concerns(&["CHAT.example".into()]));
    assert!(!event.concerns(&["other.example".into()]));
    let fork = MonitorEvent {
        kind: EventKind::LogUnreachable {
            error: "refused".into(),
        },
        checkpoint: None,
    };
    assert!(fork.concerns(&["other.example".into()]));
    assert_eq!(
        fork.to_json_line(),
        r#"{"event":"log_unreachable","error":"refused","checkpoint":null}"#
    );
}

/// One violation after the example series' first two versions.
fn violation_after_v1(build: impl FnOnce(&mut Log)) -> (ViolationKind, String, MonitorEvent) {
    let mut log = Log::with_v1();
    log.follow();
    let before = log.state.to_bytes();
    build(&mut log);
    let events = log.follow();
    assert_eq!(events.len(), 1, "{events:?}");
    // A violation does not move the monitor's heads.
    let after = MonitorState::from_bytes(&log.state.to_bytes()).unwrap();
    assert_eq!(
        after
            .series_head("chat.example", "messenger")
            .unwrap()
            .log_index,
        1
    );
    assert_ne!(before, log.state.to_bytes(), "the frontier still advances");
    match &events[0].kind {
        EventKind::SeriesViolation { kind, reason, .. } => {
            (*kind, reason.clone(), events[0].clone())
        }
        other => panic!("not a violation: {other:?}"),
    }
}

/// data-handling-2 following sequence 1 at index 1, as the log should see it.
fn dh2_after(log: &Log) -> Value {
    let mut dh2 = example("data-handling-2.json");
    dh2["predicate"]["supersedes"] = log.supersedes(1, 1);
    dh2
}

const DH2_AT: &str = "2025-10-01T08:00:00Z";

#[test]
fn every_violation_kind() {
    // Sanity: the unmodified next version is accepted.
    let mut log = Log::with_v1();
    log.follow();
    let dh2 = dh2_after(&log);
    log.push(&dh2, &["signing1"], unix(DH2_AT));
    assert_eq!(kinds(&log.follow())[0], "claim_weakened");

    let cases: Vec<(ViolationKind, &str, LogMutation)> = vec![
        (
            ViolationKind::Entry,
            "malformed log entry",
            Box::new(|log| {
                log.push_raw(b"not an entry".to_vec());
            }),
        ),
        (
            ViolationKind::Schema,
            "unknown term",
            Box::new(|log| {
                let mut dh2 = dh2_after(log);
                dh2["predicate"]["claims"][0]["purposes"]["excluded"] =
                    json!(["dpv:NoSuchPurpose"]);
                log.push(&dh2, &["signing1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::Signature,
            "does not verify",
            Box::new(|log| {
                let dh2 = dh2_after(log);
                let payload = serde_json::to_vec_pretty(&dh2).unwrap();
                let mut env: Value =
                    serde_json::from_slice(&envelope(&payload, &[&key("signing1")])).unwrap();
                // The signature over another payload, under the right keyid.
                let other = envelope(b"{}", &[&key("signing1")]);
                let other: Value = serde_json::from_slice(&other).unwrap();
                env["signatures"][0]["sig"] = other["signatures"][0]["sig"].clone();
                let env = Envelope::parse(&serde_json::to_vec(&env).unwrap())
                    .unwrap()
                    .to_canonical_json();
                log.push_raw(LogEntry::encode(&env, unix(DH2_AT)).unwrap());
            }),
        ),
        (
            ViolationKind::KeyNotBound,
            "is not a signing key of chat.example",
            Box::new(|log| {
                let dh2 = dh2_after(log);
                // root1 is bound, but as a root key: it cannot sign claims.
                log.push(&dh2, &["root1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::Sequence,
            "sequence is 3, want 2",
            Box::new(|log| {
                let mut dh2 = dh2_after(log);
                dh2["predicate"]["sequence"] = json!(3);
                dh2["predicate"]["supersedes"]["sequence"] = json!(2);
                log.push(&dh2, &["signing1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::Supersedes,
            "want the current head",
            Box::new(|log| {
                let mut dh2 = dh2_after(log);
                dh2["predicate"]["supersedes"]["logIndex"] = json!(0);
                log.push(&dh2, &["signing1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::RemovedClaimIds,
            "removedClaimIds is",
            Box::new(|log| {
                let mut dh2 = dh2_after(log);
                dh2["predicate"]["removedClaimIds"] = json!([]);
                log.push(&dh2, &["signing1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::Notice,
            "weakens the claims",
            Box::new(|log| {
                let mut dh2 = dh2_after(log);
                dh2["predicate"]["effectiveFrom"] = json!(DH2_AT);
                log.push(&dh2, &["signing1"], unix(DH2_AT));
            }),
        ),
        (
            ViolationKind::Time,
            "from log time",
            Box::new(|log| {
                let dh2 = dh2_after(log);
                log.push(&dh2, &["signing1"], unix(DH2_AT) + 3600);
            }),
        ),
        (
            ViolationKind::KeyHistory,
            "dropped from its list",
            Box::new(|log| {
                let mut kb2 = example("key-binding-1-enroll.json");
                kb2["predicate"]["sequence"] = json!(2);
                kb2["predicate"]["issuedAt"] = json!(DH2_AT);
                kb2["predicate"]["supersedes"] = log.supersedes(0, 1);
                kb2["predicate"]["signingKeys"] = json!([]);
                log.push(&kb2, &["root1"], unix(DH2_AT));
            }),
        ),
    ];
    for (want, text, build) in cases {
        let (kind, reason, event) = violation_after_v1(build);
        assert_eq!(kind, want, "{reason}");
        assert!(reason.contains(text), "{want:?}: {reason}");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "series_violation");
        assert_eq!(json["entry"]["logIndex"], 2);
    }
}

#[test]
fn claims_by_a_revoked_or_unrotated_key_and_unsigned_rotations() {
    let (mut log, _) = example_series();
    let mut dh4 = example("data-handling-3.json");
    dh4["predicate"]["sequence"] = json!(4);
    dh4["predicate"]["supersedes"] = log.supersedes(4, 3);
    dh4["predicate"]["issuedAt"] = json!("2026-03-02T00:00:00Z");
    dh4["predicate"]["effectiveFrom"] = json!("2026-03-02T00:00:00Z");
    // signing1 was revoked (and ended) at index 5.
    log.push(&dh4, &["signing1"], unix("2026-03-02T00:00:00Z"));
    let events = log.follow();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["kind"], "key_not_bound", "{json}");
    assert!(
        json["reason"].as_str().unwrap().contains("revoked"),
        "{json}"
    );
    // The same version signed by signing2 is accepted.
    log.push(&dh4, &["signing2"], unix("2026-03-02T00:00:00Z"));
    assert_eq!(kinds(&log.follow()), vec!["claim_updated"]);

    // A rotation signed only by the old root lacks the new root's signature.
    let mut log = Log::new();
    log.enroll();
    let mut kb2 = example("key-binding-2-rotate.json");
    kb2["predicate"]["supersedes"] = log.supersedes(0, 1);
    log.push(&kb2, &["root1"], unix("2025-12-01T12:00:00Z"));
    let events = log.follow();
    let json = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(json["kind"], "key_not_bound");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("must be signed by root key db08e81e")
    );

    // A claim from a domain that never enrolled.
    let mut log = Log::new();
    log.push(
        &example("data-handling-1.json"),
        &["signing1"],
        unix("2025-06-01T09:00:00Z"),
    );
    let json = serde_json::to_value(&log.follow()[0]).unwrap();
    assert_eq!(json["kind"], "key_not_bound");
    assert_eq!(json["entry"]["domain"], "chat.example");
}

#[test]
fn steps_are_transactional_and_checked_against_the_root() {
    let log = Log::with_v1();
    let wrong = leaf_hash(b"other");
    let err = log
        .state
        .advance(0, &log.entries, &wrong, &log.anchor(), 1)
        .unwrap_err();
    assert!(
        matches!(err, MonitorError::RootMismatch { size: 2, .. }),
        "{err}"
    );
    assert_eq!(log.state.size(), 0);
    assert!(log.state.key_head("chat.example").is_none());
    let err = log
        .state
        .advance(1, &log.entries[1..], &log.root(), &log.anchor(), 1)
        .unwrap_err();
    assert_eq!(
        err,
        MonitorError::IndexGap {
            expected: 0,
            found: 1
        }
    );
    // One thread or four: the same events.
    let (_, one) = log
        .state
        .advance(0, &log.entries, &log.root(), &log.anchor(), 1)
        .unwrap();
    let (_, four) = log
        .state
        .advance(0, &log.entries, &log.root(), &log.anchor(), 4)
        .unwrap();
    assert_eq!(one, four);
    assert_eq!(kinds(&one), vec!["vendor_enrolled", "new_claim"]);
}

#[test]
fn state_round_trip_and_strict_parsing() {
    let (mut log, _) = example_series();
    let note = "example.com/monitor-test\n6\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} example.com/monitor-test AAAAAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
    log.state.set_checkpoint(note).unwrap();
    assert!(log.state.note_fork("other view"));
    assert!(!log.state.note_fork("other view"));
    let bytes = log.state.to_bytes();
    let back = MonitorState::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.size(), 6);
    assert_eq!(back.root(), log.root());
    assert_eq!(back.checkpoint().unwrap().1.size(), 6);
    let mut back = back;
    assert!(
        !back.note_fork("other view"),
        "reported forks survive a restart"
    );

    // The restored state continues exactly like the original.
    let mut dh4 = example("data-handling-3.json");
    dh4["predicate"]["sequence"] = json!(4);
    dh4["predicate"]["supersedes"] = log.supersedes(4, 3);
    dh4["predicate"]["issuedAt"] = json!("2026-03-02T00:00:00Z");
    dh4["predicate"]["effectiveFrom"] = json!("2026-03-02T00:00:00Z");
    log.push(&dh4, &["signing2"], unix("2026-03-02T00:00:00Z"));
    let (_, from_restored) = back
        .advance(6, &log.entries[6..], &log.root(), &log.anchor(), 2)
        .unwrap();
    assert_eq!(from_restored, log.follow());

    // Strict parsing of the file.
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    let cases: Vec<JsonMutation> = vec![
        Box::new(|v| v["extra"] = json!(1)),
        Box::new(|v| v["version"] = json!(2)),
        Box::new(|v| v["size"] = json!(7)),
        Box::new(|v| v["frontier"][0] = json!("not base64")),
        Box::new(|v| v["keyHeads"][0]["logIndex"] = json!(6)),
        Box::new(|v| v["keyHeads"][0]["payload"] = json!("e30=")),
        Box::new(|v| v["seriesHeads"][0] = v["keyHeads"][0].clone()),
        Box::new(|v| {
            let head = v["keyHeads"][0].clone();
            v["keyHeads"].as_array_mut().unwrap().push(head);
        }),
        Box::new(|v| v["reportedForks"][0] = json!("xyz")),
        Box::new(|v| v["checkpoint"] = json!("not a note")),
    ];
    for (i, mutate) in cases.iter().enumerate() {
        let mut bad = v.clone();
        mutate(&mut bad);
        assert!(
            matches!(
                MonitorState::from_bytes(&serde_json::to_vec(&bad).unwrap()),
                Err(MonitorError::State(_) | MonitorError::Checkpoint(_))
            ),
            "case {i}"
        );
    }
    v["checkpoint"] = json!(note.replace("\n6\n", "\n5\n"));
    assert!(matches!(
        MonitorState::from_bytes(&serde_json::to_vec(&v).unwrap()),
        Err(MonitorError::CheckpointBehind {
            size: 5,
            applied: 6
        })
    ));
    assert!(MonitorState::from_bytes(&vec![b' '; MAX_STATE_BYTES + 1]).is_err());
}

/// `key`'s public key as bound in key bindings, and its keyid.
fn bound(name: &str) -> (PublicKey, Sha256Digest) {
    let pk = key(name).verifying_key().to_bytes();
    (PublicKey(pk), Sha256Digest::of(&pk))
}

/// The enrollment of `domain` with root key `root` and signing key `signing`.
fn enrollment(domain: &str, root: &str, signing: &str) -> Value {
    let mut kb = example("key-binding-1-enroll.json");
    let key_json = |name: &str| {
        let (pk, id) = bound(name);
        json!({
            "keyid": id.to_string(),
            "publicKey": STANDARD.encode(pk.0),
            "validFrom": "2025-05-20T10:00:00Z",
        })
    };
    kb["predicate"]["domain"] = json!(domain);
    kb["predicate"]["rootKeys"] = json!([key_json(root)]);
    kb["predicate"]["signingKeys"] = json!([key_json(signing)]);
    kb["subject"][0]["name"] = json!(domain);
    kb["subject"][0]["uri"] = json!(format!("https://{domain}/.well-known/claimlog.json"));
    kb["subject"][0]["digest"]["sha256"] = json!(bound(root).1.to_string());
    kb
}

#[test]
fn key_cache_serves_only_the_key_asked_for() {
    let msg = b"message";
    let (a, id_a) = bound("signing1");
    let (b, _) = bound("signing2");
    let sig_a = key("signing1").sign(msg);
    let sig_b = key("signing2").sign(msg);
    let mut cache = KeyCache::default();
    cache.insert(id_a, &a);
    cache.insert(id_a, &a);
    assert_eq!(cache.len(), 1);
    assert!(cache.verify(msg, &sig_a, &id_a, &a));
    assert!(!cache.verify(msg, &sig_b, &id_a, &a));
    // A hit under A's keyid asked for with B's bytes is checked with B, not
    // with the cached A: A's signature fails, B's verifies.
    assert!(!cache.verify(msg, &sig_a, &id_a, &b));
    assert!(cache.verify(msg, &sig_b, &id_a, &b));
    // Bytes that are not a curve point are not cached and verify nothing,
    // as with `claim::verify_signature`.
    let invalid = (0u8..=255)
        .map(|i| {
            let mut bytes = [0u8; 32];
            bytes[0] = i;
            bytes[31] = 0x7f;
            PublicKey(bytes)
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(&k.0).is_err())
        .unwrap();
    let id_invalid = Sha256Digest::of(&invalid.0);
    cache.insert(id_invalid, &invalid);
    assert_eq!(cache.len(), 1);
    assert!(!cache.verify(msg, &sig_a, &id_invalid, &invalid));
}

#[test]
fn a_check_made_ahead_counts_only_for_the_key_it_was_made_with() {
    let envelope = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"payload", &key("signing1"));
    let (a, id_a) = bound("signing1");
    let (b, _) = bound("signing2");
    let bound_key = |public_key| crate::claim::BoundKey {
        keyid: id_a,
        public_key,
        valid_from: Timestamp::parse("2025-05-20T10:00:00Z").unwrap(),
        valid_until: None,
    };
    let cache = KeyCache::default();
    let ahead = [Some(SignatureCheck {
        public_key: a,
        verified: true,
    })];
    assert!(signature_verifies(
        &envelope,
        &ahead,
        &cache,
        0,
        &bound_key(a)
    ));
    // The same keyid bound to other bytes: the check made with A does not
    // count; B is checked now, and A's signature fails under it.
    assert!(!signature_verifies(
        &envelope,
        &ahead,
        &cache,
        0,
        &bound_key(b)
    ));
    // A failed check made ahead with A stands for A.
    let failed = [Some(SignatureCheck {
        public_key: a,
        verified: false,
    })];
    assert!(!signature_verifies(
        &envelope,
        &failed,
        &cache,
        0,
        &bound_key(a)
    ));
    // No check made ahead: checked now.
    assert!(signature_verifies(
        &envelope,
        &[None],
        &cache,
        0,
        &bound_key(a)
    ));
    assert!(!signature_verifies(
        &envelope,
        &[None],
        &cache,
        1,
        &bound_key(a)
    ));
}

#[test]
fn keys_known_to_the_monitor_sign_only_for_their_domain_and_from_their_index() {
    // other.example binds signing2; chat.example binds signing1.
    let other = enrollment("other.example", "root2", "signing2");
    let claim = example("data-handling-1.json");
    let at = unix("2025-06-01T09:00:00Z");
    for split in [false, true] {
        let mut log = Log::new();
        log.push(&other, &["root2"], unix("2025-05-20T10:00:00Z"));
        if split {
            // signing2 comes from the state's key cache, not from this batch.
            log.follow();
        }
        log.enroll();
        // chat.example's claim signed by other.example's key: the signature
        // verifies, but the key is not chat.example's.
        log.push(&claim, &["signing2"], at);
        log.push(&claim, &["signing1"], at);
        let events = [log.follow(), log.follow()].concat();
        let names = kinds(&events);
        let n = names.len();
        assert_eq!(
            names[n - 3..],
            ["vendor_enrolled", "series_violation", "new_claim"]
        );
        let json = serde_json::to_value(&events[n - 2]).unwrap();
        assert_eq!(json["kind"], "key_not_bound", "{json}");
        assert_eq!(json["entry"]["domain"], "chat.example");
    }

    // A key bound later in the same batch signs nothing before its binding.
    let mut log = Log::new();
    log.enroll();
    let dh1_at = log.push(&claim, &["signing1"], at);
    let mut dh2 = example("data-handling-2.json");
    dh2["predicate"]["supersedes"] = log.supersedes(dh1_at, 1);
    let early = log.push(&dh2, &["signing2"], unix("2025-10-01T08:00:00Z"));
    let mut kb2 = example("key-binding-2-rotate.json");
    kb2["predicate"]["supersedes"] = log.supersedes(0, 1);
    log.push(&kb2, &["root1", "root2"], unix("2025-12-01T12:00:00Z"));
    let events = log.follow();
    let json = serde_json::to_value(&events[2]).unwrap();
    assert_eq!(json["event"], "series_violation", "{json}");
    assert_eq!(json["kind"], "key_not_bound", "{json}");
    assert_eq!(json["entry"]["logIndex"], early);
    assert_eq!(kinds(&events[3..]), vec!["key_rotated"]);
}

/// Enough entries for many blocks per thread, with violations among them:
/// one thread or several, in one step or several, the same events and the
/// same state.
#[test]
fn the_pipeline_gives_the_same_events_on_any_number_of_threads() {
    let mut log = Log::new();
    let t0 = unix("2025-05-20T10:00:00Z");
    let vendors = ["a.example", "b.example", "c.example"];
    for (v, domain) in vendors.iter().enumerate() {
        let (root, signing) = [("root1", "signing1"), ("root2", "signing2")][v % 2];
        log.push(&enrollment(domain, root, signing), &[root], t0);
    }
    let mut heads: Vec<Option<u64>> = vec![None; vendors.len()];
    for n in 1..=60u64 {
        for (v, domain) in vendors.iter().enumerate() {
            let at = t0 + 86_400 + n * 60;
            let ts = Timestamp::from_unix(at as i64).unwrap().to_string();
            let mut dh = example("data-handling-1.json");
            dh["predicate"]["issuer"]["domain"] = json!(domain);
            dh["predicate"]["sequence"] = json!(n);
            dh["predicate"]["issuedAt"] = json!(ts);
            dh["predicate"]["effectiveFrom"] = json!(ts);
            if let Some(i) = heads[v] {
                dh["predicate"]["supersedes"] = log.supersedes(i, n - 1);
            }
            let signer = ["signing1", "signing2"][v % 2];
            if n % 17 == 0 && v == 1 {
                // Signed by the other vendor's key: a violation, and the
                // series head stays where it was (the next version then
                // fails too, as its sequence skips).
                log.push(&dh, &[["signing1", "signing2"][(v + 1) % 2]], at);
                continue;
            }
            heads[v] = Some(log.push(&dh, &[signer], at));
        }
    }
    log.push_raw(b"not an entry".to_vec());
    let root = log.root();
    let anchor = log.anchor();
    let whole = |threads| {
        log.state
            .advance(0, &log.entries, &root, &anchor, threads)
            .unwrap()
    };
    let (one_state, one) = whole(1);
    assert!(log.entries.len() > 150);
    // One event per entry: an enrollment, a version or a violation.
    assert_eq!(one.len(), log.entries.len());
    assert!(
        kinds(&one)
            .iter()
            .filter(|k| *k == "series_violation")
            .count()
            >= 4
    );
    for threads in [2, 3, 8] {
        let (state, events) = whole(threads);
        assert_eq!(events, one, "{threads} threads");
        assert_eq!(state.to_bytes(), one_state.to_bytes());
    }
    // In uneven steps, each checked against the root at its end.
    let mut state = MonitorState::new(SeriesPolicy::default());
    let mut events = Vec::new();
    let mut frontier = Frontier::new();
    for step in log.entries.chunks(37) {
        for e in step {
            frontier.append(leaf_hash(e)).unwrap();
        }
        let (next, evs) = state
            .advance(state.size(), step, &frontier.root(), &anchor, 2)
            .unwrap();
        state = next;
        events.extend(evs);
    }
    assert_eq!(events, one);
    assert_eq!(state.to_bytes(), one_state.to_bytes());
    // A state read back from its file verifies the next entries alike.
    let reloaded = MonitorState::from_bytes(&state.to_bytes()).unwrap();
    assert_eq!(reloaded.to_bytes(), state.to_bytes());
}
