//! The client side of a log: fetching `/checkpoint`, hash tiles, entry bundles and the
//! vendor API over HTTP, and computing proofs from tiles (C2SP tlog-tiles, specs.md §7.6).
//!
//! The log is never trusted: every response is size-capped before it is read and parsed
//! strictly; a checkpoint is only returned once its signatures verified (against a
//! tlog-policy, specs.md §6.1, or a log key); tiles are authenticated against a verified
//! checkpoint by [`TileHashReader`] before any hash from them is used; an entry is only
//! returned with its inclusion proof, computed from those tiles and verified. The log's
//! proof API (`/v1/proof/...`) is not used at all. Answers of the vendor API
//! ([`LogClient::vendor`], [`LogClient::claim`]) are hints (which indexes to look at);
//! callers verify the entries they name from tiles.
//!
//! This layer is thin on purpose: the Merkle math, tile planning and authentication,
//! notes, checkpoints, policy and claim rules are the pure core's; here we only do the
//! HTTP requests those modules ask for. The tiles a proof needs are listed by
//! [`tiles_for_inclusion`] / [`tiles_for_consistency`], fetched, and handed to the pure
//! reader as a [`TileMap`].
//!
//! Also here: the saved checkpoint view ([`state`]). Out of scope: the evidence format
//! ([`crate::evidence`]).

mod bundle;
pub mod state;
#[cfg(test)]
mod tests;
mod vendor;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::merkle::{
    Hash, ProofError, leaf_hash, prove_consistency, prove_inclusion, stored_hash_index,
    verify_consistency, verify_inclusion,
};
use crate::note::{MAX_NOTE_SIZE, Note, NoteError, VerifierKey};
use crate::policy::{Policy, PolicyError, VerifiedCheckpoint};
use crate::tiles::{
    Bundle, FULL_WIDTH, MAX_ENTRY_LEN, MAX_LEVEL, TILE_HEIGHT, Tile, TileError, TileHashReader,
    TileReader, decode_bundle, tile_in_tree, tiles_for_consistency, tiles_for_inclusion,
    tiles_for_tree_hash,
};

pub use bundle::AssembleError;
pub use vendor::{ClaimInfo, HistoryInfo, ServiceInfo, VendorInfo, VendorsPage, VersionRef};

/// The largest tile accepted: a full tile of 256 hashes.
pub const MAX_TILE_BYTES: usize = FULL_WIDTH as usize * Hash::LEN;

/// The largest entry bundle accepted: 256 entries of the largest size with their
/// two-byte length prefixes (about 16 MiB).
pub const MAX_BUNDLE_BYTES: usize = FULL_WIDTH as usize * (2 + MAX_ENTRY_LEN);

/// The largest JSON answer of the vendor API accepted.
pub const MAX_JSON_BYTES: usize = 16 << 20;

/// Full tiles kept in memory by one client (8 KiB each: 32 MiB at most). Full tiles are
/// immutable, so a cached one never needs revalidation; it is still re-authenticated by
/// the pure reader on every use.
const TILE_CACHE_CAPACITY: usize = 4096;

/// Errors from fetching and verifying. Transport and status errors say which URL; the
/// others wrap the pure core's error for the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an absolute `http(s)://` URL without query or fragment.
    #[error("invalid log URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request failed (connection, timeout, TLS) or the client could not be built.
    #[error("{url}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The transport's message.
        message: String,
    },
    /// An unexpected HTTP status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body (at most 200 bytes, lossy UTF-8).
        body: String,
    },
    /// The response is larger than the cap for what was asked.
    #[error("{url}: response larger than {max} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The cap.
        max: usize,
    },
    /// The response is malformed (wrong length, not the expected JSON).
    #[error("{url}: {reason}")]
    BadResponse {
        /// The URL requested.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// `/checkpoint` is not a well-formed signed note.
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    /// `/checkpoint` is not a checkpoint, or the log key's signature does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// `/checkpoint` is not valid under the policy (log signature or witness quorum).
    #[error("checkpoint: {0}")]
    Policy(#[from] PolicyError),
    /// A tile or bundle is malformed, or tiles do not match the checkpoint's root.
    #[error("tiles: {0}")]
    Tile(#[from] TileError),
    /// A proof computed from tiles does not verify.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// An entry from an entry bundle is not the leaf the authenticated tiles
    /// hold at its index: the log serves entries its checkpoint does not commit to.
    #[error("entry {index} does not match the leaf hash the tiles authenticate")]
    EntryMismatch {
        /// The entry's index.
        index: u64,
    },
    /// A vendor-API answer names a version the verified entry contradicts.
    #[error(
        "the log's answer for entry {index} is wrong: {field} is {claimed}, the entry has {actual}"
    )]
    HintMismatch {
        /// The entry's index.
        index: u64,
        /// The field of the answer (`leafHash`, `statementSha256`, `integratedTime`).
        field: &'static str,
        /// What the answer says.
        claimed: String,
        /// What the verified entry says.
        actual: String,
    },
    /// The index is not in the tree of the checkpoint.
    #[error("index {index} is not in a tree of size {size}")]
    NotInTree {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
}

/// Timeouts of a [`LogClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Connection establishment.
    pub connect_timeout: Duration,
    /// A whole request, body included.
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    /// 10 s to connect, 60 s per request (a full bundle is up to 16 MiB).
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// An entry read from entry bundles and proven to be in a checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenEntry {
    /// The leaf index.
    pub index: u64,
    /// The entry bytes.
    pub entry: Vec<u8>,
    /// Its inclusion proof in the checkpoint's tree, leaf sibling first, verified.
    pub proof: Vec<Hash>,
}

/// A client of one log (its base URL), with a cache of full tiles.
#[derive(Debug)]
pub struct LogClient {
    http: reqwest::Client,
    base: String,
    tiles: Mutex<HashMap<Tile, Vec<u8>>>,
}

impl LogClient {
    /// A client of the log at `base` (e.g. `https://log.example/`), default timeouts.
    pub fn new(base: &str) -> Result<LogClient, ClientError> {
        LogClient::with_options(base, ClientOptions::default())
    }

    /// A client of the log at `base` with `options`.
    pub fn with_options(base: &str, options: ClientOptions) -> Result<LogClient, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidBaseUrl {
            url: base.to_owned(),
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(base).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| ClientError::Transport {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(LogClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            tiles: Mutex::new(HashMap::new()),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /checkpoint`, parsed as a signed note (not yet verified).
    pub async fn checkpoint_note(&self) -> Result<Note, ClientError> {
        let body = self.get_required("/checkpoint", MAX_NOTE_SIZE).await?;
        Ok(Note::parse(&body)?)
    }

    /// The log's checkpoint, valid under `policy`: signed by one of its logs named after
    /// the origin, with its witness quorum (tlog-policy, specs.md §6.1).
    pub async fn checkpoint(&self, policy: &Policy) -> Result<VerifiedCheckpoint, ClientError> {
        let note = self.checkpoint_note().await?;
        Ok(policy.verify_checkpoint(&note)?)
    }

    /// The log's checkpoint, signed by `key` (no witnesses required).
    pub async fn checkpoint_with_key(
        &self,
        key: &VerifierKey,
    ) -> Result<SignedCheckpoint, ClientError> {
        let note = self.checkpoint_note().await?;
        Ok(SignedCheckpoint::open(&note, [key])?)
    }

    /// The data of `tile`, exactly `tile.data_len()` bytes, NOT authenticated (use
    /// [`TileHashReader`] over a [`TileMap`]). A partial tile that is gone (the log may
    /// delete partial tiles once the full one exists, specs.md §7.2) is read as the
    /// prefix of the full tile.
    pub async fn tile(&self, tile: Tile) -> Result<Vec<u8>, ClientError> {
        let full = Tile::new(tile.level(), tile.index(), FULL_WIDTH)?;
        let cached = self.lock_tiles().get(&full).cloned();
        if let Some(data) = cached {
            return Ok(data[..tile.data_len()].to_vec());
        }
        if !tile.is_full()
            && let Some(data) = self
                .get_optional(&format!("/{}", tile.path()), MAX_TILE_BYTES)
                .await?
        {
            return self.check_len(&tile, data);
        }
        let url_path = format!("/{}", full.path());
        let data = self.get_required(&url_path, MAX_TILE_BYTES).await?;
        let data = self.check_len(&full, data)?;
        {
            let mut cache = self.lock_tiles();
            if cache.len() >= TILE_CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(full, data.clone());
        }
        Ok(data[..tile.data_len()].to_vec())
    }

    /// The data of every tile in `tiles` ([`LogClient::tile`]), as a [`TileMap`].
    pub async fn tiles(&self, tiles: &[Tile]) -> Result<TileMap, ClientError> {
        let mut map = TileMap::default();
        for &tile in tiles {
            if let std::collections::hash_map::Entry::Vacant(slot) = map.0.entry(tile) {
                slot.insert(self.tile(tile).await?);
            }
        }
        Ok(map)
    }

    /// The entries of entry bundle `bundle`, NOT authenticated (see
    /// [`LogClient::entry`] and [`LogClient::verified_entries`]). A partial bundle that
    /// is gone is read from the full one.
    pub async fn entry_bundle(&self, bundle: Bundle) -> Result<Vec<Vec<u8>>, ClientError> {
        let width = usize::from(bundle.width());
        let path = format!("/{}", bundle.path());
        let data = match self.get_optional(&path, MAX_BUNDLE_BYTES).await? {
            Some(data) => data,
            None if bundle.width() < FULL_WIDTH => {
                let full = Bundle::new(bundle.index(), FULL_WIDTH)?;
                let data = self
                    .get_required(&format!("/{}", full.path()), MAX_BUNDLE_BYTES)
                    .await?;
                let mut entries = decode_bundle(&data, usize::from(FULL_WIDTH))?;
                entries.truncate(width);
                return Ok(entries.into_iter().map(<[u8]>::to_vec).collect());
            }
            None => return Err(self.not_found(&path)),
        };
        let entries = decode_bundle(&data, width)?;
        Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// The inclusion proof of leaf `index` in `checkpoint`'s tree, computed from tiles
    /// authenticated against its root (not yet checked against a leaf).
    pub async fn inclusion_proof(
        &self,
        checkpoint: &Checkpoint,
        index: u64,
    ) -> Result<Vec<Hash>, ClientError> {
        let size = checkpoint.size();
        if index >= size {
            return Err(ClientError::NotInTree { index, size });
        }
        let tiles = self.tiles(&tiles_for_inclusion(size, index)?).await?;
        let reader = TileHashReader::new(size, *checkpoint.root(), &tiles);
        Ok(prove_inclusion(size, index, &reader)?)
    }

    /// The entry at `index` in `checkpoint`'s tree, with its inclusion proof computed
    /// from authenticated tiles and verified against the entry's leaf hash.
    pub async fn entry(
        &self,
        checkpoint: &Checkpoint,
        index: u64,
    ) -> Result<ProvenEntry, ClientError> {
        let size = checkpoint.size();
        let proof = self.inclusion_proof(checkpoint, index).await?;
        let bundle = bundle_in_tree(size, index)?;
        let mut entries = self.entry_bundle(bundle).await?;
        // `bundle_in_tree` chose the bundle holding `index`, and `entry_bundle` returned
        // exactly `bundle.width()` entries.
        let pos = usize::try_from(index % u64::from(FULL_WIDTH))
            .map_err(|_| ClientError::NotInTree { index, size })?;
        if pos >= entries.len() {
            return Err(ClientError::NotInTree { index, size });
        }
        let entry = entries.swap_remove(pos);
        verify_inclusion(index, size, &leaf_hash(&entry), &proof, checkpoint.root())?;
        Ok(ProvenEntry {
            index,
            entry,
            proof,
        })
    }

    /// The entries `start..end` of `checkpoint`'s tree, authenticated: their leaf hashes
    /// must equal the level-0 hashes of tiles authenticated against the root. Reads one
    /// bundle and its level-0 tile (plus the tiles above it) per 256 entries.
    pub async fn verified_entries(
        &self,
        checkpoint: &Checkpoint,
        start: u64,
        end: u64,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let size = checkpoint.size();
        if start > end || end > size {
            return Err(ClientError::NotInTree { index: end, size });
        }
        let width = u64::from(FULL_WIDTH);
        let mut out = Vec::new();
        let mut n = start / width;
        while n * width < end {
            let bundle = bundle_in_tree(size, n * width)?;
            let entries = self.entry_bundle(bundle).await?;
            let first = n * width;
            let indexes: Vec<u64> = (0..entries.len() as u64)
                .map(|i| stored_hash_index(0, first + i))
                .collect();
            // The right edge, and the bundle's level-0 tile with every tile above it:
            // a superset of what the authenticated reader asks for.
            let mut plan = tiles_for_tree_hash(size)?;
            plan.extend((0..=MAX_LEVEL).map_while(|level| {
                let index = n.checked_shr(TILE_HEIGHT * u32::from(level)).unwrap_or(0);
                tile_in_tree(size, level, index)
            }));
            let tiles = self.tiles(&plan).await?;
            let reader = TileHashReader::new(size, *checkpoint.root(), &tiles);
            let hashes = reader.read_hashes_checked(&indexes)?;
            for (i, (entry, want)) in entries.into_iter().zip(hashes).enumerate() {
                let index = first + i as u64;
                if leaf_hash(&entry) != want {
                    return Err(ClientError::EntryMismatch { index });
                }
                if (start..end).contains(&index) {
                    out.push(entry);
                }
            }
            n += 1;
        }
        Ok(out)
    }

    /// The consistency proof from `old` to `new` (same log), computed from tiles
    /// authenticated against `new` and verified against `old`'s root. Empty when `old`
    /// is empty or equal in size (then the roots must be equal).
    pub async fn consistency_proof(
        &self,
        old: &Checkpoint,
        new: &Checkpoint,
    ) -> Result<Vec<Hash>, ClientError> {
        let (m, n) = (old.size(), new.size());
        if m > n {
            return Err(ClientError::Proof(ProofError::OldSizeGreater {
                old: m,
                new: n,
            }));
        }
        if m == 0 {
            // RFC 9162 §2.1.4: there is no proof from the empty tree; everything extends it.
            return Ok(Vec::new());
        }
        if m == n {
            verify_consistency(m, n, &[], old.root(), new.root())?;
            return Ok(Vec::new());
        }
        let proof = self.prove_consistency(m, new).await?;
        verify_consistency(m, n, &proof, old.root(), new.root())?;
        Ok(proof)
    }

    /// The consistency proof from the tree of `old_size` leaves to `new`'s tree,
    /// computed from tiles authenticated against `new`'s root, for the caller to verify
    /// against an old root (e.g. with [`crate::view::check_advance`]).
    /// `0 < old_size < new.size()`.
    pub async fn prove_consistency(
        &self,
        old_size: u64,
        new: &Checkpoint,
    ) -> Result<Vec<Hash>, ClientError> {
        let n = new.size();
        let tiles = self.tiles(&tiles_for_consistency(old_size, n)?).await?;
        let reader = TileHashReader::new(n, *new.root(), &tiles);
        Ok(prove_consistency(old_size, n, &reader)?)
    }

    fn lock_tiles(&self) -> std::sync::MutexGuard<'_, HashMap<Tile, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map inconsistent (every
        // mutation is a single insert or clear), so a poisoned lock is still usable.
        self.tiles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_len(&self, tile: &Tile, data: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        if data.len() != tile.data_len() {
            return Err(ClientError::Tile(TileError::BadTileData {
                path: tile.path(),
                got: data.len(),
                expected: tile.data_len(),
            }));
        }
        Ok(data)
    }

    fn not_found(&self, path: &str) -> ClientError {
        ClientError::Status {
            url: format!("{}{path}", self.base),
            status: 404,
            body: String::new(),
        }
    }

    /// `GET <base><path>` whose 404 is an error.
    async fn get_required(&self, path: &str, max: usize) -> Result<Vec<u8>, ClientError> {
        self.get_optional(path, max)
            .await?
            .ok_or_else(|| self.not_found(path))
    }

    /// `GET <base><path>`: the body of a 200 (at most `max` bytes), `None` for a 404.
    async fn get_optional(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.clone(),
            message: e.to_string(),
        };
        let mut resp = self.http.get(&url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(ClientError::TooLarge { url, max });
        }
        // Read the body with the cap, whatever the status, so that an error body is
        // bounded too.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > max {
                return Err(ClientError::TooLarge { url, max });
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            _ => {
                body.truncate(200);
                Err(ClientError::Status {
                    url,
                    status,
                    body: String::from_utf8_lossy(&body).trim_end().to_owned(),
                })
            }
        }
    }
}

/// Fetched tiles by coordinates: a [`TileReader`] for [`TileHashReader`], which
/// authenticates them on every read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileMap(pub HashMap<Tile, Vec<u8>>);

impl TileReader for TileMap {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(t)
                    .cloned()
                    .ok_or_else(|| TileError::Reader(format!("tile {} was not fetched", t.path())))
            })
            .collect()
    }
}

/// The entry bundle of the tree of `size` leaves that holds leaf `index`.
fn bundle_in_tree(size: u64, index: u64) -> Result<Bundle, ClientError> {
    if index >= size {
        return Err(ClientError::NotInTree { index, size });
    }
    let width = u64::from(FULL_WIDTH);
    let n = index / width;
    // At most 256: the tree has more than n × 256 leaves.
    let w = (size - n * width).min(width);
    let w = u16::try_from(w).map_err(|_| ClientError::NotInTree { index, size })?;
    Ok(Bundle::new(n, w)?)
}
