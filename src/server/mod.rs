//! The log server: durable storage, the sequencer, publishing, the HTTP API.
//!
//! Everything here does I/O or reads the clock and is built only with the
//! `server` feature. The pure pieces it relies on (Merkle math, tiles, notes,
//! checkpoints, DSSE) live in the crate's core modules.

pub mod claims;
pub mod config;
pub mod entry;
pub mod http;
pub mod metrics;
pub mod publisher;
pub mod reader;
pub mod run;
pub mod sequencer;
pub mod store;
pub mod witnessing;

pub use run::{ServeError, serve};
