//! The log server: durable storage, the sequencer, publishing, the HTTP API.
//!
//! Everything here does I/O or reads the clock and is built only with the
//! `server` feature. The pure pieces it relies on (Merkle math, tiles, notes,
//! checkpoints, DSSE) live in the crate's core modules.

pub mod entry;
pub mod publisher;
pub mod reader;
pub mod sequencer;
pub mod store;
