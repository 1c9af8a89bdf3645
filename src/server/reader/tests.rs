//! The reader's proofs, with its hash memo at every size (down to one hash a
//! generation, so evictions happen all the time), against proofs from the
//! plain list of stored hashes, while the tree grows under it.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::*;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::merkle::{leaf_hash, stored_hashes};
use crate::server::entry::envelope_hash;
use crate::server::sequencer::{ManualClock, Sequencer, SequencerConfig};
use crate::server::store::MemoryStore;

/// A log grown by hand, with the stored hashes kept beside it.
struct Log {
    store: Arc<dyn Store>,
    seq: Sequencer,
    stored: Vec<Hash>,
    size: u64,
}

impl Log {
    fn new() -> Log {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let seq = Sequencer::new(
            store.clone(),
            Arc::new(ManualClock::new(1_700_000_000)),
            SequencerConfig {
                max_batch: 1000,
                pool_capacity: 1000,
                ..SequencerConfig::default()
            },
        )
        .unwrap();
        Log {
            store,
            seq,
            stored: Vec::new(),
            size: 0,
        }
    }

    /// Appends `count` entries in one sequencing step.
    fn grow(&mut self, count: u64) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let replies: Vec<_> = (self.size..self.size + count)
            .map(|n| {
                let payload =
                    format!("{{\"_type\":\"https://in-toto.io/Statement/v1\",\"n\":{n}}}");
                let json = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload.as_bytes(), &key)
                    .to_canonical_json();
                let hash = envelope_hash(&json);
                self.seq.submit(json, hash).unwrap()
            })
            .collect();
        assert_eq!(self.seq.sequence_once().unwrap().appended as u64, count);
        drop(replies);
        for n in self.size..self.size + count {
            let leaf = leaf_hash(&self.store.entry(n).unwrap().unwrap());
            let new = stored_hashes(n, leaf, self.stored.as_slice()).unwrap();
            self.stored.extend(new);
        }
        self.size += count;
    }
}

/// Checks `reader` against the stored-hash list at every pair of sizes and
/// indexes `probes` picks (wrapped into the tree).
fn agree(reader: &LogReader, log: &Log, probes: &[(u64, u64)]) {
    let plain = log.stored.as_slice();
    for &(a, b) in probes {
        let size = 1 + a % log.size;
        let index = b % size;
        assert_eq!(
            reader.inclusion_proof(index, size).unwrap(),
            crate::merkle::prove_inclusion(size, index, plain).unwrap(),
            "inclusion of {index} in {size}"
        );
        assert_eq!(
            reader.tree_hash(size).unwrap(),
            crate::merkle::tree_hash(size, plain).unwrap()
        );
        let old = 1 + b % size;
        assert_eq!(
            reader.consistency_proof(old, size).unwrap(),
            crate::merkle::prove_consistency(old, size, plain).unwrap(),
            "consistency {old} -> {size}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn memoized_proofs_match_the_stored_hashes_as_the_tree_grows(
        steps in proptest::collection::vec(1u64..400, 1..6),
        generation in prop_oneof![Just(1usize), 2usize..64, Just(MEMO_GENERATION)],
        probes in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..24),
    ) {
        let mut log = Log::new();
        // One reader lives through every step, so hashes memoized at one
        // size are reused at later ones.
        let reader = LogReader::with_memo(log.store.clone(), generation);
        for count in steps {
            log.grow(count);
            agree(&reader, &log, &probes);
            // Every receipt of a step: each new leaf under the new size.
            for index in log.size - count..log.size {
                assert_eq!(
                    reader.inclusion_proof(index, log.size).unwrap(),
                    crate::merkle::prove_inclusion(log.size, index, log.stored.as_slice()).unwrap()
                );
            }
            let len = reader.lock_memo().len();
            prop_assert!(len <= 2 * generation.max(1));
        }
        // A fresh reader, with nothing memoized, agrees too.
        agree(&LogReader::new(log.store.clone()), &log, &probes);
    }
}

#[test]
fn the_memo_keeps_two_generations_and_promotes_old_hits() {
    let h = |b: u8| Hash::from_slice(&[b; 32]).unwrap();
    let mut memo = NodeMemo::new(2);
    assert!(memo.is_empty());
    memo.insert(1, h(1));
    memo.insert(2, h(2));
    // The young generation is full: 3 starts a new one; 1 and 2 are old.
    memo.insert(3, h(3));
    assert_eq!(memo.len(), 3);
    // A hit in the old generation is copied into the young one ...
    assert_eq!(memo.get(1), Some(h(1)));
    // ... so it survives the next turnover, and 2 does not.
    memo.insert(4, h(4));
    assert_eq!(memo.get(1), Some(h(1)));
    assert_eq!(memo.get(3), Some(h(3)));
    assert_eq!(memo.get(2), None);
    assert_eq!(memo.get(99), None);
}

#[test]
fn a_hash_the_store_does_not_have_is_not_found() {
    let mut log = Log::new();
    log.grow(300);
    let reader = LogReader::new(log.store.clone());
    // Proofs in a tree larger than the stored one read hashes that do not
    // exist (leaf 300's and the level-8 hash of leaves 256..511).
    assert!(matches!(
        reader.inclusion_proof(0, 600),
        Err(ProofError::HashNotFound { .. })
    ));
    assert!(matches!(
        reader.read_hashes(&[u64::MAX]),
        Err(ProofError::HashNotFound { .. })
    ));
    // And nothing wrong was memoized on the way: the real proofs still match.
    agree(&reader, &log, &[(299, 7), (255, 255), (256, 0)]);
}
