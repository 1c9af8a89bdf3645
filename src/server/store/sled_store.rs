//! The on-disk [`Store`]: one sled tree with prefixed keys, one sled `Batch`
//! per write (sled applies a batch atomically), then `flush()` (which fsyncs)
//! before returning. A lock file in the data directory keeps a second process
//! out.
//!
//! Store format 3 (the `mformat` record, and sled's segment size of
//! [`SEGMENT_BYTES`]; a data directory of another format is refused at open
//! with [`StoreError::Format`]). Key layout (all integers big-endian, so
//! sled's byte order is index order):
//! - `g` ‖ group u64 → the entries `[16·group, 16·group + k)`, `1 <= k <= 16`,
//!   each as a big-endian u16 length and the entry bytes (the tlog-tiles
//!   entry-bundle encoding, c2sp.org/tlog-tiles "Log entries"),
//! - `t` ‖ level u8 ‖ index u64 → tile bytes
//! - `h` ‖ group u64 → the canonical envelope hashes of the entries
//!   `[256·group, 256·group + k)`, `1 <= k <= 256`, 32 bytes each: the dedup
//!   index on disk, in index order
//! - `x` ‖ secondary index key → value
//! - `mstate` → size u64 ‖ edge bytes
//! - `mcheckpoint` → size u64 ‖ note bytes
//! - `c` ‖ u16 → empty, 4,096 records written when the store is created
//!   (the LRU clock, below)
//! - `mformat` → `3` (ASCII)
//!
//! Why entry groups: sled 0.34 copies a whole tree node (up to 16 items) on
//! every insert and writes a log record for it, so one key per entry made
//! the entries the largest part of a commit's CPU cost. A group holds 16
//! entries, so a batch of n entries costs about n/16 + 1 inserts; the group
//! at the right edge is rewritten as it fills (at most 15 entries copied
//! again per batch), like the partial tiles. 16 (not 256, a whole data
//! tile) keeps a group of ~1 KiB entries well under sled's inline message
//! limit (a quarter of its 512 KiB segment); bigger values go to one blob
//! file each. Reading an entry is one get; an entry bundle (256 entries) is
//! one range read of 16 groups.
//!
//! The dedup index: hashes are uniformly random, so format 2's hash-keyed
//! `d` ‖ hash → index records made every new entry rewrite one random sled
//! leaf (~20-25 µs of CPU per entry at 500k entries). Format 3 stores the
//! hashes in index order, 256 to an `h` record (rewritten at the right edge
//! like a partial tile), and looks them up through an in-memory
//! [`PrefixIndex`] of their first 8 bytes (16 bytes of memory per entry),
//! built from the `h` records at open (one sequential read of 32 bytes per
//! entry) and confirmed against the full hash on a match.
//!
//! The LRU clock: sled 0.34 applies its page-cache LRU lazily. Each of its
//! 256 shards queues page accesses in 64 slots and evicts only when a queue
//! fills, so `cache_capacity` binds only where accesses are frequent. An
//! append-only log touches few pages per entry, so the queues rarely filled
//! and written pages (entry groups above all) stayed resident: without
//! format 2's random-keyed `d` records, which happened to fill every queue,
//! the server held ~50 MiB more after 60,000 entries. So each append reads
//! one `c` record per entry, stepping through all 4,096 of them (small,
//! resident, spread over the shards): ~1 µs per entry instead of the ~20 µs
//! a `d` insert cost.
//!
//! Why 2 MiB segments: sled writes a tree node bigger than a quarter of a
//! segment to a file of its own (a "blob"). A leaf holds up to 17 entry
//! groups, ~300 KiB for 1 KiB entries, so with sled's default 512 KiB
//! segments most entry-leaf rewrites created, wrote and later deleted a file
//! (282 files for 30,000 entries; file creation was ~4% of the server's CPU
//! under load). 2 MiB segments keep leaves of entries up to ~1.8 KiB in the
//! log; bigger entries (claims, ~4.5 KiB) still go to blobs. Bigger segments
//! cost memory: sled holds several segment-sized I/O buffers while flushes
//! are frequent (nine 8 MiB buffers, 72 MiB, were seen at once). sled
//! refuses to reopen a database with another segment size, which is why the
//! size is part of the format.
//!
//! Format 2 (512 KiB segments, `d` records) and format 1 (no `mformat`
//! record, `e` ‖ index → entry) are not converted.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fs2::FileExt as _;

use super::prefix_index::{PrefixIndex, prefix};
use super::{
    CommitBatch, IndexRecord, PublishedCheckpoint, Store, StoreError, TileKey, TreeState,
    check_batch, check_publish, check_tile_growth,
};

const STATE_KEY: &[u8] = b"mstate";
const CHECKPOINT_KEY: &[u8] = b"mcheckpoint";
const FORMAT_KEY: &[u8] = b"mformat";

/// The store format this version writes and reads (see the module doc).
pub const STORE_FORMAT: u32 = 3;

/// sled's segment size (its I/O buffer and log segment) for format 3.
pub const SEGMENT_BYTES: usize = 2 * 1024 * 1024;

/// Records of the LRU clock (see the module doc).
const CLOCK_RECORDS: u64 = 4096;

/// Entries per stored entry group.
const GROUP: u64 = 16;

/// Envelope hashes per stored hash record.
const HASH_GROUP: u64 = 256;

/// Bytes in one envelope hash.
const HASH_LEN: usize = 32;

/// How a per-entry sequence is stored `per` to a record (see
/// `SledStore::append_grouped`).
#[derive(Clone, Copy)]
struct Grouped {
    /// The record key of group `index / per`.
    key: fn(u64) -> [u8; 9],
    /// Items per record.
    per: u64,
    /// What a stored partial record that does not fit is reported as.
    what: &'static str,
}

/// The entries, 16 to a `g` record.
const ENTRY_GROUPS: Grouped = Grouped {
    key: group_key,
    per: GROUP,
    what: "partial entry group",
};

/// The envelope hashes, 256 to an `h` record.
const HASH_RECORDS: Grouped = Grouped {
    key: hash_key,
    per: HASH_GROUP,
    what: "partial envelope hash",
};

/// A [`Store`] on sled in a data directory that this process owns
/// exclusively while the value lives.
pub struct SledStore {
    db: sled::Db,
    /// Serializes the conditional writes: check, then apply. Other processes
    /// are kept out by `_lock`, so check-then-apply is atomic.
    write: Mutex<()>,
    /// The in-memory side of the dedup index.
    hashes: Mutex<Hashes>,
    /// The next LRU clock record to read.
    clock: std::sync::atomic::AtomicU64,
    /// Holds the exclusive lock on `<dir>/LOCK` until dropped.
    _lock: File,
    dir: PathBuf,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish()
    }
}

/// The dedup index's in-memory prefixes, and whether they may lag the disk.
#[derive(Debug)]
struct Hashes {
    index: PrefixIndex,
    /// Set when a write failed in a way that may or may not have applied
    /// it: the next lookup rebuilds `index` from the `h` records first.
    stale: bool,
}

/// The default sled page cache limit (`sled_cache_bytes`).
pub const DEFAULT_SLED_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl SledStore {
    /// Opens (creating if needed) the store in `dir`, taking an exclusive
    /// lock on `dir/LOCK`. Fails with [`StoreError::Locked`] if another
    /// process has the directory open.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(dir, DEFAULT_SLED_CACHE_BYTES)
    }

    /// [`SledStore::open`] with sled's page cache limited to `cache_bytes`.
    /// sled counts its cache by the records' serialized size; the heap it
    /// takes is larger (BENCHMARKS.md "Memory bound").
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Backend(format!("opening {}: {e}", lock_path.display())))?;
        if lock.try_lock_exclusive().is_err() {
            return Err(StoreError::Locked(format!(
                "data directory {} is in use by another claimlog process (lock {} is held)",
                dir.display(),
                lock_path.display()
            )));
        }
        let db = open_sled(&dir.join("db"), cache_bytes).map_err(|e| match e {
            // The one setting sled refuses to change across restarts
            // that we set: a database from before format 3.
            sled::Error::Unsupported(why) => StoreError::Format(format!(
                "data directory {} was written with another sled segment size (store \
                     format 2 or older; sled says: {why}); this claimlog reads only format \
                     {STORE_FORMAT}: run the claimlog version that wrote it, or start a new \
                     data directory",
                dir.display()
            )),
            e => backend(e),
        })?;
        check_format(&db, dir)?;
        let index = load_prefix_index(&db)?;
        Ok(SledStore {
            db,
            write: Mutex::new(()),
            hashes: Mutex::new(Hashes {
                index,
                stale: false,
            }),
            clock: std::sync::atomic::AtomicU64::new(0),
            _lock: lock,
            dir: dir.to_path_buf(),
        })
    }

    /// Bytes sled reports using on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }

    /// The sled database, for tests that plant records by hand.
    #[cfg(test)]
    pub(super) fn db_for_tests(&self) -> &sled::Db {
        &self.db
    }

    /// Clock ticks so far.
    #[cfg(test)]
    pub(super) fn clock_for_tests(&self) -> u64 {
        self.clock.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the in-memory dedup prefixes stale, as a write that failed in
    /// an unknown state does; returns whether they were stale.
    #[cfg(test)]
    pub(super) fn mark_hashes_stale_for_tests(&self) -> bool {
        std::mem::replace(&mut self.lock_hashes().stale, true)
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded value is `()`: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn published_size(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.published_checkpoint()?.map(|c| c.size))
    }

    fn lock_hashes(&self) -> std::sync::MutexGuard<'_, Hashes> {
        // Every update leaves `Hashes` consistent or marks it stale before
        // it can fail, so a poisoned lock is still usable.
        self.hashes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds to `b` the records holding `items`, the items of indexes
    /// `start..`, laid out as `layout` says. The first record may be the
    /// stored partial one: it is read back (`stored` counts its items, which
    /// must be exactly those before `start`) and rewritten with the new items
    /// appended, like a partial tile.
    fn append_grouped<T>(
        &self,
        b: &mut sled::Batch,
        layout: &Grouped,
        start: u64,
        items: &[T],
        stored: impl Fn(&[u8]) -> Result<usize, StoreError>,
        encode: impl Fn(&mut Vec<u8>, &T),
    ) -> Result<(), StoreError> {
        let Grouped { key, per, what } = *layout;
        let mut next = start;
        let mut rest = items;
        while !rest.is_empty() {
            let (group, offset) = (next / per, (next % per) as usize);
            // `per` is at most 256, so it fits in a usize.
            let take = rest.len().min(per as usize - offset);
            let mut value = Vec::new();
            if offset > 0 {
                let old = self.db.get(key(group)).map_err(backend)?;
                let old = old.as_deref().unwrap_or_default();
                if stored(old)? != offset {
                    return Err(corrupt(what));
                }
                value.extend_from_slice(old);
            }
            for item in &rest[..take] {
                encode(&mut value, item);
            }
            b.insert(&key(group)[..], value);
            next += take as u64;
            rest = &rest[take..];
        }
        Ok(())
    }

    /// Reads `n` LRU clock records, so that sled's page-cache queues fill
    /// and evict (see the module doc).
    fn tick_clock(&self, n: u64) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let start = self.clock.fetch_add(n, Ordering::Relaxed);
        for i in start..start.wrapping_add(n) {
            self.db.get(clock_key(i)).map_err(backend)?;
        }
        Ok(())
    }

    /// The stored envelope hash of entry `index`, if the tree has it.
    fn envelope_hash(&self, index: u64) -> Result<Option<[u8; HASH_LEN]>, StoreError> {
        let Some(v) = self.db.get(hash_key(index / HASH_GROUP)).map_err(backend)? else {
            return Ok(None);
        };
        // The remainder is below 256.
        let at = (index % HASH_GROUP) as usize * HASH_LEN;
        match v.get(at..at + HASH_LEN) {
            Some(h) => Ok(Some(h.try_into().map_err(|_| corrupt("hash"))?)),
            None => Ok(None),
        }
    }
}

impl Store for SledStore {
    fn tree_state(&self) -> Result<TreeState, StoreError> {
        let Some(v) = self.db.get(STATE_KEY).map_err(backend)? else {
            return Ok(TreeState::default());
        };
        let (size, edge) = split_u64(&v).ok_or_else(|| corrupt("tree state"))?;
        Ok(TreeState {
            size,
            edge: edge.to_vec(),
        })
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(group) = self.db.get(group_key(index / GROUP)).map_err(backend)? else {
            return Ok(None);
        };
        // The remainder is below 16.
        let k = (index % GROUP) as usize;
        Ok(parse_group(&group)?.get(k).map(|e| e.to_vec()))
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let size = self.tree_state()?.size;
        if start > end || end > size {
            return Err(StoreError::Invalid(format!(
                "entries [{start}, {end}) beyond the tree size {size}"
            )));
        }
        if start == end {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        // The groups overlapping [start, end), in index order; a group
        // missing from the range would show up as a count mismatch.
        let (first, last) = (start / GROUP, (end - 1) / GROUP);
        for item in self.db.range(group_key(first)..=group_key(last)) {
            let (k, v) = item.map_err(backend)?;
            let Some((group, [])) = k.get(1..).and_then(split_u64) else {
                return Err(corrupt("entry group key"));
            };
            for (i, e) in parse_group(&v)?.into_iter().enumerate() {
                let index = group * GROUP + i as u64;
                if (start..end).contains(&index) {
                    out.push(e.to_vec());
                }
            }
        }
        if out.len() as u64 != end - start {
            return Err(corrupt("entry group"));
        }
        Ok(out)
    }

    fn tile(&self, key: TileKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(tile_key(key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn dedup(&self, envelope_hash: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        let candidates = {
            let mut hashes = self.lock_hashes();
            if hashes.stale {
                hashes.index = load_prefix_index(&self.db)?;
                hashes.stale = false;
            }
            hashes.index.candidates(prefix(envelope_hash))
        };
        // Almost always none (a new hash) or one (a resubmission); more only
        // on a 64-bit prefix collision. Ascending, so the lowest index wins.
        for index in candidates {
            if self.envelope_hash(index)?.as_ref() == Some(envelope_hash) {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    fn index_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(index_key(key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn index_scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<IndexRecord>, StoreError> {
        let full_prefix = index_key(prefix);
        // Start just after `after` (its key followed by a zero byte is the
        // next possible key), or at the prefix.
        let start = match after {
            Some(a) if a >= prefix => {
                let mut s = index_key(a);
                s.push(0);
                s
            }
            _ => full_prefix.clone(),
        };
        let mut out = Vec::new();
        for item in self.db.range(start..) {
            let (k, v) = item.map_err(backend)?;
            if !k.starts_with(&full_prefix) || out.len() >= limit {
                break;
            }
            // Every key in this range starts with the one-byte `x` tag.
            out.push((k[1..].to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn commit_batch(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let guard = self.lock_writes();
        check_batch(batch, self.tree_state()?.size)?;
        let mut b = sled::Batch::default();
        for (key, data) in &batch.tiles {
            if let Some(old) = self.db.get(tile_key(*key)).map_err(backend)? {
                check_tile_growth(*key, &old, data)?;
            }
            b.insert(&tile_key(*key)[..], data.as_slice());
        }
        // Entries 16 to a group, envelope hashes 256 to a record.
        self.append_grouped(
            &mut b,
            &ENTRY_GROUPS,
            batch.previous_size,
            &batch.entries,
            |old| Ok(parse_group(old)?.len()),
            |value, entry| {
                // `check_batch` capped every entry at `MAX_ENTRY_LEN`.
                value.extend_from_slice(&(entry.len() as u16).to_be_bytes());
                value.extend_from_slice(entry);
            },
        )?;
        self.append_grouped(
            &mut b,
            &HASH_RECORDS,
            batch.previous_size,
            &batch.envelope_hashes,
            |old| match old.len() % HASH_LEN {
                0 => Ok(old.len() / HASH_LEN),
                _ => Err(corrupt("partial envelope hash")),
            },
            |value, hash| value.extend_from_slice(hash),
        )?;
        for (key, value) in &batch.index {
            b.insert(index_key(key), value.as_slice());
        }
        let mut state = Vec::with_capacity(8 + batch.new_state.edge.len());
        state.extend_from_slice(&batch.new_state.size.to_be_bytes());
        state.extend_from_slice(&batch.new_state.edge);
        b.insert(STATE_KEY, state);
        // One batch: sled makes it visible and recovers it all or nothing.
        {
            let mut hashes = self.lock_hashes();
            if let Err(e) = self.db.apply_batch(b) {
                hashes.stale = true;
                return Err(backend(e));
            }
            // Visible in sled now, so visible to lookups now (reads see
            // applied batches, as `get` does, before the flush below).
            for (index, hash) in (batch.previous_size..).zip(&batch.envelope_hashes) {
                hashes.index.insert(prefix(hash), index);
            }
        }
        // The conditional part is done; flush without holding the write
        // lock, so a checkpoint publication does not queue behind this fsync
        // (and vice versa). sled's log is recovered as a prefix, and a flush
        // covers everything applied before it, so a later write never
        // becomes durable without this one.
        drop(guard);
        // Durability rule: nothing is acknowledged before this returns.
        self.db.flush().map_err(backend)?;
        self.tick_clock(batch.entries.len() as u64)?;
        Ok(())
    }

    fn published_checkpoint(&self) -> Result<Option<PublishedCheckpoint>, StoreError> {
        let Some(v) = self.db.get(CHECKPOINT_KEY).map_err(backend)? else {
            return Ok(None);
        };
        let (size, note) = split_u64(&v).ok_or_else(|| corrupt("checkpoint"))?;
        Ok(Some(PublishedCheckpoint {
            size,
            note: note.to_vec(),
        }))
    }

    fn publish_checkpoint(
        &self,
        expected_size: Option<u64>,
        new: &PublishedCheckpoint,
    ) -> Result<(), StoreError> {
        let guard = self.lock_writes();
        check_publish(
            expected_size,
            self.published_size()?,
            new,
            self.tree_state()?.size,
        )?;
        let mut v = Vec::with_capacity(8 + new.note.len());
        v.extend_from_slice(&new.size.to_be_bytes());
        v.extend_from_slice(&new.note);
        self.db.insert(CHECKPOINT_KEY, v).map_err(backend)?;
        // As in `commit_batch`: flush outside the write lock, so the
        // sequencer's next batch is not held up by this fsync.
        drop(guard);
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}

/// Opens the sled database. Our `LOCK` is held, so no other process has it;
/// but a store dropped a moment ago in this process may still be closing
/// (sled's background threads release its own file lock last), so a busy
/// sled lock is retried for up to 5 s.
fn open_sled(path: &Path, cache_bytes: usize) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes as u64)
            .mode(sled::Mode::HighThroughput)
            .segment_size(SEGMENT_BYTES)
            .open();
        match opened {
            // sled 0.34 reports its busy lock as an `Other` I/O error with
            // this message (config.rs, `Config::open_file`).
            Err(sled::Error::Io(e))
                if e.to_string().starts_with("could not acquire lock on")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed {what} record"))
}

/// Checks the store format record, writing it into a new (empty) store.
fn check_format(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let expected = STORE_FORMAT.to_string();
    match db.get(FORMAT_KEY).map_err(backend)? {
        Some(v) if v.as_ref() == expected.as_bytes() => Ok(()),
        Some(v) => Err(StoreError::Format(format!(
            "data directory {} holds store format {:?}; this claimlog reads only format \
             {STORE_FORMAT}: run the claimlog version that wrote it, or start a new data directory",
            dir.display(),
            String::from_utf8_lossy(&v)
        ))),
        None if db.first().map_err(backend)?.is_none() => {
            let mut b = sled::Batch::default();
            for i in 0..CLOCK_RECORDS {
                b.insert(&clock_key(i)[..], &[][..]);
            }
            b.insert(FORMAT_KEY, expected.as_bytes());
            db.apply_batch(b).map_err(backend)?;
            db.flush().map_err(backend)?;
            Ok(())
        }
        None => Err(StoreError::Format(format!(
            "data directory {} holds data but no store format record; this claimlog reads \
             only format {STORE_FORMAT}: start a new data directory",
            dir.display()
        ))),
    }
}

/// The entries of a stored group: u16-length-prefixed, 1 to 16 of them,
/// nothing left over.
fn parse_group(mut v: &[u8]) -> Result<Vec<&[u8]>, StoreError> {
    let mut out = Vec::with_capacity(GROUP as usize);
    while !v.is_empty() {
        let Some((len, rest)) = v.split_first_chunk::<2>() else {
            return Err(corrupt("entry group"));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len || out.len() == GROUP as usize {
            return Err(corrupt("entry group"));
        }
        let (entry, rest) = rest.split_at(len);
        out.push(entry);
        v = rest;
    }
    Ok(out)
}

fn group_key(group: u64) -> [u8; 9] {
    let mut k = [b'g'; 9];
    k[1..].copy_from_slice(&group.to_be_bytes());
    k
}

fn tile_key(key: TileKey) -> [u8; 10] {
    let mut k = [b't'; 10];
    k[1] = key.level;
    k[2..].copy_from_slice(&key.index.to_be_bytes());
    k
}

/// The clock record for tick `tick` (taken modulo [`CLOCK_RECORDS`]).
fn clock_key(tick: u64) -> [u8; 3] {
    // Below 4,096, so it fits in a u16.
    let i = (tick % CLOCK_RECORDS) as u16;
    let mut k = [b'c'; 3];
    k[1..].copy_from_slice(&i.to_be_bytes());
    k
}

fn hash_key(group: u64) -> [u8; 9] {
    let mut k = [b'h'; 9];
    k[1..].copy_from_slice(&group.to_be_bytes());
    k
}

/// The dedup index's prefixes from the `h` records, which must cover
/// exactly the tree: contiguous, full but for the last, 32 bytes a hash.
fn load_prefix_index(db: &sled::Db) -> Result<PrefixIndex, StoreError> {
    let size = match db.get(STATE_KEY).map_err(backend)? {
        Some(v) => split_u64(&v).ok_or_else(|| corrupt("tree state"))?.0,
        None => 0,
    };
    // The size comes from disk: reserve for it only within reason.
    let mut pairs = Vec::with_capacity(size.min(1 << 24) as usize);
    let mut next = 0u64;
    for item in db.scan_prefix(b"h") {
        let (k, v) = item.map_err(backend)?;
        let Some((group, [])) = k.get(1..).and_then(split_u64) else {
            return Err(corrupt("envelope hash key"));
        };
        let n = (v.len() / HASH_LEN) as u64;
        if group.checked_mul(HASH_GROUP) != Some(next)
            || v.len() % HASH_LEN != 0
            || !(1..=HASH_GROUP).contains(&n)
        {
            return Err(corrupt("envelope hash"));
        }
        for (index, h) in (next..).zip(v.chunks_exact(HASH_LEN)) {
            // `chunks_exact` yields 32-byte slices.
            let h: &[u8; HASH_LEN] = h.try_into().map_err(|_| corrupt("envelope hash"))?;
            pairs.push((prefix(h), index));
        }
        next += n;
    }
    if next != size {
        return Err(StoreError::Corrupt(format!(
            "envelope hash records cover {next} entries, the tree has {size}"
        )));
    }
    Ok(PrefixIndex::from_pairs(pairs))
}

fn index_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(b'x');
    k.extend_from_slice(key);
    k
}

/// Splits a big-endian u64 off the front of a record.
fn split_u64(v: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = v.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}
