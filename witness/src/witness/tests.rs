use std::sync::{Arc, Barrier};

use serde_json::Value;

use claimlog::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use claimlog::cosignature::CosignerKey;
use claimlog::merkle::Hash;
use claimlog::note::SignerKey;
use claimlog::witness_wire::{TreeState, parse_cosignatures};

use super::*;
use crate::sim::SimLog;
use crate::store::MemoryStore;

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/witness/add-checkpoint-cases.json"
));
const SCENARIO: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/witness/litewitness-sigsum-scenario.json"
));
const COSIG_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/cosignature/cosignature-vectors.json"
));
const NOW: u64 = 1_750_000_000;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

fn witness_key() -> CosignerKey {
    CosignerKey::parse(
        json(COSIG_VECTORS)["keys"]["witness_ed25519"]["skey"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

fn witness(logs: LogSet, store: Arc<MemoryStore>) -> Witness {
    Witness::new(logs, witness_key(), store, Arc::new(|| NOW))
}

fn state(store: &MemoryStore, origin: &Origin) -> Option<TreeState> {
    store.latest(origin).unwrap().map(|c| *c.state())
}

/// A 200 body is exactly one cosignature line by the witness, at `NOW`,
/// verifying over the checkpoint now stored.
fn assert_cosigned(body: &str, store: &MemoryStore, origin: &Origin) {
    let sigs = parse_cosignatures(body.as_bytes()).unwrap();
    assert_eq!(sigs.len(), 1);
    let stored = store.latest(origin).unwrap().unwrap();
    let cp = Checkpoint::parse(stored.note().text()).unwrap();
    assert_eq!(witness_key().verifier().verify(&cp, &sigs[0]), Ok(NOW));
    // The stored note carries the verified log signature and the cosignature.
    assert_eq!(stored.note().signatures().len(), 2);
    assert_eq!(stored.note().signatures()[1], sigs[0]);
}

#[test]
fn add_checkpoint_cases_through_the_handler() {
    let doc = json(CASES);
    let log_key =
        SignerKey::parse(json(COSIG_VECTORS)["keys"]["log"]["skey"].as_str().unwrap()).unwrap();
    let origin = Origin::new("research.example/log").unwrap();
    let mut logs = LogSet::new();
    logs.add(None, doc["log_vkey"].as_str().unwrap()).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let store = Arc::new(MemoryStore::new());
        // Seed the state: a log-signed checkpoint with the stored (size, root).
        let before = &case["state_before"];
        if let Some(root) = before["latest_root"].as_str() {
            let cp = Checkpoint::new(
                origin.clone(),
                before["latest_cosigned_size"].as_u64().unwrap(),
                Hash::from_base64(root).unwrap(),
            );
            let note = SignedCheckpoint::sign(&cp, &log_key)
                .unwrap()
                .note()
                .clone();
            store
                .compare_and_swap(&origin, None, &Cosigned::new(note).unwrap())
                .unwrap();
        }
        let w = witness(logs.clone(), store.clone());
        let result = w.add_checkpoint(case["request_body"].as_str().unwrap().as_bytes());
        let want = case["expect_status"].as_u64().unwrap() as u16;
        match &result {
            Ok(body) => {
                assert_eq!(want, 200, "{id}");
                assert_cosigned(body, &store, &origin);
            }
            Err(ApiError::Protocol(e)) => assert_eq!(e.status(), want, "{id}: {e}"),
            Err(e) => panic!("{id}: {e}"),
        }
        let after = &case["state_after"];
        let want_state = after["latest_root"].as_str().map(|r| TreeState {
            size: after["latest_cosigned_size"].as_u64().unwrap(),
            root: Hash::from_base64(r).unwrap(),
        });
        assert_eq!(state(&store, &origin), want_state, "{id}");
        // Evidence is kept for exactly the two fork-like cases.
        let evidence = store.evidence().unwrap();
        match id {
            "same-size-different-root" | "bad-proof" => {
                assert_eq!(evidence.len(), 1, "{id}");
                let kind = if id == "bad-proof" {
                    "consistency-proof-failed"
                } else {
                    "same-size-different-root"
                };
                assert_eq!(evidence[0].kind, kind);
                assert_eq!(evidence[0].observed_at, NOW);
                assert_eq!(
                    evidence[0].conflicting,
                    case["request_body"]
                        .as_str()
                        .unwrap()
                        .split_once("\n\n")
                        .unwrap()
                        .1
                );
                // Replaying it adds nothing.
                let _ = w.add_checkpoint(case["request_body"].as_str().unwrap().as_bytes());
                assert_eq!(store.evidence().unwrap().len(), 1);
            }
            _ => assert!(evidence.is_empty(), "{id}"),
        }
    }
}

#[test]
fn litewitness_scenario_through_the_handler() {
    let doc = json(SCENARIO);
    let origin = Origin::new(doc["log"]["origin"].as_str().unwrap()).unwrap();
    let mut logs = LogSet::new();
    logs.add(None, doc["log"]["vkey"].as_str().unwrap())
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let w = witness(logs, store.clone());
    let mut sizes = Vec::new();
    for step in doc["steps"].as_array().unwrap() {
        let n = step["step"].as_u64().unwrap();
        let result = w.add_checkpoint(step["request_body"].as_str().unwrap().as_bytes());
        let status = match &result {
            Ok(body) => {
                assert_cosigned(body, &store, &origin);
                200
            }
            Err(ApiError::Protocol(e)) => e.status(),
            Err(e) => panic!("step {n}: {e}"),
        };
        assert_eq!(
            u64::from(status),
            step["spec_status"].as_u64().unwrap(),
            "step {n}"
        );
        sizes.push(state(&store, &origin).map(|s| s.size));
    }
    assert_eq!(sizes, [1, 1, 1, 1, 1, 3, 3, 5, 5].map(Some).to_vec());
    assert_eq!(w.metrics().cosigned_total(), 3);
}

fn sim_witness() -> (SimLog, Arc<MemoryStore>, Arc<Witness>) {
    let log = SimLog::new("sim.example/log", [7; 32]);
    let mut logs = LogSet::new();
    logs.add(None, &log.vkey()).unwrap();
    let store = Arc::new(MemoryStore::new());
    let w = witness(logs, store.clone());
    (log, store, Arc::new(w))
}

/// Two requests race from the same stored size: both pass the check, both
/// stall between check and commit, then both try to commit. Exactly one
/// wins; the loser re-checks against the winner's state and gets 409 with
/// that size. The state never goes back.
fn race_from_same_size(store: Arc<dyn Store>) {
    let mut log = SimLog::new("sim.example/log", [7; 32]);
    let mut logs = LogSet::new();
    logs.add(None, &log.vkey()).unwrap();
    let w = Witness::new(logs.clone(), witness_key(), store.clone(), Arc::new(|| NOW));
    let size = |store: &Arc<dyn Store>| store.latest(log_origin()).unwrap().map(|c| c.state().size);
    for i in 0..5 {
        log.append(format!("e{i}").as_bytes());
    }
    w.add_checkpoint(&log.request(0).to_bytes()).unwrap();
    log.append(b"e5");
    let six = log.request(5).to_bytes();
    log.append(b"e6");
    log.append(b"e7");
    let eight = log.request(5).to_bytes();

    let mut racing = Witness::new(logs, witness_key(), store.clone(), Arc::new(|| NOW));
    racing.commit_hook = Some(Arc::new(Barrier::new(2)));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| racing.add_checkpoint(&six));
        let b = s.spawn(|| racing.add_checkpoint(&eight));
        (a.join().unwrap(), b.join().unwrap())
    });
    let final_size = size(&store).unwrap();
    match (&a, &b) {
        (Ok(_), Err(ApiError::Protocol(WitnessError::StaleOldSize { old: 5, stored }))) => {
            assert_eq!((*stored, final_size), (6, 6));
        }
        (Err(ApiError::Protocol(WitnessError::StaleOldSize { old: 5, stored })), Ok(_)) => {
            assert_eq!((*stored, final_size), (8, 8));
        }
        other => panic!("expected one winner and one 409, got {other:?}"),
    }
    assert!(
        racing
            .metrics()
            .render(1)
            .contains("witness_cas_conflicts_total 1")
    );
    // The loser's retry from the winner's size moves forward only.
    if final_size == 6 {
        w.add_checkpoint(&log.request(6).to_bytes()).unwrap();
    }
    assert_eq!(size(&store), Some(8));
}

fn log_origin() -> &'static Origin {
    static ORIGIN: std::sync::OnceLock<Origin> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(|| Origin::new("sim.example/log").unwrap())
}

#[test]
fn concurrent_requests_never_roll_back_memory() {
    for _ in 0..4 {
        race_from_same_size(Arc::new(MemoryStore::new()));
    }
}

#[test]
fn concurrent_requests_never_roll_back_sled() {
    for _ in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        race_from_same_size(Arc::new(crate::store::SledStore::open(dir.path()).unwrap()));
    }
}

/// Two re-cosignings of the same checkpoint race: both succeed (the loser
/// re-checks and still passes), and the state stays at that size.
#[test]
fn concurrent_same_checkpoint_both_cosigned() {
    let (mut log, store, w) = sim_witness();
    log.append(b"a");
    log.append(b"b");
    w.add_checkpoint(&log.request(0).to_bytes()).unwrap();
    let same = log.request(2).to_bytes();
    let mut racing = Witness::new(
        w.logs().clone(),
        witness_key(),
        store.clone(),
        Arc::new(|| NOW + 1),
    );
    racing.commit_hook = Some(Arc::new(Barrier::new(2)));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| racing.add_checkpoint(&same));
        let b = s.spawn(|| racing.add_checkpoint(&same));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(racing.metrics().cosigned_total(), 2);
    assert_eq!(state(&store, log.origin()).unwrap().size, 2);
}

#[test]
fn storage_failure_answers_nothing() {
    let (mut log, store, w) = sim_witness();
    log.append(b"a");
    store.fail_writes(true);
    assert!(matches!(
        w.add_checkpoint(&log.request(0).to_bytes()),
        Err(ApiError::Storage(_))
    ));
    assert_eq!(state(&store, log.origin()), None);
    store.fail_writes(false);
    assert!(w.add_checkpoint(&log.request(0).to_bytes()).is_ok());
}

#[test]
fn forked_log_is_refused_and_kept_as_evidence() {
    let (mut log, store, w) = sim_witness();
    let mut fork = log.clone();
    for i in 0..4 {
        log.append(format!("honest {i}").as_bytes());
        fork.append(format!("forked {i}").as_bytes());
    }
    w.add_checkpoint(&log.request(0).to_bytes()).unwrap();
    // Same size, different root: 422.
    assert_eq!(
        w.add_checkpoint(&fork.request(4).to_bytes()),
        Err(ApiError::Protocol(WitnessError::RootMismatch { size: 4 }))
    );
    // A larger forked tree: the proof from the cosigned size fails: 422.
    fork.append(b"forked 4");
    assert!(matches!(
        w.add_checkpoint(&fork.request(4).to_bytes()),
        Err(ApiError::Protocol(WitnessError::InconsistentProof { .. }))
    ));
    let evidence = store.evidence().unwrap();
    let kinds: Vec<&str> = evidence.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["same-size-different-root", "consistency-proof-failed"]
    );
    assert_eq!(
        evidence[0].cosigned,
        store
            .latest(log.origin())
            .unwrap()
            .unwrap()
            .note()
            .to_string()
    );
    // Evidence that cannot be stored still gets its 422 (and is logged).
    store.fail_writes(true);
    let mut other_fork = SimLog::new("sim.example/log", [7; 32]);
    for i in 0..4 {
        other_fork.append(format!("other {i}").as_bytes());
    }
    assert_eq!(
        w.add_checkpoint(&other_fork.request(4).to_bytes()),
        Err(ApiError::Protocol(WitnessError::RootMismatch { size: 4 }))
    );
    assert_eq!(store.evidence().unwrap().len(), 2);
    store.fail_writes(false);
    // The honest log carries on.
    log.append(b"honest 4");
    assert!(w.add_checkpoint(&log.request(4).to_bytes()).is_ok());
}
