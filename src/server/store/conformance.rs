//! One conformance suite, run against every [`Store`] implementation (as
//! rustls runs one suite per crypto provider), plus implementation-specific
//! tests: fault injection for memory, persistence and locking for sled.

use super::*;

fn hashes(n: usize, seed: u8) -> Vec<u8> {
    (0..n * HASH_BYTES)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn batch(prev: u64, n: usize, tiles: Vec<(TileKey, Vec<u8>)>) -> CommitBatch {
    let entries: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("entry {}", prev + i as u64).into_bytes())
        .collect();
    let envelope_hashes = (0..n).map(|i| dedup_hash(prev + i as u64)).collect();
    CommitBatch {
        previous_size: prev,
        entries,
        tiles,
        envelope_hashes,
        index: Vec::new(),
        new_state: TreeState {
            size: prev + n as u64,
            edge: format!("edge {}", prev + n as u64).into_bytes(),
        },
    }
}

fn key(level: u8, index: u64) -> TileKey {
    TileKey { level, index }
}

fn dedup_hash(i: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&i.to_be_bytes());
    h
}

pub(super) fn empty_store(s: &dyn Store) {
    assert_eq!(s.tree_state().unwrap(), TreeState::default());
    assert_eq!(s.entry(0).unwrap(), None);
    assert_eq!(s.entries(0, 0).unwrap(), Vec::<Vec<u8>>::new());
    assert!(matches!(s.entries(0, 1), Err(StoreError::Invalid(_))));
    assert_eq!(s.tile(key(0, 0)).unwrap(), None);
    assert_eq!(s.dedup(&[0; 32]).unwrap(), None);
    assert_eq!(s.published_checkpoint().unwrap(), None);
}

pub(super) fn commit_and_read_back(s: &dyn Store) {
    let b1 = batch(0, 3, vec![(key(0, 0), hashes(3, 1))]);
    s.commit_batch(&b1).unwrap();
    let b2 = batch(
        3,
        2,
        vec![(key(0, 0), [hashes(3, 1), hashes(2, 9)].concat())],
    );
    s.commit_batch(&b2).unwrap();
    assert_eq!(s.tree_state().unwrap(), b2.new_state);
    for i in 0..5u64 {
        assert_eq!(s.entry(i).unwrap(), Some(format!("entry {i}").into_bytes()));
        assert_eq!(s.dedup(&dedup_hash(i)).unwrap(), Some(i));
    }
    assert_eq!(s.entry(5).unwrap(), None);
    assert_eq!(s.dedup(&dedup_hash(5)).unwrap(), None);
    assert_eq!(s.entry(u64::MAX).unwrap(), None);
    assert_eq!(
        s.entries(1, 4).unwrap(),
        vec![
            b"entry 1".to_vec(),
            b"entry 2".to_vec(),
            b"entry 3".to_vec()
        ]
    );
    assert_eq!(s.entries(5, 5).unwrap(), Vec::<Vec<u8>>::new());
    assert!(matches!(s.entries(4, 6), Err(StoreError::Invalid(_))));
    assert!(matches!(s.entries(3, 2), Err(StoreError::Invalid(_))));
    assert_eq!(
        s.tile(key(0, 0)).unwrap(),
        Some([hashes(3, 1), hashes(2, 9)].concat())
    );
    assert_eq!(s.tile(key(1, 0)).unwrap(), None);
    // An empty batch still moves nothing but may update the edge state.
    let mut b3 = batch(5, 0, vec![]);
    b3.new_state.edge = b"same size, new edge".to_vec();
    s.commit_batch(&b3).unwrap();
    assert_eq!(s.tree_state().unwrap(), b3.new_state);
}

pub(super) fn conflicts_write_nothing(s: &dyn Store) {
    s.commit_batch(&batch(0, 2, vec![])).unwrap();
    for prev in [0, 1, 3, u64::MAX - 1] {
        let b = batch(prev, 1, vec![(key(0, 7), hashes(1, 0))]);
        assert_eq!(s.commit_batch(&b), Err(StoreError::Conflict { current: 2 }));
    }
    assert_eq!(s.tree_state().unwrap().size, 2);
    assert_eq!(s.tile(key(0, 7)).unwrap(), None);
}

pub(super) fn invalid_batches_write_nothing(s: &dyn Store) {
    s.commit_batch(&batch(0, 1, vec![(key(0, 0), hashes(1, 1))]))
        .unwrap();
    let before = s.tree_state().unwrap();
    let mut wrong_size = batch(1, 2, vec![]);
    wrong_size.new_state.size = 4;
    let mut extra_hash = batch(1, 1, vec![]);
    extra_hash.envelope_hashes.push([7; 32]);
    let mut missing_hash = batch(1, 1, vec![]);
    missing_hash.envelope_hashes.clear();
    let cases = vec![
        wrong_size,
        batch(1, 1, vec![(key(0, 1), vec![])]),
        batch(1, 1, vec![(key(0, 1), vec![0; 33])]),
        batch(1, 1, vec![(key(0, 1), hashes(257, 0))]),
        extra_hash,
        missing_hash,
        // Rewrites the stored hash instead of extending it.
        batch(
            1,
            1,
            vec![(key(0, 0), [hashes(1, 2), hashes(1, 3)].concat())],
        ),
        // Shrinks the stored tile.
        batch(1, 1, vec![(key(0, 2), hashes(1, 0)), (key(0, 0), vec![])]),
    ];
    for b in cases {
        assert!(
            matches!(s.commit_batch(&b), Err(StoreError::Invalid(_))),
            "{b:?}"
        );
        assert_eq!(s.tree_state().unwrap(), before);
        assert_eq!(s.entry(1).unwrap(), None);
        assert_eq!(s.tile(key(0, 1)).unwrap(), None);
        assert_eq!(s.tile(key(0, 2)).unwrap(), None);
        assert_eq!(s.dedup(&dedup_hash(1)).unwrap(), None);
    }
}

pub(super) fn tiles_grow_by_prefix_and_full_tiles_are_immutable(s: &dyn Store) {
    let full = hashes(256, 5);
    s.commit_batch(&batch(0, 1, vec![(key(0, 0), full[..64].to_vec())]))
        .unwrap();
    s.commit_batch(&batch(1, 1, vec![(key(0, 0), full[..64 * 5].to_vec())]))
        .unwrap();
    // Rewriting identical contents is allowed (a retried step).
    s.commit_batch(&batch(2, 1, vec![(key(0, 0), full[..64 * 5].to_vec())]))
        .unwrap();
    s.commit_batch(&batch(3, 1, vec![(key(0, 0), full.clone())]))
        .unwrap();
    assert_eq!(s.tile(key(0, 0)).unwrap(), Some(full.clone()));
    let mut changed = full.clone();
    changed[8191] ^= 1;
    assert!(matches!(
        s.commit_batch(&batch(4, 1, vec![(key(0, 0), changed)])),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.tile(key(0, 0)).unwrap(), Some(full));
    // Levels and indexes are independent keys.
    s.commit_batch(&batch(
        4,
        1,
        vec![
            (key(1, 0), hashes(1, 1)),
            (key(0, 1), hashes(1, 2)),
            (key(63, u64::MAX), hashes(1, 3)),
        ],
    ))
    .unwrap();
    assert_eq!(s.tile(key(1, 0)).unwrap(), Some(hashes(1, 1)));
    assert_eq!(s.tile(key(0, 1)).unwrap(), Some(hashes(1, 2)));
    assert_eq!(s.tile(key(63, u64::MAX)).unwrap(), Some(hashes(1, 3)));
}

pub(super) fn checkpoint_moves_forward_by_cas(s: &dyn Store) {
    let cp = |size: u64| PublishedCheckpoint {
        size,
        note: format!("origin\n{size}\nroot\n\n— sig\n").into_bytes(),
    };
    // Beyond the (empty) tree.
    assert!(matches!(
        s.publish_checkpoint(None, &cp(1)),
        Err(StoreError::Invalid(_))
    ));
    s.publish_checkpoint(None, &cp(0)).unwrap();
    s.commit_batch(&batch(0, 5, vec![])).unwrap();
    // Stale expectations conflict.
    assert_eq!(
        s.publish_checkpoint(None, &cp(3)),
        Err(StoreError::Conflict { current: 0 })
    );
    assert_eq!(
        s.publish_checkpoint(Some(2), &cp(3)),
        Err(StoreError::Conflict { current: 0 })
    );
    s.publish_checkpoint(Some(0), &cp(3)).unwrap();
    assert_eq!(s.published_checkpoint().unwrap(), Some(cp(3)));
    // Backwards and beyond the tree are refused.
    assert!(matches!(
        s.publish_checkpoint(Some(3), &cp(2)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.publish_checkpoint(Some(3), &cp(6)),
        Err(StoreError::Invalid(_))
    ));
    // The same size again (a heartbeat, new cosignatures) and forward are fine.
    let mut again = cp(3);
    again.note.extend_from_slice(b"\xe2\x80\x94 witness sig\n");
    s.publish_checkpoint(Some(3), &again).unwrap();
    assert_eq!(s.published_checkpoint().unwrap(), Some(again));
    s.publish_checkpoint(Some(3), &cp(5)).unwrap();
    assert_eq!(s.published_checkpoint().unwrap(), Some(cp(5)));
    assert_eq!(
        s.publish_checkpoint(Some(3), &cp(5)),
        Err(StoreError::Conflict { current: 5 })
    );
}

pub(super) fn index_records_commit_with_the_batch(s: &dyn Store) {
    assert_eq!(s.index_get(b"h/a").unwrap(), None);
    assert_eq!(s.index_scan(b"h/", None, 10).unwrap(), vec![]);
    let mut b1 = batch(0, 2, vec![]);
    b1.index = vec![
        (b"h/b".to_vec(), b"1".to_vec()),
        (b"h/a".to_vec(), b"0".to_vec()),
        (b"v/a".to_vec(), b"x".to_vec()),
        // A later record for the same key wins.
        (b"h/b".to_vec(), b"2".to_vec()),
    ];
    s.commit_batch(&b1).unwrap();
    assert_eq!(s.index_get(b"h/a").unwrap(), Some(b"0".to_vec()));
    assert_eq!(s.index_get(b"h/b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.index_get(b"h/").unwrap(), None);
    let rec = |k: &[u8], v: &[u8]| (k.to_vec(), v.to_vec());
    assert_eq!(
        s.index_scan(b"h/", None, 10).unwrap(),
        vec![rec(b"h/a", b"0"), rec(b"h/b", b"2")]
    );
    assert_eq!(
        s.index_scan(b"h/", None, 1).unwrap(),
        vec![rec(b"h/a", b"0")]
    );
    assert_eq!(
        s.index_scan(b"h/", Some(b"h/a"), 10).unwrap(),
        vec![rec(b"h/b", b"2")]
    );
    assert_eq!(s.index_scan(b"h/", Some(b"h/b"), 10).unwrap(), vec![]);
    assert_eq!(s.index_scan(b"", None, 10).unwrap().len(), 3);
    // A conflicting batch writes none of its index records.
    let mut stale = batch(1, 1, vec![]);
    stale.index = vec![(b"h/c".to_vec(), b"3".to_vec())];
    assert_eq!(
        s.commit_batch(&stale),
        Err(StoreError::Conflict { current: 2 })
    );
    assert_eq!(s.index_get(b"h/c").unwrap(), None);
    // An invalid key fails the whole batch.
    for bad in [Vec::new(), vec![b'k'; MAX_INDEX_KEY + 1]] {
        let mut b = batch(2, 1, vec![]);
        b.index = vec![(b"h/d".to_vec(), b"4".to_vec()), (bad, b"v".to_vec())];
        assert!(matches!(s.commit_batch(&b), Err(StoreError::Invalid(_))));
        assert_eq!(s.index_get(b"h/d").unwrap(), None);
        assert_eq!(s.tree_state().unwrap().size, 2);
    }
    // Overwrites in a later batch replace the value.
    let mut b2 = batch(2, 1, vec![]);
    b2.index = vec![(b"h/a".to_vec(), b"9".to_vec())];
    s.commit_batch(&b2).unwrap();
    assert_eq!(s.index_get(b"h/a").unwrap(), Some(b"9".to_vec()));
}

pub(super) fn entries_across_batch_and_group_boundaries(s: &dyn Store) {
    // Batch sizes chosen to start and end inside, at and across the sled
    // store's 16-entry groups and a 256-entry bundle.
    let mut size = 0u64;
    for n in [1usize, 14, 1, 16, 40, 0, 200, 3] {
        let b = batch(size, n, vec![]);
        s.commit_batch(&b).unwrap();
        size += n as u64;
    }
    assert_eq!(size, 275);
    let expect = |i: u64| format!("entry {i}").into_bytes();
    for i in 0..size {
        assert_eq!(s.entry(i).unwrap(), Some(expect(i)), "entry {i}");
    }
    assert_eq!(s.entry(size).unwrap(), None);
    for (a, b) in [
        (0, 0),
        (0, 1),
        (0, 16),
        (15, 17),
        (16, 32),
        (5, 275),
        (0, 256),
        (256, 275),
        (274, 275),
        (275, 275),
    ] {
        let want: Vec<Vec<u8>> = (a..b).map(expect).collect();
        assert_eq!(s.entries(a, b).unwrap(), want, "entries [{a}, {b})");
    }
    assert!(matches!(s.entries(270, 276), Err(StoreError::Invalid(_))));
    assert!(matches!(s.entries(5, 4), Err(StoreError::Invalid(_))));
    // The largest entry a bundle can carry is stored; one byte more is not.
    let mut big = batch(size, 1, vec![]);
    big.entries[0] = vec![7u8; crate::tiles::MAX_ENTRY_LEN];
    s.commit_batch(&big).unwrap();
    assert_eq!(
        s.entry(size).unwrap().map(|e| e.len()),
        Some(crate::tiles::MAX_ENTRY_LEN)
    );
    let mut too_big = batch(size + 1, 1, vec![]);
    too_big.entries[0] = vec![7u8; crate::tiles::MAX_ENTRY_LEN + 1];
    assert!(matches!(
        s.commit_batch(&too_big),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.tree_state().unwrap().size, size + 1);
    assert_eq!(s.entry(size + 1).unwrap(), None);
}

/// Runs the whole suite against fresh stores from `make`.
macro_rules! conformance_suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn empty_store() {
                let (s, _guard) = $make;
                super::empty_store(&s);
            }
            #[test]
            fn commit_and_read_back() {
                let (s, _guard) = $make;
                super::commit_and_read_back(&s);
            }
            #[test]
            fn entries_across_batch_and_group_boundaries() {
                let (s, _guard) = $make;
                super::entries_across_batch_and_group_boundaries(&s);
            }
            #[test]
            fn conflicts_write_nothing() {
                let (s, _guard) = $make;
                super::conflicts_write_nothing(&s);
            }
            #[test]
            fn invalid_batches_write_nothing() {
                let (s, _guard) = $make;
                super::invalid_batches_write_nothing(&s);
            }
            #[test]
            fn tiles_grow_by_prefix_and_full_tiles_are_immutable() {
                let (s, _guard) = $make;
                super::tiles_grow_by_prefix_and_full_tiles_are_immutable(&s);
            }
            #[test]
            fn index_records_commit_with_the_batch() {
                let (s, _guard) = $make;
                super::index_records_commit_with_the_batch(&s);
            }
            #[test]
            fn dedup_finds_every_committed_hash() {
                let (s, _guard) = $make;
                super::dedup_finds_every_committed_hash(&s);
            }
            #[test]
            fn dedup_tells_apart_hashes_with_one_prefix() {
                let (s, _guard) = $make;
                super::dedup_tells_apart_hashes_with_one_prefix(&s);
            }
            #[test]
            fn checkpoint_moves_forward_by_cas() {
                let (s, _guard) = $make;
                super::checkpoint_moves_forward_by_cas(&s);
            }
        }
    };
}

conformance_suite!(memory, (MemoryStore::new(), ()));
conformance_suite!(sled, {
    let dir = tempfile::tempdir().unwrap();
    (SledStore::open(dir.path()).unwrap(), dir)
});

#[test]
fn memory_faults() {
    let s = MemoryStore::new();
    s.inject(Fault::FailBeforeCommit);
    assert_eq!(
        s.commit_batch(&batch(0, 2, vec![])),
        Err(StoreError::Injected)
    );
    assert_eq!(s.tree_state().unwrap().size, 0);
    assert_eq!(s.entry(0).unwrap(), None);
    let mut with_index = batch(0, 2, vec![]);
    with_index.index = vec![(b"k".to_vec(), b"v".to_vec())];
    s.inject(Fault::FailBeforeCommit);
    assert_eq!(s.commit_batch(&with_index), Err(StoreError::Injected));
    assert_eq!(s.index_get(b"k").unwrap(), None);
    s.inject(Fault::FailAfterCommit);
    assert_eq!(
        s.commit_batch(&batch(0, 2, vec![])),
        Err(StoreError::Injected)
    );
    assert_eq!(s.tree_state().unwrap().size, 2);
    assert_eq!(s.entry(1).unwrap(), Some(b"entry 1".to_vec()));
    // Faults are one-shot and queued in order.
    s.inject(Fault::FailBeforeCommit);
    s.inject(Fault::FailAfterCommit);
    let cp = PublishedCheckpoint {
        size: 2,
        note: b"n".to_vec(),
    };
    assert_eq!(s.publish_checkpoint(None, &cp), Err(StoreError::Injected));
    assert_eq!(s.published_checkpoint().unwrap(), None);
    assert_eq!(s.publish_checkpoint(None, &cp), Err(StoreError::Injected));
    assert_eq!(s.published_checkpoint().unwrap(), Some(cp.clone()));
    s.commit_batch(&batch(2, 1, vec![])).unwrap();
    s.publish_checkpoint(Some(2), &cp).unwrap();
}

#[test]
fn sled_persists_and_locks() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SledStore::open(dir.path()).unwrap();
        let mut b = batch(0, 3, vec![(key(0, 0), hashes(3, 1))]);
        b.index = vec![(b"persisted".to_vec(), b"yes".to_vec())];
        s.commit_batch(&b).unwrap();
        s.publish_checkpoint(
            None,
            &PublishedCheckpoint {
                size: 3,
                note: b"note".to_vec(),
            },
        )
        .unwrap();
        // A second opener (in this process, as another process would) is
        // refused with a clear message.
        match SledStore::open(dir.path()) {
            Err(StoreError::Locked(msg)) => assert!(msg.contains("in use"), "{msg}"),
            other => panic!("second open: {other:?}"),
        }
        assert!(s.size_on_disk().unwrap() > 0);
    }
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.tree_state().unwrap(), batch(0, 3, vec![]).new_state);
    assert_eq!(s.entries(0, 3).unwrap().len(), 3);
    assert_eq!(s.tile(key(0, 0)).unwrap(), Some(hashes(3, 1)));
    assert_eq!(s.dedup(&dedup_hash(2)).unwrap(), Some(2));
    assert_eq!(s.index_get(b"persisted").unwrap(), Some(b"yes".to_vec()));
    assert_eq!(s.published_checkpoint().unwrap().unwrap().size, 3);
}

#[test]
fn sled_refuses_another_store_format() {
    // A directory of another format version.
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SledStore::open(dir.path()).unwrap();
        s.commit_batch(&batch(0, 3, vec![])).unwrap();
        s.db_for_tests().insert(b"mformat", &b"4"[..]).unwrap();
        s.db_for_tests().flush().unwrap();
    }
    match SledStore::open(dir.path()) {
        Err(StoreError::Format(msg)) => {
            assert!(
                msg.contains("format \"4\"") && msg.contains("only format 3"),
                "{msg}"
            )
        }
        other => panic!("open of format 3: {other:?}"),
    }
    // Formats 1 and 2 used sled's default segment size, which sled refuses
    // to change: such a directory is refused with a clear message.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = ::sled::open(dir.path().join("db")).unwrap();
        db.insert(b"mformat", &b"2"[..]).unwrap();
        db.insert(b"d\0", &[0, 0, 0, 0, 0, 0, 0, 0][..]).unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(dir.path()) {
        Err(StoreError::Format(msg)) => {
            assert!(msg.contains("format 2 or older"), "{msg}")
        }
        other => panic!("open of format 2: {other:?}"),
    }
    // Data but no format record.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = ::sled::Config::new()
            .path(dir.path().join("db"))
            .segment_size(SEGMENT_BYTES)
            .open()
            .unwrap();
        db.insert(b"mstate", &[0, 0, 0, 0, 0, 0, 0, 1][..]).unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(dir.path()) {
        Err(StoreError::Format(msg)) => assert!(msg.contains("no store format record"), "{msg}"),
        other => panic!("open without a format record: {other:?}"),
    }
    // A new directory gets the current format, and opens again.
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        s.db_for_tests().get(b"mformat").unwrap().as_deref(),
        Some(&b"3"[..])
    );
}

#[test]
fn sled_creates_the_lru_clock_and_reads_it_per_entry() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let clock: Vec<_> = s.db_for_tests().scan_prefix(b"c").collect();
    assert_eq!(clock.len(), 4096);
    s.commit_batch(&batch(0, 5, vec![])).unwrap();
    s.commit_batch(&batch(5, 7, vec![])).unwrap();
    assert_eq!(s.clock_for_tests(), 12);
}

#[test]
fn sled_dedup_index_is_rebuilt_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut size = 0;
    {
        let s = SledStore::open(dir.path()).unwrap();
        // Batches that end inside, at and across 256-hash records.
        for n in [1, 254, 1, 300, 212, 3] {
            s.commit_batch(&batch(size, n, vec![])).unwrap();
            size += n as u64;
        }
    }
    let s = SledStore::open(dir.path()).unwrap();
    for i in 0..size {
        assert_eq!(s.dedup(&dedup_hash(i)).unwrap(), Some(i));
    }
    assert_eq!(s.dedup(&dedup_hash(size)).unwrap(), None);
    // Appends after the reopen extend the partial record.
    s.commit_batch(&batch(size, 10, vec![])).unwrap();
    assert_eq!(s.dedup(&dedup_hash(size + 9)).unwrap(), Some(size + 9));
    // A rebuild (what follows a write that failed in an unknown state)
    // finds the same.
    assert!(!s.mark_hashes_stale_for_tests());
    assert_eq!(s.dedup(&dedup_hash(3)).unwrap(), Some(3));
    assert!(!s.mark_hashes_stale_for_tests(), "the lookup rebuilt them");
    assert_eq!(s.dedup(&dedup_hash(size + 9)).unwrap(), Some(size + 9));
}

#[test]
fn sled_refuses_corrupt_envelope_hash_records() {
    let cases: Vec<(&[u8], Vec<u8>)> = vec![
        // A record that is not a whole number of hashes.
        (b"h\0\0\0\0\0\0\0\0", vec![1; 33]),
        // Fewer hashes than the tree has entries.
        (b"h\0\0\0\0\0\0\0\0", vec![1; 64]),
        // A gap: group 1 while group 0 is partial.
        (b"h\0\0\0\0\0\0\0\x01", vec![1; 32]),
        // A malformed key.
        (b"h\0", vec![1; 32]),
    ];
    for (key, value) in cases {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.commit_batch(&batch(0, 3, vec![])).unwrap();
            s.db_for_tests().insert(key, value).unwrap();
        }
        assert!(
            matches!(SledStore::open(dir.path()), Err(StoreError::Corrupt(_))),
            "{key:?}"
        );
    }
}

#[test]
fn sled_rejects_a_corrupt_entry_group() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.commit_batch(&batch(0, 3, vec![])).unwrap();
    // A length prefix running past the end of the record.
    s.db_for_tests()
        .insert(b"g\0\0\0\0\0\0\0\0", &[0u8, 9, b'x'][..])
        .unwrap();
    assert!(matches!(s.entry(0), Err(StoreError::Corrupt(_))));
    assert!(matches!(s.entries(0, 3), Err(StoreError::Corrupt(_))));
    // A group that holds fewer entries than the tree says cannot be
    // extended.
    s.db_for_tests()
        .insert(b"g\0\0\0\0\0\0\0\0", &[0u8, 1, b'x'][..])
        .unwrap();
    assert!(matches!(s.entries(0, 3), Err(StoreError::Corrupt(_))));
    assert!(matches!(
        s.commit_batch(&batch(3, 1, vec![])),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(s.tree_state().unwrap().size, 3);
}

/// Many batches, then every committed hash is found and no other.
pub(super) fn dedup_finds_every_committed_hash(s: &dyn Store) {
    let mut size = 0;
    for n in [1, 15, 16, 17, 400, 1000] {
        s.commit_batch(&batch(size, n, vec![])).unwrap();
        size += n as u64;
    }
    for i in 0..size {
        assert_eq!(s.dedup(&dedup_hash(i)).unwrap(), Some(i));
    }
    let mut absent = 0;
    for i in size..size + 5000 {
        absent += usize::from(s.dedup(&dedup_hash(i)).unwrap().is_none());
    }
    assert_eq!(absent, 5000);
}

/// Hashes that share their first 8 bytes (what an in-memory prefix index
/// keys on) are told apart, and a repeated hash answers its first index.
pub(super) fn dedup_tells_apart_hashes_with_one_prefix(s: &dyn Store) {
    let same_prefix = |last: u8| {
        let mut h = [0xab; 32];
        h[31] = last;
        h
    };
    let mut b = batch(0, 3, vec![]);
    b.envelope_hashes = vec![same_prefix(1), same_prefix(2), same_prefix(1)];
    s.commit_batch(&b).unwrap();
    assert_eq!(s.dedup(&same_prefix(1)).unwrap(), Some(0));
    assert_eq!(s.dedup(&same_prefix(2)).unwrap(), Some(1));
    assert_eq!(s.dedup(&same_prefix(3)).unwrap(), None);
}
