//! Sequencer and publisher tests, driven by hand with the fault-injecting
//! memory store; `check_log` runs after every step.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::oneshot::error::TryRecvError;

use super::*;
use crate::checkpoint::Origin;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::merkle::verify_inclusion;
use crate::note::{KeyName, KeyType, SignerKey};
use crate::server::entry::envelope_hash;
use crate::server::publisher::{NoWitnesses, PublishOutcome, Publisher};
use crate::server::reader::LogReader;
use crate::server::store::{Fault, MemoryStore};

type Reply = oneshot::Receiver<Result<Sequenced, SequencerError>>;

struct Harness {
    mem: Arc<MemoryStore>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    seq: Sequencer,
    key: SignerKey,
}

fn harness(config: SequencerConfig) -> Harness {
    let mem = Arc::new(MemoryStore::new());
    let store: Arc<dyn Store> = mem.clone();
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let seq = Sequencer::new(store.clone(), clock.clone(), config).unwrap();
    let key = SignerKey::from_seed(
        KeyName::new("test.example/log").unwrap(),
        KeyType::Ed25519,
        [9; 32],
    )
    .unwrap();
    Harness {
        mem,
        store,
        clock,
        seq,
        key,
    }
}

fn envelope_json(n: u64) -> Vec<u8> {
    let payload = format!("{{\"_type\":\"https://in-toto.io/Statement/v1\",\"n\":{n}}}");
    Envelope::sign(
        PAYLOAD_TYPE_IN_TOTO,
        payload.as_bytes(),
        &SigningKey::from_bytes(&[1; 32]),
    )
    .to_canonical_json()
}

fn submit(seq: &Sequencer, n: u64) -> Reply {
    let json = envelope_json(n);
    let hash = envelope_hash(&json);
    seq.submit(json, hash).unwrap()
}

fn answer(mut rx: Reply) -> Result<Sequenced, SequencerError> {
    rx.try_recv().expect("answered")
}

fn check(h: &Harness) -> CheckReport {
    check_log(&h.store, Some(&h.key.verifier())).unwrap()
}

#[test]
fn batches_of_every_shape_keep_the_log_consistent() {
    let h = harness(SequencerConfig {
        max_batch: 1000,
        pool_capacity: 5000,
        ..SequencerConfig::default()
    });
    assert_eq!(check(&h).size, 0);
    let mut next = 0u64;
    let reader = LogReader::new(h.store.clone());
    for batch in [1usize, 255, 1, 300, 0, 511, 700, 1, 256] {
        let replies: Vec<Reply> = (0..batch)
            .map(|i| submit(&h.seq, next + i as u64))
            .collect();
        let report = h.seq.sequence_once().unwrap();
        assert_eq!(report.appended, batch);
        assert_eq!(report.taken, batch);
        for (i, rx) in replies.into_iter().enumerate() {
            let s = answer(rx).unwrap();
            assert_eq!(s.index, next + i as u64);
            assert!(!s.duplicate);
            let entry = h.store.entry(s.index).unwrap().unwrap();
            assert_eq!(s.leaf_hash, crate::merkle::leaf_hash(&entry));
        }
        next += batch as u64;
        let r = check(&h);
        assert_eq!(r.size, next);
        assert_eq!(h.seq.head(), (next, r.root));
        // Proofs from stored tiles verify against the re-derived root.
        for index in [0, next / 2, next.saturating_sub(1)] {
            if index < next {
                let leaf = crate::merkle::leaf_hash(&h.store.entry(index).unwrap().unwrap());
                let proof = reader.inclusion_proof(index, next).unwrap();
                verify_inclusion(index, next, &leaf, &proof, &r.root).unwrap();
            }
        }
    }
    // Entries carry the clock's time.
    let e = LogEntry::parse(&h.store.entry(0).unwrap().unwrap()).unwrap();
    assert_eq!(e.integrated_time, 1_700_000_000);
    assert_eq!(e.envelope.to_canonical_json(), envelope_json(0));
}

#[test]
fn deferred_signature_checks_are_finished_by_the_step() {
    let h = harness(SequencerConfig::default());
    let signer = SigningKey::from_bytes(&[1; 32]);
    let mut trusted = crate::dsse::KeySet::new();
    assert!(trusted.insert(signer.verifying_key()));
    let verifying = |n: u64, tamper: bool| {
        let mut json: serde_json::Value = serde_json::from_slice(&envelope_json(n)).unwrap();
        if tamper {
            // A valid signature of another envelope: the costly half goes
            // through and only the final comparison can refuse it.
            let other: serde_json::Value =
                serde_json::from_slice(&envelope_json(n + 1000)).unwrap();
            json["signatures"][0]["sig"] = other["signatures"][0]["sig"].clone();
        }
        let env = Envelope::parse(&serde_json::to_vec(&json).unwrap()).unwrap();
        let pending = env.start_verify(&trusted).unwrap();
        let json = env.to_canonical_json();
        let hash = envelope_hash(&json);
        h.seq.submit_verifying(json, hash, pending).unwrap()
    };
    // Good, bad, good, plain (no deferred check), bad.
    let replies = [
        verifying(1, false),
        verifying(2, true),
        verifying(3, false),
        submit(&h.seq, 4),
        verifying(5, true),
    ];
    let report = h.seq.sequence_once().unwrap();
    assert_eq!(report.taken, 5);
    assert_eq!(report.appended, 3);
    let got: Vec<_> = replies.into_iter().map(answer).collect();
    let index = |r: &Result<Sequenced, SequencerError>| r.as_ref().map(|s| s.index).ok();
    assert_eq!(
        got.iter().map(index).collect::<Vec<_>>(),
        [Some(0), None, Some(1), Some(2), None]
    );
    for bad in [&got[1], &got[4]] {
        assert_eq!(
            bad.as_ref().unwrap_err(),
            &SequencerError::Signature(crate::dsse::DsseError::InvalidSignature(0))
        );
    }
    assert_eq!(check(&h).size, 3);
    // A step of only bad signatures appends nothing and writes nothing.
    let bad = verifying(6, true);
    let report = h.seq.sequence_once().unwrap();
    assert_eq!((report.taken, report.appended, report.size), (1, 0, 3));
    assert!(answer(bad).is_err());
    assert_eq!(check(&h).size, 3);
}

#[test]
fn max_batch_limits_a_step() {
    let h = harness(SequencerConfig {
        max_batch: 3,
        pool_capacity: 10,
        ..SequencerConfig::default()
    });
    let replies: Vec<Reply> = (0..7).map(|i| submit(&h.seq, i)).collect();
    assert!(h.seq.batch_ready());
    assert_eq!(h.seq.sequence_once().unwrap().appended, 3);
    assert_eq!(h.seq.pool_depth(), 4);
    assert_eq!(h.seq.sequence_once().unwrap().appended, 3);
    assert!(!h.seq.batch_ready());
    assert_eq!(h.seq.sequence_once().unwrap().appended, 1);
    assert_eq!(h.seq.sequence_once().unwrap().taken, 0);
    let indexes: Vec<u64> = replies
        .into_iter()
        .map(|r| answer(r).unwrap().index)
        .collect();
    assert_eq!(indexes, (0..7).collect::<Vec<_>>());
    check(&h);
}

#[test]
fn pending_bytes_are_bounded_and_given_back() {
    let h = harness(SequencerConfig {
        pending_bytes: 10_000,
        ..SequencerConfig::default()
    });
    let mut a = h.seq.reserve(6_000).unwrap();
    assert_eq!((a.bytes(), h.seq.pending_bytes()), (6_000, 6_000));
    // 6,000 + 5,000 would exceed the budget: refused, nothing reserved.
    assert!(matches!(
        h.seq.reserve(5_000),
        Err(SequencerError::PoolFull)
    ));
    assert_eq!(h.seq.pending_bytes(), 6_000);
    let b = h.seq.reserve(4_000).unwrap();
    assert_eq!(h.seq.pending_bytes(), 10_000);
    assert!(matches!(h.seq.reserve(1), Err(SequencerError::PoolFull)));
    // Shrinking gives back the difference; growing is not possible.
    a.shrink_to(1_000);
    a.shrink_to(2_000);
    assert_eq!((a.bytes(), h.seq.pending_bytes()), (1_000, 5_000));
    let c = h.seq.reserve(5_000).unwrap();
    drop((a, b, c));
    assert_eq!(h.seq.pending_bytes(), 0);
    // An overflowing request is refused, not wrapped.
    let _d = h.seq.reserve(1).unwrap();
    assert!(matches!(
        h.seq.reserve(usize::MAX),
        Err(SequencerError::PoolFull)
    ));
    assert_eq!(h.seq.pending_bytes(), 1);
}

#[test]
fn pool_is_bounded() {
    let h = harness(SequencerConfig {
        max_batch: 10,
        pool_capacity: 2,
        ..SequencerConfig::default()
    });
    let _a = submit(&h.seq, 0);
    let _b = submit(&h.seq, 1);
    let json = envelope_json(2);
    assert!(matches!(
        h.seq.submit(json.clone(), envelope_hash(&json)),
        Err(SequencerError::PoolFull)
    ));
    h.seq.sequence_once().unwrap();
    assert!(h.seq.submit(json.clone(), envelope_hash(&json)).is_ok());
    // Draining answers the waiters with Stopped.
    let c = submit(&h.seq, 3);
    h.seq.drain_pool();
    assert_eq!(answer(c), Err(SequencerError::Stopped));
    assert_eq!(h.seq.pool_depth(), 0);
}

#[test]
fn duplicates_get_the_original_index() {
    let h = harness(SequencerConfig::default());
    let a = submit(&h.seq, 10);
    let b = submit(&h.seq, 11);
    let a2 = submit(&h.seq, 10);
    h.seq.sequence_once().unwrap();
    let (a, b, a2) = (answer(a).unwrap(), answer(b).unwrap(), answer(a2).unwrap());
    assert_eq!((a.index, b.index), (0, 1));
    assert_eq!(a2.index, 0);
    assert!(a2.duplicate && !a.duplicate);
    assert_eq!(a2.leaf_hash, a.leaf_hash);
    // Later, against the store.
    let a3 = submit(&h.seq, 10);
    let c = submit(&h.seq, 12);
    let report = h.seq.sequence_once().unwrap();
    assert_eq!((report.taken, report.appended, report.size), (2, 1, 3));
    let a3 = answer(a3).unwrap();
    assert_eq!(
        (a3.index, a3.duplicate, a3.leaf_hash),
        (0, true, a.leaf_hash)
    );
    assert_eq!(answer(c).unwrap().index, 2);
    assert_eq!(check(&h).size, 3);
}

#[test]
fn failure_before_commit_acknowledges_nothing() {
    let h = harness(SequencerConfig::default());
    let first = submit(&h.seq, 0);
    h.seq.sequence_once().unwrap();
    answer(first).unwrap();
    let before = check(&h);

    h.mem.inject(Fault::FailBeforeCommit);
    let replies: Vec<Reply> = (1..4).map(|i| submit(&h.seq, i)).collect();
    assert_eq!(
        h.seq.sequence_once(),
        Err(SequencerError::Store(StoreError::Injected))
    );
    for rx in replies {
        assert_eq!(answer(rx), Err(SequencerError::Store(StoreError::Injected)));
    }
    assert_eq!(check(&h), before);
    assert_eq!(h.seq.head(), (1, before.root));
    // Retrying sequences them for real.
    let replies: Vec<Reply> = (1..4).map(|i| submit(&h.seq, i)).collect();
    h.seq.sequence_once().unwrap();
    let got: Vec<(u64, bool)> = replies
        .into_iter()
        .map(|r| answer(r).map(|s| (s.index, s.duplicate)).unwrap())
        .collect();
    assert_eq!(got, vec![(1, false), (2, false), (3, false)]);
    assert_eq!(check(&h).size, 4);
}

#[test]
fn failure_after_commit_is_recovered_by_dedup() {
    let h = harness(SequencerConfig::default());
    h.mem.inject(Fault::FailAfterCommit);
    let replies: Vec<Reply> = (0..3).map(|i| submit(&h.seq, i)).collect();
    assert!(h.seq.sequence_once().is_err());
    for rx in replies {
        assert!(answer(rx).is_err());
    }
    // The batch did reach the store; the sequencer reloaded it.
    let r = check(&h);
    assert_eq!(r.size, 3);
    assert_eq!(h.seq.head(), (3, r.root));
    // Resubmissions learn their original indexes; new work continues after.
    let replies: Vec<Reply> = (0..4).map(|i| submit(&h.seq, i)).collect();
    h.seq.sequence_once().unwrap();
    let got: Vec<(u64, bool)> = replies
        .into_iter()
        .map(|r| answer(r).map(|s| (s.index, s.duplicate)).unwrap())
        .collect();
    assert_eq!(got, vec![(0, true), (1, true), (2, true), (3, false)]);
    assert_eq!(check(&h).size, 4);
}

#[test]
fn a_dropped_receiver_does_not_stop_the_batch() {
    let h = harness(SequencerConfig::default());
    drop(submit(&h.seq, 0));
    let b = submit(&h.seq, 1);
    h.seq.sequence_once().unwrap();
    assert_eq!(answer(b).unwrap().index, 1);
    let mut pending = submit(&h.seq, 2);
    assert_eq!(pending.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn restart_resumes_from_the_store() {
    let h = harness(SequencerConfig::default());
    for i in 0..300 {
        drop(submit(&h.seq, i));
    }
    h.seq.sequence_once().unwrap();
    let again =
        Sequencer::new(h.store.clone(), h.clock.clone(), SequencerConfig::default()).unwrap();
    assert_eq!(again.head(), h.seq.head());
    let rx = submit(&again, 300);
    again.sequence_once().unwrap();
    assert_eq!(answer(rx).unwrap().index, 300);
    assert_eq!(check(&h).size, 301);
}

fn publisher(h: &Harness, heartbeat: u64) -> Publisher {
    Publisher::new(
        h.store.clone(),
        h.clock.clone(),
        h.key.clone(),
        Origin::new("test.example/log").unwrap(),
        Arc::new(NoWitnesses),
        heartbeat,
    )
    .unwrap()
}

#[test]
fn publication_follows_commits_at_most_once_per_min_interval() {
    let h = harness(SequencerConfig::default());
    let p = publisher(&h, 60).with_min_interval(Duration::from_millis(500));
    // Nothing published yet: at once.
    assert_eq!(p.next_publication(0), Duration::ZERO);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(0))
    );
    // Unchanged tree: only the heartbeat, 60 s after the publication.
    assert_eq!(p.next_publication(0), Duration::from_secs(60));
    // A commit: publish once the minimum interval since the last attempt
    // has passed, not a whole heartbeat or tick later.
    for i in 0..3 {
        drop(submit(&h.seq, i));
    }
    h.seq.sequence_once().unwrap();
    assert_eq!(p.next_publication(3), Duration::from_millis(500));
    h.clock.advance_millis(200);
    assert_eq!(p.next_publication(3), Duration::from_millis(300));
    h.clock.advance_millis(300);
    assert_eq!(p.next_publication(3), Duration::ZERO);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(3))
    );
    // The same tree again: heartbeat, then a heartbeat publication.
    assert_eq!(p.next_publication(3), Duration::from_secs(60));
    h.clock.advance(59);
    assert_eq!(p.next_publication(3), Duration::from_secs(1));
    h.clock.advance(1);
    assert_eq!(p.next_publication(3), Duration::ZERO);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(3))
    );
    // A long-idle log publishes a new commit at once.
    h.clock.advance(10);
    drop(submit(&h.seq, 3));
    h.seq.sequence_once().unwrap();
    assert_eq!(p.next_publication(4), Duration::ZERO);
    // A failed attempt also starts the interval (a failing witness is not
    // asked again at once), and the retry publishes.
    h.mem.inject(Fault::FailBeforeCommit);
    assert!(p.publish_once(h.seq.head()).is_err());
    assert_eq!(p.current().unwrap().size, 3);
    assert_eq!(p.next_publication(4), Duration::from_millis(500));
    h.clock.advance_millis(499);
    assert_eq!(p.next_publication(4), Duration::from_millis(1));
    h.clock.advance_millis(1);
    assert_eq!(p.next_publication(4), Duration::ZERO);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(4))
    );
    // A heartbeat never comes before the minimum interval: with a heartbeat
    // shorter than it, the interval wins.
    let q = publisher(&h, 0).with_min_interval(Duration::from_secs(2));
    assert_eq!(
        q.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(4))
    );
    assert_eq!(q.next_publication(4), Duration::from_secs(2));
    // Without a minimum interval, every commit is published at once.
    let r = publisher(&h, 60);
    drop(submit(&h.seq, 4));
    h.seq.sequence_once().unwrap();
    assert_eq!(
        r.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(5))
    );
    drop(submit(&h.seq, 5));
    h.seq.sequence_once().unwrap();
    assert_eq!(r.next_publication(6), Duration::ZERO);
}

#[test]
fn publishing_moves_forward_with_heartbeats() {
    let h = harness(SequencerConfig::default());
    let p = publisher(&h, 60);
    let mut watch = p.subscribe();
    assert!(p.current().is_none());
    // The empty tree is published first.
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(0))
    );
    assert_eq!(check(&h).published, Some(0));
    assert_eq!(p.publish_once(h.seq.head()), Ok(PublishOutcome::Unchanged));
    for i in 0..5 {
        drop(submit(&h.seq, i));
    }
    h.seq.sequence_once().unwrap();
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(5))
    );
    assert!(watch.has_changed().unwrap());
    assert_eq!(watch.borrow_and_update().as_ref().unwrap().size, 5);
    assert_eq!(check(&h).published, Some(5));
    h.clock.advance(59);
    assert_eq!(p.publish_once(h.seq.head()), Ok(PublishOutcome::Unchanged));
    h.clock.advance(1);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(5))
    );
    // A head older than the published checkpoint is refused.
    assert!(matches!(
        p.publish_once((4, h.seq.head().1)),
        Err(crate::server::publisher::PublishError::TreeBehind { .. })
    ));
    // A failed CAS write leaves the published checkpoint where it was.
    drop(submit(&h.seq, 5));
    h.seq.sequence_once().unwrap();
    h.mem.inject(Fault::FailBeforeCommit);
    assert!(p.publish_once(h.seq.head()).is_err());
    assert_eq!(h.store.published_checkpoint().unwrap().unwrap().size, 5);
    assert_eq!(p.current().unwrap().size, 5);
    assert_eq!(
        p.publish_once(h.seq.head()),
        Ok(PublishOutcome::Published(6))
    );
    assert_eq!(check(&h).published, Some(6));
    // The note is a checkpoint signed by the log key.
    let note = h.store.published_checkpoint().unwrap().unwrap().note;
    let text = String::from_utf8(note).unwrap();
    assert!(text.starts_with("test.example/log\n6\n"), "{text}");
}

#[test]
fn check_log_catches_inconsistencies() {
    let h = harness(SequencerConfig::default());
    for i in 0..3 {
        drop(submit(&h.seq, i));
    }
    h.seq.sequence_once().unwrap();
    check(&h);
    // A batch written behind the sequencer's back whose tiles do not match
    // its entry.
    let mut tree = load_tree(&*h.store).unwrap();
    let bogus_leaf = crate::merkle::leaf_hash(b"something else");
    let tiles = tree.append(&[bogus_leaf]).unwrap();
    let entry = LogEntry::encode(&envelope_json(99), 5).unwrap();
    h.store
        .commit_batch(&CommitBatch {
            previous_size: 3,
            entries: vec![entry.clone()],
            tiles: tiles
                .into_iter()
                .map(|(t, d)| {
                    (
                        TileKey {
                            level: t.level(),
                            index: t.index(),
                        },
                        d,
                    )
                })
                .collect(),
            envelope_hashes: vec![envelope_hash(&envelope_json(99))],
            index: Vec::new(),
            new_state: TreeState {
                size: 4,
                edge: tree.to_bytes(),
            },
        })
        .unwrap();
    assert!(matches!(
        check_log(&h.store, None),
        Err(CheckError::Inconsistent(_))
    ));
}

#[test]
fn check_log_catches_a_wrong_dedup_record() {
    let h = harness(SequencerConfig::default());
    let mut tree = load_tree(&*h.store).unwrap();
    let entry = LogEntry::encode(&envelope_json(1), 5).unwrap();
    let tiles = tree.append(&[crate::merkle::leaf_hash(&entry)]).unwrap();
    h.store
        .commit_batch(&CommitBatch {
            previous_size: 0,
            entries: vec![entry],
            tiles: tiles
                .into_iter()
                .map(|(t, d)| {
                    (
                        TileKey {
                            level: t.level(),
                            index: t.index(),
                        },
                        d,
                    )
                })
                .collect(),
            // The hash of another envelope than the entry's.
            envelope_hashes: vec![envelope_hash(&envelope_json(2))],
            index: Vec::new(),
            new_state: TreeState {
                size: 1,
                edge: tree.to_bytes(),
            },
        })
        .unwrap();
    assert_eq!(
        check_log(&h.store, None),
        Err(CheckError::Inconsistent(
            "dedup index does not point at entry 0".into()
        ))
    );
}

/// Sequences envelopes 0..n on `store`, drops the sequencer and `store`,
/// then on the store `reopen` gives (as a restarted server sees it)
/// resubmits them all between new ones: each gets its original index.
fn resubmissions_after_a_restart(store: Arc<dyn Store>, reopen: impl FnOnce() -> Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let n = 120;
    let seq = Sequencer::new(store.clone(), clock.clone(), SequencerConfig::default()).unwrap();
    let first: Vec<Reply> = (0..n).map(|i| submit(&seq, i)).collect();
    seq.sequence_once().unwrap();
    let first: Vec<Sequenced> = first.into_iter().map(|r| answer(r).unwrap()).collect();
    drop(seq);
    drop(store);
    let store = reopen();
    let seq = Sequencer::new(store.clone(), clock, SequencerConfig::default()).unwrap();
    // Every old envelope, interleaved with new ones, in one step.
    let replies: Vec<(u64, Reply)> = (0..n)
        .flat_map(|i| [i, n + i])
        .map(|i| (i, submit(&seq, i)))
        .collect();
    let report = seq.sequence_once().unwrap();
    assert_eq!(
        (report.taken, report.appended),
        (2 * n as usize, n as usize)
    );
    let mut next_new = n;
    for (i, rx) in replies {
        let got = answer(rx).unwrap();
        if i < n {
            let original = first[i as usize];
            assert_eq!(
                (got.index, got.duplicate, got.leaf_hash),
                (original.index, true, original.leaf_hash)
            );
        } else {
            assert_eq!((got.index, got.duplicate), (next_new, false));
            next_new += 1;
        }
    }
    assert_eq!(check_log(&store, None).unwrap().size, 2 * n);
}

#[test]
fn resubmissions_after_a_restart_get_the_original_index_memory() {
    let mem: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let again = mem.clone();
    resubmissions_after_a_restart(mem, move || again);
}

#[test]
fn resubmissions_after_a_restart_get_the_original_index_sled() {
    use crate::server::store::SledStore;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    // A new store on the same directory, as a restarted server opens it.
    // sled's background flusher may still hold the directory for a moment
    // after the last handle is dropped (seen on a loaded machine), so the
    // reopen polls with a deadline instead of failing at once.
    resubmissions_after_a_restart(store, || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match SledStore::open(dir.path()) {
                Ok(s) => return Arc::new(s),
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("reopening the store: {e}"),
            }
        }
    });
}
