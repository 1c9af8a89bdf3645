//! monitor: following a log and re-verifying every entry independently
//! (issue 6 "Monitoring", spec/monitor.md).
//!
//! In scope, pure (no I/O, no clock): [`MonitorState`], the monitor's own
//! view of the log built only from verified entries (the Merkle frontier, the
//! last verified checkpoint, every vendor's key-binding head and series
//! heads), which consumes entries in index order and emits [`MonitorEvent`]s;
//! the rules are the log's own (`crate::claim`: validation, series rules,
//! notice rule, key bindings, diffs), applied from the log's data alone. The
//! state serialises for persistence ([`MonitorState::to_bytes`]).
//!
//! Out of scope here: fetching checkpoints, tiles and entries, comparing with
//! witnesses, the clock (stalls, outages) and the webhook: the `driver`
//! submodule (feature `server`). What the monitor cannot re-check: that an
//! enrollment's root key was published at the domain's well-known URL when
//! the log fetched it (the document may have changed since).

mod event;
mod prepare;
mod state;

#[cfg(feature = "server")]
pub mod driver;

#[cfg(test)]
mod tests;

pub use event::{
    CheckpointRef, EntryRef, EventKind, KeyChange, MonitorEvent, VersionRef, ViolationKind,
};
pub use state::{MAX_STATE_BYTES, MonitorState};

/// Why a monitor step or a state file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    /// Entries were offered from the wrong index.
    #[error("entries start at index {found}, but the next index is {expected}")]
    IndexGap {
        /// The state's size.
        expected: u64,
        /// The first index offered.
        found: u64,
    },
    /// The entries do not hash to the verified root: the log serves entries
    /// that are not the ones its checkpoint commits to.
    #[error("entries up to size {size} hash to {computed}, but the checkpoint says {expected}")]
    RootMismatch {
        /// The tree size.
        size: u64,
        /// The verified root, base64.
        expected: String,
        /// The root of the entries, base64.
        computed: String,
    },
    /// The entries' root is not consistent with the verified checkpoint (the
    /// consistency proof from the step's size to the checkpoint's fails).
    #[error("entries up to size {size} are not consistent with the checkpoint: {reason}")]
    Inconsistent {
        /// The size reached.
        size: u64,
        /// The failed check.
        reason: String,
    },
    /// The tree cannot grow further.
    #[error("tree: {0}")]
    Tree(String),
    /// A checkpoint is smaller than what the state already holds.
    #[error("checkpoint size {size} is below {applied}, already verified")]
    CheckpointBehind {
        /// The checkpoint's size.
        size: u64,
        /// The size already verified.
        applied: u64,
    },
    /// A checkpoint note does not parse.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A state file is malformed.
    #[error("state file: {0}")]
    State(String),
}
