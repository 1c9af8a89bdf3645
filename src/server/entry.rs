//! The log entry, re-exported from the pure core ([`crate::entry`]) where
//! clients verifying entries offline can use it without the server feature.

pub use crate::entry::{EntryError, LogEntry, envelope_hash};
