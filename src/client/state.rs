//! The client's saved view of each log (as Go's sumdb client keeps its latest tree):
//! the newest verified checkpoint per origin, in a state directory, and the move to a
//! newer one, proven consistent from tiles ([`crate::view::check_advance`]).
//!
//! Files: `<dir>/<origin, %-escaped>.checkpoint` holds the signed note verbatim. A save
//! writes a temporary file, syncs it, renames it over the old one and syncs the
//! directory, so a crash leaves either the old or the new checkpoint. Updates hold an
//! exclusive lock on `<dir>/.lock`, so two verifications running at once cannot
//! replace a newer checkpoint with an older one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use fs2::FileExt as _;

use super::{ClientError, LogClient};
use crate::checkpoint::{Checkpoint, Origin};
use crate::note::{MAX_NOTE_SIZE, Note};
use crate::view::{Advance, ViewError, check_advance};

/// Errors of the saved view.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing the state directory failed.
    #[error("state directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A saved checkpoint is unreadable (too large, not a checkpoint note, another
    /// origin): the state was tampered with or corrupted.
    #[error("saved checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Computing the consistency proof from tiles failed (not a verdict on the log).
    #[error("consistency with the saved checkpoint: {0}")]
    Client(#[from] ClientError),
    /// The new checkpoint does not extend the saved one: the log went backwards or
    /// forked. Both checkpoints are kept for the report.
    #[error("{error}")]
    Fork {
        /// What is wrong.
        error: ViewError,
        /// The saved checkpoint note, verbatim.
        saved: String,
        /// The new checkpoint note, verbatim.
        new: String,
    },
}

/// A state directory holding the newest verified checkpoint of each log.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<CheckpointStore, StateError> {
        fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(CheckpointStore {
            dir: dir.to_owned(),
        })
    }

    /// The default directory: `$XDG_STATE_HOME/claimlog`, else
    /// `$HOME/.local/state/claimlog`; `None` if neither variable is set.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local").join("state"))
            })?;
        Some(base.join("claimlog"))
    }

    /// The file that holds `origin`'s checkpoint.
    pub fn path(&self, origin: &Origin) -> PathBuf {
        let mut name = String::with_capacity(origin.as_str().len() + 11);
        for (i, b) in origin.as_str().bytes().enumerate() {
            // Escape everything but a safe set, and a leading dot (no hidden files,
            // no `.`/`..`), so any origin maps to one plain file name.
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
                name.push(char::from(b));
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        name.push_str(".checkpoint");
        self.dir.join(name)
    }

    /// The saved checkpoint note of `origin`, if any.
    pub fn load(&self, origin: &Origin) -> Result<Option<(Note, Checkpoint)>, StateError> {
        let path = self.path(origin);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let mut bytes = Vec::new();
        file.take(MAX_NOTE_SIZE as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StateError::Io {
                path: path.clone(),
                source,
            })?;
        let corrupt = |reason: String| StateError::Corrupt {
            path: path.clone(),
            reason,
        };
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(corrupt("too large".into()));
        }
        let note = Note::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let checkpoint = Checkpoint::parse(note.text()).map_err(|e| corrupt(e.to_string()))?;
        if checkpoint.origin() != origin {
            return Err(corrupt(format!("holds origin {}", checkpoint.origin())));
        }
        Ok(Some((note, checkpoint)))
    }

    /// Saves `note` (a verified checkpoint of `origin`) atomically (module doc).
    pub fn save(&self, origin: &Origin, note: &Note) -> Result<(), StateError> {
        let path = self.path(origin);
        let tmp = self
            .dir
            .join(format!(".tmp-{}-{}", std::process::id(), unique()));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StateError::Io { path, source }
        };
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&note.to_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename is durable once the directory is synced.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }

    /// Moves the view of `new`'s log to `new` (a checkpoint the caller verified): if a
    /// checkpoint is saved, `new` must extend it, proven with a consistency proof
    /// computed from `client`'s tiles authenticated against `new`; then `new` is saved
    /// unless it is older than what is saved.
    pub async fn advance(
        &self,
        client: &LogClient,
        new_note: &Note,
        new: &Checkpoint,
    ) -> Result<Advance, StateError> {
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StateError::Io {
                path: lock_path.clone(),
                source,
            })?;
        lock.lock_exclusive().map_err(|source| StateError::Io {
            path: lock_path.clone(),
            source,
        })?;
        let saved = self.load(new.origin())?;
        let proof = match &saved {
            Some((_, old)) if old.size() > 0 && old.size() < new.size() => {
                client.prove_consistency(old.size(), new).await?
            }
            _ => Vec::new(),
        };
        let advance =
            check_advance(saved.as_ref().map(|(_, c)| c), new, &proof).map_err(|error| {
                StateError::Fork {
                    error,
                    saved: saved
                        .as_ref()
                        .map(|(n, _)| n.to_string())
                        .unwrap_or_default(),
                    new: new_note.to_string(),
                }
            })?;
        if advance != Advance::Same {
            self.save(new.origin(), new_note)?;
        }
        // The lock is released when `lock` is dropped (and by the OS on exit).
        drop(lock);
        Ok(advance)
    }
}

/// A per-process counter for temporary file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
