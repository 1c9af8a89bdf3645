//! Subcommands of the `claimlog` binary that have their own files.

pub mod claims;
pub mod monitor;
pub mod verify;
